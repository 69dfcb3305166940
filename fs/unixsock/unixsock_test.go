package unixsock_test

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/unixsock"
	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

// caller is a fake system-call thread.
type caller struct {
	ns   *vfs.Namespace
	cred unixsock.Cred
}

func (c *caller) SocketFS() (*vfs.Namespace, vfs.Loc, uint32) { return c.ns, c.ns.Root(), 0o022 }
func (c *caller) SocketCred() unixsock.Cred                   { return c.cred }

func newCtx(t testing.TB) (*vfs.Ctx, *vfs.Namespace) {
	t.Helper()
	ns := vfs.NewNamespace(memfs.New(nil), vfs.Options{})
	return &vfs.Ctx{Cred: vfs.Cred{UID: 0, GID: 0}, Task: &caller{ns: ns, cred: unixsock.Cred{PID: 42, UID: 1000, GID: 100}}}, ns
}

func sun(path string) []byte {
	b := make([]byte, 2+len(path)+1)
	binary.LittleEndian.PutUint16(b, unix.AF_UNIX)
	copy(b[2:], path)
	if path == "" || path[0] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

func mustSock(t testing.TB, ctx *vfs.Ctx, typ int) (*vfs.File, *unixsock.Socket) {
	t.Helper()
	f, err := unixsock.New(ctx, typ, 0, unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := unixsock.FromFile(f)
	return f, s
}

func TestStreamPathListenAcceptConnect(t *testing.T) {
	ctx, ns := newCtx(t)
	lf, l := mustSock(t, ctx, unix.SOCK_STREAM)
	if err := l.Listen(5); err != unix.EINVAL {
		t.Fatalf("listen unbound: %v, want EINVAL", err)
	}
	if err := l.Bind(ctx, sun("/sock")); err != nil {
		t.Fatal(err)
	}
	st, err := ns.Stat(ctx, ns.Root(), "/sock", 0)
	if err != nil || st.Type() != unix.S_IFSOCK || st.Mode&0o777 != 0o755 {
		t.Fatalf("socket inode: %+v %v", st, err)
	}
	_, l2 := mustSock(t, ctx, unix.SOCK_STREAM)
	if err := l2.Bind(ctx, sun("/sock")); err != unix.EADDRINUSE {
		t.Fatalf("bind existing path: %v", err)
	}
	cf, c := mustSock(t, ctx, unix.SOCK_STREAM)
	defer cf.Close()
	if err := c.Connect(ctx, sun("/sock")); err != unix.ECONNREFUSED {
		t.Fatalf("connect before listen: %v", err)
	}
	if err := c.Connect(ctx, sun("/nope")); err != unix.ENOENT {
		t.Fatalf("connect to missing path: %v", err)
	}
	if err := l.Listen(0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(ctx, 0); err != unix.EAGAIN {
		t.Fatalf("accept with none: %v", err)
	}
	if r := lf.Readiness(waiter.AllEvents); r&waiter.EventIn != 0 {
		t.Fatalf("listener readable with none pending: %#x", r)
	}
	if err := c.Connect(ctx, sun("/sock")); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx, sun("/sock")); err != unix.EISCONN {
		t.Fatalf("second connect: %v", err)
	}
	// Backlog 0 holds one connection; the next must wait.
	c2f, c2 := mustSock(t, ctx, unix.SOCK_STREAM)
	defer c2f.Close()
	if err := c2.Connect(ctx, sun("/sock")); err != unix.EAGAIN {
		t.Fatalf("connect to full backlog: %v", err)
	}
	if r := lf.Readiness(waiter.AllEvents); r&waiter.EventIn == 0 {
		t.Fatalf("listener not readable: %#x", r)
	}
	af, err := l.Accept(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	a, _ := unixsock.FromFile(af)
	if err := c2.Connect(ctx, sun("/sock")); err != nil {
		t.Fatalf("connect after accept made room: %v", err)
	}
	if n, err := cf.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	buf := make([]byte, 10)
	n, _, _, _, err := a.RecvMsg(ctx, buf, unix.MSG_PEEK)
	if n != 5 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := af.Read(buf); n != 5 || err != nil || string(buf[:5]) != "hello" {
		t.Fatal(n, err, buf)
	}
	if _, err := af.Read(buf); err != unix.EAGAIN {
		t.Fatalf("empty read: %v", err)
	}
	name, _ := a.SockName()
	if !bytes.Equal(name, sun("/sock")) {
		t.Fatalf("accepted name %q", name)
	}
	peer, _ := c.PeerName()
	if !bytes.Equal(peer, sun("/sock")) {
		t.Fatalf("peer name %q", peer)
	}
	if p, _ := a.PeerName(); len(p) != 2 {
		t.Fatalf("unbound client name %q", p)
	}
	if cr := a.PeerCred(); cr.PID != 42 || cr.UID != 1000 {
		t.Fatalf("peercred %+v", cr)
	}
	// Close the client: the server reads the end; writes fail with EPIPE.
	cf.Write([]byte("bye"))
	c.Shutdown(unix.SHUT_WR)
	if r := af.Readiness(waiter.AllEvents); r&waiter.EventRdHUp == 0 {
		t.Fatalf("no RDHUP after peer SHUT_WR: %#x", r)
	}
	if n, _ := af.Read(buf); n != 3 {
		t.Fatalf("read before end: %d", n)
	}
	if n, err := af.Read(buf); n != 0 || err != nil {
		t.Fatalf("end of stream: %d %v", n, err)
	}
	if _, err := cf.Write([]byte("x")); err != unix.EPIPE {
		t.Fatalf("write after SHUT_WR: %v", err)
	}
	// Release of the listener frees the name for reuse once unlinked.
	lf.Close()
	buf2 := make([]byte, 1)
	if _, err := c2f.Read(buf2); err != unix.ECONNRESET {
		t.Fatalf("read on a connection never accepted: %v", err)
	}
	_, c3 := mustSock(t, ctx, unix.SOCK_STREAM)
	if err := c3.Connect(ctx, sun("/sock")); err != unix.ECONNREFUSED {
		t.Fatalf("connect to closed listener: %v", err)
	}
}

func TestAbstractAndAutobind(t *testing.T) {
	ctx, _ := newCtx(t)
	lf, l := mustSock(t, ctx, unix.SOCK_SEQPACKET)
	defer lf.Close()
	if err := l.Bind(ctx, sun("\x00dunix-test-abstract")); err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(ctx, sun("\x00other")); err != unix.EINVAL {
		t.Fatalf("rebind: %v", err)
	}
	_, x := mustSock(t, ctx, unix.SOCK_SEQPACKET)
	if err := x.Bind(ctx, sun("\x00dunix-test-abstract")); err != unix.EADDRINUSE {
		t.Fatalf("abstract in use: %v", err)
	}
	l.Listen(10)
	cf, c := mustSock(t, ctx, unix.SOCK_SEQPACKET)
	defer cf.Close()
	_, d := mustSock(t, ctx, unix.SOCK_STREAM)
	if err := d.Connect(ctx, sun("\x00dunix-test-abstract")); err != unix.EPROTOTYPE {
		t.Fatalf("type mismatch: %v", err)
	}
	if err := c.Bind(ctx, sun("")); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.SockName(); len(n) != 8 || n[2] != 0 {
		t.Fatalf("autobind name %q", n)
	}
	if err := c.Connect(ctx, sun("\x00dunix-test-abstract")); err != nil {
		t.Fatal(err)
	}
	af, _ := l.Accept(ctx, 0)
	a, _ := unixsock.FromFile(af)
	defer af.Close()
	cf.Write([]byte("one"))
	cf.Write([]byte("two-longer"))
	buf := make([]byte, 4)
	n, _, _, fl, err := a.RecvMsg(ctx, buf, 0)
	if n != 3 || fl != 0 || err != nil {
		t.Fatal(n, fl, err)
	}
	n, _, _, fl, err = a.RecvMsg(ctx, buf, unix.MSG_TRUNC)
	if n != 10 || fl&unix.MSG_TRUNC == 0 || err != nil || string(buf) != "two-" {
		t.Fatal(n, fl, err, string(buf))
	}
}

func TestDgram(t *testing.T) {
	ctx, _ := newCtx(t)
	sf, s := mustSock(t, ctx, unix.SOCK_DGRAM)
	if err := s.Bind(ctx, sun("/srv")); err != nil {
		t.Fatal(err)
	}
	cf, c := mustSock(t, ctx, unix.SOCK_DGRAM)
	defer cf.Close()
	if _, err := cf.Write([]byte("x")); err != unix.ENOTCONN {
		t.Fatalf("write unconnected dgram: %v", err)
	}
	c.Bind(ctx, sun("/cli"))
	if n, err := c.SendMsg(ctx, []byte("ping"), sun("/srv"), 0, nil); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := c.SendMsg(ctx, nil, sun("/srv"), 0, nil); n != 0 || err != nil {
		t.Fatal("empty datagram", n, err)
	}
	buf := make([]byte, 10)
	n, from, _, _, err := s.RecvMsg(ctx, buf, 0)
	if n != 4 || err != nil || !bytes.Equal(from, sun("/cli")) {
		t.Fatalf("%d %q %v", n, from, err)
	}
	n, _, _, _, err = s.RecvMsg(ctx, buf, 0)
	if n != 0 || err != nil {
		t.Fatal("empty datagram received", n, err)
	}
	if _, _, _, _, err := s.RecvMsg(ctx, buf, 0); err != unix.EAGAIN {
		t.Fatal(err)
	}
	if err := c.Connect(ctx, sun("/srv")); err != nil {
		t.Fatal(err)
	}
	// A third socket may not send to c: c is connected to s.
	_, o := mustSock(t, ctx, unix.SOCK_DGRAM)
	if _, err := o.SendMsg(ctx, []byte("x"), sun("/cli"), 0, nil); err != unix.EPERM {
		t.Fatalf("send to a socket connected elsewhere: %v", err)
	}
	if _, err := c.SendMsg(ctx, make([]byte, unixsock.DefaultBuf), nil, 0, nil); err != unix.EMSGSIZE {
		t.Fatalf("oversized: %v", err)
	}
	// Fill the receiver, then a reader makes room and wakes the sender.
	msg := make([]byte, 50000)
	sent := 0
	for {
		_, err := cf.Write(msg)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
	}
	if sent < 3 {
		t.Fatalf("only %d messages fit", sent)
	}
	e, ch := waiter.NewChannelEntry(waiter.WritableEvents)
	cf.EventRegister(e)
	defer cf.EventUnregister(e)
	sf.Read(buf)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("sender not woken")
	}
	sf.Close()
	if _, err := cf.Write([]byte("x")); err != unix.ECONNREFUSED {
		t.Fatalf("send to closed peer: %v", err)
	}
}

func TestPairRightsShutdownPoll(t *testing.T) {
	ctx, _ := newCtx(t)
	af, bf, err := unixsock.Pair(ctx, unix.SOCK_STREAM, 0, unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	a, _ := unixsock.FromFile(af)
	b, _ := unixsock.FromFile(bf)
	if r := af.Readiness(waiter.AllEvents); r != waiter.WritableEvents {
		t.Fatalf("fresh pair readiness %#x", r)
	}
	pr, pw, _ := pipe.New(&vfs.Cred{}, 0)
	defer pr.Close()
	if _, err := a.SendMsg(ctx, []byte("ab"), nil, 0, []*vfs.File{pw}); err != nil {
		t.Fatal(err)
	}
	a.SendMsg(ctx, []byte("cd"), nil, 0, nil)
	buf := make([]byte, 10)
	n, _, rights, _, err := b.RecvMsg(ctx, buf, 0)
	if n != 2 || err != nil || len(rights) != 1 || rights[0] != pw {
		t.Fatalf("rights: %d %v %v", n, rights, err)
	}
	if _, err := rights[0].Write([]byte("via passed fd")); err != nil {
		t.Fatal(err)
	}
	rights[0].Close()
	n, _, rights, _, _ = b.RecvMsg(ctx, buf, 0)
	if n != 2 || rights != nil {
		t.Fatal(n, rights)
	}
	if cr := b.PeerCred(); cr.PID != 42 {
		t.Fatalf("pair cred %+v", cr)
	}
	// Files still queued are closed with the socket.
	f2, _ := unixsock.New(ctx, unix.SOCK_DGRAM, 0, 0)
	a.SendMsg(ctx, []byte("z"), nil, 0, []*vfs.File{f2})
	// Poll events across shutdown and close.
	b.Shutdown(unix.SHUT_RD)
	if _, err := af.Write([]byte("x")); err != unix.EPIPE {
		t.Fatalf("write to peer that shut reading: %v", err)
	}
	af.Close()
	r := bf.Readiness(waiter.AllEvents)
	if r&waiter.EventHUp == 0 || r&waiter.EventRdHUp == 0 || r&waiter.EventIn == 0 {
		t.Fatalf("after peer close: %#x", r)
	}
	if _, err := bf.Write([]byte("x")); err != unix.EPIPE {
		t.Fatalf("write to closed peer: %v", err)
	}
}

func TestOptions(t *testing.T) {
	ctx, _ := newCtx(t)
	f, s := mustSock(t, ctx, unix.SOCK_STREAM)
	defer f.Close()
	get := func(name int) int {
		b, err := s.GetSockOpt(ctx, unix.SOL_SOCKET, name)
		if err != nil {
			t.Fatal(name, err)
		}
		return int(int32(binary.LittleEndian.Uint32(b)))
	}
	if v := get(unix.SO_SNDBUF); v != unixsock.DefaultBuf {
		t.Fatalf("default sndbuf %d", v)
	}
	if v := get(unix.SO_TYPE); v != unix.SOCK_STREAM {
		t.Fatal(v)
	}
	val := make([]byte, 4)
	binary.LittleEndian.PutUint32(val, 10000)
	s.SetSockOpt(ctx, unix.SOL_SOCKET, unix.SO_SNDBUF, val)
	if v := get(unix.SO_SNDBUF); v != 20000 {
		t.Fatalf("sndbuf after set %d", v)
	}
	if err := s.SetSockOpt(ctx, unix.SOL_SOCKET, unix.SO_PASSCRED, val); err != unix.ENOPROTOOPT {
		t.Fatal(err)
	}
	if _, err := s.GetSockOpt(ctx, unix.SOL_TCP, 1); err != unix.ENOPROTOOPT {
		t.Fatal(err)
	}
	s.SetSockOpt(ctx, unix.SOL_SOCKET, unix.SO_RCVTIMEO, unixsock.Timeval(1500*time.Millisecond))
	if r, _ := s.Timeouts(); r != 1500*time.Millisecond {
		t.Fatal(r)
	}
	if _, err := unixsock.New(ctx, unix.SOCK_RAW, 0, 0); err != unix.ESOCKTNOSUPPORT {
		t.Fatal(err)
	}
	if _, err := unixsock.New(ctx, unix.SOCK_STREAM, 6, 0); err != unix.EPROTONOSUPPORT {
		t.Fatal(err)
	}
}

// TestStreamConcurrent moves a megabyte through a pair with a blocking
// reader and writer following the waiter protocol.
func TestStreamConcurrent(t *testing.T) {
	ctx, _ := newCtx(t)
	af, bf, _ := unixsock.Pair(ctx, unix.SOCK_STREAM, 0, 0)
	defer af.Close()
	defer bf.Close()
	const total = 1 << 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		src := make([]byte, total)
		for i := range src {
			src[i] = byte(i * 7)
		}
		for len(src) > 0 {
			n, err := waiter.Retry(af, waiter.WritableEvents, nil, func() (int, error) { return af.Write(src) })
			if err != nil {
				t.Error(err)
				return
			}
			src = src[n:]
		}
	}()
	got := 0
	buf := make([]byte, 10000)
	for got < total {
		n, err := waiter.Retry(bf, waiter.ReadableEvents, nil, func() (int, error) { return bf.Read(buf) })
		if err != nil || n == 0 {
			t.Fatal(n, err)
		}
		for i := range n {
			if buf[i] != byte((got+i)*7) {
				t.Fatalf("byte %d wrong", got+i)
			}
		}
		got += n
	}
	wg.Wait()
}
