// Package elf is the pure part of the ELF loader: it reads and validates a
// static x86-64 Linux executable and returns a plan (an Image) that the
// caller executes by mapping memory; it lays out the initial process stack
// (BuildStack); and it parses "#!" script headers (ParseShebang).
//
// Nothing here touches an address space: Parse reads the file through an
// io.ReaderAt and never allocates by a size read from the file beyond the
// program header table (at most MaxPhnum entries) and the interpreter name
// of a dynamically linked binary (at most 4096 bytes).
//
// Accepted files are ELF64, little-endian, EM_X86_64, of type ET_EXEC, or
// ET_DYN without PT_INTERP (static PIE). Everything else is rejected with
// an error for which errors.Is(err, syscall.ENOEXEC) holds; a binary with a
// PT_INTERP also satisfies errors.Is(err, ErrDynamic). Read errors of the
// underlying file are returned wrapped as they are (the caller maps them to
// EIO or whatever they carry).
//
// The package runs in Go context (docs/conventions.md).
package elf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"syscall"
)

// Limits and address-space constants.
const (
	// PageSize is the x86-64 page size, the granularity of every mapping
	// in the plan.
	PageSize = 4096
	// MaxPhnum caps the number of program headers (Linux allows up to
	// 65536/56 = 1170; real static binaries have about ten).
	MaxPhnum = 128
	// MaxMapped caps the total length of the mappings of one image and
	// the span from its lowest to its highest mapped address.
	MaxMapped = 4 << 30
	// MaxAlign caps p_align of PT_LOAD segments (real binaries use 4 KiB
	// or 2 MiB).
	MaxAlign = 1 << 30
	// UserTop is the end of the user half of the address space, Linux's
	// TASK_SIZE_MAX on x86-64: 1<<47 minus one guard page, so that no user
	// mapping ends at the non-canonical boundary.
	UserTop = 1<<47 - PageSize
	// MinAddr is the lowest address a segment may be mapped at, Linux's
	// default vm.mmap_min_addr: the first 64 KiB stay unmapped so that
	// null-pointer dereferences fault.
	MinAddr = 0x10000
	// DefaultDynBase is where Linux places position-independent
	// executables before randomization (ELF_ET_DYN_BASE = 2/3 of
	// TASK_SIZE, page aligned). See Image.DefaultBias.
	DefaultDynBase = 0x555555554000
	// PhentSize is the size of an ELF64 program header (AT_PHENT).
	PhentSize = 56

	ehdrSize   = 64
	maxInterp  = 4096 // PATH_MAX
	elfClass64 = 2
	elfData2LE = 1
	evCurrent  = 1
	etExec     = 2
	etDyn      = 3
	emX86_64   = 62
	ptLoad     = 1
	ptInterp   = 3
	ptPhdr     = 6
	ptTLS      = 7
	ptGNUStack = 0x6474e551
	ptGNURelro = 0x6474e552
	pfX        = 1
	pfW        = 2
	pfR        = 4
)

// ErrDynamic is matched (errors.Is) by the error Parse returns for a
// dynamically linked binary (one with a PT_INTERP program header). The
// concrete error is a *DynamicError naming the interpreter.
var ErrDynamic = errors.New("dynamically linked binaries are not supported")

// FormatError is the error Parse returns for a file that is not an
// acceptable executable. errors.Is(err, syscall.ENOEXEC) holds for it.
type FormatError struct {
	Msg string
}

// Error returns "elf: " followed by the reason.
func (e *FormatError) Error() string { return "elf: " + e.Msg }

// Unwrap returns syscall.ENOEXEC, the errno an execve of the file fails
// with.
func (e *FormatError) Unwrap() error { return syscall.ENOEXEC }

// DynamicError is the error Parse returns for a dynamically linked
// binary. errors.Is(err, ErrDynamic) and errors.Is(err, syscall.ENOEXEC)
// hold for it.
type DynamicError struct {
	// Interp is the program interpreter named by PT_INTERP, for example
	// "/lib64/ld-linux-x86-64.so.2".
	Interp string
}

// Error says that dynamically linked binaries are not supported and names
// the interpreter.
func (e *DynamicError) Error() string {
	return fmt.Sprintf("dynamically linked (interpreter %s): dunix runs static binaries only", e.Interp)
}

// Is reports whether target is ErrDynamic.
func (e *DynamicError) Is(target error) bool { return target == ErrDynamic }

// Unwrap returns syscall.ENOEXEC.
func (e *DynamicError) Unwrap() error { return syscall.ENOEXEC }

func bad(format string, args ...any) error {
	return &FormatError{Msg: fmt.Sprintf(format, args...)}
}

// Prot is a set of memory protections. Its bits have the values of
// PROT_READ, PROT_WRITE and PROT_EXEC, so it converts directly to an mmap
// protection.
type Prot uint8

// Protection bits.
const (
	ProtRead  Prot = 1 // PROT_READ
	ProtWrite Prot = 2 // PROT_WRITE
	ProtExec  Prot = 4 // PROT_EXEC
)

// String returns the protection as "rwx" with dashes for missing bits.
func (p Prot) String() string {
	b := []byte("---")
	if p&ProtRead != 0 {
		b[0] = 'r'
	}
	if p&ProtWrite != 0 {
		b[1] = 'w'
	}
	if p&ProtExec != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// Segment is one mapping of the plan, made from one PT_LOAD program
// header. The caller maps [Addr, Addr+Len) with protection Prot, copies the
// FileLen bytes of the file at offset Off to Addr, and fills the remaining
// ZeroLen() bytes with zeros. Addr, Len and Off are multiples of PageSize;
// FileLen is not, so the partial page after the file contents is zeroed
// (this covers the start of .bss). The bytes of the first page before the
// segment's p_vaddr come from the file, as with Linux, which maps whole
// file pages (the ELF header is visible at the start of the first
// segment).
type Segment struct {
	// Addr is the page-aligned start of the mapping.
	Addr uint64
	// Len is the page-aligned length of the mapping.
	Len uint64
	// Off is the page-aligned file offset of the byte that goes at Addr.
	Off uint64
	// FileLen is the number of bytes to copy from the file; zero for a
	// segment with no file contents (p_filesz == 0).
	FileLen uint64
	// Prot is the protection from p_flags.
	Prot Prot
}

// End returns Addr+Len.
func (s Segment) End() uint64 { return s.Addr + s.Len }

// ZeroLen returns the number of bytes after the file contents that must be
// zero: Len - FileLen.
func (s Segment) ZeroLen() uint64 { return s.Len - s.FileLen }

// TLS describes the PT_TLS program header: the initialization image of
// thread-local storage, which lies inside a PT_LOAD segment (the C library
// finds it through AT_PHDR; the kernel needs nothing from it).
type TLS struct {
	// Vaddr is the address of the TLS initialization image.
	Vaddr uint64
	// Filesz is the size of the initialized part (.tdata).
	Filesz uint64
	// Memsz is the total size (.tdata + .tbss).
	Memsz uint64
	// Align is the required alignment (a power of two, or 0).
	Align uint64
}

// Range is an address range [Addr, Addr+Len).
type Range struct {
	Addr uint64
	Len  uint64
}

// Image is the plan for loading an executable. For a static PIE (PIE
// true) the addresses are relative to the load bias until Relocate returns
// a relocated copy; an ET_EXEC image is ready as returned by Parse.
type Image struct {
	// PIE is true for an ET_DYN (static position-independent) executable.
	PIE bool
	// Bias is the load bias applied by Relocate (0 for ET_EXEC).
	Bias uint64
	// Align is the largest p_align of the PT_LOAD segments, at least
	// PageSize. A bias must be a multiple of it.
	Align uint64
	// Segments are the mappings, sorted by address, not overlapping, not
	// even sharing a page.
	Segments []Segment
	// Start is the lowest mapped address (Segments[0].Addr).
	Start uint64
	// End is the end of the highest mapping.
	End uint64
	// Entry is the entry point (AT_ENTRY), inside an executable segment.
	Entry uint64
	// Phdr is the address of the program header table in memory
	// (AT_PHDR): the p_vaddr of PT_PHDR if it lies in a segment's file
	// contents, else computed from the PT_LOAD whose file contents cover
	// e_phoff; 0 if neither (Linux passes 0 then too; a C library that
	// needs it will fail).
	Phdr uint64
	// Phent is the size of one program header (AT_PHENT), PhentSize.
	Phent uint64
	// Phnum is the number of program headers (AT_PHNUM).
	Phnum uint64
	// Brk is the initial program break: the page-aligned end of the
	// highest PT_LOAD's p_vaddr+p_memsz (equal to End). Linux randomizes
	// it upwards; that is the caller's choice.
	Brk uint64
	// ExecStack is true if PT_GNU_STACK asks for an executable stack. With
	// no PT_GNU_STACK the stack is not executable (Linux x86-64 since 5.8).
	ExecStack bool
	// TLS is the PT_TLS header, nil if there is none.
	TLS *TLS
	// Relro is the PT_GNU_RELRO range (Len 0 if none): the C library makes
	// it read-only after relocation; the kernel maps it as the enclosing
	// segment says.
	Relro Range
}

// phdr is a decoded ELF64 program header.
type phdr struct {
	typ    uint32
	flags  uint32
	off    uint64
	vaddr  uint64
	filesz uint64
	memsz  uint64
	align  uint64
}

// readFull reads len(b) bytes at off; reading past size or a short read
// because the file ended is a FormatError ("truncated"), any other read
// error is returned wrapped.
func readFull(r io.ReaderAt, size int64, b []byte, off uint64, what string) error {
	end := off + uint64(len(b))
	if end < off || end > uint64(size) {
		return bad("truncated file: %s at offset %#x+%d beyond end of file (%d bytes)", what, off, len(b), size)
	}
	n, err := r.ReadAt(b, int64(off))
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return bad("truncated file: short read of %s at offset %#x", what, off)
	}
	return fmt.Errorf("elf: reading %s: %w", what, err)
}

func pageDown(x uint64) uint64 { return x &^ (PageSize - 1) }

// pageUp rounds x up to a page; ok is false on overflow.
func pageUp(x uint64) (uint64, bool) {
	y := (x + PageSize - 1) &^ (PageSize - 1)
	return y, y >= x
}

// Parse reads and validates the executable in r (size bytes long) and
// returns its loading plan. See the package comment for what is accepted.
func Parse(r io.ReaderAt, size int64) (*Image, error) {
	if size < 0 {
		return nil, bad("negative file size")
	}
	var eh [ehdrSize]byte
	if size < 4 {
		return nil, bad("not an ELF file (%d bytes)", size)
	}
	if err := readFull(r, size, eh[:4], 0, "ELF magic"); err != nil {
		return nil, err
	}
	if string(eh[:4]) != "\x7fELF" {
		return nil, bad("not an ELF file (bad magic %q)", eh[:4])
	}
	if err := readFull(r, size, eh[:], 0, "ELF header"); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch {
	case eh[4] != elfClass64:
		return nil, bad("not a 64-bit ELF file (class %d)", eh[4])
	case eh[5] != elfData2LE:
		return nil, bad("not a little-endian ELF file (data encoding %d)", eh[5])
	case eh[6] != evCurrent:
		return nil, bad("unknown ELF identification version %d", eh[6])
	}
	etype := le.Uint16(eh[16:])
	machine := le.Uint16(eh[18:])
	version := le.Uint32(eh[20:])
	entry := le.Uint64(eh[24:])
	phoff := le.Uint64(eh[32:])
	phentsize := le.Uint16(eh[54:])
	phnum := le.Uint16(eh[56:])
	switch {
	case etype != etExec && etype != etDyn:
		return nil, bad("not an executable (ELF type %d)", etype)
	case machine != emX86_64:
		return nil, bad("not an x86-64 executable (machine %d)", machine)
	case version != evCurrent:
		return nil, bad("unknown ELF version %d", version)
	case phentsize != PhentSize:
		return nil, bad("program header size %d, want %d", phentsize, PhentSize)
	case phnum == 0:
		return nil, bad("no program headers")
	case phnum > MaxPhnum:
		return nil, bad("too many program headers (%d > %d)", phnum, MaxPhnum)
	}
	tabLen := uint64(phnum) * PhentSize
	if phoff+tabLen < phoff || phoff+tabLen > uint64(size) {
		return nil, bad("program header table [%#x, +%d) outside the file (%d bytes)", phoff, tabLen, size)
	}
	tab := make([]byte, tabLen)
	if err := readFull(r, size, tab, phoff, "program headers"); err != nil {
		return nil, err
	}
	ph := make([]phdr, phnum)
	for i := range ph {
		b := tab[i*PhentSize:]
		ph[i] = phdr{
			typ:    le.Uint32(b[0:]),
			flags:  le.Uint32(b[4:]),
			off:    le.Uint64(b[8:]),
			vaddr:  le.Uint64(b[16:]),
			filesz: le.Uint64(b[32:]),
			memsz:  le.Uint64(b[40:]),
			align:  le.Uint64(b[48:]),
		}
	}
	// A dynamically linked binary gets its own error before anything else
	// is judged: that is the message the user needs.
	for _, p := range ph {
		if p.typ == ptInterp {
			return nil, interpError(r, size, p)
		}
	}
	img := &Image{PIE: etype == etDyn, Align: PageSize, Phent: PhentSize, Phnum: uint64(phnum)}
	if err := img.addLoads(ph, size); err != nil {
		return nil, err
	}
	if err := img.addOthers(ph); err != nil {
		return nil, err
	}
	if err := img.checkEntry(ph, entry); err != nil {
		return nil, err
	}
	img.Entry = entry
	img.Phdr = phdrAddr(ph, phoff, tabLen)
	return img, nil
}

// interpError returns the DynamicError for a PT_INTERP header, or a
// FormatError if the header is malformed.
func interpError(r io.ReaderAt, size int64, p phdr) error {
	if p.filesz < 2 || p.filesz > maxInterp {
		return bad("bad PT_INTERP size %d", p.filesz)
	}
	b := make([]byte, p.filesz)
	if err := readFull(r, size, b, p.off, "PT_INTERP"); err != nil {
		return err
	}
	if b[len(b)-1] != 0 {
		return bad("PT_INTERP not NUL-terminated")
	}
	name := b[:len(b)-1]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return &DynamicError{Interp: string(name)}
}

// addLoads validates the PT_LOAD headers and fills Segments, Start, End,
// Brk and Align.
func (img *Image) addLoads(ph []phdr, size int64) error {
	var total uint64
	for i, p := range ph {
		if p.typ != ptLoad {
			continue
		}
		if p.filesz > p.memsz {
			return bad("PT_LOAD %d: p_filesz %#x > p_memsz %#x", i, p.filesz, p.memsz)
		}
		if p.off+p.filesz < p.off || p.off+p.filesz > uint64(size) {
			return bad("PT_LOAD %d: file range [%#x, +%#x) outside the file (%d bytes)", i, p.off, p.filesz, size)
		}
		if p.align > 1 && (bits.OnesCount64(p.align) != 1 || p.align > MaxAlign) {
			return bad("PT_LOAD %d: p_align %#x is not a power of two up to %#x", i, p.align, MaxAlign)
		}
		if p.off%PageSize != p.vaddr%PageSize {
			return bad("PT_LOAD %d: p_offset %#x and p_vaddr %#x differ modulo the page size", i, p.off, p.vaddr)
		}
		if p.memsz == 0 {
			continue // maps nothing (Linux skips it too)
		}
		end := p.vaddr + p.memsz
		if end < p.vaddr {
			return bad("PT_LOAD %d: address range [%#x, +%#x) overflows", i, p.vaddr, p.memsz)
		}
		top, ok := pageUp(end)
		if !ok || top > UserTop {
			return bad("PT_LOAD %d: address range [%#x, %#x) reaches beyond user space (%#x)", i, p.vaddr, end, uint64(UserTop))
		}
		if !img.PIE && p.vaddr < MinAddr {
			return bad("PT_LOAD %d: address %#x below the lowest mappable address %#x", i, p.vaddr, MinAddr)
		}
		if p.align > img.Align {
			img.Align = p.align
		}
		s := Segment{Addr: pageDown(p.vaddr), Off: pageDown(p.off)}
		s.Len = top - s.Addr
		if p.filesz > 0 {
			s.FileLen = p.filesz + p.vaddr%PageSize
		}
		if p.flags&pfR != 0 {
			s.Prot |= ProtRead
		}
		if p.flags&pfW != 0 {
			s.Prot |= ProtWrite
		}
		if p.flags&pfX != 0 {
			s.Prot |= ProtExec
		}
		total += s.Len
		if total > MaxMapped {
			return bad("PT_LOAD segments map more than %d bytes", uint64(MaxMapped))
		}
		img.Segments = append(img.Segments, s)
	}
	if len(img.Segments) == 0 {
		return bad("no loadable segment")
	}
	segs := img.Segments
	sort.Slice(segs, func(i, j int) bool { return segs[i].Addr < segs[j].Addr })
	for i := 1; i < len(segs); i++ {
		// Page granularity: two segments sharing a page would need that
		// page filled from two places in the file.
		if segs[i].Addr < segs[i-1].End() {
			return bad("PT_LOAD segments [%#x, %#x) and [%#x, %#x) overlap in memory (page granularity)",
				segs[i-1].Addr, segs[i-1].End(), segs[i].Addr, segs[i].End())
		}
	}
	img.Start = segs[0].Addr
	img.End = segs[len(segs)-1].End()
	if img.End-img.Start > MaxMapped {
		return bad("PT_LOAD segments span %#x bytes, more than %#x", img.End-img.Start, uint64(MaxMapped))
	}
	img.Brk = img.End
	return nil
}

// addOthers records PT_GNU_STACK, PT_TLS and PT_GNU_RELRO.
func (img *Image) addOthers(ph []phdr) error {
	for i, p := range ph {
		switch p.typ {
		case ptGNUStack:
			img.ExecStack = p.flags&pfX != 0
		case ptTLS:
			if p.filesz > p.memsz {
				return bad("PT_TLS %d: p_filesz %#x > p_memsz %#x", i, p.filesz, p.memsz)
			}
			if p.align > 1 && (bits.OnesCount64(p.align) != 1 || p.align > MaxAlign) {
				return bad("PT_TLS %d: p_align %#x is not a power of two up to %#x", i, p.align, MaxAlign)
			}
			if !img.inSegments(p.vaddr, p.memsz) {
				return bad("PT_TLS %d: [%#x, +%#x) not inside a PT_LOAD segment", i, p.vaddr, p.memsz)
			}
			img.TLS = &TLS{Vaddr: p.vaddr, Filesz: p.filesz, Memsz: p.memsz, Align: p.align}
		case ptGNURelro:
			if !img.inSegments(p.vaddr, p.memsz) {
				return bad("PT_GNU_RELRO %d: [%#x, +%#x) not inside a PT_LOAD segment", i, p.vaddr, p.memsz)
			}
			img.Relro = Range{Addr: p.vaddr, Len: p.memsz}
		}
	}
	return nil
}

// inSegments reports whether [addr, addr+n) lies inside one mapping.
func (img *Image) inSegments(addr, n uint64) bool {
	if addr+n < addr {
		return false
	}
	for _, s := range img.Segments {
		if addr >= s.Addr && addr+n <= s.End() {
			return true
		}
	}
	return false
}

// checkEntry requires the entry point to lie in the memory of an
// executable PT_LOAD.
func (img *Image) checkEntry(ph []phdr, entry uint64) error {
	for _, p := range ph {
		if p.typ == ptLoad && p.flags&pfX != 0 && p.memsz > 0 &&
			entry >= p.vaddr && entry-p.vaddr < p.memsz {
			return nil
		}
	}
	return bad("entry point %#x not inside an executable PT_LOAD segment", entry)
}

// phdrAddr computes AT_PHDR: PT_PHDR's address if the whole table lies in
// the file contents of a PT_LOAD, else the address of e_phoff in the first
// PT_LOAD whose file contents cover the table, else 0.
func phdrAddr(ph []phdr, phoff, tabLen uint64) uint64 {
	for _, p := range ph {
		if p.typ != ptPhdr {
			continue
		}
		for _, l := range ph {
			if l.typ == ptLoad && p.vaddr >= l.vaddr && p.vaddr-l.vaddr <= l.filesz &&
				tabLen <= l.filesz-(p.vaddr-l.vaddr) {
				return p.vaddr
			}
		}
	}
	for _, l := range ph {
		if l.typ == ptLoad && phoff >= l.off && phoff-l.off <= l.filesz && tabLen <= l.filesz-(phoff-l.off) {
			return l.vaddr + (phoff - l.off)
		}
	}
	return 0
}

// DefaultBias returns a load bias for a PIE image placed as Linux places
// one before randomization: DefaultDynBase minus the image's lowest
// address, rounded down to Align. The caller may add a random multiple of
// Align (Linux x86-64 adds up to 2^28 pages); anything that keeps End below
// UserTop works. For an ET_EXEC image, or a PIE linked at or above
// DefaultDynBase, it returns 0.
func (img *Image) DefaultBias() uint64 {
	if !img.PIE || img.Start >= DefaultDynBase {
		return 0
	}
	return (DefaultDynBase - img.Start) &^ (img.Align - 1)
}

// Relocate returns a copy of the image with every address moved by bias.
// For an ET_EXEC image bias must be 0. For a PIE image bias must be a
// multiple of Align, and the relocated image must lie in
// [MinAddr, UserTop). The receiver is not modified; relocating an already
// relocated image adds to its bias.
func (img *Image) Relocate(bias uint64) (*Image, error) {
	c := *img
	c.Segments = append([]Segment(nil), img.Segments...)
	if img.TLS != nil {
		t := *img.TLS
		c.TLS = &t
	}
	if bias == 0 {
		if img.Start < MinAddr {
			return nil, bad("PIE image at %#x below the lowest mappable address %#x", img.Start, MinAddr)
		}
		return &c, nil
	}
	if !img.PIE {
		return nil, bad("cannot relocate a non-PIE (ET_EXEC) image")
	}
	if bias%img.Align != 0 {
		return nil, bad("load bias %#x is not a multiple of the alignment %#x", bias, img.Align)
	}
	if img.Start+bias < img.Start || img.Start+bias < MinAddr || img.End+bias < img.End || img.End+bias > UserTop {
		return nil, bad("load bias %#x puts the image [%#x, %#x) outside user space", bias, img.Start, img.End)
	}
	c.Bias += bias
	for i := range c.Segments {
		c.Segments[i].Addr += bias
	}
	c.Start += bias
	c.End += bias
	c.Brk += bias
	c.Entry += bias
	if c.Phdr != 0 {
		c.Phdr += bias
	}
	if c.TLS != nil {
		c.TLS.Vaddr += bias
	}
	if c.Relro.Len != 0 {
		c.Relro.Addr += bias
	}
	return &c, nil
}
