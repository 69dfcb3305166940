package kernel

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"dunix/kernel/cmdline"
	"dunix/kernel/selftest"
)

// UserInit starts user space (the main package sets it): it returns
// false when there is nothing to run (no root file system given).
var UserInit func(flags cmdline.Flags) bool

// Main is the kernel's main function, run by the runtime's main goroutine
// once the Go runtime is up on the boot CPU.
func Main() {
	flags := cmdline.Parse(os.Args[1:])
	if !quiet {
		fmt.Printf("dunix: Go %s runtime up, GOMAXPROCS=%d\n", runtime.Version(), runtime.GOMAXPROCS(0))
	}
	startCPUs()
	startEntropy()
	s := ReadStats()
	bootMs := float64(s.NowTSC-s.BootTSC) / float64(s.TSCHz) * 1e3
	if !quiet {
		fmt.Printf("dunix: ready: %d/%d cpus online, %d MiB RAM (%d MiB free), kernel up in %.1f ms\n",
			s.Online, s.NCPU, s.MemTotal>>20, s.MemFree>>20, bootMs)
		if uswitchOn {
			fmt.Println("dunix: one CPU under TCG: address spaces switch inside the CPU's own root (dunix.uswitch=0: CR3 writes)")
		}
	}

	switch {
	case flags.Bool("dunix.probe"):
		fmt.Println("dunix: probe ok")
		PowerOff(0)
	case flags.Has("dunix.crash"):
		crash(flags.String("dunix.crash"))
	case flags.Bool("dunix.selftest"):
		failed := selftest.Run(os.Stdout, selftest.Env{
			CPUs:  int(s.Online),
			VDSO:  runtimeVDSO,
			Stats: func() selftest.Stats { return toSelftestStats(ReadStats()) },
			Only:  flags.String("dunix.selftest.only"),
		})
		if failed > 0 {
			PowerOff(1)
		}
		PowerOff(0)
	case flags.Has("dunix.bench"):
		bench(flags.String("dunix.bench"))
		PowerOff(0)
	case flags.Bool("dunix.nettest"):
		netTest()
	case flags.Bool("dunix.oneshot"):
		report(os.Stdout)
		PowerOff(0)
	}
	if UserInit != nil && UserInit(flags) {
		select {} // user space powers the node off when its first process ends
	}
	report(os.Stdout)
	monitor()
}

// kcall makes a kernel call.
func kcall(n, a0, a1 uintptr) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall(n, a0, a1, 0)
	return r, e
}

// ReadStats returns the kernel's counters.
func ReadStats() *Stats {
	s := new(Stats)
	kcall(kcallStats, uintptr(unsafe.Pointer(s)), 0)
	return s
}

// PowerOff switches the node off with the exit status.
func PowerOff(status int) {
	os.Stdout.Sync()
	kcall(kcallPoweroff, uintptr(status), 0)
	select {}
}

// startCPUs brings the application processors up, one at a time, paced
// by real sleeps (INIT, 10 ms, SIPI, and a second SIPI if needed).
func startCPUs() {
	s := ReadStats()
	for i := uintptr(1); i < uintptr(s.NCPU); i++ {
		if _, e := kcall(kcallStartCPU, i, 0); e != 0 {
			fmt.Printf("dunix: cpu %d: cannot start: %v\n", i, e)
			continue
		}
		time.Sleep(10 * time.Millisecond)
		up := false
		for try := 0; try < 2 && !up; try++ {
			kcall(kcallStartCPU, i, 1)
			for wait := 0; wait < 100 && !up; wait++ {
				time.Sleep(time.Millisecond)
				r, _ := kcall(kcallStartCPU, i, 2)
				up = r == 1
			}
		}
		if !up {
			fmt.Printf("dunix: cpu %d (APIC %d) did not come up\n", i, s.CPU[i].APICID)
		}
	}
}

// ENOSYSCounts returns how often each unimplemented call was made.
func ENOSYSCounts() map[string]uint32 {
	var buf [512]uint32
	kcall(kcallENOSYS, uintptr(unsafe.Pointer(&buf)), 0)
	m := map[string]uint32{}
	for nr, n := range buf {
		if n == 0 {
			continue
		}
		name := fmt.Sprint(nr)
		if nr < len(sysNames) && sysNames[nr] != "" {
			name = sysNames[nr]
		}
		m[name] = n
	}
	return m
}

// report prints the self-report of the node.
func report(w *os.File) {
	s := ReadStats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "dunix: cpus %d online; memory %d MiB, %d MiB free; kernel resident %d KiB (image %d KiB + %d KiB allocated); Go heap %d KiB; threads %d\n",
		s.Online, s.MemTotal>>20, s.MemFree>>20, (s.ImageBytes+s.MemTotal-s.MemFree)>>10, s.ImageBytes>>10, (s.MemTotal-s.MemFree)>>10, ms.HeapAlloc>>10, s.Threads)
	fmt.Fprintf(w, "dunix: clock %.3f GHz TSC, %s timer; xsave %#x (%d bytes); random %s\n",
		float64(s.TSCHz)/1e9, map[bool]string{true: "TSC-deadline", false: "APIC one-shot"}[s.DeadlineTimer == 1],
		s.XsaveMask, s.XsaveSize, randomSources(s.HWRandom == 1))
	if m := ENOSYSCounts(); len(m) > 0 {
		var parts []string
		for k, v := range m {
			parts = append(parts, fmt.Sprintf("%s×%d", k, v))
		}
		fmt.Fprintf(w, "dunix: unimplemented system calls so far: %s\n", strings.Join(parts, ", "))
	} else {
		fmt.Fprintln(w, "dunix: unimplemented system calls so far: none")
	}
}

// monitor is the console's command loop.
func monitor() {
	in := bufio.NewReader(os.Stdin)
	for {
		fmt.Print("dunix> ")
		line, err := readLine(in)
		if err != nil {
			fmt.Println("\ndunix: console closed:", err)
			select {}
		}
		switch f := strings.Fields(line); {
		case len(f) == 0:
		case f[0] == "help":
			fmt.Println("commands: report, cpus, selftest [name], poweroff [status], help")
		case f[0] == "report":
			report(os.Stdout)
		case f[0] == "cpus":
			s := ReadStats()
			for i := 0; i < int(s.NCPU); i++ {
				c := s.CPU[i]
				fmt.Printf("cpu %d apic %d online %d: %d syscalls, %d interrupts, %d switches, %d faults, idle %.1f s\n",
					i, c.APICID, c.Online, c.Syscalls, c.Interrupts, c.Switches, c.Faults, float64(c.IdleNs)/1e9)
			}
		case f[0] == "selftest":
			only := ""
			if len(f) > 1 {
				only = f[1]
			}
			selftest.Run(os.Stdout, selftest.Env{CPUs: int(ReadStats().Online), VDSO: runtimeVDSO, Stats: func() selftest.Stats { return toSelftestStats(ReadStats()) }, Only: only})
		case f[0] == "poweroff":
			st := 0
			if len(f) > 1 {
				fmt.Sscan(f[1], &st)
			}
			PowerOff(st)
		default:
			fmt.Printf("unknown command %q (try help)\n", f[0])
		}
	}
}

// readLine reads a line from the serial console, echoing and handling
// backspace (the console has no line discipline of its own yet).
func readLine(in *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := in.ReadByte()
		if err != nil {
			return "", err
		}
		switch c {
		case '\r', '\n':
			fmt.Print("\n")
			return string(b), nil
		case 0x7F, 0x08:
			if len(b) > 0 {
				b = b[:len(b)-1]
				fmt.Print("\b \b")
			}
		default:
			if c >= ' ' {
				b = append(b, c)
				os.Stdout.Write([]byte{c})
			}
		}
	}
}

func toSelftestStats(s *Stats) selftest.Stats {
	out := selftest.Stats{MemTotal: s.MemTotal, MemFree: s.MemFree, Online: int(s.Online)}
	for i := 0; i < int(s.NCPU); i++ {
		out.Switches += s.CPU[i].Switches
		out.Syscalls += s.CPU[i].Syscalls
		out.IdleNs = append(out.IdleNs, s.CPU[i].IdleNs)
	}
	return out
}

// bench runs a kernel-side benchmark for tools/bench.
func bench(kind string) {
	switch kind {
	case "spin":
		selftest.SpinBench(os.Stdout, 3)
	case "kcall":
		kcallBench()
	default:
		fmt.Printf("dunix: unknown benchmark %q\n", kind)
	}
}

// kcallBench times the kernel's own system calls (getpid, answered in
// trap context): the round trip from Go code into trap context and back,
// raw and with the runtime's entersyscall/exitsyscall, which every user
// system call pays twice (kernel.UserTask.Run).
func kcallBench() {
	const n = 200000
	for round := 0; round < 3; round++ {
		t := time.Now()
		for i := 0; i < n; i++ {
			syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		}
		raw := time.Since(t)
		t = time.Now()
		for i := 0; i < n; i++ {
			syscall.Syscall(syscall.SYS_GETPID, 0, 0, 0)
		}
		full := time.Since(t)
		fmt.Printf("kcall: raw %d ns, with entersyscall %d ns\n", raw.Nanoseconds()/n, full.Nanoseconds()/n)
	}
}

// netTest sends a broadcast frame every 500 ms on each NIC and prints the
// frames it receives (a driver check between QEMU nodes on one LAN).
func netTest() {
	for _, d := range PCIDevices() {
		fmt.Println("pci:", d)
	}
	nics, err := NICs()
	if err != nil {
		fmt.Println("net:", err)
	}
	for _, n := range nics {
		fmt.Println("net:", n)
		n := n
		n.Attach(func(f []byte) {
			fmt.Printf("net: rx %d bytes from %x: %q\n", len(f), f[6:12], f[14:min(len(f), 40)])
		})
		go func() {
			for i := 0; ; i++ {
				f := make([]byte, 60)
				copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
				m := n.MAC()
				copy(f[6:], m[:])
				f[12], f[13] = 0x88, 0xb5
				copy(f[14:], fmt.Sprintf("hello %d", i))
				if err := n.Transmit(f); err != nil {
					fmt.Println("net: tx:", err)
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
	}
	time.Sleep(5 * time.Second)
	for _, n := range nics {
		fmt.Printf("net: %v: rx %d tx %d dropped %d/%d\n", n, n.RXFrames.Load(), n.TXFrames.Load(), n.RXDropped.Load(), n.TXDropped.Load())
	}
	PowerOff(0)
}

// randomSources names where getrandom's bytes come from.
func randomSources(rdrand bool) string {
	s := "TSC-seeded generator"
	if rdrand {
		s = "RDRAND"
	}
	s += " + AES-CTR pool"
	if poolSource.Load() {
		s += fmt.Sprintf(" fed by virtio-rng (%d bytes so far)", entropyBytes.Load())
	} else if !rdrand {
		s += " (no entropy device: not cryptographic)"
	}
	return s
}
