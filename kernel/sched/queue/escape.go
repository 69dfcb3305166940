package queue

import "unsafe"

// escape does nothing at run time (an assembly RET, NOSPLIT). Because it
// is assembly declared without //go:noescape, the compiler assumes that p
// escapes, so storage passed to Init is never placed on a goroutine stack:
// the structures remember their storage only as an integer address, and a
// stack moves when it grows. Storage in raw memory or a global does not
// move and is not affected; a local array in a caller becomes a heap
// allocation (which that caller's own no-allocation checks then report)
// instead of silent corruption.
func escape(p unsafe.Pointer)
