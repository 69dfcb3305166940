package vfs_test

import (
	"strconv"
	"strings"
	"testing"

	"dunix/fs/memfs"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

func TestWalkDots(t *testing.T) {
	e := newEnv(t)
	e.mkdir("a", 0o755)
	e.mkdir("a/b", 0o755)
	e.write("a/b/f", "f")
	for _, p := range []string{"a/b/f", "/a/b/f", "//a//b//f", "./a/./b/f", "a/b/../b/f", "/../../a/b/f", "a/../a/b/../../a/b/f"} {
		if got := e.read(p); got != "f" {
			t.Errorf("%s: %q", p, got)
		}
	}
	// Relative to a starting directory.
	b, err := e.ns.LookupDir(e.ctx, e.root, "a/b", 0)
	e.must(err)
	st, err := e.ns.Stat(e.ctx, b, "f", 0)
	e.must(err)
	if st.Size != 1 {
		t.Errorf("size %d", st.Size)
	}
	if _, err := e.ns.Stat(e.ctx, b, "../../a", 0); err != nil {
		t.Error(err)
	}
	// A starting location that is not a directory.
	f, err := e.ns.Open(e.ctx, e.root, "a/b/f", unix.O_RDONLY, 0)
	e.must(err)
	defer f.Close()
	_, err = e.ns.Stat(e.ctx, f.Loc(), "x", 0)
	wantErr(t, "relative to a file", err, unix.ENOTDIR)
	st, err = e.ns.Stat(e.ctx, f.Loc(), "", unix.AT_EMPTY_PATH)
	e.must(err)
	if st.Size != 1 {
		t.Errorf("AT_EMPTY_PATH size %d", st.Size)
	}
	_, err = e.ns.Stat(e.ctx, f.Loc(), "", 0)
	wantErr(t, "empty path", err, unix.ENOENT)
	_, err = e.ns.Stat(e.ctx, e.root, "a", 1<<30)
	wantErr(t, "stat bad flags", err, unix.EINVAL)
}

func TestWalkSymlinks(t *testing.T) {
	e := newEnv(t)
	e.mkdir("d", 0o755)
	e.write("d/f", "f")
	e.symlink("/d", "abs")
	e.symlink("d", "rel")
	e.symlink("../d/f", "d/up")
	e.symlink("rel/up", "chain")
	for _, p := range []string{"abs/f", "rel/f", "d/up", "chain", "abs/up", "rel/../rel/f"} {
		if got := e.read(p); got != "f" {
			t.Errorf("%s: %q", p, got)
		}
	}
	// Trailing slash follows, lstat does not.
	st, err := e.ns.Stat(e.ctx, e.root, "rel/", unix.AT_SYMLINK_NOFOLLOW)
	e.must(err)
	if !st.IsDir() {
		t.Errorf("lstat rel/: %o", st.Mode)
	}
	if st := e.stat("rel"); st.Type() != unix.S_IFLNK || st.Size != 1 {
		t.Errorf("lstat rel: %+v", st)
	}
	_, err = e.ns.Stat(e.ctx, e.root, "chain/", 0)
	wantErr(t, "symlink to file with slash", err, unix.ENOTDIR)
	// Exactly 40 links resolve; 41 are ELOOP.
	e.symlink("d/f", "l0")
	for i := 1; i <= 41; i++ {
		e.symlink("l"+strconv.Itoa(i-1), "l"+strconv.Itoa(i))
	}
	if got := e.read("l39"); got != "f" {
		t.Errorf("l39: %q", got)
	}
	_, err = e.ns.Stat(e.ctx, e.root, "l40", 0)
	wantErr(t, "41 links", err, unix.ELOOP)
	_, err = e.ns.Stat(e.ctx, e.root, "l40", unix.AT_SYMLINK_NOFOLLOW)
	wantErr(t, "lstat of a long chain", err, 0)
	// Links within a path count toward the same limit.
	e.mkdir("deep", 0o755)
	e.symlink(".", "deep/s")
	p := "deep/" + strings.Repeat("s/", 40) + "."
	_, err = e.ns.Stat(e.ctx, e.root, p, 0)
	wantErr(t, "40 links in a path", err, 0)
	_, err = e.ns.Stat(e.ctx, e.root, "deep/"+strings.Repeat("s/", 41)+".", 0)
	wantErr(t, "41 links in a path", err, unix.ELOOP)
	// Readlink.
	if tgt, err := e.ns.Readlink(e.ctx, e.root, "chain"); err != nil || tgt != "rel/up" {
		t.Errorf("readlink: %q %v", tgt, err)
	}
	_, err = e.ns.Readlink(e.ctx, e.root, "d")
	wantErr(t, "readlink dir", err, unix.EINVAL)
	lf, err := e.ns.Open(e.ctx, e.root, "chain", unix.O_PATH|unix.O_NOFOLLOW, 0)
	e.must(err)
	if tgt, err := e.ns.Readlink(e.ctx, lf.Loc(), ""); err != nil || tgt != "rel/up" {
		t.Errorf("readlink of O_PATH fd: %q %v", tgt, err)
	}
	lf.Close()
}

func TestChroot(t *testing.T) {
	e := newEnv(t)
	e.write("secret", "outside")
	e.mkdir("jail", 0o755)
	e.mkdir("jail/etc", 0o755)
	e.write("jail/secret", "inside")
	e.symlink("/secret", "jail/etc/abs")
	e.symlink("../../../secret", "jail/etc/rel")
	jail, err := e.ns.LookupDir(e.ctx, e.root, "jail", 0)
	e.must(err)
	ctx := &vfs.Ctx{Root: jail}
	for _, p := range []string{"/secret", "/../secret", "../../secret", "/etc/abs", "/etc/rel", "etc/../../secret"} {
		f, err := e.ns.Open(ctx, jail, p, unix.O_RDONLY, 0)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got := readAll(t, f); got != "inside" {
			t.Errorf("%s escaped: %q", p, got)
		}
		f.Close()
	}
	etc, err := e.ns.LookupDir(ctx, jail, "etc", 0)
	e.must(err)
	if p, err := e.ns.Path(ctx, etc); err != nil || p != "/etc" {
		t.Errorf("path in jail: %q %v", p, err)
	}
	if p, err := e.ns.Path(e.ctx, etc); err != nil || p != "/jail/etc" {
		t.Errorf("path outside jail: %q %v", p, err)
	}
	// A directory outside the root is unreachable.
	if p, err := e.ns.Path(ctx, e.root); err != nil || p != "(unreachable)/" {
		t.Errorf("path of / from jail: %q %v", p, err)
	}
	wantErr(t, "rmdir of the root", e.ns.Rmdir(ctx, e.root, "jail"), unix.EBUSY)
}

func TestMounts(t *testing.T) {
	e := newEnv(t)
	e.mkdir("mnt", 0o755)
	e.write("mnt/hidden", "under")
	sub := memfs.New(nil)
	u := user(1000, 1000)
	wantErr(t, "mount as user", e.ns.Mount(u, e.root, "mnt", sub, vfs.MountOptions{}), unix.EPERM)
	e.write("plain", "p")
	wantErr(t, "mount on file", e.ns.Mount(e.ctx, e.root, "plain", sub, vfs.MountOptions{}), unix.ENOTDIR)
	e.must(e.ns.Mount(e.ctx, e.root, "mnt", sub, vfs.MountOptions{Source: "tmpfs", Type: "tmpfs", Flags: unix.MS_NOSUID, Data: "size=1m"}))
	if _, err := e.ns.Stat(e.ctx, e.root, "mnt/hidden", 0); err != unix.ENOENT {
		t.Errorf("covered file visible: %v", err)
	}
	e.write("mnt/new", "over")
	mst, rst := e.stat("mnt"), e.stat("/")
	if mst.Dev == rst.Dev || mst.Ino != 1 {
		t.Errorf("mount root stat %+v", mst)
	}
	// ".." leaves the mount.
	if got := e.read("mnt/../plain"); got != "p" {
		t.Errorf("mnt/..: %q", got)
	}
	m, err := e.ns.LookupDir(e.ctx, e.root, "mnt", 0)
	e.must(err)
	if st, err := e.ns.Stat(e.ctx, m, "..", 0); err != nil || st.Ino != rst.Ino {
		t.Errorf("stat mnt/..: %+v %v", st, err)
	}
	// getdents of the mount root reports its own "..".
	mf, err := e.ns.Open(e.ctx, e.root, "mnt", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	e.must(err)
	if got := names(t, mf); strings.Join(got, ",") != ".,..,new" {
		t.Errorf("mnt entries %v", got)
	}
	// Paths through the mount.
	e.mkdir("mnt/sub", 0o755)
	sl, err := e.ns.LookupDir(e.ctx, e.root, "mnt/sub", 0)
	e.must(err)
	if p, err := e.ns.Path(e.ctx, sl); err != nil || p != "/mnt/sub" {
		t.Errorf("path %q %v", p, err)
	}
	// Stacked mounts.
	top := memfs.New(nil)
	e.must(e.ns.Mount(e.ctx, e.root, "mnt", top, vfs.MountOptions{Source: "top", Type: "tmpfs"}))
	if _, err := e.ns.Stat(e.ctx, e.root, "mnt/new", 0); err != unix.ENOENT {
		t.Errorf("lower mount visible: %v", err)
	}
	ms := e.ns.Mounts(e.ctx)
	var lines []string
	for _, mi := range ms {
		lines = append(lines, mi.String())
	}
	want := "rootfs / rootfs rw 0 0|tmpfs /mnt tmpfs rw,nosuid,size=1m 0 0|top /mnt tmpfs rw 0 0"
	if got := strings.Join(lines, "|"); got != want {
		t.Errorf("mounts:\n%s\nwant\n%s", got, want)
	}
	if ms[2].ParentID != ms[1].ID || ms[1].ParentID != ms[0].ID {
		t.Errorf("parent ids %+v", ms)
	}
	// Unmount: busy with a child mount, then the top, then busy with an
	// open file.
	e.must(e.ns.Unmount(e.ctx, e.root, "mnt", 0))
	if got := e.read("mnt/new"); got != "over" {
		t.Errorf("after unmounting top: %q", got)
	}
	wantErr(t, "unmount with open file", e.ns.Unmount(e.ctx, e.root, "mnt", 0), unix.EBUSY)
	mf.Close()
	wantErr(t, "unmount non-root", e.ns.Unmount(e.ctx, e.root, "mnt/sub", 0), unix.EINVAL)
	wantErr(t, "unmount /", e.ns.Unmount(e.ctx, e.root, "/", 0), unix.EINVAL)
	wantErr(t, "unmount as user", e.ns.Unmount(u, e.root, "mnt", 0), unix.EPERM)
	wantErr(t, "unmount bad flags", e.ns.Unmount(e.ctx, e.root, "mnt", 1<<10), unix.EINVAL)
	e.must(e.ns.Unmount(e.ctx, e.root, "mnt", 0))
	if got := e.read("mnt/hidden"); got != "under" {
		t.Errorf("after unmount: %q", got)
	}
	// A location inside a detached mount stays usable but unreachable.
	if p, err := e.ns.Path(e.ctx, sl); err != nil || p != "(unreachable)/sub" {
		t.Errorf("path in unmounted fs %q %v", p, err)
	}
	if len(e.ns.Mounts(e.ctx)) != 1 {
		t.Errorf("mounts left: %v", e.ns.Mounts(e.ctx))
	}
}

func TestMountDetachBindRemount(t *testing.T) {
	e := newEnv(t)
	e.mkdir("a", 0o755)
	e.mkdir("b", 0o755)
	e.write("a/f", "af")
	e.write("file", "file")
	e.write("target", "target")
	// Bind a directory and a file.
	e.must(e.ns.Bind(e.ctx, e.root, "a", e.root, "b", unix.MS_RDONLY))
	if got := e.read("b/f"); got != "af" {
		t.Errorf("b/f %q", got)
	}
	_, err := e.ns.Open(e.ctx, e.root, "b/f", unix.O_WRONLY, 0)
	wantErr(t, "write through ro bind", err, unix.EROFS)
	wantErr(t, "bind on empty path", e.ns.Bind(e.ctx, e.root, "a", e.root, "", 0), unix.ENOENT)
	e.write("a/f", "changed")
	if got := e.read("b/f"); got != "changed" {
		t.Errorf("b/f %q", got)
	}
	wantErr(t, "rename across binds", e.ns.Rename(e.ctx, e.root, "a/f", e.root, "b/g", 0), unix.EXDEV)
	wantErr(t, "bind dir on file", e.ns.Bind(e.ctx, e.root, "a", e.root, "file", 0), unix.ENOTDIR)
	wantErr(t, "bind file on dir", e.ns.Bind(e.ctx, e.root, "file", e.root, "a", 0), unix.EISDIR)
	e.must(e.ns.Bind(e.ctx, e.root, "file", e.root, "target", 0))
	if got := e.read("target"); got != "file" {
		t.Errorf("bound file %q", got)
	}
	tf, err := e.ns.Open(e.ctx, e.root, "target", unix.O_RDONLY, 0)
	e.must(err)
	if p := tf.Path(e.ctx); p != "/target" {
		t.Errorf("path of a bound file %q", p)
	}
	tf.Close()
	if ms := e.ns.Mounts(e.ctx); len(ms) != 3 || ms[2].Target != "/target" {
		t.Errorf("mounts %+v", ms)
	}
	// Remount read-write.
	e.must(e.ns.Unmount(e.ctx, e.root, "target", 0))
	e.must(e.ns.Remount(e.ctx, e.root, "b", 0))
	e.write("b/f", "rw")
	wantErr(t, "remount non-root", e.ns.Remount(e.ctx, e.root, "a", 0), unix.EINVAL)
	// Detach while busy.
	f, err := e.ns.Open(e.ctx, e.root, "b/f", unix.O_RDONLY, 0)
	e.must(err)
	wantErr(t, "busy", e.ns.Unmount(e.ctx, e.root, "b", 0), unix.EBUSY)
	e.must(e.ns.Unmount(e.ctx, e.root, "b", unix.MNT_DETACH))
	if got := readAll(t, f); got != "rw" {
		t.Errorf("read after detach %q", got)
	}
	f.Close()
	if _, err := e.ns.Stat(e.ctx, e.root, "b/f", 0); err != unix.ENOENT {
		t.Errorf("b/f after detach: %v", err)
	}
	// Mount flags enforced: nodev, noexec.
	e.must(e.ns.Mknod(e.ctx, e.root, "a/null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3)))
	e.write("a/prog", "x")
	e.must(e.ns.Chmod(e.ctx, e.root, "a/prog", 0o755, 0))
	e.must(e.ns.Bind(e.ctx, e.root, "a", e.root, "b", unix.MS_NODEV|unix.MS_NOEXEC))
	_, err = e.ns.Open(e.ctx, e.root, "b/null", unix.O_RDWR, 0)
	wantErr(t, "nodev", err, unix.EACCES)
	_, err = e.ns.OpenExec(e.ctx, e.root, "b/prog")
	wantErr(t, "noexec", err, unix.EACCES)
	wantErr(t, "access X_OK noexec", e.ns.Access(e.ctx, e.root, "b/prog", unix.X_OK, 0), unix.EACCES)
	f, err = e.ns.OpenExec(e.ctx, e.root, "a/prog")
	e.must(err)
	f.Close()
	ms := e.ns.Mounts(e.ctx)
	if got := ms[len(ms)-1].Options(); got != "rw,nodev,noexec" {
		t.Errorf("options %q", got)
	}
}

func TestGetcwd(t *testing.T) {
	e := newEnv(t)
	e.mkdir("a", 0o755)
	e.mkdir("a/b", 0o755)
	e.mkdir("a/b/c", 0o755)
	c, err := e.ns.LookupDir(e.ctx, e.root, "a/b/c", 0)
	e.must(err)
	if p, err := e.ns.Path(e.ctx, c); err != nil || p != "/a/b/c" {
		t.Errorf("%q %v", p, err)
	}
	if p, err := e.ns.Path(e.ctx, e.root); err != nil || p != "/" {
		t.Errorf("%q %v", p, err)
	}
	e.must(e.ns.Rename(e.ctx, e.root, "a/b", e.root, "x", 0))
	if p, err := e.ns.Path(e.ctx, c); err != nil || p != "/x/c" {
		t.Errorf("after rename %q %v", p, err)
	}
	e.must(e.ns.Rmdir(e.ctx, e.root, "x/c"))
	if _, err := e.ns.Path(e.ctx, c); err != unix.ENOENT {
		t.Errorf("removed cwd: %v", err)
	}
	// Operations relative to a removed directory.
	wantErr(t, "create in removed cwd", e.ns.Mkdir(e.ctx, c, "new", 0o755), unix.ENOENT)
	_, err = e.ns.Stat(e.ctx, c, ".", 0)
	wantErr(t, "stat . in removed cwd", err, 0)
	_, err = e.ns.Stat(e.ctx, c, "..", 0)
	wantErr(t, "stat .. in removed cwd", err, 0)
	// File paths.
	e.write("x/f", "f")
	f, err := e.ns.Open(e.ctx, e.root, "x/f", unix.O_RDONLY, 0)
	e.must(err)
	defer f.Close()
	if p := f.Path(e.ctx); p != "/x/f" {
		t.Errorf("file path %q", p)
	}
	e.must(e.ns.Rename(e.ctx, e.root, "x/f", e.root, "x/g", 0))
	if p := f.Path(e.ctx); p != "/x/g" {
		t.Errorf("renamed file path %q", p)
	}
	e.must(e.ns.Rename(e.ctx, e.root, "x", e.root, "y", 0))
	if p := f.Path(e.ctx); p != "/y/g" {
		t.Errorf("path after parent rename %q", p)
	}
	d, err := e.ns.Open(e.ctx, e.root, "y", unix.O_RDONLY, 0)
	e.must(err)
	defer d.Close()
	if p := d.Path(e.ctx); p != "/y" {
		t.Errorf("dir path %q", p)
	}
}

func TestSearchPermission(t *testing.T) {
	e := newEnv(t)
	e.mkdir("a", 0o755)
	e.mkdir("a/noexec", 0o644)
	e.write("a/noexec/f", "f")
	e.mkdir("a/noread", 0o711)
	e.write("a/noread/f", "f")
	e.must(e.ns.Chmod(e.ctx, e.root, "a/noread/f", 0o644, 0))
	u := user(1000, 1000)
	_, err := e.ns.Stat(u, e.root, "a/noexec/f", 0)
	wantErr(t, "search without x", err, unix.EACCES)
	_, err = e.ns.Stat(u, e.root, "a/noexec/.", 0)
	wantErr(t, "dot without x", err, unix.EACCES)
	_, err = e.ns.Stat(u, e.root, "a/noexec", 0)
	wantErr(t, "stat the dir itself", err, 0)
	_, err = e.ns.Stat(u, e.root, "a/noread/f", 0)
	wantErr(t, "search with x only", err, 0)
	_, err = e.ns.Open(u, e.root, "a/noread", unix.O_RDONLY, 0)
	wantErr(t, "open for reading without r", err, unix.EACCES)
	_, err = e.ns.LookupDir(u, e.root, "a/noexec", 0)
	wantErr(t, "chdir without x", err, unix.EACCES)
	_, err = e.ns.LookupDir(u, e.root, "a/noread/f", 0)
	wantErr(t, "chdir to file", err, unix.ENOTDIR)
	// Group and other bits.
	e.write("g", "g")
	e.must(e.ns.Chown(e.ctx, e.root, "g", 1, 50, 0))
	e.must(e.ns.Chmod(e.ctx, e.root, "g", 0o604, 0))
	wantErr(t, "group member denied", e.ns.Access(user(1000, 1000, 50), e.root, "g", unix.R_OK, 0), unix.EACCES)
	wantErr(t, "other allowed", e.ns.Access(u, e.root, "g", unix.R_OK, 0), 0)
	e.must(e.ns.Chmod(e.ctx, e.root, "g", 0o060, 0))
	wantErr(t, "group allowed", e.ns.Access(user(1000, 1000, 50), e.root, "g", unix.R_OK|unix.W_OK, 0), 0)
	wantErr(t, "owner denied", e.ns.Access(user(1, 50), e.root, "g", unix.R_OK, 0), unix.EACCES)
}

func TestClone(t *testing.T) {
	e := newEnv(t)
	e.mkdir("a", 0o755)
	e.mkdir("b", 0o755)
	e.must(e.ns.Mount(e.ctx, e.root, "a", memfs.New(nil), vfs.MountOptions{Source: "a", Type: "tmpfs"}))
	e.mkdir("a/sub", 0o755)
	cwd, err := e.ns.LookupDir(e.ctx, e.root, "a/sub", 0)
	e.must(err)
	c, tr := e.ns.Clone()
	ccwd := tr(cwd)
	if p, err := c.Path(e.ctx, ccwd); err != nil || p != "/a/sub" {
		t.Errorf("cwd in clone %q %v", p, err)
	}
	// Mounts in the clone are its own.
	e.must(c.Mount(e.ctx, c.Root(), "b", memfs.New(nil), vfs.MountOptions{Source: "b", Type: "tmpfs"}))
	if len(c.Mounts(e.ctx)) != 3 || len(e.ns.Mounts(e.ctx)) != 2 {
		t.Errorf("mounts: clone %d, original %d", len(c.Mounts(e.ctx)), len(e.ns.Mounts(e.ctx)))
	}
	e.must(e.ns.Unmount(e.ctx, e.root, "a", 0))
	if _, err := c.Stat(e.ctx, ccwd, "../sub", 0); err != nil {
		t.Errorf("clone lost its mount: %v", err)
	}
	// Files are shared: same file systems.
	f, err := c.Open(e.ctx, c.Root(), "a/sub/x", unix.O_CREAT|unix.O_WRONLY, 0o644)
	e.must(err)
	f.Close()
	if _, err := e.ns.Stat(e.ctx, cwd, "x", 0); err != nil {
		t.Errorf("file made in the clone not seen: %v", err)
	}
}
