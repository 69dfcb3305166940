package proc

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/fs/vfs"
	"dunix/net/socket"
)

// The interface ioctls on any socket (glibc's if_nametoindex asks an
// AF_UNIX socket): SIOCGIFNAME, SIOCGIFINDEX, SIOCGIFFLAGS, SIOCGIFMTU,
// SIOCGIFHWADDR and SIOCGIFCONF, answered from the node's network
// (InterfaceLister). Setting interface state (SIOCSIF*) is not offered:
// EPERM for users, and the fabric owns its NICs.

// InterfaceLister is implemented by SocketFactories that know their
// interfaces (*socket.Factory does).
type InterfaceLister interface {
	Interfaces() []socket.Interface
}

const ifreqSize = 40 // struct ifreq: 16-byte name, 24-byte union

// ifIoctl answers cmd when it is an interface ioctl (handled is false
// otherwise).
func (t *Thread) ifIoctl(f *vfs.File, cmd uint32, arg uint64) (r uint64, handled bool, err error) {
	switch cmd {
	case unix.SIOCGIFNAME, unix.SIOCGIFINDEX, unix.SIOCGIFFLAGS, unix.SIOCGIFMTU, unix.SIOCGIFHWADDR, unix.SIOCGIFCONF:
	case unix.SIOCSIFFLAGS, unix.SIOCSIFMTU, unix.SIOCSIFNAME, unix.SIOCSIFHWADDR, unix.SIOCSIFADDR:
		if _, ok := f.Ops().(sockOps); ok {
			return 0, true, syscall.EPERM
		}
		return 0, false, nil
	default:
		return 0, false, nil
	}
	if _, ok := f.Ops().(sockOps); !ok {
		return 0, false, nil
	}
	var ifs []socket.Interface
	if l, ok := t.p.node.network().(InterfaceLister); ok {
		ifs = l.Interfaces()
	}
	mem := t.ctx().Mem
	if mem == nil {
		return 0, true, syscall.EFAULT
	}
	if cmd == unix.SIOCGIFCONF {
		return 0, true, ifconf(mem, uintptr(arg), ifs)
	}
	var req [ifreqSize]byte
	if err := mem.CopyIn(uintptr(arg), req[:]); err != nil {
		return 0, true, err
	}
	var in *socket.Interface
	if cmd == unix.SIOCGIFNAME {
		idx := int(int32(binary.LittleEndian.Uint32(req[16:])))
		for i := range ifs {
			if ifs[i].Index == idx {
				in = &ifs[i]
			}
		}
	} else {
		name := req[:16]
		if n := indexByte(name, 0); n >= 0 {
			name = name[:n]
		}
		for i := range ifs {
			if ifs[i].Name == string(name) {
				in = &ifs[i]
			}
		}
	}
	if in == nil {
		return 0, true, syscall.ENODEV
	}
	u := req[16:]
	switch cmd {
	case unix.SIOCGIFNAME:
		clear(req[:16])
		copy(req[:15], in.Name)
	case unix.SIOCGIFINDEX:
		binary.LittleEndian.PutUint32(u, uint32(in.Index))
	case unix.SIOCGIFFLAGS:
		binary.LittleEndian.PutUint16(u, in.Flags)
	case unix.SIOCGIFMTU:
		binary.LittleEndian.PutUint32(u, in.MTU)
	case unix.SIOCGIFHWADDR:
		clear(u)
		typ := uint16(unix.ARPHRD_ETHER)
		if in.Flags&unix.IFF_LOOPBACK != 0 {
			typ = unix.ARPHRD_LOOPBACK
		}
		binary.LittleEndian.PutUint16(u, typ)
		copy(u[2:], in.MAC[:])
	}
	return 0, true, mem.CopyOut(uintptr(arg), req[:])
}

// ifconf fills struct ifconf {int ifc_len; char *ifc_buf} with one ifreq
// per IPv4 address (a NULL buffer asks for the length needed).
func ifconf(mem vfs.UserMemory, arg uintptr, ifs []socket.Interface) error {
	var hdr [16]byte
	if err := mem.CopyIn(arg, hdr[:]); err != nil {
		return err
	}
	room := int(int32(binary.LittleEndian.Uint32(hdr[:])))
	buf := uintptr(binary.LittleEndian.Uint64(hdr[8:]))
	n := 0
	for _, in := range ifs {
		for _, a := range in.IPv4 {
			if buf != 0 {
				if room-n < ifreqSize {
					break
				}
				var req [ifreqSize]byte
				copy(req[:15], in.Name)
				binary.LittleEndian.PutUint16(req[16:], unix.AF_INET) // sockaddr_in
				copy(req[20:24], a[:])
				if err := mem.CopyOut(buf+uintptr(n), req[:]); err != nil {
					return err
				}
			}
			n += ifreqSize
		}
	}
	binary.LittleEndian.PutUint32(hdr[:], uint32(n))
	return mem.CopyOut(arg, hdr[:4])
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
