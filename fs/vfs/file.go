package vfs

import (
	"math"
	"sync"
	"sync/atomic"

	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

// FileOps is the behaviour of an open file description, supplied by a file
// system (regular files), a device, a pipe or the creator of an anonymous
// file. The File checks access modes, keeps the offset and counts
// references; FileOps does the I/O and must never block (return EAGAIN).
//
// FileOps may implement the optional interfaces Appender, Streamer, Seeker,
// Syncer, Ioctler, PendingOpener and waiter.Waitable.
type FileOps interface {
	// Read reads into dst from offset off (streams ignore off). It
	// returns 0 and nil at the end of the file, EAGAIN when it would
	// block.
	Read(f *File, dst []byte, off int64) (int, error)
	// Write writes src at offset off (streams ignore off). A short count
	// with a nil error means the rest would block (streams) or did not
	// fit (ENOSPC for the rest).
	Write(f *File, src []byte, off int64) (int, error)
	// Release is called once, when the last reference to the File is
	// closed.
	Release()
}

// Appender is implemented by FileOps of seekable files that support
// O_APPEND: Append writes src at the end of the file atomically and returns
// the count and the offset just after the data.
type Appender interface {
	Append(f *File, src []byte) (n int, end int64, err error)
}

// Streamer is implemented by FileOps of files without a position (pipes,
// terminals, sockets): when Stream returns true, pread, pwrite and lseek
// fail with ESPIPE, and Read and Write get offset 0.
type Streamer interface {
	Stream() bool
}

// Seeker is implemented by FileOps that want their own lseek(2): Seek
// returns the new offset given the current one. Without it, the File seeks
// against the inode's size (SEEK_DATA and SEEK_HOLE treat the whole file
// as data).
type Seeker interface {
	Seek(f *File, cur, off int64, whence int) (int64, error)
}

// Syncer is implemented by FileOps with something to flush on fsync(2).
type Syncer interface {
	Sync(f *File) error
}

// Ioctler is implemented by FileOps that answer ioctl(2). Without it
// ioctls fail with ENOTTY. ctx.Mem gives access to the caller's memory.
type Ioctler interface {
	Ioctl(f *File, ctx *Ctx, cmd uint32, arg uintptr) (uintptr, error)
}

// PendingOpener is implemented by FileOps whose blocking open must wait: a
// FIFO opened for reading waits for a writer, and the reverse. See
// File.OpenPending.
type PendingOpener interface {
	OpenPending() bool
}

// statusFlags are the open flags F_SETFL may change.
const statusFlags = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME

// openOnlyFlags are open flags that do not stay in a description's flags.
const openOnlyFlags = unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_CLOEXEC

// defaultReady is what poll reports for files that do not implement
// waiter.Waitable (Linux's DEFAULT_POLLMASK).
const defaultReady = waiter.EventIn | waiter.EventOut | waiter.EventRdNorm | waiter.EventWrNorm

// File is an open file description. Create one with Namespace.Open or
// NewFile. dup(2) and fork(2) share one *File (call IncRef for each new
// reference); Close drops a reference and releases the description when
// the last one goes. Its offset and status flags are shared by all
// references, as in Linux.
type File struct {
	ops    FileOps
	ino    Inode
	mnt    *Mount // nil for anonymous files
	typ    uint32 // file type bits
	stream bool
	opath  bool // opened with O_PATH

	// Where the file was opened, for Path: the directory and name of a
	// non-directory, or the name of an anonymous file.
	nameMu sync.Mutex
	dir    Loc
	name   string

	refs  atomic.Int64
	flags atomic.Int32

	posMu sync.Mutex // serializes use of pos (Linux's f_pos_lock)
	pos   int64
}

// NewFile returns a new anonymous File (a pipe, an eventfd, a socket...)
// with one reference. ops does the work; ino gives its attributes for
// fstat; flags are the open(2)-style access mode and status flags; name is
// what /proc/self/fd shows (e.g. "pipe:[1234]").
func NewFile(ops FileOps, ino Inode, flags int, name string) *File {
	f := &File{ops: ops, ino: ino, name: name}
	if st, err := ino.Stat(); err == nil {
		f.typ = st.Type()
	}
	f.init(flags)
	return f
}

// init sets the flags, stream mode and reference count.
func (f *File) init(flags int) {
	f.flags.Store(int32(flags &^ openOnlyFlags))
	if s, ok := f.ops.(Streamer); ok && s.Stream() {
		f.stream = true
	}
	f.refs.Store(1)
	if f.mnt != nil {
		f.mnt.openFiles.Add(1)
	}
}

// IncRef adds a reference (dup, fork, a file descriptor table copy).
func (f *File) IncRef() {
	if f.refs.Add(1) <= 1 {
		panic("vfs: IncRef on a released File")
	}
}

// Close drops a reference. The last one releases the description (its
// FileOps.Release runs). It always returns nil: errors at close are not
// reported by the files implemented here.
func (f *File) Close() error {
	switch n := f.refs.Add(-1); {
	case n == 0:
		f.ops.Release()
		if f.mnt != nil {
			f.mnt.openFiles.Add(-1)
		}
	case n < 0:
		panic("vfs: File closed too often")
	}
	return nil
}

// Refs returns the number of references (for tests and diagnostics).
func (f *File) Refs() int64 { return f.refs.Load() }

// Ops returns the file's FileOps, so that the system-call layer can reach
// a particular implementation (a pipe for F_SETPIPE_SZ, an epoll set...).
func (f *File) Ops() FileOps { return f.ops }

// Inode returns the file's inode.
func (f *File) Inode() Inode { return f.ino }

// Mount returns the mount the file was opened on, nil for anonymous files.
func (f *File) Mount() *Mount { return f.mnt }

// Loc returns the file's location, for the *at operations on a dirfd and
// for fchdir. Anonymous files have a Loc without a mount.
func (f *File) Loc() Loc { return Loc{mnt: f.mnt, ino: f.ino} }

// Flags returns the access mode and status flags (F_GETFL).
func (f *File) Flags() int { return int(f.flags.Load()) }

// SetFlags changes the status flags F_SETFL may change (O_APPEND,
// O_NONBLOCK, O_ASYNC, O_DIRECT, O_NOATIME); other bits are ignored.
func (f *File) SetFlags(flags int) {
	for {
		old := f.flags.Load()
		nw := old&^statusFlags | int32(flags&statusFlags)
		if f.flags.CompareAndSwap(old, nw) {
			return
		}
	}
}

// NonBlocking reports whether O_NONBLOCK is set.
func (f *File) NonBlocking() bool { return f.Flags()&unix.O_NONBLOCK != 0 }

// IsPath reports whether the file was opened with O_PATH: it can only be
// used as a location, for fstat, and closed.
func (f *File) IsPath() bool { return f.opath }

// Readable reports whether the file was opened for reading.
func (f *File) Readable() bool {
	acc := f.Flags() & unix.O_ACCMODE
	return !f.opath && (acc == unix.O_RDONLY || acc == unix.O_RDWR)
}

// Writable reports whether the file was opened for writing.
func (f *File) Writable() bool {
	acc := f.Flags() & unix.O_ACCMODE
	return !f.opath && (acc == unix.O_WRONLY || acc == unix.O_RDWR)
}

// IsStream reports whether the file has no position (pipes, terminals).
func (f *File) IsStream() bool { return f.stream }

// Read reads at the file's offset and advances it (read(2)). EBADF if not
// open for reading, EISDIR for a directory, EAGAIN when it would block.
func (f *File) Read(dst []byte) (int, error) {
	if err := f.readCheck(); err != nil {
		return 0, err
	}
	if f.stream {
		return f.ops.Read(f, dst, 0)
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	n, err := f.ops.Read(f, dst, f.pos)
	f.pos += int64(n)
	return n, err
}

// Pread reads at off without using or moving the offset (pread64(2)):
// EINVAL for a negative offset, ESPIPE on a stream.
func (f *File) Pread(dst []byte, off int64) (int, error) {
	if err := f.readCheck(); err != nil {
		return 0, err
	}
	if f.stream {
		return 0, unix.ESPIPE
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return f.ops.Read(f, dst, off)
}

// readCheck returns the error for reading f, if any.
func (f *File) readCheck() error {
	if !f.Readable() {
		return unix.EBADF
	}
	if f.typ == unix.S_IFDIR {
		return unix.EISDIR
	}
	return nil
}

// Write writes at the file's offset, or at the end with O_APPEND, and
// advances the offset (write(2)). EBADF if not open for writing, EAGAIN
// when it would block. On a stream a short count with a nil error means
// the rest would block: a blocking caller waits for EventOut and writes the
// rest.
func (f *File) Write(src []byte) (int, error) {
	if !f.Writable() {
		return 0, unix.EBADF
	}
	if f.stream {
		return f.ops.Write(f, src, 0)
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	if a, ok := f.ops.(Appender); ok && f.Flags()&unix.O_APPEND != 0 {
		n, end, err := a.Append(f, src)
		if n > 0 || err == nil {
			f.pos = end
		}
		return n, err
	}
	if f.pos > math.MaxInt64-int64(len(src)) {
		return 0, unix.EFBIG
	}
	n, err := f.ops.Write(f, src, f.pos)
	f.pos += int64(n)
	return n, err
}

// Pwrite writes at off without using or moving the offset (pwrite64(2)).
// As in Linux, a file opened with O_APPEND appends whatever off says.
func (f *File) Pwrite(src []byte, off int64) (int, error) {
	if !f.Writable() {
		return 0, unix.EBADF
	}
	if f.stream {
		return 0, unix.ESPIPE
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	if a, ok := f.ops.(Appender); ok && f.Flags()&unix.O_APPEND != 0 {
		n, _, err := a.Append(f, src)
		return n, err
	}
	if off > math.MaxInt64-int64(len(src)) {
		return 0, unix.EFBIG
	}
	return f.ops.Write(f, src, off)
}

// Seek moves the offset (lseek(2)) and returns the new one. whence is
// SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA or SEEK_HOLE. ESPIPE on a
// stream, EINVAL for a bad whence or a negative result, ENXIO for
// SEEK_DATA/SEEK_HOLE at or past the end. On a directory the offset is a
// readdir position: only SEEK_SET and SEEK_CUR are allowed.
func (f *File) Seek(off int64, whence int) (int64, error) {
	if f.opath {
		return 0, unix.EBADF
	}
	if f.stream {
		return 0, unix.ESPIPE
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	var n int64
	var err error
	if s, ok := f.ops.(Seeker); ok {
		n, err = s.Seek(f, f.pos, off, whence)
	} else {
		n, err = f.seek(off, whence)
	}
	if err != nil {
		return 0, err
	}
	f.pos = n
	return n, nil
}

// seek computes a new offset the default way.
func (f *File) seek(off int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = f.pos
	case unix.SEEK_END, unix.SEEK_DATA, unix.SEEK_HOLE:
		if f.typ == unix.S_IFDIR {
			return 0, unix.EINVAL
		}
		st, err := f.ino.Stat()
		if err != nil {
			return 0, err
		}
		switch whence {
		case unix.SEEK_END:
			base = st.Size
		case unix.SEEK_DATA:
			if off < 0 || off >= st.Size {
				return 0, unix.ENXIO
			}
			return off, nil
		default: // SEEK_HOLE
			if off < 0 || off >= st.Size {
				return 0, unix.ENXIO
			}
			return st.Size, nil
		}
	default:
		return 0, unix.EINVAL
	}
	if (off > 0 && base > math.MaxInt64-off) || base+off < 0 {
		return 0, unix.EINVAL
	}
	return base + off, nil
}

// Offset returns the current offset (for /proc/self/fdinfo).
func (f *File) Offset() int64 {
	f.posMu.Lock()
	defer f.posMu.Unlock()
	return f.pos
}

// Readdir reads directory entries from the current position (getdents64),
// calling emit for each until it returns false; the position then stays
// before the refused entry. "." and ".." come first. emit must not call
// into the file system. ENOTDIR if the file is not a directory, ENOENT if
// it was removed. ctx (the caller) is handed to the file system.
func (f *File) Readdir(ctx *Ctx, emit func(Dirent) bool) error {
	if f.opath {
		return unix.EBADF
	}
	d, ok := f.ino.(DirInode)
	if !ok || f.typ != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if st.Nlink == 0 {
		return unix.ENOENT // removed directory, as Linux's IS_DEADDIR
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	if f.pos == 0 {
		if !emit(Dirent{Name: ".", Ino: st.Ino, Type: DirentType(unix.S_IFDIR), Off: 1}) {
			return nil
		}
		f.pos = 1
	}
	if f.pos == 1 {
		st, err := dotdotStat(ctx, d)
		if err != nil {
			return err
		}
		if !emit(Dirent{Name: "..", Ino: st.Ino, Type: DirentType(unix.S_IFDIR), Off: 2}) {
			return nil
		}
		f.pos = 2
	}
	return d.Readdir(ctx, f.pos-2, func(e Dirent) bool {
		e.Off += 2
		if !emit(e) {
			return false
		}
		f.pos = e.Off
		return true
	})
}

// dotdotStat returns the attributes of the parent of directory d within its
// file system (a file system's root is its own parent, as in Linux).
func dotdotStat(ctx *Ctx, d DirInode) (Stat, error) {
	p, err := d.Lookup(ctx, "..")
	if err != nil {
		return d.Stat()
	}
	return p.Stat()
}

// Stat returns the file's attributes (fstat).
func (f *File) Stat() (Stat, error) { return f.ino.Stat() }

// Statfs returns statistics of the file's file system (fstatfs).
// Anonymous files report an empty file system of type
// ANON_INODE_FS_MAGIC.
func (f *File) Statfs() (Statfs, error) {
	if f.mnt == nil {
		return Statfs{Type: 0x09041934, Bsize: 4096, Frsize: 4096, Namelen: NameMax, Flags: 0x20}, nil
	}
	return f.mnt.statfs()
}

// Truncate changes the size of a regular file open for writing
// (ftruncate): EINVAL if not open for writing, not a regular file, or size
// is negative.
func (f *File) Truncate(size int64) error {
	if f.opath {
		return unix.EBADF
	}
	if !f.Writable() || f.typ != unix.S_IFREG || size < 0 {
		return unix.EINVAL
	}
	now := Now()
	return f.ino.SetAttr(&SetAttr{Mask: SetSize | SetMtime | SetCtime, Size: size, Mtime: now, Ctime: now})
}

// Sync flushes the file (fsync, fdatasync): EINVAL on a stream without
// a Syncer, nil for files with nothing to flush.
func (f *File) Sync() error {
	if f.opath {
		return unix.EBADF
	}
	if s, ok := f.ops.(Syncer); ok {
		return s.Sync(f)
	}
	if f.stream {
		return unix.EINVAL
	}
	return nil
}

// Ioctl performs ioctl(2) request cmd with argument arg: ENOTTY unless the
// FileOps implement Ioctler. The generic requests (FIOCLEX, FIONBIO,
// FIOASYNC) are the system-call layer's.
func (f *File) Ioctl(ctx *Ctx, cmd uint32, arg uintptr) (uintptr, error) {
	if f.opath {
		return 0, unix.EBADF
	}
	if i, ok := f.ops.(Ioctler); ok {
		return i.Ioctl(f, ctx, cmd, arg)
	}
	return 0, unix.ENOTTY
}

// Pollable reports whether the file has a wait queue. Files without one
// (regular files, directories) are always ready for poll and select, and
// epoll_ctl refuses them with EPERM.
func (f *File) Pollable() bool {
	_, ok := f.ops.(waiter.Waitable)
	return ok && !f.opath
}

// Readiness returns the events of mask that hold now, plus EventErr and
// EventHUp when they hold (poll(2)). Files without a wait queue are
// readable and writable; O_PATH files report EventNVal, as Linux's poll
// does for them.
func (f *File) Readiness(mask waiter.EventMask) waiter.EventMask {
	if f.opath {
		return waiter.EventNVal
	}
	if w, ok := f.ops.(waiter.Waitable); ok {
		return w.Readiness(mask)
	}
	return defaultReady & mask
}

// EventRegister registers e on the file's wait queue (nothing happens for
// files without one).
func (f *File) EventRegister(e *waiter.Entry) {
	if w, ok := f.ops.(waiter.Waitable); ok {
		w.EventRegister(e)
	}
}

// EventUnregister removes e from the file's wait queue.
func (f *File) EventUnregister(e *waiter.Entry) {
	if w, ok := f.ops.(waiter.Waitable); ok {
		w.EventUnregister(e)
	}
}

// OpenPending reports whether a blocking open of this file still waits
// for something (a FIFO for its other side). The system-call layer checks
// it after Namespace.Open and, when true, waits with WaitOpen before
// returning the descriptor; if interrupted it closes the File.
func (f *File) OpenPending() bool {
	p, ok := f.ops.(PendingOpener)
	return ok && p.OpenPending()
}

// WaitOpen waits until OpenPending is false, or cancel is closed (then it
// returns EINTR; the caller closes the File).
func (f *File) WaitOpen(cancel <-chan struct{}) error {
	_, err := waiter.Retry(f, waiter.EventOpen|waiter.EventIn|waiter.EventOut, cancel, func() (struct{}, error) {
		if f.OpenPending() {
			return struct{}{}, unix.EAGAIN
		}
		return struct{}{}, nil
	})
	return err
}

// Path returns the path of the file as /proc/self/fd shows it: the path
// relative to ctx's root, with " (deleted)" appended if the name it was
// opened by is gone; the name of an anonymous file. A file renamed to
// another directory after opening is reported as deleted.
func (f *File) Path(ctx *Ctx) string {
	if f.mnt == nil {
		return f.name
	}
	if f.typ == unix.S_IFDIR || f.dir.ino == nil {
		p, err := f.mnt.ns.Path(ctx, f.Loc())
		if err != nil {
			if st, e := f.ino.Stat(); e == nil && st.Nlink == 0 {
				return "/ (deleted)"
			}
			return "/"
		}
		return p
	}
	f.nameMu.Lock()
	dir, name := f.dir, f.name
	f.nameMu.Unlock()
	dp, err := f.mnt.ns.Path(ctx, dir)
	if err != nil {
		return name + " (deleted)"
	}
	d := dir.ino.(DirInode)
	deleted := false
	if st, err := f.ino.Stat(); err == nil && st.Nlink == 0 {
		deleted = true
	} else if c, err := d.Lookup(ctx, name); err != nil || f.mnt.ns.down(Loc{mnt: dir.mnt, ino: c}) != f.Loc() {
		// Renamed within the directory? Look for it.
		deleted = true
		if n, ok := findName(ctx, d, f.ino); ok {
			name, deleted = n, false
			f.nameMu.Lock()
			f.name = n
			f.nameMu.Unlock()
		}
	}
	p := joinPath(dp, name)
	if deleted {
		p += " (deleted)"
	}
	return p
}

// joinPath joins a directory path and a name.
func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
