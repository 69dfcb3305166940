// Package cpio reads and writes cpio archives in the "newc" format (SVR4
// portable ASCII without checksum, magic "070701"), the format of Linux
// initramfs images.
//
// Every entry is a 110-byte ASCII header (the magic and thirteen 8-digit
// hexadecimal fields), the entry's name with a terminating NUL, zero padding
// to a multiple of 4 bytes (counted from the start of the header), then the
// entry's data and zero padding to a multiple of 4 bytes. A regular file's
// data is its contents, a symbolic link's data is its target (without NUL),
// other entries have none. The archive ends with an entry named
// "TRAILER!!!".
//
// The Writer produces deterministic output: the same calls give the same
// bytes. It writes exactly what GNU cpio writes with
// "cpio -o -H newc --reproducible" (inodes renumbered from 0, device
// numbers of the containing file system zero, upper-case hex, archive padded
// to 512 bytes), so archives can be compared byte for byte.
//
// The Reader validates strictly and never allocates by a size read from the
// archive, except for names and symbolic link targets, which are capped at
// MaxNameSize bytes.
package cpio

import (
	"errors"
	"fmt"
)

// Magic is the six-byte magic string at the start of every newc header.
const Magic = "070701"

// Trailer is the name of the entry that ends an archive.
const Trailer = "TRAILER!!!"

// HeaderSize is the size in bytes of a newc header, before the name.
const HeaderSize = 110

// MaxNameSize caps the name size field (the name's length including its
// terminating NUL) and the length of a symbolic link target. It matches
// Linux's PATH_MAX.
const MaxNameSize = 4096

// MaxFileSize is the largest data size the 8-digit size field can hold.
const MaxFileSize = 1<<32 - 1

// File type bits of Header.Mode, as in Linux's st_mode.
const (
	TypeMask    = 0o170000 // mask of the file type bits
	TypeSocket  = 0o140000 // socket
	TypeSymlink = 0o120000 // symbolic link
	TypeReg     = 0o100000 // regular file
	TypeBlock   = 0o060000 // block device
	TypeDir     = 0o040000 // directory
	TypeChar    = 0o020000 // character device
	TypeFifo    = 0o010000 // named pipe
	ModePerm    = 0o007777 // mask of the permission, setuid, setgid and sticky bits
)

// Header describes one archive entry. Its fields are the newc header fields;
// the check field is always zero in this format and is not represented.
type Header struct {
	// Name is the entry's path inside the archive, without a leading "/".
	Name string
	// Mode holds the file type (one of the Type constants) and the
	// permission bits (ModePerm).
	Mode uint32
	// UID and GID are the numeric owner and group.
	UID, GID uint32
	// NLink is the number of names the entry's inode has in the archive.
	NLink uint32
	// MTime is the modification time in seconds since the Unix epoch.
	MTime uint32
	// Size is the length of the entry's data: a regular file's contents or
	// a symbolic link's target.
	Size int64
	// Ino is the inode number; entries sharing Ino (and the device
	// numbers) are hard links of one file.
	Ino uint32
	// DevMajor and DevMinor identify the device the entry came from.
	DevMajor, DevMinor uint32
	// RDevMajor and RDevMinor are the device numbers of a character or
	// block device node.
	RDevMajor, RDevMinor uint32
	// Linkname is the target of a symbolic link. The Reader fills it in
	// (and the entry then reads as empty); the Writer ignores it
	// (write the target as the entry's data, or use AddSymlink).
	Linkname string
}

// Type returns the file type bits of h.Mode.
func (h *Header) Type() uint32 { return h.Mode & TypeMask }

// Perm returns the permission bits of h.Mode.
func (h *Header) Perm() uint32 { return h.Mode & ModePerm }

// Errors returned by the Reader and Writer. Errors about a particular entry
// wrap one of these.
var (
	// ErrFormat reports a malformed archive.
	ErrFormat = errors.New("cpio: malformed archive")
	// ErrWriteTooLong reports a Write of more data than the header declared.
	ErrWriteTooLong = errors.New("cpio: write too long")
	// ErrMissingData reports a new entry or Close before the previous
	// entry's declared data was written.
	ErrMissingData = errors.New("cpio: previous entry's data not fully written")
	// ErrClosed reports use of a Writer after Close.
	ErrClosed = errors.New("cpio: writer closed")
	// ErrInvalid reports an argument that cannot be encoded.
	ErrInvalid = errors.New("cpio: invalid entry")
)

// pad4 returns how many zero bytes bring n to a multiple of 4.
func pad4(n int64) int64 { return -n & 3 }

// formatError wraps ErrFormat with details.
func formatError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// validType reports whether t is a known file type.
func validType(t uint32) bool {
	switch t {
	case TypeSocket, TypeSymlink, TypeReg, TypeBlock, TypeDir, TypeChar, TypeFifo:
		return true
	}
	return false
}
