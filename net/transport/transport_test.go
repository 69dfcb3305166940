package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"dunix/net/clusterkey"
)

// fabric is a set of test nodes on loopback TCP that dial each other by
// name through a shared table.
type fabric struct {
	t      *testing.T
	mu     sync.Mutex
	addrs  map[string]string     // node name -> listener address
	conns  map[string][]net.Conn // node name -> connections it accepted or dialed
	frozen map[string]bool
}

func newFabric(t *testing.T) *fabric {
	return &fabric{t: t, addrs: map[string]string{}, conns: map[string][]net.Conn{}, frozen: map[string]bool{}}
}

// node starts a transport named name with key on a fresh listener.
func (f *fabric) node(name string, key clusterkey.Key, opts ...func(*Config)) *Transport {
	f.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.addrs[name] = ln.Addr().String()
	f.mu.Unlock()
	cfg := Config{
		Name:     name,
		Key:      key,
		Listener: &trackListener{Listener: ln, f: f, node: name},
		Dial: func(ctx context.Context, node string) (net.Conn, error) {
			f.mu.Lock()
			addr, ok := f.addrs[node]
			f.mu.Unlock()
			if !ok {
				return nil, fmt.Errorf("no address for %q", node)
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return f.track(name, c), nil
		},
		Logf: func(format string, args ...any) { f.t.Logf(name+": "+format, args...) },
	}
	for _, o := range opts {
		o(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { tr.Close() })
	return tr
}

// track records c as a connection of node, and makes it freezable.
func (f *fabric) track(node string, c net.Conn) net.Conn {
	fc := &freezeConn{Conn: c, f: f, node: node, closed: make(chan struct{})}
	f.mu.Lock()
	f.conns[node] = append(f.conns[node], fc)
	f.mu.Unlock()
	return fc
}

// kill closes every TCP connection of node (as if its machine died
// with a reset).
func (f *fabric) kill(node string) {
	f.mu.Lock()
	list := f.conns[node]
	f.conns[node] = nil
	f.mu.Unlock()
	for _, c := range list {
		c.Close()
	}
}

// freeze makes node's connections silent: writes vanish, reads block
// (a machine that stopped without a reset).
func (f *fabric) freeze(node string) {
	f.mu.Lock()
	f.frozen[node] = true
	f.mu.Unlock()
}

func (f *fabric) isFrozen(node string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frozen[node]
}

type trackListener struct {
	net.Listener
	f    *fabric
	node string
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.f.track(l.node, c), nil
}

type freezeConn struct {
	net.Conn
	f      *fabric
	node   string
	once   sync.Once
	closed chan struct{}
}

func (c *freezeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.f.isFrozen(c.node) {
		<-c.closed
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *freezeConn) Write(p []byte) (int, error) {
	if c.f.isFrozen(c.node) {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *freezeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func testKey(t *testing.T) clusterkey.Key {
	k, err := clusterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// echo serves a stream by sending back the peer's name and then
// everything it reads.
func echo(s *Stream) {
	fmt.Fprintf(s, "%s\n", s.Peer())
	io.Copy(s, s)
}

func TestStreamsBothWays(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a, b := f.node("a", key), f.node("b", key)
	a.Handle("echo", echo)
	b.Handle("echo", echo)
	ctx := ctxTimeout(t, 10*time.Second)

	for _, dir := range []struct {
		from, to *Transport
	}{{a, b}, {b, a}, {a, b}} {
		c, err := dir.from.Open(ctx, dir.to.Name(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		if got := c.(*Stream).Peer(); got != dir.to.Name() {
			t.Errorf("stream peer %q, want %q", got, dir.to.Name())
		}
		msg := bytes.Repeat([]byte("fabric "), 100000) // beyond the window: flow control
		go func() {
			c.Write(msg)
			c.(*Stream).Close()
		}()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("%s->%s: %v", dir.from.Name(), dir.to.Name(), err)
		}
		want := append([]byte(dir.from.Name()+"\n"), msg...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s->%s: echoed %d bytes, want %d", dir.from.Name(), dir.to.Name(), len(got), len(want))
		}
	}
	// One connection carried all three streams.
	if n := a.Counters()["sessions_opened"] + b.Counters()["sessions_opened"]; n != 2 {
		t.Errorf("sessions opened on both ends: %d, want 2 (one connection)", n)
	}
	if d := a.Counters()["dials"] + b.Counters()["dials"]; d != 1 {
		t.Errorf("dials: %d, want 1", d)
	}
}

func TestManyConcurrentCalls(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	nodes := []*Transport{f.node("n1", key), f.node("n2", key), f.node("n3", key)}
	for _, n := range nodes {
		n := n
		n.HandleCall("rev", func(ctx context.Context, from string, req []byte) ([]byte, error) {
			out := []byte(from + ">" + n.Name() + ":")
			for i := len(req) - 1; i >= 0; i-- {
				out = append(out, req[i])
			}
			return out, nil
		})
	}
	ctx := ctxTimeout(t, 20*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := 0; i < 300; i++ {
		from, to := nodes[i%3], nodes[(i/3)%3]
		size := []int{0, 1, 100, 70000}[i%4]
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, size)
			rand.Read(req)
			resp, err := from.Call(ctx, to.Name(), "rev", req)
			if err != nil {
				errs <- err
				return
			}
			prefix := from.Name() + ">" + to.Name() + ":"
			if !bytes.HasPrefix(resp, []byte(prefix)) || len(resp) != len(prefix)+size {
				errs <- fmt.Errorf("bad response %.40q", resp)
				return
			}
			body := resp[len(prefix):]
			for j := range req {
				if body[j] != req[len(req)-1-j] {
					errs <- errors.New("bad response body")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if s := n.Counters()["sessions"]; s > 4 {
			t.Errorf("%s: %d sessions for 2 peers", n.Name(), s)
		}
	}
}

func TestCallErrors(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a, b := f.node("a", key), f.node("b", key)
	b.HandleCall("fail", func(ctx context.Context, from string, req []byte) ([]byte, error) {
		return nil, errors.New("no disk")
	})
	a.HandleCall("self", func(ctx context.Context, from string, req []byte) ([]byte, error) {
		return append([]byte(from+":"), req...), nil
	})
	ctx := ctxTimeout(t, 10*time.Second)

	_, err := a.Call(ctx, "b", "fail", nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "no disk" || re.Node != "b" {
		t.Errorf("remote error: %v", err)
	}
	if _, err := a.Call(ctx, "b", "nothing", nil); !errors.Is(err, ErrNoService) {
		t.Errorf("call to missing service: %v, want ErrNoService", err)
	}
	if _, err := a.Open(ctx, "b", "nothing"); !errors.Is(err, ErrNoService) {
		t.Errorf("open of missing service: %v, want ErrNoService", err)
	}
	if _, err := a.Call(ctx, "zz", "fail", nil); !errors.Is(err, ErrUnreachable) {
		t.Errorf("call to unknown node: %v, want ErrUnreachable", err)
	}
	if _, err := a.Call(ctx, "b", "bad name", nil); err == nil {
		t.Errorf("call with a space in the service name succeeded")
	}
	resp, err := a.Call(ctx, "a", "self", []byte("x"))
	if err != nil || string(resp) != "a:x" {
		t.Errorf("call to self: %q, %v", resp, err)
	}
	if n := b.Counters()["no_service"]; n != 2 {
		t.Errorf("b no_service = %d, want 2", n)
	}
}

func TestCallDeadline(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a, b := f.node("a", key), f.node("b", key)
	handlerDone := make(chan time.Duration, 1)
	b.HandleCall("slow", func(ctx context.Context, from string, req []byte) ([]byte, error) {
		start := time.Now()
		if _, ok := ctx.Deadline(); !ok {
			handlerDone <- -1
			return nil, nil
		}
		<-ctx.Done()
		handlerDone <- time.Since(start)
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Call(ctx, "b", "slow", nil)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if took > 2*time.Second {
		t.Errorf("call returned after %v, deadline was 300ms", took)
	}
	select {
	case d := <-handlerDone:
		if d < 0 || d > 2*time.Second {
			t.Errorf("handler context: ended after %v (-1: no deadline)", d)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("handler's context never ended")
	}

	// Cancellation without deadline interrupts too.
	b.HandleCall("forever", func(ctx context.Context, from string, req []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	if _, err := a.Call(ctx2, "b", "forever", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want Canceled", err)
	}
	// The connection is still fine afterwards.
	b.HandleCall("ok", func(ctx context.Context, from string, req []byte) ([]byte, error) { return []byte("ok"), nil })
	if resp, err := a.Call(ctxTimeout(t, 5*time.Second), "b", "ok", nil); err != nil || string(resp) != "ok" {
		t.Errorf("call after timeouts: %q %v", resp, err)
	}
}

// blockingCalls starts n calls from a to b's service "block" (which never
// answers) and returns their errors as they end.
func blockingCalls(t *testing.T, a, b *Transport, n int) (<-chan error, <-chan struct{}) {
	entered := make(chan struct{}, n)
	b.HandleCall("block", func(ctx context.Context, from string, req []byte) ([]byte, error) {
		entered <- struct{}{}
		select {} // a wedged handler: only the caller's side can end the call
	})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := a.Call(context.Background(), b.Name(), "block", nil)
			errs <- err
		}()
	}
	all := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			<-entered
		}
		close(all)
	}()
	return errs, all
}

func waitErrs(t *testing.T, errs <-chan error, n int, want error, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, want) {
				t.Errorf("call in flight ended with %v, want %v", err, want)
			}
		case <-deadline:
			t.Fatalf("%d of %d calls in flight still running after %v", n-i, n, within)
		}
	}
}

func TestPeerKilledMidCall(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a, b := f.node("a", key), f.node("b", key)
	errs, entered := blockingCalls(t, a, b, 5)
	<-entered
	f.kill("b") // b's machine resets its connections
	waitErrs(t, errs, 5, ErrPeerGone, 5*time.Second)
	if got := a.Peers(); len(got) != 0 {
		t.Errorf("peers after kill: %v", got)
	}
	// b is reachable again with a new connection.
	b.HandleCall("ok", func(ctx context.Context, from string, req []byte) ([]byte, error) { return []byte("ok"), nil })
	if _, err := a.Call(ctxTimeout(t, 5*time.Second), "b", "ok", nil); err != nil {
		t.Errorf("call after reconnect: %v", err)
	}
}

func TestPeerSilentMidCall(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	short := func(c *Config) { c.KeepAlive = 200 * time.Millisecond }
	a, b := f.node("a", key, short), f.node("b", key, short)
	errs, entered := blockingCalls(t, a, b, 3)
	<-entered
	start := time.Now()
	f.freeze("b") // b stops without a reset: only keep-alives notice
	waitErrs(t, errs, 3, ErrPeerGone, 5*time.Second)
	t.Logf("silent peer detected after %v (keep-alive 200ms)", time.Since(start))
}

func TestDisconnectAndCloseMidCall(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a, b, c := f.node("a", key), f.node("b", key), f.node("c", key)
	errs, entered := blockingCalls(t, a, b, 3)
	<-entered
	a.Disconnect("b") // membership declared b dead
	waitErrs(t, errs, 3, ErrPeerGone, 5*time.Second)

	errs, entered = blockingCalls(t, a, c, 3)
	<-entered
	a.Close()
	waitErrs(t, errs, 3, ErrClosed, 5*time.Second)
	if _, err := a.Call(ctxTimeout(t, time.Second), "c", "block", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call on closed transport: %v", err)
	}

	// c sees a's close as the peer gone.
	errs, entered = blockingCalls(t, c, b, 2)
	<-entered
	b.Close()
	waitErrs(t, errs, 2, ErrPeerGone, 5*time.Second)
}

func TestWrongKeyRejected(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a := f.node("a", key)
	evil := f.node("evil", testKey(t))
	a.HandleCall("ok", func(ctx context.Context, from string, req []byte) ([]byte, error) { return []byte("ok"), nil })
	evil.HandleCall("ok", func(ctx context.Context, from string, req []byte) ([]byte, error) { return []byte("ok"), nil })
	ctx := ctxTimeout(t, 10*time.Second)

	// The wrong-key node as client: a refuses it (and it refuses a).
	if _, err := evil.Call(ctx, "a", "ok", nil); !errors.Is(err, ErrUnreachable) {
		t.Errorf("wrong-key client: %v, want ErrUnreachable", err)
	}
	// As server: a refuses its certificate.
	_, err := a.Call(ctx, "evil", "ok", nil)
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrBadCertificate) {
		t.Errorf("wrong-key server: %v, want ErrUnreachable and ErrBadCertificate", err)
	}
	// Handshake failures are counted on the listening side when
	// the error surfaces there; wait for the server goroutines.
	waitFor(t, func() bool {
		ca, ce := a.Counters(), evil.Counters()
		return ca["handshake_failures"] >= 2 && ca["rejected_peers"] >= 1 &&
			ce["handshake_failures"] >= 2 && ce["rejected_peers"] >= 1
	})
	t.Logf("a: %v", a.Counters())
	if a.Counters()["sessions_opened"] != 0 {
		t.Errorf("a opened a session with the wrong-key node")
	}
}

func TestImpostorRejected(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a := f.node("a", key)
	f.node("b", key)
	c := f.node("c", key)
	c.HandleCall("who", func(ctx context.Context, from string, req []byte) ([]byte, error) { return []byte("c"), nil })
	// Resolution sends a's dial for b to c: c has a valid certificate,
	// but for another name.
	f.mu.Lock()
	f.addrs["b"] = f.addrs["c"]
	f.mu.Unlock()
	_, err := a.Call(ctxTimeout(t, 5*time.Second), "b", "who", nil)
	if !errors.Is(err, ErrWrongNode) {
		t.Fatalf("call to b answered by c: %v, want ErrWrongNode", err)
	}
	if n := a.Counters()["rejected_wrong_name"]; n != 1 {
		t.Errorf("rejected_wrong_name = %d, want 1", n)
	}
}

func TestSameNameRejected(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a := f.node("a", key)
	// Another node with the cluster key that also calls itself "a"
	// connects to a (through the internal session call: Open to one's
	// own name stays local).
	twin, err := New(Config{Name: "a", Key: key, Dial: func(ctx context.Context, node string) (net.Conn, error) {
		return net.Dial("tcp", f.addrs["a"])
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer twin.Close()
	if s, err := twin.session(ctxTimeout(t, 5*time.Second), "a"); err == nil {
		// TLS 1.3 lets the client finish first; a closes right after.
		select {
		case <-s.mux.CloseChan():
		case <-time.After(5 * time.Second):
			t.Errorf("a kept a connection from a node with its own name")
		}
	}
	waitFor(t, func() bool { return a.Counters()["rejected_peers"] == 1 })
	if p := a.Peers(); len(p) != 0 {
		t.Errorf("a's peers: %v", p)
	}
}

func TestGarbageToListener(t *testing.T) {
	f := newFabric(t)
	key := testKey(t)
	a, b := f.node("a", key), f.node("b", key)
	a.HandleCall("ok", func(ctx context.Context, from string, req []byte) ([]byte, error) { return []byte("ok"), nil })
	addr := f.addrs["a"]
	inputs := [][]byte{
		nil,
		{0x16, 0x03, 0x01},                   // truncated TLS record header
		{0x16, 0x03, 0x01, 0xff, 0xff, 0x01}, // record claiming 64 KiB
		[]byte("GET / HTTP/1.0\r\n\r\n"),
		bytes.Repeat([]byte{0}, 10000),
	}
	for i := 0; i < 20; i++ {
		p := make([]byte, 1+i*97)
		rand.Read(p)
		inputs = append(inputs, p)
	}
	var wg sync.WaitGroup
	for _, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.Write(in)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return a.Counters()["handshake_failures"] >= uint64(len(inputs)) })

	// An authenticated peer sending garbage stream headers.
	s, err := b.session(ctxTimeout(t, 5*time.Second), "a")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{{}, {1}, {9, 9, 9, 9, 9, 9, 9}, {1, 2, 0, 0, 0, 0, 0}, {1, 1, 0, 0, 0, 0, 5, 'a', 'b'}, {1, 2, 0, 0, 0, 0, 2, 'o', 'k', 0xff, 0xff, 0xff, 0xff}} {
		ys, err := s.mux.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		ys.Write(in)
		ys.Close()
		ys.SetReadDeadline(time.Now().Add(3 * time.Second))
		io.Copy(io.Discard, ys)
	}
	waitFor(t, func() bool { return a.Counters()["bad_headers"] >= 6 })
	if resp, err := b.Call(ctxTimeout(t, 5*time.Second), "a", "ok", nil); err != nil || string(resp) != "ok" {
		t.Errorf("call after garbage: %q %v", resp, err)
	}
	t.Logf("a: %v", a.Counters())
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []header{
		{kind: kindStream, service: "fs"},
		{kind: kindCall, timeout: 1500 * time.Millisecond, service: "proc.migrate"},
		{kind: kindCall, timeout: time.Microsecond, service: string(bytes.Repeat([]byte{'x'}, MaxServiceLen))},
	} {
		got, err := readHeader(bytes.NewReader(h.encode(nil)))
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		if h.timeout > 0 && h.timeout < time.Millisecond {
			h.timeout = time.Millisecond
		}
		if got != h {
			t.Errorf("round trip %+v -> %+v", h, got)
		}
	}
}

// FuzzReadHeader feeds arbitrary bytes to the stream header and frame
// decoders: they must fail cleanly or decode something that encodes back
// to the same bytes.
func FuzzReadHeader(f *testing.F) {
	f.Add(header{kind: kindStream, service: "fs"}.encode(nil))
	f.Add(appendFrame(header{kind: kindCall, timeout: time.Second, service: "x"}.encode(nil), []byte("req")))
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, err := readHeader(r)
		if err != nil {
			if !errors.Is(err, errBadHeader) {
				t.Fatalf("error %v does not wrap errBadHeader", err)
			}
			return
		}
		enc := h.encode(nil)
		if !bytes.Equal(enc, data[:len(enc)]) {
			t.Fatalf("decoded %+v re-encodes to %x, input %x", h, enc, data[:len(enc)])
		}
		if h.kind == kindCall {
			rest := r.Len()
			p, err := readFrame(r, 1<<10)
			if err == nil && len(p) > rest {
				t.Fatalf("frame of %d bytes from %d", len(p), rest)
			}
		}
	})
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within 5s")
}
