package kernel

import (
	"unsafe"

	"dunix/arch/amd64"
)

// CPU features the kernel looks at, and the set-up every CPU gets: NX,
// SSE, XSAVE with the AVX (and AVX-512) state the CPU has, SYSCALL.

var (
	cpuHasXsave     bool
	cpuHasAVX       bool
	cpuHasRdrand    bool
	cpuHasRdseed    bool
	cpuHasSMEP      bool
	cpuHasSMAP      bool
	cpuHasNX        bool
	cpuHasDeadline  bool
	cpuHasPDPE1G    bool
	cpuHasFSGSBase  bool
	cpuHasXsaveopt  bool
	cpuHasInvariant bool
	hwcap           uint64 // AT_HWCAP: CPUID.1:EDX, as Linux reports it

	// xsaveMask is what XCR0 enables (x87, SSE, and AVX/AVX-512 when
	// present); xsaveSize is the XSAVE area it needs. Without XSAVE the
	// FXSAVE area (512 bytes) is used and xsaveMask is 0.
	xsaveMask  uint64
	xsaveSize  uintptr = 512
	mxcsrMask  uint32  = 0xFFBF
	fxTemplate [512]byte
)

// XCR0 components the kernel enables when the CPU has them.
const (
	xcrX87    = 1 << 0
	xcrSSE    = 1 << 1
	xcrAVX    = 1 << 2
	xcrOpmask = 1 << 5
	xcrZMMHi  = 1 << 6
	xcrHi16   = 1 << 7
)

// detectFeatures reads CPUID on the boot CPU.
//
//go:nosplit
func detectFeatures() {
	_, _, ecx, edx := amd64.CPUID(1, 0)
	hwcap = uint64(edx)
	cpuHasXsave = ecx&(1<<26) != 0
	cpuHasAVX = ecx&(1<<28) != 0
	cpuHasRdrand = ecx&(1<<30) != 0
	cpuHasDeadline = ecx&(1<<24) != 0
	max, _, _, _ := amd64.CPUID(0, 0)
	if max >= 7 {
		_, ebx, _, _ := amd64.CPUID(7, 0)
		cpuHasFSGSBase = ebx&1 != 0
		cpuHasRdseed = ebx&(1<<18) != 0
		cpuHasSMEP = ebx&(1<<7) != 0
		cpuHasSMAP = ebx&(1<<20) != 0
	}
	if max >= 0xD && cpuHasXsave {
		a, _, _, _ := amd64.CPUID(0xD, 1)
		cpuHasXsaveopt = a&1 != 0
	}
	emax, _, _, _ := amd64.CPUID(0x80000000, 0)
	if emax >= 0x80000001 {
		_, _, _, d := amd64.CPUID(0x80000001, 0)
		cpuHasNX = d&(1<<20) != 0
		cpuHasPDPE1G = d&(1<<26) != 0
	}
	if emax >= 0x80000007 {
		_, _, _, d := amd64.CPUID(0x80000007, 0)
		cpuHasInvariant = d&(1<<8) != 0
	}
}

// setupCPU turns on what every CPU needs before it runs Go code or takes a
// system call.
//
//go:nosplit
func setupCPU() {
	cr0 := amd64.CR0()
	cr0 |= amd64.CR0MP | amd64.CR0NE | amd64.CR0WP
	cr0 &^= amd64.CR0EM | amd64.CR0TS
	amd64.SetCR0(cr0)
	cr4 := amd64.CR4() | amd64.CR4OSFXSR | amd64.CR4OSXMMEXCPT | amd64.CR4PGE
	if cpuHasXsave {
		cr4 |= amd64.CR4OSXSAVE
	}
	// The kernel never executes user pages (SMEP) nor touches them through
	// user addresses (SMAP): it copies user memory through the direct map
	// after walking the page tables, so both can be on. SYSCALL clears AC
	// (SFMASK), so user code cannot lift SMAP for the kernel.
	if cpuHasSMEP {
		cr4 |= amd64.CR4SMEP
	}
	if cpuHasSMAP {
		cr4 |= amd64.CR4SMAP
	}
	amd64.SetCR4(cr4)
	efer := amd64.Rdmsr(amd64.MSREFER) | amd64.EFERSCE
	if cpuHasNX {
		efer |= amd64.EFERNXE
	}
	amd64.Wrmsr(amd64.MSREFER, efer)
	if cpuHasXsave {
		if xsaveMask == 0 {
			lo, _, _, hi := amd64.CPUID(0xD, 0)
			supported := uint64(hi)<<32 | uint64(lo)
			xsaveMask = supported & (xcrX87 | xcrSSE | xcrAVX | xcrOpmask | xcrZMMHi | xcrHi16)
			if xsaveMask&(xcrOpmask|xcrZMMHi|xcrHi16) != xcrOpmask|xcrZMMHi|xcrHi16 {
				xsaveMask &^= xcrOpmask | xcrZMMHi | xcrHi16 // all of AVX-512 or none
			}
		}
		amd64.Xsetbv(0, xsaveMask)
		if xsaveSize == 512 {
			_, ebx, _, _ := amd64.CPUID(0xD, 0)
			xsaveSize = uintptr(ebx)
		}
	}
	amd64.Fninit()
	amd64.Ldmxcsr(0x1F80)
	amd64.EnableSyscall(amd64.SyscallEntryAddr())
}

// initXsaveTemplate records the MXCSR mask and a clean FPU image.
//
//go:nosplit
func initXsaveTemplate() {
	amd64.Fninit()
	amd64.Ldmxcsr(0x1F80)
	amd64.Fxsave(uintptr(unsafe.Pointer(&fxTemplate)))
	if m := ld32(uintptr(unsafe.Pointer(&fxTemplate)) + 28); m != 0 {
		mxcsrMask = m
	}
}

// initXsave puts the clean FPU state (x87 reset, MXCSR default, no
// extended components) into the area at a.
//
//go:nosplit
func initXsave(a uintptr) {
	b := (*[4096]byte)(amd64.Ptr(a))
	clear(b[:xsaveSize])
	copy(b[:32], fxTemplate[:32]) // control and status words, MXCSR and its mask
}

// validXsave checks an image before XRSTOR/FXRSTOR may load it: a bad one
// would fault in trap context.
//
//go:nosplit
func validXsave(a uintptr) bool {
	if ld32(a+24)&^mxcsrMask != 0 {
		return false
	}
	if xsaveMask == 0 {
		return true
	}
	hdr := a + 512
	if ld64(hdr)&^xsaveMask != 0 || ld64(hdr+8) != 0 {
		return false
	}
	for off := uintptr(16); off < 64; off += 8 {
		if ld64(hdr+off) != 0 {
			return false
		}
	}
	return true
}
