// Package epoll implements epoll(7) instances: an interest list of open
// files, each with an event mask and a user datum, and a ready list fed by
// the files' wait queues.
//
// An interest is registered on its file's waiter.Queue with a callback
// that puts it on the ready list. Wait then asks each ready file for its
// readiness again (level triggered: an interest stays on the list while
// its file is ready; EPOLLET takes it off once reported; EPOLLONESHOT
// disables it until EPOLL_CTL_MOD). Wait never blocks: the caller waits
// for EventIn on the epoll file itself, which is notified when an
// interest becomes ready.
//
// Lock order: a file's queue lock, then the instance's lock (the
// callback); so the instance's lock is never held while registering on a
// file's queue. An interest holds no reference to its file, as in Linux:
// when the file's last descriptor closes, the interest disappears (Wait
// drops interests whose file has no references left).
//
// It runs in Go context.
package epoll

import (
	"sync"

	"golang.org/x/sys/unix"

	"dunix/fs/vfs"
	"dunix/fs/waiter"
)

// Event is one reported event: the ready events and the interest's datum
// (struct epoll_event).
type Event struct {
	Events uint32
	Data   uint64
}

// Control flags of an interest's event mask.
const (
	flagsMask = unix.EPOLLET | unix.EPOLLONESHOT | unix.EPOLLEXCLUSIVE | unix.EPOLLWAKEUP
	// eventsMask are the poll events an interest can ask for.
	eventsMask = 0xffff | unix.EPOLLRDHUP
)

type key struct {
	f  *vfs.File
	fd int32
}

type interest struct {
	key
	events uint32 // requested events and control flags
	data   uint64
	entry  *waiter.Entry
	ready  bool // on the ready list
	next   *interest
}

// Instance is an epoll instance, the FileOps of an epoll file.
type Instance struct {
	mu        sync.Mutex
	interests map[key]*interest
	readyHead *interest
	readyTail *interest
	q         waiter.Queue // EventIn when an interest may be ready
	closed    bool
}

// New returns a new epoll file.
func New(flags int) (*vfs.File, *Instance, error) {
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return nil, nil, unix.EINVAL
	}
	ep := &Instance{interests: map[key]*interest{}}
	ino := vfs.NewAnonInode(unix.S_IFREG|0o600, 0, 0)
	return vfs.NewFile(ep, ino, unix.O_RDWR, "anon_inode:[eventpoll]"), ep, nil
}

// FromFile returns the instance of an epoll file.
func FromFile(f *vfs.File) (*Instance, bool) {
	ep, ok := f.Ops().(*Instance)
	return ep, ok
}

// Read implements vfs.FileOps: an epoll file cannot be read.
func (ep *Instance) Read(*vfs.File, []byte, int64) (int, error) { return 0, unix.EINVAL }

// Write implements vfs.FileOps: an epoll file cannot be written.
func (ep *Instance) Write(*vfs.File, []byte, int64) (int, error) { return 0, unix.EINVAL }

// Stream implements vfs.Streamer.
func (ep *Instance) Stream() bool { return true }

// Release implements vfs.FileOps: the interests leave their files.
func (ep *Instance) Release() {
	ep.mu.Lock()
	ep.closed = true
	all := make([]*interest, 0, len(ep.interests))
	for _, it := range ep.interests {
		all = append(all, it)
	}
	ep.interests = map[key]*interest{}
	ep.readyHead, ep.readyTail = nil, nil
	ep.mu.Unlock()
	for _, it := range all {
		it.f.EventUnregister(it.entry)
	}
}

// Readiness implements waiter.Waitable: EventIn when an interest is ready.
func (ep *Instance) Readiness(mask waiter.EventMask) waiter.EventMask {
	if mask&waiter.EventIn == 0 {
		return 0
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for it := ep.readyHead; it != nil; it = it.next {
		if it.f.Refs() > 0 && it.f.Readiness(waiter.EventMask(it.events&eventsMask)) != 0 {
			return waiter.EventIn
		}
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (ep *Instance) EventRegister(e *waiter.Entry) { ep.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (ep *Instance) EventUnregister(e *waiter.Entry) { ep.q.Unregister(e) }

// pushReady puts it on the ready list (ep.mu held).
func (ep *Instance) pushReady(it *interest) {
	if it.ready {
		return
	}
	it.ready = true
	it.next = nil
	if ep.readyTail == nil {
		ep.readyHead = it
	} else {
		ep.readyTail.next = it
	}
	ep.readyTail = it
}

// callback returns the wake-up function of it: it runs under the file's
// queue lock.
func (ep *Instance) callback(it *interest) func(waiter.EventMask) {
	return func(waiter.EventMask) {
		ep.mu.Lock()
		if ep.closed || it.events&eventsMask == 0 {
			ep.mu.Unlock()
			return
		}
		ep.pushReady(it)
		ep.mu.Unlock()
		ep.q.Notify(waiter.EventIn)
	}
}

// Add adds f (descriptor fd) with events and data: EPOLL_CTL_ADD. EEXIST
// if present, EPERM if f cannot be polled, EINVAL for f being ep itself.
func (ep *Instance) Add(f *vfs.File, fd int32, events uint32, data uint64) error {
	if f.Ops() == ep {
		return unix.EINVAL
	}
	if !f.Pollable() {
		return unix.EPERM
	}
	if inner, ok := FromFile(f); ok && inner.watches(ep, 0) {
		return unix.ELOOP
	}
	it := &interest{key: key{f, fd}, events: events&(eventsMask|flagsMask) | unix.EPOLLERR | unix.EPOLLHUP, data: data}
	it.entry = waiter.NewFuncEntry(waiter.EventMask(it.events&eventsMask)|waiter.EventAlways, ep.callback(it))
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		return unix.EBADF
	}
	if _, ok := ep.interests[it.key]; ok {
		ep.mu.Unlock()
		return unix.EEXIST
	}
	ep.interests[it.key] = it
	ep.mu.Unlock()
	f.EventRegister(it.entry)
	// It may be ready already.
	if f.Readiness(waiter.EventMask(it.events&eventsMask)) != 0 {
		ep.mu.Lock()
		ep.pushReady(it)
		ep.mu.Unlock()
		ep.q.Notify(waiter.EventIn)
	}
	return nil
}

// watches reports whether ep (directly or through nested epoll files, up
// to Linux's depth of 5) watches target: adding would make a loop.
func (ep *Instance) watches(target *Instance, depth int) bool {
	if depth > 5 {
		return true
	}
	ep.mu.Lock()
	var inner []*Instance
	for k := range ep.interests {
		if e, ok := FromFile(k.f); ok {
			inner = append(inner, e)
		}
	}
	ep.mu.Unlock()
	for _, e := range inner {
		if e == target || e.watches(target, depth+1) {
			return true
		}
	}
	return false
}

// Modify changes the events and data of f's interest: EPOLL_CTL_MOD.
// ENOENT if absent; EINVAL for EPOLLEXCLUSIVE, which only ADD takes.
func (ep *Instance) Modify(f *vfs.File, fd int32, events uint32, data uint64) error {
	if events&unix.EPOLLEXCLUSIVE != 0 {
		return unix.EINVAL
	}
	ep.mu.Lock()
	it, ok := ep.interests[key{f, fd}]
	if !ok {
		ep.mu.Unlock()
		return unix.ENOENT
	}
	old := it.entry
	it.events = events&(eventsMask|flagsMask) | unix.EPOLLERR | unix.EPOLLHUP
	it.data = data
	it.entry = waiter.NewFuncEntry(waiter.EventMask(it.events&eventsMask)|waiter.EventAlways, ep.callback(it))
	entry := it.entry
	ep.mu.Unlock()
	f.EventUnregister(old)
	f.EventRegister(entry)
	if f.Readiness(waiter.EventMask(events&eventsMask)) != 0 {
		ep.mu.Lock()
		ep.pushReady(it)
		ep.mu.Unlock()
		ep.q.Notify(waiter.EventIn)
	}
	return nil
}

// Delete removes f's interest: EPOLL_CTL_DEL. ENOENT if absent.
func (ep *Instance) Delete(f *vfs.File, fd int32) error {
	ep.mu.Lock()
	it, ok := ep.interests[key{f, fd}]
	if !ok {
		ep.mu.Unlock()
		return unix.ENOENT
	}
	delete(ep.interests, it.key)
	ep.unready(it)
	it.events = 0
	ep.mu.Unlock()
	f.EventUnregister(it.entry)
	return nil
}

// unready takes it off the ready list (ep.mu held).
func (ep *Instance) unready(it *interest) {
	if !it.ready {
		return
	}
	var prev *interest
	for c := ep.readyHead; c != nil; prev, c = c, c.next {
		if c == it {
			if prev == nil {
				ep.readyHead = c.next
			} else {
				prev.next = c.next
			}
			if ep.readyTail == c {
				ep.readyTail = prev
			}
			break
		}
	}
	it.ready = false
	it.next = nil
}

// Wait returns up to max ready events without blocking.
func (ep *Instance) Wait(max int) []Event {
	var out []Event
	var gone []*interest
	ep.mu.Lock()
	var keep, keepTail *interest
	it := ep.readyHead
	ep.readyHead, ep.readyTail = nil, nil
	for it != nil && len(out) < max {
		next := it.next
		it.next = nil
		it.ready = false
		switch {
		case it.f.Refs() <= 0:
			// The file is closed: the interest goes with it.
			delete(ep.interests, it.key)
			gone = append(gone, it)
		case it.events&eventsMask == 0: // a fired EPOLLONESHOT
		default:
			r := uint32(it.f.Readiness(waiter.EventMask(it.events & eventsMask)))
			if r == 0 {
				break
			}
			out = append(out, Event{Events: r, Data: it.data})
			if it.events&unix.EPOLLONESHOT != 0 {
				it.events &^= eventsMask
			} else if it.events&unix.EPOLLET == 0 {
				// Level triggered: reported again while ready.
				it.ready = true
				if keep == nil {
					keep = it
				} else {
					keepTail.next = it
				}
				keepTail = it
			}
		}
		it = next
	}
	// The interests not looked at stay first; the level-triggered ones
	// reported go to the end, so that with max smaller than the ready
	// count every interest gets its turn.
	for ; it != nil; it = it.next {
		if ep.readyTail == nil {
			ep.readyHead = it
		} else {
			ep.readyTail.next = it
		}
		ep.readyTail = it
	}
	if keep != nil {
		if ep.readyTail == nil {
			ep.readyHead = keep
		} else {
			ep.readyTail.next = keep
		}
		ep.readyTail = keepTail
	}
	ep.mu.Unlock()
	for _, g := range gone {
		g.f.EventUnregister(g.entry)
	}
	return out
}

// Len returns the number of interests.
func (ep *Instance) Len() int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return len(ep.interests)
}
