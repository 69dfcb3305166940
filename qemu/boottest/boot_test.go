// Package boottest boots the real dunix kernel in QEMU (TCG here; KVM on
// hosts where it works) and checks what a user of the node sees: the
// self-tests on 1 and 4 CPUs, both machine types, the console, and the
// crash reports of every kind of fault.
//
// The kernel comes from $DUNIX_KERNEL (make test sets it) or is built into
// a temporary directory.
package boottest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dunix/boot/kimage"
	"dunix/qemu"
)

var (
	kernelOnce sync.Once
	kernelPath string
	kernelErr  error
)

func kernel(t *testing.T) string {
	t.Helper()
	if err := qemu.CheckInstalled(); err != nil {
		t.Fatal(err) // make test installs QEMU; a missing one is a failure
	}
	kernelOnce.Do(func() {
		if p := os.Getenv("DUNIX_KERNEL"); p != "" {
			kernelPath = p
			return
		}
		dir, err := os.MkdirTemp("", "dunix-boottest")
		if err != nil {
			kernelErr = err
			return
		}
		kernelPath = filepath.Join(dir, "dunix-kernel-amd64")
		_, kernelErr = kimage.Build(context.Background(), "../..", kernelPath)
	})
	if kernelErr != nil {
		t.Fatal(kernelErr)
	}
	return kernelPath
}

// boot runs one node to its end and returns its console and result.
func boot(t *testing.T, cfg qemu.Config, stdin io.Reader, timeout time.Duration) (string, qemu.Result) {
	t.Helper()
	console, res, err := bootErr(t, cfg, stdin, timeout)
	if err != nil {
		t.Fatalf("boot %q: %v\nconsole:\n%s", cfg.Cmdline, err, console)
	}
	return console, res
}

// bootErr is boot for goroutines other than the test's: it returns the
// error instead of ending the test.
func bootErr(t *testing.T, cfg qemu.Config, stdin io.Reader, timeout time.Duration) (string, qemu.Result, error) {
	if cfg.CDROM == "" && cfg.Kernel == "" {
		cfg.Kernel = kernel(t)
	}
	if cfg.Accel == "" {
		cfg.Accel = qemu.AccelTCG
	}
	if cfg.MemMiB == 0 {
		cfg.MemMiB = 256
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	var mu sync.Mutex
	res, err := qemu.Run(ctx, cfg, qemu.Options{
		Stdin:  stdin,
		OnLine: func(_ time.Duration, line string) { mu.Lock(); fmt.Fprintln(&out, line); mu.Unlock() },
	})
	mu.Lock()
	console := out.String()
	mu.Unlock()
	return console, res, err
}

func want(t *testing.T, console string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(console, s) {
			t.Errorf("console lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("console:\n%s", console)
	}
}

func selftest(t *testing.T, machine string, cpus int) {
	console, res := boot(t, qemu.Config{Machine: machine, CPUs: cpus, Cmdline: qemu.SelftestArg}, nil, 10*time.Minute)
	if res.Status != 0 {
		t.Errorf("status %d (%s)", res.Status, res.Explain())
	}
	summary := false
	for _, l := range strings.Split(console, "\n") {
		if p, f, ok := qemu.ParseSelftestSummary(l); ok {
			summary = true
			if f != 0 || p < 10 {
				t.Errorf("summary: %d passed, %d failed", p, f)
			}
		}
		if strings.HasPrefix(l, "selftest: FAIL") {
			t.Error(l)
		}
	}
	if !summary {
		t.Error("no self-test summary")
	}
	want(t, console, fmt.Sprintf("%d/%d cpus online", cpus, cpus), "selftest: PASS gc-stress", "selftest: PASS preemption")
	t.Logf("ready after %v, exit after %v", res.Ready.Round(time.Millisecond), res.Exit.Round(time.Millisecond))
}

func TestSelftest1CPU(t *testing.T) { t.Parallel(); selftest(t, qemu.MachineQ35, 1) }

func TestSelftest4CPUs(t *testing.T) { t.Parallel(); selftest(t, qemu.MachineQ35, 4) }

func TestMicroVM(t *testing.T) {
	t.Parallel()
	console, res := boot(t, qemu.Config{Machine: qemu.MachineMicroVM, CPUs: 2, Cmdline: "dunix.oneshot=1"}, nil, 3*time.Minute)
	if res.Status != 0 {
		t.Errorf("status %d (%s)", res.Status, res.Explain())
	}
	want(t, console, "dunix: ready: 2/2 cpus online", "dunix: unimplemented system calls so far: none")
}

// The console is interrupt driven both ways: commands typed on the serial
// line are read, echoed and run.
func TestConsoleCommands(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	go func() {
		// Type only once the prompt is likely up; the kernel buffers input
		// anyway, so early typing is fine too.
		time.Sleep(2 * time.Second)
		io.WriteString(pw, "help\r")
		io.WriteString(pw, "cpus\r")
		io.WriteString(pw, "poweroff 7\r")
	}()
	console, res := boot(t, qemu.Config{CPUs: 2}, pr, 3*time.Minute)
	pw.Close()
	if res.Status != 7 {
		t.Errorf("status %d, want 7 (%s)", res.Status, res.Explain())
	}
	want(t, console, "dunix> help", "commands:", "cpu 1 apic", "dunix> poweroff 7")
}

// Every kind of CPU exception in the kernel is reported with the vector,
// the registers, the address and a symbolized stack, and powers off with
// a non-zero status; a CPU that stops taking interrupts is reported by the
// watchdog.
func TestCrashReports(t *testing.T) {
	cases := []struct {
		kind   string
		status int
		want   []string
	}{
		{"nil", 2, []string{"nil pointer dereference", "[signal SIGSEGV", "dunix/kernel.crash(", "crash.go:", "dunix: last CPU exception", "#PF page fault", "address 0x0"}},
		{"ud", 2, []string{"SIGILL: illegal instruction", "dunix/kernel.ud2()", "#UD invalid opcode", "rax "}},
		{"gp", 2, []string{"[signal SIGSEGV: segmentation violation code=0x80", "#GP general protection"}},
		{"trap-pf", 3, []string{"dunix: FATAL: exception in trap context", "vector 14 (#PF page fault)", "address (cr2) 0x10", "rip ", "backtrace:", "dunix/kernel.handleSyscall", "syscall.go:"}},
		{"trap-ud", 3, []string{"dunix: FATAL", "vector 6 (#UD invalid opcode)", "dunix/kernel.ud2"}},
		{"kstack", 3, []string{"kernel stack overflow", "vector 14", "dunix/kernel.overflowStack"}},
		{"df", 3, []string{"dunix: FATAL: double fault", "vector 8 (#DF double fault)", "backtrace:"}},
		{"hang", 0, []string{"has taken no timer interrupt for", " was at:", "vector 2 (NMI)", "rip ", "dunix/kernel.handleSyscall", "back from 3 s"}},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			t.Parallel()
			console, res := boot(t, qemu.Config{CPUs: 2, Cmdline: "dunix.crash=" + c.kind}, nil, 3*time.Minute)
			if res.Status != c.status || res.Source != qemu.StatusFromLine {
				t.Errorf("status %d from %v, want %d (%s)", res.Status, res.Source, c.status, res.Explain())
			}
			want(t, console, c.want...)
		})
	}
}

// GRUB (2.06, BIOS) loads the kernel through its multiboot2 header: the
// second entry path, which images for USB sticks use.
func TestMultiboot2GRUB(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"grub-mkrescue", "xorriso", "mformat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make deps installs grub-pc-bin, grub-common, xorriso, mtools): %v", tool, err)
		}
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "iso")
	if err := os.MkdirAll(filepath.Join(root, "boot", "grub"), 0o755); err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(kernel(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "boot", "dunix"), k, 0o644)
	os.WriteFile(filepath.Join(root, "boot", "grub", "grub.cfg"), []byte(`set timeout=0
serial --unit=0 --speed=115200
terminal_output serial
menuentry "dunix" {
  multiboot2 /boot/dunix dunix.oneshot=1
  boot
}
`), 0o644)
	iso := filepath.Join(dir, "dunix.iso")
	if out, err := exec.Command("grub-mkrescue", "-o", iso, root).CombinedOutput(); err != nil {
		t.Fatalf("grub-mkrescue: %v\n%s", err, out)
	}
	console, res := boot(t, qemu.Config{CDROM: iso, CPUs: 2}, nil, 3*time.Minute)
	if res.Status != 0 {
		t.Errorf("status %d (%s)", res.Status, res.Explain())
	}
	want(t, console, "dunix: booting", "dunix: ready: 2/2 cpus online", "dunix: power-off status=0")
}
