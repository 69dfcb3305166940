// Package memfs is an in-memory file system, the root file system of
// dunix (like Linux's tmpfs and rootfs). It implements the dunix/fs/vfs
// interfaces: regular files (sparse, stored in 4 KiB pages allocated when
// written), directories (a map per directory plus an insertion-ordered list
// for stable readdir positions), symbolic links, hard links, and device
// nodes, FIFOs and sockets as plain inodes (the VFS delegates their opening
// to the device registry and the FIFO table).
//
// Timestamps follow Linux: writes and truncation set the modification and
// change times, metadata changes the change time, directory changes the
// directory's modification and change times. Access times are not updated
// by reads (as with noatime).
//
// An unlinked file stays readable and writable through the Files that have
// it open; its pages are freed when the last one is closed.
//
// Locking: each inode has a mutex for its attributes (and a regular file's
// pages); a directory has another for its entries, taken before the
// attribute mutexes; renames also take the file system's rename mutex
// first. All methods are safe for concurrent use.
package memfs

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// Magic is the statfs type of memfs, Linux's TMPFS_MAGIC.
const Magic = 0x01021994

const (
	pageShift = 12
	pageSize  = 1 << pageShift
	pageMask  = pageSize - 1
	// direntSize is what each entry adds to a directory's size, as
	// tmpfs's BOGO_DIRENT_SIZE.
	direntSize = 20
	// maxLink caps link counts.
	maxLink = math.MaxInt32
)

// page is one page of a regular file's data.
type page [pageSize]byte

// Options configure a new file system.
type Options struct {
	// Mode is the root directory's permission bits; 0 means 0755.
	Mode uint32
	// UID and GID own the root directory.
	UID, GID uint32
	// MaxBytes caps the data stored (ENOSPC beyond), in bytes; 0 means
	// no limit.
	MaxBytes int64
	// MaxInodes caps the number of inodes; 0 means no limit.
	MaxInodes int64
	// Clock gives the time for timestamps; nil means vfs.Now.
	Clock func() vfs.Timespec
	// Frames, when set, provides the memory of file pages as physical
	// frames, which shared mappings of the files then map (SharedFrame);
	// nil keeps pages in the Go heap and shared mappings unsupported.
	Frames Frames
}

// Frames hands out page frames with reference counts: the kernel's
// physical pages, shared between files and the user mappings of them.
type Frames interface {
	// Get returns a zeroed frame with one reference, and its memory.
	Get() (frame uintptr, data *[4096]byte, err error)
	// Ref adds a reference to frame.
	Ref(frame uintptr)
	// Put drops a reference; the last one frees the frame.
	Put(frame uintptr)
}

// FS is one in-memory file system. It implements vfs.Filesystem.
type FS struct {
	dev       uint64
	clock     func() vfs.Timespec
	frames    Frames
	maxPages  int64
	maxInodes int64

	renameMu sync.Mutex // serializes renames, guards the directory tree's shape
	nextIno  atomic.Uint64
	pages    atomic.Int64 // pages allocated
	inodes   atomic.Int64 // inodes alive

	root *dir
}

// New returns an empty file system (a root directory only).
func New(opts *Options) *FS {
	var o Options
	if opts != nil {
		o = *opts
	}
	fs := &FS{dev: vfs.NewDev(), clock: o.Clock, maxInodes: o.MaxInodes, frames: o.Frames}
	if fs.clock == nil {
		fs.clock = vfs.Now
	}
	if o.MaxBytes > 0 {
		fs.maxPages = (o.MaxBytes + pageMask) >> pageShift
	}
	mode := o.Mode & 0o7777
	if mode == 0 {
		mode = 0o755
	}
	fs.inodes.Add(1)
	fs.root = fs.newDir(&vfs.CreateArgs{Mode: unix.S_IFDIR | mode, UID: o.UID, GID: o.GID})
	fs.root.st.Nlink = 2
	return fs
}

// Root implements vfs.Filesystem.
func (fs *FS) Root() vfs.DirInode { return fs.root }

// Dev returns the device number of the file system's inodes.
func (fs *FS) Dev() uint64 { return fs.dev }

// Statfs implements vfs.Filesystem.
func (fs *FS) Statfs() (vfs.Statfs, error) {
	used := uint64(fs.pages.Load())
	total := uint64(fs.maxPages)
	if total == 0 {
		total = used + 1<<28 // no limit: report 1 TiB free
	}
	if total < used {
		total = used
	}
	inodes := uint64(fs.inodes.Load())
	files := uint64(fs.maxInodes)
	if files == 0 {
		files = inodes + 1<<24
	}
	if files < inodes {
		files = inodes
	}
	return vfs.Statfs{
		Type: Magic, Bsize: pageSize, Frsize: pageSize, Namelen: vfs.NameMax,
		Blocks: total, Bfree: total - used, Bavail: total - used,
		Files: files, Ffree: files - inodes,
		Fsid: [2]int32{int32(unix.Major(fs.dev)), int32(unix.Minor(fs.dev))},
	}, nil
}

// allocPage reserves one page of space.
func (fs *FS) allocPage() bool {
	if fs.maxPages == 0 {
		fs.pages.Add(1)
		return true
	}
	for {
		n := fs.pages.Load()
		if n >= fs.maxPages {
			return false
		}
		if fs.pages.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// allocInode reserves one inode.
func (fs *FS) allocInode() bool {
	if fs.maxInodes == 0 {
		fs.inodes.Add(1)
		return true
	}
	for {
		n := fs.inodes.Load()
		if n >= fs.maxInodes {
			return false
		}
		if fs.inodes.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// memInode is implemented by every inode type of memfs.
type memInode interface {
	vfs.Inode
	base() *node
	// dropped is called when the last link goes (n.mu not held).
	dropped()
}

// node is what all inodes share: attributes. Size and Blocks of st are
// not used (each type computes them).
type node struct {
	fs    *FS
	ino   uint64 // st.Ino, readable without mu
	ftype uint32 // st.Mode's type bits, readable without mu
	mu    sync.RWMutex
	st    vfs.Stat
}

// init sets up the attributes of a new inode.
func (n *node) init(fs *FS, a *vfs.CreateArgs) {
	now := fs.clock()
	n.fs = fs
	n.ino = fs.nextIno.Add(1)
	n.ftype = a.Mode & unix.S_IFMT
	n.st = vfs.Stat{
		Dev: fs.dev, Ino: n.ino, Mode: a.Mode, Nlink: 1, UID: a.UID, GID: a.GID,
		Blksize: pageSize, Atime: now, Mtime: now, Ctime: now, Btime: now,
	}
}

func (n *node) base() *node { return n }

// dropped releases the inode's accounting.
func (n *node) dropped() { n.fs.inodes.Add(-1) }

// Stat implements vfs.Inode.
func (n *node) Stat() (vfs.Stat, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.st, nil
}

// SetAttr implements vfs.Inode for inodes without a size to set.
func (n *node) SetAttr(a *vfs.SetAttr) error {
	if a.Mask&vfs.SetSize != 0 {
		return unix.EINVAL
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setAttrLocked(a)
	return nil
}

// setAttrLocked applies a (but its size) with n.mu held.
func (n *node) setAttrLocked(a *vfs.SetAttr) {
	if a.Mask&vfs.SetCtime == 0 {
		a2 := *a
		a2.Mask |= vfs.SetCtime
		a2.Ctime = n.fs.clock()
		a = &a2
	}
	vfs.ApplyAttr(&n.st, a)
}

// touch sets the change time, and the modification time if mtime.
func (n *node) touch(now vfs.Timespec, mtime bool) {
	n.mu.Lock()
	n.st.Ctime = now
	if mtime {
		n.st.Mtime = now
	}
	n.mu.Unlock()
}

// unlink drops one link (all for a directory) and reports whether none
// remain.
func (n *node) unlink(now vfs.Timespec, all bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if all || n.st.Nlink <= 1 {
		n.st.Nlink = 0
	} else {
		n.st.Nlink--
	}
	n.st.Ctime = now
	return n.st.Nlink == 0
}

// special is a device node, FIFO or socket.
type special struct{ node }

// symlink is a symbolic link.
type symlink struct {
	node
	target string
}

// Stat implements vfs.Inode.
func (s *symlink) Stat() (vfs.Stat, error) {
	st, _ := s.node.Stat()
	st.Size = int64(len(s.target))
	return st, nil
}

// Readlink implements vfs.SymlinkInode.
func (s *symlink) Readlink(*vfs.Ctx) (string, error) { return s.target, nil }

// newInode makes an inode described by a (not linked anywhere).
func (fs *FS) newInode(a *vfs.CreateArgs) (memInode, error) {
	switch a.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		f := &file{}
		f.init(fs, a)
		return f, nil
	case unix.S_IFDIR:
		return fs.newDir(a), nil
	case unix.S_IFLNK:
		if a.Target == "" {
			return nil, unix.ENOENT
		}
		s := &symlink{target: a.Target}
		s.init(fs, a)
		return s, nil
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		s := &special{}
		s.init(fs, a)
		if t := a.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
			s.st.Rdev = a.Rdev
		}
		return s, nil
	}
	return nil, unix.EINVAL
}

// newDir makes an empty directory (link count 2: its name and ".").
func (fs *FS) newDir(a *vfs.CreateArgs) *dir {
	d := &dir{ents: map[string]*dirent{}}
	d.init(fs, a)
	d.st.Nlink = 2
	return d
}

// dirent is one directory entry.
type dirent struct {
	name  string
	child memInode
	ino   uint64
	typ   uint8
	seq   int64 // readdir position, increasing in the directory
	gone  bool  // removed (still in the list until compaction)
}

// dir is a directory.
type dir struct {
	node

	entMu   sync.RWMutex // guards the fields below
	parent  *dir         // nil for the root; changed only with fs.renameMu held too
	name    string       // name in parent
	dead    bool         // removed
	ents    map[string]*dirent
	list    []*dirent // in seq order, with gone entries
	ngone   int
	nextSeq int64
	nents   atomic.Int64 // len(ents), for Stat without entMu
}

// Stat implements vfs.Inode.
func (d *dir) Stat() (vfs.Stat, error) {
	st, _ := d.node.Stat()
	st.Size = (d.nents.Load() + 2) * direntSize
	return st, nil
}

// insert adds an entry (entMu held).
func (d *dir) insert(name string, child memInode) *dirent {
	d.nextSeq++
	b := child.base()
	e := &dirent{name: name, child: child, ino: b.ino, typ: vfs.DirentType(b.ftype), seq: d.nextSeq}
	d.ents[name] = e
	d.list = append(d.list, e)
	d.nents.Add(1)
	return e
}

// remove deletes an entry (entMu held), compacting the list when it is
// mostly removed entries.
func (d *dir) remove(e *dirent) {
	delete(d.ents, e.name)
	e.gone = true
	d.ngone++
	d.nents.Add(-1)
	if d.ngone > 16 && d.ngone > len(d.list)/2 {
		l := make([]*dirent, 0, len(d.ents)+8)
		for _, x := range d.list {
			if !x.gone {
				l = append(l, x)
			}
		}
		d.list, d.ngone = l, 0
	}
}

// Lookup implements vfs.DirInode.
func (d *dir) Lookup(_ *vfs.Ctx, name string) (vfs.Inode, error) {
	d.entMu.RLock()
	defer d.entMu.RUnlock()
	if name == ".." {
		if d.parent == nil {
			return d, nil
		}
		return d.parent, nil
	}
	e := d.ents[name]
	if e == nil {
		return nil, unix.ENOENT
	}
	return e.child, nil
}

// Name implements vfs.DirNamer.
func (d *dir) Name() (vfs.DirInode, string, error) {
	d.entMu.RLock()
	defer d.entMu.RUnlock()
	if d.dead {
		return nil, "", unix.ENOENT
	}
	if d.parent == nil {
		return d, "", nil
	}
	return d.parent, d.name, nil
}

// Create implements vfs.DirInode.
func (d *dir) Create(name string, a *vfs.CreateArgs) (vfs.Inode, error) {
	d.entMu.Lock()
	defer d.entMu.Unlock()
	if d.dead {
		return nil, unix.ENOENT
	}
	if d.ents[name] != nil {
		return nil, unix.EEXIST
	}
	isDir := a.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir {
		d.mu.RLock()
		full := d.st.Nlink >= maxLink
		d.mu.RUnlock()
		if full {
			return nil, unix.EMLINK
		}
	}
	if !d.fs.allocInode() {
		return nil, unix.ENOSPC
	}
	n, err := d.fs.newInode(a)
	if err != nil {
		d.fs.inodes.Add(-1)
		return nil, err
	}
	if c, ok := n.(*dir); ok {
		c.parent, c.name = d, name
	}
	d.insert(name, n)
	now := d.fs.clock()
	d.mu.Lock()
	d.st.Mtime, d.st.Ctime = now, now
	if isDir {
		d.st.Nlink++
	}
	d.mu.Unlock()
	return n, nil
}

// Link implements vfs.DirInode.
func (d *dir) Link(name string, target vfs.Inode) error {
	t, ok := target.(memInode)
	if !ok || t.base().fs != d.fs {
		return unix.EXDEV
	}
	if _, ok := t.(*dir); ok {
		return unix.EPERM
	}
	d.entMu.Lock()
	defer d.entMu.Unlock()
	if d.dead {
		return unix.ENOENT
	}
	if d.ents[name] != nil {
		return unix.EEXIST
	}
	now := d.fs.clock()
	tn := t.base()
	tn.mu.Lock()
	switch {
	case tn.st.Nlink == 0:
		tn.mu.Unlock()
		return unix.ENOENT
	case tn.st.Nlink >= maxLink:
		tn.mu.Unlock()
		return unix.EMLINK
	}
	tn.st.Nlink++
	tn.st.Ctime = now
	tn.mu.Unlock()
	d.insert(name, t)
	d.touch(now, true)
	return nil
}

// Unlink implements vfs.DirInode.
func (d *dir) Unlink(name string, isDir bool, check func(victim vfs.Inode) error) error {
	d.entMu.Lock()
	defer d.entMu.Unlock()
	e := d.ents[name]
	if e == nil {
		return unix.ENOENT
	}
	if check != nil {
		if err := check(e.child); err != nil {
			return err
		}
	}
	cd, childIsDir := e.child.(*dir)
	switch {
	case isDir && !childIsDir:
		return unix.ENOTDIR
	case !isDir && childIsDir:
		return unix.EISDIR
	case isDir:
		cd.entMu.Lock()
		empty := len(cd.ents) == 0
		if empty {
			cd.dead = true
		}
		cd.entMu.Unlock()
		if !empty {
			return unix.ENOTEMPTY
		}
	}
	d.remove(e)
	now := d.fs.clock()
	if e.child.base().unlink(now, isDir) {
		e.child.dropped()
	}
	d.mu.Lock()
	d.st.Mtime, d.st.Ctime = now, now
	if isDir {
		d.st.Nlink--
	}
	d.mu.Unlock()
	return nil
}

// Readdir implements vfs.DirInode. Entries are copied in batches so that
// emit runs without the directory locked.
func (d *dir) Readdir(_ *vfs.Ctx, cookie int64, emit func(vfs.Dirent) bool) error {
	var batch [64]vfs.Dirent
	for {
		n := 0
		d.entMu.RLock()
		i := sort.Search(len(d.list), func(i int) bool { return d.list[i].seq > cookie })
		for ; i < len(d.list) && n < len(batch); i++ {
			if e := d.list[i]; !e.gone {
				batch[n] = vfs.Dirent{Name: e.name, Ino: e.ino, Type: e.typ, Off: e.seq}
				n++
			}
		}
		more := i < len(d.list)
		d.entMu.RUnlock()
		for _, e := range batch[:n] {
			if !emit(e) {
				return nil
			}
			cookie = e.Off
		}
		if !more {
			return nil
		}
	}
}

// isAncestor reports whether a is a proper ancestor of b (fs.renameMu
// held, so the tree's shape is stable).
func isAncestor(a, b *dir) bool {
	for x := b.parent; x != nil; x = x.parent {
		if x == a {
			return true
		}
	}
	return false
}

// setParent records a moved directory's new place (fs.renameMu and the
// parents' entMu held).
func (d *dir) setParent(p *dir, name string) {
	d.entMu.Lock()
	d.parent, d.name = p, name
	d.entMu.Unlock()
}

// Rename implements vfs.Filesystem.
func (fs *FS) Rename(odI vfs.DirInode, oname string, ndI vfs.DirInode, nname string, flags uint32, check func(moved, replaced vfs.Inode) error) error {
	od, ok1 := odI.(*dir)
	nd, ok2 := ndI.(*dir)
	if !ok1 || !ok2 || od.fs != fs || nd.fs != fs {
		return unix.EXDEV
	}
	fs.renameMu.Lock()
	defer fs.renameMu.Unlock()

	// Lock the directories, an ancestor before its descendant.
	if od == nd {
		od.entMu.Lock()
		defer od.entMu.Unlock()
	} else {
		first, second := od, nd
		switch {
		case isAncestor(nd, od):
			first, second = nd, od
		case isAncestor(od, nd):
		case nd.ino < od.ino:
			first, second = nd, od
		}
		first.entMu.Lock()
		defer first.entMu.Unlock()
		second.entMu.Lock()
		defer second.entMu.Unlock()
	}
	if od.dead || nd.dead {
		return unix.ENOENT
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	oe, ne := od.ents[oname], nd.ents[nname]
	switch {
	case oe == nil:
		return unix.ENOENT
	case ne == nil && exchange:
		return unix.ENOENT
	case ne != nil && flags&unix.RENAME_NOREPLACE != 0:
		return unix.EEXIST
	}
	moved := oe.child
	var replaced memInode
	var replacedI vfs.Inode
	if ne != nil {
		replaced, replacedI = ne.child, ne.child
	}
	if replaced == moved {
		return nil // two names of one inode: nothing to do, as Linux
	}
	md, movedIsDir := moved.(*dir)
	rd, replacedIsDir := replaced.(*dir)
	if movedIsDir && (md == nd || isAncestor(md, nd)) {
		return unix.EINVAL
	}
	if replacedIsDir && (rd == od || isAncestor(rd, od)) {
		if exchange {
			return unix.EINVAL
		}
		return unix.ENOTEMPTY
	}
	if check != nil {
		if err := check(moved, replacedI); err != nil {
			return err
		}
	}
	now := fs.clock()
	if exchange {
		oe.child, ne.child = replaced, moved
		oe.ino, ne.ino = ne.ino, oe.ino
		oe.typ, ne.typ = ne.typ, oe.typ
		if movedIsDir {
			md.setParent(nd, nname)
		}
		if replacedIsDir {
			rd.setParent(od, oname)
		}
		if od != nd && movedIsDir != replacedIsDir {
			delta := uint32(1) // a directory moves from od to nd
			if replacedIsDir {
				delta = ^uint32(0) // one moves from nd to od
			}
			od.mu.Lock()
			od.st.Nlink -= delta
			od.mu.Unlock()
			nd.mu.Lock()
			nd.st.Nlink += delta
			nd.mu.Unlock()
		}
		moved.base().touch(now, false)
		replaced.base().touch(now, false)
		od.touch(now, true)
		nd.touch(now, true)
		return nil
	}
	if replaced != nil {
		switch {
		case movedIsDir && !replacedIsDir:
			return unix.ENOTDIR
		case !movedIsDir && replacedIsDir:
			return unix.EISDIR
		case replacedIsDir:
			rd.entMu.Lock()
			empty := len(rd.ents) == 0
			if empty {
				rd.dead = true
			}
			rd.entMu.Unlock()
			if !empty {
				return unix.ENOTEMPTY
			}
		}
		nd.remove(ne)
		if replaced.base().unlink(now, replacedIsDir) {
			replaced.dropped()
		}
		if replacedIsDir {
			nd.mu.Lock()
			nd.st.Nlink--
			nd.mu.Unlock()
		}
	}
	od.remove(oe)
	nd.insert(nname, moved)
	if movedIsDir {
		md.setParent(nd, nname)
		if od != nd {
			od.mu.Lock()
			od.st.Nlink--
			od.mu.Unlock()
			nd.mu.Lock()
			nd.st.Nlink++
			nd.mu.Unlock()
		}
	}
	moved.base().touch(now, false)
	od.touch(now, true)
	if nd != od {
		nd.touch(now, true)
	}
	return nil
}
