package qemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// TapLAN is a virtual Ethernet segment in a network namespace of its own:
// a Linux bridge with one tap device per port, everything created inside
// a namespace that nothing else uses, so that the host's own network
// namespace never sees a device or a frame of it. A QEMU card gets its
// port as an open file descriptor (`-netdev tap,fd=N`, see NIC.Tap);
// opened with virtio-net headers (IFF_VNET_HDR), the card then offers
// checksum and segmentation offloads, which the socket LAN cannot.
//
// The bridge floods broadcast and multicast to every port (multicast
// snooping is off, so MLD reports never prune a group) and learns unicast
// addresses; STP is off, so a port forwards as soon as it is up. IPv6 is
// disabled on the namespace's own devices, so the only frames on the LAN
// are its members'. The namespace vanishes once the LAN is closed and
// the last port (QEMU's copies included) is closed.
//
// Making one needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_ADMIN
// for the devices), /dev/net/tun and the bridge module.
type TapLAN struct {
	mu     sync.Mutex
	ops    chan func() // run on the thread inside the namespace
	done   chan struct{}
	closed bool
	ports  int // taps made so far, for their names
	sock   int // a socket inside the namespace, for interface ioctls
}

// Names of the devices inside a TapLAN's namespace.
const (
	tapBridge    = "dnxbr0"
	tapPortName  = "dnxtap"
	tunDevice    = "/dev/net/tun"
	tapNeedsRoot = "needs root: CAP_SYS_ADMIN and CAP_NET_ADMIN"
)

// NewTapLAN makes the namespace and its bridge. It needs root
// (CAP_NET_ADMIN, CAP_SYS_ADMIN) and /dev/net/tun; errors say so.
func NewTapLAN() (*TapLAN, error) {
	// Check the tun device first, for a clear error.
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("qemu: tap LAN: %s: %v (needs the tun module and root)", tunDevice, err)
	}
	unix.Close(fd)

	l := &TapLAN{ops: make(chan func()), done: make(chan struct{}), sock: -1}
	started := make(chan error, 1)
	go l.serve(started)
	if err := <-started; err != nil {
		return nil, err
	}
	if err := l.do(l.setup); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// serve runs on an OS thread of its own that it moves into a fresh network
// namespace; it runs the LAN's operations there until Close. It never
// unlocks the thread, so Go ends the thread when serve returns, and with
// it the thread's hold on the namespace.
func (l *TapLAN) serve(started chan<- error) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The main thread: it must stay in the host's namespace (/proc/self
		// and /proc/net show its view) and Go never ends it. Serve from a
		// goroutine that cannot run here while this one holds the thread,
		// and let go of it once that one holds a thread of its own.
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			l.serveLocked(started)
		}()
		<-locked
		runtime.UnlockOSThread()
		return
	}
	l.serveLocked(started)
}

// serveLocked is serve on a locked thread other than the main one.
func (l *TapLAN) serveLocked(started chan<- error) {
	defer close(l.done)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		started <- fmt.Errorf("qemu: tap LAN: a network namespace of its own: %v (%s)", err, tapNeedsRoot)
		return
	}
	started <- nil
	for op := range l.ops {
		op()
	}
	if l.sock >= 0 {
		unix.Close(l.sock)
	}
}

// do runs f inside the namespace and returns its error.
func (l *TapLAN) do(f func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("qemu: tap LAN: closed")
	}
	errc := make(chan error, 1)
	l.ops <- func() { errc <- f() }
	return <-errc
}

// setup runs inside the namespace: IPv6 off for every device made from
// now on, a socket for interface ioctls, and the bridge, up.
func (l *TapLAN) setup() error {
	for _, conf := range []string{"all", "default"} {
		if err := disableIPv6(conf); err != nil {
			return err
		}
	}
	var err error
	l.sock, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("qemu: tap LAN: socket: %v", err)
	}
	if err := newBridge(tapBridge); err != nil {
		return err
	}
	return l.up(tapBridge)
}

// disableIPv6 writes 1 to /proc/sys/net/ipv6/conf/<dev>/disable_ipv6. The
// files under /proc/sys/net are those of the opening thread's namespace.
// Without IPv6 in the kernel there is nothing to disable.
func disableIPv6(dev string) error {
	err := os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6", []byte("1\n"), 0)
	if err != nil {
		if _, serr := os.Stat("/proc/sys/net/ipv6"); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("qemu: tap LAN: disabling IPv6 on the LAN's own devices: %v", err)
	}
	return nil
}

// newBridge creates bridge name with multicast snooping and STP off, by an
// RTM_NEWLINK request on a route netlink socket of the namespace (the
// bridge ioctl cannot set snooping; sysfs shows the devices of the
// namespace that mounted it, not of this thread's).
func newBridge(name string) error {
	info := nlAttr(unix.IFLA_INFO_KIND, append([]byte("bridge"), 0))
	info = append(info, nlAttr(unix.IFLA_INFO_DATA|unix.NLA_F_NESTED,
		append(nlAttr(unix.IFLA_BR_MCAST_SNOOPING, []byte{0}),
			nlAttr(unix.IFLA_BR_STP_STATE, binary.NativeEndian.AppendUint32(nil, 0))...))...)
	attrs := nlAttr(unix.IFLA_IFNAME, append([]byte(name), 0))
	attrs = append(attrs, nlAttr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, info)...)
	err := netlinkRoute(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ifInfoMsg(0), attrs, nil)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("qemu: tap LAN: bridge %s: %v (%s)", name, err, tapNeedsRoot)
	case errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Errorf("qemu: tap LAN: bridge %s: %v (needs the bridge module)", name, err)
	}
	return fmt.Errorf("qemu: tap LAN: bridge %s: %v", name, err)
}

// Port adds a tap device to the bridge, up, and returns its open file (the
// device lives as long as a copy of this file is open). With vnetHdr the
// tap carries virtio-net headers (IFF_VNET_HDR): that is the one for QEMU
// (see NIC.Tap). Without, the file reads and writes plain Ethernet frames,
// one per Read or Write: a port for host tools and tests. The file is
// non-blocking, so its deadlines work, until it is handed to a child
// process (os/exec then makes it blocking).
func (l *TapLAN) Port(vnetHdr bool) (*os.File, error) {
	var f *os.File
	err := l.do(func() error {
		name := tapPortName + strconv.Itoa(l.ports)
		l.ports++
		// Opened here: the tap is made in the namespace of the thread
		// that opened /dev/net/tun.
		fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("qemu: tap LAN: %s: %v (needs the tun module and root)", tunDevice, err)
		}
		if err := l.addTap(fd, name, vnetHdr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("qemu: tap LAN: port %s: %v", name, err)
		}
		f = os.NewFile(uintptr(fd), tunDevice+":"+name)
		return nil
	})
	return f, err
}

// addTap makes fd tap device name, puts it on the bridge and brings it up.
func (l *TapLAN) addTap(fd int, name string, vnetHdr bool) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if vnetHdr {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("TUNSETIFF: %v", err)
	}
	// disable_ipv6 was set in "default" before the tap existed; say it
	// again for this one, in case.
	if err := disableIPv6(name); err != nil {
		return err
	}
	idx, err := l.ifindex(name)
	if err != nil {
		return err
	}
	br, err := unix.NewIfreq(tapBridge)
	if err != nil {
		return err
	}
	br.SetUint32(uint32(idx))
	if err := unix.IoctlIfreq(l.sock, unix.SIOCBRADDIF, br); err != nil {
		return fmt.Errorf("SIOCBRADDIF: %v", err)
	}
	return l.up(name)
}

// ifindex returns the index of interface name.
func (l *TapLAN) ifindex(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(l.sock, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("SIOCGIFINDEX %s: %v", name, err)
	}
	return int(ifr.Uint32()), nil
}

// up sets IFF_UP on interface name.
func (l *TapLAN) up(name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(l.sock, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS %s: %v", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(l.sock, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS %s: %v", name, err)
	}
	return nil
}

// Close releases the namespace: the thread inside it ends. Ports already
// handed out stay usable, on the same bridge, until they are closed; the
// namespace goes when the last of them does. Close may be called more
// than once.
func (l *TapLAN) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.ops)
	}
	l.mu.Unlock()
	<-l.done
	return nil
}

// nlAttr returns a netlink attribute (header, data, padding).
func nlAttr(typ uint16, data []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(unix.SizeofRtAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%unix.NLA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// ifInfoMsg returns a struct ifinfomsg for interface index (0: none).
func ifInfoMsg(index int) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	return b
}

// netlinkRoute sends one request of type typ (with NLM_F_REQUEST,
// NLM_F_ACK and flags) on a NETLINK_ROUTE socket made in the calling
// thread's namespace, and returns the kernel's error. Each reply message
// other than the acknowledgement is passed to reply, when not nil.
func netlinkRoute(typ, flags uint16, msg, attrs []byte, reply func(syscall.NetlinkMessage)) error {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	body := append(append([]byte(nil), msg...), attrs...)
	req := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(body)))
	req = binary.NativeEndian.AppendUint16(req, typ)
	req = binary.NativeEndian.AppendUint16(req, flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	req = binary.NativeEndian.AppendUint32(req, 1) // sequence
	req = binary.NativeEndian.AppendUint32(req, 0) // port: the kernel's
	req = append(req, body...)
	if err := unix.Sendto(s, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(s, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return errors.New("netlink: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
					return unix.Errno(-e)
				}
				return nil
			case unix.NLMSG_DONE:
				return nil
			default:
				if reply != nil {
					reply(m)
				}
			}
		}
	}
}

// Stats returns the namespace's interface counters (its /proc/net/dev):
// what the bridge and each port moved and dropped, for diagnostics.
func (l *TapLAN) Stats() (string, error) {
	var out []byte
	err := l.do(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/dev")
		out = b
		return err
	})
	return string(out), err
}
