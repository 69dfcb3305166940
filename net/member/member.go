// Package member keeps the fabric's membership: which nodes are up, with
// what load, detected without a master by memberlist's SWIM protocol
// (random probes, indirect probes through other members, suspicion and
// gossip), carried over gVisor's tcpip stack on the node's link-local
// address (UDP and TCP on one port, default 7946).
//
// Every membership packet and stream is encrypted and authenticated with
// AES-256-GCM under a key derived from the cluster key
// (clusterkey.Membership); memberlist verifies incoming and outgoing
// gossip, so a node without the key can neither join nor disturb the
// members: its packets are dropped and counted.
//
// Each node gossips its load (status.Load: CPUs, load, memory, uptime, CPU
// features) as memberlist node metadata, at most MaxMeta bytes, refreshed
// every MetaInterval.
//
// Counting drops: memberlist decrypts and decodes inside and reports a
// dropped packet or stream only through its log. The List gives
// memberlist a logger whose lines it classifies (the wording of the
// pinned memberlist v0.7.0; a test checks it): "Decrypt packet failed"
// counts dropped_undecryptable, a stream that "could [not] decrypt" or
// was "not encrypted" counts dropped_streams_unauthenticated, checksum,
// type, decoding, label and decompression failures count
// dropped_malformed. The packets were read whole by our transport before
// that, so packets_in counts them too.
//
// The view (Members, Addr, Joined) is kept from memberlist's event
// callbacks, the only moment its node records may be read (Members()
// hands out pointers it later changes in place: a data race). memberlist
// reports no suspicion event: a member is shown "suspect" from the log
// line of this node's own failed probe of it until a direct probe of it
// succeeds, it refutes with new figures, or it is declared dead.
// Suspicions other nodes gossip are not shown.
//
// memberlist does not tell its event delegate whether a node left or
// died (memberlist.Node.State is never set in v0.7.0), so Leave first
// gossips figures marked "leaving" (see encodeMeta), and a member that
// announced it is reported left, any other one dead.
//
// Timing (ProbeInterval p, default 1 s): every member probes one other
// per p, round-robin, so a silent node is probed within about p; after a
// failed direct and indirect probe (p/2 each) it is suspected, and
// declared dead SuspicionMult·p = 4·p later for up to 10 members (4.8·p at
// 16). Measured over memlink with 4-5 nodes: 5.8 s with the defaults,
// 1.0 s (5.2·p) with p = 200 ms. Steady traffic with the defaults and 5
// members: about 3 packets and 370 bytes a second each way per node
// (TCP push-pull every 30·p on top).
package member

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"dunix/net/clusterkey"
	"dunix/net/status"
)

// DefaultPort is the membership port (UDP and TCP).
const DefaultPort = 7946

// Defaults for zero Config fields.
const (
	DefaultProbeInterval = time.Second
	DefaultMetaInterval  = 10 * time.Second
)

// Member states, as in status.Member.State.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
	StateLeft    = "left"
)

// Config configures a List.
type Config struct {
	Stack *stack.Stack
	NIC   tcpip.NICID    // the fabric NIC
	Addr  tcpip.Address  // this node's address on NIC (link-local IPv6)
	Port  uint16         // UDP and TCP port; 0 means DefaultPort
	Name  string         // this node's name, unique in the fabric
	Key   clusterkey.Key // the cluster key (the membership key is derived from it)
	// Meta returns this node's current figures; called at start and
	// every MetaInterval. Nil gossips no figures.
	Meta func() status.Load
	Logf func(format string, args ...any) // diagnostics; nil discards

	// ProbeInterval is memberlist's failure-detection period; every
	// other protocol timer is scaled from it (see the package comment).
	// Zero means DefaultProbeInterval; tests use less.
	ProbeInterval time.Duration
	// MetaInterval is how often the figures are refreshed and gossiped.
	// Zero means DefaultMetaInterval.
	MetaInterval time.Duration
}

// EventKind says what happened to a member.
type EventKind int

// Event kinds.
const (
	Join   EventKind = iota // a node became a member (or came back)
	Leave                   // a member left gracefully
	Fail                    // a member was declared dead
	Update                  // a member's figures changed
)

func (k EventKind) String() string {
	switch k {
	case Join:
		return "join"
	case Leave:
		return "leave"
	case Fail:
		return "fail"
	case Update:
		return "update"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is a change of membership.
type Event struct {
	Kind   EventKind
	Member status.Member
}

// eventQueue is the capacity of the Events channel; events beyond it are
// dropped and counted (events_dropped).
const eventQueue = 256

// List is this node's view of the membership. Its methods are safe for
// concurrent use.
type List struct {
	cfg     Config
	ml      *memberlist.Memberlist
	tr      *transport
	traffic traffic
	drops   struct {
		undecryptable, streamsUnauth, malformed, queueFull, eventsDropped atomic.Uint64
		logSuppressed                                                     atomic.Uint64
	}
	meta    atomic.Pointer[[]byte]
	leaving atomic.Bool
	events  chan Event
	stop    chan struct{}
	wg      sync.WaitGroup
	rates   rates
	logLim  logLimiter
	logMu   sync.RWMutex
	logOff  bool // guarded by logMu

	shutdown sync.Once
	mu       sync.Mutex
	view     map[string]*entry // every node seen, by name
	closed   bool
}

// entry is one node of the view.
type entry struct {
	m       status.Member
	addr    netip.AddrPort
	leaving bool // its figures announced a graceful leave
}

// Start binds the membership port and starts the protocol with this node
// as the only member; Join adds the others.
func Start(cfg Config) (*List, error) {
	if cfg.Stack == nil {
		return nil, errors.New("member: no stack")
	}
	if cfg.Name == "" {
		return nil, errors.New("member: no node name")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.MetaInterval <= 0 {
		cfg.MetaInterval = DefaultMetaInterval
	}
	l := &List{
		cfg:    cfg,
		events: make(chan Event, eventQueue),
		stop:   make(chan struct{}),
		view:   map[string]*entry{},
	}
	l.refreshMeta()
	tr, err := newTransport(cfg.Stack, cfg.NIC, cfg.Addr, cfg.Port, &l.traffic, cfg.Logf)
	if err != nil {
		return nil, err
	}
	l.tr = tr
	ml, err := memberlist.Create(l.memberlistConfig())
	if err != nil {
		tr.Shutdown()
		return nil, fmt.Errorf("member: %w", err)
	}
	l.ml = ml
	l.wg.Add(1)
	go l.tick()
	return l, nil
}

// memberlistConfig is memberlist's LAN configuration with every timer
// scaled from ProbeInterval (DefaultLANConfig is not used: it calls
// os.Hostname).
func (l *List) memberlistConfig() *memberlist.Config {
	p := l.cfg.ProbeInterval
	d := &delegate{l}
	return &memberlist.Config{
		Name:                    l.cfg.Name,
		Transport:               l.tr,
		BindAddr:                l.cfg.Addr.String(),
		BindPort:                int(l.cfg.Port),
		AdvertisePort:           int(l.cfg.Port),
		ProtocolVersion:         memberlist.ProtocolVersion2Compatible,
		TCPTimeout:              10 * p,
		IndirectChecks:          3,
		RetransmitMult:          4,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 4,
		PushPullInterval:        30 * p,
		ProbeInterval:           p,
		ProbeTimeout:            p / 2,
		AwarenessMaxMultiplier:  8,
		GossipNodes:             3,
		GossipInterval:          p / 5,
		GossipToTheDeadTime:     30 * p,
		GossipVerifyIncoming:    true,
		GossipVerifyOutgoing:    true,
		EnableCompression:       true,
		SecretKey:               l.cfg.Key.Derive(clusterkey.Membership, "", 32),
		Delegate:                d,
		Events:                  d,
		Ping:                    d,
		Logger:                  log.New(logSink{l}, "", 0),
		HandoffQueueDepth:       1024,
		UDPBufferSize:           1400,
		DeadNodeReclaimTime:     30 * p,
		QueueCheckInterval:      30 * time.Second,
	}
}

// Join contacts peers (membership addresses of other nodes) and merges
// their view; it returns how many answered. It succeeds if one did.
func (l *List) Join(peers []netip.AddrPort) (int, error) {
	addrs := make([]string, 0, len(peers))
	for _, p := range peers {
		addrs = append(addrs, netip.AddrPortFrom(p.Addr().WithZone(""), p.Port()).String())
	}
	n, err := l.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("member: join: %w", err)
	}
	return n, nil
}

// Members returns every node this one knows, itself included, sorted by
// name, with their last gossiped figures: live ones (alive or suspect)
// and those that died or left since this node started (until they come
// back).
func (l *List) Members() []status.Member {
	l.mu.Lock()
	out := make([]status.Member, 0, len(l.view))
	for _, e := range l.view {
		m := e.m
		m.Load.Features = append([]string(nil), m.Load.Features...)
		out = append(out, m)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Addr returns the membership address of a live (alive or suspect)
// member, without zone (it is on the fabric NIC).
func (l *List) Addr(name string) (netip.AddrPort, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.view[name]
	if e == nil || (e.m.State != StateAlive && e.m.State != StateSuspect) {
		return netip.AddrPort{}, false
	}
	return e.addr, true
}

// Joined reports whether another node than this one is alive.
func (l *List) Joined() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, e := range l.view {
		if name != l.cfg.Name && e.m.State == StateAlive {
			return true
		}
	}
	return false
}

// record updates the view with n (which memberlist lets us read only
// during its callback: it changes nodes in place under its own lock) in
// state, and returns the member.
func (l *List) record(n *memberlist.Node, state string) status.Member {
	return l.recordLeave(n, state, false)
}

// recordLeave is record for a node that left or died: it left if it
// announced it.
func (l *List) recordLeave(n *memberlist.Node, state string, gone bool) status.Member {
	m := status.Member{Name: n.Name, State: state}
	var ap netip.AddrPort
	if a, ok := netip.AddrFromSlice(n.Addr); ok {
		ap = netip.AddrPortFrom(a.Unmap(), n.Port)
		m.Addr = ap.Addr().String()
	}
	load, leaving, err := decodeMeta(n.Meta)
	if err != nil {
		l.logf("member: figures of %s: %v", n.Name, err)
	}
	m.Load = load
	l.mu.Lock()
	if gone && (leaving || l.view[n.Name] != nil && l.view[n.Name].leaving) {
		m.State = StateLeft
	}
	l.view[n.Name] = &entry{m: m, addr: ap, leaving: leaving}
	l.mu.Unlock()
	return m
}

// setState changes the state of a known node from one state to another
// (suspect and back); a node in another state keeps it.
func (l *List) setState(name, from, to string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.view[name]; e != nil && e.m.State == from {
		e.m.State = to
	}
}

// Events returns the channel of membership changes. It is closed by
// Shutdown. Events that find it full are dropped and counted.
func (l *List) Events() <-chan Event { return l.events }

// Leave tells the others that this node leaves, waiting up to timeout
// for the message to spread: first its figures marked "leaving", then
// memberlist's leave message, so that the others report it left rather
// than failed. Shutdown must follow.
func (l *List) Leave(timeout time.Duration) error {
	l.leaving.Store(true)
	l.refreshMeta()
	if err := l.ml.UpdateNode(timeout / 2); err != nil {
		l.logf("member: announcing the leave: %v", err)
	}
	if err := l.ml.Leave(timeout / 2); err != nil {
		return fmt.Errorf("member: leave: %w", err)
	}
	return nil
}

// Shutdown stops the protocol (without telling the others: they will
// find this node dead), closes the ports and the Events channel.
func (l *List) Shutdown() error {
	var err error
	l.shutdown.Do(func() {
		close(l.stop)
		l.wg.Wait()
		err = l.ml.Shutdown()
		l.logMu.Lock()
		l.logOff = true
		l.logMu.Unlock()
		l.mu.Lock()
		l.closed = true
		close(l.events)
		l.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("member: shutdown: %w", err)
	}
	return nil
}

// emit queues an event without blocking memberlist.
func (l *List) emit(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	select {
	case l.events <- e:
	default:
		l.drops.eventsDropped.Add(1)
	}
}

// refreshMeta recomputes the encoded figures.
func (l *List) refreshMeta() {
	var load status.Load
	if l.cfg.Meta != nil {
		load = l.cfg.Meta()
	}
	b := encodeMeta(load, l.leaving.Load())
	l.meta.Store(&b)
}

// tick refreshes and gossips the figures every MetaInterval and samples
// the traffic counters every second for the rates.
func (l *List) tick() {
	defer l.wg.Done()
	meta := time.NewTicker(l.cfg.MetaInterval)
	defer meta.Stop()
	sample := time.NewTicker(time.Second)
	defer sample.Stop()
	l.rates.add(l.trafficSample())
	for {
		select {
		case <-l.stop:
			return
		case <-meta.C:
			l.refreshMeta()
			if err := l.ml.UpdateNode(l.cfg.ProbeInterval * 10); err != nil {
				l.logf("member: gossip figures: %v", err)
			}
		case <-sample.C:
			l.rates.add(l.trafficSample())
		}
	}
}

// logf passes a line to Config.Logf, rate-limited, and never after
// Shutdown returned (memberlist's timers may still fire then).
func (l *List) logf(format string, args ...any) {
	l.logMu.RLock()
	defer l.logMu.RUnlock()
	if l.logOff {
		return
	}
	if l.logLim.allow() {
		l.cfg.Logf(format, args...)
	} else {
		l.drops.logSuppressed.Add(1)
	}
}

// Counters returns the list's counters by name:
//
//	members_alive, members_suspect, members_dead   the view now (dead includes left)
//	packets_in, packets_out, bytes_in, bytes_out   UDP payloads moved
//	packets_in_per_sec ... bytes_out_per_sec       the same, averaged over the last 5 s
//	streams_in, streams_out                        TCP connections (push-pull, fallback probes)
//	stream_bytes_in, stream_bytes_out              their payload bytes
//	send_errors, dial_errors                       UDP sends and TCP dials that failed
//	dropped_undecryptable                          packets that failed AES-GCM (no or wrong key, forged, cut)
//	dropped_streams_unauthenticated                TCP exchanges that failed decryption or were not encrypted
//	dropped_malformed                              packets that decrypted but did not decode
//	dropped_queue_full                             messages dropped by memberlist's handler queue
//	dropped_replay                                 packets whose AES-GCM nonce was seen before (replay.go)
//	events_dropped                                 events the Events channel had no room for
//	log_suppressed                                 log lines beyond the rate limit
func (l *List) Counters() map[string]uint64 {
	t := &l.traffic
	m := map[string]uint64{
		"packets_in":                      t.packetsIn.Load(),
		"packets_out":                     t.packetsOut.Load(),
		"bytes_in":                        t.bytesIn.Load(),
		"bytes_out":                       t.bytesOut.Load(),
		"streams_in":                      t.streamsIn.Load(),
		"streams_out":                     t.streamsOut.Load(),
		"stream_bytes_in":                 t.streamBytesIn.Load(),
		"stream_bytes_out":                t.streamBytesOut.Load(),
		"send_errors":                     t.writeErrors.Load(),
		"dial_errors":                     t.dialErrors.Load(),
		"dropped_undecryptable":           l.drops.undecryptable.Load(),
		"dropped_streams_unauthenticated": l.drops.streamsUnauth.Load(),
		"dropped_malformed":               l.drops.malformed.Load(),
		"dropped_queue_full":              l.drops.queueFull.Load(),
		"dropped_replay":                  t.replays.Load(),
		"events_dropped":                  l.drops.eventsDropped.Load(),
		"log_suppressed":                  l.drops.logSuppressed.Load(),
	}
	for k, v := range l.rates.perSecond() {
		m[k] = v
	}
	for _, mb := range l.Members() {
		switch mb.State {
		case StateAlive:
			m["members_alive"]++
		case StateSuspect:
			m["members_suspect"]++
		default:
			m["members_dead"]++
		}
	}
	return m
}

// trafficSample reads the counters the rates are computed from.
func (l *List) trafficSample() sample {
	t := &l.traffic
	return sample{at: time.Now(), v: [4]uint64{t.packetsIn.Load(), t.packetsOut.Load(), t.bytesIn.Load(), t.bytesOut.Load()}}
}

// sample is the traffic counters at one instant.
type sample struct {
	at time.Time
	v  [4]uint64
}

// rates keeps the last samples (one a second) to average over.
type rates struct {
	mu  sync.Mutex
	buf [6]sample
	n   int // samples taken
}

func (r *rates) add(s sample) {
	r.mu.Lock()
	r.buf[r.n%len(r.buf)] = s
	r.n++
	r.mu.Unlock()
}

var rateNames = [4]string{"packets_in_per_sec", "packets_out_per_sec", "bytes_in_per_sec", "bytes_out_per_sec"}

// perSecond averages over the oldest and newest samples kept.
func (r *rates) perSecond() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]uint64, 4)
	for _, k := range rateNames {
		m[k] = 0
	}
	if r.n < 2 {
		return m
	}
	newest := r.buf[(r.n-1)%len(r.buf)]
	oldest := r.buf[max(r.n-len(r.buf), 0)%len(r.buf)]
	dt := newest.at.Sub(oldest.at).Seconds()
	if dt <= 0 {
		return m
	}
	for i, k := range rateNames {
		m[k] = uint64(float64(newest.v[i]-oldest.v[i])/dt + 0.5)
	}
	return m
}

// delegate is memberlist's Delegate and EventDelegate.
type delegate struct{ l *List }

// NodeMeta returns this node's encoded figures.
func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.l.meta.Load()
	if len(b) > limit {
		return nil
	}
	return b
}

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// NotifyJoin records a new (or returning) member.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	d.l.emit(Event{Kind: Join, Member: d.l.record(n, StateAlive)})
}

// NotifyLeave records a member that left or died.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	m := d.l.recordLeave(n, StateDead, true)
	kind := Fail
	if m.State == StateLeft {
		kind = Leave
	}
	d.l.emit(Event{Kind: kind, Member: m})
}

// NotifyUpdate records a member's new figures (or address).
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	d.l.emit(Event{Kind: Update, Member: d.l.record(n, StateAlive)})
}

// AckPayload is memberlist's PingDelegate: no payload.
func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete clears a suspicion once a direct probe succeeds.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	d.l.setState(other.Name, StateSuspect, StateAlive)
}

// logSink receives memberlist's log lines, counts the drops they report
// and passes the line on (rate-limited).
type logSink struct{ l *List }

func (s logSink) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	d := &s.l.drops
	switch {
	case strings.Contains(line, "Decrypt packet failed"):
		d.undecryptable.Add(1)
	case strings.Contains(line, "could decrypt"), strings.Contains(line, "not encrypted"):
		d.streamsUnauth.Add(1)
	case strings.Contains(line, "invalid checksum"),
		strings.Contains(line, "missing message type"),
		strings.Contains(line, "Failed to decode"),
		strings.Contains(line, "not supported"),
		strings.Contains(line, "truncated messages"),
		strings.Contains(line, "label"),
		strings.Contains(line, "decompress"):
		d.malformed.Add(1)
	case strings.Contains(line, "handler queue full"):
		d.queueFull.Add(1)
	case strings.Contains(line, suspectPrefix):
		_, rest, _ := strings.Cut(line, suspectPrefix)
		if name, ok := strings.CutSuffix(rest, suspectSuffix); ok {
			s.l.setState(name, StateAlive, StateSuspect)
		}
	}
	if !strings.Contains(line, "[DEBUG]") {
		s.l.logf("%s", line)
	}
	return len(p), nil
}

// memberlist's line when its own direct and indirect probes of a node
// failed and it starts suspecting it.
const (
	suspectPrefix = "memberlist: Suspect "
	suspectSuffix = " has failed, no acks received"
)

// logLimiter lets through at most logBurst lines per second.
type logLimiter struct {
	mu    sync.Mutex
	start time.Time
	n     int
}

const logBurst = 20

func (r *logLimiter) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.start) >= time.Second {
		r.start, r.n = now, 0
	}
	r.n++
	return r.n <= logBurst
}
