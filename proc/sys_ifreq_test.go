package proc

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"dunix/net/socket"
)

func TestInterfaceIoctls(t *testing.T) {
	n := newTestNode()
	n.SetNetwork(socket.NewFactory(loopStack(t)))
	defer n.SetNetwork(nil)
	p := newTestProc(t, n)
	// On an AF_UNIX socket, as glibc's if_nametoindex does.
	fd := p.must(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	req := make([]byte, ifreqSize)
	name := func() string { // NIC 1 of loopStack has no name: ask by index
		binary.LittleEndian.PutUint32(req[16:], 1)
		p.must(unix.SYS_IOCTL, fd, unix.SIOCGIFNAME, p.put(offA, req))
		b := p.get(offA, 16)
		return string(b[:indexByte(b, 0)])
	}()
	copy(req, name+"\x00")
	p.must(unix.SYS_IOCTL, fd, unix.SIOCGIFINDEX, p.put(offA, req))
	if got := binary.LittleEndian.Uint32(p.get(offA, ifreqSize)[16:]); got != 1 {
		t.Fatalf("SIOCGIFINDEX(%q) = %d, want 1", name, got)
	}
	p.must(unix.SYS_IOCTL, fd, unix.SIOCGIFFLAGS, p.put(offA, req))
	if fl := binary.LittleEndian.Uint16(p.get(offA, ifreqSize)[16:]); fl&unix.IFF_LOOPBACK == 0 {
		t.Errorf("flags %#x lack IFF_LOOPBACK", fl)
	}
	copy(req, "nosuch0\x00")
	if _, e := p.call(unix.SYS_IOCTL, fd, unix.SIOCGIFINDEX, p.put(offA, req)); e != unix.ENODEV {
		t.Errorf("unknown interface: %v, want ENODEV", e)
	}
	// SIOCGIFCONF: the length first, then the list (127.0.0.1 on lo).
	conf := make([]byte, 16)
	p.must(unix.SYS_IOCTL, fd, unix.SIOCGIFCONF, p.put(offBuf, conf))
	if l := binary.LittleEndian.Uint32(p.get(offBuf, 4)); l != ifreqSize {
		t.Fatalf("SIOCGIFCONF length %d, want %d", l, ifreqSize)
	}
	binary.LittleEndian.PutUint32(conf, ifreqSize)
	binary.LittleEndian.PutUint64(conf[8:], p.base+offA)
	p.must(unix.SYS_IOCTL, fd, unix.SIOCGIFCONF, p.put(offBuf, conf))
	if got := p.get(offA, ifreqSize); got[20] != 127 || got[23] != 1 {
		t.Errorf("SIOCGIFCONF entry %v", got)
	}
	if _, e := p.call(unix.SYS_IOCTL, fd, unix.SIOCSIFFLAGS, p.put(offA, req)); e != unix.EPERM {
		t.Errorf("SIOCSIFFLAGS: %v, want EPERM", e)
	}
}
