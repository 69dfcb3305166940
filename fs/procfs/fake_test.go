package procfs

import (
	"errors"
	"io"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// fakeTask is what a fake caller's vfs.Ctx.Task holds.
type fakeTask struct{ pid, tid int32 }

// fakeSource is a Source for tests: processes in a map, system facts in
// fields. Everything is guarded by mu.
type fakeSource struct {
	mu       sync.Mutex
	procs    map[int32]Process
	cpus     []CPU
	mem      Meminfo
	sys      System
	counters Counters
	up, idle time.Duration
	// pids, if set, replaces the listing of PIDs (to feed junk).
	pids []int32
}

func (s *fakeSource) PIDs() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pids != nil {
		return slices.Clone(s.pids)
	}
	var out []int32
	for pid := range s.procs {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

func (s *fakeSource) Process(pid int32) (Process, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.procs[pid]
	return p, ok
}

func (s *fakeSource) Caller(ctx *vfs.Ctx) (int32, int32, bool) {
	if ctx == nil {
		return 0, 0, false
	}
	t, ok := ctx.Task.(*fakeTask)
	if !ok {
		return 0, 0, false
	}
	return t.pid, t.tid, true
}

func (s *fakeSource) System() System {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sys
}

func (s *fakeSource) Meminfo() Meminfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem
}

func (s *fakeSource) Uptime() (time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up, s.idle
}

func (s *fakeSource) CPUs() []CPU {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cpus)
}

func (s *fakeSource) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

func (s *fakeSource) set(pid int32, p Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs[pid] = p
}

func (s *fakeSource) remove(pid int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.procs, pid)
}

// fdEnt is an open descriptor of a fake process.
type fdEnt struct {
	f       *vfs.File
	cloexec bool
}

// fakeProc is a Process for tests.
type fakeProc struct {
	mu      sync.Mutex
	stat    ProcStat
	tids    []int32 // may be junk
	threads map[int32]ProcStat
	cmdline []byte
	environ []byte
	ns      *vfs.Namespace
	exe     *vfs.File // nil: none (a zombie)
	cwd     vfs.Loc   // zero: none
	root    vfs.Loc
	fds     map[int32]fdEnt
	fdList  []int32 // if set, replaces the listing of descriptors (junk)
	maps    []Mapping
	limits  []Limit
	uid     uint32
	gid     uint32
	devs    map[int]uint64 // for MountDev; nil: unknown
	nilLocs bool           // Cwd and Root return no location and no error (a buggy Source)
}

func (p *fakeProc) Stat() ProcStat {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stat
}

func (p *fakeProc) Threads() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.tids)
}

func (p *fakeProc) Thread(tid int32) (ProcStat, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, ok := p.threads[tid]
	return ps, ok
}

func (p *fakeProc) Cmdline() []byte { return p.cmdline }
func (p *fakeProc) Environ() []byte { return p.environ }

func (p *fakeProc) Exe(ctx *vfs.Ctx) (vfs.Loc, string, error) {
	if p.exe == nil {
		return vfs.Loc{}, "", unix.ENOENT
	}
	return p.exe.Loc(), p.exe.Path(ctx), nil
}

func (p *fakeProc) dirLoc(ctx *vfs.Ctx, l vfs.Loc) (vfs.Loc, string, error) {
	if p.nilLocs {
		return vfs.Loc{}, "/nowhere", nil
	}
	if l.IsZero() || p.ns == nil {
		return vfs.Loc{}, "", unix.ENOENT
	}
	path, err := p.ns.Path(ctx, l)
	return l, path, err
}

func (p *fakeProc) Cwd(ctx *vfs.Ctx) (vfs.Loc, string, error)  { return p.dirLoc(ctx, p.cwd) }
func (p *fakeProc) Root(ctx *vfs.Ctx) (vfs.Loc, string, error) { return p.dirLoc(ctx, p.root) }

func (p *fakeProc) FDs() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fdList != nil {
		return slices.Clone(p.fdList)
	}
	var out []int32
	for fd := range p.fds {
		out = append(out, fd)
	}
	slices.Sort(out)
	return out
}

func (p *fakeProc) FD(fd int32) (*vfs.File, bool, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.fds[fd]
	if !ok {
		return nil, false, false
	}
	if e.f != nil {
		e.f.IncRef()
	}
	return e.f, e.cloexec, true
}

func (p *fakeProc) Maps() []Mapping { return p.maps }
func (p *fakeProc) Limits() []Limit { return p.limits }
func (p *fakeProc) Owner() (uint32, uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uid, p.gid
}

func (p *fakeProc) Mounts() []vfs.MountInfo {
	if p.ns == nil {
		return nil
	}
	return p.ns.Mounts(&vfs.Ctx{Root: p.root})
}

func (p *fakeProc) MountDev(id int) (uint64, string, bool) {
	d, ok := p.devs[id]
	return d, "/", ok
}

// closeFDs drops the fake's references to its files.
func (p *fakeProc) closeFDs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for fd, e := range p.fds {
		if e.f != nil {
			e.f.Close()
		}
		delete(p.fds, fd)
	}
}

// env is a namespace with a memfs root and procfs on /proc.
type env struct {
	t    testing.TB
	src  *fakeSource
	fs   *FS
	mem  *memfs.FS
	ns   *vfs.Namespace
	root vfs.Loc
	kctx *vfs.Ctx // the kernel (root, no task)
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, src: &fakeSource{procs: map[int32]Process{}}, mem: memfs.New(nil), kctx: vfs.RootCtx()}
	e.ns = vfs.NewNamespace(e.mem, vfs.Options{FIFOs: pipe.NewFIFOTable(), Root: vfs.MountOptions{Source: "rootfs", Type: "rootfs"}})
	e.root = e.ns.Root()
	e.must(e.ns.Mkdir(e.kctx, e.root, "proc", 0o555))
	e.fs = New(e.src)
	e.must(e.ns.Mount(e.kctx, e.root, "proc", e.fs, MountOptions()))
	return e
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// write makes a memfs file with data.
func (e *env) write(path, data string) {
	e.t.Helper()
	f, err := e.ns.Open(e.kctx, e.root, path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	e.must(err)
	defer f.Close()
	_, err = f.Write([]byte(data))
	e.must(err)
}

// open opens path for ctx.
func (e *env) open(ctx *vfs.Ctx, path string, flags int) (*vfs.File, error) {
	return e.ns.Open(ctx, e.root, path, flags, 0)
}

// read reads the whole file at path as ctx.
func (e *env) read(ctx *vfs.Ctx, path string) (string, error) {
	f, err := e.open(ctx, path, unix.O_RDONLY)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return readAll(f)
}

// mustRead reads the whole file at path as ctx, failing the test on error.
func (e *env) mustRead(ctx *vfs.Ctx, path string) string {
	e.t.Helper()
	s, err := e.read(ctx, path)
	if err != nil {
		e.t.Fatalf("read %s: %v", path, err)
	}
	return s
}

// readAll reads f to its end in small pieces, as a program with a small
// buffer would.
func readAll(f *vfs.File) (string, error) {
	var out []byte
	buf := make([]byte, 37)
	for {
		n, err := f.Read(buf)
		if err != nil {
			return string(out), err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

// list reads the directory at path as ctx (getdents), without "." and
// "..", returning the names and the entries.
func (e *env) list(ctx *vfs.Ctx, path string) ([]string, []vfs.Dirent, error) {
	f, err := e.open(ctx, path, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return readDir(ctx, f)
}

// readDir lists an open directory from its start, two entries per call as
// a program with a small getdents buffer would.
func readDir(ctx *vfs.Ctx, f *vfs.File) ([]string, []vfs.Dirent, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	var names []string
	var ents []vfs.Dirent
	for {
		n := 0
		err := f.Readdir(ctx, func(d vfs.Dirent) bool {
			if n == 2 {
				return false
			}
			n++
			if d.Name != "." && d.Name != ".." {
				names = append(names, d.Name)
				ents = append(ents, d)
			}
			return true
		})
		if err != nil {
			return names, ents, err
		}
		if n == 0 {
			return names, ents, nil
		}
	}
}

// wantErr fails unless err is want (0 meaning nil).
func wantErr(t testing.TB, what string, err error, want syscall.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Errorf("%s: got %v, want success", what, err)
		}
		return
	}
	var got syscall.Errno
	if !errors.As(err, &got) || got != want {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}
