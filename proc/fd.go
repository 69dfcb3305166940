package proc

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// File is an open file description as the process layer uses it: shared
// by dup and fork, with its own offset and status flags. The file system
// behind it provides fileOps.
type File struct {
	refs  atomic.Int32
	ops   fileOps
	flags atomic.Uint32 // O_* status flags (O_APPEND, O_NONBLOCK, access mode)
	Path  string
}

// fileOps is what an open file does. Operations that would block return
// EAGAIN; the caller waits on Ready and retries.
type fileOps interface {
	Read(b []byte) (int, error)
	Write(b []byte) (int, error)
	Close() error
}

// NewFile wraps ops in a description with one reference.
func NewFile(ops fileOps, flags uint32, path string) *File {
	f := &File{ops: ops, Path: path}
	f.refs.Store(1)
	f.flags.Store(flags)
	return f
}

// IncRef adds a reference.
func (f *File) IncRef() { f.refs.Add(1) }

// DecRef drops a reference; the last one closes the file.
func (f *File) DecRef() {
	if f.refs.Add(-1) == 0 {
		f.ops.Close()
	}
}

// FDTable maps descriptor numbers to descriptions.
type FDTable struct {
	refs atomic.Int32
	mu   sync.Mutex
	fds  map[int32]fdEntry
	max  int32
}

type fdEntry struct {
	f       *File
	cloexec bool
}

// NewFDTable returns an empty table.
func NewFDTable() *FDTable {
	t := &FDTable{fds: map[int32]fdEntry{}, max: 1024}
	t.refs.Store(1)
	return t
}

// share: CLONE_FILES.
func (t *FDTable) share() *FDTable {
	t.refs.Add(1)
	return t
}

// fork copies the table; the descriptions are shared.
func (t *FDTable) fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := NewFDTable()
	n.max = t.max
	for fd, e := range t.fds {
		e.f.IncRef()
		n.fds[fd] = e
	}
	return n
}

// release drops the table's reference; the last one closes everything.
func (t *FDTable) release() {
	if t.refs.Add(-1) != 0 {
		return
	}
	t.mu.Lock()
	fds := t.fds
	t.fds = map[int32]fdEntry{}
	t.mu.Unlock()
	for _, e := range fds {
		e.f.DecRef()
	}
}

// get returns the description of fd with a reference the caller drops.
func (t *FDTable) get(fd int32) (*File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if !ok {
		return nil, syscall.EBADF
	}
	e.f.IncRef()
	return e.f, nil
}

// install puts f at the lowest free number >= min; the table takes the
// caller's reference.
func (t *FDTable) install(f *File, min int32, cloexec bool) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd := min; fd < t.max; fd++ {
		if _, used := t.fds[fd]; !used {
			t.fds[fd] = fdEntry{f, cloexec}
			return fd, nil
		}
	}
	return -1, syscall.EMFILE
}

// installAt puts f at fd, closing what was there (dup2).
func (t *FDTable) installAt(f *File, fd int32, cloexec bool) error {
	if fd < 0 || fd >= t.max {
		return syscall.EBADF
	}
	t.mu.Lock()
	old, had := t.fds[fd]
	t.fds[fd] = fdEntry{f, cloexec}
	t.mu.Unlock()
	if had {
		old.f.DecRef()
	}
	return nil
}

// remove closes fd.
func (t *FDTable) remove(fd int32) error {
	t.mu.Lock()
	e, ok := t.fds[fd]
	delete(t.fds, fd)
	t.mu.Unlock()
	if !ok {
		return syscall.EBADF
	}
	e.f.DecRef()
	return nil
}

// closeOnExec closes the descriptors marked close-on-exec.
func (t *FDTable) closeOnExec() {
	t.mu.Lock()
	var drop []*File
	for fd, e := range t.fds {
		if e.cloexec {
			drop = append(drop, e.f)
			delete(t.fds, fd)
		}
	}
	t.mu.Unlock()
	for _, f := range drop {
		f.DecRef()
	}
}

// waitable files tell when to retry an operation that returned EAGAIN: the
// channel is closed when readiness may have changed.
type waitable interface {
	Ready(write bool) <-chan struct{}
}

func (t *Thread) waitReadable(f *File) error { return t.waitFile(f, false) }
func (t *Thread) waitWritable(f *File) error { return t.waitFile(f, true) }

func (t *Thread) waitFile(f *File, write bool) error {
	w, ok := f.ops.(waitable)
	if !ok {
		return syscall.EIO // a file that says EAGAIN but cannot be waited for
	}
	return t.block(w.Ready(write))
}
