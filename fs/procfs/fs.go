package procfs

import (
	"sync"
	"sync/atomic"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// Magic is the statfs type of procfs, Linux's PROC_SUPER_MAGIC.
const Magic = 0x9fa0

// blockSize is the st_blksize of procfs inodes, as Linux's.
const blockSize = 1024

// FS is a procfs instance. It implements vfs.Filesystem.
type FS struct {
	src  Source
	dev  uint64
	born vfs.Timespec
	root *rootDir

	mu      sync.Mutex      // guards procs and pruneAt
	procs   map[int32]*proc // the processes looked up, by PID
	pruneAt int             // size of procs that triggers a sweep
	nextIno atomic.Uint64   // numbers of the system inodes
}

// New returns a procfs showing src. Mount it on /proc with MountOptions.
func New(src Source) *FS {
	fs := &FS{src: src, dev: vfs.NewDev(), born: vfs.Now(), procs: map[int32]*proc{}, pruneAt: 64}
	fs.root = fs.newRoot()
	return fs
}

// MountOptions returns the options Linux's /proc is mounted with: source
// and type "proc", nosuid, nodev, noexec.
func MountOptions() vfs.MountOptions {
	return vfs.MountOptions{Source: "proc", Type: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}
}

// Root implements vfs.Filesystem.
func (fs *FS) Root() vfs.DirInode { return fs.root }

// Statfs implements vfs.Filesystem.
func (fs *FS) Statfs() (vfs.Statfs, error) {
	return vfs.Statfs{
		Type: Magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax,
		Fsid: [2]int32{int32(unix.Major(fs.dev)), int32(unix.Minor(fs.dev))},
	}, nil
}

// Rename implements vfs.Filesystem: nothing in procfs can be renamed.
func (fs *FS) Rename(vfs.DirInode, string, vfs.DirInode, string, uint32, func(moved, replaced vfs.Inode) error) error {
	return unix.EPERM
}

// newIno returns the next system inode number.
func (fs *FS) newIno() uint64 { return fs.nextIno.Add(1) }

// lookupProc returns procfs's handle on the process with ID pid, making
// one if the process is new (or the PID now names another process).
func (fs *FS) lookupProc(pid int32) (*proc, error) {
	p, ok := fs.src.Process(pid)
	if !ok || p == nil {
		return nil, unix.ENOENT
	}
	fs.mu.Lock()
	h := fs.procs[pid]
	fs.mu.Unlock()
	if h != nil && sameProcess(h.p, p) {
		return h, nil
	}
	nh := fs.newProc(pid, p)
	fs.mu.Lock()
	if h = fs.procs[pid]; h != nil && sameProcess(h.p, p) {
		fs.mu.Unlock() // another lookup made it first
		return h, nil
	}
	fs.procs[pid] = nh
	var sweep []*proc
	if len(fs.procs) >= fs.pruneAt {
		for _, x := range fs.procs {
			sweep = append(sweep, x)
		}
		fs.pruneAt = 2*len(fs.procs) + 64
	}
	fs.mu.Unlock()
	fs.prune(sweep)
	return nh, nil
}

// prune forgets the handles among hs whose processes are gone, so that
// the table does not grow with processes nobody looks at. A handle is
// forgotten only once its process is gone for good: a live process keeps
// the same handle, hence the same inodes.
func (fs *FS) prune(hs []*proc) {
	if len(hs) == 0 {
		return
	}
	var dead []*proc
	for _, h := range hs {
		if _, ok := h.live(); !ok {
			dead = append(dead, h)
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, h := range dead {
		if fs.procs[h.pid] == h {
			delete(fs.procs, h.pid)
		}
	}
	fs.pruneAt = 2*len(fs.procs) + 64
}

// keepOnly forgets the handles of the processes gone, given pids (sorted),
// the processes a listing of /proc found.
func (fs *FS) keepOnly(pids []int32) {
	var sweep []*proc
	fs.mu.Lock()
	for pid, h := range fs.procs {
		if !containsSorted(pids, pid) {
			sweep = append(sweep, h)
		}
	}
	fs.mu.Unlock()
	fs.prune(sweep)
}

// containsSorted reports whether the ascending list xs holds x.
func containsSorted(xs []int32, x int32) bool {
	lo, hi := 0, len(xs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if xs[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(xs) && xs[lo] == x
}

// attr is what every procfs inode has: fixed attributes, and the process
// that owns it (nil for the system files, owned by root).
type attr struct {
	fs    *FS
	ino   uint64
	mode  uint32 // file type and permission bits
	nlink uint32
	size  int64
	owner *proc
	time  vfs.Timespec
}

// Stat implements vfs.Inode.
func (a *attr) Stat() (vfs.Stat, error) {
	st := vfs.Stat{
		Dev: a.fs.dev, Ino: a.ino, Mode: a.mode, Nlink: a.nlink, Size: a.size,
		Blksize: blockSize, Atime: a.time, Mtime: a.time, Ctime: a.time,
	}
	if a.owner != nil {
		st.UID, st.GID = a.owner.ids()
	}
	return st, nil
}

// base returns the attributes (for dir.add).
func (a *attr) base() *attr { return a }

// SetAttr implements vfs.Inode: attributes cannot be changed.
func (a *attr) SetAttr(*vfs.SetAttr) error { return unix.EPERM }

// genFunc makes the contents of a file for the reader described by ctx.
type genFunc func(ctx *vfs.Ctx) ([]byte, error)

// genFile is a regular file whose contents are made when it is opened.
type genFile struct {
	attr
	gen genFunc
}

// Open implements vfs.Opener: the contents are made now and kept by the
// open file. Nothing can be written (EACCES).
func (g *genFile) Open(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		return nil, unix.EACCES
	}
	c := *ctx
	data, err := g.gen(&c)
	if err != nil {
		return nil, err
	}
	return &seqFile{gen: g.gen, ctx: &c, data: data, fresh: true}, nil
}

// seqFile is an open generated file: a snapshot of its contents, made
// again by a read at offset 0 as Linux's seq_file does (programs like top
// keep /proc/stat open and read it from the start again). If that fails
// (ESRCH: the process is gone), the read fails as Linux's does.
type seqFile struct {
	gen   genFunc
	ctx   *vfs.Ctx
	mu    sync.Mutex
	data  []byte
	fresh bool // data was made by the open and not read yet
}

// Read implements vfs.FileOps.
func (s *seqFile) Read(_ *vfs.File, dst []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off == 0 && !s.fresh {
		d, err := s.gen(s.ctx)
		if err != nil {
			return 0, err
		}
		s.data = d
	}
	s.fresh = false
	if off >= int64(len(s.data)) {
		return 0, nil
	}
	return copy(dst, s.data[off:]), nil
}

// Write implements vfs.FileOps (never reached: files open read-only).
func (s *seqFile) Write(*vfs.File, []byte, int64) (int, error) { return 0, unix.EINVAL }

// Release implements vfs.FileOps.
func (s *seqFile) Release() {}

// Seek implements vfs.Seeker: SEEK_SET and SEEK_CUR only, as seq_lseek.
func (s *seqFile) Seek(_ *vfs.File, cur, off int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		if (off > 0 && cur > 1<<62) || cur+off < 0 {
			return 0, unix.EINVAL
		}
		off += cur
	default:
		return 0, unix.EINVAL
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return off, nil
}

// textFunc returns the target text of a symbolic link for ctx.
type textFunc func(ctx *vfs.Ctx) (string, error)

// symlink is a symbolic link whose target depends on the reader
// (/proc/self) or not (/proc/mounts).
type symlink struct {
	attr
	text textFunc
}

// Readlink implements vfs.SymlinkInode.
func (s *symlink) Readlink(ctx *vfs.Ctx) (string, error) { return s.text(ctx) }

// magicLink is a symbolic link that leads straight to a location (a
// process's open file, executable, current or root directory).
type magicLink struct {
	attr
	text   textFunc
	follow func(ctx *vfs.Ctx) (vfs.Loc, error)
}

// Readlink implements vfs.SymlinkInode.
func (m *magicLink) Readlink(ctx *vfs.Ctx) (string, error) { return m.text(ctx) }

// Follow implements vfs.MagicLink.
func (m *magicLink) Follow(ctx *vfs.Ctx) (vfs.Loc, error) { return m.follow(ctx) }

// kid is an entry of a directory with fixed contents.
type kid struct {
	name  string
	ino   vfs.Inode
	num   uint64 // inode number
	dtype uint8
}

// dir is a directory with fixed contents (/proc/sys/..., /proc/PID,
// /proc/PID/task/TID). alive, if set, reports whether it still exists:
// when it does not, lookups and listings fail with ENOENT.
type dir struct {
	attr
	readOnlyDir
	parent vfs.DirInode // nil: the directory is the root and its own parent
	name   string
	kids   []kid
	alive  func() bool
}

// newDir returns an empty directory named name in parent.
func newDir(a attr, parent vfs.DirInode, name string, alive func() bool) *dir {
	a.mode = unix.S_IFDIR | a.mode&0o7777
	a.nlink = 2
	return &dir{attr: a, parent: parent, name: name, alive: alive}
}

// add adds an entry (during construction only).
func (d *dir) add(name string, ino vfs.Inode) {
	a := ino.(interface{ base() *attr }).base()
	d.kids = append(d.kids, kid{name: name, ino: ino, num: a.ino, dtype: vfs.DirentType(a.mode)})
	if a.mode&unix.S_IFMT == unix.S_IFDIR {
		d.nlink++
	}
}

// exists reports whether the directory still exists.
func (d *dir) exists() bool { return d.alive == nil || d.alive() }

// up returns the parent directory.
func (d *dir) up() vfs.DirInode {
	if d.parent == nil {
		return d
	}
	return d.parent
}

// Lookup implements vfs.DirInode.
func (d *dir) Lookup(_ *vfs.Ctx, name string) (vfs.Inode, error) {
	if name == ".." {
		return d.up(), nil
	}
	if !d.exists() {
		return nil, unix.ENOENT
	}
	for i := range d.kids {
		if d.kids[i].name == name {
			return d.kids[i].ino, nil
		}
	}
	return nil, unix.ENOENT
}

// Readdir implements vfs.DirInode. Entry i is at position i+1.
func (d *dir) Readdir(_ *vfs.Ctx, cookie int64, emit func(vfs.Dirent) bool) error {
	if !d.exists() {
		return unix.ENOENT
	}
	for i, k := range d.kids {
		off := int64(i) + 1
		if off <= cookie {
			continue
		}
		if !emit(vfs.Dirent{Name: k.name, Ino: k.num, Type: k.dtype, Off: off}) {
			return nil
		}
	}
	return nil
}

// Name implements vfs.DirNamer.
func (d *dir) Name() (vfs.DirInode, string, error) {
	if !d.exists() {
		return nil, "", unix.ENOENT
	}
	if d.parent == nil {
		return d, "", nil
	}
	return d.parent, d.name, nil
}

// readOnlyDir holds the directory methods that would change something:
// procfs has nothing to create (ENOENT, as Linux's lookup fails first),
// remove or link (EPERM). Directory types embed it.
type readOnlyDir struct{}

// Create implements vfs.DirInode.
func (readOnlyDir) Create(string, *vfs.CreateArgs) (vfs.Inode, error) { return nil, unix.ENOENT }

// Link implements vfs.DirInode.
func (readOnlyDir) Link(string, vfs.Inode) error { return unix.EPERM }

// Unlink implements vfs.DirInode.
func (readOnlyDir) Unlink(string, bool, func(vfs.Inode) error) error { return unix.EPERM }
