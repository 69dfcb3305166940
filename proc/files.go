package proc

import (
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/fs/vfs"
	"dunix/fs/waiter"
)

// The glue between threads and the file system: who is asking (vfs.Ctx),
// where relative paths start, and how a thread waits for a file.

// userMemory gives the file system access to the caller's memory (ioctl
// arguments).
type userMemory struct{ p *Process }

func (m userMemory) CopyIn(addr uintptr, dst []byte) error {
	return m.p.mm.CopyIn(uint64(addr), dst)
}

func (m userMemory) CopyOut(addr uintptr, src []byte) error {
	return m.p.mm.CopyOut(uint64(addr), src)
}

// ctx describes t to the file system: its file-system IDs, its root, its
// memory, and itself (for devices: a terminal wants its caller's process
// group).
func (t *Thread) ctx() *vfs.Ctx {
	p := t.p
	p.mu.Lock()
	c := &vfs.Ctx{Cred: vfs.Cred{UID: p.cred.FSUID, GID: p.cred.FSGID, Groups: p.cred.Groups},
		Root: p.root, Mem: userMemory{p}, Task: t}
	p.mu.Unlock()
	return c
}

// realCtx is ctx with the real IDs, for access(2) without AT_EACCESS.
func (t *Thread) realCtx() *vfs.Ctx {
	c := t.ctx()
	t.p.mu.Lock()
	c.Cred.UID, c.Cred.GID = t.p.cred.UID, t.p.cred.GID
	t.p.mu.Unlock()
	return c
}

// at returns where a path given with dirfd starts: the working directory
// for AT_FDCWD, else the directory dirfd names. For an absolute path dirfd
// is not used (not even checked, as Linux).
func (t *Thread) at(dirfd int32, path string) (vfs.Loc, error) {
	if len(path) > 0 && path[0] == '/' {
		return vfs.Loc{}, nil
	}
	if dirfd == unix.AT_FDCWD {
		t.p.mu.Lock()
		defer t.p.mu.Unlock()
		return t.p.cwd, nil
	}
	f, err := t.p.fds.getPath(dirfd, true)
	if err != nil {
		return vfs.Loc{}, err
	}
	defer f.Close()
	return f.Loc(), nil
}

// path reads a path argument: EFAULT, ENAMETOOLONG, and ENOENT for ""
// (unless the call allows AT_EMPTY_PATH).
func (t *Thread) path(addr uint64, emptyOK bool) (string, error) {
	s, err := t.p.mm.CopyInString(addr, vfs.PathMax)
	if err != nil {
		return "", err
	}
	if s == "" && !emptyOK {
		return "", syscall.ENOENT
	}
	return s, nil
}

// atPath reads a path argument and where it starts.
func (t *Thread) atPath(dirfd int32, addr uint64, flags int) (vfs.Loc, string, error) {
	p, err := t.path(addr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return vfs.Loc{}, "", err
	}
	at, err := t.at(dirfd, p)
	return at, p, err
}

// ioWait runs op, a file operation that says EAGAIN when it would block,
// until it does not, waiting for the events of mask on f in between. A
// non-blocking file gets op's first answer. A signal ends the wait
// (errRestart, or EINTR when the process is exiting).
func ioWait[T any](t *Thread, f *vfs.File, mask waiter.EventMask, op func() (T, error)) (T, error) {
	v, err := op()
	if err != syscall.EAGAIN || f.NonBlocking() {
		return v, err
	}
	e, ch := waiter.NewChannelEntry(mask)
	f.EventRegister(e)
	defer f.EventUnregister(e)
	for {
		v, err = op()
		if err != syscall.EAGAIN {
			return v, err
		}
		if err := t.block(ch); err != nil {
			return v, err
		}
	}
}

// mapFile is an open file behind file mappings: the mappings hold
// references to it, so an unlinked file lives as long as they do.
type mapFile struct{ f *vfs.File }

func (m mapFile) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		k, err := m.f.Pread(b[n:], off+int64(n))
		n += k
		if err != nil {
			return n, err
		}
		if k == 0 {
			break
		}
	}
	return n, nil
}

func (m mapFile) Hold() { m.f.IncRef() }
func (m mapFile) Drop() { m.f.Close() }
