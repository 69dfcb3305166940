package acpi

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// callerHeadroom is the nosplit stack, in bytes, that this package promises
// to leave to the kernel code calling it: the linker allows nosplit call
// chains of 792 bytes on linux/amd64 and the package's deepest chain must
// stay within 792-callerHeadroom (checked by TestStackBudget). The call
// through the Mem function value is not counted by the linker (it assumes
// an indirect callee checks its own stack), so the kernel's Mem must be
// small and //go:nosplit.
const callerHeadroom = 360

// goCommand returns the go command. The test is skipped only in -short
// mode (make test runs it); a missing go command is a failure.
func goCommand(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go command not found: the stack budget cannot be checked")
	}
	return gocmd
}

// TestStackBudget links the test binary with the stack probes of
// stackprobe_test.go, without -race or fuzzing instrumentation.
func TestStackBudget(t *testing.T) {
	cmd := exec.Command(goCommand(t), "test", "-c", "-o", os.DevNull, "-tags", "acpistackprobe", ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("linking the stack probes failed: %v\n%s", err, out)
	}
}

// TestNoBoundsChecks compiles the package with the compiler's bounds-check
// report and requires that none remain: every index is proven in range, so
// no panic path (and no runtime.panicBounds frame on the nosplit stack)
// exists.
func TestNoBoundsChecks(t *testing.T) {
	cmd := exec.Command(goCommand(t), "build", "-o", os.DevNull, "-gcflags=-d=ssa/check_bce/debug=1", ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Found Is") {
		t.Errorf("bounds checks remain:\n%s", out)
	}
}
