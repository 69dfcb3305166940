package member

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"dunix/net/clusterkey"
	"dunix/net/ip6"
	"dunix/net/link/memlink"
	"dunix/net/status"
)

// probe is the probe interval in tests: failure detection in about 2 s
// (see the package comment) while leaving slack for -race on busy CPUs.
const probe = 200 * time.Millisecond

type tnode struct {
	name string
	port *memlink.Port
	st   *ip6.Stack
	addr tcpip.Address
	l    *List

	mu     sync.Mutex
	events []Event
}

func (n *tnode) peer() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(n.addr.As16()), DefaultPort)
}

// newStack makes a node's stack on a new hub port and waits for its
// link-local address.
func newStack(t testing.TB, hub *memlink.Hub, i int) (*memlink.Port, *ip6.Stack, tcpip.Address) {
	t.Helper()
	port := hub.Port([6]byte{0x02, 0, 0, 0, 0, byte(i + 1)})
	st, err := ip6.New(ip6.Config{
		Device:             port,
		Secret:             []byte(fmt.Sprintf("test secret of node %d", i)),
		DADRetransmitTimer: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, err := st.LinkLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return port, st, addr
}

// startNode starts node i named name on hub.
func startNode(t testing.TB, hub *memlink.Hub, i int, name string, key clusterkey.Key, opts ...func(*Config)) *tnode {
	t.Helper()
	port, st, addr := newStack(t, hub, i)
	n := &tnode{name: name, port: port, st: st, addr: addr}
	logf := func(f string, a ...any) { t.Logf(name+": "+f, a...) }
	if _, fuzzing := t.(*testing.F); fuzzing {
		logf = nil // F.Logf may not be called from the fuzz target
	}
	start := time.Now()
	cfg := Config{
		Stack: st.S, NIC: st.NIC, Addr: addr, Name: name, Key: key,
		Meta: func() status.Load {
			return status.Load{CPUs: i + 1, Load1: 0.25, MemTotal: 1 << 30, MemFree: 512 << 20,
				Uptime: time.Since(start).Seconds(), Features: []string{"sse2", "avx2", "x-test"}}
		},
		Logf:          logf,
		ProbeInterval: probe,
		MetaInterval:  500 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	l, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.l = l
	go func() {
		for e := range l.Events() {
			n.mu.Lock()
			n.events = append(n.events, e)
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { l.Shutdown() })
	return n
}

func (n *tnode) sawEvent(kind EventKind, name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range n.events {
		if e.Kind == kind && e.Member.Name == name {
			return true
		}
	}
	return false
}

// state returns the state n has for name ("" if unknown).
func (n *tnode) state(name string) string {
	for _, m := range n.l.Members() {
		if m.Name == name {
			return m.State
		}
	}
	return ""
}

// cluster starts k nodes that all join the first.
func cluster(t *testing.T, hub *memlink.Hub, k int, key clusterkey.Key) []*tnode {
	nodes := make([]*tnode, k)
	for i := range nodes {
		nodes[i] = startNode(t, hub, i, fmt.Sprintf("n%d", i), key)
	}
	for _, n := range nodes[1:] {
		if _, err := n.l.Join([]netip.AddrPort{nodes[0].peer()}); err != nil {
			t.Fatalf("%s join: %v", n.name, err)
		}
	}
	waitUntil(t, 10*time.Second, "full membership", func() bool { return allAlive(nodes, nodes) })
	return nodes
}

// allAlive reports whether every node of viewers sees exactly members as
// alive.
func allAlive(viewers, members []*tnode) bool {
	for _, v := range viewers {
		alive := 0
		for _, m := range members {
			if v.state(m.name) == StateAlive {
				alive++
			}
		}
		if alive != len(members) || !v.l.Joined() && len(members) > 1 {
			return false
		}
	}
	return true
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %v", what, within)
	return 0
}

func TestFullMembership(t *testing.T) {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	nodes := cluster(t, hub, 5, key)

	// Figures gossiped and decoded, addresses known.
	waitUntil(t, 5*time.Second, "figures", func() bool {
		for _, v := range nodes {
			for i, m := range v.l.Members() {
				if m.Load.CPUs != i+1 || m.Load.MemFree != 512<<20 || strings.Join(m.Load.Features, ",") != "sse2,avx2,x-test" {
					return false
				}
			}
		}
		return true
	})
	for _, v := range nodes {
		for _, m := range nodes {
			ap, ok := v.l.Addr(m.name)
			if !ok || ap != m.peer() {
				t.Errorf("%s: Addr(%s) = %v %v, want %v", v.name, m.name, ap, ok, m.peer())
			}
		}
	}
	if _, ok := nodes[0].l.Addr("nobody"); ok {
		t.Errorf("Addr of an unknown node")
	}
	waitUntil(t, 5*time.Second, "join events", func() bool {
		for _, m := range nodes[1:] {
			if !nodes[0].sawEvent(Join, m.name) {
				return false
			}
		}
		return true
	})
	// Uptime grows: the figures are refreshed.
	up := func() float64 { return nodes[1].l.Members()[0].Load.Uptime }
	u0 := up()
	waitUntil(t, 5*time.Second, "refreshed figures", func() bool { return up() > u0 })

	// Steady-state traffic per node.
	time.Sleep(2 * time.Second)
	for _, n := range nodes {
		c := n.l.Counters()
		t.Logf("%s: %d pkt/s in, %d pkt/s out, %d B/s in, %d B/s out (5 nodes, probe %v); drops %d/%d/%d",
			n.name, c["packets_in_per_sec"], c["packets_out_per_sec"], c["bytes_in_per_sec"], c["bytes_out_per_sec"], probe,
			c["dropped_undecryptable"], c["dropped_streams_unauthenticated"], c["dropped_malformed"])
		if c["dropped_undecryptable"]+c["dropped_malformed"]+c["dropped_streams_unauthenticated"] != 0 {
			t.Errorf("%s dropped packets among good members: %v", n.name, c)
		}
		if c["members_alive"] != 5 || c["packets_out_per_sec"] == 0 {
			t.Errorf("%s counters: %v", n.name, c)
		}
	}
}

func TestKilledNodeDetected(t *testing.T) {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	nodes := cluster(t, hub, 4, key)
	victim, rest := nodes[3], nodes[:3]
	victim.port.SetUp(false)
	suspected := false
	took := waitUntil(t, 15*time.Second, "victim dead everywhere", func() bool {
		dead := 0
		for _, n := range rest {
			switch n.state(victim.name) {
			case StateSuspect:
				suspected = true
			case StateDead:
				dead++
			}
		}
		return dead == len(rest)
	})
	if !suspected {
		t.Errorf("no survivor showed the victim as suspect before dead")
	}
	t.Logf("killed node declared dead by all 3 others after %v (probe %v)", took, probe)
	if took > 12*probe*2 {
		t.Errorf("detection took %v, more than the documented bound of about 6 probes plus a round", took)
	}
	for _, n := range rest {
		if !n.sawEvent(Fail, victim.name) {
			t.Errorf("%s: no fail event for %s", n.name, victim.name)
		}
		if _, ok := n.l.Addr(victim.name); ok {
			t.Errorf("%s still has an address for dead %s", n.name, victim.name)
		}
	}
	if !allAlive(rest, rest) {
		t.Errorf("survivors do not see each other alive")
	}
}

func TestPartitionAndHeal(t *testing.T) {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	nodes := cluster(t, hub, 4, key)
	lone, rest := nodes[3], nodes[:3]
	hub.Partition([]*memlink.Port{lone.port})
	waitUntil(t, 15*time.Second, "partition seen on both sides", func() bool {
		for _, n := range rest {
			if n.state(lone.name) != StateDead {
				return false
			}
		}
		for _, n := range rest {
			if s := lone.state(n.name); s != StateDead && s != StateSuspect {
				return false
			}
		}
		return !lone.l.Joined()
	})
	hub.Heal()
	if _, err := lone.l.Join([]netip.AddrPort{rest[0].peer()}); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	took := waitUntil(t, 15*time.Second, "membership after heal", func() bool { return allAlive(nodes, nodes) })
	t.Logf("full membership %v after the rejoin", took)
	if !rest[0].sawEvent(Join, lone.name) {
		t.Errorf("no join event after the heal")
	}
}

// encrypt seals plain the way memberlist frames encrypted packets
// (version 1: version byte, 12-byte nonce, AES-GCM with the label, empty
// here, as additional data), with crypto/cipher.
func encrypt(t testing.TB, key, plain []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 1+12, 1+12+len(plain)+16)
	out[0] = 1
	rand.Read(out[1:13])
	return gcm.Seal(out, out[1:13], plain, nil)
}

func TestWrongKeyAndForgedPackets(t *testing.T) {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	nodes := cluster(t, hub, 3, key)
	other, _ := clusterkey.Generate()
	evil := startNode(t, hub, 7, "evil", other)

	// The wrong-key node cannot join: its push-pull is refused.
	if _, err := evil.l.Join([]netip.AddrPort{nodes[0].peer()}); err == nil {
		t.Errorf("wrong-key node joined")
	}
	waitUntil(t, 5*time.Second, "refused stream counted", func() bool {
		return nodes[0].l.Counters()["dropped_streams_unauthenticated"] >= 1
	})

	// Forged packets from a socket on the evil node's stack.
	udp, err := gonet.DialUDP(evil.st.S, &tcpip.FullAddress{NIC: evil.st.NIC, Addr: evil.addr, Port: 9999}, nil, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	target := &net.UDPAddr{IP: net.IP(nodes[0].addr.AsSlice()), Port: DefaultPort}
	mkey := other.Derive(clusterkey.Membership, "", 32)
	goodKey := key.Derive(clusterkey.Membership, "", 32)
	undecryptable := [][]byte{
		{0}, {1}, {1, 2, 3},
		make([]byte, 29),
		encrypt(t, mkey, []byte{0, 1, 2, 3}),         // wrong key
		encrypt(t, goodKey, []byte{0, 1, 2, 3})[:20], // cut
		[]byte("\x00plain ping without encryption"),
	}
	for i := 0; i < 20; i++ {
		p := make([]byte, 1+i*60)
		rand.Read(p)
		// An encryption version byte, so that memberlist tries (and
		// fails) to decrypt: a random first byte of 244 would read as a
		// label header and count as malformed instead.
		p[0] = byte(i % 2)
		undecryptable = append(undecryptable, p)
	}
	malformed := [][]byte{
		encrypt(t, goodKey, nil),                          // no message type
		encrypt(t, goodKey, []byte{0}),                    // ping without body
		encrypt(t, goodKey, []byte{0, 0xc1, 0xc1}),        // ping, bad msgpack
		encrypt(t, goodKey, []byte{200, 1, 2}),            // unknown type
		encrypt(t, goodKey, []byte{12, 0, 0, 0, 0, 1, 2}), // bad checksum
		encrypt(t, goodKey, []byte{7, 9, 0, 5, 0, 5}),     // compound, truncated
		encrypt(t, goodKey, []byte{9, 0xc1, 0xc1, 0xc1}),  // compressed, garbage
	}
	before := nodes[0].l.Counters()
	for _, p := range append(undecryptable, malformed...) {
		if _, err := udp.WriteTo(p, target); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // memlink queues are bounded
	}
	waitUntil(t, 5*time.Second, "forged packets counted", func() bool {
		c := nodes[0].l.Counters()
		return c["dropped_undecryptable"]-before["dropped_undecryptable"] >= uint64(len(undecryptable)) &&
			c["dropped_malformed"]-before["dropped_malformed"] >= uint64(len(malformed))-1
	})
	t.Logf("n0 counters: %v", nodes[0].l.Counters())

	// The same sealed packets again: replays, dropped before memberlist.
	for _, p := range malformed {
		if _, err := udp.WriteTo(p, target); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	waitUntil(t, 5*time.Second, "replays counted", func() bool {
		return nodes[0].l.Counters()["dropped_replay"]-before["dropped_replay"] >= uint64(len(malformed))-1
	})

	// Nobody took the wrong-key node in, and the cluster is intact.
	time.Sleep(5 * probe)
	for _, n := range nodes {
		if s := n.state("evil"); s != "" {
			t.Errorf("%s lists the wrong-key node as %s", n.name, s)
		}
	}
	if got := evil.l.Members(); len(got) != 1 || evil.l.Joined() {
		t.Errorf("wrong-key node sees %v", got)
	}
	if !allAlive(nodes, nodes) {
		t.Errorf("cluster disturbed")
	}
}

func TestLeave(t *testing.T) {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	nodes := cluster(t, hub, 3, key)
	start := time.Now()
	if err := nodes[2].l.Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("leave took %v", time.Since(start))
	nodes[2].l.Shutdown()
	waitUntil(t, 5*time.Second, "left", func() bool {
		return nodes[0].state("n2") == StateLeft && nodes[1].state("n2") == StateLeft
	})
	if !nodes[0].sawEvent(Leave, "n2") {
		t.Errorf("no leave event")
	}
}

func TestMetaRoundTrip(t *testing.T) {
	feats := []string{"sse2", "avx2", "avx512f", "la57", "weird_flag", "another"}
	l := status.Load{CPUs: 16, Load1: 3.14, MemTotal: 64 << 30, MemFree: 1 << 30, Uptime: 12345, Features: feats}
	b := encodeMeta(l, false)
	got, leaving, err := decodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got.Features)
	sort.Strings(feats)
	if leaving || got.CPUs != 16 || got.Load1 != 3.14 || got.MemTotal != l.MemTotal || got.MemFree != l.MemFree ||
		got.Uptime != 12345 || strings.Join(got.Features, " ") != strings.Join(feats, " ") {
		t.Errorf("round trip %+v -> %+v", l, got)
	}
	t.Logf("%d bytes", len(b))

	// A long feature list stays within the limit.
	var many []string
	for i := 0; i < 300; i++ {
		many = append(many, fmt.Sprintf("feature%d", i))
	}
	many = append(many, knownFeatures[:]...)
	b = encodeMeta(status.Load{Features: many}, true)
	if len(b) > MaxMeta {
		t.Fatalf("%d bytes", len(b))
	}
	got, leaving, err = decodeMeta(b)
	if err != nil || !leaving || len(got.Features) < len(knownFeatures) {
		t.Errorf("long list: %d features, %v", len(got.Features), err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(status.Load{CPUs: 2, Features: []string{"sse2", "odd"}}, false))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, leaving, err := decodeMeta(b)
		if err != nil {
			return
		}
		if e := encodeMeta(l, leaving); len(e) > MaxMeta {
			t.Fatalf("re-encoded to %d bytes", len(e))
		}
	})
}

// FuzzPacket feeds packets to a running member's packet path, either as
// they are or sealed with the cluster's membership key (so that they
// reach memberlist's decoders). A panic anywhere fails; afterwards the
// member must still work.
func FuzzPacket(f *testing.F) {
	hub := memlink.NewHub()
	f.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	n := startNode(f, hub, 0, "fuzz", key)
	mkey := key.Derive(clusterkey.Membership, "", 32)
	from := &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: DefaultPort}
	for typ := byte(0); typ < 16; typ++ {
		f.Add(true, []byte{typ, 0x80})
		f.Add(true, []byte{typ, 0x85, 0xa4, 'N', 'o', 'd', 'e', 0xa1, 'x'})
	}
	f.Add(false, []byte{1, 2, 3})
	f.Add(true, []byte{7, 2, 0, 3, 0, 3, 0, 0x80, 1, 0x80})
	f.Fuzz(func(t *testing.T, seal bool, p []byte) {
		if seal {
			p = encrypt(t, mkey, p)
		}
		if !n.l.tr.deliver(p, from, time.Now()) {
			t.Fatal("transport shut down")
		}
	})
	// Everything delivered was handled (the packet channel is
	// unbuffered) and the node still answers.
	if n.state("fuzz") != StateAlive {
		f.Errorf("members after fuzzing: %v", n.l.Members())
	}
}

// TestTrafficDefaultTiming measures steady-state membership traffic with
// the default timers (it takes about 20 s: run it with
// DUNIX_MEMBER_TRAFFIC=1).
func TestTrafficDefaultTiming(t *testing.T) {
	if os.Getenv("DUNIX_MEMBER_TRAFFIC") == "" {
		t.Skip("set DUNIX_MEMBER_TRAFFIC=1 to measure")
	}
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	defaults := func(c *Config) { c.ProbeInterval, c.MetaInterval = 0, 0 }
	var nodes []*tnode
	for i := 0; i < 5; i++ {
		nodes = append(nodes, startNode(t, hub, i, fmt.Sprintf("n%d", i), key, defaults))
	}
	for _, n := range nodes[1:] {
		if _, err := n.l.Join([]netip.AddrPort{nodes[0].peer()}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 20*time.Second, "full membership", func() bool { return allAlive(nodes, nodes) })
	before := make([]map[string]uint64, len(nodes))
	for i, n := range nodes {
		before[i] = n.l.Counters()
	}
	const span = 20 * time.Second
	time.Sleep(span)
	for i, n := range nodes {
		c := n.l.Counters()
		d := func(k string) float64 { return float64(c[k]-before[i][k]) / span.Seconds() }
		t.Logf("%s: %.1f pkt/s in, %.1f pkt/s out, %.0f B/s in, %.0f B/s out, TCP %.0f B/s in %.0f B/s out",
			n.name, d("packets_in"), d("packets_out"), d("bytes_in"), d("bytes_out"), d("stream_bytes_in"), d("stream_bytes_out"))
	}
	// Failure detection with the default timers.
	nodes[4].port.SetUp(false)
	took := waitUntil(t, 30*time.Second, "dead with default timers", func() bool {
		for _, n := range nodes[:4] {
			if n.state("n4") != StateDead {
				return false
			}
		}
		return true
	})
	t.Logf("killed node declared dead by all others after %v (default timers)", took)
}

func TestReplayFilter(t *testing.T) {
	f := newReplayFilter(time.Minute, 4)
	now := time.Now()
	p := func(b byte) []byte { return append([]byte{1, b}, make([]byte, 20)...) }
	if f.seen(p(1), now) || !f.seen(p(1), now) {
		t.Fatal("a repeated nonce was not caught")
	}
	if f.seen([]byte{1, 2}, now) || f.seen([]byte{1, 2}, now) {
		t.Error("a packet too short for a nonce was judged")
	}
	for b := byte(2); b < 6; b++ { // fills the generation: rotation keeps 1 in the old one
		f.seen(p(b), now)
	}
	if !f.seen(p(1), now) {
		t.Error("a nonce was forgotten at the first rotation")
	}
	later := now.Add(3 * time.Minute)
	f.seen(p(9), later)
	f.seen(p(10), later.Add(2*time.Minute))
	if f.seen(p(1), later.Add(2*time.Minute)) {
		t.Error("a nonce was kept beyond two windows")
	}
}
