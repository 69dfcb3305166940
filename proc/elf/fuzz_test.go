package elf

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
)

// FuzzParse feeds mutations of valid executables to Parse. It must never
// panic, and an image it accepts must be a safe plan: segments sorted,
// page-aligned, not sharing pages, inside user space, reading only bytes of
// the file, with the entry point in an executable segment.
func FuzzParse(f *testing.F) {
	f.Add(newSmallExec().bytes())
	e := newSmallExec()
	e.typ = etDyn
	e.entry -= 0x400000
	for i := range e.progs {
		if e.progs[i].vaddr != 0 {
			e.progs[i].vaddr -= 0x400000
		}
	}
	f.Add(e.bytes())
	e = newSmallExec()
	e.progs = append(e.progs[:5], tProg{typ: ptInterp, off: 0x200, filesz: 28})
	e.extra = map[uint64][]byte{0x200: []byte("/lib64/ld-linux-x86-64.so.2\x00")}
	f.Add(e.bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := parseBytes(data)
		if err != nil {
			var de *DynamicError
			var fe *FormatError
			if !errors.Is(err, syscall.ENOEXEC) || !errors.As(err, &de) && !errors.As(err, &fe) {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		checkPlan(t, img, len(data))
		if img.PIE {
			r, err := img.Relocate(img.DefaultBias())
			if err != nil {
				return
			}
			checkPlan(t, r, len(data))
		}
	})
}

// newSmallExec returns a valid ET_EXEC of 576 bytes (small seeds fuzz
// better): text at 0x400000 (file 0..0x200), data at 0x401200 (file
// 0x200..0x240, memsz 0x2000), PT_PHDR, PT_TLS, PT_GNU_RELRO, PT_GNU_STACK.
func newSmallExec() *tELF {
	e := newExec()
	e.size = 0x240
	e.entry = 0x400190
	e.progs[1].filesz, e.progs[1].memsz = 0x200, 0x200
	e.progs[2].off, e.progs[2].vaddr, e.progs[2].filesz = 0x200, 0x401200, 0x40
	e.progs[3].off, e.progs[3].vaddr = 0x200, 0x401200
	e.progs[4].off, e.progs[4].vaddr, e.progs[4].filesz, e.progs[4].memsz = 0x200, 0x401200, 0x20, 0x20
	return e
}

// checkPlan verifies the invariants of an accepted image.
func checkPlan(t *testing.T, img *Image, size int) {
	t.Helper()
	if len(img.Segments) == 0 || len(img.Segments) > MaxPhnum {
		t.Fatalf("%d segments", len(img.Segments))
	}
	var total uint64
	var prev uint64
	entryOK := false
	for i, s := range img.Segments {
		if s.Addr%PageSize != 0 || s.Len%PageSize != 0 || s.Off%PageSize != 0 || s.Len == 0 {
			t.Fatalf("segment %d not page-aligned: %+v", i, s)
		}
		if s.End() < s.Addr || s.End() > UserTop {
			t.Fatalf("segment %d outside user space: %+v", i, s)
		}
		if (!img.PIE || img.Bias != 0) && s.Addr < MinAddr {
			t.Fatalf("segment %d below MinAddr: %+v", i, s)
		}
		if i > 0 && s.Addr < prev {
			t.Fatalf("segment %d overlaps or is out of order: %+v", i, img.Segments)
		}
		prev = s.End()
		if s.FileLen > s.Len || s.Off+s.FileLen < s.Off || s.Off+s.FileLen > uint64(size) {
			t.Fatalf("segment %d reads outside the file (%d bytes): %+v", i, size, s)
		}
		total += s.Len
		if s.Prot&ProtExec != 0 && img.Entry >= s.Addr && img.Entry < s.End() {
			entryOK = true
		}
	}
	if total > MaxMapped || img.End-img.Start > MaxMapped {
		t.Fatalf("maps %#x bytes over %#x", total, img.End-img.Start)
	}
	if !entryOK {
		t.Fatalf("entry %#x not in an executable segment: %+v", img.Entry, img.Segments)
	}
	if img.Start != img.Segments[0].Addr || img.End != prev || img.Brk != img.End {
		t.Fatalf("Start %#x End %#x Brk %#x for %+v", img.Start, img.End, img.Brk, img.Segments)
	}
	if img.Phnum == 0 || img.Phnum > MaxPhnum || img.Phent != PhentSize {
		t.Fatalf("Phnum %d Phent %d", img.Phnum, img.Phent)
	}
	if img.TLS != nil && !img.inSegments(img.TLS.Vaddr, img.TLS.Memsz) {
		t.Fatalf("TLS %+v outside the segments", img.TLS)
	}
}

// FuzzBuildStack checks that any arguments BuildStack accepts read back
// unchanged.
func FuzzBuildStack(f *testing.F) {
	f.Add("sh\x01-c\x01echo hi", "HOME=/\x01TERM=vt100", "/bin/sh", uint16(3))
	f.Add("", "", "", uint16(0))
	f.Fuzz(func(t *testing.T, args, env, execfn string, nAux uint16) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return bytes2strings(bytes.Split([]byte(s), []byte{1}))
		}
		var auxv []AuxEntry
		for i := range nAux % 40 {
			auxv = append(auxv, AuxEntry{Type: uint64(i%10) + 3, Val: uint64(i) * 0x1234567})
		}
		const top = 0x7ffffffff000
		a, e := split(args), split(env)
		mem, sp, err := BuildStack(top, a, e, execfn, auxv, [16]byte{9})
		if err != nil {
			return
		}
		if sp%16 != 0 {
			t.Fatalf("sp %#x", sp)
		}
		v := newView(t, mem, sp, top)
		p := v.parse()
		if len(a) == 0 {
			a = []string{""}
		}
		if !equalStrings(p.argv, a) || !equalStrings(p.envp, e) || p.execfn != execfn || p.platform != Platform {
			t.Fatalf("read back %q %q %q", p.argv, p.envp, p.execfn)
		}
		if len(p.auxv) != len(auxv)+3 {
			t.Fatalf("%d auxv entries, want %d", len(p.auxv), len(auxv)+3)
		}
		v.unclaimed()
	})
}

func bytes2strings(b [][]byte) []string {
	out := make([]string, len(b))
	for i := range b {
		out[i] = string(b[i])
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSmallExecValid(t *testing.T) {
	img, err := parseBytes(newSmallExec().bytes())
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, img, 0x240)
}
