package memlink

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// sink collects the frames a port receives.
type sink struct {
	mu     sync.Mutex
	frames [][]byte
	ch     chan struct{}
}

func attach(p *Port) *sink {
	s := &sink{ch: make(chan struct{}, 1024)}
	p.Attach(func(f []byte) {
		s.mu.Lock()
		s.frames = append(s.frames, bytes.Clone(f))
		s.mu.Unlock()
		s.ch <- struct{}{}
	})
	return s
}

// wait waits for n more frames, failing after a generous timeout.
func (s *sink) wait(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-s.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for frame %d of %d", i+1, n)
		}
	}
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

func (s *sink) last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return nil
	}
	return s.frames[len(s.frames)-1]
}

func frame(dst, src [6]byte, payload string) []byte {
	f := append(append(dst[:0:0], dst[:]...), src[:]...)
	f = append(f, 0x86, 0xdd)
	return append(f, payload...)
}

var (
	macA  = [6]byte{2, 0, 0, 0, 0, 0xa}
	macB  = [6]byte{2, 0, 0, 0, 0, 0xb}
	macC  = [6]byte{2, 0, 0, 0, 0, 0xc}
	bcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	mcast = [6]byte{0x33, 0x33, 0, 0, 0, 1}
)

// barrier sends a broadcast from p and waits until every sink saw it, so
// that anything sent before it was delivered (each port's queue is FIFO).
func barrier(t *testing.T, p *Port, sinks ...*sink) {
	t.Helper()
	if err := p.Transmit(frame(bcast, p.MAC(), "barrier")); err != nil {
		t.Fatal(err)
	}
	for _, s := range sinks {
		s.wait(t, 1)
	}
}

func TestSwitching(t *testing.T) {
	h := NewHub()
	defer h.Close()
	a, b, c := h.Port(macA), h.Port(macB), h.Port(macC)
	sa, sb, sc := attach(a), attach(b), attach(c)
	if a.MTU() != 1500 || a.MAC() != macA {
		t.Fatalf("MTU %d MAC %v", a.MTU(), a.MAC())
	}

	// Unicast reaches only its destination.
	if err := a.Transmit(frame(macB, macA, "to b")); err != nil {
		t.Fatal(err)
	}
	sb.wait(t, 1)
	if got := string(sb.last()[14:]); got != "to b" {
		t.Errorf("b got %q", got)
	}
	// Broadcast and multicast reach every other port.
	for _, dst := range [][6]byte{bcast, mcast} {
		if err := a.Transmit(frame(dst, macA, "all")); err != nil {
			t.Fatal(err)
		}
		sb.wait(t, 1)
		sc.wait(t, 1)
	}
	barrier(t, b, sa, sc)
	if sa.count() != 1 || sc.count() != 3 || sb.count() != 3 {
		t.Errorf("counts a=%d b=%d c=%d, want 1 3 3", sa.count(), sb.count(), sc.count())
	}

	// Transmit does not keep the caller's buffer.
	buf := frame(macC, macA, "keep")
	if err := a.Transmit(buf); err != nil {
		t.Fatal(err)
	}
	buf[14] = 'X'
	sc.wait(t, 1)
	if got := string(sc.last()[14:]); got != "keep" {
		t.Errorf("c got %q", got)
	}

	// Bad frames are refused.
	if err := a.Transmit(make([]byte, 10)); err != ErrBadFrame {
		t.Errorf("short frame: %v", err)
	}
	if err := a.Transmit(make([]byte, 14+MTU+1)); err != ErrBadFrame {
		t.Errorf("long frame: %v", err)
	}
}

func TestSameMACBothReceive(t *testing.T) {
	h := NewHub()
	defer h.Close()
	a, b1, b2 := h.Port(macA), h.Port(macB), h.Port(macB)
	attach(a)
	s1, s2 := attach(b1), attach(b2)
	if err := a.Transmit(frame(macB, macA, "dup")); err != nil {
		t.Fatal(err)
	}
	s1.wait(t, 1)
	s2.wait(t, 1)
	// A port's frame to its own MAC reaches its twin, not itself.
	if err := b1.Transmit(frame(macB, macB, "twin")); err != nil {
		t.Fatal(err)
	}
	s2.wait(t, 1)
	barrier(t, a, s1, s2)
	if s1.count() != 2 || s2.count() != 3 {
		t.Errorf("counts %d %d, want 2 3", s1.count(), s2.count())
	}
}

func TestDownPartitionHeal(t *testing.T) {
	h := NewHub()
	defer h.Close()
	a, b, c := h.Port(macA), h.Port(macB), h.Port(macC)
	sa, sb, sc := attach(a), attach(b), attach(c)

	// A downed port neither sends nor receives.
	b.SetUp(false)
	if err := b.Transmit(frame(bcast, macB, "x")); err != ErrDown {
		t.Errorf("Transmit on a downed port: %v", err)
	}
	if err := a.Transmit(frame(macB, macA, "x")); err != nil {
		t.Fatal(err)
	}
	barrier(t, a, sc)
	if sb.count() != 0 || b.Counters()["dropped_down"] < 2 {
		t.Errorf("downed port got %d frames, counters %v", sb.count(), b.Counters())
	}
	b.SetUp(true)

	// {a} | {b, c}
	h.Partition([]*Port{a}, []*Port{b, c})
	if err := a.Transmit(frame(bcast, macA, "cut")); err != nil {
		t.Fatal(err)
	}
	if err := a.Transmit(frame(macB, macA, "cut")); err != nil {
		t.Fatal(err)
	}
	barrier(t, b, sc)
	if sb.count() != 0 || sc.count() != 2 || sa.count() != 0 {
		t.Errorf("partitioned counts a=%d b=%d c=%d, want 0 0 2 (one barrier before the cut)", sa.count(), sb.count(), sc.count())
	}
	h.Heal()
	if err := a.Transmit(frame(macB, macA, "healed")); err != nil {
		t.Fatal(err)
	}
	sb.wait(t, 1)
	if got := string(sb.last()[14:]); got != "healed" {
		t.Errorf("b got %q", got)
	}
}

func TestFilter(t *testing.T) {
	h := NewHub()
	defer h.Close()
	a, b := h.Port(macA), h.Port(macB)
	sb := attach(b)
	attach(a)
	h.SetFilter(func(from *Port, f []byte) []byte {
		switch string(f[14:]) {
		case "drop":
			return nil
		case "truncate":
			return f[:16]
		case "corrupt":
			f[14] ^= 0xff
		}
		return f
	})
	for _, p := range []string{"drop", "truncate", "corrupt", "pass"} {
		if err := a.Transmit(frame(macB, macA, p)); err != nil {
			t.Fatal(err)
		}
	}
	sb.wait(t, 3)
	sb.mu.Lock()
	got := sb.frames
	sb.mu.Unlock()
	if len(got) != 3 || len(got[0]) != 16 || got[1][14] != 'c'^0xff || string(got[2][14:]) != "pass" {
		t.Errorf("filtered frames %q", got)
	}
	if n := a.Counters()["dropped_filtered"]; n != 1 {
		t.Errorf("dropped_filtered = %d", n)
	}
	h.SetFilter(nil)
}

func TestQueueFullDrops(t *testing.T) {
	h := NewHub()
	defer h.Close()
	a, b := h.Port(macA), h.Port(macB)
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	b.Attach(func([]byte) {
		once.Do(func() { close(entered) })
		<-release
	})
	if err := a.Transmit(frame(macB, macA, "first")); err != nil {
		t.Fatal(err)
	}
	<-entered // b's goroutine is now stuck in rx
	for i := 0; i < QueueLen+10; i++ {
		if err := a.Transmit(frame(macB, macA, "more")); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Counters()["dropped_full"]; n != 10 {
		t.Errorf("dropped_full = %d, want 10", n)
	}
	close(release)
}

func TestCloseStopsDelivery(t *testing.T) {
	h := NewHub()
	a := h.Port(macA)
	h.Port(macB)
	h.Close()
	h.Close()
	if err := a.Transmit(frame(macB, macA, "x")); err != ErrClosed {
		t.Errorf("Transmit after Close: %v", err)
	}
}
