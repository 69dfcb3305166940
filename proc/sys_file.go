package proc

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/fs/pipe"
	"dunix/fs/vfs"
	"dunix/fs/waiter"
)

// Descriptors and I/O on open files: read, write and their vector and
// positioned forms, lseek, close, dup, fcntl, ioctl, sendfile,
// getdents, sync, truncate of an open file.

func init() {
	reg(unix.SYS_READ, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.readv(int32(a[0]), []iovec{{a[1], a[2]}}, -1)
	})
	reg(unix.SYS_WRITE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.writev(int32(a[0]), []iovec{{a[1], a[2]}}, -1)
	})
	reg(unix.SYS_PREAD64, func(t *Thread, a *[6]uint64) (uint64, error) {
		if int64(a[3]) < 0 {
			return 0, syscall.EINVAL
		}
		return t.readv(int32(a[0]), []iovec{{a[1], a[2]}}, int64(a[3]))
	})
	reg(unix.SYS_PWRITE64, func(t *Thread, a *[6]uint64) (uint64, error) {
		if int64(a[3]) < 0 {
			return 0, syscall.EINVAL
		}
		return t.writev(int32(a[0]), []iovec{{a[1], a[2]}}, int64(a[3]))
	})
	reg(unix.SYS_READV, func(t *Thread, a *[6]uint64) (uint64, error) {
		v, err := t.iovecs(a[1], a[2])
		if err != nil {
			return 0, err
		}
		return t.readv(int32(a[0]), v, -1)
	})
	reg(unix.SYS_WRITEV, func(t *Thread, a *[6]uint64) (uint64, error) {
		v, err := t.iovecs(a[1], a[2])
		if err != nil {
			return 0, err
		}
		return t.writev(int32(a[0]), v, -1)
	})
	preadv := func(t *Thread, a *[6]uint64) (uint64, error) {
		v, err := t.iovecs(a[1], a[2])
		if err != nil {
			return 0, err
		}
		off := int64(a[3])
		if off < -1 || off == -1 && a[5] == 0 { // preadv: -1 is invalid; preadv2: -1 is the file offset
			return 0, syscall.EINVAL
		}
		return t.readv(int32(a[0]), v, off)
	}
	pwritev := func(t *Thread, a *[6]uint64) (uint64, error) {
		v, err := t.iovecs(a[1], a[2])
		if err != nil {
			return 0, err
		}
		off := int64(a[3])
		if off < -1 || off == -1 && a[5] == 0 {
			return 0, syscall.EINVAL
		}
		return t.writev(int32(a[0]), v, off)
	}
	reg(unix.SYS_PREADV, func(t *Thread, a *[6]uint64) (uint64, error) { a[5] = 0; return preadv(t, a) })
	reg(unix.SYS_PWRITEV, func(t *Thread, a *[6]uint64) (uint64, error) { a[5] = 0; return pwritev(t, a) })
	reg(unix.SYS_PREADV2, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[5]&^uint64(unix.RWF_HIPRI|unix.RWF_NOWAIT) != 0 {
			return 0, syscall.EOPNOTSUPP
		}
		a[5] = 1
		return preadv(t, a)
	})
	reg(unix.SYS_PWRITEV2, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[5]&^uint64(unix.RWF_HIPRI|unix.RWF_DSYNC|unix.RWF_SYNC) != 0 {
			return 0, syscall.EOPNOTSUPP
		}
		a[5] = 1
		return pwritev(t, a)
	})
	reg(unix.SYS_LSEEK, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, err := t.p.fds.get(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		off, err := f.Seek(int64(a[1]), int(a[2]))
		return uint64(off), err
	})
	reg(unix.SYS_CLOSE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.fds.remove(int32(a[0]))
	})
	reg(unix.SYS_CLOSE_RANGE, func(t *Thread, a *[6]uint64) (uint64, error) {
		first, last, flags := uint32(a[0]), uint32(a[1]), a[2]
		if first > last || flags&^uint64(unix.CLOSE_RANGE_CLOEXEC|unix.CLOSE_RANGE_UNSHARE) != 0 {
			return 0, syscall.EINVAL
		}
		t.p.fds.closeRange(first, last, flags&unix.CLOSE_RANGE_CLOEXEC != 0)
		return 0, nil
	})
	reg(unix.SYS_DUP, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, err := t.p.fds.getPath(int32(a[0]), true)
		if err != nil {
			return 0, err
		}
		fd, err := t.p.fds.install(f, 0, false)
		return uint64(fd), err
	})
	reg(unix.SYS_DUP2, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[0] == a[1] {
			f, err := t.p.fds.getPath(int32(a[0]), true)
			if err != nil {
				return 0, err
			}
			f.Close()
			return a[1], nil
		}
		return t.dup3(int32(a[0]), int32(a[1]), 0)
	})
	reg(unix.SYS_DUP3, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[0] == a[1] || a[2]&^unix.O_CLOEXEC != 0 {
			return 0, syscall.EINVAL
		}
		return t.dup3(int32(a[0]), int32(a[1]), int(a[2]))
	})
	reg(unix.SYS_FCNTL, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.fcntl(int32(a[0]), int(a[1]), a[2])
	})
	reg(unix.SYS_IOCTL, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.ioctl(int32(a[0]), uint32(a[1]), a[2])
	})
	reg(unix.SYS_SENDFILE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.sendfile(int32(a[0]), int32(a[1]), a[2], a[3])
	})
	reg(unix.SYS_GETDENTS64, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.getdents(int32(a[0]), a[1], a[2], true)
	})
	reg(unix.SYS_GETDENTS, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.getdents(int32(a[0]), a[1], a[2], false)
	})
	fsync := func(t *Thread, a *[6]uint64) (uint64, error) {
		f, err := t.p.fds.get(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return 0, f.Sync()
	}
	reg(unix.SYS_FSYNC, fsync)
	reg(unix.SYS_FDATASYNC, fsync)
	reg(unix.SYS_SYNCFS, fsync)
	reg(unix.SYS_SYNC_FILE_RANGE, func(t *Thread, a *[6]uint64) (uint64, error) {
		if int64(a[1]) < 0 || int64(a[2]) < 0 || a[3]&^7 != 0 {
			return 0, syscall.EINVAL
		}
		return fsync(t, a)
	})
	reg(unix.SYS_SYNC, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, nil // every file system of the node is in memory: nothing to write back
	})
	reg(unix.SYS_FTRUNCATE, func(t *Thread, a *[6]uint64) (uint64, error) {
		if int64(a[1]) < 0 {
			return 0, syscall.EINVAL
		}
		f, err := t.p.fds.get(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if !f.Writable() {
			return 0, syscall.EINVAL // Linux: EINVAL (or EBADF) for a descriptor not open for writing
		}
		return 0, f.Truncate(int64(a[1]))
	})
	reg(unix.SYS_FADVISE64, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, err := t.p.fds.get(int32(a[0]))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if f.IsStream() {
			return 0, syscall.ESPIPE
		}
		if a[3] > unix.FADV_NOREUSE || int64(a[2]) < 0 {
			return 0, syscall.EINVAL
		}
		return 0, nil // advice only: files are in memory
	})
}

func (t *Thread) dup3(old, nfd int32, flags int) (uint64, error) {
	f, err := t.p.fds.getPath(old, true)
	if err != nil {
		return 0, err
	}
	if err := t.p.fds.installAt(f, nfd, flags&unix.O_CLOEXEC != 0); err != nil {
		return 0, err
	}
	return uint64(nfd), nil
}

// maxIO bounds one read or write (Linux's MAX_RW_COUNT); ioChunk is the
// size of the kernel buffer a transfer goes through.
const (
	maxIO   = 0x7ffff000
	ioChunk = 64 << 10
)

// iovec is one (base, length) pair of readv/writev.
type iovec struct{ base, len uint64 }

// iovecs reads a struct iovec array (EINVAL beyond IOV_MAX or when the
// lengths overflow).
func (t *Thread) iovecs(iov, cnt uint64) ([]iovec, error) {
	if cnt > 1024 {
		return nil, syscall.EINVAL
	}
	b := make([]byte, 16*cnt)
	if err := t.p.mm.CopyIn(iov, b); err != nil {
		return nil, err
	}
	v := make([]iovec, cnt)
	var total uint64
	for i := range v {
		v[i] = iovec{binary.LittleEndian.Uint64(b[16*i:]), binary.LittleEndian.Uint64(b[16*i+8:])}
		if int64(v[i].len) < 0 {
			return nil, syscall.EINVAL
		}
		total += v[i].len
		if int64(total) < 0 {
			return nil, syscall.EINVAL
		}
	}
	return v, nil
}

// userIO walks an iovec list: the user memory a transfer reads or fills.
type userIO struct {
	t    *Thread
	v    []iovec
	left uint64 // bytes still allowed (maxIO)
}

func newUserIO(t *Thread, v []iovec) *userIO {
	u := &userIO{t: t, left: maxIO}
	for _, e := range v {
		if e.len > 0 {
			u.v = append(u.v, e)
		}
	}
	return u
}

// remaining is the number of bytes still to transfer.
func (u *userIO) remaining() uint64 {
	var n uint64
	for _, e := range u.v {
		n += e.len
	}
	return min(n, u.left)
}

// copyOut writes b to the next bytes of the user buffers.
func (u *userIO) copyOut(b []byte) error {
	for len(b) > 0 && len(u.v) > 0 {
		e := &u.v[0]
		n := min(uint64(len(b)), e.len)
		if err := u.t.p.mm.CopyOut(e.base, b[:n]); err != nil {
			return err
		}
		b = b[n:]
		e.base += n
		e.len -= n
		u.left -= n
		if e.len == 0 {
			u.v = u.v[1:]
		}
	}
	return nil
}

// copyIn fills b from the next bytes of the user buffers and returns how
// many it filled.
func (u *userIO) copyIn(b []byte) (int, error) {
	n := 0
	for n < len(b) && len(u.v) > 0 && u.left > 0 {
		e := &u.v[0]
		k := min(uint64(len(b)-n), e.len, u.left)
		if err := u.t.p.mm.CopyIn(e.base, b[n:n+int(k)]); err != nil {
			return n, err
		}
		n += int(k)
		e.base += k
		e.len -= k
		u.left -= k
		if e.len == 0 {
			u.v = u.v[1:]
		}
	}
	return n, nil
}

// readv reads from fd into the buffers of v, at off (>= 0) or at the
// file's offset (off -1).
func (t *Thread) readv(fd int32, v []iovec, off int64) (uint64, error) {
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return t.readFile(f, newUserIO(t, v), off)
}

// scratch returns the thread's transfer buffer, n bytes long (at most
// ioChunk): reused by every read and write of the thread (only its own
// goroutine runs its system calls), so a small read allocates nothing.
func (t *Thread) scratch(n uint64) []byte {
	if uint64(cap(t.ioBuf)) < n {
		t.ioBuf = make([]byte, n)
	}
	return t.ioBuf[:n]
}

// readFile reads from f into u. Only the first read waits; a stream
// returns what one read gives, a file is read until u is full or the end.
func (t *Thread) readFile(f *vfs.File, u *userIO, off int64) (uint64, error) {
	want := u.remaining()
	if !f.Readable() {
		return 0, syscall.EBADF
	}
	if want == 0 {
		return 0, nil
	}
	if tf, ok := f.Ops().(*termFile); ok {
		if err := tf.c.background(t, SIGTTIN, true); err != nil {
			return 0, err
		}
	}
	buf := t.scratch(min(want, ioChunk))
	var done uint64
	for {
		piece := buf[:min(want-done, ioChunk)]
		read := func() (int, error) {
			if off >= 0 {
				return f.Pread(piece, off+int64(done))
			}
			return f.Read(piece)
		}
		var k int
		var err error
		if done == 0 {
			k, err = ioWait(t, f, waiter.ReadableEvents, read)
		} else {
			k, err = read()
		}
		if k > 0 {
			if cerr := u.copyOut(piece[:k]); cerr != nil {
				return done, cerr // the bytes were consumed: Linux also loses them
			}
			done += uint64(k)
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if k < len(piece) || done >= want || f.IsStream() {
			return done, nil
		}
	}
}

// writev writes the buffers of v to fd, at off (>= 0) or at the file's
// offset (off -1).
func (t *Thread) writev(fd int32, v []iovec, off int64) (uint64, error) {
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return t.writeFile(f, newUserIO(t, v), off)
}

// ioSource is what a write takes its bytes from: user buffers (userIO) or
// kernel bytes (sendfile).
type ioSource interface {
	remaining() uint64
	copyIn(b []byte) (int, error)
}

// kernelBytes is an ioSource of bytes already in the kernel.
type kernelBytes struct{ b []byte }

func (k *kernelBytes) remaining() uint64 { return uint64(len(k.b)) }
func (k *kernelBytes) copyIn(b []byte) (int, error) {
	n := copy(b, k.b)
	k.b = k.b[n:]
	return n, nil
}

// writeFile writes u to f. A stream is written until everything is
// (waiting for room), a signal interrupts, or an error; a partial count
// is returned when some bytes went.
func (t *Thread) writeFile(f *vfs.File, u ioSource, off int64) (uint64, error) {
	if !f.Writable() {
		return 0, syscall.EBADF
	}
	if tf, ok := f.Ops().(*termFile); ok && tf.c.TTY.Termios().Lflag&unix.TOSTOP != 0 {
		if err := tf.c.background(t, SIGTTOU, false); err != nil {
			return 0, err
		}
	}
	want := u.remaining()
	buf := t.scratch(min(want, ioChunk))
	var done uint64
	if want == 0 {
		// A zero-length write still checks the file (a regular file
		// says 0; a pipe without readers says EPIPE on Linux only
		// when bytes are written).
		return 0, nil
	}
	for done < want {
		n, err := u.copyIn(buf[:min(want-done, ioChunk)])
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		piece := buf[:n]
		for len(piece) > 0 {
			write := func() (int, error) {
				if off >= 0 {
					return f.Pwrite(piece, off+int64(done))
				}
				return f.Write(piece)
			}
			k, err := ioWait(t, f, waiter.WritableEvents, func() (int, error) {
				k, err := write()
				if k == 0 && err == nil && f.IsStream() {
					return 0, syscall.EAGAIN // a full pipe
				}
				return k, err
			})
			done += uint64(k)
			piece = piece[k:]
			if err == syscall.EPIPE {
				t.signal(SIGPIPE, sigInfo{Signo: SIGPIPE, Code: siUser, PID: t.p.PID})
			}
			if err != nil {
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
			if k == 0 {
				// A file that took nothing: out of space.
				if done > 0 {
					return done, nil
				}
				return 0, syscall.ENOSPC
			}
			if len(piece) > 0 && !f.IsStream() {
				return done, nil // a short write to a file: the rest did not fit
			}
		}
	}
	return done, nil
}

// fcntl implements fcntl(2).
func (t *Thread) fcntl(fd int32, cmd int, arg uint64) (uint64, error) {
	fds := t.p.fds
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		f, err := fds.getPath(fd, true)
		if err != nil {
			return 0, err
		}
		if int64(arg) < 0 || arg >= 1<<31 {
			f.Close()
			return 0, syscall.EINVAL
		}
		n, err := fds.install(f, int32(arg), cmd == unix.F_DUPFD_CLOEXEC)
		return uint64(n), err
	case unix.F_GETFD:
		c, err := fds.cloexec(fd)
		if c {
			return unix.FD_CLOEXEC, err
		}
		return 0, err
	case unix.F_SETFD:
		return 0, fds.setCloexec(fd, arg&unix.FD_CLOEXEC != 0)
	}
	f, err := fds.getPath(fd, cmd == unix.F_GETFL)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	switch cmd {
	case unix.F_GETFL:
		return uint64(f.Flags() | unix.O_LARGEFILE), nil
	case unix.F_SETFL:
		f.SetFlags(int(arg))
		return 0, nil
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		pp, ok := pipe.FromFile(f)
		if !ok {
			return 0, syscall.EBADF
		}
		if cmd == unix.F_GETPIPE_SZ {
			return uint64(pp.Capacity()), nil
		}
		if arg > 1<<31 {
			return 0, syscall.EINVAL
		}
		n, err := pp.SetCapacity(int(arg), t.ctx().Cred.IsRoot())
		return uint64(n), err
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		// Record locks are not implemented yet: say so with ENOLCK
		// ("no locks available") rather than pretend to lock.
		t.enosysFeature("fcntl record locks")
		return 0, syscall.ENOLCK
	case unix.F_GETOWN, unix.F_SETOWN, unix.F_GETOWN_EX, unix.F_SETOWN_EX, unix.F_GETSIG, unix.F_SETSIG,
		unix.F_SETLEASE, unix.F_GETLEASE, unix.F_NOTIFY, unix.F_ADD_SEALS, unix.F_GET_SEALS:
		t.enosysFeature("fcntl signal-driven I/O, leases, seals")
		return 0, syscall.EINVAL
	}
	return 0, syscall.EINVAL
}

// The per-descriptor ioctls (asm-generic/ioctls.h).
const (
	fionbio  = 0x5421
	fionclex = 0x5450
	fioclex  = 0x5451
)

// ioctl implements ioctl(2): the per-descriptor requests here, the rest
// by the file.
func (t *Thread) ioctl(fd int32, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case fioclex:
		return 0, t.p.fds.setCloexec(fd, true)
	case fionclex:
		return 0, t.p.fds.setCloexec(fd, false)
	}
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if cmd == fionbio { // O_NONBLOCK from an int, for any file
		var b [4]byte
		if err := t.p.mm.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		if binary.LittleEndian.Uint32(b[:]) != 0 {
			f.SetFlags(f.Flags() | unix.O_NONBLOCK)
		} else {
			f.SetFlags(f.Flags() &^ unix.O_NONBLOCK)
		}
		return 0, nil
	}
	if r, ok, err := t.ifIoctl(f, cmd, arg); ok {
		return r, err
	}
	r, err := f.Ioctl(t.ctx(), cmd, uintptr(arg))
	return uint64(r), err
}

// sendfile copies up to count bytes from in (at *offp, or its offset) to
// out.
func (t *Thread) sendfile(out, in int32, offp, count uint64) (uint64, error) {
	fin, err := t.p.fds.get(in)
	if err != nil {
		return 0, err
	}
	defer fin.Close()
	fout, err := t.p.fds.get(out)
	if err != nil {
		return 0, err
	}
	defer fout.Close()
	if !fin.Readable() || !fout.Writable() {
		return 0, syscall.EBADF
	}
	if fout.Flags()&unix.O_APPEND != 0 {
		return 0, syscall.EINVAL
	}
	off := int64(-1)
	if offp != 0 {
		v, err := getU64(t.p, offp)
		if err != nil {
			return 0, err
		}
		if off = int64(v); off < 0 {
			return 0, syscall.EINVAL
		}
		if fin.IsStream() {
			return 0, syscall.ESPIPE
		}
	}
	count = min(count, maxIO)
	buf := make([]byte, min(count, ioChunk)) // not t.scratch: writeFile uses that
	var done uint64
	for done < count {
		piece := buf[:min(count-done, ioChunk)]
		read := func() (int, error) {
			if off >= 0 {
				return fin.Pread(piece, off+int64(done))
			}
			return fin.Read(piece)
		}
		var k int
		if done == 0 {
			k, err = ioWait(t, fin, waiter.ReadableEvents, read)
		} else {
			k, err = read()
			if err == syscall.EAGAIN {
				break
			}
		}
		if err != nil || k == 0 {
			break
		}
		w, werr := t.writeFile(fout, &kernelBytes{piece[:k]}, -1)
		done += w
		if werr != nil || w < uint64(k) {
			err = werr
			break
		}
	}
	if offp != 0 {
		if perr := putU64(t.p, offp, uint64(off)+done); perr != nil && done == 0 {
			return 0, perr
		}
	}
	if done == 0 && err != nil {
		return 0, err
	}
	return done, nil
}

// getdents fills buf with directory entries of fd: struct linux_dirent64
// (getdents64) or the old struct linux_dirent. EINVAL if not even one
// entry fits.
func (t *Thread) getdents(fd int32, buf, size uint64, is64 bool) (uint64, error) {
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size = min(size, 1<<20)
	out := make([]byte, 0, min(size, 64<<10))
	tooSmall := false
	err = f.Readdir(t.ctx(), func(d vfs.Dirent) bool {
		var rec []byte
		if is64 {
			n := (19 + len(d.Name) + 1 + 7) &^ 7
			rec = make([]byte, n)
			binary.LittleEndian.PutUint64(rec[0:], d.Ino)
			binary.LittleEndian.PutUint64(rec[8:], uint64(d.Off))
			binary.LittleEndian.PutUint16(rec[16:], uint16(n))
			rec[18] = d.Type
			copy(rec[19:], d.Name)
		} else {
			n := (18 + len(d.Name) + 2 + 7) &^ 7
			rec = make([]byte, n)
			binary.LittleEndian.PutUint64(rec[0:], d.Ino)
			binary.LittleEndian.PutUint64(rec[8:], uint64(d.Off))
			binary.LittleEndian.PutUint16(rec[16:], uint16(n))
			copy(rec[18:], d.Name)
			rec[n-1] = d.Type
		}
		if uint64(len(out)+len(rec)) > size {
			tooSmall = len(out) == 0
			return false
		}
		out = append(out, rec...)
		return true
	})
	if err != nil && len(out) == 0 {
		return 0, err
	}
	if tooSmall {
		return 0, syscall.EINVAL
	}
	return uint64(len(out)), t.p.mm.CopyOut(buf, out)
}
