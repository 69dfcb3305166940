// Package tty is a terminal line discipline: Linux's N_TTY, independent of
// any device. The hardware side (a serial port driver, a test) feeds
// received bytes to TTY.Input and receives the bytes to transmit through
// the io.Writer given to New; user programs' read, write and ioctl system
// calls call TTY.Read, TTY.Write and the ioctl methods.
//
// What it does, as Linux does: canonical line editing (erase, word erase,
// kill, reprint, literal next, EOF, EOL, EOL2), echo (ECHO, ECHOE, ECHOK,
// ECHOKE, ECHONL, ECHOCTL), input translation (ISTRIP, IGNCR, ICRNL, INLCR,
// IUCLC, IUTF8 for erasing), output processing (OPOST with ONLCR, OCRNL,
// ONOCR, ONLRET, OLCUC, XTABS), software flow control (IXON, IXANY,
// TCXONC), signals (ISIG: VINTR, VQUIT, VSUSP, with input and output
// flushed unless NOFLSH), non-canonical reads with VMIN and VTIME, the
// foreground process group, session and window size, the 4 KiB input
// buffer with a 64 KiB queue in front of it that waits for readers to make
// room. The transcripts of typing and reading are checked against the
// host's Linux in the tests. One deliberate difference: a signal character
// discards output not yet transmitted, but not the echo of what was typed
// before it in the same Input (Linux loses those echoes or not depending on
// timing).
//
// Not implemented: ECHOPRT (hardcopy erase), PENDIN, FLUSHO and VDISCARD,
// XCASE, EXTPROC, breaks and parity errors (Input carries no error flags, so
// IGNBRK, BRKINT, IGNPAR, PARMRK for errors and INPCK have nothing to act
// on; PARMRK's doubling of 0377 is done), the old struct termio ioctls
// (TCGETA...), packet mode.
//
// All calls are non-blocking: Read returns EAGAIN when the current mode says
// there is nothing to return yet, Write returns EAGAIN (or a short count)
// when output is stopped and the buffer is full. The system-call layer
// waits on Ready (a channel closed at the next change) or the OnReady hook,
// then retries; making a blocked reader return EINTR is its business.
// Callbacks (the output writer, Signal, OnReady) are called without any lock
// held, so they may call back into the TTY.
//
// The package runs in Go context (docs/conventions.md).
package tty

import (
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Buffer limits.
const (
	// BufSize is the capacity of the line discipline's input buffer,
	// Linux's N_TTY_BUF_SIZE, in both modes. When it is full, input waits
	// in the pending queue until a read makes room — except in canonical
	// mode with no complete line, where, as with Linux, each new character
	// replaces the last one of the line (so that erase and newline still
	// work): a line holds at most BufSize bytes.
	BufSize = 4096
	// PendMax is the capacity of the queue of received bytes not yet
	// processed (Linux's flip buffers, 64 KiB); Input drops what does not
	// fit.
	PendMax = 64 << 10
	// OutMax is the capacity of the output buffer, which holds output only
	// while it is stopped (^S) or while another goroutine is transmitting.
	OutMax = 4096
)

// Config is what New needs.
type Config struct {
	// Output receives the bytes to transmit, after output processing. It
	// is called by one goroutine at a time, in order, without locks held;
	// it may block (the caller of Write or Input then waits). Errors are
	// ignored (the bytes are lost). Required.
	Output io.Writer
	// Signal is called for VINTR, VQUIT, VSUSP (SIGINT, SIGQUIT, SIGTSTP)
	// and window size changes (SIGWINCH) with the foreground process
	// group; the kernel sends sig to every process of pgrp. It is not
	// called when there is no foreground process group. May be nil.
	Signal func(pgrp int32, sig syscall.Signal)
	// OnReady is called after anything that may change Readable or
	// Writable (input, reads, output drained, settings, a VTIME timer),
	// for poll and epoll. May be nil.
	OnReady func()
}

// TTY is one terminal. Its methods may be called from any goroutine.
type TTY struct {
	out     io.Writer
	signal  func(int32, syscall.Signal)
	onReady func()

	mu     sync.Mutex
	tio    Termios
	ispeed uint32
	ospeed uint32
	ws     WinSize
	pgrp   int32 // foreground process group, 0 if none
	sid    int32 // session, 0 if none
	excl   bool  // TIOCEXCL

	// Input. pend holds received bytes not processed yet (no room). q
	// holds readable bytes: in canonical mode the completed lines, one
	// entry in lines each, and line is the line being edited.
	pend     []byte
	q        []byte
	lines    []lineEnd
	eofs     int // lines ended by VEOF (Linux keeps a marker byte each)
	line     []byte
	lnext    bool // the next character is literal (VLNEXT)
	col      int  // output column
	canonCol int  // column where the echo of line began

	// VTIME state: when the last input byte arrived (VMIN>0), when a read
	// began waiting (VMIN=0), and the timer that wakes readers.
	lastInput time.Time
	waitStart time.Time
	timer     *time.Timer
	timerAt   time.Time

	// Output.
	obuf       []byte
	xchar      []byte // flow-control characters to send first (TCIOFF, TCION)
	inputMark  int    // len(obuf) when the current processing began
	inflight   int    // bytes being written by the flusher
	stopped    bool   // output stopped (VSTOP or TCOOFF)
	tcoStopped bool   // stopped by TCOOFF: VSTART and IXANY do not restart
	flushing   bool   // a goroutine is transmitting

	// Deferred to unlock: signals to send, readiness change.
	pendSigs []syscall.Signal
	changed  bool
	ready    chan struct{}
}

// New returns a terminal with DefaultTermios settings, a window size of
// 0x0 (unknown, as Linux reports for a serial line; programs then use
// $LINES and $COLUMNS or 24x80), no session and no foreground process
// group.
func New(cfg Config) *TTY {
	return &TTY{
		out: cfg.Output, signal: cfg.Signal, onReady: cfg.OnReady,
		tio: DefaultTermios(), ispeed: 38400, ospeed: 38400,
		ready: make(chan struct{}),
	}
}

// unlock processes pending input that fits, releases t.mu and then does
// what was deferred: sends signals, announces a readiness change,
// transmits pending output.
func (t *TTY) unlock() {
	if len(t.pend) > 0 {
		t.process()
	}
	sigs := t.pendSigs
	t.pendSigs = nil
	pgrp := t.pgrp
	notify := t.changed
	if notify {
		t.changed = false
		close(t.ready)
		t.ready = make(chan struct{})
	}
	transmit := !t.flushing && t.canTransmit()
	if transmit {
		t.flushing = true
	}
	t.mu.Unlock()
	if t.signal != nil && pgrp > 0 {
		for _, s := range sigs {
			t.signal(pgrp, s)
		}
	}
	if notify && t.onReady != nil {
		t.onReady()
	}
	if transmit {
		t.transmit()
	}
}

// transmit writes pending flow-control characters and, unless output is
// stopped, obuf to the output until there is nothing left. Only the
// goroutine that set t.flushing runs it.
func (t *TTY) transmit() {
	for {
		t.mu.Lock()
		if !t.canTransmit() {
			t.flushing = false
			t.inflight = 0
			t.changed = true
			t.unlock()
			return
		}
		chunk := t.xchar
		t.xchar = nil
		if !t.stopped {
			chunk = append(chunk, t.obuf...)
			t.obuf = t.obuf[:0]
		}
		t.inflight = len(chunk)
		t.changed = true // room in obuf
		t.unlock()       // flushing is set: does not recurse
		t.out.Write(chunk)
	}
}

// canTransmit reports whether there is something to transmit now.
func (t *TTY) canTransmit() bool {
	return len(t.xchar) > 0 || !t.stopped && len(t.obuf) > 0
}

// Ready returns a channel that is closed at the next change that may make
// Read or Write succeed. Take it before trying, so that no change is
// missed:
//
//	for {
//		ch := t.Ready()
//		n, err := t.Read(buf)
//		if err != unix.EAGAIN {
//			return n, err
//		}
//		select { case <-ch: case <-interrupted: return 0, unix.EINTR }
//	}
func (t *TTY) Ready() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ready
}

// lflag, iflag and oflag test settings.
func (t *TTY) lflag(f uint32) bool { return t.tio.Lflag&f != 0 }
func (t *TTY) iflag(f uint32) bool { return t.tio.Iflag&f != 0 }
func (t *TTY) oflag(f uint32) bool { return t.tio.Oflag&f != 0 }

// is reports whether c is the enabled control character cc[i].
func (t *TTY) is(c byte, i int) bool { return c != 0 && t.tio.Cc[i] == c }

func (t *TTY) canon() bool { return t.lflag(unix.ICANON) }

func iscntrl(c byte) bool { return c < 0x20 || c == 0x7f }

func isalnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lineEnd describes a completed line in q.
type lineEnd struct {
	n   int  // bytes left to read
	eof bool // ended by VEOF (the VEOF character is not in q)
}

// Input processes bytes received from the hardware: translation, signals,
// flow control, line editing and echo, as the settings say. What does not
// fit in the input buffer waits (up to PendMax bytes; more is dropped).
func (t *TTY) Input(b []byte) {
	t.mu.Lock()
	if room := PendMax - len(t.pend); len(b) > room {
		b = b[:room]
	}
	t.pend = append(t.pend, b...)
	t.unlock() // processes
}

// process feeds pending input to the line discipline while there is room
// (n_tty_receive_buf_common).
func (t *TTY) process() {
	t.inputMark = len(t.obuf)
	i := 0
	for i < len(t.pend) {
		room := BufSize - t.buffered()
		if t.iflag(unix.PARMRK) {
			room = (room + 2) / 3
		}
		room--
		if room <= 0 {
			if !t.canon() || len(t.lines) > 0 {
				break // wait for a read
			}
			if room < 0 {
				t.line = t.line[:len(t.line)-1] // overwrite the last character
			}
			room = 1
		}
		for n := min(room, len(t.pend)-i); n > 0; n-- {
			t.receive(t.pend[i])
			i++
		}
	}
	t.pend = t.pend[:copy(t.pend, t.pend[i:])]
}

// receive processes one input byte (n_tty_receive_char_special and
// n_tty_receive_char).
func (t *TTY) receive(c byte) {
	if t.iflag(unix.ISTRIP) {
		c &= 0x7f
	}
	if t.iflag(unix.IUCLC) && t.lflag(unix.IEXTEN) && c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	if t.lnext {
		t.lnext = false
		t.receivePlain(c)
		return
	}
	if t.iflag(unix.IXON) {
		if t.is(c, VSTART) {
			t.start()
			return
		}
		if t.is(c, VSTOP) {
			t.stopped = true
			return
		}
	}
	if t.lflag(unix.ISIG) {
		switch {
		case t.is(c, VINTR):
			t.isig(unix.SIGINT, c)
			return
		case t.is(c, VQUIT):
			t.isig(unix.SIGQUIT, c)
			return
		case t.is(c, VSUSP):
			t.isig(unix.SIGTSTP, c)
			return
		}
	}
	if t.stopped && t.iflag(unix.IXON) && t.iflag(unix.IXANY) {
		t.start()
	}
	if c == '\r' {
		if t.iflag(unix.IGNCR) {
			return
		}
		if t.iflag(unix.ICRNL) {
			c = '\n'
		}
	} else if c == '\n' && t.iflag(unix.INLCR) {
		c = '\r'
	}
	if t.canon() && t.receiveCanon(c) {
		return
	}
	t.receivePlain(c)
}

// receiveCanon handles the characters special in canonical mode and
// reports whether c was one.
func (t *TTY) receiveCanon(c byte) bool {
	iext := t.lflag(unix.IEXTEN)
	echo := t.lflag(unix.ECHO)
	switch {
	case t.is(c, VERASE) || t.is(c, VKILL) || iext && t.is(c, VWERASE):
		t.erase(c)
	case iext && t.is(c, VLNEXT):
		t.lnext = true
		if echo && t.lflag(unix.ECHOCTL) {
			t.echoRaw("^\b")
		}
	case iext && echo && t.is(c, VREPRINT):
		t.echoChar(c)
		t.echoRaw("\n")
		t.canonCol = t.col
		for _, x := range t.line {
			t.echoChar(x)
		}
	case c == '\n':
		if echo || t.lflag(unix.ECHONL) {
			t.echoRaw("\n")
		}
		t.line = append(t.line, c)
		t.endLine(false)
	case t.is(c, VEOF):
		t.eofs++
		t.endLine(true)
	case t.is(c, VEOL) || iext && t.is(c, VEOL2):
		if echo {
			if len(t.line) == 0 {
				t.canonCol = t.col
			}
			t.echoChar(c)
		}
		t.queueChar(c)
		t.endLine(false)
	default:
		return false
	}
	return true
}

// receivePlain echoes and queues an ordinary character.
func (t *TTY) receivePlain(c byte) {
	if t.stopped && t.iflag(unix.IXON) && t.iflag(unix.IXANY) {
		t.start()
	}
	if t.lflag(unix.ECHO) {
		if c == '\n' {
			t.echoRaw("\n")
		} else {
			if len(t.line) == 0 {
				t.canonCol = t.col
			}
			t.echoChar(c)
		}
	}
	t.queueChar(c)
}

// queueChar appends c to the line being edited or to the readable bytes
// (doubling 0377 under PARMRK, as Linux does).
func (t *TTY) queueChar(c byte) {
	n := 1
	if c == 0xff && t.iflag(unix.PARMRK) && !t.iflag(unix.IGNPAR) {
		n = 2
	}
	for range n {
		if t.canon() {
			t.line = append(t.line, c)
		} else {
			t.q = append(t.q, c)
			t.lastInput = time.Now()
			t.changed = true
		}
	}
}

// buffered returns the number of bytes in the input buffer, counting an
// EOF marker for each line ended by VEOF, as Linux does.
func (t *TTY) buffered() int { return len(t.q) + len(t.line) + t.eofs }

// endLine makes the line being edited readable.
func (t *TTY) endLine(eof bool) {
	t.q = append(t.q, t.line...)
	t.lines = append(t.lines, lineEnd{n: len(t.line), eof: eof})
	t.line = t.line[:0]
	t.changed = true
}

// erase handles VERASE, VWERASE and VKILL (Linux's eraser).
func (t *TTY) erase(c byte) {
	if len(t.line) == 0 {
		return
	}
	const (
		eraseChar = iota
		eraseWord
		eraseLine
	)
	kind := eraseLine
	switch {
	case t.is(c, VERASE):
		kind = eraseChar
	case t.is(c, VWERASE):
		kind = eraseWord
	}
	echo := t.lflag(unix.ECHO)
	if kind == eraseLine {
		if !echo {
			t.line = t.line[:0]
			return
		}
		if !t.lflag(unix.ECHOK) || !t.lflag(unix.ECHOKE) || !t.lflag(unix.ECHOE) {
			t.line = t.line[:0]
			t.echoChar(c)
			if t.lflag(unix.ECHOK) {
				t.echoRaw("\n")
			}
			return
		}
	}
	seenAlnum := false
	for len(t.line) > 0 {
		i := len(t.line) - 1
		for i > 0 && t.iflag(unix.IUTF8) && t.line[i]&0xc0 == 0x80 {
			i-- // a whole UTF-8 character
		}
		x := t.line[i]
		if kind == eraseWord {
			if isalnum(x) || x == '_' {
				seenAlnum = true
			} else if seenAlnum {
				break
			}
		}
		t.line = t.line[:i]
		if echo {
			switch {
			case kind == eraseChar && !t.lflag(unix.ECHOE):
				t.echoChar(t.tio.Cc[VERASE])
			case x == '\t':
				t.echoRaw("\b\b\b\b\b\b\b\b"[:8-t.colOf(t.line)&7])
			default:
				if iscntrl(x) && t.lflag(unix.ECHOCTL) {
					t.echoRaw("\b \b")
				}
				if !iscntrl(x) || t.lflag(unix.ECHOCTL) {
					t.echoRaw("\b \b")
				}
			}
		}
		if kind == eraseChar {
			break
		}
	}
}

// colOf returns the column after echoing s from canonCol.
func (t *TTY) colOf(s []byte) int {
	col := t.canonCol
	for _, c := range s {
		switch {
		case c == '\t':
			col = col | 7 + 1
		case iscntrl(c):
			if t.lflag(unix.ECHOCTL) {
				col += 2
			}
		case c&0xc0 != 0x80 || !t.iflag(unix.IUTF8):
			col++
		}
	}
	return col
}

// isig handles a signal character (n_tty_receive_signal_char).
func (t *TTY) isig(sig syscall.Signal, c byte) {
	if !t.lflag(unix.NOFLSH) {
		// Discard the input buffer (not the pending queue) and pending
		// output, but not the echo of what was typed before the signal
		// character in this same batch (Linux discards the echoes it has
		// not transmitted yet, which depends on timing).
		t.flushBuffer()
		t.obuf = t.obuf[:copy(t.obuf, t.obuf[t.inputMark:])]
		t.inputMark = 0
	}
	t.pendSigs = append(t.pendSigs, sig)
	if t.iflag(unix.IXON) {
		t.start()
	}
	if t.lflag(unix.ECHO) {
		t.echoChar(c)
	}
}

// start restarts output stopped by VSTOP (not by TCOOFF).
func (t *TTY) start() {
	if t.stopped && !t.tcoStopped {
		t.stopped = false
		t.changed = true
	}
}

// flushInput discards all input, pending too (TCFLSH, TCSETSF).
func (t *TTY) flushInput() {
	t.pend = t.pend[:0]
	t.flushBuffer()
}

// flushBuffer discards the input buffer.
func (t *TTY) flushBuffer() {
	t.q = t.q[:0]
	t.lines = t.lines[:0]
	t.eofs = 0
	t.line = t.line[:0]
	t.lnext = false
	t.waitStart = time.Time{}
	t.changed = true
}

// echoChar echoes c, as ^X if it is a control character (other than tab
// and newline) and ECHOCTL is set.
func (t *TTY) echoChar(c byte) {
	if t.lflag(unix.ECHOCTL) && iscntrl(c) && c != '\t' && c != '\n' {
		t.output('^')
		t.output(c ^ 0x40)
		return
	}
	t.output(c)
}

// echoRaw echoes s as it is (through output processing).
func (t *TTY) echoRaw(s string) {
	for i := 0; i < len(s); i++ {
		t.output(s[i])
	}
}

// output appends c to the output buffer after output processing
// (do_output_char), keeping track of the column.
func (t *TTY) output(c byte) {
	if !t.oflag(unix.OPOST) {
		t.obuf = append(t.obuf, c)
		t.advance(c)
		return
	}
	switch c {
	case '\n':
		if t.oflag(unix.ONLRET) {
			t.col = 0
		}
		if t.oflag(unix.ONLCR) {
			t.col = 0
			t.obuf = append(t.obuf, '\r', '\n')
			return
		}
	case '\r':
		if t.oflag(unix.ONOCR) && t.col == 0 {
			return
		}
		if t.oflag(unix.OCRNL) {
			c = '\n'
			if t.oflag(unix.ONLRET) {
				t.col = 0
			}
			break
		}
		t.col = 0
	case '\t':
		n := 8 - t.col&7
		t.col += n
		if t.tio.Oflag&unix.TABDLY == unix.XTABS {
			t.obuf = append(t.obuf, "        "[:n]...)
			return
		}
	case '\b':
		if t.col > 0 {
			t.col--
		}
	default:
		if !iscntrl(c) {
			if t.oflag(unix.OLCUC) && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			if c&0xc0 != 0x80 || !t.iflag(unix.IUTF8) {
				t.col++
			}
		}
	}
	t.obuf = append(t.obuf, c)
}

// advance tracks the column for output written without OPOST.
func (t *TTY) advance(c byte) {
	switch {
	case c == '\r' || c == '\n':
		t.col = 0
	case c == '\t':
		t.col = t.col | 7 + 1
	case c == '\b':
		if t.col > 0 {
			t.col--
		}
	case !iscntrl(c) && (c&0xc0 != 0x80 || !t.iflag(unix.IUTF8)):
		t.col++
	}
}

// Read reads for a read(2) on a blocking file. In canonical mode it
// returns at most one line (0 for an end of file typed at the start of a
// line), or EAGAIN until a line is complete. In non-canonical mode, with
// m = min(VMIN, len(buf)) and VTIME in tenths of a second:
//
//	VMIN=0 VTIME=0: what is there, possibly 0 bytes, never EAGAIN;
//	VMIN>0 VTIME=0: EAGAIN until m bytes are there;
//	VMIN=0 VTIME>0: what is there as soon as there is something, 0 once
//	  VTIME has passed since the first Read that found nothing;
//	VMIN>0 VTIME>0: EAGAIN until m bytes are there, or until VTIME has
//	  passed since the last byte arrived with at least one there.
//
// The VTIME timers are approximations of Linux's (which run per read call,
// the inter-byte one from the reader's copy): they are kept by the TTY, the
// VMIN=0 one shared by all readers and cancelled by AbortRead, and they
// wake waiters through Ready and OnReady when they expire. A Read of 0
// bytes returns 0.
func (t *TTY) Read(buf []byte) (int, error) { return t.read(buf, false) }

// ReadNonblock reads for a read(2) on a file opened with O_NONBLOCK: in
// canonical mode as Read; in non-canonical mode whatever is there if
// anything, else 0 if VMIN and VTIME are both 0, else EAGAIN.
func (t *TTY) ReadNonblock(buf []byte) (int, error) { return t.read(buf, true) }

func (t *TTY) read(buf []byte, nonblock bool) (int, error) {
	t.mu.Lock()
	defer t.unlock()
	if len(buf) == 0 {
		return 0, nil
	}
	if t.canon() {
		if len(t.lines) == 0 {
			return 0, unix.EAGAIN
		}
		if t.lines[0].n == 0 {
			t.popLine()
			return 0, nil
		}
		n := t.take(buf[:min(len(buf), t.lines[0].n)])
		t.lines[0].n -= n
		if t.lines[0].n == 0 {
			t.popLine()
		}
		return n, nil
	}
	vmin, vtime := int(t.tio.Cc[VMIN]), time.Duration(t.tio.Cc[VTIME])*100*time.Millisecond
	avail := len(t.q)
	switch {
	case nonblock:
		if avail == 0 && (vmin > 0 || vtime > 0) {
			return 0, unix.EAGAIN
		}
	case vmin == 0 && vtime == 0:
	case vmin == 0:
		if avail == 0 {
			now := time.Now()
			if t.waitStart.IsZero() {
				t.waitStart = now
			}
			deadline := t.waitStart.Add(vtime)
			if now.Before(deadline) {
				t.arm(deadline)
				return 0, unix.EAGAIN
			}
		}
		t.waitStart = time.Time{}
	case avail >= min(vmin, len(buf)):
	case vtime == 0 || avail == 0:
		return 0, unix.EAGAIN
	default:
		deadline := t.lastInput.Add(vtime)
		if time.Now().Before(deadline) {
			t.arm(deadline)
			return 0, unix.EAGAIN
		}
	}
	return t.take(buf), nil
}

// take moves up to len(buf) readable bytes into buf.
func (t *TTY) take(buf []byte) int {
	n := copy(buf, t.q)
	if n > 0 {
		t.q = t.q[:copy(t.q, t.q[n:])]
		t.changed = true
	}
	return n
}

// popLine forgets the first line, which has been read.
func (t *TTY) popLine() {
	if t.lines[0].eof {
		t.eofs--
	}
	t.lines = t.lines[:copy(t.lines, t.lines[1:])]
	t.changed = true
}

// arm makes sure a timer wakes the waiters at deadline.
func (t *TTY) arm(deadline time.Time) {
	if t.timer != nil && t.timerAt.Equal(deadline) {
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timerAt = deadline
	t.timer = time.AfterFunc(time.Until(deadline), func() {
		t.mu.Lock()
		t.changed = true
		t.unlock()
	})
}

// AbortRead tells the TTY that a Read that returned EAGAIN is abandoned (the
// caller was interrupted): the VMIN=0 VTIME>0 timer restarts at the next
// Read.
func (t *TTY) AbortRead() {
	t.mu.Lock()
	t.waitStart = time.Time{}
	t.mu.Unlock()
}

// Readable reports whether a Read would return data (or an end of file) now,
// as poll(2) sees it: a complete line in canonical mode; otherwise at least
// VMIN bytes if VTIME is 0 and VMIN is not, else at least one byte.
func (t *TTY) Readable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.canon() {
		return len(t.lines) > 0
	}
	amt := 1
	if t.tio.Cc[VTIME] == 0 && t.tio.Cc[VMIN] > 0 {
		amt = int(t.tio.Cc[VMIN])
	}
	return len(t.q) >= amt
}

// Writable reports whether Write would accept at least one byte now.
func (t *TTY) Writable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.obuf) < OutMax
}

// Write processes b for output (OPOST) and transmits it. It returns once
// all of b is transmitted or buffered, or with a short count (EAGAIN if
// nothing) when output is stopped or another goroutine is transmitting and
// the buffer is full. A write(2) on a blocking file retries the rest after
// waiting on Ready, as Linux's n_tty_write blocks until all is written; on
// an O_NONBLOCK file it returns the short count.
func (t *TTY) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		t.mu.Lock()
		n := 0
		for n < len(b) && len(t.obuf) < OutMax {
			t.output(b[n])
			n++
		}
		b = b[n:]
		total += n
		willTransmit := !t.flushing && t.canTransmit()
		t.unlock() // transmits if willTransmit
		if n == 0 || !willTransmit && len(b) > 0 {
			break
		}
	}
	if total == 0 && len(b) > 0 {
		return 0, unix.EAGAIN
	}
	return total, nil
}
