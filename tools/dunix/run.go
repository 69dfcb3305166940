package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/term"

	"dunix/tools/rootfs"
)

func init() {
	register(&command{
		name:    "run",
		args:    "[--add HOSTPATH:GUESTPATH]... -- PROGRAM [ARGS...]",
		summary: "boot a node and run a static Linux program on it",
		help: `
Run builds a root file system (a small base layout plus the files given with
--add; directories are added recursively), boots one node with it, and runs
PROGRAM (a path in that file system) with ARGS as the node's first process,
its standard input, output and error on this terminal. Run exits with the
program's exit status, 128+n when signal n killed it, or 125 when the node
stopped without a status.

Lines the kernel itself prints (they start with "dunix: ") go to standard
error.`,
		flags: func(fs *flag.FlagSet) runFunc {
			var nf nodeFlags
			nf.register(fs, 0)
			var adds multiFlag
			fs.Var(&adds, "add", "put host file or directory `HOSTPATH:GUESTPATH` into the node's root (repeatable)")
			profile := fs.Int("profile", 0, "sample where the node's CPUs are `HZ` times a second while PROGRAM runs, and print the kernel functions found most (0: off)")
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) == 0 {
					return failed(e, usageError{fmt.Errorf("run: no PROGRAM given")})
				}
				spec := rootfs.Spec{Run: args}
				for _, a := range adds {
					add, err := rootfs.ParseAdd(a)
					if err != nil {
						return failed(e, usageError{err})
					}
					spec.Adds = append(spec.Adds, add)
				}
				addBusyboxLinks(e, &spec)
				dir, err := os.MkdirTemp("", "dunix-run")
				if err != nil {
					return failed(e, err)
				}
				defer os.RemoveAll(dir)
				root, err := writeRoot(dir, spec)
				if err != nil {
					return failed(e, err)
				}
				kargs := []string{"dunix.quiet=1"}
				if *profile > 0 {
					kargs = append(kargs, fmt.Sprintf("dunix.profile=%d", *profile))
				}
				cfg, err := nf.config(e, kargs)
				if err != nil {
					return failed(e, err)
				}
				cfg.Initrd = root
				crlf := true
				if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					crlf = false // a terminal wants the carriage returns
				}
				out := &consoleFilter{out: e.stdout, errw: e.stderr, stripCR: crlf}
				r := &nodeRun{flags: &nf, cfg: cfg, interactive: true, out: out, quiet: true}
				_, code, _ := r.boot(ctx, e)
				out.flush()
				return code
			}
		},
	})
}

// addBusyboxLinks gives an added busybox its applets, so that
// `sh -c 'ls | wc -l'` finds them in PATH.
func addBusyboxLinks(e *env, spec *rootfs.Spec) {
	for _, add := range spec.Adds {
		if filepath.Base(add.Host) != "busybox" || path.Base(add.Guest) != "busybox" {
			continue
		}
		if st, err := os.Stat(add.Host); err != nil || !st.Mode().IsRegular() {
			continue
		}
		links, err := rootfs.BusyboxLinks(add.Host, add.Guest)
		if err != nil {
			fmt.Fprintf(e.stderr, "dunix: no busybox applet links: %v\n", err)
		}
		spec.Links = append(spec.Links, links...)
	}
}

// writeRoot writes the root archive of spec into dir and returns its path.
func writeRoot(dir string, spec rootfs.Spec) (string, error) {
	root := filepath.Join(dir, "root.cpio")
	f, err := os.Create(root)
	if err != nil {
		return "", err
	}
	err = rootfs.Write(f, spec)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return root, err
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// consoleFilter passes a node's console output through, except lines the
// kernel prints ("dunix: ..."), which go to errw, and the power-off line,
// which is dropped. stripCR turns "\r\n" into "\n" for pipes and files.
// Bytes are passed on as they come (a prompt without a newline shows at
// once); only a line start that could be "dunix: " is held until it is
// decided.
type consoleFilter struct {
	mu      sync.Mutex
	out     io.Writer
	errw    io.Writer
	stripCR bool
	pending []byte // start of a line that may be a kernel line
	kernel  bool   // inside a kernel line
	atStart bool
	started bool
	heldCR  bool // a "\r" at the end of the last write, maybe half of "\r\n"
}

const kernelPrefix = "dunix: "

func (c *consoleFilter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.started, c.atStart = true, true
	}
	var out bytes.Buffer
	for _, b := range p {
		switch {
		case c.kernel:
			c.pending = append(c.pending, b)
			if b == '\n' {
				c.kernelLine()
			}
		case c.atStart && len(c.pending) < len(kernelPrefix) && b == kernelPrefix[len(c.pending)]:
			c.pending = append(c.pending, b)
			if len(c.pending) == len(kernelPrefix) {
				c.kernel = true
			}
		default:
			if len(c.pending) > 0 {
				out.Write(c.pending)
				c.pending = c.pending[:0]
			}
			c.atStart = b == '\n'
			out.WriteByte(b)
		}
	}
	c.emit(out.Bytes())
	return len(p), nil
}

func (c *consoleFilter) emit(b []byte) {
	if c.stripCR {
		// A "\r\n" may be split between writes: hold a final "\r".
		if c.heldCR {
			b = append([]byte{'\r'}, b...)
			c.heldCR = false
		}
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b, c.heldCR = b[:len(b)-1], true
		}
	}
	if len(b) > 0 {
		c.out.Write(b)
	}
}

func (c *consoleFilter) kernelLine() {
	line := strings.TrimRight(string(c.pending), "\r\n")
	c.pending, c.kernel, c.atStart = c.pending[:0], false, true
	if strings.HasPrefix(line, kernelPrefix+"power-off status=") {
		return
	}
	fmt.Fprintln(c.errw, line)
}

func (c *consoleFilter) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kernel {
		c.kernelLine()
	} else if len(c.pending) > 0 {
		c.emit(c.pending)
		c.pending = nil
	}
	if c.heldCR {
		c.heldCR = false
		c.out.Write([]byte{'\r'})
	}
}
