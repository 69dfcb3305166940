// Command stackprobe is built, never run, by TestStackProbe. Its probe
// function occupies about callerHeadroom bytes of nosplit stack and then
// calls every entry point of package queue, so the linker's check of
// nosplit call chains (792 bytes on linux/amd64) fails if the package's
// deepest chain is longer than 792-callerHeadroom bytes. It is a separate
// program so that instrumented builds of the package's tests (fuzzing,
// coverage) do not trip over it.
package main

import (
	"os"

	"dunix/kernel/sched/queue"
)

// callerHeadroom is the nosplit stack, in bytes, that package queue
// promises to leave to the kernel code calling it.
const callerHeadroom = 540

// probePad is the size of the probe's local array; the rest of
// callerHeadroom is its frame overhead.
const probePad = callerHeadroom - 96

var (
	heap    queue.Heap
	entries [4]queue.Entry
	pos     [4]int32
	ring    queue.Ring
	slots   [4]int32
	out     [2]int32
)

//go:nosplit
func probe(h *queue.Heap, r *queue.Ring, x int32) byte {
	var pad [probePad]byte
	pad[uint(x)%probePad] = 1
	h.Init(entries[:], pos[:])
	_ = h.Push(x, uint64(x))
	_ = h.Update(x, 0)
	_, _, _ = h.Min()
	_, _ = h.Key(x)
	_ = h.Contains(x)
	_ = h.Remove(x)
	_, _, _ = h.PopMin()
	_ = h.PopExpired(uint64(x), out[:])
	_ = h.Len() + h.Cap() + h.MaxID()
	h.Reset()
	r.Init(slots[:])
	_ = r.Push(x)
	_ = r.Contains(x)
	_ = r.Remove(x)
	_, _ = r.Peek()
	_ = r.At(int(x))
	_, _ = r.Pop()
	_ = r.Len() + r.Cap()
	r.Reset()
	return pad[(uint(x)>>3)%probePad]
}

func main() {
	os.Exit(int(probe(&heap, &ring, int32(len(os.Args)))))
}
