// Package pipe implements pipes (pipe2(2)) and FIFOs (named pipes) for
// dunix.
//
// A Pipe is a bounded byte buffer, 64 KiB by default as in Linux, shared by
// read and write ends. Operations never block:
//
//   - read returns the available bytes, EAGAIN when empty while writers
//     exist, 0 (end of file) when empty without writers;
//   - write returns EAGAIN when full (or, for writes of at most Buf = 4096
//     bytes, when they do not fit whole: such writes are atomic, never
//     interleaved with others) and EPIPE when there are no readers (the
//     caller then sends SIGPIPE); a larger write may be partial: the count
//     is returned with a nil error and a blocking caller waits for
//     EventOut and writes the rest;
//   - readiness for poll: EventIn when there are bytes, EventOut when
//     Buf bytes fit, EventHUp on the read side without writers, EventErr on
//     the write side without readers; every change is notified through
//     the pipe's waiter.Queue.
//
// FIFOs are opened through FIFOTable (a vfs.FIFOOpener): all opens of one
// FIFO inode share a Pipe. O_RDONLY|O_NONBLOCK opens at once; O_WRONLY|
// O_NONBLOCK without a reader fails with ENXIO; O_RDWR never waits; a
// blocking open for reading (writing) returns a File whose OpenPending is
// true until a writer (reader) has opened, which the system-call layer waits
// for with File.WaitOpen.
//
// Everything is safe for concurrent use. The package runs in Go context.
package pipe

import (
	"encoding/binary"
	"sync"

	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

// Sizes, as Linux's.
const (
	// Buf is PIPE_BUF: writes of at most this many bytes are atomic.
	Buf = 4096
	// DefaultCapacity is the capacity of a new pipe.
	DefaultCapacity = 64 << 10
	// MaxCapacity is the largest capacity SetCapacity allows
	// (/proc/sys/fs/pipe-max-size).
	MaxCapacity = 1 << 20
)

// Pipe is the buffer shared by a pipe's ends.
type Pipe struct {
	mu       sync.Mutex
	buf      []byte // ring buffer, grown on demand up to capacity
	head     int    // index of the first unread byte in buf
	n        int    // unread bytes
	capacity int
	readers  int    // open read ends (including pending opens)
	writers  int    // open write ends (including pending opens)
	rGen     uint64 // counts opens for reading
	wGen     uint64 // counts opens for writing

	q waiter.Queue

	// FIFO bookkeeping: the table and key to remove the pipe from when
	// the last end closes; nil table for pipe2 pipes.
	table *FIFOTable
	key   vfs.Inode
}

// newPipe returns an empty pipe with no ends.
func newPipe() *Pipe { return &Pipe{capacity: DefaultCapacity} }

// end is the FileOps of one open end of a pipe.
type end struct {
	p        *Pipe
	read     bool
	write    bool
	gen      uint64 // for a reader: wGen at open; for a writer: rGen at open
	pending  bool   // blocking FIFO open that may have to wait
	anonNode *vfs.AnonInode
}

// New makes a pipe (pipe2(2)) and returns its read and write Files, owned
// by cred. flags may hold unix.O_NONBLOCK (set on both ends) and
// unix.O_CLOEXEC (the caller's); other flags are EINVAL (O_DIRECT packet
// mode is not supported).
func New(cred *vfs.Cred, flags int) (r, w *vfs.File, err error) {
	if flags&^(unix.O_NONBLOCK|unix.O_CLOEXEC) != 0 {
		return nil, nil, unix.EINVAL
	}
	p := newPipe()
	p.readers, p.writers = 1, 1
	p.rGen, p.wGen = 1, 1
	ino := vfs.NewAnonInode(unix.S_IFIFO|0o600, cred.UID, cred.GID)
	// Registered so that opening /proc/PID/fd/N (or /dev/stdin) reopens
	// this pipe, as on Linux; it leaves the table with its last end.
	p.table, p.key = anonPipes, ino
	anonPipes.mu.Lock()
	anonPipes.pipes[ino] = p
	anonPipes.mu.Unlock()
	st, _ := ino.Stat()
	name := "pipe:[" + itoa(st.Ino) + "]"
	nb := flags & unix.O_NONBLOCK
	r = vfs.NewFile(&end{p: p, read: true, anonNode: ino}, ino, unix.O_RDONLY|nb, name)
	w = vfs.NewFile(&end{p: p, write: true, anonNode: ino}, ino, unix.O_WRONLY|nb, name)
	return r, w, nil
}

// itoa formats n in decimal.
func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

// Stream implements vfs.Streamer: pipes have no position.
func (e *end) Stream() bool { return true }

// Read implements vfs.FileOps.
func (e *end) Read(_ *vfs.File, dst []byte, _ int64) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	p := e.p
	p.mu.Lock()
	if p.n == 0 {
		w := p.writers
		p.mu.Unlock()
		if w == 0 {
			return 0, nil
		}
		return 0, unix.EAGAIN
	}
	k := min(len(dst), p.n)
	c := copy(dst[:k], p.buf[p.head:])
	if c < k {
		copy(dst[c:k], p.buf)
	}
	p.head = (p.head + k) % len(p.buf)
	p.n -= k
	if p.n == 0 {
		p.head = 0
	}
	p.mu.Unlock()
	if e.anonNode != nil {
		e.anonNode.Touch(true, false)
	}
	p.q.Notify(waiter.WritableEvents)
	return k, nil
}

// Write implements vfs.FileOps.
func (e *end) Write(_ *vfs.File, src []byte, _ int64) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	p := e.p
	p.mu.Lock()
	if p.readers == 0 {
		p.mu.Unlock()
		return 0, unix.EPIPE
	}
	free := p.capacity - p.n
	if free == 0 || (len(src) <= Buf && free < len(src)) {
		p.mu.Unlock()
		return 0, unix.EAGAIN
	}
	k := min(len(src), free)
	p.grow(p.n + k)
	tail := (p.head + p.n) % len(p.buf)
	c := copy(p.buf[tail:], src[:k])
	if c < k {
		copy(p.buf, src[c:k])
	}
	p.n += k
	p.mu.Unlock()
	if e.anonNode != nil {
		e.anonNode.Touch(false, true)
	}
	p.q.Notify(waiter.ReadableEvents)
	return k, nil
}

// grow makes the ring hold at least need bytes (p.mu held).
func (p *Pipe) grow(need int) {
	if need <= len(p.buf) {
		return
	}
	size := max(len(p.buf)*2, 4096)
	for size < need {
		size *= 2
	}
	size = min(size, p.capacity)
	nb := make([]byte, size)
	c := copy(nb, p.buf[p.head:min(len(p.buf), p.head+p.n)])
	if c < p.n {
		copy(nb[c:], p.buf[:p.n-c])
	}
	p.buf, p.head = nb, 0
}

// Release implements vfs.FileOps.
func (e *end) Release() {
	p := e.p
	if p.table != nil {
		p.table.mu.Lock()
	}
	p.mu.Lock()
	if e.read {
		p.readers--
	}
	if e.write {
		p.writers--
	}
	if p.readers == 0 && p.writers == 0 {
		// Nobody left: a FIFO's data is discarded, as Linux frees its
		// pipe.
		p.buf, p.head, p.n = nil, 0, 0
		if p.table != nil && p.table.pipes[p.key] == p {
			delete(p.table.pipes, p.key)
		}
	}
	p.mu.Unlock()
	if p.table != nil {
		p.table.mu.Unlock()
	}
	p.q.Notify(waiter.AllEvents)
}

// Readiness implements waiter.Waitable.
func (e *end) Readiness(mask waiter.EventMask) waiter.EventMask {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var r waiter.EventMask
	if e.read {
		if p.n > 0 {
			r |= waiter.ReadableEvents
		}
		if p.writers == 0 && p.wGen != e.gen {
			r |= waiter.EventHUp
		}
	}
	if e.write {
		if p.capacity-p.n >= Buf {
			r |= waiter.WritableEvents
		}
		if p.readers == 0 {
			r |= waiter.EventErr
		}
	}
	return r & (mask | waiter.EventAlways)
}

// EventRegister implements waiter.Waitable.
func (e *end) EventRegister(w *waiter.Entry) { e.p.q.Register(w) }

// EventUnregister implements waiter.Waitable.
func (e *end) EventUnregister(w *waiter.Entry) { e.p.q.Unregister(w) }

// OpenPending implements vfs.PendingOpener: a blocking FIFO open for
// reading waits until a writer has opened since, and the reverse.
func (e *end) OpenPending() bool {
	if !e.pending {
		return false
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.read {
		return p.writers == 0 && p.wGen == e.gen
	}
	return p.readers == 0 && p.rGen == e.gen
}

// Ioctl implements vfs.Ioctler: FIONREAD stores the number of unread
// bytes as an int at arg.
func (e *end) Ioctl(_ *vfs.File, ctx *vfs.Ctx, cmd uint32, arg uintptr) (uintptr, error) {
	if cmd != fionread {
		return 0, unix.ENOTTY
	}
	e.p.mu.Lock()
	n := e.p.n
	e.p.mu.Unlock()
	if ctx == nil || ctx.Mem == nil {
		return 0, unix.EFAULT
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	return 0, ctx.Mem.CopyOut(arg, b[:])
}

// FromFile returns the Pipe behind a pipe or FIFO File.
func FromFile(f *vfs.File) (*Pipe, bool) {
	e, ok := f.Ops().(*end)
	if !ok {
		return nil, false
	}
	return e.p, true
}

// Capacity returns the pipe's capacity (F_GETPIPE_SZ).
func (p *Pipe) Capacity() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.capacity
}

// Len returns the number of unread bytes.
func (p *Pipe) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// SetCapacity changes the capacity (F_SETPIPE_SZ): n is rounded up to a
// power of two of at least 4096. EPERM above MaxCapacity for non-root,
// EINVAL above 1<<31, EBUSY if the unread bytes do not fit. It returns the
// new capacity.
func (p *Pipe) SetCapacity(n int, root bool) (int, error) {
	if n < 0 || n > 1<<31 {
		return 0, unix.EINVAL
	}
	size := Buf
	for size < n {
		size *= 2
	}
	if size > MaxCapacity && !root {
		return 0, unix.EPERM
	}
	p.mu.Lock()
	if p.n > size {
		p.mu.Unlock()
		return 0, unix.EBUSY
	}
	if len(p.buf) > size {
		nb := make([]byte, size)
		c := copy(nb, p.buf[p.head:min(len(p.buf), p.head+p.n)])
		copy(nb[c:], p.buf[:p.n-c])
		p.buf, p.head = nb, 0
	}
	p.capacity = size
	p.mu.Unlock()
	p.q.Notify(waiter.WritableEvents)
	return size, nil
}

// FIFOTable opens FIFOs: it implements vfs.FIFOOpener. One table serves a
// whole kernel; it holds a Pipe for each FIFO inode with open ends.
type FIFOTable struct {
	mu    sync.Mutex
	pipes map[vfs.Inode]*Pipe
}

// NewFIFOTable returns an empty table.
func NewFIFOTable() *FIFOTable { return &FIFOTable{pipes: map[vfs.Inode]*Pipe{}} }

// Len returns the number of FIFOs with open ends.
func (t *FIFOTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pipes)
}

// anonPipes holds the pipes made by New while they have open ends.
var anonPipes = NewFIFOTable()

// OpenFIFO implements vfs.FIFOOpener. The inode of a pipe made by New
// (reached through a /proc/PID/fd link) opens that pipe.
func (t *FIFOTable) OpenFIFO(ctx *vfs.Ctx, ino vfs.Inode, flags int) (vfs.FileOps, error) {
	if t != anonPipes {
		anonPipes.mu.Lock()
		_, ok := anonPipes.pipes[ino]
		anonPipes.mu.Unlock()
		if ok {
			return anonPipes.OpenFIFO(ctx, ino, flags)
		}
		if _, ok := ino.(*vfs.AnonInode); ok {
			return nil, unix.ENXIO // a pipe whose ends are all gone
		}
	}
	nonblock := flags&unix.O_NONBLOCK != 0
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pipes[ino]
	created := p == nil
	if created {
		p = newPipe()
		p.table, p.key = t, ino
	}
	p.mu.Lock()
	e := &end{p: p}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		e.read = true
		p.readers++
		p.rGen++
		e.gen = p.wGen
		e.pending = !nonblock && t != anonPipes // a pipe's reopen never waits (Linux: is_pipe)
	case unix.O_WRONLY:
		if nonblock && p.readers == 0 {
			p.mu.Unlock()
			return nil, unix.ENXIO
		}
		e.write = true
		p.writers++
		p.wGen++
		e.gen = p.rGen
		e.pending = !nonblock && t != anonPipes
	case unix.O_RDWR:
		e.read, e.write = true, true
		p.readers++
		p.writers++
		p.rGen++
		p.wGen++
	default:
		p.mu.Unlock()
		return nil, unix.EINVAL
	}
	p.mu.Unlock()
	if created {
		t.pipes[ino] = p
	}
	p.q.Notify(waiter.EventOpen | waiter.ReadableEvents | waiter.WritableEvents)
	return e, nil
}

// fionread is Linux's FIONREAD ioctl request (TIOCINQ) on x86-64.
const fionread = 0x541b
