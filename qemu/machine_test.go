package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dunix/qemu/qemutest"
)

// fakeConfig returns a TCG config that boots script on the fake QEMU.
func fakeConfig(t *testing.T, script string) Config {
	return Config{QEMU: qemutest.FakeQEMU(t), Kernel: qemutest.Kernel(t, script), Accel: AccelTCG}
}

// lineLog collects OnLine calls.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	ats   []time.Duration
	seen  chan string
}

func newLineLog() *lineLog { return &lineLog{seen: make(chan string, 100)} }

func (l *lineLog) on(at time.Duration, line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.ats = append(l.ats, at)
	l.mu.Unlock()
	l.seen <- line
}

// waitFor waits for a console line equal to want.
func (l *lineLog) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line := <-l.seen:
			if line == want {
				return
			}
		case <-timeout:
			t.Fatalf("no console line %q", want)
		}
	}
}

// run boots cfg and waits for it.
func run(t *testing.T, cfg Config, opts Options) (Result, error) {
	t.Helper()
	m, err := Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return m.Wait()
}

func TestStatusLineAndTimings(t *testing.T) {
	cfg := fakeConfig(t, `
sleep 150ms
write "hel"
sleep 100ms
print lo
cmdline
sleep 150ms
write "dunix: ready (1 CPU)\r\n"
sleep 100ms
print dunix: power-off status=3
exit 7
`)
	cfg.Cmdline = "x=1  y"
	var out bytes.Buffer
	log := newLineLog()
	res, err := run(t, cfg, Options{Stdout: &out, OnLine: log.on})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if res.Status != 3 || res.Source != StatusFromLine || res.ExitCode != 7 || res.ExitStatus() != 3 {
		t.Errorf("status %d from %v, exit code %d; want 3 from the line, 7", res.Status, res.Source, res.ExitCode)
	}
	wantOut := "hello\ncmdline: x=1  y\ndunix: ready (1 CPU)\r\ndunix: power-off status=3\n"
	if out.String() != wantOut {
		t.Errorf("console output %q, want %q", out.String(), wantOut)
	}
	wantLines := []string{"hello", "cmdline: x=1  y", "dunix: ready (1 CPU)", "dunix: power-off status=3"}
	if strings.Join(log.lines, "|") != strings.Join(wantLines, "|") {
		t.Errorf("lines %q, want %q", log.lines, wantLines)
	}
	if res.Lines != 4 {
		t.Errorf("Lines = %d", res.Lines)
	}
	ms := time.Millisecond
	if !(res.FirstByte >= 150*ms && res.FirstLine >= 250*ms && res.FirstLine > res.FirstByte+50*ms &&
		res.Ready >= 400*ms && res.Ready > res.FirstLine && res.Exit >= res.Ready+100*ms) {
		t.Errorf("timings: first byte %v, first line %v, ready %v, exit %v", res.FirstByte, res.FirstLine, res.Ready, res.Exit)
	}
	if log.ats[2] != res.Ready || log.ats[0] != res.FirstLine {
		t.Errorf("OnLine times %v do not match the result's", log.ats)
	}
	if res.Accel != AccelTCG || res.Args[0] != cfg.QEMU || !strings.Contains(strings.Join(res.Args, " "), "-append x=1  y") {
		t.Errorf("Accel %q, Args %q", res.Accel, res.Args)
	}
}

func TestStatusFromExitCode(t *testing.T) {
	res, err := Run(context.Background(), fakeConfig(t, "print dunix: ready\nexit 9\n"), Options{})
	if err != nil || res.Status != 4 || res.Source != StatusFromExit || res.ExitStatus() != 4 {
		t.Errorf("got %d from %v (err %v); want 4 from the exit code", res.Status, res.Source, err)
	}
	if res.Ready == 0 {
		t.Error("ready line not seen")
	}
}

func TestNoStatus(t *testing.T) {
	for _, script := range []string{"print booting\n", "print booting\nexit 0\n", "print booting\nexit 4\n"} {
		res, err := run(t, fakeConfig(t, script), Options{})
		if err != nil || res.Source != StatusMissing || res.ExitStatus() != NoStatus {
			t.Errorf("%q: got %d from %v (err %v); want no status", script, res.Status, res.Source, err)
		}
		if !strings.Contains(res.Explain(), "without an exit status") {
			t.Errorf("%q: Explain() = %q", script, res.Explain())
		}
		if res.Ready != 0 {
			t.Errorf("%q: Ready = %v without a ready line", script, res.Ready)
		}
	}
}

func TestQEMUError(t *testing.T) {
	cfg := fakeConfig(t, "stderr qemu-system-x86_64: -M foo: unsupported machine type\nexit 1\n")
	var stderr bytes.Buffer
	res, err := run(t, cfg, Options{Stderr: &stderr})
	var qe *QEMUError
	if !errors.As(err, &qe) || qe.ExitCode != 1 || !strings.Contains(err.Error(), "unsupported machine type") {
		t.Fatalf("Wait error = %v, want a QEMUError", err)
	}
	if res.Source != StatusMissing {
		t.Errorf("QEMU's own exit code 1 taken as status %d", res.Status)
	}
	if !strings.Contains(stderr.String(), "unsupported") || !strings.Contains(res.Stderr, "unsupported") {
		t.Errorf("stderr not passed on: %q / %q", stderr.String(), res.Stderr)
	}
	// A kernel that printed something and exited 0 via the port is not a
	// QEMU failure, even with warnings on stderr.
	res, err = run(t, fakeConfig(t, "stderr qemu-system-x86_64: warning: something\nprint hi\nexit 1\n"), Options{})
	if err != nil || res.Source != StatusFromExit || res.Status != 0 {
		t.Errorf("got %d from %v, err %v; want 0 from the exit code", res.Status, res.Source, err)
	}
}

func TestStartErrors(t *testing.T) {
	cfg := fakeConfig(t, "exit 1\n")
	bad := cfg
	bad.QEMU = "/nonexistent/qemu"
	if _, err := Start(context.Background(), bad, Options{}); err == nil {
		t.Error("Start with a missing QEMU succeeded")
	}
	bad = cfg
	bad.Kernel = "/nonexistent/kernel"
	if _, err := Start(context.Background(), bad, Options{}); err == nil || !strings.Contains(err.Error(), "kernel") {
		t.Errorf("Start with a missing kernel: %v", err)
	}
	bad = cfg
	bad.Machine = "pc"
	if _, err := Start(context.Background(), bad, Options{}); err == nil {
		t.Error("Start with a bad machine succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, cfg, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a done context: %v", err)
	}
}

func TestConsoleInputAndEscape(t *testing.T) {
	cfg := fakeConfig(t, "readline\necho\nprint done\nexit 1\n")
	inR, inW := io.Pipe()
	var out bytes.Buffer
	m, err := Start(context.Background(), cfg, Options{Stdin: inR, Stdout: &out, Escape: EscapeCtrlA})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		inW.Write([]byte("first line\n"))
		inW.Write([]byte("abc\x01\x01de\x01"))
		inW.Write([]byte("zf\x01h\n"))
		inW.Close()
	}()
	res, err := m.Wait()
	if err != nil || res.Status != 0 || res.Source != StatusFromExit {
		t.Errorf("got %d from %v, err %v", res.Status, res.Source, err)
	}
	// The help comes from the escape handler, at once; the rest from the
	// fake kernel's echo.
	got := out.String()
	if strings.Count(got, escapeHelp) != 1 {
		t.Errorf("console output %q lacks the escape help", got)
	}
	want := "got: first line\nabc\x01def\ndone\n"
	if got = strings.Replace(got, escapeHelp, "", 1); got != want {
		t.Errorf("console output %q, want %q", got, want)
	}
}

func TestEscapeQuit(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	cfg := fakeConfig(t, "pidfile "+pidfile+"\nprint up\nhang\n")
	inR, inW := io.Pipe()
	defer inW.Close()
	log := newLineLog()
	m, err := Start(context.Background(), cfg, Options{Stdin: inR, OnLine: log.on, Escape: EscapeCtrlA})
	if err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "up")
	inW.Write([]byte("ab\x01"))
	inW.Write([]byte("x"))
	res, err := m.Wait()
	if !errors.Is(err, ErrQuit) || res.Source != StatusMissing {
		t.Errorf("Wait = %v from %v, err %v; want ErrQuit", res.Status, res.Source, err)
	}
	if pid := qemutest.ReadPid(t, pidfile); qemutest.Alive(pid) {
		t.Errorf("fake QEMU %d still alive after Ctrl-A x", pid)
	}
}

func TestKillLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	pidfile, childfile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
	cfg := fakeConfig(t, fmt.Sprintf("pidfile %s\nspawn %s\nprint up\nhang\n", pidfile, childfile))
	log := newLineLog()
	m, err := Start(context.Background(), cfg, Options{OnLine: log.on})
	if err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "up")
	pid, child := qemutest.ReadPid(t, pidfile), qemutest.ReadPid(t, childfile)
	if pid != m.Pid() || !qemutest.Alive(child) {
		t.Fatalf("pid %d (machine says %d), child %d alive %v", pid, m.Pid(), child, qemutest.Alive(child))
	}
	start := time.Now()
	m.Kill()
	if d := time.Since(start); d > killGrace {
		t.Errorf("Kill took %v", d)
	}
	res, err := m.Wait()
	if !errors.Is(err, ErrKilled) || res.Source != StatusMissing {
		t.Errorf("Wait after Kill = %v, %v", res.Source, err)
	}
	if qemutest.Alive(pid) {
		t.Errorf("fake QEMU %d alive after Kill", pid)
	}
	waitDead(t, child)
	m.Kill() // again: a no-op
}

func TestExitKillsLeftovers(t *testing.T) {
	// QEMU exits by itself but something it started keeps the console
	// open: Wait must kill it and return promptly.
	childfile := filepath.Join(t.TempDir(), "child")
	start := time.Now()
	res, err := run(t, fakeConfig(t, "spawn "+childfile+"\nprint dunix: power-off status=0\nexit 1\n"), Options{})
	if err != nil || res.Source != StatusFromLine || res.Status != 0 {
		t.Errorf("got %d from %v, err %v", res.Status, res.Source, err)
	}
	if d := time.Since(start); d > drainGrace {
		t.Errorf("Wait took %v", d)
	}
	waitDead(t, qemutest.ReadPid(t, childfile))
}

func TestKillEscalates(t *testing.T) {
	defer func(g time.Duration) { killGrace = g }(killGrace)
	killGrace = 200 * time.Millisecond
	pidfile := filepath.Join(t.TempDir(), "pid")
	log := newLineLog()
	m, err := Start(context.Background(), fakeConfig(t, "ignore-sigterm\npidfile "+pidfile+"\nprint up\nhang\n"), Options{OnLine: log.on})
	if err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "up")
	m.Kill()
	res, _ := m.Wait()
	if res.Signal != syscall.SIGKILL || qemutest.Alive(qemutest.ReadPid(t, pidfile)) {
		t.Errorf("QEMU ignoring SIGTERM: signal %v", res.Signal)
	}
}

func TestContextStops(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	m, err := Start(ctx, fakeConfig(t, "pidfile "+pidfile+"\nprint dunix: ready\nhang\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	<-m.Ready()
	res, err := m.Wait()
	if !errors.Is(err, context.DeadlineExceeded) || res.Source != StatusMissing || res.Ready == 0 {
		t.Errorf("Wait after the deadline = %v, %v", res, err)
	}
	// The deadline counts from before Start; res.Exit from QEMU's start,
	// which comes a little later: compare with the test's own clock.
	if d := time.Since(begin); d < 300*time.Millisecond {
		t.Errorf("stopped after %v, before the deadline", d)
	}
	if qemutest.Alive(qemutest.ReadPid(t, pidfile)) {
		t.Error("fake QEMU alive after the deadline")
	}
}

// envHelper makes the test binary a parent that starts a machine, prints
// QEMU's pid and waits to be killed.
const envHelper = "DUNIX_QEMU_TEST_HELPER"

func helperMain() {
	var cfg Config
	cfg.QEMU, cfg.Kernel = os.Getenv(envHelper), os.Getenv(envHelper+"_KERNEL")
	cfg.Accel = AccelTCG
	m, err := Start(context.Background(), cfg, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(m.Pid())
	m.Wait()
	os.Exit(0)
}

func TestParentDeathKillsQEMU(t *testing.T) {
	cfg := fakeConfig(t, "print up\nhang\n")
	exe, _ := os.Executable()
	helper := exec.Command(exe)
	helper.Env = append(os.Environ(), envHelper+"="+cfg.QEMU, envHelper+"_KERNEL="+cfg.Kernel)
	out, _ := helper.StdoutPipe()
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		helper.Process.Kill()
		t.Fatalf("helper said %q", line)
	}
	if !qemutest.Alive(pid) {
		t.Fatal("QEMU not running")
	}
	helper.Process.Kill()
	helper.Wait()
	waitDead(t, pid)
}

// waitDead waits up to 5 s for process pid to be gone.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); qemutest.Alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
	}
}
