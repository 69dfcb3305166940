package vdso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/arch/x86/x86asm"
)

var le = binary.LittleEndian

// exported lists the dynamic symbols with their binding; the __vdso_
// name and its alias name the same function.
var exported = []struct {
	name string
	bind elf.SymBind
}{
	{"__vdso_clock_gettime", elf.STB_GLOBAL},
	{"__vdso_gettimeofday", elf.STB_GLOBAL},
	{"__vdso_time", elf.STB_GLOBAL},
	{"__vdso_getcpu", elf.STB_GLOBAL},
	{"clock_gettime", elf.STB_WEAK},
	{"gettimeofday", elf.STB_WEAK},
	{"time", elf.STB_WEAK},
	{"getcpu", elf.STB_WEAK},
}

func parse(t *testing.T, img []byte) *elf.File {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("debug/elf: %v", err)
	}
	return f
}

// dynsyms returns the dynamic symbols by name.
func dynsyms(t *testing.T, f *elf.File) map[string]elf.Symbol {
	t.Helper()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatalf("DynamicSymbols: %v", err)
	}
	m := map[string]elf.Symbol{}
	for _, s := range syms {
		if _, dup := m[s.Name]; dup {
			t.Errorf("symbol %s twice", s.Name)
		}
		m[s.Name] = s
	}
	return m
}

func TestELF(t *testing.T) {
	img := Image(Clock{TSCBase: 1, Mult: 2, WallBase: 3, Usable: true})
	f := parse(t, img[:])
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.OSABI != elf.ELFOSABI_NONE ||
		f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 || f.Entry != 0 {
		t.Errorf("header: %+v", f.FileHeader)
	}

	// Program headers: one PT_LOAD of the whole page, PT_DYNAMIC on .dynamic.
	dynSec := f.Section(".dynamic")
	text := f.Section(".text")
	if dynSec == nil || text == nil {
		t.Fatalf("no .dynamic or .text section")
	}
	var loads, dyns int
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			loads++
			if p.Off != 0 || p.Vaddr != 0 || p.Paddr != 0 || p.Filesz != Size || p.Memsz != Size ||
				p.Flags != elf.PF_R|elf.PF_X || p.Align != 4096 {
				t.Errorf("PT_LOAD: %+v", p.ProgHeader)
			}
		case elf.PT_DYNAMIC:
			dyns++
			if p.Off != dynSec.Offset || p.Vaddr != dynSec.Addr || p.Filesz != dynSec.Size ||
				p.Memsz != dynSec.Size || p.Flags != elf.PF_R {
				t.Errorf("PT_DYNAMIC %+v, .dynamic %+v", p.ProgHeader, dynSec.SectionHeader)
			}
		default:
			t.Errorf("unexpected program header %v", p.Type)
		}
	}
	if loads != 1 || dyns != 1 {
		t.Errorf("%d PT_LOAD, %d PT_DYNAMIC", loads, dyns)
	}

	// Sections: inside the page, below the data area, not overlapping,
	// allocated ones at address = offset.
	type span struct {
		name       string
		start, end uint64
	}
	var spans []span
	for _, s := range f.Sections[1:] {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Addr != s.Offset {
			t.Errorf("%s: addr %#x != offset %#x", s.Name, s.Addr, s.Offset)
		}
		if s.Addralign > 1 && s.Offset%s.Addralign != 0 {
			t.Errorf("%s: offset %#x not aligned to %d", s.Name, s.Offset, s.Addralign)
		}
		spans = append(spans, span{s.Name, s.Offset, s.Offset + s.Size})
	}
	spans = append(spans, span{"ELF header+phdrs", 0, uint64(f.Sections[1].Offset)})
	shoff := le.Uint64(img[40:])
	spans = append(spans, span{"section headers", shoff, shoff + uint64(len(f.Sections))*64})
	spans = append(spans, span{"data", DataOffset, DataOffset + dataSize})
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i, s := range spans {
		if s.end > Size || s.start > s.end {
			t.Errorf("%s [%#x, %#x) outside the page", s.name, s.start, s.end)
		}
		if i > 0 && spans[i-1].end > s.start {
			t.Errorf("%s overlaps %s", spans[i-1].name, s.name)
		}
	}
	if spans[len(spans)-1].name != "data" {
		t.Errorf("the data area is not last")
	}
	if DataOffset%64 != 0 || DataOffset < Size-256 {
		t.Errorf("DataOffset %#x", DataOffset)
	}

	// Dynamic symbols: the eight, functions in .text, LINUX_2.6.
	syms := dynsyms(t, f)
	if len(syms) != len(exported) {
		t.Errorf("%d dynamic symbols, want %d", len(syms), len(exported))
	}
	for _, e := range exported {
		s, ok := syms[e.name]
		if !ok {
			t.Errorf("no symbol %s", e.name)
			continue
		}
		if elf.ST_BIND(s.Info) != e.bind || elf.ST_TYPE(s.Info) != elf.STT_FUNC ||
			elf.ST_VISIBILITY(s.Other) != elf.STV_DEFAULT {
			t.Errorf("%s: bind %v type %v vis %v", e.name, elf.ST_BIND(s.Info), elf.ST_TYPE(s.Info), elf.ST_VISIBILITY(s.Other))
		}
		if int(s.Section) >= len(f.Sections) || f.Sections[s.Section] != text {
			t.Errorf("%s: section %d, not .text", e.name, s.Section)
		}
		if s.Value < text.Addr || s.Size == 0 || s.Value+s.Size > text.Addr+text.Size || s.Value%16 != 0 {
			t.Errorf("%s: [%#x, +%d) not in .text [%#x, +%d)", e.name, s.Value, s.Size, text.Addr, text.Size)
		}
		if !s.HasVersion || s.VersionIndex.Index() != verIndex || s.VersionIndex.IsHidden() ||
			s.Version != "LINUX_2.6" || s.Library != "" {
			t.Errorf("%s: version %v %#x %q %q", e.name, s.HasVersion, s.VersionIndex, s.Version, s.Library)
		}
		if alias := strings.TrimPrefix(e.name, "__vdso_"); alias != e.name {
			if a := syms[alias]; a.Value != s.Value || a.Size != s.Size {
				t.Errorf("%s at %#x+%d, %s at %#x+%d", alias, a.Value, a.Size, e.name, s.Value, s.Size)
			}
		}
	}

	vers, err := f.DynamicVersions()
	if err != nil {
		t.Fatalf("DynamicVersions: %v", err)
	}
	want := []elf.DynamicVersion{
		{Name: "linux-vdso.so.1", Index: 1, Flags: elf.VER_FLG_BASE},
		{Name: "LINUX_2.6", Index: 2},
	}
	if len(vers) != len(want) {
		t.Fatalf("versions %+v", vers)
	}
	for i := range want {
		if vers[i].Name != want[i].Name || vers[i].Index != want[i].Index || vers[i].Flags != want[i].Flags || len(vers[i].Deps) != 0 {
			t.Errorf("version %d: %+v, want %+v", i, vers[i], want[i])
		}
	}
	if so, err := f.DynString(elf.DT_SONAME); err != nil || len(so) != 1 || so[0] != "linux-vdso.so.1" {
		t.Errorf("DT_SONAME %q %v", so, err)
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("DT_NEEDED %q %v", libs, err)
	}

	// The dynamic table's pointers agree with the section headers.
	for tag, sec := range map[elf.DynTag]string{
		elf.DT_HASH: ".hash", elf.DT_SYMTAB: ".dynsym", elf.DT_STRTAB: ".dynstr",
		elf.DT_VERSYM: ".gnu.version", elf.DT_VERDEF: ".gnu.version_d",
	} {
		v, err := f.DynValue(tag)
		if err != nil || len(v) != 1 || v[0] != f.Section(sec).Addr {
			t.Errorf("%v = %#x (%v), %s at %#x", tag, v, err, sec, f.Section(sec).Addr)
		}
	}
	if v, _ := f.DynValue(elf.DT_GNU_HASH); len(v) != 0 {
		t.Errorf("DT_GNU_HASH present")
	}
}

// The hashes the Go runtime has built in (runtime/vdso_linux_amd64.go)
// are the SysV hashes of the names, which the image uses.
func TestHash(t *testing.T) {
	for name, h := range map[string]uint32{
		"LINUX_2.6":            0x3ae75f6,
		"__vdso_gettimeofday":  0x315ca59,
		"__vdso_clock_gettime": 0xd35ec75,
		"__vdso_getrandom":     0x25425d,
	} {
		if got := elfHash(name); got != h {
			t.Errorf("elfHash(%q) = %#x, want %#x", name, got, h)
		}
	}
}

// mem reads the image as if it were mapped at base, as the loaders do.
type mem struct {
	t    *testing.T
	base uintptr
	img  []byte
}

func (m mem) at(a uintptr, n int) []byte {
	off := a - m.base
	if a < m.base || off+uintptr(n) > uintptr(len(m.img)) {
		m.t.Fatalf("read of %d bytes at %#x outside the page at %#x", n, a, m.base)
	}
	return m.img[off : off+uintptr(n)]
}
func (m mem) u16(a uintptr) uint16 { return le.Uint16(m.at(a, 2)) }
func (m mem) u32(a uintptr) uint32 { return le.Uint32(m.at(a, 4)) }
func (m mem) u64(a uintptr) uint64 { return le.Uint64(m.at(a, 8)) }
func (m mem) cstring(a uintptr) string {
	var b []byte
	for c := m.at(a, 1)[0]; c != 0; c = m.at(a, 1)[0] {
		b = append(b, c)
		a++
	}
	return string(b)
}

const fakeBase = 0x7fff_f7fc_0000

// goLookup is the Go runtime's vdsoInitFromSysinfoEhdr, vdsoFindVersion
// and vdsoParseSymbols (runtime/vdso_linux.go, Go 1.26) on the image, with
// the runtime's keys and built-in hashes; it returns what the runtime's
// vdso*Sym variables would hold.
func goLookup(t *testing.T, img []byte) map[string]uintptr {
	m := mem{t, fakeBase, img}
	loadAddr := uintptr(fakeBase)
	phoff := uintptr(m.u64(loadAddr + 32))
	phnum := m.u16(loadAddr + 56)
	var loadOffset, dyn uintptr
	var foundVaddr bool
	for i := uint16(0); i < phnum; i++ {
		pt := loadAddr + phoff + uintptr(i)*56 // unsafe.Sizeof(elfPhdr{})
		switch m.u32(pt) {
		case 1: // PT_LOAD
			if !foundVaddr {
				foundVaddr = true
				loadOffset = loadAddr + uintptr(m.u64(pt+8)-m.u64(pt+16))
				if end := loadOffset + uintptr(m.u64(pt+40)); end != loadAddr+Size {
					t.Errorf("vdsoLoadEnd %#x", end)
				}
			}
		case 2: // PT_DYNAMIC
			dyn = loadAddr + uintptr(m.u64(pt+8))
		}
	}
	if !foundVaddr || dyn == 0 {
		t.Fatalf("no PT_LOAD or PT_DYNAMIC")
	}
	var hash, gnuhash, symstrings, symtab, versym, verdef uintptr
	for i := uintptr(0); m.u64(dyn+16*i) != 0; i++ {
		p := loadOffset + uintptr(m.u64(dyn+16*i+8))
		switch m.u64(dyn + 16*i) {
		case 5:
			symstrings = p
		case 6:
			symtab = p
		case 4:
			hash = p
		case 0x6ffffef5:
			gnuhash = p
		case 0x6ffffff0:
			versym = p
		case 0x6ffffffc:
			verdef = p
		}
	}
	if symstrings == 0 || symtab == 0 || (hash == 0 && gnuhash == 0) {
		t.Fatalf("dynamic table incomplete")
	}
	if gnuhash != 0 {
		t.Fatalf("unexpected DT_GNU_HASH")
	}
	if verdef == 0 {
		versym = 0
	}
	nbucket := m.u32(hash)
	nchain := m.u32(hash + 4)
	bucket := func(i uint32) uint32 { return m.u32(hash + 8 + 4*uintptr(i)) }
	chain := func(i uint32) uint32 {
		if i >= nchain {
			t.Fatalf("chain index %d >= nchain %d", i, nchain)
		}
		return m.u32(hash + 8 + 4*uintptr(nbucket) + 4*uintptr(i))
	}

	// vdsoFindVersion(LINUX_2.6, 0x3ae75f6).
	version := int32(-1)
	for def := verdef; ; {
		if m.u16(def+2)&1 == 0 { // vd_flags & VER_FLG_BASE
			aux := def + uintptr(m.u32(def+12))
			if m.u32(def+8) == 0x3ae75f6 && m.cstring(symstrings+uintptr(m.u32(aux))) == "LINUX_2.6" {
				version = int32(m.u16(def+4) & 0x7fff)
				break
			}
		}
		next := m.u32(def + 16)
		if next == 0 {
			break
		}
		def += uintptr(next)
	}
	if version != verIndex {
		t.Errorf("vdsoFindVersion = %d", version)
	}

	// vdsoParseSymbols.
	found := map[string]uintptr{}
	for _, k := range []struct {
		name    string
		symHash uint32
	}{
		{"__vdso_gettimeofday", 0x315ca59},
		{"__vdso_clock_gettime", 0xd35ec75},
		{"__vdso_getrandom", 0x25425d},
	} {
		if nbucket == 0 {
			continue
		}
		for c := bucket(k.symHash % nbucket); c != 0; c = chain(c) {
			sym := symtab + 24*uintptr(c)
			info := m.at(sym+4, 1)[0]
			typ, bind := info&0xf, info>>4
			if typ != 2 && typ != 0 || bind != 1 && bind != 2 || m.u16(sym+6) == 0 {
				continue
			}
			if k.name != m.cstring(symstrings+uintptr(m.u32(sym))) {
				continue
			}
			if versym != 0 && version != 0 && int32(m.u16(versym+2*uintptr(c))&0x7fff) != version {
				continue
			}
			found[k.name] = loadOffset + uintptr(m.u64(sym+8))
			break
		}
	}
	return found
}

func TestGoRuntimeLookup(t *testing.T) {
	img := Image(Clock{Usable: true})
	syms := dynsyms(t, parse(t, img[:]))
	got := goLookup(t, img[:])
	for _, name := range []string{"__vdso_gettimeofday", "__vdso_clock_gettime"} {
		if want := fakeBase + uintptr(syms[name].Value); got[name] != want {
			t.Errorf("Go runtime finds %s at %#x, want %#x", name, got[name], want)
		}
	}
	if a, ok := got["__vdso_getrandom"]; ok {
		t.Errorf("__vdso_getrandom found at %#x", a)
	}
}

// muslLookup is what musl's __vdsosym (src/internal/vdso.c) does: the
// base from the PT_LOAD, a linear scan over the DT_HASH nchain symbols,
// and the version checked through the verdef of the symbol's index.
func muslLookup(t *testing.T, img []byte, vername, name string) uintptr {
	m := mem{t, fakeBase, img}
	eh := uintptr(fakeBase)
	ph := eh + uintptr(m.u64(eh+32))
	phentsize := uintptr(m.u16(eh + 54))
	var dynv uintptr
	base := ^uintptr(0)
	for i := uint16(0); i < m.u16(eh+56); i, ph = i+1, ph+phentsize {
		switch m.u32(ph) {
		case 1:
			base = eh + uintptr(m.u64(ph+8)) - uintptr(m.u64(ph+16))
		case 2:
			dynv = eh + uintptr(m.u64(ph+8))
		}
	}
	if dynv == 0 || base == ^uintptr(0) {
		return 0
	}
	var strs, syms, hashtab, versym, verdef uintptr
	for i := uintptr(0); m.u64(dynv+8*i) != 0; i += 2 {
		p := base + uintptr(m.u64(dynv+8*i+8))
		switch m.u64(dynv + 8*i) {
		case 5:
			strs = p
		case 6:
			syms = p
		case 4:
			hashtab = p
		case 0x6ffffff0:
			versym = p
		case 0x6ffffffc:
			verdef = p
		}
	}
	if strs == 0 || syms == 0 || hashtab == 0 {
		return 0
	}
	if verdef == 0 {
		versym = 0
	}
	checkver := func(vsym uint16) bool {
		vsym &= 0x7fff
		def := verdef
		for m.u16(def+2)&1 != 0 || m.u16(def+4)&0x7fff != vsym {
			if m.u32(def+16) == 0 {
				return false
			}
			def += uintptr(m.u32(def + 16))
		}
		aux := def + uintptr(m.u32(def+12))
		return m.cstring(strs+uintptr(m.u32(aux))) == vername
	}
	for i := uintptr(0); i < uintptr(m.u32(hashtab+4)); i++ {
		sym := syms + 24*i
		info := m.at(sym+4, 1)[0]
		okTypes := 1<<0 | 1<<1 | 1<<2 | 1<<5
		okBinds := 1<<1 | 1<<2 | 1<<10
		if 1<<(info&0xf)&okTypes == 0 || 1<<(info>>4)&okBinds == 0 || m.u16(sym+6) == 0 {
			continue
		}
		if m.cstring(strs+uintptr(m.u32(sym))) != name {
			continue
		}
		if versym != 0 && !checkver(m.u16(versym+2*i)) {
			continue
		}
		return base + uintptr(m.u64(sym+8))
	}
	return 0
}

func TestMuslLookup(t *testing.T) {
	img := Image(Clock{Usable: true})
	syms := dynsyms(t, parse(t, img[:]))
	for _, e := range exported {
		if got, want := muslLookup(t, img[:], "LINUX_2.6", e.name), fakeBase+uintptr(syms[e.name].Value); got != want {
			t.Errorf("musl finds %s at %#x, want %#x", e.name, got, want)
		}
	}
	if a := muslLookup(t, img[:], "LINUX_2.5", "__vdso_clock_gettime"); a != 0 {
		t.Errorf("found a symbol of another version at %#x", a)
	}
}

// The SysV hash chains lead to every symbol (what glibc's and the Go
// runtime's lookups rely on).
func TestHashTable(t *testing.T) {
	img := Image(Clock{})
	f := parse(t, img[:])
	h := img[f.Section(".hash").Offset:]
	nbucket, nchain := le.Uint32(h), le.Uint32(h[4:])
	syms, _ := f.DynamicSymbols()
	if int(nchain) != len(syms)+1 {
		t.Fatalf("nchain %d, %d symbols", nchain, len(syms)+1)
	}
	for i, s := range syms {
		idx := uint32(i + 1)
		found := false
		for c, n := le.Uint32(h[8+4*(elfHash(s.Name)%nbucket):]), 0; c != 0; c, n = le.Uint32(h[8+4*nbucket+4*c:]), n+1 {
			if c >= nchain || n > int(nchain) {
				t.Fatalf("bad chain")
			}
			if c == idx {
				found = true
			}
		}
		if !found {
			t.Errorf("%s not on its hash chain", s.Name)
		}
	}
}

// Registers the code may name: the caller-saved ones, in every width.
var callerSaved = map[x86asm.Reg]bool{}

func init() {
	for _, r := range []x86asm.Reg{
		x86asm.AL, x86asm.CL, x86asm.DL, x86asm.SIB, x86asm.DIB,
		x86asm.R8B, x86asm.R9B, x86asm.R10B, x86asm.R11B,
		x86asm.AX, x86asm.CX, x86asm.DX, x86asm.SI, x86asm.DI,
		x86asm.R8W, x86asm.R9W, x86asm.R10W, x86asm.R11W,
		x86asm.EAX, x86asm.ECX, x86asm.EDX, x86asm.ESI, x86asm.EDI,
		x86asm.R8L, x86asm.R9L, x86asm.R10L, x86asm.R11L,
		x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.RSI, x86asm.RDI,
		x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11,
	} {
		callerSaved[r] = true
	}
}

// allowedOps are the instructions the code is made of: no CALL, PUSH,
// POP or anything else that touches the stack but RET.
var allowedOps = map[x86asm.Op]bool{
	x86asm.MOV: true, x86asm.MOVSXD: true, x86asm.CMP: true, x86asm.TEST: true, x86asm.BT: true,
	x86asm.JA: true, x86asm.JAE: true, x86asm.JE: true, x86asm.JNE: true, x86asm.JNS: true, x86asm.JMP: true,
	x86asm.PAUSE: true, x86asm.RDTSC: true, x86asm.SHL: true, x86asm.OR: true, x86asm.SUB: true,
	x86asm.MUL: true, x86asm.SHRD: true, x86asm.ADD: true, x86asm.CQO: true, x86asm.IDIV: true,
	x86asm.DEC: true, x86asm.XOR: true, x86asm.DIV: true, x86asm.SYSCALL: true, x86asm.RET: true,
}

var dataFields = map[int]string{
	DataOffset + OffSeq: "seq", DataOffset + OffTSCBase: "tsc_base", DataOffset + OffMult: "mult",
	DataOffset + OffWallBase: "wall_base", DataOffset + OffUsable: "usable",
}

func TestDisassembly(t *testing.T) {
	img := Image(Clock{})
	f := parse(t, img[:])
	syms := dynsyms(t, f)
	text := f.Section(".text")
	wantSys := map[string]int64{
		"__vdso_clock_gettime": sysClockGettime, "__vdso_gettimeofday": sysGettimeofday,
		"__vdso_time": sysTime, "__vdso_getcpu": sysGetcpu,
	}
	covered := make([]bool, Size)
	for _, e := range exported[:4] {
		s := syms[e.name]
		start, end := int(s.Value), int(s.Value+s.Size)
		for i := start; i < end; i++ {
			covered[i] = true
		}
		starts := map[int]bool{}
		var targets []int
		var listing []string
		var last x86asm.Inst
		var prev x86asm.Inst
		nsys := 0
		reads := map[string]int{}
		for pc := start; pc < end; {
			inst, err := x86asm.Decode(img[pc:end], 64)
			if err != nil {
				t.Fatalf("%s+%#x: %v (% x)", e.name, pc-start, err, img[pc:min(pc+8, end)])
			}
			starts[pc] = true
			next := pc + inst.Len
			listing = append(listing, x86asm.IntelSyntax(inst, uint64(pc), nil))
			if !allowedOps[inst.Op] {
				t.Errorf("%s+%#x: unexpected %v", e.name, pc-start, inst)
			}
			for _, p := range inst.Prefix {
				// Only REX prefixes (and PAUSE's F3), none ignored or invalid.
				b := p & 0xFF
				if p != 0 && (p&(x86asm.PrefixIgnored|x86asm.PrefixInvalid) != 0 ||
					b&0xF0 != 0x40 && !(inst.Op == x86asm.PAUSE && b == 0xF3)) {
					t.Errorf("%s+%#x: prefix %#x in %v", e.name, pc-start, uint16(p), inst)
				}
			}
			for _, a := range inst.Args {
				switch a := a.(type) {
				case nil:
				case x86asm.Reg:
					if !callerSaved[a] {
						t.Errorf("%s+%#x: register %v in %v", e.name, pc-start, a, inst)
					}
				case x86asm.Mem:
					switch {
					case a.Base == x86asm.RIP && a.Index == 0 && a.Segment == 0:
						field, ok := dataFields[next+int(a.Disp)]
						if !ok {
							t.Errorf("%s+%#x: RIP-relative access to %#x, not a data field", e.name, pc-start, next+int(a.Disp))
						}
						reads[field]++
					case (a.Base == x86asm.RSI || a.Base == x86asm.RDI) && a.Index == 0 && a.Segment == 0:
					default:
						t.Errorf("%s+%#x: memory operand %v in %v", e.name, pc-start, a, inst)
					}
				case x86asm.Rel:
					targets = append(targets, next+int(a))
				case x86asm.Imm:
				default:
					t.Errorf("%s+%#x: operand %v in %v", e.name, pc-start, a, inst)
				}
			}
			if inst.Op == x86asm.SYSCALL {
				nsys++
				// mov eax, number right before it.
				if prev.Op != x86asm.MOV || prev.Args[0] != x86asm.EAX || prev.Args[1] != x86asm.Imm(wantSys[e.name]) {
					t.Errorf("%s: %v before syscall, want mov eax, %d", e.name, prev, wantSys[e.name])
				}
			}
			prev, last = inst, inst
			pc = next
		}
		if last.Op != x86asm.RET {
			t.Errorf("%s ends with %v, not RET", e.name, last)
		}
		if nsys != 1 {
			t.Errorf("%s: %d syscalls", e.name, nsys)
		}
		for _, to := range targets {
			if to < start || to >= end || !starts[to] {
				t.Errorf("%s: branch to %#x, not an instruction of [%#x, %#x)", e.name, to, start, end)
			}
		}
		if e.name != "__vdso_getcpu" {
			// The seqlock: seq read twice, each field once.
			want := map[string]int{"seq": 2, "tsc_base": 1, "mult": 1, "wall_base": 1, "usable": 1}
			for k, v := range want {
				if reads[k] != v {
					t.Errorf("%s reads %s %d times, want %d", e.name, k, reads[k], v)
				}
			}
		}
		if testing.Verbose() {
			t.Logf("%s:\n\t%s", e.name, strings.Join(listing, "\n\t"))
		}
	}
	// Between the functions: INT3 padding only.
	for i := text.Offset; i < text.Offset+text.Size; i++ {
		if !covered[i] && img[i] != 0xCC {
			t.Errorf(".text+%#x: %#x outside the functions", i-text.Offset, img[i])
		}
	}
}

func TestImage(t *testing.T) {
	c := Clock{TSCBase: 0x1122334455667788, Mult: 0x1_2345_6789, WallBase: -1_700_000_000_123_456_789, Usable: true}
	img := Image(c)
	d := img[DataOffset:]
	if le.Uint64(d[OffSeq:]) != 0 || le.Uint64(d[OffTSCBase:]) != c.TSCBase || le.Uint64(d[OffMult:]) != c.Mult ||
		int64(le.Uint64(d[OffWallBase:])) != c.WallBase || le.Uint64(d[OffUsable:]) != 1 {
		t.Errorf("data % x", d[:dataSize])
	}
	for _, b := range d[dataSize:] {
		if b != 0 {
			t.Errorf("data area tail % x", d[dataSize:])
			break
		}
	}
	// Only the data area depends on the clock; each Image is a copy.
	img2 := Image(Clock{})
	if !bytes.Equal(img[:DataOffset], img2[:DataOffset]) {
		t.Errorf("images differ outside the data area")
	}
	img2[100]++
	if img3 := Image(Clock{}); img3[100] == img2[100] {
		t.Errorf("Image shares memory")
	}
	if le.Uint64(img2[DataOffset+OffUsable:]) != 0 {
		t.Errorf("usable set for Usable false")
	}
}

func TestSetClock(t *testing.T) {
	words := make([]uint64, Size/8+1)
	page := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), Size+8)
	img := Image(Clock{TSCBase: 5, Mult: 6, WallBase: 7, Usable: true})
	copy(page, img[:])
	for i, c := range []Clock{
		{TSCBase: 1, Mult: 1 << 32, WallBase: 1_700_000_000_000_000_000, Usable: true},
		{TSCBase: ^uint64(0), Mult: 12345, WallBase: -1, Usable: false},
		{},
	} {
		SetClock(page[:Size], c)
		d := page[DataOffset:]
		if seq := le.Uint64(d[OffSeq:]); seq != uint64(2*(i+1)) {
			t.Errorf("seq %d after %d SetClocks", seq, i+1)
		}
		if le.Uint64(d[OffTSCBase:]) != c.TSCBase || le.Uint64(d[OffMult:]) != c.Mult ||
			int64(le.Uint64(d[OffWallBase:])) != c.WallBase || le.Uint64(d[OffUsable:]) != usable(c.Usable) {
			t.Errorf("%+v: data % x", c, d[:dataSize])
		}
		if !bytes.Equal(page[:DataOffset], img[:DataOffset]) {
			t.Errorf("SetClock wrote outside the data area")
		}
	}
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", what)
			}
		}()
		f()
	}
	mustPanic("short page", func() { SetClock(page[:Size-1], Clock{}) })
	mustPanic("misaligned page", func() { SetClock(page[1:Size+1], Clock{}) })
}
