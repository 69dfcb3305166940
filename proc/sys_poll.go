package proc

import (
	"encoding/binary"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"dunix/fs/epoll"
	"dunix/fs/eventfd"
	"dunix/fs/pipe"
	"dunix/fs/vfs"
	"dunix/fs/waiter"
)

// Pipes, eventfds, and waiting for many files: poll, select, epoll.

func init() {
	reg(unix.SYS_PIPE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.pipe2(a[0], 0)
	})
	reg(unix.SYS_PIPE2, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.pipe2(a[0], int(a[1]))
	})
	reg(unix.SYS_EVENTFD, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.eventfd(uint32(a[0]), 0)
	})
	reg(unix.SYS_EVENTFD2, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.eventfd(uint32(a[0]), int(a[1]))
	})
	reg(unix.SYS_POLL, func(t *Thread, a *[6]uint64) (uint64, error) {
		d := time.Duration(-1)
		if ms := int32(a[2]); ms >= 0 {
			d = time.Duration(ms) * time.Millisecond
		}
		return t.poll(a[0], a[1], d)
	})
	reg(unix.SYS_PPOLL, func(t *Thread, a *[6]uint64) (uint64, error) {
		d, err := t.timeoutArg(a[2])
		if err != nil {
			return 0, err
		}
		if err := t.tempMask(a[3], a[4]); err != nil {
			return 0, err
		}
		return t.poll(a[0], a[1], d)
	})
	reg(unix.SYS_SELECT, func(t *Thread, a *[6]uint64) (uint64, error) {
		d := time.Duration(-1)
		if a[4] != 0 {
			var b [16]byte
			if err := t.p.mm.CopyIn(a[4], b[:]); err != nil {
				return 0, err
			}
			s, us := int64(binary.LittleEndian.Uint64(b[0:])), int64(binary.LittleEndian.Uint64(b[8:]))
			if s < 0 || us < 0 {
				return 0, syscall.EINVAL
			}
			d = time.Duration(min(s, 1<<33))*time.Second + time.Duration(min(us, 1e9))*time.Microsecond
		}
		return t.selectFDs(int(a[0]), a[1], a[2], a[3], d)
	})
	reg(unix.SYS_PSELECT6, func(t *Thread, a *[6]uint64) (uint64, error) {
		d, err := t.timeoutArg(a[4])
		if err != nil {
			return 0, err
		}
		if a[5] != 0 { // struct { const sigset_t *ss; size_t ss_len; }
			var b [16]byte
			if err := t.p.mm.CopyIn(a[5], b[:]); err != nil {
				return 0, err
			}
			if err := t.tempMask(binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])); err != nil {
				return 0, err
			}
		}
		return t.selectFDs(int(a[0]), a[1], a[2], a[3], d)
	})
	reg(unix.SYS_EPOLL_CREATE, func(t *Thread, a *[6]uint64) (uint64, error) {
		if int32(a[0]) <= 0 {
			return 0, syscall.EINVAL
		}
		return t.epollCreate(0)
	})
	reg(unix.SYS_EPOLL_CREATE1, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.epollCreate(int(a[0]))
	})
	reg(unix.SYS_EPOLL_CTL, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.epollCtl(int32(a[0]), int(a[1]), int32(a[2]), a[3])
	})
	reg(unix.SYS_EPOLL_WAIT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.epollWait(int32(a[0]), a[1], int(int32(a[2])), msTimeout(int32(a[3])))
	})
	reg(unix.SYS_EPOLL_PWAIT, func(t *Thread, a *[6]uint64) (uint64, error) {
		if err := t.tempMask(a[4], a[5]); err != nil {
			return 0, err
		}
		return t.epollWait(int32(a[0]), a[1], int(int32(a[2])), msTimeout(int32(a[3])))
	})
	reg(unix.SYS_EPOLL_PWAIT2, func(t *Thread, a *[6]uint64) (uint64, error) {
		d, err := t.timeoutArg(a[3])
		if err != nil {
			return 0, err
		}
		if err := t.tempMask(a[4], a[5]); err != nil {
			return 0, err
		}
		return t.epollWait(int32(a[0]), a[1], int(int32(a[2])), d)
	})
}

func msTimeout(ms int32) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// timeoutArg reads a struct timespec timeout; NULL is -1 (forever).
func (t *Thread) timeoutArg(addr uint64) (time.Duration, error) {
	if addr == 0 {
		return -1, nil
	}
	return t.getTimespec(addr)
}

// tempMask installs the signal mask of ppoll, pselect and epoll_pwait for
// the duration of the call; delivery puts the old one back.
func (t *Thread) tempMask(setp, size uint64) error {
	if setp == 0 {
		return nil
	}
	if size != 8 {
		return syscall.EINVAL
	}
	m, err := getU64(t.p, setp)
	if err != nil {
		return err
	}
	t.mu.Lock()
	old := t.sigMask
	t.savedMask = &old
	t.sigMask = sigSet(m).unblockable()
	t.mu.Unlock()
	return nil
}

// waitReady is the wait of poll, select and epoll_wait: it blocks until ch
// is ready or d runs out and takes the time waited off d (0 once it ran
// out; a negative d waits for ever).
func (t *Thread) waitReady(ch <-chan struct{}, d *time.Duration) error {
	start := time.Now()
	timedOut, err := t.blockFor(ch, *d)
	if err != nil {
		return err
	}
	if *d > 0 {
		*d = max(*d-time.Since(start), 0)
	}
	if timedOut {
		*d = 0
	}
	return nil
}

// blockFor waits for ch for at most d (forever if d < 0). It reports
// whether the time ran out; a signal ends it with errRestartNoHand.
func (t *Thread) blockFor(ch <-chan struct{}, d time.Duration) (bool, error) {
	if d < 0 {
		err := t.block(ch)
		if err == errRestart {
			err = errRestartNoHand
		}
		return false, err
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	defer t.offCPU(t.onWait())
	select {
	case <-ch:
		return false, nil
	case <-tm.C:
		return true, nil
	case <-t.wake:
		if t.p.exiting.Load() {
			return false, syscall.EINTR
		}
		return false, errRestartNoHand
	}
}

func (t *Thread) pipe2(fdsp uint64, flags int) error {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT) != 0 {
		return syscall.EINVAL
	}
	cred := t.ctx().Cred
	r, w, err := pipe.New(&cred, flags&^unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	cloexec := flags&unix.O_CLOEXEC != 0
	rfd, err := t.p.fds.install(r, 0, cloexec)
	if err != nil {
		w.Close()
		return err
	}
	wfd, err := t.p.fds.install(w, 0, cloexec)
	if err != nil {
		t.p.fds.remove(rfd)
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(rfd))
	binary.LittleEndian.PutUint32(b[4:], uint32(wfd))
	if err := t.p.mm.CopyOut(fdsp, b[:]); err != nil {
		t.p.fds.remove(rfd)
		t.p.fds.remove(wfd)
		return err
	}
	return nil
}

func (t *Thread) eventfd(initval uint32, flags int) (uint64, error) {
	f, err := eventfd.New(uint64(initval), flags)
	if err != nil {
		return 0, err
	}
	fd, err := t.p.fds.install(f, 0, flags&unix.EFD_CLOEXEC != 0)
	return uint64(fd), err
}

// waitSet is the files a poll or select waits on, all registered with one
// channel.
type waitSet struct {
	ch      chan struct{}
	files   []*vfs.File
	entries []*waiter.Entry
}

func newWaitSet() *waitSet { return &waitSet{ch: make(chan struct{}, 1)} }

func (w *waitSet) add(f *vfs.File, mask waiter.EventMask) {
	e := waiter.NewEntry(mask, w.ch)
	f.EventRegister(e)
	w.files = append(w.files, f)
	w.entries = append(w.entries, e)
}

func (w *waitSet) release() {
	for i, f := range w.files {
		f.EventUnregister(w.entries[i])
	}
}

// poll(2): struct pollfd { int fd; short events; short revents; }.
func (t *Thread) poll(fdsp, nfds uint64, d time.Duration) (uint64, error) {
	if nfds > uint64(t.p.rlimits[unix.RLIMIT_NOFILE].cur) || nfds > 1<<20 {
		return 0, syscall.EINVAL
	}
	raw := make([]byte, 8*nfds)
	if err := t.p.mm.CopyIn(fdsp, raw); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	files := make([]*vfs.File, nfds)
	for i := range files {
		if fd := int32(le.Uint32(raw[8*i:])); fd >= 0 {
			files[i], _ = t.p.fds.get(fd) // nil: POLLNVAL
		}
	}
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	ws := newWaitSet()
	defer ws.release()
	registered := false
	for {
		n := 0
		for i, f := range files {
			var rev waiter.EventMask
			fd := int32(le.Uint32(raw[8*i:]))
			mask := waiter.EventMask(le.Uint16(raw[8*i+4:])) | waiter.EventAlways
			switch {
			case fd < 0:
			case f == nil:
				rev = waiter.EventNVal
			default:
				rev = f.Readiness(mask) & mask
				if !registered && f.Pollable() {
					ws.add(f, mask)
				}
			}
			le.PutUint16(raw[8*i+6:], uint16(rev))
			if rev != 0 {
				n++
			}
		}
		registered = true
		if n > 0 || d == 0 {
			return uint64(n), t.p.mm.CopyOut(fdsp, raw)
		}
		if err := t.waitReady(ws.ch, &d); err != nil {
			return 0, err
		}
	}
}

// select(2) on three fd_sets of nfds bits.
func (t *Thread) selectFDs(nfds int, rp, wp, ep uint64, d time.Duration) (uint64, error) {
	if nfds < 0 || nfds > int(t.p.rlimits[unix.RLIMIT_NOFILE].cur) && nfds > 1024 {
		return 0, syscall.EINVAL
	}
	words := (nfds + 63) / 64
	var sets [3][]uint64
	for i, p := range [3]uint64{rp, wp, ep} {
		if p == 0 {
			continue
		}
		b := make([]byte, 8*words)
		if err := t.p.mm.CopyIn(p, b); err != nil {
			return 0, err
		}
		sets[i] = make([]uint64, words)
		for w := range sets[i] {
			sets[i][w] = binary.LittleEndian.Uint64(b[8*w:])
		}
	}
	type want struct {
		fd   int
		f    *vfs.File
		mask waiter.EventMask
	}
	var ws []want
	defer func() {
		for _, w := range ws {
			w.f.Close()
		}
	}()
	const (
		selIn  = waiter.EventIn | waiter.EventRdNorm | waiter.EventRdBand | waiter.EventHUp | waiter.EventErr
		selOut = waiter.EventOut | waiter.EventWrNorm | waiter.EventWrBand | waiter.EventErr
		selEx  = waiter.EventPri
	)
	for fd := 0; fd < nfds; fd++ {
		var m waiter.EventMask
		for i, ev := range [3]waiter.EventMask{selIn, selOut, selEx} {
			if sets[i] != nil && sets[i][fd/64]&(1<<(fd%64)) != 0 {
				m |= ev
			}
		}
		if m == 0 {
			continue
		}
		f, err := t.p.fds.get(int32(fd))
		if err != nil {
			return 0, syscall.EBADF
		}
		ws = append(ws, want{fd, f, m})
	}
	set := newWaitSet()
	defer set.release()
	for _, w := range ws {
		if w.f.Pollable() {
			set.add(w.f, w.mask)
		}
	}
	for {
		var out [3][]uint64
		n := 0
		for _, w := range ws {
			r := w.f.Readiness(w.mask | waiter.EventAlways)
			for i, ev := range [3]waiter.EventMask{selIn, selOut, selEx} {
				if w.mask&ev != 0 && r&ev != 0 {
					if out[i] == nil {
						out[i] = make([]uint64, words)
					}
					out[i][w.fd/64] |= 1 << (w.fd % 64)
					n++
				}
			}
		}
		if n > 0 || d == 0 {
			for i, p := range [3]uint64{rp, wp, ep} {
				if p == 0 {
					continue
				}
				b := make([]byte, 8*words)
				for w := range out[i] {
					binary.LittleEndian.PutUint64(b[8*w:], out[i][w])
				}
				if err := t.p.mm.CopyOut(p, b); err != nil {
					return 0, err
				}
			}
			return uint64(n), nil
		}
		if err := t.waitReady(set.ch, &d); err != nil {
			return 0, err
		}
	}
}

func (t *Thread) epollCreate(flags int) (uint64, error) {
	f, _, err := epoll.New(flags)
	if err != nil {
		return 0, err
	}
	fd, err := t.p.fds.install(f, 0, flags&unix.EPOLL_CLOEXEC != 0)
	return uint64(fd), err
}

func (t *Thread) epollInstance(epfd int32) (*vfs.File, *epoll.Instance, error) {
	f, err := t.p.fds.get(epfd)
	if err != nil {
		return nil, nil, err
	}
	ep, ok := epoll.FromFile(f)
	if !ok {
		f.Close()
		return nil, nil, syscall.EINVAL
	}
	return f, ep, nil
}

func (t *Thread) epollCtl(epfd int32, op int, fd int32, evp uint64) error {
	epf, ep, err := t.epollInstance(epfd)
	if err != nil {
		return err
	}
	defer epf.Close()
	f, err := t.p.fds.get(fd)
	if err != nil {
		return err
	}
	defer f.Close()
	var events uint32
	var data uint64
	if op != unix.EPOLL_CTL_DEL {
		var b [12]byte // struct epoll_event is packed on x86-64
		if err := t.p.mm.CopyIn(evp, b[:]); err != nil {
			return err
		}
		events, data = binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint64(b[4:])
	}
	switch op {
	case unix.EPOLL_CTL_ADD:
		return ep.Add(f, fd, events, data)
	case unix.EPOLL_CTL_MOD:
		return ep.Modify(f, fd, events, data)
	case unix.EPOLL_CTL_DEL:
		return ep.Delete(f, fd)
	}
	return syscall.EINVAL
}

func (t *Thread) epollWait(epfd int32, evp uint64, maxEvents int, d time.Duration) (uint64, error) {
	if maxEvents <= 0 || maxEvents > (1<<31-1)/12 {
		return 0, syscall.EINVAL
	}
	epf, ep, err := t.epollInstance(epfd)
	if err != nil {
		return 0, err
	}
	defer epf.Close()
	var e *waiter.Entry
	var ch chan struct{}
	for {
		evs := ep.Wait(maxEvents)
		if len(evs) > 0 {
			b := make([]byte, 12*len(evs))
			for i, ev := range evs {
				binary.LittleEndian.PutUint32(b[12*i:], ev.Events)
				binary.LittleEndian.PutUint64(b[12*i+4:], ev.Data)
			}
			return uint64(len(evs)), t.p.mm.CopyOut(evp, b)
		}
		if d == 0 {
			return 0, nil
		}
		if e == nil {
			e, ch = waiter.NewChannelEntry(waiter.EventIn)
			epf.EventRegister(e)
			defer epf.EventUnregister(e)
			continue // look again now that wake-ups cannot be missed
		}
		if err := t.waitReady(ch, &d); err != nil {
			return 0, err
		}
	}
}
