package discovery

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"dunix/net/clusterkey"
	"dunix/net/ip6"
	"dunix/net/link/memlink"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
)

const timeout = 10 * time.Second

var (
	key      = clusterkey.Key{7, 7, 7}
	otherKey = clusterkey.Key{8, 8, 8}
)

// stackOn starts an ip6 stack on a new port of hub and waits for its
// link-local address.
func stackOn(t *testing.T, hub *memlink.Hub, i byte, name string) (*ip6.Stack, tcpip.Address) {
	t.Helper()
	s, err := ip6.New(ip6.Config{
		Device:             hub.Port([6]byte{2, 0, 0, 0, 1, i}),
		Secret:             key.Derive(clusterkey.AddrSecret, name, 32),
		DADRetransmitTimer: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ll, err := s.LinkLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s, ll
}

// peers records what a node's discovery found.
type peers struct {
	mu    sync.Mutex
	found map[string]Peer
	ch    chan struct{}
}

func (p *peers) add(x Peer) {
	p.mu.Lock()
	p.found[x.Name] = x
	p.mu.Unlock()
	select {
	case p.ch <- struct{}{}:
	default:
	}
}

func (p *peers) get(name string) (Peer, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x, ok := p.found[name]
	return x, ok
}

func (p *peers) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.found)
}

type testNode struct {
	name string
	s    *ip6.Stack
	ll   tcpip.Address
	d    *Discovery
	p    *peers
}

func start(t *testing.T, hub *memlink.Hub, i byte, name string, k clusterkey.Key) *testNode {
	t.Helper()
	s, ll := stackOn(t, hub, i, name)
	n := &testNode{name: name, s: s, ll: ll, p: &peers{found: map[string]Peer{}, ch: make(chan struct{}, 1)}}
	d, err := Start(Config{
		Stack:         s,
		Name:          name,
		Key:           k,
		Service:       7946,
		Interval:      50 * time.Millisecond,
		QuietInterval: 20 * time.Second,
		Logf:          func(f string, a ...any) { t.Logf(name+": "+f, a...) },
	}, n.p.add)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	n.d = d
	return n
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestThreeFindEachOther(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	nodes := []*testNode{start(t, hub, 1, "a", key), start(t, hub, 2, "b", key), start(t, hub, 3, "c", key)}
	for _, n := range nodes {
		waitFor(t, n.name+" to find two peers", func() bool { return n.p.len() == 2 })
	}
	for _, n := range nodes {
		for _, m := range nodes {
			if n == m {
				continue
			}
			p, ok := n.p.get(m.name)
			if !ok {
				t.Fatalf("%s did not find %s", n.name, m.name)
			}
			want := netip.AddrPortFrom(netip.AddrFrom16(m.ll.As16()).WithZone("eth0"), 7946)
			if p.Addr != want {
				t.Errorf("%s found %s at %s, want %s", n.name, m.name, p.Addr, want)
			}
		}
		c := n.d.Counters()
		if c["beacons_sent"] == 0 || c["beacons_received"] == 0 {
			t.Errorf("%s counters %v", n.name, c)
		}
		if c["dropped_bad_mac"]+c["dropped_replay"]+c["dropped_malformed"] != 0 {
			t.Errorf("%s dropped beacons: %v", n.name, c)
		}
	}
}

func TestWrongKeyNeverReported(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	a := start(t, hub, 1, "a", key)
	b := start(t, hub, 2, "b", key)
	x := start(t, hub, 3, "intruder", otherKey)
	waitFor(t, "a and b to find each other", func() bool {
		_, ab := a.p.get("b")
		_, ba := b.p.get("a")
		return ab && ba
	})
	waitFor(t, "bad MACs counted", func() bool {
		return a.d.Counters()["dropped_bad_mac"] >= 2 && b.d.Counters()["dropped_bad_mac"] >= 2 && x.d.Counters()["dropped_bad_mac"] >= 2
	})
	if _, ok := a.p.get("intruder"); ok {
		t.Error("a reported the intruder")
	}
	if _, ok := b.p.get("intruder"); ok {
		t.Error("b reported the intruder")
	}
	if x.p.len() != 0 {
		t.Errorf("the intruder found %v", x.p.found)
	}
}

func TestReplayedTruncatedForged(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	a := start(t, hub, 1, "a", key)
	inj, _ := stackOn(t, hub, 9, "injector")
	conn, err := gonet.DialUDP(inj.S, &tcpip.FullAddress{NIC: inj.NIC}, nil, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	group := &net.UDPAddr{IP: net.ParseIP(Group), Port: Port}
	k := key.Derive(clusterkey.Discovery, "", 32)
	inject := func(p []byte) {
		t.Helper()
		if _, err := conn.WriteTo(p, group); err != nil {
			t.Fatal(err)
		}
	}
	counter := func(name string) func() uint64 {
		return func() uint64 { return a.d.Counters()[name] }
	}
	expect := func(what string, get func() uint64, p []byte) {
		t.Helper()
		before := get()
		inject(p)
		waitFor(t, what, func() bool { return get() == before+1 })
	}

	b0 := beacon{Service: 99, Epoch: 1, Seq: 5, Time: time.Now().UnixNano(), Name: "x", Nonce: [16]byte{1}}
	good := encode(nil, k, &b0)
	inject(good)
	waitFor(t, "x found", func() bool { _, ok := a.p.get("x"); return ok })

	expect("exact replay dropped", counter("dropped_replay"), good)
	old := b0
	old.Seq, old.Nonce = 4, [16]byte{2}
	expect("older sequence dropped", counter("dropped_replay"), encode(nil, k, &old))
	stale := b0
	stale.Seq, stale.Nonce, stale.Time = 6, [16]byte{3}, time.Now().Add(-time.Hour).UnixNano()
	expect("stale time dropped", counter("dropped_replay"), encode(nil, k, &stale))
	future := stale
	future.Nonce, future.Time = [16]byte{4}, time.Now().Add(time.Hour).UnixNano()
	expect("future time dropped", counter("dropped_replay"), encode(nil, k, &future))
	prevBoot := b0
	prevBoot.Epoch, prevBoot.Seq, prevBoot.Nonce, prevBoot.Time = 0, 100, [16]byte{5}, b0.Time-int64(time.Second)
	expect("earlier boot dropped", counter("dropped_replay"), encode(nil, k, &prevBoot))

	expect("truncated dropped", counter("dropped_malformed"), good[:len(good)-1])
	expect("empty dropped", counter("dropped_malformed"), []byte{})
	expect("oversized dropped", counter("dropped_malformed"), make([]byte, 1000))
	forged := append([]byte(nil), good...)
	forged[offService] ^= 1
	expect("forged dropped", counter("dropped_bad_mac"), forged)
	self := b0
	self.Name, self.Nonce, self.Seq = "a", [16]byte{6}, 7
	expect("own name dropped", counter("dropped_self"), encode(nil, k, &self))

	// A new boot of x (new epoch, later time) is reported again.
	reboot := b0
	reboot.Epoch, reboot.Seq, reboot.Nonce, reboot.Time = 2, 0, [16]byte{7}, time.Now().UnixNano()
	before := a.d.Counters()["beacons_received"]
	inject(encode(nil, k, &reboot))
	waitFor(t, "reboot accepted", func() bool { return a.d.Counters()["beacons_received"] == before+1 })
}

func TestQuietSlowsDownAndAnswersNewcomers(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	nodes := []*testNode{start(t, hub, 1, "a", key), start(t, hub, 2, "b", key), start(t, hub, 3, "c", key)}
	for _, n := range nodes {
		waitFor(t, n.name+" to find two peers", func() bool { return n.p.len() == 2 })
	}
	for _, n := range nodes {
		n.d.Quiet(true)
	}
	sent := func() (total uint64) {
		for _, n := range nodes {
			total += n.d.Counters()["beacons_sent"]
		}
		return total
	}
	// Joining, three nodes send 60 beacons a second; quiet (mean period
	// 20 s), about none in a second.
	before := sent()
	time.Sleep(time.Second)
	if d := sent() - before; d > 6 {
		t.Errorf("quiet nodes sent %d beacons in a second", d)
	}

	// A newcomer is answered, and finds the cluster.
	d := start(t, hub, 4, "d", key)
	waitFor(t, "newcomer to find a joined node", func() bool { return d.p.len() >= 1 })
	waitFor(t, "an answer counted", func() bool {
		var n uint64
		for _, x := range nodes {
			n += x.d.Counters()["answers"]
		}
		return n >= 1
	})
	// Answers are bounded: at most one per node per Interval (50 ms).
	before = sent()
	start := time.Now()
	time.Sleep(500 * time.Millisecond)
	elapsed := time.Since(start)
	limit := uint64(len(nodes)) * uint64(elapsed/(50*time.Millisecond)+2)
	if n := sent() - before; n > limit {
		t.Errorf("quiet nodes sent %d beacons in %v answering one newcomer (limit %d)", n, elapsed, limit)
	}
	for _, n := range nodes {
		waitFor(t, n.name+" to find the newcomer", func() bool { _, ok := n.p.get("d"); return ok })
	}
}

func TestStartErrors(t *testing.T) {
	hub := memlink.NewHub()
	defer hub.Close()
	s, _ := stackOn(t, hub, 1, "a")
	for _, c := range []Config{
		{Name: "a", Service: 1},
		{Stack: s, Name: "", Service: 1},
		{Stack: s, Name: "bad\nname", Service: 1},
		{Stack: s, Name: string(make([]byte, MaxNameLen+1)), Service: 1},
		{Stack: s, Name: "a"},
	} {
		if d, err := Start(c, nil); err == nil {
			d.Close()
			t.Errorf("Start(%+v) succeeded", c)
		}
	}
}
