// Package symtab turns program counters into function names, files and
// lines by reading the Go runtime's own pclntab (the table the runtime's
// tracebacks use), so that the kernel can symbolize a crash from trap
// context, where the runtime's functions cannot be called.
//
// The format is Go 1.20's (magic 0xFFFFFFF1; runtime/symtab.go,
// cmd/internal/objabi): a header, a function table sorted by entry
// offset, per-function records, and varint-encoded pc-value tables. Inlined
// calls are reported as the function they were inlined into, with the
// line of the inlined code.
//
// Every function is nosplit, allocates nothing, and never reads outside
// the table it was given (a corrupt table yields "not found").
package symtab

import "encoding/binary"

const magic = 0xFFFFFFF1

// Table is a pclntab in memory.
type Table struct {
	data      []byte
	text      uint64 // address function entry offsets are relative to
	nfunc     uint64
	funcnames uint64
	cutab     uint64
	filetab   uint64
	pctab     uint64
	functab   uint64
	minLC     uint64
	ok        bool
}

// Init reads the header of the pclntab in data; text is the address of the
// first function (the linker's runtime.text), which the table's entry
// offsets count from.
//
//go:nosplit
func (t *Table) Init(data []byte, text uint64) bool {
	t.ok = false
	if len(data) < 72 || binary.LittleEndian.Uint32(data) != magic || data[7] != 8 {
		return false
	}
	le := binary.LittleEndian
	t.data = data
	t.minLC = uint64(data[6])
	t.nfunc = le.Uint64(data[8:])
	t.text = text
	t.funcnames = le.Uint64(data[32:])
	t.cutab = le.Uint64(data[40:])
	t.filetab = le.Uint64(data[48:])
	t.pctab = le.Uint64(data[56:])
	t.functab = le.Uint64(data[64:])
	n := uint64(len(data))
	if t.minLC == 0 || t.functab > n || (t.nfunc+1)*8 > n-t.functab || t.funcnames > n || t.pctab > n || t.cutab > n || t.filetab > n {
		return false
	}
	t.ok = true
	return true
}

//go:nosplit
func (t *Table) u32(off uint64) (uint32, bool) {
	if off > uint64(len(t.data))-4 || off+4 > uint64(len(t.data)) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(t.data[off:]), true
}

// cstr returns the NUL-terminated string at off (at most 512 bytes).
//
//go:nosplit
func (t *Table) cstr(off uint64) []byte {
	if off >= uint64(len(t.data)) {
		return nil
	}
	s := t.data[off:]
	for i := 0; i < len(s) && i < 512; i++ {
		if s[i] == 0 {
			return s[:i]
		}
	}
	return nil
}

// Frame is what Lookup finds for a PC.
type Frame struct {
	Function []byte // aliases the table
	File     []byte
	Line     int32
	Entry    uint64
}

// Lookup finds the function containing pc.
//
//go:nosplit
func (t *Table) Lookup(pc uint64, fr *Frame) bool {
	if !t.ok || pc < t.text {
		return false
	}
	off := pc - t.text
	if off>>32 != 0 {
		return false
	}
	// Binary search for the last entry <= off.
	lo, hi := uint64(0), t.nfunc
	for lo < hi {
		mid := (lo + hi) / 2
		e, ok := t.u32(t.functab + mid*8)
		if !ok {
			return false
		}
		if uint64(e) <= off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return false
	}
	i := lo - 1
	if end, ok := t.u32(t.functab + (i+1)*8); !ok || off >= uint64(end) {
		return false
	}
	fo, ok := t.u32(t.functab + i*8 + 4)
	if !ok {
		return false
	}
	f := t.functab + uint64(fo)
	entry, ok1 := t.u32(f)
	nameOff, ok2 := t.u32(f + 4)
	pcfile, ok3 := t.u32(f + 20)
	pcln, ok4 := t.u32(f + 24)
	cu, ok5 := t.u32(f + 32)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return false
	}
	fr.Entry = t.text + uint64(entry)
	fr.Function = t.cstr(t.funcnames + uint64(nameOff))
	fr.Line = -1
	fr.File = nil
	if pcln != 0 {
		fr.Line = t.pcvalue(uint64(pcln), fr.Entry, pc)
	}
	if pcfile != 0 {
		if fileno := t.pcvalue(uint64(pcfile), fr.Entry, pc); fileno >= 0 {
			if fo, ok := t.u32(t.cutab + (uint64(cu)+uint64(fileno))*4); ok && fo != ^uint32(0) {
				fr.File = t.cstr(t.filetab + uint64(fo))
			}
		}
	}
	return true
}

// pcvalue decodes the pc-value table at pctab+off for targetpc.
//
//go:nosplit
func (t *Table) pcvalue(off, entry, targetpc uint64) int32 {
	p := t.pctab + off
	pc := entry
	val := int32(-1)
	for n := 0; n < 1<<20; n++ {
		uv, ok := t.varint(&p)
		if !ok || uv == 0 && n > 0 {
			return -1
		}
		if uv&1 != 0 {
			val += int32(-((uv >> 1) + 1))
		} else {
			val += int32(uv >> 1)
		}
		d, ok := t.varint(&p)
		if !ok {
			return -1
		}
		pc += uint64(d) * t.minLC
		if targetpc < pc {
			return val
		}
	}
	return -1
}

//go:nosplit
func (t *Table) varint(p *uint64) (uint32, bool) {
	var v uint32
	for shift := uint(0); shift < 35; shift += 7 {
		if *p >= uint64(len(t.data)) {
			return 0, false
		}
		b := t.data[*p]
		*p++
		v |= uint32(b&0x7F) << shift
		if b&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}
