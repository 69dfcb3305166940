package tty

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// Termios returns the settings (TCGETS).
func (t *TTY) Termios() Termios {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tio
}

// Termios2 returns the settings with the speeds (TCGETS2).
func (t *TTY) Termios2() Termios2 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Termios2{Termios: t.tio, Ispeed: t.ispeed, Ospeed: t.ospeed}
}

// SetTermios changes the settings (TCSETS; TCSETSW is the same since output
// is transmitted synchronously — a caller that wants Linux's wait while
// output is stopped waits for OutQueue() == 0 first; TCSETSF is flush
// true, which discards pending input first). The speeds follow the CBAUD
// and CIBAUD codes of Cflag (unchanged for BOTHER).
func (t *TTY) SetTermios(tio Termios, flush bool) {
	t.mu.Lock()
	ispeed, ospeed := t.ispeed, t.ospeed
	if s, ok := baud(tio.Cflag); ok {
		ospeed = s
	}
	ispeed = ospeed
	if in := (tio.Cflag & unix.CIBAUD) >> unix.IBSHIFT; in != 0 {
		if s, ok := baud(in); ok {
			ispeed = s
		} else {
			ispeed = t.ispeed
		}
	}
	t.set(tio, ispeed, ospeed, flush)
	t.unlock()
}

// SetTermios2 changes the settings and speeds (TCSETS2, TCSETSW2,
// TCSETSF2 with flush true). The speeds are taken from Ispeed and Ospeed
// when the CBAUD (CIBAUD) code is BOTHER, else from the code; an input
// code of 0 means the output speed.
func (t *TTY) SetTermios2(tio Termios2, flush bool) {
	t.mu.Lock()
	ospeed := tio.Ospeed
	if s, ok := baud(tio.Cflag); ok {
		ospeed = s
	}
	ispeed := ospeed
	if in := (tio.Cflag & unix.CIBAUD) >> unix.IBSHIFT; in != 0 {
		ispeed = tio.Ispeed
		if s, ok := baud(in); ok {
			ispeed = s
		}
	}
	t.set(tio.Termios, ispeed, ospeed, flush)
	t.unlock()
}

// set installs new settings (n_tty_set_termios). t.mu is held.
func (t *TTY) set(tio Termios, ispeed, ospeed uint32, flush bool) {
	if flush {
		t.flushInput()
	}
	old := t.tio
	tio.Line = 0 // N_TTY; the line discipline changes only by TIOCSETD
	t.tio, t.ispeed, t.ospeed = tio, ispeed, ospeed
	wasCanon, canon := old.Lflag&unix.ICANON != 0, tio.Lflag&unix.ICANON != 0
	switch {
	case wasCanon && !canon:
		// Everything typed, the partial line too, becomes readable,
		// with a NUL for each EOF marker as in Linux's buffer.
		q := make([]byte, 0, t.buffered())
		rest := t.q
		for _, l := range t.lines {
			q = append(q, rest[:l.n]...)
			rest = rest[l.n:]
			if l.eof {
				q = append(q, 0)
			}
		}
		t.q = append(q, t.line...)
		t.lines = t.lines[:0]
		t.eofs = 0
		t.line = t.line[:0]
		t.lnext = false
		t.lastInput = time.Now()
	case !wasCanon && canon && len(t.q) > 0:
		// What was typed is a line of its own (Linux "pushes" it).
		t.lines = append(t.lines[:0], lineEnd{n: len(t.q)})
	}
	if old.Iflag&unix.IXON != 0 && tio.Iflag&unix.IXON == 0 {
		t.start()
	}
	t.waitStart = time.Time{}
	t.changed = true
}

// WinSize returns the window size (TIOCGWINSZ).
func (t *TTY) WinSize() WinSize {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ws
}

// SetWinSize sets the window size (TIOCSWINSZ) and sends SIGWINCH to the
// foreground process group if it changed.
func (t *TTY) SetWinSize(ws WinSize) {
	t.mu.Lock()
	if ws != t.ws {
		t.ws = ws
		t.pendSigs = append(t.pendSigs, unix.SIGWINCH)
	}
	t.unlock()
}

// ForegroundPgrp returns the foreground process group (TIOCGPGRP), 0 if
// none.
func (t *TTY) ForegroundPgrp() int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pgrp
}

// SetForegroundPgrp sets the foreground process group (TIOCSPGRP), which
// receives the signals of VINTR, VQUIT, VSUSP and SIGWINCH. The caller
// checks that pgrp exists in its session.
func (t *TTY) SetForegroundPgrp(pgrp int32) {
	t.mu.Lock()
	t.pgrp = pgrp
	t.mu.Unlock()
}

// Session returns the session this is the controlling terminal of, 0 if
// none (TIOCGSID).
func (t *TTY) Session() int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sid
}

// SetControlling makes this the controlling terminal of session sid with
// foreground process group pgrp (TIOCSCTTY, or the open(2) of a terminal
// by a session leader without one).
func (t *TTY) SetControlling(sid, pgrp int32) {
	t.mu.Lock()
	t.sid, t.pgrp = sid, pgrp
	t.mu.Unlock()
}

// Disassociate makes this terminal nobody's controlling terminal (TIOCNOTTY
// by the session leader, or its exit). It returns the foreground process
// group it had, to which Linux sends SIGHUP and SIGCONT.
func (t *TTY) Disassociate() (pgrp int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pgrp = t.pgrp
	t.sid, t.pgrp = 0, 0
	return pgrp
}

// Flush discards input (unix.TCIFLUSH), untransmitted output (TCOFLUSH)
// or both (TCIOFLUSH) (TCFLSH). Other values give EINVAL.
func (t *TTY) Flush(queue int) error {
	t.mu.Lock()
	defer t.unlock()
	switch queue {
	case unix.TCIFLUSH:
		t.flushInput()
	case unix.TCOFLUSH:
		t.obuf = t.obuf[:0]
		t.changed = true
	case unix.TCIOFLUSH:
		t.flushInput()
		t.obuf = t.obuf[:0]
	default:
		return unix.EINVAL
	}
	return nil
}

// FlowControl performs TCXONC: unix.TCOOFF suspends output (only TCOON
// resumes it), TCOON resumes it, TCIOFF and TCION transmit the VSTOP and
// VSTART characters (if enabled) ahead of any output, asking the other end
// to stop or resume sending. Other values give EINVAL.
func (t *TTY) FlowControl(action int) error {
	t.mu.Lock()
	defer t.unlock()
	switch action {
	case unix.TCOOFF:
		t.tcoStopped, t.stopped = true, true
	case unix.TCOON:
		t.tcoStopped = false
		t.start()
	case unix.TCIOFF, unix.TCION:
		c := t.tio.Cc[VSTOP]
		if action == unix.TCION {
			c = t.tio.Cc[VSTART]
		}
		if c != 0 {
			t.xchar = append(t.xchar, c)
		}
	default:
		return unix.EINVAL
	}
	t.changed = true
	return nil
}

// InQueue returns the number of bytes a reader may read: the bytes of
// complete lines in canonical mode, all buffered bytes otherwise (FIONREAD,
// TIOCINQ).
func (t *TTY) InQueue() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.q)
}

// OutQueue returns the number of bytes not yet handed to the output writer
// or being written by it (TIOCOUTQ).
func (t *TTY) OutQueue() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.obuf) + len(t.xchar) + t.inflight
}

// Exclusive reports whether TIOCEXCL is in effect: further opens fail with
// EBUSY unless the opener has CAP_SYS_ADMIN (the caller's check).
func (t *TTY) Exclusive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.excl
}

// Dir says how an ioctl's third argument crosses the user boundary.
type Dir int

// Argument directions.
const (
	// DirNone: the argument is a value (or unused); pass it as arg.
	DirNone Dir = iota
	// DirIn: copy Size bytes from user memory at arg and pass them as in.
	DirIn
	// DirOut: copy the returned bytes (Size of them) to user memory at arg.
	DirOut
)

// Spec describes a terminal ioctl request.
type Spec struct {
	Dir  Dir
	Size int
	// CheckChange is true for requests that change the terminal, for
	// which Linux first runs tty_check_change: a caller in a background
	// process group of its controlling terminal gets SIGTTOU sent to its
	// process group and the call restarts (or EIO if the group is
	// orphaned; nothing if SIGTTOU is blocked or ignored). That is the
	// caller's job.
	CheckChange bool
}

// specs lists the supported requests.
var specs = map[uint32]Spec{
	unix.TCGETS:     {DirOut, TermiosSize, false},
	unix.TCSETS:     {DirIn, TermiosSize, true},
	unix.TCSETSW:    {DirIn, TermiosSize, true},
	unix.TCSETSF:    {DirIn, TermiosSize, true},
	unix.TCGETS2:    {DirOut, Termios2Size, false},
	unix.TCSETS2:    {DirIn, Termios2Size, true},
	unix.TCSETSW2:   {DirIn, Termios2Size, true},
	unix.TCSETSF2:   {DirIn, Termios2Size, true},
	unix.TIOCGWINSZ: {DirOut, WinSizeSize, false},
	unix.TIOCSWINSZ: {DirIn, WinSizeSize, false},
	unix.TIOCGPGRP:  {DirOut, 4, false},
	unix.TIOCSPGRP:  {DirIn, 4, true},
	unix.TIOCGSID:   {DirOut, 4, false},
	unix.TIOCSCTTY:  {DirNone, 0, false},
	unix.TIOCNOTTY:  {DirNone, 0, false},
	unix.TCFLSH:     {DirNone, 0, true},
	unix.TCXONC:     {DirNone, 0, true},
	unix.TCSBRK:     {DirNone, 0, true},
	unix.TCSBRKP:    {DirNone, 0, true},
	unix.TIOCSBRK:   {DirNone, 0, true},
	unix.TIOCCBRK:   {DirNone, 0, true},
	unix.TIOCINQ:    {DirOut, 4, false}, // FIONREAD
	unix.TIOCOUTQ:   {DirOut, 4, false},
	unix.TIOCGETD:   {DirOut, 4, false},
	unix.TIOCSETD:   {DirIn, 4, false},
	unix.TIOCEXCL:   {DirNone, 0, false},
	unix.TIOCNXCL:   {DirNone, 0, false},
	unix.TIOCGEXCL:  {DirOut, 4, false},
	unix.TIOCSTI:    {DirIn, 1, false},
}

// IoctlSpec returns how the argument of request req crosses the user
// boundary; ok is false for requests the terminal does not support (the
// ioctl fails with ENOTTY). File-level requests (FIONBIO, FIOASYNC,
// FIOCLEX, FIONCLEX) are the file layer's, not listed here.
func IoctlSpec(req uint32) (spec Spec, ok bool) {
	spec, ok = specs[req]
	return spec, ok
}

// Caller identifies the process making an ioctl, for the requests about
// sessions and process groups.
type Caller struct {
	// PID, PGID and SID are the caller's process, process group and
	// session ids; the caller is a session leader if PID == SID.
	PID, PGID, SID int32
	// Admin is true if the caller has CAP_SYS_ADMIN.
	Admin bool
	// PgrpSession returns the session of process group pgid, ok false if
	// there is no such group (used by TIOCSPGRP; nil skips the check).
	PgrpSession func(pgid int32) (sid int32, ok bool)
}

// Ioctl performs terminal request req. arg is the raw third argument
// (used by the DirNone requests), in the bytes copied from user memory for
// DirIn requests; out is what to copy back for DirOut requests. It returns
// ENOTTY for unsupported requests.
//
// Checks done here, as Linux does them: TIOCGPGRP, TIOCSPGRP and TIOCGSID
// need this to be the caller's controlling terminal (same session, else
// ENOTTY); TIOCSPGRP refuses a negative group (EINVAL), an unknown one
// (ESRCH) and one of another session (EPERM); TIOCSCTTY refuses to take a
// terminal that is another session's (EPERM) unless arg is 1 and the caller
// is Admin; TIOCSTI needs Admin (EIO, as with Linux's default
// dev.tty.legacy_tiocsti=0); TIOCSCTTY needs a session leader (EPERM).
// Left to the caller: that a TIOCSCTTY caller has no controlling terminal
// yet and opened the terminal for reading (EPERM), clearing its
// processes' controlling terminal on TIOCNOTTY and, when the leader gives
// it up, sending SIGHUP and SIGCONT to the old foreground group (TIOCNOTTY
// returns nothing; call ForegroundPgrp first), the background checks of
// Spec.CheckChange, and TIOCEXCL's EBUSY at open.
func (t *TTY) Ioctl(req uint32, arg uint64, in []byte, c Caller) (out []byte, err error) {
	spec, ok := specs[req]
	if !ok {
		return nil, unix.ENOTTY
	}
	if spec.Dir == DirIn && len(in) < spec.Size {
		return nil, unix.EFAULT
	}
	le := binary.LittleEndian
	i32 := func(v int32) []byte { return le.AppendUint32(nil, uint32(v)) }
	switch req {
	case unix.TCGETS:
		tio := t.Termios()
		return tio.MarshalBinary()
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		var tio Termios
		if err := tio.UnmarshalBinary(in); err != nil {
			return nil, err
		}
		t.SetTermios(tio, req == unix.TCSETSF)
	case unix.TCGETS2:
		tio := t.Termios2()
		return tio.MarshalBinary()
	case unix.TCSETS2, unix.TCSETSW2, unix.TCSETSF2:
		var tio Termios2
		if err := tio.UnmarshalBinary(in); err != nil {
			return nil, err
		}
		t.SetTermios2(tio, req == unix.TCSETSF2)
	case unix.TIOCGWINSZ:
		ws := t.WinSize()
		return ws.MarshalBinary()
	case unix.TIOCSWINSZ:
		var ws WinSize
		if err := ws.UnmarshalBinary(in); err != nil {
			return nil, err
		}
		t.SetWinSize(ws)
	case unix.TIOCGPGRP, unix.TIOCGSID:
		t.mu.Lock()
		sid, pgrp := t.sid, t.pgrp
		t.mu.Unlock()
		if sid == 0 || sid != c.SID {
			return nil, unix.ENOTTY
		}
		if req == unix.TIOCGSID {
			return i32(sid), nil
		}
		return i32(pgrp), nil
	case unix.TIOCSPGRP:
		pgrp := int32(le.Uint32(in))
		if sid := t.Session(); sid == 0 || sid != c.SID {
			return nil, unix.ENOTTY
		}
		if pgrp < 0 {
			return nil, unix.EINVAL
		}
		if c.PgrpSession != nil {
			sid, ok := c.PgrpSession(pgrp)
			if !ok {
				return nil, unix.ESRCH
			}
			if sid != c.SID {
				return nil, unix.EPERM
			}
		}
		t.SetForegroundPgrp(pgrp)
	case unix.TIOCSCTTY:
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sid == c.SID && c.PID == c.SID {
			return nil, nil
		}
		if c.PID != c.SID {
			return nil, unix.EPERM
		}
		if t.sid != 0 && !(arg == 1 && c.Admin) {
			return nil, unix.EPERM
		}
		t.sid, t.pgrp = c.SID, c.PGID
	case unix.TIOCNOTTY:
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sid == 0 || t.sid != c.SID {
			return nil, unix.ENOTTY
		}
		if c.PID == c.SID {
			t.sid, t.pgrp = 0, 0
		}
	case unix.TCFLSH:
		return nil, t.Flush(int(int32(arg)))
	case unix.TCXONC:
		return nil, t.FlowControl(int(int32(arg)))
	case unix.TCSBRK, unix.TCSBRKP, unix.TIOCSBRK, unix.TIOCCBRK:
		// tcdrain and breaks: output is handed over synchronously and a
		// line discipline cannot send a break; nothing to do.
	case unix.TIOCINQ:
		return i32(int32(t.InQueue())), nil
	case unix.TIOCOUTQ:
		return i32(int32(t.OutQueue())), nil
	case unix.TIOCGETD:
		return i32(0), nil // N_TTY
	case unix.TIOCSETD:
		if le.Uint32(in) != 0 {
			return nil, unix.EINVAL
		}
	case unix.TIOCEXCL, unix.TIOCNXCL:
		t.mu.Lock()
		t.excl = req == unix.TIOCEXCL
		t.mu.Unlock()
	case unix.TIOCGEXCL:
		if t.Exclusive() {
			return i32(1), nil
		}
		return i32(0), nil
	case unix.TIOCSTI:
		if !c.Admin {
			return nil, unix.EIO
		}
		t.Input(in[:1])
	}
	return nil, nil
}
