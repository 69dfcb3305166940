package boot

import "unsafe"

// bootStack is the stack of the boot CPU until the kernel starts the Go
// runtime on a stack of its own.
var bootStack [65536]byte

// bootTLS is the thread-local block FS points at before the runtime runs:
// the Go ABI wrappers load g from FS:-8, which must be readable (and nil).
var bootTLS [2]uint64

//go:nosplit
func ptr(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }

// entry32 is the loader entry point (see entry_amd64.s); mkkernel writes its
// physical address into the PVH note, and the linker makes it the ELF entry.
func entry32()

// entry64 and entry64high continue entry32 in long mode.
func entry64()
func entry64high()
