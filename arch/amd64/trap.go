package amd64

// The kernel's trap handlers, installed once before interrupts are enabled.
var (
	threadHandler func()
	nestedHandler func(f *Frame)
)

// SetTrapHandlers installs the kernel's handlers: thread runs for every
// system call, exception and interrupt taken in thread context (the state
// is in the current thread's Frame; the handler may switch threads by
// changing this CPU's Local.Frame and Local.Xsave); nested runs for NMI,
// double fault, machine check and anything taken in trap context, with the
// interrupted state in f. Both run in trap context.
//
// It must be called before the runtime starts (it stores function values
// without a write barrier in mind).
//
//go:nosplit
func SetTrapHandlers(thread func(), nested func(f *Frame)) {
	threadHandler = thread
	nestedHandler = nested
}

//go:nosplit
func threadTrap() { threadHandler() }

//go:nosplit
func nestedTrap(f *Frame) { nestedHandler(f) }

// trapCommon, enterKernel and exitKernel are the shared entry and exit
// paths (trap_amd64.s); enterKernelCall is the entry of kernel code's own
// system calls, which need not save the vector registers.
func trapCommon()
func enterKernel()
func enterKernelCall()
func exitKernel()

// SyscallEntry is the target of the SYSCALL instruction.
func SyscallEntry()

// Resume leaves trap context into the current thread of this CPU.
func Resume()

// IdleLoop is the code of idle threads: halt until an interrupt.
func IdleLoop()

//go:generate go run gen_vectors.go

// stubTable returns the addresses of the 256 entry stubs
// (vectors_amd64.s), for the IDT.
func stubTable() *[256]uintptr
