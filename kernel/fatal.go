package kernel

import (
	"sync/atomic"
	"unsafe"

	"dunix/arch/amd64"
	"dunix/kernel/klog"
	"dunix/kernel/mm"
	"dunix/kernel/symtab"
)

// Crash reports. A fault in Go code becomes a signal and the Go runtime
// prints its own symbolized traceback; the kernel adds the CPU's view (the
// vector, the registers, the faulting address) when the runtime then exits
// with an error. A fault the runtime cannot handle (in trap context, with
// the signal blocked, a double fault) is reported here: vector, registers,
// and a frame-pointer backtrace symbolized from the runtime's pclntab.

const statusKernelFatal = 3

var (
	fatalOnce  atomic.Uint32
	kernelSyms symtab.Table
)

// pclntab returns where the linker put the runtime's symbol table.
func pclntab() (start, end, text uintptr)

//go:nosplit
func initSymbols() {
	start, end, text := pclntab()
	kernelSyms.Init(unsafe.Slice((*byte)(amd64.Ptr(start)), end-start), uint64(text))
}

// fatal reports an unrecoverable fault with the state in f and powers off.
//
//go:nosplit
func fatal(f *amd64.Frame, why string) {
	amd64.DisableInterrupts()
	if fatalOnce.Swap(1) != 0 {
		amd64.Stop() // another CPU is already reporting
	}
	klog.Break()
	c := thisCPU()
	b := klog.Begin()
	b.S("dunix: FATAL: ").S(why).S(" on cpu ").D(uint64(c.ID))
	if c.current >= 0 {
		b.S(", thread ").D(uint64(tid(c.current)))
	}
	b.End()
	printFrame(f, amd64.CR2())
	backtrace(f.RIP, f.RBP)
	powerOff(statusKernelFatal)
}

// printFrame prints the vector and the registers.
//
//go:nosplit
func printFrame(f *amd64.Frame, cr2 uint64) {
	b := klog.Begin()
	b.S("  vector ").D(f.Vector)
	if f.Vector < 32 {
		b.S(" (").S(excNames[f.Vector]).S(")")
	} else if f.Vector == amd64.VectorSyscall {
		b.S(" (system call)")
	}
	b.S(" error ").X(f.Error).S(" address (cr2) ").X(cr2).End()
	reg3("rax", f.RAX, "rbx", f.RBX, "rcx", f.RCX)
	reg3("rdx", f.RDX, "rsi", f.RSI, "rdi", f.RDI)
	reg3("rbp", f.RBP, "rsp", f.RSP, "r8 ", f.R8)
	reg3("r9 ", f.R9, "r10", f.R10, "r11", f.R11)
	reg3("r12", f.R12, "r13", f.R13, "r14", f.R14)
	reg3("r15", f.R15, "rip", f.RIP, "flg", f.RFLAGS)
	reg3("cs ", f.CS, "ss ", f.SS, "fs ", amd64.FSBase())
}

//go:nosplit
func reg3(n1 string, v1 uint64, n2 string, v2 uint64, n3 string, v3 uint64) {
	klog.Begin().S("  ").S(n1).C(' ').X16(v1).S("  ").S(n2).C(' ').X16(v2).S("  ").S(n3).C(' ').X16(v3).End()
}

// backtrace walks the frame-pointer chain (Go keeps one on amd64).
//
//go:nosplit
func backtrace(pc, bp uint64) {
	klog.WriteString("  backtrace:\n")
	for i := 0; i < 32; i++ {
		printPC(pc)
		if bp == 0 || bp&7 != 0 || !readable(uintptr(bp), 16) {
			return
		}
		pc = ld64(uintptr(bp) + 8)
		next := ld64(uintptr(bp))
		if next <= bp {
			return
		}
		bp = next
	}
}

//go:nosplit
func printPC(pc uint64) {
	b := klog.Begin()
	var fr symtab.Frame
	b.S("    ").X(pc)
	if kernelSyms.Lookup(pc, &fr) {
		b.C(' ').B(fr.Function).S("+").X(pc - fr.Entry)
		if fr.File != nil {
			b.S("\n        ").B(fr.File).C(':').I(int64(fr.Line))
		}
	}
	b.End()
}

// readable tells whether [a, a+n) is mapped, without faulting anything in.
//
//go:nosplit
func readable(a, n uintptr) bool {
	if a >= mm.DirectMap && a+n <= mm.DirectMap+uintptr(ramEnd) {
		return true
	}
	for p := a &^ (mm.PageSize - 1); p < a+n; p += mm.PageSize {
		if mm.Lookup(p)&mm.PTEPresent == 0 {
			return false
		}
	}
	return true
}

// reportCrashIfAny: when the runtime exits with an error after a CPU
// exception, the kernel adds what the CPU saw (the runtime printed its
// own goroutine traceback already).
//
//go:nosplit
func reportCrashIfAny(status int) {
	if status != 0 {
		reportLastFault()
	}
}

//go:nosplit
func reportLastFault() {
	for i := range threads {
		t := &threads[i]
		if !t.lastFault.valid {
			continue
		}
		r := &t.lastFault
		b := klog.Begin()
		b.S("dunix: last CPU exception of thread ").D(uint64(tid(t.idx))).S(": vector ").D(r.vector)
		if r.vector < 32 {
			b.S(" (").S(excNames[r.vector]).S(")")
		}
		b.S(" at rip ").X(r.rip).S(" address ").X(r.addr).S(" error ").X(r.err).End()
		printPC(r.rip)
	}
}
