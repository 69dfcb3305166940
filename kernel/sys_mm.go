package kernel

import (
	"dunix/kernel/mm"
)

//go:nosplit
func sysMmap(addr, length, prot, flags, fd uint64) int64 {
	// The descriptor is ignored for anonymous mappings, as on Linux.
	a, err := mm.Mmap(uintptr(addr), uintptr(length), uint32(prot), uint32(flags))
	if err != 0 {
		return -int64(err)
	}
	return int64(a)
}

//go:nosplit
func sysMunmap(addr, length uint64) int64 {
	return -int64(mm.Munmap(uintptr(addr), uintptr(length)))
}

//go:nosplit
func sysMprotect(addr, length, prot uint64) int64 {
	return -int64(mm.Mprotect(uintptr(addr), uintptr(length), uint32(prot)))
}

//go:nosplit
func sysMadvise(addr, length, advice uint64) int64 {
	return -int64(mm.Madvise(uintptr(addr), uintptr(length), int(advice)))
}

//go:nosplit
func sysMincore(addr, length, vec uint64) int64 {
	pages := (length + mm.PageSize - 1) / mm.PageSize
	if !mm.Access(uintptr(vec), uintptr(pages), true) {
		return -efault
	}
	return -int64(mm.Mincore(uintptr(addr), uintptr(length), bytesAt(vec, pages)))
}

// The kernel's program break: a demand-zero region in the mmap window that
// brk grows and shrinks (the Go runtime does not use it; C code would).
var brkBase, brkEnd uintptr

//go:nosplit
func sysBrk(addr uint64) int64 {
	const brkMax = 1 << 30
	if brkBase == 0 {
		a, err := mm.Mmap(0, brkMax, 0, mm.MapPrivate|mm.MapAnonymous)
		if err != 0 {
			return 0
		}
		brkBase, brkEnd = a, a
	}
	want := uintptr(addr)
	if want < brkBase || want > brkBase+brkMax {
		return int64(brkEnd)
	}
	old, n := pageUpK(brkEnd), pageUpK(want)
	if n > old {
		if mm.Mprotect(old, n-old, mm.ProtRead|mm.ProtWrite) != 0 {
			return int64(brkEnd)
		}
	} else if n < old {
		mm.Madvise(n, old-n, mm.MadvDontneed)
		mm.Mprotect(n, old-n, 0)
	}
	brkEnd = want
	return int64(brkEnd)
}

//go:nosplit
func pageUpK(v uintptr) uintptr { return (v + mm.PageSize - 1) &^ (mm.PageSize - 1) }
