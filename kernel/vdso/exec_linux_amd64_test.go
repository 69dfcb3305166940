package vdso

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// These tests run the page's code on the host: the image in a memfd
// mapped twice, read+write (where SetClock writes, as the kernel does)
// and read+execute (what the code runs from), called through callC3.

// runner is the page mapped for running.
type runner struct {
	t       *testing.T
	rw, rx  []byte // the page: writable view, executable view
	stub    []byte // an executable page holding rdtsc
	scratch []byte // output structures (not Go memory: nothing moves)
	addr    map[string]uintptr
}

func newRunner(t *testing.T, c Clock) *runner {
	t.Helper()
	fd, err := unix.MemfdCreate("vdso-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Skipf("cannot run the code on this host: memfd_create: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, Size); err != nil {
		t.Fatal(err)
	}
	r := &runner{t: t, addr: map[string]uintptr{}}
	if r.rw, err = unix.Mmap(fd, 0, Size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		t.Fatal(err)
	}
	if r.rx, err = unix.Mmap(fd, 0, Size, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_SHARED); err != nil {
		t.Skipf("cannot run the code on this host: executable mapping: %v", err)
	}
	if r.stub, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON); err != nil {
		t.Fatal(err)
	}
	copy(r.stub, []byte{
		0x0F, 0x31, // rdtsc
		0x48, 0xC1, 0xE2, 0x20, // shl rdx, 32
		0x48, 0x09, 0xD0, // or rax, rdx
		0xC3, // ret
	})
	if err := unix.Mprotect(r.stub, unix.PROT_READ|unix.PROT_EXEC); err != nil {
		t.Skipf("cannot run the code on this host: mprotect: %v", err)
	}
	if r.scratch, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, m := range [][]byte{r.rw, r.rx, r.stub, r.scratch} {
			unix.Munmap(m)
		}
	})
	img := Image(c)
	copy(r.rw, img[:])
	syms := dynsyms(t, parse(t, img[:]))
	for _, e := range exported {
		r.addr[e.name] = uintptr(unsafe.Pointer(&r.rx[0])) + uintptr(syms[e.name].Value)
	}
	return r
}

// call calls the symbol with the arguments.
func (r *runner) call(name string, a, b, c uintptr) int64 {
	return int64(callC3(r.addr[name], a, b, c))
}

// tsc reads the TSC.
func (r *runner) tsc() uint64 {
	return uint64(callC3(uintptr(unsafe.Pointer(&r.stub[0])), 0, 0, 0))
}

// Offsets in scratch of the output structures.
const (
	outTS = 0   // struct timespec
	outTV = 64  // struct timeval
	outTZ = 128 // struct timezone
	outT  = 192 // time_t
)

func (r *runner) out(off int) uintptr { return uintptr(unsafe.Pointer(&r.scratch[off])) }
func (r *runner) word(off int) int64  { return int64(le.Uint64(r.scratch[off:])) }

// poison fills the scratch memory with 0xAA.
func (r *runner) poison() {
	for i := range r.scratch[:256] {
		r.scratch[i] = 0xAA
	}
}

const poisoned = -0x5555555555555556 // 0xAAAAAAAAAAAAAAAA

// clockGettime calls __vdso_clock_gettime(id, &ts).
func (r *runner) clockGettime(id uintptr) (ret, sec, nsec int64) {
	r.poison()
	ret = r.call("__vdso_clock_gettime", id, r.out(outTS), 0)
	return ret, r.word(outTS), r.word(outTS + 8)
}

// gettimeofday calls __vdso_gettimeofday(&tv, &tz).
func (r *runner) gettimeofday() (ret, sec, usec int64, tz uint64) {
	r.poison()
	ret = r.call("__vdso_gettimeofday", r.out(outTV), r.out(outTZ), 0)
	return ret, r.word(outTV), r.word(outTV + 8), uint64(r.word(outTZ))
}

// nsOf is the kernel's arithmetic: ns since boot at TSC value tsc.
func nsOf(c Clock, tsc uint64) int64 {
	hi, lo := bits.Mul64(tsc-c.TSCBase, c.Mult)
	return int64(hi<<32 | lo>>32)
}

// split is the floored division of ns into seconds and nanoseconds.
func split(ns int64) (sec, nsec int64) {
	sec, nsec = ns/1e9, ns%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	return
}

const (
	clockRealtime       = 0
	clockMonotonic      = 1
	clockProcessCPUTime = 2
	clockThreadCPUTime  = 3
	clockMonotonicRaw   = 4
	clockRealtimeCoarse = 5
	clockMonotonicCoars = 6
	clockBoottime       = 7
	clockTAI            = 11
)

// The TSC clocks with a real TSC: each result lies between the TSC read
// just before and just after, through the kernel's arithmetic.
func TestExecTSC(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newRunner(t, Clock{})
	t0 := r.tsc()
	for _, c := range []Clock{
		{TSCBase: 0, Mult: 1 << 32, WallBase: 0, Usable: true},                                // 1 ns per tick
		{TSCBase: t0 - 1e9, Mult: 3 << 31, WallBase: 1_700_000_000_123_456_789, Usable: true}, // 1.5 ns
		{TSCBase: t0 - 5e9, Mult: 0x1_5555_5555, WallBase: 1_000_000_000, Usable: true},       // 1.33 ns
		{TSCBase: t0 - 7e9, Mult: 0x4000_0000, WallBase: 42, Usable: true},                    // 0.25 ns
	} {
		SetClock(r.rw, c)
		for _, id := range []uintptr{clockRealtime, clockMonotonic, clockMonotonicRaw,
			clockRealtimeCoarse, clockMonotonicCoars, clockBoottime} {
			wall := int64(0)
			if id == clockRealtime || id == clockRealtimeCoarse {
				wall = c.WallBase
			}
			// TSCs of different CPUs may disagree by a little: every
			// sample within a slack, one at least exactly between.
			slack := nsOf(Clock{Mult: c.Mult}, 100_000) + 1
			exact := false
			for i := 0; i < 100; i++ {
				t1 := r.tsc()
				ret, sec, nsec := r.clockGettime(id)
				t2 := r.tsc()
				if ret != 0 || nsec < 0 || nsec >= 1e9 {
					t.Fatalf("clock %d %+v: ret %d, %d.%09d", id, c, ret, sec, nsec)
				}
				v := sec*1e9 + nsec
				lo, hi := wall+nsOf(c, t1), wall+nsOf(c, t2)
				if v < lo-slack || v > hi+slack {
					t.Fatalf("clock %d %+v: %d not in [%d, %d]", id, c, v, lo, hi)
				}
				if lo <= v && v <= hi {
					exact = true
				}
			}
			if !exact {
				t.Errorf("clock %d %+v: never between the TSC reads", id, c)
			}
		}
	}

	// Monotonic non-decreasing over 1000 calls, and REALTIME - MONOTONIC
	// = WallBase when read back to back.
	c := Clock{TSCBase: t0, Mult: 1 << 32, WallBase: 1_750_000_000_000_000_000, Usable: true}
	SetClock(r.rw, c)
	var last int64
	for i := 0; i < 1000; i++ {
		_, sec, nsec := r.clockGettime(clockMonotonic)
		v := sec*1e9 + nsec
		if v < last {
			t.Fatalf("monotonic went back: %d after %d", v, last)
		}
		last = v
	}
	best := int64(math.MaxInt64)
	for i := 0; i < 100; i++ {
		_, ms, mn := r.clockGettime(clockMonotonic)
		_, rs, rn := r.clockGettime(clockRealtime)
		if d := (rs*1e9 + rn) - (ms*1e9 + mn) - c.WallBase; d >= 0 && d < best {
			best = d
		}
	}
	if best > 1_000_000 {
		t.Errorf("REALTIME - MONOTONIC - WallBase at best %d ns", best)
	}
}

// With Mult 0 the time is exactly WallBase (realtime) and 0 (since
// boot): the conversion to seconds is checked exactly, negative times
// included.
func TestExecExact(t *testing.T) {
	r := newRunner(t, Clock{})
	for _, wall := range []int64{0, 1, 999, 1000, 999_999_999, 1e9, 1e9 + 1, 1_700_000_000_999_999_999,
		-1, -999, -1000, -1001, -1e9, -1e9 - 1, -123_456_789_012, math.MaxInt64, math.MinInt64} {
		SetClock(r.rw, Clock{TSCBase: 12345, Mult: 0, WallBase: wall, Usable: true})
		sec, nsec := split(wall)
		for _, id := range []uintptr{clockRealtime, clockRealtimeCoarse} {
			if ret, s, n := r.clockGettime(id); ret != 0 || s != sec || n != nsec {
				t.Errorf("wall %d clock %d: %d, %d.%09d, want %d.%09d", wall, id, ret, s, n, sec, nsec)
			}
		}
		for _, id := range []uintptr{clockMonotonic, clockMonotonicRaw, clockMonotonicCoars, clockBoottime} {
			if ret, s, n := r.clockGettime(id); ret != 0 || s != 0 || n != 0 {
				t.Errorf("wall %d clock %d: %d, %d.%09d, want 0", wall, id, ret, s, n)
			}
		}
		if ret, s, us, tz := r.gettimeofday(); ret != 0 || s != sec || us != nsec/1000 || tz != 0 {
			t.Errorf("wall %d gettimeofday: %d, %d.%06d tz %#x, want %d.%06d", wall, ret, s, us, tz, sec, nsec/1000)
		}
		r.poison()
		if ret := r.call("__vdso_time", r.out(outT), 0, 0); ret != sec || r.word(outT) != sec {
			t.Errorf("wall %d time(&t): %d, t %d, want %d", wall, ret, r.word(outT), sec)
		}
		if ret := r.call("__vdso_time", 0, 0, 0); ret != sec {
			t.Errorf("wall %d time(NULL): %d, want %d", wall, ret, sec)
		}
	}

	// NULL arguments of gettimeofday are left alone.
	SetClock(r.rw, Clock{Mult: 0, WallBase: 5_000_001_000, Usable: true})
	r.poison()
	if ret := r.call("__vdso_gettimeofday", 0, r.out(outTZ), 0); ret != 0 || r.word(outTZ) != 0 || r.word(outTV) != poisoned {
		t.Errorf("gettimeofday(NULL, &tz): %d, tz %#x", ret, r.word(outTZ))
	}
	r.poison()
	if ret := r.call("__vdso_gettimeofday", r.out(outTV), 0, 0); ret != 0 || r.word(outTV) != 5 || r.word(outTV+8) != 1 || r.word(outTZ) != poisoned {
		t.Errorf("gettimeofday(&tv, NULL): %d, tv %d.%06d tz %#x", ret, r.word(outTV), r.word(outTV+8), r.word(outTZ))
	}
	if ret := r.call("__vdso_gettimeofday", 0, 0, 0); ret != 0 {
		t.Errorf("gettimeofday(NULL, NULL): %d", ret)
	}

	// The clock id is an int: garbage in the upper half of RDI is ignored.
	if ret, s, n := r.clockGettime(0xdead_beef_0000_0000 | clockRealtime); ret != 0 || s != 5 || n != 1000 {
		t.Errorf("clock_gettime(garbage|REALTIME): %d, %d.%09d", ret, s, n)
	}
	// The aliases are the same code.
	r.poison()
	if ret := r.call("clock_gettime", clockRealtime, r.out(outTS), 0); ret != 0 || r.word(outTS) != 5 || r.word(outTS+8) != 1000 {
		t.Errorf("clock_gettime alias: %d", ret)
	}
	if ret := r.call("time", 0, 0, 0); ret != 5 {
		t.Errorf("time alias: %d", ret)
	}
}

// Clocks that are not ours, and everything when the TSC is not usable,
// are the host's system calls.
func TestExecSyscalls(t *testing.T) {
	r := newRunner(t, Clock{Mult: 0, WallBase: 1e9, Usable: true})
	for _, id := range []uintptr{clockProcessCPUTime, clockThreadCPUTime, clockTAI} {
		ret, sec, nsec := r.clockGettime(id)
		if ret != 0 || sec < 0 || nsec < 0 || nsec >= 1e9 || (id == clockTAI && sec < 1_500_000_000) {
			t.Errorf("clock %d: %d, %d.%09d", id, ret, sec, nsec)
		}
	}
	for _, id := range []uintptr{8 + 0xdead_0000_0000, 12345, 1 << 31} {
		if ret, sec, _ := r.clockGettime(id); ret != -int64(unix.EINVAL) || sec != poisoned {
			t.Errorf("clock %#x: %d, want -EINVAL and nothing written", id, ret)
		}
	}
	// A bad pointer: the host's -EFAULT.
	if ret := r.call("__vdso_clock_gettime", clockProcessCPUTime, 8, 0); ret != -int64(unix.EFAULT) {
		t.Errorf("clock_gettime(CPUTIME, 8): %d", ret)
	}
	r.poison()
	if ret := r.call("__vdso_getcpu", r.out(outT), r.out(outT+4), 0); ret != 0 ||
		le.Uint32(r.scratch[outT:]) >= 1<<16 || le.Uint32(r.scratch[outT+4:]) >= 1<<16 {
		t.Errorf("getcpu: %d, cpu %#x node %#x", ret, le.Uint32(r.scratch[outT:]), le.Uint32(r.scratch[outT+4:]))
	}

	// Usable false: the host's clocks.
	SetClock(r.rw, Clock{Mult: 1 << 32, WallBase: 1e9, Usable: false})
	host := func(id int32) int64 {
		var ts unix.Timespec
		if err := unix.ClockGettime(id, &ts); err != nil {
			t.Fatal(err)
		}
		return ts.Nano()
	}
	for _, id := range []uintptr{clockRealtime, clockMonotonic, clockMonotonicRaw, clockBoottime} {
		h1 := host(int32(id))
		ret, sec, nsec := r.clockGettime(id)
		h2 := host(int32(id))
		if v := sec*1e9 + nsec; ret != 0 || v < h1 || v > h2 || h2-h1 > 10e6 {
			t.Errorf("unusable clock %d: %d, %d not in [%d, %d]", id, ret, v, h1, h2)
		}
	}
	h1 := time.Now().UnixMicro()
	ret, sec, usec, tz := r.gettimeofday()
	h2 := time.Now().UnixMicro()
	if v := sec*1e6 + usec; ret != 0 || v < h1 || v > h2 || tz == 0xAAAAAAAAAAAAAAAA {
		t.Errorf("unusable gettimeofday: %d, %d not in [%d, %d], tz %#x", ret, v, h1, h2, tz)
	}
	s1 := time.Now().Unix()
	r.poison()
	tt := r.call("__vdso_time", r.out(outT), 0, 0)
	s2 := time.Now().Unix()
	if tt < s1 || tt > s2 || r.word(outT) != tt {
		t.Errorf("unusable time: %d, t %d, not in [%d, %d]", tt, r.word(outT), s1, s2)
	}

	// And usable again: SetClock takes effect at once.
	SetClock(r.rw, Clock{Mult: 0, WallBase: 7e9 + 5, Usable: true})
	if ret, sec, nsec := r.clockGettime(clockRealtime); ret != 0 || sec != 7 || nsec != 5 {
		t.Errorf("after SetClock: %d, %d.%09d", ret, sec, nsec)
	}
}

// A writer switching between two clocks while the code reads: the
// sequence counter keeps every result consistent with one clock.
func TestExecSeqlock(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newRunner(t, Clock{})
	t0 := r.tsc()
	const a, b = 1_000_000_000_000_000_000, 1_500_000_000_000_000_000
	c1 := Clock{TSCBase: 0, Mult: 0, WallBase: a, Usable: true}               // exactly a
	c2 := Clock{TSCBase: t0 - 1e12, Mult: 1 << 32, WallBase: b, Usable: true} // b + 1e12 + ticks since t0
	SetClock(r.rw, c1)

	var stop atomic.Bool
	var writes int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			SetClock(r.rw, c2)
			SetClock(r.rw, c1)
			writes += 2
		}
	}()
	var n1, n2 int
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		for i := 0; i < 1000; i++ {
			t1 := r.tsc()
			ret, sec, nsec := r.clockGettime(clockRealtime)
			t2 := r.tsc()
			v := sec*1e9 + nsec
			switch {
			case ret != 0:
				t.Fatalf("ret %d", ret)
			case v == a:
				n1++
			case v >= b+nsOf(c2, t1)-1e6 && v <= b+nsOf(c2, t2)+1e6:
				n2++
			default:
				stop.Store(true)
				t.Fatalf("torn read: %d (a %d, b+%d)", v, int64(a), v-b)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d SetClocks, %d reads of clock 1, %d of clock 2", writes, n1, n2)
	if seq := le.Uint64(r.rw[DataOffset:]); seq%2 != 0 || seq != uint64(2*(writes+1)) {
		t.Errorf("seq %d after %d SetClocks", seq, writes+1)
	}
}
