package qemu

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// LAN is a virtual Ethernet segment on the host's loopback: a UDP
// multicast group that every member (QEMU's `-netdev socket,mcast=...`
// with localaddr 127.0.0.1, or a host tool) sends its frames to, one raw
// Ethernet frame per datagram.
type LAN struct {
	// Group is the multicast group, an IPv4 address in 239.0.0.0/8
	// (administratively scoped), with its UDP port.
	Group netip.AddrPort
}

// LocalAddr is the interface address every LAN member sends from and
// joins the group on: loopback, so that no frame leaves the host.
var LocalAddr = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// The range NewLAN picks ports from: above Linux's ephemeral port range
// (32768-60999), so that no outgoing socket takes a LAN's port.
const (
	LANPortMin = 61000
	LANPortMax = 65535
)

// String returns the group as "239.x.y.z:port".
func (l LAN) String() string { return l.Group.String() }

// ParseLAN reads a LAN written as "239.x.y.z:port".
func ParseLAN(s string) (LAN, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return LAN{}, fmt.Errorf("qemu: LAN %q: %v", s, err)
	}
	l := LAN{Group: ap}
	return l, l.Validate()
}

// Validate reports whether l is an IPv4 multicast group with a port.
func (l LAN) Validate() error {
	a := l.Group.Addr()
	if !a.Is4() || !a.IsMulticast() || l.Group.Port() == 0 {
		return fmt.Errorf("qemu: LAN %s: want an IPv4 multicast group and a port, like 239.255.1.2:61000", l.Group)
	}
	return nil
}

// NewLAN returns a LAN of its own: a random group in 239.255.0.0/16 (the
// IPv4 local scope) on a random port between LANPortMin and LANPortMax
// that no socket on this host is bound to (checked by binding it), so
// that two clusters, or two tests running at once, do not share a LAN.
// (A port checked free may still be taken before QEMU binds it; the
// random group keeps two LANs apart even then.)
func NewLAN() (LAN, error) {
	var b [8]byte
	for range 64 {
		if _, err := rand.Read(b[:]); err != nil {
			return LAN{}, fmt.Errorf("qemu: LAN: %w", err)
		}
		group := netip.AddrFrom4([4]byte{239, 255, b[0], 1 + b[1]%254})
		port := LANPortMin + int(binary.LittleEndian.Uint16(b[2:]))%(LANPortMax-LANPortMin+1)
		if portFree(port) {
			return LAN{Group: netip.AddrPortFrom(group, uint16(port))}, nil
		}
	}
	return LAN{}, errors.New("qemu: LAN: no free UDP port found between " +
		strconv.Itoa(LANPortMin) + " and " + strconv.Itoa(LANPortMax))
}

// portFree reports whether UDP port can be bound on every address, without
// SO_REUSEADDR: it fails when any socket (a QEMU LAN member included,
// which binds the group address with SO_REUSEADDR) holds the port.
func portFree(port int) bool {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// NIC is a virtio-net network card on a LAN: a socket LAN (LAN) or a
// port of a tap LAN (Tap), exactly one of the two.
type NIC struct {
	// MAC is the card's hardware address, like "52:54:00:12:34:56"
	// (see NodeMAC).
	MAC string
	// LAN is the segment the card is plugged into.
	LAN LAN
	// Tap, when set instead of LAN, is an open tap device with virtio-net
	// headers (TapLAN.Port(true)); QEMU gets it as a file descriptor.
	// The caller keeps it and closes it once QEMU has started.
	Tap *os.File
}

// Validate reports whether n has a unicast MAC and either a valid LAN or
// a tap.
func (n NIC) Validate() error {
	hw, err := net.ParseMAC(n.MAC)
	if err != nil || len(hw) != 6 {
		return fmt.Errorf("qemu: NIC MAC %q: want six hexadecimal bytes like 52:54:00:12:34:56", n.MAC)
	}
	if hw[0]&1 != 0 {
		return fmt.Errorf("qemu: NIC MAC %s is a multicast address", n.MAC)
	}
	switch {
	case n.Tap != nil && n.LAN != (LAN{}):
		return fmt.Errorf("qemu: NIC %s has both a LAN and a tap: give one", n.MAC)
	case n.Tap != nil:
		return nil
	case n.LAN == (LAN{}):
		return fmt.Errorf("qemu: NIC %s has neither a LAN nor a tap: give one", n.MAC)
	}
	return n.LAN.Validate()
}

// NodeMAC returns the MAC address of node index (1, 2, ...) of the named
// cluster: QEMU's locally administered prefix 52:54:00, one byte from a
// hash of the cluster name and the index in the last two bytes, so that
// the nodes of one cluster never share an address and the address of a
// node stays the same across restarts of its cluster.
func NodeMAC(cluster string, index int) string {
	h := sha256.Sum256([]byte("dunix cluster " + cluster))
	return net.HardwareAddr{0x52, 0x54, 0x00, h[0], byte(index >> 8), byte(index)}.String()
}

// nicArgs returns the QEMU arguments for the NICs of cfg (defaults
// applied): a netdev named fabN and a modern (non-legacy) virtio-net device
// for each, virtio-net-pci on q35 and virtio-net-device (a virtio-mmio
// transport) on microvm. The netdev of a LAN NIC is a socket netdev; that
// of a tap NIC is a tap netdev on file descriptor 3, 4, ... in the order of
// tapFiles, which Start passes to QEMU as its extra files.
func nicArgs(cfg Config) []string {
	var args []string
	if len(cfg.NICs) > 0 && cfg.Machine == MachineMicroVM {
		args = append(args, "-global", "virtio-mmio.force-legacy=false")
	}
	taps := 0
	for i, n := range cfg.NICs {
		id := "fab" + strconv.Itoa(i)
		netdev := "socket,id=" + id + ",mcast=" + n.LAN.String() + ",localaddr=" + LocalAddr.String()
		if n.Tap != nil {
			netdev = "tap,id=" + id + ",fd=" + strconv.Itoa(3+taps) + ",vhost=off"
			taps++
		}
		args = append(args, "-netdev", netdev)
		dev := "virtio-net-pci,netdev=" + id + ",mac=" + n.MAC + ",disable-legacy=on,romfile="
		if cfg.Machine == MachineMicroVM {
			dev = "virtio-net-device,netdev=" + id + ",mac=" + n.MAC
		}
		args = append(args, "-device", dev)
	}
	return args
}

// tapFiles returns the taps of cfg's NICs in order: QEMU's file descriptors
// 3, 4, ... (its exec.Cmd.ExtraFiles), as nicArgs numbers them.
func tapFiles(cfg Config) []*os.File {
	var files []*os.File
	for _, n := range cfg.NICs {
		if n.Tap != nil {
			files = append(files, n.Tap)
		}
	}
	return files
}

// consoleArgs returns the -chardev and -serial arguments of the console
// (COM1): QEMU's standard input and output, or the unix socket server
// cfg.ConsoleSocket with its output also logged to cfg.ConsoleLog.
func consoleArgs(cfg Config) []string {
	chardev := "stdio,id=con0,signal=off"
	if cfg.ConsoleSocket != "" {
		chardev = "socket,id=con0,path=" + optValue(cfg.ConsoleSocket) + ",server=on,wait=off"
		if cfg.ConsoleLog != "" {
			chardev += ",logfile=" + optValue(cfg.ConsoleLog)
		}
	}
	return []string{"-chardev", chardev, "-serial", "chardev:con0"}
}

// optValue escapes a value inside a QEMU option list: a comma is doubled.
func optValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }
