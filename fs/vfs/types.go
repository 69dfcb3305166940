package vfs

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Limits of path names, as Linux's.
const (
	// NameMax is the longest file name (a path component), in bytes.
	NameMax = 255
	// PathMax is the size of the longest path including its terminating
	// NUL: a path of PathMax bytes or more is ENAMETOOLONG.
	PathMax = 4096
	// MaxSymlinks is how many symbolic links one path walk follows before
	// failing with ELOOP.
	MaxSymlinks = 40
)

// Permission request bits for Cred.Check, as Linux's MAY_* values.
const (
	MayExec  = 1
	MayWrite = 2
	MayRead  = 4
)

// Timespec is a time in seconds and nanoseconds since the Unix epoch.
type Timespec struct {
	Sec  int64
	Nsec int64
}

// Now returns the current time.
func Now() Timespec { return TimespecOf(time.Now()) }

// TimespecOf converts a time.Time.
func TimespecOf(t time.Time) Timespec {
	return Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// Time converts t to a time.Time.
func (t Timespec) Time() time.Time { return time.Unix(t.Sec, t.Nsec) }

// Stat holds the attributes of an inode, in the units of Linux's struct
// stat and statx. The system-call layer converts it.
type Stat struct {
	Dev     uint64 // device of the file system (unix.Mkdev encoding)
	Ino     uint64 // inode number, unique within Dev
	Mode    uint32 // file type (unix.S_IFMT bits) and permission bits (07777)
	Nlink   uint32 // number of hard links
	UID     uint32 // owner
	GID     uint32 // group
	Rdev    uint64 // device numbers of a device node (unix.Mkdev encoding)
	Size    int64  // bytes (regular files, symbolic links), or as the file system says
	Blksize int64  // preferred I/O size
	Blocks  int64  // 512-byte blocks allocated
	Atime   Timespec
	Mtime   Timespec
	Ctime   Timespec
	Btime   Timespec // creation time; zero when unknown
}

// Type returns the file type bits of s.Mode.
func (s *Stat) Type() uint32 { return s.Mode & unix.S_IFMT }

// IsDir reports whether s describes a directory.
func (s *Stat) IsDir() bool { return s.Type() == unix.S_IFDIR }

// Bits of SetAttr.Mask.
const (
	SetMode  = 1 << iota // change the permission bits to SetAttr.Mode
	SetUID               // change the owner
	SetGID               // change the group
	SetSize              // change the size of a regular file
	SetAtime             // change the access time
	SetMtime             // change the modification time
	SetCtime             // set the change time (else the file system sets it to now)
)

// SetAttr describes an attribute change. The VFS has checked permissions
// and resolved UTIME_NOW to a time; the file system applies exactly the
// fields selected by Mask, and sets the change time to now (or to Ctime
// when SetCtime is given).
type SetAttr struct {
	Mask  uint32
	Mode  uint32 // permission bits (07777) only
	UID   uint32
	GID   uint32
	Size  int64
	Atime Timespec
	Mtime Timespec
	Ctime Timespec
}

// CreateArgs describes a new inode for DirInode.Create.
type CreateArgs struct {
	Mode   uint32 // file type (S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK) and permission bits
	UID    uint32 // owner
	GID    uint32 // group
	Rdev   uint64 // device numbers (device nodes)
	Target string // target (symbolic links)
}

// Dirent is one directory entry, as getdents64 reports it.
type Dirent struct {
	Name string
	Ino  uint64
	Type uint8 // DT_* value: DirentType(mode)
	// Off is the position just after this entry: reading the directory
	// from Off continues with the next entry.
	Off int64
}

// DirentType returns the DT_* value (d_type) for a file mode.
func DirentType(mode uint32) uint8 { return uint8(mode >> 12 & 0xf) }

// Statfs holds file system statistics, as Linux's struct statfs.
type Statfs struct {
	Type    int64  // magic number, e.g. 0x01021994 (TMPFS_MAGIC)
	Bsize   int64  // block size
	Blocks  uint64 // total blocks
	Bfree   uint64 // free blocks
	Bavail  uint64 // free blocks for unprivileged users
	Files   uint64 // total inodes
	Ffree   uint64 // free inodes
	Fsid    [2]int32
	Namelen int64 // longest name
	Frsize  int64 // fragment size
	Flags   int64 // ST_* mount flags (filled by the VFS)
}

// Inode is a file of a file system: a regular file, a directory, a
// symbolic link, a device node, a FIFO or a socket. File systems implement
// it together with DirInode (directories), SymlinkInode (symbolic links) and
// Opener (regular files).
//
// Values must be comparable and identify the file: the VFS compares them
// with == and uses them as map keys (mount points), so they are pointers,
// and one file is always the same value.
type Inode interface {
	// Stat returns the inode's attributes.
	Stat() (Stat, error)
	// SetAttr changes attributes; see SetAttr. Permissions were checked.
	SetAttr(a *SetAttr) error
}

// DirInode is a directory.
//
// Names given to its methods are never "", ".", or longer than NameMax,
// and contain no "/". Only Lookup sees "..".
type DirInode interface {
	Inode
	// Lookup returns the inode named name, or ENOENT. Lookup("..")
	// returns the parent directory; the root of the file system is its
	// own parent. ctx is the caller (a procfs resolves "self" with it).
	Lookup(ctx *Ctx, name string) (Inode, error)
	// Create makes a new inode named name as described by a: EEXIST if
	// the name exists, ENOENT if this directory was removed, ENOSPC when
	// the file system is full.
	Create(name string, a *CreateArgs) (Inode, error)
	// Link adds name as a hard link to target, an inode of the same file
	// system that is not a directory: EEXIST, ENOENT (this directory or
	// target was removed), EMLINK, EXDEV (another file system).
	Link(name string, target Inode) error
	// Unlink removes name. With dir it removes an empty directory
	// (ENOTDIR, ENOTEMPTY), without it anything but a directory (EISDIR).
	// check is called first, with the directory locked and the victim as
	// argument; an error from it is returned and nothing is removed.
	Unlink(name string, dir bool, check func(victim Inode) error) error
	// Readdir calls emit with the entries at positions after cookie
	// (cookie 0: from the first entry) until emit returns false or there
	// are no more. "." and ".." are not included. Entry positions (Off)
	// are positive, increase along the listing, and stay valid across
	// changes: an entry present for the whole listing is reported once.
	// emit may be called without locks held and must not call into this
	// directory.
	Readdir(ctx *Ctx, cookie int64, emit func(Dirent) bool) error
}

// DirNamer is implemented by directories that know their own name. It
// speeds up Namespace.Path; without it the VFS scans the parent.
type DirNamer interface {
	// Name returns the parent directory and the name of the directory in
	// it, or ENOENT if the directory was removed. The root of a file
	// system returns itself and "".
	Name() (parent DirInode, name string, err error)
}

// SymlinkInode is a symbolic link.
type SymlinkInode interface {
	Inode
	// Readlink returns the link's target.
	Readlink(ctx *Ctx) (string, error)
}

// MagicLink is implemented by symbolic links that lead straight to a
// location instead of through the text of their target: Linux's "magic
// links" of procfs (/proc/self/fd/N, /proc/self/exe, /proc/self/cwd).
// A path walk that follows one goes to the location Follow returns (which
// may lie outside the caller's root, as in Linux); Readlink still gives the
// text readlink(2) shows.
type MagicLink interface {
	SymlinkInode
	Follow(ctx *Ctx) (Loc, error)
}

// Opener is implemented by inodes whose open files the file system
// provides: regular files. (Directories are opened by the VFS, device
// nodes by the DeviceOpener, FIFOs by the FIFOOpener.)
type Opener interface {
	Inode
	// Open returns the behaviour of a new open file description. flags
	// are the open(2) flags; access was checked. O_TRUNC is done by the
	// VFS afterwards, with SetAttr.
	Open(ctx *Ctx, flags int) (FileOps, error)
}

// Filesystem is one instance of a file system, mountable in namespaces.
type Filesystem interface {
	// Root returns the root directory.
	Root() DirInode
	// Statfs returns statistics for statfs(2).
	Statfs() (Statfs, error)
	// Rename moves oldName of oldDir to newName of newDir, both
	// directories of this file system, with the rules of rename(2):
	// replacing a non-directory by a non-directory or an empty directory
	// by a directory (EISDIR, ENOTDIR, ENOTEMPTY otherwise); EINVAL when
	// moving a directory into its own subtree; ENOTEMPTY when the target
	// is an ancestor of the source; nothing happens if both names are
	// the same inode. flags may hold unix.RENAME_NOREPLACE (EEXIST if
	// newName exists) or unix.RENAME_EXCHANGE (swap; ENOENT if newName
	// does not exist). check is called once the inodes are known and the
	// directories locked, with the moved inode and the replaced one (nil
	// if none); an error from it aborts.
	Rename(oldDir DirInode, oldName string, newDir DirInode, newName string, flags uint32, check func(moved, replaced Inode) error) error
}

// ToErrno returns err as a syscall.Errno: itself when it is one (or wraps
// one), EIO otherwise, and 0 for nil.
func ToErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	var e syscall.Errno
	if asErrno(err, &e) {
		return e
	}
	return unix.EIO
}

// asErrno unwraps err looking for a syscall.Errno.
func asErrno(err error, out *syscall.Errno) bool {
	for err != nil {
		if e, ok := err.(syscall.Errno); ok {
			*out = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
