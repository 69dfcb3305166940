// Package mmio reads and writes device registers mapped into memory. Each
// access is exactly one load or store of its width that the compiler can
// neither drop, merge nor move across another access: 32- and 64-bit
// accesses are atomic operations, 8- and 16-bit ones are functions that
// are never inlined (x86 keeps stores to uncached memory in order).
//
// Addresses are virtual (the kernel maps device memory uncached). The
// functions are nosplit and allocate nothing.
package mmio

import (
	"sync/atomic"

	"dunix/arch/amd64"
)

// Read8 loads a byte.
//
//go:nosplit
//go:noinline
func Read8(a uintptr) uint8 { return *(*uint8)(amd64.Ptr(a)) }

// Read16 loads a 16-bit word.
//
//go:nosplit
//go:noinline
func Read16(a uintptr) uint16 { return *(*uint16)(amd64.Ptr(a)) }

// Read32 loads a 32-bit word.
//
//go:nosplit
func Read32(a uintptr) uint32 { return atomic.LoadUint32((*uint32)(amd64.Ptr(a))) }

// Read64 loads a 64-bit word.
//
//go:nosplit
func Read64(a uintptr) uint64 { return atomic.LoadUint64((*uint64)(amd64.Ptr(a))) }

// Write8 stores a byte.
//
//go:nosplit
//go:noinline
func Write8(a uintptr, v uint8) { *(*uint8)(amd64.Ptr(a)) = v }

// Write16 stores a 16-bit word.
//
//go:nosplit
//go:noinline
func Write16(a uintptr, v uint16) { *(*uint16)(amd64.Ptr(a)) = v }

// Write32 stores a 32-bit word.
//
//go:nosplit
func Write32(a uintptr, v uint32) { atomic.StoreUint32((*uint32)(amd64.Ptr(a)), v) }

// Write64 stores a 64-bit word.
//
//go:nosplit
func Write64(a uintptr, v uint64) { atomic.StoreUint64((*uint64)(amd64.Ptr(a)), v) }
