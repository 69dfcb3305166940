package userland

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"dunix/drivers/virtio/virtionet"
	"dunix/kernel"
	"dunix/kernel/cmdline"
	"dunix/net/clusterkey"
	"dunix/net/fabric"
	"dunix/net/ip6"
	"dunix/net/link"
	"dunix/net/socket"
	"dunix/net/status"
	"dunix/proc"
)

// startNetwork gives user programs their sockets and brings the node onto
// the fabric when it has a network card: its name comes from dunix.node=NAME (else its MAC), the cluster
// key from dunix.key=HEX (else a fresh one: a fabric of one node). It
// logs and carries on without a network on any failure; user space runs
// either way.
func startNetwork(flags cmdline.Flags, node *proc.Node) *fabric.Node {
	nics, err := kernel.NICs()
	if err != nil {
		fmt.Printf("dunix: network: %v\n", err)
	}
	if len(nics) == 0 {
		// No card: user programs still get loopback sockets.
		s, err := ip6.NewLoopback(rand.Reader)
		if err != nil {
			fmt.Printf("dunix: network: %v\n", err)
			return nil
		}
		node.SetNetwork(socket.NewFactory(s))
		return nil
	}
	nic := nics[0]
	mac := nic.MAC()
	name := flags.String("dunix.node")
	if name == "" {
		name = fmt.Sprintf("node-%02x%02x%02x", mac[3], mac[4], mac[5])
	}
	var key clusterkey.Key
	if s := flags.String("dunix.key"); s != "" {
		if key, err = clusterkey.Parse(s); err != nil {
			fmt.Printf("dunix: network: dunix.key: %v; staying off the fabric\n", err)
			return nil
		}
	} else {
		if key, err = clusterkey.Generate(); err != nil {
			fmt.Printf("dunix: network: %v\n", err)
			return nil
		}
		fmt.Println("dunix: network: no cluster key given (dunix.key=): this node forms a fabric of its own")
	}
	if err := setHostname(name); err != nil {
		fmt.Printf("dunix: network: hostname: %v\n", err)
	}
	load := newLoadAverage(node)
	quiet := flags.Bool("dunix.quiet")
	logf := func(format string, args ...any) {
		if !quiet {
			fmt.Printf("dunix: "+format+"\n", args...)
		}
	}
	n, err := fabric.New(fabric.Config{
		Name: name, Key: key, Device: nic, RNG: rand.Reader, Logf: logf,
		Local:   func() status.Load { return nodeLoad(node, load) },
		Profile: kernel.Profile,
		ENOSYS: func() map[string]uint32 {
			m := kernel.ENOSYSCounts() // the kernel's own (the Go runtime's)
			for nr, v := range node.ENOSYS() {
				m[kernel.SyscallName(uint64(nr))] += v
			}
			return m
		},
		Counters: func() status.Counters {
			return status.Counters{"nic.rx_frames": nic.RXFrames.Load(), "nic.tx_frames": nic.TXFrames.Load(),
				"nic.rx_dropped": nic.RXDropped.Load(), "nic.tx_dropped": nic.TXDropped.Load(),
				"nic.rx_errors": nic.RXErrors.Load(), "nic.rx_looped": nic.RXLooped.Load(),
				"nic.rx_merged": nic.RXMerged.Load(), "nic.tx_offloaded": nic.TXOffloaded.Load()}
		},
	})
	if err != nil {
		fmt.Printf("dunix: network: %v\n", err)
		return nil
	}
	node.SetNetwork(socket.NewFactory(n.Stack.S))
	netReport = func() {
		c := n.Stack.Counters()
		fmt.Printf("dunix: network: %v: rx %d frames (%d coalesced, %d checksums completed), tx %d frames (%d with checksums left to the card, %d segmented by it), dropped %d/%d\n",
			nic, nic.RXFrames.Load(), c["link_rx_gso"], c["link_rx_csum_partial"], nic.TXFrames.Load(), c["link_tx_csum"], c["link_tx_gso"], nic.RXDropped.Load(), nic.TXDropped.Load())
	}
	// Joining takes seconds (duplicate address detection first): it goes
	// on beside the first process.
	go func() {
		if err := n.Join(context.Background()); err != nil {
			fmt.Printf("dunix: network: %v\n", err)
			return
		}
		fmt.Printf("dunix: fabric: node %s on %v, address %v\n", name, nic, n.Addr)
	}()
	return n
}

// nodeLoad returns the node's figures for placement.
func nodeLoad(node *proc.Node, load *loadAverage) status.Load {
	src := node.ProcFS()
	st := kernel.ReadStats()
	mi := src.Meminfo()
	l := status.Load{CPUs: int(st.Online), Load1: load.get(), MemTotal: mi.Total, MemFree: mi.Available,
		Uptime: float64(st.UptimeNs) / 1e9}
	if cpus := src.CPUs(); len(cpus) > 0 {
		l.Features = cpus[0].Flags
	}
	return l
}

// loadAverage is the 1-minute exponentially damped average of runnable
// threads, sampled every 5 seconds as Linux does.
type loadAverage struct {
	mu sync.Mutex
	v  float64
}

func newLoadAverage(node *proc.Node) *loadAverage {
	l := &loadAverage{}
	decay := math.Exp(-5.0 / 60)
	go func() {
		for range time.Tick(5 * time.Second) {
			r := float64(node.ProcFS().Counters().Running)
			l.mu.Lock()
			l.v = l.v*decay + r*(1-decay)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *loadAverage) get() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return math.Round(l.v*100) / 100
}

func setHostname(name string) error { return unix.Sethostname([]byte(name)) }

// netReport, once the fabric is up, prints what the card moved; the node
// prints it as it powers off.
var netReport = func() {}

// The card offloads through the fabric's link when the device offers it.
var _ link.OffloadDevice = (*virtionet.NIC)(nil)
