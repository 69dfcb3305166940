package kernel

import (
	"math/bits"
	"sync/atomic"

	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/drivers/pit"
)

// Time: the TSC, calibrated against the PIT at boot, gives monotonic
// nanoseconds since boot; the CMOS clock read at boot gives the wall-clock
// offset. now never goes back, also across CPUs (it returns at least the
// largest value any CPU has returned).

var (
	tscHz    uint64
	tscBoot  uint64
	nsPerTSC uint64 // 32.32 fixed point
	tscPerNs uint64 // 32.32 fixed point
	lastNow  atomic.Uint64

	// wallBoot is the Unix time in ns at boot (0 when the RTC is unreadable).
	wallBoot int64

	deadlineTimer bool   // TSC-deadline mode
	apicTimerHz   uint64 // LAPIC timer ticks per second (one-shot mode)
)

// calibrateClock measures the TSC against the PIT over 20 ms. Without a
// PIT it falls back to the frequency CPUID reports (leaf 0x15 or 0x16).
//
//go:nosplit
func calibrateClock() bool {
	const ticks = 2 * 11932 // 20 ms
	pit.StartRateGenerator()
	if d := pit.Measure(ticks, amd64.Rdtsc); d != 0 {
		setTSCHz(d * pit.Hz / ticks)
		return true
	}
	max, _, _, _ := amd64.CPUID(0, 0)
	if max >= 0x15 {
		den, num, crystal, _ := amd64.CPUID(0x15, 0)
		if den != 0 && num != 0 && crystal != 0 {
			setTSCHz(uint64(crystal) * uint64(num) / uint64(den))
			return true
		}
	}
	if max >= 0x16 {
		if mhz, _, _, _ := amd64.CPUID(0x16, 0); mhz != 0 {
			setTSCHz(uint64(mhz) * 1_000_000)
			return true
		}
	}
	return false
}

//go:nosplit
func setTSCHz(hz uint64) {
	tscHz = hz
	tscBoot = amd64.Rdtsc()
	nsPerTSC = (1_000_000_000 << 32) / hz
	tscPerNs = (hz << 32) / 1_000_000_000
}

// now returns nanoseconds since boot.
//
//go:nosplit
func now() uint64 {
	hi, lo := bits.Mul64(amd64.Rdtsc()-tscBoot, nsPerTSC)
	n := hi<<32 | lo>>32
	for {
		last := lastNow.Load()
		if n <= last {
			return last
		}
		if lastNow.CompareAndSwap(last, n) {
			return n
		}
	}
}

// tscAt returns the TSC value at ns since boot.
//
//go:nosplit
func tscAt(ns uint64) uint64 {
	hi, lo := bits.Mul64(ns, tscPerNs)
	return tscBoot + (hi<<32 | lo>>32)
}

// calibrateAPICTimer measures the LAPIC timer against the TSC, for CPUs
// without the TSC-deadline mode.
//
//go:nosplit
func calibrateAPICTimer() {
	lapic.TimerOneShot(vecTimer, 0xFFFFFFFF)
	start := amd64.Rdtsc()
	for amd64.Rdtsc()-start < tscHz/100 {
	}
	left := lapic.TimerCurrent()
	lapic.TimerStop()
	apicTimerHz = uint64(0xFFFFFFFF-left) * 100
	if apicTimerHz == 0 {
		apicTimerHz = 1_000_000_000
	}
}

// setTimer arms this CPU's timer interrupt for deadline (ns since boot).
//
//go:nosplit
func setTimer(deadline, t uint64) {
	if deadlineTimer {
		lapic.TimerDeadline(tscAt(deadline))
		return
	}
	d := deadline - t
	hi, lo := bits.Mul64(d, apicTimerHz)
	count, _ := bits.Div64(hi, lo, 1_000_000_000)
	if count == 0 {
		count = 1
	}
	if count > 0xFFFFFFFF {
		count = 0xFFFFFFFF
	}
	lapic.TimerOneShot(vecTimer, uint32(count))
}

// wallNow returns the Unix time in ns.
//
//go:nosplit
func wallNow() int64 { return wallBoot + int64(now()) }

// Nanotime returns nanoseconds since boot from the TSC: cheap enough to
// time every system call of a user thread (CPU-time accounting).
//
//go:nosplit
func Nanotime() int64 { return int64(now()) }

// VDSOClock returns what user programs need to read the clock themselves
// (the vDSO, kernel/vdso): the TSC at boot, nanoseconds per TSC tick in
// 32.32 fixed point, and the Unix time in ns at boot, the same figures
// now and the time system calls use. ok is false when the TSC was not
// calibrated (then programs make the system calls). It reads
// variables set once at boot (nosplit like the rest of this file).
//
//go:nosplit
func VDSOClock() (tscBase, mult uint64, wallBase int64, ok bool) {
	return tscBoot, nsPerTSC, wallBoot, tscHz != 0
}

//go:generate go run gen_vdso.go

// initVDSO fills the clock data of the kernel's own copy of the vDSO
// page (vdso_image_amd64.go), which the auxiliary vector gives the Go
// runtime: its nanotime and time.Now then read the TSC instead of making
// a system call (two per time.Now; the scheduler reads the clock at
// every switch). It runs once, before the runtime starts, on the boot
// CPU: the sequence count stays even and nothing reads concurrently.
//
//go:nosplit
func initVDSO() {
	vdsoPage[vdsoTSCBaseWord] = tscBoot
	vdsoPage[vdsoMultWord] = nsPerTSC
	vdsoPage[vdsoWallBaseWord] = uint64(wallBoot)
	vdsoPage[vdsoUsableWord] = 1
}
