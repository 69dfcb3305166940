// Command bench measures dunix against the references the issues name and
// prints each figure beside its reference, as a ratio from one run:
//
//	go run ./tools/bench boot [-n 10] [-cpus 1] [-mem 256]
//	    QEMU start to the kernel's first console line and to ready, median
//	    of n boots, dunix against Debian's own Linux kernel booting a
//	    one-file initramfs in the same QEMU (same machine, memory, CPUs,
//	    accelerator); plus the kernel's resident memory after boot.
//	go run ./tools/bench sys [-cpus 1] [-mem 256]
//	    system-call micro-benchmarks (tools/bench/sysbench, a static C
//	    program built with musl-gcc): the same binary as a dunix node's
//	    first process and as /init of Debian's Linux in the same QEMU.
//	go run ./tools/bench smp [-n 3]
//	    a CPU-bound job split over the CPUs, on a 1-vCPU and a 2-vCPU node
//	    (multi-threaded TCG here): the speed-up of 2 vCPUs over 1.
//	go run ./tools/bench fabric [-n 2,4,8,16] [-mem 256]
//	    N nodes on one LAN: QEMU start to full membership (every node's
//	    status document lists N alive members, polled by tools/observe),
//	    a node killed hard to every other node seeing it not alive (and
//	    dead), and the membership traffic per node at steady state.
//	go run ./tools/bench net [-mib 64] [-rtt 2000]
//	    TCP throughput of one stream and 1-byte round-trip time between two
//	    machines on one LAN (tools/bench/netbench, a static Go program):
//	    two dunix nodes against two Debian Linux guests in the same QEMU.
//
// The kernel is $DUNIX_KERNEL or bin/dunix-kernel-amd64 (make builds it);
// fabric and net build the tree's kernel with kimage.Build unless
// $DUNIX_KERNEL is set.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"dunix/fs/cpio"
	"dunix/qemu"
	"dunix/qemu/linuxref"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench boot|smp|sys|fabric|net [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "boot":
		err = benchBoot(os.Args[2:])
	case "smp":
		err = benchSMP(os.Args[2:])
	case "sys":
		err = benchSys(os.Args[2:])
	case "fabric", "net":
		// These run several machines at once: stop them all on Ctrl-C.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		if os.Args[1] == "fabric" {
			err = benchFabric(ctx, os.Args[2:])
		} else {
			err = benchNet(ctx, os.Args[2:])
		}
		stop()
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func kernelPath() string {
	if p := os.Getenv("DUNIX_KERNEL"); p != "" {
		return p
	}
	return "bin/dunix-kernel-amd64"
}

// run boots one machine and returns its result and console lines.
func run(cfg qemu.Config, readyLine string, timeout time.Duration) (qemu.Result, time.Duration, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	var lines []string
	ready := time.Duration(-1)
	res, err := qemu.Run(ctx, cfg, qemu.Options{OnLine: func(at time.Duration, l string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, l)
		if ready < 0 && strings.HasPrefix(l, readyLine) {
			ready = at
		}
	}})
	mu.Lock()
	defer mu.Unlock()
	if err == nil && ready < 0 {
		err = fmt.Errorf("no %q line (%s)", readyLine, res.Explain())
	}
	return res, ready, lines, err
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) }

var residentRE = regexp.MustCompile(`kernel resident (\d+) KiB \(image (\d+) KiB \+ (\d+) KiB allocated\); Go heap (\d+) KiB`)

func benchBoot(args []string) error {
	fs := flag.NewFlagSet("boot", flag.ExitOnError)
	n := fs.Int("n", 10, "boots of each kernel")
	cpus := fs.Int("cpus", 1, "virtual CPUs")
	mem := fs.Int("mem", 256, "memory in MiB")
	accelFlag := fs.String("accel", "auto", "auto, kvm or tcg")
	fs.Parse(args)

	base := qemu.Config{Kernel: kernelPath(), MemMiB: *mem, CPUs: *cpus, Accel: *accelFlag}
	accel, why, err := qemu.ChooseAccel(context.Background(), base)
	if err != nil {
		return err
	}
	base.Accel = accel
	fmt.Printf("# boot time, QEMU start to first console line and to ready; q35, %d vCPU, %d MiB, %s (%s)\n", *cpus, *mem, accel, why)
	fmt.Printf("# median of %d boots each; command: go run ./tools/bench boot -n %d -cpus %d -mem %d\n", *n, *n, *cpus, *mem)

	vmlinuz, err := linuxref.Kernel(context.Background(), "")
	if err != nil {
		return err
	}
	initrd, err := linuxref.Initramfs(context.Background(), "")
	if err != nil {
		return err
	}
	var dFirst, dReady, lFirst, lReady []time.Duration
	var resident string
	for i := 0; i < *n; i++ {
		cfg := base
		cfg.Cmdline = "dunix.oneshot=1"
		res, ready, lines, err := run(cfg, qemu.ReadyPrefix, 2*time.Minute)
		if err != nil {
			return fmt.Errorf("dunix boot %d: %v", i, err)
		}
		dFirst, dReady = append(dFirst, res.FirstLine), append(dReady, ready)
		for _, l := range lines {
			if m := residentRE.FindStringSubmatch(l); m != nil {
				resident = fmt.Sprintf("kernel resident after boot: %s KiB (image %s KiB + %s KiB allocated: page tables, stacks, Go heap %s KiB)", m[1], m[2], m[3], m[4])
			}
		}
		cfg = base
		cfg.Kernel, cfg.Cmdline, cfg.Extra = vmlinuz, linuxref.Cmdline, []string{"-initrd", initrd}
		res, ready, _, err = run(cfg, linuxref.ReadyLine, 5*time.Minute)
		if err != nil {
			return fmt.Errorf("linux boot %d: %v", i, err)
		}
		lFirst, lReady = append(lFirst, res.FirstLine), append(lReady, ready)
		fmt.Fprintf(os.Stderr, "run %d: dunix %s/%s, linux %s/%s\n", i+1, ms(dFirst[i]), ms(dReady[i]), ms(lFirst[i]), ms(lReady[i]))
	}
	fmt.Println()
	fmt.Println("| kernel | first line | ready |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| dunix | %s | %s |\n", ms(median(dFirst)), ms(median(dReady)))
	fmt.Printf("| Debian Linux 6.1 | %s | %s |\n", ms(median(lFirst)), ms(median(lReady)))
	fmt.Printf("| dunix/Linux | %.3f | %.3f |\n", float64(median(dFirst))/float64(median(lFirst)), float64(median(dReady))/float64(median(lReady)))
	fmt.Printf("\ndunix reaches ready %.1fx faster than Linux (goal: at least 5x).\n", float64(median(lReady))/float64(median(dReady)))
	if resident != "" {
		fmt.Println(resident)
	}
	return nil
}

var spinRE = regexp.MustCompile(`bench: spin cpus=(\d+) one=([0-9.]+) all=([0-9.]+)`)

// spinResult is the best (shortest) of the rounds of one boot.
type spinResult struct{ one, all float64 }

func bootSpin(cfg qemu.Config, n int) (spinResult, error) {
	best := spinResult{1e18, 1e18}
	for i := 0; i < n; i++ {
		_, _, lines, err := run(cfg, "bench: spin", 5*time.Minute)
		if err != nil {
			return best, err
		}
		for _, l := range lines {
			if m := spinRE.FindStringSubmatch(l); m != nil {
				one, _ := strconv.ParseFloat(m[2], 64)
				all, _ := strconv.ParseFloat(m[3], 64)
				best.one, best.all = min(best.one, one), min(best.all, all)
			}
		}
	}
	if best.one == 1e18 {
		return best, fmt.Errorf("no bench lines from %s", cfg.Kernel)
	}
	return best, nil
}

// spinInitramfs builds the Linux reference: tools/bench/spininit as /init.
func spinInitramfs(dir string) (string, error) {
	bin := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./tools/bench/spininit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building spininit: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "spin.cpio")
	return path, linuxInitramfs(path, data, false)
}

// linuxInitramfs writes an initramfs for Debian's Linux: /dev/console
// (and /dev/zero when zero is set) and init as /init.
func linuxInitramfs(path string, init []byte, zero bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := cpio.NewWriter(f)
	w.AddDir("dev", cpio.Attr{Perm: 0o755})
	w.AddCharDev("dev/console", cpio.Attr{Perm: 0o600}, 5, 1)
	if zero {
		w.AddCharDev("dev/zero", cpio.Attr{Perm: 0o666}, 1, 5)
	}
	w.AddFile("init", cpio.Attr{Perm: 0o755}, init)
	err = w.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func benchSMP(args []string) error {
	fs := flag.NewFlagSet("smp", flag.ExitOnError)
	n := fs.Int("n", 3, "boots per configuration (each boot runs 3 rounds)")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "dunix-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	initrd, err := spinInitramfs(dir)
	if err != nil {
		return err
	}
	vmlinuz, err := linuxref.Kernel(context.Background(), "")
	if err != nil {
		return err
	}
	fmt.Printf("# CPU-bound job (2^29 steps; one goroutine, then split over GOMAXPROCS goroutines), q35, multi-threaded TCG\n")
	fmt.Printf("# best of %d boots x 3 rounds; the same program (kernel/selftest.SpinBench) as /init of Debian's Linux for reference\n", *n)
	fmt.Printf("# command: go run ./tools/bench smp -n %d\n\n", *n)
	fmt.Println("| kernel | vCPUs | one goroutine | all vCPUs | speed-up |")
	fmt.Println("|---|---|---|---|---|")
	res := map[string]spinResult{}
	for _, k := range []string{"dunix", "Linux"} {
		for _, cpus := range []int{1, 2} {
			cfg := qemu.Config{Kernel: kernelPath(), MemMiB: 512, CPUs: cpus, Accel: qemu.AccelTCG, Cmdline: "dunix.bench=spin"}
			if k == "Linux" {
				cfg.Kernel, cfg.Cmdline, cfg.Extra = vmlinuz, "console=ttyS0 quiet panic=-1", []string{"-initrd", initrd}
			}
			r, err := bootSpin(cfg, *n)
			if err != nil {
				return err
			}
			res[fmt.Sprint(k, cpus)] = r
			fmt.Printf("| %s | %d | %.0f ms | %.0f ms | %.2f |\n", k, cpus, r.one, r.all, r.one/r.all)
		}
	}
	d1, d2, l1, l2 := res["dunix1"], res["dunix2"], res["Linux1"], res["Linux2"]
	fmt.Printf("\n2 vCPUs against 1 vCPU (same job, separate boots): dunix %.2fx, Linux %.2fx (goal: at least 1.7x); dunix/Linux time on 2 vCPUs: %.2f\n",
		d1.all/d2.all, l1.all/l2.all, d2.all/l2.all)
	return nil
}
