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

// Device is a virtio device on the modern PCI transport.
type Device struct {
	PCI       *pci.Device
	Type      int
	plat      Platform
	common    uintptr
	notify    uintptr
	notifyMul uint32
	device    uintptr
	msix      *pci.MSIX
	nextMSIX  int
	features  uint64
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

// Open maps the device's configuration structures and resets it.
func Open(d *pci.Device, typ int, p Platform) (*Device, error) {
	v := &Device{PCI: d, Type: typ, plat: p}
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
			dst = &v.common
		case capNotify:
			dst = &v.notify
			v.notifyMul = d.Read32(c.Offset + 16)
		case capDevice:
			dst = &v.device
		default:
			continue
		}
		if *dst != 0 {
			continue // the first capability of a kind is the preferred one
		}
		bar, ok := d.BAR(barIdx)
		if !ok {
			return nil, fmt.Errorf("virtio %s: capability %d in unassigned BAR %d", d.Addr, kind, barIdx)
		}
		va, err := p.Map(bar+off, max(length, 4))
		if err != nil {
			return nil, fmt.Errorf("virtio %s: %w", d.Addr, err)
		}
		*dst = va
	}
	if v.common == 0 || v.notify == 0 {
		return nil, fmt.Errorf("virtio %s: not a modern virtio device (no common or notify capability)", d.Addr)
	}
	m, err := d.MSIX(p.Map)
	if err != nil {
		return nil, fmt.Errorf("virtio %s: %w", d.Addr, err)
	}
	v.msix = m
	d.EnableDMA()
	v.setStatus(0) // reset
	for i := 0; mmio.Read8(v.common+cfgStatus) != 0; i++ {
		if i > 1e6 {
			return nil, fmt.Errorf("virtio %s: device does not reset", d.Addr)
		}
	}
	v.setStatus(statusAck | statusDriver)
	return v, nil
}

func (v *Device) setStatus(s uint8) { mmio.Write8(v.common+cfgStatus, s) }
func (v *Device) status() uint8     { return mmio.Read8(v.common + cfgStatus) }

// Negotiate offers the device's features intersected with want (VERSION_1
// is always required) and returns what was agreed.
func (v *Device) Negotiate(want uint64) (uint64, error) {
	var offered uint64
	for sel := uint32(0); sel < 2; sel++ {
		mmio.Write32(v.common+cfgDevFeatureSel, sel)
		offered |= uint64(mmio.Read32(v.common+cfgDevFeature)) << (32 * sel)
	}
	if offered&FeatureVersion1 == 0 {
		v.setStatus(statusFailed)
		return 0, fmt.Errorf("virtio %s: device lacks VERSION_1 (legacy only)", v.PCI.Addr)
	}
	got := offered & (want | FeatureVersion1)
	for sel := uint32(0); sel < 2; sel++ {
		mmio.Write32(v.common+cfgDrvFeatureSel, sel)
		mmio.Write32(v.common+cfgDrvFeature, uint32(got>>(32*sel)))
	}
	v.setStatus(v.status() | statusFeaturesOK)
	if v.status()&statusFeaturesOK == 0 {
		v.setStatus(statusFailed)
		return 0, fmt.Errorf("virtio %s: device refused features %#x", v.PCI.Addr, got)
	}
	v.features = got
	return got, nil
}

// Config returns the virtual address of the device-specific configuration.
func (v *Device) Config() uintptr { return v.device }

// Ready tells the device the driver is set up (DRIVER_OK).
func (v *Device) Ready() {
	v.msix.Enable()
	v.setStatus(v.status() | statusDriverOK)
}

// Fail marks the device failed (the driver gave up on it).
func (v *Device) Fail() { v.setStatus(v.status() | statusFailed) }

// Queue sets up virtqueue idx with at most maxSize entries. With
// interrupts, completions raise the returned queue's IRQ; without, the
// driver polls.
func (v *Device) Queue(idx, maxSize int, interrupts bool) (*Queue, error) {
	c := v.common
	mmio.Write16(c+cfgQueueSelect, uint16(idx))
	size := int(mmio.Read16(c + cfgQueueSize))
	if size == 0 {
		return nil, fmt.Errorf("virtio %s: queue %d does not exist", v.PCI.Addr, idx)
	}
	size = min(size, maxSize, 256)
	for size&(size-1) != 0 { // a power of two
		size &= size - 1
	}
	q := &Queue{size: uint16(size), free: make([]uint16, 0, size)}
	var pages [3]uint64
	for i, dst := range []*uintptr{&q.desc, &q.avail, &q.used} {
		p, va, err := v.plat.AllocPage()
		if err != nil {
			return nil, fmt.Errorf("virtio %s: queue %d: %w", v.PCI.Addr, idx, err)
		}
		pages[i], *dst = p, va
	}
	for i := size - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
	mmio.Write16(c+cfgQueueSize, uint16(size))
	vector := uint16(noVector)
	if interrupts {
		if v.nextMSIX >= v.msix.Size {
			return nil, fmt.Errorf("virtio %s: out of MSI-X vectors", v.PCI.Addr)
		}
		irq, err := v.plat.AllocIRQ()
		if err != nil {
			return nil, fmt.Errorf("virtio %s: queue %d: %w", v.PCI.Addr, idx, err)
		}
		addr, data := irq.Message()
		v.msix.Set(v.nextMSIX, addr, data)
		vector = uint16(v.nextMSIX)
		v.nextMSIX++
		q.IRQ = irq
	}
	mmio.Write16(c+cfgQueueMSIX, vector)
	if vector != noVector && mmio.Read16(c+cfgQueueMSIX) != vector {
		return nil, fmt.Errorf("virtio %s: queue %d: device refused MSI-X vector %d", v.PCI.Addr, idx, vector)
	}
	mmio.Write64(c+cfgQueueDesc, pages[0])
	mmio.Write64(c+cfgQueueDriver, pages[1])
	mmio.Write64(c+cfgQueueDevice, pages[2])
	q.notifyAt = v.notify + uintptr(mmio.Read16(c+cfgQueueNotify))*uintptr(v.notifyMul)
	q.index = uint16(idx)
	mmio.Write16(c+cfgQueueEnable, 1)
	return q, nil
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
	availIdx uint16
	lastUsed uint16
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
	mmio.Write16(q.avail+4+2*uintptr(q.availIdx%q.size), id)
	q.availIdx++
	// flags (0: interrupts wanted) and idx in one atomic store: the ring
	// entry above is visible before the new index.
	atomic.StoreUint32((*uint32)(amd64.Ptr(q.avail)), uint32(q.availIdx)<<16)
	return id, nil
}

// Kick tells the device there are new buffers, unless it asked not to be
// told.
func (q *Queue) Kick() {
	// The atomic store in Add is a full barrier on x86 (XCHG), so the
	// device's flags read here are not older than our index.
	if mmio.Read16(q.used)&1 == 0 { // VIRTQ_USED_F_NO_NOTIFY
		mmio.Write16(q.notifyAt, q.index)
	}
}

// Used returns the next buffer the device has finished with (its
// descriptor index and how many bytes it wrote), and frees the
// descriptor; ok is false when there is none.
func (q *Queue) Used() (id uint16, n uint32, ok bool) {
	idx := uint16(atomic.LoadUint32((*uint32)(amd64.Ptr(q.used))) >> 16)
	if idx == q.lastUsed {
		return 0, 0, false
	}
	e := q.used + 4 + 8*uintptr(q.lastUsed%q.size)
	id32 := mmio.Read32(e)
	n = mmio.Read32(e + 4)
	q.lastUsed++
	if id32 >= uint32(q.size) {
		return 0, 0, false // a device bug; never index out of the table
	}
	id = uint16(id32)
	q.free = append(q.free, id)
	return id, n, true
}
