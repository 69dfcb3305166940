// Package waiter delivers readiness notifications, in the manner of
// gVisor's waiter.Queue: an object that can become ready (a pipe, a terminal,
// a socket) owns a Queue; whoever wants to know registers an Entry carrying
// an event mask and a channel or a callback; the object calls Notify with the
// events that happened, and every entry whose mask intersects them is woken.
//
// File operations in dunix never block: they return syscall.EAGAIN ("would
// block"). A caller that must block (read on an empty pipe, poll, select,
// epoll) follows this protocol, which Retry implements:
//
//  1. try the operation; if it did not return EAGAIN, done;
//  2. register an Entry for the events that could make it succeed;
//  3. try again (readiness may have changed before the registration);
//  4. wait for the entry's channel, or a cancel channel (signal, timeout);
//  5. go to 3; unregister when done.
//
// Event bits are Linux's poll(2) bits. EventErr and EventHUp are always
// delivered: an entry is woken by them whatever its mask, as poll(2) and
// epoll(7) always report POLLERR and POLLHUP.
//
// Everything here is safe for concurrent use. It runs in Go context.
package waiter

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// EventMask is a set of readiness events, with the bit values of Linux's
// poll(2) and epoll(7) events.
type EventMask uint32

// Events, with their Linux values.
const (
	EventIn     EventMask = 0x1    // POLLIN: data to read
	EventPri    EventMask = 0x2    // POLLPRI: urgent data
	EventOut    EventMask = 0x4    // POLLOUT: writing would not block
	EventErr    EventMask = 0x8    // POLLERR: error (always reported)
	EventHUp    EventMask = 0x10   // POLLHUP: hang-up (always reported)
	EventNVal   EventMask = 0x20   // POLLNVAL: invalid descriptor (poll only)
	EventRdNorm EventMask = 0x40   // POLLRDNORM: normal data to read
	EventRdBand EventMask = 0x80   // POLLRDBAND: priority band data to read
	EventWrNorm EventMask = 0x100  // POLLWRNORM: normal data may be written
	EventWrBand EventMask = 0x200  // POLLWRBAND: priority data may be written
	EventMsg    EventMask = 0x400  // POLLMSG
	EventRdHUp  EventMask = 0x2000 // POLLRDHUP: peer closed its writing side

	// EventOpen is not a poll bit: it is notified when the other side of a
	// FIFO opens, which completes a blocking FIFO open waiting for it. It
	// lies outside every bit Linux defines for poll and epoll.
	EventOpen EventMask = 1 << 16

	// EventAlways holds the events delivered whatever an entry's mask.
	EventAlways = EventErr | EventHUp
	// ReadableEvents are the events that mean "a read would not block".
	ReadableEvents = EventIn | EventRdNorm
	// WritableEvents are the events that mean "a write would not block".
	WritableEvents = EventOut | EventWrNorm
	// AllEvents is every event a Queue can notify.
	AllEvents EventMask = 0xffff | EventOpen
)

// Waitable is implemented by objects that can be waited for: open files.
type Waitable interface {
	// Readiness returns the events of mask that are ready now, plus
	// EventErr and EventHUp when they hold.
	Readiness(mask EventMask) EventMask
	// EventRegister adds e to the object's queue.
	EventRegister(e *Entry)
	// EventUnregister removes e from the object's queue.
	EventUnregister(e *Entry)
}

// Entry is one registration on a Queue. Create it with NewEntry,
// NewChannelEntry or NewFuncEntry. An Entry is on at most one Queue at a
// time; it may be registered again after Unregister.
type Entry struct {
	mask       EventMask
	ch         chan struct{}
	fn         func(EventMask)
	q          *Queue
	prev, next *Entry
}

// NewEntry returns an entry for mask that, when notified, sends on ch
// without blocking (a full channel already holds a pending wake-up). ch
// should have a buffer of at least one. Several entries may share one
// channel: poll(2) on many files uses one channel for all of them.
func NewEntry(mask EventMask, ch chan struct{}) *Entry {
	return &Entry{mask: mask, ch: ch}
}

// NewChannelEntry returns an entry for mask and the channel it signals,
// which has a buffer of one.
func NewChannelEntry(mask EventMask) (*Entry, chan struct{}) {
	ch := make(chan struct{}, 1)
	return NewEntry(mask, ch), ch
}

// NewFuncEntry returns an entry for mask that calls fn with the notified
// events that concern it. fn runs with the Queue's lock held, on the
// notifier's goroutine: it must not block, and must not call Register,
// Unregister or Notify on the same Queue. epoll's callback fits.
func NewFuncEntry(mask EventMask, fn func(ready EventMask)) *Entry {
	return &Entry{mask: mask, fn: fn}
}

// Mask returns the events e waits for (EventAlways is implied).
func (e *Entry) Mask() EventMask { return e.mask }

// Queue is a set of entries to notify. The zero value is an empty queue
// ready for use. A Queue must not be copied after first use.
type Queue struct {
	mu   sync.Mutex
	head *Entry
	n    atomic.Int32 // registered entries, read without the lock by Notify
}

// Register adds e to q. Registering an entry that is already on a queue
// panics.
func (q *Queue) Register(e *Entry) {
	q.mu.Lock()
	if e.q != nil {
		q.mu.Unlock()
		panic("waiter: entry registered twice")
	}
	e.q = q
	e.prev = nil
	e.next = q.head
	if q.head != nil {
		q.head.prev = e
	}
	q.head = e
	q.n.Add(1)
	q.mu.Unlock()
}

// Unregister removes e from q. It does nothing if e is not on q. After it
// returns, e's callback is not running and will not be called by q.
func (q *Queue) Unregister(e *Entry) {
	q.mu.Lock()
	if e.q == q {
		if e.prev != nil {
			e.prev.next = e.next
		} else {
			q.head = e.next
		}
		if e.next != nil {
			e.next.prev = e.prev
		}
		e.prev, e.next, e.q = nil, nil, nil
		q.n.Add(-1)
	}
	q.mu.Unlock()
}

// Notify wakes every entry of q whose mask, plus EventAlways, intersects
// mask. Callers change the object's state before notifying, so that a
// waiter that registered and re-checked cannot miss the change.
func (q *Queue) Notify(mask EventMask) {
	if q.n.Load() == 0 {
		return
	}
	q.mu.Lock()
	for e := q.head; e != nil; e = e.next {
		ready := mask & (e.mask | EventAlways)
		if ready == 0 {
			continue
		}
		if e.fn != nil {
			e.fn(ready)
			continue
		}
		select {
		case e.ch <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
}

// Events returns the union of the masks of the registered entries (plus
// EventAlways when there is any entry). An object may use it to skip work
// nobody waits for.
func (q *Queue) Events() EventMask {
	q.mu.Lock()
	defer q.mu.Unlock()
	var m EventMask
	for e := q.head; e != nil; e = e.next {
		m |= e.mask | EventAlways
	}
	return m
}

// Len returns the number of registered entries.
func (q *Queue) Len() int { return int(q.n.Load()) }

// Retry calls op until it returns an error other than syscall.EAGAIN,
// waiting between tries until w reports one of the events of mask (or
// EventAlways). If cancel is closed first it returns op's last value with
// syscall.EINTR; the caller turns that into EINTR, ERESTARTSYS or a time-out
// as fits. A nil cancel never fires.
//
// This is the blocking protocol described in the package comment; op is
// tried once more after registering, so a change of state between the
// first try and the registration is not missed.
func Retry[T any](w Waitable, mask EventMask, cancel <-chan struct{}, op func() (T, error)) (T, error) {
	v, err := op()
	if err != syscall.EAGAIN {
		return v, err
	}
	e, ch := NewChannelEntry(mask)
	w.EventRegister(e)
	defer w.EventUnregister(e)
	for {
		v, err = op()
		if err != syscall.EAGAIN {
			return v, err
		}
		select {
		case <-ch:
		case <-cancel:
			return v, syscall.EINTR
		}
	}
}
