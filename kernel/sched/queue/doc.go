// Package queue holds the scheduler's queues of thread indices (int32): Ring,
// a fixed-capacity FIFO for run queues, and Heap, an indexed min-heap of
// (key, id) pairs for timers and deadlines.
//
// # Trap context
//
// The code runs in trap context (see docs/conventions.md): the scheduler
// calls it from interrupt and system-call handlers. Every function is
// //go:nosplit, nothing allocates, the package keeps no Go pointers in
// globals (its only globals are the statically initialised error values)
// and it never panics on purpose. Misuse returns an error or false; a call
// that fails changes nothing.
//
// Neither Ring nor Heap is locked. The kernel serialises every call on one
// queue with its own spinlock, interrupts off; tests use a sync.Mutex.
//
// # Storage
//
// The queues keep their elements in slices the caller provides to Init,
// which fixes the capacity. In the kernel those slices are built over raw
// memory with unsafe.Slice; tests pass ordinary slices. A queue remembers
// only the address of that memory, as an integer, so that Init stores no
// Go pointer (a queue may sit in a global written with interrupts off and
// no valid g, where a write barrier could not run). Hence the caller must
// keep the storage alive for as long as the queue is used: raw memory,
// global arrays, or slices the caller still references. It must not move
// either; Init marks it as escaping (see escape) so that the compiler never
// places it on a goroutine stack, which moves when it grows.
//
// # Stack
//
// The linker allows nosplit call chains of 792 bytes in all. Every index
// is proven in range by the compiler (no bounds checks, hence no
// runtime.panicBounds frames), and the storage is viewed without unsafe.Slice
// (whose length checks have panic paths too). TestCodegen checks the
// generated code for calls that could panic, allocate or grow the stack,
// and TestStackProbe links testdata/stackprobe to check that the deepest
// chain leaves the kernel 540 bytes of the budget.
package queue

import (
	"errors"
	"unsafe"
)

// Errors returned by Heap for misuse. A call that returns one changes
// nothing.
var (
	// ErrRange: an id outside [0, MaxID()).
	ErrRange = errors.New("queue: id out of range")
	// ErrPresent: Push of an id that is already in the heap.
	ErrPresent = errors.New("queue: id already present")
	// ErrAbsent: Update of an id that is not in the heap.
	ErrAbsent = errors.New("queue: id not present")
	// ErrFull: Push into a heap whose storage is full.
	ErrFull = errors.New("queue: storage full")
)

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// addr returns the address of p, or 0 for an empty slice.
//
//go:nosplit
func addr(p unsafe.Pointer, n int) uintptr {
	if n == 0 {
		return 0
	}
	return uintptr(p)
}

// view returns a slice header for the storage at the address held in
// *base. It reads the address word as a pointer (rather than convert a
// uintptr value, which vet and the checkptr instrumentation of -race builds
// reject); the caller converts the header to a slice (unsafe.Slice would
// add length checks with panic paths).
//
//go:nosplit
func view(base *uintptr, n, c int) sliceHeader {
	return sliceHeader{*(*unsafe.Pointer)(unsafe.Pointer(base)), n, c}
}

// get returns s[i], or -1 if i is out of range (which callers rule out;
// the check keeps bounds-check panics out of the code).
//
//go:nosplit
func get(s []int32, i int) int32 {
	if uint(i) < uint(len(s)) {
		return s[i]
	}
	return -1
}

// set stores v in s[i] if i is in range (which callers guarantee).
//
//go:nosplit
func set(s []int32, i int, v int32) {
	if uint(i) < uint(len(s)) {
		s[i] = v
	}
}
