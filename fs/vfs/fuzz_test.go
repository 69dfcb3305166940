package vfs_test

import (
	"strings"
	"syscall"
	"testing"

	"dunix/fs/memfs"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// FuzzWalk resolves random paths over a small tree with random symbolic
// link targets, from inside a chroot jail. Whatever happens, the walker
// must not panic, must return Linux errnos, must never reach a file
// outside the jail, and must not change anything outside it.
func FuzzWalk(f *testing.F) {
	f.Add("../../..", "/a/b", "l3/../../f", "l1/x", uint8(0))
	f.Add("/", "..", "../l2", "a/l2/../l1/../a/f", uint8(2))
	f.Add("/../secret", "../../../out", "/m/../..", "l1/../secret", uint8(1))
	f.Add("l1", "l2", "l3", "a/b/l3/", uint8(3))
	f.Add("m", "../m/mf", "..//../", "a/l2/mf", uint8(4))
	f.Add("../../secret", "x", "/a/b/l3", "a/b/l3/new", uint8(5))
	f.Add(".", "../..", "//m", "m/../../../secret", uint8(6))
	f.Add("a/b/../../l1", "/l1", "b", "new/", uint8(7))
	f.Add("a", "b", "c", strings.Repeat("a/../", 900)+"a", uint8(8))
	f.Fuzz(func(t *testing.T, t1, t2, t3, p string, op uint8) {
		e := newEnv(t)
		e.write("secret", "secret")
		e.mkdir("out", 0o777)
		e.write("out/x", "x")
		e.mkdir("jail", 0o777)
		e.mkdir("jail/a", 0o777)
		e.mkdir("jail/a/b", 0o777)
		e.write("jail/a/f", "f")
		e.mkdir("jail/m", 0o777)
		mfs := memfs.New(&memfs.Options{Mode: 0o777})
		e.must(e.ns.Mount(e.ctx, e.root, "jail/m", mfs, vfs.MountOptions{}))
		e.write("jail/m/mf", "mf")
		for i, l := range [][2]string{{t1, "jail/l1"}, {t2, "jail/a/l2"}, {t3, "jail/a/b/l3"}} {
			if err := e.ns.Symlink(e.ctx, l[0], e.root, l[1]); err != nil && l[0] != "" && len(l[0]) < vfs.PathMax {
				t.Fatalf("symlink %d: %v", i, err)
			}
		}
		jail, err := e.ns.LookupDir(e.ctx, e.root, "jail", 0)
		e.must(err)
		ctx := &vfs.Ctx{Root: jail}
		if op&0x80 != 0 {
			ctx.Cred = vfs.Cred{UID: 1000, GID: 1000}
		}
		start := jail
		if op&0x40 != 0 {
			start, err = e.ns.LookupDir(e.ctx, jail, "a/b", 0)
			e.must(err)
		}
		outside := snapshot(e)

		check := func(what string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			if _, ok := err.(syscall.Errno); !ok {
				t.Fatalf("%s: error %v (%T) is not an errno", what, err, err)
			}
		}
		var got vfs.Inode
		switch op & 0xf {
		case 0, 1:
			l, err := e.ns.Lookup(ctx, start, p, int(op&1)*unix.AT_SYMLINK_NOFOLLOW)
			check("lookup", err)
			if err == nil {
				got = l.Inode()
			}
		case 2:
			f, err := e.ns.Open(ctx, start, p, unix.O_RDONLY, 0)
			check("open", err)
			if err == nil {
				got = f.Inode()
				f.Close()
			}
		case 3:
			f, err := e.ns.Open(ctx, start, p, unix.O_WRONLY|unix.O_CREAT, 0o666)
			check("create", err)
			if err == nil {
				f.Write([]byte("w"))
				got = f.Inode()
				f.Close()
			}
		case 4:
			check("mkdir", e.ns.Mkdir(ctx, start, p, 0o777))
		case 5:
			check("unlink", e.ns.Unlink(ctx, start, p))
		case 6:
			check("rmdir", e.ns.Rmdir(ctx, start, p))
		case 7:
			check("rename", e.ns.Rename(ctx, start, p, start, t3, 0))
		case 8:
			_, err := e.ns.Readlink(ctx, start, p)
			check("readlink", err)
		case 9:
			check("symlink", e.ns.Symlink(ctx, t1, start, p))
		case 10:
			check("link", e.ns.Link(ctx, start, p, start, t2, unix.AT_SYMLINK_FOLLOW))
		default:
			l, err := e.ns.LookupDir(ctx, start, p, 0)
			check("chdir", err)
			if err == nil {
				got = l.Inode()
				path, err := e.ns.Path(ctx, l)
				check("getcwd", err)
				if err == nil && !strings.HasPrefix(path, "/") {
					t.Fatalf("getcwd in jail: %q", path)
				}
			}
		}
		if got != nil && !inside(e, jail)[got] {
			st, _ := got.Stat()
			t.Fatalf("reached inode %d outside the jail", st.Ino)
		}
		if now := snapshot(e); now != outside {
			t.Fatalf("outside changed:\n%s\n%s", outside, now)
		}
	})
}

// snapshot describes what lies outside the jail.
func snapshot(e *env) string {
	var b strings.Builder
	for _, d := range []string{"/", "/out"} {
		f, err := e.ns.Open(e.ctx, e.root, d, unix.O_RDONLY, 0)
		e.must(err)
		b.WriteString(strings.Join(names(e.t, f), ","))
		f.Close()
		b.WriteByte('|')
	}
	b.WriteString(e.read("secret"))
	b.WriteString(e.read("out/x"))
	return b.String()
}

// inside returns the inodes reachable under jail.
func inside(e *env, jail vfs.Loc) map[vfs.Inode]bool {
	set := map[vfs.Inode]bool{jail.Inode(): true}
	ctx := &vfs.Ctx{Root: jail}
	var walk func(l vfs.Loc, depth int)
	walk = func(l vfs.Loc, depth int) {
		if depth > 50 {
			return
		}
		f, err := e.ns.Open(ctx, l, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return
		}
		ents := names(e.t, f)
		f.Close()
		for _, n := range ents[2:] {
			c, err := e.ns.Lookup(ctx, l, n, unix.AT_SYMLINK_NOFOLLOW)
			if err != nil || set[c.Inode()] {
				continue
			}
			set[c.Inode()] = true
			if _, ok := c.Inode().(vfs.DirInode); ok {
				walk(c, depth+1)
			}
		}
	}
	walk(jail, 0)
	return set
}
