// Package unixsock implements AF_UNIX sockets as VFS files: SOCK_STREAM,
// SOCK_SEQPACKET and SOCK_DGRAM, socketpair(2), names in the file namespace
// (a socket inode made with Mknod; EADDRINUSE when the path exists) and
// abstract names (a leading NUL), listen/accept/connect, send and receive
// with MSG_PEEK and MSG_TRUNC, shutdown, SO_PEERCRED, SCM_RIGHTS passing of
// open file descriptions, buffer sizes and readiness for poll and epoll.
//
// # Blocking
//
// Nothing here blocks, as everywhere in the VFS: an operation that would
// wait returns EAGAIN and the caller waits on the socket's waiter queue
// (waiter.ReadableEvents to receive or accept, waiter.WritableEvents to
// send or to connect to a listener whose backlog is full) and tries again.
// A connect completes at once or fails: there is no EINPROGRESS for
// AF_UNIX, as on Linux (a full backlog is EAGAIN, which a blocking caller
// waits out).
//
// # Invariants
//
//   - One lock (mu) guards the state of every socket of the package: an
//     operation touches two sockets (a sender and its receiver, a
//     connector and a listener) and a single lock keeps that simple and
//     free of lock-order bugs; no I/O happens under it but memory copies.
//   - Waiters are notified after mu is released (notes.fire), so a
//     callback that asks for readiness cannot deadlock.
//   - Each queued segment owns one reference to each file it carries
//     (SCM_RIGHTS); a receiver gets those references, a released socket
//     closes the files it still holds. Like Linux without its garbage
//     collector, a socket sent over itself keeps itself alive (a leak,
//     not a crash).
//   - Names: one registry of abstract names and one of bound socket inodes
//     for the whole kernel (a node is one kernel, hence one network
//     namespace). An entry goes when its socket is released.
//
// The package runs in Go context.
package unixsock

import (
	"encoding/binary"
	"strconv"
	"sync"

	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

// Buffer sizes, as Linux's defaults (net.core.wmem_default and
// rmem_default, 212992) and limits.
const (
	DefaultBuf = 212992
	// MaxBuf is the largest value setsockopt takes before doubling
	// (net.core.wmem_max, rmem_max) unless the caller is privileged.
	MaxBuf = 212992
	// minSndBuf and minRcvBuf are Linux's SOCK_MIN_SNDBUF and
	// SOCK_MIN_RCVBUF.
	minSndBuf = 4608
	minRcvBuf = 2304
	// maxDgramQueue bounds the messages queued on one datagram socket.
	maxDgramQueue = 512
	// MaxRights is SCM_MAX_FD: the most files one message carries.
	MaxRights = 253
	// maxBacklog is net.core.somaxconn.
	maxBacklog = 4096
	// sunPathLen is the size of sun_path in struct sockaddr_un.
	sunPathLen = 108
)

// Caller is implemented by the vfs.Ctx Task of callers (the system-call
// layer's thread): it gives what binding and connecting need beyond the
// credentials in the Ctx.
type Caller interface {
	// SocketFS returns the file namespace, the directory relative path
	// names start from, and the umask for a socket inode bind creates.
	SocketFS() (ns *vfs.Namespace, cwd vfs.Loc, umask uint32)
	// SocketCred returns the process ID and the effective user and group
	// IDs, which SO_PEERCRED reports to the peer.
	SocketCred() Cred
}

// Cred is struct ucred: the credentials SO_PEERCRED gives.
type Cred struct {
	PID      int32
	UID, GID uint32
}

// noCred is what SO_PEERCRED says without a peer (Linux: pid 0 and the
// overflow IDs).
var noCred = Cred{PID: 0, UID: 65534, GID: 65534}

// callerCred returns the credentials of the caller of ctx.
func callerCred(ctx *vfs.Ctx) Cred {
	if ctx == nil {
		return Cred{}
	}
	if c, ok := ctx.Task.(Caller); ok {
		return c.SocketCred()
	}
	return Cred{UID: ctx.Cred.UID, GID: ctx.Cred.GID}
}

// mu guards the state of every socket (see the package comment).
var mu sync.Mutex

// Registries of names (under mu): abstract names and bound socket inodes.
var (
	abstract = map[string]*Socket{}
	bound    = map[vfs.Inode]*Socket{}
	autoNext uint32
)

// state of a socket.
type state int

const (
	unconnected state = iota
	listening
	connected
)

// segment is one piece of queued data: a datagram or seqpacket message, or
// a run of stream bytes. rights and from travel with it.
type segment struct {
	data   []byte
	rights []*vfs.File
	from   string // sender's name (datagrams)
}

// Socket is one AF_UNIX socket: the FileOps of its File.
type Socket struct {
	typ int
	ino *vfs.AnonInode
	q   waiter.Queue

	// All below under mu.
	st       state
	name     string    // bound name: a path, or "\x00..." abstract; "" unbound
	nameIno  vfs.Inode // the inode bound to a path
	peer     *Socket   // connection peer, or a datagram socket's default destination
	released bool
	// Listening: the backlog, the connected server ends waiting for
	// accept, and the connectors waiting for room.
	backlog int
	pending []*Socket
	waiting []*Socket
	// Receive queue.
	rq      []segment
	rqBytes int
	// Shutdown: recvShut makes reads see the end, sendShut makes sends
	// fail with EPIPE. A peer's shutdown sets the mirror bit here.
	recvShut, sendShut bool
	peerGone           bool // the connection's peer was released (streams)
	embryo             bool // a server end not accepted yet
	sockErr            unix.Errno
	sndbuf, rcvbuf     int
	cred               Cred // own, taken at socket creation, listen and connect
	peerCred           Cred
	hasPeerCred        bool
	opts               map[int]int // boolean and integer SOL_SOCKET options kept as set
}

// notes collects wake-ups to fire once mu is released.
type notes []struct {
	s *Socket
	m waiter.EventMask
}

func (n *notes) add(s *Socket, m waiter.EventMask) {
	if s != nil {
		*n = append(*n, struct {
			s *Socket
			m waiter.EventMask
		}{s, m})
	}
}

func (n notes) fire() {
	for _, e := range n {
		e.s.q.Notify(e.m)
	}
}

// newSocket makes a socket of type typ owned by cred.
func newSocket(typ int, cred Cred, fsCred vfs.Cred) *Socket {
	return &Socket{typ: typ, ino: vfs.NewAnonInode(unix.S_IFSOCK|0o777, fsCred.UID, fsCred.GID),
		sndbuf: DefaultBuf, rcvbuf: DefaultBuf, cred: cred}
}

// file wraps s in a new File. flags may hold O_NONBLOCK.
func (s *Socket) file(flags int) *vfs.File {
	st, _ := s.ino.Stat()
	return vfs.NewFile(s, s.ino, unix.O_RDWR|flags&unix.O_NONBLOCK, "socket:["+strconv.FormatUint(st.Ino, 10)+"]")
}

// checkType returns EPROTONOSUPPORT or ESOCKTNOSUPPORT for a bad type or
// protocol (Linux: a protocol other than 0 or PF_UNIX is EPROTONOSUPPORT).
func checkType(typ, protocol int) error {
	if protocol != 0 && protocol != unix.AF_UNIX {
		return unix.EPROTONOSUPPORT
	}
	switch typ {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET:
		return nil
	case unix.SOCK_RAW:
		return unix.ESOCKTNOSUPPORT // Linux maps SOCK_RAW to SOCK_DGRAM; we say no
	}
	return unix.ESOCKTNOSUPPORT
}

// New makes an AF_UNIX socket (socket(2)): typ is SOCK_STREAM, SOCK_DGRAM
// or SOCK_SEQPACKET, flags may hold O_NONBLOCK. ESOCKTNOSUPPORT for other
// types, EPROTONOSUPPORT for a protocol other than 0.
func New(ctx *vfs.Ctx, typ, protocol, flags int) (*vfs.File, error) {
	if err := checkType(typ, protocol); err != nil {
		return nil, err
	}
	return newSocket(typ, callerCred(ctx), ctxCred(ctx)).file(flags), nil
}

func ctxCred(ctx *vfs.Ctx) vfs.Cred {
	if ctx == nil {
		return vfs.Cred{}
	}
	return ctx.Cred
}

// Pair makes two connected sockets (socketpair(2)).
func Pair(ctx *vfs.Ctx, typ, protocol, flags int) (*vfs.File, *vfs.File, error) {
	if err := checkType(typ, protocol); err != nil {
		return nil, nil, err
	}
	c := callerCred(ctx)
	a, b := newSocket(typ, c, ctxCred(ctx)), newSocket(typ, c, ctxCred(ctx))
	a.peer, b.peer = b, a
	a.st, b.st = connected, connected
	a.peerCred, b.peerCred = c, c
	a.hasPeerCred, b.hasPeerCred = true, true
	return a.file(flags), b.file(flags), nil
}

// FromFile returns the socket behind f.
func FromFile(f *vfs.File) (*Socket, bool) {
	s, ok := f.Ops().(*Socket)
	return s, ok
}

// Family returns AF_UNIX.
func (s *Socket) Family() int { return unix.AF_UNIX }

// Type returns the socket type (SOCK_STREAM...).
func (s *Socket) Type() int { return s.typ }

// connOriented reports whether the type has connections.
func (s *Socket) connOriented() bool { return s.typ != unix.SOCK_DGRAM }

// parseAddr decodes a struct sockaddr_un: the path (up to the first NUL) or
// the abstract name ("\x00" and every byte given). An address of just the
// family is "" (autobind). EINVAL for a short or long address or another
// family.
func parseAddr(b []byte) (string, error) {
	if len(b) < 2 || len(b) > 2+sunPathLen {
		return "", unix.EINVAL
	}
	if binary.LittleEndian.Uint16(b) != unix.AF_UNIX {
		return "", unix.EINVAL
	}
	p := b[2:]
	if len(p) == 0 {
		return "", nil
	}
	if p[0] == 0 {
		return string(p), nil
	}
	for i, c := range p {
		if c == 0 {
			p = p[:i]
			break
		}
	}
	return string(p), nil
}

// encodeAddr makes the struct sockaddr_un for name, as getsockname returns
// it: the family alone when unbound, a path with its NUL, an abstract name
// as is.
func encodeAddr(name string) []byte {
	n := 2 + len(name)
	if name != "" && name[0] != 0 {
		n++
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint16(b, unix.AF_UNIX)
	copy(b[2:], name)
	return b
}

// fsOf returns the namespace context of a caller for path names.
func fsOf(ctx *vfs.Ctx) (*vfs.Namespace, vfs.Loc, uint32, error) {
	if ctx != nil {
		if c, ok := ctx.Task.(Caller); ok {
			ns, cwd, umask := c.SocketFS()
			if ns != nil {
				return ns, cwd, umask, nil
			}
		}
	}
	return nil, vfs.Loc{}, 0, unix.EOPNOTSUPP
}

// Bind names the socket (bind(2)). A path creates a socket inode
// (EADDRINUSE if the path exists); an abstract name must be free
// (EADDRINUSE); the family alone picks a free abstract name (autobind).
// EINVAL if already bound.
func (s *Socket) Bind(ctx *vfs.Ctx, addr []byte) error {
	name, err := parseAddr(addr)
	if err != nil {
		return err
	}
	mu.Lock()
	already := s.name != "" || s.released
	mu.Unlock()
	if already {
		return unix.EINVAL
	}
	if name == "" {
		mu.Lock()
		defer mu.Unlock()
		if s.name != "" {
			return unix.EINVAL
		}
		return s.autobind()
	}
	if name[0] == 0 {
		mu.Lock()
		defer mu.Unlock()
		if s.name != "" {
			return unix.EINVAL
		}
		if abstract[name] != nil {
			return unix.EADDRINUSE
		}
		abstract[name] = s
		s.name = name
		return nil
	}
	ns, cwd, umask, err := fsOf(ctx)
	if err != nil {
		return err
	}
	if err := ns.Mknod(ctx, cwd, name, unix.S_IFSOCK|(0o777&^umask), 0); err != nil {
		if err == unix.EEXIST {
			return unix.EADDRINUSE
		}
		return err
	}
	l, err := ns.Lookup(ctx, cwd, name, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if s.name != "" || s.released {
		// Lost a race with another bind of this socket: Linux fails
		// the second, and leaves the inode it made.
		return unix.EINVAL
	}
	s.name, s.nameIno = name, l.Inode()
	bound[l.Inode()] = s
	return nil
}

// autobind gives s a free abstract name of five hex digits, as Linux's
// unix_autobind (mu held).
func (s *Socket) autobind() error {
	for range 1 << 20 {
		autoNext = (autoNext + 1) & 0xfffff
		b := []byte("\x0000000")
		v := autoNext
		for i := 5; i >= 1; i-- {
			b[i] = "0123456789abcdef"[v&0xf]
			v >>= 4
		}
		if abstract[string(b)] == nil {
			s.name = string(b)
			abstract[s.name] = s
			return nil
		}
	}
	return unix.ENOSPC
}

// lookup finds the socket named by addr for connect or sendto: ENOENT and
// other path errors, ECONNREFUSED when no socket has the name, EACCES
// without write permission on the inode.
func lookup(ctx *vfs.Ctx, addr []byte) (*Socket, error) {
	name, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, unix.EINVAL
	}
	if name[0] == 0 {
		mu.Lock()
		t := abstract[name]
		mu.Unlock()
		if t == nil {
			return nil, unix.ECONNREFUSED
		}
		return t, nil
	}
	ns, cwd, _, err := fsOf(ctx)
	if err != nil {
		return nil, err
	}
	l, err := ns.Lookup(ctx, cwd, name, 0)
	if err != nil {
		return nil, err
	}
	st, err := l.Inode().Stat()
	if err != nil {
		return nil, err
	}
	if st.Type() != unix.S_IFSOCK {
		return nil, unix.ECONNREFUSED
	}
	if err := ctx.Cred.Check(&st, vfs.MayWrite); err != nil {
		return nil, err
	}
	mu.Lock()
	t := bound[l.Inode()]
	mu.Unlock()
	if t == nil {
		return nil, unix.ECONNREFUSED
	}
	return t, nil
}

// Listen makes a bound connection-oriented socket accept connections
// (listen(2)): EOPNOTSUPP for datagram sockets, EINVAL when unbound (Linux
// does not autobind here) or connected. A second listen changes the
// backlog.
func (s *Socket) Listen(backlog int) error {
	if !s.connOriented() {
		return unix.EOPNOTSUPP
	}
	mu.Lock()
	defer mu.Unlock()
	if s.name == "" || s.st == connected {
		return unix.EINVAL
	}
	if backlog < 0 || backlog > maxBacklog {
		backlog = maxBacklog
	}
	s.backlog = backlog
	s.st = listening
	return nil
}

// Accept takes a connection (accept4(2)) and returns the server end as a
// new File (flags may hold O_NONBLOCK). EAGAIN when none is waiting,
// EINVAL when not listening, EOPNOTSUPP for datagram sockets.
func (s *Socket) Accept(ctx *vfs.Ctx, flags int) (*vfs.File, error) {
	if !s.connOriented() {
		return nil, unix.EOPNOTSUPP
	}
	mu.Lock()
	if s.st != listening {
		mu.Unlock()
		return nil, unix.EINVAL
	}
	if len(s.pending) == 0 {
		mu.Unlock()
		return nil, unix.EAGAIN
	}
	n := s.pending[0]
	n.embryo = false
	s.pending[0] = nil
	s.pending = s.pending[1:]
	var ns notes
	for _, w := range s.waiting {
		ns.add(w, waiter.WritableEvents)
	}
	s.waiting = nil
	mu.Unlock()
	ns.fire()
	return n.file(flags), nil
}

// Connect connects the socket (connect(2)). Connection-oriented: to a
// listener of the same type (EPROTOTYPE otherwise), at once; EAGAIN when
// its backlog is full (wait for WritableEvents and try again); EISCONN,
// EINVAL when listening. Datagram: sets the default destination;
// AF_UNSPEC dissolves it.
func (s *Socket) Connect(ctx *vfs.Ctx, addr []byte) error {
	if !s.connOriented() && len(addr) >= 2 && binary.LittleEndian.Uint16(addr) == unix.AF_UNSPEC {
		mu.Lock()
		s.peer = nil
		mu.Unlock()
		return nil
	}
	t, err := lookup(ctx, addr)
	if err != nil {
		return err
	}
	if t.typ != s.typ {
		return unix.EPROTOTYPE
	}
	cred := callerCred(ctx)
	mu.Lock()
	if !s.connOriented() {
		defer mu.Unlock()
		if t.released {
			return unix.ECONNREFUSED
		}
		if t.peer != nil && t.peer != s && t != s {
			return unix.EPERM
		}
		s.peer = t
		return nil
	}
	switch {
	case s.st == connected:
		mu.Unlock()
		return unix.EISCONN
	case s.st == listening:
		mu.Unlock()
		return unix.EINVAL
	case t.released || t.st != listening:
		mu.Unlock()
		return unix.ECONNREFUSED
	case len(t.pending) > t.backlog: // Linux's unix_recvq_full
		t.addWaiting(s)
		mu.Unlock()
		return unix.EAGAIN
	}
	n := newSocket(s.typ, t.cred, vfs.Cred{UID: t.cred.UID, GID: t.cred.GID})
	n.name = t.name
	n.sndbuf, n.rcvbuf = t.sndbuf, t.rcvbuf
	n.st, s.st = connected, connected
	n.peer, s.peer = s, n
	s.cred = cred
	n.peerCred, s.peerCred = cred, t.cred
	n.hasPeerCred, s.hasPeerCred = true, true
	n.embryo = true
	t.pending = append(t.pending, n)
	mu.Unlock()
	t.q.Notify(waiter.ReadableEvents)
	s.q.Notify(waiter.WritableEvents)
	return nil
}

// FinishConnect reports the end of a connect in progress: AF_UNIX
// connects never stay in progress, so it is nil.
func (s *Socket) FinishConnect() error { return nil }

// SendMsg sends src (sendmsg(2)) to the connected peer, or to the socket
// named by to (datagrams). rights are files to pass (SCM_RIGHTS): on
// success the socket owns the caller's references, on error the caller
// keeps them. Streams may send part of src (a count with a nil error) and
// return EAGAIN when nothing fits; messages go whole or EAGAIN, EMSGSIZE
// beyond the send buffer. EPIPE after a shutdown or the peer's close
// (the caller raises SIGPIPE unless MSG_NOSIGNAL), ENOTCONN without a
// peer, EISCONN with an address on a connected stream. MSG_OOB is
// EOPNOTSUPP.
func (s *Socket) SendMsg(ctx *vfs.Ctx, src []byte, to []byte, flags int, rights []*vfs.File) (int, error) {
	if flags&unix.MSG_OOB != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if len(rights) > MaxRights {
		return 0, unix.EINVAL
	}
	if s.connOriented() {
		return s.sendConn(src, to, rights)
	}
	return s.sendDgram(ctx, src, to, rights)
}

// sendConn sends on a stream or seqpacket socket.
func (s *Socket) sendConn(src []byte, to []byte, rights []*vfs.File) (int, error) {
	mu.Lock()
	if s.st != connected {
		mu.Unlock()
		if len(to) > 0 {
			return 0, unix.EOPNOTSUPP // Linux: an address on an unconnected stream
		}
		return 0, unix.ENOTCONN
	}
	if len(to) > 0 && s.typ == unix.SOCK_STREAM {
		mu.Unlock()
		return 0, unix.EISCONN
	}
	p := s.peer
	if s.sendShut || s.peerGone || p == nil || p.released || p.recvShut {
		mu.Unlock()
		return 0, unix.EPIPE
	}
	if s.typ == unix.SOCK_SEQPACKET {
		if len(src) > s.sndbuf {
			mu.Unlock()
			return 0, unix.EMSGSIZE
		}
		if p.rqBytes+len(src) > s.sndbuf && p.rqBytes > 0 || len(p.rq) >= maxDgramQueue {
			mu.Unlock()
			return 0, unix.EAGAIN
		}
		p.rq = append(p.rq, segment{data: append([]byte(nil), src...), rights: rights})
		p.rqBytes += len(src)
		mu.Unlock()
		p.q.Notify(waiter.ReadableEvents)
		return len(src), nil
	}
	free := s.sndbuf - p.rqBytes
	if len(src) == 0 {
		mu.Unlock()
		return 0, nil
	}
	if free <= 0 {
		mu.Unlock()
		return 0, unix.EAGAIN
	}
	k := min(len(src), free)
	// Stream bytes join the last segment unless rights mark a boundary.
	if n := len(p.rq); n > 0 && rights == nil && p.rq[n-1].rights == nil && len(p.rq[n-1].data) < 64<<10 {
		p.rq[n-1].data = append(p.rq[n-1].data, src[:k]...)
	} else {
		p.rq = append(p.rq, segment{data: append([]byte(nil), src[:k]...), rights: rights})
	}
	p.rqBytes += k
	mu.Unlock()
	p.q.Notify(waiter.ReadableEvents)
	return k, nil
}

// sendDgram sends a datagram.
func (s *Socket) sendDgram(ctx *vfs.Ctx, src []byte, to []byte, rights []*vfs.File) (int, error) {
	var t *Socket
	if len(to) > 0 {
		var err error
		if t, err = lookup(ctx, to); err != nil {
			return 0, err
		}
		if t.typ != s.typ {
			return 0, unix.EPROTOTYPE
		}
	}
	mu.Lock()
	if s.sendShut {
		mu.Unlock()
		return 0, unix.EPIPE
	}
	if t == nil {
		if t = s.peer; t == nil {
			mu.Unlock()
			return 0, unix.ENOTCONN
		}
	}
	if t.released {
		if t == s.peer {
			s.peer = nil // Linux forgets a dead default destination
		}
		mu.Unlock()
		return 0, unix.ECONNREFUSED
	}
	if t.peer != nil && t.peer != s && t != s {
		mu.Unlock()
		return 0, unix.EPERM
	}
	if len(src) > s.sndbuf-32 {
		mu.Unlock()
		return 0, unix.EMSGSIZE
	}
	if t.recvShut {
		mu.Unlock()
		return 0, unix.EPIPE
	}
	if t.rqBytes > 0 && t.rqBytes+len(src) > t.rcvbuf || len(t.rq) >= maxDgramQueue {
		t.addWaiting(s)
		mu.Unlock()
		return 0, unix.EAGAIN
	}
	t.rq = append(t.rq, segment{data: append([]byte(nil), src...), rights: rights, from: s.name})
	t.rqBytes += len(src)
	mu.Unlock()
	t.q.Notify(waiter.ReadableEvents)
	return len(src), nil
}

// RecvMsg receives into dst (recvmsg(2)). It returns the bytes stored (or,
// with MSG_TRUNC on a message socket, the message's length), the
// sender's address for datagrams from a bound sender (nil otherwise), the files passed with
// the data (the caller owns these references) and the msg_flags
// (MSG_TRUNC when a message was cut). EAGAIN when there is nothing yet;
// 0 at the end of a stream; EINVAL on an unconnected stream. flags:
// MSG_PEEK, MSG_TRUNC; MSG_OOB is EOPNOTSUPP.
func (s *Socket) RecvMsg(ctx *vfs.Ctx, dst []byte, flags int) (int, []byte, []*vfs.File, int, error) {
	if flags&unix.MSG_OOB != 0 {
		return 0, nil, nil, 0, unix.EOPNOTSUPP
	}
	peek := flags&unix.MSG_PEEK != 0
	mu.Lock()
	if s.connOriented() && s.st != connected {
		mu.Unlock()
		return 0, nil, nil, 0, unix.EINVAL
	}
	if len(s.rq) == 0 {
		if e := s.sockErr; e != 0 {
			s.sockErr = 0
			mu.Unlock()
			return 0, nil, nil, 0, e
		}
		eof := s.recvShut || s.peerGone || s.connOriented() && (s.peer == nil || s.peer.released)
		mu.Unlock()
		if eof {
			return 0, nil, nil, 0, nil
		}
		return 0, nil, nil, 0, unix.EAGAIN
	}
	var n, msgFlags int
	var from []byte
	var rights []*vfs.File
	if s.typ != unix.SOCK_STREAM {
		seg := &s.rq[0]
		n = copy(dst, seg.data)
		if n < len(seg.data) {
			msgFlags |= unix.MSG_TRUNC
			if flags&unix.MSG_TRUNC != 0 {
				n = len(seg.data)
			}
		}
		if s.typ == unix.SOCK_DGRAM && seg.from != "" {
			from = encodeAddr(seg.from) // an unbound sender has no address (length 0)
		}
		rights = takeRights(seg, peek)
		if !peek {
			s.rqBytes -= len(seg.data)
			s.rq[0] = segment{}
			s.rq = s.rq[1:]
		}
	} else {
		n, rights = s.readStream(dst, peek)
	}
	var ns notes
	if !peek {
		if s.typ == unix.SOCK_DGRAM {
			// Senders that found the queue full wait for room; a
			// sender connected to s polls for it.
			for _, w := range s.waiting {
				ns.add(w, waiter.WritableEvents)
			}
			s.waiting = nil
			if p := s.peer; p != nil && p.peer == s {
				ns.add(p, waiter.WritableEvents)
			}
		} else {
			ns.add(s.peer, waiter.WritableEvents)
		}
	}
	mu.Unlock()
	ns.fire()
	return n, from, rights, msgFlags, nil
}

// addWaiting records that w waits for room in s: a connector for the
// backlog, a datagram sender for the queue (mu held).
func (s *Socket) addWaiting(w *Socket) {
	for _, x := range s.waiting {
		if x == w {
			return
		}
	}
	s.waiting = append(s.waiting, w)
}

// takeRights hands the files of seg to a receiver: the references
// themselves, or new ones for a peek (mu held).
func takeRights(seg *segment, peek bool) []*vfs.File {
	if len(seg.rights) == 0 {
		return nil
	}
	r := seg.rights
	if peek {
		r = append([]*vfs.File(nil), r...)
		for _, f := range r {
			f.IncRef()
		}
		return r
	}
	seg.rights = nil
	return r
}

// readStream copies stream bytes into dst (mu held). A read stops before
// a segment that carries files, so that they arrive with their first
// byte, and after the bytes of one that does, as Linux's does.
func (s *Socket) readStream(dst []byte, peek bool) (int, []*vfs.File) {
	n, i := 0, 0
	var rights []*vfs.File
	for n < len(dst) && i < len(s.rq) {
		seg := &s.rq[i]
		if seg.rights != nil {
			if n > 0 {
				break
			}
			rights = takeRights(seg, peek)
		}
		k := copy(dst[n:], seg.data)
		n += k
		if !peek {
			seg.data = seg.data[k:]
			s.rqBytes -= k
		}
		if k < len(seg.data) || !peek && len(seg.data) > 0 {
			break // dst is full
		}
		i++
		if rights != nil {
			break
		}
	}
	if !peek {
		for j := range i {
			s.rq[j] = segment{}
		}
		s.rq = s.rq[i:]
	}
	return n, rights
}

// Read implements vfs.FileOps: recv without flags; files passed with the
// data are closed, as Linux does for read(2).
func (s *Socket) Read(_ *vfs.File, dst []byte, _ int64) (int, error) {
	if len(dst) == 0 && s.typ == unix.SOCK_STREAM {
		return 0, nil
	}
	n, _, rights, _, err := s.RecvMsg(nil, dst, 0)
	for _, f := range rights {
		f.Close()
	}
	if n > len(dst) {
		n = len(dst)
	}
	return n, err
}

// Write implements vfs.FileOps: send without flags or address.
func (s *Socket) Write(_ *vfs.File, src []byte, _ int64) (int, error) {
	return s.SendMsg(nil, src, nil, 0, nil)
}

// Stream implements vfs.Streamer.
func (s *Socket) Stream() bool { return true }

// Release implements vfs.FileOps: the name goes, the peer sees the end,
// pending connections are closed, queued files are closed.
func (s *Socket) Release() {
	var ns notes
	mu.Lock()
	s.released = true
	if s.name != "" {
		if s.name[0] == 0 && abstract[s.name] == s {
			delete(abstract, s.name)
		}
		if s.nameIno != nil && bound[s.nameIno] == s {
			delete(bound, s.nameIno)
		}
	}
	pend := s.pending
	s.pending = nil
	for _, w := range s.waiting {
		ns.add(w, waiter.AllEvents)
	}
	s.waiting = nil
	if p := s.peer; p != nil && s.connOriented() {
		if len(s.rq) > 0 || s.embryo {
			p.sockErr = unix.ECONNRESET // as Linux: data lost, or never accepted
		}
		p.peerGone = true
		p.sendShut, p.recvShut = true, true
		ns.add(p, waiter.AllEvents)
	}
	var drop []*vfs.File
	for _, seg := range s.rq {
		drop = append(drop, seg.rights...)
	}
	s.rq, s.rqBytes = nil, 0
	mu.Unlock()
	ns.fire()
	for _, f := range drop {
		f.Close()
	}
	for _, n := range pend {
		n.Release() // never accepted: close the server end
	}
	s.q.Notify(waiter.AllEvents)
}

// Shutdown shuts down reception (SHUT_RD), sending (SHUT_WR) or both
// (shutdown(2)); the peer sees the mirror. ENOTCONN on an unconnected
// connection-oriented socket, EINVAL for a bad how.
func (s *Socket) Shutdown(how int) error {
	if how < unix.SHUT_RD || how > unix.SHUT_RDWR {
		return unix.EINVAL
	}
	rd := how == unix.SHUT_RD || how == unix.SHUT_RDWR
	wr := how == unix.SHUT_WR || how == unix.SHUT_RDWR
	var ns notes
	mu.Lock()
	if s.connOriented() && s.st != connected {
		mu.Unlock()
		return unix.ENOTCONN
	}
	s.recvShut = s.recvShut || rd
	s.sendShut = s.sendShut || wr
	ns.add(s, waiter.AllEvents)
	if p := s.peer; p != nil && s.connOriented() {
		p.sendShut = p.sendShut || rd
		p.recvShut = p.recvShut || wr
		ns.add(p, waiter.AllEvents)
	}
	mu.Unlock()
	ns.fire()
	return nil
}

// SockName returns the bound address (getsockname(2)).
func (s *Socket) SockName() ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	return encodeAddr(s.name), nil
}

// PeerName returns the peer's address (getpeername(2)): ENOTCONN without
// a peer.
func (s *Socket) PeerName() ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	if s.peer == nil || s.connOriented() && s.st != connected {
		return nil, unix.ENOTCONN
	}
	return encodeAddr(s.peer.name), nil
}

// PeerCred returns SO_PEERCRED: the peer's credentials when it connected
// (or created the pair), or pid 0 and the overflow IDs.
func (s *Socket) PeerCred() Cred {
	mu.Lock()
	defer mu.Unlock()
	if !s.hasPeerCred {
		return noCred
	}
	return s.peerCred
}

// Readiness implements waiter.Waitable.
func (s *Socket) Readiness(mask waiter.EventMask) waiter.EventMask {
	mu.Lock()
	defer mu.Unlock()
	var r waiter.EventMask
	if s.sockErr != 0 {
		r |= waiter.EventErr
	}
	if s.st == listening {
		if len(s.pending) > 0 {
			r |= waiter.ReadableEvents
		}
		return r & (mask | waiter.EventAlways)
	}
	if len(s.rq) > 0 {
		r |= waiter.ReadableEvents
	}
	if s.recvShut {
		r |= waiter.ReadableEvents | waiter.EventRdHUp
	}
	if s.recvShut && s.sendShut || s.peerGone {
		r |= waiter.EventHUp
	}
	if s.connOriented() && s.st == unconnected {
		r |= waiter.EventHUp
	}
	if s.writable() {
		r |= waiter.WritableEvents
	}
	return r & (mask | waiter.EventAlways)
}

// writable reports whether a send could queue something (mu held). As
// Linux's unix_writable, a stream counts as writable while its peer's
// queue holds at most a quarter of the send buffer... we use half: a
// send that is then tried takes what fits.
func (s *Socket) writable() bool {
	if s.sendShut {
		return false
	}
	p := s.peer
	if s.connOriented() {
		if s.st != connected {
			return s.st == unconnected
		}
		return p != nil && !p.released && p.rqBytes < s.sndbuf/2 && len(p.rq) < maxDgramQueue
	}
	if p == nil || p.released {
		return true
	}
	return p.rqBytes < p.rcvbuf/2 && len(p.rq) < maxDgramQueue
}

// EventRegister implements waiter.Waitable.
func (s *Socket) EventRegister(e *waiter.Entry) { s.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.q.Unregister(e) }

// Ioctl implements vfs.Ioctler: SIOCINQ (FIONREAD: bytes queued, or the
// size of the next message), SIOCOUTQ (bytes sent and not yet read by
// the peer). FIONBIO is the system-call layer's, as for every file.
func (s *Socket) Ioctl(f *vfs.File, ctx *vfs.Ctx, cmd uint32, arg uintptr) (uintptr, error) {
	var v int
	mu.Lock()
	switch cmd {
	case unix.SIOCINQ:
		if s.st == listening {
			mu.Unlock()
			return 0, unix.EINVAL
		}
		v = s.rqBytes
		if s.typ != unix.SOCK_STREAM && len(s.rq) > 0 {
			v = len(s.rq[0].data)
		}
	case unix.SIOCOUTQ:
		if p := s.peer; p != nil && s.connOriented() {
			v = p.rqBytes
		}
	default:
		mu.Unlock()
		return 0, unix.ENOTTY
	}
	mu.Unlock()
	if ctx == nil || ctx.Mem == nil {
		return 0, unix.EFAULT
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return 0, ctx.Mem.CopyOut(arg, b[:])
}
