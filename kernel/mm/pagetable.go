package mm

import "dunix/arch/amd64"

// Page-table entry bits.
const (
	PTEPresent = 1 << 0
	PTEWrite   = 1 << 1
	PTEUser    = 1 << 2
	PTEPWT     = 1 << 3
	PTEPCD     = 1 << 4
	PTEHuge    = 1 << 7
	PTEGlobal  = 1 << 8
	PTENX      = 1 << 63

	pteAddr = 0x000FFFFFFFFFF000
)

var (
	// kernelRoot is the physical address of the kernel's PML4.
	kernelRoot uintptr
	// kernelGen counts the top-level entries added to kernelRoot: user
	// page tables copy the kernel half and refresh it when this changes.
	kernelGen uint64
	// nxOK tells whether EFER.NXE is on (the NX bit is reserved otherwise).
	nxOK bool
)

// KernelRoot returns the physical address of the kernel's top-level table.
//
//go:nosplit
func KernelRoot() uintptr { return kernelRoot }

//go:nosplit
func table(p uintptr) *[512]uint64 {
	return (*[512]uint64)(amd64.Ptr(P2V(p)))
}

// walk returns the level-1 entry for va in the tables rooted at root,
// creating intermediate tables when create is set. It returns nil when a
// table is missing (and not created) or a huge page covers va.
//
//go:nosplit
func walk(root, va uintptr, create bool) *uint64 {
	t := table(root)
	for shift := uint(39); shift > 12; shift -= 9 {
		e := &t[(va>>shift)&511]
		if *e&PTEPresent == 0 {
			if !create {
				return nil
			}
			p, ok := AllocZeroedFrame()
			if !ok {
				return nil
			}
			*e = uint64(p) | PTEPresent | PTEWrite
			if shift == 39 {
				kernelGen++
			}
		} else if *e&PTEHuge != 0 {
			return nil
		}
		t = table(uintptr(*e & pteAddr))
	}
	return &t[(va>>12)&511]
}

// pteFlags turns mmap protections into entry bits for kernel memory.
//
//go:nosplit
func pteFlags(prot uint32) uint64 {
	f := uint64(PTEPresent)
	if prot&ProtWrite != 0 {
		f |= PTEWrite
	}
	if prot&ProtExec == 0 && nxOK {
		f |= PTENX
	}
	return f
}

// InitPaging builds the kernel's page tables and switches to them: the
// direct map of [0, max(RAM end, 4 GiB)) in 2 MiB pages (executable only
// where the kernel image is, uncached where no RAM is), nothing else.
//
//go:nosplit
func InitPaging(ramAt func(base, size uint64) bool, imageStart, imageEnd uint64, nx bool) bool {
	nxOK = nx
	root, ok := AllocZeroedFrame()
	if !ok {
		return false
	}
	end := max(physEnd, 1<<32)
	end = (end + HugeSize - 1) &^ (HugeSize - 1)
	for p := uint64(0); p < end; p += HugeSize {
		va := P2V(uintptr(p))
		pd := walkPD(root, va)
		if pd == nil {
			return false
		}
		e := p | PTEPresent | PTEWrite | PTEHuge | PTEGlobal
		if !ramAt(p, HugeSize) {
			e |= PTEPCD | PTEPWT
		}
		if nx && (p+HugeSize <= imageStart || p >= imageEnd) {
			e |= PTENX
		}
		*pd = e
	}
	kernelRoot = root
	amd64.SetCR3(uint64(root))
	return true
}

// walkPD returns the level-2 entry (2 MiB granularity) for va, creating
// the upper tables.
//
//go:nosplit
func walkPD(root, va uintptr) *uint64 {
	t := table(root)
	for shift := uint(39); shift > 21; shift -= 9 {
		e := &t[(va>>shift)&511]
		if *e&PTEPresent == 0 {
			p, ok := AllocZeroedFrame()
			if !ok {
				return nil
			}
			*e = uint64(p) | PTEPresent | PTEWrite
		}
		t = table(uintptr(*e & pteAddr))
	}
	return &t[(va>>21)&511]
}

// Lookup returns the level-1 entry mapping va in the kernel tables (0 if
// none).
//
//go:nosplit
func Lookup(va uintptr) uint64 {
	if e := walk(kernelRoot, va, false); e != nil {
		return *e
	}
	return 0
}

// MapPage maps the frame p at va with entry flags f in the kernel tables.
//
//go:nosplit
func MapPage(va, p uintptr, f uint64) bool {
	e := walk(kernelRoot, va, true)
	if e == nil {
		return false
	}
	*e = uint64(p) | f
	return true
}

// UnmapKernelPage removes the mapping of va (the tests' double fault
// uses it to take a stack away) and flushes it from this CPU's TLB.
//
//go:nosplit
func UnmapKernelPage(va uintptr) {
	if e := walk(kernelRoot, va, false); e != nil {
		*e = 0
		amd64.Invlpg(va)
	}
}

// KernelGen tells how many top-level entries the kernel's tables have
// gained since boot (see kernelGen).
//
//go:nosplit
func KernelGen() uint64 { return kernelGen }
