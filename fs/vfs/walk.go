package vfs

import (
	"golang.org/x/sys/unix"
)

// rootName is the "last component" of a path made only of slashes: the
// starting directory itself (Linux's LAST_ROOT). Real names never contain
// a slash.
const rootName = "/"

// walker resolves path names for one operation: it carries the caller, its
// root and the count of symbolic links followed so far.
type walker struct {
	ns    *Namespace
	ctx   *Ctx
	root  Loc
	links int

	// The directory and name of the last component looked up, for
	// File.Path.
	lastDir  Loc
	lastName string
}

// walker returns a new walker for ctx.
func (ns *Namespace) walker(ctx *Ctx) *walker {
	return &walker{ns: ns, ctx: ctx, root: ns.rootOf(ctx)}
}

// parent walks every component of path but the last, starting at at (or
// at the root for an absolute path). It returns the directory reached, the
// last component (rootName if path has only slashes) and whether slashes
// follow it. The directory is not checked to be a directory: the caller's
// step does that.
func (w *walker) parent(at Loc, path string) (dir Loc, last string, slash bool, err error) {
	if len(path) >= PathMax {
		return Loc{}, "", false, unix.ENAMETOOLONG
	}
	if path == "" {
		return Loc{}, "", false, unix.ENOENT
	}
	cur := at
	if path[0] == '/' || cur.ino == nil {
		cur = w.root
	}
	i := 0
	for {
		for i < len(path) && path[i] == '/' {
			i++
		}
		if i == len(path) {
			return cur, rootName, true, nil
		}
		j := i
		for j < len(path) && path[j] != '/' {
			j++
		}
		name := path[i:j]
		if len(name) > NameMax {
			return Loc{}, "", false, unix.ENAMETOOLONG
		}
		k := j
		for k < len(path) && path[k] == '/' {
			k++
		}
		if k == len(path) {
			return cur, name, j < len(path), nil
		}
		if cur, err = w.step(cur, name, true); err != nil {
			return Loc{}, "", false, err
		}
		if _, ok := cur.ino.(DirInode); !ok {
			return Loc{}, "", false, unix.ENOTDIR
		}
		i = k
	}
}

// search checks that the caller may search directory l (execute
// permission).
func (w *walker) search(l Loc) error {
	if w.ctx.Cred.UID == 0 {
		return nil
	}
	st, err := l.ino.Stat()
	if err != nil {
		return err
	}
	return w.ctx.Cred.Check(&st, MayExec)
}

// step looks up one component name in directory cur, following a symbolic
// link if follow is set, and crossing mounts in both directions.
func (w *walker) step(cur Loc, name string, follow bool) (Loc, error) {
	d, ok := cur.ino.(DirInode)
	if !ok {
		return Loc{}, unix.ENOTDIR
	}
	if err := w.search(cur); err != nil {
		return Loc{}, err
	}
	switch name {
	case ".":
		return cur, nil
	case "..":
		return w.dotdot(cur)
	}
	child, err := d.Lookup(w.ctx, name)
	if err != nil {
		return Loc{}, err
	}
	w.lastDir, w.lastName = cur, name
	next := w.ns.down(Loc{mnt: cur.mnt, ino: child})
	if follow {
		return w.follow(cur, next)
	}
	return next, nil
}

// follow resolves l if it is a symbolic link found in directory dir.
func (w *walker) follow(dir, l Loc) (Loc, error) {
	s, ok := l.ino.(SymlinkInode)
	if !ok {
		return l, nil
	}
	if w.links++; w.links > MaxSymlinks {
		return Loc{}, unix.ELOOP
	}
	if m, ok := s.(MagicLink); ok {
		return m.Follow(w.ctx)
	}
	target, err := s.Readlink(w.ctx)
	if err != nil {
		return Loc{}, err
	}
	if target == "" {
		return Loc{}, unix.ENOENT
	}
	return w.resolve(dir, target, true)
}

// dotdot returns the parent of directory cur: cur itself at the caller's
// root, the mount point's parent at the root of a mount.
func (w *walker) dotdot(cur Loc) (Loc, error) {
	for {
		if cur == w.root {
			return cur, nil
		}
		if cur.mnt == nil || cur.ino != cur.mnt.root {
			break
		}
		p := cur.mnt.parent.Load()
		if p == nil {
			return cur, nil // the top of the namespace, or a detached mount
		}
		cur = *p
	}
	p, err := cur.ino.(DirInode).Lookup(w.ctx, "..")
	if err != nil {
		return Loc{}, err
	}
	return w.ns.down(Loc{mnt: cur.mnt, ino: p}), nil
}

// resolve resolves a whole path from at, following a final symbolic link
// if follow is set. A trailing slash requires a directory and forces
// following.
func (w *walker) resolve(at Loc, path string, follow bool) (Loc, error) {
	dir, last, slash, err := w.parent(at, path)
	if err != nil {
		return Loc{}, err
	}
	if last == rootName {
		if _, ok := dir.ino.(DirInode); !ok {
			return Loc{}, unix.ENOTDIR
		}
		return dir, nil
	}
	l, err := w.step(dir, last, follow || slash)
	if err != nil {
		return Loc{}, err
	}
	if slash {
		if _, ok := l.ino.(DirInode); !ok {
			return Loc{}, unix.ENOTDIR
		}
	}
	return l, nil
}

// lookup resolves path from at. follow follows a final symbolic link;
// emptyOK makes "" mean at itself (AT_EMPTY_PATH).
func (ns *Namespace) lookup(ctx *Ctx, at Loc, path string, follow, emptyOK bool) (Loc, error) {
	if path == "" {
		if emptyOK && at.ino != nil {
			return at, nil
		}
		return Loc{}, unix.ENOENT
	}
	return ns.walker(ctx).resolve(at, path, follow)
}
