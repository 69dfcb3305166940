package vfs_test

import (
	"errors"
	"io"
	"syscall"
	"testing"

	"dunix/fs/devfs"
	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// env is a namespace with a memfs root, the device registry and a FIFO
// table, and helpers that fail the test on error.
type env struct {
	t     testing.TB
	fs    *memfs.FS
	ns    *vfs.Namespace
	ctx   *vfs.Ctx // root
	root  vfs.Loc
	fifos *pipe.FIFOTable
	devs  *devfs.Registry
}

func newEnv(t testing.TB) *env {
	fs := memfs.New(nil)
	e := &env{t: t, fs: fs, ctx: vfs.RootCtx(), fifos: pipe.NewFIFOTable(), devs: devfs.NewRegistry(nil)}
	e.ns = vfs.NewNamespace(fs, vfs.Options{Devices: e.devs, FIFOs: e.fifos, Root: vfs.MountOptions{Source: "rootfs", Type: "rootfs"}})
	e.root = e.ns.Root()
	return e
}

// user returns a non-root context.
func user(uid, gid uint32, groups ...uint32) *vfs.Ctx {
	return &vfs.Ctx{Cred: vfs.Cred{UID: uid, GID: gid, Groups: groups}}
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mkdir(path string, mode uint32) {
	e.t.Helper()
	e.must(e.ns.Mkdir(e.ctx, e.root, path, mode))
	e.must(e.ns.Chmod(e.ctx, e.root, path, mode, 0))
}

func (e *env) write(path, data string) {
	e.t.Helper()
	f, err := e.ns.Open(e.ctx, e.root, path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	e.must(err)
	defer f.Close()
	n, err := f.Write([]byte(data))
	e.must(err)
	if n != len(data) {
		e.t.Fatalf("short write %d/%d", n, len(data))
	}
}

func (e *env) read(path string) string {
	e.t.Helper()
	f, err := e.ns.Open(e.ctx, e.root, path, unix.O_RDONLY, 0)
	e.must(err)
	defer f.Close()
	return readAll(e.t, f)
}

func readAll(t testing.TB, f *vfs.File) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

func (e *env) stat(path string) vfs.Stat {
	e.t.Helper()
	st, err := e.ns.Stat(e.ctx, e.root, path, unix.AT_SYMLINK_NOFOLLOW)
	e.must(err)
	return st
}

func (e *env) symlink(target, path string) {
	e.t.Helper()
	e.must(e.ns.Symlink(e.ctx, target, e.root, path))
}

// wantErr fails unless err is want (0 meaning nil).
func wantErr(t testing.TB, what string, err error, want syscall.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Errorf("%s: got %v, want success", what, err)
		}
		return
	}
	var got syscall.Errno
	if !errors.As(err, &got) || got != want {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

// names lists a directory through a File.
func names(t testing.TB, f *vfs.File) []string {
	t.Helper()
	var out []string
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	err := f.Readdir(nil, func(d vfs.Dirent) bool {
		out = append(out, d.Name)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
