// Package qemutest helps test code that runs QEMU through package qemu.
//
// FakeQEMU turns the test binary itself into a stand-in for
// qemu-system-x86_64: TestMain calls Main first, and a Config whose QEMU is
// FakeQEMU(t) and whose Kernel is a script written by Kernel(t, ...) then
// "boots" that script: it prints scripted console output, reads the console
// input, and exits with a chosen code. PVHKernel builds a tiny real kernel
// for tests that run the real QEMU.
//
// A script has one directive a line; blank lines and lines starting with #
// are skipped. A directive may start with conditions in brackets, as in
// "[kvm,!dunix.probe=1] exit 3": a word matches the accelerator ("kvm",
// "tcg"), the machine type ("q35", "microvm") or a word of the kernel
// command line; "!" negates it; all must match. Directives:
//
//	print TEXT       write TEXT and a newline to the console
//	write "QUOTED"   write a Go-quoted string, no newline added
//	stderr TEXT      write TEXT and a newline to QEMU's standard error
//	cmdline          print "cmdline: " and the kernel command line
//	sleep DURATION   sleep, e.g. "sleep 100ms"
//	echo             copy console input to the console until input ends
//	readline         read one input line and print "got: LINE"
//	exit CODE        exit with CODE (the script's end exits 0)
//	hang             wait forever
//	ignore-sigterm   ignore SIGTERM from now on
//	pidfile PATH     write the fake's process id to PATH
//	spawn PATH       start a child process that waits forever and write
//	                 its process id to PATH
//	argsfile PATH    write the fake's arguments to PATH, one a line
//	append PATH TEXT append TEXT and a newline to PATH
//
// `--version` prints "QEMU emulator version 7.2.99 (dunix fake)", or
// $DUNIX_QEMUTEST_VERSION.
package qemutest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvFake is set in the environment of a fake QEMU process.
const EnvFake = "DUNIX_QEMUTEST_FAKE"

// EnvVersion overrides the fake's `--version` line.
const EnvVersion = "DUNIX_QEMUTEST_VERSION"

// ScriptMagic starts every fake kernel script.
const ScriptMagic = "#!fake-qemu\n"

// Main makes the process act as the fake QEMU, and exit, when it was
// started as one. Call it first in TestMain.
func Main() {
	switch os.Getenv(EnvFake) {
	case "":
		return
	case "hang":
		// Sleep rather than select{}: a process with nothing else to do
		// would be ended by the runtime's deadlock detector.
		for {
			time.Sleep(time.Hour)
		}
	default:
		os.Exit(runFake(os.Args[1:]))
	}
}

// FakeQEMU returns the path of a fake qemu-system-x86_64 for Config.QEMU or
// $DUNIX_QEMU: a shell script that runs the test binary with EnvFake set.
// The test binary's TestMain must call Main.
func FakeQEMU(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "qemu-system-x86_64")
	// GORACE: a race-enabled binary otherwise sleeps 1 s at exit.
	script := fmt.Sprintf("#!/bin/sh\nGORACE=\"$GORACE atexit_sleep_ms=0\" %s=1 exec '%s' \"$@\"\n",
		EnvFake, strings.ReplaceAll(exe, "'", `'\''`))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// Kernel writes a fake kernel script (ScriptMagic is added) to a new file
// and returns its path.
func Kernel(t testing.TB, script string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "kernel-*.fake")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(ScriptMagic + script); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// PVHKernelFile writes PVHKernel(text, status) to a new file and returns
// its path.
func PVHKernelFile(t testing.TB, text string, status uint32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny-kernel.elf")
	if err := os.WriteFile(path, PVHKernel(text, status), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fake is the state of a fake QEMU run.
type fake struct {
	args    []string
	cmdline string
	words   map[string]bool
	in      *bufio.Reader
}

// runFake runs the fake QEMU and returns its exit code.
func runFake(args []string) int {
	if len(args) == 1 && args[0] == "--version" {
		v := os.Getenv(EnvVersion)
		if v == "" {
			v = "QEMU emulator version 7.2.99 (dunix fake)"
		}
		fmt.Println(v)
		fmt.Println("Copyright (c) nobody")
		return 0
	}
	f := &fake{args: args, words: map[string]bool{}, in: bufio.NewReader(os.Stdin)}
	var kernel string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-kernel":
			kernel = args[i+1]
		case "-append":
			f.cmdline = args[i+1]
		case "-accel", "-M":
			name, _, _ := strings.Cut(args[i+1], ",")
			f.words[name] = true
		}
	}
	for _, w := range strings.Fields(f.cmdline) {
		f.words[w] = true
	}
	data, err := os.ReadFile(kernel)
	if err != nil || !strings.HasPrefix(string(data), ScriptMagic) {
		fmt.Fprintf(os.Stderr, "qemu-system-x86_64: fake QEMU: -kernel %q is not a fake kernel script\n", kernel)
		return 1
	}
	for n, line := range strings.Split(string(data), "\n") {
		if code, done := f.do(strings.TrimSpace(line)); done {
			return code
		} else if code != 0 {
			fmt.Fprintf(os.Stderr, "qemu-system-x86_64: fake QEMU: %s:%d: bad directive %q\n", kernel, n+1, line)
			return 1
		}
	}
	return 0
}

// do runs one directive. It returns (code, true) to exit with code, and
// (1, false) for a bad directive.
func (f *fake) do(line string) (code int, exit bool) {
	if line == "" || line[0] == '#' {
		return 0, false
	}
	if line[0] == '[' {
		conds, rest, ok := strings.Cut(line[1:], "]")
		if !ok {
			return 1, false
		}
		for _, c := range strings.Split(conds, ",") {
			c = strings.TrimSpace(c)
			want := !strings.HasPrefix(c, "!")
			if f.words[strings.TrimPrefix(c, "!")] != want {
				return 0, false
			}
		}
		line = strings.TrimSpace(rest)
	}
	verb, arg, _ := strings.Cut(line, " ")
	switch verb {
	case "print":
		os.Stdout.WriteString(arg + "\n")
	case "write":
		s, err := strconv.Unquote(arg)
		if err != nil {
			return 1, false
		}
		os.Stdout.WriteString(s)
	case "stderr":
		os.Stderr.WriteString(arg + "\n")
	case "cmdline":
		os.Stdout.WriteString("cmdline: " + f.cmdline + "\n")
	case "sleep":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return 1, false
		}
		time.Sleep(d)
	case "echo":
		io.Copy(os.Stdout, f.in)
	case "readline":
		l, _ := f.in.ReadString('\n')
		os.Stdout.WriteString("got: " + strings.TrimRight(l, "\r\n") + "\n")
	case "exit":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return 1, false
		}
		return n, true
	case "hang":
		// Sleep rather than select{}: a process with nothing else to do
		// would be ended by the runtime's deadlock detector.
		for {
			time.Sleep(time.Hour)
		}
	case "ignore-sigterm":
		signal.Ignore(syscall.SIGTERM)
	case "pidfile":
		os.WriteFile(arg, []byte(strconv.Itoa(os.Getpid())), 0o644)
	case "spawn":
		exe, _ := os.Executable()
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), EnvFake+"=hang")
		if err := cmd.Start(); err != nil {
			return 1, false
		}
		os.WriteFile(arg, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	case "argsfile":
		os.WriteFile(arg, []byte(strings.Join(f.args, "\n")+"\n"), 0o644)
	case "append":
		path, text, _ := strings.Cut(arg, " ")
		af, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return 1, false
		}
		af.WriteString(text + "\n")
		af.Close()
	default:
		return 1, false
	}
	return 0, false
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill(2)
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// ReadPid reads a process id written by the pidfile or spawn directive,
// waiting up to 5 s for the file to appear.
func ReadPid(t testing.TB, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 {
			pid, err := strconv.Atoi(string(data))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process id in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
