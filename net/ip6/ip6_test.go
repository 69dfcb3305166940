package ip6

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"dunix/net/clusterkey"
	"dunix/net/link/memlink"

	glog "gvisor.dev/gvisor/pkg/log"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// timeout bounds every wait; DAD rounds take 150 ms here.
const timeout = 10 * time.Second

var testKey = clusterkey.Key{1, 2, 3, 4}

// logBuf collects log lines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logBuf) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func mac(i byte) [6]byte { return [6]byte{0x02, 0, 0, 0, 0, i} }

// node starts a stack on a new port of hub.
func node(t *testing.T, hub *memlink.Hub, m [6]byte, name string, lb *logBuf) *Stack {
	t.Helper()
	logf := t.Logf
	if lb != nil {
		logf = func(f string, a ...any) { lb.logf(f, a...); t.Logf(name+": "+f, a...) }
	}
	s, err := New(Config{
		Device:             hub.Port(m),
		Secret:             testKey.Derive(clusterkey.AddrSecret, name, 32),
		Logf:               logf,
		IPv4:               true,
		DADRetransmitTimer: 150 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func linkLocal(t *testing.T, s *Stack) tcpip.Address {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a, err := s.LinkLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// ping sends one ICMPv6 echo request from s to dst and waits for the reply.
func ping(t *testing.T, s *Stack, dst tcpip.Address) {
	t.Helper()
	var wq waiter.Queue
	ep, err := s.S.NewEndpoint(icmp.ProtocolNumber6, ipv6.ProtocolNumber, &wq)
	if err != nil {
		t.Fatalf("icmp endpoint: %s", err)
	}
	defer ep.Close()
	we, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)

	req := make([]byte, header.ICMPv6EchoMinimumSize+8)
	header.ICMPv6(req).SetType(header.ICMPv6EchoRequest)
	copy(req[header.ICMPv6EchoMinimumSize:], "dunixpng")
	to := tcpip.FullAddress{NIC: s.NIC, Addr: dst}
	deadline := time.Now().Add(timeout)
	for {
		var r bytes.Reader
		r.Reset(req)
		if _, err := ep.Write(&r, tcpip.WriteOptions{To: &to}); err != nil {
			t.Fatalf("ping write: %s", err)
		}
		select {
		case <-ch:
		case <-time.After(500 * time.Millisecond):
			// Lost while the neighbour was being resolved; again.
			if time.Now().After(deadline) {
				t.Fatalf("no echo reply from %s", dst)
			}
			continue
		}
		var out bytes.Buffer
		if _, err := ep.Read(&out, tcpip.ReadOptions{}); err != nil {
			t.Fatalf("ping read: %s", err)
		}
		rep := header.ICMPv6(out.Bytes())
		if len(rep) < header.ICMPv6EchoMinimumSize || rep.Type() != header.ICMPv6EchoReply {
			t.Fatalf("ping: got %x", out.Bytes())
		}
		return
	}
}

func TestThreeStacks(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	a := node(t, hub, mac(1), "a", nil)
	b := node(t, hub, mac(2), "b", nil)
	c := node(t, hub, mac(3), "c", nil)
	la, lb, lc := linkLocal(t, a), linkLocal(t, b), linkLocal(t, c)
	if la == lb || lb == lc || la == lc {
		t.Fatalf("link-local addresses not distinct: %s %s %s", la, lb, lc)
	}
	for _, x := range []tcpip.Address{la, lb, lc} {
		if !header.IsV6LinkLocalUnicastAddress(x) {
			t.Fatalf("%s is not link-local", x)
		}
		// Opaque identifiers, not EUI-64 from the MAC.
		if b := x.As16(); b[11] == 0xff && b[12] == 0xfe {
			t.Errorf("%s looks like EUI-64", x)
		}
	}
	if got := a.Addrs(); len(got) == 0 || got[0] != netip.AddrFrom16(la.As16()) {
		t.Errorf("Addrs() = %v, want %s first", got, la)
	}

	ping(t, a, lb)
	ping(t, c, la)

	// UDP c -> b.
	ub, err := gonet.DialUDP(b.S, &tcpip.FullAddress{NIC: b.NIC, Port: 5000}, nil, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ub.Close()
	uc, err := gonet.DialUDP(c.S, &tcpip.FullAddress{NIC: c.NIC}, nil, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if _, err := uc.WriteTo([]byte("hello b"), &net.UDPAddr{IP: net.IP(lb.AsSlice()), Port: 5000}); err != nil {
		t.Fatal(err)
	}
	ub.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 100)
	n, from, err := ub.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello b" {
		t.Fatalf("udp: %q %v", buf[:n], err)
	}
	if ip := from.(*net.UDPAddr).IP; !ip.Equal(net.IP(lc.AsSlice())) {
		t.Errorf("udp from %v, want %s", ip, lc)
	}

	// TCP a -> c.
	ln, err := gonet.ListenTCP(c.S, tcpip.FullAddress{NIC: c.NIC, Port: 6000}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		_, err = io.Copy(conn, io.LimitReader(conn, 100000))
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := gonet.DialContextTCP(ctx, a.S, tcpip.FullAddress{NIC: a.NIC, Addr: lc, Port: 6000}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	msg := bytes.Repeat([]byte("0123456789"), 10000)
	go conn.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("tcp echo differs")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Stack{a, b, c} {
		if n := s.Counters()["dad_conflicts"]; n != 0 {
			t.Errorf("dad_conflicts = %d", n)
		}
	}
}

func TestLoopback(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	a := node(t, hub, mac(1), "a", nil)
	for _, x := range []struct {
		addr  tcpip.Address
		proto tcpip.NetworkProtocolNumber
	}{{header.IPv6Loopback, ipv6.ProtocolNumber}, {header.IPv4Loopback, ipv4.ProtocolNumber}} {
		srv, err := gonet.DialUDP(a.S, &tcpip.FullAddress{Addr: x.addr, Port: 7}, nil, x.proto)
		if err != nil {
			t.Fatalf("%s: %v", x.addr, err)
		}
		cli, err := gonet.DialUDP(a.S, nil, &tcpip.FullAddress{Addr: x.addr, Port: 7}, x.proto)
		if err != nil {
			t.Fatalf("%s: %v", x.addr, err)
		}
		if _, err := cli.Write([]byte("lo")); err != nil {
			t.Fatal(err)
		}
		srv.SetReadDeadline(time.Now().Add(timeout))
		buf := make([]byte, 10)
		if n, _, err := srv.ReadFrom(buf); err != nil || string(buf[:n]) != "lo" {
			t.Fatalf("%s: %q %v", x.addr, buf[:n], err)
		}
		srv.Close()
		cli.Close()
	}
	// No IPv4 on the fabric NIC.
	for _, pa := range a.S.NICInfo()[a.NIC].ProtocolAddresses {
		if pa.Protocol == ipv4.ProtocolNumber {
			t.Errorf("IPv4 address %s on the fabric NIC", pa.AddressWithPrefix)
		}
	}
}

func TestDADConflictSameMACSameSecret(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	var la, lb logBuf
	a := node(t, hub, mac(1), "twin", &la)
	first := linkLocal(t, a)
	b := node(t, hub, mac(1), "twin", &lb) // same MAC, same name: same secret
	second := linkLocal(t, b)
	if first == second {
		t.Fatalf("both have %s", first)
	}
	want := header.LinkLocalAddrWithOpaqueIID("eth0", 1, testKey.Derive(clusterkey.AddrSecret, "twin", 32))
	if second != want {
		t.Errorf("recovered address %s, want the DAD counter 1 identifier %s", second, want)
	}
	if n := b.Counters()["dad_conflicts"]; n != 1 {
		t.Errorf("b dad_conflicts = %d, want 1", n)
	}
	if n := a.Counters()["dad_conflicts"]; n != 0 {
		t.Errorf("a dad_conflicts = %d, want 0", n)
	}
	if !lb.contains("DAD conflict") {
		t.Errorf("conflict not logged")
	}
	ping(t, a, second)
}

func TestSameMACDifferentSecrets(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	a := node(t, hub, mac(1), "one", nil)
	b := node(t, hub, mac(1), "two", nil)
	la, lb := linkLocal(t, a), linkLocal(t, b)
	if la == lb {
		t.Fatalf("same address %s", la)
	}
	if a.Counters()["dad_conflicts"]+b.Counters()["dad_conflicts"] != 0 {
		t.Errorf("conflicts: %v %v", a.Counters(), b.Counters())
	}
}

// routerAdvert returns an Ethernet frame carrying a Router Advertisement
// from src (MAC m) with one prefix, on-link and autonomous.
func routerAdvert(m [6]byte, src tcpip.Address, prefix netip.Prefix) []byte {
	const raLen = header.ICMPv6HeaderSize + header.NDPRAMinimumSize + 32
	f := make([]byte, header.EthernetMinimumSize+header.IPv6MinimumSize+raLen)
	header.Ethernet(f).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(m[:]),
		DstAddr: header.EthernetAddressFromMulticastIPv6Address(header.IPv6AllNodesMulticastAddress),
		Type:    ipv6.ProtocolNumber,
	})
	ip := header.IPv6(f[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv6Fields{
		PayloadLength:     raLen,
		TransportProtocol: header.ICMPv6ProtocolNumber,
		HopLimit:          255,
		SrcAddr:           src,
		DstAddr:           header.IPv6AllNodesMulticastAddress,
	})
	msg := header.ICMPv6(ip.Payload())
	msg.SetType(header.ICMPv6RouterAdvert)
	ra := msg[header.ICMPv6HeaderSize:]
	ra[0] = 64                               // current hop limit
	binary.BigEndian.PutUint16(ra[2:], 1800) // router lifetime
	opt := ra[header.NDPRAMinimumSize:]
	opt[0], opt[1] = 3, 4 // prefix information, 4 × 8 bytes
	opt[2] = byte(prefix.Bits())
	opt[3] = 0xc0 // on-link, autonomous
	binary.BigEndian.PutUint32(opt[4:], 86400)
	binary.BigEndian.PutUint32(opt[8:], 14400)
	p := prefix.Addr().As16()
	copy(opt[16:], p[:])
	msg.SetChecksum(header.ICMPv6Checksum(header.ICMPv6ChecksumParams{Header: msg, Src: src, Dst: header.IPv6AllNodesMulticastAddress}))
	return f
}

func TestSLAACFromRouterAdvert(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	a := node(t, hub, mac(1), "a", nil)
	linkLocal(t, a)
	rm := mac(0x99)
	router := hub.Port(rm)
	router.Attach(func([]byte) {})
	prefix := netip.MustParsePrefix("2001:db8:1:2::/64")
	ra := routerAdvert(rm, header.LinkLocalAddr(tcpip.LinkAddress(rm[:])), prefix)
	deadline := time.Now().Add(timeout)
	for {
		if err := router.Transmit(ra); err != nil {
			t.Fatal(err)
		}
		addrs := a.Addrs()
		if len(addrs) >= 2 {
			if !addrs[0].IsLinkLocalUnicast() || !prefix.Contains(addrs[1]) {
				t.Fatalf("Addrs() = %v", addrs)
			}
			t.Logf("Addrs() = %v", addrs)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SLAAC address; Addrs() = %v", addrs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	if _, err := New(Config{Secret: make([]byte, 32)}); err == nil {
		t.Error("no device accepted")
	}
	if _, err := New(Config{Device: hub.Port(mac(1)), Secret: []byte("short")}); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := New(Config{Device: hub.Port(mac(2)), Secret: make([]byte, 32), RNG: bytes.NewReader(nil)}); err == nil {
		t.Error("empty RNG accepted")
	}
}

func TestRouteLog(t *testing.T) {
	old := glog.Log().Emitter
	defer glog.SetTarget(old)
	var lb logBuf
	RouteLog(lb.logf)
	glog.Warningf("routed %d", 42)
	if !lb.contains("routed 42") {
		t.Errorf("log not routed: %q", lb.lines)
	}
}

func TestDADConflictSimultaneousStart(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	// Both ports exist before either stack starts, so that each hears
	// the other's first solicitation.
	pa, pb := hub.Port(mac(1)), hub.Port(mac(1))
	secret := testKey.Derive(clusterkey.AddrSecret, "twin", 32)
	var stacks [2]*Stack
	var wg sync.WaitGroup
	for i, p := range []*memlink.Port{pa, pb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := New(Config{Device: p, Secret: secret, Logf: t.Logf, DADRetransmitTimer: 150 * time.Millisecond})
			if err != nil {
				t.Error(err)
				return
			}
			stacks[i] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	defer stacks[0].Close()
	defer stacks[1].Close()
	la, lb := linkLocal(t, stacks[0]), linkLocal(t, stacks[1])
	if la == lb {
		t.Fatalf("both have %s", la)
	}
	if n := stacks[0].Counters()["dad_conflicts"] + stacks[1].Counters()["dad_conflicts"]; n == 0 {
		t.Errorf("no conflict counted")
	}
}
