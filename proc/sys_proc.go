package proc

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/kernel"
	"dunix/proc/vm"
)

// Processes and threads: fork, vfork, clone, exit, exit_group, wait4,
// waitid, IDs, process groups and sessions, credentials.

func init() {
	reg(unix.SYS_FORK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.clone(uint64(SIGCHLD), 0, 0, 0, 0)
	})
	reg(unix.SYS_VFORK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.clone(unix.CLONE_VM|unix.CLONE_VFORK|SIGCHLD, 0, 0, 0, 0)
	})
	reg(unix.SYS_CLONE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.clone(a[0], a[1], a[2], a[3], a[4])
	})
	reg(unix.SYS_CLONE3, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.clone3(a[0], a[1])
	})
	reg(unix.SYS_EXIT, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.exitCode = int32(a[0] & 0xFF)
		t.dead = true
		return 0, errNoReturn
	})
	reg(unix.SYS_EXIT_GROUP, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.p.exitGroup(int32(a[0]&0xFF)<<8, false)
		return 0, errNoReturn
	})
	reg(unix.SYS_WAIT4, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.wait4(int32(a[0]), a[1], int(a[2]), a[3])
	})
	reg(unix.SYS_WAITID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.waitid(int(a[0]), int32(a[1]), a[2], int(a[3]))
	})
	reg(unix.SYS_GETPID, func(t *Thread, a *[6]uint64) (uint64, error) { return uint64(t.p.PID), nil })
	reg(unix.SYS_GETTID, func(t *Thread, a *[6]uint64) (uint64, error) { return uint64(t.TID), nil })
	reg(unix.SYS_GETPPID, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.p.mu.Lock()
		defer t.p.mu.Unlock()
		return uint64(t.p.ppid), nil
	})
	reg(unix.SYS_SET_TID_ADDRESS, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.clearTID = a[0]
		return uint64(t.TID), nil
	})
	reg(unix.SYS_SET_ROBUST_LIST, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[1] != 24 {
			return 0, syscall.EINVAL
		}
		t.robust = a[0]
		return 0, nil
	})
	reg(unix.SYS_GETPGID, func(t *Thread, a *[6]uint64) (uint64, error) {
		p := t.p.node.lookup(t.p, int32(a[0]))
		if p == nil {
			return 0, syscall.ESRCH
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return uint64(p.pgid), nil
	})
	reg(unix.SYS_GETPGRP, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.p.mu.Lock()
		defer t.p.mu.Unlock()
		return uint64(t.p.pgid), nil
	})
	reg(unix.SYS_SETPGID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.setpgid(int32(a[0]), int32(a[1]))
	})
	reg(unix.SYS_GETSID, func(t *Thread, a *[6]uint64) (uint64, error) {
		p := t.p.node.lookup(t.p, int32(a[0]))
		if p == nil {
			return 0, syscall.ESRCH
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return uint64(p.sid), nil
	})
	reg(unix.SYS_SETSID, func(t *Thread, a *[6]uint64) (uint64, error) {
		p := t.p
		if p.node.groupExists(p.PID) {
			return 0, syscall.EPERM // a group leader cannot
		}
		p.mu.Lock()
		p.sid, p.pgid = p.PID, p.PID
		p.mu.Unlock()
		return uint64(p.PID), nil
	})
	registerCreds()
}

// clone creates a thread (CLONE_THREAD) or a process.
func (t *Thread) clone(flags, stack, ptid, ctid, tls uint64) (uint64, error) {
	p := t.p
	const threadFlags = unix.CLONE_VM | unix.CLONE_SIGHAND | unix.CLONE_THREAD
	if flags&unix.CLONE_THREAD != 0 && flags&threadFlags != threadFlags {
		return 0, syscall.EINVAL
	}
	if flags&unix.CLONE_SIGHAND != 0 && flags&unix.CLONE_VM == 0 {
		return 0, syscall.EINVAL
	}
	if flags&(unix.CLONE_NEWNS|unix.CLONE_NEWPID|unix.CLONE_NEWNET|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC|unix.CLONE_NEWUSER|unix.CLONE_NEWCGROUP) != 0 {
		return 0, syscall.EPERM // no namespaces
	}
	n := p.node
	if flags&unix.CLONE_THREAD == 0 && n.nprocs.Load() >= n.maxProcs {
		return 0, syscall.EAGAIN
	}
	if flags&unix.CLONE_THREAD == 0 && p.rlimits[unix.RLIMIT_NPROC].cur != rlimInf &&
		uint64(n.userProcs(p.cred.UID)) >= p.rlimits[unix.RLIMIT_NPROC].cur && p.cred.UID != 0 {
		return 0, syscall.EAGAIN
	}
	task, err := kernel.NewUserTask()
	if err != nil {
		return 0, syscall.EAGAIN
	}
	child := p
	if flags&unix.CLONE_THREAD == 0 {
		child, err = p.fork(flags)
		if err != nil {
			task.Free()
			return 0, err
		}
	}
	tid := child.PID
	if flags&unix.CLONE_THREAD != 0 {
		tid = n.allocPID()
	}
	nt := &Thread{TID: tid, p: child, task: task, wake: make(chan struct{}, 1), gone: make(chan struct{}), restartNr: -1}
	t.mu.Lock()
	nt.sigMask = t.sigMask
	t.mu.Unlock()
	nt.altFlags = ssDisable
	if flags&unix.CLONE_VM == 0 || flags&unix.CLONE_VFORK != 0 {
		nt.altSP, nt.altSize, nt.altFlags = t.altSP, t.altSize, t.altFlags
	}
	*task.Regs() = *t.task.Regs()
	task.Regs().RAX = 0
	if stack != 0 {
		task.Regs().RSP = stack
	}
	kt, pt := task.Task(), t.task.Task()
	kt.FSBase, kt.GSBase = pt.FSBase, pt.GSBase
	if flags&unix.CLONE_SETTLS != 0 {
		if tls >= vm.UserEnd {
			task.Free()
			return 0, syscall.EPERM
		}
		kt.FSBase = tls
	}
	copy(task.FPU(), t.task.FPU())
	if err := task.SetRoot(child.mm.Root()); err != nil {
		task.Free()
		return 0, syscall.ENOMEM
	}
	kt.PID, kt.TID = child.PID, tid
	child.mu.Lock()
	kt.PPID = child.ppid
	child.mu.Unlock()

	if flags&unix.CLONE_PARENT_SETTID != 0 {
		putU32(p, ptid, uint32(tid))
	}
	if flags&unix.CLONE_CHILD_SETTID != 0 {
		putU32(child, ctid, uint32(tid))
	}
	if flags&unix.CLONE_CHILD_CLEARTID != 0 {
		nt.clearTID = ctid
	}
	n.mu.Lock()
	n.threads[tid] = nt
	n.mu.Unlock()
	child.mu.Lock()
	child.threads = append(child.threads, nt)
	child.mu.Unlock()
	var done chan struct{}
	if flags&unix.CLONE_VFORK != 0 {
		done = child.vforkDone
	}
	go nt.run()
	if done != nil {
		// The parent waits until the child execs or exits. Only a fatal
		// signal ends the wait (Linux waits TASK_KILLABLE): the child
		// runs on the parent's stack, which the parent must not touch
		// before then. Other signals stay pending until after.
		for t.block(done) != nil && !t.p.exiting.Load() {
		}
	}
	return uint64(tid), nil
}

// fork makes the process part of a clone without CLONE_THREAD.
func (p *Process) fork(flags uint64) (*Process, error) {
	n := p.node
	var mm *vm.Space
	var err error
	if flags&unix.CLONE_VM != 0 {
		mm = p.mm.Share()
	} else if mm, err = p.mm.Fork(); err != nil {
		return nil, err
	}
	c := &Process{node: n, PID: n.allocPID(), childEvents: make(chan struct{}), vforkDone: make(chan struct{}),
		exitSig: int(flags & 0xFF), enosys: map[int]int{}, start: n.now()}
	p.mu.Lock()
	c.ppid, c.pgid, c.sid = p.PID, p.pgid, p.sid
	if flags&unix.CLONE_PARENT != 0 {
		c.ppid = p.ppid
	}
	c.cred = p.cred
	c.cred.Groups = append([]uint32(nil), p.cred.Groups...)
	c.mm = mm
	if flags&unix.CLONE_FILES != 0 {
		c.fds = p.fds.share()
	} else {
		c.fds = p.fds.fork()
	}
	c.cwd, c.root = p.cwd, p.root
	c.umask = p.umask
	if flags&unix.CLONE_SIGHAND != 0 {
		c.sig = p.sig
	} else {
		c.sig = p.sig.clone()
	}
	c.rlimits = p.rlimits
	c.exe, c.exeFile, c.args, c.env = p.exe, p.exeFile, p.args, p.env
	if c.exeFile != nil {
		c.exeFile.IncRef()
	}
	p.children = append(p.children, c)
	p.mu.Unlock()
	n.mu.Lock()
	n.procs[c.PID] = c
	n.mu.Unlock()
	n.nprocs.Add(1)
	n.forks.Add(1)
	return c, nil
}

// clone3(struct clone_args *, size).
func (t *Thread) clone3(args, size uint64) (uint64, error) {
	if size < 64 || size > 4096 {
		return 0, syscall.EINVAL
	}
	b := make([]byte, 64)
	if err := t.p.mm.CopyIn(args, b); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	flags, pidfd, childTID, parentTID := le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint64(b[24:])
	exitSig, stack, stackSize, tls := le.Uint64(b[32:]), le.Uint64(b[40:]), le.Uint64(b[48:]), le.Uint64(b[56:])
	if pidfd != 0 || flags&unix.CLONE_PIDFD != 0 || exitSig > nsig {
		return 0, syscall.EINVAL
	}
	sp := uint64(0)
	if stack != 0 {
		sp = stack + stackSize
	}
	return t.clone(flags&^0xFF|exitSig, sp, parentTID, childTID, tls)
}

func putU32(p *Process, addr uint64, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return p.mm.CopyOut(addr, b[:])
}

// exitGroup ends the process with the wait status given (exit code << 8,
// or the signal that killed it). The threads are woken and exit; the last
// one finishes the process.
func (p *Process) exitGroup(status int32, fromLastThread bool) {
	p.exitOnce.Do(func() {
		p.mu.Lock()
		p.status = status
		p.mu.Unlock()
		p.exiting.Store(true)
	})
	p.mu.Lock()
	threads := append([]*Thread(nil), p.threads...)
	p.mu.Unlock()
	for _, t := range threads {
		t.kick()
	}
	p.releaseVfork()
}

func (p *Process) releaseVfork() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.vforkDone:
	default:
		close(p.vforkDone)
	}
}

// finish turns the process into a zombie once its last thread is gone.
func (p *Process) finish() {
	n := p.node
	p.fds.release()
	rss := p.mm.Usage().RSS
	p.mm.Release()
	p.mu.Lock()
	p.deadUse.maxRSS = max(p.deadUse.maxRSS, rss)
	p.mu.Unlock()
	p.mu.Lock()
	p.zombie = true
	exe := p.exeFile
	p.exeFile = nil
	children := p.children
	p.children = nil
	status, exitSig := p.status, p.exitSig
	ppid := p.ppid
	p.mu.Unlock()
	n.nprocs.Add(-1)
	if exe != nil {
		exe.Close()
	}

	// Orphans go to init, which reaps them; those that asked get their
	// PR_SET_PDEATHSIG signal.
	var deathSigs []*Process
	defer func() {
		for _, c := range deathSigs {
			c.signal(c.pdeathSig, sigInfo{Signo: int32(c.pdeathSig), Code: siUser, PID: p.PID})
		}
	}()
	if init := n.init; init != nil && init != p {
		init.mu.Lock()
		for _, c := range children {
			c.mu.Lock()
			c.ppid = 1
			if c.pdeathSig != 0 && !c.zombie {
				deathSigs = append(deathSigs, c)
			}
			c.mu.Unlock()
			init.children = append(init.children, c)
		}
		init.mu.Unlock()
		init.notifyChild()
	}
	parent := n.Process(ppid)
	if parent == nil || parent == p {
		n.reap(p)
		if p == n.init {
			n.initExited(status)
		}
		return
	}
	act := parent.sig.get(SIGCHLD)
	if act.Handler == sigIGN || act.Flags&saNoCldWait != 0 {
		parent.removeChild(p)
		n.reap(p)
	} else if exitSig != 0 {
		ev := exitEvent(status)
		parent.signal(exitSig, sigInfo{Signo: int32(exitSig), Code: ev.code, PID: p.PID, Status: ev.info})
	}
	parent.notifyChild()
	if p == n.init {
		n.initExited(status)
	}
}

func (p *Process) notifyChild() {
	p.mu.Lock()
	close(p.childEvents)
	p.childEvents = make(chan struct{})
	p.mu.Unlock()
}

func (p *Process) removeChild(c *Process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, o := range p.children {
		if o == c {
			p.children = append(p.children[:i], p.children[i+1:]...)
			return
		}
	}
}

// reap forgets a dead process.
func (n *Node) reap(p *Process) {
	n.mu.Lock()
	delete(n.procs, p.PID)
	n.mu.Unlock()
}

// Wait options.
const (
	wNoHang    = 0x1
	wUntraced  = 0x2
	wExited    = 0x4
	wContinued = 0x8
	wNoWait    = 0x01000000
	wAll       = 0x40000000
	wClone     = 0x80000000
)

// waitFor finds a child matching pid (wait4's rules) with a change of
// state that options ask for (wExited, wUntraced, wContinued); it returns
// (nil, _, false) when there is no matching child at all.
func (p *Process) waitFor(pid int32, options int) (*Process, waitEvent, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := false
	for _, c := range p.children {
		c.mu.Lock()
		match := pid == -1 || pid > 0 && c.PID == pid || pid == 0 && c.pgid == p.pgid || pid < -1 && c.pgid == -pid
		var ev waitEvent
		ok := false
		if match {
			ev, ok = c.event(options)
		}
		c.mu.Unlock()
		if !match {
			continue
		}
		found = true
		if ok {
			return c, ev, true
		}
	}
	return nil, waitEvent{}, found
}

func (t *Thread) wait4(pid int32, status uint64, options int, rusage uint64) (uint64, error) {
	if options&^(wNoHang|wUntraced|wContinued|wAll|wClone) != 0 {
		return 0, syscall.EINVAL
	}
	p := t.p
	for {
		p.mu.Lock()
		events := p.childEvents
		p.mu.Unlock()
		c, ev, any := p.waitFor(pid, options|wExited)
		if c != nil {
			if status != 0 {
				if err := putU32(p, status, uint32(ev.status)); err != nil {
					return 0, err
				}
			}
			if ev.code == cldStopped || ev.code == cldContinued {
				if rusage != 0 {
					if err := p.mm.CopyOut(rusage, c.use().rusage()); err != nil {
						return 0, err
					}
				}
				return uint64(c.PID), nil
			}
			if rusage != 0 {
				u := c.use()
				u.add(c.reapedUse())
				if err := p.mm.CopyOut(rusage, u.rusage()); err != nil {
					return 0, err
				}
			}
			p.adoptUse(c)
			p.removeChild(c)
			p.node.reap(c)
			return uint64(c.PID), nil
		}
		if !any {
			return 0, syscall.ECHILD
		}
		if options&wNoHang != 0 {
			return 0, nil
		}
		if err := t.block(events); err != nil {
			return 0, err
		}
	}
}

// waitid(idtype, id, siginfo *, options).
func (t *Thread) waitid(idtype int, id int32, infop uint64, options int) (uint64, error) {
	var pid int32
	switch idtype {
	case 0: // P_ALL
		pid = -1
	case 1: // P_PID
		pid = id
	case 2: // P_PGID
		pid = -id
		if id == 0 {
			pid = 0
		}
	default:
		return 0, syscall.EINVAL
	}
	if options&(wExited|wUntraced|wContinued) == 0 {
		return 0, syscall.EINVAL
	}
	p := t.p
	for {
		p.mu.Lock()
		events := p.childEvents
		p.mu.Unlock()
		c, ev, any := p.waitFor(pid, options)
		if c != nil {
			c.mu.Lock()
			uid := c.cred.UID
			c.mu.Unlock()
			info := sigInfo{Signo: SIGCHLD, Code: ev.code, PID: c.PID, UID: uid, Status: ev.info}
			if infop != 0 {
				b := info.bytes()
				if err := p.mm.CopyOut(infop, b[:]); err != nil {
					return 0, err
				}
			}
			if options&wNoWait == 0 && ev.code != cldStopped && ev.code != cldContinued {
				p.adoptUse(c)
				p.removeChild(c)
				p.node.reap(c)
			}
			return 0, nil
		}
		if !any {
			return 0, syscall.ECHILD
		}
		if options&wNoHang != 0 {
			if infop != 0 {
				p.mm.Zero(infop, 128)
			}
			return 0, nil
		}
		if err := t.block(events); err != nil {
			return 0, err
		}
	}
}

// lookup finds pid (0: the caller).
func (n *Node) lookup(self *Process, pid int32) *Process {
	if pid == 0 {
		return self
	}
	p := n.Process(pid)
	if p != nil && p.zombie {
		return nil
	}
	return p
}

func (n *Node) groupExists(pgid int32) bool {
	for _, p := range n.Processes() {
		p.mu.Lock()
		g := p.pgid
		z := p.zombie
		p.mu.Unlock()
		if g == pgid && !z {
			return true
		}
	}
	return false
}

func (n *Node) userProcs(uid uint32) int {
	k := 0
	for _, p := range n.Processes() {
		p.mu.Lock()
		if p.cred.UID == uid && !p.zombie {
			k++
		}
		p.mu.Unlock()
	}
	return k
}

func (t *Thread) setpgid(pid, pgid int32) error {
	p := t.p
	target := p
	if pid != 0 && pid != p.PID {
		target = p.node.Process(pid)
		if target == nil {
			return syscall.ESRCH
		}
		target.mu.Lock()
		child := target.ppid == p.PID
		target.mu.Unlock()
		if !child {
			return syscall.ESRCH
		}
	}
	if pgid == 0 {
		pgid = target.PID
	}
	if pgid < 0 {
		return syscall.EINVAL
	}
	p.mu.Lock()
	sid := p.sid
	p.mu.Unlock()
	if pgid != target.PID {
		// Joining a group: it must exist in the caller's session.
		if gsid, ok := p.node.pgrpSession(pgid); !ok || gsid != sid {
			return syscall.EPERM
		}
	}
	target.mu.Lock()
	defer target.mu.Unlock()
	if target != p && target.execed {
		return syscall.EACCES // a child that has called execve
	}
	if target.sid != sid {
		return syscall.EPERM
	}
	if target.sid == target.PID {
		return syscall.EPERM // a session leader keeps its group
	}
	target.pgid = pgid
	return nil
}
