// Package virtionet drives virtio network cards (virtio 1.x, over the
// PCI and the MMIO transports): one receive and one transmit queue.
//
// Receive is interrupt-driven (interrupts off while the used ring is
// drained), into buffers of half a page recycled in place; with
// MRG_RXBUF a packet may span several buffers (the header's num_buffers)
// and is put together before delivery. Transmit copies each frame, with
// its virtio-net header, into pages of a pool and chains them; pages come
// back when the next frame is sent.
//
// Offloads: when the device offers them (QEMU does on a tap backend,
// whose frames carry a virtio-net header; its socket backend offers
// none), the driver takes checksum offload both ways (CSUM, GUEST_CSUM),
// TCP segmentation on transmit (HOST_TSO4/6) and, with MRG_RXBUF,
// coalesced TCP on receive (GUEST_TSO4/6). A NIC satisfies the fabric's
// link.Device and link.OffloadDevice (frames with a 12-byte virtio-net
// header) without importing them.
package virtionet

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"dunix/arch/amd64"
	"dunix/drivers/mmio"
	"dunix/drivers/pci"
	"dunix/drivers/virtio"
)

// Feature bits of virtio-net (virtio 1.2, 5.1.3).
const (
	featCsum      = 1 << 0  // device finishes partial checksums we send
	featGuestCsum = 1 << 1  // we take partial / checked checksums
	featMTU       = 1 << 3  // MTU in the config space
	featMAC       = 1 << 5  // MAC in the config space
	featGuestTSO4 = 1 << 7  // we take coalesced TCP/IPv4
	featGuestTSO6 = 1 << 8  // we take coalesced TCP/IPv6
	featHostTSO4  = 1 << 11 // device segments TCP/IPv4
	featHostTSO6  = 1 << 12 // device segments TCP/IPv6
	featMrgRxBuf  = 1 << 15 // a received packet may span buffers
	featStatus    = 1 << 16 // link status in the config space
)

// offloadFeatures are the feature bits reported by Offloads (the same
// bits as link's Offload* constants).
const offloadFeatures = featCsum | featGuestCsum | featGuestTSO4 | featGuestTSO6 | featHostTSO4 | featHostTSO6

const (
	hdrLen    = 12   // struct virtio_net_hdr with num_buffers (VERSION_1)
	rxBufSize = 2048 // one receive buffer: header + a full Ethernet frame
	pageSize  = 4096
	// MaxFrame is the largest frame sent or received: an Ethernet header
	// and an IP packet of up to 64 KiB (with TCP segmentation offload).
	MaxFrame = 14 + 65535
	qRX      = 0
	qTX      = 1
)

// buffer is a DMA buffer: a page, or half of one.
type buffer struct {
	phys uint64
	virt uintptr
}

func (b buffer) bytes(n int) []byte { return unsafe.Slice((*byte)(amd64.Ptr(b.virt)), n) }

// NIC is one virtio network card.
type NIC struct {
	dev      *virtio.Device
	mac      [6]byte
	mtu      uint32
	features uint64 // negotiated

	rx     *virtio.Queue
	rxBufs []buffer // by descriptor index
	rxFn   atomic.Pointer[func(hdr *[hdrLen]byte, frame []byte)]
	rxOnce sync.Once
	// A packet being put together from several buffers (MRG_RXBUF).
	rxHdr  [hdrLen]byte
	rxAsm  []byte
	rxNeed int  // buffers still to come
	rxBad  bool // too long: dropped once complete

	txMu   sync.Mutex
	tx     *virtio.Queue
	txHeld [][]buffer // by head descriptor: the pages of the frame in flight
	txPool []buffer   // free transmit pages
	txSegs []virtio.Segment

	// Counters.
	RXFrames, TXFrames, RXDropped, TXDropped, RXErrors, RXLooped atomic.Uint64
	// RXMerged counts packets that spanned several buffers; TXOffloaded
	// frames sent with work left to the device (a partial checksum, a
	// segmentation request).
	RXMerged, TXOffloaded atomic.Uint64
}

// Probe opens every virtio network card among devs. Cards that fail to
// set up are reported in the error and left alone.
func Probe(devs []*pci.Device, p virtio.Platform) ([]*NIC, error) {
	var nics []*NIC
	var errs []error
	for _, d := range virtio.Find(devs, virtio.TypeNet) {
		n, err := open(d, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nics = append(nics, n)
	}
	return nics, errors.Join(errs...)
}

// ProbeMMIO opens the virtio network cards among virtio-mmio devices.
func ProbeMMIO(devs []virtio.MMIODevice, p virtio.LinePlatform) ([]*NIC, error) {
	var nics []*NIC
	var errs []error
	for _, d := range devs {
		if d.Type != virtio.TypeNet {
			continue
		}
		dev, err := virtio.OpenMMIO(d, p)
		if err == nil {
			var n *NIC
			if n, err = setup(dev, p); err == nil {
				nics = append(nics, n)
				continue
			}
		}
		errs = append(errs, err)
	}
	return nics, errors.Join(errs...)
}

func open(d *pci.Device, p virtio.Platform) (*NIC, error) {
	dev, err := virtio.Open(d, virtio.TypeNet, p)
	if err != nil {
		return nil, err
	}
	return setup(dev, p)
}

// setup negotiates, reads the MAC and fills the receive ring.
func setup(dev *virtio.Device, p virtio.Platform) (*NIC, error) {
	n := &NIC{dev: dev, mtu: 1500}
	fail := func(err error) (*NIC, error) {
		dev.Fail()
		return nil, fmt.Errorf("virtio-net %s: %w", dev.Name, err)
	}
	want := uint64(featMAC | featMTU | featStatus | featMrgRxBuf | featCsum | featGuestCsum)
	offered := dev.Offered()
	// Segmentation needs checksum offload in the same direction;
	// coalesced receive needs buffers that chain (MRG_RXBUF), as ours
	// are half a page.
	if offered&featCsum != 0 {
		want |= featHostTSO4 | featHostTSO6
	}
	if offered&featGuestCsum != 0 && offered&featMrgRxBuf != 0 {
		want |= featGuestTSO4 | featGuestTSO6
	}
	feat, err := dev.Negotiate(want)
	if err != nil {
		return fail(err)
	}
	n.features = feat
	cfg := dev.Config()
	if feat&featMAC != 0 && cfg != 0 {
		for i := range n.mac {
			n.mac[i] = mmio.Read8(cfg + uintptr(i))
		}
	} else {
		return fail(errors.New("device has no MAC address"))
	}
	if feat&featMTU != 0 && cfg != 0 {
		if m := uint32(mmio.Read16(cfg + 10)); m >= 1280 && m < 1500 {
			n.mtu = m
		}
	}
	if n.rx, err = dev.Queue(qRX, 256, true); err != nil {
		return fail(err)
	}
	if n.tx, err = dev.Queue(qTX, 256, false); err != nil {
		return fail(err)
	}
	n.rxBufs = make([]buffer, n.rx.Size())
	for i := 0; i < n.rx.Size(); i += 2 {
		phys, virt, err := p.AllocPage()
		if err != nil {
			return fail(err)
		}
		for _, b := range []buffer{{phys, virt}, {phys + rxBufSize, virt + rxBufSize}} {
			id, err := n.rx.Add(b.phys, rxBufSize, true)
			if err != nil {
				return fail(err)
			}
			n.rxBufs[id] = b
		}
	}
	if feat&featMrgRxBuf != 0 {
		n.rxAsm = make([]byte, 0, MaxFrame)
	}
	// A page per descriptor: frames of up to MaxFrame take 17.
	for range n.tx.Size() {
		phys, virt, err := p.AllocPage()
		if err != nil {
			return fail(err)
		}
		n.txPool = append(n.txPool, buffer{phys, virt})
	}
	n.txHeld = make([][]buffer, n.tx.Size())
	n.txSegs = make([]virtio.Segment, 0, (hdrLen+MaxFrame+pageSize-1)/pageSize)
	dev.Ready()
	n.rx.Kick()
	return n, nil
}

// MAC is the card's hardware address.
func (n *NIC) MAC() [6]byte { return n.mac }

// MTU is the largest Ethernet payload.
func (n *NIC) MTU() uint32 { return n.mtu }

// Offloads returns the offloads agreed with the device, as virtio-net
// feature bits (link.Offload*).
func (n *NIC) Offloads() uint64 { return n.features & offloadFeatures }

// String names the card, with its offloads if any.
func (n *NIC) String() string {
	m := n.mac
	s := fmt.Sprintf("virtio-net %s mac %02x:%02x:%02x:%02x:%02x:%02x", n.dev.Name, m[0], m[1], m[2], m[3], m[4], m[5])
	var offs []string
	for _, o := range []struct {
		bit  uint64
		name string
	}{{featCsum, "tx-csum"}, {featHostTSO4, "tso4"}, {featHostTSO6, "tso6"}, {featGuestCsum, "rx-csum"}, {featGuestTSO4, "rx-tso4"}, {featGuestTSO6, "rx-tso6"}} {
		if n.features&o.bit != 0 {
			offs = append(offs, o.name)
		}
	}
	if len(offs) > 0 {
		s += " offloads " + strings.Join(offs, ",")
	}
	return s
}

// Errors of Transmit and TransmitVnet.
var (
	ErrTooBig = errors.New("virtio-net: frame too large")
	ErrNoTSO  = errors.New("virtio-net: frame over the MTU without segmentation by the device")
)

// Transmit sends one Ethernet frame; it returns virtio.ErrFull (and drops
// the frame) when the device has not yet sent enough of the frames queued
// before.
func (n *NIC) Transmit(frame []byte) error {
	var hdr [hdrLen]byte
	return n.TransmitVnet(&hdr, frame)
}

// TransmitVnet sends one Ethernet frame with a virtio-net header (flags,
// gso_type, hdr_len, gso_size, csum_start, csum_offset); num_buffers is
// ignored. Frames larger than the MTU need a segmentation request the
// device agreed to (HOST_TSO4/6).
func (n *NIC) TransmitVnet(hdr *[hdrLen]byte, frame []byte) error {
	n.txMu.Lock()
	defer n.txMu.Unlock()
	n.reclaim()
	err := n.queue(hdr, frame)
	if err == nil {
		n.tx.Kick()
	}
	return err
}

// reclaim collects the pages of frames the device has sent.
func (n *NIC) reclaim() {
	for {
		id, _, ok := n.tx.Used()
		if !ok {
			return
		}
		n.txPool = append(n.txPool, n.txHeld[id]...)
		n.txHeld[id] = n.txHeld[id][:0]
	}
}

// queue copies hdr and frame into pages and makes them available to the
// device (which hears of it at the next Kick). It counts what it sends
// and what it drops.
func (n *NIC) queue(hdr *[hdrLen]byte, frame []byte) error {
	if len(frame) > MaxFrame {
		n.TXDropped.Add(1)
		return ErrTooBig
	}
	if len(frame) > 14+int(n.mtu) && (hdr[1] == 0 || n.features&(featHostTSO4|featHostTSO6) == 0) {
		n.TXDropped.Add(1)
		return ErrNoTSO
	}
	total := hdrLen + len(frame)
	pages := (total + pageSize - 1) / pageSize
	if len(n.txPool) < pages || n.tx.Free() < pages {
		n.TXDropped.Add(1)
		return virtio.ErrFull
	}
	held := n.txPool[len(n.txPool)-pages:]
	segs := n.txSegs[:0]
	for i, b := range held {
		dst := b.bytes(pageSize)
		if i == 0 {
			copy(dst, hdr[:10])
			clear(dst[10:hdrLen]) // num_buffers: 0 on transmit
			dst = dst[hdrLen:]
		}
		c := copy(dst, frame)
		frame = frame[c:]
		used := c
		if i == 0 {
			used += hdrLen
		}
		segs = append(segs, virtio.Segment{Phys: b.phys, Len: uint32(used)})
	}
	id, err := n.tx.AddChain(segs, false)
	if err != nil {
		n.TXDropped.Add(1)
		return err
	}
	n.txHeld[id] = append(n.txHeld[id], held...)
	n.txPool = n.txPool[:len(n.txPool)-pages]
	n.TXFrames.Add(1)
	if hdr[0] != 0 || hdr[1] != 0 {
		n.TXOffloaded.Add(1)
	}
	return nil
}

// Attach sets the receive function and starts the receive goroutine; the
// frame passed to rx is valid only during the call.
func (n *NIC) Attach(rx func(frame []byte)) {
	n.AttachVnet(func(_ *[hdrLen]byte, frame []byte) { rx(frame) })
}

// AttachVnet is Attach with each frame's virtio-net header (flags
// DATA_VALID or NEEDS_CSUM when checksums were offloaded, gso_type when
// the host coalesced segments).
func (n *NIC) AttachVnet(rx func(hdr *[hdrLen]byte, frame []byte)) {
	n.rxFn.Store(&rx)
	n.rxOnce.Do(func() { go n.receive() })
}

// receive waits for the receive interrupt and hands every used buffer to
// the receive function, then gives it back to the device.
func (n *NIC) receive() {
	for {
		if err := n.rx.IRQ.Wait(); err != nil {
			n.RXErrors.Add(1)
			return
		}
		n.Poll()
	}
}

// Poll processes the frames received so far (the interrupt path calls
// it; tests and a polling mode may too).
func (n *NIC) Poll() {
	fn := n.rxFn.Load()
	if fn == nil {
		return
	}
	rx := *fn
	got := false
	// No interrupts while draining; back on when the ring is empty, and
	// drain again if the device used buffers in between.
	n.rx.SetInterrupts(false)
	for {
		id, ln, ok := n.rx.Used()
		if !ok {
			if got {
				n.rx.Kick() // the buffers given back so far
				got = false
			}
			if n.rx.SetInterrupts(true) {
				n.rx.SetInterrupts(false)
				continue
			}
			break
		}
		got = true
		b := n.rxBufs[id]
		n.received(rx, b.bytes(int(min(ln, rxBufSize))), ln <= rxBufSize)
		nid, err := n.rx.Add(b.phys, rxBufSize, true)
		if err != nil {
			n.RXErrors.Add(1)
			continue
		}
		n.rxBufs[nid] = b
	}
}

// received takes one used buffer: a packet's first (with the header) or,
// with MRG_RXBUF, one of the buffers that continue it. ok is false when
// the device claimed to write more than the buffer holds.
func (n *NIC) received(rx func(*[hdrLen]byte, []byte), data []byte, ok bool) {
	if n.rxNeed > 0 { // a continuation
		n.rxNeed--
		if !ok || len(n.rxAsm)+len(data) > MaxFrame {
			n.rxBad = true
		} else {
			n.rxAsm = append(n.rxAsm, data...)
		}
		if n.rxNeed == 0 {
			if n.rxBad {
				n.RXDropped.Add(1)
			} else {
				n.RXMerged.Add(1)
				n.deliver(rx, &n.rxHdr, n.rxAsm)
			}
			n.rxAsm = n.rxAsm[:0]
		}
		return
	}
	if !ok || len(data) < hdrLen {
		n.RXDropped.Add(1)
		return
	}
	copy(n.rxHdr[:], data[:hdrLen])
	buffers := 1
	if n.features&featMrgRxBuf != 0 {
		buffers = int(n.rxHdr[10]) | int(n.rxHdr[11])<<8
	}
	if buffers <= 1 {
		n.deliver(rx, &n.rxHdr, data[hdrLen:])
		return
	}
	if buffers > n.rx.Size() {
		// More than the ring holds: a device bug. Drop this buffer; its
		// continuations, if any, will not parse as headers either way.
		n.RXErrors.Add(1)
		return
	}
	n.rxAsm = append(n.rxAsm[:0], data[hdrLen:]...)
	n.rxNeed, n.rxBad = buffers-1, false
}

// deliver hands a whole frame to the receive function.
func (n *NIC) deliver(rx func(*[hdrLen]byte, []byte), hdr *[hdrLen]byte, frame []byte) {
	switch {
	case len(frame) < 14:
		n.RXDropped.Add(1) // shorter than an Ethernet header
	case [6]byte(frame[6:12]) == n.mac:
		// Our own frame, looped back by a hub (QEMU's multicast
		// socket LAN does that); a NIC never hears itself.
		n.RXLooped.Add(1)
	default:
		n.RXFrames.Add(1)
		rx(hdr, frame)
	}
}
