package kernel

import (
	"golang.org/x/sys/unix"

	"dunix/arch/amd64"
	"dunix/kernel/klog"
	"dunix/kernel/mm"
	"dunix/kernel/spin"
)

// File descriptors of the runtime host. The kernel has no file system of
// its own at this level: descriptors 0, 1 and 2 are the console, and the
// runtime creates an epoll instance and an eventfd for its network poller.
// Kernel goroutines wait on the console and on device interrupts through
// that same poller (readiness on these descriptors).

const (
	fdFree = iota
	fdConsole
	fdEventfd
	fdEpoll

	maxFDs      = 64
	maxEventfds = 32
	maxEpolls   = 8
	maxInterest = 64
)

type fdEntry struct {
	kind     uint8
	cloexec  bool
	nonblock bool
	obj      int32 // index into eventfds / epolls
}

type eventfd struct {
	used      bool
	count     uint64
	semaphore bool
}

type interest struct {
	fd      int32
	events  uint32
	data    uint64
	pending bool // an edge not reported yet (edge-triggered interests)
}

type epoll struct {
	used      bool
	interests [maxInterest]interest
	n         int
	waiters   int32 // list of blocked threads through Thread.waitNext
}

var (
	fdLock   spin.Lock
	fds      [maxFDs]fdEntry
	eventfds [maxEventfds]eventfd
	epolls   [maxEpolls]epoll

	// Console input, filled by the UART interrupt.
	rxBuf        [4096]byte
	rxHead, rxN  int
	rxWaiters    int32 // threads blocked in a blocking read of the console
	consoleReads uint64
)

// initFDs gives the kernel its standard descriptors.
//
//go:nosplit
func initFDs() {
	for i := 0; i < 3; i++ {
		fds[i] = fdEntry{kind: fdConsole, nonblock: true}
	}
	for i := range epolls {
		epolls[i].waiters = -1
	}
	rxWaiters = -1
}

//go:nosplit
func fdGet(fd uint64) *fdEntry {
	if fd >= maxFDs || fds[fd].kind == fdFree {
		return nil
	}
	return &fds[fd]
}

//go:nosplit
func fdAlloc(kind uint8, obj int32, flags uint64) int64 {
	for i := range fds {
		if fds[i].kind == fdFree {
			fds[i] = fdEntry{kind: kind, obj: obj, cloexec: flags&unix.O_CLOEXEC != 0, nonblock: flags&unix.O_NONBLOCK != 0}
			return int64(i)
		}
	}
	return -emfile
}

// Readiness.

//go:nosplit
func ready(fd int32) uint32 {
	e := &fds[fd]
	switch e.kind {
	case fdConsole:
		r := uint32(unix.EPOLLOUT)
		if fd == 0 && rxN > 0 {
			r |= unix.EPOLLIN
		}
		return r
	case fdEventfd:
		ev := &eventfds[e.obj]
		r := uint32(0)
		if ev.count > 0 {
			r |= unix.EPOLLIN
		}
		if ev.count < ^uint64(0)-1 {
			r |= unix.EPOLLOUT
		}
		return r
	}
	return 0
}

// notify records a readiness edge on fd and wakes epoll waiters that now
// have events. fdLock is held.
//
//go:nosplit
func notify(fd int32) {
	for i := range epolls {
		ep := &epolls[i]
		if !ep.used {
			continue
		}
		hit := false
		for k := 0; k < ep.n; k++ {
			if ep.interests[k].fd == fd {
				ep.interests[k].pending = true
				hit = true
			}
		}
		if hit {
			wakeEpoll(ep)
		}
	}
}

// collect writes up to max ready events of ep to the user array at buf.
//
//go:nosplit
func collect(ep *epoll, buf uintptr, max int) int {
	n := 0
	for k := 0; k < ep.n && n < max; k++ {
		in := &ep.interests[k]
		r := ready(in.fd) & (in.events | unix.EPOLLERR | unix.EPOLLHUP)
		if r == 0 {
			in.pending = false
			continue
		}
		if in.events&unix.EPOLLET != 0 {
			if !in.pending {
				continue
			}
			in.pending = false
		}
		// struct epoll_event is packed on amd64: u32 events, u64 data.
		st32(buf+uintptr(n)*12, r)
		*(*uint64)(amd64.Ptr(buf + uintptr(n)*12 + 4)) = in.data
		n++
	}
	return n
}

// wakeEpoll hands events to blocked waiters of ep, one at a time.
//
//go:nosplit
func wakeEpoll(ep *epoll) {
	for ep.waiters >= 0 {
		t := &threads[ep.waiters]
		max := int(t.waitKey >> 32)
		n := collect(ep, t.waitRes, max)
		if n == 0 {
			return
		}
		ep.waiters = t.waitNext
		t.waitNext = -1
		if claim(t) {
			finishWait(t, int64(n))
		}
	}
}

// epollUnlink takes t off its epoll's waiters (a timeout or a signal ended
// its wait).
//
//go:nosplit
func epollUnlink(t *Thread) {
	fdLock.Lock()
	defer fdLock.Unlock()
	if i := t.waitKey & 0xFFFFFFFF; i < maxEpolls {
		unlink(&epolls[i].waiters, t)
		return
	}
	unlink(&rxWaiters, t) // a blocked reader of the console
}

// System calls.

//go:nosplit
func sysWrite(fd, buf, n uint64) int64 {
	fdLock.Lock()
	e := fdGet(fd)
	if e == nil {
		fdLock.Unlock()
		return -ebadf
	}
	kind, obj := e.kind, e.obj
	fdLock.Unlock()
	if !mm.Access(uintptr(buf), uintptr(n), false) {
		return -efault
	}
	switch kind {
	case fdConsole:
		klog.Write(bytesAt(buf, n))
		return int64(n)
	case fdEventfd:
		if n < 8 {
			return -einval
		}
		v := ld64(uintptr(buf))
		if v == ^uint64(0) {
			return -einval
		}
		fdLock.Lock()
		ev := &eventfds[obj]
		if ev.count+v < ev.count || ev.count+v == ^uint64(0) {
			fdLock.Unlock()
			return -eagain
		}
		ev.count += v
		notify(int32(fd))
		fdLock.Unlock()
		return 8
	}
	return -einval
}

//go:nosplit
func sysWritev(fd, iov, cnt uint64) int64 {
	if cnt > 1024 {
		return -einval
	}
	if !mm.Access(uintptr(iov), uintptr(cnt*16), false) {
		return -efault
	}
	var total int64
	for i := uint64(0); i < cnt; i++ {
		base, n := ld64(uintptr(iov+16*i)), ld64(uintptr(iov+16*i+8))
		if n == 0 {
			continue
		}
		r := sysWrite(fd, base, n)
		if r < 0 {
			if total > 0 {
				return total
			}
			return r
		}
		total += r
	}
	return total
}

//go:nosplit
func sysRead(t *Thread, fd, buf, n uint64) int64 {
	if !mm.Access(uintptr(buf), uintptr(n), true) {
		return -efault
	}
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(fd)
	if e == nil {
		return -ebadf
	}
	switch e.kind {
	case fdConsole:
		if fd != 0 {
			return -ebadf
		}
		if rxN == 0 {
			if e.nonblock {
				return -eagain
			}
			// Block; the interrupt restarts the call when input comes.
			t.waitNext = rxWaiters
			rxWaiters = t.idx
			block(t, waitEpoll, 0, 0)
			t.waitKey = uintptr(maxEpolls) // not an epoll: epollUnlink searches rxWaiters
			return keep
		}
		m := 0
		for uint64(m) < n && rxN > 0 {
			*(*byte)(amd64.Ptr(uintptr(buf) + uintptr(m))) = rxBuf[rxHead]
			rxHead = (rxHead + 1) % len(rxBuf)
			rxN--
			m++
		}
		consoleReads++
		return int64(m)
	case fdEventfd:
		if n < 8 {
			return -einval
		}
		ev := &eventfds[e.obj]
		if ev.count == 0 {
			return -eagain // the runtime opens eventfds non-blocking
		}
		v := ev.count
		if ev.semaphore {
			v = 1
		}
		ev.count -= v
		st64(uintptr(buf), v)
		notify(int32(fd))
		return 8
	}
	return -einval
}

// consoleInput takes bytes the UART received (interrupt handler).
//
//go:nosplit
func consoleInput(b byte) {
	fdLock.Lock()
	if rxN < len(rxBuf) {
		rxBuf[(rxHead+rxN)%len(rxBuf)] = b
		rxN++
	}
	notify(0)
	for rxWaiters >= 0 {
		t := &threads[rxWaiters]
		rxWaiters = t.waitNext
		t.waitNext = -1
		if claim(t) {
			restartWait(t)
		}
	}
	fdLock.Unlock()
}

//go:nosplit
func sysClose(fd uint64) int64 {
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(fd)
	if e == nil {
		return -ebadf
	}
	switch e.kind {
	case fdEventfd:
		eventfds[e.obj] = eventfd{}
	case fdEpoll:
		ep := &epolls[e.obj]
		ep.used = false
		ep.n = 0
	}
	// Forget interests in the closed descriptor.
	for i := range epolls {
		ep := &epolls[i]
		for k := 0; k < ep.n; {
			if ep.interests[k].fd == int32(fd) {
				ep.n--
				ep.interests[k] = ep.interests[ep.n]
				continue
			}
			k++
		}
	}
	*e = fdEntry{}
	return 0
}

//go:nosplit
func sysFcntl(fd, cmd, arg uint64) int64 {
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(fd)
	if e == nil {
		return -ebadf
	}
	switch cmd {
	case unix.F_GETFD:
		if e.cloexec {
			return unix.FD_CLOEXEC
		}
		return 0
	case unix.F_SETFD:
		e.cloexec = arg&unix.FD_CLOEXEC != 0
		return 0
	case unix.F_GETFL:
		fl := int64(unix.O_RDWR)
		if e.nonblock {
			fl |= unix.O_NONBLOCK
		}
		return fl
	case unix.F_SETFL:
		e.nonblock = arg&unix.O_NONBLOCK != 0
		return 0
	}
	return -einval
}

//go:nosplit
func sysIoctl(fd, req, arg uint64) int64 {
	fdLock.Lock()
	e := fdGet(fd)
	if e == nil {
		fdLock.Unlock()
		return -ebadf
	}
	kind := e.kind
	fdLock.Unlock()
	if kind != fdConsole {
		return -enotty
	}
	switch req {
	case unix.TCGETS:
		// A raw-ish serial line: the kernel's console code edits lines.
		if !mm.Access(uintptr(arg), 60, true) {
			return -efault
		}
		clear((*[60]byte)(amd64.Ptr(uintptr(arg)))[:])
		st32(uintptr(arg)+8, unix.CS8|unix.CREAD|unix.B115200) // c_cflag
		return 0
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		return 0
	case unix.TIOCGWINSZ:
		if !mm.Access(uintptr(arg), 8, true) {
			return -efault
		}
		st32(uintptr(arg), 80<<16|24) // rows 24, cols 80
		st32(uintptr(arg)+4, 0)
		return 0
	}
	return -enotty
}

//go:nosplit
func sysFstat(fd, buf uint64) int64 {
	fdLock.Lock()
	e := fdGet(fd)
	if e == nil {
		fdLock.Unlock()
		return -ebadf
	}
	kind := e.kind
	fdLock.Unlock()
	if !mm.Access(uintptr(buf), 144, true) {
		return -efault
	}
	clear((*[144]byte)(amd64.Ptr(uintptr(buf)))[:])
	mode := uint32(unix.S_IFIFO | 0o600)
	if kind == fdConsole {
		mode = unix.S_IFCHR | 0o620
		st64(uintptr(buf)+40, 5<<8|1) // st_rdev: /dev/console
	}
	st64(uintptr(buf)+16, 1)    // st_nlink
	st32(uintptr(buf)+24, mode) // st_mode
	st64(uintptr(buf)+56, 4096) // st_blksize
	return 0
}

//go:nosplit
func sysNewfstatat(dirfd, path, buf, flags uint64) int64 {
	if flags&unix.AT_EMPTY_PATH != 0 {
		if !mm.Access(uintptr(path), 1, false) {
			return -efault
		}
		if *(*byte)(amd64.Ptr(uintptr(path))) == 0 {
			return sysFstat(dirfd, buf)
		}
	}
	return sysOpenat(path)
}

//go:nosplit
func sysLseek(fd uint64) int64 {
	fdLock.Lock()
	defer fdLock.Unlock()
	if fdGet(fd) == nil {
		return -ebadf
	}
	return -espipe
}

// sysOpenat: the runtime host has no files; everything is absent.
//
//go:nosplit
func sysOpenat(path uint64) int64 {
	if !mm.Access(uintptr(path), 1, false) {
		return -efault
	}
	return -enoent
}

//go:nosplit
func sysEventfd(initval, flags uint64) int64 {
	if flags&^(unix.EFD_CLOEXEC|unix.EFD_NONBLOCK|unix.EFD_SEMAPHORE) != 0 {
		return -einval
	}
	fdLock.Lock()
	defer fdLock.Unlock()
	for i := range eventfds {
		if !eventfds[i].used {
			fd := fdAlloc(fdEventfd, int32(i), flags)
			if fd >= 0 {
				eventfds[i] = eventfd{used: true, count: initval & 0xFFFFFFFF, semaphore: flags&unix.EFD_SEMAPHORE != 0}
			}
			return fd
		}
	}
	return -emfile
}

//go:nosplit
func sysEpollCreate(flags uint64) int64 {
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return -einval
	}
	fdLock.Lock()
	defer fdLock.Unlock()
	for i := range epolls {
		if !epolls[i].used {
			fd := fdAlloc(fdEpoll, int32(i), flags)
			if fd >= 0 {
				epolls[i].used, epolls[i].n, epolls[i].waiters = true, 0, -1
			}
			return fd
		}
	}
	return -emfile
}

//go:nosplit
func sysEpollCtl(epfd, op, fd, ev uint64) int64 {
	if op != unix.EPOLL_CTL_DEL && !mm.Access(uintptr(ev), 12, false) {
		return -efault
	}
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(epfd)
	if e == nil || fdGet(fd) == nil {
		return -ebadf
	}
	if e.kind != fdEpoll || fd == epfd {
		return -einval
	}
	ep := &epolls[e.obj]
	k := 0
	for k < ep.n && ep.interests[k].fd != int32(fd) {
		k++
	}
	switch op {
	case unix.EPOLL_CTL_ADD:
		if k < ep.n {
			return -eexist
		}
		if ep.n == maxInterest {
			return -enomem
		}
		ep.interests[ep.n] = interest{fd: int32(fd), events: ld32(uintptr(ev)), data: ld64(uintptr(ev) + 4), pending: true}
		ep.n++
	case unix.EPOLL_CTL_MOD:
		if k == ep.n {
			return -enoent
		}
		ep.interests[k] = interest{fd: int32(fd), events: ld32(uintptr(ev)), data: ld64(uintptr(ev) + 4), pending: true}
	case unix.EPOLL_CTL_DEL:
		if k == ep.n {
			return -enoent
		}
		ep.n--
		ep.interests[k] = ep.interests[ep.n]
		return 0
	default:
		return -einval
	}
	wakeEpoll(ep)
	return 0
}

//go:nosplit
func sysEpollWait(t *Thread, epfd, events, max, timeout uint64) int64 {
	if int32(max) <= 0 || max > 1<<20 {
		return -einval
	}
	if !mm.Access(uintptr(events), uintptr(max*12), true) {
		return -efault
	}
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(epfd)
	if e == nil {
		return -ebadf
	}
	if e.kind != fdEpoll {
		return -einval
	}
	ep := &epolls[e.obj]
	if n := collect(ep, uintptr(events), int(max)); n > 0 || int32(timeout) == 0 {
		return int64(n)
	}
	var deadline uint64
	if ms := int32(timeout); ms > 0 {
		deadline = now() + uint64(ms)*1_000_000
	}
	t.waitNext = ep.waiters
	ep.waiters = t.idx
	block(t, waitEpoll, uintptr(e.obj), deadline)
	t.waitKey = uintptr(e.obj) | uintptr(max)<<32
	t.waitRes = uintptr(events)
	return keep
}

//go:nosplit
func bytesAt(p, n uint64) []byte {
	return (*[1 << 30]byte)(amd64.Ptr(uintptr(p)))[:n:n]
}

// sysFsync: console output is written synchronously, so there is nothing
// to flush; other descriptors are not files.
//
//go:nosplit
func sysFsync(fd uint64) int64 {
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(fd)
	if e == nil {
		return -ebadf
	}
	if e.kind == fdConsole {
		return 0
	}
	return -einval
}
