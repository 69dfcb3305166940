package amd64

// Frame is the saved register state of a thread, written by the trap entry
// code and read back by the exit code. The order matches the pushes and
// pops in trap_amd64.s: general registers first (R15 lowest), then the
// vector and error code, then the five words IRETQ pops.
type Frame struct {
	R15, R14, R13, R12, R11, R10, R9, R8 uint64
	RBP, RDI, RSI, RDX, RCX, RBX, RAX    uint64

	Vector uint64 // trap vector, or VectorSyscall
	Error  uint64 // hardware error code (0 when there is none)

	RIP, CS, RFLAGS, RSP, SS uint64
}

// Offsets into Frame used by the assembly (checked by a test).
const (
	FrameRAX    = 14 * 8
	FrameVector = 15 * 8
	FrameError  = 16 * 8
	FrameRIP    = 17 * 8
	FrameCS     = 18 * 8
	FrameRFLAGS = 19 * 8
	FrameRSP    = 20 * 8
	FrameSS     = 21 * 8
	FrameSize   = 22 * 8
)

// VectorSyscall marks a frame saved by the SYSCALL entry.
const VectorSyscall = 0x100

// Selectors of the per-CPU GDT (see gdt.go).
const (
	KernelCode = 0x08
	KernelData = 0x10
	UserData   = 0x18 | 3 // SYSRET loads SS from STAR[63:48]+8 ...
	UserCode   = 0x20 | 3 // ... and CS from STAR[63:48]+16
	TSSSel     = 0x28
)

// RFLAGS bits.
const (
	FlagCF = 1 << 0
	FlagTF = 1 << 8
	FlagIF = 1 << 9
	FlagDF = 1 << 10
	FlagAC = 1 << 18
)
