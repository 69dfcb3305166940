package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"dunix/boot/kimage"
	"dunix/fs/cpio"
	"dunix/net/clusterkey"
	"dunix/qemu"
	"dunix/qemu/linuxref"
	"dunix/tools/rootfs"
)

// guest is a machine started in the background whose console lines are
// kept and watched.
type guest struct {
	name string
	m    *qemu.Machine

	mu      sync.Mutex
	lines   []string
	watch   []string      // line prefixes that wake the waiter
	matched chan string   // the first line with a watched prefix
	started time.Time     // when QEMU was started
	exited  chan struct{} // closed when the machine stopped
}

// startGuest starts cfg; the lines beginning with one of watch (the first
// of them) are reported by waitLine. The machine stops with ctx.
func startGuest(ctx context.Context, name string, cfg qemu.Config, watch ...string) (*guest, error) {
	g := &guest{name: name, watch: watch, matched: make(chan string, 1), exited: make(chan struct{})}
	g.started = time.Now()
	m, err := qemu.Start(ctx, cfg, qemu.Options{OnLine: g.line})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g.m = m
	go func() { m.Wait(); close(g.exited) }()
	return g, nil
}

// echoConsoles, when set (bench net -v), copies every guest's console
// lines to standard error.
var echoConsoles bool

func (g *guest) line(_ time.Duration, l string) {
	if echoConsoles {
		fmt.Fprintf(os.Stderr, "%s | %s\n", g.name, l)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lines = append(g.lines, l)
	for _, w := range g.watch {
		if strings.HasPrefix(l, w) {
			select {
			case g.matched <- l:
			default:
			}
		}
	}
}

// waitLine waits for a watched line, the machine's end or the timeout.
func (g *guest) waitLine(ctx context.Context, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l := <-g.matched:
		return l, nil
	case <-g.exited:
		select {
		case l := <-g.matched: // its last lines came with the exit
			return l, nil
		default:
		}
		res, _ := g.m.Wait()
		return "", fmt.Errorf("%s stopped (%s); console:\n%s", g.name, res.Explain(), g.tail(30))
	case <-t.C:
		return "", fmt.Errorf("%s: nothing after %s; console:\n%s", g.name, timeout, g.tail(30))
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// console returns every console line so far.
func (g *guest) console() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.lines...)
}

// tail returns the last n console lines, indented.
func (g *guest) tail(n int) string {
	l := g.console()
	if len(l) > n {
		l = l[len(l)-n:]
	}
	if len(l) == 0 {
		return "  (nothing)"
	}
	return "  " + strings.Join(l, "\n  ")
}

// stop kills the machine (if it still runs) and waits for it.
func (g *guest) stop() {
	if g != nil && g.m != nil {
		g.m.Kill()
	}
}

// benchKernel returns the dunix kernel to measure: $DUNIX_KERNEL, or the
// tree's kernel built into dir with kimage.Build (as qemu/boottest does).
func benchKernel(ctx context.Context, dir string) (string, error) {
	if p := os.Getenv("DUNIX_KERNEL"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "dunix-kernel-amd64")
	if _, err := kimage.Build(ctx, ".", out); err != nil {
		return "", fmt.Errorf("building the kernel: %v", err)
	}
	return out, nil
}

// writeRoot writes a dunix root archive for spec to path.
func writeRoot(path string, spec rootfs.Spec) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = rootfs.Write(f, spec)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// buildNetbench builds tools/bench/netbench as a static linux/amd64 binary.
func buildNetbench(dir string) (string, error) {
	bin := filepath.Join(dir, "netbench")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./tools/bench/netbench")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building netbench: %v\n%s", err, out)
	}
	return bin, nil
}

// netInitramfs writes the Linux side's initramfs: /dev/console, /proc,
// the network card's modules in /modules with their load order in
// /modules/order, and netbench as /init.
func netInitramfs(path, netbench string, modules []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := cpio.NewWriter(f)
	dir := cpio.Attr{Perm: 0o755}
	w.AddDir("dev", dir)
	w.AddCharDev("dev/console", cpio.Attr{Perm: 0o600}, 5, 1)
	w.AddDir("proc", dir)
	w.AddDir("modules", dir)
	var order []string
	for _, m := range modules {
		data, err := os.ReadFile(m)
		if err != nil {
			f.Close()
			return err
		}
		w.AddFile("modules/"+filepath.Base(m), cpio.Attr{Perm: 0o644}, data)
		order = append(order, filepath.Base(m))
	}
	w.AddFile("modules/order", cpio.Attr{Perm: 0o644}, []byte(strings.Join(order, "\n")+"\n"))
	data, err := os.ReadFile(netbench)
	if err != nil {
		f.Close()
		return err
	}
	w.AddFile("init", cpio.Attr{Perm: 0o755}, data)
	err = w.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

var (
	streamLine = regexp.MustCompile(`^bench: tcp-stream bytes=(\d+) ns=(\d+)`)
	rttLine    = regexp.MustCompile(`^bench: tcp-rtt iters=(\d+) ns=(\d+) median_ns=(\d+)`)
)

// netResult is one pair's figures.
type netResult struct {
	mibPerS float64 // stream throughput
	rttUs   float64 // mean round trip
	medUs   float64 // median round trip
	load    string  // the host's load average when the client finished
	// The network lines each machine printed as it powered off
	// (dunix's "dunix: network: ..."), server first.
	netLines [2][]string
}

// netPair boots a server and a client machine (cfgs[0], cfgs[1]) on one
// fresh LAN and returns the client's figures.
// With tap, the LAN is a bridge of taps in a namespace of its own
// (qemu.TapLAN), whose virtio-net header lets the cards offload.
func netPair(ctx context.Context, kind string, cfgs [2]qemu.Config, tap bool, timeout time.Duration) (netResult, error) {
	var nics [2]qemu.NIC
	var tl *qemu.TapLAN
	if tap {
		var err error
		if tl, err = qemu.NewTapLAN(); err != nil {
			return netResult{}, err
		}
		defer tl.Close()
		for i := range nics {
			f, err := tl.Port(true)
			if err != nil {
				return netResult{}, err
			}
			defer f.Close() // QEMU has its own copy
			nics[i] = qemu.NIC{MAC: qemu.NodeMAC("bench-net-"+kind, i+1), Tap: f}
		}
	} else {
		lan, err := qemu.NewLAN()
		if err != nil {
			return netResult{}, err
		}
		for i := range nics {
			nics[i] = qemu.NIC{MAC: qemu.NodeMAC("bench-net-"+kind, i+1), LAN: lan}
		}
	}
	var err error
	var gs [2]*guest
	defer func() {
		for _, g := range gs {
			g.stop()
		}
	}()
	for i, role := range []string{"server", "client"} {
		cfg := cfgs[i]
		cfg.NICs = []qemu.NIC{nics[i]}
		gs[i], err = startGuest(ctx, kind+" "+role, cfg, "bench: done", "bench: error")
		if err != nil {
			return netResult{}, err
		}
	}
	l, err := gs[1].waitLine(ctx, timeout)
	if err != nil {
		if tl != nil {
			st, _ := tl.Stats()
			err = fmt.Errorf("%w\nthe LAN's interface counters:\n%s", err, st)
		}
		return netResult{}, err
	}
	if strings.HasPrefix(l, "bench: error") {
		return netResult{}, fmt.Errorf("%s client: %s; server console:\n%s", kind, l, gs[0].tail(20))
	}
	r := netResult{load: hostLoad()}
	for _, l := range gs[1].console() {
		if m := streamLine.FindStringSubmatch(l); m != nil {
			b, _ := strconv.ParseFloat(m[1], 64)
			ns, _ := strconv.ParseFloat(m[2], 64)
			r.mibPerS = b / (1 << 20) / (ns / 1e9)
		}
		if m := rttLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			ns, _ := strconv.ParseFloat(m[2], 64)
			r.rttUs = ns / n / 1e3
			med, _ := strconv.ParseFloat(m[3], 64)
			r.medUs = med / 1e3
		}
	}
	if r.mibPerS == 0 || r.rttUs == 0 {
		return r, fmt.Errorf("%s client: no figures; console:\n%s", kind, gs[1].tail(20))
	}
	// The server prints its last line as the client's connection closes.
	gs[0].waitLine(ctx, 30*time.Second)
	for _, l := range gs[0].console() {
		if strings.HasPrefix(l, "bench: error") {
			return r, fmt.Errorf("%s server: %s", kind, l)
		}
	}
	// Both power off once done: their last lines are the network report.
	for i, g := range gs {
		select {
		case <-g.exited:
		case <-time.After(30 * time.Second):
		}
		for _, l := range g.console() {
			if strings.HasPrefix(l, "dunix: network: ") {
				r.netLines[i] = append(r.netLines[i], l)
			}
		}
	}
	return r, nil
}

// dunixNetConfigs returns the server's and the client's configurations
// (base with a root archive each, written to dir): netbench (bin) with
// args(role) is each node's first process, and both nodes are members of
// one fabric (a fresh key), as nodes of a cluster are.
func dunixNetConfigs(dir, bin string, base qemu.Config, args func(role string) []string) ([2]qemu.Config, error) {
	var cfgs [2]qemu.Config
	key, err := clusterkey.Generate()
	if err != nil {
		return cfgs, err
	}
	for i, role := range []string{"server", "client"} {
		root := filepath.Join(dir, role+".cpio")
		run := append([]string{"/bin/netbench"}, args(role)...)
		if err := writeRoot(root, rootfs.Spec{Adds: []rootfs.Add{{Host: bin, Guest: "/bin/netbench"}}, Run: run}); err != nil {
			return cfgs, err
		}
		cfgs[i] = base
		cfgs[i].Initrd = root
		cfgs[i].Cmdline = fmt.Sprintf("dunix.node=n%d dunix.key=%s dunix.quiet=1", i+1, key)
	}
	return cfgs, nil
}

func benchNet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("net", flag.ExitOnError)
	size := fs.Int("mib", 64, "MiB sent in the TCP stream")
	iters := fs.Int("rtt", 2000, "1-byte ping-pong round trips")
	cpus := fs.Int("cpus", 1, "virtual CPUs per machine")
	mem := fs.Int("mem", 256, "memory per machine in MiB")
	accelFlag := fs.String("accel", "auto", "auto, kvm or tcg")
	lanFlag := fs.String("lan", "socket", "socket (QEMU multicast on loopback, no offloads) or tap (a bridge of taps in a private network namespace: checksum and TSO offloads; needs root)")
	timeout := fs.Duration("timeout", 20*time.Minute, "how long a pair of machines may take")
	fs.BoolVar(&echoConsoles, "v", false, "copy the guests' consoles to standard error")
	fs.Parse(args)
	if *lanFlag != "socket" && *lanFlag != "tap" {
		return fmt.Errorf("net: -lan %q: want socket or tap", *lanFlag)
	}
	tap := *lanFlag == "tap"

	dir, err := os.MkdirTemp("", "dunix-bench-net")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kernel, err := benchKernel(ctx, dir)
	if err != nil {
		return err
	}
	bin, err := buildNetbench(dir)
	if err != nil {
		return err
	}
	base := qemu.Config{Kernel: kernel, MemMiB: *mem, CPUs: *cpus, Accel: *accelFlag}
	accel, why, err := qemu.ChooseAccel(ctx, base)
	if err != nil {
		return err
	}
	base.Accel = accel
	benchArgs := func(role string) []string {
		return []string{"-role", role, "-bytes", strconv.Itoa(*size << 20), "-rtt", strconv.Itoa(*iters)}
	}

	dcfgs, err := dunixNetConfigs(dir, bin, base, benchArgs)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: net: two dunix nodes")
	d, err := netPair(ctx, "dunix", dcfgs, tap, *timeout)
	if err != nil {
		return fmt.Errorf("dunix: %v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: dunix: %.2f MiB/s, round trip %.1f µs median, %.1f µs mean; host load %s\n", d.mibPerS, d.medUs, d.rttUs, d.load)

	// Linux: the same binary as /init, loading the card's modules first.
	vmlinuz, err := linuxref.Kernel(ctx, "")
	if err != nil {
		return err
	}
	modules, err := linuxref.Modules(ctx, "", linuxref.NetModules)
	if err != nil {
		return err
	}
	initrd := filepath.Join(dir, "linux.cpio")
	if err := netInitramfs(initrd, bin, modules); err != nil {
		return err
	}
	var lcfgs [2]qemu.Config
	for i, role := range []string{"server", "client"} {
		lcfgs[i] = base
		lcfgs[i].Kernel, lcfgs[i].Initrd = vmlinuz, initrd
		lcfgs[i].Cmdline = "console=ttyS0 quiet panic=-1 -- -linux " + strings.Join(benchArgs(role), " ")
	}
	fmt.Fprintln(os.Stderr, "bench: net: two Linux guests")
	l, err := netPair(ctx, "linux", lcfgs, tap, *timeout)
	if err != nil {
		return fmt.Errorf("linux: %v", err)
	}
	fmt.Fprintf(os.Stderr, "bench: linux: %.2f MiB/s, round trip %.1f µs median, %.1f µs mean; host load %s\n", l.mibPerS, l.medUs, l.rttUs, l.load)

	if tap {
		fmt.Printf("# TCP between two machines on one virtual LAN (a Linux bridge of taps with virtio-net headers, in a private network namespace; virtio-net-pci, disable-legacy=on; offloads as each guest negotiates)\n")
	} else {
		fmt.Printf("# TCP between two machines on one virtual LAN (QEMU socket multicast netdev on the host's loopback; virtio-net-pci, disable-legacy=on; no offloads)\n")
	}
	fmt.Printf("# tools/bench/netbench (Go, static), one run each: client -> server stream, then 1-byte ping-pong\n")
	fmt.Printf("# q35, %d vCPU, %d MiB each, %s (%s); host: %d CPUs; Linux: Debian's kernel, virtio modules loaded by the binary as /init\n",
		*cpus, *mem, accel, why, hostCPUs())
	for i, role := range []string{"server", "client"} {
		for _, l := range d.netLines[i] {
			fmt.Printf("# dunix %s: %s\n", role, l)
		}
	}
	fmt.Printf("# command: go run ./tools/bench net -mib %d -rtt %d -cpus %d -mem %d -lan %s\n\n", *size, *iters, *cpus, *mem, *lanFlag)
	fmt.Println("| benchmark | dunix | Linux | dunix/Linux |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| TCP throughput, one stream of %d MiB | %.2f MiB/s | %.2f MiB/s | %.2f |\n", *size, d.mibPerS, l.mibPerS, d.mibPerS/l.mibPerS)
	fmt.Printf("| TCP round trip, 1-byte ping-pong, median of %d | %.0f µs | %.0f µs | %.2f |\n", *iters, d.medUs, l.medUs, d.medUs/l.medUs)
	fmt.Printf("| TCP round trip, 1-byte ping-pong, mean of %d | %.0f µs | %.0f µs | %.2f |\n", *iters, d.rttUs, l.rttUs, d.rttUs/l.rttUs)
	fmt.Printf("| host load average (1 min) at the end | %s | %s | |\n", d.load, l.load)
	fmt.Printf("\ndunix reaches %.0f%% of Linux's throughput (goal: at least 80%%).\n", 100*d.mibPerS/l.mibPerS)
	return nil
}
