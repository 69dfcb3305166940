package proc

// Job control: stopping and continuing a process (SIGSTOP, SIGTSTP,
// SIGTTIN, SIGTTOU; SIGCONT), and reporting it to the parent (SIGCHLD with
// CLD_STOPPED or CLD_CONTINUED, wait with WUNTRACED or WCONTINUED).
//
// A stop is a group stop: the thread that takes the stop signal marks the
// process stopped and kicks the others; every thread then parks in
// deliverSignals, before returning to user mode, until SIGCONT or SIGKILL
// closes p.cont. Signals sent meanwhile stay pending and are delivered
// after the continue; an interrupted system call restarts.

const (
	cldStopped   = 5
	cldContinued = 6
)

// stopSigs are the signals whose default action stops the process.
var stopSigs = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU)

// stop puts the process in a group stop for sig and tells the parent.
func (p *Process) stop(sig int) {
	p.mu.Lock()
	if p.stopped || p.zombie || p.exiting.Load() {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.stoppedHint.Store(true)
	p.stopSig = sig
	p.stopReport, p.contReport = true, false
	if p.cont == nil {
		p.cont = make(chan struct{})
	}
	threads := append([]*Thread(nil), p.threads...)
	p.mu.Unlock()
	for _, t := range threads {
		t.kick()
	}
	p.tellParent(cldStopped, int32(sig))
}

// continued ends a group stop (SIGCONT, SIGKILL) and reports whether the
// process was stopped (p.mu held).
func (p *Process) continued(sig int) bool {
	if !p.stopped {
		return false
	}
	p.stopped = false
	p.stoppedHint.Store(false)
	if p.cont != nil {
		close(p.cont)
		p.cont = nil
	}
	if sig == SIGCONT {
		p.stopReport, p.contReport = false, true
	}
	return true
}

// stoppedWait returns the channel a thread of a stopped process waits on,
// or nil when the process runs.
func (p *Process) stoppedWait() <-chan struct{} {
	if !p.stoppedHint.Load() {
		return nil // every return to user mode asks: no lock then
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		return nil
	}
	return p.cont
}

// tellParent sends the parent SIGCHLD for a stop or continue (unless its
// handler has SA_NOCLDSTOP) and wakes its waits.
func (p *Process) tellParent(code, status int32) {
	p.mu.Lock()
	ppid := p.ppid
	p.mu.Unlock()
	parent := p.node.Process(ppid)
	if parent == nil || parent == p {
		return
	}
	if act := parent.sig.get(SIGCHLD); act.Flags&saNoCldStop == 0 {
		parent.signal(SIGCHLD, sigInfo{Signo: SIGCHLD, Code: code, PID: p.PID, Status: status})
	}
	parent.notifyChild()
}

// waitEvent is a child's change of state as wait reports it.
type waitEvent struct {
	code   int32 // CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED
	status int32 // wait status (wait4)
	info   int32 // si_status (waitid): exit code or signal
}

// exitEvent describes the exit of a child with wait status st.
func exitEvent(st int32) waitEvent {
	switch {
	case st&0x7F == 0:
		return waitEvent{cldExited, st, st >> 8 & 0xFF}
	case st&0x80 != 0:
		return waitEvent{cldDumped, st, st & 0x7F}
	}
	return waitEvent{cldKilled, st, st & 0x7F}
}

// event returns the change of c that options ask for, consuming a stop
// or continue report unless wNoWait is set (c.mu held).
func (c *Process) event(options int) (waitEvent, bool) {
	switch {
	case c.zombie:
		if options&wExited != 0 {
			return exitEvent(c.status), true
		}
	case c.stopReport && options&wUntraced != 0:
		if options&wNoWait == 0 {
			c.stopReport = false
		}
		return waitEvent{cldStopped, int32(c.stopSig)<<8 | 0x7F, int32(c.stopSig)}, true
	case c.contReport && options&wContinued != 0:
		if options&wNoWait == 0 {
			c.contReport = false
		}
		return waitEvent{cldContinued, 0xFFFF, SIGCONT}, true
	}
	return waitEvent{}, false
}
