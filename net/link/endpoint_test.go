package link

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// wireDev is one end of a test cable: frames go to the peer's queue and
// are delivered from the peer's goroutine out of one reused buffer (which
// is scribbled over after each delivery, to catch missing copies).
type wireDev struct {
	mac  [6]byte
	peer *wireDev
	q    chan []byte
	done chan struct{}

	mu   sync.Mutex
	rx   func([]byte)
	fail bool
	sent [][]byte
}

func newWire(a, b [6]byte) (*wireDev, *wireDev) {
	da := &wireDev{mac: a, q: make(chan []byte, 64), done: make(chan struct{})}
	db := &wireDev{mac: b, q: make(chan []byte, 64), done: make(chan struct{})}
	da.peer, db.peer = db, da
	return da, db
}

func (d *wireDev) MAC() [6]byte   { return d.mac }
func (d *wireDev) MTU() uint32    { return 1500 }
func (d *wireDev) stop()          { close(d.done) }
func (d *wireDev) setFail(f bool) { d.mu.Lock(); d.fail = f; d.mu.Unlock() }

func (d *wireDev) Transmit(frame []byte) error {
	d.mu.Lock()
	fail := d.fail
	d.sent = append(d.sent, bytes.Clone(frame))
	d.mu.Unlock()
	if fail {
		return errors.New("link down")
	}
	if d.peer == nil {
		return nil
	}
	select {
	case d.peer.q <- bytes.Clone(frame):
		return nil
	default:
		return errors.New("queue full")
	}
}

func (d *wireDev) Attach(rx func([]byte)) {
	d.mu.Lock()
	d.rx = rx
	d.mu.Unlock()
	go func() {
		buf := make([]byte, 1<<17) // coalesced frames too
		for {
			select {
			case <-d.done:
				return
			case f := <-d.q:
				n := copy(buf, f)
				rx(buf[:n])
				for i := range buf[:n] {
					buf[i] = 0xAA
				}
			}
		}
	}()
}

func newTestStack(t *testing.T, d Device, addr string) (*stack.Stack, *Endpoint) {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{udp.NewProtocol},
	})
	ep := NewEndpoint(d).(*Endpoint)
	if err := s.CreateNIC(1, ep); err != nil {
		t.Fatalf("CreateNIC: %s", err)
	}
	a := tcpip.AddrFromSlice(netip.MustParseAddr(addr).AsSlice())
	pa := tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: a.WithPrefix()}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		t.Fatalf("AddProtocolAddress: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv6EmptySubnet, NIC: 1}})
	return s, ep
}

func TestEndpointUDP(t *testing.T) {
	da, db := newWire([6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2})
	defer da.stop()
	defer db.stop()
	sa, ea := newTestStack(t, da, "fd00::1")
	sb, eb := newTestStack(t, db, "fd00::2")
	defer sa.Destroy()
	defer sb.Destroy()

	if got := ea.MTU(); got != 1500 {
		t.Errorf("MTU = %d, want 1500", got)
	}
	if ea.Device() != Device(da) {
		t.Errorf("Device() is not the device")
	}

	lb, err := gonet.DialUDP(sb, &tcpip.FullAddress{NIC: 1, Port: 7000}, nil, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	ca, err := gonet.DialUDP(sa, nil, &tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(netip.MustParseAddr("fd00::2").AsSlice()), Port: 7000}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()

	msg := bytes.Repeat([]byte("dunix "), 200) // 1200 bytes, several views
	if _, err := ca.Write(msg); err != nil {
		t.Fatal(err)
	}
	lb.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2000)
	n, from, err := lb.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], msg) {
		t.Fatalf("got %d bytes, want the %d sent", n, len(msg))
	}
	t.Logf("from %v", from)

	// Every frame the device saw is one contiguous Ethernet frame.
	da.mu.Lock()
	for _, f := range da.sent {
		eth := header.Ethernet(f)
		if eth.SourceAddress() != tcpip.LinkAddress(da.mac[:]) {
			t.Errorf("frame source %v, want %v", eth.SourceAddress(), tcpip.LinkAddress(da.mac[:]))
		}
		if eth.Type() != ipv6.ProtocolNumber {
			t.Errorf("frame type %#x", eth.Type())
		}
	}
	da.mu.Unlock()
	if c := ea.Counters(); c["link_tx_frames"] == 0 || c["link_tx_errors"] != 0 {
		t.Errorf("sender counters %v", c)
	}
	if c := eb.Counters(); c["link_rx_frames"] == 0 {
		t.Errorf("receiver counters %v", c)
	}
}

func TestEndpointTxErrorsAndRunts(t *testing.T) {
	d := &wireDev{mac: [6]byte{2, 0, 0, 0, 0, 1}}
	s, ep := newTestStack(t, d, "fd00::1")
	defer s.Destroy()
	d.setFail(true)
	c, err := gonet.DialUDP(s, nil, &tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(netip.MustParseAddr("ff02::1").AsSlice()), Port: 9}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The stack may or may not report the link's refusal to the writer;
	// the endpoint counts it either way.
	c.Write([]byte("x"))
	if got := ep.Counters()["link_tx_errors"]; got == 0 {
		t.Errorf("link_tx_errors = 0")
	}
	ep.frames.receive([]byte{1, 2, 3})
	if got := ep.Counters()["link_rx_runts"]; got != 1 {
		t.Errorf("link_rx_runts = %d, want 1", got)
	}
}

func TestEndpointCloseAndDetach(t *testing.T) {
	d := &wireDev{mac: [6]byte{2, 0, 0, 0, 0, 1}}
	ep := NewEndpoint(d).(*Endpoint)
	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x86, 0xdd})
	ep.frames.receive(frame) // not attached yet
	if got := ep.Counters()["link_rx_dropped"]; got != 1 {
		t.Errorf("link_rx_dropped before attach = %d, want 1", got)
	}

	var got int
	var mu sync.Mutex
	disp := dispatcherFunc(func(p tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
		mu.Lock()
		got++
		mu.Unlock()
	})
	ep.Attach(disp)
	if !ep.IsAttached() {
		t.Fatal("not attached")
	}
	ep.frames.receive(frame)
	ep.Attach(nil)
	if ep.IsAttached() {
		t.Fatal("still attached after Attach(nil)")
	}
	ep.frames.receive(frame)
	mu.Lock()
	if got != 1 {
		t.Errorf("delivered %d frames, want 1", got)
	}
	mu.Unlock()

	closes := 0
	ep.SetOnCloseAction(func() { closes++ })
	ep.Attach(disp)
	ep.Close()
	ep.Close()
	ep.Wait()
	if closes != 1 {
		t.Errorf("close action ran %d times, want 1", closes)
	}
	ep.frames.receive(frame)
	if got := ep.Counters()["link_rx_dropped"]; got != 3 {
		t.Errorf("link_rx_dropped = %d, want 3", got)
	}
	var l stack.PacketBufferList
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData([]byte("x"))})
	l.PushBack(pkt)
	if _, err := ep.WritePackets(l); err == nil {
		t.Errorf("WritePackets after Close succeeded")
	}
	l.Reset()
}

// dispatcherFunc is a NetworkDispatcher calling a function (through the
// ethernet wrapper, which strips the header first).
type dispatcherFunc func(tcpip.NetworkProtocolNumber, *stack.PacketBuffer)

func (f dispatcherFunc) DeliverNetworkPacket(p tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	f(p, pkt)
}
func (f dispatcherFunc) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}
