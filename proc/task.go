package proc

import (
	"fmt"
	"os"
	"syscall"

	"dunix/kernel"
	"dunix/proc/vm"
)

// taskContext is a user thread's hardware context (kernel.UserTask).
type taskContext = *kernel.UserTask

// run is the task goroutine of t: it runs t in user mode and handles what
// comes back, until the thread exits.
func (t *Thread) run() {
	defer t.exit()
	last := kernel.Nanotime()
	for {
		if !t.deliverSignals() {
			return
		}
		if t.dead {
			return
		}
		// Everything since the last return from user mode, but the
		// blocked time, was system time.
		start := kernel.Nanotime()
		t.acct.stime.Add(max(0, start-last-t.acct.blockNs))
		t.acct.blockNs = 0
		ev := t.task.Run()
		last = kernel.Nanotime()
		t.acct.utime.Add(last - start)
		switch ev {
		case kernel.EventSyscall:
			t.syscall()
		case kernel.EventFault:
			t.fault()
		case kernel.EventInterrupted:
			// A signal, or the process is exiting: the loop looks.
			t.acct.nivcsw.Add(1)
		case kernel.EventBadState:
			t.forceSignal(SIGSEGV, sigInfo{Code: siKernel})
		default:
			t.forceSignal(SIGSEGV, sigInfo{Code: siKernel})
		}
	}
}

// CPU exception vectors.
const (
	vecDivide     = 0
	vecDebug      = 1
	vecBreakpoint = 3
	vecOverflow   = 4
	vecBound      = 5
	vecInvalidOp  = 6
	vecGP         = 13
	vecStack      = 12
	vecPageFault  = 14
	vecFPU        = 16
	vecAlignment  = 17
	vecSIMD       = 19
)

// Page-fault error-code bits.
const (
	pfPresent = 1 << 0
	pfWrite   = 1 << 1
	pfFetch   = 1 << 4
)

// fault handles a CPU exception taken in user mode: demand paging and
// copy-on-write, or the signal Linux sends.
func (t *Thread) fault() {
	k := t.task.Task()
	t.trapno = k.Vector
	switch k.Vector {
	case vecPageFault:
		err := t.p.mm.Fault(k.Addr, k.Error&pfWrite != 0, k.Error&pfFetch != 0)
		switch err {
		case nil:
			t.acct.minflt.Add(1)
			return
		case vm.ErrAccErr:
			t.forceSignal(SIGSEGV, sigInfo{Code: segvAccErr, Addr: k.Addr})
		case vm.ErrBus:
			t.forceSignal(SIGBUS, sigInfo{Code: busAdrErr, Addr: k.Addr})
		case syscall.ENOMEM:
			t.p.outOfMemory()
		default:
			t.forceSignal(SIGSEGV, sigInfo{Code: segvMapErr, Addr: k.Addr})
		}
	case vecDivide:
		t.forceSignal(SIGFPE, sigInfo{Code: 1, Addr: k.Addr})
	case vecFPU, vecSIMD:
		t.forceSignal(SIGFPE, sigInfo{Code: 0, Addr: k.Addr})
	case vecInvalidOp:
		t.forceSignal(SIGILL, sigInfo{Code: 2, Addr: k.Addr})
	case vecDebug, vecBreakpoint:
		t.forceSignal(SIGTRAP, sigInfo{Code: siKernel})
	case vecAlignment:
		t.forceSignal(SIGBUS, sigInfo{Code: 1, Addr: k.Addr})
	default:
		t.forceSignal(SIGSEGV, sigInfo{Code: siKernel})
	}
}

// forceSignal delivers a synchronous signal: if the thread blocks or
// ignores it, the default action (death) happens instead, as on Linux.
func (t *Thread) forceSignal(sig int, info sigInfo) {
	info.Signo = int32(sig)
	act := t.p.sig.get(sig)
	t.mu.Lock()
	blocked := t.sigMask.has(sig)
	t.mu.Unlock()
	if blocked || act.Handler == sigIGN {
		t.p.sig.mu.Lock()
		t.p.sig.actions[sig] = sigAction{}
		t.p.sig.mu.Unlock()
		t.mu.Lock()
		t.sigMask &^= bit(sig)
		t.mu.Unlock()
	}
	t.signal(sig, info)
}

// outOfMemory: the node has no page for this process. It is killed, and
// says so, the kernel goes on.
func (p *Process) outOfMemory() {
	fmt.Fprintf(os.Stdout, "dunix: out of memory: killing process %d (%s)\n", p.PID, p.exe)
	p.exitGroup(SIGKILL, false)
}

// exit ends the thread (its task goroutine returns).
func (t *Thread) exit() {
	p := t.p
	t.mu.Lock()
	t.dead = true
	t.mu.Unlock()
	if t.clearTID != 0 {
		// CLONE_CHILD_CLEARTID: zero the TID word and wake its futex.
		if p.mm.CopyOut(t.clearTID, make([]byte, 4)) == nil {
			p.node.futexWake(p, t.clearTID, 1, ^uint32(0))
		}
	}
	p.node.mu.Lock()
	delete(p.node.threads, t.TID)
	p.node.mu.Unlock()
	p.mu.Lock()
	for i, o := range p.threads {
		if o == t {
			p.threads = append(p.threads[:i], p.threads[i+1:]...)
			break
		}
	}
	last := len(p.threads) == 0
	p.mu.Unlock()
	p.threadDone(t)
	t.task.Free()
	if t.gone != nil {
		close(t.gone)
	}
	if last {
		p.exitGroup(t.exitCode<<8, true)
		p.finish()
	}
}
