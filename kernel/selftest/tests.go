package selftest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Every CPU the firmware listed is online and the runtime uses them all.
func testCPUs(env Env) (string, error) {
	n, procs := runtime.NumCPU(), runtime.GOMAXPROCS(0)
	s := env.Stats()
	if n != env.CPUs || procs != n || s.Online != n {
		return "", fmt.Errorf("NumCPU %d, GOMAXPROCS %d, CPUs online %d/%d", n, procs, s.Online, env.CPUs)
	}
	return fmt.Sprintf("%d CPUs online, GOMAXPROCS=%d", n, procs), nil
}

// 10,000 goroutines in a ring pass a token around 10 times.
func testGoroutines(Env) (string, error) {
	const n, rounds = 10000, 10
	chans := make([]chan int, n)
	for i := range chans {
		chans[i] = make(chan int)
	}
	result := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in, out := chans[i], chans[(i+1)%n]
			for r := 0; r < rounds; r++ {
				v := <-in
				if i == n-1 && r == rounds-1 {
					result <- v + 1
					return
				}
				out <- v + 1
			}
		}(i)
	}
	chans[0] <- 0
	v := <-result
	wg.Wait()
	if want := n * rounds; v != want {
		return "", fmt.Errorf("token counted %d hops, want %d", v, want)
	}
	return fmt.Sprintf("%d goroutines, %d messages", n, n*rounds), nil
}

// Timers: time.After, a Ticker, AfterFunc, and a timer stopped in time.
func testTimers(Env) (string, error) {
	start := time.Now()
	<-time.After(20 * time.Millisecond)
	tk := time.NewTicker(5 * time.Millisecond)
	for i := 0; i < 5; i++ {
		<-tk.C
	}
	tk.Stop()
	done := make(chan struct{})
	time.AfterFunc(10*time.Millisecond, func() { close(done) })
	<-done
	fired := false
	t := time.AfterFunc(time.Hour, func() { fired = true })
	if !t.Stop() || fired {
		return "", errors.New("a stopped timer fired")
	}
	if d := time.Since(start); d < 55*time.Millisecond {
		return "", fmt.Errorf("timers fired early: %v for at least 55ms of waits", d)
	}
	return fmt.Sprintf("after+ticker+afterfunc in %v", time.Since(start).Round(time.Millisecond)), nil
}

// time.Sleep never wakes early; the mean lateness is reported.
func testSleepAccuracy(Env) (string, error) {
	var total time.Duration
	var worst time.Duration
	const n = 20
	for i := 0; i < n; i++ {
		want := time.Duration(1+i%10) * time.Millisecond
		t0 := time.Now()
		time.Sleep(want)
		got := time.Since(t0)
		if got < want {
			return "", fmt.Errorf("Sleep(%v) returned after %v", want, got)
		}
		late := got - want
		total += late
		worst = max(worst, late)
	}
	if worst > 5*time.Second {
		return "", fmt.Errorf("a sleep was %v late", worst)
	}
	return fmt.Sprintf("mean error %v, worst %v over %d sleeps of 1-10ms", (total / n).Round(time.Microsecond), worst.Round(time.Microsecond), n), nil
}

// The collector under pressure: allocate four times the node's RAM in
// total while a checked live set survives many collections.
func testGCStress(env Env) (string, error) {
	s := env.Stats()
	total := 4 * s.MemTotal
	const chunk = 64 << 10
	live := make([][]byte, 256) // 16 MiB live
	for i := range live {
		live[i] = fill(make([]byte, chunk), byte(i))
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var sink []byte
	for done := uint64(0); done < total; done += chunk {
		b := make([]byte, chunk)
		b[0], b[chunk-1] = 1, 2
		sink = b
		if done/chunk%97 == 0 {
			i := int(done/chunk) % len(live)
			live[i] = fill(make([]byte, chunk), byte(i))
		}
	}
	_ = sink
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	for i, b := range live {
		if !check(b, byte(i)) {
			return "", fmt.Errorf("live buffer %d corrupted", i)
		}
	}
	gcs := ms1.NumGC - ms0.NumGC
	if gcs < 10 {
		return "", fmt.Errorf("only %d collections for %d MiB allocated", gcs, total>>20)
	}
	return fmt.Sprintf("%d MiB allocated (4x RAM), %d GCs, 16 MiB live intact, heap %d MiB", total>>20, gcs, ms1.HeapAlloc>>20), nil
}

func fill(b []byte, seed byte) []byte {
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func check(b []byte, seed byte) bool {
	for i := range b {
		if b[i] != seed+byte(i*7) {
			return false
		}
	}
	return true
}

// Maps and big slices.
func testMapsSlices(env Env) (string, error) {
	m := make(map[int]string)
	for i := 0; i < 100000; i++ {
		m[i] = fmt.Sprint(i)
	}
	for i := 0; i < 100000; i += 997 {
		if m[i] != fmt.Sprint(i) {
			return "", fmt.Errorf("map[%d] = %q", i, m[i])
		}
	}
	for i := 0; i < 100000; i += 2 {
		delete(m, i)
	}
	if len(m) != 50000 {
		return "", fmt.Errorf("len(map) = %d after deletes", len(m))
	}
	size := 64 << 20
	if s := env.Stats(); s.MemTotal < 256<<20 {
		size = 16 << 20
	}
	big := make([]uint64, size/8)
	for i := range big {
		big[i] = uint64(i) * 0x9E3779B97F4A7C15
	}
	for i := 0; i < len(big); i += 4099 {
		if big[i] != uint64(i)*0x9E3779B97F4A7C15 {
			return "", fmt.Errorf("big slice corrupted at %d", i)
		}
	}
	grow := []int{}
	for i := 0; i < 1<<20; i++ {
		grow = append(grow, i)
	}
	if grow[1<<20-1] != 1<<20-1 {
		return "", errors.New("append lost data")
	}
	return fmt.Sprintf("map of 100k, %d MiB slice, 1M appends", size>>20), nil
}

func testDeferRecover(Env) (string, error) {
	order := []int{}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				order = append(order, -1)
			}
		}()
		for i := 0; i < 3; i++ {
			defer func(i int) { order = append(order, i) }(i)
		}
		panic("boom")
	}()
	if fmt.Sprint(order) != "[2 1 0]" {
		return "", fmt.Errorf("defers ran as %v", order)
	}
	return "LIFO defers, recover of panic", nil
}

// Hardware faults become Go panics through the kernel's signal delivery.
func testFaultRecover(Env) (string, error) {
	var got []string
	try := func(f func()) {
		defer func() {
			r := recover()
			if e, ok := r.(runtime.Error); ok {
				got = append(got, e.Error())
			} else {
				got = append(got, fmt.Sprint("no runtime error: ", r))
			}
		}()
		f()
	}
	var p *[1 << 12]int
	try(func() { p[7] = 1 }) // page fault at a small address: nil dereference
	zero := 0
	try(func() { _ = 10 / zero }) // #DE
	if !strings.Contains(got[0], "nil pointer dereference") || !strings.Contains(got[1], "divide by zero") {
		return "", fmt.Errorf("got %q", got)
	}
	return "nil dereference (#PF) and divide by zero (#DE) recovered", nil
}

func testRuntimeStack(Env) (string, error) {
	buf := make([]byte, 1<<16)
	n := runtime.Stack(buf, true)
	s := string(buf[:n])
	if !strings.Contains(s, "testRuntimeStack") || !strings.Contains(s, "goroutine ") {
		return "", fmt.Errorf("stack lacks this function:\n%s", s)
	}
	debug.SetTraceback("all")
	return fmt.Sprintf("%d goroutines in a %d-byte dump", strings.Count(s, "goroutine "), n), nil
}

// Asynchronous preemption: with one P, a loop without calls must still
// give way (the runtime sends SIGURG; the kernel delivers it), and the
// loop's floating-point state (kept in vector registers across the
// preemptions) must come back intact from each signal frame.
func testPreemption(Env) (string, error) {
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	var stop atomic.Bool
	var steps atomic.Uint64
	var sum atomic.Uint64
	go func() {
		n, x, y := uint64(0), 0.0, 1.0
		for !stop.Load() {
			n++
			x += 0.5
			y = y*1.0000001 + 0.25
		}
		steps.Store(n)
		if x != float64(n)*0.5 {
			sum.Store(1) // the accumulator lost its value
		}
		_ = y
	}()
	start := time.Now()
	time.Sleep(30 * time.Millisecond)
	stop.Store(true)
	waited := time.Since(start)
	for steps.Load() == 0 {
		runtime.Gosched()
	}
	if waited > 5*time.Second {
		return "", fmt.Errorf("main goroutine waited %v behind a tight loop", waited)
	}
	if sum.Load() != 0 {
		return "", errors.New("floating-point state changed across preemptions")
	}
	return fmt.Sprintf("tight loop preempted, float state intact over %d steps; main ran after %v", steps.Load(), waited.Round(time.Millisecond)), nil
}

// Two goroutines locked to their own OS threads bounce a message: futex
// wake-ups across threads (and CPUs).
func testPingPong(Env) (string, error) {
	const n = 2000
	ping, pong := make(chan int), make(chan int)
	go func() {
		runtime.LockOSThread()
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	v := 0
	for i := 0; i < n; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	if v != n {
		return "", fmt.Errorf("counted %d round trips, want %d", v, n)
	}
	d := time.Since(start)
	return fmt.Sprintf("%d round trips between threads, %v each", n, (d / n).Round(100*time.Nanosecond)), nil
}

// A CPU-bound job split over all CPUs: every CPU must take part (each
// worker on its own thread, all running at once, no CPU idle through the
// job). The speed-up against one worker is reported, not asserted: it
// depends on what else the host runs (docs/benchmarks.md measures it).
func testSpeedup(env Env) (string, error) {
	cpus := runtime.GOMAXPROCS(0)
	if cpus < 2 {
		return "1 CPU: nothing to compare", nil
	}
	const work = 1 << 27
	start := time.Now()
	Spin(1, work)
	one := time.Since(start)

	type span struct {
		tid        int
		start, end time.Duration
	}
	spans := make([]span, cpus)
	before := env.Stats()
	t0 := time.Now()
	var wg sync.WaitGroup
	for p := 0; p < cpus; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			s := time.Since(t0)
			spin(work / cpus)
			spans[p] = span{syscall.Gettid(), s, time.Since(t0)}
		}(p)
	}
	wg.Wait()
	all := time.Since(t0)
	after := env.Stats()

	tids := map[int]bool{}
	latestStart, earliestEnd := time.Duration(0), all
	for _, s := range spans {
		tids[s.tid] = true
		latestStart, earliestEnd = max(latestStart, s.start), min(earliestEnd, s.end)
	}
	if len(tids) != cpus {
		return "", fmt.Errorf("%d workers ran on %d threads", cpus, len(tids))
	}
	if latestStart >= earliestEnd {
		return "", fmt.Errorf("the workers never ran at the same time: %v", spans)
	}
	for i := range after.IdleNs {
		if i < len(before.IdleNs) && after.IdleNs[i]-before.IdleNs[i] > uint64(all)*9/10 {
			return "", fmt.Errorf("cpu %d idled %v of the %v job", i, time.Duration(after.IdleNs[i]-before.IdleNs[i]), all)
		}
	}
	return fmt.Sprintf("%d workers on %d threads, all CPUs busy; %.2fx faster than one worker (%v vs %v)",
		cpus, len(tids), float64(one)/float64(all), all.Round(time.Millisecond), one.Round(time.Millisecond)), nil
}

var spinSink atomic.Uint64

// SpinBench times the CPU-bound job on one goroutine and split over
// GOMAXPROCS goroutines, rounds times, printing one line per round:
// "bench: spin cpus=N one=MS all=MS" (the kernel and the Linux reference
// of tools/bench print the same).
func SpinBench(w io.Writer, rounds int) {
	n := runtime.GOMAXPROCS(0)
	Spin(n, 1<<26) // warm up
	for r := 0; r < rounds; r++ {
		start := time.Now()
		Spin(1, 1<<29)
		one := time.Since(start)
		start = time.Now()
		Spin(n, 1<<29)
		all := time.Since(start)
		fmt.Fprintf(w, "bench: spin cpus=%d one=%.1f all=%.1f\n", n, float64(one)/1e6, float64(all)/1e6)
	}
}

// Spin runs a CPU-bound job of work steps split over parts goroutines and
// waits for it (the parallel speed-up test and benchmark).
func Spin(parts, work int) {
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spin(work / parts)
		}()
	}
	wg.Wait()
}

func spin(n int) {
	x := uint64(n)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	spinSink.Add(x)
}

// The monotonic clock never goes back, as seen from every CPU.
func testMonotonic(Env) (string, error) {
	base := time.Now()
	var last atomic.Int64
	var bad atomic.Int64
	var wg sync.WaitGroup
	n := runtime.GOMAXPROCS(0) * 2
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				prev := last.Load()
				t := int64(time.Since(base))
				if t < prev {
					bad.Store(prev - t)
				}
				for t > prev && !last.CompareAndSwap(prev, t) {
					prev = last.Load()
				}
				if i%1000 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	if b := bad.Load(); b != 0 {
		return "", fmt.Errorf("the clock went back by %v", time.Duration(b))
	}
	return fmt.Sprintf("%d readers x 20000 reads", n), nil
}

// The runtime reads the clock through the kernel's vDSO: time.Now makes
// no system call (it makes two without the vDSO, dunix.vdso=0).
func testClockVDSO(env Env) (string, error) {
	const n = 10000
	before := env.Stats().Syscalls
	var last time.Time
	for i := 0; i < n; i++ {
		t := time.Now()
		if t.Before(last) {
			return "", fmt.Errorf("time.Now went back from %v to %v", last, t)
		}
		last = t
	}
	calls := env.Stats().Syscalls - before
	if env.VDSO && calls >= n/10 {
		return "", fmt.Errorf("%d time.Now calls made %d system calls: the runtime does not use the vDSO", n, calls)
	}
	if !env.VDSO && calls < 2*n {
		return "", fmt.Errorf("without the vDSO, %d time.Now calls made only %d system calls", n, calls)
	}
	return fmt.Sprintf("vdso %v: %d time.Now calls, %d system calls", env.VDSO, n, calls), nil
}

// madvise(MADV_DONTNEED) really drops pages: they read back as zero (the
// runtime's scavenger relies on it).
func testMadvise(Env) (string, error) {
	const size = 64 << 10
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return "", fmt.Errorf("mmap: %v", err)
	}
	defer syscall.Munmap(b)
	for i := range b {
		b[i] = 0xA5
	}
	if err := syscall.Madvise(b, syscall.MADV_DONTNEED); err != nil {
		return "", fmt.Errorf("madvise: %v", err)
	}
	for i := 0; i < size; i += 512 {
		if b[i] != 0 {
			return "", fmt.Errorf("byte %d is %#x after MADV_DONTNEED", i, b[i])
		}
	}
	vec := make([]byte, size/4096)
	syscall.Madvise(b, syscall.MADV_DONTNEED)
	b[0] = 1
	_, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), size, uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 || vec[0]&1 != 1 || vec[1]&1 != 0 {
		return "", fmt.Errorf("mincore: %v %v", e, vec[:2])
	}
	return "dropped pages read as zero; mincore agrees", nil
}

// An unimplemented system call answers ENOSYS.
func testENOSYS(Env) (string, error) {
	_, _, e := syscall.Syscall(syscall.SYS_ACCT, 0, 0, 0)
	if e != syscall.ENOSYS {
		return "", fmt.Errorf("acct returned %v, want ENOSYS", e)
	}
	_ = rand.Int()
	return "acct(2) -> ENOSYS", nil
}
