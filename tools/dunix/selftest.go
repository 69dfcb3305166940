package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"dunix/qemu"
)

func init() {
	register(&command{
		name:    "selftest",
		args:    "[-- KERNEL-CMDLINE...]",
		summary: "boot one node that runs the kernel's self-tests",
		help: `
Selftest boots one node with dunix.selftest=1 appended to the kernel command
line and prints its console. The kernel runs its self-tests, prints
"selftest: PASS|FAIL ..." lines and a "selftest: P passed, F failed" summary,
and powers off. Selftest exits 0 only when the status is 0 and the summary
says 0 failed; otherwise with the kernel's status, 1 if that is 0, or 125
when the machine stopped without a status.`,
		flags: func(fs *flag.FlagSet) runFunc {
			var nf nodeFlags
			nf.register(fs, 10*time.Minute)
			return func(ctx context.Context, e *env, args []string) int {
				cfg, err := nf.config(e, append(args, qemu.SelftestArg))
				if err != nil {
					return failed(e, err)
				}
				var t selftestTally
				r := &nodeRun{flags: &nf, cfg: cfg, onLine: t.line}
				res, code, ok := r.boot(ctx, e)
				return t.verdict(e, res, code, ok)
			}
		},
	})
}

// selftestTally follows the self-test lines.
type selftestTally struct {
	mu               sync.Mutex
	pass             int
	fail             []string
	summary          bool
	sumPass, sumFail int
}

func (t *selftestTally) line(_ time.Duration, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, f, ok := qemu.ParseSelftestSummary(line); ok {
		t.summary, t.sumPass, t.sumFail = true, p, f
		return
	}
	switch kind, name := qemu.SelftestLine(line); kind {
	case "PASS":
		t.pass++
	case "FAIL":
		t.fail = append(t.fail, name)
	}
}

// verdict reports the self-test outcome and returns the exit code.
func (t *selftestTally) verdict(e *env, res qemu.Result, code int, booted bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var problems []string
	switch {
	case !t.summary:
		problems = append(problems, "no summary line")
	case t.sumFail > 0:
		problems = append(problems, fmt.Sprintf("%d failed", t.sumFail))
	}
	if len(t.fail) > 0 {
		problems = append(problems, "FAIL: "+strings.Join(t.fail, ", "))
	}
	if t.summary && t.sumFail == 0 && len(t.fail) > 0 {
		problems = append(problems, "the summary says 0 failed")
	}
	if booted && res.Status != 0 {
		problems = append(problems, fmt.Sprintf("status %d", res.Status))
	}
	if !booted {
		problems = append(problems, "no status")
	}
	counts := fmt.Sprintf("%d passed, %d failed", t.pass, len(t.fail))
	if t.summary {
		counts = fmt.Sprintf("%d passed, %d failed", t.sumPass, t.sumFail)
	}
	if len(problems) == 0 {
		fmt.Fprintf(e.stderr, "dunix: selftest ok: %s (%s under %s)\n", counts, at(res.Exit), res.Accel)
		return 0
	}
	fmt.Fprintf(e.stderr, "dunix: selftest FAILED: %s; %s\n", counts, strings.Join(problems, "; "))
	switch {
	case !booted || res.Source == qemu.StatusMissing:
		return exitNoStatus
	case code != 0:
		return code
	}
	return 1
}
