// Package observe looks at a running fabric from outside it: an Observer
// is a tcpip stack (package ip6) on a network card joined to the fabric's
// LAN (on the host, a tools/lan Device) that is not a member. It finds the
// nodes with an ICMPv6 echo request to the all-nodes group ff02::1 and
// fetches each node's status document (package status) over HTTP from its
// link-local address. `dunix status` prints what it finds and `dunix
// cluster up` waits with it for the membership to form. Host only.
package observe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"

	"dunix/net/ip6"
	"dunix/net/link"
	"dunix/net/status"
)

// Options tune an Observer; zero fields take the defaults.
type Options struct {
	// Window is how long Discover collects echo replies after each
	// request (1 s).
	Window time.Duration
	// Rounds is how many echo requests Discover sends (3); it stops
	// early when a round finds no new node.
	Rounds int
	// FetchTimeout bounds one status fetch (5 s).
	FetchTimeout time.Duration
	// DADRetransmitTimer is passed to ip6 (its default when 0; tests use
	// less).
	DADRetransmitTimer time.Duration
	// Logf receives the stack's events; nothing is logged when nil.
	Logf func(format string, args ...any)
}

// Observer is a non-member on the fabric's LAN.
type Observer struct {
	st     *ip6.Stack
	opts   Options
	client *http.Client
	ident  uint16
	seq    uint16
}

// New builds an Observer on dev: an ip6 stack with a random RFC 7217
// secret (dev should have a random MAC too, see lan.RandomMAC). Close
// stops it; dev itself is not closed.
func New(dev link.Device, opts Options) (*Observer, error) {
	if opts.Window <= 0 {
		opts.Window = time.Second
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 3
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 5 * time.Second
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	st, err := ip6.New(ip6.Config{Device: dev, Secret: secret, NICName: "observer", Logf: opts.Logf, DADRetransmitTimer: opts.DADRetransmitTimer})
	if err != nil {
		return nil, err
	}
	var id [2]byte
	rand.Read(id[:])
	o := &Observer{st: st, opts: opts, ident: binary.BigEndian.Uint16(id[:])}
	o.client = &http.Client{Transport: &http.Transport{
		DialContext:       o.dial,
		DisableKeepAlives: true,
	}}
	return o, nil
}

// Close stops the observer's stack.
func (o *Observer) Close() { o.st.Close() }

// dial connects to "[fe80::...%zone]:port" through the stack (gonet ignores
// zones: the fabric NIC is given in the full address).
func (o *Observer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("observe: dial %s: %v", addr, err)
	}
	fa := tcpip.FullAddress{NIC: o.st.NIC, Addr: tcpip.AddrFrom16(ap.Addr().WithZone("").As16()), Port: ap.Port()}
	return gonet.DialContextTCP(ctx, o.st.S, fa, ipv6.ProtocolNumber)
}

// LinkLocal waits until the observer's link-local address is up (DAD
// passed) and returns it.
func (o *Observer) LinkLocal(ctx context.Context) (netip.Addr, error) {
	a, err := o.st.LinkLocal(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom16(a.As16()), nil
}

// Discover sends ICMPv6 echo requests to ff02::1 and returns the
// link-local addresses that answered, sorted. It waits for the
// observer's own address first.
func (o *Observer) Discover(ctx context.Context) ([]netip.Addr, error) {
	self, err := o.LinkLocal(ctx)
	if err != nil {
		return nil, err
	}
	var wq waiter.Queue
	ep, terr := o.st.S.NewEndpoint(icmp.ProtocolNumber6, ipv6.ProtocolNumber, &wq)
	if terr != nil {
		return nil, fmt.Errorf("observe: ICMPv6 endpoint: %s", terr)
	}
	defer ep.Close()
	if terr := ep.Bind(tcpip.FullAddress{NIC: o.st.NIC, Addr: tcpip.AddrFrom16(self.As16()), Port: o.ident}); terr != nil {
		return nil, fmt.Errorf("observe: ICMPv6 bind: %s", terr)
	}
	we, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)

	found := map[netip.Addr]bool{}
	allNodes := tcpip.FullAddress{NIC: o.st.NIC, Addr: header.IPv6AllNodesMulticastAddress}
	for round := 0; round < o.opts.Rounds; round++ {
		before := len(found)
		o.seq++
		req := make([]byte, header.ICMPv6EchoMinimumSize+8)
		h := header.ICMPv6(req)
		h.SetType(header.ICMPv6EchoRequest)
		h.SetIdent(o.ident)
		h.SetSequence(o.seq)
		copy(req[header.ICMPv6EchoMinimumSize:], "dunixobs")
		var r bytes.Reader
		r.Reset(req)
		if _, terr := ep.Write(&r, tcpip.WriteOptions{To: &allNodes}); terr != nil {
			return nil, fmt.Errorf("observe: echo request to ff02::1: %s", terr)
		}
		window := time.NewTimer(o.opts.Window)
	collect:
		for {
			for {
				var buf bytes.Buffer
				res, terr := ep.Read(&buf, tcpip.ReadOptions{NeedRemoteAddr: true})
				if terr != nil {
					break // ErrWouldBlock: wait for more
				}
				from := netip.AddrFrom16(res.RemoteAddr.Addr.As16())
				if from != self && from.IsLinkLocalUnicast() {
					found[from] = true
				}
			}
			select {
			case <-ch:
			case <-window.C:
				break collect
			case <-ctx.Done():
				window.Stop()
				return sortedAddrs(found), ctx.Err()
			}
		}
		if round > 0 && len(found) == before && len(found) > 0 {
			break
		}
	}
	return sortedAddrs(found), nil
}

func sortedAddrs(m map[netip.Addr]bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// URL returns the status URL of the node at addr.
func URL(addr netip.Addr) string {
	return "http://" + net.JoinHostPort(addr.WithZone("").String()+"%25fabric", strconv.Itoa(status.Port)) + "/status.json"
}

// Fetch gets the status document of the node at addr.
func (o *Observer) Fetch(ctx context.Context, addr netip.Addr) (*status.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, o.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, URL(addr), nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", URL(addr), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", URL(addr), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", URL(addr), resp.Status)
	}
	var n status.Node
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("GET %s: not a status document: %v", URL(addr), err)
	}
	return &n, nil
}

// Get fetches path (with its query) from the status server of the node at
// addr, within timeout.
func (o *Observer) Get(ctx context.Context, addr netip.Addr, path string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := "http://" + net.JoinHostPort(addr.WithZone("").String()+"%25fabric", strconv.Itoa(status.Port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// Report is what the observer learned about one address that answered.
type Report struct {
	Addr netip.Addr
	Node *status.Node // nil when the fetch failed
	Err  error
}

// Observe discovers the nodes and fetches every node's status, all at
// once; the reports come sorted by node name (those that failed last, by
// address).
func (o *Observer) Observe(ctx context.Context) ([]Report, error) {
	addrs, err := o.Discover(ctx)
	if err != nil {
		return nil, err
	}
	reports := make([]Report, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := o.Fetch(ctx, a)
			reports[i] = Report{Addr: a, Node: n, Err: err}
		}()
	}
	wg.Wait()
	sort.SliceStable(reports, func(i, j int) bool {
		ri, rj := reports[i], reports[j]
		if (ri.Node == nil) != (rj.Node == nil) {
			return ri.Node != nil
		}
		if ri.Node != nil && ri.Node.Name != rj.Node.Name {
			return ri.Node.Name < rj.Node.Name
		}
		return ri.Addr.Less(rj.Addr)
	})
	return reports, nil
}

// Alive returns the names of the members n sees as alive, sorted.
func Alive(n *status.Node) []string {
	var out []string
	for _, m := range n.Members {
		if m.State == "alive" {
			out = append(out, m.Name)
		}
	}
	sort.Strings(out)
	return out
}
