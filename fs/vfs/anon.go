package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// anonMinor numbers the anonymous devices (major 0), as Linux's
// get_anon_bdev does for in-memory file systems.
var anonMinor atomic.Uint32

// NewDev returns a new anonymous device number (major 0) for the Dev of a
// file system instance's inodes.
func NewDev() uint64 { return unix.Mkdev(0, anonMinor.Add(1)) }

// anonDev and anonIno number anonymous inodes.
var (
	anonDev = NewDev()
	anonIno atomic.Uint64
)

// AnonInode is a free-standing inode for anonymous files (pipes, eventfds,
// sockets): it only holds attributes. SetAttr stores what it is given.
type AnonInode struct {
	mu sync.Mutex
	st Stat
}

// NewAnonInode returns an inode of the given mode (type and permissions)
// and owner, with a new inode number on the anonymous device, link count 1
// and all times now.
func NewAnonInode(mode, uid, gid uint32) *AnonInode {
	now := Now()
	return &AnonInode{st: Stat{
		Dev: anonDev, Ino: anonIno.Add(1), Mode: mode, Nlink: 1, UID: uid, GID: gid,
		Blksize: 4096, Atime: now, Mtime: now, Ctime: now,
	}}
}

// Stat implements Inode.
func (a *AnonInode) Stat() (Stat, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st, nil
}

// SetAttr implements Inode. Sizes cannot be changed (EINVAL).
func (a *AnonInode) SetAttr(sa *SetAttr) error {
	if sa.Mask&SetSize != 0 {
		return unix.EINVAL
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ApplyAttr(&a.st, sa)
	return nil
}

// Touch sets the access time (atime), or the modification and change
// times (mtime), to now; pipes call it on reads and writes.
func (a *AnonInode) Touch(atime, mtime bool) {
	now := Now()
	a.mu.Lock()
	if atime {
		a.st.Atime = now
	}
	if mtime {
		a.st.Mtime, a.st.Ctime = now, now
	}
	a.mu.Unlock()
}

// ApplyAttr applies the fields of sa other than the size to st, setting
// the change time as SetAttr describes. File systems may use it.
func ApplyAttr(st *Stat, sa *SetAttr) {
	if sa.Mask&SetMode != 0 {
		st.Mode = st.Mode&unix.S_IFMT | sa.Mode&0o7777
	}
	if sa.Mask&SetUID != 0 {
		st.UID = sa.UID
	}
	if sa.Mask&SetGID != 0 {
		st.GID = sa.GID
	}
	if sa.Mask&SetAtime != 0 {
		st.Atime = sa.Atime
	}
	if sa.Mask&SetMtime != 0 {
		st.Mtime = sa.Mtime
	}
	if sa.Mask&SetCtime != 0 {
		st.Ctime = sa.Ctime
	} else {
		st.Ctime = Now()
	}
}
