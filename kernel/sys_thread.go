package kernel

import (
	"golang.org/x/sys/unix"

	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/kernel/mm"
	"dunix/kernel/spin"
)

// Threads: clone (the runtime's newosproc), exit, futex, thread IDs,
// signals between threads, the FS base.

// The clone flags the runtime uses for a new M.
const cloneThread = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_SYSVSEM | unix.CLONE_THREAD

//go:nosplit
func sysClone(parent *Thread, flags, stack, ptid, ctid, tls uint64) int64 {
	if flags&cloneThread != cloneThread {
		// Only threads: the kernel is one address space; processes come
		// with the user-program layer.
		return enosysCall(unix.SYS_CLONE, parent.Frame.RIP)
	}
	if flags&^(cloneThread|unix.CLONE_SETTLS|unix.CLONE_PARENT_SETTID|unix.CLONE_CHILD_CLEARTID|unix.CLONE_CHILD_SETTID) != 0 {
		return -einval
	}
	i := newThread()
	if i < 0 {
		return -eagain
	}
	t := &threads[i]
	t.Frame = parent.Frame
	t.Frame.RAX = 0
	if stack != 0 {
		t.Frame.RSP = stack
	}
	t.fsBase = parent.fsBase
	if flags&unix.CLONE_SETTLS != 0 {
		t.fsBase = tls
	}
	copy((*[4096]byte)(amd64.Ptr(t.xsave))[:xsaveSize], (*[4096]byte)(amd64.Ptr(parent.xsave))[:xsaveSize])
	t.sigMask = parent.sigMask
	if flags&unix.CLONE_PARENT_SETTID != 0 && mm.Access(uintptr(ptid), 4, true) {
		st32(uintptr(ptid), uint32(tid(i)))
	}
	nthreadsInc()
	makeRunnable(t)
	return int64(tid(i))
}

var nthreadsLock spin.Lock

//go:nosplit
func nthreadsInc() {
	nthreadsLock.Lock()
	nthreads++
	nthreadsLock.Unlock()
}

// sysExit ends the calling thread. The runtime has already told whoever
// frees its stack (exitThread), so the stack is not touched again.
//
//go:nosplit
func sysExit(c *CPU, t *Thread) int64 {
	nthreadsLock.Lock()
	nthreads--
	last := nthreads == 0
	nthreadsLock.Unlock()
	if last {
		powerOff(0)
	}
	t.state.Store(tsDead)
	c.needResched = true
	return keep
}

//go:nosplit
func sysExitGroup(status uint64) int64 {
	reportCrashIfAny(int(status & 0xFF))
	powerOff(int(status & 0xFF))
	return keep
}

// Futexes: a hash of wait queues keyed by address.

const futexBuckets = 256

type futexBucket struct {
	lock spin.Lock
	head int32
}

var futexes [futexBuckets]futexBucket

//go:nosplit
func initFutex() {
	for i := range futexes {
		futexes[i].head = -1
	}
}

//go:nosplit
func futexBucketOf(addr uintptr) *futexBucket {
	return &futexes[(addr>>2)*0x9E3779B1>>24%futexBuckets]
}

//go:nosplit
func sysFutex(t *Thread, addr, op, val, timeout, val3 uint64) int64 {
	cmd := op &^ (futexPrivate | futexClockRealtime)
	if addr&3 != 0 {
		return -einval
	}
	switch cmd {
	case futexWait_, futexWaitBitset:
		if cmd == futexWaitBitset && uint32(val3) == 0 {
			return -einval
		}
		var deadline uint64
		if timeout != 0 {
			sec, nsec, ok := readTimespec(timeout)
			if !ok {
				return -efault
			}
			if nsec < 0 || nsec >= 1e9 || sec < 0 {
				return -einval
			}
			ns := uint64(sec)*1_000_000_000 + uint64(nsec)
			if cmd == futexWait_ {
				deadline = now() + ns
			} else if op&futexClockRealtime != 0 {
				deadline = uint64(int64(ns) - wallBoot)
			} else {
				deadline = ns
			}
			if deadline == 0 {
				deadline = 1
			}
		}
		return futexWait(t, uintptr(addr), uint32(val), deadline)
	case futexWake_, futexWakeBitset:
		return futexWake(uintptr(addr), int(int32(val)))
	}
	return enosysCall(unix.SYS_FUTEX, t.Frame.RIP)
}

//go:nosplit
func futexWait(t *Thread, addr uintptr, val uint32, deadline uint64) int64 {
	if !mm.Access(addr, 4, false) {
		return -efault
	}
	b := futexBucketOf(addr)
	b.lock.Lock()
	if ld32(addr) != val {
		b.lock.Unlock()
		return -eagain
	}
	if deadline != 0 && deadline <= now() {
		b.lock.Unlock()
		return -etimedout
	}
	t.waitNext = b.head
	b.head = t.idx
	block(t, waitFutex, addr, deadline)
	b.lock.Unlock()
	return keep
}

//go:nosplit
func futexWake(addr uintptr, n int) int64 {
	if n <= 0 {
		return 0
	}
	b := futexBucketOf(addr)
	b.lock.Lock()
	woken := 0
	for p := &b.head; *p >= 0 && woken < n; {
		t := &threads[*p]
		if t.waitKey != addr || !claim(t) {
			p = &t.waitNext
			continue
		}
		*p = t.waitNext
		t.waitNext = -1
		finishWait(t, 0)
		woken++
	}
	b.lock.Unlock()
	return int64(woken)
}

// futexUnlink takes t off its futex queue (timeout or signal).
//
//go:nosplit
func futexUnlink(t *Thread) {
	b := futexBucketOf(t.waitKey)
	b.lock.Lock()
	unlink(&b.head, t)
	b.lock.Unlock()
}

//go:nosplit
func readTimespec(p uint64) (sec, nsec int64, ok bool) {
	if !mm.Access(uintptr(p), 16, false) {
		return 0, 0, false
	}
	return int64(ld64(uintptr(p))), int64(ld64(uintptr(p) + 8)), true
}

//go:nosplit
func sysSchedGetaffinity(size, mask uint64) int64 {
	n := uint64(ncpu+63) / 64 * 8
	if size < n || size&7 != 0 {
		return -einval
	}
	if !mm.Access(uintptr(mask), uintptr(n), true) {
		return -efault
	}
	for i := uint64(0); i < n; i += 8 {
		st64(uintptr(mask+i), 0)
	}
	for i := int32(0); i < ncpu; i++ {
		p := uintptr(mask) + uintptr(i/64)*8
		st64(p, ld64(p)|1<<(i%64))
	}
	return int64(n)
}

//go:nosplit
func sysTgkill(tgid, tidArg, sig uint64) int64 {
	if tgid != pid {
		return -esrch
	}
	i := index(int64(tidArg))
	if sig > nsig {
		return -einval
	}
	if i < 0 {
		return -esrch
	}
	t := &threads[i]
	if s := t.state.Load(); t.idle || s == tsFree || s == tsDead {
		return -esrch
	}
	if sig != 0 {
		postSignal(t, int(sig))
	}
	return 0
}

//go:nosplit
func sysKill(p, sig uint64) int64 {
	if int64(p) != pid && int64(p) != 0 && int64(p) != -1 {
		return -esrch
	}
	if sig > nsig {
		return -einval
	}
	if sig != 0 {
		postSignal(sigTarget(int(sig)), int(sig))
	}
	return 0
}

// sendResched makes CPU i enter the kernel soon (to notice a signal).
//
//go:nosplit
func sendResched(i int32) {
	lapic.SendIPI(cpus[i].APICID, vecResched)
}

//go:nosplit
func sysArchPrctl(c *CPU, t *Thread, code, addr uint64) int64 {
	switch code {
	case archSetFS:
		if addr >= 1<<47 && addr < mm.DirectMap {
			return -eperm // not canonical
		}
		t.fsBase = addr
		amd64.SetFSBase(addr)
		c.fsBase, c.KernelFS = addr, addr
		return 0
	case archGetFS:
		if !mm.Access(uintptr(addr), 8, true) {
			return -efault
		}
		st64(uintptr(addr), t.fsBase)
		return 0
	}
	return -einval
}

// Futex operations (linux/futex.h).
const (
	futexWait_         = 0
	futexWake_         = 1
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivate       = 128
	futexClockRealtime = 256
)

// arch_prctl codes.
const (
	archSetFS = 0x1002
	archGetFS = 0x1003
)
