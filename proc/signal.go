package proc

import (
	"encoding/binary"
	"sync"
	"syscall"

	"dunix/arch/amd64"
	"dunix/kernel"
)

// Signals, with Linux's semantics: per-thread masks and pending sets, a
// process-wide pending set, actions shared by the threads of a process,
// default actions (terminate, ignore, stop, continue), and delivery by an
// rt_sigframe on the user stack (or the alternate stack) that
// rt_sigreturn undoes.

const nsig = 64

// Signal numbers.
const (
	SIGHUP    = 1
	SIGINT    = 2
	SIGQUIT   = 3
	SIGILL    = 4
	SIGTRAP   = 5
	SIGABRT   = 6
	SIGBUS    = 7
	SIGFPE    = 8
	SIGKILL   = 9
	SIGUSR1   = 10
	SIGSEGV   = 11
	SIGUSR2   = 12
	SIGPIPE   = 13
	SIGALRM   = 14
	SIGTERM   = 15
	SIGSTKFLT = 16
	SIGCHLD   = 17
	SIGCONT   = 18
	SIGSTOP   = 19
	SIGTSTP   = 20
	SIGTTIN   = 21
	SIGTTOU   = 22
	SIGURG    = 23
	SIGXCPU   = 24
	SIGXFSZ   = 25
	SIGVTALRM = 26
	SIGPROF   = 27
	SIGWINCH  = 28
	SIGIO     = 29
	SIGPWR    = 30
	SIGSYS    = 31
)

// sigSet is a set of signals: bit n-1 for signal n.
type sigSet uint64

func bit(sig int) sigSet             { return 1 << (sig - 1) }
func (s sigSet) has(sig int) bool    { return s&bit(sig) != 0 }
func (s sigSet) lowest() int         { return lowestBit(uint64(s)) + 1 }
func validSig(sig int) bool          { return sig >= 1 && sig <= nsig }
func (s sigSet) unblockable() sigSet { return s &^ (bit(SIGKILL) | bit(SIGSTOP)) }

func lowestBit(v uint64) int {
	for i := 0; i < 64; i++ {
		if v&(1<<i) != 0 {
			return i
		}
	}
	return -1
}

// Actions (struct sigaction as the kernel sees it on x86-64).
type sigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     sigSet
}

const (
	sigDFL = 0
	sigIGN = 1

	saNoCldStop = 0x1
	saNoCldWait = 0x2
	saSigInfo   = 0x4
	saOnStack   = 0x08000000
	saRestart   = 0x10000000
	saNoDefer   = 0x40000000
	saResetHand = 0x80000000
	saRestorer  = 0x04000000
)

// sigHand is the action table, shared by the threads of a process.
type sigHand struct {
	mu      sync.Mutex
	actions [nsig + 1]sigAction
}

func (h *sigHand) clone() *sigHand {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &sigHand{actions: h.actions}
}

// resetForExec: caught signals return to their default action; ignored
// ones stay ignored.
func (h *sigHand) resetForExec() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.actions {
		if h.actions[i].Handler != sigIGN {
			h.actions[i] = sigAction{}
		}
	}
}

func (h *sigHand) get(sig int) sigAction {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.actions[sig]
}

// Default actions.
const (
	actTerm = iota
	actIgnore
	actCore // terminate (the dump itself is not written)
	actStop
	actCont
)

func defaultAction(sig int) int {
	switch sig {
	case SIGCHLD, SIGURG, SIGWINCH:
		return actIgnore
	case SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS:
		return actCore
	case SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU:
		return actStop
	case SIGCONT:
		return actCont
	}
	return actTerm
}

// sigInfo is what a handler learns through siginfo_t.
type sigInfo struct {
	Signo, Errno, Code int32
	PID                int32
	UID                uint32
	Addr               uint64 // SIGSEGV, SIGBUS, SIGILL, SIGFPE
	Status             int32  // SIGCHLD
	Value              uint64 // si_value (sigqueue, timers)
}

// siginfo codes.
const (
	siUser     = 0
	siKernel   = 0x80
	siTkill    = -6
	segvMapErr = 1
	segvAccErr = 2
	busAdrErr  = 2
	cldExited  = 1
	cldKilled  = 2
	cldDumped  = 3
)

func (i *sigInfo) bytes() [128]byte {
	var b [128]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(i.Signo))
	le.PutUint32(b[4:], uint32(i.Errno))
	le.PutUint32(b[8:], uint32(i.Code))
	switch {
	case i.Signo == SIGSEGV || i.Signo == SIGBUS || i.Signo == SIGILL || i.Signo == SIGFPE:
		le.PutUint64(b[16:], i.Addr)
	default:
		le.PutUint32(b[16:], uint32(i.PID))
		le.PutUint32(b[20:], i.UID)
		if i.Signo == SIGCHLD {
			le.PutUint32(b[24:], uint32(i.Status))
		} else {
			le.PutUint64(b[24:], i.Value)
		}
	}
	return b
}

// Sending signals.

// signal makes sig pending on t and wakes t up; false when the signal is
// real-time and the queue is full (EAGAIN).
func (t *Thread) signal(sig int, info sigInfo) bool {
	if info.Signo == 0 {
		info.Signo = int32(sig)
	}
	t.mu.Lock()
	queued := t.queue.add(&t.pending, sig, info)
	masked := t.sigMask.has(sig)
	t.mu.Unlock()
	if !queued {
		return false
	}
	if !masked || sig == SIGKILL {
		t.kick()
	}
	return true
}

// kick ends whatever t waits for and brings it back from user mode.
func (t *Thread) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
	t.task.Interrupt()
}

// signal sends sig to the process: to a thread that does not block it.
func (p *Process) signal(sig int, info sigInfo) bool {
	if sig == 0 {
		return true
	}
	if info.Signo == 0 {
		info.Signo = int32(sig)
	}
	p.mu.Lock()
	wasStopped := false
	switch {
	case sig == SIGCONT || sig == SIGKILL:
		// A continue discards pending stops, and ends a stop.
		p.queue.drop(&p.pending, stopSigs)
		wasStopped = p.continued(sig)
	case stopSigs.has(sig):
		p.queue.drop(&p.pending, bit(SIGCONT))
	}
	threads := append([]*Thread(nil), p.threads...)
	act := p.sig.get(sig)
	p.mu.Unlock()
	if sig == SIGCONT || stopSigs.has(sig) {
		drop := stopSigs
		if sig != SIGCONT {
			drop = bit(SIGCONT)
		}
		for _, t := range threads {
			t.mu.Lock()
			t.queue.drop(&t.pending, drop)
			t.mu.Unlock()
		}
	}
	if wasStopped && sig == SIGCONT {
		p.tellParent(cldContinued, SIGCONT)
	}
	// A signal ignored (explicitly or by default) is dropped at once,
	// unless a thread blocks it: its disposition may change by the time it
	// is unblocked, or sigwait may take it (as Linux's sig_ignored).
	if sig != SIGKILL && sig != SIGSTOP && (act.Handler == sigIGN || act.Handler == sigDFL && defaultAction(sig) == actIgnore) && !anyBlocks(threads, sig) {
		return true
	}
	var target *Thread
	for _, t := range threads {
		t.mu.Lock()
		blocked := t.sigMask.has(sig)
		t.mu.Unlock()
		if !blocked && !t.dead {
			target = t
			break
		}
	}
	if target == nil || sig == SIGKILL {
		p.mu.Lock()
		queued := p.queue.add(&p.pending, sig, info)
		p.mu.Unlock()
		if !queued {
			return false
		}
		if sig == SIGKILL {
			for _, t := range threads {
				t.kick()
			}
			return true
		}
		if target == nil {
			// Delivered when some thread unblocks it, or taken now by
			// a thread waiting for it in sigtimedwait.
			for _, t := range threads {
				t.mu.Lock()
				waits := t.sigWaiting.has(sig)
				t.mu.Unlock()
				if waits {
					t.kick()
					break
				}
			}
			return true
		}
	}
	return target.signal(sig, info)
}

// anyBlocks reports whether one of threads blocks sig.
func anyBlocks(threads []*Thread, sig int) bool {
	for _, t := range threads {
		t.mu.Lock()
		b := t.sigMask.has(sig)
		t.mu.Unlock()
		if b {
			return true
		}
	}
	return false
}

// Delivery.

// sigQueue holds the siginfo of pending signals: one for a standard
// signal (later ones coalesce into it), a FIFO for a real-time one.
type sigQueue [nsig + 1][]sigInfo

// sigRTMin is the first real-time signal; maxQueued bounds the real-time
// signals queued on one thread or process (RLIMIT_SIGPENDING's role).
const (
	sigRTMin  = 32
	maxQueued = 1024
)

// add queues sig with info and marks it in set; false when a real-time
// signal finds the queue full.
func (q *sigQueue) add(set *sigSet, sig int, info sigInfo) bool {
	if sig < sigRTMin {
		if !set.has(sig) {
			q[sig] = append(q[sig][:0], info)
		}
		*set |= bit(sig)
		return true
	}
	n := 0
	for s := sigRTMin; s <= nsig; s++ {
		n += len(q[s])
	}
	if n >= maxQueued {
		return false
	}
	q[sig] = append(q[sig], info)
	*set |= bit(sig)
	return true
}

// take dequeues the oldest instance of pending sig, clearing it from set
// when none is left.
func (q *sigQueue) take(set *sigSet, sig int) sigInfo {
	var info sigInfo
	if len(q[sig]) > 0 {
		info = q[sig][0]
		q[sig] = q[sig][1:]
	}
	if len(q[sig]) == 0 {
		q[sig] = nil
		*set &^= bit(sig)
	}
	if info.Signo == 0 {
		info = sigInfo{Signo: int32(sig), Code: siUser}
	}
	return info
}

// drop discards the pending signals of mask.
func (q *sigQueue) drop(set *sigSet, mask sigSet) {
	for s := 1; s <= nsig; s++ {
		if mask.has(s) {
			q[s] = nil
		}
	}
	*set &^= mask
}

// pendingSignal takes the next deliverable signal of t, or 0.
func (t *Thread) pendingSignal() (int, sigInfo) {
	p := t.p
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.pending &^ t.sigMask; s != 0 {
		sig := s.lowest()
		return sig, t.queue.take(&t.pending, sig)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.pending &^ t.sigMask; s != 0 {
		sig := s.lowest()
		return sig, p.queue.take(&p.pending, sig)
	}
	return 0, sigInfo{}
}

// deliverSignals acts on t's pending signals before it returns to user
// mode: a handler gets a frame, a default action is taken. It reports
// false when the process is going away.
func (t *Thread) deliverSignals() bool {
	for {
		if t.p.exiting.Load() {
			return false
		}
		if ch := t.p.stoppedWait(); ch != nil {
			// Stopped: park until SIGCONT or SIGKILL (other signals wake
			// the wait and stay pending).
			start := t.onWait()
			select {
			case <-ch:
			case <-t.wake:
			}
			t.offCPU(start)
			continue
		}
		sig, info := t.pendingSignal()
		if sig == 0 {
			// Interrupted by a signal that needed no handler: the call runs
			// again.
			t.cancelRestart(true)
			if t.savedMask != nil { // sigsuspend returned without a handler
				t.mu.Lock()
				t.sigMask = *t.savedMask
				t.savedMask = nil
				t.mu.Unlock()
			}
			return true
		}
		act := t.p.sig.get(sig)
		switch {
		case sig == SIGKILL:
			t.p.exitGroup(int32(sig), false)
			return false
		case act.Handler == sigIGN:
			t.cancelRestart(false)
			continue
		case act.Handler == sigDFL:
			switch defaultAction(sig) {
			case actIgnore, actCont:
				t.cancelRestart(false)
				continue
			case actStop:
				// The interrupted call runs again after the continue.
				t.cancelRestart(true)
				t.p.stop(sig)
				continue
			case actCore:
				t.p.exitGroup(int32(sig)|0x80, false)
				return false
			default:
				t.p.exitGroup(int32(sig), false)
				return false
			}
		}
		t.handlerRan = true
		t.cancelRestart(act.Flags&saRestart != 0)
		t.handlerRan = false
		if err := t.pushFrame(sig, &act, &info); err != nil {
			// No room for the frame: SIGSEGV, as Linux does.
			t.p.exitGroup(SIGSEGV, false)
			return false
		}
	}
}

// Restart of interrupted system calls: a handler with SA_RESTART (or no
// handler at all) lets the call run again; otherwise it fails with EINTR.
// errRestartNoHand (poll, select, epoll_wait, sigsuspend-like waits)
// runs again only when no handler ran: a handler always makes it EINTR.
const (
	errRestart       = syscall.Errno(512) // ERESTARTSYS
	errRestartNoHand = syscall.Errno(514) // ERESTARTNOHAND
)

func (t *Thread) cancelRestart(restart bool) {
	r := t.task.Regs()
	kind := -int64(r.RAX)
	if kind != int64(errRestart) && kind != int64(errRestartNoHand) || t.restartNr < 0 {
		return
	}
	if kind == int64(errRestartNoHand) && t.handlerRan {
		restart = false
	}
	if restart {
		r.RAX = uint64(t.restartNr)
		r.RIP -= 2
	} else {
		r.RAX = neg(syscall.EINTR)
	}
	t.restartNr = -1
}

// The x86-64 rt_sigframe (see kernel/signal.go for the same layout used
// by the kernel itself).
const (
	ucOff      = 8
	ucSize     = 8 + 8 + 24 + 256 + 8
	infoOff    = ucOff + ucSize
	frameSize  = infoOff + 128
	mcOff      = ucOff + 40
	sigmaskOff = ucOff + 296
	fpstateOff = mcOff + 0xB8

	ucFPXstate = 1
	ssOnStack  = 1
	ssDisable  = 2
	fpxMagic1  = 0x46505853
	fpxMagic2  = 0x46505845
)

// pushFrame builds the signal frame and points the thread at the handler.
func (t *Thread) pushFrame(sig int, act *sigAction, info *sigInfo) error {
	r := t.task.Regs()
	mm := t.p.mm
	sp := r.RSP
	onAlt := t.altFlags&ssDisable == 0 && sp > t.altSP && sp <= t.altSP+t.altSize
	if act.Flags&saOnStack != 0 && t.altFlags&ssDisable == 0 && t.altSize != 0 && !onAlt {
		sp = t.altSP + t.altSize
	} else {
		sp -= 128 // red zone
	}
	fpu := t.task.FPU()
	xsize := uint64(len(fpu))
	sp = (sp - xsize - 4) &^ uint64(63)
	fp := sp
	sp = ((sp - frameSize) &^ 15) - 8

	img := make([]byte, xsize+4)
	copy(img, fpu)
	le := binary.LittleEndian
	le.PutUint32(img[464:], fpxMagic1)
	le.PutUint32(img[468:], uint32(xsize+4))
	le.PutUint64(img[472:], kernel.FPUFeatures())
	le.PutUint32(img[480:], uint32(xsize))
	le.PutUint32(img[xsize:], fpxMagic2)

	f := make([]byte, frameSize)
	le.PutUint64(f[0:], act.Restorer)
	le.PutUint64(f[ucOff:], ucFPXstate)
	le.PutUint64(f[ucOff+16:], t.altSP)
	flags := uint64(t.altFlags)
	if onAlt {
		flags |= ssOnStack
	}
	le.PutUint64(f[ucOff+24:], flags)
	le.PutUint64(f[ucOff+32:], t.altSize)
	for i, v := range [...]uint64{r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15,
		r.RDI, r.RSI, r.RBP, r.RBX, r.RDX, r.RAX, r.RCX, r.RSP, r.RIP, r.RFLAGS} {
		le.PutUint64(f[mcOff+8*i:], v)
	}
	le.PutUint64(f[mcOff+0x90:], 0x33|0x2b<<48) // cs, gs, fs, ss as Linux reports them
	le.PutUint64(f[mcOff+0xA0:], t.trapno)
	t.mu.Lock()
	mask := t.sigMask
	if t.savedMask != nil {
		mask = *t.savedMask // sigsuspend: the handler returns to the old mask
		t.savedMask = nil
	}
	t.mu.Unlock()
	le.PutUint64(f[mcOff+0xA8:], uint64(mask))
	le.PutUint64(f[mcOff+0xB0:], info.Addr)
	le.PutUint64(f[fpstateOff:], fp)
	le.PutUint64(f[sigmaskOff:], uint64(mask))
	ib := info.bytes()
	copy(f[infoOff:], ib[:])

	if err := mm.CopyOut(fp, img); err != nil {
		return err
	}
	if err := mm.CopyOut(sp, f); err != nil {
		return err
	}
	t.task.ResetFPU()

	t.mu.Lock()
	t.sigMask = mask | act.Mask
	if act.Flags&saNoDefer == 0 {
		t.sigMask |= bit(sig)
	}
	t.sigMask = t.sigMask.unblockable()
	t.mu.Unlock()
	if act.Flags&saResetHand != 0 {
		t.p.sig.mu.Lock()
		t.p.sig.actions[sig] = sigAction{}
		t.p.sig.mu.Unlock()
	}
	r.RSP = sp
	r.RIP = act.Handler
	r.RDI = uint64(sig)
	r.RSI = sp + infoOff
	r.RDX = sp + ucOff
	r.RAX = 0
	r.RFLAGS &^= amd64.FlagTF | amd64.FlagDF
	return nil
}

// sigreturn restores the state pushFrame saved; the ucontext is at RSP.
func (t *Thread) sigreturn() error {
	r := t.task.Regs()
	uc := r.RSP
	b := make([]byte, ucSize)
	if err := t.p.mm.CopyIn(uc, b); err != nil {
		return err
	}
	le := binary.LittleEndian
	mc := mcOff - ucOff
	var g [18]uint64
	for i := range g {
		g[i] = le.Uint64(b[mc+8*i:])
	}
	fp := le.Uint64(b[mc+0xB8:])
	mask := sigSet(le.Uint64(b[sigmaskOff-ucOff:]))
	if fp != 0 {
		img := make([]byte, kernel.FPUSize())
		if err := t.p.mm.CopyIn(fp, img); err != nil || !kernel.ValidFPU(img) {
			return syscall.EFAULT
		}
		copy(t.task.FPU(), img)
	} else {
		t.task.ResetFPU()
	}
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
	r.RDI, r.RSI, r.RBP, r.RBX, r.RDX, r.RAX, r.RCX, r.RSP = g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
	r.RIP = g[16]
	const user = 0xCD5 | amd64.FlagTF | amd64.FlagDF | amd64.FlagAC
	r.RFLAGS = r.RFLAGS&^user | g[17]&user
	t.mu.Lock()
	t.sigMask = mask.unblockable()
	t.mu.Unlock()
	return nil
}
