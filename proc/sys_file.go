package proc

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// Descriptors and I/O that do not depend on the kind of file.

func init() {
	reg(unix.SYS_READ, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.read(int32(a[0]), a[1], a[2])
	})
	reg(unix.SYS_WRITE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.write(int32(a[0]), a[1], a[2])
	})
	reg(unix.SYS_WRITEV, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.writev(int32(a[0]), a[1], a[2])
	})
	reg(unix.SYS_READV, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.readv(int32(a[0]), a[1], a[2])
	})
	reg(unix.SYS_CLOSE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.fds.remove(int32(a[0]))
	})
	reg(unix.SYS_DUP, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, err := t.p.fds.get(int32(a[0]))
		if err != nil {
			return 0, err
		}
		fd, err := t.p.fds.install(f, 0, false)
		if err != nil {
			f.DecRef()
		}
		return uint64(fd), err
	})
	reg(unix.SYS_DUP2, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[0] == a[1] {
			f, err := t.p.fds.get(int32(a[0]))
			if err != nil {
				return 0, err
			}
			f.DecRef()
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
}

func (t *Thread) dup3(old, nfd int32, flags int) (uint64, error) {
	f, err := t.p.fds.get(old)
	if err != nil {
		return 0, err
	}
	if err := t.p.fds.installAt(f, nfd, flags&unix.O_CLOEXEC != 0); err != nil {
		f.DecRef()
		return 0, err
	}
	return uint64(nfd), nil
}

// maxIO bounds one read or write (Linux's MAX_RW_COUNT).
const maxIO = 0x7ffff000

func (t *Thread) read(fd int32, buf, n uint64) (uint64, error) {
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.flags.Load()&unix.O_ACCMODE == unix.O_WRONLY {
		return 0, syscall.EBADF
	}
	b := make([]byte, min(n, maxIO, 1<<20))
	for {
		k, err := f.ops.Read(b)
		if err == syscall.EAGAIN && f.flags.Load()&unix.O_NONBLOCK == 0 {
			if err := t.waitReadable(f); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		return uint64(k), t.p.mm.CopyOut(buf, b[:k])
	}
}

func (t *Thread) write(fd int32, buf, n uint64) (uint64, error) {
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.flags.Load()&unix.O_ACCMODE == unix.O_RDONLY {
		return 0, syscall.EBADF
	}
	b := make([]byte, min(n, maxIO))
	if err := t.p.mm.CopyIn(buf, b); err != nil {
		return 0, err
	}
	return t.writeFile(f, b)
}

func (t *Thread) writeFile(f *File, b []byte) (uint64, error) {
	done := 0
	for done < len(b) {
		k, err := f.ops.Write(b[done:])
		done += k
		if err == syscall.EAGAIN && f.flags.Load()&unix.O_NONBLOCK == 0 {
			if err := t.waitWritable(f); err != nil {
				if done > 0 {
					return uint64(done), nil
				}
				return 0, err
			}
			continue
		}
		if err == syscall.EPIPE {
			t.signal(SIGPIPE, sigInfo{Code: siKernel})
		}
		if err != nil {
			if done > 0 {
				return uint64(done), nil
			}
			return 0, err
		}
	}
	return uint64(done), nil
}

// iovecs reads a struct iovec array.
func (t *Thread) iovecs(iov, cnt uint64) ([][2]uint64, error) {
	if cnt > 1024 {
		return nil, syscall.EINVAL
	}
	b := make([]byte, 16*cnt)
	if err := t.p.mm.CopyIn(iov, b); err != nil {
		return nil, err
	}
	v := make([][2]uint64, cnt)
	for i := range v {
		v[i] = [2]uint64{binary.LittleEndian.Uint64(b[16*i:]), binary.LittleEndian.Uint64(b[16*i+8:])}
	}
	return v, nil
}

func (t *Thread) writev(fd int32, iov, cnt uint64) (uint64, error) {
	v, err := t.iovecs(iov, cnt)
	if err != nil {
		return 0, err
	}
	var all []byte
	for _, e := range v {
		if e[1] > maxIO || uint64(len(all))+e[1] > maxIO {
			return 0, syscall.EINVAL
		}
		b := make([]byte, e[1])
		if err := t.p.mm.CopyIn(e[0], b); err != nil {
			return 0, err
		}
		all = append(all, b...)
	}
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.flags.Load()&unix.O_ACCMODE == unix.O_RDONLY {
		return 0, syscall.EBADF
	}
	return t.writeFile(f, all)
}

func (t *Thread) readv(fd int32, iov, cnt uint64) (uint64, error) {
	v, err := t.iovecs(iov, cnt)
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, e := range v {
		total += e[1]
	}
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	b := make([]byte, min(total, maxIO, 1<<20))
	var k int
	for {
		k, err = f.ops.Read(b)
		if err == syscall.EAGAIN && f.flags.Load()&unix.O_NONBLOCK == 0 {
			if err := t.waitReadable(f); err != nil {
				return 0, err
			}
			continue
		}
		break
	}
	if err != nil {
		return 0, err
	}
	out := b[:k]
	for _, e := range v {
		if len(out) == 0 {
			break
		}
		m := min(uint64(len(out)), e[1])
		if err := t.p.mm.CopyOut(e[0], out[:m]); err != nil {
			return 0, err
		}
		out = out[m:]
	}
	return uint64(k), nil
}
