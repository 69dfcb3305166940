package queue

import (
	"os"
	"os/exec"
	"testing"
)

// TestStackProbe links testdata/stackprobe, whose probe leaves the kernel
// callerHeadroom bytes (see there) of the linker's nosplit stack budget
// and calls every entry point: the link fails if a change made the
// package's deepest nosplit call chain too long. Run it without -race
// (the limit is larger there) — it builds a plain binary either way.
func TestStackProbe(t *testing.T) {
	checkStackProbe(t)
}

func checkStackProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed for this check: %v", err) // make test has it
	}
	out, err := exec.Command(gocmd, "build", "-o", os.DevNull, "./testdata/stackprobe").CombinedOutput()
	if err != nil {
		t.Fatalf("stack probe: %v\n%s", err, out)
	}
}
