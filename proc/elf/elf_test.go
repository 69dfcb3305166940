package elf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tProg is a program header for the test builder.
type tProg struct {
	typ, flags                              uint32
	off, vaddr, paddr, filesz, memsz, align uint64
}

// tELF describes a synthetic ELF file. Fields left zero get the values of
// a valid static executable from newExec.
type tELF struct {
	ident     [16]byte
	typ       uint16
	machine   uint16
	version   uint32
	entry     uint64
	phoff     uint64
	phentsize uint16
	phnum     int // -1: len(progs)
	progs     []tProg
	size      int               // file size
	extra     map[uint64][]byte // bytes to place at offsets
}

// newExec returns a valid ET_EXEC: text at 0x400000 (file 0..0x1800, r-x,
// holding the headers), data at 0x402800 (file 0x2800..0x2c00, memsz
// 0x2000, rw-), PT_PHDR, PT_TLS, PT_GNU_RELRO and PT_GNU_STACK.
func newExec() *tELF {
	e := &tELF{
		typ: etExec, machine: emX86_64, version: evCurrent,
		entry: 0x400100, phoff: ehdrSize, phentsize: PhentSize, phnum: -1,
		size: 0x3000,
	}
	copy(e.ident[:], "\x7fELF\x02\x01\x01")
	e.progs = []tProg{
		{typ: ptPhdr, flags: pfR, off: ehdrSize, vaddr: 0x400000 + ehdrSize, filesz: 6 * PhentSize, memsz: 6 * PhentSize, align: 8},
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0x400000, filesz: 0x1800, memsz: 0x1800, align: 0x1000},
		{typ: ptLoad, flags: pfR | pfW, off: 0x2800, vaddr: 0x402800, filesz: 0x400, memsz: 0x2000, align: 0x1000},
		{typ: ptTLS, flags: pfR, off: 0x2800, vaddr: 0x402800, filesz: 0x10, memsz: 0x40, align: 16},
		{typ: ptGNURelro, flags: pfR, off: 0x2800, vaddr: 0x402800, filesz: 0x100, memsz: 0x100, align: 1},
		{typ: ptGNUStack, flags: pfR | pfW},
	}
	return e
}

// newPIE returns a valid static PIE: the same layout linked at 0.
func newPIE() *tELF {
	e := newExec()
	e.typ = etDyn
	e.entry -= 0x400000
	for i := range e.progs {
		if e.progs[i].vaddr != 0 {
			e.progs[i].vaddr -= 0x400000
		}
	}
	return e
}

func (e *tELF) bytes() []byte {
	b := make([]byte, max(e.size, ehdrSize))
	le := binary.LittleEndian
	copy(b, e.ident[:])
	le.PutUint16(b[16:], e.typ)
	le.PutUint16(b[18:], e.machine)
	le.PutUint32(b[20:], e.version)
	le.PutUint64(b[24:], e.entry)
	le.PutUint64(b[32:], e.phoff)
	le.PutUint16(b[52:], ehdrSize)
	le.PutUint16(b[54:], e.phentsize)
	n := e.phnum
	if n < 0 {
		n = len(e.progs)
	}
	le.PutUint16(b[56:], uint16(n))
	for i, p := range e.progs {
		o := e.phoff + uint64(i)*PhentSize
		if o < e.phoff || o+PhentSize < o || o+PhentSize > uint64(len(b)) {
			break
		}
		h := b[o:]
		le.PutUint32(h[0:], p.typ)
		le.PutUint32(h[4:], p.flags)
		le.PutUint64(h[8:], p.off)
		le.PutUint64(h[16:], p.vaddr)
		le.PutUint64(h[24:], p.paddr)
		le.PutUint64(h[32:], p.filesz)
		le.PutUint64(h[40:], p.memsz)
		le.PutUint64(h[48:], p.align)
	}
	for off, x := range e.extra {
		copy(b[off:], x)
	}
	return b[:e.size]
}

func parseBytes(b []byte) (*Image, error) {
	return Parse(bytes.NewReader(b), int64(len(b)))
}

func TestParseValidExec(t *testing.T) {
	img, err := parseBytes(newExec().bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []Segment{
		{Addr: 0x400000, Len: 0x2000, Off: 0, FileLen: 0x1800, Prot: ProtRead | ProtExec},
		{Addr: 0x402000, Len: 0x3000, Off: 0x2000, FileLen: 0xc00, Prot: ProtRead | ProtWrite},
	}
	if len(img.Segments) != len(want) {
		t.Fatalf("segments %+v, want %+v", img.Segments, want)
	}
	for i := range want {
		if img.Segments[i] != want[i] {
			t.Errorf("segment %d = %+v, want %+v", i, img.Segments[i], want[i])
		}
	}
	if z := img.Segments[1].ZeroLen(); z != 0x3000-0xc00 {
		t.Errorf("ZeroLen = %#x", z)
	}
	check := func(name string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %#x, want %#x", name, got, want)
		}
	}
	check("Entry", img.Entry, 0x400100)
	check("Phdr", img.Phdr, 0x400040)
	check("Phent", img.Phent, 56)
	check("Phnum", img.Phnum, 6)
	check("Start", img.Start, 0x400000)
	check("End", img.End, 0x405000)
	check("Brk", img.Brk, 0x405000)
	check("Align", img.Align, 0x1000)
	if img.PIE || img.ExecStack {
		t.Errorf("PIE %v ExecStack %v", img.PIE, img.ExecStack)
	}
	if img.TLS == nil || *img.TLS != (TLS{Vaddr: 0x402800, Filesz: 0x10, Memsz: 0x40, Align: 16}) {
		t.Errorf("TLS = %+v", img.TLS)
	}
	if img.Relro != (Range{0x402800, 0x100}) {
		t.Errorf("Relro = %+v", img.Relro)
	}
	if _, err := img.Relocate(0x1000); err == nil {
		t.Error("Relocate of ET_EXEC by 0x1000 accepted")
	}
	c, err := img.Relocate(0)
	if err != nil || c.Entry != img.Entry {
		t.Errorf("Relocate(0) = %+v, %v", c, err)
	}
}

func TestParseValidPIE(t *testing.T) {
	e := newPIE()
	e.progs[5].flags |= pfX // executable stack
	img, err := parseBytes(e.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !img.PIE || !img.ExecStack || img.Start != 0 || img.Entry != 0x100 || img.Phdr != 0x40 {
		t.Fatalf("image %+v", img)
	}
	if _, err := img.Relocate(0); err == nil {
		t.Error("PIE at 0 accepted without a bias")
	}
	bias := img.DefaultBias()
	if bias != DefaultDynBase {
		t.Errorf("DefaultBias = %#x", bias)
	}
	r, err := img.Relocate(bias + 0x7000)
	if err != nil {
		t.Fatal(err)
	}
	b := bias + 0x7000
	if r.Entry != 0x100+b || r.Phdr != 0x40+b || r.Start != b || r.End != 0x5000+b || r.Brk != 0x5000+b ||
		r.Segments[1].Addr != 0x2000+b || r.TLS.Vaddr != 0x2800+b || r.Relro.Addr != 0x2800+b || r.Bias != b {
		t.Errorf("relocated %+v", r)
	}
	if img.Entry != 0x100 || img.Segments[0].Addr != 0 || img.TLS.Vaddr != 0x2800 {
		t.Error("Relocate modified the receiver")
	}
	for _, bad := range []uint64{0x800, UserTop - 0x4000, 1 << 63} {
		if _, err := img.Relocate(bad); err == nil {
			t.Errorf("Relocate(%#x) accepted", bad)
		}
	}
	// A 2 MiB-aligned PIE needs a 2 MiB-aligned bias.
	e = newPIE()
	e.progs[1].align = 2 << 20
	img, err = parseBytes(e.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if img.Align != 2<<20 || img.DefaultBias()%(2<<20) != 0 {
		t.Errorf("Align %#x DefaultBias %#x", img.Align, img.DefaultBias())
	}
	if _, err := img.Relocate(DefaultDynBase + 0x1000); err == nil {
		t.Error("misaligned bias accepted")
	}
}

func TestParsePhdrFallback(t *testing.T) {
	e := newExec()
	e.progs[0].typ = 0x60000000 // no PT_PHDR: computed from the text segment
	img, err := parseBytes(e.bytes())
	if err != nil || img.Phdr != 0x400040 {
		t.Fatalf("Phdr %#x, %v", img.Phdr, err)
	}
	e = newExec()
	e.progs[0].vaddr = 0x900000 // bogus PT_PHDR: ignored
	img, err = parseBytes(e.bytes())
	if err != nil || img.Phdr != 0x400040 {
		t.Fatalf("Phdr %#x, %v", img.Phdr, err)
	}
	e = newExec()
	e.progs[1].off, e.progs[1].vaddr, e.progs[1].filesz = 0x1000, 0x401000, 0x800
	e.progs[1].memsz = 0x800
	e.entry = 0x401000
	e.progs[0].typ = 0x60000000
	img, err = parseBytes(e.bytes())
	if err != nil || img.Phdr != 0 {
		t.Fatalf("uncovered table: Phdr %#x, %v", img.Phdr, err)
	}
}

func TestParseReject(t *testing.T) {
	tests := []struct {
		name string
		mod  func(e *tELF)
		msg  string
	}{
		{"bad magic", func(e *tELF) { e.ident[0] = 'M' }, "not an ELF"},
		{"32-bit", func(e *tELF) { e.ident[4] = 1 }, "64-bit"},
		{"big-endian", func(e *tELF) { e.ident[5] = 2 }, "little-endian"},
		{"ident version", func(e *tELF) { e.ident[6] = 0 }, "identification version"},
		{"relocatable", func(e *tELF) { e.typ = 1 }, "ELF type 1"},
		{"core", func(e *tELF) { e.typ = 4 }, "ELF type 4"},
		{"i386", func(e *tELF) { e.machine = 3 }, "machine 3"},
		{"aarch64", func(e *tELF) { e.machine = 183 }, "machine 183"},
		{"version", func(e *tELF) { e.version = 2 }, "ELF version 2"},
		{"phentsize", func(e *tELF) { e.phentsize = 32 }, "program header size"},
		{"phnum 0", func(e *tELF) { e.phnum = 0 }, "no program headers"},
		{"phnum 129", func(e *tELF) { e.phnum = 129 }, "too many"},
		{"phnum 0xffff", func(e *tELF) { e.phnum = 0xffff }, "too many"},
		{"phoff beyond", func(e *tELF) { e.phoff = 0x3000 }, "outside the file"},
		{"phoff straddles", func(e *tELF) { e.phoff = 0x3000 - 100 }, "outside the file"},
		{"phoff overflow", func(e *tELF) { e.phoff = ^uint64(0) - 10 }, "outside the file"},
		{"filesz > memsz", func(e *tELF) { e.progs[2].memsz = 0x300 }, "p_filesz"},
		{"file range beyond", func(e *tELF) { e.progs[2].filesz = 0x900 }, "outside the file"},
		{"offset beyond", func(e *tELF) { e.progs[2].off, e.progs[2].vaddr = 0x5800, 0x405800 }, "outside the file"},
		{"offset overflow", func(e *tELF) {
			e.progs[2].off = ^uint64(0) - 0x7ff
			e.progs[2].vaddr = 0x402800
		}, "outside the file"},
		{"vaddr overflow", func(e *tELF) { e.progs[2].vaddr = ^uint64(0) - 0x7ff }, "overflows"},
		{"page-up overflow", func(e *tELF) {
			e.progs[2].vaddr = ^uint64(0) - 0x17ff
			e.progs[2].memsz = 0x1700
		}, "beyond user space"},
		{"kernel half", func(e *tELF) { e.progs[2].vaddr = 0xffff800000002800 }, "beyond user space"},
		{"non-canonical", func(e *tELF) { e.progs[2].vaddr = 0x0000800000002800 }, "beyond user space"},
		{"last user page", func(e *tELF) { e.progs[2].vaddr = UserTop - 0x800 }, "beyond user space"},
		{"null page", func(e *tELF) {
			e.progs[1].vaddr, e.progs[2].vaddr = 0, 0x2800
			e.entry = 0x100
		}, "lowest mappable"},
		{"overlap bytes", func(e *tELF) { e.progs[2].vaddr = 0x400800 }, "overlap"},
		{"overlap page", func(e *tELF) { e.progs[2].vaddr, e.progs[2].off = 0x401c00, 0x2c00 }, "overlap"},
		{"overlap page adjacent", func(e *tELF) { e.progs[2].vaddr = 0x401800 }, "overlap"},
		{"overlap contained", func(e *tELF) {
			e.progs[1].memsz = 0x10000
		}, "overlap"},
		{"align not power of two", func(e *tELF) { e.progs[2].align = 0x3000 }, "power of two"},
		{"align huge", func(e *tELF) { e.progs[2].align = 1 << 40 }, "power of two"},
		{"congruence", func(e *tELF) { e.progs[2].vaddr = 0x402900 }, "modulo the page size"},
		{"entry in data", func(e *tELF) { e.entry = 0x402800 }, "entry point"},
		{"entry beyond", func(e *tELF) { e.entry = 0x401800 }, "entry point"},
		{"entry zero", func(e *tELF) { e.entry = 0 }, "entry point"},
		{"no PT_LOAD", func(e *tELF) { e.progs = e.progs[5:] }, "no loadable"},
		{"too big", func(e *tELF) { e.progs[2].memsz = 5 << 30 }, "more than"},
		{"span too big", func(e *tELF) {
			e.progs[2].vaddr += 5 << 30
			e.progs[3].vaddr += 5 << 30
			e.progs[4].vaddr += 5 << 30
		}, "span"},
		{"TLS outside", func(e *tELF) { e.progs[3].vaddr = 0x500000 }, "PT_TLS"},
		{"TLS filesz", func(e *tELF) { e.progs[3].filesz = 0x100 }, "PT_TLS"},
		{"TLS align", func(e *tELF) { e.progs[3].align = 24 }, "PT_TLS"},
		{"RELRO outside", func(e *tELF) { e.progs[4].memsz = 0x10000 }, "PT_GNU_RELRO"},
		{"truncated header", func(e *tELF) { e.size = 40 }, "truncated"},
		{"bad interp size", func(e *tELF) {
			e.progs = append(e.progs, tProg{typ: ptInterp, off: 0x2000, filesz: 1})
		}, "PT_INTERP"},
		{"interp beyond", func(e *tELF) {
			e.progs = append(e.progs, tProg{typ: ptInterp, off: 0x2ff0, filesz: 0x20})
		}, "truncated"},
		{"interp no NUL", func(e *tELF) {
			e.progs = append(e.progs, tProg{typ: ptInterp, off: 0x2000, filesz: 4})
			e.extra = map[uint64][]byte{0x2000: []byte("/lib")}
		}, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExec()
			tt.mod(e)
			img, err := parseBytes(e.bytes())
			if err == nil {
				t.Fatalf("accepted: %+v", img)
			}
			if !errors.Is(err, syscall.ENOEXEC) {
				t.Errorf("error %v is not ENOEXEC", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FormatError", err)
			}
			if errors.Is(err, ErrDynamic) {
				t.Errorf("error %v is ErrDynamic", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
	for _, b := range [][]byte{nil, []byte("\x7fEL"), []byte("#!/bin/sh\n"), []byte("\x7fELF")} {
		if _, err := parseBytes(b); !errors.Is(err, syscall.ENOEXEC) {
			t.Errorf("Parse(%q) = %v", b, err)
		}
	}
}

func TestParseDynamic(t *testing.T) {
	e := newExec()
	const interp = "/lib64/ld-linux-x86-64.so.2"
	e.progs = append(e.progs, tProg{typ: ptInterp, off: 0x2000, filesz: uint64(len(interp) + 1)})
	e.extra = map[uint64][]byte{0x2000: []byte(interp + "\x00")}
	_, err := parseBytes(e.bytes())
	if !errors.Is(err, ErrDynamic) || !errors.Is(err, syscall.ENOEXEC) {
		t.Fatalf("error %v", err)
	}
	var de *DynamicError
	if !errors.As(err, &de) || de.Interp != interp {
		t.Fatalf("error %#v", err)
	}
	want := "dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2): dunix runs static binaries only"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.ENOEXEC {
		t.Errorf("errors.As errno = %v", errno)
	}
}

// errReader fails every read after the first n bytes.
type errReader struct {
	b []byte
	n int64
}

func (r errReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.n {
		return 0, syscall.EIO
	}
	return copy(p, r.b[off:]), nil
}

// shortReader returns io.EOF early, as a file that shrank would.
type shortReader struct{ b []byte }

func (r shortReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestParseReadErrors(t *testing.T) {
	b := newExec().bytes()
	_, err := Parse(errReader{b, 64}, int64(len(b)))
	if !errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("I/O error: %v", err)
	}
	_, err = Parse(shortReader{b[:100]}, int64(len(b)))
	if !errors.Is(err, syscall.ENOEXEC) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("short file: %v", err)
	}
	if _, err := Parse(bytes.NewReader(b), -1); !errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("negative size: %v", err)
	}
}

// memory is a sparse simulation of an address space filled by a plan.
type memory map[uint64][]byte // page address -> page

// load executes img's plan over file f into a fresh memory.
func load(t *testing.T, img *Image, f []byte) memory {
	t.Helper()
	m := memory{}
	for _, s := range img.Segments {
		for a := s.Addr; a < s.End(); a += PageSize {
			if m[a] != nil {
				t.Fatalf("page %#x mapped twice", a)
			}
			m[a] = make([]byte, PageSize)
		}
		if s.Off+s.FileLen > uint64(len(f)) {
			t.Fatalf("segment %+v reads beyond the file (%d bytes)", s, len(f))
		}
		src := f[s.Off : s.Off+s.FileLen]
		for i := uint64(0); i < uint64(len(src)); i += PageSize {
			copy(m[s.Addr+i], src[i:])
		}
	}
	return m
}

// read returns n bytes at addr, or nil if not all mapped.
func (m memory) read(addr, n uint64) []byte {
	out := make([]byte, 0, n)
	for n > 0 {
		p := m[pageDown(addr)]
		if p == nil {
			return nil
		}
		k := min(n, PageSize-addr%PageSize)
		out = append(out, p[addr%PageSize:addr%PageSize+k]...)
		addr += k
		n -= k
	}
	return out
}

// checkAgainstDebugELF parses the binary at path with Parse and with
// debug/elf and compares the plan, executed in a simulated memory, with
// the sections and program headers debug/elf reports.
func checkAgainstDebugELF(t *testing.T, path string, wantPIE bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	img, err := parseBytes(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if img.PIE != wantPIE {
		t.Fatalf("PIE = %v, want %v", img.PIE, wantPIE)
	}
	bias := img.DefaultBias()
	if img, err = img.Relocate(bias); err != nil {
		t.Fatal(err)
	}
	if img.Entry != ef.Entry+bias {
		t.Errorf("Entry %#x, debug/elf %#x+%#x", img.Entry, ef.Entry, bias)
	}
	if img.Phnum != uint64(len(ef.Progs)) {
		t.Errorf("Phnum %d, debug/elf %d", img.Phnum, len(ef.Progs))
	}
	m := load(t, img, data)
	var loads int
	var brk uint64
	for _, p := range ef.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			loads++
			brk = max(brk, p.Vaddr+p.Memsz+bias)
			var seg *Segment
			for i := range img.Segments {
				if img.Segments[i].Addr == pageDown(p.Vaddr+bias) {
					seg = &img.Segments[i]
				}
			}
			if seg == nil {
				t.Errorf("no segment for %+v", p.ProgHeader)
				continue
			}
			end, _ := pageUp(p.Vaddr + p.Memsz + bias)
			if seg.End() != end || seg.Off != pageDown(p.Off) || seg.FileLen != p.Filesz+p.Vaddr%PageSize {
				t.Errorf("segment %+v for %+v", *seg, p.ProgHeader)
			}
			var prot Prot
			if p.Flags&elf.PF_R != 0 {
				prot |= ProtRead
			}
			if p.Flags&elf.PF_W != 0 {
				prot |= ProtWrite
			}
			if p.Flags&elf.PF_X != 0 {
				prot |= ProtExec
			}
			if seg.Prot != prot {
				t.Errorf("segment %+v prot %v, want %v", *seg, seg.Prot, prot)
			}
			// The segment's file bytes then zeros up to the page end.
			got := m.read(p.Vaddr+bias, p.Memsz)
			want := make([]byte, p.Memsz)
			if _, err := p.ReadAt(want[:p.Filesz], 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("memory of %+v differs", p.ProgHeader)
			}
			if tail := m.read(p.Vaddr+bias+p.Memsz, end-(p.Vaddr+bias+p.Memsz)); tail == nil || bytes.Count(tail, []byte{0}) != len(tail) {
				t.Errorf("tail of %+v not zero", p.ProgHeader)
			}
		case elf.PT_PHDR:
			if img.Phdr != p.Vaddr+bias {
				t.Errorf("Phdr %#x, PT_PHDR at %#x", img.Phdr, p.Vaddr+bias)
			}
		case elf.PT_TLS:
			if img.TLS == nil || img.TLS.Vaddr != p.Vaddr+bias || img.TLS.Memsz != p.Memsz || img.TLS.Filesz != p.Filesz {
				t.Errorf("TLS %+v, PT_TLS %+v", img.TLS, p.ProgHeader)
			}
		case elf.PT_GNU_STACK:
			if img.ExecStack != (p.Flags&elf.PF_X != 0) {
				t.Errorf("ExecStack %v", img.ExecStack)
			}
		}
	}
	if loads != len(img.Segments) {
		t.Errorf("%d segments, %d PT_LOAD", len(img.Segments), loads)
	}
	if want, _ := pageUp(brk); img.Brk != want {
		t.Errorf("Brk %#x, want %#x", img.Brk, want)
	}
	// The program headers are where AT_PHDR says.
	raw := make([]byte, img.Phnum*PhentSize)
	phoff := binary.LittleEndian.Uint64(data[32:])
	copy(raw, data[phoff:])
	if img.Phdr == 0 || !bytes.Equal(m.read(img.Phdr, uint64(len(raw))), raw) {
		t.Errorf("program headers not at AT_PHDR %#x", img.Phdr)
	}
	// Every allocated section is in memory with its contents.
	for _, s := range ef.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Size == 0 || s.Flags&elf.SHF_TLS != 0 && s.Type == elf.SHT_NOBITS {
			continue
		}
		got := m.read(s.Addr+bias, s.Size)
		if got == nil {
			t.Errorf("section %s [%#x, +%#x) not mapped", s.Name, s.Addr+bias, s.Size)
			continue
		}
		want := make([]byte, s.Size)
		if s.Type != elf.SHT_NOBITS {
			if want, err = s.Data(); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("section %s differs in memory", s.Name)
		}
	}
}

func TestParseGoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, []byte("package main\n\nimport \"fmt\"\n\nvar bss [1 << 16]byte\n\nfunc main() { fmt.Println(\"hi\", len(bss)) }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"exe", "pie"} {
		t.Run(mode, func(t *testing.T) {
			out := filepath.Join(dir, "hello-"+mode)
			cmd := exec.Command("go", "build", "-buildmode="+mode, "-o", out, src)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=", "GOTOOLCHAIN=local")
			if b, err := cmd.CombinedOutput(); err != nil {
				if mode == "pie" {
					t.Skipf("go build -buildmode=pie: %v\n%s", err, b)
				}
				t.Fatalf("go build: %v\n%s", err, b)
			}
			data, _ := os.ReadFile(out)
			if _, err := parseBytes(data); errors.Is(err, ErrDynamic) {
				t.Skipf("go built a dynamically linked %s: %v", mode, err)
			}
			checkAgainstDebugELF(t, out, mode == "pie")
		})
	}
}

// buildC compiles a C program with gcc and extra flags; it skips the test
// if gcc is missing or cannot link that way.
func buildC(t *testing.T, src string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	args := append(append([]string{"-O1", "-o", out}, flags...), c)
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		if len(flags) > 0 && flags[0] == "-static-pie" {
			t.Skipf("gcc %v: %v\n%s", flags, err, b)
		}
		t.Fatalf("gcc %v: %v\n%s", flags, err, b)
	}
	return out
}

const cHello = `#include <stdio.h>
__thread int tls = 42;
static char bss[100000];
int main(int argc, char **argv) { bss[argc] = 1; printf("hi %d %d\n", tls, bss[1]); return 0; }
`

func TestParseGCCStatic(t *testing.T) {
	checkAgainstDebugELF(t, buildC(t, cHello, "-static"), false)
}

func TestParseGCCStaticPIE(t *testing.T) {
	checkAgainstDebugELF(t, buildC(t, cHello, "-static-pie"), true)
}

func TestParseGCCDynamic(t *testing.T) {
	path := buildC(t, cHello)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var interp string
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	_, err = parseBytes(data)
	var de *DynamicError
	if !errors.As(err, &de) || de.Interp != interp || interp == "" {
		t.Fatalf("error %v, interpreter %q", err, interp)
	}
	t.Log(err)
}
