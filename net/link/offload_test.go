package link

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// softNIC is an offloading card modelled in software over a wireDev: it
// does what virtio-net's device side does with a header — finishes a
// partial checksum, cuts a large TCP segment into MSS-sized ones with
// their own headers and checksums — and delivers received frames with
// DATA_VALID when markValid is set. A wrong csum_start, csum_offset,
// hdr_len or gso_size from the endpoint gives frames the receiving stack
// rejects.
type softNIC struct {
	*wireDev
	offloads  uint64
	markValid bool
	// passGSO: send segmentation requests on whole, as a host passes
	// them to a card that takes coalesced frames (GUEST_TSO); the
	// receiving card marks them NEEDS_CSUM.
	passGSO  bool
	gsoIn    atomic.Uint64 // segmentation requests taken
	segsOut  atomic.Uint64 // frames they became
	bad      atomic.Uint64 // headers the device could not make sense of
	maxFrame atomic.Int64
}

func (n *softNIC) Offloads() uint64 { return n.offloads }

func (n *softNIC) AttachVnet(rx func(hdr *VnetHdr, frame []byte)) {
	n.wireDev.Attach(func(f []byte) {
		var h VnetHdr
		if n.markValid {
			h[0] = VnetDataValid
			if len(f) > 1514 { // as QEMU passes on a local sender's request
				h[0], h[1] = VnetNeedsCsum, VnetGSOTCPv6
				binary.LittleEndian.PutUint16(h[6:], 14+header.IPv6MinimumSize)
				binary.LittleEndian.PutUint16(h[8:], header.TCPChecksumOffset)
			}
		}
		rx(&h, f)
	})
}

func (n *softNIC) TransmitVnet(hdr *VnetHdr, frame []byte) error {
	if int64(len(frame)) > n.maxFrame.Load() {
		n.maxFrame.Store(int64(len(frame)))
	}
	f := bytes.Clone(frame)
	flags, gso := hdr[0], hdr[1]
	hdrLen := int(binary.LittleEndian.Uint16(hdr[2:]))
	mss := int(binary.LittleEndian.Uint16(hdr[4:]))
	start := int(binary.LittleEndian.Uint16(hdr[6:]))
	off := int(binary.LittleEndian.Uint16(hdr[8:]))
	if gso == 0 {
		if len(frame) > 14+1500 {
			n.bad.Add(1)
			return errors.New("softNIC: frame over the MTU without a segmentation request")
		}
		if flags&VnetNeedsCsum != 0 {
			if start+off+2 > len(f) {
				n.bad.Add(1)
				return errors.New("softNIC: checksum offset out of the frame")
			}
			// The field holds the pseudo-header's sum: fold in the rest.
			binary.BigEndian.PutUint16(f[start+off:], ^checksum.Checksum(f[start:], 0))
		}
		return n.wireDev.Transmit(f)
	}
	n.gsoIn.Add(1)
	if n.passGSO {
		return n.wireDev.Transmit(f)
	}
	if flags&VnetNeedsCsum == 0 || mss == 0 || hdrLen <= start || hdrLen > len(f) || start < 14+20 {
		n.bad.Add(1)
		return errors.New("softNIC: bad segmentation request")
	}
	v4 := gso == VnetGSOTCPv4
	if !v4 && gso != VnetGSOTCPv6 {
		n.bad.Add(1)
		return errors.New("softNIC: unknown gso_type")
	}
	hdrs, payload := f[:hdrLen], f[hdrLen:]
	tcpHdr := header.TCP(hdrs[start:])
	seq := tcpHdr.SequenceNumber()
	lastFlags := tcpHdr.Flags()
	for i := 0; i < len(payload); i += mss {
		chunk := payload[i:min(i+mss, len(payload))]
		seg := append(bytes.Clone(hdrs), chunk...)
		t := header.TCP(seg[start:])
		t.SetSequenceNumber(seq + uint32(i))
		fl := lastFlags
		if i+mss < len(payload) {
			fl &^= header.TCPFlagFin | header.TCPFlagPsh
		}
		t.SetFlags(uint8(fl))
		tcpLen := uint16(len(seg) - start)
		var src, dst tcpip.Address
		if v4 {
			ip := header.IPv4(seg[14:])
			ip.SetTotalLength(uint16(len(seg) - 14))
			ip.SetID(ip.ID() + uint16(i/mss))
			ip.SetChecksum(0)
			ip.SetChecksum(^ip.CalculateChecksum())
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		} else {
			ip := header.IPv6(seg[14:])
			ip.SetPayloadLength(uint16(len(seg) - 14 - header.IPv6MinimumSize))
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		}
		t.SetChecksum(0)
		sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, tcpLen)
		t.SetChecksum(^checksum.Checksum(seg[start:], sum))
		n.segsOut.Add(1)
		if err := n.wireDev.Transmit(seg); err != nil {
			return err
		}
	}
	return nil
}

func newWireDev(mac [6]byte) *wireDev {
	return &wireDev{mac: mac, q: make(chan []byte, 8192), done: make(chan struct{})}
}

func newTCPStack(t *testing.T, d Device, addrs ...string) (*stack.Stack, *Endpoint) {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	ep := NewEndpoint(d).(*Endpoint)
	if err := s.CreateNIC(1, ep); err != nil {
		t.Fatalf("CreateNIC: %s", err)
	}
	for _, addr := range addrs {
		a := netip.MustParseAddr(addr)
		proto, pfx := ipv6.ProtocolNumber, 64
		if a.Is4() {
			proto, pfx = ipv4.ProtocolNumber, 24
		}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(a.AsSlice()), PrefixLen: pfx}}
		if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
			t.Fatalf("AddProtocolAddress: %s", err)
		}
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv6EmptySubnet, NIC: 1}, {Destination: header.IPv4EmptySubnet, NIC: 1}})
	return s, ep
}

// transfer sends size bytes from sa to sb's listener at addr over TCP
// and checks they arrive intact.
func transfer(t *testing.T, sa, sb *stack.Stack, addr string, size int) {
	t.Helper()
	a := netip.MustParseAddr(addr)
	proto := ipv6.ProtocolNumber
	if a.Is4() {
		proto = ipv4.ProtocolNumber
	}
	full := tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(a.AsSlice()), Port: 7100}
	l, err := gonet.ListenTCP(sb, full, proto)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i/1000)
	}
	want := sha256.Sum256(data)
	got := make(chan [32]byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(got)
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		h := sha256.New()
		n, _ := io.Copy(h, c)
		if n != int64(size) {
			t.Errorf("received %d bytes, want %d", n, size)
		}
		got <- [32]byte(h.Sum(nil))
	}()
	c, err := gonet.DialTCP(sa, full, proto)
	if err != nil {
		t.Fatal(err)
	}
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case sum, ok := <-got:
		if !ok || sum != want {
			t.Fatalf("%s: the data arrived changed or not at all", addr)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("%s: transfer timed out", addr)
	}
}

// TestOffloadTSOAndChecksums sends TCP over IPv6 and IPv4 through an
// offloading card: the stack hands it segments of up to GSOMaxSize with
// partial checksums, the card's model finishes them, and the receiver
// (which checks every checksum itself) gets the data intact.
func TestOffloadTSOAndChecksums(t *testing.T) {
	const all = OffloadTxCsum | OffloadRxCsum | OffloadTxTSO4 | OffloadTxTSO6
	wa, wb := newWireDev([6]byte{2, 0, 0, 0, 0, 1}), newWireDev([6]byte{2, 0, 0, 0, 0, 2})
	wa.peer, wb.peer = wb, wa
	defer wa.stop()
	defer wb.stop()
	na := &softNIC{wireDev: wa, offloads: all}
	sa, ea := newTCPStack(t, na, "fd00::1", "10.0.0.1")
	sb, eb := newTCPStack(t, wb, "fd00::2", "10.0.0.2") // a plain card: checks every checksum
	defer sa.Destroy()
	defer sb.Destroy()

	transfer(t, sa, sb, "fd00::2", 2<<20)
	transfer(t, sa, sb, "10.0.0.2", 2<<20)

	if na.bad.Load() != 0 {
		t.Errorf("the card got %d headers it could not use", na.bad.Load())
	}
	if na.gsoIn.Load() == 0 || na.segsOut.Load() <= na.gsoIn.Load() || na.maxFrame.Load() <= 1514 {
		t.Errorf("no segmentation offloaded: %d requests, %d segments, largest frame %d", na.gsoIn.Load(), na.segsOut.Load(), na.maxFrame.Load())
	}
	c := ea.Counters()
	if c["link_tx_gso"] == 0 || c["link_tx_csum"] < c["link_tx_gso"] || c["link_tx_errors"] != 0 {
		t.Errorf("sender counters %v", c)
	}
	if bad := sb.Stats().TCP.ChecksumErrors.Value(); bad != 0 {
		t.Errorf("the receiver saw %d TCP checksum errors", bad)
	}
	if bad := sb.Stats().IP.MalformedPacketsReceived.Value(); bad != 0 {
		t.Errorf("the receiver saw %d malformed IP packets", bad)
	}
	if c := eb.Counters(); c["link_rx_csum_ok"] != 0 {
		t.Errorf("a plain card's frames counted as checked: %v", c)
	}
}

// TestOffloadReceiveChecked: frames the card marks DATA_VALID are
// counted as checked by the host, and the stack still checks them (gVisor
// takes that word only per NIC): a frame corrupted after the "check" is
// dropped, not delivered.
func TestOffloadReceiveChecked(t *testing.T) {
	wa, wb := newWireDev([6]byte{2, 0, 0, 0, 0, 1}), newWireDev([6]byte{2, 0, 0, 0, 0, 2})
	wa.peer, wb.peer = wb, wa
	defer wa.stop()
	defer wb.stop()
	nb := &softNIC{wireDev: wb, offloads: OffloadRxCsum, markValid: true}
	sa, _ := newTCPStack(t, wa, "fd00::1")
	sb, eb := newTCPStack(t, nb, "fd00::2")
	defer sa.Destroy()
	defer sb.Destroy()
	transfer(t, sa, sb, "fd00::2", 256<<10)
	c := eb.Counters()
	if c["link_rx_csum_checked"] == 0 || c["link_rx_csum_checked"] != c["link_rx_frames"] {
		t.Errorf("receiver counters %v: every frame was marked checked", c)
	}
	// Without TSO on the card the stack does not use GSO.
	if ep := eb.frames; ep.SupportedGSO() != stack.GSONotSupported || ep.GSOMaxSize() != 0 {
		t.Errorf("a card without TSO got GSO %v, max %d", ep.SupportedGSO(), ep.GSOMaxSize())
	}
	// A corrupted TCP segment marked DATA_VALID: the stack drops it.
	bad := func() uint64 {
		return sb.Stats().TCP.ChecksumErrors.Value() + sb.Stats().NICs.MalformedL4RcvdPackets.Value()
	}
	before := bad()
	eth := make([]byte, 14+40+20+4)
	copy(eth, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd})
	ip := header.IPv6(eth[14:])
	ip.Encode(&header.IPv6Fields{PayloadLength: 24, TransportProtocol: header.TCPProtocolNumber, HopLimit: 64,
		SrcAddr: tcpip.AddrFromSlice(netip.MustParseAddr("fd00::1").AsSlice()), DstAddr: tcpip.AddrFromSlice(netip.MustParseAddr("fd00::2").AsSlice())})
	tcpHdr := header.TCP(eth[54:])
	tcpHdr.Encode(&header.TCPFields{SrcPort: 1, DstPort: 7100, DataOffset: 20, Flags: header.TCPFlagSyn, WindowSize: 1000, Checksum: 0x1234})
	wb.q <- eth
	deadline := time.Now().Add(5 * time.Second)
	for bad() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if bad() == before {
		t.Error("a corrupted segment marked DATA_VALID was not checked by the stack")
	}
}

// TestOffloadReceiveCoalesced: a card that takes coalesced frames gets
// TCP segments of up to 64 KiB with partial checksums (a local sender's
// segmentation requests passed on whole); the stack takes them.
func TestOffloadReceiveCoalesced(t *testing.T) {
	const all = OffloadTxCsum | OffloadRxCsum | OffloadTxTSO4 | OffloadTxTSO6 | OffloadRxTSO4 | OffloadRxTSO6
	wa, wb := newWireDev([6]byte{2, 0, 0, 0, 0, 1}), newWireDev([6]byte{2, 0, 0, 0, 0, 2})
	wa.peer, wb.peer = wb, wa
	defer wa.stop()
	defer wb.stop()
	na := &softNIC{wireDev: wa, offloads: all, passGSO: true, markValid: true}
	nb := &softNIC{wireDev: wb, offloads: all, passGSO: true, markValid: true}
	sa, _ := newTCPStack(t, na, "fd00::1")
	sb, eb := newTCPStack(t, nb, "fd00::2")
	defer sa.Destroy()
	defer sb.Destroy()
	transfer(t, sa, sb, "fd00::2", 4<<20)
	st := sa.Stats().TCP
	rs := sb.Stats()
	if c := eb.Counters(); c["link_rx_gso"] == 0 || c["link_rx_csum_partial"] == 0 || c["link_rx_bad_vnet"] != 0 {
		t.Errorf("no coalesced frame with a partial checksum received: %v", c)
	}
	if bad := rs.TCP.ChecksumErrors.Value(); bad != 0 {
		t.Errorf("the receiver saw %d TCP checksum errors", bad)
	}
	if r := st.Retransmits.Value(); r > 10 {
		t.Errorf("%d retransmissions on a lossless link", r)
	}
}
