// Command stackprobe is built, never run, by TestStackProbe. Its probe
// function occupies about callerHeadroom bytes of nosplit stack and then
// calls every entry point of package frames, so the linker's check of
// nosplit call chains (792 bytes on linux/amd64) fails if the package's
// deepest chain is longer than 792-callerHeadroom bytes. It is a separate
// program so that instrumented builds of the package's tests (fuzzing,
// coverage) do not trip over it.
package main

import (
	"os"

	"dunix/kernel/mm/frames"
)

// callerHeadroom is the nosplit stack, in bytes, that package frames
// promises to leave to the kernel code calling it.
const callerHeadroom = 600

// probePad is the size of the probe's local array; the rest of
// callerHeadroom is its frame overhead.
const probePad = callerHeadroom - 96

var (
	alloc frames.Allocator
	bits  [4]uint64
)

//go:nosplit
func probe(a *frames.Allocator, bits []uint64, x uint64) byte {
	var pad [probePad]byte
	pad[x%probePad] = 1
	_ = a.Init(bits, x)
	_ = a.AddFree(x, x)
	_ = a.Reserve(x, x)
	p, _ := a.Alloc()
	q, _ := a.AllocRange(x, p)
	_ = a.Free(q)
	_ = a.FreeRange(x, q)
	_ = a.State(x)
	_ = a.Total() + a.FreeCount() + a.Used() + a.Frames()
	_ = frames.BitmapWords(x)
	return pad[(x>>3)%probePad]
}

func main() {
	os.Exit(int(probe(&alloc, bits[:], uint64(len(os.Args)))))
}
