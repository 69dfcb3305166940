// Package discovery finds the other nodes of the cluster on the link with
// no configuration: every node multicasts small beacons to a link-scope
// group of our own (Group, UDP Port) from its link-local address, and
// reports each node it hears to the caller (membership), which contacts
// it on the service port the beacon carries.
//
// Beacons are authenticated with HMAC-SHA256 under the cluster key's
// discovery subkey, and carry the sender's name, a boot-random epoch with
// a sequence number, a send time and a random nonce. Anything malformed,
// unauthenticated, from ourselves or replayed is dropped and counted;
// nothing on the network can make the decoder panic (see FuzzDecode).
//
// A node beacons every Interval while it joins. Once membership says it
// has joined (Quiet(true)), it beacons only about every QuietInterval,
// and answers a newcomer's beacon at most once per Interval, after a
// random delay, and not at all if another joined node's beacon was heard
// meanwhile (the newcomer needs one contact, not all): beacon traffic per
// node then stays flat as the cluster grows.
package discovery

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"dunix/net/clusterkey"
	"dunix/net/ip6"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Group is the link-scope multicast group beacons are sent to
// ("dunx" in the last 32 bits).
const Group = "ff02::6475:6e78"

// Port is the UDP port of beacons.
const Port = 8741

// Defaults for Config.
const (
	DefaultInterval      = 500 * time.Millisecond
	DefaultQuietInterval = 30 * time.Second
)

// MaxSkew is how far a beacon's send time may be from our clock, either
// way (nodes have no NTP; their clocks come from the RTC).
const MaxSkew = 15 * time.Minute

// maxNonces bounds the replay cache (only authenticated beacons enter it).
const maxNonces = 8192

// Config configures Start.
type Config struct {
	// Stack is the node's network stack; beacons go out on its fabric NIC.
	Stack *ip6.Stack
	// Name is the node's name (1 to MaxNameLen bytes of UTF-8, no
	// control characters); unique in the cluster.
	Name string
	// Key is the cluster key; beacons are authenticated with its
	// clusterkey.Discovery subkey.
	Key clusterkey.Key
	// Service is the port (membership's) that peers should contact,
	// carried in the beacon. It must not be 0.
	Service uint16
	// Interval is the beacon interval while joining (DefaultInterval
	// when 0), and the minimum interval between answers to newcomers.
	Interval time.Duration
	// QuietInterval is the mean beacon interval once quiet
	// (DefaultQuietInterval when 0).
	QuietInterval time.Duration
	// Logf receives events worth a line; nothing is logged when nil.
	Logf func(string, ...any)
}

// Peer is a node heard on the link.
type Peer struct {
	// Name is the node's name.
	Name string
	// Addr is the node's link-local address, zoned with our fabric NIC's
	// name, and the service port its beacon carries.
	Addr netip.AddrPort
}

// Discovery sends and receives beacons until Close.
type Discovery struct {
	cfg   Config
	key   []byte
	found func(Peer)
	group tcpip.Address
	nic   tcpip.NICID
	zone  string
	epoch uint64
	seq   uint64 // next sequence number; sender goroutine only

	wq waiter.Queue
	ep tcpip.Endpoint

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
	quiet  atomic.Bool

	mu          sync.Mutex
	peers       map[string]*peerState    // guarded by mu
	nonces      map[[nonceLen]byte]int64 // nonce → expiry (Unix ns), guarded by mu
	nextBeacon  time.Time                // guarded by mu
	answerAt    time.Time                // pending answer to a newcomer; zero if none; guarded by mu
	lastSent    time.Time                // guarded by mu
	warnedTwins bool                     // guarded by mu

	sent, received, sendErrors                 atomic.Uint64
	badMAC, replay, malformed, self, badSource atomic.Uint64
	answers, answersSuppressed                 atomic.Uint64
}

// peerState is what we remember of a peer to refuse replays.
type peerState struct {
	epoch uint64
	seq   uint64
	time  int64 // send time of the last accepted beacon (sender's clock)
	addr  netip.AddrPort
}

// Start joins the discovery group on cfg.Stack's fabric NIC and starts
// beaconing (once the link-local address passed DAD) and listening.
// found is called, from the receiving goroutine, for each node the first
// time it is heard and again when its address, service port or epoch
// (a reboot) changes; it should not block for long.
func Start(cfg Config, found func(Peer)) (*Discovery, error) {
	if cfg.Stack == nil {
		return nil, errors.New("discovery: no stack")
	}
	if !validName(cfg.Name) {
		return nil, fmt.Errorf("discovery: node name %q: want 1 to %d bytes of UTF-8 without control characters", cfg.Name, MaxNameLen)
	}
	if cfg.Service == 0 {
		return nil, errors.New("discovery: no service port")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.QuietInterval <= 0 {
		cfg.QuietInterval = DefaultQuietInterval
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if found == nil {
		found = func(Peer) {}
	}
	var e [8]byte
	if _, err := crand.Read(e[:]); err != nil {
		return nil, fmt.Errorf("discovery: epoch: %w", err)
	}
	d := &Discovery{
		cfg:    cfg,
		key:    cfg.Key.Derive(clusterkey.Discovery, "", 32),
		found:  found,
		group:  tcpip.AddrFrom16(netip.MustParseAddr(Group).As16()),
		nic:    cfg.Stack.NIC,
		zone:   cfg.Stack.NICName(),
		epoch:  binary.BigEndian.Uint64(e[:]),
		wake:   make(chan struct{}, 1),
		peers:  map[string]*peerState{},
		nonces: map[[nonceLen]byte]int64{},
	}
	if err := d.open(); err != nil {
		return nil, err
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.nextBeacon = time.Now()
	d.wg.Add(2)
	go d.receiver()
	go d.sender()
	return d, nil
}

// open creates the UDP endpoint: bound to Port on the fabric NIC, member
// of Group there, sending multicast there without loopback.
func (d *Discovery) open() error {
	s := d.cfg.Stack.S
	ep, err := s.NewEndpoint(udp.ProtocolNumber, ipv6.ProtocolNumber, &d.wq)
	if err != nil {
		return fmt.Errorf("discovery: UDP endpoint: %s", err)
	}
	fail := func(what string, err tcpip.Error) error {
		ep.Close()
		return fmt.Errorf("discovery: %s: %s", what, err)
	}
	ep.SocketOptions().SetReuseAddress(true)
	if err := ep.Bind(tcpip.FullAddress{NIC: d.nic, Port: Port}); err != nil {
		return fail(fmt.Sprintf("binding port %d", Port), err)
	}
	if err := ep.SetSockOpt(&tcpip.AddMembershipOption{NIC: d.nic, MulticastAddr: d.group}); err != nil {
		return fail("joining "+Group, err)
	}
	if err := ep.SetSockOpt(&tcpip.MulticastInterfaceOption{NIC: d.nic}); err != nil {
		return fail("multicast interface", err)
	}
	ep.SocketOptions().SetMulticastLoop(false)
	d.ep = ep
	return nil
}

// Quiet tells discovery whether the node has joined the cluster: quiet,
// it beacons about every QuietInterval and answers newcomers; not quiet,
// it beacons every Interval (starting now).
func (d *Discovery) Quiet(q bool) {
	if d.quiet.Swap(q) == q {
		return
	}
	now := time.Now()
	d.mu.Lock()
	if q {
		d.nextBeacon = now.Add(d.period(true))
	} else {
		d.nextBeacon = now
	}
	d.mu.Unlock()
	d.poke()
}

// Counters returns the beacon counters: "beacons_sent",
// "beacons_received" (accepted), "send_errors", "dropped_bad_mac",
// "dropped_replay" (nonce or sequence seen, or send time beyond
// MaxSkew), "dropped_malformed" (also truncated or oversized),
// "dropped_self", "dropped_source" (not from a link-local address),
// "answers" and "answers_suppressed" (to newcomers, when quiet).
func (d *Discovery) Counters() map[string]uint64 {
	return map[string]uint64{
		"beacons_sent":       d.sent.Load(),
		"beacons_received":   d.received.Load(),
		"send_errors":        d.sendErrors.Load(),
		"dropped_bad_mac":    d.badMAC.Load(),
		"dropped_replay":     d.replay.Load(),
		"dropped_malformed":  d.malformed.Load(),
		"dropped_self":       d.self.Load(),
		"dropped_source":     d.badSource.Load(),
		"answers":            d.answers.Load(),
		"answers_suppressed": d.answersSuppressed.Load(),
	}
}

// Close stops beaconing and listening and leaves the group.
func (d *Discovery) Close() {
	d.cancel()
	d.wg.Wait()
	d.ep.Close()
}

// poke wakes the sender to look at its schedule again.
func (d *Discovery) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// period returns a jittered beacon period for the mode.
func (d *Discovery) period(quiet bool) time.Duration {
	if quiet {
		// 0.5 to 1.5 QuietInterval.
		q := d.cfg.QuietInterval
		return q/2 + time.Duration(rand.Int64N(int64(q)))
	}
	// 0.75 to 1.25 Interval.
	i := d.cfg.Interval
	return i*3/4 + time.Duration(rand.Int64N(int64(i/2)+1))
}

// sender waits for the link-local address, then beacons on schedule.
func (d *Discovery) sender() {
	defer d.wg.Done()
	if _, err := d.cfg.Stack.LinkLocal(d.ctx); err != nil {
		return // closed
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		d.mu.Lock()
		due := !now.Before(d.nextBeacon)
		answer := !d.answerAt.IsZero() && !now.Before(d.answerAt)
		if due || answer {
			d.answerAt = time.Time{}
			d.lastSent = now
			d.nextBeacon = now.Add(d.period(d.quiet.Load()))
		}
		next := d.nextBeacon
		if !d.answerAt.IsZero() && d.answerAt.Before(next) {
			next = d.answerAt
		}
		d.mu.Unlock()
		if answer && !due {
			d.answers.Add(1)
		}
		if due || answer {
			d.send()
		}
		timer.Reset(time.Until(next))
		select {
		case <-d.ctx.Done():
			return
		case <-timer.C:
		case <-d.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// send multicasts one beacon.
func (d *Discovery) send() {
	b := beacon{
		Joined:  d.quiet.Load(),
		Service: d.cfg.Service,
		Epoch:   d.epoch,
		Seq:     d.seq,
		Time:    time.Now().UnixNano(),
		Name:    d.cfg.Name,
	}
	d.seq++
	if _, err := crand.Read(b.Nonce[:]); err != nil {
		d.sendErrors.Add(1)
		return
	}
	p := encode(make([]byte, 0, maxBeaconLen), d.key, &b)
	var r bytes.Reader
	r.Reset(p)
	if _, err := d.ep.Write(&r, tcpip.WriteOptions{To: &tcpip.FullAddress{NIC: d.nic, Addr: d.group, Port: Port}}); err != nil {
		if d.sendErrors.Add(1) == 1 {
			d.cfg.Logf("discovery: sending a beacon: %s", err)
		}
		return
	}
	d.sent.Add(1)
}

// receiver reads datagrams until Close.
func (d *Discovery) receiver() {
	defer d.wg.Done()
	we, ch := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	d.wq.EventRegister(&we)
	defer d.wq.EventUnregister(&we)
	var buf bytes.Buffer
	for {
		buf.Reset()
		// One byte more than a beacon may have, to see oversized ones.
		w := tcpip.LimitedWriter{W: &buf, N: maxBeaconLen + 1}
		res, err := d.ep.Read(&w, tcpip.ReadOptions{NeedRemoteAddr: true})
		switch err.(type) {
		case nil:
			if res.Total > maxBeaconLen {
				d.malformed.Add(1)
				continue
			}
			d.handle(buf.Bytes(), res.RemoteAddr.Addr, time.Now())
		case *tcpip.ErrWouldBlock:
			select {
			case <-d.ctx.Done():
				return
			case <-ch:
			}
		case *tcpip.ErrClosedForReceive:
			return
		default:
			d.cfg.Logf("discovery: reading: %s", err)
			select {
			case <-d.ctx.Done():
				return
			case <-time.After(d.cfg.Interval):
			}
		}
	}
}

// handle checks one received datagram from src and acts on it.
func (d *Discovery) handle(p []byte, src tcpip.Address, now time.Time) {
	b, err := decode(d.key, p)
	switch err {
	case nil:
	case errBadMAC:
		d.badMAC.Add(1)
		return
	default:
		d.malformed.Add(1)
		return
	}
	if b.Name == d.cfg.Name {
		d.self.Add(1)
		if b.Epoch != d.epoch {
			d.mu.Lock()
			warn := !d.warnedTwins
			d.warnedTwins = true
			d.mu.Unlock()
			if warn {
				d.cfg.Logf("discovery: a beacon from %s carries our name %q (another node with our name, or a replay)", src, b.Name)
			}
		}
		return
	}
	if src.Len() != 16 || !header.IsV6LinkLocalUnicastAddress(src) {
		d.badSource.Add(1)
		return
	}
	skew := now.Sub(time.Unix(0, b.Time))
	if skew > MaxSkew || skew < -MaxSkew {
		d.replay.Add(1)
		return
	}
	addr := netip.AddrPortFrom(netip.AddrFrom16(src.As16()).WithZone(d.zone), b.Service)

	d.mu.Lock()
	if !d.freshLocked(&b, now) {
		d.mu.Unlock()
		d.replay.Add(1)
		return
	}
	ps := d.peers[b.Name]
	report := ps == nil || ps.epoch != b.Epoch || ps.addr != addr
	if ps == nil {
		ps = &peerState{}
		d.peers[b.Name] = ps
	}
	*ps = peerState{epoch: b.Epoch, seq: b.Seq, time: b.Time, addr: addr}
	poke := false
	if d.quiet.Load() {
		if !b.Joined {
			// A newcomer: answer once, soon, unless someone else does.
			if d.answerAt.IsZero() {
				at := now.Add(time.Duration(rand.Int64N(int64(d.cfg.Interval/2) + 1)))
				if earliest := d.lastSent.Add(d.cfg.Interval); at.Before(earliest) {
					at = earliest
				}
				d.answerAt = at
				poke = true
			}
		} else if !d.answerAt.IsZero() {
			// Another joined node spoke: the newcomer heard it too.
			d.answerAt = time.Time{}
			d.answersSuppressed.Add(1)
		}
	}
	d.mu.Unlock()
	d.received.Add(1)
	if poke {
		d.poke()
	}
	if report {
		d.cfg.Logf("discovery: found %s at %s", b.Name, addr)
		d.found(Peer{Name: b.Name, Addr: addr})
	}
}

// freshLocked reports whether b is no replay, and records its nonce.
// A beacon is a replay when its nonce was seen within the skew window,
// when its sequence number is not above the last accepted one of the same
// epoch, or when it comes from another epoch (boot) of the peer but was
// sent before the last accepted beacon.
func (d *Discovery) freshLocked(b *beacon, now time.Time) bool {
	nowNS := now.UnixNano()
	if exp, ok := d.nonces[b.Nonce]; ok && exp > nowNS {
		return false
	}
	if ps := d.peers[b.Name]; ps != nil {
		if ps.epoch == b.Epoch && b.Seq <= ps.seq {
			return false
		}
		if ps.epoch != b.Epoch && b.Time <= ps.time {
			return false
		}
	}
	if len(d.nonces) >= maxNonces {
		for n, exp := range d.nonces {
			if exp <= nowNS {
				delete(d.nonces, n)
			}
		}
		// Still full (a flood of authenticated beacons): forget some;
		// sequence numbers still refuse replays of known peers.
		for n := range d.nonces {
			if len(d.nonces) < maxNonces*3/4 {
				break
			}
			delete(d.nonces, n)
		}
	}
	d.nonces[b.Nonce] = nowNS + int64(2*MaxSkew)
	return true
}
