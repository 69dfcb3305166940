package socket_test

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"dunix/fs/vfs"
	"dunix/fs/waiter"
	"dunix/net/socket"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// newStack returns a stack with a loopback NIC (ID 1) holding 127.0.0.1
// and ::1.
func newStack(t testing.TB) *stack.Stack {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if err := s.CreateNIC(1, loopback.New()); err != nil {
		t.Fatal(err)
	}
	for _, a := range []tcpip.ProtocolAddress{
		{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}).WithPrefix()},
		{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom16([16]byte{15: 1}).WithPrefix()},
	} {
		if err := s.AddProtocolAddress(1, a, stack.AddressProperties{}); err != nil {
			t.Fatal(err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: 1},
		{Destination: header.IPv6EmptySubnet, NIC: 1},
	})
	t.Cleanup(func() { s.Close(); s.Wait() })
	return s
}

func sin4(ip [4]byte, port uint16) []byte {
	b := make([]byte, unix.SizeofSockaddrInet4)
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], ip[:])
	return b
}

func sin6(ip [16]byte, port uint16, scope uint32) []byte {
	b := make([]byte, unix.SizeofSockaddrInet6)
	binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[8:], ip[:])
	binary.LittleEndian.PutUint32(b[24:], scope)
	return b
}

var (
	lo4 = [4]byte{127, 0, 0, 1}
	lo6 = [16]byte{15: 1}
)

func port(b []byte) uint16 { return binary.BigEndian.Uint16(b[2:]) }

func mk(t testing.TB, f *socket.Factory, family, typ, flags int) (*vfs.File, *socket.Socket) {
	t.Helper()
	file, err := f.Socket(&vfs.Ctx{}, family, typ, 0, flags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	s, _ := socket.FromFile(file)
	return file, s
}

// wait retries op on f until it stops saying EAGAIN, as the system-call
// layer does.
func wait[T any](t testing.TB, f *vfs.File, mask waiter.EventMask, op func() (T, error)) (T, error) {
	t.Helper()
	cancel := make(chan struct{})
	tm := time.AfterFunc(10*time.Second, func() { close(cancel) })
	defer tm.Stop()
	v, err := waiter.Retry(f, mask, cancel, op)
	if err == unix.EINTR {
		t.Fatal("timed out waiting")
	}
	return v, err
}

// connect does a blocking connect.
func connect(t testing.TB, f *vfs.File, s *socket.Socket, addr []byte) error {
	err := s.Connect(nil, addr)
	if err != unix.EINPROGRESS {
		return err
	}
	_, err = wait(t, f, waiter.WritableEvents, func() (int, error) { return 0, s.FinishConnect() })
	return err
}

func echo(t *testing.T, family int, addr func(uint16) []byte) {
	f := socket.NewFactory(newStack(t))
	lf, l := mk(t, f, family, unix.SOCK_STREAM, unix.O_NONBLOCK)
	if err := l.Bind(nil, addr(0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(8); err != nil {
		t.Fatal(err)
	}
	name, _ := l.SockName()
	if port(name) == 0 {
		t.Fatal("no port bound")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		af, err := wait(t, lf, waiter.ReadableEvents, func() (*vfs.File, error) { return l.Accept(nil, 0) })
		if err != nil {
			t.Error(err)
			return
		}
		defer af.Close()
		buf := make([]byte, 4096)
		for {
			n, err := wait(t, af, waiter.ReadableEvents, func() (int, error) { return af.Read(buf) })
			if err != nil || n == 0 {
				return
			}
			for out := buf[:n]; len(out) > 0; {
				k, err := wait(t, af, waiter.WritableEvents, func() (int, error) { return af.Write(out) })
				if err != nil {
					t.Error(err)
					return
				}
				out = out[k:]
			}
		}
	}()
	cf, c := mk(t, f, family, unix.SOCK_STREAM, 0)
	if err := connect(t, cf, c, addr(port(name))); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(nil, addr(port(name))); err != unix.EISCONN {
		t.Fatalf("second connect: %v", err)
	}
	peer, _ := c.PeerName()
	if !bytes.Equal(peer, addr(port(name))) {
		t.Fatalf("peer %x, want %x", peer, addr(port(name)))
	}
	msg := bytes.Repeat([]byte("dunix sockets "), 20000) // 280 KB: beyond one buffer
	go func() {
		for out := msg; len(out) > 0; {
			k, err := wait(t, cf, waiter.WritableEvents, func() (int, error) { return cf.Write(out) })
			if err != nil {
				t.Error(err)
				return
			}
			out = out[k:]
		}
		c.Shutdown(unix.SHUT_WR)
	}()
	var got []byte
	buf := make([]byte, 8192)
	for {
		n, err := wait(t, cf, waiter.ReadableEvents, func() (int, error) { return cf.Read(buf) })
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo: got %d bytes, want %d", len(got), len(msg))
	}
	wg.Wait()
}

func TestTCPEchoV4(t *testing.T) {
	echo(t, unix.AF_INET, func(p uint16) []byte { return sin4(lo4, p) })
}

func TestTCPEchoV6(t *testing.T) {
	echo(t, unix.AF_INET6, func(p uint16) []byte { return sin6(lo6, p, 0) })
}

func TestUDP(t *testing.T) {
	f := socket.NewFactory(newStack(t))
	for _, tc := range []struct {
		family int
		addr   func(uint16) []byte
	}{
		{unix.AF_INET, func(p uint16) []byte { return sin4(lo4, p) }},
		{unix.AF_INET6, func(p uint16) []byte { return sin6(lo6, p, 0) }},
	} {
		sf, s := mk(t, f, tc.family, unix.SOCK_DGRAM, unix.O_NONBLOCK)
		if err := s.Bind(nil, tc.addr(0)); err != nil {
			t.Fatal(err)
		}
		name, _ := s.SockName()
		_, c := mk(t, f, tc.family, unix.SOCK_DGRAM, unix.O_NONBLOCK)
		if n, err := c.SendMsg(nil, []byte("hello, world"), tc.addr(port(name)), 0, nil); n != 12 || err != nil {
			t.Fatal(n, err)
		}
		cname, _ := c.SockName()
		buf := make([]byte, 5)
		n, err := wait(t, sf, waiter.ReadableEvents, func() (int, error) {
			n, _, _, _, err := s.RecvMsg(nil, buf, unix.MSG_PEEK)
			return n, err
		})
		if n != 5 || err != nil {
			t.Fatal(n, err)
		}
		n, from2, _, fl2, err := s.RecvMsg(nil, buf, unix.MSG_TRUNC)
		if n != 12 || fl2&unix.MSG_TRUNC == 0 || err != nil || string(buf) != "hello" {
			t.Fatal(n, fl2, err, string(buf))
		}
		if port(from2) != port(cname) || binary.LittleEndian.Uint16(from2) != uint16(tc.family) {
			t.Fatalf("from %x, client %x", from2, cname)
		}
		if _, _, _, _, err := s.RecvMsg(nil, buf, 0); err != unix.EAGAIN {
			t.Fatalf("empty: %v", err)
		}
		if _, err := s.SendMsg(nil, []byte("x"), nil, 0, nil); err != unix.EDESTADDRREQ {
			t.Fatalf("send without address: %v", err)
		}
		if _, err := s.SendMsg(nil, []byte("x"), nil, 0, []*vfs.File{nil}); err != unix.EINVAL {
			t.Fatalf("SCM_RIGHTS on UDP: %v", err)
		}
	}
}

func TestErrors(t *testing.T) {
	f := socket.NewFactory(newStack(t))
	if _, err := f.Socket(nil, unix.AF_PACKET, unix.SOCK_DGRAM, 0, 0); err != unix.EAFNOSUPPORT {
		t.Fatal(err)
	}
	if _, err := f.Socket(nil, unix.AF_INET, unix.SOCK_RAW, 1, 0); err != unix.ESOCKTNOSUPPORT {
		t.Fatal(err)
	}
	if _, err := f.Socket(nil, unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_UDP, 0); err != unix.EPROTONOSUPPORT {
		t.Fatal(err)
	}
	// Nobody listens: ECONNREFUSED, through the non-blocking protocol.
	cf, c := mk(t, f, unix.AF_INET, unix.SOCK_STREAM, unix.O_NONBLOCK)
	if err := connect(t, cf, c, sin4(lo4, 9)); err != unix.ECONNREFUSED {
		t.Fatalf("connect to closed port: %v", err)
	}
	// EADDRINUSE.
	_, a := mk(t, f, unix.AF_INET6, unix.SOCK_STREAM, 0)
	if err := a.Bind(nil, sin6(lo6, 0, 0)); err != nil {
		t.Fatal(err)
	}
	a.Listen(1)
	name, _ := a.SockName()
	_, b := mk(t, f, unix.AF_INET6, unix.SOCK_STREAM, 0)
	if err := b.Bind(nil, sin6(lo6, port(name), 0)); err != unix.EADDRINUSE {
		t.Fatalf("bind to a used port: %v", err)
	}
	if err := b.Bind(nil, sin4(lo4, 0)); err != unix.EAFNOSUPPORT {
		t.Fatalf("bind v6 socket to v4 address: %v", err)
	}
	if err := b.Bind(nil, sin6([16]byte{0: 0x20, 1: 0x01, 15: 9}, 0, 0)); err != unix.EADDRNOTAVAIL {
		t.Fatalf("bind to a foreign address: %v", err)
	}
	if _, err := b.PeerName(); err != unix.ENOTCONN {
		t.Fatalf("peer of unconnected: %v", err)
	}
	if err := b.Shutdown(unix.SHUT_RDWR); err != unix.ENOTCONN {
		t.Fatalf("shutdown unconnected: %v", err)
	}
	if _, err := b.Accept(nil, 0); err != unix.EINVAL {
		t.Fatalf("accept on a non-listener: %v", err)
	}
	buf := make([]byte, 1)
	if _, _, _, _, err := b.RecvMsg(nil, buf, 0); err != unix.ENOTCONN {
		t.Fatalf("recv unconnected: %v", err)
	}
	_, u := mk(t, f, unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err := u.Listen(1); err != unix.EOPNOTSUPP {
		t.Fatalf("listen on UDP: %v", err)
	}
}

func TestNonBlockingAndShutdown(t *testing.T) {
	f := socket.NewFactory(newStack(t))
	lf, l := mk(t, f, unix.AF_INET6, unix.SOCK_STREAM, unix.O_NONBLOCK)
	l.Bind(nil, sin6(lo6, 0, 0))
	l.Listen(4)
	if _, err := l.Accept(nil, 0); err != unix.EAGAIN {
		t.Fatalf("accept with nothing: %v", err)
	}
	name, _ := l.SockName()
	cf, c := mk(t, f, unix.AF_INET6, unix.SOCK_STREAM, unix.O_NONBLOCK)
	err := c.Connect(nil, sin6(lo6, port(name), 0))
	if err != unix.EINPROGRESS && err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, cf, waiter.WritableEvents, func() (int, error) { return 0, c.FinishConnect() }); err != nil {
		t.Fatal(err)
	}
	so, _ := c.GetSockOpt(nil, unix.SOL_SOCKET, unix.SO_ERROR)
	if binary.LittleEndian.Uint32(so) != 0 {
		t.Fatalf("SO_ERROR %x", so)
	}
	af, err := wait(t, lf, waiter.ReadableEvents, func() (*vfs.File, error) { return l.Accept(nil, unix.O_NONBLOCK) })
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	a, _ := socket.FromFile(af)
	if _, err := af.Read(make([]byte, 10)); err != unix.EAGAIN {
		t.Fatalf("read with nothing: %v", err)
	}
	// The client shuts its writing side: the server sees RDHUP and EOF.
	c.Shutdown(unix.SHUT_WR)
	if _, err := wait(t, af, waiter.EventRdHUp, func() (int, error) {
		if af.Readiness(waiter.EventRdHUp)&waiter.EventRdHUp == 0 {
			return 0, unix.EAGAIN
		}
		return 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := af.Read(make([]byte, 10)); n != 0 || err != nil {
		t.Fatalf("EOF: %d %v", n, err)
	}
	if _, err := cf.Write([]byte("x")); err != unix.EPIPE {
		t.Fatalf("write after SHUT_WR: %v", err)
	}
	// Options.
	one := []byte{1, 0, 0, 0}
	if err := a.SetSockOpt(nil, unix.SOL_TCP, unix.TCP_NODELAY, one); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.GetSockOpt(nil, unix.SOL_TCP, unix.TCP_NODELAY); v[0] != 1 {
		t.Fatal("TCP_NODELAY not set")
	}
	if err := a.SetSockOpt(nil, unix.SOL_SOCKET, unix.SO_KEEPALIVE, one); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.GetSockOpt(nil, unix.SOL_SOCKET, unix.SO_KEEPALIVE); v[0] != 1 {
		t.Fatal("SO_KEEPALIVE not set")
	}
	if v, _ := a.GetSockOpt(nil, unix.SOL_SOCKET, unix.SO_TYPE); v[0] != unix.SOCK_STREAM {
		t.Fatal("SO_TYPE")
	}
	if _, err := a.GetSockOpt(nil, unix.SOL_SOCKET, 9999); err != unix.ENOPROTOOPT {
		t.Fatal(err)
	}
	if err := a.SetSockOpt(nil, unix.SOL_TCP, 9999, one); err != unix.ENOPROTOOPT {
		t.Fatal(err)
	}
	if v, _ := l.GetSockOpt(nil, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v[0] != 1 {
		t.Fatal("SO_ACCEPTCONN")
	}
}

func TestLinkLocalScope(t *testing.T) {
	st := newStack(t)
	ll := [16]byte{0: 0xfe, 1: 0x80, 15: 0x42}
	if err := st.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber,
		AddressWithPrefix: tcpip.AddrFrom16(ll).WithPrefix()}, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	f := socket.NewFactory(st)
	_, s := mk(t, f, unix.AF_INET6, unix.SOCK_DGRAM, 0)
	if err := s.Bind(nil, sin6(ll, 0, 1)); err != nil {
		t.Fatal(err)
	}
	name, _ := s.SockName()
	if binary.LittleEndian.Uint32(name[24:]) != 1 {
		t.Fatalf("scope id of a link-local name: %x", name)
	}
}

func TestV4MappedOnV6(t *testing.T) {
	f := socket.NewFactory(newStack(t))
	lf, l := mk(t, f, unix.AF_INET, unix.SOCK_STREAM, unix.O_NONBLOCK)
	l.Bind(nil, sin4(lo4, 0))
	l.Listen(1)
	name, _ := l.SockName()
	cf, c := mk(t, f, unix.AF_INET6, unix.SOCK_STREAM, 0)
	mapped := [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}
	if err := connect(t, cf, c, sin6(mapped, port(name), 0)); err != nil {
		t.Fatal(err)
	}
	af, err := wait(t, lf, waiter.ReadableEvents, func() (*vfs.File, error) { return l.Accept(nil, 0) })
	if err != nil {
		t.Fatal(err)
	}
	af.Close()
	peer, _ := c.PeerName()
	if !bytes.Equal(peer, sin6(mapped, port(name), 0)) {
		t.Fatalf("v4-mapped peer %x", peer)
	}
}
