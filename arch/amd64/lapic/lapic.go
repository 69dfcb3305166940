// Package lapic drives the local APIC of x86 CPUs in xAPIC (MMIO) mode
// (Intel SDM volume 3A, chapter 11): this CPU's identity, end of
// interrupt, the one-shot and TSC-deadline timer, and inter-processor
// interrupts (fixed, NMI, INIT and SIPI).
//
// The registers are reached through the kernel's mapping of the APIC page,
// the same physical page on every CPU, each CPU seeing its own APIC there.
// Every function is nosplit and allocates nothing: they run in trap
// context.
package lapic

import (
	"sync/atomic"

	"dunix/arch/amd64"
)

// Register offsets.
const (
	regID        = 0x020
	regVersion   = 0x030
	regTPR       = 0x080
	regEOI       = 0x0B0
	regSVR       = 0x0F0
	regESR       = 0x280
	regICRLow    = 0x300
	regICRHigh   = 0x310
	regLVTTimer  = 0x320
	regLVTLINT0  = 0x350
	regLVTLINT1  = 0x360
	regLVTError  = 0x370
	regTimerInit = 0x380
	regTimerCur  = 0x390
	regTimerDiv  = 0x3E0

	svrEnable       = 1 << 8
	lvtMasked       = 1 << 16
	timerOneShot    = 0 << 17
	timerTSCDeadine = 2 << 17
	icrPending      = 1 << 12
	icrAssert       = 1 << 14
	icrLevel        = 1 << 15
	modeNMI         = 4 << 8
	modeINIT        = 5 << 8
	modeStartup     = 6 << 8
	deliveryExtINT  = 7 << 8
	shorthandOthers = 3 << 18
)

// DefaultBase is the physical address of the APIC page after reset.
const DefaultBase = 0xFEE00000

var base uintptr // virtual address of the register page

// SetBase tells the package where the register page is mapped.
//
//go:nosplit
func SetBase(virt uintptr) { base = virt }

//go:nosplit
func read(off uintptr) uint32 {
	return atomic.LoadUint32((*uint32)(amd64.Ptr(base + off)))
}

//go:nosplit
func write(off uintptr, v uint32) {
	atomic.StoreUint32((*uint32)(amd64.Ptr(base+off)), v)
}

// ID returns the APIC ID of the running CPU.
//
//go:nosplit
func ID() uint32 { return read(regID) >> 24 }

// Enable turns the APIC on (globally through the base MSR and in software
// through the spurious-vector register), accepts all priorities, and masks
// the timer and LINT0 (the legacy PIC). LINT1 stays the NMI input, as on
// PCs.
//
//go:nosplit
func Enable(spurious uint8) {
	amd64.Wrmsr(amd64.MSRAPICBase, amd64.Rdmsr(amd64.MSRAPICBase)|1<<11)
	write(regTPR, 0)
	write(regLVTTimer, lvtMasked)
	write(regLVTLINT0, lvtMasked)
	write(regLVTLINT1, modeNMI)
	write(regESR, 0)
	write(regESR, 0)
	write(regSVR, svrEnable|uint32(spurious))
}

// SetErrorVector routes APIC internal errors to vector v.
//
//go:nosplit
func SetErrorVector(v uint8) { write(regLVTError, uint32(v)) }

// ErrorStatus returns and clears the error status register.
//
//go:nosplit
func ErrorStatus() uint32 {
	write(regESR, 0)
	return read(regESR)
}

// EOI signals the end of the interrupt being handled.
//
//go:nosplit
func EOI() { write(regEOI, 0) }

// TimerOneShot arms the timer to raise vector v after count ticks of the
// APIC timer clock (divide by 1).
//
//go:nosplit
func TimerOneShot(v uint8, count uint32) {
	write(regTimerDiv, 0xB) // divide by 1
	write(regLVTTimer, timerOneShot|uint32(v))
	write(regTimerInit, count)
}

// TimerCurrent returns the one-shot timer's remaining count.
//
//go:nosplit
func TimerCurrent() uint32 { return read(regTimerCur) }

// TimerStop masks the timer and stops its count.
//
//go:nosplit
func TimerStop() {
	write(regLVTTimer, lvtMasked)
	write(regTimerInit, 0)
}

// TimerDeadlineMode switches the timer to TSC-deadline mode with vector v;
// TimerDeadline then arms it.
//
//go:nosplit
func TimerDeadlineMode(v uint8) {
	write(regLVTTimer, timerTSCDeadine|uint32(v))
}

// TimerDeadline arms the TSC-deadline timer (0 disarms it).
//
//go:nosplit
func TimerDeadline(tsc uint64) { amd64.Wrmsr(amd64.MSRTSCDeadline, tsc) }

//go:nosplit
func sendICR(dest uint32, low uint32) {
	for read(regICRLow)&icrPending != 0 {
		amd64.Pause()
	}
	write(regICRHigh, dest<<24)
	write(regICRLow, low)
}

// SendIPI sends fixed-delivery vector v to the CPU with APIC ID dest.
//
//go:nosplit
func SendIPI(dest uint32, v uint8) { sendICR(dest, uint32(v)|icrAssert) }

// SendNMI sends a non-maskable interrupt to dest.
//
//go:nosplit
func SendNMI(dest uint32) { sendICR(dest, modeNMI|icrAssert) }

// SendInit sends an INIT IPI (the first step of starting a CPU).
//
//go:nosplit
func SendInit(dest uint32) { sendICR(dest, modeINIT|icrAssert|icrLevel) }

// SendStartup sends a startup IPI: the CPU starts in real mode at
// page<<12.
//
//go:nosplit
func SendStartup(dest uint32, page uint8) { sendICR(dest, modeStartup|icrAssert|uint32(page)) }

// WaitIdle waits until the last IPI has been accepted.
//
//go:nosplit
func WaitIdle() {
	for read(regICRLow)&icrPending != 0 {
		amd64.Pause()
	}
}
