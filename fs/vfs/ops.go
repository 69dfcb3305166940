package vfs

import (
	"golang.org/x/sys/unix"
)

// oTmpfile is Linux's __O_TMPFILE bit.
const oTmpfile = 0x400000

// NoChange, given as a uid or gid to Chown, leaves it unchanged (Linux's
// (uid_t)-1).
const NoChange = ^uint32(0)

// emptyOps are the FileOps of directories and O_PATH files: all I/O is
// refused before it reaches them.
type emptyOps struct{}

// Read implements FileOps.
func (emptyOps) Read(*File, []byte, int64) (int, error) { return 0, unix.EISDIR }

// Write implements FileOps.
func (emptyOps) Write(*File, []byte, int64) (int, error) { return 0, unix.EBADF }

// Release implements FileOps.
func (emptyOps) Release() {}

// Open opens the file at path (openat(2)). flags are open(2) flags: the
// access mode, O_CREAT (mode gives the permissions, umask already applied
// by the caller), O_EXCL, O_TRUNC, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_APPEND,
// O_NONBLOCK...; O_CLOEXEC and O_NOCTTY are the caller's. O_TMPFILE is
// EOPNOTSUPP. The File has one reference.
//
// A blocking open of a FIFO may return a File whose OpenPending is true:
// see File.WaitOpen.
func (ns *Namespace) Open(ctx *Ctx, at Loc, path string, flags int, mode uint32) (*File, error) {
	if flags&oTmpfile != 0 {
		return nil, unix.EOPNOTSUPP
	}
	if flags&unix.O_PATH != 0 {
		flags &= unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY | unix.O_NOFOLLOW
	}
	if flags&unix.O_CREAT != 0 && flags&unix.O_DIRECTORY != 0 {
		return nil, unix.EINVAL
	}
	if path == "" {
		return nil, unix.ENOENT
	}
	w := ns.walker(ctx)
	if flags&unix.O_CREAT == 0 {
		l, err := w.resolve(at, path, flags&unix.O_NOFOLLOW == 0)
		if err != nil {
			return nil, err
		}
		return ns.openLoc(w, l, flags, false)
	}
	return ns.openCreate(w, at, path, flags, mode)
}

// openCreate is Open with O_CREAT.
func (ns *Namespace) openCreate(w *walker, at Loc, path string, flags int, mode uint32) (*File, error) {
	for tries := 0; ; tries++ {
		dir, last, slash, err := w.parent(at, path)
		if err != nil {
			return nil, err
		}
		if last == rootName || last == "." || last == ".." || slash {
			return nil, unix.EISDIR
		}
		d, ok := dir.ino.(DirInode)
		if !ok {
			return nil, unix.ENOTDIR
		}
		if err := w.search(dir); err != nil {
			return nil, err
		}
		child, err := d.Lookup(w.ctx, last)
		switch {
		case err == nil:
			if flags&unix.O_EXCL != 0 {
				return nil, unix.EEXIST
			}
			raw := Loc{mnt: dir.mnt, ino: child}
			l := ns.down(raw)
			if s, ok := child.(SymlinkInode); ok && l == raw {
				if flags&unix.O_NOFOLLOW != 0 {
					return nil, unix.ELOOP
				}
				if w.links++; w.links > MaxSymlinks {
					return nil, unix.ELOOP
				}
				if m, ok := s.(MagicLink); ok {
					if l, err = m.Follow(w.ctx); err != nil {
						return nil, err
					}
					if _, ok := l.ino.(DirInode); ok {
						return nil, unix.EISDIR
					}
					return ns.openLoc(w, l, flags, false)
				}
				target, err := s.Readlink(w.ctx)
				if err != nil {
					return nil, err
				}
				if target == "" {
					return nil, unix.ENOENT
				}
				at, path = dir, target // create the link's target, as Linux does
				continue
			}
			if _, ok := l.ino.(DirInode); ok {
				return nil, unix.EISDIR
			}
			w.lastDir, w.lastName = dir, last
			return ns.openLoc(w, l, flags, false)
		case err != unix.ENOENT:
			return nil, err
		}
		if dir.mnt.readOnly() {
			return nil, unix.EROFS
		}
		dst, err := d.Stat()
		if err != nil {
			return nil, err
		}
		if err := w.ctx.Cred.Check(&dst, MayWrite|MayExec); err != nil {
			return nil, err
		}
		ino, err := d.Create(last, newAttrs(w.ctx, &dst, unix.S_IFREG|mode&0o7777))
		if err == unix.EEXIST && flags&unix.O_EXCL == 0 && tries < 100 {
			continue // lost a race with another creator: open theirs
		}
		if err != nil {
			return nil, err
		}
		w.lastDir, w.lastName = dir, last
		return ns.openLoc(w, Loc{mnt: dir.mnt, ino: ino}, flags, true)
	}
}

// newAttrs returns the attributes of a new inode of mode made by ctx in a
// directory with attributes dst: owned by the caller, with the directory's
// group and set-group-ID bit if the directory has it.
func newAttrs(ctx *Ctx, dst *Stat, mode uint32) *CreateArgs {
	a := &CreateArgs{Mode: mode, UID: ctx.Cred.UID, GID: ctx.Cred.GID}
	if dst.Mode&unix.S_ISGID != 0 {
		a.GID = dst.GID
		if mode&unix.S_IFMT == unix.S_IFDIR {
			a.Mode |= unix.S_ISGID
		}
	}
	if mode&unix.S_IFMT != unix.S_IFDIR && a.Mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP &&
		!ctx.Cred.IsRoot() && !ctx.Cred.InGroup(a.GID) {
		a.Mode &^= unix.S_ISGID
	}
	return a
}

// openLoc opens the file at l, reached by w. created says the caller just
// made it (no permission check, no truncation).
func (ns *Namespace) openLoc(w *walker, l Loc, flags int, created bool) (*File, error) {
	ctx := w.ctx
	st, err := l.ino.Stat()
	if err != nil {
		return nil, err
	}
	typ := st.Type()
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_DIRECTORY != 0 && typ != unix.S_IFDIR {
			return nil, unix.ENOTDIR
		}
		f := ns.newFile(emptyOps{}, l, typ, w)
		f.opath = true
		f.init(flags)
		return f, nil
	}
	if typ == unix.S_IFLNK {
		return nil, unix.ELOOP
	}
	if flags&unix.O_DIRECTORY != 0 && typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	acc := flags & unix.O_ACCMODE
	var may uint32
	if acc != unix.O_WRONLY {
		may |= MayRead
	}
	if acc != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		may |= MayWrite
	}
	if typ == unix.S_IFDIR && may&MayWrite != 0 {
		return nil, unix.EISDIR
	}
	if !created {
		if may&MayWrite != 0 && (typ == unix.S_IFREG || typ == unix.S_IFDIR) && l.mnt.readOnly() {
			return nil, unix.EROFS
		}
		if err := ctx.Cred.Check(&st, may); err != nil {
			return nil, err
		}
	}
	var ops FileOps
	switch typ {
	case unix.S_IFDIR:
		ops = emptyOps{}
	case unix.S_IFREG:
		o, ok := l.ino.(Opener)
		if !ok {
			return nil, unix.ENXIO
		}
		ops, err = o.Open(ctx, flags)
	case unix.S_IFCHR, unix.S_IFBLK:
		if l.mnt != nil && l.mnt.flags.Load()&unix.MS_NODEV != 0 {
			return nil, unix.EACCES
		}
		if ns.opts.Devices == nil {
			return nil, unix.ENXIO
		}
		ops, err = ns.opts.Devices.OpenDevice(ctx, typ, unix.Major(st.Rdev), unix.Minor(st.Rdev), flags)
	case unix.S_IFIFO:
		if ns.opts.FIFOs == nil {
			return nil, unix.ENXIO
		}
		ops, err = ns.opts.FIFOs.OpenFIFO(ctx, l.ino, flags)
	default:
		return nil, unix.ENXIO
	}
	if err != nil {
		return nil, err
	}
	f := ns.newFile(ops, l, typ, w)
	f.init(flags)
	if flags&unix.O_TRUNC != 0 && typ == unix.S_IFREG && !created {
		now := Now()
		if err := l.ino.SetAttr(&SetAttr{Mask: SetSize | SetMtime | SetCtime, Mtime: now, Ctime: now}); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// newFile makes a File for l (init not yet called).
func (ns *Namespace) newFile(ops FileOps, l Loc, typ uint32, w *walker) *File {
	f := &File{ops: ops, ino: l.ino, mnt: l.mnt, typ: typ}
	if typ != unix.S_IFDIR && w != nil && w.lastDir.ino != nil {
		f.dir, f.name = w.lastDir, w.lastName
	}
	return f
}

// OpenExec opens the regular file at path for execve(2): it must be a
// regular file (EACCES otherwise) on a mount without MS_NOEXEC, with
// execute permission for ctx; read permission is not needed. The File is
// readable (by the kernel).
func (ns *Namespace) OpenExec(ctx *Ctx, at Loc, path string) (*File, error) {
	w := ns.walker(ctx)
	l, err := w.resolve(at, path, true)
	if err != nil {
		return nil, err
	}
	st, err := l.ino.Stat()
	if err != nil {
		return nil, err
	}
	if st.Type() != unix.S_IFREG || (l.mnt != nil && l.mnt.flags.Load()&unix.MS_NOEXEC != 0) {
		return nil, unix.EACCES
	}
	if err := ctx.Cred.Check(&st, MayExec); err != nil {
		return nil, err
	}
	o, ok := l.ino.(Opener)
	if !ok {
		return nil, unix.EACCES
	}
	ops, err := o.Open(ctx, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	f := ns.newFile(ops, l, unix.S_IFREG, w)
	f.init(unix.O_RDONLY)
	return f, nil
}

// Lookup resolves path to a location (for chdir, chroot, mount points,
// O_PATH-like uses). flags may hold unix.AT_SYMLINK_NOFOLLOW and
// unix.AT_EMPTY_PATH ("" then means at).
func (ns *Namespace) Lookup(ctx *Ctx, at Loc, path string, flags int) (Loc, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return Loc{}, unix.EINVAL
	}
	return ns.lookup(ctx, at, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
}

// LookupDir resolves path to a directory the caller may search, for
// chdir(2) and chroot(2): ENOTDIR, EACCES. flags may hold
// unix.AT_EMPTY_PATH: "" then means at (fchdir).
func (ns *Namespace) LookupDir(ctx *Ctx, at Loc, path string, flags int) (Loc, error) {
	if flags&^unix.AT_EMPTY_PATH != 0 {
		return Loc{}, unix.EINVAL
	}
	l, err := ns.lookup(ctx, at, path, true, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return Loc{}, err
	}
	st, err := l.ino.Stat()
	if err != nil {
		return Loc{}, err
	}
	if !st.IsDir() {
		return Loc{}, unix.ENOTDIR
	}
	if err := ctx.Cred.Check(&st, MayExec); err != nil {
		return Loc{}, err
	}
	return l, nil
}

// createParent prepares the creation of the last component of path: it
// walks to the parent, checks that the name is free (EEXIST), that the
// mount is writable (EROFS) and that the caller may write the directory
// (EACCES). wantDir allows a trailing slash.
func (w *walker) createParent(at Loc, path string, wantDir bool) (Loc, DirInode, string, Stat, error) {
	dir, last, slash, err := w.parent(at, path)
	if err != nil {
		return Loc{}, nil, "", Stat{}, err
	}
	if last == rootName || last == "." || last == ".." {
		return Loc{}, nil, "", Stat{}, unix.EEXIST
	}
	d, ok := dir.ino.(DirInode)
	if !ok {
		return Loc{}, nil, "", Stat{}, unix.ENOTDIR
	}
	if err := w.search(dir); err != nil {
		return Loc{}, nil, "", Stat{}, err
	}
	if _, err := d.Lookup(w.ctx, last); err == nil {
		return Loc{}, nil, "", Stat{}, unix.EEXIST
	} else if err != unix.ENOENT {
		return Loc{}, nil, "", Stat{}, err
	}
	if slash && !wantDir {
		return Loc{}, nil, "", Stat{}, unix.ENOENT
	}
	if dir.mnt.readOnly() {
		return Loc{}, nil, "", Stat{}, unix.EROFS
	}
	st, err := d.Stat()
	if err != nil {
		return Loc{}, nil, "", Stat{}, err
	}
	if err := w.ctx.Cred.Check(&st, MayWrite|MayExec); err != nil {
		return Loc{}, nil, "", Stat{}, err
	}
	return dir, d, last, st, nil
}

// Mkdir makes a directory (mkdirat(2)); mode's permission and sticky bits
// are used (umask applied by the caller).
func (ns *Namespace) Mkdir(ctx *Ctx, at Loc, path string, mode uint32) error {
	w := ns.walker(ctx)
	_, d, last, dst, err := w.createParent(at, path, true)
	if err != nil {
		return err
	}
	_, err = d.Create(last, newAttrs(ctx, &dst, unix.S_IFDIR|mode&(0o777|unix.S_ISVTX)))
	return err
}

// Mknod makes a regular file, FIFO, socket or device node (mknodat(2)).
// The file type in mode defaults to regular; a directory is EPERM, an
// unknown type EINVAL; device nodes need root (EPERM). dev is the device
// number (unix.Mkdev encoding).
func (ns *Namespace) Mknod(ctx *Ctx, at Loc, path string, mode uint32, dev uint64) error {
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
	case unix.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	w := ns.walker(ctx)
	_, d, last, dst, err := w.createParent(at, path, false)
	if err != nil {
		return err
	}
	a := newAttrs(ctx, &dst, typ|mode&0o7777)
	if typ == unix.S_IFCHR || typ == unix.S_IFBLK {
		if !ctx.Cred.IsRoot() {
			return unix.EPERM
		}
		a.Rdev = dev
	}
	_, err = d.Create(last, a)
	return err
}

// Symlink makes a symbolic link at path pointing to target (symlinkat(2)):
// ENOENT for an empty target, ENAMETOOLONG for one of PathMax bytes or
// more.
func (ns *Namespace) Symlink(ctx *Ctx, target string, at Loc, path string) error {
	if target == "" {
		return unix.ENOENT
	}
	if len(target) >= PathMax {
		return unix.ENAMETOOLONG
	}
	w := ns.walker(ctx)
	_, d, last, dst, err := w.createParent(at, path, false)
	if err != nil {
		return err
	}
	a := newAttrs(ctx, &dst, unix.S_IFLNK|0o777)
	a.Target = target
	_, err = d.Create(last, a)
	return err
}

// Link makes newPath a hard link to the file at oldPath (linkat(2)). flags
// may hold unix.AT_SYMLINK_FOLLOW and unix.AT_EMPTY_PATH (root only).
// EXDEV across mounts, EPERM for a directory.
func (ns *Namespace) Link(ctx *Ctx, oldAt Loc, oldPath string, newAt Loc, newPath string, flags int) error {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	if flags&unix.AT_EMPTY_PATH != 0 && oldPath == "" && !ctx.Cred.IsRoot() {
		return unix.ENOENT
	}
	old, err := ns.lookup(ctx, oldAt, oldPath, flags&unix.AT_SYMLINK_FOLLOW != 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return err
	}
	w := ns.walker(ctx)
	dir, d, last, _, err := w.createParent(newAt, newPath, false)
	if err != nil {
		return err
	}
	if old.mnt != dir.mnt {
		return unix.EXDEV
	}
	st, err := old.ino.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return unix.EPERM
	}
	return d.Link(last, old.ino)
}

// mayDelete checks that ctx may remove (or replace) victim from a
// directory with attributes dst: write and search permission on the
// directory, the sticky bit rule, and victim not being a mount point.
func (ns *Namespace) mayDelete(ctx *Ctx, dst *Stat, victim Inode) error {
	if err := ctx.Cred.Check(dst, MayWrite|MayExec); err != nil {
		return err
	}
	vst, err := victim.Stat()
	if err != nil {
		return err
	}
	if dst.Mode&unix.S_ISVTX != 0 && !ctx.Cred.IsRoot() && ctx.Cred.UID != vst.UID && ctx.Cred.UID != dst.UID {
		return unix.EPERM
	}
	if ns.isMountpoint(victim) {
		return unix.EBUSY
	}
	return nil
}

// removeParent walks to the directory holding the last component of path
// for Unlink and Rmdir.
func (w *walker) removeParent(at Loc, path string) (Loc, DirInode, string, bool, Stat, error) {
	dir, last, slash, err := w.parent(at, path)
	if err != nil {
		return Loc{}, nil, "", false, Stat{}, err
	}
	d, ok := dir.ino.(DirInode)
	if !ok {
		return Loc{}, nil, "", false, Stat{}, unix.ENOTDIR
	}
	if err := w.search(dir); err != nil {
		return Loc{}, nil, "", false, Stat{}, err
	}
	st, err := d.Stat()
	if err != nil {
		return Loc{}, nil, "", false, Stat{}, err
	}
	return dir, d, last, slash, st, nil
}

// Unlink removes a name that is not a directory (unlinkat(2) without
// AT_REMOVEDIR): EISDIR for a directory, EPERM (sticky directory), EBUSY
// (mount point). Open files keep the inode alive.
func (ns *Namespace) Unlink(ctx *Ctx, at Loc, path string) error {
	w := ns.walker(ctx)
	dir, d, last, slash, dst, err := w.removeParent(at, path)
	if err != nil {
		return err
	}
	if last == rootName || last == "." || last == ".." {
		return unix.EISDIR
	}
	if dir.mnt.readOnly() {
		return unix.EROFS
	}
	return d.Unlink(last, false, func(victim Inode) error {
		if err := ns.mayDelete(ctx, &dst, victim); err != nil {
			return err
		}
		if slash {
			if _, ok := victim.(DirInode); ok {
				return unix.EISDIR
			}
			return unix.ENOTDIR
		}
		return nil
	})
}

// Rmdir removes an empty directory (rmdir(2), unlinkat(2) with
// AT_REMOVEDIR): ENOTDIR, ENOTEMPTY, EINVAL for ".", ENOTEMPTY for "..",
// EBUSY for a root or mount point.
func (ns *Namespace) Rmdir(ctx *Ctx, at Loc, path string) error {
	w := ns.walker(ctx)
	dir, d, last, _, dst, err := w.removeParent(at, path)
	if err != nil {
		return err
	}
	switch last {
	case ".":
		return unix.EINVAL
	case "..":
		return unix.ENOTEMPTY
	case rootName:
		return unix.EBUSY
	}
	if dir.mnt.readOnly() {
		return unix.EROFS
	}
	return d.Unlink(last, true, func(victim Inode) error {
		if err := ns.mayDelete(ctx, &dst, victim); err != nil {
			return err
		}
		if (Loc{mnt: dir.mnt, ino: victim}) == w.root || victim == dir.mnt.root {
			return unix.EBUSY
		}
		return nil
	})
}

// Rename renames oldPath to newPath (renameat2(2)). flags may hold
// unix.RENAME_NOREPLACE or unix.RENAME_EXCHANGE. EXDEV across mounts,
// EBUSY for ".", "..", roots and mount points, EINVAL for a directory
// moved into its own subtree; see Filesystem.Rename for the rest.
func (ns *Namespace) Rename(ctx *Ctx, oldAt Loc, oldPath string, newAt Loc, newPath string, flags uint32) error {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 ||
		flags&unix.RENAME_WHITEOUT != 0 ||
		flags&(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) == unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE {
		return unix.EINVAL
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	ow, nw := ns.walker(ctx), ns.walker(ctx)
	odir, od, olast, oslash, ost, err := ow.removeParent(oldAt, oldPath)
	if err != nil {
		return err
	}
	ndir, nd, nlast, nslash, nst, err := nw.removeParent(newAt, newPath)
	if err != nil {
		return err
	}
	for _, n := range [...]string{olast, nlast} {
		if n == rootName || n == "." || n == ".." {
			return unix.EBUSY
		}
	}
	if odir.mnt != ndir.mnt {
		return unix.EXDEV
	}
	if odir.mnt.readOnly() {
		return unix.EROFS
	}
	notDir := func(i Inode) bool { _, ok := i.(DirInode); return !ok }
	return odir.mnt.fs.Rename(od, olast, nd, nlast, flags, func(moved, replaced Inode) error {
		if notDir(moved) && (oslash || (nslash && !exchange)) {
			return unix.ENOTDIR
		}
		if exchange && nslash && notDir(replaced) {
			return unix.ENOTDIR
		}
		if err := ns.mayDelete(ctx, &ost, moved); err != nil {
			return err
		}
		if replaced != nil {
			if err := ns.mayDelete(ctx, &nst, replaced); err != nil {
				return err
			}
		} else if err := ctx.Cred.Check(&nst, MayWrite|MayExec); err != nil {
			return err
		}
		for _, x := range [...]Inode{moved, replaced} {
			if x != nil && (x == odir.mnt.root || (Loc{mnt: odir.mnt, ino: x}) == ow.root) {
				return unix.EBUSY
			}
		}
		// Moving a directory to another parent rewrites its "..":
		// that needs write permission on it.
		if od != nd {
			for _, x := range [...]Inode{moved, replaced} {
				if x == nil || notDir(x) || (x == replaced && !exchange) {
					continue
				}
				st, err := x.Stat()
				if err != nil {
					return err
				}
				if err := ctx.Cred.Check(&st, MayWrite); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Readlink returns the target of the symbolic link at path
// (readlinkat(2)); "" means at itself. EINVAL if it is not a symbolic
// link.
func (ns *Namespace) Readlink(ctx *Ctx, at Loc, path string) (string, error) {
	l, err := ns.lookup(ctx, at, path, false, true)
	if err != nil {
		return "", err
	}
	s, ok := l.ino.(SymlinkInode)
	if !ok {
		return "", unix.EINVAL
	}
	return s.Readlink(ctx)
}

// Stat returns the attributes of the file at path (fstatat(2), statx(2)).
// flags may hold unix.AT_SYMLINK_NOFOLLOW, unix.AT_EMPTY_PATH,
// unix.AT_NO_AUTOMOUNT and the AT_STATX_* sync flags.
func (ns *Namespace) Stat(ctx *Ctx, at Loc, path string, flags int) (Stat, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 {
		return Stat{}, unix.EINVAL
	}
	l, err := ns.lookup(ctx, at, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return Stat{}, err
	}
	return l.ino.Stat()
}

// attrTarget resolves the file an attribute change applies to.
func (ns *Namespace) attrTarget(ctx *Ctx, at Loc, path string, flags int) (Loc, Stat, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return Loc{}, Stat{}, unix.EINVAL
	}
	l, err := ns.lookup(ctx, at, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return Loc{}, Stat{}, err
	}
	if l.mnt.readOnly() {
		return Loc{}, Stat{}, unix.EROFS
	}
	st, err := l.ino.Stat()
	return l, st, err
}

// Chmod changes permission bits (fchmodat(2); fchmod is Chmod with
// File.Loc, "" and AT_EMPTY_PATH). Only the owner or root may (EPERM); a
// non-root caller outside the file's group loses S_ISGID. Symbolic links
// cannot be changed (EOPNOTSUPP with AT_SYMLINK_NOFOLLOW).
func (ns *Namespace) Chmod(ctx *Ctx, at Loc, path string, mode uint32, flags int) error {
	l, st, err := ns.attrTarget(ctx, at, path, flags)
	if err != nil {
		return err
	}
	if st.Type() == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	if !ctx.Cred.owns(&st) {
		return unix.EPERM
	}
	mode &= 0o7777
	if !ctx.Cred.IsRoot() && !ctx.Cred.InGroup(st.GID) {
		mode &^= unix.S_ISGID
	}
	return l.ino.SetAttr(&SetAttr{Mask: SetMode, Mode: mode})
}

// Chown changes owner and group (fchownat(2)); NoChange leaves one as it
// is. Root may do anything; the owner may only change the group, to one of
// its groups (EPERM otherwise). The set-user-ID bit, and the set-group-ID
// bit of a group-executable file, are cleared on non-directories.
func (ns *Namespace) Chown(ctx *Ctx, at Loc, path string, uid, gid uint32, flags int) error {
	l, st, err := ns.attrTarget(ctx, at, path, flags)
	if err != nil {
		return err
	}
	c := &ctx.Cred
	a := &SetAttr{}
	if uid != NoChange {
		if !c.IsRoot() && !(c.UID == st.UID && uid == st.UID) {
			return unix.EPERM
		}
		a.Mask |= SetUID
		a.UID = uid
	}
	if gid != NoChange {
		if !c.IsRoot() && !(c.UID == st.UID && (gid == st.GID || c.InGroup(gid))) {
			return unix.EPERM
		}
		a.Mask |= SetGID
		a.GID = gid
	}
	if st.Type() != unix.S_IFDIR && st.Type() != unix.S_IFLNK {
		mode := st.Mode & 0o7777
		nm := mode &^ unix.S_ISUID
		if mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP {
			nm &^= unix.S_ISGID
		}
		if nm != mode {
			a.Mask |= SetMode
			a.Mode = nm
		}
	}
	return l.ino.SetAttr(a)
}

// Utimes sets access and modification times (utimensat(2)). A time whose
// Nsec is unix.UTIME_NOW means now, unix.UTIME_OMIT leaves it unchanged.
// Setting both to now needs ownership or write permission (EACCES);
// setting explicit times needs ownership (EPERM). Root may do both.
func (ns *Namespace) Utimes(ctx *Ctx, at Loc, path string, atime, mtime Timespec, flags int) error {
	for _, t := range [...]Timespec{atime, mtime} {
		if t.Nsec != unix.UTIME_NOW && t.Nsec != unix.UTIME_OMIT && (t.Nsec < 0 || t.Nsec >= 1e9) {
			return unix.EINVAL
		}
	}
	if atime.Nsec == unix.UTIME_OMIT && mtime.Nsec == unix.UTIME_OMIT {
		return nil
	}
	l, st, err := ns.attrTarget(ctx, at, path, flags)
	if err != nil {
		return err
	}
	explicit := func(t Timespec) bool { return t.Nsec != unix.UTIME_NOW && t.Nsec != unix.UTIME_OMIT }
	if !ctx.Cred.owns(&st) {
		if explicit(atime) || explicit(mtime) {
			return unix.EPERM
		}
		if ctx.Cred.Check(&st, MayWrite) != nil {
			return unix.EACCES
		}
	}
	now := Now()
	a := &SetAttr{Mask: SetCtime, Ctime: now}
	for _, x := range [...]struct {
		t    Timespec
		bit  uint32
		dest *Timespec
	}{{atime, SetAtime, &a.Atime}, {mtime, SetMtime, &a.Mtime}} {
		switch x.t.Nsec {
		case unix.UTIME_OMIT:
		case unix.UTIME_NOW:
			a.Mask |= x.bit
			*x.dest = now
		default:
			a.Mask |= x.bit
			*x.dest = x.t
		}
	}
	return l.ino.SetAttr(a)
}

// Truncate sets the size of the regular file at path (truncate(2)):
// EISDIR for a directory, EINVAL for another type or a negative size,
// EACCES without write permission.
func (ns *Namespace) Truncate(ctx *Ctx, at Loc, path string, size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	l, err := ns.lookup(ctx, at, path, true, false)
	if err != nil {
		return err
	}
	st, err := l.ino.Stat()
	if err != nil {
		return err
	}
	switch st.Type() {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return unix.EISDIR
	default:
		return unix.EINVAL
	}
	if l.mnt.readOnly() {
		return unix.EROFS
	}
	if err := ctx.Cred.Check(&st, MayWrite); err != nil {
		return err
	}
	now := Now()
	return l.ino.SetAttr(&SetAttr{Mask: SetSize | SetMtime | SetCtime, Size: size, Mtime: now, Ctime: now})
}

// Access checks access to the file at path (faccessat2(2)). mode is F_OK
// or a mask of R_OK, W_OK, X_OK. flags may hold unix.AT_EACCESS (the
// caller then passes the effective IDs in ctx, otherwise the real ones),
// unix.AT_SYMLINK_NOFOLLOW and unix.AT_EMPTY_PATH. EROFS for writing on a
// read-only mount, EACCES.
func (ns *Namespace) Access(ctx *Ctx, at Loc, path string, mode uint32, flags int) error {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	l, err := ns.lookup(ctx, at, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return err
	}
	if mode == unix.F_OK {
		return nil
	}
	st, err := l.ino.Stat()
	if err != nil {
		return err
	}
	typ := st.Type()
	if mode&unix.W_OK != 0 && l.mnt.readOnly() && (typ == unix.S_IFREG || typ == unix.S_IFDIR || typ == unix.S_IFLNK) {
		return unix.EROFS
	}
	if mode&unix.X_OK != 0 && typ == unix.S_IFREG && l.mnt != nil && l.mnt.flags.Load()&unix.MS_NOEXEC != 0 {
		return unix.EACCES
	}
	return ctx.Cred.Check(&st, mode)
}

// Statfs returns statistics of the file system holding path (statfs(2)).
func (ns *Namespace) Statfs(ctx *Ctx, at Loc, path string) (Statfs, error) {
	l, err := ns.lookup(ctx, at, path, true, false)
	if err != nil {
		return Statfs{}, err
	}
	if l.mnt == nil {
		return Statfs{}, unix.ENOSYS
	}
	return l.mnt.statfs()
}

// atStatxSyncType is Linux's AT_STATX_SYNC_TYPE mask.
const atStatxSyncType = 0x6000
