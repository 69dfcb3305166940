package proc

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/fs/vfs"
)

// Paths: open, stat, directories, links, permissions, times, the working
// directory, mounts. Each call resolves its path from the working
// directory or a directory descriptor (t.at) and asks the namespace.

func init() {
	reg(unix.SYS_OPEN, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.openat(unix.AT_FDCWD, a[0], int(a[1]), uint32(a[2]))
	})
	reg(unix.SYS_OPENAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.openat(int32(a[0]), a[1], int(a[2]), uint32(a[3]))
	})
	reg(unix.SYS_CREAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.openat(unix.AT_FDCWD, a[0], unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(a[1]))
	})
	reg(unix.SYS_STAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fstatat(unix.AT_FDCWD, a[0], a[1], 0)
	})
	reg(unix.SYS_LSTAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fstatat(unix.AT_FDCWD, a[0], a[1], unix.AT_SYMLINK_NOFOLLOW)
	})
	reg(unix.SYS_FSTAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, err := t.p.fds.getPath(int32(a[0]), true)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return 0, t.p.mm.CopyOut(a[1], statBytes(&st))
	})
	reg(unix.SYS_NEWFSTATAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fstatat(int32(a[0]), a[1], a[2], int(a[3]))
	})
	reg(unix.SYS_STATX, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.statx(int32(a[0]), a[1], int(a[2]), uint32(a[3]), a[4])
	})
	reg(unix.SYS_ACCESS, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.faccessat(unix.AT_FDCWD, a[0], uint32(a[1]), 0)
	})
	reg(unix.SYS_FACCESSAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.faccessat(int32(a[0]), a[1], uint32(a[2]), 0)
	})
	reg(unix.SYS_FACCESSAT2, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.faccessat(int32(a[0]), a[1], uint32(a[2]), int(a[3]))
	})
	reg(unix.SYS_MKDIR, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.mkdirat(unix.AT_FDCWD, a[0], uint32(a[1]))
	})
	reg(unix.SYS_MKDIRAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.mkdirat(int32(a[0]), a[1], uint32(a[2]))
	})
	reg(unix.SYS_MKNOD, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.mknodat(unix.AT_FDCWD, a[0], uint32(a[1]), uint32(a[2]))
	})
	reg(unix.SYS_MKNODAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.mknodat(int32(a[0]), a[1], uint32(a[2]), uint32(a[3]))
	})
	reg(unix.SYS_UNLINK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.unlinkat(unix.AT_FDCWD, a[0], 0)
	})
	reg(unix.SYS_RMDIR, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.unlinkat(unix.AT_FDCWD, a[0], unix.AT_REMOVEDIR)
	})
	reg(unix.SYS_UNLINKAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.unlinkat(int32(a[0]), a[1], int(a[2]))
	})
	reg(unix.SYS_RENAME, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.renameat(unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
	})
	reg(unix.SYS_RENAMEAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.renameat(int32(a[0]), a[1], int32(a[2]), a[3], 0)
	})
	reg(unix.SYS_RENAMEAT2, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.renameat(int32(a[0]), a[1], int32(a[2]), a[3], uint32(a[4]))
	})
	reg(unix.SYS_LINK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.linkat(unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
	})
	reg(unix.SYS_LINKAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.linkat(int32(a[0]), a[1], int32(a[2]), a[3], int(a[4]))
	})
	reg(unix.SYS_SYMLINK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.symlinkat(a[0], unix.AT_FDCWD, a[1])
	})
	reg(unix.SYS_SYMLINKAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.symlinkat(a[0], int32(a[1]), a[2])
	})
	reg(unix.SYS_READLINK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.readlinkat(unix.AT_FDCWD, a[0], a[1], a[2])
	})
	reg(unix.SYS_READLINKAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.readlinkat(int32(a[0]), a[1], a[2], a[3])
	})
	reg(unix.SYS_CHMOD, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fchmodat(unix.AT_FDCWD, a[0], uint32(a[1]), 0)
	})
	reg(unix.SYS_FCHMODAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fchmodat(int32(a[0]), a[1], uint32(a[2]), 0)
	})
	reg(unix.SYS_FCHMODAT2, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fchmodat(int32(a[0]), a[1], uint32(a[2]), int(a[3]))
	})
	reg(unix.SYS_FCHMOD, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.onFD(int32(a[0]), func(ctx *vfs.Ctx, at vfs.Loc) error {
			return t.p.node.NS.Chmod(ctx, at, "", uint32(a[1])&0o7777, unix.AT_EMPTY_PATH)
		})
	})
	reg(unix.SYS_CHOWN, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fchownat(unix.AT_FDCWD, a[0], uint32(a[1]), uint32(a[2]), 0)
	})
	reg(unix.SYS_LCHOWN, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fchownat(unix.AT_FDCWD, a[0], uint32(a[1]), uint32(a[2]), unix.AT_SYMLINK_NOFOLLOW)
	})
	reg(unix.SYS_FCHOWNAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.fchownat(int32(a[0]), a[1], uint32(a[2]), uint32(a[3]), int(a[4]))
	})
	reg(unix.SYS_FCHOWN, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.onFD(int32(a[0]), func(ctx *vfs.Ctx, at vfs.Loc) error {
			return t.p.node.NS.Chown(ctx, at, "", uint32(a[1]), uint32(a[2]), unix.AT_EMPTY_PATH)
		})
	})
	reg(unix.SYS_UTIMENSAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.utimensat(int32(a[0]), a[1], a[2], int(a[3]))
	})
	reg(unix.SYS_UTIMES, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.utimes(unix.AT_FDCWD, a[0], a[1])
	})
	reg(unix.SYS_FUTIMESAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.utimes(int32(a[0]), a[1], a[2])
	})
	reg(unix.SYS_UTIME, func(t *Thread, a *[6]uint64) (uint64, error) {
		times := [2]vfs.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
		if a[1] != 0 {
			var b [16]byte
			if err := t.p.mm.CopyIn(a[1], b[:]); err != nil {
				return 0, err
			}
			times[0].Sec = int64(binary.LittleEndian.Uint64(b[0:]))
			times[1].Sec = int64(binary.LittleEndian.Uint64(b[8:]))
		}
		return 0, t.setTimes(unix.AT_FDCWD, a[0], times, 0)
	})
	reg(unix.SYS_TRUNCATE, func(t *Thread, a *[6]uint64) (uint64, error) {
		at, p, err := t.atPath(unix.AT_FDCWD, a[0], 0)
		if err != nil {
			return 0, err
		}
		if int64(a[1]) < 0 {
			return 0, syscall.EINVAL
		}
		return 0, t.p.node.NS.Truncate(t.ctx(), at, p, int64(a[1]))
	})
	reg(unix.SYS_GETCWD, func(t *Thread, a *[6]uint64) (uint64, error) {
		ctx := t.ctx()
		t.p.mu.Lock()
		cwd := t.p.cwd
		t.p.mu.Unlock()
		s, err := t.p.node.NS.Path(ctx, cwd)
		if err != nil {
			return 0, err
		}
		if uint64(len(s))+1 > a[1] {
			return 0, syscall.ERANGE
		}
		return uint64(len(s) + 1), t.p.mm.CopyOut(a[0], append([]byte(s), 0))
	})
	reg(unix.SYS_CHDIR, func(t *Thread, a *[6]uint64) (uint64, error) {
		at, p, err := t.atPath(unix.AT_FDCWD, a[0], 0)
		if err != nil {
			return 0, err
		}
		l, err := t.p.node.NS.LookupDir(t.ctx(), at, p, 0)
		if err != nil {
			return 0, err
		}
		t.p.mu.Lock()
		t.p.cwd = l
		t.p.mu.Unlock()
		return 0, nil
	})
	reg(unix.SYS_FCHDIR, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.onFD(int32(a[0]), func(ctx *vfs.Ctx, at vfs.Loc) error {
			l, err := t.p.node.NS.LookupDir(ctx, at, "", unix.AT_EMPTY_PATH)
			if err != nil {
				return err
			}
			t.p.mu.Lock()
			t.p.cwd = l
			t.p.mu.Unlock()
			return nil
		})
	})
	reg(unix.SYS_CHROOT, func(t *Thread, a *[6]uint64) (uint64, error) {
		at, p, err := t.atPath(unix.AT_FDCWD, a[0], 0)
		if err != nil {
			return 0, err
		}
		ctx := t.ctx()
		l, err := t.p.node.NS.LookupDir(ctx, at, p, 0)
		if err != nil {
			return 0, err
		}
		if !t.privileged() {
			return 0, syscall.EPERM
		}
		t.p.mu.Lock()
		t.p.root = l
		t.p.mu.Unlock()
		return 0, nil
	})
	reg(unix.SYS_STATFS, func(t *Thread, a *[6]uint64) (uint64, error) {
		at, p, err := t.atPath(unix.AT_FDCWD, a[0], 0)
		if err != nil {
			return 0, err
		}
		st, err := t.p.node.NS.Statfs(t.ctx(), at, p)
		if err != nil {
			return 0, err
		}
		return 0, t.p.mm.CopyOut(a[1], statfsBytes(&st))
	})
	reg(unix.SYS_FSTATFS, func(t *Thread, a *[6]uint64) (uint64, error) {
		f, err := t.p.fds.getPath(int32(a[0]), true)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		st, err := f.Statfs()
		if err != nil {
			return 0, err
		}
		return 0, t.p.mm.CopyOut(a[1], statfsBytes(&st))
	})
	reg(unix.SYS_MOUNT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.mount(a[0], a[1], a[2], uint32(a[3]), a[4])
	})
	reg(unix.SYS_UMOUNT2, func(t *Thread, a *[6]uint64) (uint64, error) {
		if !t.privileged() {
			return 0, syscall.EPERM
		}
		at, p, err := t.atPath(unix.AT_FDCWD, a[0], 0)
		if err != nil {
			return 0, err
		}
		return 0, t.p.node.NS.Unmount(t.ctx(), at, p, int(a[1]))
	})
}

// privileged reports whether the caller is the superuser (effective UID
// 0: dunix has no finer capabilities yet).
func (t *Thread) privileged() bool {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	return t.p.cred.EUID == 0
}

// onFD runs op on the location of descriptor fd (O_PATH allowed).
func (t *Thread) onFD(fd int32, op func(ctx *vfs.Ctx, at vfs.Loc) error) error {
	f, err := t.p.fds.getPath(fd, true)
	if err != nil {
		return err
	}
	defer f.Close()
	return op(t.ctx(), f.Loc())
}

// openFlags are the open(2) flags Linux accepts (others are ignored, as
// Linux ignores unknown bits).
const openFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_APPEND |
	unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | unix.O_LARGEFILE | unix.O_DIRECTORY |
	unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_SYNC | unix.O_PATH | unix.O_TMPFILE

func (t *Thread) openat(dirfd int32, pathp uint64, flags int, mode uint32) (uint64, error) {
	at, p, err := t.atPath(dirfd, pathp, 0)
	if err != nil {
		return 0, err
	}
	flags &= openFlags
	t.p.mu.Lock()
	umask := t.p.umask
	t.p.mu.Unlock()
	mode = mode & 0o7777 &^ umask
	f, err := t.p.node.NS.Open(t.ctx(), at, p, flags&^unix.O_CLOEXEC, mode)
	if err != nil {
		return 0, err
	}
	if f.OpenPending() {
		if err := f.WaitOpen(t.wake); err != nil {
			f.Close()
			if t.p.exiting.Load() {
				return 0, syscall.EINTR
			}
			return 0, errRestart
		}
	}
	fd, err := t.p.fds.install(f, 0, flags&unix.O_CLOEXEC != 0)
	return uint64(fd), err
}

// atStatxSyncType is the mask of statx's AT_STATX_* sync flags.
const atStatxSyncType = 0x6000

// statFlags are the AT_* flags of fstatat and statx.
const statFlags = unix.AT_SYMLINK_NOFOLLOW | unix.AT_EMPTY_PATH | unix.AT_NO_AUTOMOUNT | atStatxSyncType

func (t *Thread) stat(dirfd int32, pathp uint64, flags int) (vfs.Stat, error) {
	if flags&^statFlags != 0 {
		return vfs.Stat{}, syscall.EINVAL
	}
	at, p, err := t.atPath(dirfd, pathp, flags)
	if err != nil {
		return vfs.Stat{}, err
	}
	if p == "" && dirfd == unix.AT_FDCWD {
		t.p.mu.Lock()
		at = t.p.cwd
		t.p.mu.Unlock()
	}
	return t.p.node.NS.Stat(t.ctx(), at, p, flags&^atStatxSyncType)
}

func (t *Thread) fstatat(dirfd int32, pathp, buf uint64, flags int) error {
	st, err := t.stat(dirfd, pathp, flags)
	if err != nil {
		return err
	}
	return t.p.mm.CopyOut(buf, statBytes(&st))
}

// statBytes is Linux's x86-64 struct stat.
func statBytes(st *vfs.Stat) []byte {
	b := make([]byte, 144)
	le := binary.LittleEndian
	le.PutUint64(b[0:], st.Dev)
	le.PutUint64(b[8:], st.Ino)
	le.PutUint64(b[16:], uint64(st.Nlink))
	le.PutUint32(b[24:], st.Mode)
	le.PutUint32(b[28:], st.UID)
	le.PutUint32(b[32:], st.GID)
	le.PutUint64(b[40:], st.Rdev)
	le.PutUint64(b[48:], uint64(st.Size))
	le.PutUint64(b[56:], uint64(st.Blksize))
	le.PutUint64(b[64:], uint64(st.Blocks))
	for i, ts := range [3]vfs.Timespec{st.Atime, st.Mtime, st.Ctime} {
		le.PutUint64(b[72+16*i:], uint64(ts.Sec))
		le.PutUint64(b[80+16*i:], uint64(ts.Nsec))
	}
	return b
}

func (t *Thread) statx(dirfd int32, pathp uint64, flags int, mask uint32, buf uint64) error {
	if mask&unix.STATX__RESERVED != 0 {
		return syscall.EINVAL
	}
	if flags&atStatxSyncType == atStatxSyncType {
		return syscall.EINVAL
	}
	st, err := t.stat(dirfd, pathp, flags)
	if err != nil {
		return err
	}
	b := make([]byte, 256)
	le := binary.LittleEndian
	got := uint32(unix.STATX_BASIC_STATS)
	if st.Btime != (vfs.Timespec{}) {
		got |= unix.STATX_BTIME
	}
	le.PutUint32(b[0:], got)
	le.PutUint32(b[4:], uint32(st.Blksize))
	le.PutUint32(b[16:], st.Nlink)
	le.PutUint32(b[20:], st.UID)
	le.PutUint32(b[24:], st.GID)
	le.PutUint16(b[28:], uint16(st.Mode))
	le.PutUint64(b[32:], st.Ino)
	le.PutUint64(b[40:], uint64(st.Size))
	le.PutUint64(b[48:], uint64(st.Blocks))
	for i, ts := range [4]vfs.Timespec{st.Atime, st.Btime, st.Ctime, st.Mtime} {
		le.PutUint64(b[64+16*i:], uint64(ts.Sec))
		le.PutUint32(b[72+16*i:], uint32(ts.Nsec))
	}
	le.PutUint32(b[128:], unix.Major(st.Rdev))
	le.PutUint32(b[132:], unix.Minor(st.Rdev))
	le.PutUint32(b[136:], unix.Major(st.Dev))
	le.PutUint32(b[140:], unix.Minor(st.Dev))
	return t.p.mm.CopyOut(buf, b)
}

// statfsBytes is Linux's x86-64 struct statfs.
func statfsBytes(st *vfs.Statfs) []byte {
	b := make([]byte, 120)
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(st.Type))
	le.PutUint64(b[8:], uint64(st.Bsize))
	le.PutUint64(b[16:], st.Blocks)
	le.PutUint64(b[24:], st.Bfree)
	le.PutUint64(b[32:], st.Bavail)
	le.PutUint64(b[40:], st.Files)
	le.PutUint64(b[48:], st.Ffree)
	le.PutUint32(b[56:], uint32(st.Fsid[0]))
	le.PutUint32(b[60:], uint32(st.Fsid[1]))
	le.PutUint64(b[64:], uint64(st.Namelen))
	le.PutUint64(b[72:], uint64(st.Frsize))
	le.PutUint64(b[80:], uint64(st.Flags))
	return b
}

func (t *Thread) faccessat(dirfd int32, pathp uint64, mode uint32, flags int) error {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return syscall.EINVAL
	}
	at, p, err := t.atPath(dirfd, pathp, flags)
	if err != nil {
		return err
	}
	ctx := t.realCtx()
	if flags&unix.AT_EACCESS != 0 {
		ctx = t.ctx()
	}
	return t.p.node.NS.Access(ctx, at, p, mode, flags)
}

func (t *Thread) mkdirat(dirfd int32, pathp uint64, mode uint32) error {
	at, p, err := t.atPath(dirfd, pathp, 0)
	if err != nil {
		return err
	}
	t.p.mu.Lock()
	umask := t.p.umask
	t.p.mu.Unlock()
	return t.p.node.NS.Mkdir(t.ctx(), at, p, mode&0o7777&^umask)
}

func (t *Thread) mknodat(dirfd int32, pathp uint64, mode, dev uint32) error {
	at, p, err := t.atPath(dirfd, pathp, 0)
	if err != nil {
		return err
	}
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		if !t.privileged() {
			return syscall.EPERM
		}
	case unix.S_IFDIR:
		return syscall.EPERM
	default:
		return syscall.EINVAL
	}
	t.p.mu.Lock()
	umask := t.p.umask
	t.p.mu.Unlock()
	// dev is Linux's 32-bit encoding (new_decode_dev).
	major := (dev & 0xfff00) >> 8
	minor := dev&0xff | (dev>>12)&0xfff00
	return t.p.node.NS.Mknod(t.ctx(), at, p, typ|mode&0o7777&^umask, unix.Mkdev(major, minor))
}

func (t *Thread) unlinkat(dirfd int32, pathp uint64, flags int) error {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return syscall.EINVAL
	}
	at, p, err := t.atPath(dirfd, pathp, 0)
	if err != nil {
		return err
	}
	if flags&unix.AT_REMOVEDIR != 0 {
		return t.p.node.NS.Rmdir(t.ctx(), at, p)
	}
	return t.p.node.NS.Unlink(t.ctx(), at, p)
}

func (t *Thread) renameat(olddir int32, oldp uint64, newdir int32, newp uint64, flags uint32) error {
	oldAt, op, err := t.atPath(olddir, oldp, 0)
	if err != nil {
		return err
	}
	newAt, np, err := t.atPath(newdir, newp, 0)
	if err != nil {
		return err
	}
	return t.p.node.NS.Rename(t.ctx(), oldAt, op, newAt, np, flags)
}

func (t *Thread) linkat(olddir int32, oldp uint64, newdir int32, newp uint64, flags int) error {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return syscall.EINVAL
	}
	oldAt, op, err := t.atPath(olddir, oldp, flags)
	if err != nil {
		return err
	}
	newAt, np, err := t.atPath(newdir, newp, 0)
	if err != nil {
		return err
	}
	return t.p.node.NS.Link(t.ctx(), oldAt, op, newAt, np, flags)
}

func (t *Thread) symlinkat(targetp uint64, dirfd int32, linkp uint64) error {
	target, err := t.path(targetp, false)
	if err != nil {
		return err
	}
	at, p, err := t.atPath(dirfd, linkp, 0)
	if err != nil {
		return err
	}
	return t.p.node.NS.Symlink(t.ctx(), target, at, p)
}

func (t *Thread) readlinkat(dirfd int32, pathp, buf, size uint64) (uint64, error) {
	if int64(size) <= 0 {
		return 0, syscall.EINVAL
	}
	at, p, err := t.atPath(dirfd, pathp, unix.AT_EMPTY_PATH)
	if err != nil {
		return 0, err
	}
	if p == "" && dirfd == unix.AT_FDCWD {
		return 0, syscall.ENOENT
	}
	s, err := t.p.node.NS.Readlink(t.ctx(), at, p)
	if err != nil {
		return 0, err
	}
	b := []byte(s)
	if uint64(len(b)) > size {
		b = b[:size]
	}
	return uint64(len(b)), t.p.mm.CopyOut(buf, b)
}

func (t *Thread) fchmodat(dirfd int32, pathp uint64, mode uint32, flags int) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return syscall.EINVAL
	}
	at, p, err := t.atPath(dirfd, pathp, flags)
	if err != nil {
		return err
	}
	return t.p.node.NS.Chmod(t.ctx(), at, p, mode&0o7777, flags)
}

func (t *Thread) fchownat(dirfd int32, pathp uint64, uid, gid uint32, flags int) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return syscall.EINVAL
	}
	at, p, err := t.atPath(dirfd, pathp, flags)
	if err != nil {
		return err
	}
	return t.p.node.NS.Chown(t.ctx(), at, p, uid, gid, flags)
}

// utimensat: times is NULL (both now) or two timespecs with UTIME_NOW
// and UTIME_OMIT; a NULL path means dirfd itself (futimens).
func (t *Thread) utimensat(dirfd int32, pathp, timesp uint64, flags int) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return syscall.EINVAL
	}
	times := [2]vfs.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	if timesp != 0 {
		var b [32]byte
		if err := t.p.mm.CopyIn(timesp, b[:]); err != nil {
			return err
		}
		for i := range times {
			times[i].Sec = int64(binary.LittleEndian.Uint64(b[16*i:]))
			times[i].Nsec = int64(binary.LittleEndian.Uint64(b[16*i+8:]))
			if n := times[i].Nsec; n != unix.UTIME_NOW && n != unix.UTIME_OMIT && (n < 0 || n >= 1e9) {
				return syscall.EINVAL
			}
		}
	}
	if pathp == 0 {
		if dirfd == unix.AT_FDCWD {
			return syscall.EFAULT
		}
		return t.onFD(dirfd, func(ctx *vfs.Ctx, at vfs.Loc) error {
			return t.p.node.NS.Utimes(ctx, at, "", times[0], times[1], unix.AT_EMPTY_PATH)
		})
	}
	return t.setTimes(dirfd, pathp, times, flags)
}

func (t *Thread) setTimes(dirfd int32, pathp uint64, times [2]vfs.Timespec, flags int) error {
	at, p, err := t.atPath(dirfd, pathp, flags)
	if err != nil {
		return err
	}
	return t.p.node.NS.Utimes(t.ctx(), at, p, times[0], times[1], flags)
}

// utimes and futimesat take two struct timevals (or NULL: now).
func (t *Thread) utimes(dirfd int32, pathp, tvp uint64) error {
	times := [2]vfs.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	if tvp != 0 {
		var b [32]byte
		if err := t.p.mm.CopyIn(tvp, b[:]); err != nil {
			return err
		}
		for i := range times {
			us := int64(binary.LittleEndian.Uint64(b[16*i+8:]))
			if us < 0 || us >= 1e6 {
				return syscall.EINVAL
			}
			times[i] = vfs.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[16*i:])), Nsec: us * 1000}
		}
	}
	return t.setTimes(dirfd, pathp, times, 0)
}

// mount(2): new file systems of the types the node knows (Node.FSTypes),
// bind mounts and remounts. Root only.
func (t *Thread) mount(srcp, targetp, typep uint64, flags uint32, datap uint64) error {
	if !t.privileged() {
		return syscall.EPERM
	}
	at, target, err := t.atPath(unix.AT_FDCWD, targetp, 0)
	if err != nil {
		return err
	}
	ns := t.p.node.NS
	ctx := t.ctx()
	const keep = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS |
		unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_LAZYTIME
	switch {
	case flags&unix.MS_REMOUNT != 0:
		return ns.Remount(ctx, at, target, flags&keep)
	case flags&unix.MS_BIND != 0:
		if flags&unix.MS_REC != 0 {
			t.enosysFeature("recursive bind mounts")
			return syscall.EINVAL
		}
		srcAt, src, err := t.atPath(unix.AT_FDCWD, srcp, 0)
		if err != nil {
			return err
		}
		return ns.Bind(ctx, srcAt, src, at, target, flags&keep)
	case flags&(unix.MS_SHARED|unix.MS_PRIVATE|unix.MS_SLAVE|unix.MS_UNBINDABLE) != 0:
		// Propagation types: every mount is private, which is what a
		// single node's namespace has.
		if flags&(unix.MS_SHARED|unix.MS_SLAVE) != 0 {
			t.enosysFeature("shared mount propagation")
			return syscall.EINVAL
		}
		_, err := ns.Lookup(ctx, at, target, 0)
		return err
	case flags&unix.MS_MOVE != 0:
		t.enosysFeature("MS_MOVE mounts")
		return syscall.EINVAL
	}
	typ, err := t.p.mm.CopyInString(typep, 256)
	if err != nil {
		return err
	}
	var src, data string
	if srcp != 0 {
		if src, err = t.p.mm.CopyInString(srcp, vfs.PathMax); err != nil {
			return err
		}
	}
	if datap != 0 {
		if data, err = t.p.mm.CopyInString(datap, 4096); err != nil {
			return err
		}
	}
	mk := t.p.node.FSTypes[typ]
	if mk == nil {
		return syscall.ENODEV
	}
	fs, err := mk(src, data)
	if err != nil {
		return err
	}
	if src == "" {
		src = typ
	}
	return ns.Mount(ctx, at, target, fs, vfs.MountOptions{Flags: flags & keep, Source: src, Type: typ, Data: data})
}
