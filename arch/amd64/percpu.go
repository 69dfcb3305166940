package amd64

// Local is the part of a CPU's per-CPU block that the trap entry and exit
// code reads and writes through the GS segment. The kernel embeds it at the
// start of its own per-CPU structure and points GS_BASE at it.
type Local struct {
	Self        uintptr // GS:0, the block's own address
	Scratch     uint64  // GS:8, spill slot of the entry code
	KernelStack uintptr // GS:16, top of this CPU's trap stack
	Frame       uintptr // GS:24, &Frame of the thread running on this CPU
	Xsave       uintptr // GS:32, that thread's extended-state area
	XsaveMask   uint64  // GS:40, components saved (0: use FXSAVE)
	Depth       uint64  // GS:48, 0 in thread context, >0 in trap context
	Nested      uint64  // GS:56, count of exceptions taken in trap context
	KernelFS    uint64  // GS:64, FS base kernel code runs with (Go finds g at FS:-8)
	UserFS      uint64  // GS:72, FS base to load on the way to ring 3
	// FastSyscalls counts the system calls SyscallEntry answered itself.
	FastSyscalls uint64 // GS:80
}

// Offsets into Local used by the assembly (checked by a test).
const (
	LocalSelf         = 0
	LocalScratch      = 8
	LocalKernelStack  = 16
	LocalFrame        = 24
	LocalXsave        = 32
	LocalXsaveMask    = 40
	LocalDepth        = 48
	LocalNested       = 56
	LocalKernelFS     = 64
	LocalUserFS       = 72
	LocalFastSyscalls = 80
)

// The kernel's record of a user task starts with the task's Frame (what
// GS:24 points at while the task runs) and keeps the task's Linux IDs, as
// int32, at these offsets from it: SyscallEntry answers getpid, gettid
// and getppid from them. The kernel checks the layout when it compiles.
const (
	TaskPIDOffset  = 216
	TaskTIDOffset  = 220
	TaskPPIDOffset = 224
)

// ThisCPU returns the address of the running CPU's per-CPU block.
//
//go:nosplit
func ThisCPU() uintptr {
	return uintptr(GSWord(LocalSelf))
}
