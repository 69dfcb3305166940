//go:build acpistackprobe

package acpi

import (
	"errors"
	"testing"
)

// This file is compiled only by TestStackBudget (go test -c -tags
// acpistackprobe): the probes below occupy about callerHeadroom bytes of
// nosplit stack and then call the entry points, so if the package's deepest
// nosplit call chain grows past 792-callerHeadroom bytes, linking fails with
// "nosplit stack over 792 byte limit". It is kept out of ordinary test
// builds because -race and fuzzing instrumentation enlarge every frame.

// probePad is the size of the probes' local array; the rest of
// callerHeadroom is their frame overhead.
const probePad = callerHeadroom - 48

//go:nosplit
func probeParse(mem Mem, rsdp uint64, t *Tables) (byte, error) {
	var pad [probePad]byte
	pad[uint(rsdp)%probePad] = 1
	err := Parse(mem, rsdp, t)
	return pad[uint(rsdp>>3)%probePad], err
}

//go:nosplit
func probeFindRSDP(mem Mem, hint uint64) (byte, error) {
	var pad [probePad]byte
	pad[uint(hint)%probePad] = 1
	_, err := FindRSDP(mem, hint)
	return pad[uint(hint>>3)%probePad], err
}

func TestStackProbes(t *testing.T) {
	im, a := qemuQ35().standard()
	var tb Tables
	if _, err := probeParse(im.mem, a.rsdp, &tb); err != nil || !tb.S5.Found {
		t.Fatalf("probeParse: %v", err)
	}
	if _, err := probeFindRSDP(lowMem(0).mem, 0); !errors.Is(err, ErrNoRSDP) {
		t.Fatalf("probeFindRSDP: %v", err)
	}
}
