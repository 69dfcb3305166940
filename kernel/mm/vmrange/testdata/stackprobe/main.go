// Command stackprobe is built, never run, by TestStackProbe. Its probe
// function occupies about callerHeadroom bytes of nosplit stack and then
// calls every entry point of package vmrange, so the linker's check of
// nosplit call chains (792 bytes on linux/amd64) fails if the package's
// deepest chain is longer than 792-callerHeadroom bytes. It is a separate
// program so that instrumented builds of the package's tests (fuzzing,
// coverage) do not trip over it.
package main

import (
	"os"

	"dunix/kernel/mm/vmrange"
)

// callerHeadroom is the nosplit stack, in bytes, that package vmrange
// promises to leave to the kernel code calling it.
const callerHeadroom = 400

// probePad is the size of the probe's local array; the rest of
// callerHeadroom is its frame overhead.
const probePad = callerHeadroom - 96

var (
	set     vmrange.Set
	storage [4]vmrange.Range
)

//go:nosplit
func probe(s *vmrange.Set, storage []vmrange.Range, x uint64) byte {
	var pad [probePad]byte
	pad[x%probePad] = 1
	s.Init(storage)
	_ = s.Insert(vmrange.Range{Start: x, End: 2 * x})
	_, _ = s.Protect(x, 2*x, uint32(x))
	_, _ = s.Remove(x, 2*x)
	_, _ = s.Find(x)
	_ = s.Covered(x, x)
	_, _ = s.FindGap(x, x, x, x, x)
	_ = s.At(int(x)).Len() + uint64(s.Index(x)+s.Len()+s.Cap())
	s.Reset()
	return pad[(x>>3)%probePad]
}

func main() {
	os.Exit(int(probe(&set, storage[:], uint64(len(os.Args))*vmrange.PageSize)))
}
