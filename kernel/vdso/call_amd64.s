#include "textflag.h"

// func callC3(fn, a, b, c uintptr) uintptr
TEXT ·callC3(SB), NOSPLIT, $0-40
	// The arguments into the SysV argument registers.
	MOVQ	fn+0(FP), AX
	MOVQ	a+8(FP), DI
	MOVQ	b+16(FP), SI
	MOVQ	c+24(FP), DX
	// Align the stack to 16 bytes at the call (BX, callee-saved in the
	// SysV ABI, keeps the old SP), call, restore.
	MOVQ	SP, BX
	ANDQ	$~15, SP
	CALL	AX
	MOVQ	BX, SP
	MOVQ	AX, ret+32(FP)
	RET
