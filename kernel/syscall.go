package kernel

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"dunix/arch/amd64"
	"dunix/kernel/klog"
	"dunix/kernel/mm"
)

// The runtime host's system-call table: the Linux calls the Go runtime and
// the standard library make, each answered here in trap context, one file
// per family (sys_*.go). Anything else returns ENOSYS, is counted per
// number and reported once on the console.

// keep is returned by handlers that have set the thread's RAX themselves,
// or blocked it (a waker sets RAX later).
const keep = int64(1) << 62

// Errno values, negated as the system-call ABI returns them.
const (
	eperm     = int64(unix.EPERM)
	enoent    = int64(unix.ENOENT)
	esrch     = int64(unix.ESRCH)
	eintr     = int64(unix.EINTR)
	ebadf     = int64(unix.EBADF)
	eagain    = int64(unix.EAGAIN)
	enomem    = int64(unix.ENOMEM)
	efault    = int64(unix.EFAULT)
	eexist    = int64(unix.EEXIST)
	einval    = int64(unix.EINVAL)
	emfile    = int64(unix.EMFILE)
	enotty    = int64(unix.ENOTTY)
	espipe    = int64(unix.ESPIPE)
	erange    = int64(unix.ERANGE)
	enosys    = int64(unix.ENOSYS)
	etimedout = int64(unix.ETIMEDOUT)
	ebusy     = int64(unix.EBUSY)
	enodev    = int64(unix.ENODEV)
)

// Private kernel calls, for kernel code running as goroutines.
const (
	kcallBase     = 1024
	kcallStats    = kcallBase + 0 // (buf *KernelStats)
	kcallStartCPU = kcallBase + 1 // (cpu, phase)
	kcallPoweroff = kcallBase + 2 // (status)
	kcallCrash    = kcallBase + 3 // (kind): deliberate faults for the tests
	kcallENOSYS   = kcallBase + 4 // (buf *[512]uint32)

	// User mode (task.go).
	kcallTaskNew       = kcallBase + 16 // () → task
	kcallTaskFree      = kcallBase + 17 // (task)
	kcallTaskRun       = kcallBase + 18 // (task) → event
	kcallTaskInterrupt = kcallBase + 19 // (task)
	kcallTaskSetRoot   = kcallBase + 20 // (task, root)
	kcallRootNew       = kcallBase + 21 // () → root
	kcallPagesAlloc    = kcallBase + 22 // (buf *[n]uint64, n) → n
	kcallPagesFree     = kcallBase + 23 // (buf *[n]uint64, n)
	kcallFlushTLB      = kcallBase + 24 // ()
	kcallConsoleWrite  = kcallBase + 25 // (buf, n): raw bytes to the console

	// Devices (devices.go).
	kcallMSIAlloc   = kcallBase + 32 // (eventfd) → vector | apic<<8
	kcallEntropyAdd = kcallBase + 33 // (buf, n) → bytes taken into the pool
	kcallLineAlloc  = kcallBase + 34 // (gsi, eventfd, status, ack, flags)
	kcallProfile    = kcallBase + 35 // (op, buf, n): start / stop sampling
)

var (
	enosysCount    [512]atomic.Uint32
	enosysReported [512]atomic.Bool
)

//go:nosplit
func handleSyscall(c *CPU, t *Thread, f *amd64.Frame) {
	nr := f.RAX
	a0, a1, a2, a3, a4, a5 := f.RDI, f.RSI, f.RDX, f.R10, f.R8, f.R9
	var r int64
	switch nr {
	// Files and events (sys_fd.go).
	case unix.SYS_READ:
		r = sysRead(t, a0, a1, a2)
	case unix.SYS_WRITE:
		r = sysWrite(a0, a1, a2)
	case unix.SYS_WRITEV:
		r = sysWritev(a0, a1, a2)
	case unix.SYS_CLOSE:
		r = sysClose(a0)
	case unix.SYS_FCNTL:
		r = sysFcntl(a0, a1, a2)
	case unix.SYS_IOCTL:
		r = sysIoctl(a0, a1, a2)
	case unix.SYS_FSTAT:
		r = sysFstat(a0, a1)
	case unix.SYS_NEWFSTATAT:
		r = sysNewfstatat(a0, a1, a2, a3)
	case unix.SYS_LSEEK:
		r = sysLseek(a0)
	case unix.SYS_FSYNC, unix.SYS_FDATASYNC:
		r = sysFsync(a0)
	case unix.SYS_OPENAT:
		r = sysOpenat(a1)
	case unix.SYS_OPEN:
		r = sysOpenat(a0)
	case unix.SYS_READLINKAT:
		r = sysOpenat(a1)
	case unix.SYS_EPOLL_CREATE1:
		r = sysEpollCreate(a0)
	case unix.SYS_EPOLL_CTL:
		r = sysEpollCtl(a0, a1, a2, a3)
	case unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_WAIT:
		r = sysEpollWait(t, a0, a1, a2, a3)
	case unix.SYS_EVENTFD2:
		r = sysEventfd(a0, a1)
	case unix.SYS_PIPE2:
		r = enosysCall(nr, f.RIP) // no pipes in the runtime host yet

	// Memory (sys_mm.go).
	case unix.SYS_MMAP:
		g := mm.KernelGen()
		r = sysMmap(a0, a1, a2, a3, a4)
		if mm.KernelGen() != g {
			// A new top-level entry in the kernel half: user roots kept
			// lazily lack it (the tasks' own get it at their next run).
			shootdown()
			c.dropLazyRoot()
		}
	case unix.SYS_MUNMAP:
		r = sysMunmap(a0, a1)
	case unix.SYS_MPROTECT:
		r = sysMprotect(a0, a1, a2)
	case unix.SYS_MADVISE:
		r = sysMadvise(a0, a1, a2)
	case unix.SYS_MINCORE:
		r = sysMincore(a0, a1, a2)
	case unix.SYS_BRK:
		r = sysBrk(a0)

	// Threads (sys_thread.go).
	case unix.SYS_CLONE:
		r = sysClone(t, a0, a1, a2, a3, a4)
	case unix.SYS_EXIT:
		r = sysExit(c, t)
	case unix.SYS_EXIT_GROUP:
		r = sysExitGroup(a0)
	case unix.SYS_FUTEX:
		r = sysFutex(t, a0, a1, a2, a3, a5)
	case unix.SYS_GETTID:
		r = int64(tid(t.idx))
	case unix.SYS_GETPID:
		r = pid
	case unix.SYS_GETPPID:
		r = 0
	case unix.SYS_SET_TID_ADDRESS:
		r = int64(tid(t.idx))
	case unix.SYS_SCHED_YIELD:
		c.needResched = true
	case unix.SYS_SCHED_GETAFFINITY:
		r = sysSchedGetaffinity(a1, a2)
	case unix.SYS_TGKILL:
		r = sysTgkill(a0, a1, a2)
	case unix.SYS_TKILL:
		r = sysTgkill(pid, a0, a1)
	case unix.SYS_KILL:
		r = sysKill(a0, a1)
	case unix.SYS_ARCH_PRCTL:
		r = sysArchPrctl(c, t, a0, a1)

	// Time (sys_time.go).
	case unix.SYS_CLOCK_GETTIME:
		r = sysClockGettime(a0, a1)
	case unix.SYS_CLOCK_GETRES:
		r = sysClockGetres(a0, a1)
	case unix.SYS_GETTIMEOFDAY:
		r = sysGettimeofday(a0)
	case unix.SYS_TIME:
		r = sysTime(a0)
	case unix.SYS_NANOSLEEP:
		r = sysNanosleep(t, a0, a1)
	case unix.SYS_CLOCK_NANOSLEEP:
		r = sysClockNanosleep(t, a0, a1, a2, a3)

	// Signals (sys_signal.go).
	case unix.SYS_RT_SIGACTION:
		r = sysRtSigaction(a0, a1, a2, a3)
	case unix.SYS_RT_SIGPROCMASK:
		r = sysRtSigprocmask(t, a0, a1, a2, a3)
	case unix.SYS_RT_SIGRETURN:
		r = sysRtSigreturn(t)
	case unix.SYS_SIGALTSTACK:
		r = sysSigaltstack(t, a0, a1)

	// The system (sys_info.go).
	case unix.SYS_SETHOSTNAME:
		r = sysSethostname(a0, a1)
	case unix.SYS_UNAME:
		r = sysUname(a0)
	case unix.SYS_GETRANDOM:
		r = sysGetrandom(a0, a1, a2)
	case unix.SYS_PRLIMIT64:
		r = sysPrlimit(a0, a1, a2, a3)
	case unix.SYS_GETRLIMIT:
		r = sysPrlimit(0, a0, 0, a1)
	case unix.SYS_PRCTL:
		r = sysPrctl(a0)
	case unix.SYS_GETUID, unix.SYS_GETEUID, unix.SYS_GETGID, unix.SYS_GETEGID:
		r = 0
	case unix.SYS_GETCWD:
		r = sysGetcwd(a0, a1)
	case unix.SYS_SYSINFO:
		r = sysSysinfo(a0)

	// Kernel calls (sys_kernel.go).
	case kcallStats:
		r = kStats(a0)
	case kcallStartCPU:
		r = kStartCPU(a0, a1)
	case kcallPoweroff:
		powerOff(int(a0))
	case kcallCrash:
		r = kCrash(t, a0)
	case kcallENOSYS:
		r = kENOSYS(a0)
	case kcallTaskNew:
		r = kTaskNew()
	case kcallTaskFree:
		r = kTaskFree(a0)
	case kcallTaskRun:
		r = kTaskRun(c, t, a0)
	case kcallTaskInterrupt:
		r = kTaskInterrupt(a0)
	case kcallTaskSetRoot:
		r = kTaskSetRoot(a0, a1)
	case kcallRootNew:
		r = kRootNew()
	case kcallPagesAlloc:
		r = kPagesAlloc(a0, a1)
	case kcallPagesFree:
		r = kPagesFree(a0, a1)
	case kcallMSIAlloc:
		r = kMSIAlloc(a0)
	case kcallEntropyAdd:
		r = kEntropyAdd(a0, a1)
	case kcallLineAlloc:
		r = kLineAlloc(a0, a1, a2, a3, a4)
	case kcallProfile:
		r = kProfile(a0, a1, a2)
	case kcallConsoleWrite:
		if !mm.Access(uintptr(a0), uintptr(a1), false) {
			r = -efault
		} else {
			klog.WriteRaw(bytesAt(a0, a1))
			r = int64(a1)
		}
	case kcallFlushTLB:
		// Also what the process layer calls before it frees a root: no
		// CPU may keep it lazily loaded after this.
		shootdown()
		thisCPU().dropLazyRoot()

	default:
		r = enosysCall(nr, f.RIP)
	}
	if r != keep {
		f.RAX = uint64(r)
	}
}

// enosysCall counts an unimplemented call and reports it the first time.
//
//go:nosplit
func enosysCall(nr uint64, rip uint64) int64 {
	if nr < uint64(len(enosysCount)) {
		enosysCount[nr].Add(1)
		if enosysReported[nr].Swap(true) {
			return -enosys
		}
	}
	b := klog.Begin()
	b.S("dunix: system call ").D(nr)
	if nr < uint64(len(sysNames)) && sysNames[nr] != "" {
		b.S(" (").S(sysNames[nr]).S(")")
	}
	b.S(" is not implemented: ENOSYS (pc ").X(rip).S(")").End()
	return -enosys
}
