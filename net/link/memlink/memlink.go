// Package memlink is an in-memory Ethernet switch for tests: a Hub with
// Ports, each Port a link.Device (MTU 1500). Unicast frames go to the
// port(s) registered with the destination MAC, broadcast and multicast
// frames (I/G bit set) and unicast to an unknown MAC to every other port.
// Each port delivers from a goroutine of its own out of a bounded queue,
// so Transmit never calls back into the sender's stack; a full queue
// drops the frame and counts it.
//
// Faults for tests: a port can be taken down (a killed node: it neither
// sends nor receives), the hub can be partitioned into groups that do not
// hear each other and healed, and a filter can drop, corrupt or truncate
// frames in flight.
package memlink

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"dunix/net/link"
)

// MTU is the MTU of every port (Ethernet payload bytes).
const MTU = 1500

// QueueLen is the number of frames a port's receive queue holds.
const QueueLen = 512

// headerLen is the Ethernet header length.
const headerLen = 14

// Errors Transmit returns.
var (
	ErrDown     = errors.New("memlink: port is down")
	ErrClosed   = errors.New("memlink: hub is closed")
	ErrBadFrame = errors.New("memlink: frame shorter than an Ethernet header or longer than the MTU allows")
)

// Hub is an in-memory Ethernet switch.
type Hub struct {
	done chan struct{}
	wg   sync.WaitGroup

	mu     sync.RWMutex
	closed bool                                  // guarded by mu
	ports  []*Port                               // guarded by mu
	group  map[*Port]int                         // partition group, guarded by mu
	filter func(from *Port, frame []byte) []byte // guarded by mu
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{done: make(chan struct{}), group: map[*Port]int{}}
}

// Port adds a port with hardware address mac to the hub and returns it.
// Several ports may share a MAC (duplicate-address tests): unicast to
// that MAC reaches all of them.
func (h *Hub) Port(mac [6]byte) *Port {
	p := &Port{hub: h, mac: mac, q: make(chan []byte, QueueLen)}
	p.up.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ports = append(h.ports, p)
	if h.closed {
		return p
	}
	h.wg.Add(1)
	go p.run()
	return p
}

// Partition splits the hub: ports in different groups no longer hear
// each other. Ports not named in any group form one more group together.
// A later Partition replaces the earlier one.
func (h *Hub) Partition(groups ...[]*Port) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.group = map[*Port]int{}
	for i, g := range groups {
		for _, p := range g {
			h.group[p] = i + 1
		}
	}
}

// Heal undoes Partition: every port hears every other again.
func (h *Hub) Heal() {
	h.mu.Lock()
	h.group = map[*Port]int{}
	h.mu.Unlock()
}

// SetFilter installs f, called with the sending port and a private copy
// of every frame a port transmits (once per frame, before it is
// switched). f returns the frame to deliver: nil drops it, another slice
// replaces it (which may be shorter: truncation). f may be called from
// several goroutines at once. A nil f removes the filter.
func (h *Hub) SetFilter(f func(from *Port, frame []byte) []byte) {
	h.mu.Lock()
	h.filter = f
	h.mu.Unlock()
}

// Close stops every port's delivery goroutine and waits for them; later
// transmits fail with ErrClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	h.mu.Unlock()
	h.wg.Wait()
}

// Port is one port of a Hub; it implements link.Device.
type Port struct {
	hub *Hub
	mac [6]byte
	q   chan []byte
	up  atomic.Bool

	rxMu sync.Mutex
	rx   func([]byte) // guarded by rxMu

	sent, received, droppedFull, droppedDown, droppedFiltered, droppedNoRx atomic.Uint64
}

var _ link.Device = (*Port)(nil)

// MAC implements link.Device.
func (p *Port) MAC() [6]byte { return p.mac }

// MTU implements link.Device.
func (p *Port) MTU() uint32 { return MTU }

// Attach implements link.Device.
func (p *Port) Attach(rx func(frame []byte)) {
	p.rxMu.Lock()
	p.rx = rx
	p.rxMu.Unlock()
}

// SetUp brings the port up or down. A downed port's transmits fail with
// ErrDown and frames for it are dropped (also those already queued).
func (p *Port) SetUp(up bool) { p.up.Store(up) }

// String names the port by its MAC.
func (p *Port) String() string {
	m := p.mac
	return fmt.Sprintf("port %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// Counters returns the port's counters: "sent" (frames it transmitted
// that the hub accepted), "received" (frames delivered to its receive
// function), "dropped_full" (its queue was full), "dropped_down" (it, or
// the sender, was down), "dropped_filtered" (the hub's filter dropped a
// frame it sent) and "dropped_no_rx" (nothing attached).
func (p *Port) Counters() map[string]uint64 {
	return map[string]uint64{
		"sent":             p.sent.Load(),
		"received":         p.received.Load(),
		"dropped_full":     p.droppedFull.Load(),
		"dropped_down":     p.droppedDown.Load(),
		"dropped_filtered": p.droppedFiltered.Load(),
		"dropped_no_rx":    p.droppedNoRx.Load(),
	}
}

// Transmit implements link.Device: it switches a copy of frame to the
// destination ports' queues and returns without waiting for delivery.
func (p *Port) Transmit(frame []byte) error {
	if len(frame) < headerLen || len(frame) > headerLen+MTU {
		return ErrBadFrame
	}
	if !p.up.Load() {
		p.droppedDown.Add(1)
		return ErrDown
	}
	h := p.hub
	h.mu.RLock()
	filter := h.filter
	h.mu.RUnlock()
	f := bytes.Clone(frame)
	if filter != nil {
		// Called without the hub's lock: the filter may use the hub.
		f = filter(p, f)
		if f == nil {
			p.droppedFiltered.Add(1)
			return nil
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return ErrClosed
	}
	p.sent.Add(1)
	var dst [6]byte
	copy(dst[:], f) // a filter may have truncated it
	flood := len(f) < 6 || dst[0]&1 != 0
	if !flood {
		// Unknown unicast floods, as a switch does.
		flood = true
		for _, q := range h.ports {
			if q.mac == dst {
				flood = false
				break
			}
		}
	}
	g := h.group[p]
	for _, q := range h.ports {
		if q == p || h.group[q] != g || (!flood && q.mac != dst) {
			continue
		}
		q.enqueue(bytes.Clone(f))
	}
	return nil
}

// enqueue queues f for delivery, or drops it when the port is down or its
// queue is full.
func (p *Port) enqueue(f []byte) {
	if !p.up.Load() {
		p.droppedDown.Add(1)
		return
	}
	select {
	case p.q <- f:
	default:
		p.droppedFull.Add(1)
	}
}

// run delivers queued frames until the hub closes.
func (p *Port) run() {
	defer p.hub.wg.Done()
	for {
		select {
		case <-p.hub.done:
			return
		case f := <-p.q:
			if !p.up.Load() {
				p.droppedDown.Add(1)
				continue
			}
			p.rxMu.Lock()
			rx := p.rx
			p.rxMu.Unlock()
			if rx == nil {
				p.droppedNoRx.Add(1)
				continue
			}
			p.received.Add(1)
			rx(f)
		}
	}
}
