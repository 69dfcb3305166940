package vfs_test

import (
	"fmt"

	"dunix/fs/devfs"
	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

// Example shows how a kernel wires the file systems together and how the
// system-call layer uses them.
func Example() {
	// Boot: a memfs root, the device registry, the FIFO table, /dev.
	devs := devfs.NewRegistry(nil)
	root := memfs.New(nil)
	ns := vfs.NewNamespace(root, vfs.Options{
		Devices: devs,
		FIFOs:   pipe.NewFIFOTable(),
		Root:    vfs.MountOptions{Source: "rootfs", Type: "rootfs"},
	})
	kctx := vfs.RootCtx()
	ns.Mkdir(kctx, ns.Root(), "/dev", 0o755)
	ns.Mount(kctx, ns.Root(), "/dev", devfs.New(), vfs.MountOptions{Source: "devtmpfs", Type: "devtmpfs"})

	// A process: credentials, root and current directory.
	ctx := &vfs.Ctx{Cred: vfs.Cred{UID: 0, GID: 0}}
	cwd := ns.Root()

	// openat(AT_FDCWD, "hello", O_WRONLY|O_CREAT|O_TRUNC, 0666 &^ umask)
	f, err := ns.Open(ctx, cwd, "hello", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o666&^0o022)
	if err != nil {
		fmt.Println("open:", err) // the syscall returns -vfs.ToErrno(err)
		return
	}
	f.Write([]byte("hello, world\n"))
	st, _ := f.Stat()
	fmt.Printf("size %d mode %o path %s\n", st.Size, st.Mode, f.Path(ctx))
	f.Close() // the last reference releases the description

	// stat of a missing file: a Linux errno.
	_, err = ns.Stat(ctx, cwd, "missing", 0)
	fmt.Println(err == unix.ENOENT, vfs.ToErrno(err))

	// pipe2 and a blocking read: try, and on EAGAIN wait for readiness.
	r, w, _ := pipe.New(&ctx.Cred, 0)
	go func() {
		w.Write([]byte("through the pipe"))
		w.Close()
	}()
	buf := make([]byte, 64)
	cancel := make(chan struct{}) // closed by a signal
	n, err := waiter.Retry(r, waiter.ReadableEvents, cancel, func() (int, error) { return r.Read(buf) })
	fmt.Printf("%q %v\n", buf[:n], err)
	r.Close()

	// getdents64 on /dev.
	d, _ := ns.Open(ctx, cwd, "/dev", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	count := 0
	d.Readdir(ctx, func(e vfs.Dirent) bool { count++; return true })
	d.Close()
	fmt.Println(count, "entries in /dev")

	// /proc/mounts
	for _, m := range ns.Mounts(ctx) {
		fmt.Println(m.String())
	}
	// Output:
	// size 13 mode 100644 path /hello
	// true no such file or directory
	// "through the pipe" <nil>
	// 16 entries in /dev
	// rootfs / rootfs rw 0 0
	// devtmpfs /dev devtmpfs rw 0 0
}
