// Package mm manages the kernel's memory: physical page frames, the
// kernel's page tables, and the address space the Go runtime maps memory
// in (mmap, munmap, mprotect, madvise, mincore, page faults).
//
// Virtual layout (upper half; the lower half is left to user programs):
//
//	0xffff800000000000  DirectMap: all physical memory, kernel image included
//	0xffffc00000000000  MmapBase: the runtime's mmap window (demand-zero)
//	0xffffff0000000000  StackBase: trap stacks with guard pages
//	0xffffff8000000000  StackEnd
//
// Anonymous memory is demand-zero: mmap records a range, the first touch of
// a page faults and gets a zeroed frame; munmap and madvise(MADV_DONTNEED)
// give frames back, after every CPU has dropped its TLB entries for them.
//
// The package runs in trap context: every function is nosplit, nothing
// allocates, and each structure has one spinlock, taken with interrupts
// off.
package mm
