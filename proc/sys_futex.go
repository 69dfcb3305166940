package proc

import (
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Futexes: wait queues keyed by (address space, address), with
// WAIT/WAKE, the BITSET variants, REQUEUE and CMP_REQUEUE, WAKE_OP.
// Private and shared futexes share the key: a shared futex in memory
// shared between processes is not supported yet (each process's key
// differs), which only matters for MAP_SHARED memory across fork.

type futexKey struct {
	mm   any
	addr uint64
}

type futexWaiter struct {
	key    futexKey
	bitset uint32
	ch     chan struct{}
}

type futexTable struct {
	mu      sync.Mutex
	waiters map[futexKey][]*futexWaiter
}

var futexes = futexTable{waiters: map[futexKey][]*futexWaiter{}}

func init() {
	reg(unix.SYS_FUTEX, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.futex(a[0], int(a[1]), uint32(a[2]), a[3], a[4], uint32(a[5]))
	})
}

const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivate       = 128
	futexClockRealtime = 256
)

func (t *Thread) futex(addr uint64, op int, val uint32, timeout, addr2 uint64, val3 uint32) (uint64, error) {
	if addr&3 != 0 {
		return 0, syscall.EINVAL
	}
	cmd := op &^ (futexPrivate | futexClockRealtime)
	p := t.p
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := ^uint32(0)
		if cmd == futexWaitBitset {
			bitset = val3
			if bitset == 0 {
				return 0, syscall.EINVAL
			}
		}
		var deadline time.Time
		if timeout != 0 {
			d, err := t.getTimespec(timeout)
			if err != nil {
				return 0, err
			}
			if cmd == futexWait {
				deadline = time.Now().Add(d)
			} else if op&futexClockRealtime != 0 {
				deadline = time.Unix(0, int64(d))
			} else {
				deadline = time.Now().Add(d - time.Duration(p.node.now()))
			}
		}
		return 0, t.futexWait(addr, val, bitset, deadline)
	case futexWake, futexWakeBitset:
		bitset := ^uint32(0)
		if cmd == futexWakeBitset {
			bitset = val3
			if bitset == 0 {
				return 0, syscall.EINVAL
			}
		}
		return uint64(p.node.futexWake(p, addr, int(int32(val)), bitset)), nil
	case futexRequeue, futexCmpRequeue:
		return t.futexRequeue(addr, addr2, int(int32(val)), int(int32(timeout)), cmd == futexCmpRequeue, val3)
	case futexWakeOp:
		return t.futexWakeOp(addr, addr2, int(int32(val)), int(int32(timeout)), val3)
	}
	t.enosys(unix.SYS_FUTEX)
	return 0, syscall.ENOSYS
}

func (t *Thread) futexWait(addr uint64, val, bitset uint32, deadline time.Time) error {
	p := t.p
	key := futexKey{p.mm, addr}
	w := &futexWaiter{key: key, bitset: bitset, ch: make(chan struct{})}
	futexes.mu.Lock()
	var b [4]byte
	if err := p.mm.CopyIn(addr, b[:]); err != nil {
		futexes.mu.Unlock()
		return err
	}
	if uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24 != val {
		futexes.mu.Unlock()
		return syscall.EAGAIN
	}
	futexes.waiters[key] = append(futexes.waiters[key], w)
	futexes.mu.Unlock()

	var timer <-chan time.Time
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		timer = tm.C
	}
	defer t.offCPU(t.onWait())
	for {
		select {
		case <-w.ch:
			return nil
		case <-timer:
			if futexes.remove(w) {
				return syscall.ETIMEDOUT
			}
			return nil // woken just now
		case <-t.wake:
			if !t.interrupted() {
				continue // a wake-up left over from an earlier signal
			}
			if futexes.remove(w) {
				return syscall.EINTR
			}
			return nil
		}
	}
}

// remove takes w off its queue; false if a waker took it first.
func (ft *futexTable) remove(w *futexWaiter) bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	q := ft.waiters[w.key]
	for i, o := range q {
		if o == w {
			ft.waiters[w.key] = append(q[:i], q[i+1:]...)
			if len(ft.waiters[w.key]) == 0 {
				delete(ft.waiters, w.key)
			}
			return true
		}
	}
	return false
}

func (n *Node) futexWake(p *Process, addr uint64, count int, bitset uint32) int {
	key := futexKey{p.mm, addr}
	futexes.mu.Lock()
	defer futexes.mu.Unlock()
	return futexes.wake(key, count, bitset)
}

func (ft *futexTable) wake(key futexKey, count int, bitset uint32) int {
	q := ft.waiters[key]
	woken := 0
	keep := q[:0]
	for _, w := range q {
		if woken < count && w.bitset&bitset != 0 {
			close(w.ch)
			woken++
			continue
		}
		keep = append(keep, w)
	}
	if len(keep) == 0 {
		delete(ft.waiters, key)
	} else {
		ft.waiters[key] = keep
	}
	return woken
}

func (t *Thread) futexRequeue(addr, addr2 uint64, nwake, nmove int, cmp bool, val uint32) (uint64, error) {
	p := t.p
	key, key2 := futexKey{p.mm, addr}, futexKey{p.mm, addr2}
	futexes.mu.Lock()
	defer futexes.mu.Unlock()
	if cmp {
		var b [4]byte
		if err := p.mm.CopyIn(addr, b[:]); err != nil {
			return 0, err
		}
		if uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16|uint32(b[3])<<24 != val {
			return 0, syscall.EAGAIN
		}
	}
	woken := futexes.wake(key, nwake, ^uint32(0))
	q := futexes.waiters[key]
	moved := 0
	for len(q) > 0 && moved < nmove {
		w := q[0]
		q = q[1:]
		w.key = key2
		futexes.waiters[key2] = append(futexes.waiters[key2], w)
		moved++
	}
	if len(q) == 0 {
		delete(futexes.waiters, key)
	} else {
		futexes.waiters[key] = q
	}
	return uint64(woken + moved), nil
}

// futexWakeOp: *addr2 = op(*addr2, oparg); wake addr; if cmp(old) wake addr2.
func (t *Thread) futexWakeOp(addr, addr2 uint64, nwake, nwake2 int, op uint32) (uint64, error) {
	p := t.p
	futexes.mu.Lock()
	defer futexes.mu.Unlock()
	var b [4]byte
	if err := p.mm.CopyIn(addr2, b[:]); err != nil {
		return 0, err
	}
	old := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	kind, cmp := (op>>28)&7, (op>>24)&15
	oparg, cmparg := (op>>12)&0xFFF, op&0xFFF
	if op&(8<<28) != 0 {
		oparg = 1 << oparg
	}
	nv := old
	switch kind {
	case 0:
		nv = oparg
	case 1:
		nv = old + oparg
	case 2:
		nv = old | oparg
	case 3:
		nv = old &^ oparg
	case 4:
		nv = old ^ oparg
	default:
		return 0, syscall.ENOSYS
	}
	b = [4]byte{byte(nv), byte(nv >> 8), byte(nv >> 16), byte(nv >> 24)}
	if err := p.mm.CopyOut(addr2, b[:]); err != nil {
		return 0, err
	}
	woken := futexes.wake(futexKey{p.mm, addr}, nwake, ^uint32(0))
	var ok bool
	switch cmp {
	case 0:
		ok = old == cmparg
	case 1:
		ok = old != cmparg
	case 2:
		ok = old < cmparg
	case 3:
		ok = old <= cmparg
	case 4:
		ok = old > cmparg
	case 5:
		ok = old >= cmparg
	}
	if ok {
		woken += futexes.wake(futexKey{p.mm, addr2}, nwake2, ^uint32(0))
	}
	return uint64(woken), nil
}
