// Package fabric brings a node onto the fabric: it builds the node's
// tcpip stack on its network card (IPv6 link-local addresses, package
// ip6), finds peers by multicast (discovery), joins them in the
// peer-to-peer membership (member), opens the authenticated node-to-node
// transport (transport) and serves the node's status over HTTP (status).
//
// Ports on the fabric NIC's link-local address: membership 7946 (UDP and
// TCP), transport 7947 (TCP), status 8740 (TCP), discovery 8741 (UDP,
// multicast group discovery.Group).
//
// Invariants: nothing here trusts the network. Discovery beacons are
// authenticated before a join is attempted; membership and transport
// traffic is authenticated and encrypted under subkeys of the cluster key;
// everything dropped is counted and shows in the status document.
package fabric

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"dunix/net/clusterkey"
	"dunix/net/discovery"
	"dunix/net/ip6"
	"dunix/net/link"
	"dunix/net/member"
	"dunix/net/status"
	"dunix/net/transport"
)

// Ports of the fabric services.
const (
	MemberPort    = 7946
	TransportPort = 7947
)

// Config describes the node.
type Config struct {
	Name   string         // node name, unique in the fabric
	Key    clusterkey.Key // the cluster key
	Device link.Device    // the fabric network card
	RNG    io.Reader      // the kernel's entropy
	Logf   func(format string, args ...any)
	// Local returns the node's own figures (CPUs, load, memory, uptime,
	// features) for the membership metadata and the status document.
	Local func() status.Load
	// ENOSYS returns the unimplemented system calls made so far.
	ENOSYS func() map[string]uint32
	// Counters returns more counters to report (the driver's).
	Counters func() status.Counters
	// Profile, when set, samples the node for a while and describes where
	// its CPUs were (served at /debug/profile?seconds=N, N ≤ 60).
	Profile func(time.Duration) string
	// ProbeInterval is membership's probe interval (member's default when
	// zero); QuietInterval discovery's beacon interval once joined
	// (discovery's default when zero). Tests shorten them.
	ProbeInterval, QuietInterval time.Duration
	// JoinTimeout bounds the wait for the link-local address (default 30 s).
	JoinTimeout time.Duration
}

// Node is a node on the fabric.
type Node struct {
	cfg       Config
	Stack     *ip6.Stack
	Addr      tcpip.Address // link-local address of the fabric NIC
	Members   *member.List
	Transport *transport.Transport
	disc      *discovery.Discovery
	http      *http.Server
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	profiling sync.Mutex
}

// Start brings the node onto the fabric: New, then Join.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	n, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := n.Join(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// New builds the node's stack on its network card (the link-local
// address is still being checked for duplicates when it returns).
func New(cfg Config) (*Node, error) {
	if cfg.Name == "" || cfg.Device == nil {
		return nil, errors.New("fabric: a node needs a name and a network device")
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Local == nil {
		cfg.Local = func() status.Load { return status.Load{} }
	}
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = 30 * time.Second
	}
	st, err := ip6.New(ip6.Config{Device: cfg.Device, Secret: cfg.Key.Derive(clusterkey.AddrSecret, cfg.Name, 32),
		NICName: "eth0", RNG: cfg.RNG, Logf: cfg.Logf, IPv4: true})
	if err != nil {
		return nil, fmt.Errorf("fabric: %w", err)
	}
	return &Node{cfg: cfg, Stack: st, done: make(chan struct{})}, nil
}

// Join waits for the link-local address and starts the services:
// membership, transport, status and discovery. Joining the peers goes on
// in the background as they are discovered.
func (n *Node) Join(ctx context.Context) error {
	cfg := n.cfg
	st := n.Stack
	var err error
	wctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	n.Addr, err = st.LinkLocal(wctx)
	cancel()
	if err != nil {
		return fmt.Errorf("fabric: no link-local address: %w", err)
	}
	n.Members, err = member.Start(member.Config{Stack: st.S, NIC: st.NIC, Addr: n.Addr, Port: MemberPort,
		Name: cfg.Name, Key: cfg.Key, Meta: cfg.Local, Logf: cfg.Logf, ProbeInterval: cfg.ProbeInterval})
	if err != nil {
		return fmt.Errorf("fabric: membership: %w", err)
	}
	if err := n.startTransport(); err != nil {
		return err
	}
	if err := n.startStatus(); err != nil {
		return err
	}
	n.disc, err = discovery.Start(discovery.Config{Stack: st, Name: cfg.Name, Key: cfg.Key, Service: MemberPort,
		QuietInterval: cfg.QuietInterval, Logf: cfg.Logf}, n.found)
	if err != nil {
		return fmt.Errorf("fabric: discovery: %w", err)
	}
	n.wg.Add(1)
	go n.watch()
	return nil
}

// found is called by discovery with an authenticated peer: join it unless
// it is already an alive member.
func (n *Node) found(p discovery.Peer) {
	for _, m := range n.Members.Members() {
		if m.Name == p.Name && m.State == "alive" {
			return
		}
	}
	go func() {
		if _, err := n.Members.Join([]netip.AddrPort{p.Addr}); err != nil {
			n.cfg.Logf("fabric: join %s at %v: %v", p.Name, p.Addr, err)
		}
	}()
}

// watch keeps discovery quiet while the node is joined, logs membership
// changes, and drops transport connections to members that failed or
// left, so that calls to them fail at once.
func (n *Node) watch() {
	defer n.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	events := n.Members.Events()
	for {
		select {
		case <-n.done:
			return
		case <-t.C:
			n.disc.Quiet(n.Members.Joined())
		case ev, ok := <-events:
			if !ok {
				return
			}
			switch ev.Kind {
			case member.Join, member.Leave, member.Fail:
				n.cfg.Logf("fabric: %s %s (%s)", ev.Member.Name, map[member.EventKind]string{
					member.Join: "joined", member.Leave: "left", member.Fail: "failed"}[ev.Kind], ev.Member.Addr)
			}
			if ev.Kind == member.Leave || ev.Kind == member.Fail {
				n.Transport.Disconnect(ev.Member.Name)
			}
		}
	}
}

func (n *Node) listen(port uint16) (net.Listener, error) {
	l, err := gonet.ListenTCP(n.Stack.S, tcpip.FullAddress{NIC: n.Stack.NIC, Addr: n.Addr, Port: port}, ipv6.ProtocolNumber)
	if err != nil {
		return nil, fmt.Errorf("fabric: listen on port %d: %w", port, err)
	}
	return l, nil
}

func (n *Node) startTransport() error {
	l, err := n.listen(TransportPort)
	if err != nil {
		return err
	}
	n.Transport, err = transport.New(transport.Config{Name: n.cfg.Name, Key: n.cfg.Key, Listener: l,
		Dial: n.dialPeer, Logf: n.cfg.Logf})
	if err != nil {
		l.Close()
		return fmt.Errorf("fabric: transport: %w", err)
	}
	return nil
}

// dialPeer connects to a member's transport port.
func (n *Node) dialPeer(ctx context.Context, node string) (net.Conn, error) {
	ap, ok := n.Members.Addr(node)
	if !ok {
		return nil, fmt.Errorf("fabric: no member named %q", node)
	}
	a := tcpip.AddrFrom16(ap.Addr().As16())
	return gonet.DialContextTCP(ctx, n.Stack.S, tcpip.FullAddress{NIC: n.Stack.NIC, Addr: a, Port: TransportPort}, ipv6.ProtocolNumber)
}

func (n *Node) startStatus() error {
	l, err := n.listen(status.Port)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", status.Handler(n.Report))
	if n.cfg.Profile != nil {
		mux.HandleFunc("/debug/profile", n.serveProfile)
	}
	n.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.cfg.Logf("fabric: status server: %v", err)
		}
	}()
	return nil
}

// serveProfile answers GET /debug/profile?seconds=N (default 10, at most
// 60) with the node's sampling profile as text; one at a time.
func (n *Node) serveProfile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	secs := 10
	if v := r.URL.Query().Get("seconds"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 1 || s > 60 {
			http.Error(w, "seconds: want 1 to 60", http.StatusBadRequest)
			return
		}
		secs = s
	}
	if !n.profiling.TryLock() {
		http.Error(w, "a profile is being taken", http.StatusConflict)
		return
	}
	defer n.profiling.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, n.cfg.Profile(time.Duration(secs)*time.Second))
}

// Report returns the node's status document.
func (n *Node) Report() status.Node {
	r := status.Node{Name: n.cfg.Name, ID: n.cfg.Name, Load: n.cfg.Local(), Counters: status.Counters{}}
	m := n.cfg.Device.MAC()
	r.MAC = net.HardwareAddr(m[:]).String()
	for _, a := range n.Stack.Addrs() {
		r.Addrs = append(r.Addrs, a.String())
	}
	r.Members = n.Members.Members()
	sort.Slice(r.Members, func(i, j int) bool { return r.Members[i].Name < r.Members[j].Name })
	add := func(prefix string, c map[string]uint64) {
		for k, v := range c {
			r.Counters[prefix+k] = v
		}
	}
	add("ip.", n.Stack.Counters())
	add("member.", n.Members.Counters())
	add("transport.", n.Transport.Counters())
	if n.disc != nil {
		add("discovery.", n.disc.Counters())
	}
	if n.cfg.Counters != nil {
		add("", n.cfg.Counters())
	}
	if n.cfg.ENOSYS != nil {
		r.ENOSYS = n.cfg.ENOSYS()
	}
	return r
}

// Close leaves the fabric and stops every service.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		close(n.done)
		if n.disc != nil {
			n.disc.Close()
		}
		if n.http != nil {
			n.http.Close()
		}
		if n.Transport != nil {
			n.Transport.Close()
		}
		if n.Members != nil {
			n.Members.Leave(time.Second)
			n.Members.Shutdown()
		}
		n.wg.Wait()
		n.Stack.Close()
	})
}
