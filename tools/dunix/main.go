// Command dunix runs dunix kernels in QEMU on the host.
//
// Usage:
//
//	dunix <command> [flags] [arguments]
//
// Run `dunix help` for the list of commands and `dunix <command> -h` for
// the flags of one. Each command lives in a file of its own that registers
// it from init (see command and register); the node flags and the code that
// runs one node with its console are shared in node.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit codes of dunix itself. Commands that boot a node otherwise exit
// with the kernel's status.
const (
	exitUsage    = 2   // bad command line
	exitNoStatus = 125 // qemu.NoStatus: no kernel status, or dunix failed
)

// env is what a command may touch of the outside world; tests fill it in.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// executable returns the path of the running dunix binary.
	executable func() (string, error)
}

// runFunc runs a command with its arguments left after the flags.
type runFunc func(ctx context.Context, e *env, args []string) int

// command is one subcommand.
type command struct {
	name    string // as typed
	args    string // synopsis after the flags, e.g. "[-- KERNEL-CMDLINE...]"
	summary string // one line for `dunix help`
	help    string // paragraphs for `dunix <command> -h`
	// flags defines the command's flags on fs and returns the function that
	// runs the command once they are parsed.
	flags func(fs *flag.FlagSet) runFunc
}

// commands holds the registered commands by name.
var commands = map[string]*command{}

// register adds a command; each command's file calls it from init.
func register(c *command) {
	if commands[c.name] != nil {
		panic("dunix: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, executable: os.Executable})
	stop()
	os.Exit(code)
}

// errSignal is the cause of the context when a signal arrives.
type errSignal struct{ sig os.Signal }

func (e errSignal) Error() string {
	if s, ok := e.sig.(syscall.Signal); ok && unix.SignalName(s) != "" {
		return "interrupted by " + unix.SignalName(s)
	}
	return "interrupted by " + e.sig.String()
}

// signalContext returns a context cancelled, with an errSignal cause, on
// SIGINT, SIGTERM or SIGHUP, so that commands stop QEMU and restore the
// terminal before exiting.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		if sig, ok := <-ch; ok {
			cancel(errSignal{sig})
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(ch)
		cancel(nil)
	}
}

// run runs the dunix command line args and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	c := commands[name]
	if c == nil {
		fmt.Fprintf(e.stderr, "dunix: unknown command %q; run 'dunix help' for the list\n", name)
		return exitUsage
	}
	fs := newFlagSet(c, e.stderr)
	runf := c.flags(fs)
	switch err := fs.Parse(args[1:]); {
	case errors.Is(err, flag.ErrHelp):
		printCommandUsage(e.stdout, c)
		return 0
	case err != nil:
		// flag has printed the error.
		fmt.Fprintf(e.stderr, "run 'dunix %s -h' for usage\n", c.name)
		return exitUsage
	}
	return runf(ctx, e, fs.Args())
}

// newFlagSet returns the flag set for c; it reports parse errors to w and
// leaves usage to run.
func newFlagSet(c *command, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dunix "+c.name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {}
	return fs
}

// printUsage prints the top-level usage.
func printUsage(w io.Writer) {
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	fmt.Fprintf(w, "dunix runs dunix kernels in QEMU.\n\nusage: dunix <command> [flags] [arguments]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run 'dunix <command> -h' for the flags of a command.

Environment:
  DUNIX_KERNEL    kernel file (default: dunix-kernel-amd64 next to the dunix binary)
  DUNIX_QEMU      QEMU binary (default: qemu-system-x86_64 from $PATH)
  XDG_CACHE_HOME  the KVM probe verdicts live in $XDG_CACHE_HOME/dunix (~/.cache/dunix)

Exit status: commands that boot a node exit with the kernel's status, or 125
when the machine stopped without one (triple fault, crash, timeout, Ctrl-A x)
or could not be run; 2 means a bad command line.
`)
}

// printCommandUsage prints c's usage and flags.
func printCommandUsage(w io.Writer, c *command) {
	fs := newFlagSet(c, io.Discard)
	c.flags(fs)
	synopsis := "dunix " + c.name
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		synopsis += " [flags]"
	}
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "usage: %s\n\n%s\n", synopsis, strings.TrimSpace(c.help))
	if !hasFlags {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if len(f.Name) == 1 {
			line = "  -" + f.Name
		}
		if arg != "" {
			line += " " + arg
		}
		if def := f.DefValue; def != "" && def != "0" && def != "false" && def != "0s" {
			usage += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, usage)
	})
}

func init() {
	register(&command{
		name:    "help",
		args:    "[COMMAND]",
		summary: "show the commands, or the usage of one",
		help:    "Help prints the list of commands, or the usage and flags of COMMAND.",
		flags: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) int {
				switch {
				case len(args) == 0:
					printUsage(e.stdout)
				case len(args) == 1 && commands[args[0]] != nil:
					printCommandUsage(e.stdout, commands[args[0]])
				default:
					fmt.Fprintf(e.stderr, "dunix help: unknown command %q\n", strings.Join(args, " "))
					return exitUsage
				}
				return 0
			}
		},
	})
}
