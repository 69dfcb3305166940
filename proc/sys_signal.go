package proc

import (
	"encoding/binary"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Signals: actions, masks, sending, waiting.

func init() {
	reg(unix.SYS_RT_SIGACTION, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.sigaction(int(a[0]), a[1], a[2], a[3])
	})
	reg(unix.SYS_RT_SIGPROCMASK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.sigprocmask(int(a[0]), a[1], a[2], a[3])
	})
	reg(unix.SYS_RT_SIGRETURN, func(t *Thread, a *[6]uint64) (uint64, error) {
		if err := t.sigreturn(); err != nil {
			t.forceSignal(SIGSEGV, sigInfo{Code: siKernel})
		}
		return 0, errNoReturn
	})
	reg(unix.SYS_RT_SIGPENDING, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.mu.Lock()
		t.p.mu.Lock()
		s := t.pending | t.p.pending
		t.p.mu.Unlock()
		t.mu.Unlock()
		return 0, putU64(t.p, a[0], uint64(s))
	})
	reg(unix.SYS_SIGALTSTACK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.sigaltstack(a[0], a[1])
	})
	reg(unix.SYS_KILL, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.kill(int32(a[0]), int(a[1]))
	})
	reg(unix.SYS_TGKILL, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.tkill(int32(a[0]), int32(a[1]), int(a[2]))
	})
	reg(unix.SYS_TKILL, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.tkill(-1, int32(a[0]), int(a[1]))
	})
	reg(unix.SYS_RT_SIGSUSPEND, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[1] != 8 {
			return 0, syscall.EINVAL
		}
		mask, err := getU64(t.p, a[0])
		if err != nil {
			return 0, err
		}
		return 0, t.suspend(sigSet(mask))
	})
	reg(unix.SYS_PAUSE, func(t *Thread, a *[6]uint64) (uint64, error) {
		// Until a signal is delivered: a wake-up without one (a kick
		// left over from an earlier signal) restarts the call, and so
		// does a signal without a handler (ERESTARTNOHAND, as Linux).
		for !t.interrupted() {
			t.block(nil)
		}
		return 0, errRestartNoHand
	})
	reg(unix.SYS_RT_SIGQUEUEINFO, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.sigqueue(int32(a[0]), 0, int(a[1]), a[2])
	})
	reg(unix.SYS_RT_TGSIGQUEUEINFO, func(t *Thread, a *[6]uint64) (uint64, error) {
		if int32(a[1]) <= 0 {
			return 0, syscall.EINVAL
		}
		return 0, t.sigqueue(int32(a[0]), int32(a[1]), int(a[2]), a[3])
	})
	reg(unix.SYS_RT_SIGTIMEDWAIT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.sigtimedwait(a[0], a[1], a[2], a[3])
	})
}

func putU64(p *Process, addr, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return p.mm.CopyOut(addr, b[:])
}

func getU64(p *Process, addr uint64) (uint64, error) {
	var b [8]byte
	err := p.mm.CopyIn(addr, b[:])
	return binary.LittleEndian.Uint64(b[:]), err
}

func (t *Thread) sigaction(sig int, act, old, size uint64) error {
	if size != 8 || !validSig(sig) || act != 0 && (sig == SIGKILL || sig == SIGSTOP) {
		return syscall.EINVAL
	}
	var nb [32]byte
	if act != 0 {
		if err := t.p.mm.CopyIn(act, nb[:]); err != nil {
			return err
		}
	}
	h := t.p.sig
	h.mu.Lock()
	prev := h.actions[sig]
	if act != 0 {
		le := binary.LittleEndian
		h.actions[sig] = sigAction{le.Uint64(nb[0:]), le.Uint64(nb[8:]), le.Uint64(nb[16:]), sigSet(le.Uint64(nb[24:])).unblockable()}
	}
	h.mu.Unlock()
	if act != 0 {
		// Setting a signal to be ignored discards it where pending.
		if a := h.get(sig); a.Handler == sigIGN || a.Handler == sigDFL && defaultAction(sig) == actIgnore {
			t.p.discard(sig)
		}
	}
	if old != 0 {
		var ob [32]byte
		le := binary.LittleEndian
		le.PutUint64(ob[0:], prev.Handler)
		le.PutUint64(ob[8:], prev.Flags)
		le.PutUint64(ob[16:], prev.Restorer)
		le.PutUint64(ob[24:], uint64(prev.Mask))
		return t.p.mm.CopyOut(old, ob[:])
	}
	return nil
}

// discard drops a pending sig everywhere in the process.
func (p *Process) discard(sig int) {
	p.mu.Lock()
	p.queue.drop(&p.pending, bit(sig))
	threads := append([]*Thread(nil), p.threads...)
	p.mu.Unlock()
	for _, t := range threads {
		t.mu.Lock()
		t.queue.drop(&t.pending, bit(sig))
		t.mu.Unlock()
	}
}

func (t *Thread) sigprocmask(how int, set, old, size uint64) error {
	if size != 8 {
		return syscall.EINVAL
	}
	var s uint64
	if set != 0 {
		var err error
		if s, err = getU64(t.p, set); err != nil {
			return err
		}
	}
	t.mu.Lock()
	prev := t.sigMask
	if set != 0 {
		switch how {
		case unix.SIG_BLOCK:
			t.sigMask |= sigSet(s)
		case unix.SIG_UNBLOCK:
			t.sigMask &^= sigSet(s)
		case unix.SIG_SETMASK:
			t.sigMask = sigSet(s)
		default:
			t.mu.Unlock()
			return syscall.EINVAL
		}
		t.sigMask = t.sigMask.unblockable()
	}
	t.mu.Unlock()
	if old != 0 {
		return putU64(t.p, old, uint64(prev))
	}
	return nil
}

func (t *Thread) sigaltstack(ss, old uint64) error {
	sp := t.task.Regs().RSP
	onAlt := t.altFlags&ssDisable == 0 && sp > t.altSP && sp <= t.altSP+t.altSize
	if old != 0 {
		var b [24]byte
		le := binary.LittleEndian
		flags := uint64(t.altFlags)
		if onAlt {
			flags |= ssOnStack
		}
		if t.altSize == 0 && t.altSP == 0 {
			flags = ssDisable
		}
		le.PutUint64(b[0:], t.altSP)
		le.PutUint64(b[8:], flags)
		le.PutUint64(b[16:], t.altSize)
		if err := t.p.mm.CopyOut(old, b[:]); err != nil {
			return err
		}
	}
	if ss == 0 {
		return nil
	}
	var b [24]byte
	if err := t.p.mm.CopyIn(ss, b[:]); err != nil {
		return err
	}
	if onAlt {
		return syscall.EPERM
	}
	le := binary.LittleEndian
	nsp, flags, size := le.Uint64(b[0:]), uint32(le.Uint64(b[8:])), le.Uint64(b[16:])
	switch {
	case flags&ssDisable != 0:
		t.altSP, t.altSize, t.altFlags = 0, 0, ssDisable
	case flags&^uint32(1<<31) != 0: // SS_AUTODISARM is accepted
		return syscall.EINVAL
	case size < 2048:
		return syscall.ENOMEM
	default:
		t.altSP, t.altSize, t.altFlags = nsp, size, 0
	}
	return nil
}

// kill sends sig to a process (pid > 0), the caller's group (0), every
// process it may signal (-1), or group -pid.
func (t *Thread) kill(pid int32, sig int) error {
	if sig < 0 || sig > nsig {
		return syscall.EINVAL
	}
	self := t.p
	info := sigInfo{Signo: int32(sig), Code: siUser, PID: self.PID, UID: self.cred.UID}
	if pid > 0 {
		p := self.node.Process(pid)
		if p == nil {
			return syscall.ESRCH
		}
		if !self.maySignal(p) {
			return syscall.EPERM
		}
		if !p.zombie && !p.signal(sig, info) {
			return syscall.EAGAIN // a real-time signal queue is full
		}
		return nil
	}
	self.mu.Lock()
	group := self.pgid
	self.mu.Unlock()
	if pid < -1 {
		group = -pid
	}
	found := false
	for _, p := range self.node.Processes() {
		p.mu.Lock()
		g, z := p.pgid, p.zombie
		p.mu.Unlock()
		if z || p.PID == 1 && pid == -1 || pid != -1 && g != group || !self.maySignal(p) {
			continue
		}
		found = true
		p.signal(sig, info)
	}
	if !found {
		return syscall.ESRCH
	}
	return nil
}

// killGroup sends sig to process group pgid (the terminal's ^C).
func (n *Node) killGroup(pgid int32, sig int) {
	for _, p := range n.Processes() {
		p.mu.Lock()
		g, z := p.pgid, p.zombie
		p.mu.Unlock()
		if g == pgid && !z {
			p.signal(sig, sigInfo{Signo: int32(sig), Code: siKernel})
		}
	}
}

func (p *Process) maySignal(q *Process) bool {
	p.mu.Lock()
	c := p.cred
	p.mu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	return c.EUID == 0 || c.UID == q.cred.UID || c.UID == q.cred.SUID || c.EUID == q.cred.UID || c.EUID == q.cred.SUID
}

func (t *Thread) tkill(tgid, tid int32, sig int) error {
	if sig < 0 || sig > nsig || tid <= 0 {
		return syscall.EINVAL
	}
	n := t.p.node
	n.mu.Lock()
	target := n.threads[tid]
	n.mu.Unlock()
	if target == nil || tgid > 0 && target.p.PID != tgid {
		return syscall.ESRCH
	}
	if !t.p.maySignal(target.p) {
		return syscall.EPERM
	}
	if sig != 0 {
		target.signal(sig, sigInfo{Signo: int32(sig), Code: siTkill, PID: t.p.PID, UID: t.p.cred.UID})
	}
	return nil
}

// sigqueue sends sig with the caller's siginfo to process tgid, or to its
// thread tid (rt_sigqueueinfo, rt_tgsigqueueinfo). A caller may not
// pretend to be the kernel or kill(2) (si_code >= 0) or tkill to another
// process (EPERM), as Linux says.
func (t *Thread) sigqueue(tgid, tid int32, sig int, infop uint64) error {
	if sig < 0 || sig > nsig {
		return syscall.EINVAL
	}
	var b [128]byte
	if err := t.p.mm.CopyIn(infop, b[:]); err != nil {
		return err
	}
	le := binary.LittleEndian
	info := sigInfo{Signo: int32(sig), Errno: int32(le.Uint32(b[4:])), Code: int32(le.Uint32(b[8:])),
		PID: int32(le.Uint32(b[16:])), UID: le.Uint32(b[20:]), Value: le.Uint64(b[24:])}
	p := t.p.node.Process(tgid)
	if p == nil || p.PID != tgid {
		return syscall.ESRCH
	}
	if (info.Code >= 0 || info.Code == siTkill) && p != t.p {
		return syscall.EPERM
	}
	if !t.p.maySignal(p) {
		return syscall.EPERM
	}
	if sig == 0 {
		return nil
	}
	if tid == 0 {
		if !p.signal(sig, info) {
			return syscall.EAGAIN
		}
		return nil
	}
	p.mu.Lock()
	var target *Thread
	for _, o := range p.threads {
		if o.TID == tid {
			target = o
		}
	}
	p.mu.Unlock()
	if target == nil {
		return syscall.ESRCH
	}
	if !target.signal(sig, info) {
		return syscall.EAGAIN
	}
	return nil
}

// suspend replaces the mask and waits for a signal; the old mask comes
// back when the handler returns (or at once if none runs).
func (t *Thread) suspend(mask sigSet) error {
	t.mu.Lock()
	old := t.sigMask
	t.savedMask = &old
	t.sigMask = mask.unblockable()
	t.mu.Unlock()
	for !t.interrupted() {
		t.block(nil)
	}
	return syscall.EINTR
}

// sigtimedwait(set, info, timeout, size) takes a blocked pending signal.
func (t *Thread) sigtimedwait(set, infop, timeout, size uint64) (uint64, error) {
	if size != 8 {
		return 0, syscall.EINVAL
	}
	s, err := getU64(t.p, set)
	if err != nil {
		return 0, err
	}
	want := sigSet(s).unblockable()
	defer func() {
		t.mu.Lock()
		t.sigWaiting = 0
		t.mu.Unlock()
	}()
	var deadline <-chan time.Time
	if timeout != 0 {
		d, err := t.getTimespec(timeout)
		if err != nil {
			return 0, err
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		deadline = tm.C
	}
	for {
		t.mu.Lock()
		t.p.mu.Lock()
		var sig int
		var info sigInfo
		if w := t.pending & want; w != 0 {
			sig = w.lowest()
			info = t.queue.take(&t.pending, sig)
		} else if w := t.p.pending & want; w != 0 {
			sig = w.lowest()
			info = t.p.queue.take(&t.p.pending, sig)
		}
		if sig == 0 {
			t.sigWaiting = want
		} else {
			t.sigWaiting = 0
		}
		t.p.mu.Unlock()
		t.mu.Unlock()
		if sig != 0 {
			if info.Signo == 0 {
				info.Signo = int32(sig)
			}
			if infop != 0 {
				b := info.bytes()
				if err := t.p.mm.CopyOut(infop, b[:]); err != nil {
					return 0, err
				}
			}
			return uint64(sig), nil
		}
		if t.p.exiting.Load() {
			return 0, syscall.EINTR
		}
		t0 := t.onWait()
		select {
		case <-t.wake:
			t.offCPU(t0)
			if t.interruptedExcept(want) {
				return 0, syscall.EINTR
			}
		case <-deadline:
			t.offCPU(t0)
			return 0, syscall.EAGAIN
		}
	}
}

// interruptedExcept: a signal outside want, not blocked, is pending.
func (t *Thread) interruptedExcept(want sigSet) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return true // ended by another thread's execve
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	return (t.pending|t.p.pending)&^t.sigMask&^want != 0
}
