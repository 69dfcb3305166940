package observe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"dunix/net/ip6"
	"dunix/net/link"
	"dunix/net/link/memlink"
	"dunix/net/status"
	"dunix/qemu"
	"dunix/tools/lan"
)

// fakeNode is a node's stack on the hub serving a status document.
type fakeNode struct {
	st   *ip6.Stack
	addr netip.Addr
}

func startNode(t *testing.T, dev link.Device, name string, members []status.Member) *fakeNode {
	t.Helper()
	st, err := ip6.New(ip6.Config{Device: dev, Secret: []byte("secret of node " + name), DADRetransmitTimer: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ll, err := st.LinkLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrFrom16(ll.As16())
	l, err := gonet.ListenTCP(st.S, tcpip.FullAddress{NIC: st.NIC, Addr: ll, Port: status.Port}, ipv6.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	doc := status.Node{Name: name, Addrs: []string{addr.String()}, Load: status.Load{CPUs: 2, MemFree: 100 << 20, Uptime: 12.5}, Members: members}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return &fakeNode{st: st, addr: addr}
}

func TestObserve(t *testing.T) {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	members := []status.Member{{Name: "n1", State: "alive"}, {Name: "n2", State: "alive"}, {Name: "n3", State: "dead"}}
	n2 := startNode(t, hub.Port([6]byte{0x52, 0x54, 0, 0, 0, 2}), "n2", members)
	n1 := startNode(t, hub.Port([6]byte{0x52, 0x54, 0, 0, 0, 1}), "n1", members[:2])

	o, err := New(hub.Port([6]byte{0x02, 0, 0, 0, 0, 9}), Options{Window: 200 * time.Millisecond, DADRetransmitTimer: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	addrs, err := o.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{n1.addr, n2.addr}
	slices.SortFunc(want, netip.Addr.Compare)
	if !slices.Equal(addrs, want) {
		t.Fatalf("Discover = %v, want %v", addrs, want)
	}

	reports, err := o.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 {
		t.Fatalf("Observe = %d reports, want 2: %+v", len(reports), reports)
	}
	for i, r := range reports {
		if r.Err != nil {
			t.Fatalf("report %d: %v", i, r.Err)
		}
	}
	if r := reports[0]; r.Node.Name != "n1" || r.Addr != n1.addr || r.Node.Load.CPUs != 2 {
		t.Errorf("first report %+v %+v, want n1 at %s", r, r.Node, n1.addr)
	}
	if got := Alive(reports[1].Node); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("Alive(n2) = %v", got)
	}

	// A fetch from an address with no server fails with a message.
	if _, err := o.Fetch(ctx, netip.MustParseAddr("fe80::1")); err == nil {
		t.Error("Fetch from nowhere succeeded")
	}
}

func TestDiscoverNobody(t *testing.T) {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	o, err := New(hub.Port([6]byte{0x02, 0, 0, 0, 0, 9}), Options{Window: 100 * time.Millisecond, Rounds: 2, DADRetransmitTimer: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := o.Discover(ctx)
	if err != nil || len(addrs) != 0 {
		t.Errorf("Discover on an empty LAN = %v, %v", addrs, err)
	}
}

func TestURL(t *testing.T) {
	if got, want := URL(netip.MustParseAddr("fe80::1%eth0")), "http://[fe80::1%25fabric]:8740/status.json"; got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}
}

// TestObserveOverLAN runs the same over a real QEMU-style LAN on the
// host's loopback (tools/lan): multicast echo, NDP and TCP between two
// gVisor stacks through the kernel's UDP multicast.
func TestObserveOverLAN(t *testing.T) {
	l, err := qemu.NewLAN()
	if err != nil {
		t.Fatal(err)
	}
	join := func(mac [6]byte) *lan.Device {
		d, err := lan.Join(l, mac)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	node := startNode(t, join([6]byte{0x52, 0x54, 0, 0, 0, 1}), "n1", []status.Member{{Name: "n1", State: "alive"}})
	mac, err := lan.RandomMAC()
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(join(mac), Options{Window: 300 * time.Millisecond, DADRetransmitTimer: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reports, err := o.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || reports[0].Err != nil || reports[0].Node.Name != "n1" || reports[0].Addr != node.addr {
		t.Fatalf("Observe over the LAN = %+v", reports)
	}
}
