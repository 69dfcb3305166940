package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"dunix/net/clusterkey"
	"dunix/net/status"
	"dunix/qemu"
	"dunix/tools/lan"
	"dunix/tools/observe"
	"dunix/tools/rootfs"
)

// hostCPUs is the number of CPUs of this host, printed with the figures.
func hostCPUs() int { return runtime.NumCPU() }

// qemuOverheadMiB is what one QEMU process costs beyond its guest memory
// (as `dunix cluster up` reckons).
const qemuOverheadMiB = 64

// Timing of the fabric benchmark.
const (
	fabricPoll   = 500 * time.Millisecond // pause between two polls of every node
	steadyWindow = 20 * time.Second       // steady state before the traffic is read
)

// fabricResult is what one cluster size gave.
type fabricResult struct {
	n                 int
	full              time.Duration // QEMU start to every node listing n alive members
	notAlive, dead    time.Duration // kill to every survivor showing the victim not alive, dead (0: not within the limit)
	limit             time.Duration // how long the kill was watched
	pktIn, pktOut     float64       // member.packets_*_per_sec, mean over nodes and samples
	bytesIn, bytesOut float64       // member.bytes_*_per_sec, likewise
	streamBytes       float64       // member.stream_bytes_in+out per second per node over the window (TCP push-pull)
	nicRX             float64       // nic.rx_frames per second per node over the window (all LAN frames: the LAN is a hub)
	flapping, docs    int           // steady-state documents that listed fewer than n alive members, of all read
	load              string        // the host's 1-minute load average at the last sample
}

// hostLoad returns the host's 1-minute load average, "?" if unknown.
func hostLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// memAvailableMiB reads MemAvailable from /proc/meminfo.
func memAvailableMiB() (int, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemAvailable")
}

func benchFabric(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fabric", flag.ExitOnError)
	sizes := fs.String("n", "2,4,8,16", "cluster sizes, comma-separated")
	mem := fs.Int("mem", 256, "memory per node in MiB")
	accelFlag := fs.String("accel", "auto", "auto, kvm or tcg")
	fs.Parse(args)
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 {
			return fmt.Errorf("-n %q: want sizes of at least 2, like 2,4,8", *sizes)
		}
		ns = append(ns, n)
	}

	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("a static busybox is needed for the nodes' root (apt-get install busybox-static): %v", err)
	}
	dir, err := os.MkdirTemp("", "dunix-bench-fabric")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kernel, err := benchKernel(ctx, dir)
	if err != nil {
		return err
	}
	// The root of every node, as `dunix cluster up` makes it: busybox sh
	// as the first process (on a console that stays open and idle).
	root := filepath.Join(dir, "root.cpio")
	if err := writeRoot(root, rootfs.Spec{Adds: []rootfs.Add{{Host: busybox, Guest: "/bin/busybox"}}, Run: []string{"/bin/busybox", "sh"}}); err != nil {
		return err
	}
	base := qemu.Config{Kernel: kernel, Initrd: root, MemMiB: *mem, CPUs: 1, Accel: *accelFlag}
	accel, why, err := qemu.ChooseAccel(ctx, base)
	if err != nil {
		return err
	}
	base.Accel = accel

	var results []fabricResult
	var skipped []string
	for _, n := range ns {
		need := n * (*mem + qemuOverheadMiB)
		avail, err := memAvailableMiB()
		if err != nil {
			return err
		}
		if need > avail {
			msg := fmt.Sprintf("N=%d skipped: %d nodes need about %d MiB, only %d MiB are available", n, n, need, avail)
			fmt.Fprintln(os.Stderr, "bench: fabric: "+msg)
			skipped = append(skipped, msg)
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: fabric: %d nodes\n", n)
		r, err := fabricRun(ctx, base, n)
		if err != nil {
			return fmt.Errorf("N=%d: %v", n, err)
		}
		results = append(results, r)
	}

	fmt.Printf("# fabric membership: N dunix nodes (q35, 1 vCPU, %d MiB each, %s (%s)) on one virtual LAN,\n", *mem, accel, why)
	fmt.Printf("# booted at once with a fresh cluster key; host: %d CPUs shared by all the QEMUs; one run per N.\n", hostCPUs())
	fmt.Printf("# The host polls every node's status document through tools/observe (ICMPv6 echo to ff02::1, then HTTP), pausing %s between polls.\n", secs(fabricPoll))
	fmt.Printf("# command: go run ./tools/bench fabric -n %s -mem %d\n\n", *sizes, *mem)
	fmt.Println("| N | QEMU start to full membership | kill to all see it not alive | kill to all see it dead | member packets/s in / out per node | member bytes/s in / out per node | push-pull bytes/s per node | NIC frames/s received per node | steady documents missing an alive member | host load |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %d | %s | %s | %s | %.1f / %.1f | %.0f / %.0f | %.0f | %.0f | %d of %d | %s |\n", r.n, secs(r.full), killText(r.notAlive, r.limit), killText(r.dead, r.limit),
			r.pktIn, r.pktOut, r.bytesIn, r.bytesOut, r.streamBytes, r.nicRX, r.flapping, r.docs, r.load)
	}
	for _, s := range skipped {
		fmt.Println("\n" + s)
	}
	fmt.Printf("\nMember traffic: the nodes' member.*_per_sec counters (UDP; 5-s averages) %s, %s and %s after full membership, mean over nodes and samples.\n",
		secs(steadyWindow), secs(steadyWindow+5*time.Second), secs(steadyWindow+10*time.Second))
	fmt.Printf("Push-pull (memberlist's TCP state exchange, every 30 s) and NIC frames: counter differences from full membership to the last sample.\n")
	fmt.Printf("Steady documents missing an alive member: of the documents read for those samples, how many listed fewer than N alive members (a live node suspected: the\n")
	fmt.Printf("nodes were too slow to answer probes in time); host load: the host's 1-minute load average at the last sample.\n")
	fmt.Printf("Not alive: suspect or dead (a node shows a member suspect only after its own probe of it failed). Kill: SIGKILL to the QEMU of the last node.\n")
	return nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func killText(d, limit time.Duration) string {
	if d == 0 {
		return "> " + secs(limit)
	}
	return secs(d)
}

// fabricRun boots n nodes and measures them.
func fabricRun(ctx context.Context, base qemu.Config, n int) (fabricResult, error) {
	r := fabricResult{n: n}
	l, err := qemu.NewLAN()
	if err != nil {
		return r, err
	}
	key, err := clusterkey.Generate()
	if err != nil {
		return r, err
	}
	// The observer joins first, so that its own address is ready.
	mac, err := lan.RandomMAC()
	if err != nil {
		return r, err
	}
	dev, err := lan.Join(l, mac)
	if err != nil {
		return r, err
	}
	defer dev.Close()
	o, err := observe.New(dev, observe.Options{Window: 500 * time.Millisecond, Rounds: 2, FetchTimeout: 10 * time.Second})
	if err != nil {
		return r, err
	}
	defer o.Close()
	if _, err := o.LinkLocal(ctx); err != nil {
		return r, err
	}

	guests := make([]*guest, n)
	defer func() {
		var wg sync.WaitGroup
		for _, g := range guests {
			wg.Add(1)
			go func() { defer wg.Done(); g.stop() }()
		}
		wg.Wait()
	}()
	names := make([]string, n)
	start := time.Now()
	for i := range guests {
		names[i] = "n" + strconv.Itoa(i+1)
		cfg := base
		cfg.Cmdline = "dunix.node=" + names[i] + " dunix.key=" + key.String() + " dunix.quiet=1"
		cfg.NICs = []qemu.NIC{{MAC: qemu.NodeMAC("bench-fabric-"+l.String(), i+1), LAN: l}}
		if guests[i], err = startGuest(ctx, names[i], cfg); err != nil {
			return r, err
		}
	}

	// Full membership: every node lists every node as alive.
	p := &poller{o: o, addrs: map[string]netip.Addr{}}
	deadline := time.Now().Add(2*time.Minute + time.Duration(n)*30*time.Second)
	var last string
	var before map[string]*status.Node // the documents that showed full membership
	for {
		docs := p.poll(ctx, n)
		done := len(docs) == n
		var parts []string
		for _, name := range names {
			d := docs[name]
			if d == nil {
				parts = append(parts, name+" -")
				done = false
				continue
			}
			alive := observe.Alive(d)
			parts = append(parts, fmt.Sprintf("%s %d", name, len(alive)))
			if len(alive) != n {
				done = false
			}
		}
		if done {
			r.full, before = time.Since(start), docs
			break
		}
		if s := strings.Join(parts, ", "); s != last {
			fmt.Fprintf(os.Stderr, "bench: after %s: alive members seen: %s\n", secs(time.Since(start)), s)
			last = s
		}
		if err := alive(guests); err != nil {
			return r, err
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("no full membership after %s: %s", secs(time.Since(start)), last)
		}
		if err := sleepCtx(ctx, fabricPoll); err != nil {
			return r, err
		}
	}
	fmt.Fprintf(os.Stderr, "bench: full membership of %d after %s\n", n, secs(r.full))

	// Steady state: the per-second counters after the window, three
	// samples 5 s apart; the cumulative ones from full membership to the
	// last sample.
	var samples int
	var after map[string]*status.Node
	t0 := time.Now()
	for k := 0; k < 3; k++ {
		if err := sleepCtx(ctx, time.Until(t0.Add(steadyWindow+time.Duration(k)*5*time.Second))); err != nil {
			return r, err
		}
		after = p.poll(ctx, n)
		for _, d := range after {
			c := d.Counters
			r.pktIn += float64(c["member.packets_in_per_sec"])
			r.pktOut += float64(c["member.packets_out_per_sec"])
			r.bytesIn += float64(c["member.bytes_in_per_sec"])
			r.bytesOut += float64(c["member.bytes_out_per_sec"])
			samples++
			if len(observe.Alive(d)) != n {
				r.flapping++
			}
		}
	}
	if err := alive(guests); err != nil {
		return r, err
	}
	if samples == 0 {
		return r, fmt.Errorf("no node answered at steady state")
	}
	r.docs, r.load = samples, hostLoad()
	r.pktIn, r.pktOut, r.bytesIn, r.bytesOut = r.pktIn/float64(samples), r.pktOut/float64(samples), r.bytesIn/float64(samples), r.bytesOut/float64(samples)
	var counted int
	for name, a := range after {
		b := before[name]
		if b == nil {
			continue
		}
		dt := a.Load.Uptime - b.Load.Uptime
		if dt <= 0 {
			continue
		}
		diff := func(k string) float64 { return float64(a.Counters[k]-b.Counters[k]) / dt }
		r.streamBytes += diff("member.stream_bytes_in") + diff("member.stream_bytes_out")
		r.nicRX += diff("nic.rx_frames")
		counted++
	}
	if counted > 0 {
		r.streamBytes /= float64(counted)
		r.nicRX /= float64(counted)
	}
	fmt.Fprintf(os.Stderr, "bench: steady state: member packets/s in %.1f out %.1f, bytes/s in %.0f out %.0f, push-pull %.0f B/s, NIC rx %.0f frames/s per node; %d of %d documents with a member not alive; host load %s\n",
		r.pktIn, r.pktOut, r.bytesIn, r.bytesOut, r.streamBytes, r.nicRX, r.flapping, r.docs, r.load)

	// Kill the last node hard and watch the others.
	victim := guests[n-1]
	victimName := names[n-1]
	killed := time.Now()
	if err := syscall.Kill(victim.m.Pid(), syscall.SIGKILL); err != nil {
		return r, fmt.Errorf("kill %s: %v", victimName, err)
	}
	victim.m.Wait()
	delete(p.addrs, victimName) // a fetch from it would only time out
	r.limit = time.Minute + time.Duration(n)*5*time.Second
	for time.Since(killed) < r.limit {
		docs := p.poll(ctx, n-1)
		notAlive, dead := len(docs) == n-1, len(docs) == n-1
		for _, name := range names[:n-1] {
			d := docs[name]
			if d == nil {
				notAlive, dead = false, false
				continue
			}
			st := memberState(d, victimName)
			if st == "alive" {
				notAlive = false
			}
			if st != "dead" && st != "" {
				dead = false
			}
		}
		if notAlive && r.notAlive == 0 {
			r.notAlive = time.Since(killed)
			fmt.Fprintf(os.Stderr, "bench: every survivor sees %s not alive after %s\n", victimName, secs(r.notAlive))
		}
		if dead {
			r.dead = time.Since(killed)
			fmt.Fprintf(os.Stderr, "bench: every survivor sees %s dead after %s\n", victimName, secs(r.dead))
			if r.notAlive == 0 {
				r.notAlive = r.dead
			}
			break
		}
		if err := alive(guests[:n-1]); err != nil {
			return r, err
		}
		if err := sleepCtx(ctx, fabricPoll); err != nil {
			return r, err
		}
	}
	return r, nil
}

// memberState returns the state d reports for member name, "" when d
// does not list it.
func memberState(d *status.Node, name string) string {
	for _, m := range d.Members {
		if m.Name == name {
			return m.State
		}
	}
	return ""
}

// alive reports the first of guests whose machine stopped.
func alive(guests []*guest) error {
	for _, g := range guests {
		select {
		case <-g.exited:
			res, _ := g.m.Wait()
			return fmt.Errorf("%s stopped (%s); console:\n%s", g.name, res.Explain(), g.tail(20))
		default:
		}
	}
	return nil
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// poller fetches every node's status document, remembering the address
// of each node so that it discovers (an ICMPv6 echo round) only while
// nodes are missing.
type poller struct {
	o     *observe.Observer
	addrs map[string]netip.Addr // node name to address
}

// poll returns the documents of the nodes that answered, by name; it
// discovers first when fewer than want nodes are known.
func (p *poller) poll(ctx context.Context, want int) map[string]*status.Node {
	known := map[netip.Addr]bool{}
	for _, a := range p.addrs {
		known[a] = true
	}
	if len(known) < want {
		found, _ := p.o.Discover(ctx)
		for _, a := range found {
			known[a] = true
		}
	}
	addrs := make([]netip.Addr, 0, len(known))
	for a := range known {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	docs := make([]*status.Node, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			docs[i], _ = p.o.Fetch(ctx, a)
		}()
	}
	wg.Wait()
	out := map[string]*status.Node{}
	for i, d := range docs {
		if d != nil {
			out[d.Name] = d
			p.addrs[d.Name] = addrs[i]
		}
	}
	return out
}
