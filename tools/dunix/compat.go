package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"dunix/tools/compat"
	"dunix/tools/rootfs"
)

func init() {
	register(&command{
		name:    "compat",
		args:    "[PROGRAM...]",
		summary: "run the compatibility corpus on nodes and report per program",
		help: `
Compat runs the corpus of unmodified static Linux programs, each on a fresh
node: the C edge-case programs of tests/posix (built with musl-gcc; they pass
when they exit 0), Debian's busybox-static running tests/busybox/tour.sh,
bash-static running tests/bash/script.sh and the static Go program
tests/goprog (these pass when their output and exit status equal the same
run on this host). For each program it prints pass or FAIL, the time, and
the system calls the kernel answered ENOSYS and the features it reported
missing. PROGRAM names (posix/signals, busybox/tour...) pick programs.

Compat exits 0 when every program passed, 1 otherwise. It needs the
repository (--repo, default: the directory holding go.mod above the current
one), busybox-static, bash-static, musl-tools and go.`,
		flags: func(fs *flag.FlagSet) runFunc {
			var nf nodeFlags
			nf.register(fs, 10*time.Minute)
			repo := fs.String("repo", "", "repository `DIR` with the tests directory (default: found from the current directory)")
			verbose := fs.Bool("show", false, "show the standard error and kernel lines of failed programs")
			return func(ctx context.Context, e *env, args []string) int {
				dir := *repo
				if dir == "" {
					var err error
					if dir, err = findRepo(); err != nil {
						return failed(e, err)
					}
				}
				work, err := os.MkdirTemp("", "dunix-compat")
				if err != nil {
					return failed(e, err)
				}
				defer os.RemoveAll(work)
				progs, err := compat.Corpus(ctx, dir, work)
				if err != nil {
					return failed(e, err)
				}
				if len(args) > 0 {
					progs, err = pick(progs, args)
					if err != nil {
						return failed(e, usageError{err})
					}
				}
				busybox, err := exec.LookPath("busybox")
				if err != nil {
					return failed(e, err)
				}
				guest := func(ctx context.Context, files []rootfs.Add, argv []string) (compat.GuestResult, error) {
					return runGuest(ctx, e, &nf, append([]rootfs.Add{{Host: busybox, Guest: "/bin/busybox"}}, files...), argv)
				}
				var results []compat.Result
				for _, p := range progs {
					if ctx.Err() != nil {
						break
					}
					r := compat.Run(ctx, p, guest)
					results = append(results, r)
					fmt.Fprintf(e.stderr, "dunix compat: %s %s (%.1fs)\n", p.Name, map[bool]string{true: "pass", false: "FAIL"}[r.Pass], r.Time.Seconds())
				}
				if !compat.Report(e.stdout, results, *verbose) || len(results) < len(progs) {
					return 1
				}
				return 0
			}
		},
	})
}

// findRepo looks for the directory holding go.mod and tests/ from the
// current directory up.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "tests")); err == nil {
				return dir, nil
			}
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("compat: no repository with go.mod and tests/ here or above; pass --repo DIR")
		}
		dir = up
	}
}

// pick keeps the programs named.
func pick(progs []compat.Program, names []string) ([]compat.Program, error) {
	var out []compat.Program
	for _, n := range names {
		found := false
		for _, p := range progs {
			if p.Name == n || strings.HasSuffix(p.Name, "/"+n) {
				out = append(out, p)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("compat: no program %q", n)
		}
	}
	return out, nil
}

// guestScript runs the program in the node with its output in files, then
// prints them base64-encoded between markers, so that the terminal's
// translations and kernel lines cannot touch them.
const guestScript = `cd /tmp && "$@" </dev/null >/tmp/.compat.out 2>/tmp/.compat.err; s=$?
echo; echo "@@compat-stdout"; base64 /tmp/.compat.out
echo "@@compat-stderr"; base64 /tmp/.compat.err
echo "@@compat-status $s"`

var statusLine = regexp.MustCompile(`(?m)^@@compat-status (\d+)\r?$`)

// runGuest boots a node that runs argv through guestScript.
func runGuest(ctx context.Context, e *env, nf *nodeFlags, files []rootfs.Add, argv []string) (compat.GuestResult, error) {
	var g compat.GuestResult
	spec := rootfs.Spec{Adds: files, Run: append([]string{"/bin/sh", "-c", guestScript, "sh"}, argv...)}
	quietEnv := &env{stdin: e.stdin, stdout: e.stdout, stderr: &bytes.Buffer{}, executable: e.executable}
	addBusyboxLinks(quietEnv, &spec)
	dir, err := os.MkdirTemp("", "dunix-compat-node")
	if err != nil {
		return g, err
	}
	defer os.RemoveAll(dir)
	root, err := writeRoot(dir, spec)
	if err != nil {
		return g, err
	}
	cfg, err := nf.config(e, []string{"dunix.quiet=1", "dunix.enosys=1"})
	if err != nil {
		return g, err
	}
	cfg.Initrd = root
	var console, kernel bytes.Buffer
	out := &consoleFilter{out: &console, errw: &kernel, stripCR: true}
	r := &nodeRun{flags: nf, cfg: cfg, out: out, quiet: true}
	res, code, ok := r.boot(ctx, quietEnv)
	out.flush()
	for _, l := range strings.Split(kernel.String(), "\n") {
		if l != "" {
			g.Kernel = append(g.Kernel, l)
		}
	}
	if !ok {
		return g, fmt.Errorf("the node failed (exit %d): %s%s", code, strings.TrimSpace(quietEnv.stderr.(*bytes.Buffer).String()), consoleTail(console.String()))
	}
	if res.ExitStatus() != 0 {
		return g, fmt.Errorf("the node's shell exited with status %d%s", res.ExitStatus(), consoleTail(console.String()))
	}
	text := console.String()
	m := statusLine.FindStringSubmatchIndex(text)
	i := strings.Index(text, "@@compat-stdout\n")
	j := strings.Index(text, "@@compat-stderr\n")
	if m == nil || i < 0 || j < i || m[0] < j {
		return g, fmt.Errorf("no result from the node%s", consoleTail(text))
	}
	g.Status, _ = strconv.Atoi(text[m[2]:m[3]])
	if g.Stdout, err = decode64(text[i+len("@@compat-stdout\n") : j]); err != nil {
		return g, fmt.Errorf("standard output: %v", err)
	}
	if g.Stderr, err = decode64(text[j+len("@@compat-stderr\n") : m[0]]); err != nil {
		return g, fmt.Errorf("standard error: %v", err)
	}
	return g, nil
}

func decode64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}

// consoleTail quotes the end of a console for an error message.
func consoleTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	ls := strings.Split(s, "\n")
	if len(ls) > 15 {
		ls = ls[len(ls)-15:]
	}
	return "; console ends:\n  " + strings.Join(ls, "\n  ")
}
