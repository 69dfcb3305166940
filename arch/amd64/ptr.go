package amd64

import "unsafe"

// Ptr turns the address of memory that the Go heap does not manage (the
// direct map of physical memory, device registers, page tables) into a
// pointer. It is the one place where the kernel converts an integer into a
// pointer; the Go garbage collector ignores pointers outside its heap.
//
//go:nosplit
func Ptr(addr uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

// Addrs returns the addresses of the assembly routines the kernel installs
// in hardware registers and tables.
func addrs() (syscallEntry, idleLoop uintptr)

// SyscallEntryAddr returns the address of SyscallEntry, for MSR LSTAR.
//
//go:nosplit
func SyscallEntryAddr() uintptr {
	s, _ := addrs()
	return s
}

// IdleLoopAddr returns the address of IdleLoop, where idle threads run.
//
//go:nosplit
func IdleLoopAddr() uintptr {
	_, i := addrs()
	return i
}
