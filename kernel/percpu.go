package kernel

import (
	"sync/atomic"
	"unsafe"

	"dunix/arch/amd64"
	"dunix/kernel/mm"
	"dunix/kernel/sched/queue"
	"dunix/kernel/spin"
)

// MaxCPUs is the most CPUs the kernel runs on.
const MaxCPUs = 64

// CPU is one processor's kernel state. GS_BASE points at it; its first
// field is the part the trap entry code uses.
type CPU struct {
	amd64.Local

	ID     int32
	APICID uint32
	online atomic.Uint32

	gdt amd64.GDT
	tss amd64.TSS

	current int32 // index of the running thread
	idle    int32 // index of this CPU's idle thread
	fsBase  uint64
	cr3     uintptr // the root load last wrote to CR3 (0: it left a lazily kept one); informational
	rootGen uint64  // kernel-half generation of the user root loaded

	// Address spaces switched in the CPU's own root (uswitch.go): the
	// root (0: not used), the generation of its kernel half, the space
	// whose top level it holds, and counts of switches and full flushes.
	uroot                     uintptr
	urootGen                  uint64
	installed                 uintptr
	utop                      [4]uint64    // lower top-level entries set in uroot
	uscanMasks                [3][8]uint64 // invalidateUser's scratch (off the trap stack)
	uswitches, uswitchFlushes uint64

	needResched bool
	sliceEnd    uint64 // ns: when the running thread's time slice ends

	// Timers of threads that blocked on this CPU with a deadline.
	timerLock    spin.Lock
	timers       queue.Heap
	timerEntries [MaxThreads]queue.Entry
	timerPos     [MaxThreads]int32
	armed        uint64 // ns: when the timer interrupt is programmed
	timersAdded  bool   // a timeout was queued here since armTimer last computed

	heartbeat atomic.Uint64 // ns of the last timer interrupt
	stuck     bool          // the watchdog reported this CPU

	// TLB shootdown: flushes requested of this CPU and done by it.
	flushWanted, flushDone atomic.Uint64
	shootWant              [MaxCPUs]uint64 // what this CPU's shootdown waits for

	// Counters.
	syscalls, interrupts, switches, faults uint64
	idleNs, idleSince                      uint64
}

var cpus [MaxCPUs]CPU

// ncpu is the number of CPUs found (online or not); nonline counts online.
var (
	ncpu    int32
	nonline atomic.Int32
)

// thisCPU returns the running CPU.
//
//go:nosplit
func thisCPU() *CPU {
	return (*CPU)(amd64.Ptr(amd64.ThisCPU()))
}

// load makes k's active context (its own in kernel mode, its task's in user
// mode) the one this CPU saves to and resumes from: frame, extended state,
// FS base (k's own while in the kernel: Go code finds g at FS:-8; the
// task's is loaded by the exit path on the way to ring 3), GS base for
// ring 3, page-table root.
//
// Kernel code runs on whatever root is loaded (lazy CR3): every user root
// carries the kernel half, and a CR3 write costs a TLB flush (under TCG a
// flush of QEMU's whole soft TLB), so leaving a task for kernel code keeps
// the task's root. A lazily kept root is dropped (dropLazyRoot) by every
// TLB shootdown, which the process layer makes before it frees a root,
// and when the kernel half gained a top-level entry it lacks.
//
//go:nosplit
func (c *CPU) load(k *Thread) {
	root := mm.KernelRoot()
	if k.task >= 0 {
		t := &tasks[k.task]
		c.Frame = uintptr(unsafe.Pointer(&t.Frame))
		c.Xsave = t.xsave
		c.UserFS = t.FSBase
		root = t.root
		c.rootGen = t.gen
		amd64.Wrmsr(amd64.MSRKernelGS, t.GSBase) // swapped in on the way to ring 3
	} else {
		c.Frame = uintptr(unsafe.Pointer(&k.Frame))
		c.Xsave = k.xsave
		if cur := uintptr(amd64.CR3()); cur != root && c.rootGen == mm.KernelGen() {
			// Keep the user root lazily (its kernel half is current):
			// leave CR3 alone. Never write back a root read here: a
			// shootdown NMI may drop it right after the read, and the
			// process layer frees it once every CPU has acknowledged;
			// writing it back would run this CPU on a freed page
			// table (seen: a triple fault when the next NMI could not
			// read the IDT through it).
			root = 0
		}
	}
	c.KernelFS = k.fsBase
	if k.fsBase != c.fsBase {
		amd64.SetFSBase(k.fsBase)
		c.fsBase = k.fsBase
	}
	if c.uroot != 0 {
		// CR3 stays: a task's space goes into this CPU's own root;
		// kernel code keeps whatever space is there.
		if k.task >= 0 {
			c.install(root)
		} else {
			syncUrootKernel(c)
		}
		return
	}
	if root == 0 {
		c.cr3 = 0 // whatever CR3 holds: the lazy root, or the kernel's
		return
	}
	// CR3 itself, not c.cr3, is compared: an NMI may have dropped a lazy
	// root since.
	if root != uintptr(amd64.CR3()) {
		amd64.SetCR3(uint64(root))
	}
	c.cr3 = root
}

// dropLazyRoot flushes this CPU's TLB, and leaves a user root it keeps
// only lazily for the kernel's own root: one the running thread's task
// does not use (it may be about to be freed). It runs in trap context or
// in an NMI, and decides from CR3 itself, so it may interrupt load.
//
//go:nosplit
func (c *CPU) dropLazyRoot() {
	if c.uroot != 0 {
		// The space of the task running here stays (flushed); any
		// other one leaves this CPU's root.
		if k := &threads[c.current]; k.task >= 0 && tasks[k.task].root == c.installed {
			amd64.SetCR3(uint64(c.uroot))
			return
		}
		c.uninstall()
		return
	}
	cur := uintptr(amd64.CR3())
	if k := &threads[c.current]; k.task >= 0 && tasks[k.task].root == cur || cur == mm.KernelRoot() {
		amd64.SetCR3(uint64(cur)) // a flush
		return
	}
	amd64.SetCR3(uint64(mm.KernelRoot()))
}
