package kernel

import (
	"sync/atomic"

	"dunix/arch/amd64"
	"dunix/kernel/mm"
)

// A sampling profiler: while it runs, every interrupt (timer, device,
// rescheduling) records where the CPU was: the interrupted instruction of
// kernel code, or 1 for user mode. Device interrupts dominate a network
// workload, so the samples show where the CPU is when packets arrive:
// a rough picture, not an exact one. With a sampling period, every CPU's
// timer also fires at least that often (armTimer), so that a CPU-bound
// workload is sampled too.

var (
	profOn     atomic.Bool
	profN      atomic.Uint64
	profPeriod atomic.Uint64 // ns between timer samples; 0: interrupts only
	profBuf    [1 << 16]uint64
)

// profSample records the interrupted context of f.
//
//go:nosplit
func profSample(f *amd64.Frame) {
	if !profOn.Load() {
		return
	}
	i := profN.Add(1) - 1
	if i >= uint64(len(profBuf)) {
		return
	}
	pc := f.RIP
	if f.CS&3 != 0 {
		pc = 1 // user mode
	}
	atomic.StoreUint64(&profBuf[i], pc)
}

// kProfile starts (op 0, buf the sampling period in ns or 0) or stops
// (op 1) sampling; stopping copies up to n samples to buf and returns how
// many were taken (also those that did not fit).
//
//go:nosplit
func kProfile(op, buf, n uint64) int64 {
	switch op {
	case 0:
		profOn.Store(false)
		profN.Store(0)
		profPeriod.Store(buf)
		profOn.Store(true)
		return 0
	case 1:
		profOn.Store(false)
		got := profN.Load()
		k := min(got, n, uint64(len(profBuf)))
		if k > 0 && !mm.Access(uintptr(buf), uintptr(k*8), true) {
			return -efault
		}
		for i := uint64(0); i < k; i++ {
			st64(uintptr(buf+8*i), atomic.LoadUint64(&profBuf[i]))
		}
		return int64(got)
	}
	return -einval
}
