package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/hashicorp/yamux"
)

// Stream is one bidirectional byte stream with a service on a peer. It is
// a net.Conn: deadlines work; Close ends our direction (the peer reads
// io.EOF) and the stream is released once both ends closed. Read returns
// io.EOF when the peer closed its direction; errors that end a stream
// otherwise are *OpError values wrapping ErrPeerGone, ErrClosed or
// os.ErrDeadlineExceeded.
type Stream struct {
	c       net.Conn // a yamux stream, or one end of a pipe to ourselves
	t       *Transport
	s       *session // nil for a stream to ourselves
	peer    string
	service string
}

// Peer is the node at the other end (authenticated).
func (st *Stream) Peer() string { return st.peer }

// Service is the service the stream was opened to.
func (st *Stream) Service() string { return st.service }

// Read reads from the stream.
func (st *Stream) Read(p []byte) (int, error) {
	n, err := st.c.Read(p)
	return n, st.wrap("read", err)
}

// Write writes to the stream (all of p, or an error).
func (st *Stream) Write(p []byte) (int, error) {
	n, err := st.c.Write(p)
	return n, st.wrap("write", err)
}

// Close ends this side of the stream.
func (st *Stream) Close() error { return st.c.Close() }

// LocalAddr is the local address of the connection carrying the stream.
func (st *Stream) LocalAddr() net.Addr { return st.c.LocalAddr() }

// RemoteAddr is the peer's address on the connection carrying the stream.
func (st *Stream) RemoteAddr() net.Addr { return st.c.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (st *Stream) SetDeadline(t time.Time) error { return st.c.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (st *Stream) SetReadDeadline(t time.Time) error { return st.c.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (st *Stream) SetWriteDeadline(t time.Time) error { return st.c.SetWriteDeadline(t) }

// OpError is an error that ended a stream operation.
type OpError struct {
	Op      string // "read" or "write"
	Node    string // the peer
	Service string
	Err     error // ErrPeerGone, ErrClosed, os.ErrDeadlineExceeded, or another cause
}

func (e *OpError) Error() string {
	return fmt.Sprintf("transport: %s %s on %s: %v", e.Op, e.Service, e.Node, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether a deadline passed (net.Error).
func (e *OpError) Timeout() bool { return errors.Is(e.Err, os.ErrDeadlineExceeded) }

// Temporary is false (net.Error).
func (e *OpError) Temporary() bool { return false }

// wrap turns an error of the underlying stream into the package's errors.
func (st *Stream) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	e := &OpError{Op: op, Node: st.peer, Service: st.service, Err: err}
	switch {
	case st.s != nil && st.s.mux.IsClosed():
		// yamux ends every stream of a dead session with io.EOF:
		// that is not the peer closing the stream.
		e.Err = st.t.goneErr()
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, yamux.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		e.Err = os.ErrDeadlineExceeded
	case errors.Is(err, yamux.ErrConnectionReset):
		e.Err = fmt.Errorf("%w (stream reset)", ErrPeerGone)
	}
	return e
}

// withContext runs fn (which reads or writes st) under ctx: ctx's
// deadline becomes the stream's, cancelling ctx interrupts fn, and a
// timeout caused by ctx is reported as ctx's error.
func (st *Stream) withContext(ctx context.Context, fn func() error) error {
	dl, hasDL := ctx.Deadline()
	if hasDL {
		st.c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { st.c.SetDeadline(time.Unix(1, 0)) })
	err := fn()
	if !stop() {
		// ctx ended while fn ran: its deadline may land on the
		// stream at any time now, so the stream is no longer usable.
		return ctx.Err()
	}
	st.c.SetDeadline(time.Time{})
	if err != nil && isTimeout(err) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if hasDL && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
