package tty

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// NCCS is the number of control characters in the kernel's struct termios
// (include/uapi/asm-generic/termbits.h). glibc's and musl's user-space
// struct termios has 32; their tcgetattr and tcsetattr convert.
const NCCS = 19

// Sizes of the structures the terminal ioctls copy to and from user memory
// on x86-64.
const (
	// TermiosSize is the size of struct termios as TCGETS, TCSETS,
	// TCSETSW and TCSETSF copy it: c_iflag, c_oflag, c_cflag, c_lflag
	// (4 bytes each), c_line (1), c_cc[19]. No speeds, no padding.
	TermiosSize = 36
	// Termios2Size is the size of struct termios2 (TCGETS2, TCSETS2,
	// TCSETSW2, TCSETSF2): struct termios followed by c_ispeed and
	// c_ospeed (4 bytes each). golang.org/x/sys/unix.Termios has this
	// layout even though x/sys uses it with TCGETS (the kernel then writes
	// only the first 36 bytes).
	Termios2Size = 44
	// WinSizeSize is the size of struct winsize (TIOCGWINSZ, TIOCSWINSZ).
	WinSizeSize = 8
)

// Indices in Termios.Cc (asm-generic/termbits.h; x86-64 uses these).
const (
	VINTR    = 0
	VQUIT    = 1
	VERASE   = 2
	VKILL    = 3
	VEOF     = 4
	VTIME    = 5
	VMIN     = 6
	VSWTC    = 7
	VSTART   = 8
	VSTOP    = 9
	VSUSP    = 10
	VEOL     = 11
	VREPRINT = 12
	VDISCARD = 13
	VWERASE  = 14
	VLNEXT   = 15
	VEOL2    = 16
)

// Termios is the kernel's struct termios (36 bytes, see TermiosSize). The
// flag bits are the golang.org/x/sys/unix constants (unix.ICRNL, ...). A
// control character of 0 is disabled (_POSIX_VDISABLE).
type Termios struct {
	Iflag uint32
	Oflag uint32
	Cflag uint32
	Lflag uint32
	Line  uint8
	Cc    [NCCS]uint8
}

// Termios2 is struct termios2 (44 bytes): Termios and the input and output
// speeds in bits per second, used when Cflag&CBAUD is BOTHER.
type Termios2 struct {
	Termios
	Ispeed uint32
	Ospeed uint32
}

// WinSize is struct winsize.
type WinSize struct {
	Row    uint16
	Col    uint16
	Xpixel uint16
	Ypixel uint16
}

// DefaultTermios returns the settings of a freshly opened Linux terminal
// (tty_std_termios): ICRNL|IXON; OPOST|ONLCR; B38400|CS8|CREAD|HUPCL;
// ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN; ^C ^\ DEL ^U ^D,
// VTIME 0, VMIN 1, ^Q ^S ^Z, ^R ^O ^W ^V.
func DefaultTermios() Termios {
	t := Termios{
		Iflag: unix.ICRNL | unix.IXON,
		Oflag: unix.OPOST | unix.ONLCR,
		Cflag: unix.B38400 | unix.CS8 | unix.CREAD | unix.HUPCL,
		Lflag: unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK |
			unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
	}
	copy(t.Cc[:], "\003\034\177\025\004\000\001\000\021\023\032\000\022\017\027\026\000")
	return t
}

// MakeRaw changes t as cfmakeraw(3) does: no input processing, no output
// processing, no echo, no signals, non-canonical with VMIN 1 and VTIME 0,
// 8-bit characters.
func (t *Termios) MakeRaw() {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[VMIN] = 1
	t.Cc[VTIME] = 0
}

// MarshalBinary returns the 36-byte kernel layout.
func (t *Termios) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(make([]byte, 0, TermiosSize))
}

// AppendBinary appends the 36-byte kernel layout to b.
func (t *Termios) AppendBinary(b []byte) ([]byte, error) {
	le := binary.LittleEndian
	b = le.AppendUint32(b, t.Iflag)
	b = le.AppendUint32(b, t.Oflag)
	b = le.AppendUint32(b, t.Cflag)
	b = le.AppendUint32(b, t.Lflag)
	b = append(b, t.Line)
	return append(b, t.Cc[:]...), nil
}

// UnmarshalBinary decodes the 36-byte kernel layout (EINVAL if b is
// shorter; extra bytes are ignored, as the kernel ignores glibc's).
func (t *Termios) UnmarshalBinary(b []byte) error {
	if len(b) < TermiosSize {
		return syscall.EINVAL
	}
	le := binary.LittleEndian
	t.Iflag = le.Uint32(b[0:])
	t.Oflag = le.Uint32(b[4:])
	t.Cflag = le.Uint32(b[8:])
	t.Lflag = le.Uint32(b[12:])
	t.Line = b[16]
	copy(t.Cc[:], b[17:TermiosSize])
	return nil
}

// MarshalBinary returns the 44-byte kernel layout.
func (t *Termios2) MarshalBinary() ([]byte, error) {
	b, _ := t.Termios.AppendBinary(make([]byte, 0, Termios2Size))
	b = binary.LittleEndian.AppendUint32(b, t.Ispeed)
	return binary.LittleEndian.AppendUint32(b, t.Ospeed), nil
}

// UnmarshalBinary decodes the 44-byte kernel layout (EINVAL if shorter).
func (t *Termios2) UnmarshalBinary(b []byte) error {
	if len(b) < Termios2Size {
		return syscall.EINVAL
	}
	if err := t.Termios.UnmarshalBinary(b); err != nil {
		return err
	}
	t.Ispeed = binary.LittleEndian.Uint32(b[36:])
	t.Ospeed = binary.LittleEndian.Uint32(b[40:])
	return nil
}

// MarshalBinary returns the 8-byte struct winsize.
func (w *WinSize) MarshalBinary() ([]byte, error) {
	b := make([]byte, WinSizeSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], w.Row)
	le.PutUint16(b[2:], w.Col)
	le.PutUint16(b[4:], w.Xpixel)
	le.PutUint16(b[6:], w.Ypixel)
	return b, nil
}

// UnmarshalBinary decodes struct winsize (EINVAL if b is shorter than 8).
func (w *WinSize) UnmarshalBinary(b []byte) error {
	if len(b) < WinSizeSize {
		return syscall.EINVAL
	}
	le := binary.LittleEndian
	*w = WinSize{Row: le.Uint16(b[0:]), Col: le.Uint16(b[2:]), Xpixel: le.Uint16(b[4:]), Ypixel: le.Uint16(b[6:])}
	return nil
}

// baudRates maps the CBAUD codes B0..B38400 and, with CBAUDEX, B57600..
// B4000000 to bits per second.
var baudRates = [...]uint32{0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400}
var baudRatesEx = [...]uint32{0, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000,
	1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000}

// baud returns the speed of a CBAUD code; ok is false for BOTHER (the
// speed is then in c_ispeed/c_ospeed).
func baud(code uint32) (speed uint32, ok bool) {
	code &= unix.CBAUD
	if code&unix.CBAUDEX == 0 {
		return baudRates[code], true
	}
	if code == unix.BOTHER {
		return 0, false
	}
	return baudRatesEx[code&^unix.CBAUDEX], true
}
