package fabric

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"dunix/net/clusterkey"
	"dunix/net/link/memlink"
	"dunix/net/status"
)

// cluster starts n nodes on one hub; the last `wrong` of them have a
// different key.
// tune adjusts every node's configuration. It also returns the nodes'
// hub ports, in order.
func cluster(t *testing.T, n, wrong int, tune ...func(*Config)) (*memlink.Hub, []*Node, []*memlink.Port) {
	t.Helper()
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	key, _ := clusterkey.Generate()
	bad, _ := clusterkey.Generate()
	nodes := make([]*Node, n)
	errs := make(chan error, n)
	var ports []*memlink.Port
	for i := range nodes {
		k := key
		if i >= n-wrong {
			k = bad
		}
		port := hub.Port([6]byte{0x52, 0x54, 0, 0, 0, byte(i + 1)})
		ports = append(ports, port)
		cfg := Config{Name: fmt.Sprintf("n%d", i+1), Key: k, Device: port, RNG: rand.Reader,
			Logf:  func(f string, a ...any) { t.Logf("n%d: "+f, append([]any{i + 1}, a...)...) },
			Local: func() status.Load { return status.Load{CPUs: i + 1, MemFree: 1 << 20} }}
		for _, f := range tune {
			f(&cfg)
		}
		go func() {
			nd, err := Start(context.Background(), cfg)
			nodes[i] = nd
			errs <- err
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Close()
		}
	})
	return hub, nodes, ports
}

// alive returns the names node sees alive.
func alive(nd *Node) map[string]bool {
	m := map[string]bool{}
	for _, mb := range nd.Members.Members() {
		if mb.State == "alive" {
			m[mb.Name] = true
		}
	}
	return m
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

func TestFabricJoinsCallsAndReports(t *testing.T) {
	_, nodes, _ := cluster(t, 4, 1) // n4 has the wrong key
	good := nodes[:3]
	waitFor(t, "full membership of the three nodes with the key", 30*time.Second, func() bool {
		for _, nd := range good {
			if a := alive(nd); len(a) != 3 || a["n4"] {
				return false
			}
		}
		return true
	})
	if a := alive(nodes[3]); len(a) != 1 {
		t.Errorf("the node with the wrong key sees %v", a)
	}
	// Node-to-node calls by name.
	nodes[2].Transport.HandleCall("echo", func(_ context.Context, from string, req []byte) ([]byte, error) {
		return append([]byte(from+":"), req...), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := nodes[0].Transport.Call(ctx, "n3", "echo", []byte("hi"))
	if err != nil || string(resp) != "n1:hi" {
		t.Fatalf("call n1 -> n3: %q, %v", resp, err)
	}
	if _, err := nodes[0].Transport.Call(ctx, "n4", "echo", nil); err == nil {
		t.Error("a call to the node with the wrong key succeeded")
	}
	// The status document over HTTP on the fabric, from n2.
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return gonet.DialContextTCP(ctx, nodes[1].Stack.S, tcpip.FullAddress{NIC: nodes[1].Stack.NIC, Addr: nodes[0].Addr, Port: status.Port}, ipv6.ProtocolNumber)
	}}}
	doc, err := status.Fetch(ctx, c, "http://n1/status.json")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Name != "n1" || len(doc.Addrs) == 0 || doc.Load.CPUs != 1 || doc.MAC != "52:54:00:00:00:01" {
		t.Errorf("n1's document: %+v", doc)
	}
	seen := 0
	for _, m := range doc.Members {
		if m.State == "alive" && m.Name != "n4" {
			seen++
		}
		if m.Name == "n3" && m.Load.CPUs != 3 {
			t.Errorf("n3's figures as n1 sees them: %+v", m.Load)
		}
	}
	if seen != 3 {
		t.Errorf("n1's document lists %d alive members: %+v", seen, doc.Members)
	}
	// The wrong-key node keeps sending beacons (it never joins): they are
	// dropped and counted.
	waitFor(t, "n1 counting the wrong-key node's beacons as dropped", 10*time.Second, func() bool {
		return nodes[0].Report().Counters["discovery.dropped_bad_mac"] > 0
	})
}

// TestFabricPartitionHeals cuts a node off the others: each side sees the
// other dead; after the cut heals, discovery's quiet beacons bring them
// back together without anyone calling Join.
func TestFabricPartitionHeals(t *testing.T) {
	hub, nodes, ports := cluster(t, 3, 0, func(c *Config) {
		c.ProbeInterval = 200 * time.Millisecond
		c.QuietInterval = time.Second
	})
	full := func() bool {
		for _, nd := range nodes {
			if len(alive(nd)) != 3 {
				return false
			}
		}
		return true
	}
	waitFor(t, "full membership", 30*time.Second, full)
	hub.Partition(ports[:2], ports[2:])
	waitFor(t, "both sides to see the other dead", 30*time.Second, func() bool {
		a, c := alive(nodes[0]), alive(nodes[2])
		return len(a) == 2 && !a["n3"] && len(c) == 1
	})
	hub.Heal()
	waitFor(t, "the fabric to heal by itself", 60*time.Second, full)
}
