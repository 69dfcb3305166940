#include "textflag.h"

// Must match layout.go.
#define OFF_MAGIC	0
#define OFF_INFO	4
#define OFF_PT		8
#define OFF_GDT		16
#define OFF_GDTR	40
#define OFF_STACK32	4096
#define OFF_TABLES	4096
#define KERNEL_BASE	$0xffff800000000000

// entry32 is the kernel's entry point for PVH and multiboot2 loaders.
//
// It runs in 32-bit protected mode with paging off, and is written in the
// subset of instructions whose encodings mean the same in 32-bit and 64-bit
// mode (no REX prefixes: 32-bit registers AX..DI only), which the Go
// assembler produces; CALL and RETF are spelled as bytes. A test
// (boot/entry_test.go) decodes the linked code in 32-bit mode to keep it so.
//
// In:  EAX = loader magic (multiboot2) or undefined (PVH)
//      EBX = physical address of the multiboot2 info / PVH start_info
TEXT ·entry32(SB),NOSPLIT|NOFRAME,$0
	CLI
	CLD
	MOVL	AX, DI			// keep magic and info pointer
	MOVL	BX, SI

	// Learn where we were loaded without a stack: borrow the second word
	// of the loader's info block (PVH version / multiboot2 reserved) as a
	// one-slot stack for CALL, then give it back.
	MOVL	4(BX), DX
	LEAL	8(BX), SP
	BYTE	$0xE8; LONG $0		// CALL next instruction: pushes its address
	BYTE	$0x5D			// POPL BP: BP = physical address of this byte
	LEAL	·bootData(SB), CX	// in 32-bit mode: CX = &bootData - &(next insn), link-time addresses
	LEAL	7(BP)(CX*1), CX		// CX = physical address of bootData (7 = POP + this LEA... see test)
	MOVL	DX, 4(BX)

	MOVL	CX, BP			// BP = bootData from here on
	MOVL	DI, OFF_MAGIC(BP)
	MOVL	SI, OFF_INFO(BP)
	LEAL	OFF_STACK32(BP), SP	// a real stack

	// Page tables at the first 4 KiB boundary after OFF_TABLES: PML4,
	// PDPT, 4 page directories of 2 MiB pages = first 4 GiB.
	LEAL	(OFF_TABLES+4095)(BP), DI
	ANDL	$~4095, DI
	MOVL	DI, OFF_PT(BP)
	XORL	AX, AX
	MOVL	$(6*4096/4), CX
	REP;	STOSL			// zero the six pages

	MOVL	OFF_PT(BP), DI		// DI = PML4
	LEAL	(4096+3)(DI), AX	// PDPT | present | writable
	MOVL	AX, 0(DI)		// PML4[0]: identity
	MOVL	AX, (256*8)(DI)		// PML4[256]: KernelBase
	LEAL	(2*4096+3)(DI), AX	// PD0 | present | writable
	MOVL	AX, 4096(DI)		// PDPT[0..3] = PD0..PD3
	ADDL	$4096, AX
	MOVL	AX, (4096+8)(DI)
	ADDL	$4096, AX
	MOVL	AX, (4096+16)(DI)
	ADDL	$4096, AX
	MOVL	AX, (4096+24)(DI)

	LEAL	(2*4096)(DI), BX	// 2048 PD entries: i*2MiB | PS | RW | P
	MOVL	$0x83, AX
	MOVL	$2048, CX
fill:
	MOVL	AX, (BX)
	ADDL	$0x200000, AX
	ADDL	$8, BX
	DECL	CX
	JNE	fill

	// GDT: null, 64-bit code (0x08), data (0x10).
	MOVL	$0x0000FFFF, (OFF_GDT+8)(BP)
	MOVL	$0x00AF9A00, (OFF_GDT+12)(BP)
	MOVL	$0x0000FFFF, (OFF_GDT+16)(BP)
	MOVL	$0x00CF9200, (OFF_GDT+20)(BP)
	MOVW	$23, OFF_GDTR(BP)
	LEAL	OFF_GDT(BP), AX
	MOVL	AX, (OFF_GDTR+2)(BP)
	LGDT	OFF_GDTR(BP)

	// Long mode: CR4.PAE, CR3, EFER.LME, then CR0.PG (with PE).
	MOVQ	CR4, AX
	ORL	$0x20, AX
	MOVQ	AX, CR4
	MOVL	OFF_PT(BP), AX
	MOVQ	AX, CR3
	MOVL	$0xC0000080, CX
	RDMSR
	ORL	$0x100, AX
	WRMSR
	MOVQ	CR0, AX
	ORL	$0x80000001, AX
	MOVQ	AX, CR0

	// Now in compatibility mode: far-return into the 64-bit code segment at
	// the physical address of entry64.
	BYTE	$0xE8; LONG $0		// CALL next
	BYTE	$0x5A			// POPL DX
	LEAL	·entry64(SB), AX
	LEAL	7(DX)(AX*1), AX		// AX = physical address of entry64
	PUSHQ	$0x08			// in 32-bit mode: push 4-byte selector
	PUSHQ	AX			// and 4-byte offset
	BYTE	$0xCB			// RETF

// entry64 runs in 64-bit mode at its identity-mapped (physical) address and
// moves to the same code at KernelBase.
TEXT ·entry64(SB),NOSPLIT|NOFRAME,$0
	LEAQ	·entry64high(SB), AX	// RIP-relative: the low alias
	MOVQ	KERNEL_BASE, BX
	ADDQ	BX, AX
	JMP	AX

// entry64high runs at the kernel's link address.
TEXT ·entry64high(SB),NOSPLIT|NOFRAME,$0
	// Reload the GDT through its high address (the identity map goes away
	// when the kernel installs its own page tables) and the data segments.
	LEAQ	·bootData(SB), R12
	LEAQ	OFF_GDT(R12), AX
	MOVQ	AX, (OFF_GDTR+2)(R12)
	LGDT	OFF_GDTR(R12)
	MOVL	$0x10, AX
	MOVW	AX, DS
	MOVW	AX, ES
	MOVW	AX, SS
	XORL	AX, AX
	MOVW	AX, FS
	MOVW	AX, GS

	// Boot stack.
	LEAQ	·bootStack+65536(SB), SP

	// SSE on (the Go ABI wrappers use X15): CR0.MP=1, CR0.EM=0, CR0.TS=0;
	// CR4.OSFXSR | CR4.OSXMMEXCPT.
	MOVQ	CR0, AX
	ANDQ	$~0xC, AX
	ORQ	$0x2, AX
	MOVQ	AX, CR0
	MOVQ	CR4, AX
	ORQ	$0x600, AX
	MOVQ	AX, CR4

	// FS base: a TLS block whose g slot (-8) reads as nil.
	LEAQ	·bootTLS+8(SB), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xC0000100, CX
	WRMSR

	// Hand over: DI = loader magic, SI = info physical address.
	MOVL	OFF_MAGIC(R12), DI
	MOVL	OFF_INFO(R12), SI
	JMP	dunix∕kernel·start(SB)
