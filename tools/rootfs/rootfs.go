// Package rootfs builds the root file system archive a node boots with (a
// newc cpio, passed to QEMU as the initrd): a small base layout, the files
// and directories the user adds, and /etc/dunix/run, the program the node
// runs as process 1.
package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"dunix/fs/cpio"
)

// Add is one host path to put into the archive at Guest.
type Add struct {
	Host, Guest string
}

// ParseAdd reads HOSTPATH:GUESTPATH.
func ParseAdd(s string) (Add, error) {
	host, guest, ok := strings.Cut(s, ":")
	if !ok || host == "" || guest == "" || !strings.HasPrefix(guest, "/") {
		return Add{}, fmt.Errorf("--add %q: want HOSTPATH:/GUESTPATH", s)
	}
	return Add{host, path.Clean(guest)}, nil
}

// Spec is what goes into the archive.
type Spec struct {
	Adds []Add
	// Run is the argv of process 1 (empty: /bin/sh).
	Run []string
	// Env is extra environment of process 1.
	Env []string
	// Links are symbolic links added after everything else, each only
	// where nothing else was put (busybox applets, say).
	Links []Link
}

// Link is a symbolic link at Path pointing to Target.
type Link struct {
	Path, Target string
}

// BusyboxLinks returns links to guest for the applets of the busybox
// binary at host, as `busybox --install -s` would make them, by asking
// the binary for its applet list (it must run on this host: Debian's
// busybox-static does).
func BusyboxLinks(host, guest string) ([]Link, error) {
	out, err := exec.Command(host, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", host, err)
	}
	var links []Link
	for _, l := range strings.Fields(string(out)) {
		p := path.Clean("/" + l)
		if p != guest && p != "/" {
			links = append(links, Link{p, guest})
		}
	}
	return links, nil
}

// baseDirs are created in every root.
var baseDirs = []string{"bin", "dev", "etc", "etc/dunix", "home", "proc", "root", "sbin", "sys", "tmp",
	"usr", "usr/bin", "usr/sbin", "var", "var/tmp"}

// Write writes the archive.
func Write(w io.Writer, s Spec) error {
	cw := cpio.NewWriter(w)
	dirs := map[string]bool{}
	mkdir := func(d string, perm uint32) error {
		if d == "" || d == "." || dirs[d] {
			return nil
		}
		dirs[d] = true
		return cw.AddDir(d, cpio.Attr{Perm: perm})
	}
	var parents func(p string) error
	parents = func(p string) error {
		d := path.Dir(p)
		if d == "." || d == "/" || dirs[d] {
			return nil
		}
		if err := parents(d); err != nil {
			return err
		}
		return mkdir(d, 0o755)
	}
	for _, d := range baseDirs {
		perm := uint32(0o755)
		if d == "tmp" || d == "var/tmp" {
			perm = 0o1777
		}
		if err := mkdir(d, perm); err != nil {
			return err
		}
	}
	files := map[string][]byte{
		"etc/passwd":    []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
		"etc/group":     []byte("root:x:0:\nnogroup:x:65534:\n"),
		"etc/hostname":  []byte("dunix\n"),
		"etc/dunix/run": []byte(strings.Join(s.Run, "\x00")),
		"etc/dunix/env": []byte(strings.Join(s.Env, "\x00")),
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := cw.AddFile(n, cpio.Attr{Perm: 0o644}, files[n]); err != nil {
			return err
		}
	}
	written := map[string]bool{}
	for _, a := range s.Adds {
		if err := addTree(cw, a, parents, mkdir, written); err != nil {
			return err
		}
	}
	for _, l := range s.Links {
		p := strings.TrimPrefix(path.Clean(l.Path), "/")
		if p == "" || written[p] || dirs[p] {
			continue
		}
		if err := parents(p); err != nil {
			return err
		}
		written[p] = true
		if err := cw.AddSymlink(p, l.Target, cpio.Attr{Perm: 0o777}); err != nil {
			return err
		}
	}
	return cw.Close()
}

// addTree adds a host file, symlink or directory (recursively).
func addTree(cw *cpio.Writer, a Add, parents func(string) error, mkdir func(string, uint32) error, written map[string]bool) error {
	root := strings.TrimPrefix(a.Guest, "/")
	if err := parents(root); err != nil {
		return err
	}
	return filepath.WalkDir(a.Host, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("--add %s: %w", a.Host, err)
		}
		rel, _ := filepath.Rel(a.Host, hp)
		gp := root
		if rel != "." {
			gp = path.Join(root, filepath.ToSlash(rel))
		}
		info, err := os.Lstat(hp)
		if err != nil {
			return err
		}
		perm := uint32(info.Mode().Perm())
		written[gp] = true
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(hp)
			if err != nil {
				return err
			}
			return cw.AddSymlink(gp, target, cpio.Attr{Perm: 0o777})
		case info.IsDir():
			return mkdir(gp, perm)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(hp)
			if err != nil {
				return err
			}
			return cw.AddFile(gp, cpio.Attr{Perm: perm}, data)
		}
		return nil // devices, sockets: not copied
	})
}
