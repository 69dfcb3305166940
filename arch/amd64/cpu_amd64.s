#include "textflag.h"

// Port I/O: DX holds the port, AL/AX/EAX the value.

TEXT ·Inb(SB),NOSPLIT,$0-9
	MOVW	port+0(FP), DX
	XORL	AX, AX
	INB
	MOVB	AX, ret+8(FP)
	RET

TEXT ·Outb(SB),NOSPLIT,$0-3
	MOVW	port+0(FP), DX
	MOVB	v+2(FP), AX
	OUTB
	RET

TEXT ·Inw(SB),NOSPLIT,$0-10
	MOVW	port+0(FP), DX
	XORL	AX, AX
	INW
	MOVW	AX, ret+8(FP)
	RET

TEXT ·Outw(SB),NOSPLIT,$0-4
	MOVW	port+0(FP), DX
	MOVW	v+2(FP), AX
	OUTW
	RET

TEXT ·Inl(SB),NOSPLIT,$0-12
	MOVW	port+0(FP), DX
	INL
	MOVL	AX, ret+8(FP)
	RET

TEXT ·Outl(SB),NOSPLIT,$0-8
	MOVW	port+0(FP), DX
	MOVL	v+4(FP), AX
	OUTL
	RET

// MSRs: ECX selects the register, EDX:EAX holds the value.

TEXT ·Rdmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	RDMSR
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+8(FP)
	RET

TEXT ·Wrmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	MOVQ	v+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	WRMSR
	RET

TEXT ·CPUID(SB),NOSPLIT,$0-24
	MOVL	leaf+0(FP), AX
	MOVL	sub+4(FP), CX
	CPUID
	MOVL	AX, eax+8(FP)
	MOVL	BX, ebx+12(FP)
	MOVL	CX, ecx+16(FP)
	MOVL	DX, edx+20(FP)
	RET

TEXT ·Xgetbv(SB),NOSPLIT,$0-16
	MOVL	index+0(FP), CX
	XGETBV
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+8(FP)
	RET

TEXT ·Xsetbv(SB),NOSPLIT,$0-16
	MOVL	index+0(FP), CX
	MOVQ	v+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	XSETBV
	RET

// Control registers.

TEXT ·CR0(SB),NOSPLIT,$0-8
	MOVQ	CR0, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·SetCR0(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR0
	RET

TEXT ·CR2(SB),NOSPLIT,$0-8
	MOVQ	CR2, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·CR3(SB),NOSPLIT,$0-8
	MOVQ	CR3, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·SetCR3(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR3
	RET

TEXT ·CR4(SB),NOSPLIT,$0-8
	MOVQ	CR4, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·SetCR4(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR4
	RET

TEXT ·Invlpg(SB),NOSPLIT,$0-8
	MOVQ	addr+0(FP), AX
	INVLPG	(AX)
	RET

// Descriptor tables.

TEXT ·Lgdt(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	LGDT	(AX)
	RET

TEXT ·Lidt(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	LIDT	(AX)
	RET

TEXT ·Ltr(SB),NOSPLIT,$0-2
	MOVW	sel+0(FP), AX
	LTR	AX
	RET

// ReloadSegments: data selectors by MOV, CS by a far return to the next
// instruction (there is no MOV to CS).
TEXT ·ReloadSegments(SB),NOSPLIT,$0-4
	MOVWQZX	data+2(FP), AX
	MOVW	AX, DS
	MOVW	AX, ES
	MOVW	AX, SS
	MOVWQZX	code+0(FP), AX
	// FS and GS are left alone: writing a selector to them would zero
	// their bases, and Go code finds g through FS.
	LEAQ	reloaded<>(SB), BX
	PUSHQ	AX
	PUSHQ	BX
	RETFQ

TEXT reloaded<>(SB),NOSPLIT|NOFRAME,$0
	RET

// Time, randomness, interrupts.

TEXT ·Rdtsc(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// RDRAND/RDSEED set CF when the value is valid.
TEXT ·Rdrand(SB),NOSPLIT,$0-9
	RDRANDQ	AX
	SETCS	BX
	MOVQ	AX, v+0(FP)
	MOVB	BX, ok+8(FP)
	RET

TEXT ·Rdseed(SB),NOSPLIT,$0-9
	RDSEEDQ	AX
	SETCS	BX
	MOVQ	AX, v+0(FP)
	MOVB	BX, ok+8(FP)
	RET

// Halt: STI takes effect after the next instruction, so no interrupt can
// slip in between the two and be missed before HLT.
TEXT ·Halt(SB),NOSPLIT,$0-0
	STI
	HLT
	RET

TEXT ·Pause(SB),NOSPLIT,$0-0
	PAUSE
	RET

TEXT ·DisableInterrupts(SB),NOSPLIT,$0-8
	PUSHFQ
	POPQ	AX
	CLI
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·RestoreInterrupts(SB),NOSPLIT,$0-8
	MOVQ	flags+0(FP), AX
	BTQ	$9, AX		// IF is bit 9
	JCC	2(PC)
	STI
	RET

TEXT ·EnableInterrupts(SB),NOSPLIT,$0-0
	STI
	RET

TEXT ·Flags(SB),NOSPLIT,$0-8
	PUSHFQ
	POPQ	AX
	MOVQ	AX, ret+0(FP)
	RET

// Segment bases through their MSRs (FS_BASE 0xC0000100, GS_BASE 0xC0000101).

TEXT ·SetFSBase(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xC0000100, CX
	WRMSR
	RET

TEXT ·FSBase(SB),NOSPLIT,$0-8
	MOVL	$0xC0000100, CX
	RDMSR
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·SetGSBase(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xC0000101, CX
	WRMSR
	RET

// GSWord: a GS-relative load (segment prefix 0x65 on an absolute address).
TEXT ·GSWord(SB),NOSPLIT,$0-16
	MOVQ	off+0(FP), BX
	BYTE	$0x65; MOVQ (BX), AX
	MOVQ	AX, ret+8(FP)
	RET

// Extended state: XSAVE/XRSTOR take the component mask in EDX:EAX.

TEXT ·Xsave(SB),NOSPLIT,$0-16
	MOVQ	p+0(FP), DI
	MOVQ	mask+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	XSAVE64	(DI)
	RET

TEXT ·Xrstor(SB),NOSPLIT,$0-16
	MOVQ	p+0(FP), DI
	MOVQ	mask+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	XRSTOR64	(DI)
	RET

TEXT ·Fxsave(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), DI
	FXSAVE64	(DI)
	RET

TEXT ·Fxrstor(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), DI
	FXRSTOR64	(DI)
	RET

TEXT ·Fninit(SB),NOSPLIT,$0-0
	BYTE	$0xDB; BYTE $0xE3	// FNINIT
	RET

TEXT ·Ldmxcsr(SB),NOSPLIT,$0-4
	LDMXCSR	v+0(FP)
	RET

// Stop halts this CPU for good.
TEXT ·Stop(SB),NOSPLIT,$0-0
	CLI
	HLT
	JMP	-2(PC)
