// Package transport connects fabric nodes to each other by node name: a
// subsystem opens a byte stream to a named service on a named node
// (Open/Handle), or makes a request/response call (Call/HandleCall).
//
// Between two nodes there is one TCP connection (two at most, when both
// dial at the same instant), secured by TLS 1.3 with mutual
// authentication, and multiplexed into streams by yamux (which gives each
// stream its own flow control). Trust comes from the cluster key only:
// every node derives the same ed25519 CA key from it
// (clusterkey.Transport), and at start makes a fresh ed25519 key and a
// certificate for it, signed by that CA, whose CommonName is the node
// name. Both ends verify the peer's chain against the CA; the dialer also
// checks that the certificate names the node it meant to reach, and the
// acceptor takes the peer's name from the certificate (never from what
// the peer says). A peer without the cluster key fails the handshake and
// is counted (Counters).
//
// Invariants: the node name attached to an incoming stream or call is the
// authenticated one; nothing read from the network panics or allocates
// more than a frame actually carries; errors are wrapped with the node
// and service and match ErrPeerGone, ErrUnreachable, ErrNoService,
// ErrClosed or a context error under errors.Is.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"dunix/net/clusterkey"
)

// Errors callers test for with errors.Is.
var (
	// ErrPeerGone: the connection to the peer ended (the peer died,
	// closed, was disconnected, or stopped answering keep-alives) while a
	// stream or call was using it.
	ErrPeerGone = errors.New("peer gone")
	// ErrUnreachable: no authenticated connection to the peer could be
	// made (dial or TLS handshake failed).
	ErrUnreachable = errors.New("peer unreachable")
	// ErrNoService: the peer has no handler for the service.
	ErrNoService = errors.New("no such service")
	// ErrClosed: this transport was closed.
	ErrClosed = errors.New("transport closed")
)

// Defaults for Config fields left zero.
const (
	DefaultKeepAlive        = 5 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	// maxHandshakes bounds the TLS handshakes in progress on the
	// listener; connections beyond it are closed at once and counted.
	maxHandshakes = 64
	// headerTimeout bounds how long an accepted stream may take to send
	// its header.
	headerTimeout = 10 * time.Second
)

// Config configures a Transport.
type Config struct {
	Name     string         // this node's name (printable, unique in the fabric)
	Key      clusterkey.Key // the cluster key (the CA is derived from it)
	Listener net.Listener   // where peers connect to us; the Transport owns and closes it (nil: dial only)
	// Dial connects to a node by name (the fabric resolves it through
	// membership). The Transport runs TLS over the connection.
	Dial func(ctx context.Context, node string) (net.Conn, error)
	Logf func(format string, args ...any) // diagnostics; nil discards

	// KeepAlive is yamux's ping interval and the time a ping (or a
	// write to the connection) may take before the connection is
	// declared dead; a silent peer is detected within about twice this.
	// Zero means DefaultKeepAlive.
	KeepAlive time.Duration
	// HandshakeTimeout bounds a TLS handshake. Zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// CallHandler answers a call. from is the authenticated caller; ctx ends
// when the caller's deadline passes or the transport closes. A returned
// error reaches the caller as a *RemoteError with its text.
type CallHandler func(ctx context.Context, from string, req []byte) ([]byte, error)

// RemoteError is a call's error as the remote handler returned it.
type RemoteError struct {
	Node, Service, Msg string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("transport: call %s on %s: remote error: %s", e.Service, e.Node, e.Msg)
}

// Transport is one node's end of the fabric transport. Its methods are
// safe for concurrent use.
type Transport struct {
	cfg   Config
	id    *identity
	ymux  *yamux.Config
	ctx   context.Context // cancelled by Close
	stop  context.CancelFunc
	hs    chan struct{} // handshake slots
	wg    sync.WaitGroup
	count counters

	mu       sync.Mutex
	closed   bool
	sessions map[string][]*session
	dialing  map[string]*dialing
	streams  map[string]func(*Stream)
	calls    map[string]CallHandler
}

// session is one authenticated, multiplexed connection to a peer.
type session struct {
	node string
	mux  *yamux.Session
}

// dialing is a connection attempt in progress that other Opens wait for.
type dialing struct {
	done chan struct{}
	err  error
}

// New starts a transport: it makes this node's certificate and, if a
// listener is given, accepts peers on it.
func New(cfg Config) (*Transport, error) {
	if err := validService(cfg.Name); err != nil {
		return nil, fmt.Errorf("transport: node name: %w", err)
	}
	if cfg.Dial == nil {
		return nil, errors.New("transport: no Dial function")
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	id, err := newIdentity(cfg.Key, cfg.Name)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	t := &Transport{
		cfg:  cfg,
		id:   id,
		ctx:  ctx,
		stop: stop,
		hs:   make(chan struct{}, maxHandshakes),
		ymux: &yamux.Config{
			AcceptBacklog:          256,
			EnableKeepAlive:        true,
			KeepAliveInterval:      cfg.KeepAlive,
			ConnectionWriteTimeout: cfg.KeepAlive,
			MaxStreamWindowSize:    1 << 20,
			StreamOpenTimeout:      6 * cfg.KeepAlive,
			StreamCloseTimeout:     6 * cfg.KeepAlive,
			Logger:                 logger(cfg.Logf),
		},
		sessions: map[string][]*session{},
		dialing:  map[string]*dialing{},
		streams:  map[string]func(*Stream){},
		calls:    map[string]CallHandler{},
	}
	if cfg.Listener != nil {
		t.wg.Add(1)
		go t.acceptLoop()
	}
	return t, nil
}

// Name is this node's name.
func (t *Transport) Name() string { return t.cfg.Name }

// Handle sets the handler of streams opened to service. h runs on its
// own goroutine with the stream, whose Peer is the authenticated node;
// the stream is closed when h returns. A nil h removes the handler.
func (t *Transport) Handle(service string, h func(s *Stream)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h == nil {
		delete(t.streams, service)
	} else {
		t.streams[service] = h
	}
}

// HandleCall sets the handler of calls to service. A nil fn removes it.
func (t *Transport) HandleCall(service string, fn CallHandler) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fn == nil {
		delete(t.calls, service)
	} else {
		t.calls[service] = fn
	}
}

// Open opens a stream to service on node. It returns once the peer has
// accepted the stream (or answered that it has no such service); ctx
// bounds the connection set-up and that wait, not the stream's life. The
// net.Conn is a *Stream. Opening a stream to this node itself works
// (through an in-memory pipe).
func (t *Transport) Open(ctx context.Context, node, service string) (net.Conn, error) {
	if err := validService(service); err != nil {
		return nil, fmt.Errorf("transport: open %s on %s: %w", service, node, err)
	}
	st, err := t.openStream(ctx, node, header{kind: kindStream, service: service}, nil)
	if err != nil {
		return nil, err
	}
	var status [1]byte
	if err := st.withContext(ctx, func() error { _, err := io.ReadFull(st, status[:]); return err }); err != nil {
		st.Close()
		return nil, fmt.Errorf("transport: open %s on %s: %w", service, node, err)
	}
	switch status[0] {
	case statusOK:
		return st, nil
	case statusNoService:
		st.Close()
		return nil, fmt.Errorf("transport: open %s on %s: %w", service, node, ErrNoService)
	default:
		st.Close()
		return nil, fmt.Errorf("transport: open %s on %s: status %d", service, node, status[0])
	}
}

// Call sends req to service on node and returns the response. ctx's
// deadline bounds the whole call and is passed to the remote handler.
// Errors: a *RemoteError when the handler failed, else wrapped
// ErrNoService, ErrPeerGone, ErrUnreachable, ErrClosed or ctx.Err().
func (t *Transport) Call(ctx context.Context, node, service string, req []byte) ([]byte, error) {
	t.count.add(&t.count.callsOut)
	resp, err := t.call(ctx, node, service, req)
	if err != nil {
		var re *RemoteError
		if !errors.As(err, &re) {
			t.count.add(&t.count.callErrors)
		}
	}
	return resp, err
}

func (t *Transport) call(ctx context.Context, node, service string, req []byte) ([]byte, error) {
	if err := validService(service); err != nil {
		return nil, fmt.Errorf("transport: call %s on %s: %w", service, node, err)
	}
	if len(req) > MaxMessage {
		return nil, fmt.Errorf("transport: call %s on %s: request of %d bytes exceeds %d", service, node, len(req), MaxMessage)
	}
	h := header{kind: kindCall, service: service}
	if dl, ok := ctx.Deadline(); ok {
		h.timeout = time.Until(dl)
		if h.timeout <= 0 {
			return nil, fmt.Errorf("transport: call %s on %s: %w", service, node, context.DeadlineExceeded)
		}
	}
	st, err := t.openStream(ctx, node, h, req)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var status [1]byte
	var body []byte
	err = st.withContext(ctx, func() error {
		if _, err := io.ReadFull(st, status[:]); err != nil {
			return err
		}
		var err error
		body, err = readFrame(st, MaxMessage)
		return st.wrap("read", err)
	})
	if err != nil {
		return nil, fmt.Errorf("transport: call %s on %s: %w", service, node, err)
	}
	switch status[0] {
	case statusOK:
		return body, nil
	case statusError:
		return nil, &RemoteError{Node: node, Service: service, Msg: string(body)}
	case statusNoService:
		return nil, fmt.Errorf("transport: call %s on %s: %w", service, node, ErrNoService)
	default:
		return nil, fmt.Errorf("transport: call %s on %s: status %d", service, node, status[0])
	}
}

// openStream opens a stream to node and sends h (and, for calls, the
// request frame) on it.
func (t *Transport) openStream(ctx context.Context, node string, h header, req []byte) (*Stream, error) {
	msg := h.encode(nil)
	if h.kind == kindCall {
		msg = appendFrame(msg, req)
	}
	if node == t.cfg.Name {
		return t.openLocal(ctx, h, msg)
	}
	var st *Stream
	for attempt := 0; ; attempt++ {
		s, err := t.session(ctx, node)
		if err != nil {
			return nil, fmt.Errorf("transport: open %s on %s: %w", h.service, node, err)
		}
		ys, err := s.mux.OpenStream()
		if err != nil {
			// The session died since we picked it: one more try
			// on a fresh one.
			t.dropSession(s)
			if attempt == 0 && ctx.Err() == nil {
				continue
			}
			return nil, fmt.Errorf("transport: open %s on %s: %w", h.service, node, t.goneErr())
		}
		st = &Stream{c: ys, t: t, s: s, peer: node, service: h.service}
		break
	}
	t.count.add(&t.count.streamsOut)
	if err := st.withContext(ctx, func() error { _, err := st.Write(msg); return err }); err != nil {
		st.Close()
		return nil, fmt.Errorf("transport: open %s on %s: %w", h.service, node, err)
	}
	return st, nil
}

// openLocal serves a stream to this node itself over an in-memory pipe.
func (t *Transport) openLocal(ctx context.Context, h header, msg []byte) (*Stream, error) {
	if t.isClosed() {
		return nil, fmt.Errorf("transport: open %s on %s: %w", h.service, t.cfg.Name, ErrClosed)
	}
	a, b := net.Pipe()
	t.count.add(&t.count.streamsOut)
	go t.handleStream(&Stream{c: b, t: t, peer: t.cfg.Name})
	st := &Stream{c: a, t: t, peer: t.cfg.Name, service: h.service}
	if err := st.withContext(ctx, func() error { _, err := st.Write(msg); return err }); err != nil {
		st.Close()
		return nil, fmt.Errorf("transport: open %s on %s: %w", h.service, t.cfg.Name, err)
	}
	return st, nil
}

// session returns a live session with node, dialing one if there is
// none. Concurrent callers share one dial.
func (t *Transport) session(ctx context.Context, node string) (*session, error) {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, ErrClosed
		}
		for _, s := range t.sessions[node] {
			if !s.mux.IsClosed() {
				t.mu.Unlock()
				return s, nil
			}
		}
		if d := t.dialing[node]; d != nil {
			t.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			// A dial that failed for its own caller's context
			// says nothing about ours: try again.
			if d.err != nil && !errors.Is(d.err, context.Canceled) && !errors.Is(d.err, context.DeadlineExceeded) {
				return nil, d.err
			}
			continue
		}
		d := &dialing{done: make(chan struct{})}
		t.dialing[node] = d
		t.mu.Unlock()

		s, err := t.dial(ctx, node)
		t.mu.Lock()
		delete(t.dialing, node)
		d.err = err
		close(d.done)
		t.mu.Unlock()
		return s, err
	}
}

// dial connects to node, authenticates it and starts a session.
func (t *Transport) dial(ctx context.Context, node string) (*session, error) {
	t.count.add(&t.count.dials)
	raw, err := t.cfg.Dial(ctx, node)
	if err != nil {
		t.count.add(&t.count.dialErrors)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial: %w", ctx.Err())
		}
		return nil, fmt.Errorf("dial: %w: %w", ErrUnreachable, err)
	}
	tc := tls.Client(raw, t.id.clientConfig(node, t.rejected))
	hctx, cancel := context.WithTimeout(ctx, t.cfg.HandshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		raw.Close()
		t.count.add(&t.count.handshakeFailures)
		t.cfg.Logf("transport: handshake with %s (%s): %v", node, raw.RemoteAddr(), err)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("handshake: %w", ctx.Err())
		}
		return nil, fmt.Errorf("handshake: %w: %w", ErrUnreachable, err)
	}
	mux, err := yamux.Client(tc, t.ymux)
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("yamux: %w", err)
	}
	s := &session{node: node, mux: mux}
	if !t.addSession(s) {
		mux.Close()
		return nil, ErrClosed
	}
	return s, nil
}

// rejected counts a peer whose certificate we refused.
func (t *Transport) rejected(err error) {
	t.count.add(&t.count.rejectedPeers)
	if errors.Is(err, ErrWrongNode) {
		t.count.add(&t.count.rejectedWrongName)
	}
}

// addSession records s and serves the streams the peer opens on it. It
// reports false if the transport is closed.
func (t *Transport) addSession(s *session) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.sessions[s.node] = append(t.sessions[s.node], s)
	t.count.add(&t.count.sessionsOpened)
	t.wg.Add(1)
	go t.serveSession(s)
	return true
}

// dropSession forgets s and closes it.
func (t *Transport) dropSession(s *session) {
	t.mu.Lock()
	list := t.sessions[s.node]
	for i, x := range list {
		if x == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.sessions, s.node)
	} else {
		t.sessions[s.node] = list
	}
	t.mu.Unlock()
	s.mux.Close()
}

// serveSession accepts the streams the peer opens until the session ends.
func (t *Transport) serveSession(s *session) {
	defer t.wg.Done()
	defer t.dropSession(s)
	for {
		ys, err := s.mux.AcceptStream()
		if err != nil {
			if !t.isClosed() {
				t.cfg.Logf("transport: session with %s ended: %v", s.node, err)
			}
			return
		}
		t.count.add(&t.count.streamsIn)
		go t.handleStream(&Stream{c: ys, t: t, s: s, peer: s.node})
	}
}

// handleStream reads an incoming stream's header and runs its handler.
func (t *Transport) handleStream(st *Stream) {
	defer st.Close()
	st.SetReadDeadline(time.Now().Add(headerTimeout))
	h, err := readHeader(st)
	if err != nil {
		t.count.add(&t.count.badHeaders)
		t.cfg.Logf("transport: stream from %s: %v", st.peer, err)
		return
	}
	st.SetReadDeadline(time.Time{})
	st.service = h.service
	t.mu.Lock()
	sh, ch := t.streams[h.service], t.calls[h.service]
	t.mu.Unlock()

	switch h.kind {
	case kindStream:
		if sh == nil {
			t.count.add(&t.count.noService)
			st.Write([]byte{statusNoService})
			return
		}
		if _, err := st.Write([]byte{statusOK}); err != nil {
			return
		}
		sh(st)
	case kindCall:
		t.count.add(&t.count.callsIn)
		ctx := t.ctx
		if h.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, h.timeout)
			defer cancel()
		}
		var req []byte
		err := st.withContext(ctx, func() error {
			var err error
			req, err = readFrame(st, MaxMessage)
			return err
		})
		if err != nil {
			t.count.add(&t.count.badHeaders)
			t.cfg.Logf("transport: call %s from %s: request: %v", h.service, st.peer, err)
			return
		}
		var answer []byte
		switch resp, err := t.runCall(ctx, ch, st.peer, req); {
		case ch == nil:
			t.count.add(&t.count.noService)
			answer = appendFrame([]byte{statusNoService}, nil)
		case err != nil:
			msg := err.Error()
			if len(msg) > maxErrorMessage {
				msg = msg[:maxErrorMessage]
			}
			answer = appendFrame([]byte{statusError}, []byte(msg))
		case len(resp) > MaxMessage:
			answer = appendFrame([]byte{statusError}, []byte("response too large"))
		default:
			answer = appendFrame([]byte{statusOK}, resp)
		}
		st.withContext(ctx, func() error { _, err := st.Write(answer); return err })
	}
}

// runCall runs a call handler (nil: none).
func (t *Transport) runCall(ctx context.Context, fn CallHandler, from string, req []byte) ([]byte, error) {
	if fn == nil {
		return nil, nil
	}
	return fn(ctx, from, req)
}

// acceptLoop accepts connections and authenticates them.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.cfg.Listener.Accept()
		if err != nil {
			if t.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.cfg.Logf("transport: accept: %v", err)
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		t.count.add(&t.count.accepted)
		select {
		case t.hs <- struct{}{}:
			t.wg.Add(1)
			go t.handshake(c)
		default:
			t.count.add(&t.count.handshakesBusy)
			c.Close()
		}
	}
}

// handshake authenticates an accepted connection and starts its session.
func (t *Transport) handshake(c net.Conn) {
	defer t.wg.Done()
	defer func() { <-t.hs }()
	tc := tls.Server(c, t.id.serverConfig(t.rejected))
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		c.Close()
		t.count.add(&t.count.handshakeFailures)
		t.cfg.Logf("transport: handshake from %s: %v", c.RemoteAddr(), err)
		return
	}
	name := tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	if name == t.cfg.Name || validService(name) != nil {
		// Another node with our name, or one we could not address.
		c.Close()
		t.count.add(&t.count.rejectedPeers)
		t.count.add(&t.count.rejectedWrongName)
		t.cfg.Logf("transport: connection from %s: refused node name %q", c.RemoteAddr(), name)
		return
	}
	mux, err := yamux.Server(tc, t.ymux)
	if err != nil {
		tc.Close()
		return
	}
	if !t.addSession(&session{node: name, mux: mux}) {
		mux.Close()
	}
}

// Disconnect closes every connection with node: streams and calls in
// flight with it fail with ErrPeerGone. The fabric calls it when
// membership declares node dead; a later Open connects anew.
func (t *Transport) Disconnect(node string) {
	t.mu.Lock()
	list := append([]*session(nil), t.sessions[node]...)
	t.mu.Unlock()
	for _, s := range list {
		t.dropSession(s)
	}
}

// Peers returns the nodes with which there is a live connection, sorted.
func (t *Transport) Peers() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for n, list := range t.sessions {
		for _, s := range list {
			if !s.mux.IsClosed() {
				out = append(out, n)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// Close stops accepting, closes every connection (streams and calls in
// flight fail with ErrClosed) and waits for the transport's own
// goroutines. It does not wait for handlers still running.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	var all []*session
	for _, list := range t.sessions {
		all = append(all, list...)
	}
	t.mu.Unlock()
	t.stop()
	var err error
	if t.cfg.Listener != nil {
		err = t.cfg.Listener.Close()
	}
	for _, s := range all {
		s.mux.Close()
	}
	t.wg.Wait()
	return err
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// goneErr is the error for a connection that ended: ErrClosed if we
// closed the transport, ErrPeerGone otherwise.
func (t *Transport) goneErr() error {
	if t.isClosed() {
		return ErrClosed
	}
	return ErrPeerGone
}

// Counters returns the transport's counters by name:
//
//	dials, dial_errors       outgoing connection attempts, failed ones
//	accepted                 connections accepted on the listener
//	handshake_failures       TLS handshakes that failed, either direction
//	rejected_peers           peers whose certificate we refused (wrong CA, wrong or our own name)
//	rejected_wrong_name      of those, certificates naming another node
//	handshakes_busy          connections closed unread: too many handshakes in progress
//	sessions_opened          authenticated connections made
//	sessions                 authenticated connections open now
//	streams_out, streams_in  streams opened, accepted (calls included)
//	calls_out, calls_in      calls made, served
//	call_errors              calls made that failed other than by a remote handler error
//	bad_headers              incoming streams with a malformed header or request
//	no_service               incoming streams or calls for a service without handler
func (t *Transport) Counters() map[string]uint64 {
	m := t.count.snapshot()
	t.mu.Lock()
	n := 0
	for _, list := range t.sessions {
		n += len(list)
	}
	t.mu.Unlock()
	m["sessions"] = uint64(n)
	return m
}

// counters are the transport's event counts.
type counters struct {
	dials, dialErrors, accepted, handshakeFailures   atomic.Uint64
	rejectedPeers, rejectedWrongName, handshakesBusy atomic.Uint64
	sessionsOpened, streamsOut, streamsIn            atomic.Uint64
	callsOut, callsIn, callErrors, badHeaders        atomic.Uint64
	noService                                        atomic.Uint64
}

func (c *counters) add(v *atomic.Uint64) { v.Add(1) }

func (c *counters) snapshot() map[string]uint64 {
	return map[string]uint64{
		"dials":               c.dials.Load(),
		"dial_errors":         c.dialErrors.Load(),
		"accepted":            c.accepted.Load(),
		"handshake_failures":  c.handshakeFailures.Load(),
		"rejected_peers":      c.rejectedPeers.Load(),
		"rejected_wrong_name": c.rejectedWrongName.Load(),
		"handshakes_busy":     c.handshakesBusy.Load(),
		"sessions_opened":     c.sessionsOpened.Load(),
		"streams_out":         c.streamsOut.Load(),
		"streams_in":          c.streamsIn.Load(),
		"calls_out":           c.callsOut.Load(),
		"calls_in":            c.callsIn.Load(),
		"call_errors":         c.callErrors.Load(),
		"bad_headers":         c.badHeaders.Load(),
		"no_service":          c.noService.Load(),
	}
}

// logger adapts Logf to yamux's Logger.
type logger func(string, ...any)

func (l logger) Print(v ...any)                 { l("%s", fmt.Sprint(v...)) }
func (l logger) Printf(format string, v ...any) { l(format, v...) }
func (l logger) Println(v ...any)               { l("%s", fmt.Sprint(v...)) }
