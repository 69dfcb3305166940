package kernel

import (
	"sync/atomic"

	"dunix/arch/amd64"
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

	needResched bool
	sliceEnd    uint64 // ns: when the running thread's time slice ends

	// Timers of threads that blocked on this CPU with a deadline.
	timerLock    spin.Lock
	timers       queue.Heap
	timerEntries [MaxThreads]queue.Entry
	timerPos     [MaxThreads]int32
	armed        uint64 // ns: when the timer interrupt is programmed

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
