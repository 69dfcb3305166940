// Package eventfd implements eventfd(2) files: a 64-bit counter that
// write adds to and read takes (all of it, or one in semaphore mode).
//
// Reads on a zero counter and writes that would overflow it past
// 0xfffffffffffffffe return EAGAIN, like every dunix file operation that
// would block; readiness (EventIn when the counter is not zero, EventOut
// when at least 1 can be added) is notified through a waiter.Queue.
// It runs in Go context.
package eventfd

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"dunix/fs/vfs"
	"dunix/fs/waiter"
)

// max is the largest value the counter holds.
const max = ^uint64(0) - 1

type eventfd struct {
	mu    sync.Mutex
	count uint64
	sem   bool
	q     waiter.Queue
}

// New returns an eventfd file with counter initval. flags may hold
// EFD_SEMAPHORE, EFD_NONBLOCK and EFD_CLOEXEC (the caller keeps
// close-on-exec); others are EINVAL.
func New(initval uint64, flags int) (*vfs.File, error) {
	if flags&^(unix.EFD_SEMAPHORE|unix.EFD_NONBLOCK|unix.EFD_CLOEXEC) != 0 {
		return nil, unix.EINVAL
	}
	e := &eventfd{count: initval, sem: flags&unix.EFD_SEMAPHORE != 0}
	ino := vfs.NewAnonInode(unix.S_IFREG|0o600, 0, 0)
	return vfs.NewFile(e, ino, unix.O_RDWR|flags&unix.O_NONBLOCK, "anon_inode:[eventfd]"), nil
}

// Stream implements vfs.Streamer: an eventfd has no position.
func (e *eventfd) Stream() bool { return true }

// Read takes the counter (or 1 of it): EINVAL for a buffer under 8 bytes.
func (e *eventfd) Read(_ *vfs.File, dst []byte, _ int64) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	if e.count == 0 {
		e.mu.Unlock()
		return 0, unix.EAGAIN
	}
	v := e.count
	if e.sem {
		v = 1
	}
	e.count -= v
	e.mu.Unlock()
	binary.LittleEndian.PutUint64(dst, v)
	e.q.Notify(waiter.WritableEvents)
	return 8, nil
}

// Write adds an 8-byte value: EINVAL for a shorter buffer or the value
// 2^64-1, EAGAIN if the sum would pass the maximum.
func (e *eventfd) Write(_ *vfs.File, src []byte, _ int64) (int, error) {
	if len(src) < 8 {
		return 0, unix.EINVAL
	}
	v := binary.LittleEndian.Uint64(src)
	if v == ^uint64(0) {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	if max-e.count < v {
		e.mu.Unlock()
		return 0, unix.EAGAIN
	}
	e.count += v
	e.mu.Unlock()
	if v > 0 {
		e.q.Notify(waiter.ReadableEvents)
	}
	return 8, nil
}

// Release implements vfs.FileOps.
func (e *eventfd) Release() {}

// Readiness implements waiter.Waitable.
func (e *eventfd) Readiness(mask waiter.EventMask) waiter.EventMask {
	e.mu.Lock()
	defer e.mu.Unlock()
	var r waiter.EventMask
	if e.count > 0 {
		r |= waiter.ReadableEvents
	}
	if e.count < max {
		r |= waiter.WritableEvents
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (e *eventfd) EventRegister(w *waiter.Entry) { e.q.Register(w) }

// EventUnregister implements waiter.Waitable.
func (e *eventfd) EventUnregister(w *waiter.Entry) { e.q.Unregister(w) }
