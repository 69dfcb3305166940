// Package userland starts a node's user space: it unpacks the archive the
// boot loader loaded (a newc cpio) into a memory file system as the root,
// mounts /dev (devfs, with the console as /dev/console and /dev/tty) and
// /proc, and runs the first process, whose exit powers the node off with
// its exit status (128+n when signal n killed it).
//
// The program to run comes from the archive's /etc/dunix/run (arguments
// separated by NUL bytes; `dunix run` writes it) or from the kernel
// command line (dunix.init=PATH); without either, /bin/sh. Extra
// environment comes from /etc/dunix/env (NUL-separated NAME=value).
package userland

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"dunix/fs/devfs"
	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/procfs"
	"dunix/fs/vfs"
	"dunix/kernel"
	"dunix/kernel/cmdline"
	"dunix/kernel/vdso"
	"dunix/proc"
	"dunix/proc/vm"
)

// Start runs user space; it returns false when the node was booted
// without a root archive.
func Start(flags cmdline.Flags) bool {
	archive := kernel.Initrd()
	if archive == nil {
		return false
	}
	if err := start(archive, flags); err != nil {
		fmt.Printf("dunix: %v\n", err)
		kernel.PowerOff(127)
	}
	return true
}

func start(archive []byte, flags cmdline.Flags) error {
	total, _ := memory()
	// File data lives in page frames of the pool that user memory comes
	// from, so that shared mappings of files map the files' own pages.
	pool := vm.NewPool(proc.Machine{})
	frames := proc.PoolFrames{Pool: pool}
	root := memfs.New(&memfs.Options{MaxBytes: int64(total / 2), Frames: frames}) // tmpfs's default: half the RAM
	if err := root.LoadCPIO(bytes.NewReader(archive)); err != nil {
		return fmt.Errorf("root archive: %w", err)
	}
	devices := devfs.NewRegistry(rand.Reader)
	ns := vfs.NewNamespace(root, vfs.Options{Devices: devices, FIFOs: pipe.NewFIFOTable(),
		Root: vfs.MountOptions{Source: "rootfs", Type: "rootfs"}})
	node := proc.NewNode(pool, ns)
	node.FSTypes = map[string]func(source, data string) (vfs.Filesystem, error){
		"tmpfs": func(string, string) (vfs.Filesystem, error) {
			return memfs.New(&memfs.Options{MaxBytes: int64(total / 2), Frames: frames}), nil
		},
		"devtmpfs": func(string, string) (vfs.Filesystem, error) { return devfs.New(), nil },
		"proc":     func(string, string) (vfs.Filesystem, error) { return procfs.New(node.ProcFS()), nil },
	}

	// The console: a terminal on the kernel's console port.
	console := node.NewTerminal(kernel.ConsoleWriter{})
	if err := devices.Register(unix.S_IFCHR, devfs.TTYAuxMajor, devfs.ConsoleMinor, console); err != nil {
		return err
	}
	if err := devices.Register(unix.S_IFCHR, devfs.TTYAuxMajor, devfs.TTYMinor, devfs.OpenFunc(console.ControllingOpener())); err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := os.Stdin.Read(buf)
			if n > 0 {
				console.TTY.Input(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()

	ctx := vfs.RootCtx()
	for _, m := range []struct{ dir, typ, source string }{{"/dev", "devtmpfs", "devtmpfs"}, {"/proc", "proc", "proc"}} {
		if err := ns.Mkdir(ctx, ns.Root(), m.dir, 0o755); err != nil && err != unix.EEXIST {
			return fmt.Errorf("%s: %w", m.dir, err)
		}
		fs, err := node.FSTypes[m.typ](m.source, "")
		if err != nil {
			return err
		}
		if err := ns.Mount(ctx, ns.Root(), m.dir, fs, vfs.MountOptions{Source: m.source, Type: m.typ,
			Flags: unix.MS_NOSUID | (unix.MS_NOEXEC|unix.MS_NODEV)*boolU32(m.typ == "proc")}); err != nil {
			return fmt.Errorf("mount %s: %w", m.dir, err)
		}
	}

	argv := []string{"/bin/sh"}
	if run := readFile(ns, "/etc/dunix/run"); len(run) > 0 {
		argv = strings.Split(strings.TrimRight(string(run), "\x00"), "\x00")
	}
	if p := flags.String("dunix.init"); p != "" {
		argv = []string{p}
	}
	env := []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "TERM=vt100"}
	if extra := strings.TrimRight(string(readFile(ns, "/etc/dunix/env")), "\x00"); extra != "" {
		env = append(env, strings.Split(extra, "\x00")...)
	}

	// Each program's first call of an unimplemented system call is
	// reported, unless the node runs quietly (dunix run); dunix.enosys=1
	// asks for the reports anyway.
	node.ReportENOSYS = !flags.Bool("dunix.quiet") || flags.Bool("dunix.enosys")
	// Programs read the clock through the vDSO, unless dunix.vdso=0 (then
	// every clock_gettime is a system call, for comparison).
	if !flags.Has("dunix.vdso") || flags.Bool("dunix.vdso") {
		node.Clock = func() vdso.Clock {
			base, mult, wall, ok := kernel.VDSOClock()
			return vdso.Clock{TSCBase: base, Mult: mult, WallBase: wall, Usable: ok}
		}
	}
	// dunix.profile=HZ samples where the CPUs are, HZ times a second,
	// from here to the first process's exit, and prints the profile then
	// (dunix run --profile).
	profileStop := func() {}
	if hz, err := strconv.Atoi(flags.String("dunix.profile")); err == nil && hz > 0 {
		start := time.Now()
		kernel.StartProfile(time.Second / time.Duration(hz))
		profileStop = func() {
			for _, l := range strings.Split(strings.TrimSpace(kernel.StopProfile(time.Since(start).Round(time.Millisecond))), "\n") {
				fmt.Println("dunix: profile:", l)
			}
		}
	}
	node.InitExited = func(status int32) {
		profileStop()
		code := int(status>>8) & 0xFF
		if sig := status & 0x7F; sig != 0 {
			code = 128 + int(sig)
			fmt.Printf("dunix: %s killed by signal %d\n", argv[0], sig)
		}
		netReport()
		kernel.PowerOff(code)
	}
	startNetwork(flags, node)
	if err := node.Start(argv[0], argv, env); err != nil {
		return fmt.Errorf("cannot run %s: %w", argv[0], err)
	}
	return nil
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// readFile returns the contents of a small file of the root, nil if it
// is missing.
func readFile(ns *vfs.Namespace, path string) []byte {
	f, err := ns.Open(vfs.RootCtx(), ns.Root(), path, unix.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(fileReader{f}, 1<<20))
	return b
}

type fileReader struct{ f *vfs.File }

func (r fileReader) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}

func memory() (total, free uint64) {
	s := kernel.ReadStats()
	return s.MemTotal, s.MemFree
}
