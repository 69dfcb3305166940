package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair, or skips the test.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func termios(t *testing.T, f *os.File) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

// TestRawModeRestored boots on a pseudo-terminal: the terminal is raw (but
// keeps output processing) while the machine runs and is restored after
// Ctrl-A x and after a timeout.
func TestRawModeRestored(t *testing.T) {
	kernel := setup(t, "print up\nhang\n")
	master, slave := openPTY(t)
	before := termios(t, slave)
	if before.Lflag&unix.ICANON == 0 {
		t.Skip("pseudo-terminal does not start in canonical mode")
	}
	for _, quit := range []string{"ctrl-a x", "timeout"} {
		inv := &invocation{}
		e := &env{stdin: slave, stdout: &inv.stdout, stderr: &inv.stderr, executable: os.Executable}
		args := []string{"boot", "--accel", "tcg", "--kernel", kernel}
		if quit == "timeout" {
			args = append(args, "--timeout", "1s")
		}
		done := make(chan int)
		go func() { done <- run(context.Background(), args, e) }()
		inv.stdout.waitFor(t, "up\n")
		raw := termios(t, slave)
		if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || raw.Oflag&unix.OPOST == 0 {
			t.Errorf("%s: terminal not raw with output processing: lflag %#x oflag %#x", quit, raw.Lflag, raw.Oflag)
		}
		if quit == "ctrl-a x" {
			master.Write([]byte("\x01x"))
		}
		select {
		case inv.code = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: dunix did not return", quit)
		}
		inv.expect(t, exitNoStatus, nil, []string{"Ctrl-A x quits"})
		after := termios(t, slave)
		if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag || after.Cflag != before.Cflag {
			t.Errorf("%s: terminal not restored: %+v, want %+v", quit, after, before)
		}
	}
}
