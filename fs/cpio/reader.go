package cpio

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reader reads a newc cpio archive entry by entry. Next returns each
// entry's header; Read then reads that entry's data.
//
// The Reader is strict: a wrong magic, a header field that is not 8 hex
// digits, a non-zero check field, an unknown file type, data on an entry
// type that has none, a name that is empty, longer than MaxNameSize, not
// NUL-terminated or with an inner NUL, a symbolic link target that is empty,
// too long or holds a NUL, and an archive that ends early (including one
// without trailer) are all errors. Padding bytes are skipped unchecked, as
// Linux and GNU cpio do. Memory use is bounded by MaxNameSize whatever the
// sizes in the archive claim.
//
// A Reader is not safe for concurrent use. After an error, every later call
// returns the same error.
type Reader struct {
	r      io.Reader
	remain int64 // unread data bytes of the current entry
	pad    int64 // padding after the current entry's data
	done   bool  // the trailer was read
	err    error // sticky error
}

// NewReader returns a Reader that reads an archive from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Next skips the rest of the current entry and returns the header of the
// next one. At the trailer it returns io.EOF (and keeps doing so); bytes
// after the trailer are not read. For a symbolic link it reads the target
// into Header.Linkname, and the entry's data then reads as empty while
// Header.Size keeps the target's length.
func (r *Reader) Next() (*Header, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.done {
		return nil, io.EOF
	}
	h, err := r.next()
	if err != nil {
		if err != io.EOF {
			r.err = err
		}
		return nil, err
	}
	return h, nil
}

// Read reads the current entry's data. It returns io.EOF at the end of the
// data and io.ErrUnexpectedEOF if the archive ends before it.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.remain -= int64(n)
	if err == io.EOF && r.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		r.err = err
	}
	return n, err
}

// next does the work of Next.
func (r *Reader) next() (*Header, error) {
	if err := r.skip(r.remain + r.pad); err != nil {
		return nil, err
	}
	r.remain, r.pad = 0, 0

	var raw [HeaderSize]byte
	if n, err := io.ReadFull(r.r, raw[:]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, fmt.Errorf("%w: archive ends without %s entry: %w", ErrFormat, Trailer, io.ErrUnexpectedEOF)
		}
		return nil, unexpected(err, "header")
	}
	if m := string(raw[:6]); m != Magic {
		if m == "070702" {
			return nil, formatError("magic %q (newc with checksum) is not supported", m)
		}
		return nil, formatError("bad magic %q, want %q", m, Magic)
	}
	var f [13]uint32
	for i := range f {
		v, err := parseHex8(raw[6+8*i : 14+8*i])
		if err != nil {
			return nil, err
		}
		f[i] = v
	}
	h := &Header{
		Ino: f[0], Mode: f[1], UID: f[2], GID: f[3], NLink: f[4], MTime: f[5],
		Size: int64(f[6]), DevMajor: f[7], DevMinor: f[8], RDevMajor: f[9], RDevMinor: f[10],
	}
	nameSize, check := int64(f[11]), f[12]
	if check != 0 {
		return nil, formatError("check field %#x is not zero", check)
	}
	if nameSize < 2 || nameSize > MaxNameSize {
		return nil, formatError("name size %d out of range [2, %d]", nameSize, MaxNameSize)
	}
	name := make([]byte, nameSize+pad4(HeaderSize+nameSize))
	if _, err := io.ReadFull(r.r, name); err != nil {
		return nil, unexpected(err, "name")
	}
	name = name[:nameSize]
	if name[nameSize-1] != 0 {
		return nil, formatError("name is not NUL-terminated")
	}
	h.Name = string(name[:nameSize-1])
	if strings.IndexByte(h.Name, 0) >= 0 {
		return nil, formatError("name %q contains NUL", h.Name)
	}
	if h.Name == Trailer {
		r.done = true
		return nil, io.EOF
	}
	r.remain, r.pad = h.Size, pad4(h.Size)

	switch h.Type() {
	case TypeReg:
	case TypeSymlink:
		if err := r.readLinkname(h); err != nil {
			return nil, err
		}
	case TypeDir, TypeChar, TypeBlock, TypeFifo, TypeSocket:
		if h.Size != 0 {
			return nil, formatError("%q: mode %#o with %d bytes of data", h.Name, h.Mode, h.Size)
		}
	default:
		return nil, formatError("%q: mode %#o has no known file type", h.Name, h.Mode)
	}
	return h, nil
}

// readLinkname reads a symbolic link's target, the entry's data.
func (r *Reader) readLinkname(h *Header) error {
	if h.Size == 0 || h.Size >= MaxNameSize {
		return formatError("%q: symbolic link target size %d out of range [1, %d]", h.Name, h.Size, MaxNameSize-1)
	}
	buf := make([]byte, h.Size)
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return unexpected(err, "symbolic link target")
	}
	r.remain = 0
	if strings.IndexByte(string(buf), 0) >= 0 {
		return formatError("%q: symbolic link target contains NUL", h.Name)
	}
	h.Linkname = string(buf)
	return nil
}

// skip discards n bytes of the archive.
func (r *Reader) skip(n int64) error {
	if n == 0 {
		return nil
	}
	if _, err := io.CopyN(io.Discard, r.r, n); err != nil {
		return unexpected(err, "entry data")
	}
	return nil
}

// unexpected turns an early io.EOF into io.ErrUnexpectedEOF and names what
// was being read.
func unexpected(err error, what string) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("cpio: reading %s: %w", what, err)
}

// parseHex8 parses eight hex digits (either case).
func parseHex8(b []byte) (uint32, error) {
	var v uint32
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, formatError("header field %q is not hexadecimal", b)
		}
		v = v<<4 | uint32(d)
	}
	return v, nil
}
