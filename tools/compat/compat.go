// Package compat runs the compatibility corpus: unmodified static Linux
// programs (Debian's busybox-static and bash-static, a static Go program,
// C edge-case programs built with musl-gcc) on a dunix node, and judges
// each run: a C program passes when it exits 0 (its checks print TAP), a
// script or the Go program when its output and exit status are those of
// the same run on this host. Every run also lists the system calls the
// kernel answered ENOSYS and the features it reported missing.
//
// The node is abstracted as a Guest, so the corpus, the judging and the
// report are plain Go; `dunix compat` supplies a Guest that boots QEMU.
package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"dunix/tools/rootfs"
)

// Kinds of programs.
const (
	// TAP programs pass when they exit 0; their output lists checks.
	TAP = "tap"
	// Compare programs pass when their standard output and exit status
	// match the host's run of the same program.
	Compare = "compare"
)

// Program is one entry of the corpus.
type Program struct {
	Name string
	Kind string
	// Files go into the node's root besides busybox (and its applets).
	Files []rootfs.Add
	// Argv runs the program in the node (cwd /tmp, stdin /dev/null).
	Argv []string
	// Host runs the reference on this host (Compare programs), in dir.
	Host func(ctx context.Context, dir string) *exec.Cmd
}

// GuestResult is what a run in a node gave.
type GuestResult struct {
	Stdout, Stderr []byte
	Status         int      // exit status (128+n for signal n)
	Kernel         []string // lines the kernel printed ("dunix: ...")
}

// Guest runs argv in a fresh node whose root holds files (and busybox),
// with stdout and stderr captured separately.
type Guest func(ctx context.Context, files []rootfs.Add, argv []string) (GuestResult, error)

// Result is the verdict on one program.
type Result struct {
	Program  string
	Pass     bool
	Why      string // why it failed
	Time     time.Duration
	ENOSYS   []string // system calls answered ENOSYS, by name
	Features []string // unimplemented features asked for
	Guest    GuestResult
	Diff     string // first differences from the host's output (Compare)
}

// Corpus prepares the programs of the corpus from the repository at repo
// (its tests directory), building what needs building into work. Tools
// missing on this host are errors that say what to install.
func Corpus(ctx context.Context, repo, work string) ([]Program, error) {
	// Host runs happen in other directories: every path must be absolute.
	repo, err := filepath.Abs(repo)
	if err != nil {
		return nil, err
	}
	if work, err = filepath.Abs(work); err != nil {
		return nil, err
	}
	tests := filepath.Join(repo, "tests")
	busybox, err := exec.LookPath("busybox")
	if err == nil {
		busybox, err = filepath.Abs(busybox)
	}
	if err != nil {
		return nil, errors.New("compat: busybox not found (apt-get install busybox-static)")
	}
	bash, err := exec.LookPath("bash-static")
	if err == nil {
		bash, err = filepath.Abs(bash)
	}
	if err != nil {
		return nil, errors.New("compat: bash-static not found (apt-get install bash-static)")
	}
	cc, err := exec.LookPath("musl-gcc")
	if err != nil {
		return nil, errors.New("compat: musl-gcc not found (apt-get install musl-tools)")
	}
	appletDir := filepath.Join(work, "applets")
	if err := os.MkdirAll(appletDir, 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, busybox, "--install", "-s", appletDir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compat: busybox --install: %v: %s", err, out)
	}
	hostEnv := []string{"PATH=" + appletDir + ":/usr/local/bin:/usr/bin:/bin", "HOME=/root", "TERM=dumb"}

	var progs []Program
	// C programs: TAP, built with musl-gcc.
	cs, _ := filepath.Glob(filepath.Join(tests, "posix", "*.c"))
	sort.Strings(cs)
	for _, c := range cs {
		name := strings.TrimSuffix(filepath.Base(c), ".c")
		bin := filepath.Join(work, "posix-"+name)
		cmd := exec.CommandContext(ctx, cc, "-static", "-O2", "-Wall", "-Werror", "-pthread", "-o", bin, c)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("compat: %s: %v\n%s", c, err, out)
		}
		guest := "/opt/compat/" + name
		progs = append(progs, Program{Name: "posix/" + name, Kind: TAP,
			Files: []rootfs.Add{{Host: bin, Guest: guest}}, Argv: []string{guest}})
	}

	// The busybox tour, compared with busybox sh on the host.
	tour := filepath.Join(tests, "busybox", "tour.sh")
	progs = append(progs, Program{Name: "busybox/tour", Kind: Compare,
		Files: []rootfs.Add{{Host: tour, Guest: "/opt/compat/tour.sh"}},
		Argv:  []string{"/bin/sh", "/opt/compat/tour.sh"},
		Host: func(ctx context.Context, dir string) *exec.Cmd {
			c := exec.CommandContext(ctx, busybox, "sh", tour)
			c.Dir, c.Env = dir, hostEnv
			return c
		}})

	// The bash script, with bash-static on both sides.
	script := filepath.Join(tests, "bash", "script.sh")
	progs = append(progs, Program{Name: "bash/script", Kind: Compare,
		Files: []rootfs.Add{{Host: bash, Guest: "/bin/bash"}, {Host: script, Guest: "/opt/compat/script.sh"}},
		Argv:  []string{"/bin/bash", "/opt/compat/script.sh"},
		Host: func(ctx context.Context, dir string) *exec.Cmd {
			c := exec.CommandContext(ctx, bash, script)
			c.Dir, c.Env = dir, hostEnv
			return c
		}})

	// The static Go program.
	goBin := filepath.Join(work, "goprog")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", goBin, "./tests/goprog")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compat: building tests/goprog: %v\n%s", err, out)
	}
	progs = append(progs, Program{Name: "go/goprog", Kind: Compare,
		Files: []rootfs.Add{{Host: goBin, Guest: "/opt/compat/goprog"}},
		Argv:  []string{"/opt/compat/goprog"},
		Host: func(ctx context.Context, dir string) *exec.Cmd {
			c := exec.CommandContext(ctx, goBin)
			c.Dir, c.Env = dir, hostEnv
			return c
		}})
	return progs, nil
}

// Kernel report lines (proc/syscall.go prints them).
var (
	enosysLine  = regexp.MustCompile(`called unimplemented system call \d+ \(([^)]*)\): ENOSYS`)
	featureLine = regexp.MustCompile(`used an unimplemented feature: (.*)$`)
)

// Run runs one program in guest (and on the host for Compare programs)
// and judges it.
func Run(ctx context.Context, p Program, guest Guest) Result {
	r := Result{Program: p.Name}
	start := time.Now()
	g, err := guest(ctx, p.Files, p.Argv)
	r.Time = time.Since(start)
	r.Guest = g
	seen := map[string]bool{}
	// A binary of the corpus answers for the lines naming it; a script
	// for every process but the node's wrapper shell (pid 1). The
	// wrapper's helpers (its child before the exec, base64) are not the
	// program.
	own := ""
	for _, f := range p.Files {
		if len(p.Argv) > 0 && f.Guest == p.Argv[0] {
			own = "dunix: " + f.Guest + " (pid "
		}
	}
	for _, l := range g.Kernel {
		if strings.Contains(l, "(pid 1)") || own != "" && !strings.HasPrefix(l, own) {
			continue
		}
		if m := enosysLine.FindStringSubmatch(l); m != nil && !seen[m[1]] {
			seen[m[1]] = true
			r.ENOSYS = append(r.ENOSYS, m[1])
		}
		if m := featureLine.FindStringSubmatch(l); m != nil && !seen["f:"+m[1]] {
			seen["f:"+m[1]] = true
			r.Features = append(r.Features, m[1])
		}
	}
	sort.Strings(r.ENOSYS)
	sort.Strings(r.Features)
	if err != nil {
		r.Why = err.Error()
		return r
	}
	switch p.Kind {
	case TAP:
		r.Pass = g.Status == 0
		if !r.Pass {
			r.Why = fmt.Sprintf("exit status %d", g.Status)
			if n := failedChecks(g.Stdout); n != "" {
				r.Why += "; " + n
			}
		}
	case Compare:
		dir, err := os.MkdirTemp("", "dunix-compat-host")
		if err != nil {
			r.Why = err.Error()
			return r
		}
		defer os.RemoveAll(dir)
		var out, errb bytes.Buffer
		c := p.Host(ctx, dir)
		c.Stdin, c.Stdout, c.Stderr = nil, &out, &errb
		hostStatus := 0
		if err := c.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				r.Why = fmt.Sprintf("host run: %v", err)
				return r
			}
			hostStatus = ee.ExitCode()
		}
		switch {
		case hostStatus != 0 && out.Len() == 0:
			r.Why = fmt.Sprintf("the host's reference run failed (status %d): %s", hostStatus, strings.TrimSpace(errb.String()))
		case !bytes.Equal(out.Bytes(), g.Stdout):
			r.Why = "output differs from the host's"
			r.Diff = Diff(out.Bytes(), g.Stdout, 3)
		case hostStatus != g.Status:
			r.Why = fmt.Sprintf("exit status %d, the host's %d", g.Status, hostStatus)
		default:
			r.Pass = true
		}
	default:
		r.Why = "unknown kind " + p.Kind
	}
	return r
}

// failedChecks lists the "not ok" lines of TAP output (at most a few).
func failedChecks(out []byte) string {
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "not ok") {
			bad = append(bad, strings.TrimSpace(l))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("(%d more)", len(bad)-5))
	}
	return strings.Join(bad, "; ")
}

// Diff shows where got first departs from want: the differing lines with
// context lines around them, up to 20 lines.
func Diff(want, got []byte, context int) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	if i == len(w) && i == len(g) {
		return ""
	}
	var b strings.Builder
	from := max(0, i-context)
	for k := from; k < i; k++ {
		fmt.Fprintf(&b, "  %s\n", w[k])
	}
	for k := i; k < min(len(w), i+10); k++ {
		fmt.Fprintf(&b, "- %s\n", w[k])
	}
	for k := i; k < min(len(g), i+10); k++ {
		fmt.Fprintf(&b, "+ %s\n", g[k])
	}
	return fmt.Sprintf("line %d:\n%s", i+1, b.String())
}

// Report prints the table of results and returns whether all passed.
func Report(w io.Writer, rs []Result, verbose bool) bool {
	all := true
	fmt.Fprintf(w, "%-16s %-5s %8s  %s\n", "PROGRAM", "", "TIME", "ENOSYS / missing features")
	for _, r := range rs {
		verdict := "pass"
		if !r.Pass {
			verdict, all = "FAIL", false
		}
		missing := append(append([]string(nil), r.ENOSYS...), prefixed("feature: ", r.Features)...)
		m := "-"
		if len(missing) > 0 {
			m = strings.Join(missing, ", ")
		}
		fmt.Fprintf(w, "%-16s %-5s %7.1fs  %s\n", r.Program, verdict, r.Time.Seconds(), m)
		if !r.Pass {
			fmt.Fprintf(w, "    %s\n", r.Why)
			if r.Diff != "" {
				fmt.Fprint(w, indent(r.Diff, "    "))
			}
			if verbose {
				if len(r.Guest.Stderr) > 0 {
					fmt.Fprintf(w, "    stderr:\n%s", indent(tail(string(r.Guest.Stderr), 20), "      "))
				}
				for _, l := range r.Guest.Kernel {
					fmt.Fprintf(w, "    %s\n", l)
				}
			}
		}
	}
	pass := 0
	for _, r := range rs {
		if r.Pass {
			pass++
		}
	}
	fmt.Fprintf(w, "%d of %d programs pass\n", pass, len(rs))
	return all
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

func indent(s, by string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(by + l)
		}
	}
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n") + "\n"
}
