package proc

import (
	"encoding/binary"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Time: clocks, sleeping, interval timers, times.

func init() {
	reg(unix.SYS_CLOCK_GETTIME, func(t *Thread, a *[6]uint64) (uint64, error) {
		ns, err := t.clock(int32(a[0]))
		if err != nil {
			return 0, err
		}
		return 0, t.putTimespec(a[1], ns)
	})
	reg(unix.SYS_CLOCK_GETRES, func(t *Thread, a *[6]uint64) (uint64, error) {
		if _, err := t.clock(int32(a[0])); err != nil {
			return 0, err
		}
		if a[1] == 0 {
			return 0, nil
		}
		return 0, t.putTimespec(a[1], 1)
	})
	reg(unix.SYS_GETTIMEOFDAY, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[0] == 0 {
			return 0, nil
		}
		ns := time.Now().UnixNano()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(ns/1e9))
		binary.LittleEndian.PutUint64(b[8:], uint64(ns%1e9/1000))
		return 0, t.p.mm.CopyOut(a[0], b[:])
	})
	reg(unix.SYS_TIME, func(t *Thread, a *[6]uint64) (uint64, error) {
		s := uint64(time.Now().Unix())
		if a[0] != 0 {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], s)
			if err := t.p.mm.CopyOut(a[0], b[:]); err != nil {
				return 0, err
			}
		}
		return s, nil
	})
	reg(unix.SYS_NANOSLEEP, func(t *Thread, a *[6]uint64) (uint64, error) {
		d, err := t.getTimespec(a[0])
		if err != nil {
			return 0, err
		}
		return 0, t.sleep(time.Now().Add(d), a[1])
	})
	reg(unix.SYS_CLOCK_NANOSLEEP, func(t *Thread, a *[6]uint64) (uint64, error) {
		d, err := t.getTimespec(a[2])
		if err != nil {
			return 0, err
		}
		if _, err := t.clock(int32(a[0])); err != nil {
			return 0, err
		}
		until := time.Now().Add(d)
		if a[1]&unix.TIMER_ABSTIME != 0 {
			now, _ := t.clock(int32(a[0]))
			until = time.Now().Add(d - time.Duration(now))
			a[3] = 0 // no remaining time for absolute sleeps
		}
		return 0, t.sleep(until, a[3])
	})
	reg(unix.SYS_TIMES, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[0] != 0 {
			// struct tms: user, system, children's user and system, in ticks.
			self, kids := t.p.use(), t.p.reapedUse()
			var b [32]byte
			for i, ns := range []int64{self.utime, self.stime, kids.utime, kids.stime} {
				binary.LittleEndian.PutUint64(b[8*i:], uint64(ns/1e7))
			}
			if err := t.p.mm.CopyOut(a[0], b[:]); err != nil {
				return 0, err
			}
		}
		return uint64(t.p.node.now() / 1e7), nil // clock ticks (100 Hz) since boot
	})
	reg(unix.SYS_SETITIMER, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.setitimer(int(a[0]), a[1], a[2])
	})
	reg(unix.SYS_GETITIMER, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.getitimer(int(a[0]), a[1])
	})
	reg(unix.SYS_ALARM, func(t *Thread, a *[6]uint64) (uint64, error) {
		left := t.p.alarm(time.Duration(a[0]) * time.Second)
		return uint64((left + time.Second - 1) / time.Second), nil
	})
}

var monoStart = time.Now()

// clock reads clock id in ns.
func (t *Thread) clock(id int32) (int64, error) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_TAI:
		return time.Now().UnixNano(), nil
	case unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME:
		return t.p.node.now(), nil
	case unix.CLOCK_PROCESS_CPUTIME_ID:
		u := t.p.use()
		return u.utime + u.stime, nil
	case unix.CLOCK_THREAD_CPUTIME_ID:
		u := t.use()
		return u.utime + u.stime, nil
	}
	return 0, syscall.EINVAL
}

func (t *Thread) putTimespec(addr uint64, ns int64) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(ns/1e9))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%1e9))
	return t.p.mm.CopyOut(addr, b[:])
}

func (t *Thread) getTimespec(addr uint64) (time.Duration, error) {
	var b [16]byte
	if err := t.p.mm.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	s, ns := int64(binary.LittleEndian.Uint64(b[0:])), int64(binary.LittleEndian.Uint64(b[8:]))
	if s < 0 || ns < 0 || ns >= 1e9 {
		return 0, syscall.EINVAL
	}
	if s > 1<<33 {
		s = 1 << 33
	}
	return time.Duration(s)*time.Second + time.Duration(ns), nil
}

// sleep waits until the time given, or a signal (EINTR, with the time
// left written to rem).
func (t *Thread) sleep(until time.Time, rem uint64) error {
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	defer t.offCPU(t.onWait())
	for {
		select {
		case <-tm.C:
			return nil
		case <-t.wake:
		}
		// A wake-up left over from an earlier signal is not one.
		if t.interrupted() {
			break
		}
	}
	if rem != 0 {
		left := time.Until(until)
		if left < 0 {
			left = 0
		}
		t.putTimespec(rem, int64(left))
	}
	return syscall.EINTR
}

// Interval timers: ITIMER_REAL sends SIGALRM; the CPU-time timers are not
// supported (no CPU accounting yet).
type itimer struct {
	timer    *time.Timer
	deadline time.Time
	interval time.Duration
}

func (p *Process) alarm(d time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var left time.Duration
	if p.itReal.timer != nil && p.itReal.timer.Stop() {
		left = time.Until(p.itReal.deadline)
	}
	p.itReal = itimer{}
	if d > 0 {
		p.armReal(d, 0)
	}
	return left
}

func (p *Process) armReal(d, interval time.Duration) {
	p.itReal.deadline = time.Now().Add(d)
	p.itReal.interval = interval
	p.itReal.timer = time.AfterFunc(d, func() {
		p.signal(SIGALRM, sigInfo{Code: 0x80})
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.itReal.interval > 0 && !p.exiting.Load() {
			p.armReal(p.itReal.interval, p.itReal.interval)
		}
	})
}

func (t *Thread) setitimer(which int, nv, old uint64) (uint64, error) {
	if which != unix.ITIMER_REAL {
		if which == unix.ITIMER_VIRTUAL || which == unix.ITIMER_PROF {
			return 0, syscall.EINVAL
		}
		return 0, syscall.EINVAL
	}
	if old != 0 {
		if _, err := t.getitimer(which, old); err != nil {
			return 0, err
		}
	}
	var b [32]byte
	if nv != 0 {
		if err := t.p.mm.CopyIn(nv, b[:]); err != nil {
			return 0, err
		}
	}
	le := binary.LittleEndian
	interval := time.Duration(le.Uint64(b[0:]))*time.Second + time.Duration(le.Uint64(b[8:]))*time.Microsecond
	value := time.Duration(le.Uint64(b[16:]))*time.Second + time.Duration(le.Uint64(b[24:]))*time.Microsecond
	p := t.p
	p.mu.Lock()
	if p.itReal.timer != nil {
		p.itReal.timer.Stop()
	}
	p.itReal = itimer{}
	if value > 0 {
		p.armReal(value, interval)
	}
	p.mu.Unlock()
	return 0, nil
}

func (t *Thread) getitimer(which int, addr uint64) (uint64, error) {
	if which != unix.ITIMER_REAL {
		return 0, syscall.EINVAL
	}
	p := t.p
	p.mu.Lock()
	var left, interval time.Duration
	if p.itReal.timer != nil {
		left = max(time.Until(p.itReal.deadline), 0)
		interval = p.itReal.interval
	}
	p.mu.Unlock()
	var b [32]byte
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(interval/time.Second))
	le.PutUint64(b[8:], uint64(interval%time.Second/time.Microsecond))
	le.PutUint64(b[16:], uint64(left/time.Second))
	le.PutUint64(b[24:], uint64(left%time.Second/time.Microsecond))
	return 0, t.p.mm.CopyOut(addr, b[:])
}
