package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"dunix/qemu"
	"dunix/qemu/linuxref"
	"dunix/tools/rootfs"
)

// The micro-benchmarks of sysbench.c, in its order, with what each is.
var sysBenches = []struct{ name, what string }{
	{"getpid", "null system call (getpid)"},
	{"getuid", "null system call through the handler table (getuid)"},
	{"clock-gettime", "clock_gettime(CLOCK_MONOTONIC) through libc (the vDSO on both)"},
	{"read-zero-4k", "4 KiB read from /dev/zero"},
	{"pipe-rtt", "pipe round trip between two processes"},
	{"fork-exit-wait", "fork + exit + wait"},
	{"fork-exec-wait", "fork + execve + wait of a static binary"},
	{"page-fault", "page fault (touching fresh anonymous memory)"},
	{"context-switch", "context switch (pipe hand-off between two processes)"},
}

var sysLine = regexp.MustCompile(`^bench: (\S+) ns=(\d+) iters=(\d+)`)

// buildSysbench compiles sysbench.c statically with musl-gcc.
func buildSysbench(dir string) (string, error) {
	bin := filepath.Join(dir, "sysbench")
	cmd := exec.Command("musl-gcc", "-static", "-O2", "-o", bin, "tools/bench/sysbench/sysbench.c")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building sysbench (apt-get install musl-tools): %v\n%s", err, out)
	}
	return bin, nil
}

// sysRun boots cfg and collects the bench lines.
func sysRun(cfg qemu.Config) (map[string]float64, error) {
	_, _, lines, err := run(cfg, "bench: done", 15*time.Minute)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, l := range lines {
		if m := sysLine.FindStringSubmatch(l); m != nil {
			ns, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = ns
		}
	}
	return out, nil
}

func benchSys(args []string) error {
	fs := flag.NewFlagSet("sys", flag.ExitOnError)
	cpus := fs.Int("cpus", 1, "virtual CPUs")
	mem := fs.Int("mem", 256, "memory in MiB")
	accelFlag := fs.String("accel", "auto", "auto, kvm or tcg")
	rounds := fs.Int("rounds", 3, "boots of each system, alternating; each figure is the median")
	fs.Parse(args)
	if *rounds < 1 {
		return fmt.Errorf("sys: -rounds must be at least 1")
	}
	dir, err := os.MkdirTemp("", "dunix-bench-sys")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildSysbench(dir)
	if err != nil {
		return err
	}
	base := qemu.Config{Kernel: kernelPath(), MemMiB: *mem, CPUs: *cpus, Accel: *accelFlag}
	accel, why, err := qemu.ChooseAccel(context.Background(), base)
	if err != nil {
		return err
	}
	base.Accel = accel

	// dunix: the benchmark is the node's first process.
	root := filepath.Join(dir, "root.cpio")
	f, err := os.Create(root)
	if err != nil {
		return err
	}
	err = rootfs.Write(f, rootfs.Spec{Adds: []rootfs.Add{{Host: bin, Guest: "/bin/sysbench"}}, Run: []string{"/bin/sysbench"}})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	dcfg := base
	dcfg.Initrd, dcfg.Cmdline = root, "dunix.quiet=1"

	// Linux: the same binary as /init, with /dev/console and /dev/zero.
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	initrd := filepath.Join(dir, "linux.cpio")
	if err := linuxInitramfs(initrd, data, true); err != nil {
		return err
	}
	vmlinuz, err := linuxref.Kernel(context.Background(), "")
	if err != nil {
		return err
	}
	lcfg := base
	lcfg.Kernel, lcfg.Cmdline, lcfg.Extra = vmlinuz, "console=ttyS0 quiet panic=-1", []string{"-initrd", initrd}

	// The two systems boot alternately, so that a slow spell of the
	// host (emulation speed moves by up to 2x here between and within
	// runs) weighs on both; each figure is the median of the rounds.
	var d, l []map[string]float64
	for r := 0; r < *rounds; r++ {
		dr, err := sysRun(dcfg)
		if err != nil {
			return fmt.Errorf("dunix: %v", err)
		}
		lr, err := sysRun(lcfg)
		if err != nil {
			return fmt.Errorf("linux: %v", err)
		}
		d, l = append(d, dr), append(l, lr)
	}

	fmt.Printf("# system-call micro-benchmarks (tools/bench/sysbench/sysbench.c, musl-gcc -static -O2)\n")
	fmt.Printf("# q35, %d vCPU, %d MiB, %s (%s); Linux: Debian's kernel, the binary as /init\n", *cpus, *mem, accel, why)
	fmt.Printf("# %d boots of each, alternating; the median of the rounds, the range in brackets\n", *rounds)
	fmt.Printf("# command: go run ./tools/bench sys -cpus %d -mem %d -rounds %d\n\n", *cpus, *mem, *rounds)
	fmt.Println("| benchmark | dunix | Linux | dunix/Linux |")
	fmt.Println("|---|---|---|---|")
	for _, b := range sysBenches {
		dv, dlo, dhi, dok := medianOf(d, b.name)
		lv, llo, lhi, lok := medianOf(l, b.name)
		ratio := "-"
		if dok && lok && lv > 0 {
			ratio = fmt.Sprintf("%.2f", dv/lv)
		}
		fmt.Printf("| %s | %s | %s | %s |\n", b.what, rangeText(dv, dlo, dhi, dok, *rounds), rangeText(lv, llo, lhi, lok, *rounds), ratio)
	}
	return nil
}

// medianOf returns the median, least and largest of name's figures over
// the rounds; ok is false when a round lacks it.
func medianOf(rounds []map[string]float64, name string) (med, lo, hi float64, ok bool) {
	var v []float64
	for _, r := range rounds {
		x, found := r[name]
		if !found {
			return 0, 0, 0, false
		}
		v = append(v, x)
	}
	sort.Float64s(v)
	n := len(v)
	med = v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0], v[n-1], true
}

// rangeText is nsText with the range when there was more than one round.
func rangeText(v, lo, hi float64, ok bool, rounds int) string {
	if !ok || rounds < 2 {
		return nsText(v, ok)
	}
	return fmt.Sprintf("%s [%s-%s]", nsText(v, ok), nsText(lo, ok), nsText(hi, ok))
}

func nsText(v float64, ok bool) string {
	switch {
	case !ok:
		return "failed"
	case v >= 10000:
		return fmt.Sprintf("%.1f µs", v/1000)
	}
	return fmt.Sprintf("%.0f ns", v)
}
