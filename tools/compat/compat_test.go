package compat

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"dunix/tools/rootfs"
)

func fakeGuest(r GuestResult, err error) Guest {
	return func(context.Context, []rootfs.Add, []string) (GuestResult, error) { return r, err }
}

func TestRunTAP(t *testing.T) {
	kernel := []string{
		"dunix: /opt/compat/x (pid 2) called unimplemented system call 334 (rseq): ENOSYS",
		"dunix: /bin/sh (pid 1) called unimplemented system call 41 (socket): ENOSYS",
		"dunix: /opt/compat/x (pid 3) used an unimplemented feature: prctl operation 99",
		"dunix: /opt/compat/x (pid 4) called unimplemented system call 334 (rseq): ENOSYS",
	}
	r := Run(context.Background(), Program{Name: "p", Kind: TAP, Argv: []string{"/opt/compat/x"},
		Files: []rootfs.Add{{Host: "x", Guest: "/opt/compat/x"}}},
		fakeGuest(GuestResult{Stdout: []byte("ok 1 - a\nnot ok 2 - b\n"), Status: 1, Kernel: kernel}, nil))
	if r.Pass || !strings.Contains(r.Why, "exit status 1") || !strings.Contains(r.Why, "not ok 2 - b") {
		t.Fatalf("failing TAP program judged %+v", r)
	}
	if strings.Join(r.ENOSYS, ",") != "rseq" || strings.Join(r.Features, ",") != "prctl operation 99" {
		t.Fatalf("ENOSYS %v features %v (the wrapper shell, pid 1, does not count)", r.ENOSYS, r.Features)
	}
	r = Run(context.Background(), Program{Name: "p", Kind: TAP}, fakeGuest(GuestResult{Status: 0}, nil))
	if !r.Pass {
		t.Fatalf("passing TAP program judged %+v", r)
	}
	r = Run(context.Background(), Program{Name: "p", Kind: TAP}, fakeGuest(GuestResult{}, errors.New("node died")))
	if r.Pass || r.Why != "node died" {
		t.Fatalf("a node failure judged %+v", r)
	}
}

func TestRunCompare(t *testing.T) {
	host := func(out string, status int) func(context.Context, string) *exec.Cmd {
		return func(ctx context.Context, dir string) *exec.Cmd {
			return exec.CommandContext(ctx, "sh", "-c", `printf "$0"; exit $1`, out, string(rune('0'+status)))
		}
	}
	p := Program{Name: "c", Kind: Compare, Host: host(`a\nb\n`, 0)}
	if r := Run(context.Background(), p, fakeGuest(GuestResult{Stdout: []byte("a\nb\n")}, nil)); !r.Pass {
		t.Fatalf("equal output judged %+v", r)
	}
	r := Run(context.Background(), p, fakeGuest(GuestResult{Stdout: []byte("a\nX\n")}, nil))
	if r.Pass || !strings.Contains(r.Diff, "- b") || !strings.Contains(r.Diff, "+ X") {
		t.Fatalf("different output judged %+v", r)
	}
	p.Host = host(`a\n`, 3)
	if r := Run(context.Background(), p, fakeGuest(GuestResult{Stdout: []byte("a\n"), Status: 0}, nil)); r.Pass || !strings.Contains(r.Why, "host's 3") {
		t.Fatalf("different status judged %+v", r)
	}
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	all := Report(&b, []Result{{Program: "a", Pass: true}, {Program: "b", Why: "exit status 2", ENOSYS: []string{"rseq"}}}, false)
	if all || !strings.Contains(b.String(), "b                FAIL") || !strings.Contains(b.String(), "1 of 2 programs pass") {
		t.Fatalf("report %v:\n%s", all, b.String())
	}
}

// For a program that is not run by sh, lines of /bin/sh processes (the
// wrapper's child before it execs the program) are not the program's.
func TestENOSYSOfTheProgramOnly(t *testing.T) {
	kernel := []string{
		"dunix: /bin/sh (pid 2) called unimplemented system call 334 (rseq): ENOSYS",
		"dunix: /opt/compat/p (pid 2) called unimplemented system call 434 (pidfd_open): ENOSYS",
	}
	r := Run(context.Background(), Program{Name: "p", Kind: TAP, Argv: []string{"/opt/compat/p"},
		Files: []rootfs.Add{{Host: "p", Guest: "/opt/compat/p"}}}, fakeGuest(GuestResult{Kernel: kernel}, nil))
	if strings.Join(r.ENOSYS, ",") != "pidfd_open" {
		t.Fatalf("ENOSYS %v, want pidfd_open only", r.ENOSYS)
	}
	r = Run(context.Background(), Program{Name: "s", Kind: TAP, Argv: []string{"/bin/sh", "x.sh"}},
		fakeGuest(GuestResult{Kernel: kernel}, nil))
	if strings.Join(r.ENOSYS, ",") != "pidfd_open,rseq" {
		t.Fatalf("ENOSYS %v of a shell script, want both", r.ENOSYS)
	}
}
