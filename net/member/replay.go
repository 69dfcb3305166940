package member

import (
	"sync"
	"time"
)

// replayFilter drops UDP packets seen before. memberlist seals every
// packet with AES-GCM under a random 96-bit nonce (after a version byte),
// so two genuine packets never share their first 13 bytes; a packet that
// repeats them is a replay (or a duplicate the network made) and is
// dropped before memberlist sees it. Nonces are remembered for at least
// window and at most 2×window, in two generations of bounded size. A
// replay older than that reaches memberlist, whose protocol ignores stale
// news (alive/suspect/dead messages carry incarnation numbers; an old ping
// earns an unasked-for ack, which is dropped).
type replayFilter struct {
	mu       sync.Mutex
	cur, old map[[13]byte]struct{}
	rotated  time.Time
	window   time.Duration
	max      int
}

func newReplayFilter(window time.Duration, max int) *replayFilter {
	return &replayFilter{cur: map[[13]byte]struct{}{}, old: map[[13]byte]struct{}{}, rotated: time.Now(), window: window, max: max}
}

// seen records p's nonce and reports whether it was recorded before.
// Packets too short to hold one are left for memberlist to refuse.
func (f *replayFilter) seen(p []byte, now time.Time) bool {
	if len(p) < 13 {
		return false
	}
	k := [13]byte(p[:13])
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.rotated) >= f.window || len(f.cur) >= f.max {
		f.old, f.cur, f.rotated = f.cur, make(map[[13]byte]struct{}, len(f.cur)), now
	}
	if _, ok := f.cur[k]; ok {
		return true
	}
	if _, ok := f.old[k]; ok {
		return true
	}
	f.cur[k] = struct{}{}
	return false
}
