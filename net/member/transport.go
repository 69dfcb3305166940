package member

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// maxPacket is the largest UDP payload read (memberlist sends at most
// its UDPBufferSize, 1400 bytes; anything up to the IPv6 maximum is read
// whole so that oversized packets are dropped by memberlist, not cut).
const maxPacket = 65535

// transport is memberlist's Transport over gVisor's tcpip: one UDP
// endpoint and one TCP listener bound to the node's address on its NIC
// (a link-local address needs the NIC: gonet ignores zones).
type transport struct {
	s       *stack.Stack
	local   tcpip.FullAddress
	proto   tcpip.NetworkProtocolNumber
	udp     *gonet.UDPConn
	tcp     *gonet.TCPListener
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	wg      sync.WaitGroup
	traffic *traffic
	logf    func(string, ...any)
	once    sync.Once
	replay  *replayFilter
}

var _ memberlist.NodeAwareTransport = (*transport)(nil)

// traffic counts what the transport moved.
type traffic struct {
	packetsIn, packetsOut, bytesIn, bytesOut atomic.Uint64
	streamsIn, streamsOut                    atomic.Uint64
	streamBytesIn, streamBytesOut            atomic.Uint64
	writeErrors, dialErrors                  atomic.Uint64
	replays                                  atomic.Uint64
}

// newTransport binds UDP and TCP on addr:port of nic.
func newTransport(s *stack.Stack, nic tcpip.NICID, addr tcpip.Address, port uint16, tr *traffic, logf func(string, ...any)) (*transport, error) {
	local := tcpip.FullAddress{NIC: nic, Addr: addr, Port: port}
	proto := ipv6.ProtocolNumber
	if addr.Len() == 4 {
		proto = ipv4.ProtocolNumber
	}
	udp, err := gonet.DialUDP(s, &local, nil, proto)
	if err != nil {
		return nil, fmt.Errorf("member: bind UDP [%s]:%d: %w", addr, port, err)
	}
	tcp, err := gonet.ListenTCP(s, local, proto)
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("member: listen TCP [%s]:%d: %w", addr, port, err)
	}
	t := &transport{
		s:       s,
		local:   local,
		proto:   proto,
		udp:     udp,
		tcp:     tcp,
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
		done:    make(chan struct{}),
		traffic: tr,
		logf:    logf,
		replay:  newReplayFilter(10*time.Minute, 1<<16),
	}
	t.wg.Add(2)
	go t.readPackets()
	go t.acceptStreams()
	return t, nil
}

// readPackets hands every UDP packet to memberlist.
func (t *transport) readPackets() {
	defer t.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := t.udp.ReadFrom(buf)
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			t.logf("member: UDP read: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.traffic.packetsIn.Add(1)
		t.traffic.bytesIn.Add(uint64(n))
		if t.replay.seen(buf[:n], time.Now()) {
			t.traffic.replays.Add(1)
			continue
		}
		if !t.deliver(append([]byte(nil), buf[:n]...), from, time.Now()) {
			return
		}
	}
}

// deliver gives one packet to memberlist; false once shut down.
func (t *transport) deliver(p []byte, from net.Addr, ts time.Time) bool {
	select {
	case t.packets <- &memberlist.Packet{Buf: p, From: from, Timestamp: ts}:
		return true
	case <-t.done:
		return false
	}
}

// acceptStreams hands every TCP connection to memberlist.
func (t *transport) acceptStreams() {
	defer t.wg.Done()
	for {
		c, err := t.tcp.Accept()
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			t.logf("member: TCP accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.traffic.streamsIn.Add(1)
		select {
		case t.streams <- &countConn{Conn: c, tr: t.traffic}:
		case <-t.done:
			c.Close()
			return
		}
	}
}

// FinalAdvertiseAddr advertises the bound address and port.
func (t *transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return net.IP(t.local.Addr.AsSlice()), int(t.local.Port), nil
}

// parseAddr turns memberlist's "[addr]:port" into a full address on our
// NIC.
func (t *transport) parseAddr(addr string) (tcpip.FullAddress, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return tcpip.FullAddress{}, fmt.Errorf("member: address %q: %w", addr, err)
	}
	ip := ap.Addr().WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	return tcpip.FullAddress{NIC: t.local.NIC, Addr: tcpip.AddrFromSlice(ip.AsSlice()), Port: ap.Port()}, nil
}

// WriteTo sends one packet.
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	to, err := t.parseAddr(addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, &net.UDPAddr{IP: net.IP(to.Addr.AsSlice()), Port: int(to.Port)})
	now := time.Now()
	if err != nil {
		t.traffic.writeErrors.Add(1)
		return now, fmt.Errorf("member: send to %s: %w", addr, err)
	}
	t.traffic.packetsOut.Add(1)
	t.traffic.bytesOut.Add(uint64(len(b)))
	return now, nil
}

// WriteToAddress sends one packet.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// PacketCh is where received packets go.
func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// DialTimeout connects over TCP.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	to, err := t.parseAddr(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Bind the local side to our address: with several addresses on the
	// NIC the peer must see the one we advertise.
	c, err := gonet.DialTCPWithBind(ctx, t.s, tcpip.FullAddress{NIC: t.local.NIC, Addr: t.local.Addr}, to, t.proto)
	if err != nil {
		t.traffic.dialErrors.Add(1)
		return nil, fmt.Errorf("member: dial %s: %w", addr, err)
	}
	t.traffic.streamsOut.Add(1)
	return &countConn{Conn: c, tr: t.traffic}, nil
}

// DialAddressTimeout connects over TCP.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

// StreamCh is where accepted connections go.
func (t *transport) StreamCh() <-chan net.Conn { return t.streams }

// Shutdown closes the endpoints and waits for the loops.
func (t *transport) Shutdown() error {
	t.once.Do(func() {
		close(t.done)
		t.udp.Close()
		t.tcp.Close()
	})
	t.wg.Wait()
	return nil
}

// countConn counts the bytes of a membership TCP connection.
type countConn struct {
	net.Conn
	tr *traffic
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.tr.streamBytesIn.Add(uint64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.tr.streamBytesOut.Add(uint64(n))
	return n, err
}
