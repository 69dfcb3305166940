package kernel

import (
	"unsafe"

	"dunix/arch/amd64"
	"dunix/kernel/mm"
)

// Kernel calls: what kernel code running as goroutines asks of the trap
// side, through system calls numbered from kcallBase.

// CPUStats are one CPU's counters.
type CPUStats struct {
	APICID                         uint64
	Online                         uint64
	Syscalls, Interrupts, Switches uint64
	Faults, IdleNs                 uint64
	// Address-space switches made in the CPU's own root, and how many
	// of them flushed the whole TLB (uswitch.go; zero when not used).
	Uswitches, UswitchFlushes uint64
}

// Stats is what kcallStats fills in.
type Stats struct {
	NCPU, Online          uint64
	Threads               uint64
	MemTotal, MemFree     uint64
	UptimeNs              uint64
	WallBootNs            int64
	TSCHz                 uint64
	BootTSC               uint64 // TSC at kernel entry
	NowTSC                uint64
	VMRanges              uint64
	PageFaults, ZeroFills uint64
	WatchdogNMIs          uint64
	XsaveMask, XsaveSize  uint64
	DeadlineTimer         uint64
	HWRandom              uint64
	ImageBytes            uint64 // the kernel image in memory (text to the end of BSS)
	IRQs                  [24]uint64
	CPU                   [MaxCPUs]CPUStats
}

//go:nosplit
func kStats(buf uint64) int64 {
	if !mm.Access(uintptr(buf), unsafe.Sizeof(Stats{}), true) {
		return -efault
	}
	s := (*Stats)(amd64.Ptr(uintptr(buf)))
	p := mm.Phys()
	v := mm.Stats()
	s.NCPU, s.Online, s.Threads = uint64(ncpu), uint64(nonline.Load()), uint64(nthreads)
	s.MemTotal, s.MemFree = p.Total, p.Free
	s.UptimeNs, s.WallBootNs, s.TSCHz = now(), wallBoot, tscHz
	s.BootTSC, s.NowTSC = bootTSC, amd64.Rdtsc()
	s.VMRanges, s.PageFaults, s.ZeroFills = uint64(v.Ranges), v.Faults, v.ZeroFilled
	s.WatchdogNMIs = watchdogNMIs.Load()
	s.XsaveMask, s.XsaveSize = xsaveMask, uint64(xsaveSize)
	s.DeadlineTimer = b2u(deadlineTimer)
	s.HWRandom = b2u(cpuHasRdrand)
	s.ImageBytes = uint64(imageEnd() - imageStart())
	s.IRQs = irqCount
	for i := int32(0); i < ncpu; i++ {
		c := &cpus[i]
		s.CPU[i] = CPUStats{uint64(c.APICID), uint64(c.online.Load()), c.syscalls + c.FastSyscalls, c.interrupts, c.switches, c.faults, c.idleNs, c.uswitches, c.uswitchFlushes}
	}
	return 0
}

//go:nosplit
func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

//go:nosplit
func kENOSYS(buf uint64) int64 {
	n := uintptr(len(enosysCount)) * 4
	if !mm.Access(uintptr(buf), n, true) {
		return -efault
	}
	out := (*[len(enosysCount)]uint32)(amd64.Ptr(uintptr(buf)))
	for i := range enosysCount {
		out[i] = enosysCount[i].Load()
	}
	return 0
}

// Deliberate faults in trap context, for the tests of the crash reports.
const (
	crashTrapPageFault = 1 // a page fault in trap context
	crashTrapInvalidOp = 2 // #UD in trap context
	crashKernelStack   = 3 // overflow the trap stack into its guard page
	crashDoubleFault   = 4 // a page fault whose delivery faults
	crashHang          = 5 // interrupts off for 3 s: the watchdog must speak
)

// overflowStack pushes until the stack runs out (asm_amd64.s).
func overflowStack()

// ud2 executes an invalid instruction (asm_amd64.s).
func ud2()

//go:nosplit
func kCrash(t *Thread, kind uint64) int64 {
	switch kind {
	case crashTrapPageFault:
		return int64(ld64(0x10))
	case crashTrapInvalidOp:
		ud2()
	case crashKernelStack:
		overflowStack()
	case crashDoubleFault:
		// Unmap this CPU's entry stack: the page fault below cannot push
		// its frame there, which makes it a double fault.
		c := thisCPU()
		top := ld64(uintptr(unsafe.Pointer(&c.tss[36+8*(amd64.ISTEntry-1)])))
		mm.UnmapKernelPage(uintptr(top) - mm.PageSize)
		return int64(ld64(0x10))
	case crashHang:
		start := now()
		for now()-start < 3_000_000_000 {
			amd64.Pause()
		}
		return 0
	}
	return -einval
}
