package proc

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/fs/tty"
	"dunix/fs/vfs"
	"dunix/fs/waiter"
)

// Terminal is a terminal line discipline (fs/tty) as the device behind
// /dev/console and /dev/tty: its open files read, write and ioctl through
// the TTY, with the job control checks that need the process table
// (SIGTTIN for a background reader, SIGTTOU for a background writer with
// TOSTOP or a background change of settings) and its signals (^C, ^Z)
// sent to the foreground process group.
type Terminal struct {
	TTY  *tty.TTY
	node *Node
	q    waiter.Queue
}

// NewTerminal returns a terminal transmitting to out. Bytes received go to
// t.TTY.Input.
func (n *Node) NewTerminal(out io.Writer) *Terminal {
	c := &Terminal{node: n}
	if n.console == nil {
		n.console = c
	}
	c.TTY = tty.New(tty.Config{
		Output:  out,
		Signal:  func(pgrp int32, sig syscall.Signal) { n.killGroup(pgrp, int(sig)) },
		OnReady: func() { c.q.Notify(waiter.ReadableEvents | waiter.WritableEvents) },
	})
	return c
}

// Open opens the terminal (a devfs.Device).
func (c *Terminal) Open(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) {
	return &termFile{c: c}, nil
}

// ControllingOpener opens the caller's controlling terminal: /dev/tty
// (ENXIO when the caller's session has none; this node has one terminal).
func (c *Terminal) ControllingOpener() func(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) {
	return func(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) {
		t, ok := ctx.Task.(*Thread)
		if !ok {
			return nil, unix.ENXIO
		}
		t.p.mu.Lock()
		sid := t.p.sid
		t.p.mu.Unlock()
		if c.TTY.Session() != sid || sid == 0 {
			return nil, unix.ENXIO
		}
		return &termFile{c: c}, nil
	}
}

type termFile struct{ c *Terminal }

// Stream implements vfs.Streamer.
func (f *termFile) Stream() bool { return true }

// Release implements vfs.FileOps.
func (f *termFile) Release() {}

// caller returns the thread behind a Ctx (nil for the kernel itself).
func caller(ctx *vfs.Ctx) *Thread {
	if ctx == nil {
		return nil
	}
	t, _ := ctx.Task.(*Thread)
	return t
}

// background checks whether t may use the terminal as a member of a
// background process group: nil if it may; errRestart after sending sig
// to its group; EIO when the signal is blocked or ignored and read is
// set (reading), or when the group is orphaned. For writes and changes a
// blocked or ignored SIGTTOU lets the call go ahead.
func (c *Terminal) background(t *Thread, sig int, read bool) error {
	if t == nil {
		return nil
	}
	p := t.p
	p.mu.Lock()
	pgid, sid := p.pgid, p.sid
	p.mu.Unlock()
	fg := c.TTY.ForegroundPgrp()
	if c.TTY.Session() != sid || fg == 0 || fg == pgid {
		return nil
	}
	t.mu.Lock()
	blocked := t.sigMask.has(sig)
	t.mu.Unlock()
	ignored := p.sig.get(sig).Handler == sigIGN
	if blocked || ignored {
		if read {
			return syscall.EIO
		}
		return nil
	}
	p.node.killGroup(pgid, sig)
	return errRestart
}

// Read implements vfs.FileOps.
func (f *termFile) Read(file *vfs.File, dst []byte, _ int64) (int, error) {
	if file.NonBlocking() {
		return f.c.TTY.ReadNonblock(dst)
	}
	return f.c.TTY.Read(dst)
}

// Write implements vfs.FileOps.
func (f *termFile) Write(_ *vfs.File, src []byte, _ int64) (int, error) {
	return f.c.TTY.Write(src)
}

// Readiness implements waiter.Waitable.
func (f *termFile) Readiness(mask waiter.EventMask) waiter.EventMask {
	var r waiter.EventMask
	if f.c.TTY.Readable() {
		r |= waiter.ReadableEvents
	}
	if f.c.TTY.Writable() {
		r |= waiter.WritableEvents
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (f *termFile) EventRegister(e *waiter.Entry) { f.c.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (f *termFile) EventUnregister(e *waiter.Entry) { f.c.q.Unregister(e) }

// Ioctl implements vfs.Ioctler: the terminal requests, with their
// arguments copied in and out of the caller's memory.
func (f *termFile) Ioctl(file *vfs.File, ctx *vfs.Ctx, cmd uint32, arg uintptr) (uintptr, error) {
	spec, ok := tty.IoctlSpec(cmd)
	if !ok {
		return 0, unix.ENOTTY
	}
	t := caller(ctx)
	if spec.CheckChange {
		if err := f.c.background(t, SIGTTOU, false); err != nil {
			return 0, err
		}
	}
	var in []byte
	if spec.Dir == tty.DirIn && spec.Size > 0 {
		if ctx.Mem == nil {
			return 0, unix.EFAULT
		}
		in = make([]byte, spec.Size)
		if err := ctx.Mem.CopyIn(arg, in); err != nil {
			return 0, err
		}
	}
	var who tty.Caller
	if t != nil {
		p := t.p
		p.mu.Lock()
		who = tty.Caller{PID: p.PID, PGID: p.pgid, SID: p.sid, Admin: p.cred.EUID == 0}
		p.mu.Unlock()
		who.PgrpSession = p.node.pgrpSession
	} else {
		who = tty.Caller{Admin: true}
	}
	if cmd == unix.TIOCSCTTY && !file.Readable() && !who.Admin {
		return 0, unix.EPERM
	}
	out, err := f.c.TTY.Ioctl(cmd, uint64(arg), in, who)
	if err != nil {
		return 0, err
	}
	if spec.Dir == tty.DirOut && len(out) > 0 {
		if ctx.Mem == nil {
			return 0, unix.EFAULT
		}
		if err := ctx.Mem.CopyOut(arg, out); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// pgrpSession returns the session of process group pgid.
func (n *Node) pgrpSession(pgid int32) (int32, bool) {
	for _, p := range n.Processes() {
		p.mu.Lock()
		g, s, z := p.pgid, p.sid, p.zombie
		p.mu.Unlock()
		if g == pgid && !z {
			return s, true
		}
	}
	return 0, false
}
