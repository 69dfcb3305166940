package kernel

import (
	"errors"
	"syscall"
	"unsafe"

	"dunix/arch/amd64"
	"dunix/kernel/mm"
)

// The Go-context side of user mode (task.go): what the process layer
// (package proc) uses to run user programs. Everything here is a kernel
// call or plain memory access to kernel structures the caller owns.

// UserTask is a user thread's hardware context. The goroutine that owns it
// may read and change the registers while it is not running.
type UserTask struct {
	idx uintptr
	t   *Task
}

// ErrNoTask is returned when the node has no free task slot.
var ErrNoTask = errors.New("kernel: no free user task slot")

// NewUserTask allocates a user context with a clean FPU state.
func NewUserTask() (*UserTask, error) {
	r, _ := kcall(kcallTaskNew, 0, 0)
	if int64(r) < 0 {
		return nil, ErrNoTask
	}
	return &UserTask{idx: r, t: &tasks[r]}, nil
}

// Free releases the context (it must not be running).
func (u *UserTask) Free() { kcall(kcallTaskFree, u.idx, 0) }

// Regs returns the user registers.
func (u *UserTask) Regs() *amd64.Frame { return &u.t.Frame }

// Task returns the trap-visible state (IDs, FS/GS bases, last event).
func (u *UserTask) Task() *Task { return u.t }

// FPU returns the extended-state (XSAVE) image of the user thread.
func (u *UserTask) FPU() []byte {
	return unsafe.Slice((*byte)(amd64.Ptr(u.t.xsave)), xsaveSize)
}

// ResetFPU puts the user FPU in its initial state.
func (u *UserTask) ResetFPU() { initXsave(u.t.xsave) }

// ValidFPU tells whether an XSAVE image may be loaded (rt_sigreturn gives
// the user a say in it; a bad one must not reach XRSTOR).
func ValidFPU(img []byte) bool {
	return len(img) >= int(xsaveSize) && validXsave(uintptr(unsafe.Pointer(&img[0])))
}

// FPUSize is the size of an XSAVE image; FPUFeatures what it holds (XCR0).
func FPUSize() int { return int(xsaveSize) }

// FPUFeatures returns the components saved in an XSAVE image.
func FPUFeatures() uint64 { return xsaveMask }

// SetRoot gives the task an address space (a root from NewRoot).
func (u *UserTask) SetRoot(root uintptr) error {
	if _, e := kcall(kcallTaskSetRoot, u.idx, root); e != 0 {
		return e
	}
	return nil
}

// Run runs the thread in user mode until it makes a system call, takes
// an exception or is interrupted, and returns the event (Event*). It
// blocks the calling goroutine's thread meanwhile, as a system call does.
func (u *UserTask) Run() int {
	r, _, e := syscall.Syscall(kcallTaskRun, u.idx, 0, 0)
	if e != 0 {
		return EventBadState
	}
	return int(r)
}

// Interrupt makes a running (or the next) Run return EventInterrupted.
func (u *UserTask) Interrupt() { kcall(kcallTaskInterrupt, u.idx, 0) }

// NewRoot allocates the root of a user address space (the kernel half is
// filled in).
func NewRoot() (uintptr, error) {
	r, e := kcall(kcallRootNew, 0, 0)
	if e != 0 {
		return 0, e
	}
	return r, nil
}

// AllocPages fills ps with zeroed physical pages (at most 512 at a time).
func AllocPages(ps []uintptr) error {
	if len(ps) == 0 {
		return nil
	}
	if _, e := kcall(kcallPagesAlloc, uintptr(unsafe.Pointer(&ps[0])), uintptr(len(ps))); e != 0 {
		return e
	}
	return nil
}

// FreePages gives physical pages back (at most 512 at a time).
func FreePages(ps []uintptr) {
	if len(ps) > 0 {
		kcall(kcallPagesFree, uintptr(unsafe.Pointer(&ps[0])), uintptr(len(ps)))
	}
}

// FlushTLB drops non-global TLB entries on every CPU (after user mappings
// lost permissions or went away).
func FlushTLB() { kcall(kcallFlushTLB, 0, 0) }

// Page returns the direct-map view of physical page p.
func Page(p uintptr) *[mm.PageSize]byte {
	return (*[mm.PageSize]byte)(amd64.Ptr(mm.P2V(p)))
}

// Table returns physical page p as a page table.
func Table(p uintptr) *[512]uint64 {
	return (*[512]uint64)(amd64.Ptr(mm.P2V(p)))
}

// HWCap returns the AT_HWCAP value for user programs (CPUID.1:EDX).
func HWCap() uint64 { return hwcap }

// SyscallName returns the name of Linux x86-64 system call nr, or "".
func SyscallName(nr uint64) string {
	if nr < uint64(len(sysNames)) {
		return sysNames[nr]
	}
	return ""
}

// Initrd returns the first module the boot loader loaded (the root file
// system archive), or nil.
func Initrd() []byte {
	if bootInfo.NModules == 0 {
		return nil
	}
	m := bootInfo.Modules[0]
	if m.End <= m.Start || m.End > ramEnd {
		return nil
	}
	return unsafe.Slice((*byte)(amd64.Ptr(mm.P2V(uintptr(m.Start)))), m.End-m.Start)
}

// ConsoleWrite writes b to the console as it is (no newline translation).
func ConsoleWrite(b []byte) (int, error) {
	for len(b) > 0 {
		n := min(len(b), 4096)
		if _, e := kcall(kcallConsoleWrite, uintptr(unsafe.Pointer(&b[0])), uintptr(n)); e != 0 {
			return 0, e
		}
		b = b[n:]
	}
	return len(b), nil
}

// ConsoleWriter writes to the console without newline translation.
type ConsoleWriter struct{}

func (ConsoleWriter) Write(b []byte) (int, error) {
	n := len(b)
	_, err := ConsoleWrite(b)
	return n, err
}
