// Package userland starts a node's user space: it builds the root file
// system from the archive the boot loader loaded (a newc cpio), sets up the
// console, and runs the first process, whose exit powers the node off with
// its exit status (128+n when signal n killed it).
//
// The program to run comes from the archive's /etc/dunix/run (arguments
// separated by NUL bytes; `dunix run` writes it) or from the kernel
// command line (dunix.init=PATH); without either, /bin/sh.
package userland

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	"dunix/fs/cpio"
	"dunix/kernel"
	"dunix/kernel/cmdline"
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
	root, err := readArchive(archive)
	if err != nil {
		fmt.Printf("dunix: root archive: %v\n", err)
		kernel.PowerOff(4)
	}
	argv := []string{"/bin/sh"}
	if run, ok := root.files["/etc/dunix/run"]; ok {
		argv = strings.Split(strings.TrimRight(string(run), "\x00"), "\x00")
	}
	if p := flags.String("dunix.init"); p != "" {
		argv = []string{p}
	}
	env := []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root", "TERM=vt100"}
	console := proc.NewConsole(os.Stdout)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := os.Stdin.Read(buf)
			if n > 0 {
				console.Input(append([]byte(nil), buf[:n]...))
			}
			if err != nil {
				return
			}
		}
	}()
	node := proc.NewNode(vm.NewPool(proc.Machine{}), root, console)
	// Each program's first call of an unimplemented system call is
	// reported, unless the node runs quietly (dunix run); dunix.enosys=1
	// asks for the reports anyway.
	node.ReportENOSYS = !flags.Bool("dunix.quiet") || flags.Bool("dunix.enosys")
	node.InitExited = func(status int32) {
		code := int(status>>8) & 0xFF
		if sig := status & 0x7F; sig != 0 {
			code = 128 + int(sig)
			fmt.Printf("dunix: %s killed by signal %d\n", argv[0], sig)
		}
		kernel.PowerOff(code)
	}
	if err := node.Start(argv[0], argv, env); err != nil {
		fmt.Printf("dunix: cannot run %s: %v\n", argv[0], err)
		kernel.PowerOff(127)
	}
	return true
}

// archiveFS is the root file system until the VFS is wired in: the files
// of the archive in memory.
type archiveFS struct {
	files map[string][]byte
	links map[string]string
}

func readArchive(b []byte) (*archiveFS, error) {
	fs := &archiveFS{files: map[string][]byte{}, links: map[string]string{}}
	r := cpio.NewReader(bytes.NewReader(b))
	for {
		h, err := r.Next()
		if err == io.EOF {
			return fs, nil
		}
		if err != nil {
			return fs, err
		}
		name := path.Clean("/" + h.Name)
		switch h.Type() {
		case cpio.TypeReg:
			data, err := io.ReadAll(r)
			if err != nil {
				return fs, err
			}
			fs.files[name] = data
		case cpio.TypeSymlink:
			fs.links[name] = h.Linkname
		}
	}
}

// ReadFile implements proc.FileSystem.
func (fs *archiveFS) ReadFile(p string) ([]byte, error) {
	p = path.Clean(p)
	for i := 0; i < 40; i++ {
		if d, ok := fs.files[p]; ok {
			return d, nil
		}
		l, ok := fs.links[p]
		if !ok {
			return nil, syscall.ENOENT
		}
		if !strings.HasPrefix(l, "/") {
			l = path.Join(path.Dir(p), l)
		}
		p = path.Clean(l)
	}
	return nil, syscall.ELOOP
}
