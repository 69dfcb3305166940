// Package vdso builds the vDSO: the one page the kernel maps, read and
// execute, into every process and names in the auxiliary vector
// (AT_SYSINFO_EHDR), so that clock_gettime, gettimeofday and time read
// the clock without a system call. All processes share the page; the
// kernel rewrites its clock data in place (SetClock).
//
// The page is a complete ELF64 x86-64 shared object (ET_DYN), laid out
// at virtual address 0 = file offset 0:
//
//	0x000  ELF header
//	0x040  program headers: PT_LOAD (the whole page, R+X, offset 0,
//	       vaddr 0, align 4096) and PT_DYNAMIC
//	       .hash (SysV DT_HASH), .dynsym, .dynstr, .gnu.version,
//	       .gnu.version_d (the base version "linux-vdso.so.1" and
//	       LINUX_2.6), .dynamic, .text (the code), .shstrtab and the
//	       section header table, in that order
//	DataOffset  the clock data (below)
//
// which is what the Go runtime (runtime/vdso_linux.go), musl
// (src/internal/vdso.c) and glibc look for: the load offset from the
// first PT_LOAD, the dynamic table from PT_DYNAMIC, and there DT_HASH,
// DT_SYMTAB, DT_STRTAB, DT_VERSYM and DT_VERDEF. The section headers are
// for tools (debug/elf, readelf); nothing at run time needs them.
//
// The dynamic symbols, all STT_FUNC, defined in .text, of version
// LINUX_2.6:
//
//	__vdso_clock_gettime(clockid_t, struct timespec *)   STB_GLOBAL
//	__vdso_gettimeofday(struct timeval *, struct timezone *)
//	__vdso_time(time_t *)
//	__vdso_getcpu(unsigned *, unsigned *, void *)
//	clock_gettime, gettimeofday, time, getcpu            STB_WEAK aliases
//
// clock_gettime serves CLOCK_REALTIME, MONOTONIC, MONOTONIC_RAW,
// REALTIME_COARSE, MONOTONIC_COARSE and BOOTTIME from the TSC; any other
// clock makes the real system call (with the int clock id sign-extended
// into RDI, and returns its 0 or -errno), as does every function when
// Clock.Usable is false. Times are floored to seconds (tv_nsec is in
// [0, 1e9) before 1970 too); gettimeofday fills a non-NULL timezone with
// zeros; time also stores into a non-NULL pointer. getcpu is always the
// system call. The code is position independent, uses only caller-saved
// registers and no stack beyond its return address; there is no
// .eh_frame (RSP never moves, so the return address is always at [RSP]).
//
// The clock data at DataOffset is five little-endian 64-bit words:
//
//	+0   seq       sequence counter: odd while the kernel writes
//	+8   tsc_base  Clock.TSCBase
//	+16  mult      Clock.Mult (32.32 fixed-point ns per TSC tick)
//	+24  wall_base Clock.WallBase (Unix ns at boot)
//	+32  usable    1 if Clock.Usable, else 0
//
// and the time is the kernel's own arithmetic:
//
//	ns since boot = bits 32..95 of (TSC - tsc_base) * mult
//	realtime      = wall_base + ns since boot
//
// The seqlock rule: the one writer (SetClock) stores seq+1 (odd), the
// fields, then seq+2 (even), each with an atomic 64-bit store. A reader
// loads seq, retries while it is odd, loads the fields and the TSC, and
// retries if seq changed; so it never mixes fields of two clocks.
//
// The package runs in Go context (docs/conventions.md); SetClock
// allocates nothing.
package vdso

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Size is the size of the image: one page.
const Size = 4096

// DataOffset is where the clock data lives in the page: the last 128
// bytes (a multiple of 64, so the data shares one cache line).
const DataOffset = Size - 128

// Offsets of the clock data words from DataOffset (what the kernel's
// own copy of the page, written before its Go runtime starts, needs).
const (
	OffSeq      = 0
	OffTSCBase  = 8
	OffMult     = 16
	OffWallBase = 24
	OffUsable   = 32
	dataSize    = 40
)

// Clock is what the code needs to turn the TSC into time, the same
// arithmetic as the kernel's own clock:
//
//	ns since boot = bits 32..95 of the 128-bit product (TSC - TSCBase) * Mult
//	               (hi<<32 | lo>>32 of bits.Mul64)
//	CLOCK_REALTIME ns = WallBase + ns since boot
type Clock struct {
	TSCBase  uint64
	Mult     uint64 // 32.32 fixed-point nanoseconds per TSC tick
	WallBase int64  // Unix time in ns at boot
	// Usable false makes every function fall back to the real system
	// call (a CPU without a usable TSC).
	Usable bool
}

// template is the page with a zero clock (seq 0, not usable).
var template = build()

// Image returns a fresh copy of the page with c in its data area (and
// the sequence counter 0).
func Image(c Clock) [Size]byte {
	img := template
	d := img[DataOffset:]
	binary.LittleEndian.PutUint64(d[OffSeq:], 0)
	binary.LittleEndian.PutUint64(d[OffTSCBase:], c.TSCBase)
	binary.LittleEndian.PutUint64(d[OffMult:], c.Mult)
	binary.LittleEndian.PutUint64(d[OffWallBase:], uint64(c.WallBase))
	binary.LittleEndian.PutUint64(d[OffUsable:], usable(c.Usable))
	return img
}

func usable(ok bool) uint64 {
	if ok {
		return 1
	}
	return 0
}

// SetClock rewrites the data area of page (len(page) >= Size, a copy of
// Image mapped into processes) for c, while processes on other CPUs may
// be reading it. There must be a single writer at a time. The page must
// be 8-byte aligned (the kernel's page is page-aligned): the words are
// written with atomic 64-bit stores, in the seqlock order seq+1 (odd),
// tsc_base, mult, wall_base, usable, seq+2 (even).
func SetClock(page []byte, c Clock) {
	if len(page) < Size {
		panic("vdso: SetClock: page shorter than Size")
	}
	d := page[DataOffset : DataOffset+dataSize]
	if uintptr(unsafe.Pointer(&d[0]))%8 != 0 {
		panic("vdso: SetClock: page not 8-byte aligned")
	}
	word := func(off int) *uint64 { return (*uint64)(unsafe.Pointer(&d[off])) }
	seq := atomic.LoadUint64(word(OffSeq))
	atomic.StoreUint64(word(OffSeq), seq+1)
	atomic.StoreUint64(word(OffTSCBase), c.TSCBase)
	atomic.StoreUint64(word(OffMult), c.Mult)
	atomic.StoreUint64(word(OffWallBase), uint64(c.WallBase))
	atomic.StoreUint64(word(OffUsable), usable(c.Usable))
	atomic.StoreUint64(word(OffSeq), seq+2)
}

// ELF constants used here.
const (
	etDyn       = 3
	emX86_64    = 62
	ptLoad      = 1
	ptDynamic   = 2
	pfX         = 1
	pfR         = 4
	shtProgbits = 1
	shtStrtab   = 3
	shtHash     = 5
	shtDynamic  = 6
	shtDynsym   = 11
	shtVerdef   = 0x6ffffffd
	shtVersym   = 0x6fffffff
	shfAlloc    = 2
	shfExec     = 4
	dtNull      = 0
	dtHash      = 4
	dtStrtab    = 5
	dtSymtab    = 6
	dtStrsz     = 10
	dtSyment    = 11
	dtSoname    = 14
	dtVersym    = 0x6ffffff0
	dtVerdef    = 0x6ffffffc
	dtVerdefnum = 0x6ffffffd
	stbGlobal   = 1
	stbWeak     = 2
	sttFunc     = 2
	verFlgBase  = 1

	ehdrSize    = 64
	phdrSize    = 56
	shdrSize    = 64
	symSize     = 24
	dynSize     = 16
	verdefSize  = 20
	verdauxSize = 8
)

// Names of the object and its version.
const (
	soname  = "linux-vdso.so.1"
	version = "LINUX_2.6"
	// hashBuckets is the number of DT_HASH buckets.
	hashBuckets = 3
	// verIndex is the version index of LINUX_2.6 (1 is the base).
	verIndex = 2
)

// Section indexes of the section header table.
const (
	secNull = iota
	secHash
	secDynsym
	secDynstr
	secVersym
	secVerdef
	secDynamic
	secText
	secShstrtab
	numSections
)

// elfHash is the SysV ELF hash (DT_HASH and vd_hash).
func elfHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		g := h & 0xf0000000
		if g != 0 {
			h ^= g >> 24
		}
		h &^= g
	}
	return h
}

// strtab accumulates a string table.
type strtab struct{ b []byte }

func (s *strtab) add(name string) uint32 {
	if len(s.b) == 0 {
		s.b = append(s.b, 0)
	}
	off := uint32(len(s.b))
	s.b = append(s.b, name...)
	s.b = append(s.b, 0)
	return off
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// symbol is one dynamic symbol: name, binding, and the function it names.
type symbol struct {
	name string
	bind byte
	fn   int // index into the functions of assemble
}

// symbols is the dynamic symbol table after the null entry.
var symbols = []symbol{
	{"__vdso_clock_gettime", stbGlobal, 0},
	{"__vdso_gettimeofday", stbGlobal, 1},
	{"__vdso_time", stbGlobal, 2},
	{"__vdso_getcpu", stbGlobal, 3},
	{"clock_gettime", stbWeak, 0},
	{"gettimeofday", stbWeak, 1},
	{"time", stbWeak, 2},
	{"getcpu", stbWeak, 3},
}

// build lays out the page; it panics if something does not fit (a bug
// caught by any test).
func build() (img [Size]byte) {
	le := binary.LittleEndian
	nsym := 1 + len(symbols)

	// String tables.
	var dynstr strtab
	symName := make([]uint32, len(symbols))
	for i, s := range symbols {
		symName[i] = dynstr.add(s.name)
	}
	sonameOff := dynstr.add(soname)
	versionOff := dynstr.add(version)
	var shstr strtab
	shName := make([]uint32, numSections)
	for i, n := range []string{"", ".hash", ".dynsym", ".dynstr", ".gnu.version",
		".gnu.version_d", ".dynamic", ".text", ".shstrtab"} {
		if i > 0 {
			shName[i] = shstr.add(n)
		}
	}

	// Layout: offsets (= virtual addresses) and sizes of the sections.
	type span struct{ off, size, align int }
	var sec [numSections]span
	pos := ehdrSize + 2*phdrSize
	place := func(i, size, align int) {
		pos = alignUp(pos, align)
		sec[i] = span{pos, size, align}
		pos += size
	}
	place(secHash, 4*(2+hashBuckets+nsym), 8)
	place(secDynsym, symSize*nsym, 8)
	place(secDynstr, len(dynstr.b), 1)
	place(secVersym, 2*nsym, 2)
	place(secVerdef, 2*(verdefSize+verdauxSize), 8)
	const ndyn = 10
	place(secDynamic, dynSize*ndyn, 8)
	textOff := alignUp(pos, 16)
	text, fns := assemble(textOff)
	place(secText, len(text), 16)
	place(secShstrtab, len(shstr.b), 1)
	shoff := alignUp(pos, 8)
	if end := shoff + numSections*shdrSize; end > DataOffset {
		panic(fmt.Sprintf("vdso: image overflows into the data area (%#x > %#x)", end, DataOffset))
	}
	if sec[secText].off != textOff {
		panic("vdso: text moved")
	}

	// ELF header.
	copy(img[:], "\x7fELF")
	img[4] = 2 // ELFCLASS64
	img[5] = 1 // ELFDATA2LSB
	img[6] = 1 // EV_CURRENT
	img[7] = 0 // ELFOSABI_NONE
	le.PutUint16(img[16:], etDyn)
	le.PutUint16(img[18:], emX86_64)
	le.PutUint32(img[20:], 1)             // e_version
	le.PutUint64(img[24:], 0)             // e_entry
	le.PutUint64(img[32:], ehdrSize)      // e_phoff
	le.PutUint64(img[40:], uint64(shoff)) // e_shoff
	le.PutUint32(img[48:], 0)             // e_flags
	le.PutUint16(img[52:], ehdrSize)      // e_ehsize
	le.PutUint16(img[54:], phdrSize)      // e_phentsize
	le.PutUint16(img[56:], 2)             // e_phnum
	le.PutUint16(img[58:], shdrSize)      // e_shentsize
	le.PutUint16(img[60:], numSections)   // e_shnum
	le.PutUint16(img[62:], secShstrtab)   // e_shstrndx

	// Program headers.
	phdr := func(i int, typ, flags uint32, off, size, align uint64) {
		p := img[ehdrSize+i*phdrSize:]
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], flags)
		le.PutUint64(p[8:], off)   // p_offset
		le.PutUint64(p[16:], off)  // p_vaddr
		le.PutUint64(p[24:], off)  // p_paddr
		le.PutUint64(p[32:], size) // p_filesz
		le.PutUint64(p[40:], size) // p_memsz
		le.PutUint64(p[48:], align)
	}
	phdr(0, ptLoad, pfR|pfX, 0, Size, Size)
	phdr(1, ptDynamic, pfR, uint64(sec[secDynamic].off), uint64(sec[secDynamic].size), 8)

	// .hash: nbucket, nchain, buckets, chains.
	h := img[sec[secHash].off:]
	le.PutUint32(h[0:], hashBuckets)
	le.PutUint32(h[4:], uint32(nsym))
	bucket := func(b int) []byte { return h[8+4*b:] }
	chain := func(i int) []byte { return h[8+4*hashBuckets+4*i:] }
	for i, s := range symbols {
		idx := uint32(i + 1)
		b := int(elfHash(s.name) % hashBuckets)
		le.PutUint32(chain(int(idx)), le.Uint32(bucket(b)))
		le.PutUint32(bucket(b), idx)
	}

	// .dynsym (entry 0 stays zero).
	for i, s := range symbols {
		p := img[sec[secDynsym].off+(i+1)*symSize:]
		f := fns[s.fn]
		le.PutUint32(p[0:], symName[i])
		p[4] = s.bind<<4 | sttFunc // st_info
		p[5] = 0                   // st_other: STV_DEFAULT
		le.PutUint16(p[6:], secText)
		le.PutUint64(p[8:], uint64(f.off))
		le.PutUint64(p[16:], uint64(f.size))
	}

	// .dynstr.
	copy(img[sec[secDynstr].off:], dynstr.b)

	// .gnu.version: every symbol LINUX_2.6 (entry 0 is local, 0).
	for i := range symbols {
		le.PutUint16(img[sec[secVersym].off+2*(i+1):], verIndex)
	}

	// .gnu.version_d: the base version (the object's name), then
	// LINUX_2.6, each with one verdaux right after it.
	verdef := func(at int, flags, ndx uint16, name string, nameOff uint32, last bool) {
		p := img[at:]
		le.PutUint16(p[0:], 1) // vd_version
		le.PutUint16(p[2:], flags)
		le.PutUint16(p[4:], ndx)
		le.PutUint16(p[6:], 1) // vd_cnt
		le.PutUint32(p[8:], elfHash(name))
		le.PutUint32(p[12:], verdefSize) // vd_aux
		next := uint32(verdefSize + verdauxSize)
		if last {
			next = 0
		}
		le.PutUint32(p[16:], next)    // vd_next
		le.PutUint32(p[20:], nameOff) // vda_name
		le.PutUint32(p[24:], 0)       // vda_next
	}
	vd := sec[secVerdef].off
	verdef(vd, verFlgBase, 1, soname, sonameOff, false)
	verdef(vd+verdefSize+verdauxSize, 0, verIndex, version, versionOff, true)

	// .dynamic.
	dyn := [ndyn][2]uint64{
		{dtSoname, uint64(sonameOff)},
		{dtHash, uint64(sec[secHash].off)},
		{dtStrtab, uint64(sec[secDynstr].off)},
		{dtSymtab, uint64(sec[secDynsym].off)},
		{dtStrsz, uint64(sec[secDynstr].size)},
		{dtSyment, symSize},
		{dtVersym, uint64(sec[secVersym].off)},
		{dtVerdef, uint64(sec[secVerdef].off)},
		{dtVerdefnum, 2},
		{dtNull, 0},
	}
	for i, d := range dyn {
		le.PutUint64(img[sec[secDynamic].off+i*dynSize:], d[0])
		le.PutUint64(img[sec[secDynamic].off+i*dynSize+8:], d[1])
	}

	// .text, .shstrtab.
	copy(img[textOff:], text)
	copy(img[sec[secShstrtab].off:], shstr.b)

	// Section headers (entry 0 stays zero).
	shdr := func(i int, typ uint32, flags uint64, link, info uint32, entsize uint64) {
		p := img[shoff+i*shdrSize:]
		s := sec[i]
		le.PutUint32(p[0:], shName[i])
		le.PutUint32(p[4:], typ)
		le.PutUint64(p[8:], flags)
		addr := uint64(s.off)
		if flags&shfAlloc == 0 {
			addr = 0
		}
		le.PutUint64(p[16:], addr)
		le.PutUint64(p[24:], uint64(s.off))
		le.PutUint64(p[32:], uint64(s.size))
		le.PutUint32(p[40:], link)
		le.PutUint32(p[44:], info)
		le.PutUint64(p[48:], uint64(s.align))
		le.PutUint64(p[56:], entsize)
	}
	shdr(secHash, shtHash, shfAlloc, secDynsym, 0, 4)
	shdr(secDynsym, shtDynsym, shfAlloc, secDynstr, 1, symSize) // info: first non-local symbol
	shdr(secDynstr, shtStrtab, shfAlloc, 0, 0, 0)
	shdr(secVersym, shtVersym, shfAlloc, secDynsym, 0, 2)
	shdr(secVerdef, shtVerdef, shfAlloc, secDynstr, 2, 0) // info: number of verdefs
	shdr(secText, shtProgbits, shfAlloc|shfExec, 0, 0, 0)
	shdr(secDynamic, shtDynamic, shfAlloc, secDynstr, 0, dynSize)
	shdr(secShstrtab, shtStrtab, 0, 0, 0, 0)
	return img
}
