package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dunix/qemu"
	"dunix/qemu/qemutest"
)

func TestMain(m *testing.M) {
	qemutest.Main()
	os.Exit(m.Run())
}

// syncBuf is a bytes.Buffer safe for concurrent use.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until s holds want.
func (s *syncBuf) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", want, s.String())
		}
	}
}

// invocation is one in-process run of the dunix command.
type invocation struct {
	stdout, stderr syncBuf
	code           int
}

// setup points dunix at the fake QEMU and an empty cache, and returns the
// path of a fake kernel running script.
func setup(t *testing.T, script string) string {
	t.Setenv(qemu.EnvQEMU, qemutest.FakeQEMU(t))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv(envKernel, "")
	return qemutest.Kernel(t, script)
}

// dunix runs the command line with stdin (nil: empty input).
func dunix(t *testing.T, stdin io.Reader, args ...string) *invocation {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	inv := &invocation{}
	e := &env{stdin: stdin, stdout: &inv.stdout, stderr: &inv.stderr, executable: func() (string, error) {
		return "/nonexistent/bin/dunix", nil
	}}
	inv.code = run(context.Background(), args, e)
	return inv
}

// expect checks an invocation's exit code and that its stdout and stderr
// contain the given strings.
func (inv *invocation) expect(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if inv.code != code {
		t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", inv.code, code, inv.stdout.String(), inv.stderr.String())
	}
	for _, s := range stdout {
		if !strings.Contains(inv.stdout.String(), s) {
			t.Errorf("stdout lacks %q:\n%s", s, inv.stdout.String())
		}
	}
	for _, s := range stderr {
		if !strings.Contains(inv.stderr.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, inv.stderr.String())
		}
	}
}

func TestHelp(t *testing.T) {
	dunix(t, nil, "help").expect(t, 0, []string{"usage: dunix <command>", "  boot ", "  selftest ", "DUNIX_KERNEL", "125"}, nil)
	dunix(t, nil, "--help").expect(t, 0, []string{"usage: dunix <command>"}, nil)
	dunix(t, nil).expect(t, exitUsage, nil, []string{"usage: dunix <command>"})
	for _, args := range [][]string{{"boot", "-h"}, {"help", "boot"}, {"boot", "--help"}} {
		dunix(t, nil, args...).expect(t, 0, []string{"usage: dunix boot [flags] [-- KERNEL-CMDLINE...]", "--mem SIZE", "--accel auto|kvm|tcg", "--machine q35|microvm", "--timeout D", "--kernel PATH", "--cpus N", "Ctrl-A x"}, nil)
	}
	dunix(t, nil, "selftest", "-h").expect(t, 0, []string{"usage: dunix selftest [flags]", "dunix.selftest=1", "(default 10m0s)"}, nil)
	dunix(t, nil, "help", "nope").expect(t, exitUsage, nil, []string{"unknown command"})
	dunix(t, nil, "nope").expect(t, exitUsage, nil, []string{`unknown command "nope"`})
}

func TestUsageErrors(t *testing.T) {
	kernel := setup(t, "exit 1\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"boot", "--bogus"}, "run 'dunix boot -h'"},
		{[]string{"boot", "--mem", "12X"}, `--mem: memory size "12X"`},
		{[]string{"boot", "--cpus", "0"}, "--cpus 0: want at least 1"},
		{[]string{"boot", "--cpus", "1000"}, "1000 CPUs is out of range"},
		{[]string{"boot", "--machine", "pc"}, `unknown machine "pc"`},
		{[]string{"selftest", "--accel", "hvf"}, `unknown accelerator "hvf"`},
		{[]string{"boot", "--timeout", "-1s"}, "--timeout must not be negative"},
	} {
		dunix(t, nil, append(tc.args, "--kernel", kernel)...).expect(t, exitUsage, nil, []string{tc.want})
	}
}

func TestKernelPath(t *testing.T) {
	setup(t, "")
	// Default: next to the dunix binary.
	dunix(t, nil, "boot").expect(t, exitNoStatus, nil, []string{
		"kernel /nonexistent/bin/dunix-kernel-amd64 not found (the default, next to the dunix binary)", "--kernel PATH", "DUNIX_KERNEL"})
	t.Setenv(envKernel, "/nonexistent/k")
	dunix(t, nil, "boot").expect(t, exitNoStatus, nil, []string{"kernel /nonexistent/k not found ($DUNIX_KERNEL)"})
	dunix(t, nil, "boot", "--kernel", "/nonexistent/k2").expect(t, exitNoStatus, nil, []string{"kernel /nonexistent/k2 not found (--kernel)"})

	dir := t.TempDir()
	kernel := qemutest.Kernel(t, "print from the default kernel\nexit 1\n")
	os.Rename(kernel, filepath.Join(dir, kernelName))
	os.WriteFile(filepath.Join(dir, "dunix"), nil, 0o755)
	link := filepath.Join(t.TempDir(), "dunix")
	os.Symlink(filepath.Join(dir, "dunix"), link)
	t.Setenv(envKernel, "")
	e := &env{executable: func() (string, error) { return link, nil }}
	if p, err := (&nodeFlags{}).kernelPath(e); err != nil || p != filepath.Join(dir, kernelName) {
		t.Errorf("kernelPath via a symbolic link to dunix = %q, %v", p, err)
	}
}

func TestQEMUMissing(t *testing.T) {
	kernel := setup(t, "exit 1\n")
	t.Setenv(qemu.EnvQEMU, "")
	t.Setenv("PATH", t.TempDir())
	dunix(t, nil, "boot", "--kernel", kernel).expect(t, exitNoStatus, nil, []string{"sudo apt install qemu-system-x86"})
	t.Setenv(qemu.EnvQEMU, "/nonexistent/qemu")
	dunix(t, nil, "boot", "--kernel", kernel).expect(t, exitNoStatus, nil, []string{"DUNIX_QEMU=/nonexistent/qemu"})
}

func TestBootStatus(t *testing.T) {
	kernel := setup(t, "argsfile ARGS\ncmdline\nprint dunix: ready\nprint dunix: power-off status=3\nexit 7\n")
	args := filepath.Join(t.TempDir(), "args")
	os.WriteFile(kernel, []byte(qemutest.ScriptMagic+strings.Replace(readFile(t, kernel)[len(qemutest.ScriptMagic):], "ARGS", args, 1)), 0o644)
	inv := dunix(t, nil, "boot", "--accel", "tcg", "--mem", "1G", "--cpus", "3", "--machine", "microvm", "--kernel", kernel, "-v", "--", "a=1", "-b")
	inv.expect(t, 3, []string{"cmdline: a=1 -b\ndunix: ready\ndunix: power-off status=3\n"},
		[]string{"dunix: using TCG (requested)\n", "-M microvm,", "-append 'a=1 -b'", "ready "})
	if strings.Contains(inv.stderr.String(), "Ctrl-A") {
		t.Error("console hint printed though stdin is not a terminal")
	}
	got := readFile(t, args)
	for _, want := range []string{"\n-m\n1024M\n", "\n-smp\n3\n", "\n-accel\ntcg,thread=multi\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("QEMU arguments lack %q:\n%s", want, got)
		}
	}
}

func readFile(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestBootStatusFromExitCode(t *testing.T) {
	kernel := setup(t, "print bye\nexit 9\n")
	dunix(t, nil, "boot", "--accel", "tcg", "--kernel", kernel).expect(t, 4, []string{"bye\n"},
		[]string{"dunix: status 4 (from QEMU's exit code 9; the power-off line was not seen)"})
}

func TestBootNoStatus(t *testing.T) {
	kernel := setup(t, "print triple fault ahead\nexit 0\n")
	dunix(t, nil, "boot", "--accel", "tcg", "--kernel", kernel).expect(t, exitNoStatus, nil,
		[]string{"dunix: the machine stopped without an exit status (QEMU exited with code 0: a triple fault"})
}

func TestBootQEMUFails(t *testing.T) {
	kernel := setup(t, "stderr qemu-system-x86_64: -device isa-debug-exit: oops\nexit 1\n")
	dunix(t, nil, "boot", "--accel", "tcg", "--kernel", kernel).expect(t, exitNoStatus, nil,
		[]string{"qemu-system-x86_64: -device isa-debug-exit: oops\n", "failed (exit code 1): -device isa-debug-exit: oops"})
}

func TestBootTimeout(t *testing.T) {
	kernel := setup(t, "print dunix: ready\nhang\n")
	start := time.Now()
	dunix(t, nil, "boot", "--accel", "tcg", "--kernel", kernel, "--timeout", "300ms").expect(t, exitNoStatus,
		[]string{"dunix: ready"}, []string{"dunix: timed out after 300ms; the machine was stopped"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestBootInterrupted(t *testing.T) {
	kernel := setup(t, "print up\nhang\n")
	ctx, cancel := context.WithCancelCause(context.Background())
	inv := &invocation{}
	e := &env{stdin: strings.NewReader(""), stdout: &inv.stdout, stderr: &inv.stderr, executable: os.Executable}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"boot", "--accel", "tcg", "--kernel", kernel}, e) }()
	inv.stdout.waitFor(t, "up\n")
	cancel(errSignal{os.Interrupt})
	inv.code = <-done
	inv.expect(t, exitNoStatus, nil, []string{"dunix: interrupted by SIGINT; the machine was stopped"})
}

func TestBootConsoleInput(t *testing.T) {
	kernel := setup(t, "readline\necho\nprint dunix: power-off status=0\nexit 1\n")
	dunix(t, strings.NewReader("hello\nabc\x01\x01d"), "boot", "--accel", "tcg", "--kernel", kernel).
		expect(t, 0, []string{"got: hello\nabc\x01d" + "dunix: power-off status=0\n"}, nil)
}

func TestBootCtrlAX(t *testing.T) {
	kernel := setup(t, "print up\nhang\n")
	inR, inW := io.Pipe()
	defer inW.Close()
	inv := &invocation{}
	e := &env{stdin: inR, stdout: &inv.stdout, stderr: &inv.stderr, executable: os.Executable}
	done := make(chan int)
	go func() { done <- run(context.Background(), []string{"boot", "--accel", "tcg", "--kernel", kernel}, e) }()
	inv.stdout.waitFor(t, "up\n")
	inW.Write([]byte("\x01"))
	inW.Write([]byte("x"))
	select {
	case inv.code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-A x did not stop the machine")
	}
	inv.expect(t, exitNoStatus, nil, []string{"dunix: quit (Ctrl-A x); the machine was stopped"})
}

func TestBootAuto(t *testing.T) {
	kernel := setup(t, `
[dunix.probe=1] print dunix: probe ok
[dunix.probe=1] print dunix: power-off status=0
[dunix.probe=1] exit 1
print dunix: power-off status=0
exit 1
`)
	// KVM or not, depending on the host: either way dunix says which.
	inv := dunix(t, nil, "boot", "--kernel", kernel)
	inv.expect(t, 0, nil, nil)
	if !strings.Contains(inv.stderr.String(), "dunix: using KVM") && !strings.Contains(inv.stderr.String(), "; using TCG\n") {
		t.Errorf("stderr does not say which accelerator: %q", inv.stderr.String())
	}
}

func TestSelftest(t *testing.T) {
	pass := `
[!dunix.selftest=1] exit 3
cmdline
print selftest: PASS mm.alloc 10 pages
print selftest: PASS sched 4 threads
print selftest: 2 passed, 0 failed
print dunix: power-off status=0
exit 1
`
	for _, tc := range []struct {
		name, script string
		code         int
		stderr       string
	}{
		{"pass", pass, 0, "dunix: selftest ok: 2 passed, 0 failed"},
		{"fail", `
print selftest: PASS mm.alloc 10 pages
print selftest: FAIL sched: deadlock
print selftest: FAIL timer: late
print selftest: 1 passed, 2 failed
print dunix: power-off status=1
exit 3
`, 1, "dunix: selftest FAILED: 1 passed, 2 failed; 2 failed; FAIL: sched, timer; status 1"},
		{"status-0-but-failed", "print selftest: 0 passed, 1 failed\nprint dunix: power-off status=0\nexit 1\n", 1, "FAILED: 0 passed, 1 failed"},
		{"fail-line-but-summary-ok", "print selftest: FAIL x: y\nprint selftest: 0 passed, 0 failed\nprint dunix: power-off status=0\nexit 1\n", 1, "the summary says 0 failed"},
		{"no-summary", "print selftest: PASS a b\nprint dunix: power-off status=0\nexit 1\n", 1, "no summary line"},
		{"status-7", "print selftest: 1 passed, 0 failed\nprint dunix: power-off status=7\nexit 15\n", 7, "status 7"},
		{"crash", "print selftest: PASS a b\nexit 0\n", exitNoStatus, "without an exit status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kernel := setup(t, tc.script)
			inv := dunix(t, nil, "selftest", "--accel", "tcg", "--kernel", kernel, "--", "x=1")
			inv.expect(t, tc.code, nil, []string{tc.stderr})
			if tc.name == "pass" {
				inv.expect(t, 0, []string{"cmdline: x=1 dunix.selftest=1\n", "selftest: PASS sched 4 threads\n"}, nil)
			}
		})
	}
}
