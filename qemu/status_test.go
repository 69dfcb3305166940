package qemu

import (
	"strings"
	"syscall"
	"testing"
)

func TestDecodeStatus(t *testing.T) {
	for _, tc := range []struct {
		lineSeen   bool
		lineStatus int
		exitCode   int
		status     int
		src        StatusSource
	}{
		{true, 0, 1, 0, StatusFromLine},
		{true, 3, 7, 3, StatusFromLine},
		{true, 5, 3, 5, StatusFromLine},     // the line wins over the exit code
		{true, 200, 0, 200, StatusFromLine}, // even when QEMU exit code got lost
		{true, 9, -1, 9, StatusFromLine},
		{false, 0, 1, 0, StatusFromExit},
		{false, 0, 7, 3, StatusFromExit},
		{false, 0, 255, 127, StatusFromExit},   // status 255: (255<<1|1)&0xff
		{false, 0, 0, NoStatus, StatusMissing}, // triple fault, ACPI off
		{false, 0, 2, NoStatus, StatusMissing},
		{false, 0, -1, NoStatus, StatusMissing}, // killed by a signal
	} {
		s, src := DecodeStatus(tc.lineSeen, tc.lineStatus, tc.exitCode)
		if s != tc.status || src != tc.src {
			t.Errorf("DecodeStatus(%v, %d, %d) = %d, %v; want %d, %v", tc.lineSeen, tc.lineStatus, tc.exitCode, s, src, tc.status, tc.src)
		}
	}
}

func TestParsePowerOff(t *testing.T) {
	for _, tc := range []struct {
		line string
		n    int
		ok   bool
	}{
		{"dunix: power-off status=0", 0, true},
		{"dunix: power-off status=255", 255, true},
		{"\r\x00dunix: power-off status=17 ", 17, true},
		{"dunix: power-off status=256", 0, false},
		{"dunix: power-off status=-1", 0, false},
		{"dunix: power-off status=", 0, false},
		{"dunix: power-off status=x", 0, false},
		{"xdunix: power-off status=1", 0, false},
		{"dunix: ready", 0, false},
	} {
		n, ok := ParsePowerOff(tc.line)
		if n != tc.n || ok != tc.ok {
			t.Errorf("ParsePowerOff(%q) = %d, %v; want %d, %v", tc.line, n, ok, tc.n, tc.ok)
		}
	}
}

func TestConsoleLines(t *testing.T) {
	if !IsReady("dunix: ready (2 CPUs, 256 MiB)") || !IsReady("dunix: ready") || IsReady("dunix: not ready") {
		t.Error("IsReady")
	}
	if !IsProbeOK("dunix: probe ok") || !IsProbeOK("dunix: probe ok \r") || IsProbeOK("dunix: probe okay") {
		t.Error("IsProbeOK")
	}
	for _, tc := range []struct {
		line       string
		pass, fail int
		ok         bool
	}{
		{"selftest: 12 passed, 0 failed", 12, 0, true},
		{"selftest: 3 passed, 2 failed ", 3, 2, true},
		{"selftest: 3 passed", 0, 0, false},
		{"selftest: PASS x", 0, 0, false},
		{"selftest: -1 passed, 0 failed", 0, 0, false},
	} {
		p, f, ok := ParseSelftestSummary(tc.line)
		if p != tc.pass || f != tc.fail || ok != tc.ok {
			t.Errorf("ParseSelftestSummary(%q) = %d, %d, %v", tc.line, p, f, ok)
		}
	}
	for _, tc := range []struct{ line, kind, name string }{
		{"selftest: PASS mm.alloc 12 pages", "PASS", "mm.alloc"},
		{"selftest: FAIL sched: deadlock", "FAIL", "sched"},
		{"selftest: 1 passed, 0 failed", "", ""},
		{"hello", "", ""},
	} {
		if k, n := SelftestLine(tc.line); k != tc.kind || n != tc.name {
			t.Errorf("SelftestLine(%q) = %q, %q", tc.line, k, n)
		}
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want string
		exit int
	}{
		{Result{Status: 3, Source: StatusFromLine, ExitCode: 7}, "status 3 (from the power-off line)", 3},
		{Result{Status: 3, Source: StatusFromExit, ExitCode: 7}, "QEMU's exit code 7", 3},
		{Result{Status: NoStatus, Source: StatusMissing}, "triple fault", NoStatus},
		{Result{Status: NoStatus, Source: StatusMissing, ExitCode: -1, Signal: syscall.SIGKILL}, "killed by SIGKILL", NoStatus},
	} {
		if got := tc.r.Explain(); !strings.Contains(got, tc.want) {
			t.Errorf("Explain() = %q, want it to contain %q", got, tc.want)
		}
		if got := tc.r.ExitStatus(); got != tc.exit {
			t.Errorf("ExitStatus() = %d, want %d", got, tc.exit)
		}
	}
}

func TestFirstLine(t *testing.T) {
	if got := FirstLine("\n  qemu-system-x86_64: -M foo: unsupported machine type\nUse -machine help\n"); got != "-M foo: unsupported machine type" {
		t.Errorf("FirstLine = %q", got)
	}
}
