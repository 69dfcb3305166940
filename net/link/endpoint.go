package link

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Endpoint is the stack.LinkEndpoint that NewEndpoint returns: gVisor's
// Ethernet framing (package link/ethernet) over a frame endpoint that
// moves whole frames through a Device. Its Counters method reports what
// it moved and dropped.
type Endpoint struct {
	ethernet.Endpoint
	frames *frameEndpoint
}

var _ stack.LinkEndpoint = (*Endpoint)(nil)

// NewEndpoint returns a LinkEndpoint over d, Ethernet framing included
// (the dynamic type is *Endpoint). It attaches itself to d at once, so d
// must not be attached to anything else. Frames d receives are copied and
// handed to the stack's NetworkDispatcher from d's receive goroutine;
// frames that arrive before the stack attached, after Close, or that are
// too short for an Ethernet header are dropped and counted.
//
// The endpoint has no goroutine of its own: Wait returns at once, and
// stopping the device's receive goroutine is the device's business.
func NewEndpoint(d Device) stack.LinkEndpoint {
	e := &Endpoint{frames: newFrameEndpoint(d)}
	e.Endpoint.Init(e.frames, &e.Endpoint)
	if od := e.frames.off; od != nil {
		od.AttachVnet(e.frames.receiveVnet)
	} else {
		d.Attach(e.frames.receive)
	}
	return e
}

// Device returns the device under the endpoint.
func (e *Endpoint) Device() Device { return e.frames.dev }

// Counters returns the endpoint's frame counters: "link_tx_frames",
// "link_tx_errors" (the device refused the frame: link down or queue
// full), "link_rx_frames" (delivered to the stack), "link_rx_dropped"
// (no stack attached, or closed) and "link_rx_runts" (shorter than an
// Ethernet header); with an OffloadDevice also "link_tx_csum" (frames
// sent with a partial checksum), "link_tx_gso" (of which the device
// segments), "link_rx_csum_partial" (received with a partial checksum,
// completed here), "link_rx_csum_checked" (checked by the host; the
// stack checks again), "link_rx_gso" (coalesced by the host: gso_type set)
// and "link_rx_bad_vnet" (dropped: a header pointing outside its frame).
func (e *Endpoint) Counters() map[string]uint64 {
	f := e.frames
	return map[string]uint64{
		"link_tx_frames":       f.txFrames.Load(),
		"link_tx_errors":       f.txErrors.Load(),
		"link_rx_frames":       f.rxFrames.Load(),
		"link_rx_dropped":      f.rxDropped.Load(),
		"link_rx_runts":        f.rxRunts.Load(),
		"link_tx_csum":         f.txCsum.Load(),
		"link_tx_gso":          f.txGSO.Load(),
		"link_rx_csum_partial": f.rxCsumPartial.Load(),
		"link_rx_csum_checked": f.rxCsumChecked.Load(),
		"link_rx_gso":          f.rxGSO.Load(),
		"link_rx_bad_vnet":     f.rxBadHdr.Load(),
	}
}

// frameEndpoint is the inner endpoint: it sends and receives whole
// Ethernet frames (the ethernet wrapper adds and parses the header).
type frameEndpoint struct {
	dev Device

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher // guarded by mu
	linkAddr   tcpip.LinkAddress       // guarded by mu
	mtu        uint32                  // frame MTU (payload MTU + header), guarded by mu
	closed     bool                    // guarded by mu
	onClose    func()                  // guarded by mu

	// off is the device's offload side when it has one and it does
	// what the endpoint uses (see offloadsUsed), else nil.
	off OffloadDevice
	gso bool // TCP segmentation (and checksums) left to the device

	txFrames, txErrors           atomic.Uint64
	rxFrames, rxDropped, rxRunts atomic.Uint64
	txCsum, txGSO                atomic.Uint64 // frames sent with a partial checksum; of which segmented by the device
	rxCsumPartial, rxCsumChecked atomic.Uint64 // frames received with a partial checksum (completed here); checked by the host
	rxGSO, rxBadHdr              atomic.Uint64 // frames larger than the MTU (coalesced); with a header pointing outside them
}

// GSOMaxSize is the largest TCP packet (headers included, less one) the
// stack hands an offloading device: the payload limit gVisor derives
// from it keeps every IP packet under 64 KiB.
const GSOMaxSize = 64512

var _ stack.LinkEndpoint = (*frameEndpoint)(nil)

func newFrameEndpoint(d Device) *frameEndpoint {
	mac := d.MAC()
	f := &frameEndpoint{
		dev:      d,
		linkAddr: tcpip.LinkAddress(mac[:]),
		// The ethernet wrapper reports MTU minus its header to the stack.
		mtu: d.MTU() + header.EthernetMinimumSize,
	}
	if od, ok := d.(OffloadDevice); ok {
		f.off = od
		// gVisor's host GSO sends every TCP segment with a partial
		// checksum and cuts at most GSOMaxSize, for IPv4 and IPv6
		// alike: the device must do both kinds of segmentation and
		// the checksums.
		const tso = OffloadTxCsum | OffloadTxTSO4 | OffloadTxTSO6
		f.gso = od.Offloads()&tso == tso
	}
	return f
}

// GSOMaxSize implements stack.GSOEndpoint.
func (f *frameEndpoint) GSOMaxSize() uint32 {
	if f.gso {
		return GSOMaxSize
	}
	return 0
}

// SupportedGSO implements stack.GSOEndpoint: the host's (the device's)
// when it segments TCP and finishes checksums.
func (f *frameEndpoint) SupportedGSO() stack.SupportedGSO {
	if f.gso {
		return stack.HostGSOSupported
	}
	return stack.GSONotSupported
}

// receiveVnet is the OffloadDevice's receive callback. gVisor takes the
// word "checksum checked" only for a whole NIC (a capability), not per
// frame, so every frame is checked by the stack; what the header says is
// used to make that check pass where it should:
//   - NEEDS_CSUM (a local sender left the checksum to the card, and the
//     host passed it on as it was): the checksum is completed here, as a
//     card would (csum_start, csum_offset);
//   - a coalesced TCP segment (gso_type set) without NEEDS_CSUM: the
//     host checked the segments it merged (DATA_VALID), but the merged
//     packet's checksum field is one segment's; it is computed anew.
//
// A frame whose header points outside it is dropped and counted.
func (f *frameEndpoint) receiveVnet(hdr *VnetHdr, frame []byte) {
	switch {
	case hdr[0]&VnetNeedsCsum != 0:
		start := int(binary.LittleEndian.Uint16(hdr[6:]))
		off := int(binary.LittleEndian.Uint16(hdr[8:]))
		if !completeChecksum(frame, start, off) {
			f.rxBadHdr.Add(1)
			return
		}
		f.rxCsumPartial.Add(1)
	case hdr[1] != 0:
		if !recomputeTCPChecksum(frame) {
			f.rxBadHdr.Add(1)
			return
		}
	case hdr[0]&VnetDataValid != 0:
		f.rxCsumChecked.Add(1)
	}
	if hdr[1] != 0 {
		f.rxGSO.Add(1)
	}
	f.deliver(frame)
}

// completeChecksum finishes a partial checksum in place: the one's
// complement sum from start to the end of the frame (the field at
// start+off holds the pseudo-header's sum) goes into the field.
func completeChecksum(frame []byte, start, off int) bool {
	if start < header.EthernetMinimumSize || start+off+2 > len(frame) {
		return false
	}
	sum := ^checksum.Checksum(frame[start:], 0)
	if sum == 0 {
		sum = 0xFFFF // the same in one's complement; 0 means "none" to UDP
	}
	binary.BigEndian.PutUint16(frame[start+off:], sum)
	return true
}

// recomputeTCPChecksum computes the TCP checksum of an IPv4 or IPv6
// frame (no IPv6 extension headers) from scratch.
func recomputeTCPChecksum(frame []byte) bool {
	if len(frame) < header.EthernetMinimumSize {
		return false
	}
	ip := frame[header.EthernetMinimumSize:]
	var src, dst tcpip.Address
	var seg []byte
	switch header.Ethernet(frame).Type() {
	case header.IPv4ProtocolNumber:
		h := header.IPv4(ip)
		if !h.IsValid(len(ip)) || h.TransportProtocol() != header.TCPProtocolNumber {
			return false
		}
		seg = ip[h.HeaderLength():h.TotalLength()]
		src, dst = h.SourceAddress(), h.DestinationAddress()
	case header.IPv6ProtocolNumber:
		h := header.IPv6(ip)
		if !h.IsValid(len(ip)) || h.TransportProtocol() != header.TCPProtocolNumber {
			return false
		}
		seg = ip[header.IPv6MinimumSize : header.IPv6MinimumSize+int(h.PayloadLength())]
		src, dst = h.SourceAddress(), h.DestinationAddress()
	default:
		return false
	}
	if len(seg) < header.TCPMinimumSize || len(seg) > 0xFFFF {
		return false
	}
	t := header.TCP(seg)
	t.SetChecksum(0)
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(seg)))
	t.SetChecksum(^checksum.Checksum(seg, sum))
	return true
}

// receive is the Device's receive callback.
func (f *frameEndpoint) receive(frame []byte) { f.deliver(frame) }

// deliver hands a received frame to the stack.
func (f *frameEndpoint) deliver(frame []byte) {
	if len(frame) < header.EthernetMinimumSize {
		f.rxRunts.Add(1)
		return
	}
	f.mu.RLock()
	d := f.dispatcher
	closed := f.closed
	f.mu.RUnlock()
	if d == nil || closed {
		f.rxDropped.Add(1)
		return
	}
	// MakeWithData copies: the device reuses frame after we return.
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	f.rxFrames.Add(1)
	// The ethernet wrapper reads the protocol from the header.
	d.DeliverNetworkPacket(0, pkt)
	pkt.DecRef()
}

// MTU implements stack.LinkEndpoint.
func (f *frameEndpoint) MTU() uint32 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.mtu
}

// SetMTU implements stack.LinkEndpoint.
func (f *frameEndpoint) SetMTU(mtu uint32) {
	f.mu.Lock()
	f.mtu = mtu
	f.mu.Unlock()
}

// MaxHeaderLength implements stack.LinkEndpoint.
func (*frameEndpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint.
func (f *frameEndpoint) LinkAddress() tcpip.LinkAddress {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.linkAddr
}

// SetLinkAddress implements stack.LinkEndpoint.
func (f *frameEndpoint) SetLinkAddress(addr tcpip.LinkAddress) {
	f.mu.Lock()
	f.linkAddr = addr
	f.mu.Unlock()
}

// Capabilities implements stack.LinkEndpoint: checksums are computed by
// the stack, and the ethernet wrapper adds CapabilityResolutionRequired.
func (*frameEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityNone
}

// Attach implements stack.LinkEndpoint; nil detaches (frames received
// afterwards are dropped).
func (f *frameEndpoint) Attach(d stack.NetworkDispatcher) {
	f.mu.Lock()
	f.dispatcher = d
	f.mu.Unlock()
}

// IsAttached implements stack.LinkEndpoint.
func (f *frameEndpoint) IsAttached() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.dispatcher != nil
}

// Wait implements stack.LinkEndpoint. The endpoint owns no goroutine.
// (The stack calls Wait with its own lock held, so waiting here for a
// delivery in progress could deadlock.)
func (*frameEndpoint) Wait() {}

// ARPHardwareType implements stack.LinkEndpoint (the ethernet wrapper
// reports Ethernet).
func (*frameEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.LinkEndpoint (the ethernet wrapper adds it).
func (*frameEndpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint (the ethernet wrapper parses it).
func (*frameEndpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// Close implements stack.LinkEndpoint: later writes fail, later frames
// are dropped, and the close action (if any) runs once.
func (f *frameEndpoint) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.dispatcher = nil
	act := f.onClose
	f.onClose = nil
	f.mu.Unlock()
	if act != nil {
		act()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (f *frameEndpoint) SetOnCloseAction(act func()) {
	f.mu.Lock()
	f.onClose = act
	f.mu.Unlock()
}

// WritePackets implements stack.LinkEndpoint: each packet (Ethernet
// header already pushed) is copied into one contiguous frame and given to
// the device. It stops at the first frame the device refuses, counts it,
// and reports ErrNoBufferSpace when not even the first frame went out.
func (f *frameEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	f.mu.RLock()
	closed := f.closed
	f.mu.RUnlock()
	if closed {
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		v := pkt.ToView()
		var err error
		if f.off != nil {
			var hdr VnetHdr
			f.vnetHeader(pkt, &hdr)
			err = f.off.TransmitVnet(&hdr, v.AsSlice())
		} else {
			err = f.dev.Transmit(v.AsSlice())
		}
		v.Release()
		if err != nil {
			f.txErrors.Add(1)
			if n == 0 {
				return 0, &tcpip.ErrNoBufferSpace{}
			}
			break
		}
		f.txFrames.Add(1)
		n++
	}
	return n, nil
}

// vnetHeader fills hdr for pkt: a TCP segment that gVisor's host GSO left
// with a partial checksum (the pseudo-header's sum) gets NEEDS_CSUM from
// the start of its transport header, and a segmentation request when it
// carries more than one MSS. Everything else goes as it is.
func (f *frameEndpoint) vnetHeader(pkt *stack.PacketBuffer, hdr *VnetHdr) {
	g := pkt.GSOOptions
	if g.Type == stack.GSONone || !g.NeedsCsum {
		return
	}
	// The headers as they are in this packet (no fixed IP header size).
	l2 := len(pkt.LinkHeader().Slice())
	start := l2 + len(pkt.NetworkHeader().Slice())
	hdr[0] = VnetNeedsCsum
	binary.LittleEndian.PutUint16(hdr[6:], uint16(start))
	binary.LittleEndian.PutUint16(hdr[8:], g.CsumOffset)
	f.txCsum.Add(1)
	if pkt.Data().Size() > int(g.MSS) && g.MSS > 0 {
		switch g.Type {
		case stack.GSOTCPv4:
			hdr[1] = VnetGSOTCPv4
		case stack.GSOTCPv6:
			hdr[1] = VnetGSOTCPv6
		default:
			return
		}
		binary.LittleEndian.PutUint16(hdr[2:], uint16(start+len(pkt.TransportHeader().Slice())))
		binary.LittleEndian.PutUint16(hdr[4:], g.MSS)
		f.txGSO.Add(1)
	}
}
