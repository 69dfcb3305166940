package acpi

import (
	"encoding/binary"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// checkInvariants verifies what must hold after any Parse, whatever the
// memory contents.
func checkInvariants(t *testing.T, tb *Tables, err error) {
	t.Helper()
	if tb.NumHeaders < 0 || tb.NumHeaders > MaxTables || tb.DroppedHeaders < 0 {
		t.Fatalf("NumHeaders %d dropped %d", tb.NumHeaders, tb.DroppedHeaders)
	}
	for _, h := range tb.Headers[:tb.NumHeaders] {
		if h.Status == StatusOK && (h.Length < headerLen || h.Length > MaxTableLength) {
			t.Fatalf("OK header with length %d", h.Length)
		}
	}
	m := &tb.MADT
	if m.NumCPUs < 0 || m.NumCPUs > MaxCPUs || m.NumIOAPICs < 0 || m.NumIOAPICs > MaxIOAPICs ||
		m.NumOverrides < 0 || m.NumOverrides > MaxOverrides || m.NumNMIs < 0 || m.NumNMIs > MaxNMIs ||
		tb.MCFG.Num < 0 || tb.MCFG.Num > MaxECAM {
		t.Fatalf("counts out of range: %d %d %d %d %d", m.NumCPUs, m.NumIOAPICs, m.NumOverrides, m.NumNMIs, tb.MCFG.Num)
	}
	if (m.DroppedCPUs > 0 && m.NumCPUs != MaxCPUs) || (m.DroppedIOAPICs > 0 && m.NumIOAPICs != MaxIOAPICs) ||
		(m.DroppedOverrides > 0 && m.NumOverrides != MaxOverrides) || (m.DroppedNMIs > 0 && m.NumNMIs != MaxNMIs) ||
		(tb.MCFG.Dropped > 0 && tb.MCFG.Num != MaxECAM) {
		t.Fatalf("entries dropped before the array was full")
	}
	seen := map[uint32]bool{}
	for _, c := range m.CPUs[:m.NumCPUs] {
		if c.Flags == 0 || c.Flags&^(CPUEnabled|CPUOnlineCapable) != 0 || seen[c.APICID] {
			t.Fatalf("bad CPU %+v", c)
		}
		if m.Revision < 5 && c.OnlineCapable() {
			t.Fatalf("online-capable CPU in MADT revision %d", m.Revision)
		}
		seen[c.APICID] = true
	}
	if !m.Found && (m.NumCPUs != 0 || m.LAPICBase != 0) {
		t.Fatalf("MADT not found but filled")
	}
	if tb.FADT.Found && tb.FADT.Length < fadtMinLen {
		t.Fatalf("FADT length %d", tb.FADT.Length)
	}
	if tb.S5.Found && tb.S5.Table != sigDSDT && tb.S5.Table != sigSSDT {
		t.Fatalf("S5 from %q", tb.S5.Table[:])
	}
	if tb.HPET.Found && (tb.HPET.Base.Address == 0 || tb.HPET.Comparators == 0 || tb.HPET.Comparators > 32) {
		t.Fatalf("HPET %+v", tb.HPET)
	}
	if err != nil && (m.Found || tb.FADT.Found || tb.HPET.Found || tb.MCFG.Found || tb.S5.Found || tb.NumHeaders > 2) {
		t.Fatalf("Parse failed (%v) but decoded tables", err)
	}
	if err == nil && tb.Root.Status != StatusOK {
		t.Fatalf("Parse succeeded with root %+v", tb.Root)
	}
}

// rsdpFirst builds m in a compact image with the RSDP at 0x10, before all
// tables, so that cutting memory short truncates tables, not the RSDP.
func rsdpFirst(m *machine) (*image, addrs) {
	m.rsdpAt = 0x10
	return m.compact()
}

func sweepMachines() map[string]*machine {
	pc := qemuQ35()
	pc.rsdpRev, pc.fadtRev, pc.fadtLen = 0, 1, 116
	big := qemuQ35()
	big.fadtRev, big.fadtLen = 6, 276
	big.madt = madt(5, 0xFEE00000, 1, eLAPIC(0, 0, 1), eX2APIC(1, 1, 1), eX2APIC(2, 2, 2), eIOAPIC(0, 0xFEC00000, 0),
		eOverride(0, 0, 2, 0), eX2NMI(0, AllProcessors, 1), eLAPICOverride(0xFEE00000))
	big.dsdtAML = dsdtAML(nil)
	big.extra = [][]byte{sdt("SSDT", 1, s5Name(true, aWord(0x105), aDWord(7)))}
	return map[string]*machine{"q35": qemuQ35(), "pc": pc, "big": big}
}

// TestTruncationSweep cuts memory short at every byte of the table area:
// Parse must fail cleanly or skip tables, never panic or read out of range.
func TestTruncationSweep(t *testing.T) {
	for name, m := range sweepMachines() {
		im, a := rsdpFirst(m)
		full := im.buf
		for cut := 0; cut <= len(full); cut++ {
			im.buf = full[:cut]
			var tb Tables
			err := Parse(im.mem, a.rsdp, &tb)
			checkInvariants(t, &tb, err)
			if cut == len(full) && (err != nil || !tb.S5.Found || !tb.MADT.Found) {
				t.Fatalf("%s: full image: %v", name, err)
			}
		}
	}
}

// TestCorruptionSweep overwrites every byte of the tables, with and without
// repairing the checksums afterwards, so the decoders see corrupt contents.
func TestCorruptionSweep(t *testing.T) {
	for name, m := range sweepMachines() {
		im, a := rsdpFirst(m)
		orig := append([]byte(nil), im.buf...)
		for i := range orig {
			for _, v := range []byte{0x00, 0xFF, 0x80, orig[i] ^ 0x01, orig[i] + 0x40} {
				for _, fix := range []bool{false, true} {
					copy(im.buf, orig)
					im.buf[i] = v
					if fix {
						fixChecksums(im.buf, a.rsdp)
					}
					var tb Tables
					err := Parse(im.mem, a.rsdp, &tb)
					checkInvariants(t, &tb, err)
				}
			}
			if t.Failed() {
				t.Fatalf("%s: byte %d", name, i)
			}
		}
	}
}

// fixChecksums repairs, as far as the (possibly corrupt) pointers allow, the
// checksums of the RSDP at rsdp, the root tables, the tables they list and
// the DSDT, so that fuzzed contents get past checksum validation.
func fixChecksums(buf []byte, rsdp uint64) {
	n := uint64(len(buf))
	if rsdp >= n || n-rsdp < rsdpV1Len {
		return
	}
	r := buf[rsdp:]
	fixsum(r[:rsdpV1Len], 8)
	type root struct {
		phys  uint64
		entry int
	}
	roots := []root{{uint64(binary.LittleEndian.Uint32(r[16:])), 4}}
	if r[15] >= 2 && len(r) >= rsdpV2Len {
		fixsum(r[:rsdpV2Len], 32)
		roots = append(roots, root{binary.LittleEndian.Uint64(r[24:]), 8})
	}
	for _, rt := range roots {
		tbl := fixTable(buf, rt.phys)
		for off := headerLen; tbl != nil && off+rt.entry <= len(tbl); off += rt.entry {
			var p uint64
			if rt.entry == 8 {
				p = binary.LittleEndian.Uint64(tbl[off:])
			} else {
				p = uint64(binary.LittleEndian.Uint32(tbl[off:]))
			}
			f := fixTable(buf, p)
			if f != nil && string(f[:4]) == "FACP" {
				if len(f) >= 44 {
					fixTable(buf, uint64(binary.LittleEndian.Uint32(f[40:])))
				}
				if len(f) >= 148 {
					fixTable(buf, binary.LittleEndian.Uint64(f[140:]))
				}
				fixTable(buf, p)
			}
		}
		fixTable(buf, rt.phys)
	}
}

// fixTable repairs the checksum of the table at p if its length fits in buf.
func fixTable(buf []byte, p uint64) []byte {
	n := uint64(len(buf))
	if p >= n || n-p < headerLen {
		return nil
	}
	l := uint64(binary.LittleEndian.Uint32(buf[p+4:]))
	if l < headerLen || l > n-p {
		return nil
	}
	tbl := buf[p : p+l]
	fixsum(tbl, 9)
	return tbl
}

// TestNoAllocs checks that the entry points allocate nothing.
func TestNoAllocs(t *testing.T) {
	m := sweepMachines()["big"]
	im, a := m.standard()
	low := lowMem(0x9FC00)
	low.putAt(0xFFFF0, rsdpV1(1)) // found only at the very end of the scan
	empty := lowMem(0)
	aml := dsdtAML(s5Name(true, aByte(5), aByte(5)))
	tb := new(Tables)
	var sink int
	cases := []struct {
		name string
		f    func()
	}{
		{"FindRSDP scan", func() {
			if p, err := FindRSDP(low.mem, 0); err != nil || p != 0xFFFF0 {
				panic(err)
			}
		}},
		{"FindRSDP not found", func() {
			if _, err := FindRSDP(empty.mem, 0); err == nil {
				panic("found")
			}
		}},
		{"FindRSDP hint", func() {
			if _, err := FindRSDP(im.mem, a.rsdp); err != nil {
				panic(err)
			}
		}},
		{"Parse", func() {
			if err := Parse(im.mem, a.rsdp, tb); err != nil || !tb.S5.Found {
				panic(err)
			}
		}},
		{"Parse error", func() {
			if err := Parse(im.mem, a.rsdp+1, tb); err == nil {
				panic("no error")
			}
		}},
		{"findS5", func() {
			if _, _, ok := findS5(aml); !ok {
				panic("no S5")
			}
		}},
		{"accessors", func() {
			h, _ := tb.Table("MCFG")
			gsi, _ := tb.MADT.ISAIRQ(0)
			sink += tb.EnabledCPUs() + int(h.Length) + int(gsi) + len(StatusMalformed.String())
			if StatusBadChecksum.Err() == nil || !tb.FADT.Has8042() {
				panic("accessors")
			}
		}},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(20, c.f); n != 0 {
			t.Errorf("%s: %v allocations per run", c.name, n)
		}
	}
	_ = sink
}

// TestTablesHoldNoPointers checks that Tables can live in a global written
// before the runtime runs: no field may hold a Go pointer.
func TestTablesHoldNoPointers(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		switch ty.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		case reflect.Array:
			walk(ty.Elem(), path+"[]")
		case reflect.Struct:
			for i := 0; i < ty.NumField(); i++ {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		default:
			t.Errorf("%s has kind %v", path, ty.Kind())
		}
	}
	walk(reflect.TypeOf(Tables{}), "Tables")
	if size := reflect.TypeOf(Tables{}).Size(); size > 16<<10 {
		t.Errorf("Tables is %d bytes", size)
	}
}

// TestTrapContextRules checks the package source for the trap-context rules
// of docs/conventions.md: every function is //go:nosplit, only "errors" is
// imported, and nothing that allocates or defers is used.
func TestTrapContextRules(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p != "errors" {
				t.Errorf("%s imports %s", name, p)
			}
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			checked++
			nosplit := false
			if fd.Doc != nil {
				for _, c := range fd.Doc.List {
					nosplit = nosplit || c.Text == "//go:nosplit"
				}
			}
			if !nosplit {
				t.Errorf("%s: func %s is not //go:nosplit", fset.Position(fd.Pos()), fd.Name.Name)
			}
			if fd.Doc == nil || len(fd.Doc.List) < 2 {
				t.Errorf("%s: func %s has no doc comment", fset.Position(fd.Pos()), fd.Name.Name)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				t.Errorf("%s: closure", fset.Position(n.Pos()))
			case *ast.DeferStmt, *ast.GoStmt:
				t.Errorf("%s: defer/go", fset.Position(n.Pos()))
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok {
					switch id.Name {
					case "make", "new", "append", "panic", "print", "println", "string":
						t.Errorf("%s: call to %s", fset.Position(n.Pos()), id.Name)
					}
				}
			case *ast.GenDecl:
				// Package-level variables must be statically initialised:
				// errors.New calls or composite literals of bytes.
				if n.Tok != token.VAR {
					return true
				}
				for _, s := range n.Specs {
					for _, v := range s.(*ast.ValueSpec).Values {
						switch v := v.(type) {
						case *ast.CompositeLit:
						case *ast.CallExpr:
							if sel, ok := v.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "New" {
								t.Errorf("%s: package variable initialised by a call", fset.Position(v.Pos()))
							}
						default:
							t.Errorf("%s: package variable initialiser %T", fset.Position(v.Pos()), v)
						}
					}
				}
			}
			return true
		})
	}
	if checked < 20 {
		t.Errorf("only %d functions checked", checked)
	}
}
