package tty

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file compares the TTY with the host's Linux line discipline: the
// same settings and keystrokes go to a pseudo-terminal and to a TTY, and
// what is echoed, read and written must be the same.

// pty is a host pseudo-terminal, both ends non-blocking.
type pty struct {
	master, slave int
}

func openPty(t *testing.T) *pty {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		unix.Close(m)
		t.Skipf("ptsname: %v", err)
	}
	s, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(m)
		t.Skipf("open pts: %v", err)
	}
	p := &pty{m, s}
	t.Cleanup(func() { unix.Close(p.slave); unix.Close(p.master) })
	return p
}

func (p *pty) setTermios(t *testing.T, tio Termios) {
	t.Helper()
	x := &unix.Termios{Iflag: tio.Iflag, Oflag: tio.Oflag, Cflag: tio.Cflag, Lflag: tio.Lflag, Line: tio.Line, Cc: tio.Cc}
	if err := unix.IoctlSetTermios(p.slave, unix.TCSETS, x); err != nil {
		t.Fatal(err)
	}
}

// drainMaster reads what the slave side transmitted until it has been
// quiet for a while.
func (p *pty) drainMaster() string {
	var out []byte
	buf := make([]byte, 8192)
	quiet := 0
	for quiet < 3 {
		n, err := unix.Read(p.master, buf)
		if n > 0 {
			out = append(out, buf[:n]...)
			quiet = 0
			continue
		}
		if err != nil && err != unix.EAGAIN {
			break
		}
		quiet++
		time.Sleep(15 * time.Millisecond)
	}
	return string(out)
}

// step is one action of a scenario: "in:..." types characters, "read"
// reads (256 bytes, O_NONBLOCK), "write:..." writes from the program side,
// "set:name" installs settings.
type scenario struct {
	name  string
	tio   func(*Termios)
	steps []string
}

var rawTio = func(t *Termios) { t.MakeRaw() }

var scenarios = []scenario{
	{"edit", nil, []string{"in:hellp\x7fo world\r", "read", "read"}},
	{"kill werase reprint", nil, []string{"in:abc\x15xy foo_1 bar\x17\x17z\x12\n", "read",
		"in:   \x17\x12\x15x\n", "read"}},
	{"lnext", nil, []string{"in:\x16\x03\x16\x7f\x16\x16\n", "read"}},
	{"control erase", nil, []string{"in:a\x01\x7f\x7f\x7fb\n", "read", "in:\x7f\x7f\x15\x17\n", "read"}},
	{"tab erase", nil, []string{"write:$ ", "in:ab\t\x7fc\n", "read", "in:\tx\t\x7f\x7f\x7fy\n", "read",
		"write:abc", "in:a\x02\tq\x7f\x7f\x7f\n", "read", "in:1234567\t\x7f8\n", "read"}},
	{"signals", nil, []string{"in:partial", "in:\x03", "read", "in:line\n", "in:\x1c", "read", "in:x", "in:\x1a", "read"}},
	{"eof", nil, []string{"in:\x04", "read", "read", "in:abc\x04", "read", "read", "in:abc\n\x04", "read", "read", "read"}},
	{"no echoe", func(t *Termios) { t.Lflag &^= unix.ECHOE }, []string{"in:ab\x7fcd\x15e\n", "read", "in:ab\x17\n", "read"}},
	{"no echoke", func(t *Termios) { t.Lflag &^= unix.ECHOKE }, []string{"in:ab\x7fcd\x15e\n", "read"}},
	{"no echok echoke", func(t *Termios) { t.Lflag &^= unix.ECHOKE | unix.ECHOK }, []string{"in:ab\x7fcd\x15e\n", "read"}},
	{"no echoctl", func(t *Termios) { t.Lflag &^= unix.ECHOCTL }, []string{"in:a\x01\x7f\x7fb", "in:\x03", "in:x\x1b\n", "read"}},
	{"echonl", func(t *Termios) { t.Lflag = t.Lflag&^unix.ECHO | unix.ECHONL }, []string{"in:secret\x7f\n", "read"}},
	{"no echo", func(t *Termios) { t.Lflag &^= unix.ECHO }, []string{"in:secret\x7f\x15", "in:\x03\n", "read"}},
	{"iutf8", func(t *Termios) { t.Iflag |= unix.IUTF8 }, []string{"in:aé€\x7f\x7fb\n", "read", "in:é\t\x7f\x7fx\n", "read"}},
	{"no iutf8", nil, []string{"in:aé\x7f\x7fb\n", "read"}},
	{"raw", rawTio, []string{"in:\x00\x01\x03\x04\x0a\x0d\x11\x13\x1a\x1c\x7f\x80\xfe\xff", "read", "read",
		"write:a\nb\r\n", "in:xyz", "read"}},
	{"noncanonical echo", func(t *Termios) { t.Lflag &^= unix.ICANON }, []string{"in:a\rb\x7f\x1b[A\t\x15\x04", "read"}},
	{"inlcr", func(t *Termios) { t.Iflag = unix.INLCR }, []string{"in:a\rb\nc\r", "read", "in:\n", "read"}},
	{"igncr", func(t *Termios) { t.Iflag = unix.IGNCR | unix.ICRNL }, []string{"in:a\r\nb\r\r\n", "read", "read"}},
	{"icrnl off", func(t *Termios) { t.Iflag = 0 }, []string{"in:a\rb\n", "read", "read"}},
	{"istrip iuclc", func(t *Termios) { t.Iflag |= unix.ISTRIP | unix.IUCLC }, []string{"in:\xc1Bc\x8a", "read"}},
	{"onlcr", nil, []string{"write:a\nb\r\n\tc\bd\n"}},
	{"ocrnl onlret", func(t *Termios) { t.Oflag = unix.OPOST | unix.OCRNL | unix.ONLRET }, []string{"write:ab\rcd\n\tx\n\t"}},
	{"onocr", func(t *Termios) { t.Oflag = unix.OPOST | unix.ONOCR | unix.ONLCR }, []string{"write:\rab\r\r\ncd\n\r"}},
	{"olcuc", func(t *Termios) { t.Oflag |= unix.OLCUC }, []string{"write:abC1\n", "in:xy\n", "read"}},
	{"xtabs", func(t *Termios) { t.Oflag |= unix.XTABS }, []string{"write:\tab\tc\n\tabcdefgh\tx", "in:a\t\x7fb\n", "read"}},
	{"no opost", func(t *Termios) { t.Oflag = unix.ONLCR | unix.OCRNL }, []string{"write:a\rb\n\tc", "in:xy\n", "read"}},
	{"veol", func(t *Termios) { t.Cc[VEOL], t.Cc[VEOL2] = ';', '|' }, []string{"in:a;b|c\n", "read", "read", "read"}},
	{"veol2 without iexten", func(t *Termios) {
		t.Cc[VEOL2] = '|'
		t.Lflag &^= unix.IEXTEN
	}, []string{"in:a|b\x17\x16\x12c\n", "read"}},
	{"parmrk", func(t *Termios) { t.MakeRaw(); t.Iflag |= unix.PARMRK }, []string{"in:a\xffb", "read"}},
	{"to raw", nil, []string{"in:done\npart", "set:raw", "read", "read"}},
	{"to raw with eof", nil, []string{"in:ab\x04\x04cd", "set:raw", "read", "read"}},
	{"slow reader", nil, []string{"in:" + strings.Repeat("0123456789abcdef\n", 300), "read", "read", "read"}},
	{"full raw", rawTio, []string{"in:" + strings.Repeat("x", 5000), "read", "read", "read"}},
	{"to canonical", rawTio, []string{"in:xy", "set:default", "read", "read", "in:z\n", "read"}},
	{"vmin", func(t *Termios) { t.MakeRaw(); t.Cc[VMIN] = 3 }, []string{"in:ab", "read", "read", "in:cdef", "read"}},
	{"poll", func(t *Termios) { t.MakeRaw(); t.Cc[VMIN] = 0 }, []string{"read", "in:ab", "read", "read"}},
	{"long line", nil, []string{"in:" + strings.Repeat("a", 5000), "in:\x7f\x7fb\n", "read", "read"}},
	{"long raw", rawTio, []string{"in:" + strings.Repeat("x", 3000), "read"}},
	{"echo prompt", nil, []string{"write:prompt> ", "in:ls -l\x17\x17cat\t\x7f\x7f\n", "read"}},
}

// runScenario performs a scenario on one side and returns a transcript:
// the results of reads and writes, then all that was transmitted. (When
// Linux transmits echoes varies, so they are compared as a whole; a signal
// character discards echoes Linux has not transmitted yet, so scenarios
// type signal characters on their own — see TTY.isig.)
func runScenario(t *testing.T, sc scenario, in func(string), read func() string, write func(string) string,
	set func(Termios), echo func() string) string {
	var b strings.Builder
	var echoes strings.Builder
	for _, s := range sc.steps {
		switch {
		case strings.HasPrefix(s, "in:"):
			in(s[3:])
		case s == "read":
			fmt.Fprintf(&b, "read %s\n", read())
		case strings.HasPrefix(s, "write:"):
			fmt.Fprintf(&b, "write %s\n", write(s[6:]))
		case strings.HasPrefix(s, "set:"):
			tio := DefaultTermios()
			if s == "set:raw" {
				tio.MakeRaw()
			}
			set(tio)
		}
		echoes.WriteString(echo())
	}
	echoes.WriteString(echo())
	fmt.Fprintf(&b, "transmitted %q\n", echoes.String())
	return b.String()
}

func TestMatchesLinux(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds of waiting for the host's line discipline")
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			tio := DefaultTermios()
			if sc.tio != nil {
				sc.tio(&tio)
			}
			p := openPty(t)
			p.setTermios(t, tio)
			linux := runScenario(t, sc,
				func(s string) {
					if _, err := unix.Write(p.master, []byte(s)); err != nil {
						t.Fatal(err)
					}
				},
				func() string {
					buf := make([]byte, 256)
					for i := 0; ; i++ {
						time.Sleep(20 * time.Millisecond)
						n, err := unix.Read(p.slave, buf)
						if err == unix.EAGAIN && i < 5 {
							continue // input may still be in flight
						}
						if err != nil {
							return err.Error()
						}
						return fmt.Sprintf("%q", buf[:n])
					}
				},
				func(s string) string {
					n, err := unix.Write(p.slave, []byte(s))
					return fmt.Sprint(n, err)
				},
				func(tio Termios) { p.setTermios(t, tio) },
				p.drainMaster)

			tt, r := newTest()
			tt.SetTermios(tio, false)
			ours := runScenario(t, sc,
				func(s string) { tt.Input([]byte(s)) },
				func() string {
					buf := make([]byte, 256)
					n, err := tt.ReadNonblock(buf)
					if err != nil {
						return err.Error()
					}
					return fmt.Sprintf("%q", buf[:n])
				},
				func(s string) string {
					n, err := tt.Write([]byte(s))
					return fmt.Sprint(n, err)
				},
				func(tio Termios) { tt.SetTermios(tio, false) },
				r.take)
			if linux != ours {
				i := 0
				for i < len(linux) && i < len(ours) && linux[i] == ours[i] {
					i++
				}
				from := max(0, i-60)
				t.Errorf("transcripts differ at byte %d (Linux %d bytes, ours %d):\nLinux: ...%s\nours:  ...%s",
					i, len(linux), len(ours), linux[from:min(len(linux), i+200)], ours[from:min(len(ours), i+200)])
			}
		})
	}
}

// TestTermiosLayout checks with the host kernel how many bytes TCGETS and
// TCGETS2 write, and that a pseudo-terminal starts with DefaultTermios
// (except HUPCL, which the pty driver leaves out).
func TestTermiosLayout(t *testing.T) {
	p := openPty(t)
	for _, tc := range []struct {
		req  uint
		size int
	}{{unix.TCGETS, TermiosSize}, {unix.TCGETS2, Termios2Size}} {
		buf := make([]byte, 64)
		for i := range buf {
			buf[i] = 0xaa
		}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(p.slave), uintptr(tc.req), uintptr(unsafe.Pointer(&buf[0]))); e != 0 {
			t.Fatal(e)
		}
		n := len(buf)
		for n > 0 && buf[n-1] == 0xaa {
			n--
		}
		if n > tc.size || buf[tc.size] != 0xaa {
			t.Errorf("request %#x wrote %d bytes, want %d", tc.req, n, tc.size)
		}
		var tio Termios
		tio.UnmarshalBinary(buf)
		want := DefaultTermios()
		want.Cflag &^= unix.HUPCL
		if tio != want {
			t.Errorf("pty default %+v, want %+v", tio, want)
		}
	}
}
