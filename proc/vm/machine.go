// Package vm is a user process's address space: its mappings (VMAs), its
// page tables (the lower half of an x86-64 PML4), demand paging,
// copy-on-write after fork, and copying to and from user memory.
//
// It runs in Go context (goroutines; see docs/conventions.md) and reaches
// physical memory only through a Machine, so that the whole package is
// tested on the host with a fake one (memory from a Go slice).
package vm

// Machine is the physical memory and MMU services the address space needs.
type Machine interface {
	// AllocPages fills ps with zeroed physical pages.
	AllocPages(ps []uintptr) error
	// FreePages gives pages back.
	FreePages(ps []uintptr)
	// Page returns the bytes of physical page p.
	Page(p uintptr) *[PageSize]byte
	// NewRoot allocates a top-level page table (the kernel half filled in).
	NewRoot() (uintptr, error)
	// FlushTLB makes every CPU forget user translations.
	FlushTLB()
}

// Table returns physical page p as a page table.
func table(m Machine, p uintptr) *[512]uint64 {
	return (*[512]uint64)(unsafePagePtr(m.Page(p)))
}
