package vfs_test

import (
	"strings"
	"syscall"
	"testing"

	"dunix/fs/memfs"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// fixture builds the tree the errno tables run against:
//
//	/d/f /d/sub/x /file /empty/ /link->d /dangling->nowhere
//	/loop1<->/loop2 /self->self /priv(0700)/secret
//	/sticky(1777)/{a(uid 1000),b(uid 1001)} /home(1000)/ /fifo /null /nodev /sock
//	/ro (read-only memfs with /ro/f)
func fixture(t testing.TB) *env {
	e := newEnv(t)
	e.mkdir("d", 0o755)
	e.write("d/f", "data")
	e.mkdir("d/sub", 0o755)
	e.write("d/sub/x", "x")
	e.write("file", "file")
	e.mkdir("empty", 0o755)
	e.symlink("d", "link")
	e.symlink("nowhere", "dangling")
	e.symlink("loop2", "loop1")
	e.symlink("loop1", "loop2")
	e.symlink("self", "self")
	e.mkdir("priv", 0o700)
	e.write("priv/secret", "s")
	e.mkdir("sticky", 0o1777)
	e.write("sticky/a", "a")
	e.must(e.ns.Chown(e.ctx, e.root, "sticky/a", 1000, 1000, 0))
	e.write("sticky/b", "b")
	e.must(e.ns.Chown(e.ctx, e.root, "sticky/b", 1001, 1001, 0))
	e.mkdir("home", 0o755)
	e.must(e.ns.Chown(e.ctx, e.root, "home", 1000, 1000, 0))
	e.must(e.ns.Mknod(e.ctx, e.root, "fifo", unix.S_IFIFO|0o666, 0))
	e.must(e.ns.Mknod(e.ctx, e.root, "null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3)))
	e.must(e.ns.Mknod(e.ctx, e.root, "nodev", unix.S_IFCHR|0o666, unix.Mkdev(99, 99)))
	e.must(e.ns.Mknod(e.ctx, e.root, "sock", unix.S_IFSOCK|0o666, 0))
	e.mkdir("ro", 0o755)
	ro := memfs.New(nil)
	rons := vfs.NewNamespace(ro, vfs.Options{})
	f, err := rons.Open(e.ctx, rons.Root(), "f", unix.O_CREAT|unix.O_WRONLY, 0o666)
	e.must(err)
	f.Close()
	e.must(e.ns.Mount(e.ctx, e.root, "ro", ro, vfs.MountOptions{Flags: unix.MS_RDONLY, Source: "ro", Type: "tmpfs"}))
	return e
}

var long = strings.Repeat("n", 256)

func TestOpenErrors(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000)
	tests := []struct {
		path  string
		flags int
		ctx   *vfs.Ctx
		want  syscall.Errno
	}{
		{"nope", unix.O_RDONLY, nil, unix.ENOENT},
		{"", unix.O_RDONLY, nil, unix.ENOENT},
		{"file/x", unix.O_RDONLY, nil, unix.ENOTDIR},
		{"file/", unix.O_RDONLY, nil, unix.ENOTDIR},
		{"file/.", unix.O_RDONLY, nil, unix.ENOTDIR},
		{"d", unix.O_WRONLY, nil, unix.EISDIR},
		{"d", unix.O_RDWR, nil, unix.EISDIR},
		{"d", unix.O_RDONLY | unix.O_TRUNC, nil, unix.EISDIR},
		{"d", unix.O_RDONLY, nil, 0},
		{"d/", unix.O_RDONLY | unix.O_DIRECTORY, nil, 0},
		{"/", unix.O_RDONLY, nil, 0},
		{"/..", unix.O_RDONLY, nil, 0},
		{"file", unix.O_RDONLY | unix.O_DIRECTORY, nil, unix.ENOTDIR},
		{"link", unix.O_RDONLY | unix.O_DIRECTORY, nil, 0},
		{"link/", unix.O_RDONLY | unix.O_NOFOLLOW, nil, 0},
		{"link", unix.O_RDONLY | unix.O_NOFOLLOW, nil, unix.ELOOP},
		{"link", unix.O_PATH | unix.O_NOFOLLOW, nil, 0},
		{"link", unix.O_PATH | unix.O_NOFOLLOW | unix.O_DIRECTORY, nil, unix.ENOTDIR},
		{"dangling", unix.O_RDONLY, nil, unix.ENOENT},
		{"loop1", unix.O_RDONLY, nil, unix.ELOOP},
		{"self", unix.O_RDONLY, nil, unix.ELOOP},
		{"self/x", unix.O_RDONLY, nil, unix.ELOOP},
		{"file", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, nil, unix.EEXIST},
		{"link", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, nil, unix.EEXIST},
		{"dangling", unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY, nil, unix.EEXIST},
		{"link", unix.O_CREAT | unix.O_NOFOLLOW | unix.O_WRONLY, nil, unix.ELOOP},
		{"new/", unix.O_CREAT | unix.O_WRONLY, nil, unix.EISDIR},
		{"d", unix.O_CREAT | unix.O_RDONLY, nil, unix.EISDIR},
		{".", unix.O_CREAT | unix.O_RDONLY, nil, unix.EISDIR},
		{"x", unix.O_CREAT | unix.O_DIRECTORY | unix.O_RDONLY, nil, unix.EINVAL},
		{"d", unix.O_TMPFILE | unix.O_RDWR, nil, unix.EOPNOTSUPP},
		{"nope/x", unix.O_CREAT | unix.O_WRONLY, nil, unix.ENOENT},
		{long, unix.O_RDONLY, nil, unix.ENAMETOOLONG},
		{long, unix.O_CREAT | unix.O_WRONLY, nil, unix.ENAMETOOLONG},
		{strings.Repeat("d/../", 820), unix.O_RDONLY, nil, unix.ENAMETOOLONG},
		{strings.Repeat("d/../", 818) + "file", unix.O_RDONLY, nil, 0},
		{"priv/secret", unix.O_RDONLY, u, unix.EACCES},
		{"priv/nope", unix.O_RDONLY, u, unix.EACCES},
		{"priv", unix.O_RDONLY, u, unix.EACCES},
		{"priv", unix.O_PATH, u, 0},
		{"file", unix.O_WRONLY, u, unix.EACCES},
		{"file", unix.O_RDONLY | unix.O_TRUNC, u, unix.EACCES},
		{"file", unix.O_RDONLY, u, 0},
		{"d/new", unix.O_CREAT | unix.O_WRONLY, u, unix.EACCES},
		{"home/new", unix.O_CREAT | unix.O_WRONLY, u, 0},
		{"/ro/f", unix.O_WRONLY, nil, unix.EROFS},
		{"/ro/f", unix.O_RDONLY, nil, 0},
		{"/ro/new", unix.O_CREAT | unix.O_WRONLY, nil, unix.EROFS},
		{"fifo", unix.O_WRONLY | unix.O_NONBLOCK, nil, unix.ENXIO},
		{"fifo", unix.O_RDONLY | unix.O_NONBLOCK, nil, 0},
		{"fifo", unix.O_RDWR, nil, 0},
		{"null", unix.O_RDWR, nil, 0},
		{"nodev", unix.O_RDWR, nil, unix.ENXIO},
		{"sock", unix.O_RDWR, nil, unix.ENXIO},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = e.ctx
		}
		f, err := e.ns.Open(ctx, e.root, tt.path, tt.flags, 0o644)
		name := tt.path
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		wantErr(t, "open "+name, err, tt.want)
		if err == nil {
			f.Close()
		}
	}
	// Opening a dangling symbolic link with O_CREAT makes its target.
	f, err := e.ns.Open(e.ctx, e.root, "dangling", unix.O_CREAT|unix.O_WRONLY, 0o600)
	e.must(err)
	f.Close()
	if st := e.stat("nowhere"); st.Type() != unix.S_IFREG || st.Mode&0o777 != 0o600 {
		t.Errorf("dangling target: %+v", st)
	}
}

func TestMkdirMknodSymlinkErrors(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000)
	type op func(ctx *vfs.Ctx, path string) error
	mkdir := func(ctx *vfs.Ctx, p string) error { return e.ns.Mkdir(ctx, e.root, p, 0o755) }
	mkfifo := func(ctx *vfs.Ctx, p string) error { return e.ns.Mknod(ctx, e.root, p, unix.S_IFIFO|0o644, 0) }
	mkchr := func(ctx *vfs.Ctx, p string) error {
		return e.ns.Mknod(ctx, e.root, p, unix.S_IFCHR|0o644, unix.Mkdev(1, 3))
	}
	mkdirNode := func(ctx *vfs.Ctx, p string) error { return e.ns.Mknod(ctx, e.root, p, unix.S_IFDIR|0o644, 0) }
	mkbad := func(ctx *vfs.Ctx, p string) error { return e.ns.Mknod(ctx, e.root, p, 0o170000|0o644, 0) }
	symlink := func(ctx *vfs.Ctx, p string) error { return e.ns.Symlink(ctx, "target", e.root, p) }
	tests := []struct {
		name string
		op   op
		path string
		ctx  *vfs.Ctx
		want syscall.Errno
	}{
		{"mkdir", mkdir, "d", nil, unix.EEXIST},
		{"mkdir", mkdir, "/", nil, unix.EEXIST},
		{"mkdir", mkdir, ".", nil, unix.EEXIST},
		{"mkdir", mkdir, "d/..", nil, unix.EEXIST},
		{"mkdir", mkdir, "dangling", nil, unix.EEXIST},
		{"mkdir", mkdir, "nope/x", nil, unix.ENOENT},
		{"mkdir", mkdir, "file/x", nil, unix.ENOTDIR},
		{"mkdir", mkdir, "ro/x", nil, unix.EROFS},
		{"mkdir", mkdir, "d/x", u, unix.EACCES},
		{"mkdir", mkdir, "priv/x", u, unix.EACCES},
		{"mkdir", mkdir, long, nil, unix.ENAMETOOLONG},
		{"mkdir", mkdir, "new/", nil, 0},
		{"mkdir", mkdir, "link/new", nil, 0},
		{"mkdir", mkdir, "home/x", u, 0},
		{"mknod", mkfifo, "file", nil, unix.EEXIST},
		{"mknod", mkfifo, "f2/", nil, unix.ENOENT},
		{"mknod", mkfifo, "home/fifo", u, 0},
		{"mknod", mkchr, "home/chr", u, unix.EPERM},
		{"mknod", mkchr, "chr", nil, 0},
		{"mknod", mkdirNode, "dn", nil, unix.EPERM},
		{"mknod", mkbad, "bad", nil, unix.EINVAL},
		{"symlink", symlink, "file", nil, unix.EEXIST},
		{"symlink", symlink, "s/", nil, unix.ENOENT},
		{"symlink", symlink, "ro/s", nil, unix.EROFS},
		{"symlink", symlink, "s", nil, 0},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = e.ctx
		}
		wantErr(t, tt.name+" "+tt.path, tt.op(ctx, tt.path), tt.want)
	}
	wantErr(t, "empty symlink", e.ns.Symlink(e.ctx, "", e.root, "s2"), unix.ENOENT)
	wantErr(t, "long symlink", e.ns.Symlink(e.ctx, strings.Repeat("a", 4096), e.root, "s2"), unix.ENAMETOOLONG)
	if st := e.stat("home/x"); st.UID != 1000 || st.GID != 1000 || !st.IsDir() {
		t.Errorf("home/x: %+v", st)
	}
	if st := e.stat("chr"); st.Type() != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("chr: %+v", st)
	}
}

func TestUnlinkRmdirErrors(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000)
	unlink := func(ctx *vfs.Ctx, p string) error { return e.ns.Unlink(ctx, e.root, p) }
	rmdir := func(ctx *vfs.Ctx, p string) error { return e.ns.Rmdir(ctx, e.root, p) }
	tests := []struct {
		name string
		op   func(*vfs.Ctx, string) error
		path string
		ctx  *vfs.Ctx
		want syscall.Errno
	}{
		{"unlink", unlink, "nope", nil, unix.ENOENT},
		{"unlink", unlink, "d", nil, unix.EISDIR},
		{"unlink", unlink, "d/", nil, unix.EISDIR},
		{"unlink", unlink, "file/", nil, unix.ENOTDIR},
		{"unlink", unlink, ".", nil, unix.EISDIR},
		{"unlink", unlink, "..", nil, unix.EISDIR},
		{"unlink", unlink, "/", nil, unix.EISDIR},
		{"unlink", unlink, "ro/f", nil, unix.EROFS},
		{"unlink", unlink, "d/f", u, unix.EACCES},
		{"unlink", unlink, "priv/secret", u, unix.EACCES},
		{"unlink", unlink, "sticky/b", u, unix.EPERM},
		{"unlink", unlink, "sticky/a", u, 0},
		{"unlink", unlink, "link", nil, 0}, // the link, not its target
		{"rmdir", rmdir, "file", nil, unix.ENOTDIR},
		{"rmdir", rmdir, "dangling", nil, unix.ENOTDIR},
		{"rmdir", rmdir, "d", nil, unix.ENOTEMPTY},
		{"rmdir", rmdir, ".", nil, unix.EINVAL},
		{"rmdir", rmdir, "d/.", nil, unix.EINVAL},
		{"rmdir", rmdir, "..", nil, unix.ENOTEMPTY},
		{"rmdir", rmdir, "/", nil, unix.EBUSY},
		{"rmdir", rmdir, "ro", nil, unix.EBUSY},
		{"rmdir", rmdir, "nope", nil, unix.ENOENT},
		{"rmdir", rmdir, "empty", u, unix.EACCES},
		{"rmdir", rmdir, "empty/", nil, 0},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = e.ctx
		}
		wantErr(t, tt.name+" "+tt.path, tt.op(ctx, tt.path), tt.want)
	}
	if _, err := e.ns.Stat(e.ctx, e.root, "d", 0); err != nil {
		t.Errorf("target of removed link: %v", err)
	}
}

func TestRenameErrors(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000)
	e.mkdir("e1", 0o755)
	e.mkdir("e2", 0o755)
	e.must(e.ns.Link(e.ctx, e.root, "file", e.root, "hard", 0))
	tests := []struct {
		from, to string
		flags    uint32
		ctx      *vfs.Ctx
		want     syscall.Errno
	}{
		{"nope", "x", 0, nil, unix.ENOENT},
		{"file", "d", 0, nil, unix.EISDIR},
		{"d", "file", 0, nil, unix.ENOTDIR},
		{"d", "d/sub/new", 0, nil, unix.EINVAL},
		{"d", "d/new", 0, nil, unix.EINVAL},
		{"d/sub", "d", 0, nil, unix.ENOTEMPTY},
		{"d/sub/x", "d", 0, nil, unix.ENOTEMPTY}, // target is an ancestor
		{"d/sub/x", "empty", 0, nil, unix.EISDIR},
		{"d", "empty/x/y", 0, nil, unix.ENOENT},
		{"ro/f", "f", 0, nil, unix.EXDEV},
		{".", "x", 0, nil, unix.EBUSY},
		{"d/..", "x", 0, nil, unix.EBUSY},
		{"file", "/", 0, nil, unix.EBUSY},
		{"ro", "x", 0, nil, unix.EBUSY},
		{"file", "d/f", unix.RENAME_NOREPLACE, nil, unix.EEXIST},
		{"file", "nope", unix.RENAME_EXCHANGE, nil, unix.ENOENT},
		{"file", "x", unix.RENAME_EXCHANGE | unix.RENAME_NOREPLACE, nil, unix.EINVAL},
		{"file", "x", unix.RENAME_WHITEOUT, nil, unix.EINVAL},
		{"file", "x", 1 << 10, nil, unix.EINVAL},
		{"file/", "x", 0, nil, unix.ENOTDIR},
		{"file", "x/", 0, nil, unix.ENOTDIR},
		{"d/f", "x", 0, u, unix.EACCES},
		{"sticky/b", "sticky/c", 0, u, unix.EPERM},
		{"home", "sticky/h", 0, u, unix.EACCES}, // moving a dir needs write on its parent (root's)
		{"file", "file", 0, nil, 0},
		{"file", "hard", 0, nil, 0}, // same inode: nothing happens
		{"e1", "e2", 0, nil, 0},     // replaces an empty directory
		{"empty/", "e3/", 0, nil, 0},
		{"sticky/a", "sticky/c", 0, u, 0},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = e.ctx
		}
		wantErr(t, "rename "+tt.from+" "+tt.to, e.ns.Rename(ctx, e.root, tt.from, e.root, tt.to, tt.flags), tt.want)
	}
	for _, p := range []string{"file", "hard", "e2", "e3", "sticky/c"} {
		if _, err := e.ns.Stat(e.ctx, e.root, p, 0); err != nil {
			t.Errorf("%s after renames: %v", p, err)
		}
	}
	for _, p := range []string{"e1", "empty", "sticky/a"} {
		if _, err := e.ns.Stat(e.ctx, e.root, p, 0); err != unix.ENOENT {
			t.Errorf("%s after renames: %v, want ENOENT", p, err)
		}
	}
}

func TestRenameSemantics(t *testing.T) {
	e := newEnv(t)
	e.mkdir("a", 0o755)
	e.mkdir("b", 0o755)
	e.mkdir("a/dir", 0o755)
	e.write("a/dir/in", "in")
	e.write("a/f", "f")
	e.write("b/g", "g")

	// Replacing a file.
	e.must(e.ns.Rename(e.ctx, e.root, "a/f", e.root, "b/g", 0))
	if got := e.read("b/g"); got != "f" {
		t.Errorf("b/g = %q", got)
	}
	// Moving a directory updates link counts and "..".
	before := e.stat("a").Nlink
	e.must(e.ns.Rename(e.ctx, e.root, "a/dir", e.root, "b/dir", 0))
	if got := e.stat("a").Nlink; got != before-1 {
		t.Errorf("a nlink %d, want %d", got, before-1)
	}
	if got := e.stat("b").Nlink; got != 3 {
		t.Errorf("b nlink %d, want 3", got)
	}
	if got := e.read("b/dir/../dir/in"); got != "in" {
		t.Errorf("b/dir/../dir/in = %q", got)
	}
	dl, err := e.ns.LookupDir(e.ctx, e.root, "b/dir", 0)
	e.must(err)
	if p, err := e.ns.Path(e.ctx, dl); err != nil || p != "/b/dir" {
		t.Errorf("path %q %v", p, err)
	}
	// Exchange a file and a directory across directories.
	e.write("a/x", "x")
	e.must(e.ns.Rename(e.ctx, e.root, "a/x", e.root, "b/dir", unix.RENAME_EXCHANGE))
	if got := e.read("b/dir"); got != "x" {
		t.Errorf("b/dir = %q", got)
	}
	if got := e.read("a/x/in"); got != "in" {
		t.Errorf("a/x/in = %q", got)
	}
	if a, b := e.stat("a").Nlink, e.stat("b").Nlink; a != 3 || b != 2 {
		t.Errorf("nlinks after exchange a=%d b=%d", a, b)
	}
	if p, err := e.ns.Path(e.ctx, dl); err != nil || p != "/a/x" {
		t.Errorf("path after exchange %q %v", p, err)
	}
	// Replacing a non-empty directory fails; an empty one works and
	// the replaced directory is dead.
	e.mkdir("b/empty", 0o755)
	el, err := e.ns.LookupDir(e.ctx, e.root, "b/empty", 0)
	e.must(err)
	wantErr(t, "replace non-empty", e.ns.Rename(e.ctx, e.root, "b/empty", e.root, "a/x", 0), unix.ENOTEMPTY)
	e.must(e.ns.Rename(e.ctx, e.root, "a/x", e.root, "b/empty", 0))
	wantErr(t, "create in replaced dir", e.ns.Mkdir(e.ctx, el, "z", 0o755), unix.ENOENT)
	if _, err := e.ns.Path(e.ctx, el); err != unix.ENOENT {
		t.Errorf("path of replaced dir: %v", err)
	}
	if st, _ := el.Inode().Stat(); st.Nlink != 0 {
		t.Errorf("replaced dir nlink %d", st.Nlink)
	}
	// Timestamps: rename changes the ctime of the moved inode.
	st0 := e.stat("b/g")
	e.must(e.ns.Utimes(e.ctx, e.root, "b/g", vfs.Timespec{Sec: 1}, vfs.Timespec{Sec: 1}, 0))
	e.must(e.ns.Rename(e.ctx, e.root, "b/g", e.root, "b/h", 0))
	st1 := e.stat("b/h")
	if st1.Ino != st0.Ino || st1.Mtime.Sec != 1 || st1.Ctime.Sec < st0.Ctime.Sec {
		t.Errorf("after rename: %+v", st1)
	}
}

func TestLinkErrors(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000)
	tests := []struct {
		from, to string
		flags    int
		ctx      *vfs.Ctx
		want     syscall.Errno
	}{
		{"d", "x", 0, nil, unix.EPERM},
		{"nope", "x", 0, nil, unix.ENOENT},
		{"file", "d/f", 0, nil, unix.EEXIST},
		{"ro/f", "x", 0, nil, unix.EXDEV},
		{"file", "ro/x", 0, nil, unix.EROFS},
		{"file", "x/", 0, nil, unix.ENOENT},
		{"file", "d/x", 0, u, unix.EACCES},
		{"file", "x", 1 << 20, nil, unix.EINVAL},
		{"link", "l2", 0, nil, 0},                               // the symlink itself
		{"link", "d2", unix.AT_SYMLINK_FOLLOW, nil, unix.EPERM}, // its target, a directory
		{"file", "home/f", 0, u, 0},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = e.ctx
		}
		wantErr(t, "link "+tt.from+" "+tt.to, e.ns.Link(ctx, e.root, tt.from, e.root, tt.to, tt.flags), tt.want)
	}
	if st := e.stat("l2"); st.Type() != unix.S_IFLNK || st.Nlink != 2 {
		t.Errorf("l2: %+v", st)
	}
	// AT_EMPTY_PATH links an open file; root only.
	f, err := e.ns.Open(e.ctx, e.root, "file", unix.O_RDONLY, 0)
	e.must(err)
	defer f.Close()
	wantErr(t, "link empty path as user", e.ns.Link(u, f.Loc(), "", e.root, "home/e", unix.AT_EMPTY_PATH), unix.ENOENT)
	e.must(e.ns.Link(e.ctx, f.Loc(), "", e.root, "viafd", unix.AT_EMPTY_PATH))
	e.must(e.ns.Unlink(e.ctx, e.root, "file"))
	e.must(e.ns.Unlink(e.ctx, e.root, "viafd"))
	e.must(e.ns.Unlink(e.ctx, e.root, "home/f"))
	// Linking an open file with no names left is ENOENT.
	wantErr(t, "link unlinked", e.ns.Link(e.ctx, f.Loc(), "", e.root, "back", unix.AT_EMPTY_PATH), unix.ENOENT)
}

func TestHardLinks(t *testing.T) {
	e := newEnv(t)
	e.write("a", "one")
	e.must(e.ns.Link(e.ctx, e.root, "a", e.root, "b", 0))
	e.mkdir("d", 0o755)
	e.must(e.ns.Link(e.ctx, e.root, "b", e.root, "d/c", 0))
	sa, sb, sc := e.stat("a"), e.stat("b"), e.stat("d/c")
	if sa.Ino != sb.Ino || sb.Ino != sc.Ino || sa.Nlink != 3 {
		t.Fatalf("links: %+v %+v %+v", sa, sb, sc)
	}
	e.write("d/c", "two")
	if got := e.read("a"); got != "two" {
		t.Errorf("a = %q", got)
	}
	e.must(e.ns.Unlink(e.ctx, e.root, "a"))
	if n := e.stat("b").Nlink; n != 2 {
		t.Errorf("nlink %d", n)
	}
	e.must(e.ns.Unlink(e.ctx, e.root, "b"))
	if n := e.stat("d/c").Nlink; n != 1 {
		t.Errorf("nlink %d", n)
	}
	// Directory link counts: 2 + subdirectories.
	e.mkdir("d/s1", 0o755)
	e.mkdir("d/s2", 0o755)
	if n := e.stat("d").Nlink; n != 4 {
		t.Errorf("d nlink %d, want 4", n)
	}
	e.must(e.ns.Rmdir(e.ctx, e.root, "d/s1"))
	if n := e.stat("d").Nlink; n != 3 {
		t.Errorf("d nlink %d, want 3", n)
	}
}

func TestUnlinkWhileOpen(t *testing.T) {
	e := newEnv(t)
	e.write("f", "persistent")
	f, err := e.ns.Open(e.ctx, e.root, "f", unix.O_RDWR, 0)
	e.must(err)
	g := f
	g.IncRef() // a dup
	e.must(e.ns.Unlink(e.ctx, e.root, "f"))
	if _, err := e.ns.Stat(e.ctx, e.root, "f", 0); err != unix.ENOENT {
		t.Fatalf("stat after unlink: %v", err)
	}
	st, err := f.Stat()
	e.must(err)
	if st.Nlink != 0 || st.Size != 10 {
		t.Errorf("fstat after unlink: %+v", st)
	}
	if p := f.Path(e.ctx); p != "/f (deleted)" {
		t.Errorf("path %q", p)
	}
	if _, err := f.Pwrite([]byte("P"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	buf := make([]byte, 20)
	n, err := g.Pread(buf, 0)
	e.must(err)
	if string(buf[:n]) != "Persistent" {
		t.Errorf("read %q", buf[:n])
	}
	pagesBefore, _ := e.fs.Statfs()
	g.Close()
	pagesAfter, _ := e.fs.Statfs()
	used := func(s vfs.Statfs) (uint64, uint64) { return s.Blocks - s.Bfree, s.Files - s.Ffree }
	b0, i0 := used(pagesBefore)
	b1, i1 := used(pagesAfter)
	if b1 != b0-1 || i1 != i0-1 {
		t.Errorf("space not released: %+v -> %+v", pagesBefore, pagesAfter)
	}
	// A new file of the same name is a new inode.
	e.write("f", "new")
	if e.stat("f").Ino == st.Ino {
		t.Errorf("inode number reused while still referenced")
	}
}

func TestChmodChownUtimes(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000, 50)
	other := user(1001, 1001)
	e.write("home/f", "f")
	e.must(e.ns.Chown(e.ctx, e.root, "home/f", 1000, 1000, 0))

	wantErr(t, "chmod by other", e.ns.Chmod(other, e.root, "home/f", 0o777, 0), unix.EPERM)
	wantErr(t, "chmod by owner", e.ns.Chmod(u, e.root, "home/f", 0o2755, 0), 0)
	if m := e.stat("home/f").Mode & 0o7777; m != 0o2755 {
		t.Errorf("mode %o", m)
	}
	wantErr(t, "chmod ro", e.ns.Chmod(e.ctx, e.root, "ro/f", 0o600, 0), unix.EROFS)
	wantErr(t, "lchmod", e.ns.Chmod(e.ctx, e.root, "link", 0o600, unix.AT_SYMLINK_NOFOLLOW), unix.EOPNOTSUPP)
	// Chmod by the owner outside the file's group drops S_ISGID.
	e.must(e.ns.Chown(e.ctx, e.root, "home/f", 1000, 77, 0))
	e.must(e.ns.Chmod(u, e.root, "home/f", 0o2755, 0))
	if m := e.stat("home/f").Mode & 0o7777; m != 0o755 {
		t.Errorf("mode %o, want 0755", m)
	}

	wantErr(t, "chown uid by owner", e.ns.Chown(u, e.root, "home/f", 1001, vfs.NoChange, 0), unix.EPERM)
	wantErr(t, "chgrp to foreign group", e.ns.Chown(u, e.root, "home/f", vfs.NoChange, 99, 0), unix.EPERM)
	wantErr(t, "chgrp to own group", e.ns.Chown(u, e.root, "home/f", vfs.NoChange, 50, 0), 0)
	wantErr(t, "chgrp by other", e.ns.Chown(other, e.root, "home/f", vfs.NoChange, 1001, 0), unix.EPERM)
	wantErr(t, "chown to self by owner", e.ns.Chown(u, e.root, "home/f", 1000, 1000, 0), 0)
	if st := e.stat("home/f"); st.UID != 1000 || st.GID != 1000 {
		t.Errorf("owner %d:%d", st.UID, st.GID)
	}
	// Chown clears set-user-ID (and set-group-ID with group execute).
	e.must(e.ns.Chmod(e.ctx, e.root, "home/f", 0o6755, 0))
	e.must(e.ns.Chown(e.ctx, e.root, "home/f", 0, 0, 0))
	if m := e.stat("home/f").Mode & 0o7777; m != 0o755 {
		t.Errorf("mode after chown %o, want 0755", m)
	}
	// Lchown changes the link.
	e.must(e.ns.Chown(e.ctx, e.root, "link", 5, 6, unix.AT_SYMLINK_NOFOLLOW))
	if st := e.stat("link"); st.UID != 5 || st.GID != 6 {
		t.Errorf("lchown: %d:%d", st.UID, st.GID)
	}
	if st := e.stat("d"); st.UID != 0 {
		t.Errorf("lchown followed the link")
	}

	now := vfs.Timespec{Nsec: unix.UTIME_NOW}
	omit := vfs.Timespec{Nsec: unix.UTIME_OMIT}
	t1 := vfs.Timespec{Sec: 1000, Nsec: 5}
	e.must(e.ns.Chown(e.ctx, e.root, "home/f", 1000, 1000, 0))
	e.must(e.ns.Chmod(e.ctx, e.root, "home/f", 0o666, 0))
	wantErr(t, "utimes explicit by other", e.ns.Utimes(other, e.root, "home/f", t1, t1, 0), unix.EPERM)
	wantErr(t, "utimes now by other with write", e.ns.Utimes(other, e.root, "home/f", now, now, 0), 0)
	e.must(e.ns.Chmod(e.ctx, e.root, "home/f", 0o644, 0))
	wantErr(t, "utimes now by other without write", e.ns.Utimes(other, e.root, "home/f", now, now, 0), unix.EACCES)
	wantErr(t, "utimes bad nsec", e.ns.Utimes(u, e.root, "home/f", vfs.Timespec{Nsec: 1e9}, omit, 0), unix.EINVAL)
	wantErr(t, "utimes omit both", e.ns.Utimes(other, e.root, "nope", omit, omit, 0), 0)
	e.must(e.ns.Utimes(u, e.root, "home/f", t1, omit, 0))
	st := e.stat("home/f")
	if st.Atime != t1 || st.Mtime == t1 {
		t.Errorf("times: %+v", st)
	}
	e.must(e.ns.Utimes(u, e.root, "home/f", omit, t1, 0))
	if st := e.stat("home/f"); st.Mtime != t1 || st.Atime != t1 {
		t.Errorf("times: %+v", st)
	}
}

func TestTruncateAccessStatfs(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000)
	wantErr(t, "truncate dir", e.ns.Truncate(e.ctx, e.root, "d", 0), unix.EISDIR)
	wantErr(t, "truncate fifo", e.ns.Truncate(e.ctx, e.root, "fifo", 0), unix.EINVAL)
	wantErr(t, "truncate negative", e.ns.Truncate(e.ctx, e.root, "file", -1), unix.EINVAL)
	wantErr(t, "truncate ro", e.ns.Truncate(e.ctx, e.root, "ro/f", 0), unix.EROFS)
	wantErr(t, "truncate no write", e.ns.Truncate(u, e.root, "file", 0), unix.EACCES)
	e.must(e.ns.Truncate(e.ctx, e.root, "file", 2))
	if got := e.read("file"); got != "fi" {
		t.Errorf("file = %q", got)
	}
	e.must(e.ns.Truncate(e.ctx, e.root, "file", 5))
	if got := e.read("file"); got != "fi\x00\x00\x00" {
		t.Errorf("file = %q", got)
	}

	tests := []struct {
		path  string
		mode  uint32
		flags int
		ctx   *vfs.Ctx
		want  syscall.Errno
	}{
		{"file", unix.F_OK, 0, u, 0},
		{"nope", unix.F_OK, 0, u, unix.ENOENT},
		{"file", unix.R_OK, 0, u, 0},
		{"file", unix.W_OK, 0, u, unix.EACCES},
		{"file", unix.X_OK, 0, u, unix.EACCES},
		{"file", unix.X_OK, 0, nil, unix.EACCES}, // root needs an x bit
		{"d", unix.X_OK, 0, nil, 0},
		{"file", unix.W_OK, 0, nil, 0},
		{"ro/f", unix.W_OK, 0, nil, unix.EROFS},
		{"priv/secret", unix.F_OK, 0, u, unix.EACCES},
		{"dangling", unix.F_OK, 0, u, unix.ENOENT},
		{"dangling", unix.F_OK, unix.AT_SYMLINK_NOFOLLOW, u, 0},
		{"file", 8, 0, u, unix.EINVAL},
		{"file", 0, 1 << 20, u, unix.EINVAL},
	}
	for _, tt := range tests {
		ctx := tt.ctx
		if ctx == nil {
			ctx = e.ctx
		}
		wantErr(t, "access "+tt.path, e.ns.Access(ctx, e.root, tt.path, tt.mode, tt.flags), tt.want)
	}

	sf, err := e.ns.Statfs(e.ctx, e.root, "ro/f")
	e.must(err)
	if sf.Type != memfs.Magic || sf.Flags&unix.ST_RDONLY == 0 || sf.Namelen != 255 || sf.Bsize != 4096 {
		t.Errorf("statfs %+v", sf)
	}
	sf, err = e.ns.Statfs(e.ctx, e.root, "file")
	e.must(err)
	if sf.Flags&unix.ST_RDONLY != 0 {
		t.Errorf("statfs of rw mount %+v", sf)
	}
}

func TestNewFileOwnership(t *testing.T) {
	e := newEnv(t)
	e.mkdir("sgid", 0o2777)
	e.must(e.ns.Chown(e.ctx, e.root, "sgid", 0, 42, 0))
	u := user(1000, 1000)
	e.must(e.ns.Mkdir(u, e.root, "sgid/sub", 0o755))
	f, err := e.ns.Open(u, e.root, "sgid/file", unix.O_CREAT|unix.O_WRONLY, 0o2755)
	e.must(err)
	f.Close()
	if st := e.stat("sgid/sub"); st.GID != 42 || st.Mode&unix.S_ISGID == 0 || st.UID != 1000 {
		t.Errorf("sub: %+v", st)
	}
	if st := e.stat("sgid/file"); st.GID != 42 || st.Mode&unix.S_ISGID != 0 {
		t.Errorf("file: uid %d gid %d mode %o", st.UID, st.GID, st.Mode)
	}
	// A file just created with no permissions can still be opened for
	// writing by its creator through that open.
	f, err = e.ns.Open(u, e.root, "sgid/locked", unix.O_CREAT|unix.O_RDWR, 0)
	e.must(err)
	if _, err := f.Write([]byte("x")); err != nil {
		t.Error(err)
	}
	f.Close()
	_, err = e.ns.Open(u, e.root, "sgid/locked", unix.O_RDWR, 0)
	wantErr(t, "reopen mode 0", err, unix.EACCES)
}

func TestOpenExec(t *testing.T) {
	e := fixture(t)
	u := user(1000, 1000)
	e.write("prog", "\x7fELF")
	e.must(e.ns.Chmod(e.ctx, e.root, "prog", 0o111, 0))
	f, err := e.ns.OpenExec(u, e.root, "prog")
	e.must(err)
	buf := make([]byte, 4)
	if n, _ := f.Pread(buf, 0); n != 4 {
		t.Errorf("read %d", n)
	}
	f.Close()
	_, err = e.ns.Open(u, e.root, "prog", unix.O_RDONLY, 0)
	wantErr(t, "open exec-only for reading", err, unix.EACCES)
	_, err = e.ns.OpenExec(u, e.root, "file")
	wantErr(t, "exec non-executable", err, unix.EACCES)
	_, err = e.ns.OpenExec(e.ctx, e.root, "file")
	wantErr(t, "root exec non-executable", err, unix.EACCES)
	_, err = e.ns.OpenExec(e.ctx, e.root, "d")
	wantErr(t, "exec dir", err, unix.EACCES)
}
