package proc

import (
	"sort"
	"sync"
	"sync/atomic"
	"syscall"

	"dunix/fs/vfs"
)

// FDTable maps descriptor numbers to open file descriptions (*vfs.File),
// shared by CLONE_FILES threads and copied by fork. Each entry holds one
// reference to its File; close-on-exec is kept per descriptor, as Linux
// does.
type FDTable struct {
	refs atomic.Int32
	mu   sync.Mutex
	fds  map[int32]fdEntry
	max  int32 // RLIMIT_NOFILE: descriptors are below it
}

type fdEntry struct {
	f       *vfs.File
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
		e.f.Close()
	}
}

// get returns the description of fd with a reference the caller drops
// with Close. O_PATH descriptors are refused (EBADF) unless path is set.
func (t *FDTable) get(fd int32) (*vfs.File, error) { return t.getPath(fd, false) }

func (t *FDTable) getPath(fd int32, path bool) (*vfs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if !ok || !path && e.f.IsPath() {
		return nil, syscall.EBADF
	}
	e.f.IncRef()
	return e.f, nil
}

// install puts f at the lowest free number >= min; the table takes the
// caller's reference, which is dropped on failure (EMFILE).
func (t *FDTable) install(f *vfs.File, min int32, cloexec bool) (int32, error) {
	t.mu.Lock()
	for fd := min; fd < t.max; fd++ {
		if _, used := t.fds[fd]; !used {
			t.fds[fd] = fdEntry{f, cloexec}
			t.mu.Unlock()
			return fd, nil
		}
	}
	t.mu.Unlock()
	f.Close()
	if min >= t.max {
		return -1, syscall.EINVAL
	}
	return -1, syscall.EMFILE
}

// installAt puts f at fd, closing what was there (dup2); the table takes
// the caller's reference, which is dropped on failure.
func (t *FDTable) installAt(f *vfs.File, fd int32, cloexec bool) error {
	t.mu.Lock()
	if fd < 0 || fd >= t.max {
		t.mu.Unlock()
		f.Close()
		return syscall.EBADF
	}
	old, had := t.fds[fd]
	t.fds[fd] = fdEntry{f, cloexec}
	t.mu.Unlock()
	if had {
		old.f.Close()
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
	e.f.Close()
	return nil
}

// closeRange closes the descriptors in [first, last] (close_range), or
// marks them close-on-exec.
func (t *FDTable) closeRange(first, last uint32, cloexec bool) {
	t.mu.Lock()
	var drop []*vfs.File
	for fd, e := range t.fds {
		if uint32(fd) < first || uint32(fd) > last {
			continue
		}
		if cloexec {
			e.cloexec = true
			t.fds[fd] = e
			continue
		}
		drop = append(drop, e.f)
		delete(t.fds, fd)
	}
	t.mu.Unlock()
	for _, f := range drop {
		f.Close()
	}
}

// cloexec returns and sets the close-on-exec flag of fd.
func (t *FDTable) cloexec(fd int32) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if !ok {
		return false, syscall.EBADF
	}
	return e.cloexec, nil
}

func (t *FDTable) setCloexec(fd int32, on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if !ok {
		return syscall.EBADF
	}
	e.cloexec = on
	t.fds[fd] = e
	return nil
}

// closeOnExec closes the descriptors marked close-on-exec.
func (t *FDTable) closeOnExec() {
	t.mu.Lock()
	var drop []*vfs.File
	for fd, e := range t.fds {
		if e.cloexec {
			drop = append(drop, e.f)
			delete(t.fds, fd)
		}
	}
	t.mu.Unlock()
	for _, f := range drop {
		f.Close()
	}
}

// list returns the open descriptor numbers, ascending.
func (t *FDTable) list() []int32 {
	t.mu.Lock()
	out := make([]int32, 0, len(t.fds))
	for fd := range t.fds {
		out = append(out, fd)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (t *FDTable) setMax(n int32) {
	t.mu.Lock()
	t.max = max(n, 3)
	t.mu.Unlock()
}
