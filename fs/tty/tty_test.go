package tty

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// recorder collects output and signals.
type recorder struct {
	mu   sync.Mutex
	out  bytes.Buffer
	sigs []sigEvent
}

type sigEvent struct {
	pgrp int32
	sig  syscall.Signal
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(b)
}

// take returns and clears the output so far.
func (r *recorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.out.String()
	r.out.Reset()
	return s
}

func (r *recorder) signals() []sigEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sigs
	r.sigs = nil
	return s
}

func newTest() (*TTY, *recorder) {
	r := &recorder{}
	t := New(Config{Output: r, Signal: func(pgrp int32, sig syscall.Signal) {
		r.mu.Lock()
		r.sigs = append(r.sigs, sigEvent{pgrp, sig})
		r.mu.Unlock()
	}})
	t.SetControlling(7, 42)
	return t, r
}

// readAll reads until EAGAIN and returns the chunks read.
func readAll(t *testing.T, tt *TTY) []string {
	t.Helper()
	var out []string
	for i := 0; i < 100; i++ {
		buf := make([]byte, 256)
		n, err := tt.Read(buf)
		if err == unix.EAGAIN {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(buf[:n]))
		if n == 0 && !tt.Termios().isCanon() {
			return out
		}
	}
	t.Fatal("no end of input")
	return nil
}

func (tio Termios) isCanon() bool { return tio.Lflag&unix.ICANON != 0 }

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestDefaultTermios(t *testing.T) {
	tio := DefaultTermios()
	if tio.Iflag != unix.ICRNL|unix.IXON || tio.Oflag != unix.OPOST|unix.ONLCR ||
		tio.Cflag != unix.B38400|unix.CS8|unix.CREAD|unix.HUPCL ||
		tio.Lflag != unix.ISIG|unix.ICANON|unix.ECHO|unix.ECHOE|unix.ECHOK|unix.ECHOCTL|unix.ECHOKE|unix.IEXTEN {
		t.Errorf("flags %+v", tio)
	}
	want := map[int]byte{VINTR: 3, VQUIT: 0x1c, VERASE: 0x7f, VKILL: 0x15, VEOF: 4, VTIME: 0, VMIN: 1,
		VSTART: 0x11, VSTOP: 0x13, VSUSP: 0x1a, VEOL: 0, VREPRINT: 0x12, VDISCARD: 0x0f, VWERASE: 0x17, VLNEXT: 0x16, VEOL2: 0}
	for i, c := range want {
		if tio.Cc[i] != c {
			t.Errorf("Cc[%d] = %#x, want %#x", i, tio.Cc[i], c)
		}
	}
	b, _ := tio.MarshalBinary()
	if len(b) != TermiosSize {
		t.Fatalf("marshalled %d bytes", len(b))
	}
	var back Termios
	if err := back.UnmarshalBinary(b); err != nil || back != tio {
		t.Errorf("round trip %+v, %v", back, err)
	}
	if err := back.UnmarshalBinary(b[:35]); err != unix.EINVAL {
		t.Errorf("short unmarshal: %v", err)
	}
	// The layout is golang.org/x/sys/unix.Termios's first 36 bytes.
	x := unix.Termios{Iflag: 1, Oflag: 2, Cflag: 3, Lflag: 4, Line: 5, Ispeed: 6, Ospeed: 7}
	x.Cc[0], x.Cc[18] = 8, 9
	var raw bytes.Buffer
	binary.Write(&raw, binary.LittleEndian, &x)
	if raw.Len() != Termios2Size {
		t.Fatalf("unix.Termios is %d bytes", raw.Len())
	}
	var t2 Termios2
	if err := t2.UnmarshalBinary(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if t2.Iflag != 1 || t2.Oflag != 2 || t2.Cflag != 3 || t2.Lflag != 4 || t2.Line != 5 || t2.Cc[0] != 8 || t2.Cc[18] != 9 || t2.Ispeed != 6 || t2.Ospeed != 7 {
		t.Errorf("decoded %+v", t2)
	}
	if b, _ := t2.MarshalBinary(); !bytes.Equal(b, raw.Bytes()) {
		t.Errorf("Termios2 encoding differs from unix.Termios")
	}
	ws := WinSize{1, 2, 3, 4}
	b, _ = ws.MarshalBinary()
	var ws2 WinSize
	if err := ws2.UnmarshalBinary(b); err != nil || ws2 != ws || len(b) != WinSizeSize {
		t.Errorf("winsize round trip %v %v", ws2, err)
	}
}

func TestCanonicalEditing(t *testing.T) {
	tt, r := newTest()
	tt.Input([]byte("hellp\x7fo world\r"))
	eq(t, "echo", r.take(), "hellp\b \bo world\r\n")
	eq(t, "read", readAll(t, tt), []string{"hello world\n"})

	// Kill (ECHOKE: erased character by character), word erase, reprint.
	tt.Input([]byte("abc\x15xy foo_1 bar\x17\x17z\x12\n"))
	eq(t, "echo", r.take(), "abc"+strings.Repeat("\b \b", 3)+"xy foo_1 bar"+strings.Repeat("\b \b", 3+6)+"z^R\r\nxy z\r\n")
	eq(t, "read", readAll(t, tt), []string{"xy z\n"})

	// Erase of a control character shown as ^A takes two columns; erase
	// past the start of the line does nothing.
	tt.Input([]byte("a\x01\x7f\x7f\x7fb\n"))
	eq(t, "echo", r.take(), "a^A\b \b\b \b\b \bb\r\n")
	eq(t, "read", readAll(t, tt), []string{"b\n"})

	// Tab erase goes back to the column before the tab, counting from
	// where the line started (after a prompt).
	tt.Write([]byte("$ "))
	tt.Input([]byte("ab\t\x7fc\n"))
	eq(t, "echo", r.take(), "$ ab\t\b\b\b\bc\r\n")
	eq(t, "read", readAll(t, tt), []string{"abc\n"})

	// Literal next: ^V^C is a ^C character, ^V DEL a DEL.
	tt.Input([]byte("\x16\x03\x16\x7f\n"))
	eq(t, "echo", r.take(), "^\b^C^\b^?\r\n")
	eq(t, "read", readAll(t, tt), []string{"\x03\x7f\n"})
	if s := r.signals(); len(s) != 0 {
		t.Errorf("signals %v", s)
	}

	// Two lines typed before a read: one line per read, partial reads.
	tt.Input([]byte("one\ntwo\n"))
	r.take()
	buf := make([]byte, 2)
	var got []string
	for {
		n, err := tt.Read(buf)
		if err != nil {
			break
		}
		got = append(got, string(buf[:n]))
	}
	eq(t, "reads", got, []string{"on", "e\n", "tw", "o\n"})

	// A partial line is not readable.
	tt.Input([]byte("part"))
	if _, err := tt.Read(buf); err != unix.EAGAIN {
		t.Errorf("partial line: %v", err)
	}
	if tt.Readable() || tt.InQueue() != 0 {
		t.Errorf("Readable %v InQueue %d", tt.Readable(), tt.InQueue())
	}
}

func TestUTF8Erase(t *testing.T) {
	tt, r := newTest()
	tio := tt.Termios()
	tio.Iflag |= unix.IUTF8
	tt.SetTermios(tio, false)
	tt.Input([]byte("aé€\x7f\x7f\n"))
	eq(t, "echo", r.take(), "aé€\b \b\b \b\r\n")
	eq(t, "read", readAll(t, tt), []string{"a\n"})
}

func TestEOF(t *testing.T) {
	tt, r := newTest()
	tt.Input([]byte("\x04"))
	eq(t, "echo", r.take(), "")
	eq(t, "read at start of line", readAll(t, tt), []string{""})
	tt.Input([]byte("abc\x04"))
	eq(t, "read after text", readAll(t, tt), []string{"abc"})
	tt.Input([]byte("abc\n\x04\x04x"))
	eq(t, "line then two EOFs", readAll(t, tt), []string{"abc\n", "", ""})
	// A buffer exactly the size of an EOF-terminated line consumes it.
	tt.Flush(unix.TCIFLUSH)
	tt.Input([]byte("xyz\x04q\n"))
	buf := make([]byte, 4)
	n, _ := tt.Read(buf[:3])
	eq(t, "exact", string(buf[:n]), "xyz")
	n, err := tt.Read(buf)
	if err != nil || string(buf[:n]) != "q\n" {
		t.Errorf("next read %q, %v", buf[:n], err)
	}
}

func TestSignals(t *testing.T) {
	tt, r := newTest()
	tt.Input([]byte("line1\npartial\x03"))
	eq(t, "echo", r.take(), "line1\r\npartial^C")
	if s := r.signals(); len(s) != 1 || s[0] != (sigEvent{42, unix.SIGINT}) {
		t.Errorf("signals %v", s)
	}
	if _, err := tt.Read(make([]byte, 10)); err != unix.EAGAIN {
		t.Errorf("input not flushed: %v", err)
	}
	tt.Input([]byte("\x1c\x1a"))
	eq(t, "echo", r.take(), "^\\^Z")
	if s := r.signals(); len(s) != 2 || s[0].sig != unix.SIGQUIT || s[1].sig != unix.SIGTSTP {
		t.Errorf("signals %v", s)
	}

	// NOFLSH keeps the input.
	tio := tt.Termios()
	tio.Lflag |= unix.NOFLSH
	tt.SetTermios(tio, false)
	tt.Input([]byte("keep\n\x03"))
	eq(t, "NOFLSH", readAll(t, tt), []string{"keep\n"})
	r.signals()

	// Without ISIG, ^C is data; without ECHOCTL it echoes as itself.
	tio.Lflag &^= unix.ISIG | unix.ECHOCTL
	tt.SetTermios(tio, false)
	r.take()
	tt.Input([]byte("\x03\n"))
	eq(t, "echo", r.take(), "\x03\r\n")
	eq(t, "read", readAll(t, tt), []string{"\x03\n"})
	if s := r.signals(); len(s) != 0 {
		t.Errorf("signals %v", s)
	}

	// No foreground process group: no signal.
	tt.SetTermios(DefaultTermios(), false)
	tt.SetForegroundPgrp(0)
	tt.Input([]byte("\x03"))
	if s := r.signals(); len(s) != 0 {
		t.Errorf("signals %v", s)
	}

	// SIGWINCH on a change only.
	tt.SetForegroundPgrp(42)
	tt.SetWinSize(WinSize{Row: 50, Col: 132})
	tt.SetWinSize(WinSize{Row: 50, Col: 132})
	if s := r.signals(); len(s) != 1 || s[0] != (sigEvent{42, unix.SIGWINCH}) {
		t.Errorf("signals %v", s)
	}
	if ws := tt.WinSize(); ws != (WinSize{Row: 50, Col: 132}) {
		t.Errorf("winsize %v", ws)
	}
}

func TestRawMode(t *testing.T) {
	tt, r := newTest()
	tio := tt.Termios()
	tio.MakeRaw()
	tt.SetTermios(tio, false)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tt.Input(all)
	eq(t, "echo", r.take(), "")
	buf := make([]byte, 300)
	n, err := tt.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], all) {
		t.Fatalf("read %d bytes %v", n, err)
	}
	if s := r.signals(); len(s) != 0 {
		t.Errorf("signals %v", s)
	}
	tt.Write(all)
	if got := r.take(); got != string(all) {
		t.Errorf("raw output altered: %q", got)
	}
	if _, err := tt.Read(buf); err != unix.EAGAIN {
		t.Errorf("empty raw read: %v", err)
	}
}

func TestTranslations(t *testing.T) {
	tt, r := newTest()
	// Input: ICRNL (default), then INLCR, then IGNCR.
	tt.Input([]byte("a\rb\n"))
	eq(t, "ICRNL", readAll(t, tt), []string{"a\n", "b\n"})
	tio := tt.Termios()
	tio.Iflag = unix.INLCR
	tio.Lflag &^= unix.ICANON
	tt.SetTermios(tio, false)
	r.take()
	tt.Input([]byte("a\rb\n"))
	eq(t, "INLCR", readAll(t, tt), []string{"a\rb\r"})
	eq(t, "INLCR echo", r.take(), "a^Mb^M")
	tio.Iflag = unix.IGNCR
	tt.SetTermios(tio, false)
	tt.Input([]byte("a\r\nb"))
	eq(t, "IGNCR", readAll(t, tt), []string{"a\nb"})
	tio.Iflag = unix.ISTRIP | unix.IUCLC
	tt.SetTermios(tio, false)
	r.take()
	tt.Input([]byte("\xc1B"))
	eq(t, "ISTRIP IUCLC", readAll(t, tt), []string{"ab"})

	// Output.
	out := func(oflag uint32, s string) string {
		tio := DefaultTermios()
		tio.Oflag = oflag
		tt.SetTermios(tio, false)
		r.take()
		tt.Write([]byte(s))
		return r.take()
	}
	eq(t, "ONLCR", out(unix.OPOST|unix.ONLCR, "a\nb\r\n"), "a\r\nb\r\r\n")
	eq(t, "OCRNL", out(unix.OPOST|unix.OCRNL, "a\rb\n"), "a\nb\n")
	eq(t, "no OPOST", out(unix.ONLCR|unix.OCRNL, "a\rb\n"), "a\rb\n")
	eq(t, "ONOCR", out(unix.OPOST|unix.ONOCR, "\rab\r\r"), "ab\r")
	eq(t, "OLCUC", out(unix.OPOST|unix.OLCUC, "abC1"), "ABC1")
	eq(t, "XTABS", out(unix.OPOST|unix.XTABS, "\r\tab\tc"), "\r        ab      c")
}

func TestEchoFlags(t *testing.T) {
	tt, r := newTest()
	tio := DefaultTermios()
	tio.Lflag &^= unix.ECHO
	tio.Lflag |= unix.ECHONL
	tt.SetTermios(tio, false)
	tt.Input([]byte("secret\n"))
	eq(t, "ECHONL", r.take(), "\r\n")
	readAll(t, tt)
	tio.Lflag &^= unix.ECHONL
	tt.SetTermios(tio, false)
	tt.Input([]byte("secret\x7f\x15\n"))
	eq(t, "no echo", r.take(), "")
	readAll(t, tt)
	// Without ECHOE, erase echoes the erase character; without ECHOKE,
	// kill echoes ^U and (ECHOK) a newline.
	tio = DefaultTermios()
	tio.Lflag &^= unix.ECHOE | unix.ECHOKE
	tt.SetTermios(tio, false)
	tt.Input([]byte("ab\x7fcd\x15e\n"))
	eq(t, "echo", r.take(), "ab^?cd^U\r\ne\r\n")
	eq(t, "read", readAll(t, tt), []string{"e\n"})
	// VEOL.
	tio = DefaultTermios()
	tio.Cc[VEOL] = ';'
	tt.SetTermios(tio, false)
	tt.Input([]byte("a;b\n"))
	eq(t, "echo", r.take(), "a;b\r\n")
	eq(t, "read", readAll(t, tt), []string{"a;", "b\n"})
}

func TestModeSwitch(t *testing.T) {
	tt, _ := newTest()
	tt.Input([]byte("done\npart"))
	tio := tt.Termios()
	tio.Lflag &^= unix.ICANON
	tt.SetTermios(tio, false)
	eq(t, "to raw", readAll(t, tt), []string{"done\npart"})
	tt.Input([]byte("xy"))
	tt.SetTermios(DefaultTermios(), false)
	eq(t, "to canonical", readAll(t, tt), []string{"xy"})
	tt.Input([]byte("gone\n"))
	tt.SetTermios(DefaultTermios(), true) // TCSETSF
	eq(t, "flushed", readAll(t, tt), []string(nil))
}

func TestVMinVTime(t *testing.T) {
	tt, _ := newTest()
	tio := DefaultTermios()
	tio.MakeRaw()
	set := func(vmin, vtime byte) {
		tio.Cc[VMIN], tio.Cc[VTIME] = vmin, vtime
		tt.SetTermios(tio, false)
	}
	buf := make([]byte, 10)

	set(0, 0) // polling
	if n, err := tt.Read(buf); n != 0 || err != nil {
		t.Errorf("VMIN=0 VTIME=0 empty: %d %v", n, err)
	}
	tt.Input([]byte("ab"))
	if n, err := tt.Read(buf); n != 2 || err != nil {
		t.Errorf("VMIN=0 VTIME=0: %d %v", n, err)
	}

	set(3, 0)
	tt.Input([]byte("ab"))
	if tt.Readable() {
		t.Error("readable with 2 of VMIN 3")
	}
	if _, err := tt.Read(buf); err != unix.EAGAIN {
		t.Errorf("VMIN=3 with 2: %v", err)
	}
	if n, err := tt.Read(buf[:2]); n != 2 || err != nil {
		t.Errorf("VMIN=3 with a 2-byte buffer: %d %v", n, err)
	}
	tt.Input([]byte("abc"))
	if !tt.Readable() {
		t.Error("not readable with 3")
	}
	if n, err := tt.Read(buf); n != 3 || err != nil {
		t.Errorf("VMIN=3 with 3: %d %v", n, err)
	}
	tt.Input([]byte("a"))
	if n, err := tt.ReadNonblock(buf); n != 1 || err != nil {
		t.Errorf("O_NONBLOCK VMIN=3 with 1: %d %v", n, err)
	}
	if _, err := tt.ReadNonblock(buf); err != unix.EAGAIN {
		t.Errorf("O_NONBLOCK empty: %v", err)
	}

	// VMIN=0 VTIME=1: 0 after 100 ms, woken by Ready.
	set(0, 1)
	start := time.Now()
	n, err := waitRead(tt, buf)
	if el := time.Since(start); n != 0 || err != nil || el < 100*time.Millisecond || el > 2*time.Second {
		t.Errorf("VMIN=0 VTIME=1 timeout: %d %v after %v", n, err, el)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		tt.Input([]byte("z"))
	}()
	n, err = waitRead(tt, buf)
	if n != 1 || err != nil {
		t.Errorf("VMIN=0 VTIME=1 data: %d %v", n, err)
	}

	// VMIN=5 VTIME=1: inter-byte timer starts with the first byte.
	set(5, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		tt.Input([]byte("ab"))
	}()
	start = time.Now()
	n, err = waitRead(tt, buf)
	if el := time.Since(start); n != 2 || err != nil || el < 150*time.Millisecond {
		t.Errorf("VMIN=5 VTIME=1: %d %v after %v", n, err, el)
	}
	tt.Input([]byte("abcde"))
	if n, err := tt.Read(buf); n != 5 || err != nil {
		t.Errorf("VMIN=5 VTIME=1 with 5: %d %v", n, err)
	}
}

// waitRead is the system-call layer's blocking read loop.
func waitRead(tt *TTY, buf []byte) (int, error) {
	timeout := time.After(5 * time.Second)
	for {
		ch := tt.Ready()
		n, err := tt.Read(buf)
		if err != unix.EAGAIN {
			return n, err
		}
		select {
		case <-ch:
		case <-timeout:
			tt.AbortRead()
			return 0, unix.EINTR
		}
	}
}

func TestFlowControl(t *testing.T) {
	tt, r := newTest()
	tt.Input([]byte("\x13"))
	if n, err := tt.Write([]byte("held")); n != 4 || err != nil {
		t.Fatalf("write while stopped: %d %v", n, err)
	}
	tt.Input([]byte("x"))
	eq(t, "stopped", r.take(), "")
	if q := tt.OutQueue(); q != 5 {
		t.Errorf("OutQueue %d", q)
	}
	tt.Input([]byte("\x11"))
	eq(t, "resumed", r.take(), "heldx")
	// A full buffer while stopped: short write, then EAGAIN.
	tt.Input([]byte("\x13"))
	big := bytes.Repeat([]byte("y"), OutMax+10)
	n, err := tt.Write(big)
	if n != OutMax || err != nil || tt.Writable() {
		t.Errorf("write %d, %v, writable %v", n, err, tt.Writable())
	}
	if _, err := tt.Write(big[n:]); err != unix.EAGAIN {
		t.Errorf("full: %v", err)
	}
	ch := tt.Ready()
	tt.Input([]byte("\x11"))
	select {
	case <-ch:
	default:
		t.Error("Ready not closed on restart")
	}
	if got := r.take(); len(got) != OutMax {
		t.Errorf("transmitted %d", len(got))
	}
	// IXANY: any character restarts; ^C restarts and flushes.
	tio := DefaultTermios()
	tio.Iflag |= unix.IXANY
	tt.SetTermios(tio, false)
	tt.Input([]byte("\x13"))
	tt.Write([]byte("q"))
	tt.Input([]byte("w"))
	eq(t, "IXANY", r.take(), "qw")
	tt.Input([]byte("\x13"))
	tt.Write([]byte("lost"))
	tt.Input([]byte("\x03"))
	eq(t, "^C", r.take(), "^C")
	r.signals()
	// TCOOFF is not undone by ^Q; TCIOFF sends ^S even while stopped.
	tt.FlowControl(unix.TCOOFF)
	tt.Write([]byte("a"))
	tt.Input([]byte("\x11"))
	tt.FlowControl(unix.TCIOFF)
	eq(t, "TCOOFF", r.take(), "\x13")
	tt.FlowControl(unix.TCOON)
	eq(t, "TCOON", r.take(), "a")
	if err := tt.FlowControl(9); err != unix.EINVAL {
		t.Errorf("TCXONC 9: %v", err)
	}
	// Turning IXON off restarts output.
	tt.Input([]byte("\x13"))
	tt.Write([]byte("b"))
	tio.Iflag &^= unix.IXON
	tt.SetTermios(tio, false)
	eq(t, "IXON off", r.take(), "b")
}

func TestLimits(t *testing.T) {
	tt, r := newTest()
	// Canonical: a line holds BufSize bytes; beyond, each character
	// replaces the last one; a newline still ends the line.
	tt.Input(bytes.Repeat([]byte("a"), BufSize+100))
	if got := len(r.take()); got != BufSize+100 {
		t.Errorf("echoed %d", got)
	}
	tt.Input([]byte("\n"))
	if got := strings.Join(readAll(t, tt), ""); len(got) != BufSize || got[BufSize-1] != '\n' {
		t.Errorf("line of %d", len(got))
	}
	// Lines wait in the pending queue while a reader is slow.
	var want []string
	for i := range 2000 {
		line := fmt.Sprintf("line %d\n", i)
		want = append(want, line)
		tt.Input([]byte(line))
	}
	if n := tt.InQueue(); n > BufSize {
		t.Errorf("InQueue %d", n)
	}
	eq(t, "lines", readAll2(t, tt), want)
	// Non-canonical: the buffer holds BufSize-1 bytes, PendMax more wait,
	// the rest is dropped.
	tio := DefaultTermios()
	tio.MakeRaw()
	tt.SetTermios(tio, false)
	tt.Input(bytes.Repeat([]byte("a"), PendMax+100))
	if n := tt.InQueue(); n != BufSize-1 {
		t.Errorf("raw buffer %d", n)
	}
	total := 0
	buf := make([]byte, 1000)
	for {
		n, err := tt.Read(buf)
		if err != nil {
			break
		}
		total += n
	}
	if total != PendMax {
		t.Errorf("read %d bytes, want %d", total, PendMax)
	}
}

// readAll2 reads lines until EAGAIN with a large buffer.
func readAll2(t *testing.T, tt *TTY) []string {
	var out []string
	buf := make([]byte, BufSize)
	for {
		n, err := tt.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}

func TestIoctl(t *testing.T) {
	tt, r := newTest()
	me := Caller{PID: 7, PGID: 7, SID: 7}
	call := func(req uint32, arg uint64, in []byte, c Caller) ([]byte, error) {
		t.Helper()
		spec, ok := IoctlSpec(req)
		if ok && spec.Dir == DirIn && len(in) != spec.Size {
			t.Fatalf("request %#x: %d bytes in, spec %d", req, len(in), spec.Size)
		}
		out, err := tt.Ioctl(req, arg, in, c)
		if ok && spec.Dir == DirOut && err == nil && len(out) != spec.Size {
			t.Fatalf("request %#x: %d bytes out, spec %d", req, len(out), spec.Size)
		}
		return out, err
	}
	i32 := func(v int32) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

	out, err := call(unix.TCGETS, 0, nil, me)
	var tio Termios
	if err != nil || tio.UnmarshalBinary(out) != nil || tio != DefaultTermios() {
		t.Fatalf("TCGETS %+v %v", tio, err)
	}
	tio.MakeRaw()
	in, _ := tio.MarshalBinary()
	if _, err := call(unix.TCSETSW, 0, in, me); err != nil || tt.Termios() != tio {
		t.Fatalf("TCSETSW: %v", err)
	}
	out, _ = call(unix.TCGETS2, 0, nil, me)
	var t2 Termios2
	t2.UnmarshalBinary(out)
	if t2.Ispeed != 38400 || t2.Ospeed != 38400 {
		t.Errorf("speeds %d %d", t2.Ispeed, t2.Ospeed)
	}
	t2.Cflag = t2.Cflag&^unix.CBAUD | unix.BOTHER
	t2.Ispeed, t2.Ospeed = 0, 1234567
	in, _ = t2.MarshalBinary()
	call(unix.TCSETS2, 0, in, me)
	if got := tt.Termios2(); got.Ospeed != 1234567 || got.Ispeed != 1234567 {
		t.Errorf("TCSETS2 speeds %+v", got)
	}
	tio = DefaultTermios()
	tio.Cflag = tio.Cflag&^unix.CBAUD | unix.B115200
	in, _ = tio.MarshalBinary()
	call(unix.TCSETS, 0, in, me)
	if got := tt.Termios2(); got.Ospeed != 115200 || got.Ispeed != 115200 {
		t.Errorf("TCSETS B115200 speeds %+v", got)
	}

	ws, _ := (&WinSize{Row: 30, Col: 100}).MarshalBinary()
	call(unix.TIOCSWINSZ, 0, ws, me)
	if out, _ := call(unix.TIOCGWINSZ, 0, nil, me); !bytes.Equal(out, ws) {
		t.Errorf("TIOCGWINSZ %v", out)
	}
	if s := r.signals(); len(s) != 1 || s[0].sig != unix.SIGWINCH {
		t.Errorf("signals %v", s)
	}

	// Process groups and sessions.
	if out, err := call(unix.TIOCGPGRP, 0, nil, me); err != nil || !bytes.Equal(out, i32(42)) {
		t.Errorf("TIOCGPGRP %v %v", out, err)
	}
	if out, err := call(unix.TIOCGSID, 0, nil, me); err != nil || !bytes.Equal(out, i32(7)) {
		t.Errorf("TIOCGSID %v %v", out, err)
	}
	other := Caller{PID: 9, PGID: 9, SID: 9}
	if _, err := call(unix.TIOCGPGRP, 0, nil, other); err != unix.ENOTTY {
		t.Errorf("TIOCGPGRP from another session: %v", err)
	}
	lookup := func(pgid int32) (int32, bool) {
		switch pgid {
		case 8:
			return 7, true
		case 9:
			return 9, true
		}
		return 0, false
	}
	me.PgrpSession = lookup
	if _, err := call(unix.TIOCSPGRP, 0, i32(8), me); err != nil || tt.ForegroundPgrp() != 8 {
		t.Errorf("TIOCSPGRP 8: %v", err)
	}
	for pg, want := range map[int32]error{9: unix.EPERM, 10: unix.ESRCH, -1: unix.EINVAL} {
		if _, err := call(unix.TIOCSPGRP, 0, i32(pg), me); err != want {
			t.Errorf("TIOCSPGRP %d: %v, want %v", pg, err, want)
		}
	}
	if _, err := call(unix.TIOCSCTTY, 0, nil, other); err != unix.EPERM {
		t.Errorf("TIOCSCTTY stealing: %v", err)
	}
	if _, err := call(unix.TIOCSCTTY, 0, nil, Caller{PID: 10, PGID: 9, SID: 9}); err != unix.EPERM {
		t.Errorf("TIOCSCTTY by a non-leader: %v", err)
	}
	other.Admin = true
	if _, err := call(unix.TIOCSCTTY, 1, nil, other); err != nil || tt.Session() != 9 || tt.ForegroundPgrp() != 9 {
		t.Errorf("TIOCSCTTY forced: %v sid %d", err, tt.Session())
	}
	if _, err := call(unix.TIOCNOTTY, 0, nil, me); err != unix.ENOTTY {
		t.Errorf("TIOCNOTTY not ours: %v", err)
	}
	if _, err := call(unix.TIOCNOTTY, 0, nil, other); err != nil || tt.Session() != 0 {
		t.Errorf("TIOCNOTTY: %v sid %d", err, tt.Session())
	}
	if _, err := call(unix.TIOCSCTTY, 0, nil, me); err != nil || tt.Session() != 7 || tt.ForegroundPgrp() != 7 {
		t.Errorf("TIOCSCTTY: %v", err)
	}

	// Queues.
	tt.Input([]byte("abc\nde"))
	if out, _ := call(unix.TIOCINQ, 0, nil, me); !bytes.Equal(out, i32(4)) {
		t.Errorf("FIONREAD %v", out)
	}
	if out, _ := call(unix.TIOCOUTQ, 0, nil, me); !bytes.Equal(out, i32(0)) {
		t.Errorf("TIOCOUTQ %v", out)
	}
	if _, err := call(unix.TCFLSH, unix.TCIFLUSH, nil, me); err != nil || tt.InQueue() != 0 {
		t.Errorf("TCFLSH: %v", err)
	}
	if _, err := call(unix.TCFLSH, 7, nil, me); err != unix.EINVAL {
		t.Errorf("TCFLSH 7: %v", err)
	}
	if out, _ := call(unix.TIOCGETD, 0, nil, me); !bytes.Equal(out, i32(0)) {
		t.Errorf("TIOCGETD %v", out)
	}
	if _, err := call(unix.TIOCSETD, 0, i32(2), me); err != unix.EINVAL {
		t.Errorf("TIOCSETD 2: %v", err)
	}
	call(unix.TIOCEXCL, 0, nil, me)
	if out, _ := call(unix.TIOCGEXCL, 0, nil, me); !tt.Exclusive() || !bytes.Equal(out, i32(1)) {
		t.Error("TIOCEXCL")
	}
	if _, err := call(unix.TIOCSTI, 0, []byte("x"), me); err != unix.EIO {
		t.Errorf("TIOCSTI unprivileged: %v", err)
	}
	if _, err := call(unix.TCSBRK, 1, nil, me); err != nil {
		t.Errorf("TCSBRK: %v", err)
	}

	// Unknown requests.
	for _, req := range []uint32{unix.TCGETA, unix.TIOCGPTN, 0x1234, 0x5421 /* FIONBIO */} {
		if _, ok := IoctlSpec(req); ok {
			t.Errorf("IoctlSpec(%#x) ok", req)
		}
		if _, err := tt.Ioctl(req, 0, nil, me); err != unix.ENOTTY {
			t.Errorf("request %#x: %v", req, err)
		}
	}
	if _, err := tt.Ioctl(unix.TCSETS, 0, make([]byte, 10), me); !errors.Is(err, unix.EFAULT) {
		t.Errorf("short TCSETS: %v", err)
	}
}

// TestRace runs Input, Read, Write, settings and readiness queries
// concurrently (go test -race), checking that no input byte is lost or
// duplicated.
func TestRace(t *testing.T) {
	r := &recorder{}
	var notes atomic.Int64
	tt := New(Config{Output: r, OnReady: func() { notes.Add(1) }})
	tio := DefaultTermios()
	tio.Lflag &^= unix.ECHO
	tt.SetTermios(tio, false)
	const lines = 2000
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { // the hardware
		defer wg.Done()
		for i := range lines {
			tt.Input([]byte{'a' + byte(i%26), 'x', '\r'})
		}
	}()
	go func() { // a program writing
		defer wg.Done()
		for range 500 {
			if _, err := tt.Write([]byte("out\n")); err != nil && err != unix.EAGAIN {
				t.Error(err)
			}
		}
	}()
	go func() { // ioctls
		defer wg.Done()
		for range 500 {
			tt.WinSize()
			tt.SetWinSize(WinSize{Row: 24, Col: 80})
			tt.Readable()
			tt.Writable()
			tt.InQueue()
			tt.OutQueue()
		}
	}()
	got := 0
	go func() { // the reader
		defer wg.Done()
		buf := make([]byte, 64)
		for got < lines {
			n, err := waitRead(tt, buf)
			if err != nil {
				t.Error(err)
				return
			}
			if n != 3 || buf[1] != 'x' || buf[2] != '\n' || buf[0] != 'a'+byte(got%26) {
				t.Errorf("line %d: %q", got, buf[:n])
				return
			}
			got++
		}
	}()
	wg.Wait()
	if out := r.take(); len(out) != 500*5 {
		t.Errorf("%d bytes of output", len(out))
	}
	if notes.Load() == 0 {
		t.Error("OnReady never called")
	}
}
