#include "textflag.h"

// pclntab returns the bounds of the runtime's pclntab and the start of
// text, which the linker defines.
TEXT ·pclntab(SB),NOSPLIT,$0-24
	LEAQ	runtime·pclntab(SB), AX
	MOVQ	AX, start+0(FP)
	LEAQ	runtime·epclntab(SB), AX
	MOVQ	AX, end+8(FP)
	LEAQ	runtime·text(SB), AX
	MOVQ	AX, text+16(FP)
	RET

// imageEnd returns the end of the kernel image (BSS included).
TEXT ·imageEnd(SB),NOSPLIT,$0-8
	LEAQ	runtime·end(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// imageStart returns the start of the kernel's text.
TEXT ·imageStart(SB),NOSPLIT,$0-8
	LEAQ	runtime·text(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// start is where boot.entry64high hands over, on the boot stack with
// interrupts off and FS pointing at a TLS block whose g is nil.
// In: DI = loader magic, SI = physical address of the loader's info.
//
// It runs bootstrap (pre-runtime Go, nosplit), which returns the stack the
// Go runtime starts on (argc, argv, envp, auxv, as Linux lays them out),
// then enters the runtime exactly as a Linux process would be entered.
TEXT ·start(SB),NOSPLIT|NOFRAME,$0
	SUBQ	$32, SP
	MOVQ	DI, 0(SP)
	MOVQ	SI, 8(SP)
	CALL	·bootstrap(SB)
	MOVQ	16(SP), SP		// the runtime's initial stack
	XORL	AX, AX			// registers as the ELF ABI leaves them
	XORL	BX, BX
	XORL	CX, CX
	XORL	DX, DX			// no atexit function
	XORL	SI, SI
	XORL	DI, DI
	XORL	R8, R8
	XORL	R9, R9
	XORL	R10, R10
	XORL	R11, R11
	XORL	R12, R12
	XORL	R13, R13
	XORL	R14, R14
	XORL	R15, R15
	STI				// Go code runs with interrupts on: the
	JMP	_rt0_amd64_linux(SB)	// thread's syscalls keep its RFLAGS, so
					// entering with IF clear left the main
					// thread unpreemptible by the timer

// apEntry: an application processor arrives from the trampoline in 64-bit
// mode on the boot page tables, with its boot stack. Switch to the
// kernel's page tables, make SSE and a readable FS:-8 available for Go
// code, and run apMain.
TEXT ·apEntry(SB),NOSPLIT|NOFRAME,$0
	MOVQ	·apCR3(SB), AX
	MOVQ	AX, CR3
	MOVQ	CR0, AX
	ANDQ	$~0xC, AX		// EM, TS off
	ORQ	$0x2, AX		// MP on
	MOVQ	AX, CR0
	MOVQ	CR4, AX
	ORQ	$0x600, AX		// OSFXSR, OSXMMEXCPT
	MOVQ	AX, CR4
	LEAQ	·apTLS+8(SB), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xC0000100, CX		// FS_BASE
	WRMSR
	CALL	·apMain(SB)
	HLT

TEXT ·apEntryAddr(SB),NOSPLIT,$0-8
	LEAQ	·apEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// overflowStack pushes until it faults on the stack's guard page.
TEXT ·overflowStack(SB),NOSPLIT|NOFRAME,$0
push:
	PUSHQ	AX
	JMP	push

// ud2 raises #UD.
TEXT ·ud2(SB),NOSPLIT,$0
	UD2
	RET
