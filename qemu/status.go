package qemu

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Console lines of the kernel's protocol (see the package comment).
const (
	ReadyPrefix    = "dunix: ready"
	ProbeOKLine    = "dunix: probe ok"
	PowerOffPrefix = "dunix: power-off status="
	ProbeCmdline   = "dunix.probe=1"
	SelftestArg    = "dunix.selftest=1"
)

// NoStatus is the exit code commands return when the machine stopped
// without an exit status (QEMU exited 0 or was killed: a triple fault with
// -no-reboot, an ACPI power-off, a crash, a timeout).
const NoStatus = 125

// StatusSource tells where a Result's status came from.
type StatusSource int

// Status sources, from most to least trusted.
const (
	StatusMissing  StatusSource = iota // the machine stopped without a status
	StatusFromLine                     // the `dunix: power-off status=N` line
	StatusFromExit                     // QEMU's odd exit code (N<<1)|1
)

// String returns a short description of s.
func (s StatusSource) String() string {
	switch s {
	case StatusFromLine:
		return "power-off line"
	case StatusFromExit:
		return "QEMU exit code"
	case StatusMissing:
		return "none"
	}
	return fmt.Sprintf("StatusSource(%d)", int(s))
}

// DecodeStatus applies the status rule: the power-off line wins when it was
// seen (lineSeen, lineStatus); otherwise an odd QEMU exit code is
// isa-debug-exit's (status<<1)|1, truncated to 8 bits; otherwise (exit code
// 0, even, or -1 for "killed by a signal") there is no status and
// DecodeStatus returns (NoStatus, StatusMissing).
func DecodeStatus(lineSeen bool, lineStatus int, exitCode int) (int, StatusSource) {
	switch {
	case lineSeen:
		return lineStatus, StatusFromLine
	case exitCode > 0 && exitCode%2 == 1:
		return (exitCode - 1) / 2, StatusFromExit
	}
	return NoStatus, StatusMissing
}

// consoleText returns line without the leading blanks, carriage returns and
// NULs a UART line may start with.
func consoleText(line string) string {
	return strings.TrimLeft(line, " \t\r\x00")
}

// ParsePowerOff parses a `dunix: power-off status=N` line (N in 0..255).
func ParsePowerOff(line string) (status int, ok bool) {
	rest, found := strings.CutPrefix(consoleText(line), PowerOffPrefix)
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(rest))
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}

// IsReady reports whether line is the kernel's `dunix: ready` line.
func IsReady(line string) bool {
	return strings.HasPrefix(consoleText(line), ReadyPrefix)
}

// IsProbeOK reports whether line is the kernel's `dunix: probe ok` line.
func IsProbeOK(line string) bool {
	return strings.TrimSpace(consoleText(line)) == ProbeOKLine
}

var summaryRE = regexp.MustCompile(`^selftest: ([0-9]+) passed, ([0-9]+) failed$`)

// ParseSelftestSummary parses the `selftest: P passed, F failed` line.
func ParseSelftestSummary(line string) (passed, failed int, ok bool) {
	m := summaryRE.FindStringSubmatch(strings.TrimSpace(consoleText(line)))
	if m == nil {
		return 0, 0, false
	}
	passed, err1 := strconv.Atoi(m[1])
	failed, err2 := strconv.Atoi(m[2])
	return passed, failed, err1 == nil && err2 == nil
}

// SelftestLine classifies a `selftest: PASS name detail` or
// `selftest: FAIL name: reason` line; kind is "PASS", "FAIL" or "".
func SelftestLine(line string) (kind, name string) {
	rest, ok := strings.CutPrefix(consoleText(line), "selftest: ")
	if !ok {
		return "", ""
	}
	kind, rest, _ = strings.Cut(rest, " ")
	if kind != "PASS" && kind != "FAIL" {
		return "", ""
	}
	name, _, _ = strings.Cut(rest, " ")
	return kind, strings.TrimSuffix(name, ":")
}
