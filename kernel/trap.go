package kernel

import (
	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/kernel/klog"
	"dunix/kernel/mm"
)

// Interrupt vectors.
const (
	vecIRQBase  = 0x30 // GSI n arrives as vecIRQBase+n
	vecIRQLast  = vecIRQBase + 23
	vecTimer    = 0xE0
	vecResched  = 0xF0
	vecAPICErr  = 0xFE
	vecSpurious = 0xFF
)

// Exception vectors.
const (
	excDivide       = 0
	excDebug        = 1
	excNMI          = 2
	excBreakpoint   = 3
	excOverflow     = 4
	excBound        = 5
	excInvalidOp    = 6
	excNoDevice     = 7
	excDoubleFault  = 8
	excInvalidTSS   = 10
	excNoSegment    = 11
	excStack        = 12
	excGeneralProt  = 13
	excPageFault    = 14
	excFPU          = 16
	excAlignment    = 17
	excMachineCheck = 18
	excSIMD         = 19
)

var excNames = [32]string{
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
	"#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
	"#XM SIMD error", "#VE virtualization", "#CP control protection",
}

// handleTrap runs for every system call, exception and interrupt taken in
// thread context, with the state in the current thread's Frame.
//
//go:nosplit
func handleTrap() {
	c := thisCPU()
	t := &threads[c.current]
	f := (*amd64.Frame)(amd64.Ptr(c.Frame))
	if t.task >= 0 && userTrap(c, t, f) {
		schedule(c)
		return
	}
	switch v := f.Vector; {
	case v == amd64.VectorSyscall:
		c.syscalls++
		handleSyscall(c, t, f)
	case v == vecTimer:
		profSample(f)
		c.interrupts++
		lapic.EOI()
		timerInterrupt(c)
	case v == vecResched:
		c.interrupts++
		lapic.EOI()
		c.needResched = true
	case v >= vecIRQBase && v <= vecIRQLast:
		profSample(f)
		c.interrupts++
		irq(uint32(v - vecIRQBase))
		lapic.EOI()
	case v >= vecMSIBase && v <= vecMSILast:
		profSample(f)
		c.interrupts++
		msi(v)
		lapic.EOI()
	case v == vecSpurious:
	case v == vecAPICErr:
		lapic.EOI()
		klog.Begin().S("dunix: APIC error ").X(uint64(lapic.ErrorStatus())).S(" on cpu ").D(uint64(c.ID)).End()
	case v < 32:
		c.faults++
		exception(c, t, f)
	default:
		// Legacy PIC vectors (0x20-0x2F) and strays: nothing to do.
	}
	checkInterrupt(c, t)
	schedule(c)
	checkResumeIF(c)
}

// resumedIntsOff counts kernel threads about to be resumed with interrupts
// off. Go code always runs with them on (the runtime is entered with them
// on, and a thread's system calls keep its flags); a resume with them off
// would leave the thread unpreemptible, as the main thread was when the
// runtime was entered with IF clear. It is reported once and corrected.
var resumedIntsOff uint64

// checkResumeIF makes sure the thread this CPU resumes in kernel mode runs
// with interrupts on.
//
//go:nosplit
func checkResumeIF(c *CPU) {
	f := (*amd64.Frame)(amd64.Ptr(c.Frame))
	if f.CS&3 != 0 || f.RFLAGS&amd64.FlagIF != 0 || threads[c.current].idle {
		return
	}
	resumedIntsOff++
	if resumedIntsOff == 1 {
		klog.Begin().S("dunix: thread ").D(uint64(c.current)).S(" resumed with interrupts off at ").X(f.RIP).
			S(" (vector ").X(f.Vector).S(", flags ").X(f.RFLAGS).S("); turned on").End()
	}
	f.RFLAGS |= amd64.FlagIF
}

// timerInterrupt: heartbeat, timeouts, end of time slice, watchdog.
//
//go:nosplit
func timerInterrupt(c *CPU) {
	t := now()
	c.armed = 0 // it fired: armTimer must program it again
	c.heartbeat.Store(t)
	expireTimers(c, t)
	if t >= c.sliceEnd {
		c.needResched = true
	}
	watchdog(c, t)
}

// exception handles a CPU exception in thread context: a page fault in the
// mmap window is demand paging; anything else becomes the signal Linux
// would send, which the Go runtime turns into a panic or a crash report.
//
//go:nosplit
func exception(c *CPU, t *Thread, f *amd64.Frame) {
	v := f.Vector
	addr := f.RIP
	var sig, code int
	switch v {
	case excPageFault:
		addr = amd64.CR2()
		if c.uroot != 0 && c.urootGen != mm.KernelGen() {
			syncUrootKernel(c) // the kernel half grew since: retry
			return
		}
		switch mm.Fault(uintptr(addr), f.Error) {
		case mm.FaultHandled:
			return
		case mm.FaultOOM:
			outOfMemory(t, addr)
			return
		case mm.FaultAccErr:
			sig, code = sigSEGV, segvAccErr
		default:
			sig, code = sigSEGV, segvMapErr
		}
		if mm.InStackGuard(uintptr(addr)) {
			fatal(f, "kernel stack overflow")
		}
	case excDivide:
		sig, code = sigFPE, fpeIntDiv
	case excFPU, excSIMD:
		sig, code = sigFPE, 0
	case excDebug, excBreakpoint:
		sig, code = sigTRAP, 0x80
	case excInvalidOp:
		sig, code = sigILL, illIllOpn
	case excAlignment:
		sig, code = sigBUS, busAdrAln
	case excGeneralProt, excStack, excNoSegment, excOverflow, excBound:
		sig, code, addr = sigSEGV, siKernel, 0
	default:
		fatal(f, "unexpected exception")
		return
	}
	t.lastFault = faultRecord{vector: v, err: f.Error, addr: addr, rip: f.RIP, valid: true}
	if !forceSignal(t, sig, code, addr) {
		fatal(f, "exception with its signal blocked or not handled")
	}
}

// outOfMemory: the runtime touched memory the node does not have.
//
//go:nosplit
func outOfMemory(t *Thread, addr uint64) {
	klog.Begin().S("dunix: out of memory: no frame for ").X(addr).S(" (thread ").D(uint64(tid(t.idx))).S(")").End()
	p := mm.Phys()
	klog.Begin().S("dunix: memory: ").D(p.Total >> 20).S(" MiB, ").D(p.Free >> 10).S(" KiB free").End()
	powerOff(137) // as if killed by SIGKILL, like the Linux OOM killer
}

// nestedTrap handles NMIs, double faults, machine checks and exceptions
// taken in trap context. Only NMIs return.
//
//go:nosplit
func nestedTrap(f *amd64.Frame) {
	c := thisCPU()
	if f.Vector == excNMI {
		nmi(c, f)
		return
	}
	if f.Vector == excDoubleFault {
		fatal(f, "double fault")
	}
	if f.Vector == excPageFault && mm.InStackGuard(uintptr(amd64.CR2())) {
		fatal(f, "kernel stack overflow (guard page hit)")
	}
	fatal(f, "exception in trap context")
}
