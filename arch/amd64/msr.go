package amd64

// Model-specific registers the kernel uses.
const (
	MSRAPICBase    = 0x1B
	MSRTSCDeadline = 0x6E0
	MSRPAT         = 0x277
	MSREFER        = 0xC0000080
	MSRSTAR        = 0xC0000081
	MSRLSTAR       = 0xC0000082
	MSRCSTAR       = 0xC0000083
	MSRSFMASK      = 0xC0000084
	MSRFSBase      = 0xC0000100
	MSRGSBase      = 0xC0000101
	MSRKernelGS    = 0xC0000102
	MSRTSCAux      = 0xC0000103
)

// EFER bits.
const (
	EFERSCE = 1 << 0  // SYSCALL/SYSRET
	EFERLME = 1 << 8  // long mode enable
	EFERNXE = 1 << 11 // no-execute page bit
)

// CR0 bits.
const (
	CR0PE = 1 << 0
	CR0MP = 1 << 1
	CR0EM = 1 << 2
	CR0TS = 1 << 3
	CR0NE = 1 << 5
	CR0WP = 1 << 16
	CR0PG = 1 << 31
)

// CR4 bits.
const (
	CR4PAE        = 1 << 5
	CR4PGE        = 1 << 7
	CR4OSFXSR     = 1 << 9
	CR4OSXMMEXCPT = 1 << 10
	CR4FSGSBASE   = 1 << 16
	CR4PCIDE      = 1 << 17
	CR4OSXSAVE    = 1 << 18
	CR4SMEP       = 1 << 20
	CR4SMAP       = 1 << 21
)

// EnableSyscall programs SYSCALL: entry at SyscallEntry in the kernel code
// segment, with IF, TF, DF and AC cleared on entry.
//
//go:nosplit
func EnableSyscall(entry uintptr) {
	Wrmsr(MSREFER, Rdmsr(MSREFER)|EFERSCE)
	// STAR[47:32]: SYSCALL CS (SS = +8). STAR[63:48]: SYSRET base (SS =
	// +8, CS = +16, both with RPL 3).
	Wrmsr(MSRSTAR, uint64(KernelCode)<<32|uint64(KernelData)<<48)
	Wrmsr(MSRLSTAR, uint64(entry))
	Wrmsr(MSRSFMASK, FlagIF|FlagTF|FlagDF|FlagAC)
}
