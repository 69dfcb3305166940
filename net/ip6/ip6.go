// Package ip6 builds a node's tcpip stack (gVisor): one fabric NIC on a
// link.Device that speaks IPv6 only, with a link-local address made from
// an RFC 7217 opaque interface identifier (keyed with the node's secret,
// so that it is stable across boots and does not reveal the MAC),
// duplicate address detection, NDP, MLD and SLAAC when a router
// advertises a prefix; and a loopback NIC with ::1 (and 127.0.0.1) for
// user programs' sockets.
//
// gVisor gives up on a link-local address whose DAD finds a duplicate and
// leaves the NIC without one. Stack takes that event and tries the next
// identifier of the RFC 7217 sequence (DAD_Counter + 1), logging and
// counting each conflict.
package ip6

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand"
	randv2 "math/rand/v2"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"dunix/net/link"

	glog "gvisor.dev/gvisor/pkg/log"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// NIC numbers of the two interfaces, as Linux numbers them.
const (
	LoopbackNIC tcpip.NICID = 1 // "lo"
	FabricNIC   tcpip.NICID = 2 // Config.NICName
)

// DefaultMaxDADRetries is how many new link-local identifiers a Stack
// tries after DAD conflicts before it gives up (RFC 7217 suggests at
// least IDGEN_RETRIES = 3; a little more costs nothing on a LAN).
const DefaultMaxDADRetries = 8

// Config configures New.
type Config struct {
	// Device is the fabric network card.
	Device link.Device
	// Secret is the RFC 7217 secret key (at least 16 bytes), for example
	// clusterkey Key.Derive(clusterkey.AddrSecret, nodeName, 32).
	Secret []byte
	// NICName names the fabric NIC ("eth0" when empty); it is part of
	// the RFC 7217 identifier.
	NICName string
	// RNG is the kernel's entropy; it feeds the stack's SecureRNG and
	// seeds its RandSource; it must be safe for concurrent use.
	// crypto/rand when nil.
	RNG io.Reader
	// Logf receives the stack's events (DAD results and conflicts);
	// nothing is logged when nil.
	Logf func(format string, args ...any)
	// IPv4 also installs the IPv4 protocols (for user programs' sockets
	// over loopback); the fabric NIC still carries no IPv4.
	IPv4 bool

	// DADTransmits is the number of DAD Neighbor Solicitations per
	// address (1 when 0; DAD is always on).
	DADTransmits uint8
	// DADRetransmitTimer is the wait between them and after the last
	// one (1 s when 0; tests use less).
	DADRetransmitTimer time.Duration
	// MaxDADRetries bounds the new link-local identifiers tried after
	// conflicts (DefaultMaxDADRetries when 0).
	MaxDADRetries int
}

// Stack is a node's tcpip stack with its fabric and loopback NICs.
type Stack struct {
	// S is the gVisor stack.
	S *stack.Stack
	// NIC is the fabric NIC (FabricNIC).
	NIC tcpip.NICID
	// Loopback is the loopback NIC (LoopbackNIC).
	Loopback tcpip.NICID

	cfg     Config
	link    *link.Endpoint
	dadTime time.Duration // how long one DAD round takes

	rngMu sync.Mutex
	rng   *randv2.Rand // guarded by rngMu; jitter

	mu         sync.Mutex
	closed     bool          // guarded by mu
	ll         tcpip.Address // assigned link-local address, guarded by mu
	llReady    chan struct{} // closed when ll is set
	dadCounter uint8         // RFC 7217 DAD_Counter of the current link-local candidate, guarded by mu
	retry      *time.Timer   // pending regeneration, guarded by mu
	pending    sync.WaitGroup

	dadConflicts, dadGiveups, dadErrors, llFailures atomic.Uint64
}

// New builds the stack described by cfg and enables its NICs; the
// link-local address is then going through DAD (see LinkLocal).
func New(cfg Config) (*Stack, error) {
	if cfg.Device == nil {
		return nil, errors.New("ip6: no device")
	}
	if len(cfg.Secret) < header.OpaqueIIDSecretKeyMinBytes {
		return nil, fmt.Errorf("ip6: RFC 7217 secret of %d bytes, want at least %d", len(cfg.Secret), header.OpaqueIIDSecretKeyMinBytes)
	}
	if cfg.NICName == "" {
		cfg.NICName = "eth0"
	}
	if cfg.RNG == nil {
		cfg.RNG = rand.Reader
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.DADTransmits == 0 {
		cfg.DADTransmits = 1
	}
	if cfg.DADRetransmitTimer <= 0 {
		cfg.DADRetransmitTimer = time.Second
	}
	if cfg.MaxDADRetries <= 0 {
		cfg.MaxDADRetries = DefaultMaxDADRetries
	}
	var seed [32]byte
	if _, err := io.ReadFull(cfg.RNG, seed[:]); err != nil {
		return nil, fmt.Errorf("ip6: seeding from the RNG: %w", err)
	}
	s := &Stack{
		NIC:      FabricNIC,
		Loopback: LoopbackNIC,
		cfg:      cfg,
		dadTime:  time.Duration(cfg.DADTransmits) * cfg.DADRetransmitTimer,
		rng:      randv2.New(randv2.NewChaCha8(seed)),
		llReady:  make(chan struct{}),
	}
	// The secret is owned by the stack from now on.
	secret := append([]byte(nil), cfg.Secret...)
	s.cfg.Secret = secret

	ndp := ipv6.DefaultNDPConfigurations()
	ndp.HandleRAs = ipv6.HandlingRAsEnabledWhenForwardingDisabled
	ndp.DiscoverDefaultRouters = true
	ndp.DiscoverOnLinkPrefixes = true
	ndp.AutoGenGlobalAddresses = true
	// No temporary (RFC 4941) addresses: fabric addresses must be stable.
	ndp.AutoGenTempGlobalAddresses = false
	// gVisor's own retry after a conflict would also cover the link-local
	// address, without the jitter of ours (see scheduleNewLinkLocal) and
	// racing with it: Stack retries link-local addresses itself, and a
	// conflicting SLAAC global address is logged, counted and dropped.
	ndp.AutoGenAddressConflictRetries = 0
	v6 := ipv6.Options{
		NDPConfigs:       ndp,
		AutoGenLinkLocal: true,
		NDPDisp:          (*ndpDispatcher)(s),
		OpaqueIIDOpts: ipv6.OpaqueInterfaceIdentifierOptions{
			NICNameFromID: func(_ tcpip.NICID, name string) string { return name },
			SecretKey:     secret,
		},
		MLD: ipv6.MLDOptions{Enabled: true},
		DADConfigs: stack.DADConfigurations{
			DupAddrDetectTransmits: cfg.DADTransmits,
			RetransmitTimer:        cfg.DADRetransmitTimer,
		},
	}
	nets := []stack.NetworkProtocolFactory{ipv6.NewProtocolWithOptions(v6)}
	trans := []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol6}
	if cfg.IPv4 {
		nets = append(nets, ipv4.NewProtocol)
		trans = append(trans, icmp.NewProtocol4)
	}
	s.S = stack.New(stack.Options{
		NetworkProtocols:   nets,
		TransportProtocols: trans,
		HandleLocal:        true,
		SecureRNG:          cfg.RNG,
		RandSource:         &lockedSource{r: randv2.NewChaCha8(seed)},
	})
	fail := func(format string, args ...any) (*Stack, error) {
		s.S.Destroy()
		return nil, fmt.Errorf(format, args...)
	}

	// Loopback first, so that it is NIC 1 as on Linux.
	if err := s.S.CreateNICWithOptions(LoopbackNIC, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		return fail("ip6: creating the loopback NIC: %s", err)
	}
	// gVisor would run DAD on loopback too (and never finish it, hearing
	// its own solicitations): no DAD there.
	loEP, err := s.S.GetNetworkEndpoint(LoopbackNIC, ipv6.ProtocolNumber)
	if err != nil {
		return fail("ip6: IPv6 endpoint of the loopback NIC: %s", err)
	}
	if d, ok := loEP.(stack.DuplicateAddressDetector); ok {
		d.SetDADConfigurations(stack.DADConfigurations{})
	}
	lo := []tcpip.AddressWithPrefix{{Address: header.IPv6Loopback, PrefixLen: 128}}
	if cfg.IPv4 {
		lo = append(lo, tcpip.AddressWithPrefix{Address: header.IPv4Loopback, PrefixLen: 8})
	}
	for _, a := range lo {
		proto := ipv6.ProtocolNumber
		if a.Address.Len() == 4 {
			proto = ipv4.ProtocolNumber
		}
		if err := s.S.AddProtocolAddress(LoopbackNIC, tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: a}, stack.AddressProperties{}); err != nil {
			return fail("ip6: adding %s to the loopback NIC: %s", a, err)
		}
	}

	s.link = link.NewEndpoint(cfg.Device).(*link.Endpoint)
	if err := s.S.CreateNICWithOptions(FabricNIC, s.link, stack.NICOptions{Name: cfg.NICName}); err != nil {
		return fail("ip6: creating the fabric NIC %s: %s", cfg.NICName, err)
	}
	if cfg.IPv4 {
		// IPv6 only on the fabric: the IPv4 endpoint there stays off.
		ep, err := s.S.GetNetworkEndpoint(FabricNIC, ipv4.ProtocolNumber)
		if err != nil {
			return fail("ip6: IPv4 endpoint of %s: %s", cfg.NICName, err)
		}
		ep.Disable()
	}

	routes := []tcpip.Route{
		{Destination: subnet(header.IPv6Loopback, 128), NIC: LoopbackNIC},
		{Destination: header.IPv6LinkLocalPrefix.Subnet(), NIC: FabricNIC},
		{Destination: subnet(tcpip.AddrFrom16([16]byte{0xff}), 8), NIC: FabricNIC}, // multicast
	}
	if cfg.IPv4 {
		routes = append(routes, tcpip.Route{Destination: subnet(header.IPv4Loopback, 8), NIC: LoopbackNIC})
	}
	// Routes from RAs (default routers, on-link prefixes) are added by
	// NDP later, after these.
	s.S.SetRouteTable(routes)
	return s, nil
}

// subnet returns the subnet of addr with prefix length n.
func subnet(addr tcpip.Address, n int) tcpip.Subnet {
	return tcpip.AddressWithPrefix{Address: addr, PrefixLen: n}.Subnet()
}

// LinkLocal waits until the fabric NIC's link-local address passed DAD
// and returns it.
func (s *Stack) LinkLocal(ctx context.Context) (tcpip.Address, error) {
	select {
	case <-s.llReady:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.ll, nil
	case <-ctx.Done():
		return tcpip.Address{}, fmt.Errorf("ip6: waiting for the link-local address of %s: %w", s.cfg.NICName, ctx.Err())
	}
}

// Addrs returns the assigned (DAD passed) IPv6 addresses of the fabric
// NIC, link-local first.
func (s *Stack) Addrs() []netip.Addr {
	info, ok := s.S.NICInfo()[s.NIC]
	if !ok {
		return nil
	}
	var out []netip.Addr
	for _, pa := range info.ProtocolAddresses {
		if pa.Protocol != ipv6.ProtocolNumber {
			continue
		}
		out = append(out, netip.AddrFrom16(pa.AddressWithPrefix.Address.As16()))
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].IsLinkLocalUnicast() && !out[j].IsLinkLocalUnicast()
	})
	return out
}

// NICName returns the fabric NIC's name (Config.NICName), the zone of
// its link-local addresses.
func (s *Stack) NICName() string { return s.cfg.NICName }

// Link returns the fabric NIC's link endpoint.
func (s *Stack) Link() *link.Endpoint { return s.link }

// Counters returns what the stack dropped or had to handle, by name:
// "dad_conflicts" (duplicates DAD found on any of our addresses),
// "dad_giveups", "dad_errors", the link endpoint's counters
// ("link_tx_errors", "link_rx_dropped", ...) and the stack's drop
// statistics.
func (s *Stack) Counters() map[string]uint64 {
	c := s.link.Counters()
	c["dad_conflicts"] = s.dadConflicts.Load()
	c["dad_giveups"] = s.dadGiveups.Load()
	c["dad_errors"] = s.dadErrors.Load()
	st := s.S.Stats()
	c["ip_malformed"] = st.IP.MalformedPacketsReceived.Value()
	c["ip_invalid_dst"] = st.IP.InvalidDestinationAddressesReceived.Value()
	c["ip_invalid_src"] = st.IP.InvalidSourceAddressesReceived.Value()
	c["ip_disabled_rx"] = st.IP.DisabledPacketsReceived.Value()
	c["ip_tx_errors"] = st.IP.OutgoingPacketErrors.Value()
	c["icmp6_invalid"] = st.ICMP.V6.PacketsReceived.Invalid.Value()
	c["udp_unknown_port"] = st.UDP.UnknownPortErrors.Value()
	c["udp_rx_buffer_full"] = st.UDP.ReceiveBufferErrors.Value()
	c["udp_malformed"] = st.UDP.MalformedPacketsReceived.Value()
	c["udp_checksum_errors"] = st.UDP.ChecksumErrors.Value()
	c["udp_tx_errors"] = st.UDP.PacketSendErrors.Value()
	c["tcp_checksum_errors"] = st.TCP.ChecksumErrors.Value()
	c["tcp_invalid_segments"] = st.TCP.InvalidSegmentsReceived.Value()
	c["nic_malformed_l4"] = st.NICs.MalformedL4RcvdPackets.Value()
	c["nic_tx_no_buffer"] = st.NICs.TxPacketsDroppedNoBufferSpace.Value()
	return c
}

// Close stops the stack: pending work ends, endpoints are aborted and the
// NICs removed. The device itself is not stopped.
func (s *Stack) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.retry != nil && s.retry.Stop() {
		s.pending.Done() // its function will not run
	}
	s.mu.Unlock()
	s.pending.Wait()
	s.S.Close()
	s.S.Wait()
}

// logf logs through the configured function.
func (s *Stack) logf(format string, args ...any) { s.cfg.Logf(format, args...) }

// jitter returns a random duration in [0, d).
func (s *Stack) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return time.Duration(s.rng.Int64N(int64(d)))
}

// dadResult handles a DAD result of the fabric NIC (called by gVisor
// with its locks held: it must not call into the stack).
func (s *Stack) dadResult(addr tcpip.Address, res stack.DADResult) {
	ll := header.IsV6LinkLocalUnicastAddress(addr)
	switch r := res.(type) {
	case *stack.DADSucceeded:
		s.logf("ip6: %s: %s passed DAD", s.cfg.NICName, addr)
		if !ll {
			return
		}
		s.mu.Lock()
		if s.ll == (tcpip.Address{}) {
			s.ll = addr
			close(s.llReady)
		}
		s.mu.Unlock()
	case *stack.DADDupAddrDetected:
		s.dadConflicts.Add(1)
		s.logf("ip6: %s: DAD conflict: %s is already used by %s", s.cfg.NICName, addr, r.HolderLinkAddress)
		if ll {
			s.scheduleNewLinkLocal()
		}
	case *stack.DADError:
		s.dadErrors.Add(1)
		s.logf("ip6: %s: DAD of %s failed: %s", s.cfg.NICName, addr, r.Err)
	case *stack.DADAborted:
		// The NIC went down or the address was removed.
	}
}

// scheduleNewLinkLocal arranges for the next RFC 7217 link-local
// identifier to be added after a random delay of up to one DAD round
// (two nodes that generate the same sequence and start at the same time
// would otherwise collide again at every step).
func (s *Stack) scheduleNewLinkLocal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ll != (tcpip.Address{}) {
		return
	}
	if int(s.dadCounter) >= s.cfg.MaxDADRetries {
		s.dadGiveups.Add(1)
		s.logf("ip6: %s: giving up on a link-local address after %d conflicts", s.cfg.NICName, s.dadCounter+1)
		return
	}
	s.dadCounter++
	counter := s.dadCounter
	s.pending.Add(1)
	s.retry = time.AfterFunc(s.jitter(s.dadTime), func() {
		defer s.pending.Done()
		s.addLinkLocal(counter)
	})
}

// addLinkLocal adds the link-local address with DAD_Counter counter; its
// DAD result comes back through dadResult.
func (s *Stack) addLinkLocal(counter uint8) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	addr := header.LinkLocalAddrWithOpaqueIID(s.cfg.NICName, counter, s.cfg.Secret)
	s.logf("ip6: %s: trying link-local %s (DAD counter %d)", s.cfg.NICName, addr, counter)
	pa := tcpip.ProtocolAddress{
		Protocol:          ipv6.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr, PrefixLen: 64},
	}
	if err := s.S.AddProtocolAddress(s.NIC, pa, stack.AddressProperties{PEB: stack.CanBePrimaryEndpoint}); err != nil {
		s.dadErrors.Add(1)
		s.logf("ip6: %s: adding link-local %s: %s", s.cfg.NICName, addr, err)
	}
}

// lockedSource is a math/rand Source safe for concurrent use, drawn from
// a ChaCha8 generator seeded from the kernel's entropy.
type lockedSource struct {
	mu sync.Mutex
	r  *randv2.ChaCha8
}

var _ mathrand.Source = (*lockedSource)(nil)

// Int63 implements math/rand.Source.
func (l *lockedSource) Int63() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.r.Uint64() >> 1)
}

// Seed implements math/rand.Source; the seed comes from the RNG, so a
// caller's seed is ignored.
func (l *lockedSource) Seed(int64) {}

// RouteLog sends the output of gVisor's logger (package pkg/log, global
// to the program) to logf instead of standard error.
func RouteLog(logf func(format string, args ...any)) {
	glog.SetTarget(emitter(logf))
}

// emitter is a gVisor log.Emitter calling a printf-like function.
type emitter func(format string, args ...any)

// Emit implements log.Emitter.
func (e emitter) Emit(_ int, level glog.Level, _ time.Time, format string, args ...any) {
	e("gvisor %s: "+format, append([]any{level}, args...)...)
}
