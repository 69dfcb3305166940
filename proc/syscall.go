package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/kernel"
)

// The system-call table: Linux x86-64 numbers to handlers, filled by the
// sys_*.go files (one per family). A handler returns the result or an
// error; a syscall.Errno becomes -errno in RAX.
type handler func(t *Thread, a *[6]uint64) (uint64, error)

var table [512]handler

// errNoReturn: the handler has set the registers itself (execve,
// rt_sigreturn, exit).
var errNoReturn = errors.New("no return value")

func reg(nr int, h handler) {
	if table[nr] != nil {
		panic(fmt.Sprintf("system call %d registered twice", nr))
	}
	table[nr] = h
}

// syscall runs the system call t made.
func (t *Thread) syscall() {
	r := t.task.Regs()
	nr := r.RAX
	a := [6]uint64{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}
	t.restartNr = -1
	var h handler
	if nr < uint64(len(table)) {
		h = table[nr]
	}
	if h == nil {
		t.enosys(nr)
		r.RAX = neg(syscall.ENOSYS)
		return
	}
	ret, err := h(t, &a)
	switch {
	case err == nil:
		r.RAX = ret
	case err == errNoReturn:
	case err == errRestart || err == errRestartNoHand:
		r.RAX = neg(err.(syscall.Errno))
		t.restartNr = int64(nr)
	default:
		var e syscall.Errno
		if !errors.As(err, &e) {
			e = syscall.EIO
		}
		r.RAX = neg(e)
	}
}

// enosys counts an unimplemented call, per process and per node, and
// reports it once per process.
func (t *Thread) enosys(nr uint64) {
	p := t.p
	if nr < uint64(len(p.node.enosys)) {
		p.node.enosys[nr].Add(1)
	}
	p.mu.Lock()
	first := p.enosys[int(nr)] == 0
	p.enosys[int(nr)]++
	p.mu.Unlock()
	if first && p.node.ReportENOSYS {
		fmt.Fprintf(os.Stdout, "dunix: %s (pid %d) called unimplemented system call %d (%s): ENOSYS\n", p.exe, p.PID, nr, sysName(nr))
	}
}

// enosysFeature counts a call that asked for a feature of an implemented
// system call that is not implemented (record locks, say); the call
// fails with the errno Linux uses for "not supported here". Reported
// once per process, like unimplemented calls.
func (t *Thread) enosysFeature(what string) {
	p := t.p
	n := p.node
	n.mu.Lock()
	if n.features == nil {
		n.features = map[string]int{}
	}
	n.features[what]++
	n.mu.Unlock()
	p.mu.Lock()
	if p.features == nil {
		p.features = map[string]bool{}
	}
	first := !p.features[what]
	p.features[what] = true
	p.mu.Unlock()
	if first && n.ReportENOSYS {
		fmt.Fprintf(os.Stdout, "dunix: %s (pid %d) used an unimplemented feature: %s\n", p.exe, p.PID, what)
	}
}

// Unimplemented returns the counts of unimplemented features asked for on
// this node, by name.
func (n *Node) Unimplemented() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := make(map[string]int, len(n.features))
	for k, v := range n.features {
		m[k] = v
	}
	return m
}

// ENOSYSCalls returns the unimplemented calls the process made.
func (p *Process) ENOSYSCalls() map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[int]int, len(p.enosys))
	for k, v := range p.enosys {
		m[k] = v
	}
	return m
}

func sysName(nr uint64) string {
	if s := kernel.SyscallName(nr); s != "" {
		return s
	}
	return "?"
}

// Helpers for handlers.

func errno(e unix.Errno) error { return syscall.Errno(e) }

// block waits for ch, or for a signal or the process's exit (EINTR, or a
// restart when the signal's handler asks for one).
func (t *Thread) block(ch <-chan struct{}) error {
	defer t.offCPU(t.onWait())
	select {
	case <-ch:
		return nil
	case <-t.wake:
		if t.p.exiting.Load() {
			return syscall.EINTR
		}
		return errRestart
	}
}

// interrupted reports whether a signal or an exit is waiting for t (the
// process's, or the thread's own: another thread's execve ends it).
func (t *Thread) interrupted() bool {
	if t.p.exiting.Load() {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return true
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	return (t.pending|t.p.pending)&^t.sigMask != 0
}

// neg is -e as a register value.
func neg(e syscall.Errno) uint64 { return uint64(-int64(e)) }
