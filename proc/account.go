package proc

import (
	"encoding/binary"
	"sync/atomic"

	"dunix/kernel"
)

// CPU-time accounting. A thread's user time is the time its goroutine
// spends in UserTask.Run (ring 3, plus the calls the kernel answers in trap
// context); its system time is the time spent in handlers for its system
// calls, faults and signals, less the time they spent blocked. The clock is
// the TSC (kernel.Nanotime), a few cycles per reading.

// threadAcct is one thread's accounting. Only the thread's goroutine
// writes; procfs and getrusage read the atomics from anywhere.
type threadAcct struct {
	utime, stime atomic.Int64  // ns
	minflt       atomic.Uint64 // page faults served
	nvcsw        atomic.Uint64 // blocking waits (voluntary switches)
	nivcsw       atomic.Uint64 // preemptions seen as interrupted runs
	sleeping     atomic.Bool   // in a blocking wait (state S, not R)
	blockNs      int64         // time blocked during the current handler
}

// onWait starts a blocking wait and returns its start time for offCPU.
// Use as: defer t.offCPU(t.onWait()).
func (t *Thread) onWait() int64 {
	t.acct.sleeping.Store(true)
	return kernel.Nanotime()
}

// offCPU ends a blocking wait that began at start: it counts a voluntary
// switch and keeps the time out of the system time.
func (t *Thread) offCPU(start int64) {
	t.acct.sleeping.Store(false)
	t.acct.blockNs += kernel.Nanotime() - start
	t.acct.nvcsw.Add(1)
}

// usage is what getrusage reports, in ns and counts.
type usage struct {
	utime, stime  int64
	minflt        uint64
	nvcsw, nivcsw uint64
	maxRSS        uint64 // bytes
}

func (u *usage) add(o usage) {
	u.utime += o.utime
	u.stime += o.stime
	u.minflt += o.minflt
	u.nvcsw += o.nvcsw
	u.nivcsw += o.nivcsw
	u.maxRSS = max(u.maxRSS, o.maxRSS)
}

// use returns the thread's accounting.
func (t *Thread) use() usage {
	return usage{
		utime:  t.acct.utime.Load(),
		stime:  t.acct.stime.Load(),
		minflt: t.acct.minflt.Load(),
		nvcsw:  t.acct.nvcsw.Load(),
		nivcsw: t.acct.nivcsw.Load(),
	}
}

// use returns the accounting of the whole process: its live threads and
// those that exited.
func (p *Process) use() usage {
	p.mu.Lock()
	u := p.deadUse
	threads := append([]*Thread(nil), p.threads...)
	zombie := p.zombie
	p.mu.Unlock()
	for _, t := range threads {
		u.add(t.use())
	}
	if !zombie {
		u.maxRSS = max(u.maxRSS, p.mm.Usage().RSS)
	}
	return u
}

// reapedUse returns the accounting of the waited-for children.
func (p *Process) reapedUse() usage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reaped
}

// threadDone folds an exiting thread's accounting into its process.
func (p *Process) threadDone(t *Thread) {
	u := t.use()
	p.mu.Lock()
	p.deadUse.add(u)
	p.mu.Unlock()
}

// adoptUse adds a reaped child's accounting (its own and its reaped
// children's) to p's children totals.
func (p *Process) adoptUse(c *Process) {
	u := c.use()
	u.add(c.reapedUse())
	p.mu.Lock()
	p.reaped.add(u)
	p.mu.Unlock()
}

// rusage encodes u as struct rusage (144 bytes).
func (u usage) rusage() []byte {
	b := make([]byte, 144)
	tv := func(off int, ns int64) {
		binary.LittleEndian.PutUint64(b[off:], uint64(ns/1e9))
		binary.LittleEndian.PutUint64(b[off+8:], uint64(ns%1e9/1e3))
	}
	tv(0, u.utime)
	tv(16, u.stime)
	long := func(i int, v uint64) { binary.LittleEndian.PutUint64(b[32+8*i:], v) }
	long(0, u.maxRSS/1024) // ru_maxrss, KiB
	long(4, u.minflt)      // ru_minflt
	long(12, u.nvcsw)      // ru_nvcsw
	long(13, u.nivcsw)     // ru_nivcsw
	return b
}
