package memfs

import (
	"math"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// file is a regular file. Its data is a sparse set of pages: a page never
// written reads as zeros and costs nothing. n.mu guards the fields.
type file struct {
	node
	size   int64
	pages  map[int64]*page
	frames map[int64]uintptr // the frame of each page, with fs.frames
	opens  int               // open file descriptions
	freed  bool              // unlinked and closed: pages released
}

// Stat implements vfs.Inode.
func (f *file) Stat() (vfs.Stat, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	st := f.st
	st.Size = f.size
	st.Blocks = int64(len(f.pages)) * (pageSize / 512)
	return st, nil
}

// SetAttr implements vfs.Inode, including truncation.
func (f *file) SetAttr(a *vfs.SetAttr) error {
	if a.Mask&vfs.SetSize != 0 && a.Size < 0 {
		return unix.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if a.Mask&vfs.SetSize != 0 {
		f.truncate(a.Size)
	}
	f.setAttrLocked(a)
	return nil
}

// truncate sets the size, releasing pages past it and zeroing the tail of
// the last one (f.mu held).
func (f *file) truncate(size int64) {
	if size < f.size {
		first := (size + pageMask) >> pageShift
		for i := range f.pages {
			if i >= first {
				f.dropPage(i)
			}
		}
		if off := size & pageMask; off != 0 {
			if p := f.pages[size>>pageShift]; p != nil {
				clear(p[off:])
			}
		}
	}
	f.size = size
}

// Open implements vfs.Opener.
func (f *file) Open(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) {
	f.mu.Lock()
	f.opens++
	f.mu.Unlock()
	return &fileOps{f: f, root: ctx == nil || ctx.Cred.IsRoot()}, nil
}

// dropped is called when the last link is removed.
func (f *file) dropped() {
	f.mu.Lock()
	f.maybeFree()
	f.mu.Unlock()
}

// maybeFree releases the data and the inode of a file neither linked nor
// open (f.mu held).
func (f *file) maybeFree() {
	if f.freed || f.st.Nlink != 0 || f.opens != 0 {
		return
	}
	f.freed = true
	for i := range f.pages {
		f.dropPage(i)
	}
	f.pages = nil
	f.fs.inodes.Add(-1)
}

// newPage allocates page pi, charging the file system (f.mu held).
func (f *file) newPage(pi int64) (*page, error) {
	if !f.fs.allocPage() {
		return nil, unix.ENOSPC
	}
	if f.pages == nil {
		f.pages = make(map[int64]*page)
	}
	if f.fs.frames == nil {
		p := new(page)
		f.pages[pi] = p
		return p, nil
	}
	fr, data, err := f.fs.frames.Get()
	if err != nil {
		f.fs.pages.Add(-1)
		return nil, unix.ENOSPC
	}
	if f.frames == nil {
		f.frames = make(map[int64]uintptr)
	}
	p := (*page)(data)
	f.pages[pi], f.frames[pi] = p, fr
	return p, nil
}

// dropPage releases page pi (f.mu held); mappings holding its frame keep
// it until they unmap.
func (f *file) dropPage(pi int64) {
	if _, ok := f.pages[pi]; !ok {
		return
	}
	delete(f.pages, pi)
	f.fs.pages.Add(-1)
	if fr, ok := f.frames[pi]; ok {
		delete(f.frames, pi)
		f.fs.frames.Put(fr)
	}
}

// SharedFrame returns the frame holding the page at off (page aligned),
// with a reference for the caller, allocating it if the page is a hole:
// what a shared mapping of the file maps, so that writes through it are
// the file's data and write(2) shows through it. EFAULT at or past the
// end of the file's last page (SIGBUS for the mapping), ENODEV when the
// file system keeps no frames.
func (f *file) SharedFrame(off int64) (uintptr, error) {
	if f.fs.frames == nil {
		return 0, unix.ENODEV
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 || off&pageMask != 0 || off >= (f.size+pageMask)&^pageMask || f.freed {
		return 0, unix.EFAULT
	}
	pi := off >> pageShift
	if _, ok := f.pages[pi]; !ok {
		if _, err := f.newPage(pi); err != nil {
			return 0, err
		}
	}
	fr := f.frames[pi]
	f.fs.frames.Ref(fr)
	return fr, nil
}

// readAt copies data at off into dst (f.mu held for reading).
func (f *file) readAt(dst []byte, off int64) int {
	if off >= f.size {
		return 0
	}
	if rem := f.size - off; int64(len(dst)) > rem {
		dst = dst[:rem]
	}
	n := 0
	for n < len(dst) {
		pos := off + int64(n)
		po := int(pos & pageMask)
		c := min(len(dst)-n, pageSize-po)
		if p := f.pages[pos>>pageShift]; p != nil {
			copy(dst[n:n+c], p[po:])
		} else {
			clear(dst[n : n+c])
		}
		n += c
	}
	return n
}

// writeAt copies src to off, allocating pages (f.mu held). It stops at
// ENOSPC, reporting it only if nothing was written.
func (f *file) writeAt(src []byte, off int64) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	if off > math.MaxInt64-int64(len(src)) {
		return 0, unix.EFBIG
	}
	n := 0
	for n < len(src) {
		pos := off + int64(n)
		pi := pos >> pageShift
		p := f.pages[pi]
		if p == nil {
			var err error
			if p, err = f.newPage(pi); err != nil {
				break
			}
		}
		n += copy(p[pos&pageMask:], src[n:])
	}
	if n == 0 {
		return 0, unix.ENOSPC
	}
	if end := off + int64(n); end > f.size {
		f.size = end
	}
	now := f.fs.clock()
	f.st.Mtime, f.st.Ctime = now, now
	return n, nil
}

// fileOps are the FileOps of an open regular file.
type fileOps struct {
	f    *file
	root bool // opened by root: writes keep set-user-ID and set-group-ID bits
}

// killPriv clears the set-user-ID bit, and the set-group-ID bit of a
// group-executable file, as a write by a process without CAP_FSETID does
// in Linux (f.mu held). The opener's credentials stand for the writer's.
func (o *fileOps) killPriv() {
	if o.root {
		return
	}
	m := o.f.st.Mode
	nm := m &^ unix.S_ISUID
	if m&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP {
		nm &^= unix.S_ISGID
	}
	o.f.st.Mode = nm
}

// Read implements vfs.FileOps.
func (o *fileOps) Read(_ *vfs.File, dst []byte, off int64) (int, error) {
	o.f.mu.RLock()
	defer o.f.mu.RUnlock()
	return o.f.readAt(dst, off), nil
}

// Write implements vfs.FileOps.
func (o *fileOps) Write(_ *vfs.File, src []byte, off int64) (int, error) {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	o.killPriv()
	return o.f.writeAt(src, off)
}

// Append implements vfs.Appender.
func (o *fileOps) Append(_ *vfs.File, src []byte) (int, int64, error) {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	o.killPriv()
	off := o.f.size
	n, err := o.f.writeAt(src, off)
	return n, off + int64(n), err
}

// Release implements vfs.FileOps.
func (o *fileOps) Release() {
	o.f.mu.Lock()
	o.f.opens--
	o.f.maybeFree()
	o.f.mu.Unlock()
}
