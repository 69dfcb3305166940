package vfs_test

import (
	"sort"
	"sync/atomic"
	"testing"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// tinyfs is a read-only file system written against the bare interfaces
// (no DirNamer, no Opener), like a small procfs: a root with a directory,
// a plain symbolic link and a magic link.
type tinyfs struct {
	root *tinyDir
	dev  uint64
}

var tinyIno atomic.Uint64

type tinyNode struct {
	st vfs.Stat
}

func (n *tinyNode) Stat() (vfs.Stat, error)    { return n.st, nil }
func (n *tinyNode) SetAttr(*vfs.SetAttr) error { return unix.EPERM }

type tinyDir struct {
	tinyNode
	parent *tinyDir
	ents   map[string]vfs.Inode
}

func (d *tinyDir) Lookup(_ *vfs.Ctx, name string) (vfs.Inode, error) {
	if name == ".." {
		if d.parent == nil {
			return d, nil
		}
		return d.parent, nil
	}
	if c, ok := d.ents[name]; ok {
		return c, nil
	}
	return nil, unix.ENOENT
}
func (d *tinyDir) Create(string, *vfs.CreateArgs) (vfs.Inode, error) { return nil, unix.EPERM }
func (d *tinyDir) Link(string, vfs.Inode) error                      { return unix.EPERM }
func (d *tinyDir) Unlink(string, bool, func(vfs.Inode) error) error  { return unix.EPERM }
func (d *tinyDir) Readdir(_ *vfs.Ctx, cookie int64, emit func(vfs.Dirent) bool) error {
	var names []string
	for n := range d.ents {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if int64(i+1) <= cookie {
			continue
		}
		st, _ := d.ents[n].Stat()
		if !emit(vfs.Dirent{Name: n, Ino: st.Ino, Type: vfs.DirentType(st.Mode), Off: int64(i + 1)}) {
			return nil
		}
	}
	return nil
}

type tinyLink struct {
	tinyNode
	target string
	follow func(*vfs.Ctx) (vfs.Loc, error) // magic when set
}

func (l *tinyLink) Readlink(*vfs.Ctx) (string, error) { return l.target, nil }

type magicLink struct{ *tinyLink }

func (m magicLink) Follow(ctx *vfs.Ctx) (vfs.Loc, error) { return m.follow(ctx) }

func newTiny(follow func(*vfs.Ctx) (vfs.Loc, error)) *tinyfs {
	fs := &tinyfs{dev: vfs.NewDev()}
	node := func(mode uint32) tinyNode {
		return tinyNode{vfs.Stat{Dev: fs.dev, Ino: tinyIno.Add(1), Mode: mode, Nlink: 1}}
	}
	fs.root = &tinyDir{tinyNode: node(unix.S_IFDIR | 0o555), ents: map[string]vfs.Inode{}}
	sub := &tinyDir{tinyNode: node(unix.S_IFDIR | 0o555), parent: fs.root, ents: map[string]vfs.Inode{}}
	deeper := &tinyDir{tinyNode: node(unix.S_IFDIR | 0o555), parent: sub, ents: map[string]vfs.Inode{}}
	sub.ents["deeper"] = deeper
	fs.root.ents["sub"] = sub
	fs.root.ents["text"] = &tinyLink{tinyNode: node(unix.S_IFLNK | 0o777), target: "sub"}
	fs.root.ents["magic"] = magicLink{&tinyLink{tinyNode: node(unix.S_IFLNK | 0o777), target: "file:[magic]", follow: follow}}
	return fs
}

func (fs *tinyfs) Root() vfs.DirInode { return fs.root }
func (fs *tinyfs) Statfs() (vfs.Statfs, error) {
	return vfs.Statfs{Type: 0x9fa0, Bsize: 4096, Namelen: 255}, nil
}
func (fs *tinyfs) Rename(vfs.DirInode, string, vfs.DirInode, string, uint32, func(vfs.Inode, vfs.Inode) error) error {
	return unix.EPERM
}

func TestForeignFilesystem(t *testing.T) {
	e := newEnv(t)
	e.write("target", "reached")
	e.mkdir("proc", 0o555)
	var calls atomic.Int32
	fs := newTiny(func(ctx *vfs.Ctx) (vfs.Loc, error) {
		calls.Add(1)
		return e.ns.Lookup(ctx, e.root, "/target", 0)
	})
	e.must(e.ns.Mount(e.ctx, e.root, "proc", fs, vfs.MountOptions{Source: "proc", Type: "proc"}))
	// A magic link leads to its location, not its text.
	if got := e.read("proc/magic"); got != "reached" || calls.Load() != 1 {
		t.Errorf("magic link: %q (%d calls)", got, calls.Load())
	}
	if tgt, err := e.ns.Readlink(e.ctx, e.root, "proc/magic"); err != nil || tgt != "file:[magic]" {
		t.Errorf("readlink magic %q %v", tgt, err)
	}
	f, err := e.ns.Open(e.ctx, e.root, "proc/magic", unix.O_CREAT|unix.O_WRONLY, 0o644)
	e.must(err)
	f.Write([]byte("REACHED"))
	f.Close()
	if got := e.read("target"); got != "REACHED" {
		t.Errorf("write through magic link: %q", got)
	}
	// Paths without DirNamer (the VFS scans the parent).
	d, err := e.ns.LookupDir(e.ctx, e.root, "proc/text/deeper", 0)
	e.must(err)
	if p, err := e.ns.Path(e.ctx, d); err != nil || p != "/proc/sub/deeper" {
		t.Errorf("path %q %v", p, err)
	}
	df, err := e.ns.Open(e.ctx, d, "..", unix.O_RDONLY, 0)
	e.must(err)
	if p := df.Path(e.ctx); p != "/proc/sub" {
		t.Errorf("file path %q", p)
	}
	if got := names(t, df); len(got) != 3 || got[2] != "deeper" {
		t.Errorf("entries %v", got)
	}
	df.Close()
	// Read-only behaviours come from the file system.
	wantErr(t, "mkdir", e.ns.Mkdir(e.ctx, e.root, "proc/x", 0o755), unix.EPERM)
	wantErr(t, "rename", e.ns.Rename(e.ctx, e.root, "proc/text", e.root, "proc/t2", 0), unix.EPERM)
	wantErr(t, "chmod", e.ns.Chmod(e.ctx, e.root, "proc/sub", 0o700, 0), unix.EPERM)
	_, err = e.ns.Open(e.ctx, e.root, "proc/sub", unix.O_RDONLY, 0)
	wantErr(t, "open dir", err, 0)
	sf, err := e.ns.Statfs(e.ctx, e.root, "proc")
	if err != nil || sf.Type != 0x9fa0 {
		t.Errorf("statfs %+v %v", sf, err)
	}
	// fchdir-style lookup of an open directory.
	if _, err := e.ns.LookupDir(e.ctx, d, "", unix.AT_EMPTY_PATH); err != nil {
		t.Errorf("LookupDir AT_EMPTY_PATH: %v", err)
	}
}
