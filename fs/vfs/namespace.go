package vfs

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Loc is a location in a namespace: a mount and an inode of its file
// system. The system-call layer keeps one for each process's current and
// root directories, and gets one from a File (File.Loc) for the *at calls.
// The zero Loc is "none". Locs are comparable.
type Loc struct {
	mnt *Mount
	ino Inode
}

// Mount returns the mount of l.
func (l Loc) Mount() *Mount { return l.mnt }

// Inode returns the inode of l.
func (l Loc) Inode() Inode { return l.ino }

// IsZero reports whether l is the zero Loc.
func (l Loc) IsZero() bool { return l.ino == nil }

// DeviceOpener opens device nodes; the device registry (dunix/fs/devfs)
// implements it.
type DeviceOpener interface {
	// OpenDevice returns the FileOps for a new open of the device of type
	// typ (unix.S_IFCHR or unix.S_IFBLK) with numbers major:minor, or
	// ENXIO if there is none. flags are the open(2) flags.
	OpenDevice(ctx *Ctx, typ, major, minor uint32, flags int) (FileOps, error)
}

// FIFOOpener opens FIFOs (named pipes); dunix/fs/pipe implements it.
type FIFOOpener interface {
	// OpenFIFO returns the FileOps for a new open of the FIFO inode ino.
	// All opens of one inode share one pipe. A blocking open that must
	// wait for the other side returns FileOps whose OpenPending is true.
	OpenFIFO(ctx *Ctx, ino Inode, flags int) (FileOps, error)
}

// Options configure a Namespace.
type Options struct {
	// Devices opens device nodes; nil makes them all ENXIO.
	Devices DeviceOpener
	// FIFOs opens FIFOs; nil makes them ENXIO.
	FIFOs FIFOOpener
	// Root describes the root mount (its Flags apply, the rest is shown
	// in Mounts).
	Root MountOptions
}

// MountOptions describe a mount.
type MountOptions struct {
	// Flags are mount(2) flags: unix.MS_RDONLY, MS_NOSUID, MS_NODEV,
	// MS_NOEXEC, MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_SYNCHRONOUS
	// are kept; MS_RDONLY and MS_NODEV and MS_NOEXEC are enforced by the
	// VFS, MS_NOSUID by the exec code.
	Flags uint32
	// Source is the mounted thing as /proc/mounts shows it ("tmpfs").
	Source string
	// Type is the file system type ("tmpfs", "devtmpfs", "proc").
	Type string
	// Data is the option string shown after the flags.
	Data string
}

// keptFlags are the mount flags a Mount remembers.
const keptFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_SYNCHRONOUS

// Mount is a file system (or a subtree of one, for bind mounts) attached
// to a namespace.
type Mount struct {
	ns     *Namespace
	id     int
	fs     Filesystem
	root   Inode
	parent atomic.Pointer[Loc] // the mount point; nil at the top and once detached
	flags  atomic.Uint32
	source string
	fstype string
	data   string

	// For a file bind-mounted on a file: the directory and name of the
	// mount point, for paths.
	fileDir  Loc
	fileName string

	openFiles atomic.Int64 // Files open on this mount
}

// Filesystem returns the mounted file system.
func (m *Mount) Filesystem() Filesystem { return m.fs }

// Root returns the root location of the mount.
func (m *Mount) Root() Loc { return Loc{mnt: m, ino: m.root} }

// Flags returns the mount flags (unix.MS_*).
func (m *Mount) Flags() uint32 { return m.flags.Load() }

// ID returns the mount's number, unique in its namespace.
func (m *Mount) ID() int { return m.id }

// readOnly reports whether the mount is read-only.
func (m *Mount) readOnly() bool { return m != nil && m.flags.Load()&unix.MS_RDONLY != 0 }

// statfs returns the file system's statistics with the mount's flags.
func (m *Mount) statfs() (Statfs, error) {
	s, err := m.fs.Statfs()
	if err != nil {
		return s, err
	}
	f := m.flags.Load()
	s.Flags = 0x20 // ST_VALID
	for _, b := range [...]struct{ ms, st uint32 }{
		{unix.MS_RDONLY, unix.ST_RDONLY}, {unix.MS_NOSUID, unix.ST_NOSUID},
		{unix.MS_NODEV, unix.ST_NODEV}, {unix.MS_NOEXEC, unix.ST_NOEXEC},
		{unix.MS_SYNCHRONOUS, unix.ST_SYNCHRONOUS}, {unix.MS_NOATIME, unix.ST_NOATIME},
		{unix.MS_NODIRATIME, unix.ST_NODIRATIME}, {unix.MS_RELATIME, unix.ST_RELATIME},
	} {
		if f&b.ms != 0 {
			s.Flags |= int64(b.st)
		}
	}
	return s, nil
}

// mountTable is an immutable snapshot of a namespace's mounts.
type mountTable struct {
	children map[Loc]*Mount // mount point → mount on it
	points   map[Inode]int  // inode → number of mounts on it (any parent mount)
	mounts   []*Mount       // attached mounts in mount order
}

// Namespace is a mount namespace: a tree of mounts with a root. The
// system-call layer keeps one per mount namespace (normally one for all
// processes).
type Namespace struct {
	mu     sync.Mutex // serializes changes of the mount table
	table  atomic.Pointer[mountTable]
	root   Loc
	opts   Options
	nextID int
}

// NewNamespace returns a namespace whose root is the root of fs.
func NewNamespace(fs Filesystem, opts Options) *Namespace {
	ns := &Namespace{opts: opts, nextID: 1}
	m := ns.newMount(fs, fs.Root(), opts.Root)
	ns.root = m.Root()
	ns.table.Store(&mountTable{
		children: map[Loc]*Mount{},
		points:   map[Inode]int{},
		mounts:   []*Mount{m},
	})
	return ns
}

// newMount makes a Mount (not attached).
func (ns *Namespace) newMount(fs Filesystem, root Inode, o MountOptions) *Mount {
	m := &Mount{ns: ns, id: ns.nextID, fs: fs, root: root, source: o.Source, fstype: o.Type, data: o.Data}
	ns.nextID++
	m.flags.Store(o.Flags & keptFlags)
	return m
}

// Root returns the namespace's root location.
func (ns *Namespace) Root() Loc { return ns.root }

// rootOf returns the root for ctx.
func (ns *Namespace) rootOf(ctx *Ctx) Loc {
	if ctx.Root.ino != nil {
		return ctx.Root
	}
	return ns.root
}

// down follows mounts on l: if something is mounted on l, the result is
// the root of the topmost mount.
func (ns *Namespace) down(l Loc) Loc {
	t := ns.table.Load()
	if len(t.children) == 0 {
		return l
	}
	for {
		m := t.children[l]
		if m == nil {
			return l
		}
		l = m.Root()
	}
}

// isMountpoint reports whether something is mounted on ino (through any
// mount of the namespace).
func (ns *Namespace) isMountpoint(ino Inode) bool {
	t := ns.table.Load()
	return len(t.points) > 0 && t.points[ino] > 0
}

// clone returns a copy of the current table for modification.
func (ns *Namespace) clone() *mountTable {
	t := ns.table.Load()
	n := &mountTable{
		children: make(map[Loc]*Mount, len(t.children)+1),
		points:   make(map[Inode]int, len(t.points)+1),
		mounts:   slices.Clone(t.mounts),
	}
	for k, v := range t.children {
		n.children[k] = v
	}
	for k, v := range t.points {
		n.points[k] = v
	}
	return n
}

// attached reports whether m is in the namespace's tree (ns.mu held).
func (ns *Namespace) attached(m *Mount) bool {
	return m == ns.root.mnt || m.parent.Load() != nil
}

// attach adds m on point to the table (ns.mu held).
func (ns *Namespace) attach(m *Mount, point Loc) {
	t := ns.clone()
	p := point
	m.parent.Store(&p)
	t.children[point] = m
	t.points[point.ino]++
	t.mounts = append(t.mounts, m)
	ns.table.Store(t)
}

// Mount mounts fs on the directory at path (mount(2) of a new file
// system). Only root may mount (EPERM). ENOTDIR if the target is not a
// directory, ENOENT if it was removed.
func (ns *Namespace) Mount(ctx *Ctx, at Loc, path string, fs Filesystem, opts MountOptions) error {
	if !ctx.Cred.IsRoot() {
		return unix.EPERM
	}
	l, err := ns.lookup(ctx, at, path, true, false)
	if err != nil {
		return err
	}
	if err := ns.checkMountpoint(l, true); err != nil {
		return err
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if !ns.attached(l.mnt) {
		return unix.EINVAL
	}
	ns.attach(ns.newMount(fs, fs.Root(), opts), l)
	return nil
}

// checkMountpoint checks that l can be mounted on: it belongs to ns, still
// exists, and is a directory (dir) or not.
func (ns *Namespace) checkMountpoint(l Loc, dir bool) error {
	if l.mnt == nil || l.mnt.ns != ns {
		return unix.EINVAL
	}
	st, err := l.ino.Stat()
	if err != nil {
		return err
	}
	if st.Nlink == 0 {
		return unix.ENOENT
	}
	if dir && !st.IsDir() {
		return unix.ENOTDIR
	}
	if !dir && st.IsDir() {
		return unix.EISDIR
	}
	return nil
}

// Bind mounts the file or directory at srcPath on dstPath (mount(2) with
// MS_BIND, not recursive: mounts under the source are not copied). Both
// must be directories or both not (ENOTDIR, EISDIR). flags are mount flags
// for the new mount.
func (ns *Namespace) Bind(ctx *Ctx, srcAt Loc, srcPath string, dstAt Loc, dstPath string, flags uint32) error {
	if !ctx.Cred.IsRoot() {
		return unix.EPERM
	}
	src, err := ns.lookup(ctx, srcAt, srcPath, true, false)
	if err != nil {
		return err
	}
	if dstPath == "" {
		return unix.ENOENT
	}
	w := ns.walker(ctx)
	dst, err := w.resolve(dstAt, dstPath, true)
	if err != nil {
		return err
	}
	if src.mnt == nil {
		return unix.EINVAL
	}
	sst, err := src.ino.Stat()
	if err != nil {
		return err
	}
	if err := ns.checkMountpoint(dst, sst.IsDir()); err != nil {
		return err
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if !ns.attached(dst.mnt) {
		return unix.EINVAL
	}
	m := ns.newMount(src.mnt.fs, src.ino, MountOptions{
		Flags: flags, Source: src.mnt.source, Type: src.mnt.fstype, Data: src.mnt.data,
	})
	if !sst.IsDir() {
		m.fileDir, m.fileName = w.lastDir, w.lastName
	}
	ns.attach(m, dst)
	return nil
}

// mountAt returns the mount whose root is at path (EINVAL if path is not
// the root of a mount other than the namespace's root).
func (ns *Namespace) mountAt(ctx *Ctx, at Loc, path string, follow bool) (*Mount, error) {
	l, err := ns.lookup(ctx, at, path, follow, false)
	if err != nil {
		return nil, err
	}
	if l.mnt == nil || l.mnt.ns != ns || l.ino != l.mnt.root {
		return nil, unix.EINVAL
	}
	return l.mnt, nil
}

// Unmount unmounts the mount whose root is at path (umount2(2)). flags
// may hold unix.MNT_DETACH (detach now even if busy; open files keep
// working), MNT_FORCE (ignored) and UMOUNT_NOFOLLOW. EINVAL if path is
// not a mount root or is the namespace's root; EBUSY if files are open on
// the mount or other mounts are on it (without MNT_DETACH). Current
// directories are not counted as busy.
func (ns *Namespace) Unmount(ctx *Ctx, at Loc, path string, flags int) error {
	if !ctx.Cred.IsRoot() {
		return unix.EPERM
	}
	if flags&^(unix.MNT_FORCE|unix.MNT_DETACH|unix.MNT_EXPIRE|unix.UMOUNT_NOFOLLOW) != 0 {
		return unix.EINVAL
	}
	m, err := ns.mountAt(ctx, at, path, flags&unix.UMOUNT_NOFOLLOW == 0)
	if err != nil {
		return err
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if m.parent.Load() == nil {
		return unix.EINVAL
	}
	t := ns.table.Load()
	under := ns.subtree(t, m)
	if flags&unix.MNT_DETACH == 0 {
		if len(under) > 1 || m.openFiles.Load() > 0 {
			return unix.EBUSY
		}
	}
	n := ns.clone()
	for _, c := range under {
		p := c.parent.Load()
		if n.children[*p] == c {
			delete(n.children, *p)
		}
		if n.points[p.ino]--; n.points[p.ino] <= 0 {
			delete(n.points, p.ino)
		}
		n.mounts = slices.DeleteFunc(n.mounts, func(x *Mount) bool { return x == c })
		c.parent.Store(nil)
	}
	ns.table.Store(n)
	return nil
}

// subtree returns m and every mount under it in t.
func (ns *Namespace) subtree(t *mountTable, m *Mount) []*Mount {
	out := []*Mount{m}
	for i := 0; i < len(out); i++ {
		for _, c := range t.mounts {
			if p := c.parent.Load(); p != nil && p.mnt == out[i] {
				out = append(out, c)
			}
		}
	}
	return out
}

// Remount changes the flags of the mount whose root is at path
// (mount(2) with MS_REMOUNT). EINVAL if path is not a mount root.
func (ns *Namespace) Remount(ctx *Ctx, at Loc, path string, flags uint32) error {
	if !ctx.Cred.IsRoot() {
		return unix.EPERM
	}
	l, err := ns.lookup(ctx, at, path, true, false)
	if err != nil {
		return err
	}
	if l.mnt == nil || l.mnt.ns != ns || l.ino != l.mnt.root {
		return unix.EINVAL
	}
	l.mnt.flags.Store(flags & keptFlags)
	return nil
}

// Clone returns a copy of the namespace (clone(2) and unshare(2) with
// CLONE_NEWNS): the same file systems mounted at the same places, through
// new Mounts, so that later mounts and unmounts in one are not seen in the
// other. translate maps a location of ns to the same place in the copy
// (the process's root and current directory); locations in no mount of
// ns come back unchanged. Open files keep their mounts.
func (ns *Namespace) Clone() (clone *Namespace, translate func(Loc) Loc) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	t := ns.table.Load()
	n := &Namespace{opts: ns.opts, nextID: ns.nextID}
	nt := &mountTable{children: map[Loc]*Mount{}, points: map[Inode]int{}}
	mapped := make(map[*Mount]*Mount, len(t.mounts))
	for _, m := range t.mounts { // parents come before their children
		c := &Mount{ns: n, id: m.id, fs: m.fs, root: m.root, source: m.source, fstype: m.fstype, data: m.data, fileName: m.fileName}
		c.flags.Store(m.flags.Load())
		mapped[m] = c
		nt.mounts = append(nt.mounts, c)
	}
	tr := func(l Loc) Loc {
		if c, ok := mapped[l.mnt]; ok {
			l.mnt = c
		}
		return l
	}
	for _, m := range t.mounts {
		c := mapped[m]
		c.fileDir = tr(m.fileDir)
		if p := m.parent.Load(); p != nil {
			np := tr(*p)
			c.parent.Store(&np)
			nt.children[np] = c
			nt.points[np.ino]++
		}
	}
	n.root = tr(ns.root)
	n.table.Store(nt)
	return n, tr
}

// MountInfo describes one mount for /proc/mounts and /proc/self/mountinfo.
type MountInfo struct {
	ID       int
	ParentID int // 0 for the root mount
	Source   string
	Target   string // the mount point's path relative to the caller's root
	Type     string
	Flags    uint32 // unix.MS_* flags
	Data     string
}

// Options returns the option field of /proc/mounts: "rw" or "ro", the
// other flags, then Data.
func (mi *MountInfo) Options() string {
	opts := []string{"rw"}
	if mi.Flags&unix.MS_RDONLY != 0 {
		opts[0] = "ro"
	}
	for _, f := range [...]struct {
		bit  uint32
		name string
	}{
		{unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
		{unix.MS_SYNCHRONOUS, "sync"}, {unix.MS_NOATIME, "noatime"},
		{unix.MS_NODIRATIME, "nodiratime"}, {unix.MS_RELATIME, "relatime"},
	} {
		if mi.Flags&f.bit != 0 {
			opts = append(opts, f.name)
		}
	}
	if mi.Data != "" {
		opts = append(opts, mi.Data)
	}
	return strings.Join(opts, ",")
}

// String returns the /proc/mounts line for mi (without newline).
func (mi *MountInfo) String() string {
	return mountEscape(mi.Source) + " " + mountEscape(mi.Target) + " " + mountEscape(mi.Type) + " " + mi.Options() + " 0 0"
}

// mountEscape escapes space, tab, newline and backslash as Linux's
// /proc/mounts does.
func mountEscape(s string) string {
	if s == "" {
		return "none"
	}
	r := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`)
	return r.Replace(s)
}

// Mounts lists the mounts visible from ctx's root, in mount order.
func (ns *Namespace) Mounts(ctx *Ctx) []MountInfo {
	t := ns.table.Load()
	var out []MountInfo
	for _, m := range t.mounts {
		target, ok, err := ns.path(ctx, m.Root())
		if err != nil || !ok {
			continue
		}
		mi := MountInfo{ID: m.id, Source: m.source, Target: target, Type: m.fstype, Flags: m.flags.Load(), Data: m.data}
		if p := m.parent.Load(); p != nil {
			mi.ParentID = p.mnt.id
		}
		out = append(out, mi)
	}
	return out
}

// Path returns the path of directory location l relative to ctx's root
// (getcwd). ENOENT if the directory was removed. A location outside the
// root gets a path from the namespace's root prefixed by "(unreachable)",
// as Linux's getcwd returns; ENAMETOOLONG past PathMax.
func (ns *Namespace) Path(ctx *Ctx, l Loc) (string, error) {
	p, ok, err := ns.path(ctx, l)
	if err != nil {
		return "", err
	}
	if !ok {
		p = "(unreachable)" + p
	}
	if len(p) >= PathMax {
		return "", unix.ENAMETOOLONG
	}
	return p, nil
}

// path computes the path of l and whether it is under ctx's root.
func (ns *Namespace) path(ctx *Ctx, l Loc) (string, bool, error) {
	root := ns.rootOf(ctx)
	var names []string
	size := 0
	cur := l
	reachable := true
	for cur != root {
		if cur.mnt == nil {
			return "", false, unix.ENOENT
		}
		if cur.ino == cur.mnt.root {
			p := cur.mnt.parent.Load()
			if p == nil {
				reachable = false
				break
			}
			if cur.mnt.fileName != "" { // a file on a file
				names = append(names, cur.mnt.fileName)
				size += len(cur.mnt.fileName) + 1
				cur = cur.mnt.fileDir
				continue
			}
			cur = *p
			continue
		}
		d, ok := cur.ino.(DirInode)
		if !ok {
			return "", false, unix.ENOTDIR
		}
		parent, name, err := dirName(ctx, d)
		if err != nil {
			return "", false, err
		}
		if parent == d {
			reachable = false // a file system's root that is not its mount's root
			break
		}
		names = append(names, name)
		if size += len(name) + 1; size >= PathMax {
			return "", false, unix.ENAMETOOLONG
		}
		cur = Loc{mnt: cur.mnt, ino: parent}
	}
	if len(names) == 0 {
		if st, err := l.ino.Stat(); err == nil && st.Nlink == 0 {
			return "", false, unix.ENOENT
		}
		return "/", reachable, nil
	}
	var b strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(names[i])
	}
	return b.String(), reachable, nil
}

// dirName returns the parent of directory d and d's name in it.
func dirName(ctx *Ctx, d DirInode) (DirInode, string, error) {
	if n, ok := d.(DirNamer); ok {
		return n.Name()
	}
	st, err := d.Stat()
	if err != nil {
		return nil, "", err
	}
	if st.Nlink == 0 {
		return nil, "", unix.ENOENT
	}
	pi, err := d.Lookup(ctx, "..")
	if err != nil {
		return nil, "", err
	}
	p, ok := pi.(DirInode)
	if !ok {
		return nil, "", unix.ENOTDIR
	}
	if p == d {
		return p, "", nil
	}
	name, ok := findName(ctx, p, d)
	if !ok {
		return nil, "", unix.ENOENT
	}
	return p, name, nil
}

// findName scans directory d for an entry naming ino.
func findName(ctx *Ctx, d DirInode, ino Inode) (string, bool) {
	st, err := ino.Stat()
	if err != nil {
		return "", false
	}
	var cands []string
	d.Readdir(ctx, 0, func(e Dirent) bool {
		if e.Ino == st.Ino {
			cands = append(cands, e.Name)
		}
		return true
	})
	for _, c := range cands {
		if x, err := d.Lookup(ctx, c); err == nil && x == ino {
			return c, true
		}
	}
	return "", false
}
