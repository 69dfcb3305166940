package proc

import (
	"bytes"
	"encoding/binary"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"dunix/fs/memfs"
	"dunix/fs/vfs"
	"dunix/kernel"
	"dunix/net/socket"
	"dunix/proc/vm"
)

// The socket system calls on the host: processes made by hand around a
// fake physical memory, handlers called through the table as the task
// goroutine would (no ring 3).

// fakeMachine is physical memory made of Go pages.
type fakeMachine struct {
	mu    sync.Mutex
	pages map[uintptr]*[vm.PageSize]byte
	next  uintptr
}

func (m *fakeMachine) AllocPages(ps []uintptr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range ps {
		m.next += vm.PageSize
		m.pages[m.next] = new([vm.PageSize]byte)
		ps[i] = m.next
	}
	return nil
}

func (m *fakeMachine) FreePages(ps []uintptr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		delete(m.pages, p)
	}
}

func (m *fakeMachine) Page(p uintptr) *[vm.PageSize]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pages[p]
}

func (m *fakeMachine) NewRoot() (uintptr, error) {
	ps := make([]uintptr, 1)
	err := m.AllocPages(ps)
	return ps[0], err
}

func (m *fakeMachine) FlushTLB() {}

// testProc is a process with one thread and a scratch mapping at base.
type testProc struct {
	t    *testing.T
	th   *Thread
	base uint64
}

func newTestNode() *Node {
	pool := vm.NewPool(&fakeMachine{pages: map[uintptr]*[vm.PageSize]byte{}, next: 1 << 20})
	return NewNode(pool, vfs.NewNamespace(memfs.New(nil), vfs.Options{}))
}

func newTestProc(t *testing.T, n *Node) *testProc {
	t.Helper()
	mm, err := vm.New(n.Pool)
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{node: n, PID: n.allocPID(), childEvents: make(chan struct{}), vforkDone: make(chan struct{}),
		exitSig: SIGCHLD, enosys: map[int]int{}, cwd: n.NS.Root(), umask: 0o022, sig: &sigHand{},
		rlimits: defaultLimits(), fds: NewFDTable(), mm: mm, cred: Cred{EUID: 0, EGID: 0}}
	th := &Thread{TID: p.PID, p: p, task: &kernel.UserTask{}, wake: make(chan struct{}, 1), restartNr: -1}
	p.threads = []*Thread{th}
	base, err := mm.Map(0, 64*vm.PageSize, vm.ProtRead|vm.ProtWrite, vm.MapPrivate|vm.MapAnonymous, nil, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.fds.release() })
	return &testProc{t: t, th: th, base: base}
}

// call runs system call nr and returns its result and errno.
func (tp *testProc) call(nr int, args ...uint64) (uint64, syscall.Errno) {
	var a [6]uint64
	copy(a[:], args)
	v, err := table[nr](tp.th, &a)
	if err != nil {
		e, ok := err.(syscall.Errno)
		if !ok {
			tp.t.Fatalf("system call %d: %v", nr, err)
		}
		return 0, e
	}
	return v, 0
}

// must runs a call that must succeed.
func (tp *testProc) must(nr int, args ...uint64) uint64 {
	tp.t.Helper()
	v, e := tp.call(nr, args...)
	if e != 0 {
		tp.t.Fatalf("system call %d: %v", nr, e)
	}
	return v
}

// put writes b at offset off of the scratch area and returns its address.
func (tp *testProc) put(off uint64, b []byte) uint64 {
	if err := tp.th.p.mm.CopyOut(tp.base+off, b); err != nil {
		tp.t.Fatal(err)
	}
	return tp.base + off
}

// get reads n bytes at offset off of the scratch area.
func (tp *testProc) get(off uint64, n int) []byte {
	b := make([]byte, n)
	if err := tp.th.p.mm.CopyIn(tp.base+off, b); err != nil {
		tp.t.Fatal(err)
	}
	return b
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func sunPath(path string) []byte {
	b := binary.LittleEndian.AppendUint16(nil, unix.AF_UNIX)
	return append(append(b, path...), 0)
}

// Offsets in the scratch area.
const (
	offA    = 0x0000 // addresses
	offLen  = 0x0100 // socklen_t
	offBuf  = 0x1000 // data
	offMsg  = 0x8000 // msghdr
	offIov  = 0x8100 // iovec
	offCtl  = 0x8200 // control
	offPair = 0x8300 // int[2]
)

func TestSocketSyscallsUnix(t *testing.T) {
	n := newTestNode()
	srv, cli := newTestProc(t, n), newTestProc(t, n)

	// A listener on a path.
	lfd := srv.must(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	addr := sunPath("/srv.sock")
	srv.must(unix.SYS_BIND, lfd, srv.put(offA, addr), uint64(len(addr)))
	if _, e := srv.call(unix.SYS_BIND, lfd, 0x10, uint64(len(addr))); e != unix.EFAULT && e != unix.EINVAL {
		t.Fatalf("bind with a bad pointer: %v", e)
	}
	srv.must(unix.SYS_LISTEN, lfd, 4)
	if st, err := n.NS.Stat(vfs.RootCtx(), n.NS.Root(), "/srv.sock", 0); err != nil || st.Type() != unix.S_IFSOCK {
		t.Fatalf("no socket inode: %v", err)
	}

	// accept blocks in its goroutine until the client connects.
	type res struct {
		fd uint64
		e  syscall.Errno
	}
	done := make(chan res)
	go func() {
		srv.put(offLen, u32(110))
		fd, e := srv.call(unix.SYS_ACCEPT4, lfd, srv.base+offA+0x80, srv.base+offLen, unix.SOCK_CLOEXEC)
		done <- res{fd, e}
	}()
	time.Sleep(20 * time.Millisecond)
	cfd := cli.must(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0)
	cli.must(unix.SYS_CONNECT, cfd, cli.put(offA, addr), uint64(len(addr)))
	r := <-done
	if r.e != 0 {
		t.Fatal("accept:", r.e)
	}
	afd := r.fd
	if l := binary.LittleEndian.Uint32(srv.get(offLen, 4)); l != 2 {
		t.Fatalf("accepted peer address length %d (unbound client)", l)
	}

	// getpeername of the client names the listener.
	cli.put(offLen, u32(128))
	cli.must(unix.SYS_GETPEERNAME, cfd, cli.base+offA+0x80, cli.base+offLen)
	if got := cli.get(offA+0x80, len(addr)); !bytes.Equal(got, addr) {
		t.Fatalf("peer name %q", got)
	}

	// SO_PEERCRED on the server end: the client's pid.
	srv.put(offLen, u32(12))
	srv.must(unix.SYS_GETSOCKOPT, afd, unix.SOL_SOCKET, unix.SO_PEERCRED, srv.base+offBuf, srv.base+offLen)
	if pid := int32(binary.LittleEndian.Uint32(srv.get(offBuf, 4))); pid != cli.th.p.PID {
		t.Fatalf("SO_PEERCRED pid %d, want %d", pid, cli.th.p.PID)
	}

	// write on the client, recvfrom on the server (read(2) works too).
	cli.must(unix.SYS_WRITE, cfd, cli.put(offBuf, []byte("hello")), 5)
	if v := srv.must(unix.SYS_RECVFROM, afd, srv.base+offBuf, 100, unix.MSG_PEEK, 0, 0); v != 5 {
		t.Fatalf("peek %d", v)
	}
	if v := srv.must(unix.SYS_READ, afd, srv.base+offBuf, 100); v != 5 || string(srv.get(offBuf, 5)) != "hello" {
		t.Fatalf("read %d", v)
	}
	if _, e := srv.call(unix.SYS_RECVFROM, afd, srv.base+offBuf, 100, unix.MSG_DONTWAIT, 0, 0); e != unix.EAGAIN {
		t.Fatalf("MSG_DONTWAIT on empty: %v", e)
	}
	srv.must(unix.SYS_IOCTL, afd, 0x5421, srv.put(offBuf, u32(1)))
	if _, e := srv.call(unix.SYS_READ, afd, srv.base+offBuf, 100); e != unix.EAGAIN {
		t.Fatalf("read after FIONBIO: %v", e)
	}
	srv.must(unix.SYS_IOCTL, afd, 0x5421, srv.put(offBuf, u32(0)))
	if _, e := srv.call(unix.SYS_RECVFROM, afd, 0x10, 100, unix.MSG_DONTWAIT, 0, 0); e != unix.EAGAIN {
		t.Fatalf("nothing to copy yet: %v", e)
	}

	// SO_RCVTIMEO ends a wait with EAGAIN.
	srv.must(unix.SYS_SETSOCKOPT, afd, unix.SOL_SOCKET, unix.SO_RCVTIMEO,
		srv.put(offBuf, append(binary.LittleEndian.AppendUint64(nil, 0), binary.LittleEndian.AppendUint64(nil, 30000)...)), 16)
	start := time.Now()
	if _, e := srv.call(unix.SYS_RECVFROM, afd, srv.base+offBuf, 100, 0, 0, 0); e != unix.EAGAIN || time.Since(start) < 25*time.Millisecond {
		t.Fatalf("SO_RCVTIMEO: %v after %v", e, time.Since(start))
	}

	// A signal interrupts a blocking recv: a restart (ERESTARTSYS).
	got := make(chan syscall.Errno)
	go func() {
		_, e := cli.call(unix.SYS_RECVFROM, cfd, cli.base+offBuf, 100, 0, 0, 0)
		got <- e
	}()
	time.Sleep(20 * time.Millisecond)
	cli.th.signal(SIGUSR1, sigInfo{})
	if e := <-got; e != errRestart {
		t.Fatalf("interrupted recv: %v", e)
	}
	cli.th.mu.Lock()
	cli.th.pending = 0
	cli.th.queue = sigQueue{}
	cli.th.mu.Unlock()

	// SCM_RIGHTS: pass a pipe's write end; the receiver writes into it.
	cli.must(unix.SYS_PIPE2, cli.put(offPair, make([]byte, 8)), 0)
	pr, pw := binary.LittleEndian.Uint32(cli.get(offPair, 4)), binary.LittleEndian.Uint32(cli.get(offPair+4, 4))
	msg := make([]byte, 56)
	le := binary.LittleEndian
	le.PutUint64(msg[16:], cli.base+offIov)
	le.PutUint64(msg[24:], 1)
	le.PutUint64(msg[32:], cli.base+offCtl)
	le.PutUint64(msg[40:], 24)
	cli.put(offMsg, msg)
	iov := le.AppendUint64(le.AppendUint64(nil, cli.base+offBuf), 3)
	cli.put(offIov, iov)
	cli.put(offBuf, []byte("fds"))
	ctl := make([]byte, 24)
	le.PutUint64(ctl, 20)
	le.PutUint32(ctl[8:], unix.SOL_SOCKET)
	le.PutUint32(ctl[12:], unix.SCM_RIGHTS)
	le.PutUint32(ctl[16:], pw)
	cli.put(offCtl, ctl)
	if v := cli.must(unix.SYS_SENDMSG, cfd, cli.base+offMsg, 0); v != 3 {
		t.Fatalf("sendmsg %d", v)
	}
	cli.must(unix.SYS_CLOSE, uint64(pw))
	rmsg := make([]byte, 56)
	le.PutUint64(rmsg[16:], srv.base+offIov)
	le.PutUint64(rmsg[24:], 1)
	le.PutUint64(rmsg[32:], srv.base+offCtl)
	le.PutUint64(rmsg[40:], 64)
	srv.put(offMsg, rmsg)
	srv.put(offIov, le.AppendUint64(le.AppendUint64(nil, srv.base+offBuf), 100))
	if v := srv.must(unix.SYS_RECVMSG, afd, srv.base+offMsg, unix.MSG_CMSG_CLOEXEC); v != 3 {
		t.Fatalf("recvmsg %d", v)
	}
	out := srv.get(offMsg, 56)
	if cl := le.Uint64(out[40:]); cl != 24 {
		t.Fatalf("msg_controllen %d", cl)
	}
	c := srv.get(offCtl, 20)
	if le.Uint64(c) != 20 || le.Uint32(c[12:]) != unix.SCM_RIGHTS {
		t.Fatalf("cmsg %x", c)
	}
	passed := uint64(le.Uint32(c[16:]))
	srv.must(unix.SYS_WRITE, passed, srv.put(offBuf, []byte("through")), 7)
	if v := cli.must(unix.SYS_READ, uint64(pr), cli.base+offBuf, 100); v != 7 {
		t.Fatalf("read of the pipe %d", v)
	}

	// EPIPE and SIGPIPE, and MSG_NOSIGNAL.
	cli.must(unix.SYS_SHUTDOWN, cfd, unix.SHUT_WR)
	if _, e := cli.call(unix.SYS_SENDTO, cfd, cli.base+offBuf, 1, unix.MSG_NOSIGNAL, 0, 0); e != unix.EPIPE {
		t.Fatalf("send after SHUT_WR: %v", e)
	}
	if cli.th.pending.has(SIGPIPE) {
		t.Fatal("SIGPIPE despite MSG_NOSIGNAL")
	}
	if _, e := cli.call(unix.SYS_SENDTO, cfd, cli.base+offBuf, 1, 0, 0, 0); e != unix.EPIPE {
		t.Fatalf("send after SHUT_WR: %v", e)
	}
	if !cli.th.pending.has(SIGPIPE) {
		t.Fatal("no SIGPIPE")
	}
	if v := srv.must(unix.SYS_READ, afd, srv.base+offBuf, 100); v != 0 {
		t.Fatalf("EOF after the peer's SHUT_WR: %d", v)
	}

	// Errors.
	if _, e := cli.call(unix.SYS_LISTEN, uint64(pr), 1); e != unix.ENOTSOCK {
		t.Fatalf("listen on a pipe: %v", e)
	}
	if _, e := cli.call(unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_STREAM, 0); e != unix.EAFNOSUPPORT {
		t.Fatalf("AF_INET6 without a network: %v", e)
	}
	if _, e := cli.call(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, 0); e != unix.EAFNOSUPPORT {
		t.Fatalf("AF_NETLINK: %v", e)
	}
	if _, e := cli.call(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM|0x100, 0); e != unix.EINVAL {
		t.Fatalf("bad type flags: %v", e)
	}
	if _, e := cli.call(unix.SYS_SOCKETPAIR, unix.AF_INET, unix.SOCK_STREAM, 0, cli.base+offPair); e != unix.EOPNOTSUPP {
		t.Fatalf("inet socketpair: %v", e)
	}
	if _, e := cli.call(unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_DGRAM, 0, 0x10); e != unix.EFAULT {
		t.Fatalf("socketpair to a bad pointer: %v", e)
	}
	c2 := cli.must(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	nope := sunPath("/nope")
	if _, e := cli.call(unix.SYS_CONNECT, c2, cli.put(offA, nope), uint64(len(nope))); e != unix.ENOENT {
		t.Fatalf("connect to a missing path: %v", e)
	}
	if _, e := cli.call(unix.SYS_GETPEERNAME, c2, cli.base+offA, cli.base+offLen); e != unix.ENOTCONN {
		t.Fatalf("getpeername unconnected: %v", e)
	}
	if _, e := cli.call(unix.SYS_GETSOCKOPT, c2, unix.SOL_SOCKET, unix.SO_PASSCRED, cli.base+offBuf, cli.base+offLen); e != unix.ENOPROTOOPT {
		t.Fatalf("unknown option: %v", e)
	}
}

func TestSocketSyscallsDgramMmsg(t *testing.T) {
	n := newTestNode()
	tp := newTestProc(t, n)
	tp.must(unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK, 0, tp.base+offPair)
	a, b := uint64(binary.LittleEndian.Uint32(tp.get(offPair, 4))), uint64(binary.LittleEndian.Uint32(tp.get(offPair+4, 4)))
	le := binary.LittleEndian
	// Two messages in one sendmmsg.
	var vec []byte
	for i, s := range []string{"one", "three"} {
		off := uint64(offBuf + 0x100*i)
		tp.put(off, []byte(s))
		iovOff := uint64(offIov + 0x10*i)
		tp.put(iovOff, le.AppendUint64(le.AppendUint64(nil, tp.base+off), uint64(len(s))))
		h := make([]byte, 64)
		le.PutUint64(h[16:], tp.base+iovOff)
		le.PutUint64(h[24:], 1)
		vec = append(vec, h...)
	}
	tp.put(offMsg, vec)
	if v := tp.must(unix.SYS_SENDMMSG, a, tp.base+offMsg, 2, 0); v != 2 {
		t.Fatalf("sendmmsg %d", v)
	}
	if l := le.Uint32(tp.get(offMsg+64+56, 4)); l != 5 {
		t.Fatalf("msg_len %d", l)
	}
	// A short buffer cuts the first: MSG_TRUNC in recvfrom's flags gives
	// the real length.
	if v := tp.must(unix.SYS_RECVFROM, b, tp.base+0x4000, 2, unix.MSG_TRUNC, 0, 0); v != 3 {
		t.Fatalf("MSG_TRUNC length %d", v)
	}
	if v := tp.must(unix.SYS_RECVFROM, b, tp.base+0x4000, 100, 0, 0, 0); v != 5 {
		t.Fatalf("second message %d", v)
	}
	if _, e := tp.call(unix.SYS_RECVFROM, b, tp.base+0x4000, 100, 0, 0, 0); e != unix.EAGAIN {
		t.Fatalf("non-blocking empty: %v", e)
	}
}

// loopStack is a tcpip stack with a loopback NIC holding 127.0.0.1 and ::1.
func loopStack(t *testing.T) *stack.Stack {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if err := s.CreateNIC(1, loopback.New()); err != nil {
		t.Fatal(err)
	}
	s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}).WithPrefix()}, stack.AddressProperties{})
	s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom16([16]byte{15: 1}).WithPrefix()}, stack.AddressProperties{})
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}, {Destination: header.IPv6EmptySubnet, NIC: 1}})
	t.Cleanup(func() { s.Close(); s.Wait() })
	return s
}

func TestSocketSyscallsInet(t *testing.T) {
	n := newTestNode()
	n.SetNetwork(socket.NewFactory(loopStack(t)))
	defer n.SetNetwork(nil)
	srv, cli := newTestProc(t, n), newTestProc(t, n)
	sin6 := make([]byte, 28)
	binary.LittleEndian.PutUint16(sin6, unix.AF_INET6)
	sin6[8+15] = 1 // ::1, port 0
	lfd := srv.must(unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_STREAM, 0)
	srv.must(unix.SYS_SETSOCKOPT, lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, srv.put(offBuf, u32(1)), 4)
	srv.must(unix.SYS_BIND, lfd, srv.put(offA, sin6), 28)
	srv.must(unix.SYS_LISTEN, lfd, 8)
	srv.put(offLen, u32(128))
	srv.must(unix.SYS_GETSOCKNAME, lfd, srv.base+offA, srv.base+offLen)
	name := srv.get(offA, 28)
	if binary.BigEndian.Uint16(name[2:]) == 0 {
		t.Fatal("no port")
	}
	if _, e := srv.call(unix.SYS_BIND, srv.must(unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_STREAM, 0), srv.base+offA, 28); e != unix.EADDRINUSE {
		t.Fatalf("second bind: %v", e)
	}
	done := make(chan uint64)
	go func() {
		fd, e := srv.call(unix.SYS_ACCEPT, lfd, 0, 0)
		if e != 0 {
			t.Error("accept:", e)
		}
		done <- fd
	}()
	cfd := cli.must(unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	cli.must(unix.SYS_CONNECT, cfd, cli.put(offA, name), 28) // blocking: waits for the handshake
	afd := <-done
	msg := bytes.Repeat([]byte("x"), 100000)
	go func() {
		if v, e := cli.call(unix.SYS_SENDTO, cfd, cli.put(offBuf, msg), uint64(len(msg)), 0, 0, 0); v != uint64(len(msg)) || e != 0 {
			t.Errorf("send: %d %v", v, e)
		}
		cli.call(unix.SYS_SHUTDOWN, cfd, unix.SHUT_WR)
	}()
	// MSG_WAITALL gathers the whole message.
	if v := srv.must(unix.SYS_RECVFROM, afd, srv.base+offBuf, uint64(len(msg)), unix.MSG_WAITALL, 0, 0); v != uint64(len(msg)) {
		t.Fatalf("MSG_WAITALL got %d", v)
	}
	if v := srv.must(unix.SYS_READ, afd, srv.base+offBuf, 10); v != 0 {
		t.Fatalf("EOF: %d", v)
	}
	// Nobody on a port: ECONNREFUSED for a blocking connect.
	sin4 := make([]byte, 16)
	binary.LittleEndian.PutUint16(sin4, unix.AF_INET)
	binary.BigEndian.PutUint16(sin4[2:], 9)
	copy(sin4[4:], []byte{127, 0, 0, 1})
	c4 := cli.must(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, 0)
	if _, e := cli.call(unix.SYS_CONNECT, c4, cli.put(offA, sin4), 16); e != unix.ECONNREFUSED {
		t.Fatalf("connect to a closed port: %v", e)
	}
	// Non-blocking connect: EINPROGRESS, then SO_ERROR.
	c5 := cli.must(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if _, e := cli.call(unix.SYS_CONNECT, c5, cli.put(offA, sin4), 16); e != unix.EINPROGRESS && e != unix.ECONNREFUSED {
		t.Fatalf("non-blocking connect: %v", e)
	}
	// UDP over 127.0.0.1.
	u1 := srv.must(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, 0)
	binary.BigEndian.PutUint16(sin4[2:], 0)
	srv.must(unix.SYS_BIND, u1, srv.put(offA, sin4), 16)
	srv.put(offLen, u32(16))
	srv.must(unix.SYS_GETSOCKNAME, u1, srv.base+offA, srv.base+offLen)
	to := srv.get(offA, 16)
	u2 := cli.must(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, 0)
	if v := cli.must(unix.SYS_SENDTO, u2, cli.put(offBuf, []byte("dgram")), 5, 0, cli.put(offA, to), 16); v != 5 {
		t.Fatal(v)
	}
	srv.put(offLen, u32(16))
	if v := srv.must(unix.SYS_RECVFROM, u1, srv.base+offBuf, 100, 0, srv.base+offA+0x40, srv.base+offLen); v != 5 {
		t.Fatal(v)
	}
	if from := srv.get(offA+0x40, 8); binary.LittleEndian.Uint16(from) != unix.AF_INET || !bytes.Equal(from[4:8], []byte{127, 0, 0, 1}) {
		t.Fatalf("from %x", from)
	}
	// SCM_RIGHTS on an inet socket: EINVAL.
	if _, e := cli.call(unix.SYS_SOCKETPAIR, unix.AF_INET6, unix.SOCK_STREAM, 0, cli.base+offPair); e != unix.EOPNOTSUPP {
		t.Fatal(e)
	}
}
