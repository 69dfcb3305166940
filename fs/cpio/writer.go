package cpio

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// blockSize is the size the archive is padded to by Close, as GNU cpio and
// Linux's gen_init_cpio do.
const blockSize = 512

// Attr holds the attributes the Add methods of Writer take from the caller.
// The zero value means: no permissions, owned by root, modification time 0.
type Attr struct {
	// Perm is the permission bits (ModePerm); other bits are an error.
	Perm uint32
	// UID and GID are the numeric owner and group.
	UID, GID uint32
	// MTime is the modification time in seconds since the Unix epoch.
	MTime uint32
}

// Writer writes a newc cpio archive. The Add methods number inodes 0, 1, 2,
// ... in call order (hard links share one number); all device numbers of
// the containing file system are zero. Close writes the trailer.
//
// A Writer is not safe for concurrent use. After an error from the
// underlying writer or an inconsistent use (for example data shorter than
// declared), every later call returns the same error.
type Writer struct {
	w       io.Writer
	off     int64 // bytes written so far
	remain  int64 // data bytes the current entry still needs
	pad     int64 // zero bytes to write after the current entry's data
	nextIno uint32
	closed  bool
	err     error // sticky error
}

// NewWriter returns a Writer that writes an archive to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteHeader starts a new entry described by h, written as given except
// that leading slashes are removed from the name and h.Linkname is ignored.
// The entry's h.Size bytes of data must then be written with Write. The
// caller chooses h.Ino; WriteHeader makes the Add methods continue numbering
// above it.
func (w *Writer) WriteHeader(h *Header) error {
	if err := w.ready(); err != nil {
		return err
	}
	name, err := cleanName(h.Name)
	if err != nil {
		return err
	}
	if !validType(h.Type()) {
		return fmt.Errorf("%w: %q: mode %#o has no known file type", ErrInvalid, name, h.Mode)
	}
	if h.Size < 0 || h.Size > MaxFileSize {
		return fmt.Errorf("%w: %q: size %d out of range", ErrInvalid, name, h.Size)
	}
	if h.Ino >= w.nextIno {
		w.nextIno = h.Ino + 1
	}
	return w.writeHeader(name, h)
}

// Write writes data of the current entry. It returns ErrWriteTooLong for
// bytes past the size given in the header.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, ErrClosed
	}
	tooLong := false
	if int64(len(p)) > w.remain {
		p = p[:w.remain]
		tooLong = true
	}
	n, err := w.w.Write(p)
	w.off += int64(n)
	w.remain -= int64(n)
	if err != nil {
		w.err = err
		return n, err
	}
	if tooLong {
		return n, ErrWriteTooLong
	}
	return n, nil
}

// AddFile adds a regular file with the given contents.
func (w *Writer) AddFile(name string, a Attr, data []byte) error {
	return w.AddFileFrom(name, a, int64(len(data)), bytes.NewReader(data))
}

// AddFileFrom adds a regular file whose size bytes of contents are read
// from r. If r ends early, the archive is unusable and the Writer keeps
// returning the error.
func (w *Writer) AddFileFrom(name string, a Attr, size int64, r io.Reader) error {
	if size < 0 || size > MaxFileSize {
		return fmt.Errorf("%w: %q: size %d out of range", ErrInvalid, name, size)
	}
	if err := w.add(name, TypeReg, a, 1, size, 0, 0); err != nil {
		return err
	}
	return w.copyData(name, size, r)
}

// AddLinkedFile adds one regular file under several names (hard links).
// As GNU cpio does, every name gets a header with the same inode and the
// link count len(names), and only the last one carries the data; Linux's
// initramfs unpacker and GNU cpio both restore the links. Use AddFile for a
// single name.
func (w *Writer) AddLinkedFile(names []string, a Attr, data []byte) error {
	if len(names) == 0 {
		return fmt.Errorf("%w: hard link set without names", ErrInvalid)
	}
	if int64(len(data)) > MaxFileSize {
		return fmt.Errorf("%w: %q: size %d out of range", ErrInvalid, names[0], len(data))
	}
	for _, n := range names {
		// Check every name first so that no partial set is written.
		if _, err := cleanName(n); err != nil {
			return err
		}
	}
	if err := w.ready(); err != nil {
		return err
	}
	if err := checkAttr(names[0], a); err != nil {
		return err
	}
	ino := w.nextIno
	for i, n := range names {
		size := int64(0)
		if i == len(names)-1 {
			size = int64(len(data))
		}
		if err := w.addIno(n, ino, TypeReg, a, uint32(len(names)), size, 0, 0); err != nil {
			return err
		}
	}
	w.nextIno = ino + 1
	_, err := w.Write(data)
	return err
}

// AddDir adds a directory. Its link count is 2, as for an empty directory.
func (w *Writer) AddDir(name string, a Attr) error {
	return w.add(name, TypeDir, a, 2, 0, 0, 0)
}

// AddSymlink adds a symbolic link to target. Its permissions are always
// 0777 (a.Perm is ignored), as Linux gives every symbolic link.
func (w *Writer) AddSymlink(name, target string, a Attr) error {
	if target == "" || len(target) >= MaxNameSize || strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("%w: %q: bad symbolic link target %q", ErrInvalid, name, target)
	}
	a.Perm = 0o777
	if err := w.add(name, TypeSymlink, a, 1, int64(len(target)), 0, 0); err != nil {
		return err
	}
	_, err := io.WriteString(w, target)
	return err
}

// AddCharDev adds a character device node with the given device numbers.
func (w *Writer) AddCharDev(name string, a Attr, major, minor uint32) error {
	return w.add(name, TypeChar, a, 1, 0, major, minor)
}

// AddBlockDev adds a block device node with the given device numbers.
func (w *Writer) AddBlockDev(name string, a Attr, major, minor uint32) error {
	return w.add(name, TypeBlock, a, 1, 0, major, minor)
}

// Close writes the trailer entry and pads the archive with zeros to a
// multiple of 512 bytes. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed && w.err == nil {
		return nil
	}
	if err := w.ready(); err != nil {
		return err
	}
	if err := w.writeHeader(Trailer, &Header{NLink: 1}); err != nil {
		return err
	}
	if err := w.flushPad(); err != nil {
		return err
	}
	if err := w.zeros(-w.off & (blockSize - 1)); err != nil {
		return err
	}
	w.closed = true
	return nil
}

// add writes the header of an entry with the next inode number.
func (w *Writer) add(name string, typ uint32, a Attr, nlink uint32, size int64, major, minor uint32) error {
	if err := w.ready(); err != nil {
		return err
	}
	if err := checkAttr(name, a); err != nil {
		return err
	}
	if err := w.addIno(name, w.nextIno, typ, a, nlink, size, major, minor); err != nil {
		return err
	}
	w.nextIno++
	return nil
}

// addIno writes the header of an entry with inode ino.
func (w *Writer) addIno(name string, ino, typ uint32, a Attr, nlink uint32, size int64, major, minor uint32) error {
	clean, err := cleanName(name)
	if err != nil {
		return err
	}
	return w.writeHeader(clean, &Header{
		Mode: typ | a.Perm, UID: a.UID, GID: a.GID, NLink: nlink, MTime: a.MTime,
		Size: size, Ino: ino, RDevMajor: major, RDevMinor: minor,
	})
}

// ready checks that a new entry may start: the Writer is open and healthy,
// and the previous entry's data is complete (its padding is then written).
func (w *Writer) ready() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if w.remain != 0 {
		w.err = fmt.Errorf("%w: %d bytes missing", ErrMissingData, w.remain)
		return w.err
	}
	return w.flushPad()
}

// flushPad writes the padding owed after the previous entry's data.
func (w *Writer) flushPad() error {
	n := w.pad
	w.pad = 0
	return w.zeros(n)
}

// writeHeader writes the header for h under name (already cleaned), the
// name and its padding, and prepares for h.Size bytes of data.
func (w *Writer) writeHeader(name string, h *Header) error {
	nameSize := int64(len(name) + 1)
	buf := make([]byte, 0, HeaderSize+nameSize+3)
	buf = append(buf, Magic...)
	for _, v := range [...]uint32{
		h.Ino, h.Mode, h.UID, h.GID, h.NLink, h.MTime, uint32(h.Size),
		h.DevMajor, h.DevMinor, h.RDevMajor, h.RDevMinor, uint32(nameSize), 0,
	} {
		buf = appendHex8(buf, v)
	}
	buf = append(buf, name...)
	buf = append(buf, 0)
	for range pad4(HeaderSize + nameSize) {
		buf = append(buf, 0)
	}
	if err := w.raw(buf); err != nil {
		return err
	}
	w.remain = h.Size
	w.pad = pad4(h.Size)
	return nil
}

// copyData copies the current entry's size bytes from r.
func (w *Writer) copyData(name string, size int64, r io.Reader) error {
	n, err := io.Copy(w, io.LimitReader(r, size))
	if err == nil && n < size {
		err = fmt.Errorf("cpio: %q: data ended after %d of %d bytes: %w", name, n, size, io.ErrUnexpectedEOF)
	}
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

// zeros writes n zero bytes (n < 512).
func (w *Writer) zeros(n int64) error {
	var z [blockSize]byte
	return w.raw(z[:n])
}

// raw writes p to the underlying writer, recording errors.
func (w *Writer) raw(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := w.w.Write(p)
	w.off += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
	}
	return err
}

// appendHex8 appends v as eight upper-case hex digits, as GNU cpio writes.
func appendHex8(b []byte, v uint32) []byte {
	const digits = "0123456789ABCDEF"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xf])
	}
	return b
}

// cleanName removes leading slashes and checks that the name can be
// stored: not empty, no NUL, not the trailer's name, and short enough.
func cleanName(name string) (string, error) {
	clean := strings.TrimLeft(name, "/")
	switch {
	case clean == "":
		return "", fmt.Errorf("%w: empty name %q", ErrInvalid, name)
	case strings.IndexByte(clean, 0) >= 0:
		return "", fmt.Errorf("%w: name %q contains NUL", ErrInvalid, name)
	case clean == Trailer:
		return "", fmt.Errorf("%w: name %q is reserved for the trailer", ErrInvalid, name)
	case len(clean)+1 > MaxNameSize:
		return "", fmt.Errorf("%w: name of %d bytes is too long", ErrInvalid, len(clean))
	}
	return clean, nil
}

// checkAttr rejects permission values with bits outside ModePerm.
func checkAttr(name string, a Attr) error {
	if a.Perm&^ModePerm != 0 {
		return fmt.Errorf("%w: %q: permission %#o has bits outside %#o", ErrInvalid, name, a.Perm, ModePerm)
	}
	return nil
}
