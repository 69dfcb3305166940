package ip6

import (
	"crypto/rand"
	"io"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
)

func TestLoopbackOnly(t *testing.T) {
	s, err := NewLoopback(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	for _, c := range []struct {
		addr  tcpip.Address
		proto tcpip.NetworkProtocolNumber
	}{{header.IPv6Loopback, ipv6.ProtocolNumber}, {header.IPv4Loopback, ipv4.ProtocolNumber}} {
		fa := tcpip.FullAddress{NIC: LoopbackNIC, Addr: c.addr, Port: 9999}
		l, err := gonet.ListenTCP(s, fa, c.proto)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := l.Accept()
			if err == nil {
				io.Copy(conn, conn)
				conn.Close()
			}
		}()
		conn, err := gonet.DialTCP(s, fa, c.proto)
		if err != nil {
			t.Fatalf("dial %s: %v", c.addr, err)
		}
		conn.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo over %s: %q, %v", c.addr, buf, err)
		}
		conn.Close()
		l.Close()
	}
}
