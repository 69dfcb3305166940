// Package usertest boots the real dunix kernel in QEMU with `dunix run`
// and `dunix compat` and checks what a user of the node sees: static
// Linux programs run, exit statuses come back, the console is a terminal
// (^C interrupts the foreground job), and the compatibility corpus passes.
//
// The dunix command comes from $DUNIX (make test sets it, with the kernel
// next to it) or is built, with the kernel, into a temporary directory.
package usertest

import (
	"bytes"
	"context"
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
	dunixOnce sync.Once
	dunixPath string
	dunixErr  error
)

// dunix returns the path of the dunix command, with its kernel beside it.
func dunix(t *testing.T) string {
	t.Helper()
	if err := qemu.CheckInstalled(); err != nil {
		t.Fatal(err) // make test installs QEMU; a missing one is a failure
	}
	dunixOnce.Do(func() {
		if p := os.Getenv("DUNIX"); p != "" {
			dunixPath = p
			return
		}
		dir, err := os.MkdirTemp("", "dunix-usertest")
		if err != nil {
			dunixErr = err
			return
		}
		if _, dunixErr = kimage.Build(context.Background(), "../..", filepath.Join(dir, "dunix-kernel-amd64")); dunixErr != nil {
			return
		}
		dunixPath = filepath.Join(dir, "dunix")
		cmd := exec.Command("go", "build", "-o", dunixPath, "./tools/dunix")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			dunixErr = err
			dunixPath = string(out)
		}
	})
	if dunixErr != nil {
		t.Fatalf("building dunix: %v %s", dunixErr, dunixPath)
	}
	return dunixPath
}

func busybox(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox not found: make test installs busybox-static")
	}
	return p
}

// run runs `dunix run` with the node's console input from stdin and
// returns its standard output, standard error and exit code.
func run(t *testing.T, stdin io.Reader, timeout time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, dunix(t), append([]string{"run", "--accel", "tcg"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			t.Fatalf("dunix run %v: %v (stdout %q, stderr %q)", args, err, out.String(), errb.String())
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// The issue's own check: a pipe between two busybox applets.
func TestRunBusyboxPipe(t *testing.T) {
	t.Parallel()
	out, errs, code := run(t, nil, 3*time.Minute, "--add", busybox(t)+":/bin/busybox", "--",
		"/bin/busybox", "sh", "-c", "echo hello | wc -c")
	if out != "6\n" || code != 0 {
		t.Fatalf("got %q, exit %d (stderr %q), want \"6\\n\", exit 0", out, code, errs)
	}
}

// Exit statuses: the program's own, and 128+n for a signal.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	bb := busybox(t) + ":/bin/busybox"
	if _, errs, code := run(t, nil, 3*time.Minute, "--add", bb, "--", "/bin/sh", "-c", "exit 42"); code != 42 {
		t.Errorf("exit 42 gave %d (stderr %q)", code, errs)
	}
	if _, errs, code := run(t, nil, 3*time.Minute, "--add", bb, "--", "/bin/sh", "-c", "kill -SEGV $$"); code != 128+11 {
		t.Errorf("SIGSEGV gave %d, want 139 (stderr %q)", code, errs)
	}
	// A dynamically linked program is refused with a clear message.
	if _, err := os.Stat("/bin/true"); err == nil {
		_, errs, code := run(t, nil, 3*time.Minute, "--add", bb, "--add", "/bin/true:/bin/dyntrue", "--",
			"/bin/sh", "-c", "/bin/dyntrue; echo status=$?")
		if code != 0 || !strings.Contains(errs, "dynamically linked") {
			t.Errorf("shell exit %d, stderr %q: want a line saying the program is dynamically linked", code, errs)
		}
	}
}

// The console is a terminal: the shell is interactive, ^C interrupts the
// foreground job and the shell goes on.
func TestConsoleInterrupt(t *testing.T) {
	t.Parallel()
	pr, pw, err := os.Pipe() // a file: the command does not wait for a copier
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		// Type slowly, as a user would; the node boots meanwhile.
		for _, s := range []string{"sleep 60\n", "\x03", "echo after-$((6*7))\n", "exit 5\n"} {
			time.Sleep(3 * time.Second)
			pw.Write([]byte(s))
		}
		time.Sleep(20 * time.Second)
		pw.Close()
	}()
	start := time.Now()
	out, errs, code := run(t, pr, 3*time.Minute, "--add", busybox(t)+":/bin/busybox", "--", "/bin/sh")
	if code != 5 || !strings.Contains(out, "after-42") {
		t.Fatalf("exit %d, output %q (stderr %q); want exit 5 and after-42", code, out, errs)
	}
	if d := time.Since(start); d > 55*time.Second {
		t.Fatalf("took %v: ^C did not interrupt sleep 60", d)
	}
}

// The compatibility corpus passes, program by program.
// One CPU under TCG switches address spaces inside its own root
// (kernel/uswitch.go): short busybox pipelines, processes forking,
// exiting and unmapping in quick succession, must each see their own
// memory (the stale translation this once let through crashed busybox
// about once in 200 rounds), and so must the C programs about memory
// and processes.
func TestOneCPUAddressSpaces(t *testing.T) {
	t.Parallel()
	out, errs, code := run(t, nil, 10*time.Minute, "--cpus", "1", "--add", busybox(t)+":/bin/busybox",
		"--add", "../../tests/busybox/pipelines.sh:/pipelines.sh", "--", "/bin/busybox", "sh", "/pipelines.sh", "300")
	if code != 0 || !strings.Contains(out, "done bad=0") {
		t.Fatalf("pipelines on one CPU: exit %d, output %q (stderr %q), want \"done bad=0\"", code, out, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dunix(t), "compat", "--accel", "tcg", "--cpus", "1", "--repo", "../..",
		"posix/aspace", "posix/mem", "posix/procs", "posix/threads", "posix/pipes")
	var cout, cerr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &cout, &cerr
	err := cmd.Run()
	t.Logf("dunix compat --cpus 1:\n%s", cout.String())
	if err != nil || !strings.Contains(cout.String(), "5 of 5 programs pass") {
		t.Fatalf("dunix compat --cpus 1: %v\n%s", err, cerr.String())
	}
}

func TestCompat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dunix(t), "compat", "--accel", "tcg", "--repo", "../..", "--show")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	t.Logf("dunix compat:\n%s", out.String())
	if err != nil {
		t.Fatalf("dunix compat: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "programs pass") || strings.Contains(out.String(), "FAIL") {
		t.Fatal("the report shows failures")
	}
}
