// Package selftest is the kernel's in-kernel test suite, run at boot with
// dunix.selftest=1 (by `dunix selftest` and in CI) or from the console. It
// checks that the Go runtime really works on the bare-metal host: many
// goroutines, timers, garbage collection under pressure, maps and big
// slices, panics and recovery of hardware faults, asynchronous
// preemption, parallel speed-up on all CPUs, and a clock that never goes
// back.
//
// Each test prints one line, "selftest: PASS name detail" or
// "selftest: FAIL name: reason", and the run ends with
// "selftest: P passed, F failed".
package selftest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Stats are the kernel figures the tests look at.
type Stats struct {
	MemTotal, MemFree uint64
	Online            int
	Switches          uint64
	Syscalls          uint64   // system calls taken, the runtime's and user programs'
	IdleNs            []uint64 // per CPU, time spent in the idle thread
}

// Env is what the kernel gives the tests.
type Env struct {
	CPUs  int          // CPUs online
	VDSO  bool         // the runtime was given the kernel's vDSO
	Stats func() Stats // current kernel figures
	Only  string       // run only the tests whose name contains this
}

type test struct {
	name string
	run  func(Env) (string, error)
}

var tests = []test{
	{"cpus", testCPUs},
	{"goroutines", testGoroutines},
	{"timers", testTimers},
	{"sleep-accuracy", testSleepAccuracy},
	{"gc-stress", testGCStress},
	{"maps-slices", testMapsSlices},
	{"defer-recover", testDeferRecover},
	{"fault-recover", testFaultRecover},
	{"runtime-stack", testRuntimeStack},
	{"preemption", testPreemption},
	{"threads-pingpong", testPingPong},
	{"parallel-speedup", testSpeedup},
	{"clock-monotonic", testMonotonic},
	{"clock-vdso", testClockVDSO},
	{"madvise-zero", testMadvise},
	{"enosys", testENOSYS},
}

// Run runs the tests, printing a line each, and returns how many failed.
func Run(w io.Writer, env Env) int {
	passed, failed := 0, 0
	for _, t := range tests {
		if env.Only != "" && !strings.Contains(t.name, env.Only) {
			continue
		}
		start := time.Now()
		detail, err := runOne(t, env)
		d := time.Since(start).Round(time.Millisecond)
		if err != nil {
			failed++
			fmt.Fprintf(w, "selftest: FAIL %s: %v (%v)\n", t.name, err, d)
		} else {
			passed++
			fmt.Fprintf(w, "selftest: PASS %s %s (%v)\n", t.name, detail, d)
		}
	}
	fmt.Fprintf(w, "selftest: %d passed, %d failed\n", passed, failed)
	return failed
}

func runOne(t test, env Env) (detail string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return t.run(env)
}
