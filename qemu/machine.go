package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EscapeCtrlA is the console escape byte QEMU's -nographic uses, for
// Options.Escape: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A to the
// kernel, Ctrl-A h prints help; any other byte after Ctrl-A is dropped.
const EscapeCtrlA = 0x01

// Errors Machine.Wait returns when the machine did not stop by itself.
var (
	ErrKilled = errors.New("qemu: machine killed")
	ErrQuit   = errors.New("qemu: quit from the console (Ctrl-A x)")
)

// How long Kill and friends wait after SIGTERM before sending SIGKILL, and
// how long Wait waits for the console pipe to drain once QEMU has exited.
var (
	killGrace  = 2 * time.Second
	drainGrace = 2 * time.Second
)

// QEMUError reports that QEMU itself failed: it exited with a non-zero code
// or was killed by a signal, printed something on its standard error, and
// the kernel printed nothing (bad arguments, a missing firmware file, a KVM
// error, ...).
type QEMUError struct {
	Binary   string
	ExitCode int            // -1 when killed by a signal
	Signal   syscall.Signal // 0 unless killed by a signal
	Stderr   string         // the tail of QEMU's standard error
}

// Error returns a one-line summary, with QEMU's first error line.
func (e *QEMUError) Error() string {
	how := fmt.Sprintf("exit code %d", e.ExitCode)
	if e.Signal != 0 {
		how = "killed by " + signalName(e.Signal)
	}
	return fmt.Sprintf("qemu: %s failed (%s): %s", e.Binary, how, FirstLine(e.Stderr))
}

// FirstLine returns the first non-empty line of QEMU's standard error s,
// without QEMU's "qemu-system-x86_64: " prefix.
func FirstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, ": "); i > 0 && strings.HasPrefix(l, "qemu-system-") {
			l = l[i+2:]
		}
		if l != "" {
			return l
		}
	}
	return ""
}

// Options connects a machine's console.
type Options struct {
	// Stdin, when not nil, is copied to the console (COM1 input); when it
	// ends, QEMU's standard input is closed and the UART simply receives
	// nothing more. When nil, the console input stays open and idle.
	Stdin io.Reader
	// Stdout, when not nil, receives the console output as it arrives.
	Stdout io.Writer
	// Stderr, when not nil, receives QEMU's own standard error (its
	// warnings and errors); Result.Stderr keeps the tail of it anyway.
	Stderr io.Writer
	// OnLine, when not nil, is called for every console line (without the
	// line end) with the time since QEMU started. Calls come from one
	// goroutine, in order; console reading pauses while OnLine runs.
	OnLine func(at time.Duration, line string)
	// Escape, when not 0, is the console escape byte read from Stdin
	// (normally EscapeCtrlA): escape-x stops the machine, and Wait then
	// returns ErrQuit.
	Escape byte
}

// Result describes how a machine ran and stopped. Durations count from
// QEMU's start and are zero for events that did not happen. Console events
// are timed when this process reads them, which for output still in the
// pipe when QEMU exits is after the fact; they are capped at Exit.
type Result struct {
	// Status is the kernel's exit status (NoStatus when Source is
	// StatusMissing).
	Status int
	// Source tells where Status came from.
	Source StatusSource
	// ExitCode is QEMU's exit code, -1 when it was killed by a signal.
	ExitCode int
	// Signal is the signal that killed QEMU, or 0.
	Signal syscall.Signal
	// Accel is the accelerator used ("kvm" or "tcg"), AccelWhy why.
	Accel, AccelWhy string
	// Args is the full QEMU command line, binary first.
	Args []string
	// FirstByte and FirstLine are when the first console byte and the
	// first complete line arrived; Ready when the `dunix: ready` line did;
	// Exit when QEMU exited.
	FirstByte, FirstLine, Ready, Exit time.Duration
	// Lines counts the console lines.
	Lines int
	// ProbeOK reports whether the `dunix: probe ok` line was seen.
	ProbeOK bool
	// Stderr is the tail of QEMU's standard error.
	Stderr string
}

// ExitStatus returns the status a command should exit with: Status, or
// NoStatus when there is none.
func (r Result) ExitStatus() int {
	if r.Source == StatusMissing {
		return NoStatus
	}
	return r.Status
}

// Explain returns one line saying how the machine stopped, e.g.
// "status 0 (from the power-off line)" or "the machine stopped without an
// exit status (QEMU exited with code 0: a triple fault, an ACPI power-off
// or a crash)".
func (r Result) Explain() string {
	switch r.Source {
	case StatusFromLine:
		return fmt.Sprintf("status %d (from the power-off line)", r.Status)
	case StatusFromExit:
		return fmt.Sprintf("status %d (from QEMU's exit code %d; the power-off line was not seen)", r.Status, r.ExitCode)
	}
	switch {
	case r.Signal != 0:
		return fmt.Sprintf("the machine stopped without an exit status (QEMU was killed by %s)", signalName(r.Signal))
	case r.ExitCode == 0:
		return "the machine stopped without an exit status (QEMU exited with code 0: a triple fault, an ACPI power-off or a crash)"
	}
	return fmt.Sprintf("the machine stopped without an exit status (QEMU exited with code %d)", r.ExitCode)
}

// Machine is a running QEMU process.
type Machine struct {
	cfg   Config
	opts  Options
	out   io.Writer // opts.Stdout behind a lock, or io.Discard
	cmd   *exec.Cmd
	args  []string
	start time.Time
	why   string

	stdinW  *os.File      // QEMU's standard input
	readyCh chan struct{} // closed at the `dunix: ready` line
	done    chan struct{} // closed when Wait's result is ready

	mu        sync.Mutex
	exited    bool  // QEMU exited (perhaps not yet reaped): send no signals
	signalled bool  // SIGTERM sent
	stopErr   error // why we stopped the machine
	firstByte time.Duration
	firstLine time.Duration
	ready     time.Duration
	lines     int
	powerSeen bool
	power     int
	probeOK   bool
	stderr    tail

	res Result
	err error
}

// Start starts QEMU for cfg and returns at once. The machine runs until
// the kernel powers off, QEMU dies, ctx is done (Wait then returns an error
// wrapping context.Cause(ctx)) or Kill is called. AccelAuto is resolved with
// ChooseAccel first. QEMU runs in its own process group, which is killed
// when the machine stops, and it is killed if this process dies. The taps
// of tap NICs are passed to QEMU as its file descriptors 3, 4, ...; the
// caller may close its own copies once Start returns.
func Start(ctx context.Context, cfg Config, opts Options) (*Machine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	boot := cfg.Kernel
	if cfg.CDROM != "" {
		boot = cfg.CDROM
	}
	if _, err := os.Stat(boot); err != nil {
		return nil, fmt.Errorf("qemu: boot image: %w", err)
	}
	bin, err := lookBinary(cfg.Binary())
	if err != nil {
		return nil, err
	}
	var why string
	if cfg.Accel == AccelAuto {
		if cfg.Accel, why, err = ChooseAccel(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("qemu: machine not started: %w", context.Cause(ctx))
	}

	m := &Machine{
		cfg:     cfg,
		opts:    opts,
		out:     io.Discard,
		args:    append([]string{bin}, Args(cfg)...),
		why:     why,
		readyCh: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if opts.Stdout != nil {
		m.out = &lockedWriter{w: opts.Stdout}
	}

	// Our own pipes rather than exec's, so that Wait decides how long to
	// wait for output after QEMU exits.
	var files []*os.File
	pipe := func() (r, w *os.File) {
		if err == nil {
			r, w, err = os.Pipe()
			files = append(files, r, w)
		}
		return r, w
	}
	inR, inW := pipe()
	outR, outW := pipe()
	errR, errW := pipe()
	if err != nil {
		closeAll(files)
		return nil, fmt.Errorf("qemu: %w", err)
	}
	m.stdinW = inW
	m.cmd = exec.Command(bin, m.args[1:]...)
	m.cmd.Stdin, m.cmd.Stdout, m.cmd.Stderr = inR, outW, errW
	m.cmd.ExtraFiles = tapFiles(cfg) // fd 3, 4, ... as in nicArgs
	m.cmd.SysProcAttr = sysProcAttr()
	m.start = time.Now()
	if err := m.cmd.Start(); err != nil {
		closeAll(files)
		return nil, fmt.Errorf("qemu: %w", err)
	}
	closeAll([]*os.File{inR, outW, errW}) // QEMU's ends

	consoleDone := make(chan struct{})
	stderrDone := make(chan struct{})
	go m.readConsole(outR, consoleDone)
	go m.readStderr(errR, stderrDone)
	if opts.Stdin != nil {
		go m.forwardInput()
	}
	go m.wait(outR, errR, consoleDone, stderrDone)
	go func() {
		select {
		case <-ctx.Done():
			m.stop(fmt.Errorf("qemu: machine stopped: %w", context.Cause(ctx)))
		case <-m.done:
		}
	}()
	return m, nil
}

// Run starts the machine and waits for it: Start, then Wait.
func Run(ctx context.Context, cfg Config, opts Options) (Result, error) {
	m, err := Start(ctx, cfg, opts)
	if err != nil {
		return Result{}, err
	}
	return m.Wait()
}

// Args returns the QEMU command line, binary first.
func (m *Machine) Args() []string { return append([]string(nil), m.args...) }

// Pid returns QEMU's process id (also its process group id).
func (m *Machine) Pid() int { return m.cmd.Process.Pid }

// Ready returns a channel that is closed when the `dunix: ready` line
// arrives. It stays open if the machine stops before that.
func (m *Machine) Ready() <-chan struct{} { return m.readyCh }

// Done returns a channel that is closed when the machine has stopped and
// Wait returns at once.
func (m *Machine) Done() <-chan struct{} { return m.done }

// Kill stops the machine (SIGTERM to QEMU's process group, SIGKILL if it
// is still there after a grace period) and returns once QEMU and anything
// it started are gone. Wait then returns ErrKilled, unless the machine had
// already stopped.
func (m *Machine) Kill() {
	m.stop(ErrKilled)
	<-m.done
}

// Wait waits for the machine to stop and returns how it ran. The error is
// nil when QEMU exited by itself (whether or not the kernel left a status);
// it is ErrKilled, ErrQuit or wraps the context's cause when the machine was
// stopped from outside, or a *QEMUError when QEMU failed before the kernel
// printed anything. The Result is filled in either case. Wait may be called
// any number of times.
func (m *Machine) Wait() (Result, error) {
	<-m.done
	return m.res, m.err
}

// stop stops the machine for reason, unless it already exited.
func (m *Machine) stop(reason error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exited || m.signalled {
		return
	}
	m.stopErr = reason
	m.signalled = true
	signalGroup(m.cmd.Process.Pid, syscall.SIGTERM)
	time.AfterFunc(killGrace, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.exited {
			signalGroup(m.cmd.Process.Pid, syscall.SIGKILL)
		}
	})
}

// wait reaps QEMU, collects the output and fills in the result.
func (m *Machine) wait(outR, errR *os.File, consoleDone, stderrDone chan struct{}) {
	pid := m.cmd.Process.Pid
	waited := waitNoReap(pid)
	exit := time.Since(m.start)
	m.mu.Lock()
	if waited {
		// QEMU is a zombie and still holds its process group id: kill
		// whatever it left behind in the group.
		signalGroup(pid, syscall.SIGKILL)
	}
	m.exited = true
	m.mu.Unlock()
	m.cmd.Wait() // the exit code is in ProcessState
	if !waited {
		exit = time.Since(m.start)
	}

	// Everything that could write to the pipes is gone now; give the
	// readers a moment to drain them, then cut them off.
	for _, p := range []struct {
		r    *os.File
		done chan struct{}
	}{{outR, consoleDone}, {errR, stderrDone}} {
		select {
		case <-p.done:
		case <-time.After(drainGrace):
			p.r.Close()
			<-p.done
		}
		p.r.Close()
	}
	m.stdinW.Close()

	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.cmd.ProcessState
	r := Result{
		ExitCode:  ps.ExitCode(),
		Accel:     m.cfg.Accel,
		AccelWhy:  m.why,
		Args:      m.args,
		FirstByte: min(m.firstByte, exit),
		FirstLine: min(m.firstLine, exit),
		Ready:     min(m.ready, exit),
		Exit:      exit,
		Lines:     m.lines,
		ProbeOK:   m.probeOK,
		Stderr:    m.stderr.String(),
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Signal = ws.Signal()
	}
	r.Status, r.Source = DecodeStatus(m.powerSeen, m.power, r.ExitCode)
	m.err = m.stopErr
	if m.err == nil && r.ExitCode != 0 && r.FirstByte == 0 && strings.TrimSpace(r.Stderr) != "" {
		// QEMU failed on its own; an odd exit code is not a status here.
		r.Status, r.Source = NoStatus, StatusMissing
		m.err = &QEMUError{Binary: m.args[0], ExitCode: r.ExitCode, Signal: r.Signal, Stderr: r.Stderr}
	}
	m.res = r
	close(m.done)
}

// maxLine is the longest console line handed to OnLine in one piece.
const maxLine = 64 << 10

// readConsole copies the console output to Options.Stdout and scans it.
func (m *Machine) readConsole(r *os.File, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 32<<10)
	var line []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			at := time.Since(m.start)
			m.out.Write(buf[:n])
			m.mu.Lock()
			if m.firstByte == 0 {
				m.firstByte = at
			}
			m.mu.Unlock()
			data := buf[:n]
			for len(data) > 0 {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					line = append(line, data...)
					if len(line) >= maxLine {
						m.line(at, line)
						line = line[:0]
					}
					break
				}
				m.line(at, append(line, data[:i]...))
				line, data = line[:0], data[i+1:]
			}
		}
		if err != nil {
			break
		}
	}
	if len(line) > 0 {
		m.line(time.Since(m.start), line)
	}
}

// line handles one console line.
func (m *Machine) line(at time.Duration, b []byte) {
	s := strings.TrimRight(string(b), "\r")
	m.mu.Lock()
	m.lines++
	if m.firstLine == 0 {
		m.firstLine = at
	}
	if m.ready == 0 && IsReady(s) {
		m.ready = at
		close(m.readyCh)
	}
	if n, ok := ParsePowerOff(s); ok {
		m.powerSeen, m.power = true, n
	}
	if IsProbeOK(s) {
		m.probeOK = true
	}
	m.mu.Unlock()
	if m.opts.OnLine != nil {
		m.opts.OnLine(at, s)
	}
}

// readStderr copies QEMU's standard error to Options.Stderr and keeps its
// tail.
func (m *Machine) readStderr(r *os.File, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if m.opts.Stderr != nil {
				m.opts.Stderr.Write(buf[:n])
			}
			m.mu.Lock()
			m.stderr.Write(buf[:n])
			m.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// escapeHelp is printed for Escape-h.
const escapeHelp = "\r\nC-a h    print this help\r\nC-a x    stop the machine and exit\r\nC-a C-a  send C-a to the machine\r\n"

// forwardInput copies Options.Stdin to QEMU, handling the escape byte. It
// reads and writes in separate goroutines so that the escape works even
// when the kernel does not read its console; input the kernel does not take
// is dropped once 64 chunks are queued, like a UART overrun.
func (m *Machine) forwardInput() {
	queue := make(chan []byte, 64)
	go func() {
		failed := false
		for b := range queue {
			if !failed {
				_, err := m.stdinW.Write(b)
				failed = err != nil
			}
		}
		m.stdinW.Close()
	}()
	defer close(queue)

	esc := m.opts.Escape
	pending := false
	buf := make([]byte, 4096)
	for {
		n, err := m.opts.Stdin.Read(buf)
		select {
		case <-m.done:
			return
		default:
		}
		out := make([]byte, 0, n)
		for _, c := range buf[:n] {
			switch {
			case pending:
				pending = false
				switch c {
				case esc:
					out = append(out, c)
				case 'x':
					m.stop(ErrQuit)
					return
				case 'h', '?':
					m.out.Write([]byte(escapeHelp))
				}
			case esc != 0 && c == esc:
				pending = true
			default:
				out = append(out, c)
			}
		}
		if len(out) > 0 {
			select {
			case queue <- out:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// lockedWriter serialises writes from the console and escape goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// tail keeps the last tailSize bytes written to it.
type tail struct{ b []byte }

const tailSize = 8 << 10

func (t *tail) Write(p []byte) {
	t.b = append(t.b, p...)
	if len(t.b) > tailSize {
		t.b = append(t.b[:0], t.b[len(t.b)-tailSize:]...)
	}
}

func (t *tail) String() string { return string(t.b) }

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
