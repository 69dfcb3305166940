package proc

import (
	"encoding/binary"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"dunix/fs/unixsock"
	"dunix/fs/vfs"
	"dunix/fs/waiter"
	"dunix/net/socket"
)

// Sockets: socket, socketpair, bind, listen, accept, accept4, connect,
// sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg, shutdown,
// getsockname, getpeername, setsockopt, getsockopt.
//
// AF_UNIX sockets are dunix/fs/unixsock's and always there. AF_INET and
// AF_INET6 sockets come from the SocketFactory given to Node.SetNetwork
// (dunix/net/socket over the node's tcpip stack); without one they are
// EAFNOSUPPORT. Other families (AF_NETLINK, AF_PACKET...) are EAFNOSUPPORT
// too, which is what Linux answers when a family's support is not built in,
// and are counted as unimplemented features.
//
// Socket files never block: the calls here wait on the file's queue the way
// read on a pipe does (sockWait), honouring O_NONBLOCK, MSG_DONTWAIT,
// SO_RCVTIMEO and SO_SNDTIMEO; a signal interrupts a wait (restarted under
// SA_RESTART unless a timeout is set, as Linux's sock_intr_errno).

// SocketFactory makes AF_INET and AF_INET6 sockets: *socket.Factory
// (dunix/net/socket) implements it.
type SocketFactory interface {
	// Socket makes a socket of family, type (without SOCK_NONBLOCK and
	// SOCK_CLOEXEC) and protocol; flags may hold O_NONBLOCK.
	Socket(ctx *vfs.Ctx, family, typ, protocol, flags int) (*vfs.File, error)
}

var _ SocketFactory = (*socket.Factory)(nil)

// networks holds each node's SocketFactory (a map rather than a Node field
// so that this family of calls stays in this file).
var networks struct {
	mu sync.Mutex
	m  map[*Node]SocketFactory
}

// SetNetwork gives the node's processes AF_INET and AF_INET6 sockets made
// by f (nil takes them away: EAFNOSUPPORT). Call it once the stack is up,
// e.g. n.SetNetwork(socket.NewFactory(stack)).
func (n *Node) SetNetwork(f SocketFactory) {
	networks.mu.Lock()
	defer networks.mu.Unlock()
	if networks.m == nil {
		networks.m = map[*Node]SocketFactory{}
	}
	if f == nil {
		delete(networks.m, n)
		return
	}
	networks.m[n] = f
}

// network returns the node's SocketFactory, or nil.
func (n *Node) network() SocketFactory {
	networks.mu.Lock()
	defer networks.mu.Unlock()
	return networks.m[n]
}

// sockOps is what the calls here need of a socket file's FileOps; both
// unixsock.Socket and socket.Socket implement it.
type sockOps interface {
	vfs.FileOps
	Family() int
	Type() int
	Bind(ctx *vfs.Ctx, addr []byte) error
	Listen(backlog int) error
	Accept(ctx *vfs.Ctx, flags int) (*vfs.File, error)
	Connect(ctx *vfs.Ctx, addr []byte) error
	FinishConnect() error
	SendMsg(ctx *vfs.Ctx, src, to []byte, flags int, rights []*vfs.File) (int, error)
	RecvMsg(ctx *vfs.Ctx, dst []byte, flags int) (int, []byte, []*vfs.File, int, error)
	Shutdown(how int) error
	SockName() ([]byte, error)
	PeerName() ([]byte, error)
	SetSockOpt(ctx *vfs.Ctx, level, name int, val []byte) error
	GetSockOpt(ctx *vfs.Ctx, level, name int) ([]byte, error)
	Timeouts() (rcv, snd time.Duration)
}

var (
	_ sockOps = (*unixsock.Socket)(nil)
	_ sockOps = (*socket.Socket)(nil)
)

// SocketFS implements unixsock.Caller: AF_UNIX path names resolve in the
// node's namespace from the working directory, and bind creates the
// socket inode under the umask.
func (t *Thread) SocketFS() (*vfs.Namespace, vfs.Loc, uint32) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.node.NS, p.cwd, p.umask
}

// SocketCred implements unixsock.Caller: the credentials SO_PEERCRED shows
// the peer (process ID, effective user and group IDs).
func (t *Thread) SocketCred() unixsock.Cred {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return unixsock.Cred{PID: p.PID, UID: p.cred.EUID, GID: p.cred.EGID}
}

// Limits.
const (
	sockaddrMax = 128     // sizeof(struct sockaddr_storage)
	optMax      = 4096    // the longest option value taken in
	controlMax  = 20480   // net.core.optmem_max: the longest msg_control
	messageMax  = 8 << 20 // the largest datagram buffered in one call
	msghdrSize  = 56
	mmsghdrSize = 64
	cmsgHdrSize = 16
)

func init() {
	reg(unix.SYS_SOCKET, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.socket(int(int32(a[0])), int(int32(a[1])), int(int32(a[2])))
	})
	reg(unix.SYS_SOCKETPAIR, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.socketpair(int(int32(a[0])), int(int32(a[1])), int(int32(a[2])), a[3])
	})
	reg(unix.SYS_BIND, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, s, err := t.sockFile(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		addr, err := t.sockaddrIn(a[1], a[2])
		if err != nil {
			return 0, err
		}
		return 0, s.Bind(t.ctx(), addr)
	})
	reg(unix.SYS_LISTEN, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, s, err := t.sockFile(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return 0, s.Listen(int(int32(a[1])))
	})
	reg(unix.SYS_ACCEPT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.accept(int32(a[0]), a[1], a[2], 0)
	})
	reg(unix.SYS_ACCEPT4, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.accept(int32(a[0]), a[1], a[2], int(int32(a[3])))
	})
	reg(unix.SYS_CONNECT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.connect(int32(a[0]), a[1], a[2])
	})
	reg(unix.SYS_SHUTDOWN, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, s, err := t.sockFile(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return 0, s.Shutdown(int(int32(a[1])))
	})
	reg(unix.SYS_GETSOCKNAME, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.sockName(int32(a[0]), a[1], a[2], false)
	})
	reg(unix.SYS_GETPEERNAME, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.sockName(int32(a[0]), a[1], a[2], true)
	})
	reg(unix.SYS_SETSOCKOPT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.setsockopt(int32(a[0]), int(int32(a[1])), int(int32(a[2])), a[3], a[4])
	})
	reg(unix.SYS_GETSOCKOPT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.getsockopt(int32(a[0]), int(int32(a[1])), int(int32(a[2])), a[3], a[4])
	})
	reg(unix.SYS_SENDTO, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, s, err := t.sockFile(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		var to []byte
		if a[4] != 0 {
			if to, err = t.sockaddrIn(a[4], a[5]); err != nil {
				return 0, err
			}
		}
		return t.send(f, s, []iovec{{a[1], a[2]}}, to, int(int32(a[3])), nil)
	})
	reg(unix.SYS_RECVFROM, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, s, err := t.sockFile(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		n, from, rights, _, err := t.recv(f, s, []iovec{{a[1], a[2]}}, int(int32(a[3])))
		closeAll(rights)
		if err != nil {
			return 0, err
		}
		if a[4] != 0 {
			if err := t.sockaddrOut(a[4], a[5], from); err != nil {
				return 0, err
			}
		}
		return n, nil
	})
	reg(unix.SYS_SENDMSG, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, s, err := t.sockFile(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return t.sendmsg(f, s, a[1], int(int32(a[2])))
	})
	reg(unix.SYS_RECVMSG, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, s, err := t.sockFile(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return t.recvmsg(f, s, a[1], int(int32(a[2])))
	})
	reg(unix.SYS_SENDMMSG, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.sendmmsg(int32(a[0]), a[1], a[2], int(int32(a[3])))
	})
	reg(unix.SYS_RECVMMSG, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.recvmmsg(int32(a[0]), a[1], a[2], int(int32(a[3])), a[4])
	})
}

// familyName names a socket family for the unimplemented-feature report.
func familyName(f int) string {
	switch f {
	case unix.AF_NETLINK:
		return "AF_NETLINK"
	case unix.AF_PACKET:
		return "AF_PACKET"
	case unix.AF_INET:
		return "AF_INET (no network on this node)"
	case unix.AF_INET6:
		return "AF_INET6 (no network on this node)"
	}
	return fmt.Sprint(f)
}

// sockTypeFlags splits a socket type argument into the type and the file
// flags (SOCK_NONBLOCK, SOCK_CLOEXEC): EINVAL for other bits.
func sockTypeFlags(typ int) (int, int, bool, error) {
	flags := typ & (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	typ &^= flags
	if typ&^0xf != 0 {
		return 0, 0, false, syscall.EINVAL
	}
	return typ, flags & unix.SOCK_NONBLOCK, flags&unix.SOCK_CLOEXEC != 0, nil
}

func (t *Thread) socket(family, typ, protocol int) (uint64, error) {
	typ, nb, cloexec, err := sockTypeFlags(typ)
	if err != nil {
		return 0, err
	}
	var f *vfs.File
	switch family {
	case unix.AF_UNIX:
		f, err = unixsock.New(t.ctx(), typ, protocol, nb)
	case unix.AF_INET, unix.AF_INET6:
		net := t.p.node.network()
		if net == nil {
			t.enosysFeature("socket family " + familyName(family))
			return 0, syscall.EAFNOSUPPORT
		}
		f, err = net.Socket(t.ctx(), family, typ, protocol, nb)
	default:
		if family < 0 || family >= unix.AF_MAX {
			return 0, syscall.EAFNOSUPPORT
		}
		t.enosysFeature("socket family " + familyName(family))
		return 0, syscall.EAFNOSUPPORT
	}
	if err != nil {
		return 0, err
	}
	fd, err := t.p.fds.install(f, 0, cloexec)
	return uint64(fd), err
}

func (t *Thread) socketpair(family, typ, protocol int, svp uint64) error {
	typ, nb, cloexec, err := sockTypeFlags(typ)
	if err != nil {
		return err
	}
	switch family {
	case unix.AF_UNIX:
	case unix.AF_INET, unix.AF_INET6:
		return syscall.EOPNOTSUPP // Linux: inet sockets have no pairs
	default:
		return syscall.EAFNOSUPPORT
	}
	a, b, err := unixsock.Pair(t.ctx(), typ, protocol, nb)
	if err != nil {
		return err
	}
	fa, err := t.p.fds.install(a, 0, cloexec)
	if err != nil {
		b.Close()
		return err
	}
	fb, err := t.p.fds.install(b, 0, cloexec)
	if err != nil {
		t.p.fds.remove(fa)
		return err
	}
	var buf [8]byte
	binary.LittleEndian.PutUint32(buf[0:], uint32(fa))
	binary.LittleEndian.PutUint32(buf[4:], uint32(fb))
	if err := t.p.mm.CopyOut(svp, buf[:]); err != nil {
		t.p.fds.remove(fa)
		t.p.fds.remove(fb)
		return err
	}
	return nil
}

// sockFile returns the socket open as fd: EBADF, ENOTSOCK.
func (t *Thread) sockFile(fd int32) (*vfs.File, sockOps, error) {
	f, err := t.p.fds.get(fd)
	if err != nil {
		return nil, nil, err
	}
	s, ok := f.Ops().(sockOps)
	if !ok {
		f.Close()
		return nil, nil, syscall.ENOTSOCK
	}
	return f, s, nil
}

// sockaddrIn copies in a socket address of n bytes: EINVAL beyond
// sizeof(struct sockaddr_storage), EFAULT.
func (t *Thread) sockaddrIn(addr, n uint64) ([]byte, error) {
	if int32(n) < 0 || n > sockaddrMax {
		return nil, syscall.EINVAL
	}
	b := make([]byte, n)
	if err := t.p.mm.CopyIn(addr, b); err != nil {
		return nil, err
	}
	return b, nil
}

// sockaddrOut stores address b at addr, cut to the length *lenp allows,
// and the full length at lenp (getsockname, accept, recvfrom).
func (t *Thread) sockaddrOut(addr, lenp uint64, b []byte) error {
	var lb [4]byte
	if err := t.p.mm.CopyIn(lenp, lb[:]); err != nil {
		return err
	}
	room := int32(binary.LittleEndian.Uint32(lb[:]))
	if room < 0 {
		return syscall.EINVAL
	}
	if n := min(int(room), len(b)); n > 0 {
		if err := t.p.mm.CopyOut(addr, b[:n]); err != nil {
			return err
		}
	}
	return putU32(t.p, lenp, uint32(len(b)))
}

// sockWait runs op, waiting on f for mask while it says EAGAIN, as ioWait
// does, unless the file is non-blocking or dontwait is set. A positive
// timeout (SO_RCVTIMEO, SO_SNDTIMEO) ends the wait with EAGAIN; a signal
// then interrupts with EINTR rather than a restart, as on Linux.
func sockWait[T any](t *Thread, f *vfs.File, mask waiter.EventMask, dontwait bool, timeout time.Duration, op func() (T, error)) (T, error) {
	v, err := op()
	if err != syscall.EAGAIN || dontwait || f.NonBlocking() {
		return v, err
	}
	e, ch := waiter.NewChannelEntry(mask)
	f.EventRegister(e)
	defer f.EventUnregister(e)
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		v, err = op()
		if err != syscall.EAGAIN {
			return v, err
		}
		if timeout <= 0 {
			if err := t.block(ch); err != nil {
				return v, err
			}
			continue
		}
		left := time.Until(deadline)
		if left <= 0 {
			return v, syscall.EAGAIN
		}
		if _, err := t.blockFor(ch, left); err != nil {
			if err == errRestartNoHand {
				err = syscall.EINTR
			}
			return v, err
		}
	}
}

func (t *Thread) accept(fd int32, addr, lenp uint64, flags int) (uint64, error) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, syscall.EINVAL
	}
	f, s, err := t.sockFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rcv, _ := s.Timeouts()
	ctx := t.ctx()
	nf, err := sockWait(t, f, waiter.ReadableEvents, false, rcv, func() (*vfs.File, error) {
		return s.Accept(ctx, flags&unix.SOCK_NONBLOCK)
	})
	if err != nil {
		return 0, err
	}
	if addr != 0 {
		peer, perr := nf.Ops().(sockOps).PeerName()
		if perr != nil {
			// The connection is already gone: its family alone.
			peer = make([]byte, 2)
			binary.LittleEndian.PutUint16(peer, uint16(s.Family()))
		}
		if err := t.sockaddrOut(addr, lenp, peer); err != nil {
			nf.Close()
			return 0, err
		}
	}
	nfd, err := t.p.fds.install(nf, 0, flags&unix.SOCK_CLOEXEC != 0)
	return uint64(nfd), err
}

func (t *Thread) connect(fd int32, addrp, n uint64) error {
	f, s, err := t.sockFile(fd)
	if err != nil {
		return err
	}
	defer f.Close()
	addr, err := t.sockaddrIn(addrp, n)
	if err != nil {
		return err
	}
	ctx := t.ctx()
	_, snd := s.Timeouts()
	// AF_UNIX: EAGAIN while the listener's backlog is full.
	_, err = sockWait(t, f, waiter.WritableEvents, false, snd, func() (struct{}, error) {
		return struct{}{}, s.Connect(ctx, addr)
	})
	if err != syscall.EINPROGRESS || f.NonBlocking() {
		return err
	}
	// TCP: wait for the handshake.
	_, err = sockWait(t, f, waiter.WritableEvents, false, snd, func() (struct{}, error) {
		return struct{}{}, s.FinishConnect()
	})
	if err == syscall.EAGAIN {
		err = syscall.EINPROGRESS // SO_SNDTIMEO ran out, as Linux says
	}
	return err
}

func (t *Thread) sockName(fd int32, addr, lenp uint64, peer bool) error {
	f, s, err := t.sockFile(fd)
	if err != nil {
		return err
	}
	defer f.Close()
	var b []byte
	if peer {
		b, err = s.PeerName()
	} else {
		b, err = s.SockName()
	}
	if err != nil {
		return err
	}
	return t.sockaddrOut(addr, lenp, b)
}

func (t *Thread) setsockopt(fd int32, level, name int, valp, n uint64) error {
	f, s, err := t.sockFile(fd)
	if err != nil {
		return err
	}
	defer f.Close()
	if int32(n) < 0 {
		return syscall.EINVAL
	}
	val := make([]byte, min(n, optMax))
	if err := t.p.mm.CopyIn(valp, val); err != nil {
		return err
	}
	return s.SetSockOpt(t.ctx(), level, name, val)
}

func (t *Thread) getsockopt(fd int32, level, name int, valp, lenp uint64) error {
	f, s, err := t.sockFile(fd)
	if err != nil {
		return err
	}
	defer f.Close()
	var lb [4]byte
	if err := t.p.mm.CopyIn(lenp, lb[:]); err != nil {
		return err
	}
	room := int32(binary.LittleEndian.Uint32(lb[:]))
	if room < 0 {
		return syscall.EINVAL
	}
	v, err := s.GetSockOpt(t.ctx(), level, name)
	if err != nil {
		return err
	}
	k := min(int(room), len(v))
	if err := t.p.mm.CopyOut(valp, v[:k]); err != nil {
		return err
	}
	return putU32(t.p, lenp, uint32(k))
}

// closeAll drops references to files.
func closeAll(fs []*vfs.File) {
	for _, f := range fs {
		f.Close()
	}
}

// send sends the bytes of v (sendto, sendmsg). A stream goes piece by
// piece, waiting for room, and may return a partial count; a message is
// gathered and sent whole. rights (SCM_RIGHTS) are the caller's references:
// the socket takes them with the first bytes it accepts, the rest are
// dropped here. EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
func (t *Thread) send(f *vfs.File, s sockOps, v []iovec, to []byte, flags int, rights []*vfs.File) (n uint64, err error) {
	defer func() { closeAll(rights) }()
	defer func() {
		if err == syscall.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
			t.signal(SIGPIPE, sigInfo{Signo: SIGPIPE, Code: siUser, PID: t.p.PID})
		}
	}()
	u := newUserIO(t, v)
	want := u.remaining()
	ctx := t.ctx()
	dontwait := flags&unix.MSG_DONTWAIT != 0
	_, snd := s.Timeouts()
	if s.Type() != unix.SOCK_STREAM {
		if want > messageMax {
			return 0, syscall.EMSGSIZE
		}
		buf := make([]byte, want)
		if _, err := u.copyIn(buf); err != nil {
			return 0, err
		}
		k, err := sockWait(t, f, waiter.WritableEvents, dontwait, snd, func() (int, error) {
			return s.SendMsg(ctx, buf, to, flags, rights)
		})
		if err != nil {
			return 0, err
		}
		rights = nil
		return uint64(k), nil
	}
	if want == 0 {
		_, err := s.SendMsg(ctx, nil, to, flags, nil)
		return 0, err
	}
	buf := t.scratch(min(want, ioChunk))
	var done uint64
	for done < want {
		k, err := u.copyIn(buf[:min(want-done, ioChunk)])
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		piece := buf[:k]
		for len(piece) > 0 {
			r := rights
			w, err := sockWait(t, f, waiter.WritableEvents, dontwait, snd, func() (int, error) {
				return s.SendMsg(ctx, piece, to, flags, r)
			})
			if w > 0 {
				rights = nil
			}
			done += uint64(w)
			piece = piece[w:]
			if err != nil {
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
		}
	}
	return done, nil
}

// recv receives into the buffers of v (recvfrom, recvmsg): the count (or a
// datagram's full length under MSG_TRUNC), the sender's address, the files
// passed (the caller's references) and the msg_flags. A stream returns
// what one wait gives (all of v with MSG_WAITALL), stopping where files
// were passed.
func (t *Thread) recv(f *vfs.File, s sockOps, v []iovec, flags int) (uint64, []byte, []*vfs.File, int, error) {
	u := newUserIO(t, v)
	want := u.remaining()
	ctx := t.ctx()
	dontwait := flags&unix.MSG_DONTWAIT != 0
	rcv, _ := s.Timeouts()
	sflags := flags &^ (unix.MSG_DONTWAIT | unix.MSG_WAITALL | unix.MSG_CMSG_CLOEXEC | unix.MSG_NOSIGNAL)
	if s.Type() != unix.SOCK_STREAM {
		buf := make([]byte, min(want, messageMax))
		type res struct {
			n      int
			from   []byte
			rights []*vfs.File
			mflags int
		}
		r, err := sockWait(t, f, waiter.ReadableEvents, dontwait, rcv, func() (res, error) {
			n, from, rights, mflags, err := s.RecvMsg(ctx, buf, sflags)
			return res{n, from, rights, mflags}, err
		})
		if err != nil {
			return 0, nil, nil, 0, err
		}
		if err := u.copyOut(buf[:min(r.n, len(buf))]); err != nil {
			closeAll(r.rights)
			return 0, nil, nil, 0, err
		}
		return uint64(r.n), r.from, r.rights, r.mflags, nil
	}
	if want == 0 {
		return 0, nil, nil, 0, nil
	}
	buf := t.scratch(min(want, ioChunk))
	waitAll := flags&unix.MSG_WAITALL != 0 && flags&unix.MSG_PEEK == 0
	var done uint64
	var rights []*vfs.File
	for done < want {
		piece := buf[:min(want-done, ioChunk)]
		op := func() (int, error) {
			n, _, r, _, err := s.RecvMsg(ctx, piece, sflags)
			rights = append(rights, r...)
			return n, err
		}
		var k int
		var err error
		if done == 0 || waitAll {
			k, err = sockWait(t, f, waiter.ReadableEvents, dontwait, rcv, op)
		} else {
			k, err = op()
		}
		if k > 0 {
			if cerr := u.copyOut(piece[:k]); cerr != nil {
				if done == 0 {
					closeAll(rights)
					return 0, nil, nil, 0, cerr
				}
				return done, nil, rights, 0, nil
			}
			done += uint64(k)
		}
		if err != nil {
			if done > 0 {
				return done, nil, rights, 0, nil
			}
			closeAll(rights)
			return 0, nil, nil, 0, err
		}
		if k == 0 || len(rights) > 0 || flags&unix.MSG_PEEK != 0 || k < len(piece) && !waitAll {
			break
		}
	}
	return done, nil, rights, 0, nil
}

// msghdr is struct msghdr.
type msghdr struct {
	name       uint64
	namelen    uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
}

func (t *Thread) readMsghdr(addr uint64) (msghdr, error) {
	var b [msghdrSize]byte
	if err := t.p.mm.CopyIn(addr, b[:]); err != nil {
		return msghdr{}, err
	}
	le := binary.LittleEndian
	return msghdr{name: le.Uint64(b[0:]), namelen: le.Uint32(b[8:]), iov: le.Uint64(b[16:]),
		iovlen: le.Uint64(b[24:]), control: le.Uint64(b[32:]), controllen: le.Uint64(b[40:])}, nil
}

// rightsIn parses the control messages of a sendmsg: SCM_RIGHTS gives
// files (references the caller drops). Other control messages
// (SCM_CREDENTIALS, IP_PKTINFO...) are not supported: EINVAL, as Linux
// says for control messages a socket does not take.
func (t *Thread) rightsIn(m msghdr) ([]*vfs.File, error) {
	if m.controllen == 0 {
		return nil, nil
	}
	if m.controllen > controlMax {
		return nil, syscall.ENOBUFS
	}
	b := make([]byte, m.controllen)
	if err := t.p.mm.CopyIn(m.control, b); err != nil {
		return nil, err
	}
	var files []*vfs.File
	fail := func(err error) ([]*vfs.File, error) {
		closeAll(files)
		return nil, err
	}
	le := binary.LittleEndian
	for off := uint64(0); off+cmsgHdrSize <= uint64(len(b)); {
		clen := le.Uint64(b[off:])
		level, typ := int32(le.Uint32(b[off+8:])), int32(le.Uint32(b[off+12:]))
		if clen < cmsgHdrSize || clen > uint64(len(b))-off {
			return fail(syscall.EINVAL)
		}
		if level != unix.SOL_SOCKET || typ != unix.SCM_RIGHTS {
			t.enosysFeature("sendmsg control messages other than SCM_RIGHTS")
			return fail(syscall.EINVAL)
		}
		data := b[off+cmsgHdrSize : off+clen]
		if len(files)+len(data)/4 > unixsock.MaxRights {
			return fail(syscall.EINVAL)
		}
		for i := 0; i+4 <= len(data); i += 4 {
			f, err := t.p.fds.get(int32(le.Uint32(data[i:])))
			if err != nil {
				return fail(err)
			}
			files = append(files, f)
		}
		off += (clen + 7) &^ 7
	}
	return files, nil
}

func (t *Thread) sendmsg(f *vfs.File, s sockOps, addr uint64, flags int) (uint64, error) {
	m, err := t.readMsghdr(addr)
	if err != nil {
		return 0, err
	}
	var to []byte
	if m.name != 0 && m.namelen != 0 {
		if to, err = t.sockaddrIn(m.name, uint64(m.namelen)); err != nil {
			return 0, err
		}
	}
	v, err := t.iovecs(m.iov, m.iovlen)
	if err != nil {
		return 0, err
	}
	rights, err := t.rightsIn(m)
	if err != nil {
		return 0, err
	}
	return t.send(f, s, v, to, flags, rights)
}

// rightsOut installs received files and writes their SCM_RIGHTS control
// message: as many as fit in the control buffer, the others are closed
// and MSG_CTRUNC set. It returns the control length used and the flags
// to add.
func (t *Thread) rightsOut(m msghdr, rights []*vfs.File, cloexec bool) (uint64, int, error) {
	if len(rights) == 0 {
		return 0, 0, nil
	}
	fit := 0
	if m.controllen >= cmsgHdrSize {
		fit = min(len(rights), int((m.controllen-cmsgHdrSize)/4))
	}
	var mflags int
	if fit < len(rights) {
		mflags = unix.MSG_CTRUNC
		closeAll(rights[fit:])
		rights = rights[:fit]
	}
	if fit == 0 {
		return 0, mflags, nil
	}
	clen := cmsgHdrSize + 4*fit
	b := make([]byte, clen)
	le := binary.LittleEndian
	le.PutUint64(b, uint64(clen))
	le.PutUint32(b[8:], unix.SOL_SOCKET)
	le.PutUint32(b[12:], unix.SCM_RIGHTS)
	var fds []int32
	for i, f := range rights {
		fd, err := t.p.fds.install(f, 0, cloexec)
		if err != nil { // EMFILE: the rest are lost, as Linux truncates
			closeAll(rights[i+1:])
			mflags |= unix.MSG_CTRUNC
			b = b[:cmsgHdrSize+4*i]
			le.PutUint64(b, uint64(len(b)))
			break
		}
		fds = append(fds, fd)
		le.PutUint32(b[cmsgHdrSize+4*i:], uint32(fd))
	}
	if err := t.p.mm.CopyOut(m.control, b); err != nil {
		for _, fd := range fds {
			t.p.fds.remove(fd)
		}
		return 0, 0, err
	}
	used := min(uint64(len(b)+7)&^7, m.controllen)
	return used, mflags, nil
}

func (t *Thread) recvmsg(f *vfs.File, s sockOps, addr uint64, flags int) (uint64, error) {
	m, err := t.readMsghdr(addr)
	if err != nil {
		return 0, err
	}
	v, err := t.iovecs(m.iov, m.iovlen)
	if err != nil {
		return 0, err
	}
	n, from, rights, mflags, err := t.recv(f, s, v, flags)
	if err != nil {
		return 0, err
	}
	namelen := uint32(0)
	if m.name != 0 && len(from) > 0 {
		if k := min(int(m.namelen), len(from)); k > 0 {
			if err := t.p.mm.CopyOut(m.name, from[:k]); err != nil {
				closeAll(rights)
				return 0, err
			}
		}
		namelen = uint32(len(from))
	}
	used, cflags, err := t.rightsOut(m, rights, flags&unix.MSG_CMSG_CLOEXEC != 0)
	if err != nil {
		return 0, err
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], namelen)
	if err := t.p.mm.CopyOut(addr+8, b[:]); err != nil {
		return 0, err
	}
	if err := putU64(t.p, addr+40, used); err != nil {
		return 0, err
	}
	if err := putU32(t.p, addr+48, uint32(mflags|cflags)); err != nil {
		return 0, err
	}
	return n, nil
}

func (t *Thread) sendmmsg(fd int32, vec, vlen uint64, flags int) (uint64, error) {
	f, s, err := t.sockFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	vlen = min(vlen, 1024) // UIO_MAXIOV
	var i uint64
	for ; i < vlen; i++ {
		h := vec + i*mmsghdrSize
		n, err := t.sendmsg(f, s, h, flags)
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		if err := putU32(t.p, h+msghdrSize, uint32(n)); err != nil {
			return i, err
		}
	}
	return i, nil
}

func (t *Thread) recvmmsg(fd int32, vec, vlen uint64, flags int, timeoutp uint64) (uint64, error) {
	f, s, err := t.sockFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var deadline time.Time
	if timeoutp != 0 {
		d, err := t.getTimespec(timeoutp)
		if err != nil {
			return 0, err
		}
		deadline = time.Now().Add(d)
	}
	vlen = min(vlen, 1024)
	var i uint64
	for ; i < vlen; i++ {
		h := vec + i*mmsghdrSize
		n, err := t.recvmsg(f, s, h, flags)
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		if err := putU32(t.p, h+msghdrSize, uint32(n)); err != nil {
			return i, err
		}
		if flags&unix.MSG_WAITFORONE != 0 {
			flags |= unix.MSG_DONTWAIT
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return i + 1, nil
		}
	}
	return i, nil
}
