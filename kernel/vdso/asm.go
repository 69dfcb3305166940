package vdso

import "fmt"

// A tiny x86-64 assembler: enough to hand-encode the four functions of
// the page. Instructions are byte sequences written out with a comment
// each; the assembler only resolves labels (8- and 32-bit relative jumps) and
// RIP-relative displacements to the data area.

// reg is an x86-64 general register number (the ModRM/REX encoding).
type reg uint8

const (
	rax reg = 0
	rcx reg = 1
	rdx reg = 2
	rsi reg = 6
	rdi reg = 7
	r8  reg = 8
	r9  reg = 9
	r10 reg = 10
	r11 reg = 11
)

// Condition codes (the low nibble of Jcc).
const (
	ccAE = 0x3 // above or equal / no carry
	ccE  = 0x4 // equal / zero
	ccNE = 0x5 // not equal / not zero
	ccA  = 0x7 // above
	ccNS = 0x9 // not sign
)

type fixup struct {
	at    int  // position of the rel8 or rel32 field
	near  bool // rel32
	label string
}

// asm collects the code of the page's text. base is the page offset of
// the first byte, so that RIP-relative displacements can be computed.
type asm struct {
	base   int
	b      []byte
	labels map[string]int
	fixups []fixup
}

func newAsm(base int) *asm {
	return &asm{base: base, labels: map[string]int{}}
}

// pc returns the page offset of the next byte.
func (a *asm) pc() int { return a.base + len(a.b) }

// raw emits bytes as they are.
func (a *asm) raw(b ...byte) { a.b = append(a.b, b...) }

// label defines l at the current position (names are global to the text:
// callers prefix them with the function name).
func (a *asm) label(l string) {
	if _, dup := a.labels[l]; dup {
		panic("vdso: duplicate label " + l)
	}
	a.labels[l] = len(a.b)
}

// jcc emits a conditional jump (0x70+cc rel8) to l.
func (a *asm) jcc(cc byte, l string) {
	a.raw(0x70|cc, 0)
	a.fixups = append(a.fixups, fixup{len(a.b) - 1, false, l})
}

// jccNear emits a conditional jump with a 32-bit displacement (0F 80+cc
// rel32) to l.
func (a *asm) jccNear(cc byte, l string) {
	a.raw(0x0F, 0x80|cc, 0, 0, 0, 0)
	a.fixups = append(a.fixups, fixup{len(a.b) - 4, true, l})
}

// jmp emits a short jump (EB rel8) to l.
func (a *asm) jmp(l string) {
	a.raw(0xEB, 0)
	a.fixups = append(a.fixups, fixup{len(a.b) - 1, false, l})
}

// ripOp emits "op r64, [rip+disp32]" where the memory operand is the page
// offset target: REX.W(+R) op ModRM(00 reg 101) disp32.
func (a *asm) ripOp(op byte, r reg, target int) {
	rex := byte(0x48)
	if r >= 8 {
		rex |= 0x04 // REX.R
	}
	a.raw(rex, op, 0x05|byte(r&7)<<3)
	disp := int32(target - (a.pc() + 4)) // relative to the next instruction
	a.raw(byte(disp), byte(disp>>8), byte(disp>>16), byte(disp>>24))
}

// load emits "mov r64, [rip+...]" (8B /r) reading the page offset target.
func (a *asm) load(r reg, target int) { a.ripOp(0x8B, r, target) }

// cmpMem emits "cmp r64, [rip+...]" (3B /r) against the page offset target.
func (a *asm) cmpMem(r reg, target int) { a.ripOp(0x3B, r, target) }

// movImm32 emits "mov r32, imm32" (B8+r, zero-extends into r64); r < 8 or
// with REX.B for r8-r15.
func (a *asm) movImm32(r reg, v uint32) {
	if r >= 8 {
		a.raw(0x41) // REX.B
	}
	a.raw(0xB8|byte(r&7), byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// align pads with INT3 (0xCC) up to a multiple of n of the page offset.
func (a *asm) align(n int) {
	for a.pc()%n != 0 {
		a.raw(0xCC)
	}
}

// finish resolves the jumps and returns the code.
func (a *asm) finish() []byte {
	for _, f := range a.fixups {
		to, ok := a.labels[f.label]
		if !ok {
			panic("vdso: undefined label " + f.label)
		}
		if f.near {
			rel := int32(to - (f.at + 4))
			a.b[f.at], a.b[f.at+1], a.b[f.at+2], a.b[f.at+3] = byte(rel), byte(rel>>8), byte(rel>>16), byte(rel>>24)
			continue
		}
		rel := to - (f.at + 1)
		if rel < -128 || rel > 127 {
			panic(fmt.Sprintf("vdso: jump to %s out of rel8 range (%d)", f.label, rel))
		}
		a.b[f.at] = byte(int8(rel))
	}
	return a.b
}
