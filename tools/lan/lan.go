// Package lan lets a host program join a QEMU socket-multicast LAN (see
// qemu.LAN) as one more network card: a Device sends and receives the raw
// Ethernet frames the nodes' virtio-net cards exchange, one frame per UDP
// datagram to the LAN's multicast group on the loopback interface. It
// implements link.Device, so a gVisor stack can run on it (`dunix status`
// observes a cluster that way). Host only.
package lan

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"dunix/net/link"
	"dunix/qemu"
)

// MTU is the IP MTU of a LAN: QEMU's socket netdev carries standard
// Ethernet frames.
const MTU = 1500

// maxFrame is the largest datagram read: a frame with a VLAN tag, with room
// to spare for whatever QEMU sends.
const maxFrame = 65536

// Device is a host-side card on a LAN.
type Device struct {
	mac   [6]byte
	conn  *net.UDPConn
	group netip.AddrPort

	attach sync.Once
	closed atomic.Bool

	// Dropped counts received frames shorter than an Ethernet header.
	Dropped atomic.Uint64
}

var _ link.Device = (*Device)(nil)

// Join joins lan with hardware address mac. Frames whose source address is
// mac are taken for our own (looped back by the multicast) and dropped.
// Close leaves the LAN.
func Join(lan qemu.LAN, mac [6]byte) (*Device, error) {
	if err := lan.Validate(); err != nil {
		return nil, err
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("lan: %s is a multicast MAC address", net.HardwareAddr(mac[:]))
	}
	// Bound to the group's address (as QEMU binds), the socket receives
	// only the group's datagrams, not those of another LAN on the same
	// port. net.ListenPacket would bind the wildcard address instead.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("lan: join %s: socket: %w", lan, err)
	}
	err = setupSocket(fd, lan)
	if err == nil {
		if err = unix.Bind(fd, &unix.SockaddrInet4{Port: int(lan.Group.Port()), Addr: lan.Group.Addr().As4()}); err != nil {
			err = fmt.Errorf("bind: %w", err)
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lan: join %s: %w", lan, err)
	}
	f := os.NewFile(uintptr(fd), "lan "+lan.String())
	pc, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("lan: join %s: %w", lan, err)
	}
	return &Device{mac: mac, conn: pc.(*net.UDPConn), group: lan.Group}, nil
}

// setupSocket sets the socket options of a LAN member before it is bound:
// shared port, membership of the group on loopback, multicast sent on
// loopback and looped back to the other members on this host.
func setupSocket(fd int, lan qemu.LAN) error {
	lo := qemu.LocalAddr.As4()
	group := lan.Group.Addr().As4()
	for _, o := range []struct {
		name            string
		level, opt, val int
	}{
		{"SO_REUSEADDR", unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
		{"SO_REUSEPORT", unix.SOL_SOCKET, unix.SO_REUSEPORT, 1},
		{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 1},
		{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 1},
		// Only the groups this socket joined, not every group joined on the host.
		{"IP_MULTICAST_ALL", unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, lo); err != nil {
		return fmt.Errorf("IP_MULTICAST_IF 127.0.0.1: %w", err)
	}
	mreq := &unix.IPMreq{Multiaddr: group, Interface: lo}
	if err := unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
		return fmt.Errorf("IP_ADD_MEMBERSHIP %s on 127.0.0.1: %w", lan.Group.Addr(), err)
	}
	return nil
}

// MAC returns the card's hardware address.
func (d *Device) MAC() [6]byte { return d.mac }

// MTU returns the LAN's IP MTU.
func (d *Device) MTU() uint32 { return MTU }

// Transmit sends frame to every other member of the LAN.
func (d *Device) Transmit(frame []byte) error {
	if d.closed.Load() {
		return net.ErrClosed
	}
	if len(frame) < 14 {
		return fmt.Errorf("lan: frame of %d bytes is shorter than an Ethernet header", len(frame))
	}
	_, err := d.conn.WriteToUDPAddrPort(frame, d.group)
	return err
}

// Attach starts the receiver: rx is called from a goroutine of the
// Device's with every frame another member sent, until Close. Only the
// first call has an effect.
func (d *Device) Attach(rx func(frame []byte)) {
	d.attach.Do(func() { go d.receive(rx) })
}

// receive reads frames until the socket is closed.
func (d *Device) receive(rx func(frame []byte)) {
	buf := make([]byte, maxFrame)
	for {
		n, _, err := d.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || d.closed.Load() {
				return
			}
			continue // a transient error (ECONNREFUSED from ICMP, say)
		}
		switch {
		case n < 14:
			d.Dropped.Add(1)
		case [6]byte(buf[6:12]) == d.mac:
			// Our own frame, looped back.
		default:
			rx(buf[:n])
		}
	}
}

// Close leaves the LAN; the receiver stops.
func (d *Device) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	return d.conn.Close()
}

// RandomMAC returns a random locally administered unicast address, for a
// host-side card (the nodes' addresses start with 52:54:00; this one
// starts with 0x02 | random bits, never 52:54:00).
func RandomMAC() ([6]byte, error) {
	var m [6]byte
	if _, err := rand.Read(m[:]); err != nil {
		return m, fmt.Errorf("lan: random MAC: %w", err)
	}
	m[0] = m[0]&0xfc | 0x02
	if m[0] == 0x52 {
		m[0] = 0x06
	}
	return m, nil
}
