package memfs

import (
	"fmt"
	"io"
	"path"
	"strings"

	"dunix/fs/cpio"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// LoadCPIO fills fs from the newc cpio archive read from r, as Linux
// unpacks an initramfs into its rootfs. See ExtractCPIO.
func (fs *FS) LoadCPIO(r io.Reader) error {
	ns := vfs.NewNamespace(fs, vfs.Options{})
	return ExtractCPIO(ns, ns.Root(), r)
}

// ExtractCPIO unpacks the newc cpio archive read from r into directory dir
// of ns, with root's rights and dir as the root for absolute symbolic
// links and "..". Regular files, directories, symbolic links, hard links,
// device nodes, FIFOs and sockets are created with their modes, owners and
// modification times (directories get theirs at the end, after their
// entries were added). Missing parent directories are made (mode 0755,
// owned by root). An existing entry in the way is replaced, except that a
// directory over a directory is kept and only gets new attributes. Hard
// links (entries sharing an inode number with a link count of 2 or more)
// are restored; the data may come with any of the names, as GNU cpio puts
// it on the last.
//
// A malformed archive or a failed operation stops the extraction with an
// error; what was extracted stays.
func ExtractCPIO(ns *vfs.Namespace, dir vfs.Loc, r io.Reader) error {
	x := &extractor{ns: ns, dir: dir, ctx: &vfs.Ctx{Root: dir}, cr: cpio.NewReader(r), links: map[[3]uint32]string{}}
	err := x.run()
	x.dirTimes()
	return err
}

// extractor holds the state of one extraction.
type extractor struct {
	ns    *vfs.Namespace
	dir   vfs.Loc
	ctx   *vfs.Ctx
	cr    *cpio.Reader
	links map[[3]uint32]string // (ino, dev major, dev minor) → first name
	dirs  []dirTime
	buf   []byte
}

// dirTime is a directory modification time to set at the end.
type dirTime struct {
	name  string
	mtime int64
}

// run extracts every entry.
func (x *extractor) run() error {
	for {
		h, err := x.cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			name = "."
		}
		if err := x.entry(h, name); err != nil {
			return fmt.Errorf("cpio: extracting %q: %w", h.Name, err)
		}
	}
}

// entry extracts one entry under its cleaned name.
func (x *extractor) entry(h *cpio.Header, name string) error {
	ns, ctx, dir := x.ns, x.ctx, x.dir
	typ := h.Type()
	if name == "." {
		if typ != unix.S_IFDIR {
			return nil // the root can only be a directory
		}
	} else {
		if err := x.mkdirAll(path.Dir(name)); err != nil {
			return err
		}
		if err := x.clear(name, typ); err != nil {
			return err
		}
	}
	var err error
	switch typ {
	case unix.S_IFREG:
		err = x.regular(h, name)
	case unix.S_IFDIR:
		if err = ns.Mkdir(ctx, dir, name, h.Perm()); err == unix.EEXIST {
			err = nil
		}
		x.dirs = append(x.dirs, dirTime{name, int64(h.MTime)})
	case unix.S_IFLNK:
		err = ns.Symlink(ctx, h.Linkname, dir, name)
	default:
		err = ns.Mknod(ctx, dir, name, typ|h.Perm(), unix.Mkdev(h.RDevMajor, h.RDevMinor))
	}
	if err != nil {
		return err
	}
	if err := ns.Chown(ctx, dir, name, h.UID, h.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if typ != unix.S_IFLNK {
		if err := ns.Chmod(ctx, dir, name, h.Perm(), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	if typ != unix.S_IFDIR {
		t := vfs.Timespec{Sec: int64(h.MTime)}
		return ns.Utimes(ctx, dir, name, t, t, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// mkdirAll makes the missing directories of p.
func (x *extractor) mkdirAll(p string) error {
	if p == "." || p == "/" {
		return nil
	}
	if st, err := x.ns.Stat(x.ctx, x.dir, p, 0); err == nil && st.IsDir() {
		return nil
	}
	if err := x.mkdirAll(path.Dir(p)); err != nil {
		return err
	}
	if err := x.ns.Mkdir(x.ctx, x.dir, p, 0o755); err != nil && err != unix.EEXIST {
		return err
	}
	return nil
}

// clear removes what is at name unless it is a directory and typ too.
func (x *extractor) clear(name string, typ uint32) error {
	st, err := x.ns.Stat(x.ctx, x.dir, name, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return nil
	}
	if st.IsDir() {
		if typ == unix.S_IFDIR {
			return nil
		}
		return x.ns.Rmdir(x.ctx, x.dir, name)
	}
	return x.ns.Unlink(x.ctx, x.dir, name)
}

// regular extracts a regular file, or a hard link to an earlier one.
func (x *extractor) regular(h *cpio.Header, name string) error {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC
	if h.NLink >= 2 {
		key := [3]uint32{h.Ino, h.DevMajor, h.DevMinor}
		if first, ok := x.links[key]; ok {
			if err := x.ns.Link(x.ctx, x.dir, first, x.dir, name, 0); err != nil {
				return err
			}
			flags &^= unix.O_TRUNC
		} else {
			x.links[key] = name
		}
	}
	f, err := x.ns.Open(x.ctx, x.dir, name, flags, h.Perm())
	if err != nil {
		return err
	}
	defer f.Close()
	return x.copyData(f, h.Size, flags&unix.O_TRUNC != 0)
}

// copyData writes size bytes of the entry's data to f. In a fresh file
// (sparse), pages of zeros are skipped rather than written.
func (x *extractor) copyData(f *vfs.File, size int64, sparse bool) error {
	if x.buf == nil {
		x.buf = make([]byte, 64<<10)
	}
	var off int64
	for off < size {
		chunk := x.buf[:min(int64(len(x.buf)), size-off)]
		if _, err := io.ReadFull(x.cr, chunk); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		for len(chunk) > 0 {
			c := chunk[:min(len(chunk), pageSize)]
			if !sparse || !allZero(c) {
				if err := writeFull(f, c, off); err != nil {
					return err
				}
			}
			off += int64(len(c))
			chunk = chunk[len(c):]
		}
	}
	if st, err := f.Stat(); err != nil {
		return err
	} else if st.Size < size {
		return f.Truncate(size)
	}
	return nil
}

// writeFull writes all of p at off.
func writeFull(f *vfs.File, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := f.Pwrite(p, off)
		if err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// allZero reports whether p holds only zeros.
func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// dirTimes sets the recorded directory modification times.
func (x *extractor) dirTimes() {
	for _, d := range x.dirs {
		if st, err := x.ns.Stat(x.ctx, x.dir, d.name, unix.AT_SYMLINK_NOFOLLOW); err != nil || !st.IsDir() {
			continue // replaced by a later entry
		}
		t := vfs.Timespec{Sec: d.mtime}
		x.ns.Utimes(x.ctx, x.dir, d.name, t, t, unix.AT_SYMLINK_NOFOLLOW)
	}
}
