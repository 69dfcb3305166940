package memfs_test

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"dunix/fs/memfs"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// ns returns a namespace over fs and the root context.
func ns(fs *memfs.FS) (*vfs.Namespace, *vfs.Ctx, vfs.Loc) {
	n := vfs.NewNamespace(fs, vfs.Options{})
	return n, vfs.RootCtx(), n.Root()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isErrno(err error, want syscall.Errno) bool {
	var e syscall.Errno
	return errors.As(err, &e) && e == want
}

func TestSparseFile(t *testing.T) {
	fs := memfs.New(nil)
	n, ctx, root := ns(fs)
	f, err := n.Open(ctx, root, "big", unix.O_RDWR|unix.O_CREAT, 0o644)
	must(t, err)
	defer f.Close()
	// A terabyte of nothing costs nothing.
	must(t, f.Truncate(1<<40))
	st, _ := f.Stat()
	if st.Size != 1<<40 || st.Blocks != 0 {
		t.Errorf("after truncate: size %d blocks %d", st.Size, st.Blocks)
	}
	if _, err := f.Pwrite([]byte("end"), 1<<40-3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Pwrite([]byte("xy"), 4095); err != nil { // straddles two pages
		t.Fatal(err)
	}
	st, _ = f.Stat()
	if st.Blocks != 3*8 {
		t.Errorf("blocks %d, want 24", st.Blocks)
	}
	buf := make([]byte, 8192)
	k, _ := f.Pread(buf, 4090)
	want := make([]byte, 8192)
	want[5], want[6] = 'x', 'y'
	if k != 8192 || !bytes.Equal(buf, want) {
		t.Errorf("read across pages: %d %q", k, buf[:10])
	}
	k, _ = f.Pread(buf, 1<<40-5)
	if string(buf[:k]) != "\x00\x00end" {
		t.Errorf("tail %q", buf[:k])
	}
	sf, _ := fs.Statfs()
	if sf.Blocks-sf.Bfree != 3 {
		t.Errorf("used blocks %d", sf.Blocks-sf.Bfree)
	}
	// Shrinking frees pages and zeroes the cut page's tail.
	must(t, f.Truncate(4096))
	must(t, f.Truncate(8192))
	k, _ = f.Pread(buf, 0)
	if k != 8192 || !bytes.Equal(buf[:4095], make([]byte, 4095)) || !bytes.Equal(buf[4096:], make([]byte, 4096)) {
		t.Errorf("after shrink and grow")
	}
	if buf[4095] != 'x' || buf[4096] != 0 {
		t.Errorf("page boundary: %q", buf[4094:4098])
	}
	st, _ = f.Stat()
	if st.Blocks != 8 {
		t.Errorf("blocks after shrink %d", st.Blocks)
	}
	must(t, f.Truncate(4000))
	must(t, f.Truncate(4096))
	k, _ = f.Pread(buf[:200], 3990)
	if k != 106 || buf[5] != 0 {
		t.Errorf("zeroed tail: %d %q", k, buf[:10])
	}
}

func TestLimits(t *testing.T) {
	fs := memfs.New(&memfs.Options{MaxBytes: 3 * 4096, MaxInodes: 4})
	n, ctx, root := ns(fs)
	f, err := n.Open(ctx, root, "f", unix.O_RDWR|unix.O_CREAT, 0o644)
	must(t, err)
	defer f.Close()
	data := make([]byte, 5*4096)
	k, err := f.Write(data)
	if k != 3*4096 || err != nil {
		t.Errorf("write to a full fs: %d %v", k, err)
	}
	if _, err := f.Write(data); !isErrno(err, unix.ENOSPC) {
		t.Errorf("write when full: %v", err)
	}
	sf, _ := fs.Statfs()
	if sf.Bfree != 0 || sf.Blocks != 3 || sf.Files != 4 || sf.Ffree != 2 {
		t.Errorf("statfs %+v", sf)
	}
	must(t, n.Mkdir(ctx, root, "d", 0o755))
	must(t, n.Mkdir(ctx, root, "e", 0o755))
	if err := n.Mkdir(ctx, root, "g", 0o755); !isErrno(err, unix.ENOSPC) {
		t.Errorf("mkdir beyond inode limit: %v", err)
	}
	must(t, n.Rmdir(ctx, root, "e"))
	must(t, n.Mkdir(ctx, root, "g", 0o755))
	must(t, f.Truncate(0))
	if _, err := f.Write(data[:4096]); err != nil {
		t.Errorf("write after freeing: %v", err)
	}
}

func TestTimestamps(t *testing.T) {
	clock := vfs.Timespec{Sec: 100}
	fs := memfs.New(&memfs.Options{Clock: func() vfs.Timespec { return clock }})
	n, ctx, root := ns(fs)
	tick := func() { clock.Sec++ }
	stat := func(p string) vfs.Stat {
		st, err := n.Stat(ctx, root, p, unix.AT_SYMLINK_NOFOLLOW)
		must(t, err)
		return st
	}
	tick()
	f, err := n.Open(ctx, root, "f", unix.O_RDWR|unix.O_CREAT, 0o644)
	must(t, err)
	defer f.Close()
	st := stat("f")
	if st.Mtime.Sec != 101 || st.Ctime.Sec != 101 || st.Atime.Sec != 101 || st.Btime.Sec != 101 {
		t.Errorf("new file times %+v", st)
	}
	if d := stat("/"); d.Mtime.Sec != 101 || d.Ctime.Sec != 101 {
		t.Errorf("dir times after create %+v", d)
	}
	tick()
	f.Write([]byte("x"))
	if st := stat("f"); st.Mtime.Sec != 102 || st.Ctime.Sec != 102 || st.Atime.Sec != 101 {
		t.Errorf("after write %+v", st)
	}
	tick()
	must(t, n.Chmod(ctx, root, "f", 0o600, 0))
	if st := stat("f"); st.Mtime.Sec != 102 || st.Ctime.Sec != 103 {
		t.Errorf("after chmod %+v", st)
	}
	tick()
	must(t, n.Link(ctx, root, "f", root, "g", 0))
	if st := stat("f"); st.Ctime.Sec != 104 || st.Mtime.Sec != 102 {
		t.Errorf("after link %+v", st)
	}
	if d := stat("/"); d.Mtime.Sec != 104 {
		t.Errorf("dir after link %+v", d)
	}
	tick()
	buf := make([]byte, 1)
	f.Pread(buf, 0)
	if st := stat("f"); st.Atime.Sec != 101 {
		t.Errorf("atime changed by read (noatime) %+v", st)
	}
	must(t, n.Unlink(ctx, root, "g"))
	if st := stat("f"); st.Ctime.Sec != 105 {
		t.Errorf("after unlink of other name %+v", st)
	}
}

func TestDevFIFOSocketInodes(t *testing.T) {
	fs := memfs.New(nil)
	n, ctx, root := ns(fs)
	must(t, n.Mknod(ctx, root, "c", unix.S_IFCHR|0o620, unix.Mkdev(4, 64)))
	must(t, n.Mknod(ctx, root, "b", unix.S_IFBLK|0o660, unix.Mkdev(8, 1)))
	must(t, n.Mknod(ctx, root, "p", unix.S_IFIFO|0o644, 0))
	must(t, n.Mknod(ctx, root, "s", unix.S_IFSOCK|0o755, 0))
	must(t, n.Mknod(ctx, root, "r", 0o644, 0))
	for _, c := range []struct {
		name string
		mode uint32
		rdev uint64
	}{
		{"c", unix.S_IFCHR | 0o620, unix.Mkdev(4, 64)},
		{"b", unix.S_IFBLK | 0o660, unix.Mkdev(8, 1)},
		{"p", unix.S_IFIFO | 0o644, 0},
		{"s", unix.S_IFSOCK | 0o755, 0},
		{"r", unix.S_IFREG | 0o644, 0},
	} {
		st, err := n.Stat(ctx, root, c.name, 0)
		must(t, err)
		if st.Mode != c.mode || st.Rdev != c.rdev || st.Nlink != 1 || st.Dev != fs.Dev() {
			t.Errorf("%s: %+v", c.name, st)
		}
	}
	// Without a registry, device nodes do not open.
	if _, err := n.Open(ctx, root, "c", unix.O_RDWR, 0); !isErrno(err, unix.ENXIO) {
		t.Errorf("open device without registry: %v", err)
	}
}

func TestDirNames(t *testing.T) {
	fs := memfs.New(nil)
	d := fs.Root()
	c, err := d.Create("x", &vfs.CreateArgs{Mode: unix.S_IFDIR | 0o755})
	must(t, err)
	p, name, err := c.(vfs.DirNamer).Name()
	if err != nil || p != d || name != "x" {
		t.Errorf("Name: %v %q %v", p, name, err)
	}
	p, name, err = d.(vfs.DirNamer).Name()
	if err != nil || p != d || name != "" {
		t.Errorf("root Name: %v %q %v", p, name, err)
	}
	if up, _ := d.Lookup(nil, ".."); up != d {
		t.Errorf("root's parent")
	}
	if _, err := d.Create("bad", &vfs.CreateArgs{Mode: 0o170000}); !isErrno(err, unix.EINVAL) {
		t.Errorf("bad type: %v", err)
	}
	other := memfs.New(nil)
	f, err := other.Root().Create("f", &vfs.CreateArgs{Mode: unix.S_IFREG})
	must(t, err)
	if err := d.Link("f", f); !isErrno(err, unix.EXDEV) {
		t.Errorf("cross-fs link: %v", err)
	}
	if err := fs.Rename(d, "x", other.Root(), "x", 0, nil); !isErrno(err, unix.EXDEV) {
		t.Errorf("cross-fs rename: %v", err)
	}
}

func TestWriteClearsSetuid(t *testing.T) {
	fs := memfs.New(nil)
	n, ctx, root := ns(fs)
	f, err := n.Open(ctx, root, "prog", unix.O_CREAT|unix.O_WRONLY, 0o6777)
	must(t, err)
	f.Write([]byte("root keeps the bits"))
	f.Close()
	must(t, n.Chmod(ctx, root, "prog", 0o6777, 0))
	st, _ := n.Stat(ctx, root, "prog", 0)
	if st.Mode&0o7777 != 0o6777 {
		t.Fatalf("mode %o", st.Mode)
	}
	u := &vfs.Ctx{Cred: vfs.Cred{UID: 1000, GID: 1000}}
	f, err = n.Open(u, root, "prog", unix.O_WRONLY, 0)
	must(t, err)
	f.Write([]byte("user"))
	f.Close()
	st, _ = n.Stat(ctx, root, "prog", 0)
	if st.Mode&0o7777 != 0o777 {
		t.Errorf("mode after a user's write %o, want 0777", st.Mode&0o7777)
	}
}
