// Package socket implements AF_INET and AF_INET6 sockets (TCP and UDP) as
// VFS files over gVisor's tcpip stack: a Factory bound to a stack.Stack
// makes them; each Socket wraps one tcpip.Endpoint.
//
// # Blocking
//
// No method blocks, as everywhere in the VFS: what would wait returns
// EAGAIN (a receive, an accept, a send with a full buffer) or EINPROGRESS
// (a TCP connect, which FinishConnect then reports on: EAGAIN while in
// progress). The endpoint's waiter.Queue is bridged to the file's
// dunix/fs/waiter queue, so the system-call layer waits on the file as it
// does for pipes, and poll and epoll see EPOLLIN/OUT/HUP/RDHUP/ERR as the
// endpoint reports them.
//
// # Addresses
//
// Socket addresses cross in Linux's layout (struct sockaddr_in and
// sockaddr_in6). An AF_INET6 socket shows IPv4 peers as v4-mapped
// addresses; a link-local IPv6 address carries the NIC ID as its
// sin6_scope_id (the zone index user programs pass, e.g. fe80::1%2), both
// ways.
//
// # Errors
//
// tcpip.Error values become Linux errno values as gVisor's syserr maps
// them (errno below); unsupported options are ENOPROTOOPT, unsupported
// socket types ESOCKTNOSUPPORT and protocols EPROTONOSUPPORT.
//
// The package runs in Go context.
package socket

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"sync"
	"time"

	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	gwaiter "gvisor.dev/gvisor/pkg/waiter"
)

// maxBacklog is net.core.somaxconn.
const maxBacklog = 4096

// Factory makes sockets on one stack.
type Factory struct {
	stack *stack.Stack
}

// NewFactory returns a factory of sockets on s, which must have the IPv4
// and IPv6 network protocols and the TCP and UDP transport protocols.
func NewFactory(s *stack.Stack) *Factory { return &Factory{stack: s} }

// Socket makes a socket (socket(2)): family AF_INET or AF_INET6, typ
// SOCK_STREAM (protocol 0 or IPPROTO_TCP) or SOCK_DGRAM (0 or
// IPPROTO_UDP); flags may hold O_NONBLOCK. EAFNOSUPPORT for other
// families, ESOCKTNOSUPPORT for other types (raw sockets are not
// supported), EPROTONOSUPPORT for other protocols.
func (f *Factory) Socket(ctx *vfs.Ctx, family, typ, protocol, flags int) (*vfs.File, error) {
	var netProto tcpip.NetworkProtocolNumber
	switch family {
	case unix.AF_INET:
		netProto = ipv4.ProtocolNumber
	case unix.AF_INET6:
		netProto = ipv6.ProtocolNumber
	default:
		return nil, unix.EAFNOSUPPORT
	}
	var transProto tcpip.TransportProtocolNumber
	switch typ {
	case unix.SOCK_STREAM:
		if protocol != 0 && protocol != unix.IPPROTO_TCP {
			return nil, unix.EPROTONOSUPPORT
		}
		protocol, transProto = unix.IPPROTO_TCP, tcp.ProtocolNumber
	case unix.SOCK_DGRAM:
		if protocol != 0 && protocol != unix.IPPROTO_UDP {
			return nil, unix.EPROTONOSUPPORT
		}
		protocol, transProto = unix.IPPROTO_UDP, udp.ProtocolNumber
	default:
		return nil, unix.ESOCKTNOSUPPORT
	}
	wq := new(gwaiter.Queue)
	ep, terr := f.stack.NewEndpoint(transProto, netProto, wq)
	if terr != nil {
		return nil, errno(terr)
	}
	return newSocket(family, typ, protocol, ep, wq, ctx).file(flags), nil
}

// Socket is an AF_INET or AF_INET6 socket: the FileOps of its File.
type Socket struct {
	family, typ, protocol int
	ep                    tcpip.Endpoint
	wq                    *gwaiter.Queue
	bridge                gwaiter.Entry
	q                     waiter.Queue
	ino                   *vfs.AnonInode

	mu               sync.Mutex
	rcvTimeo, sndTim time.Duration
	connectAddr      *tcpip.FullAddress // the address of a connect in progress
}

// newSocket wraps ep, and bridges its queue to the file's.
func newSocket(family, typ, protocol int, ep tcpip.Endpoint, wq *gwaiter.Queue, ctx *vfs.Ctx) *Socket {
	var uid, gid uint32
	if ctx != nil {
		uid, gid = ctx.Cred.UID, ctx.Cred.GID
	}
	s := &Socket{family: family, typ: typ, protocol: protocol, ep: ep, wq: wq,
		ino: vfs.NewAnonInode(unix.S_IFSOCK|0o777, uid, gid)}
	s.bridge = gwaiter.NewFunctionEntry(gwaiter.AllEvents, func(m gwaiter.EventMask) {
		ev := waiter.EventMask(m)
		if ev&waiter.EventIn != 0 {
			// A FIN is notified as readable; the endpoint's Readiness
			// then also says RDHUP, which an EPOLLRDHUP waiter wants
			// to hear about. Waiters re-check, so the extra bit only
			// costs a look.
			ev |= waiter.EventRdHUp
		}
		s.q.Notify(ev)
	})
	wq.EventRegister(&s.bridge)
	return s
}

// file wraps s in a new File; flags may hold O_NONBLOCK.
func (s *Socket) file(flags int) *vfs.File {
	st, _ := s.ino.Stat()
	return vfs.NewFile(s, s.ino, unix.O_RDWR|flags&unix.O_NONBLOCK, "socket:["+strconv.FormatUint(st.Ino, 10)+"]")
}

// FromFile returns the socket behind f.
func FromFile(f *vfs.File) (*Socket, bool) {
	s, ok := f.Ops().(*Socket)
	return s, ok
}

// Family returns AF_INET or AF_INET6.
func (s *Socket) Family() int { return s.family }

// Type returns SOCK_STREAM or SOCK_DGRAM.
func (s *Socket) Type() int { return s.typ }

// Endpoint returns the tcpip endpoint (for tests and diagnostics).
func (s *Socket) Endpoint() tcpip.Endpoint { return s.ep }

// parseAddr decodes a sockaddr for this socket. exact: the family must be
// the socket's (bind); otherwise an AF_INET6 socket that is not v6-only
// also takes AF_INET addresses, as v4-mapped ones. EINVAL for a short
// address, EAFNOSUPPORT for another family.
func (s *Socket) parseAddr(b []byte, exact bool) (tcpip.FullAddress, error) {
	if len(b) < 2 {
		return tcpip.FullAddress{}, unix.EINVAL
	}
	fam := int(binary.LittleEndian.Uint16(b))
	if fam != s.family && (exact || fam != unix.AF_INET || s.family != unix.AF_INET6 || s.ep.SocketOptions().GetV6Only()) {
		return tcpip.FullAddress{}, unix.EAFNOSUPPORT
	}
	switch fam {
	case unix.AF_INET:
		if len(b) < unix.SizeofSockaddrInet4 {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		a := tcpip.FullAddress{Port: binary.BigEndian.Uint16(b[2:])}
		var ip [4]byte
		copy(ip[:], b[4:8])
		if s.family == unix.AF_INET6 {
			var m [16]byte
			m[10], m[11] = 0xff, 0xff
			copy(m[12:], ip[:])
			a.Addr = tcpip.AddrFrom16(m)
		} else if ip != [4]byte{} {
			a.Addr = tcpip.AddrFrom4(ip)
		}
		return a, nil
	case unix.AF_INET6:
		if len(b) < unix.SizeofSockaddrInet6 {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		a := tcpip.FullAddress{Port: binary.BigEndian.Uint16(b[2:])}
		var ip [16]byte
		copy(ip[:], b[8:24])
		if ip != [16]byte{} {
			a.Addr = tcpip.AddrFrom16(ip)
		}
		if ip[0] == 0xfe && ip[1]&0xc0 == 0x80 {
			a.NIC = tcpip.NICID(binary.LittleEndian.Uint32(b[24:]))
		}
		return a, nil
	}
	return tcpip.FullAddress{}, unix.EAFNOSUPPORT
}

// encodeAddr makes the sockaddr of a for this socket's family.
func (s *Socket) encodeAddr(a tcpip.FullAddress) []byte {
	if s.family == unix.AF_INET {
		b := make([]byte, unix.SizeofSockaddrInet4)
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], a.Port)
		if a.Addr.Len() == 4 {
			ip := a.Addr.As4()
			copy(b[4:], ip[:])
		} else if v4 := a.Addr.To4(); v4.Len() == 4 {
			ip := v4.As4()
			copy(b[4:], ip[:])
		}
		return b
	}
	b := make([]byte, unix.SizeofSockaddrInet6)
	binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], a.Port)
	switch a.Addr.Len() {
	case 4:
		ip := a.Addr.As4()
		b[18], b[19] = 0xff, 0xff
		copy(b[20:], ip[:])
	case 16:
		ip := a.Addr.As16()
		copy(b[8:], ip[:])
		if ip[0] == 0xfe && ip[1]&0xc0 == 0x80 {
			binary.LittleEndian.PutUint32(b[24:], uint32(a.NIC))
		}
	}
	return b
}

// Bind binds the socket to a local address and port (bind(2)):
// EADDRINUSE, EADDRNOTAVAIL for an address the node does not have, EINVAL
// when already bound, EAFNOSUPPORT for another family.
func (s *Socket) Bind(_ *vfs.Ctx, addr []byte) error {
	a, err := s.parseAddr(addr, true)
	if err != nil {
		return err
	}
	terr := s.ep.Bind(a)
	if _, ok := terr.(*tcpip.ErrNoPortAvailable); ok {
		return unix.EADDRINUSE // as Linux: no free port or the port taken
	}
	return errno(terr)
}

// Listen starts accepting TCP connections (listen(2)); EOPNOTSUPP for UDP.
func (s *Socket) Listen(backlog int) error {
	if backlog < 0 || backlog > maxBacklog {
		backlog = maxBacklog
	}
	return errno(s.ep.Listen(backlog))
}

// Accept takes a connection (accept4(2)) as a new File (flags may hold
// O_NONBLOCK): EAGAIN when none waits, EINVAL when not listening.
func (s *Socket) Accept(ctx *vfs.Ctx, flags int) (*vfs.File, error) {
	ep, wq, terr := s.ep.Accept(nil)
	if terr != nil {
		return nil, errno(terr)
	}
	return newSocket(s.family, s.typ, s.protocol, ep, wq, ctx).file(flags), nil
}

// Connect connects the socket (connect(2)). TCP: EINPROGRESS once the
// handshake has started (FinishConnect reports its end), EALREADY while
// one is in progress, EISCONN when connected, ECONNREFUSED and others from
// the stack. UDP: sets the default destination at once; AF_UNSPEC
// dissolves it.
func (s *Socket) Connect(_ *vfs.Ctx, addr []byte) error {
	if len(addr) >= 2 && binary.LittleEndian.Uint16(addr) == unix.AF_UNSPEC {
		terr := s.ep.Disconnect()
		if _, ok := terr.(*tcpip.ErrNotSupported); ok {
			return unix.EAFNOSUPPORT
		}
		return errno(terr)
	}
	a, err := s.parseAddr(addr, false)
	if err != nil {
		return err
	}
	terr := s.ep.Connect(a)
	switch terr.(type) {
	case *tcpip.ErrConnectStarted:
		s.mu.Lock()
		s.connectAddr = &a
		s.mu.Unlock()
		return unix.EINPROGRESS
	case *tcpip.ErrNoPortAvailable:
		if s.typ == unix.SOCK_STREAM {
			return unix.EADDRNOTAVAIL // TCP's answer to ephemeral port exhaustion
		}
	}
	return errno(terr)
}

// FinishConnect reports the end of a TCP connect that returned
// EINPROGRESS: EAGAIN while it is in progress, then its result (nil when
// connected, ECONNREFUSED...). Without a connect in progress it is nil.
func (s *Socket) FinishConnect() error {
	s.mu.Lock()
	a := s.connectAddr
	s.mu.Unlock()
	if a == nil {
		return nil
	}
	terr := s.ep.Connect(*a)
	switch terr.(type) {
	case *tcpip.ErrAlreadyConnecting, *tcpip.ErrConnectStarted:
		return unix.EAGAIN
	case *tcpip.ErrAlreadyConnected:
		terr = nil
	}
	s.mu.Lock()
	s.connectAddr = nil
	s.mu.Unlock()
	return errno(terr)
}

// SendMsg sends src (sendmsg(2)), to the address to for UDP (TCP ignores
// it, as Linux does without fast open). rights must be empty (SCM_RIGHTS
// is for AF_UNIX: EINVAL). TCP may send part of src; EAGAIN when nothing
// fits; EPIPE when the sending side is closed (the caller raises SIGPIPE
// unless MSG_NOSIGNAL). flags: MSG_MORE, MSG_EOR; MSG_OOB is EOPNOTSUPP.
func (s *Socket) SendMsg(_ *vfs.Ctx, src []byte, to []byte, flags int, rights []*vfs.File) (int, error) {
	if len(rights) > 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.MSG_OOB != 0 {
		return 0, unix.EOPNOTSUPP
	}
	opts := tcpip.WriteOptions{More: flags&unix.MSG_MORE != 0, EndOfRecord: flags&unix.MSG_EOR != 0}
	if len(to) > 0 && s.typ == unix.SOCK_DGRAM {
		a, err := s.parseAddr(to, false)
		if err != nil {
			return 0, err
		}
		opts.To = &a
	}
	if len(src) == 0 && s.typ == unix.SOCK_STREAM {
		// Linux checks the connection for a zero-length send.
		if s.ep.State() == uint32(tcp.StateInitial) || s.ep.State() == uint32(tcp.StateBound) {
			return 0, unix.ENOTCONN
		}
		return 0, nil
	}
	n, terr := s.ep.Write(bytes.NewReader(src), opts)
	if terr != nil {
		if n > 0 {
			return int(n), nil
		}
		if _, ok := terr.(*tcpip.ErrNoPortAvailable); ok {
			return 0, unix.EAGAIN
		}
		return 0, errno(terr)
	}
	return int(n), nil
}

// RecvMsg receives into dst (recvmsg(2)): the bytes stored (with MSG_TRUNC
// on UDP, the datagram's length), the sender's address for UDP, no
// files, and the msg_flags (MSG_TRUNC when a datagram was cut). 0 at the
// end of a TCP stream, EAGAIN when nothing is there, ENOTCONN on an
// unconnected TCP socket. flags: MSG_PEEK, MSG_TRUNC; MSG_OOB is
// EOPNOTSUPP.
func (s *Socket) RecvMsg(_ *vfs.Ctx, dst []byte, flags int) (int, []byte, []*vfs.File, int, error) {
	if flags&unix.MSG_OOB != 0 {
		return 0, nil, nil, 0, unix.EOPNOTSUPP
	}
	if len(dst) == 0 && s.typ == unix.SOCK_STREAM {
		return 0, nil, nil, 0, nil
	}
	w := tcpip.SliceWriter(dst)
	res, terr := s.ep.Read(&w, tcpip.ReadOptions{Peek: flags&unix.MSG_PEEK != 0, NeedRemoteAddr: s.typ == unix.SOCK_DGRAM})
	if _, ok := terr.(*tcpip.ErrBadBuffer); ok && s.typ == unix.SOCK_DGRAM && res.Total > len(dst) {
		terr = nil // a datagram read into no room at all: consumed, truncated
		res.Count = 0
	}
	switch terr.(type) {
	case nil:
	case *tcpip.ErrClosedForReceive:
		return 0, nil, nil, 0, nil
	default:
		return 0, nil, nil, 0, errno(terr)
	}
	n, mflags := res.Count, 0
	var from []byte
	if s.typ == unix.SOCK_DGRAM {
		from = s.encodeAddr(res.RemoteAddr)
		if res.Total > res.Count {
			mflags |= unix.MSG_TRUNC
			if flags&unix.MSG_TRUNC != 0 {
				n = res.Total
			}
		}
	}
	return n, from, nil, mflags, nil
}

// Read implements vfs.FileOps: recv without flags.
func (s *Socket) Read(_ *vfs.File, dst []byte, _ int64) (int, error) {
	n, _, _, _, err := s.RecvMsg(nil, dst, 0)
	return min(n, len(dst)), err
}

// Write implements vfs.FileOps: send without flags or address.
func (s *Socket) Write(_ *vfs.File, src []byte, _ int64) (int, error) {
	return s.SendMsg(nil, src, nil, 0, nil)
}

// Stream implements vfs.Streamer.
func (s *Socket) Stream() bool { return true }

// Release implements vfs.FileOps: the endpoint is closed (a TCP
// connection is closed gracefully, or reset under SO_LINGER with a zero
// time, by the stack).
func (s *Socket) Release() {
	s.wq.EventUnregister(&s.bridge)
	s.ep.Close()
	s.q.Notify(waiter.AllEvents)
}

// Shutdown shuts down reception, sending or both (shutdown(2)): ENOTCONN
// on an unconnected TCP socket, EINVAL for a bad how.
func (s *Socket) Shutdown(how int) error {
	var fl tcpip.ShutdownFlags
	switch how {
	case unix.SHUT_RD:
		fl = tcpip.ShutdownRead
	case unix.SHUT_WR:
		fl = tcpip.ShutdownWrite
	case unix.SHUT_RDWR:
		fl = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return unix.EINVAL
	}
	return errno(s.ep.Shutdown(fl))
}

// SockName returns the local address (getsockname(2)).
func (s *Socket) SockName() ([]byte, error) {
	a, terr := s.ep.GetLocalAddress()
	if terr != nil {
		return nil, errno(terr)
	}
	return s.encodeAddr(a), nil
}

// PeerName returns the peer's address (getpeername(2)): ENOTCONN without
// one.
func (s *Socket) PeerName() ([]byte, error) {
	a, terr := s.ep.GetRemoteAddress()
	if terr != nil {
		return nil, errno(terr)
	}
	return s.encodeAddr(a), nil
}

// Readiness implements waiter.Waitable.
//
// RDHUP is asked for together with readability: gVisor's TCP endpoint
// notifies a FIN (as readable) before it records the closed receive
// direction that RDHUP is computed from, and only a readability query
// records it, so a waiter asking for RDHUP alone could miss it for good.
func (s *Socket) Readiness(mask waiter.EventMask) waiter.EventMask {
	q := mask | waiter.EventAlways
	if mask&waiter.EventRdHUp != 0 {
		q |= waiter.EventIn
	}
	return waiter.EventMask(s.ep.Readiness(gwaiter.EventMask(q))) & (mask | waiter.EventAlways)
}

// EventRegister implements waiter.Waitable.
func (s *Socket) EventRegister(e *waiter.Entry) { s.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.q.Unregister(e) }

// Ioctl implements vfs.Ioctler: SIOCINQ (FIONREAD) and SIOCOUTQ. FIONBIO
// and the interface requests (SIOCGIFINDEX and friends) are the
// system-call layer's.
func (s *Socket) Ioctl(f *vfs.File, ctx *vfs.Ctx, cmd uint32, arg uintptr) (uintptr, error) {
	var opt tcpip.SockOptInt
	switch cmd {
	case unix.SIOCINQ:
		opt = tcpip.ReceiveQueueSizeOption
	case unix.SIOCOUTQ:
		opt = tcpip.SendQueueSizeOption
	default:
		return 0, unix.ENOTTY
	}
	v, terr := s.ep.GetSockOptInt(opt)
	if terr != nil {
		return 0, errno(terr)
	}
	if ctx == nil || ctx.Mem == nil {
		return 0, unix.EFAULT
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return 0, ctx.Mem.CopyOut(arg, b[:])
}

// Timeouts returns SO_RCVTIMEO and SO_SNDTIMEO (0: none), which the
// system-call layer applies to its waits.
func (s *Socket) Timeouts() (rcv, snd time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcvTimeo, s.sndTim
}
