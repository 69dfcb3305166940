package kernel

import (
	"sync/atomic"

	"dunix/arch/amd64"
	"dunix/kernel/mm"
	"dunix/kernel/spin"
)

// MaxThreads is the size of the thread table: the runtime's threads plus
// one idle thread per CPU.
const MaxThreads = 1024

// pid is the process ID of the kernel itself: the runtime asks for it and
// passes it back to tgkill.
const pid = 1

// Thread states.
const (
	tsFree = iota
	tsRunnable
	tsRunning
	tsBlocked
	tsDead // exited; the slot is reused once no CPU runs it any more
)

// What a blocked thread waits for.
const (
	waitNone = iota
	waitFutex
	waitSleep
	waitEpoll
)

// Thread is a kernel thread: one of the Go runtime's Ms, or a CPU's idle
// thread. All that a thread is lives here (registers, extended state, FS
// base, signal state, what it waits for), never on a Go stack, so that it
// can be saved, inspected or moved.
type Thread struct {
	Frame  amd64.Frame
	xsave  uintptr // direct-map address of a 4 KiB extended-state area
	fsBase uint64

	state atomic.Uint32
	onCPU atomic.Uint32 // 1 while some CPU runs it or has not yet let go
	cpu   int32         // where it runs or last ran
	idx   int32         // index in threads
	idle  bool
	// task is the user Task this kernel thread is running in user mode,
	// -1 in kernel mode (task.go).
	task int32

	// Blocking: waitToken is gen<<1 | claimed, so that exactly one waker
	// (a futex wake, a timeout, a signal) ends a given wait.
	waitKind  uint32
	waitKey   uintptr // futex address, epoll index
	waitNext  int32   // next waiter in the same queue, -1 at the end
	waitToken atomic.Uint64
	deadline  uint64  // ns, 0 for none
	timerCPU  int32   // whose timer heap holds the deadline, -1 for none
	waitRes   uintptr // result slot some waits fill in (epoll: event count)

	// Signals.
	sigMask    uint64
	sigPending uint64 // bit n-1 for signal n
	altSP      uint64
	altSize    uint64
	altFlags   uint32

	// The last CPU exception taken, for the crash report.
	lastFault faultRecord

	created uint64 // ns
}

type faultRecord struct {
	vector, err, addr, rip uint64
	valid                  bool
}

var (
	threadLock spin.Lock
	threads    [MaxThreads]Thread
	nthreads   int32 // live runtime threads
)

// tid is the Linux thread ID of thread i.
//
//go:nosplit
func tid(i int32) int32 { return i + 1 }

// index turns a thread ID back into an index, -1 when out of range.
//
//go:nosplit
func index(tid int64) int32 {
	if tid < 1 || tid > MaxThreads {
		return -1
	}
	return int32(tid - 1)
}

// newThread takes a free slot and gives it an extended-state area; it
// returns -1 when the table is full or memory is out.
//
//go:nosplit
func newThread() int32 {
	threadLock.Lock()
	defer threadLock.Unlock()
	for i := range threads {
		t := &threads[i]
		s := t.state.Load()
		if s == tsFree || s == tsDead && t.onCPU.Load() == 0 {
			if t.xsave == 0 {
				p, ok := mm.AllocZeroedFrame()
				if !ok {
					return -1
				}
				t.xsave = mm.P2V(p)
			}
			t.state.Store(tsBlocked) // not runnable until the caller says so
			t.waitKind = waitNone
			t.waitNext = -1
			t.timerCPU = -1
			t.deadline = 0
			t.sigPending = 0
			t.altSP, t.altSize, t.altFlags = 0, 0, ssDisable
			t.lastFault = faultRecord{}
			t.idle = false
			t.idx = int32(i)
			t.task = -1
			t.created = now()
			return int32(i)
		}
	}
	return -1
}
