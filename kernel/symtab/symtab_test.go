package symtab

import (
	"debug/elf"
	"debug/gosym"
	"os"
	"runtime"
	"strings"
	"testing"
)

// The test binary itself is the table to read: compare with debug/gosym.
func loadSelf(t *testing.T) (*Table, *gosym.Table, []byte) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".gopclntab")
	if s == nil {
		t.Skip("no .gopclntab in the test binary")
	}
	data, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	text := f.Section(".text")
	gt, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	var tab Table
	if !tab.Init(data, text.Addr) {
		t.Fatal("Init rejected the binary's own pclntab")
	}
	return &tab, gt, data
}

func TestLookupMatchesGosym(t *testing.T) {
	tab, gt, _ := loadSelf(t)
	checked := 0
	for i, fn := range gt.Funcs {
		// Go functions only: with -race the binary also holds C code of the
		// race runtime, whose aliases gosym names differently.
		if i%7 != 0 || strings.HasPrefix(fn.Name, "_") || !strings.Contains(fn.Name, ".") {
			continue
		}
		for _, pc := range []uint64{fn.Entry, (fn.Entry + fn.End) / 2, fn.End - 1} {
			var fr Frame
			if !tab.Lookup(pc, &fr) {
				t.Fatalf("%s: pc %#x not found", fn.Name, pc)
			}
			if string(fr.Function) != fn.Name || fr.Entry != fn.Entry {
				t.Fatalf("pc %#x: got %s@%#x, want %s@%#x", pc, fr.Function, fr.Entry, fn.Name, fn.Entry)
			}
			file, line, _ := gt.PCToLine(pc)
			if string(fr.File) != file || int(fr.Line) != line {
				t.Fatalf("pc %#x (%s): got %s:%d, want %s:%d", pc, fn.Name, fr.File, fr.Line, file, line)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d PCs checked", checked)
	}
}

func TestLookupCaller(t *testing.T) {
	tab, _, _ := loadSelf(t)
	pc, _, line, _ := runtime.Caller(0)
	var fr Frame
	if !tab.Lookup(uint64(pc), &fr) || string(fr.Function) != "dunix/kernel/symtab.TestLookupCaller" || int(fr.Line) != line {
		t.Fatalf("got %s:%d", fr.Function, fr.Line)
	}
}

func TestCorruptTables(t *testing.T) {
	_, _, data := loadSelf(t)
	var tab Table
	if tab.Init(data[:40], 0x401000) {
		t.Fatal("short table accepted")
	}
	bad := append([]byte(nil), data...)
	bad[0] = 0
	if tab.Init(bad, 0x401000) {
		t.Fatal("bad magic accepted")
	}
	// Truncated after the header: lookups fail cleanly.
	if tab.Init(data[:len(data)/3], 0x401000) {
		var fr Frame
		for pc := tab.text; pc < tab.text+1<<20; pc += 4093 {
			tab.Lookup(pc, &fr)
		}
	}
}

func FuzzTable(f *testing.F) {
	f.Add([]byte{0xF1, 0xFF, 0xFF, 0xFF, 0, 0, 1, 8}, uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, pc uint64) {
		var tab Table
		if tab.Init(data, 0x401000) {
			var fr Frame
			tab.Lookup(pc, &fr)
			tab.Lookup(tab.text+pc%4096, &fr)
		}
	})
}

func TestNoAllocs(t *testing.T) {
	tab, _, _ := loadSelf(t)
	pc, _, _, _ := runtime.Caller(0)
	var fr Frame
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(uint64(pc), &fr) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
