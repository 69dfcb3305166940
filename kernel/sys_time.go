package kernel

import (
	"golang.org/x/sys/unix"

	"dunix/kernel/mm"
)

// Clocks: CLOCK_MONOTONIC (and its variants) count from boot; REALTIME is
// the RTC's time at boot plus that. Sleeping blocks the thread with a
// timeout.

//go:nosplit
func clockNow(id uint64) (int64, bool) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_TAI:
		return wallNow(), true
	case unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME:
		return int64(now()), true
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		// CPU time is not accounted per thread yet: report elapsed time,
		// which is what a thread that never blocked would have used.
		return int64(now()), true
	}
	return 0, false
}

//go:nosplit
func writeTimespec(p uint64, ns int64) bool {
	if !mm.Access(uintptr(p), 16, true) {
		return false
	}
	st64(uintptr(p), uint64(ns/1e9))
	st64(uintptr(p)+8, uint64(ns%1e9))
	return true
}

//go:nosplit
func sysClockGettime(id, tp uint64) int64 {
	ns, ok := clockNow(id)
	if !ok {
		return -einval
	}
	if !writeTimespec(tp, ns) {
		return -efault
	}
	return 0
}

//go:nosplit
func sysClockGetres(id, tp uint64) int64 {
	if _, ok := clockNow(id); !ok {
		return -einval
	}
	if tp != 0 && !writeTimespec(tp, 1) {
		return -efault
	}
	return 0
}

//go:nosplit
func sysGettimeofday(tv uint64) int64 {
	if tv == 0 {
		return 0
	}
	if !mm.Access(uintptr(tv), 16, true) {
		return -efault
	}
	ns := wallNow()
	st64(uintptr(tv), uint64(ns/1e9))
	st64(uintptr(tv)+8, uint64(ns%1e9/1000))
	return 0
}

//go:nosplit
func sysTime(p uint64) int64 {
	s := wallNow() / 1e9
	if p != 0 {
		if !mm.Access(uintptr(p), 8, true) {
			return -efault
		}
		st64(uintptr(p), uint64(s))
	}
	return s
}

//go:nosplit
func sysNanosleep(t *Thread, req, rem uint64) int64 {
	sec, nsec, ok := readTimespec(req)
	if !ok {
		return -efault
	}
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return -einval
	}
	return sleepUntil(t, now()+uint64(sec)*1e9+uint64(nsec))
}

//go:nosplit
func sysClockNanosleep(t *Thread, id, flags, req, rem uint64) int64 {
	sec, nsec, ok := readTimespec(req)
	if !ok {
		return -efault
	}
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return -einval
	}
	ns := uint64(sec)*1e9 + uint64(nsec)
	if _, ok := clockNow(id); !ok {
		return -einval
	}
	var deadline uint64
	switch {
	case flags&unix.TIMER_ABSTIME == 0:
		deadline = now() + ns
	case id == unix.CLOCK_REALTIME || id == unix.CLOCK_TAI:
		deadline = uint64(int64(ns) - wallBoot)
	default:
		deadline = ns
	}
	return sleepUntil(t, deadline)
}

//go:nosplit
func sleepUntil(t *Thread, deadline uint64) int64 {
	if deadline <= now() {
		return 0
	}
	block(t, waitSleep, 0, deadline)
	return keep
}
