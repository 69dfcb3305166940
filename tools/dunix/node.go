package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"dunix/qemu"

	"golang.org/x/term"
)

// kernelName is the kernel's file name next to the dunix binary.
const kernelName = "dunix-kernel-amd64"

// envKernel overrides the default kernel path.
const envKernel = "DUNIX_KERNEL"

// nodeFlags are the flags of commands that boot one node.
type nodeFlags struct {
	mem     string
	cpus    int
	accel   string
	machine string
	kernel  string
	timeout time.Duration
	verbose bool
}

// register defines the node flags on fs; timeout is --timeout's default.
func (n *nodeFlags) register(fs *flag.FlagSet, timeout time.Duration) {
	fs.StringVar(&n.mem, "mem", "256M", "guest memory `SIZE`, like 256M or 1G")
	fs.IntVar(&n.cpus, "cpus", 2, "`N` virtual CPUs")
	fs.StringVar(&n.accel, "accel", qemu.AccelAuto, "accelerator, `auto|kvm|tcg`; auto picks KVM when /dev/kvm works and a probe boot of the kernel passes")
	fs.StringVar(&n.machine, "machine", qemu.MachineQ35, "QEMU machine type, `q35|microvm`")
	fs.StringVar(&n.kernel, "kernel", "", "kernel ELF file `PATH` (default $"+envKernel+", else "+kernelName+" next to the dunix binary)")
	fs.DurationVar(&n.timeout, "timeout", timeout, "stop the machine after `D`, like 30s or 5m (0: never)")
	fs.BoolVar(&n.verbose, "v", false, "print the QEMU command line and boot timings on stderr")
}

// usageError is an error in the command line.
type usageError struct{ error }

// config builds the node configuration; args are the words of the kernel
// command line.
func (n *nodeFlags) config(e *env, args []string) (qemu.Config, error) {
	mem, err := qemu.ParseMemSize(n.mem)
	if err != nil {
		return qemu.Config{}, usageError{fmt.Errorf("--mem: %v", err)}
	}
	cfg := qemu.Config{
		Machine: n.machine,
		MemMiB:  mem,
		CPUs:    n.cpus,
		Accel:   n.accel,
		Cmdline: strings.Join(args, " "),
		Kernel:  "x", // validated below
	}
	if err := cfg.Validate(); err != nil {
		return qemu.Config{}, usageError{errors.New(strings.TrimPrefix(err.Error(), "qemu: "))}
	}
	if n.cpus < 1 {
		return qemu.Config{}, usageError{fmt.Errorf("--cpus %d: want at least 1", n.cpus)}
	}
	if n.timeout < 0 {
		return qemu.Config{}, usageError{errors.New("--timeout must not be negative")}
	}
	cfg.Kernel, err = n.kernelPath(e)
	return cfg, err
}

// kernelPath finds the kernel: --kernel, $DUNIX_KERNEL, or next to the
// dunix binary (symbolic links resolved).
func (n *nodeFlags) kernelPath(e *env) (string, error) {
	path, from := n.kernel, "--kernel"
	if path == "" {
		path, from = os.Getenv(envKernel), "$"+envKernel
	}
	if path == "" {
		exe, err := e.executable()
		if err == nil {
			if real, err := filepath.EvalSymlinks(exe); err == nil {
				exe = real
			}
		}
		if err != nil {
			return "", fmt.Errorf("cannot find the dunix binary to look for the kernel next to it (%v); pass --kernel PATH or set %s", err, envKernel)
		}
		path, from = filepath.Join(filepath.Dir(exe), kernelName), "the default, next to the dunix binary"
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("kernel %s not found (%s); build the kernel first, or pass --kernel PATH or set %s", path, from, envKernel)
	case err != nil:
		return "", fmt.Errorf("kernel: %v", err)
	case st.IsDir():
		return "", fmt.Errorf("kernel %s is a directory (%s)", path, from)
	}
	return path, nil
}

// failed reports err on stderr and returns the exit code for it.
func failed(e *env, err error) int {
	fmt.Fprintf(e.stderr, "dunix: %s\n", strings.TrimPrefix(err.Error(), "qemu: "))
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitNoStatus
}

// timeoutError is the context cause when --timeout runs out.
type timeoutError struct{ d time.Duration }

func (t timeoutError) Error() string { return fmt.Sprintf("timed out after %s", t.d) }

// nodeRun is one node run: its configuration and console plumbing.
type nodeRun struct {
	flags *nodeFlags
	cfg   qemu.Config
	// interactive connects the terminal: stdin goes to the console (raw
	// when it is a terminal) and Ctrl-A x quits.
	interactive bool
	onLine      func(at time.Duration, line string)
	// out, when set, receives the console output instead of standard
	// output; quiet keeps the accelerator choice off standard error.
	out   io.Writer
	quiet bool
}

// boot chooses the accelerator, boots the node and waits for it. On
// success it returns the result; otherwise it has reported the failure and
// returns the exit code to use (ok false).
func (r *nodeRun) boot(ctx context.Context, e *env) (res qemu.Result, code int, ok bool) {
	if err := qemu.CheckInstalled(); err != nil {
		return res, failed(e, err), false
	}
	accel, why, err := qemu.ChooseAccel(ctx, r.cfg)
	if err != nil {
		return res, failed(e, stopped(err)), false
	}
	if !r.quiet || r.flags.verbose {
		fmt.Fprintf(e.stderr, "dunix: %s\n", why)
	}
	cfg := r.cfg
	cfg.Accel = accel
	if r.flags.verbose {
		fmt.Fprintf(e.stderr, "dunix: %s\n", strings.Join(quoteArgs(append([]string{cfg.Binary()}, qemu.Args(cfg)...)), " "))
	}

	if r.flags.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.flags.timeout, timeoutError{r.flags.timeout})
		defer cancel()
	}
	out := r.out
	if out == nil {
		out = e.stdout
	}
	opts := qemu.Options{Stdout: out, Stderr: e.stderr, OnLine: r.onLine}
	if r.interactive {
		opts.Stdin, opts.Escape = e.stdin, qemu.EscapeCtrlA
		if f, isFile := e.stdin.(*os.File); isFile && term.IsTerminal(int(f.Fd())) {
			restore, err := makeRaw(int(f.Fd()))
			if err != nil {
				return res, failed(e, fmt.Errorf("terminal: %v", err)), false
			}
			defer restore()
			if !r.quiet {
				fmt.Fprintf(e.stderr, "dunix: console on this terminal; Ctrl-A x quits, Ctrl-A h for help\n")
			}
		}
	}
	m, err := qemu.Start(ctx, cfg, opts)
	if err != nil {
		return res, failed(e, stopped(err)), false
	}
	res, err = m.Wait()
	if r.flags.verbose {
		fmt.Fprintf(e.stderr, "dunix: first output %s, first line %s, ready %s, exit %s (QEMU exit code %d)\n",
			at(res.FirstByte), at(res.FirstLine), at(res.Ready), at(res.Exit), res.ExitCode)
	}
	if err != nil {
		if errors.Is(err, qemu.ErrQuit) {
			fmt.Fprintf(e.stderr, "\ndunix: quit (Ctrl-A x); the machine was stopped\n")
			return res, exitNoStatus, false
		}
		return res, failed(e, stopped(err)), false
	}
	if res.Source != qemu.StatusFromLine {
		fmt.Fprintf(e.stderr, "dunix: %s\n", res.Explain())
	}
	return res, res.ExitStatus(), true
}

// stopped rewords errors from a context that ended.
func stopped(err error) error {
	var te timeoutError
	var se errSignal
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("%v; the machine was stopped", te)
	case errors.As(err, &se):
		return fmt.Errorf("%v; the machine was stopped", se)
	}
	return err
}

// at formats a boot timing ("-" for events that did not happen).
func at(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

// quoteArgs quotes the arguments that a shell would split.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// makeRaw puts the terminal fd in raw mode, keeping output processing, and
// returns the function that restores it (safe to call more than once).
func makeRaw(fd int) (restore func(), err error) {
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	keepOutputProcessing(fd)
	var once sync.Once
	return func() { once.Do(func() { term.Restore(fd, old) }) }, nil
}
