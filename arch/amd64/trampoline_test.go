package amd64

import (
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// decode disassembles b in the given mode (16, 32, 64) into Intel syntax.
func decode(t *testing.T, b []byte, mode int, pc uint64) []string {
	var out []string
	for len(b) > 0 {
		inst, err := x86asm.Decode(b, mode)
		if err != nil {
			t.Fatalf("mode %d at %#x: %v", mode, pc, err)
		}
		out = append(out, x86asm.IntelSyntax(inst, pc, nil))
		b = b[inst.Len:]
		pc += uint64(inst.Len)
	}
	return out
}

func TestTrampolineDecodes(t *testing.T) {
	tr := Trampoline[:]
	want16 := "cli|cld|xor ax, ax|mov ds, ax|lgdt ptr [0x80a0]|mov eax, cr0|or eax, 0x1|mov cr0, eax|jmp far 0x8020, 0x18"
	want32 := "mov eax, 0x10|mov ds, ax|mov es, ax|mov ss, ax|mov eax, cr4|or eax, 0xa0|mov cr4, eax|mov eax, dword ptr [0x80a8]|mov cr3, eax|mov ecx, 0xc0000080|rdmsr|or eax, dword ptr [0x80ac]|wrmsr|mov eax, cr0|or eax, 0x80000001|mov cr0, eax|jmp far 0x8060, 0x8"
	want64 := "mov rsp, qword ptr [0x80b0]|mov rax, qword ptr [0x80b8]|jmp rax"
	for _, c := range []struct {
		mode     int
		from, to int
		want     string
	}{{16, 0x00, 0x1D, want16}, {32, 0x20, 0x5F, want32}, {64, 0x60, 0x72, want64}} {
		got := strings.Join(decode(t, tr[c.from:c.to], c.mode, TrampolineAddr+uint64(c.from)), "|")
		got = strings.ReplaceAll(got, "  ", " ")
		if got != c.want {
			t.Errorf("mode %d:\n got %s\nwant %s", c.mode, got, c.want)
		}
	}
	for off := 0x1D; off < 0x20; off++ {
		if tr[off] != 0 {
			t.Errorf("byte %#x not padding", off)
		}
	}
}
