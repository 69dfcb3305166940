package procfs

import (
	"slices"
	"strconv"
	"sync"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// Kinds of per-process inodes, for their numbers (see pidIno). The files
// of a process or thread directory are kFile plus their place in it.
const (
	kPidDir    = iota + 1 // /proc/PID
	kTaskDir              // /proc/PID/task
	kTidDir               // /proc/PID/task/TID
	kFdDir                // fd
	kFdinfoDir            // fdinfo
	kFd                   // fd/N
	kFdinfo               // fdinfo/N
	kFile                 // the other entries, kFile + i
)

// pidIno returns the inode number of a per-process inode: kind k of
// process pid, sub telling the inodes of one kind apart (for a thread's
// inodes the thread ID in the high half, for descriptors the descriptor
// number in the low half). The numbers are a hash of these, at or above
// 2^62: they never meet the system inodes' (counted from 1) and stay
// positive as a signed 64-bit number.
func pidIno(pid int32, k int, sub uint64) uint64 {
	h := mix64(uint64(uint32(pid)) | uint64(uint32(k))<<32)
	h = mix64(h ^ sub)
	return h&(1<<62-1) | 1<<62
}

// mix64 is SplitMix64's finalizer: a bijective scramble of x.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// tidSub returns the sub part of pidIno for the inodes of thread tid (0:
// the process's own).
func tidSub(tid int32) uint64 { return uint64(uint32(tid)) << 32 }

// proc is procfs's handle on one process: the process value Source gave
// for its PID and the inodes of /proc/PID, made on the first lookup. A PID
// reused by a new process gets a new handle; the old one's inodes then
// report the process gone (ENOENT, ESRCH).
type proc struct {
	fs   *FS
	pid  int32
	p    Process
	dir  *dir     // /proc/PID
	task *taskDir // /proc/PID/task
	born vfs.Timespec

	mu    sync.Mutex
	tasks map[int32]*dir // the task/TID directories looked up
}

// newProc makes the handle and the directory of process p, whose ID is
// pid.
func (fs *FS) newProc(pid int32, p Process) *proc {
	h := &proc{fs: fs, pid: pid, p: p, born: vfs.Now(), tasks: map[int32]*dir{}}
	h.dir = newDir(h.attr(kPidDir, 0, 0o555), fs.root, strconv.FormatInt(int64(pid), 10), h.alive)
	h.populate(h.dir, 0)
	return h
}

// attr returns the attributes of a new inode of the process: kind k, sub
// as for pidIno, mode the type and permission bits.
func (h *proc) attr(k int, sub uint64, mode uint32) attr {
	return attr{fs: h.fs, ino: pidIno(h.pid, k, sub), mode: mode, nlink: 1, owner: h, time: h.born}
}

// live returns the process if it is still the one of this handle.
func (h *proc) live() (Process, bool) {
	p, ok := h.fs.src.Process(h.pid)
	if !ok || p == nil || !sameProcess(p, h.p) {
		return nil, false
	}
	return p, true
}

// sameProcess reports whether a and b are the same process. Process
// values must be comparable; one that is not is never the same.
func sameProcess(a, b Process) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// alive reports whether the process is still there.
func (h *proc) alive() bool {
	_, ok := h.live()
	return ok
}

// ids returns the owner of the process's inodes: Process.Owner, or root
// once the process is gone.
func (h *proc) ids() (uid, gid uint32) {
	if p, ok := h.live(); ok {
		return p.Owner()
	}
	return 0, 0
}

// permitted reports whether the reader described by ctx may see what
// Linux guards with a ptrace access check (PTRACE_MODE_READ_FSCREDS):
// root, the process itself, and its owner may. A nil ctx is the kernel.
func (h *proc) permitted(ctx *vfs.Ctx, p Process) bool {
	if ctx == nil || ctx.Cred.IsRoot() {
		return true
	}
	if pid, _, ok := h.fs.src.Caller(ctx); ok && pid == h.pid {
		return true
	}
	uid, _ := p.Owner()
	return ctx.Cred.UID == uid
}

// access returns the process for a reader that needs permitted: ESRCH
// once the process is gone, EACCES if the reader may not.
func (h *proc) access(ctx *vfs.Ctx, guard bool) (Process, error) {
	p, ok := h.live()
	if !ok {
		return nil, unix.ESRCH
	}
	if guard && !h.permitted(ctx, p) {
		return nil, unix.EACCES
	}
	return p, nil
}

// thread returns the fields of thread tid, or of the whole process for tid
// 0: ESRCH if it is gone.
func thread(p Process, tid int32) (ProcStat, error) {
	if tid == 0 {
		return p.Stat(), nil
	}
	ps, ok := p.Thread(tid)
	if !ok {
		return ProcStat{}, unix.ESRCH
	}
	return ps, nil
}

// builder adds the entries of a process or thread directory, numbering
// the inodes in order.
type builder struct {
	h   *proc
	d   *dir
	tid int32
	n   int
}

// next returns the attributes of the next entry, of mode.
func (b *builder) next(mode uint32) attr {
	b.n++
	return b.h.attr(kFile+b.n, tidSub(b.tid), mode)
}

// file adds a generated file: perm are its permission bits, guard says
// only permitted readers may open it, gen makes its contents.
func (b *builder) file(name string, perm uint32, guard bool, gen func(ctx *vfs.Ctx, p Process) ([]byte, error)) {
	h := b.h
	b.d.add(name, &genFile{attr: b.next(unix.S_IFREG | perm), gen: func(ctx *vfs.Ctx) ([]byte, error) {
		p, err := h.access(ctx, guard)
		if err != nil {
			return nil, err
		}
		return gen(ctx, p)
	}})
}

// link adds a magic link to a location get gives (exe, cwd, root). Only
// permitted readers may read or follow it; ENOENT once the process is
// gone.
func (b *builder) link(name string, get func(p Process, ctx *vfs.Ctx) (vfs.Loc, string, error)) {
	h := b.h
	resolve := func(ctx *vfs.Ctx) (vfs.Loc, string, error) {
		p, err := h.access(ctx, true)
		if err == unix.ESRCH {
			err = unix.ENOENT
		}
		if err != nil {
			return vfs.Loc{}, "", err
		}
		l, s, err := get(p, ctx)
		if err == nil && l.IsZero() {
			err = unix.ENOENT
		}
		return l, s, err
	}
	b.d.add(name, &magicLink{
		attr: b.next(unix.S_IFLNK | 0o777),
		text: func(ctx *vfs.Ctx) (string, error) {
			_, s, err := resolve(ctx)
			return s, err
		},
		follow: func(ctx *vfs.Ctx) (vfs.Loc, error) {
			l, _, err := resolve(ctx)
			return l, err
		},
	})
}

// populate fills d, the directory of the process (tid 0) or of its thread
// tid, in Linux's order.
func (h *proc) populate(d *dir, tid int32) {
	b := &builder{h: h, d: d, tid: tid}
	if tid == 0 {
		h.task = h.newTaskDir()
		d.add("task", h.task)
	}
	d.add("fd", h.newFdDir(d, tid, false))
	d.add("fdinfo", h.newFdDir(d, tid, true))
	b.file("environ", 0o400, true, func(_ *vfs.Ctx, p Process) ([]byte, error) { return p.Environ(), nil })
	b.file("status", 0o444, false, func(_ *vfs.Ctx, p Process) ([]byte, error) {
		ps, err := thread(p, tid)
		if err != nil {
			return nil, err
		}
		lim := limitOf(p.Limits(), unix.RLIMIT_SIGPENDING)
		return formatStatus(&ps, max(1, len(h.fs.src.CPUs())), lim.Cur), nil
	})
	b.file("limits", 0o444, false, func(_ *vfs.Ctx, p Process) ([]byte, error) { return formatLimits(p.Limits()), nil })
	b.file("comm", 0o444, false, func(_ *vfs.Ctx, p Process) ([]byte, error) {
		ps, err := thread(p, tid)
		if err != nil {
			return nil, err
		}
		return append([]byte(comm(ps.Comm)), '\n'), nil
	})
	b.file("cmdline", 0o444, false, func(_ *vfs.Ctx, p Process) ([]byte, error) { return p.Cmdline(), nil })
	b.file("stat", 0o444, false, func(ctx *vfs.Ctx, p Process) ([]byte, error) {
		ps, err := thread(p, tid)
		if err != nil {
			return nil, err
		}
		rss := limitOf(p.Limits(), unix.RLIMIT_RSS)
		return formatStat(&ps, tid == 0, h.permitted(ctx, p), rss.Cur), nil
	})
	b.file("statm", 0o444, false, func(_ *vfs.Ctx, p Process) ([]byte, error) { return formatStatm(p.Stat().Mem), nil })
	b.file("maps", 0o444, true, func(_ *vfs.Ctx, p Process) ([]byte, error) { return formatMaps(p.Maps()), nil })
	b.link("cwd", func(p Process, ctx *vfs.Ctx) (vfs.Loc, string, error) { return p.Cwd(ctx) })
	b.link("root", func(p Process, ctx *vfs.Ctx) (vfs.Loc, string, error) { return p.Root(ctx) })
	b.link("exe", func(p Process, ctx *vfs.Ctx) (vfs.Loc, string, error) { return p.Exe(ctx) })
	b.file("mounts", 0o444, false, func(_ *vfs.Ctx, p Process) ([]byte, error) { return formatMounts(p.Mounts()), nil })
	b.file("mountinfo", 0o444, false, func(_ *vfs.Ctx, p Process) ([]byte, error) {
		md, _ := p.(MountDever)
		return formatMountinfo(p.Mounts(), md), nil
	})
}

// sortedIDs returns ids sorted ascending without the values below min,
// without changing ids.
func sortedIDs(ids []int32, min int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if id >= min {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// taskDir is /proc/PID/task: a directory per thread.
type taskDir struct {
	attr
	readOnlyDir
	h *proc
}

// newTaskDir returns the task directory of the process.
func (h *proc) newTaskDir() *taskDir {
	a := h.attr(kTaskDir, 0, unix.S_IFDIR|0o555)
	a.nlink = 2
	return &taskDir{attr: a, h: h}
}

// Stat implements vfs.Inode: a link for each thread, as Linux's.
func (t *taskDir) Stat() (vfs.Stat, error) {
	st, _ := t.attr.Stat()
	if p, ok := t.h.live(); ok {
		st.Nlink += uint32(len(p.Threads()))
	}
	return st, nil
}

// Lookup implements vfs.DirInode.
func (t *taskDir) Lookup(_ *vfs.Ctx, name string) (vfs.Inode, error) {
	if name == ".." {
		return t.h.dir, nil
	}
	p, ok := t.h.live()
	if !ok {
		return nil, unix.ENOENT
	}
	tid, ok := parseID(name)
	if !ok || tid <= 0 {
		return nil, unix.ENOENT
	}
	if _, ok := p.Thread(tid); !ok {
		return nil, unix.ENOENT
	}
	return t.h.taskDir(tid), nil
}

// taskDir returns the directory of thread tid, made on first use.
func (h *proc) taskDir(tid int32) *dir {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.tasks[tid]; d != nil {
		return d
	}
	alive := func() bool {
		p, ok := h.live()
		if !ok {
			return false
		}
		_, ok = p.Thread(tid)
		return ok
	}
	d := newDir(h.attr(kTidDir, tidSub(tid), 0o555), h.task, strconv.FormatInt(int64(tid), 10), alive)
	h.populate(d, tid)
	h.tasks[tid] = d
	return d
}

// Readdir implements vfs.DirInode. Thread tid is at position tid.
func (t *taskDir) Readdir(_ *vfs.Ctx, cookie int64, emit func(vfs.Dirent) bool) error {
	p, ok := t.h.live()
	if !ok {
		return unix.ENOENT
	}
	tids := sortedIDs(p.Threads(), 1)
	if cookie == 0 {
		t.h.keepTasks(tids)
	}
	for _, tid := range tids {
		off := int64(tid)
		if off <= cookie {
			continue
		}
		e := vfs.Dirent{Name: strconv.FormatInt(off, 10), Ino: pidIno(t.h.pid, kTidDir, tidSub(tid)), Type: unix.DT_DIR, Off: off}
		if !emit(e) {
			return nil
		}
	}
	return nil
}

// keepTasks forgets the directories of the threads not in tids (sorted).
func (h *proc) keepTasks(tids []int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for tid := range h.tasks {
		if !containsSorted(tids, tid) {
			delete(h.tasks, tid)
		}
	}
}

// Name implements vfs.DirNamer.
func (t *taskDir) Name() (vfs.DirInode, string, error) {
	if !t.h.alive() {
		return nil, "", unix.ENOENT
	}
	return t.h.dir, "task", nil
}

// fdDir is /proc/PID/fd (magic links to the open files) or, with info set,
// /proc/PID/fdinfo (a file describing each), of the process or of one of
// its threads (the same descriptors).
type fdDir struct {
	attr
	readOnlyDir
	h      *proc
	parent *dir
	tid    int32
	info   bool

	mu   sync.Mutex
	kids map[int32]vfs.Inode // the entries looked up, by descriptor
}

// newFdDir returns the fd (or fdinfo) directory in parent, the directory
// of the process or of its thread tid. fd is only for the owner (0500);
// fdinfo is open to all (0555) but its entries refuse others.
func (h *proc) newFdDir(parent *dir, tid int32, info bool) *fdDir {
	k, perm := kFdDir, uint32(0o500)
	if info {
		k, perm = kFdinfoDir, 0o555
	}
	a := h.attr(k, tidSub(tid), unix.S_IFDIR|perm)
	a.nlink = 2
	return &fdDir{attr: a, h: h, parent: parent, tid: tid, info: info, kids: map[int32]vfs.Inode{}}
}

// Stat implements vfs.Inode: the size of fd is the number of open
// descriptors, as Linux 6.x shows it.
func (d *fdDir) Stat() (vfs.Stat, error) {
	st, _ := d.attr.Stat()
	if !d.info {
		if p, ok := d.h.live(); ok {
			st.Size = int64(len(p.FDs()))
		}
	}
	return st, nil
}

// process returns the process for a lookup or listing: ENOENT when it is
// gone, EACCES for fdinfo when the reader is not permitted.
func (d *fdDir) process(ctx *vfs.Ctx) (Process, error) {
	p, err := d.h.access(ctx, d.info)
	if err == unix.ESRCH {
		err = unix.ENOENT
	}
	return p, err
}

// Lookup implements vfs.DirInode.
func (d *fdDir) Lookup(ctx *vfs.Ctx, name string) (vfs.Inode, error) {
	if name == ".." {
		return d.parent, nil
	}
	p, err := d.process(ctx)
	if err != nil {
		return nil, err
	}
	fd, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	f, _, ok := p.FD(fd)
	if !ok {
		return nil, unix.ENOENT
	}
	if f != nil {
		f.Close()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := d.kids[fd]; k != nil {
		return k, nil
	}
	var k vfs.Inode
	if d.info {
		k = d.h.fdinfoFile(d.tid, fd)
	} else {
		k = &fdLink{attr: d.h.attr(kFd, tidSub(d.tid)|uint64(uint32(fd)), unix.S_IFLNK|0o700), h: d.h, fd: fd}
	}
	d.kids[fd] = k
	return k, nil
}

// Readdir implements vfs.DirInode. Descriptor n is at position n+1.
func (d *fdDir) Readdir(ctx *vfs.Ctx, cookie int64, emit func(vfs.Dirent) bool) error {
	p, err := d.process(ctx)
	if err != nil {
		return err
	}
	fds := sortedIDs(p.FDs(), 0)
	if cookie == 0 {
		d.keepOnly(fds)
	}
	k, typ := kFd, uint8(unix.DT_LNK)
	if d.info {
		k, typ = kFdinfo, unix.DT_REG
	}
	for _, fd := range fds {
		off := int64(fd) + 1
		if off <= cookie {
			continue
		}
		e := vfs.Dirent{Name: strconv.FormatInt(int64(fd), 10), Ino: pidIno(d.h.pid, k, tidSub(d.tid)|uint64(uint32(fd))), Type: typ, Off: off}
		if !emit(e) {
			return nil
		}
	}
	return nil
}

// keepOnly forgets the entries of the descriptors not in fds (sorted).
func (d *fdDir) keepOnly(fds []int32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for fd := range d.kids {
		if !containsSorted(fds, fd) {
			delete(d.kids, fd)
		}
	}
}

// Name implements vfs.DirNamer.
func (d *fdDir) Name() (vfs.DirInode, string, error) {
	if !d.parent.exists() {
		return nil, "", unix.ENOENT
	}
	if d.info {
		return d.parent, "fdinfo", nil
	}
	return d.parent, "fd", nil
}

// fdinfoFile returns the file fdinfo/fd of the process or of its thread
// tid.
func (h *proc) fdinfoFile(tid int32, fd int32) *genFile {
	return &genFile{
		attr: h.attr(kFdinfo, tidSub(tid)|uint64(uint32(fd)), unix.S_IFREG|0o444),
		gen: func(ctx *vfs.Ctx) ([]byte, error) {
			p, err := h.access(ctx, true)
			if err != nil {
				return nil, err
			}
			f, cloexec, ok := p.FD(fd)
			if !ok || f == nil {
				return nil, unix.ENOENT
			}
			defer f.Close()
			return formatFdinfo(f, cloexec), nil
		},
	}
}

// fdLink is the magic link fd/N: readlink(2) shows the path of the open
// file (or the name of an anonymous one, "pipe:[ino]"), following it leads
// to the file's location. Its mode shows the access mode: lr-x for a
// file open for reading, l-wx for writing, lrwx for both.
type fdLink struct {
	attr
	h  *proc
	fd int32
}

// file returns the open file with a reference for a permitted reader:
// ENOENT if the descriptor or process is gone, EACCES for others.
func (l *fdLink) file(ctx *vfs.Ctx) (*vfs.File, error) {
	p, err := l.h.access(ctx, true)
	if err == unix.ESRCH {
		err = unix.ENOENT
	}
	if err != nil {
		return nil, err
	}
	f, _, ok := p.FD(l.fd)
	if !ok || f == nil {
		return nil, unix.ENOENT
	}
	return f, nil
}

// Stat implements vfs.Inode: ENOENT once the descriptor is closed.
func (l *fdLink) Stat() (vfs.Stat, error) {
	f, err := l.file(nil)
	if err != nil {
		return vfs.Stat{}, err
	}
	defer f.Close()
	st, _ := l.attr.Stat()
	st.Mode = unix.S_IFLNK | unix.S_IXUSR
	if f.Readable() {
		st.Mode |= unix.S_IRUSR
	}
	if f.Writable() {
		st.Mode |= unix.S_IWUSR
	}
	st.Size = 64
	return st, nil
}

// Readlink implements vfs.SymlinkInode.
func (l *fdLink) Readlink(ctx *vfs.Ctx) (string, error) {
	f, err := l.file(ctx)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return f.Path(ctx), nil
}

// Follow implements vfs.MagicLink.
func (l *fdLink) Follow(ctx *vfs.Ctx) (vfs.Loc, error) {
	f, err := l.file(ctx)
	if err != nil {
		return vfs.Loc{}, err
	}
	defer f.Close()
	return f.Loc(), nil
}
