package kernel

import (
	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/kernel/sched/queue"
	"dunix/kernel/spin"
	"sync/atomic"
)

// Scheduling: one run queue shared by all CPUs (a FIFO of thread indices),
// time slices of sliceNs, an idle thread per CPU that halts. Threads block
// in system calls only (futex, nanosleep, epoll_pwait); whoever ends a wait
// claims it first (see Thread.waitToken), so a wait ends exactly once.
//
// Lock order: a wait queue's lock (futex bucket, epoll) before a CPU's
// timer lock before the run queue lock.

const (
	sliceNs     = 10_000_000  // time slice
	heartbeatNs = 100_000_000 // every CPU takes a timer interrupt at least this often
)

var (
	runqLock    spin.Lock
	runq        queue.Ring
	runqStorage [MaxThreads]int32

	// idleMask has bit i set while CPU i runs its idle thread.
	idleMask atomic.Uint64

	// runqCount is runq.Len(), kept under runqLock but read without it:
	// every trap exit asks whether anyone waits, and most find nobody.
	runqCount atomic.Int32
)

//go:nosplit
func initSched() {
	runq.Init(runqStorage[:])
}

// makeRunnable queues t and wakes an idle CPU to run it.
//
//go:nosplit
func makeRunnable(t *Thread) {
	t.state.Store(tsRunnable)
	runqLock.Lock()
	runq.Push(t.idx)
	runqCount.Store(int32(runq.Len()))
	runqLock.Unlock()
	kickIdle()
}

// kickIdle sends a reschedule IPI to one idle CPU, if any.
//
//go:nosplit
func kickIdle() {
	for {
		m := idleMask.Load()
		if m == 0 {
			return
		}
		i := trailingZeros(m)
		if idleMask.CompareAndSwap(m, m&^(1<<i)) {
			if int32(i) != thisCPU().ID {
				lapic.SendIPI(cpus[i].APICID, vecResched)
			}
			return
		}
	}
}

//go:nosplit
func trailingZeros(m uint64) uint {
	n := uint(0)
	for m&1 == 0 {
		m >>= 1
		n++
	}
	return n
}

//go:nosplit
func runqPop() int32 {
	runqLock.Lock()
	i, ok := runq.Pop()
	runqCount.Store(int32(runq.Len()))
	runqLock.Unlock()
	if !ok {
		return -1
	}
	return i
}

//go:nosplit
func runqLen() int { return int(runqCount.Load()) }

// schedule decides what this CPU runs when it leaves trap context: the
// current thread if it can go on, else the next runnable one, else idle.
//
//go:nosplit
func schedule(c *CPU) {
	cur := &threads[c.current]
	t := now()
	if !cur.idle && cur.state.Load() == tsRunning {
		if !c.needResched && t < c.sliceEnd || runqLen() == 0 {
			if t >= c.sliceEnd {
				c.sliceEnd = t + sliceNs
			}
			c.needResched = false
			deliverSignals(cur)
			armTimer(c, t)
			return
		}
		// Preempted: to the back of the queue.
		cur.state.Store(tsRunnable)
		runqLock.Lock()
		runq.Push(cur.idx)
		runqCount.Store(int32(runq.Len()))
		runqLock.Unlock()
	}
	c.needResched = false
	next := runqPop()
	if next < 0 && !cur.idle {
		// Going idle: announce it before looking once more, so that a
		// thread queued meanwhile either sees the bit or is seen here.
		idleMask.Or(1 << c.ID)
		next = runqPop()
		if next >= 0 {
			idleMask.And(^(uint64(1) << c.ID))
		}
	} else if next < 0 {
		idleMask.Or(1 << c.ID)
	}
	if next < 0 {
		next = c.idle
	} else if cur.idle {
		idleMask.And(^(uint64(1) << c.ID))
	}
	if next != c.idle && runqLen() > 0 {
		kickIdle() // more runnable threads (a preempted one, say): wake a CPU
	}
	switchTo(c, &threads[next], t)
	deliverSignals(&threads[c.current])
	armTimer(c, t)
}

// switchTo makes n the thread this CPU resumes.
//
//go:nosplit
func switchTo(c *CPU, n *Thread, t uint64) {
	prev := &threads[c.current]
	if n != prev {
		// Let go of prev first (its state is all in its Frame and XSAVE
		// area since the entry), then wait until n's previous CPU has let
		// go of it. Releasing before waiting means no CPU holds a thread
		// while it waits for another, so two CPUs swapping threads cannot
		// wait for each other.
		prev.onCPU.Store(0)
		for n.onCPU.Load() != 0 {
			amd64.Pause()
		}
		n.onCPU.Store(1)
		c.switches++
	}
	if prev.idle && t > c.idleSince {
		c.idleNs += t - c.idleSince
	}
	if n.idle {
		c.idleSince = t
	}
	if !n.idle {
		n.state.Store(tsRunning)
	}
	n.cpu = c.ID
	c.current = n.idx
	c.load(n)
	checkInterrupt(c, n)
	c.sliceEnd = t + sliceNs
}

// block marks the current thread as waiting; the caller holds the lock of
// the queue it put the thread in. A deadline (ns) arms a timeout.
//
//go:nosplit
func block(t *Thread, kind uint32, key uintptr, deadline uint64) {
	t.waitKind = kind
	t.waitKey = key
	gen := t.waitToken.Load()>>1 + 1
	t.waitToken.Store(gen << 1)
	t.deadline = deadline
	t.timerCPU = -1
	t.state.Store(tsBlocked)
	if deadline != 0 {
		c := thisCPU()
		c.timerLock.Lock()
		c.timers.Push(t.idx, deadline)
		c.timersAdded = true
		t.timerCPU = c.ID
		c.timerLock.Unlock()
	}
}

// claim takes the right to end t's current wait; false if another waker
// has it already.
//
//go:nosplit
func claim(t *Thread) bool {
	tok := t.waitToken.Load()
	return tok&1 == 0 && t.waitToken.CompareAndSwap(tok, tok|1)
}

// claimGen is claim for a waker that saw wait generation gen.
//
//go:nosplit
func claimGen(t *Thread, gen uint64) bool {
	return t.waitToken.CompareAndSwap(gen<<1, gen<<1|1)
}

// finishWait ends a claimed wait: the timeout is cancelled, the system
// call returns ret, the thread is queued. The caller has already taken the
// thread off its wait queue.
//
//go:nosplit
func finishWait(t *Thread, ret int64) {
	cancelTimeout(t)
	t.Frame.RAX = uint64(ret)
	makeRunnable(t)
}

// restartWait ends a claimed wait by making the thread issue its system
// call again (SYSCALL is two bytes long; RAX still holds the number).
//
//go:nosplit
func restartWait(t *Thread) {
	cancelTimeout(t)
	t.Frame.RIP -= 2
	makeRunnable(t)
}

//go:nosplit
func cancelTimeout(t *Thread) {
	if tc := t.timerCPU; tc >= 0 {
		c := &cpus[tc]
		c.timerLock.Lock()
		c.timers.Remove(t.idx)
		c.timerLock.Unlock()
		t.timerCPU = -1
	}
	t.waitKind = waitNone
}

// interruptWait ends t's wait with EINTR (a signal arrived), if it is
// waiting.
//
//go:nosplit
func interruptWait(t *Thread) {
	if t.state.Load() != tsBlocked || !claim(t) {
		return
	}
	unlinkWait(t)
	finishWait(t, -eintr)
}

// unlinkWait takes t off whatever queue its wait put it in.
//
//go:nosplit
func unlinkWait(t *Thread) {
	switch t.waitKind {
	case waitFutex:
		futexUnlink(t)
	case waitEpoll:
		epollUnlink(t)
	}
}

// expireTimers ends the waits whose deadline has passed.
//
//go:nosplit
func expireTimers(c *CPU, t uint64) {
	for {
		c.timerLock.Lock()
		id, key, ok := c.timers.Min()
		if !ok || key > t {
			c.timerLock.Unlock()
			return
		}
		c.timers.PopMin()
		th := &threads[id]
		gen := th.waitToken.Load() >> 1
		th.timerCPU = -1
		c.timerLock.Unlock()
		if claimGen(th, gen) {
			unlinkWait(th)
			ret := int64(0)
			switch th.waitKind {
			case waitFutex:
				ret = -etimedout
			case waitEpoll:
				ret = 0
			}
			finishWait(th, ret)
		}
	}
}

// armTimer programs this CPU's timer for the earliest of: a timeout, the
// end of the time slice when others wait to run, the heartbeat.
//
//go:nosplit
func armTimer(c *CPU, t uint64) {
	if c.armed > t && !c.timersAdded && (c.armed <= c.sliceEnd || runqLen() == 0 || threads[c.current].idle) {
		// Armed in the future, no earlier than needed: at its arming
		// it was no later than the heartbeat from then, the earliest
		// timeout (none was added since), and the end of the slice if
		// others waited; the slice end is checked again. The common
		// exit, a thread going on, skips the timer heap's lock.
		return
	}
	c.timersAdded = false
	d := t + heartbeatNs
	if p := profPeriod.Load(); p != 0 && profOn.Load() && !threads[c.current].idle {
		d = t + p
	}
	if !threads[c.current].idle && runqLen() > 0 && c.sliceEnd < d {
		d = c.sliceEnd
	}
	c.timerLock.Lock()
	if _, key, ok := c.timers.Min(); ok && key < d {
		d = key
	}
	c.timerLock.Unlock()
	if d <= t {
		d = t + 1000
	}
	if c.armed > t && c.armed <= d {
		// The timer is set to fire no later than needed: leave it (every
		// trap exit comes here, and reprogramming costs an MSR or MMIO
		// write, a host timer update under emulation); an early
		// interrupt just re-arms it.
		return
	}
	c.armed = d
	setTimer(d, t)
}

// unlink takes t out of the wait list through Thread.waitNext that starts
// at *head; it reports whether t was there.
//
//go:nosplit
func unlink(head *int32, t *Thread) bool {
	for p := head; *p >= 0; p = &threads[*p].waitNext {
		if *p == t.idx {
			*p = t.waitNext
			t.waitNext = -1
			return true
		}
	}
	return false
}
