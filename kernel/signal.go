package kernel

import (
	"dunix/arch/amd64"
	"dunix/kernel/klog"
	"dunix/kernel/mm"
	"dunix/kernel/spin"
)

// Signals, as Linux delivers them to a thread: an rt_sigframe (return
// address, ucontext with the saved registers and mask, siginfo, and the
// XSAVE image) pushed on the alternate stack when the handler asked for it,
// registers set for the handler, and rt_sigreturn undoing it all. The Go
// runtime uses this for SIGURG (asynchronous preemption) and for faults
// (SIGSEGV and friends, which become panics).

// Signal numbers and si_code values used here.
const (
	sigHUP   = 1
	sigINT   = 2
	sigQUIT  = 3
	sigILL   = 4
	sigTRAP  = 5
	sigABRT  = 6
	sigBUS   = 7
	sigFPE   = 8
	sigKILL  = 9
	sigUSR1  = 10
	sigSEGV  = 11
	sigPIPE  = 13
	sigALRM  = 14
	sigTERM  = 15
	sigCHLD  = 17
	sigCONT  = 18
	sigSTOP  = 19
	sigURG   = 23
	sigPROF  = 27
	sigWINCH = 28
	nsig     = 64

	siUser     = 0
	siKernel   = 0x80
	siTkill    = -6
	segvMapErr = 1
	segvAccErr = 2
	busAdrAln  = 1
	illIllOpn  = 2
	fpeIntDiv  = 1

	saNoDefer   = 0x40000000
	saResetHand = 0x80000000
	saOnStack   = 0x08000000
	saRestorer  = 0x04000000
	saSigInfo   = 0x4

	ssOnStack = 1
	ssDisable = 2

	sigDFL = 0
	sigIGN = 1
)

// sigaction is the kernel's struct sigaction (amd64).
type sigaction struct {
	handler  uint64
	flags    uint64
	restorer uint64
	mask     uint64
}

var (
	sigLock    spin.Lock
	sigactions [nsig + 1]sigaction
	// Pending siginfo fields for the signals a thread has pending: the
	// runtime only looks at si_code and si_addr; one slot per thread for
	// the synchronous fault being delivered is enough.
)

//go:nosplit
func sigbit(sig int) uint64 { return 1 << (sig - 1) }

// unblockable signals.
const cantMask = 1<<(sigKILL-1) | 1<<(sigSTOP-1)

// Frame layout (Linux x86-64 rt_sigframe).
const (
	ucOff        = 8                    // after pretcode
	ucSize       = 8 + 8 + 24 + 256 + 8 // flags, link, stack, mcontext, sigmask
	infoOff      = ucOff + ucSize
	infoSize     = 128
	frameSize    = infoOff + infoSize
	mcOff        = ucOff + 40
	sigmaskOff   = ucOff + 296
	fpstateField = mcOff + 0xB8 // mcontext.fpstate

	ucFPXstate = 1

	fpxMagic1 = 0x46505853
	fpxMagic2 = 0x46505845
)

// sigTarget picks the thread a process-directed signal goes to: the
// current thread if it does not block it, else any thread that does not.
//
//go:nosplit
func sigTarget(sig int) *Thread {
	c := thisCPU()
	if t := &threads[c.current]; !t.idle && t.sigMask&sigbit(sig) == 0 {
		return t
	}
	for i := range threads {
		t := &threads[i]
		s := t.state.Load()
		if !t.idle && (s == tsRunning || s == tsRunnable || s == tsBlocked) && t.sigMask&sigbit(sig) == 0 {
			return t
		}
	}
	return &threads[0]
}

// postSignal marks sig pending on t and makes t notice: a waiting thread
// stops waiting, a thread running elsewhere gets an IPI.
//
//go:nosplit
func postSignal(t *Thread, sig int) {
	sigLock.Lock()
	t.sigPending |= sigbit(sig)
	masked := t.sigMask&sigbit(sig) != 0
	sigLock.Unlock()
	if masked {
		return
	}
	switch t.state.Load() {
	case tsBlocked:
		interruptWait(t)
	case tsRunning:
		if c := thisCPU(); t.cpu != c.ID {
			sendResched(t.cpu)
		}
	}
}

// forceSignal delivers a synchronous signal (a fault) to t now, which must
// be the current thread. It fails when the signal is blocked or has no
// handler: the caller then reports a crash.
//
//go:nosplit
func forceSignal(t *Thread, sig, code int, addr uint64) bool {
	a := &sigactions[sig]
	if t.sigMask&sigbit(sig) != 0 || a.handler == sigDFL || a.handler == sigIGN {
		return false
	}
	return pushFrame(t, sig, code, addr)
}

// deliverSignals runs on the way back to t: the lowest pending, unblocked
// signal gets a frame.
//
//go:nosplit
func deliverSignals(t *Thread) {
	if t.idle || t.task >= 0 || t.sigPending&^t.sigMask == 0 {
		return // (a thread in user mode gets its signals when it is back)
	}
	sigLock.Lock()
	p := t.sigPending &^ t.sigMask
	if p == 0 {
		sigLock.Unlock()
		return
	}
	sig := int(trailingZeros(p)) + 1
	t.sigPending &^= sigbit(sig)
	sigLock.Unlock()
	a := &sigactions[sig]
	switch a.handler {
	case sigIGN:
		return
	case sigDFL:
		defaultAction(t, sig)
		return
	}
	if !pushFrame(t, sig, siTkill, 0) {
		klog.Begin().S("dunix: cannot deliver signal ").D(uint64(sig)).S(" to thread ").D(uint64(tid(t.idx))).S(": bad signal stack").End()
		fatal(&t.Frame, "signal delivery failed")
	}
}

// defaultAction: ignore, or the kernel (the one process) dies of sig.
//
//go:nosplit
func defaultAction(t *Thread, sig int) {
	switch sig {
	case sigCHLD, sigURG, sigWINCH, sigCONT:
		return
	}
	klog.Begin().S("dunix: killed by signal ").D(uint64(sig)).S(" (thread ").D(uint64(tid(t.idx))).S(")").End()
	reportLastFault()
	powerOff(128 + sig)
}

// pushFrame builds the signal frame for sig on t's stack and points t at
// the handler.
//
//go:nosplit
func pushFrame(t *Thread, sig, code int, addr uint64) bool {
	a := &sigactions[sig]
	f := &t.Frame
	sp := f.RSP
	onAlt := t.altFlags&ssDisable == 0 && sp > t.altSP && sp <= t.altSP+t.altSize
	if a.flags&saOnStack != 0 && t.altFlags&ssDisable == 0 && !onAlt {
		sp = t.altSP + t.altSize
	} else {
		sp -= 128 // red zone
	}
	xsize := uint64(xsaveSize)
	sp = (sp - xsize - 4) &^ 63 // the XSAVE image, 64-byte aligned, and magic2
	fp := sp
	sp = ((sp - frameSize) &^ 15) - 8 // as if called: (sp+8) % 16 == 0
	if !mm.Access(uintptr(sp), uintptr(fp+xsize+4-sp), true) {
		return false
	}
	frame := uintptr(sp)
	clear((*[frameSize]byte)(amd64.Ptr(frame))[:])
	st64(frame+0, a.restorer)
	st64(frame+ucOff, ucFPXstate)
	st64(frame+ucOff+16, t.altSP)
	flags := uint64(t.altFlags)
	if onAlt {
		flags |= ssOnStack
	}
	st64(frame+ucOff+24, flags)
	st64(frame+ucOff+32, t.altSize)
	mc := uintptr(mcOff)
	for i, v := range [...]uint64{f.R8, f.R9, f.R10, f.R11, f.R12, f.R13, f.R14, f.R15,
		f.RDI, f.RSI, f.RBP, f.RBX, f.RDX, f.RAX, f.RCX, f.RSP, f.RIP, f.RFLAGS} {
		st64(frame+mc+8*uintptr(i), v)
	}
	st64(frame+mc+0x90, f.CS)            // cs, gs, fs, ss (16 bits each)
	st64(frame+mc+0x98, t.lastFault.err) // err
	st64(frame+mc+0xA0, f.Vector)        // trapno
	st64(frame+mc+0xA8, t.sigMask)       // oldmask
	st64(frame+mc+0xB0, addr)            // cr2
	st64(frame+fpstateField, fp)
	st64(frame+sigmaskOff, t.sigMask)
	st32(frame+infoOff, uint32(sig))
	st32(frame+infoOff+8, uint32(int32(code)))
	if code == siTkill || code == siUser {
		st32(frame+infoOff+16, pid)
	} else {
		st64(frame+infoOff+16, addr)
	}
	// The interrupted extended state, with Linux's software-reserved
	// bytes saying how big it is.
	src := (*[4096]byte)(amd64.Ptr(t.xsave))
	dst := (*[4096]byte)(amd64.Ptr(uintptr(fp)))
	copy(dst[:xsize], src[:xsize])
	sw := uintptr(fp) + 464
	st32(sw, fpxMagic1)
	st32(sw+4, uint32(xsize+4))
	st64(sw+8, xsaveMask)
	st32(sw+16, uint32(xsize))
	st32(uintptr(fp+xsize), fpxMagic2)
	initXsave(t.xsave) // the handler starts with a clean FPU

	sigLock.Lock()
	t.sigMask |= a.mask
	if a.flags&saNoDefer == 0 {
		t.sigMask |= sigbit(sig)
	}
	t.sigMask &^= cantMask
	if a.flags&saResetHand != 0 {
		a.handler = sigDFL
	}
	sigLock.Unlock()

	f.RSP = sp
	f.RIP = a.handler
	f.RDI = uint64(sig)
	f.RSI = sp + infoOff
	f.RDX = sp + ucOff
	f.RAX = 0
	f.RFLAGS &^= amd64.FlagTF | amd64.FlagDF
	return true
}

// sigreturn restores the state saved by pushFrame; the ucontext is at the
// stack pointer (the handler's RET popped the return address).
//
//go:nosplit
func sigreturn(t *Thread) bool {
	f := &t.Frame
	uc := f.RSP
	if !mm.Access(uintptr(uc), ucSize, false) {
		return false
	}
	u := uintptr(uc)
	mc := uintptr(mcOff - ucOff)
	var r [18]uint64
	for i := range r {
		r[i] = ld64(u + mc + 8*uintptr(i))
	}
	fp := ld64(u + mc + 0xB8)
	mask := ld64(u + sigmaskOff - ucOff)
	if fp != 0 {
		if fp&63 != 0 || !mm.Access(uintptr(fp), uintptr(xsaveSize+4), false) || !validXsave(uintptr(fp)) {
			return false
		}
		copy((*[4096]byte)(amd64.Ptr(t.xsave))[:xsaveSize], (*[4096]byte)(amd64.Ptr(uintptr(fp)))[:xsaveSize])
	} else {
		initXsave(t.xsave)
	}
	f.R8, f.R9, f.R10, f.R11, f.R12, f.R13, f.R14, f.R15 = r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
	f.RDI, f.RSI, f.RBP, f.RBX, f.RDX, f.RAX, f.RCX, f.RSP = r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]
	f.RIP = r[16]
	// Only the arithmetic flags, TF, DF, AC may change; IF stays on.
	const user = 0xCD5 | amd64.FlagTF | amd64.FlagDF | amd64.FlagAC
	f.RFLAGS = f.RFLAGS&^user | r[17]&user | amd64.FlagIF
	sigLock.Lock()
	t.sigMask = mask &^ cantMask
	sigLock.Unlock()
	return true
}

//go:nosplit
func st64(a uintptr, v uint64) { *(*uint64)(amd64.Ptr(a)) = v }

//go:nosplit
func st32(a uintptr, v uint32) { *(*uint32)(amd64.Ptr(a)) = v }

//go:nosplit
func ld64(a uintptr) uint64 { return *(*uint64)(amd64.Ptr(a)) }

//go:nosplit
func ld32(a uintptr) uint32 { return *(*uint32)(amd64.Ptr(a)) }
