package vfs

import (
	"golang.org/x/sys/unix"
)

// Cred holds the credentials a file access is checked against: the
// file-system user and group IDs and the supplementary groups. UID 0 is
// root, which passes every permission check except that executing a file
// needs at least one execute bit.
type Cred struct {
	UID    uint32
	GID    uint32
	Groups []uint32
}

// IsRoot reports whether c is the superuser.
func (c *Cred) IsRoot() bool { return c.UID == 0 }

// InGroup reports whether gid is c's group or one of its supplementary
// groups.
func (c *Cred) InGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Check returns nil if c may access a file with attributes st as want
// (MayRead|MayWrite|MayExec), and EACCES otherwise. It applies the owner,
// group or other permission bits as Linux's generic_permission does; root
// may do anything except execute a non-directory without any execute bit.
// It does not know about read-only mounts (the Namespace checks those).
func (c *Cred) Check(st *Stat, want uint32) error {
	mode := st.Mode
	if c.UID == 0 {
		if want&MayExec != 0 && mode&unix.S_IFMT != unix.S_IFDIR && mode&0o111 == 0 {
			return unix.EACCES
		}
		return nil
	}
	var bits uint32
	switch {
	case c.UID == st.UID:
		bits = mode >> 6
	case c.InGroup(st.GID):
		bits = mode >> 3
	default:
		bits = mode
	}
	if want&^bits&7 != 0 {
		return unix.EACCES
	}
	return nil
}

// owns reports whether c owns a file with attributes st or is root (the
// CAP_FOWNER test).
func (c *Cred) owns(st *Stat) bool { return c.UID == 0 || c.UID == st.UID }

// UserMemory gives access to the calling process's memory, for ioctl(2)
// arguments. Implemented by the system-call layer.
type UserMemory interface {
	// CopyIn reads len(dst) bytes at user address addr (EFAULT).
	CopyIn(addr uintptr, dst []byte) error
	// CopyOut writes src at user address addr (EFAULT).
	CopyOut(addr uintptr, src []byte) error
}

// Ctx describes who performs an operation.
type Ctx struct {
	// Cred is checked for permissions (the file-system IDs; for access(2)
	// without AT_EACCESS, the real IDs).
	Cred Cred
	// Root is the process's root directory (chroot): absolute paths and
	// ".." stop there. The zero Loc means the namespace's root.
	Root Loc
	// Mem is the caller's memory, for ioctl arguments; may be nil.
	Mem UserMemory
	// Task is opaque to the VFS and passed through to device open
	// functions and ioctls (a terminal needs the opening process).
	Task any
}

// RootCtx returns a Ctx for the kernel itself: root credentials, the
// namespace's root.
func RootCtx() *Ctx { return &Ctx{} }
