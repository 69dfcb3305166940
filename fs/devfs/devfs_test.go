package devfs_test

import (
	"bytes"
	"strings"
	"testing"

	"dunix/fs/devfs"
	"dunix/fs/memfs"
	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

// setup mounts a /dev tree on a memfs root with a registry whose random
// source is a repeating pattern.
func setup(t *testing.T) (*vfs.Namespace, *vfs.Ctx, *devfs.Registry) {
	t.Helper()
	reg := devfs.NewRegistry(strings.NewReader(strings.Repeat("0123456789", 1000)))
	ns := vfs.NewNamespace(memfs.New(nil), vfs.Options{Devices: reg})
	ctx := vfs.RootCtx()
	if err := ns.Mkdir(ctx, ns.Root(), "dev", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ns.Mount(ctx, ns.Root(), "dev", devfs.New(), vfs.MountOptions{Source: "devtmpfs", Type: "devtmpfs"}); err != nil {
		t.Fatal(err)
	}
	return ns, ctx, reg
}

func open(t *testing.T, ns *vfs.Namespace, ctx *vfs.Ctx, p string, flags int) *vfs.File {
	t.Helper()
	f, err := ns.Open(ctx, ns.Root(), p, flags, 0)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	return f
}

func TestMemDevices(t *testing.T) {
	ns, ctx, _ := setup(t)
	u := &vfs.Ctx{Cred: vfs.Cred{UID: 1000, GID: 1000}}
	buf := bytes.Repeat([]byte{0xff}, 16)

	null := open(t, ns, u, "/dev/null", unix.O_RDWR)
	if n, err := null.Read(buf); n != 0 || err != nil {
		t.Errorf("read null %d %v", n, err)
	}
	if n, err := null.Write(buf); n != 16 || err != nil {
		t.Errorf("write null %d %v", n, err)
	}
	if off, err := null.Seek(100, 0); off != 0 || err != nil {
		t.Errorf("seek null %d %v", off, err)
	}
	if null.Pollable() || null.Readiness(waiter.EventIn|waiter.EventOut) != waiter.EventIn|waiter.EventOut {
		t.Errorf("null readiness")
	}
	st, _ := null.Stat()
	if st.Type() != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) || st.Mode&0o777 != 0o666 {
		t.Errorf("null stat %+v", st)
	}
	null.Close()

	zero := open(t, ns, u, "/dev/zero", unix.O_RDWR)
	if n, err := zero.Read(buf); n != 16 || err != nil || !bytes.Equal(buf, make([]byte, 16)) {
		t.Errorf("read zero %d %v %v", n, err, buf)
	}
	buf[3] = 1
	if n, err := zero.Pread(buf, 12345); n != 16 || err != nil || buf[3] != 0 {
		t.Errorf("pread zero %d %v", n, err)
	}
	if n, err := zero.Write(buf); n != 16 || err != nil {
		t.Errorf("write zero %d %v", n, err)
	}
	zero.Close()

	full := open(t, ns, u, "/dev/full", unix.O_RDWR)
	if _, err := full.Write(buf); err != unix.ENOSPC {
		t.Errorf("write full: %v", err)
	}
	if n, err := full.Read(buf); n != 16 || err != nil {
		t.Errorf("read full %d %v", n, err)
	}
	full.Close()

	for _, p := range []string{"/dev/random", "/dev/urandom"} {
		r := open(t, ns, u, p, unix.O_RDONLY)
		b := make([]byte, 12)
		if n, err := r.Read(b); n != 12 || err != nil || len(strings.Trim(string(b), "0123456789")) != 0 {
			t.Errorf("read %s: %d %v %q", p, n, err, b)
		}
		r.Close()
	}

	if _, err := ns.Open(u, ns.Root(), "/dev/console", unix.O_RDWR, 0); err != unix.EACCES {
		t.Errorf("console as user: %v", err)
	}
	if _, err := ns.Open(ctx, ns.Root(), "/dev/console", unix.O_RDWR, 0); err != unix.ENXIO {
		t.Errorf("console without a driver: %v", err)
	}
	if tgt, err := ns.Readlink(ctx, ns.Root(), "/dev/stdout"); err != nil || tgt != "/proc/self/fd/1" {
		t.Errorf("stdout link %q %v", tgt, err)
	}
	if st, err := ns.Stat(ctx, ns.Root(), "/dev/shm", 0); err != nil || st.Mode != unix.S_IFDIR|0o1777 {
		t.Errorf("shm %+v %v", st, err)
	}
}

// console is a fake terminal device.
type console struct {
	out   *bytes.Buffer
	flags int
	task  any
}

func (c *console) Read(*vfs.File, []byte, int64) (int, error) { return 0, unix.EAGAIN }
func (c *console) Write(_ *vfs.File, p []byte, _ int64) (int, error) {
	return c.out.Write(p)
}
func (c *console) Release()     {}
func (c *console) Stream() bool { return true }

func TestRegister(t *testing.T) {
	ns, ctx, reg := setup(t)
	var out bytes.Buffer
	var got *console
	dev := devfs.OpenFunc(func(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) {
		got = &console{out: &out, flags: flags, task: ctx.Task}
		return got, nil
	})
	if err := reg.Register(unix.S_IFCHR, devfs.TTYAuxMajor, devfs.ConsoleMinor, dev); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(unix.S_IFCHR, devfs.TTYAuxMajor, devfs.ConsoleMinor, dev); err != unix.EBUSY {
		t.Errorf("second registration: %v", err)
	}
	if err := reg.Register(unix.S_IFDIR, 1, 1, dev); err != unix.EINVAL {
		t.Errorf("bad type: %v", err)
	}
	c := &vfs.Ctx{Task: "init"}
	f, err := ns.Open(c, ns.Root(), "/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hello"))
	if out.String() != "hello" || got.task != "init" || got.flags&unix.O_NOCTTY == 0 {
		t.Errorf("console: %q %+v", out.String(), got)
	}
	if _, err := f.Pread(nil, 0); err != unix.ESPIPE {
		t.Errorf("pread on a stream device: %v", err)
	}
	// A device node made anywhere reaches the same device.
	if err := ns.Mknod(ctx, ns.Root(), "/myconsole", unix.S_IFCHR|0o600, unix.Mkdev(5, 1)); err != nil {
		t.Fatal(err)
	}
	g, err := ns.Open(ctx, ns.Root(), "/myconsole", unix.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	g.Write([]byte(" again"))
	if out.String() != "hello again" {
		t.Errorf("console: %q", out.String())
	}
	// A block node with the same numbers is another device.
	ns.Mknod(ctx, ns.Root(), "/blk", unix.S_IFBLK|0o600, unix.Mkdev(5, 1))
	if _, err := ns.Open(ctx, ns.Root(), "/blk", unix.O_RDWR, 0); err != unix.ENXIO {
		t.Errorf("block device: %v", err)
	}
	if !reg.Unregister(unix.S_IFCHR, 5, 1) || reg.Unregister(unix.S_IFCHR, 5, 1) {
		t.Errorf("unregister")
	}
	if _, err := ns.Open(ctx, ns.Root(), "/dev/console", unix.O_RDWR, 0); err != unix.ENXIO {
		t.Errorf("after unregister: %v", err)
	}
	g.Write([]byte("!"))
	if out.String() != "hello again!" {
		t.Errorf("open file after unregister: %q", out.String())
	}
	f.Close()
	g.Close()
	// MakeNodes leaves existing names alone.
	if err := devfs.MakeNodes(ns, ctx, ns.Root(), []devfs.Node{{Name: "blk", Mode: unix.S_IFCHR | 0o666, Major: 1, Minor: 3}}); err != nil {
		t.Error(err)
	}
}
