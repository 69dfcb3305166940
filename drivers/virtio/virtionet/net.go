// Package virtionet drives virtio network cards (virtio 1.x, modern PCI
// transport): one receive and one transmit queue, buffers of one page
// half each, recycled in place; receive is interrupt-driven (MSI-X), and
// transmit completions are collected when the next frame is sent.
//
// A NIC satisfies the fabric's link.Device (MAC, MTU, Transmit, Attach)
// without importing it. Offloads are not negotiated yet: the stack
// computes and checks every checksum.
package virtionet

import (
	"errors"
	"fmt"
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
	featMTU    = 1 << 3
	featMAC    = 1 << 5
	featStatus = 1 << 16
)

const (
	hdrLen   = 12   // struct virtio_net_hdr with num_buffers (VERSION_1)
	bufSize  = 2048 // one buffer: header + a full Ethernet frame
	maxFrame = bufSize - hdrLen
	qRX      = 0
	qTX      = 1
)

// buffer is a DMA buffer: half a page.
type buffer struct {
	phys uint64
	virt uintptr
}

// NIC is one virtio network card.
type NIC struct {
	dev *virtio.Device
	mac [6]byte
	mtu uint32

	rx     *virtio.Queue
	rxBufs []buffer // by descriptor index
	rxFn   atomic.Pointer[func([]byte)]
	rxOnce sync.Once

	txMu   sync.Mutex
	tx     *virtio.Queue
	txBufs []buffer // by descriptor index
	txPool []buffer // free transmit buffers

	// Counters.
	RXFrames, TXFrames, RXDropped, TXDropped, RXErrors, RXLooped atomic.Uint64
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
	feat, err := dev.Negotiate(featMAC | featMTU | featStatus)
	if err != nil {
		return fail(err)
	}
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
	alloc := func(count int) ([]buffer, error) {
		var bs []buffer
		for len(bs) < count {
			phys, virt, err := p.AllocPage()
			if err != nil {
				return nil, err
			}
			bs = append(bs, buffer{phys, virt}, buffer{phys + bufSize, virt + bufSize})
		}
		return bs[:count], nil
	}
	rxb, err := alloc(n.rx.Size())
	if err != nil {
		return fail(err)
	}
	n.rxBufs = make([]buffer, n.rx.Size())
	for _, b := range rxb {
		id, err := n.rx.Add(b.phys, bufSize, true)
		if err != nil {
			return fail(err)
		}
		n.rxBufs[id] = b
	}
	if n.txPool, err = alloc(n.tx.Size()); err != nil {
		return fail(err)
	}
	n.txBufs = make([]buffer, n.tx.Size())
	dev.Ready()
	n.rx.Kick()
	return n, nil
}

// MAC is the card's hardware address.
func (n *NIC) MAC() [6]byte { return n.mac }

// MTU is the largest Ethernet payload.
func (n *NIC) MTU() uint32 { return n.mtu }

// String names the card.
func (n *NIC) String() string {
	m := n.mac
	return fmt.Sprintf("virtio-net %s mac %02x:%02x:%02x:%02x:%02x:%02x", n.dev.Name, m[0], m[1], m[2], m[3], m[4], m[5])
}

// ErrTooBig is returned for a frame larger than a buffer.
var ErrTooBig = errors.New("virtio-net: frame too large")

// Transmit sends one Ethernet frame; it returns virtio.ErrFull (and drops
// the frame) when the device has not yet sent the frames queued before.
func (n *NIC) Transmit(frame []byte) error {
	_, err := n.TransmitBatch([][]byte{frame})
	return err
}

// TransmitBatch sends frames in order with one notification of the
// device, and returns how many it took (it stops at the first it cannot).
func (n *NIC) TransmitBatch(frames [][]byte) (int, error) {
	n.txMu.Lock()
	defer n.txMu.Unlock()
	for { // collect buffers the device has sent
		id, _, ok := n.tx.Used()
		if !ok {
			break
		}
		n.txPool = append(n.txPool, n.txBufs[id])
	}
	sent := 0
	var err error
	for _, frame := range frames {
		if len(frame) > maxFrame {
			err = ErrTooBig
			break
		}
		if len(n.txPool) == 0 {
			err = virtio.ErrFull
			break
		}
		b := n.txPool[len(n.txPool)-1]
		dst := unsafe.Slice((*byte)(amd64.Ptr(b.virt)), bufSize)
		clear(dst[:hdrLen]) // no offloads, no GSO
		copy(dst[hdrLen:], frame)
		id, aerr := n.tx.Add(b.phys, uint32(hdrLen+len(frame)), false)
		if aerr != nil {
			err = aerr
			break
		}
		n.txPool = n.txPool[:len(n.txPool)-1]
		n.txBufs[id] = b
		sent++
	}
	if sent > 0 {
		n.tx.Kick()
		n.TXFrames.Add(uint64(sent))
	}
	if dropped := len(frames) - sent; dropped > 0 {
		n.TXDropped.Add(uint64(dropped))
	}
	return sent, err
}

// Attach sets the receive function and starts the receive goroutine; the
// frame passed to rx is valid only during the call.
func (n *NIC) Attach(rx func(frame []byte)) {
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
		var frame []byte
		if ln >= hdrLen+14 && ln <= bufSize {
			frame = unsafe.Slice((*byte)(amd64.Ptr(b.virt+hdrLen)), ln-hdrLen)
		}
		switch {
		case frame == nil:
			n.RXDropped.Add(1) // shorter than an Ethernet header, or longer than the buffer
		case [6]byte(frame[6:12]) == n.mac:
			// Our own frame, looped back by a hub (QEMU's multicast
			// socket LAN does that); a NIC never hears itself.
			n.RXLooped.Add(1)
		default:
			n.RXFrames.Add(1)
			rx(frame)
		}
		nid, err := n.rx.Add(b.phys, bufSize, true)
		if err != nil {
			n.RXErrors.Add(1)
			continue
		}
		n.rxBufs[nid] = b
	}
}
