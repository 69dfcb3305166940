package memfs_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"dunix/fs/cpio"
	"dunix/fs/memfs"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// want describes one extracted file.
type want struct {
	mode     uint32
	uid, gid uint32
	mtime    int64 // -1: do not check
	data     string
	rdev     uint64
	nlink    uint32 // 0: do not check
}

// check compares the tree of n with w.
func check(t *testing.T, n *vfs.Namespace, w map[string]want) {
	t.Helper()
	ctx, root := vfs.RootCtx(), n.Root()
	for p, x := range w {
		st, err := n.Stat(ctx, root, p, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if st.Mode != x.mode || st.UID != x.uid || st.GID != x.gid || st.Rdev != x.rdev {
			t.Errorf("%s: mode %o uid %d gid %d rdev %#x; want %o %d %d %#x", p, st.Mode, st.UID, st.GID, st.Rdev, x.mode, x.uid, x.gid, x.rdev)
		}
		if x.mtime >= 0 && (st.Mtime != vfs.Timespec{Sec: x.mtime}) {
			t.Errorf("%s: mtime %+v, want %d", p, st.Mtime, x.mtime)
		}
		if x.nlink != 0 && st.Nlink != x.nlink {
			t.Errorf("%s: nlink %d, want %d", p, st.Nlink, x.nlink)
		}
		switch st.Type() {
		case unix.S_IFREG:
			f, err := n.Open(ctx, root, p, unix.O_RDONLY, 0)
			must(t, err)
			var b bytes.Buffer
			buf := make([]byte, 1<<16)
			for {
				k, err := f.Read(buf)
				must(t, err)
				if k == 0 {
					break
				}
				b.Write(buf[:k])
			}
			f.Close()
			if b.String() != x.data {
				t.Errorf("%s: %d bytes %q, want %d bytes", p, b.Len(), trunc(b.String()), len(x.data))
			}
		case unix.S_IFLNK:
			tgt, err := n.Readlink(ctx, root, p)
			if err != nil || tgt != x.data {
				t.Errorf("%s: target %q %v, want %q", p, tgt, err, x.data)
			}
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestExtractRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	a := func(perm, uid, gid, mtime uint32) cpio.Attr {
		return cpio.Attr{Perm: perm, UID: uid, GID: gid, MTime: mtime}
	}
	sparse := strings.Repeat("\x00", 3*4096+100) + "tail" + strings.Repeat("\x00", 5000)
	must(t, w.AddDir(".", a(0o700, 0, 0, 7)))
	must(t, w.AddDir("etc", a(0o755, 0, 0, 10)))
	must(t, w.AddFile("etc/passwd", a(0o644, 0, 0, 20), []byte("root:x:0:0::/root:/bin/sh\n")))
	must(t, w.AddFile("deep/nested/file", a(0o600, 1000, 100, 30), []byte("deep")))
	must(t, w.AddDir("bin", a(0o755, 0, 0, 40)))
	must(t, w.AddFile("bin/busybox", a(0o4755, 0, 0, 50), []byte("\x7fELF")))
	must(t, w.AddSymlink("bin/sh", "busybox", a(0, 0, 0, 60)))
	must(t, w.AddLinkedFile([]string{"h1", "bin/h2", "h3"}, a(0o640, 5, 6, 70), []byte("linked")))
	must(t, w.AddCharDev("dev/console", a(0o600, 0, 5, 80), 5, 1))
	must(t, w.AddBlockDev("dev/sda", a(0o660, 0, 6, 90), 8, 0))
	must(t, w.WriteHeader(&cpio.Header{Name: "run/fifo", Mode: cpio.TypeFifo | 0o644, NLink: 1, MTime: 100}))
	must(t, w.WriteHeader(&cpio.Header{Name: "run/sock", Mode: cpio.TypeSocket | 0o755, NLink: 1, MTime: 110}))
	must(t, w.AddFile("sparse", a(0o644, 0, 0, 120), []byte(sparse)))
	must(t, w.AddDir("usr/lib", a(0o755, 0, 0, 130)))
	must(t, w.AddSymlink("lib", "/usr/lib", a(0, 0, 0, 140)))
	must(t, w.AddFile("lib/libc.so", a(0o755, 0, 0, 150), []byte("libc"))) // through the absolute link
	must(t, w.AddFile("../escape", a(0o644, 0, 0, 160), []byte("caught")))
	must(t, w.AddFile("twice", a(0o644, 0, 0, 170), []byte("first")))
	must(t, w.AddFile("twice", a(0o600, 0, 0, 171), []byte("second")))
	must(t, w.AddDir("was-dir", a(0o755, 0, 0, 180)))
	must(t, w.AddFile("was-dir", a(0o644, 0, 0, 181), []byte("now a file")))
	must(t, w.AddFile("was-file", a(0o644, 0, 0, 190), []byte("file")))
	must(t, w.AddDir("was-file", a(0o711, 0, 0, 191)))
	must(t, w.AddFile("empty", a(0, 0, 0, 200), nil))
	must(t, w.Close())

	fs := memfs.New(nil)
	must(t, fs.LoadCPIO(bytes.NewReader(buf.Bytes())))
	n := vfs.NewNamespace(fs, vfs.Options{})
	check(t, n, map[string]want{
		".":                {unix.S_IFDIR | 0o700, 0, 0, 7, "", 0, 0},
		"etc":              {unix.S_IFDIR | 0o755, 0, 0, 10, "", 0, 2},
		"etc/passwd":       {unix.S_IFREG | 0o644, 0, 0, 20, "root:x:0:0::/root:/bin/sh\n", 0, 1},
		"deep":             {unix.S_IFDIR | 0o755, 0, 0, -1, "", 0, 3},
		"deep/nested":      {unix.S_IFDIR | 0o755, 0, 0, -1, "", 0, 2},
		"deep/nested/file": {unix.S_IFREG | 0o600, 1000, 100, 30, "deep", 0, 1},
		"bin":              {unix.S_IFDIR | 0o755, 0, 0, 40, "", 0, 2},
		"bin/busybox":      {unix.S_IFREG | 0o4755, 0, 0, 50, "\x7fELF", 0, 1},
		"bin/sh":           {unix.S_IFLNK | 0o777, 0, 0, 60, "busybox", 0, 1},
		"h1":               {unix.S_IFREG | 0o640, 5, 6, 70, "linked", 0, 3},
		"bin/h2":           {unix.S_IFREG | 0o640, 5, 6, 70, "linked", 0, 3},
		"h3":               {unix.S_IFREG | 0o640, 5, 6, 70, "linked", 0, 3},
		"dev/console":      {unix.S_IFCHR | 0o600, 0, 5, 80, "", unix.Mkdev(5, 1), 1},
		"dev/sda":          {unix.S_IFBLK | 0o660, 0, 6, 90, "", unix.Mkdev(8, 0), 1},
		"run/fifo":         {unix.S_IFIFO | 0o644, 0, 0, 100, "", 0, 1},
		"run/sock":         {unix.S_IFSOCK | 0o755, 0, 0, 110, "", 0, 1},
		"sparse":           {unix.S_IFREG | 0o644, 0, 0, 120, sparse, 0, 1},
		"usr/lib":          {unix.S_IFDIR | 0o755, 0, 0, 130, "", 0, 2},
		"usr/lib/libc.so":  {unix.S_IFREG | 0o755, 0, 0, 150, "libc", 0, 1},
		"lib":              {unix.S_IFLNK | 0o777, 0, 0, 140, "/usr/lib", 0, 1},
		"escape":           {unix.S_IFREG | 0o644, 0, 0, 160, "caught", 0, 1},
		"twice":            {unix.S_IFREG | 0o600, 0, 0, 171, "second", 0, 1},
		"was-dir":          {unix.S_IFREG | 0o644, 0, 0, 181, "now a file", 0, 1},
		"was-file":         {unix.S_IFDIR | 0o711, 0, 0, 191, "", 0, 2},
		"empty":            {unix.S_IFREG, 0, 0, 200, "", 0, 1},
	})
	ino := func(p string) uint64 {
		st, err := n.Stat(vfs.RootCtx(), n.Root(), p, 0)
		must(t, err)
		return st.Ino
	}
	if ino("h1") != ino("bin/h2") || ino("h1") != ino("h3") {
		t.Errorf("hard links are separate inodes")
	}
	if st, _ := n.Stat(vfs.RootCtx(), n.Root(), "sparse", 0); st.Blocks != 8 {
		t.Errorf("sparse file has %d blocks, want 8 (one page with data)", st.Blocks)
	}
}

func TestExtractGNU(t *testing.T) {
	data, err := os.ReadFile("../cpio/testdata/gnu-newc.cpio")
	must(t, err)
	fs := memfs.New(nil)
	must(t, fs.LoadCPIO(bytes.NewReader(data)))
	n := vfs.NewNamespace(fs, vfs.Options{})
	check(t, n, map[string]want{
		"dir":           {unix.S_IFDIR | 0o755, 0, 0, 0, "", 0, 2},
		"dir/hello.txt": {unix.S_IFREG | 0o644, 1000, 100, 1700000000, "hello\n", 0, 1},
		"link":          {unix.S_IFLNK | 0o777, 0, 0, 0, "dir/hello.txt", 0, 1},
		"dev/console":   {unix.S_IFCHR | 0o600, 0, 0, 0, "", unix.Mkdev(5, 1), 1},
		"dev/sda":       {unix.S_IFBLK | 0o660, 0, 6, 0, "", unix.Mkdev(8, 0), 1},
		"fifo":          {unix.S_IFIFO | 0o644, 0, 0, 0, "", 0, 1},
		"a":             {unix.S_IFREG | 0o640, 0, 0, 0, "abc", 0, 2},
		"b":             {unix.S_IFREG | 0o640, 0, 0, 0, "abc", 0, 2},
		"e":             {unix.S_IFREG | 0o600, 0, 0, 0, "", 0, 1},
		"setuid":        {unix.S_IFREG | 0o4755, 0, 0, 1234567890, "#!", 0, 1},
	})
}

func TestExtractMalformed(t *testing.T) {
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	must(t, w.AddFile("one", cpio.Attr{Perm: 0o644}, []byte("1")))
	must(t, w.AddDir("two", cpio.Attr{Perm: 0o755}))
	must(t, w.AddFile("two/three", cpio.Attr{Perm: 0o644}, bytes.Repeat([]byte("3"), 1000)))
	must(t, w.Close())
	whole := buf.Bytes()
	cut := bytes.Index(whole, []byte("333")) + 500
	for _, bad := range [][]byte{whole[:cut], whole[:bytes.LastIndex(whole, []byte("070701"))]} {
		fs := memfs.New(nil)
		err := fs.LoadCPIO(bytes.NewReader(bad))
		if err == nil {
			t.Fatalf("truncated archive extracted without error")
		}
		n := vfs.NewNamespace(fs, vfs.Options{})
		check(t, n, map[string]want{
			"one": {unix.S_IFREG | 0o644, 0, 0, 0, "1", 0, 1},
			"two": {unix.S_IFDIR | 0o755, 0, 0, -1, "", 0, 2},
		})
	}
	// Garbage.
	fs := memfs.New(nil)
	if err := fs.LoadCPIO(strings.NewReader("not an archive at all, not at all......................................................................................")); err == nil {
		t.Error("garbage accepted")
	}
	// A file in the way of a directory path.
	buf.Reset()
	w = cpio.NewWriter(&buf)
	must(t, w.AddFile("f", cpio.Attr{Perm: 0o644}, []byte("f")))
	must(t, w.AddFile("f/x", cpio.Attr{Perm: 0o644}, []byte("x")))
	must(t, w.Close())
	if err := memfs.New(nil).LoadCPIO(bytes.NewReader(buf.Bytes())); !isErrno(err, unix.ENOTDIR) {
		t.Errorf("file as parent: %v", err)
	}
	_ = io.EOF
}

// FuzzExtract extracts arbitrary bytes as a cpio archive into a small
// memfs: it must never panic nor hang, and the tree must stay consistent
// (every directory has a path, every entry can be stat'ed).
func FuzzExtract(f *testing.F) {
	golden, err := os.ReadFile("../cpio/testdata/gnu-newc.cpio")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	w.AddDir("d", cpio.Attr{Perm: 0o755})
	w.AddSymlink("l", "/d/../..", cpio.Attr{})
	w.AddFile("l/x", cpio.Attr{Perm: 0o644}, []byte("x"))
	w.AddLinkedFile([]string{"a", "d/b"}, cpio.Attr{Perm: 0o600}, []byte("ab"))
	w.AddSymlink("d/loop", "loop", cpio.Attr{})
	w.AddFile("d/loop/y", cpio.Attr{}, nil)
	w.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := memfs.New(&memfs.Options{MaxBytes: 1 << 20, MaxInodes: 1000})
		fs.LoadCPIO(bytes.NewReader(data))
		n := vfs.NewNamespace(fs, vfs.Options{})
		ctx := vfs.RootCtx()
		var walk func(l vfs.Loc, depth int)
		walk = func(l vfs.Loc, depth int) {
			if depth > 100 {
				t.Fatalf("tree too deep")
			}
			p, err := n.Path(ctx, l)
			if err != nil || !strings.HasPrefix(p, "/") {
				t.Fatalf("path %q: %v", p, err)
			}
			d, err := n.Open(ctx, l, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				t.Fatalf("open %s: %v", p, err)
			}
			var ents []string
			d.Readdir(nil, func(e vfs.Dirent) bool { ents = append(ents, e.Name); return true })
			d.Close()
			for _, name := range ents[2:] {
				c, err := n.Lookup(ctx, l, name, unix.AT_SYMLINK_NOFOLLOW)
				if err != nil {
					t.Fatalf("%s/%s listed but: %v", p, name, err)
				}
				if _, ok := c.Inode().(vfs.DirInode); ok {
					walk(c, depth+1)
				}
			}
		}
		walk(n.Root(), 0)
	})
}
