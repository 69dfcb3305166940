package kernel

import (
	"unsafe"

	"sync/atomic"

	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/kernel/mm"
	"dunix/kernel/spin"
)

// User mode. A user program's thread is a Task: its user registers, its
// extended state, FS and GS bases, and the page-table root of its address
// space. A Task runs on whatever kernel thread calls Run on it (the Go side
// dedicates a goroutine to each user thread, as gVisor's sentry does): the
// kernel thread leaves for ring 3 with the Task's state, and comes back
// from Run when the user code makes a system call, takes an exception, or
// is interrupted. Timer interrupts and IPIs in between are handled without
// leaving user mode; the scheduler may preempt a kernel thread while it is
// in user mode like any other.

// MaxTasks bounds the number of user threads on a node.
const MaxTasks = 4096

// Events that end a Run.
const (
	EventSyscall     = 1 // Frame.RAX is the number, the arguments in RDI..R9
	EventFault       = 2 // a CPU exception: Vector, Error, Addr (CR2 for #PF)
	EventInterrupted = 3 // Interrupt was called
	EventBadState    = 4 // the registers could not be loaded (non-canonical RIP or RSP)
)

// Task is the trap-visible state of one user thread.
type Task struct {
	Frame  amd64.Frame
	xsave  uintptr
	FSBase uint64
	GSBase uint64
	root   uintptr // physical address of the PML4
	gen    uint64  // kernel-half generation copied into root

	// Linux IDs, for the system calls answered without leaving trap
	// context (getpid, gettid, getppid).
	PID, TID, PPID int32

	used      atomic.Bool
	running   atomic.Int32 // kernel thread index+1 while in user mode
	interrupt atomic.Bool

	// The last event.
	Event, Vector, Error, Addr uint64
	FastCalls                  uint64
}

var (
	taskLock spin.Lock
	tasks    [MaxTasks]Task
)

// SyscallEntry answers getpid, gettid and getppid from the IDs at fixed
// offsets from the task's Frame: these arrays fail to compile when the
// layout and amd64.Task*Offset disagree.
var (
	_ [unsafe.Offsetof(Task{}.PID) - amd64.TaskPIDOffset]struct{}
	_ [amd64.TaskPIDOffset - unsafe.Offsetof(Task{}.PID)]struct{}
	_ [unsafe.Offsetof(Task{}.TID) - amd64.TaskTIDOffset]struct{}
	_ [amd64.TaskTIDOffset - unsafe.Offsetof(Task{}.TID)]struct{}
	_ [unsafe.Offsetof(Task{}.PPID) - amd64.TaskPPIDOffset]struct{}
	_ [amd64.TaskPPIDOffset - unsafe.Offsetof(Task{}.PPID)]struct{}
	_ [0 - unsafe.Offsetof(Task{}.Frame)]struct{}
)

// User segment selectors and the RFLAGS bits a user program may set.
const (
	userCS       = amd64.UserCode
	userSS       = amd64.UserData
	userFlagMask = 0xCD5 | amd64.FlagTF | amd64.FlagDF | amd64.FlagAC | 1<<21 // arithmetic, TF, DF, AC, ID
)

//go:nosplit
func canonicalUser(a uint64) bool { return a < 0x0000800000000000 }

// kTaskNew allocates a Task with a clean FPU state and returns its index.
//
//go:nosplit
func kTaskNew() int64 {
	taskLock.Lock()
	defer taskLock.Unlock()
	for i := range tasks {
		t := &tasks[i]
		if t.used.Load() {
			continue
		}
		if t.xsave == 0 {
			p, ok := mm.AllocZeroedFrame()
			if !ok {
				return -enomem
			}
			t.xsave = mm.P2V(p)
		}
		initXsave(t.xsave)
		t.Frame = amd64.Frame{CS: userCS, SS: userSS, RFLAGS: amd64.FlagIF | 2}
		t.FSBase, t.GSBase, t.root, t.gen = 0, 0, 0, 0
		t.PID, t.TID, t.PPID = 0, 0, 0
		t.interrupt.Store(false)
		t.running.Store(0)
		t.Event, t.FastCalls = 0, 0
		t.used.Store(true)
		return int64(i)
	}
	return -eagain
}

//go:nosplit
func taskAt(i uint64) *Task {
	if i >= MaxTasks || !tasks[i].used.Load() {
		return nil
	}
	return &tasks[i]
}

//go:nosplit
func kTaskFree(i uint64) int64 {
	t := taskAt(i)
	if t == nil || t.running.Load() != 0 {
		return -einval
	}
	t.used.Store(false)
	return 0
}

// kTaskRun leaves for user mode with task i on the calling kernel thread
// k. It returns (through k's RAX) when an event ends the run.
//
//go:nosplit
func kTaskRun(c *CPU, k *Thread, i uint64) int64 {
	t := taskAt(i)
	if t == nil || t.root == 0 {
		return -einval
	}
	if !t.running.CompareAndSwap(0, k.idx+1) {
		return -ebusy
	}
	if t.interrupt.Swap(false) {
		t.running.Store(0)
		return EventInterrupted
	}
	f := &t.Frame
	f.CS, f.SS = userCS, userSS
	f.RFLAGS = f.RFLAGS&userFlagMask | amd64.FlagIF | 2
	if !canonicalUser(f.RIP) || !canonicalUser(f.RSP) || !canonicalUser(t.FSBase) || !canonicalUser(t.GSBase) || !validXsave(t.xsave) {
		t.running.Store(0)
		return EventBadState
	}
	syncKernelHalf(t)
	k.task = int32(i)
	c.load(k)
	return keep
}

// leaveUser ends k's run of its task with event ev: k continues in kernel
// mode, returning ev from its Run call.
//
//go:nosplit
func leaveUser(c *CPU, k *Thread, ev uint64) {
	t := &tasks[k.task]
	t.Event = ev
	k.task = -1
	k.Frame.RAX = ev
	t.running.Store(0)
	c.load(k)
}

// userTrap handles an event of a kernel thread k running its task in user
// mode. It returns false when the event is not the user program's (an
// interrupt), so that the caller handles it as usual.
//
//go:nosplit
func userTrap(c *CPU, k *Thread, f *amd64.Frame) bool {
	t := &tasks[k.task]
	switch v := f.Vector; {
	case v == amd64.VectorSyscall:
		c.syscalls++
		if fastSyscall(t, f) {
			t.FastCalls++
			return true
		}
		leaveUser(c, k, EventSyscall)
		return true
	case v < 32 && v != excNMI && v != excMachineCheck:
		c.faults++
		if v == excPageFault && c.resyncTop(t.root, amd64.CR2()) {
			return true // a top-level entry added since the install: retried
		}
		t.Vector, t.Error, t.Addr = v, f.Error, f.RIP
		if v == excPageFault {
			t.Addr = amd64.CR2()
		}
		leaveUser(c, k, EventFault)
		return true
	}
	return false
}

// fastSyscall answers the calls that need nothing but the task's own
// state, without a round trip through the Go side.
//
//go:nosplit
func fastSyscall(t *Task, f *amd64.Frame) bool {
	switch f.RAX {
	case 39: // getpid
		f.RAX = uint64(t.PID)
	case 186: // gettid
		f.RAX = uint64(t.TID)
	case 110: // getppid
		f.RAX = uint64(t.PPID)
	default:
		return false
	}
	return true
}

// kTaskInterrupt makes task i's Run return EventInterrupted soon: at once
// if it is in user mode on some CPU (an IPI brings that CPU into the
// kernel), else at its next Run.
//
//go:nosplit
func kTaskInterrupt(i uint64) int64 {
	t := taskAt(i)
	if t == nil {
		return -einval
	}
	t.interrupt.Store(true)
	if r := t.running.Load(); r != 0 {
		k := &threads[r-1]
		if k.state.Load() == tsRunning && k.cpu != thisCPU().ID {
			lapic.SendIPI(cpus[k.cpu].APICID, vecResched)
		}
	}
	return 0
}

// checkInterrupt ends a user run that was asked to stop; it runs on the
// way out of every kernel entry of a thread in user mode.
//
//go:nosplit
func checkInterrupt(c *CPU, k *Thread) {
	if k.task >= 0 && tasks[k.task].interrupt.Swap(false) {
		leaveUser(c, k, EventInterrupted)
	}
}

// Address spaces. A user page-table root has the kernel's upper half
// copied in; when the kernel adds a top-level entry (rare: its mmap
// window crossing into a new 512 GiB slot), the copy is refreshed before
// the root is next loaded. A CPU loads a user root only while it runs one
// of the root's tasks in user mode and goes back to the kernel's root
// otherwise (CPU.load), so a root can be freed once none of its tasks
// runs.

//go:nosplit
func syncKernelHalf(t *Task) {
	if g := mm.KernelGen(); t.gen != g {
		copyKernelHalf(t.root)
		t.gen = g
	}
}

// copyKernelHalf copies the kernel's upper half into the root at root.
//
//go:nosplit
func copyKernelHalf(root uintptr) {
	src := (*[512]uint64)(amd64.Ptr(mm.P2V(mm.KernelRoot())))
	dst := (*[512]uint64)(amd64.Ptr(mm.P2V(root)))
	copy(dst[256:], src[256:])
}

// kRootNew allocates a page-table root for a user address space.
//
//go:nosplit
func kRootNew() int64 {
	p, ok := mm.AllocZeroedFrame()
	if !ok {
		return -enomem
	}
	copyKernelHalf(p)
	return int64(p)
}

// kTaskSetRoot gives task i the address space rooted at root.
//
//go:nosplit
func kTaskSetRoot(i, root uint64) int64 {
	t := taskAt(i)
	if t == nil || t.running.Load() != 0 || root&(mm.PageSize-1) != 0 || root >= uint64(ramEnd) {
		return -einval
	}
	t.root = uintptr(root)
	t.gen = 0
	return 0
}

// Frames for the Go side's page tables and user pages, in batches.

//go:nosplit
func kPagesAlloc(buf, n uint64) int64 {
	if n > 512 || !mm.Access(uintptr(buf), uintptr(n*8), true) {
		return -einval
	}
	for i := uint64(0); i < n; i++ {
		p, ok := mm.AllocZeroedFrame()
		if !ok {
			for j := uint64(0); j < i; j++ {
				mm.FreeFrame(uintptr(ld64(uintptr(buf + 8*j))))
			}
			return -enomem
		}
		st64(uintptr(buf+8*i), uint64(p))
	}
	return int64(n)
}

//go:nosplit
func kPagesFree(buf, n uint64) int64 {
	if n > 512 || !mm.Access(uintptr(buf), uintptr(n*8), false) {
		return -einval
	}
	for i := uint64(0); i < n; i++ {
		p := ld64(uintptr(buf + 8*i))
		if p&(mm.PageSize-1) != 0 || p >= uint64(ramEnd) {
			return -einval
		}
		mm.FreeFrame(uintptr(p))
	}
	return 0
}
