// Package virtio is the part of the virtio 1.x specification that every
// device driver shares: the modern PCI transport (capabilities, the common
// configuration structure, feature negotiation, notifications, MSI-X) and
// split virtqueues. Device drivers (net now; block and rng later) sit on
// top of it in packages of their own.
//
// The kernel supplies memory and interrupts through Platform. The code
// runs in Go context; interrupts reach it as IRQ.Wait returning.
//
// Invariants: a queue's descriptor table, available ring and used ring
// each fit in one 4 KiB page (queue sizes are capped at 256); buffers are
// single descriptors; the driver publishes the available index with an
// atomic store after the ring entry, and reads the used index with an
// atomic load before the used entries (x86 keeps stores in order; the
// atomics keep the compiler from reordering).
package virtio

import (
	"errors"
	"fmt"
	"sync/atomic"

	"dunix/arch/amd64"
	"dunix/drivers/mmio"
	"dunix/drivers/pci"
)

// Platform is what the kernel gives virtio drivers.
type Platform interface {
	// Map returns the virtual address of device memory [phys, phys+size).
	Map(phys, size uint64) (uintptr, error)
	// AllocPage returns a zeroed 4 KiB page that devices can reach by
	// DMA: its physical and its virtual address.
	AllocPage() (phys uint64, virt uintptr, err error)
	// AllocIRQ returns a new message-signalled interrupt.
	AllocIRQ() (IRQ, error)
}

// IRQ is a message-signalled interrupt: the device writes Data to Addr.
type IRQ interface {
	Message() (addr uint64, data uint32)
	// Wait blocks until the interrupt fired at least once since the last
	// Wait returned.
	Wait() error
	// Count is how often the interrupt fired.
	Count() uint64
}

// PCI vendor and device IDs: modern virtio devices are 0x1040 + type.
const (
	VendorID    = 0x1AF4
	modernBase  = 0x1040
	TypeNet     = 1
	TypeEntropy = 4
)

// Feature bits shared by all device types.
const (
	FeatureVersion1 = 1 << 32
)

// Device status bits.
const (
	statusAck        = 1
	statusDriver     = 2
	statusDriverOK   = 4
	statusFeaturesOK = 8
	statusFailed     = 128
)

// Offsets in the common configuration structure (virtio 1.2, 4.1.4.3).
const (
	cfgDevFeatureSel = 0x00
	cfgDevFeature    = 0x04
	cfgDrvFeatureSel = 0x08
	cfgDrvFeature    = 0x0C
	cfgMSIXConfig    = 0x10
	cfgNumQueues     = 0x12
	cfgStatus        = 0x14
	cfgQueueSelect   = 0x16
	cfgQueueSize     = 0x18
	cfgQueueMSIX     = 0x1A
	cfgQueueEnable   = 0x1C
	cfgQueueNotify   = 0x1E
	cfgQueueDesc     = 0x20
	cfgQueueDriver   = 0x28
	cfgQueueDevice   = 0x30

	noVector = 0xFFFF
)

// Capability types of virtio's vendor-specific PCI capabilities.
const (
	capCommon = 1
	capNotify = 2
	capISR    = 3
	capDevice = 4
)

// Device is a virtio device on either transport.
type Device struct {
	// Name says where the device is: a PCI address or "mmio@0x…".
	Name string
	// PCI is the PCI function (nil on virtio-mmio).
	PCI      *pci.Device
	Type     int
	plat     Platform
	t        transport
	features uint64
}

// transport is what differs between virtio over PCI and over MMIO.
type transport interface {
	status() uint8
	setStatus(s uint8)
	deviceFeatures() uint64
	setDriverFeatures(f uint64)
	// queueSize selects queue idx and returns its maximum size (0: none).
	queueSize(idx int) int
	// setupQueue programs the selected queue and enables it; irq tells
	// whether its completions should interrupt. It returns where to
	// notify the device and the queue's interrupt (nil without).
	setupQueue(idx, size int, desc, driver, device uint64, irq bool) (notify uintptr, q IRQ, err error)
	// config is the virtual address of the device-specific configuration.
	config() uintptr
	// ready runs just before DRIVER_OK.
	ready()
	// notify32 tells whether notifications are 32-bit writes (MMIO) or
	// 16-bit ones (PCI).
	notify32() bool
}

// Find returns the modern virtio PCI devices of type typ among devs.
func Find(devs []*pci.Device, typ int) []*pci.Device {
	var out []*pci.Device
	for _, d := range devs {
		if d.Vendor == VendorID && int(d.ID) == modernBase+typ {
			out = append(out, d)
		}
	}
	return out
}

// Open maps a PCI device's configuration structures and resets it.
func Open(d *pci.Device, typ int, p Platform) (*Device, error) {
	t := &pciTransport{dev: d, plat: p}
	if err := t.open(); err != nil {
		return nil, fmt.Errorf("virtio %s: %w", d.Addr, err)
	}
	return start(&Device{Name: d.Addr.String(), PCI: d, Type: typ, plat: p, t: t})
}

// start resets the device and acknowledges it.
func start(v *Device) (*Device, error) {
	v.t.setStatus(0) // reset
	for i := 0; v.t.status() != 0; i++ {
		if i > 1e6 {
			return nil, fmt.Errorf("virtio %s: device does not reset", v.Name)
		}
	}
	v.t.setStatus(statusAck | statusDriver)
	return v, nil
}

// Negotiate offers the device's features intersected with want (VERSION_1
// is always required) and returns what was agreed.
func (v *Device) Negotiate(want uint64) (uint64, error) {
	offered := v.t.deviceFeatures()
	if offered&FeatureVersion1 == 0 {
		v.t.setStatus(statusFailed)
		return 0, fmt.Errorf("virtio %s: device lacks VERSION_1 (legacy only)", v.Name)
	}
	got := offered & (want | FeatureVersion1)
	v.t.setDriverFeatures(got)
	v.t.setStatus(v.t.status() | statusFeaturesOK)
	if v.t.status()&statusFeaturesOK == 0 {
		v.t.setStatus(statusFailed)
		return 0, fmt.Errorf("virtio %s: device refused features %#x", v.Name, got)
	}
	v.features = got
	return got, nil
}

// Offered returns the feature bits the device offers (before Negotiate).
func (v *Device) Offered() uint64 { return v.t.deviceFeatures() }

// Config returns the virtual address of the device-specific configuration.
func (v *Device) Config() uintptr { return v.t.config() }

// Ready tells the device the driver is set up (DRIVER_OK).
func (v *Device) Ready() {
	v.t.ready()
	v.t.setStatus(v.t.status() | statusDriverOK)
}

// Fail marks the device failed (the driver gave up on it).
func (v *Device) Fail() { v.t.setStatus(v.t.status() | statusFailed) }

// Queue sets up virtqueue idx with at most maxSize entries. With
// interrupts, completions raise the returned queue's IRQ; without, the
// driver polls (and the device is asked not to interrupt for it).
func (v *Device) Queue(idx, maxSize int, interrupts bool) (*Queue, error) {
	size := v.t.queueSize(idx)
	if size == 0 {
		return nil, fmt.Errorf("virtio %s: queue %d does not exist", v.Name, idx)
	}
	size = min(size, maxSize, 256)
	for size&(size-1) != 0 { // a power of two
		size &= size - 1
	}
	q := &Queue{size: uint16(size), free: make([]uint16, 0, size), index: uint16(idx),
		next: make([]uint16, size), chain: make([]uint16, size)}
	var pages [3]uint64
	for i, dst := range []*uintptr{&q.desc, &q.avail, &q.used} {
		p, va, err := v.plat.AllocPage()
		if err != nil {
			return nil, fmt.Errorf("virtio %s: queue %d: %w", v.Name, idx, err)
		}
		pages[i], *dst = p, va
	}
	for i := size - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
	if !interrupts {
		q.availFlags = 1 // VIRTQ_AVAIL_F_NO_INTERRUPT
	}
	notify, irq, err := v.t.setupQueue(idx, size, pages[0], pages[1], pages[2], interrupts)
	if err != nil {
		return nil, fmt.Errorf("virtio %s: queue %d: %w", v.Name, idx, err)
	}
	q.notifyAt, q.IRQ, q.notifyWide = notify, irq, v.t.notify32()
	return q, nil
}

// pciTransport is virtio 1.x over PCI (virtio 1.2, 4.1).
type pciTransport struct {
	dev       *pci.Device
	plat      Platform
	common    uintptr
	notify    uintptr
	notifyMul uint32
	device    uintptr
	msix      *pci.MSIX
	nextMSIX  int
}

// open maps the configuration structures the vendor capabilities name.
func (t *pciTransport) open() error {
	d := t.dev
	for _, c := range d.Caps() {
		if c.ID != pci.CapVendor {
			continue
		}
		kind := d.Read8(c.Offset + 3)
		barIdx := int(d.Read8(c.Offset + 4))
		off := uint64(d.Read32(c.Offset + 8))
		length := uint64(d.Read32(c.Offset + 12))
		var dst *uintptr
		switch kind {
		case capCommon:
			dst = &t.common
		case capNotify:
			dst = &t.notify
			t.notifyMul = d.Read32(c.Offset + 16)
		case capDevice:
			dst = &t.device
		default:
			continue
		}
		if *dst != 0 {
			continue // the first capability of a kind is the preferred one
		}
		bar, ok := d.BAR(barIdx)
		if !ok {
			return fmt.Errorf("capability %d in unassigned BAR %d", kind, barIdx)
		}
		va, err := t.plat.Map(bar+off, max(length, 4))
		if err != nil {
			return err
		}
		*dst = va
	}
	if t.common == 0 || t.notify == 0 {
		return errors.New("not a modern virtio device (no common or notify capability)")
	}
	m, err := d.MSIX(t.plat.Map)
	if err != nil {
		return err
	}
	t.msix = m
	d.EnableDMA()
	return nil
}

func (t *pciTransport) status() uint8     { return mmio.Read8(t.common + cfgStatus) }
func (t *pciTransport) setStatus(s uint8) { mmio.Write8(t.common+cfgStatus, s) }
func (t *pciTransport) config() uintptr   { return t.device }
func (t *pciTransport) ready()            { t.msix.Enable() }
func (t *pciTransport) notify32() bool    { return false }

func (t *pciTransport) deviceFeatures() uint64 {
	return readFeatures(t.common+cfgDevFeatureSel, t.common+cfgDevFeature)
}

func (t *pciTransport) setDriverFeatures(f uint64) {
	writeFeatures(t.common+cfgDrvFeatureSel, t.common+cfgDrvFeature, f)
}

// readFeatures reads 64 feature bits through a select register and a
// 32-bit window (both transports lay them out so).
func readFeatures(sel, val uintptr) uint64 {
	var f uint64
	for i := uint32(0); i < 2; i++ {
		mmio.Write32(sel, i)
		f |= uint64(mmio.Read32(val)) << (32 * i)
	}
	return f
}

// writeFeatures writes 64 feature bits through a select register and a
// 32-bit window.
func writeFeatures(sel, val uintptr, f uint64) {
	for i := uint32(0); i < 2; i++ {
		mmio.Write32(sel, i)
		mmio.Write32(val, uint32(f>>(32*i)))
	}
}

func (t *pciTransport) queueSize(idx int) int {
	mmio.Write16(t.common+cfgQueueSelect, uint16(idx))
	return int(mmio.Read16(t.common + cfgQueueSize))
}

func (t *pciTransport) setupQueue(idx, size int, desc, driver, device uint64, interrupts bool) (uintptr, IRQ, error) {
	c := t.common
	mmio.Write16(c+cfgQueueSelect, uint16(idx))
	mmio.Write16(c+cfgQueueSize, uint16(size))
	vector := uint16(noVector)
	var irq IRQ
	if interrupts {
		if t.nextMSIX >= t.msix.Size {
			return 0, nil, errors.New("out of MSI-X vectors")
		}
		var err error
		if irq, err = t.plat.AllocIRQ(); err != nil {
			return 0, nil, err
		}
		addr, data := irq.Message()
		t.msix.Set(t.nextMSIX, addr, data)
		vector = uint16(t.nextMSIX)
		t.nextMSIX++
	}
	mmio.Write16(c+cfgQueueMSIX, vector)
	if vector != noVector && mmio.Read16(c+cfgQueueMSIX) != vector {
		return 0, nil, fmt.Errorf("device refused MSI-X vector %d", vector)
	}
	mmio.Write64(c+cfgQueueDesc, desc)
	mmio.Write64(c+cfgQueueDriver, driver)
	mmio.Write64(c+cfgQueueDevice, device)
	notify := t.notify + uintptr(mmio.Read16(c+cfgQueueNotify))*uintptr(t.notifyMul)
	mmio.Write16(c+cfgQueueEnable, 1)
	return notify, irq, nil
}

// Queue is a split virtqueue. It is not safe for concurrent use: each
// queue has one user (a transmit lock, or the receive goroutine).
type Queue struct {
	// IRQ fires when the device used buffers (nil without interrupts).
	IRQ      IRQ
	size     uint16
	index    uint16
	desc     uintptr // 16-byte descriptors
	avail    uintptr // flags, idx, ring[size]
	used     uintptr // flags, idx, ring[size] of {id u32, len u32}
	notifyAt uintptr
	free     []uint16 // free descriptor indices
	next     []uint16 // by descriptor: the next one of its chain
	chain    []uint16 // by head descriptor: the length of its chain
	availIdx uint16
	lastUsed uint16
	// availFlags is VIRTQ_AVAIL_F_NO_INTERRUPT for a queue without
	// interrupts (needed on MMIO, where a device has one interrupt).
	availFlags uint16
	notifyWide bool
}

// ErrFull means every descriptor of a queue is in use.
var ErrFull = errors.New("virtio: queue full")

// Size is the number of entries of the queue.
func (q *Queue) Size() int { return int(q.size) }

// Free is the number of descriptors not in use.
func (q *Queue) Free() int { return len(q.free) }

// Add makes a buffer of n bytes at physical address phys available to the
// device (writable by the device when write is set) and returns its
// descriptor index; the device sees it after Kick.
func (q *Queue) Add(phys uint64, n uint32, write bool) (uint16, error) {
	if len(q.free) == 0 {
		return 0, ErrFull
	}
	id := q.free[len(q.free)-1]
	q.free = q.free[:len(q.free)-1]
	d := q.desc + 16*uintptr(id)
	mmio.Write64(d, phys)
	mmio.Write32(d+8, n)
	var flags uint16
	if write {
		flags = 2 // VIRTQ_DESC_F_WRITE
	}
	mmio.Write32(d+12, uint32(flags)) // flags and next (unused)
	q.chain[id] = 1
	q.publish(id)
	return id, nil
}

// Segment is one piece of a buffer made of several: Len bytes at
// physical address Phys.
type Segment struct {
	Phys uint64
	Len  uint32
}

// AddChain makes a buffer of several segments available to the device,
// in order, as one chain of descriptors (writable by the device when
// write is set), and returns the index of its first descriptor, which
// Used reports when the device is done with the whole chain. It fails
// with ErrFull, adding nothing, when fewer descriptors than segments are
// free.
func (q *Queue) AddChain(segs []Segment, write bool) (uint16, error) {
	if len(segs) == 0 || len(segs) > len(q.free) {
		return 0, ErrFull
	}
	var flags uint32
	if write {
		flags = 2 // VIRTQ_DESC_F_WRITE
	}
	// Take the descriptors from the end of the free list, last segment
	// first, so that each one knows its successor.
	var nextID uint16
	for i := len(segs) - 1; i >= 0; i-- {
		id := q.free[len(q.free)-1]
		q.free = q.free[:len(q.free)-1]
		d := q.desc + 16*uintptr(id)
		mmio.Write64(d, segs[i].Phys)
		mmio.Write32(d+8, segs[i].Len)
		f := flags
		if i < len(segs)-1 {
			f |= 1 | uint32(nextID)<<16 // VIRTQ_DESC_F_NEXT, next
			q.next[id] = nextID
		}
		mmio.Write32(d+12, f)
		nextID = id
	}
	q.chain[nextID] = uint16(len(segs))
	q.publish(nextID)
	return nextID, nil
}

// publish puts head in the available ring.
func (q *Queue) publish(head uint16) {
	mmio.Write16(q.avail+4+2*uintptr(q.availIdx%q.size), head)
	q.availIdx++
	// flags and idx in one atomic store: the ring
	// entry above is visible before the new index.
	atomic.StoreUint32((*uint32)(amd64.Ptr(q.avail)), uint32(q.availIdx)<<16|uint32(q.availFlags))
}

// SetInterrupts asks the device to interrupt (or not) when it uses
// buffers; a driver turns them off while it drains the used ring. With
// them back on it returns whether buffers were used meanwhile (the
// driver must drain again: no interrupt comes for those).
func (q *Queue) SetInterrupts(on bool) (pending bool) {
	if on {
		q.availFlags = 0
	} else {
		q.availFlags = 1 // VIRTQ_AVAIL_F_NO_INTERRUPT
	}
	// A full barrier (XCHG) orders the flag before the read of the used
	// index below.
	atomic.StoreUint32((*uint32)(amd64.Ptr(q.avail)), uint32(q.availIdx)<<16|uint32(q.availFlags))
	return on && uint16(atomic.LoadUint32((*uint32)(amd64.Ptr(q.used)))>>16) != q.lastUsed
}

// Kick tells the device there are new buffers, unless it asked not to be
// told.
func (q *Queue) Kick() {
	// The atomic store in Add is a full barrier on x86 (XCHG), so the
	// device's flags read here are not older than our index.
	if mmio.Read16(q.used)&1 != 0 { // VIRTQ_USED_F_NO_NOTIFY
		return
	}
	if q.notifyWide {
		mmio.Write32(q.notifyAt, uint32(q.index))
	} else {
		mmio.Write16(q.notifyAt, q.index)
	}
}

// Used returns the next buffer the device has finished with (its first
// descriptor's index and how many bytes it wrote), and frees its
// descriptors; ok is false when there is none.
func (q *Queue) Used() (id uint16, n uint32, ok bool) {
	for {
		idx := uint16(atomic.LoadUint32((*uint32)(amd64.Ptr(q.used))) >> 16)
		if idx == q.lastUsed {
			return 0, 0, false
		}
		e := q.used + 4 + 8*uintptr(q.lastUsed%q.size)
		id32 := mmio.Read32(e)
		n = mmio.Read32(e + 4)
		q.lastUsed++
		// A device bug (an index out of the table, or one not in
		// use) is skipped: never index out of the table, never free
		// a descriptor twice.
		if id32 >= uint32(q.size) || q.chain[id32] == 0 {
			continue
		}
		id = uint16(id32)
		d := id
		for range q.chain[id] {
			q.free = append(q.free, d)
			d = q.next[d]
		}
		q.chain[id] = 0
		return id, n, true
	}
}
