#include "textflag.h"


// Per-CPU block offsets (percpu.go) and Frame offsets (frame.go).
#define L_SCRATCH	8
#define L_KSTACK	16
#define L_FRAME		24
#define L_XSAVE		32
#define L_XMASK		40
#define L_DEPTH		48
#define L_NESTED	56
#define L_KFS		64
#define L_UFS		72
#define L_FAST		80

// Offsets of the task's IDs from its Frame (percpu.go, TaskPIDOffset...).
#define TASK_PID	216
#define TASK_TID	220
#define TASK_PPID	224
#define USER_TOP	0x7ffffffff000	// return addresses at or above: no SYSRET

// KERNELFS loads this CPU's kernel FS base (GS must be the per-CPU one):
// Go code reads g at FS:-8, and in ring 3 FS is the user's.
#define KERNELFS \
	GS MOVQ	L_KFS, AX; \
	MOVQ	AX, DX; \
	SHRQ	$32, DX; \
	MOVL	$0xC0000100, CX; \
	WRMSR

// GS-relative memory operand: segment prefix 0x65 before an instruction
// whose operand is an absolute address.
#define GS	BYTE $0x65;

// SAVEGPRS stores the general registers except AX and SP into the Frame at
// AX; the caller stores AX itself.
#define SAVEGPRS \
	MOVQ	R15, 0(AX); \
	MOVQ	R14, 8(AX); \
	MOVQ	R13, 16(AX); \
	MOVQ	R12, 24(AX); \
	MOVQ	R11, 32(AX); \
	MOVQ	R10, 40(AX); \
	MOVQ	R9, 48(AX); \
	MOVQ	R8, 56(AX); \
	MOVQ	BP, 64(AX); \
	MOVQ	DI, 72(AX); \
	MOVQ	SI, 80(AX); \
	MOVQ	DX, 88(AX); \
	MOVQ	CX, 96(AX); \
	MOVQ	BX, 104(AX)

// trapCommon is reached from every vector stub (vectors_amd64.s) with the
// vector and an error code (0 when the CPU pushes none) on top of the
// hardware frame, on the IST stack the vector uses.
//
// From thread context (Depth 0) the whole register state goes into the
// running thread's Frame, and the handler runs on this CPU's trap stack.
// NMI, double fault and machine check, and anything taken while already in
// trap context, take the nested path: registers saved on the IST stack,
// the handler called, and the interrupted code resumed (if it returns).
TEXT ·trapCommon(SB),NOSPLIT|NOFRAME,$0
	CMPQ	0(SP), $2		// NMI
	JEQ	nested
	CMPQ	0(SP), $8		// double fault
	JEQ	nested
	CMPQ	0(SP), $18		// machine check
	JEQ	nested
	TESTB	$3, 24(SP)		// from ring 3 (CS.RPL)? Then GS is the
	JEQ	fromkernel		// user's: swap in the per-CPU base (a
	SWAPGS				// user entry is never in trap context)
	JMP	threadpath
fromkernel:
	GS CMPQ	L_DEPTH, $0
	JNE	nested
threadpath:

	GS MOVQ	AX, L_SCRATCH
	GS MOVQ	L_FRAME, AX
	SAVEGPRS
	GS MOVQ	L_SCRATCH, BX
	MOVQ	BX, 112(AX)		// RAX
	POPQ	BX			// vector, error code, RIP, CS, RFLAGS, RSP, SS
	MOVQ	BX, 120(AX)
	POPQ	BX
	MOVQ	BX, 128(AX)
	POPQ	BX
	MOVQ	BX, 136(AX)
	POPQ	BX
	MOVQ	BX, 144(AX)
	POPQ	BX
	MOVQ	BX, 152(AX)
	POPQ	BX
	MOVQ	BX, 160(AX)
	POPQ	BX
	MOVQ	BX, 168(AX)
	TESTB	$3, 144(AX)		// from ring 3: kernel FS for Go code
	JNE	userentry
	JMP	·enterKernel(SB)
userentry:
	KERNELFS
	JMP	·enterKernel(SB)

nested:
	// Build a Frame on this stack: GPRs below vector/error/hardware frame.
	PUSHQ	AX
	PUSHQ	BX
	PUSHQ	CX
	PUSHQ	DX
	PUSHQ	SI
	PUSHQ	DI
	PUSHQ	BP
	PUSHQ	R8
	PUSHQ	R9
	PUSHQ	R10
	PUSHQ	R11
	PUSHQ	R12
	PUSHQ	R13
	PUSHQ	R14
	PUSHQ	R15
	MOVQ	SP, BX			// BX = &Frame
	// An NMI (or #MC, #DF) can arrive anywhere, also between a SWAPGS and
	// the IRETQ after it, so GS is not trusted: the GS base MSR tells
	// (per-CPU blocks live in the upper half, user bases in the lower).
	MOVL	$0xC0000101, CX		// GS_BASE
	RDMSR
	XORL	R12, R12		// R12 = 1 when we swapped
	TESTL	$0x80000000, DX
	JNE	ngsok
	SWAPGS
	MOVL	$1, R12
ngsok:
	// FS too: in ring 3, or just before the IRETQ to it, FS is the
	// user's; the handler needs the kernel's (R13 keeps the old one).
	MOVL	$0xC0000100, CX		// FS_BASE
	RDMSR
	MOVL	AX, R13
	SHLQ	$32, DX
	ORQ	DX, R13
	BTQ	$63, R13
	JCS	nfsok
	KERNELFS
nfsok:
	GS INCQ	L_NESTED
	// The handler is Go code, which uses the vector registers: save the
	// interrupted extended state on this stack too (an NMI can arrive in
	// the middle of anything, including a thread's vector code).
	SUBQ	$(4096+64), SP		// argument, saved SP, swap flag, old FS, XSAVE area
	ANDQ	$~63, SP
	MOVQ	BX, 0(SP)
	MOVQ	BX, 8(SP)
	MOVQ	R12, 16(SP)
	MOVQ	R13, 24(SP)
	LEAQ	64(SP), DI
	XORL	AX, AX			// XSAVE leaves the header's last 56 bytes alone:
	MOVQ	AX, 520(DI)		// XRSTOR wants them zero
	MOVQ	AX, 528(DI)
	MOVQ	AX, 536(DI)
	MOVQ	AX, 544(DI)
	MOVQ	AX, 552(DI)
	MOVQ	AX, 560(DI)
	MOVQ	AX, 568(DI)
	GS MOVQ	L_XMASK, AX
	TESTQ	AX, AX
	JEQ	nfxsave
	MOVQ	AX, DX
	SHRQ	$32, DX
	XSAVE64	(DI)
	JMP	nsaved
nfxsave:
	FXSAVE64	(DI)
nsaved:
	CALL	·nestedTrap(SB)
	LEAQ	64(SP), DI
	GS MOVQ	L_XMASK, AX
	TESTQ	AX, AX
	JEQ	nfxrstor
	MOVQ	AX, DX
	SHRQ	$32, DX
	XRSTOR64	(DI)
	JMP	nrestored
nfxrstor:
	FXRSTOR64	(DI)
nrestored:
	GS DECQ	L_NESTED
	MOVQ	24(SP), AX		// the interrupted FS base
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xC0000100, CX
	WRMSR
	MOVQ	16(SP), R12
	MOVQ	8(SP), SP
	TESTQ	R12, R12
	JEQ	2(PC)
	SWAPGS				// give the user's GS back
	POPQ	R15
	POPQ	R14
	POPQ	R13
	POPQ	R12
	POPQ	R11
	POPQ	R10
	POPQ	R9
	POPQ	R8
	POPQ	BP
	POPQ	DI
	POPQ	SI
	POPQ	DX
	POPQ	CX
	POPQ	BX
	POPQ	AX
	ADDQ	$16, SP			// vector and error code
	IRETQ

// SyscallEntry is the target of the SYSCALL instruction (MSR LSTAR).
// SYSCALL left the return address in CX and RFLAGS in R11, cleared IF
// (SFMASK), and did not switch stacks.
TEXT ·SyscallEntry(SB),NOSPLIT|NOFRAME,$0
	BTQ	$63, CX			// the return address: kernel code lives in
	JCS	kernelcall		// the upper half
	SWAPGS				// from ring 3: the per-CPU GS base
	// getpid, gettid and getppid are answered here from the running task's
	// IDs, saving nothing: only RAX changes, and RCX and R11, which
	// SYSCALL and SYSRET use, as on Linux. Interrupts stay off (SFMASK). A
	// return address at or past USER_TOP goes the slow way: SYSRET to a
	// non-canonical address would fault in ring 0 on the user's stack.
	GS MOVQ	AX, L_SCRATCH		// the number
	MOVQ	$USER_TOP, AX
	CMPQ	CX, AX
	GS MOVQ	L_SCRATCH, AX		// (MOV keeps the flags)
	JAE	slowcall
	CMPQ	AX, $39
	JEQ	fastpid
	CMPQ	AX, $186
	JEQ	fasttid
	CMPQ	AX, $110
	JEQ	fastppid
slowcall:
	GS MOVQ	AX, L_SCRATCH
	GS MOVQ	L_FRAME, AX
	SAVEGPRS
	GS MOVQ	L_SCRATCH, BX
	MOVQ	BX, 112(AX)		// RAX: the system call number
	MOVQ	$0x23, 144(AX)		// CS: user code
	MOVQ	$0x1B, 168(AX)		// SS: user data
	MOVQ	$0x100, 120(AX)		// VectorSyscall
	MOVQ	$0, 128(AX)
	MOVQ	CX, 136(AX)		// RIP
	MOVQ	R11, 152(AX)		// RFLAGS
	MOVQ	SP, 160(AX)		// RSP
	KERNELFS
	JMP	·enterKernel(SB)
fastpid:
	GS MOVQ	L_FRAME, AX		// the task's Frame, its IDs after it
	MOVL	TASK_PID(AX), AX
	JMP	fastret
fasttid:
	GS MOVQ	L_FRAME, AX
	MOVL	TASK_TID(AX), AX
	JMP	fastret
fastppid:
	GS MOVQ	L_FRAME, AX
	MOVL	TASK_PPID(AX), AX
fastret:
	GS INCQ	L_FAST
	SWAPGS				// the user's GS base back
	BYTE $0x48; BYTE $0x0F; BYTE $0x07	// SYSRETQ: RIP from RCX, RFLAGS from R11
kernelcall:
	GS CMPQ	L_DEPTH, $0		// a system call from trap context is a bug:
	JEQ	2(PC)			// make it a #UD there, reported as nested
	UD2
	GS MOVQ	AX, L_SCRATCH
	GS MOVQ	L_FRAME, AX
	SAVEGPRS
	GS MOVQ	L_SCRATCH, BX
	MOVQ	BX, 112(AX)		// RAX: the system call number
	MOVQ	$0x08, 144(AX)		// CS
	MOVQ	$0x10, 168(AX)		// SS
syscallframe:
	MOVQ	$0x100, 120(AX)		// VectorSyscall
	MOVQ	$0, 128(AX)
	MOVQ	CX, 136(AX)		// RIP
	MOVQ	R11, 152(AX)		// RFLAGS
	MOVQ	SP, 160(AX)		// RSP
	JMP	·enterKernelCall(SB)

// enterKernel switches to the trap stack, marks trap context, saves the
// thread's extended state and runs the Go handler, then leaves through
// exitKernel.
TEXT ·enterKernel(SB),NOSPLIT|NOFRAME,$0
	GS MOVQ	L_KSTACK, SP
	GS MOVQ	$1, L_DEPTH
	GS MOVQ	L_XSAVE, DI
	GS MOVQ	L_XMASK, AX
	TESTQ	AX, AX
	JEQ	fxsave
	MOVQ	AX, DX
	SHRQ	$32, DX
	XSAVE64	(DI)
	JMP	saved
fxsave:
	FXSAVE64	(DI)
saved:
	CALL	·threadTrap(SB)
	JMP	·exitKernel(SB)

// enterKernelCall is enterKernel for a system call of kernel (Go) code,
// which keeps no vector register live across it: Go's ABI makes them all
// caller-saved, and X15, which Go code wants zero, comes back zero. So
// the extended state is not saved (XSAVE is the dearest part of a kernel
// round trip under emulation): the area is marked as the initial state
// (XSTATE_BV 0; MXCSR, which XRSTOR loads anyway, the default), and
// exitKernel's XRSTOR then just resets the registers. A signal handler
// run at the call's return finds that initial state in its frame. CPUs
// without XSAVE take the full path.
TEXT ·enterKernelCall(SB),NOSPLIT|NOFRAME,$0
	GS CMPQ	L_XMASK, $0
	JNE	2(PC)
	JMP	·enterKernel(SB)
	GS MOVQ	L_KSTACK, SP
	GS MOVQ	$1, L_DEPTH
	GS MOVQ	L_XSAVE, DI
	MOVQ	$0, 512(DI)		// XSTATE_BV: every component initial
	MOVL	$0x1F80, 24(DI)		// MXCSR: the default
	CALL	·threadTrap(SB)
	JMP	·exitKernel(SB)

// exitKernel resumes whichever thread is now current on this CPU (the
// handler may have switched): its extended state, then its registers, then
// IRETQ from its Frame.
TEXT ·exitKernel(SB),NOSPLIT|NOFRAME,$0
	GS MOVQ	L_XSAVE, DI
	GS MOVQ	L_XMASK, AX
	TESTQ	AX, AX
	JEQ	fxrstor
	MOVQ	AX, DX
	SHRQ	$32, DX
	XRSTOR64	(DI)
	JMP	restored
fxrstor:
	FXRSTOR64	(DI)
restored:
	GS MOVQ	L_FRAME, BX
	TESTB	$3, 144(BX)		// to ring 3: the user's FS base (no Go
	JEQ	kexit			// code runs from here to the IRETQ)
	GS MOVQ	L_UFS, AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xC0000100, CX
	WRMSR
kexit:
	GS MOVQ	L_FRAME, SP
	GS MOVQ	$0, L_DEPTH
	POPQ	R15
	POPQ	R14
	POPQ	R13
	POPQ	R12
	POPQ	R11
	POPQ	R10
	POPQ	R9
	POPQ	R8
	POPQ	BP
	POPQ	DI
	POPQ	SI
	POPQ	DX
	POPQ	CX
	POPQ	BX
	POPQ	AX
	ADDQ	$16, SP
	TESTB	$3, 8(SP)		// back to ring 3: the user's GS base
	JEQ	2(PC)
	SWAPGS
	IRETQ

// Resume leaves trap context for the current thread of this CPU; an
// application processor calls it once to start scheduling.
TEXT ·Resume(SB),NOSPLIT|NOFRAME,$0
	GS MOVQ	L_KSTACK, SP
	JMP	·exitKernel(SB)

// IdleLoop is the body of every CPU's idle thread.
TEXT ·IdleLoop(SB),NOSPLIT|NOFRAME,$0
idle:
	STI
	HLT
	JMP	idle

// addrs returns the addresses of SyscallEntry and IdleLoop.
TEXT ·addrs(SB),NOSPLIT,$0-16
	LEAQ	·SyscallEntry(SB), AX
	MOVQ	AX, syscallEntry+0(FP)
	LEAQ	·IdleLoop(SB), AX
	MOVQ	AX, idleLoop+8(FP)
	RET
