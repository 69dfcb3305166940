package mm

import (
	"syscall"

	"dunix/arch/amd64"
	"dunix/kernel/mm/vmrange"
	"dunix/kernel/spin"
)

// Linux mmap protections, flags and madvise advice.
const (
	ProtRead  = 0x1
	ProtWrite = 0x2
	ProtExec  = 0x4

	MapShared         = 0x01
	MapPrivate        = 0x02
	MapFixed          = 0x10
	MapAnonymous      = 0x20
	MapFixedNoreplace = 0x100000

	MadvNormal     = 0
	MadvRandom     = 1
	MadvSequential = 2
	MadvWillneed   = 3
	MadvDontneed   = 4
	MadvFree       = 8
	MadvDontfork   = 10
	MadvDofork     = 11
	MadvHugepage   = 14
	MadvNohugepage = 15
	MadvDontdump   = 16
	MadvDodump     = 17
)

// pteKept marks a not-present entry that still owns its frame: the page's
// protection is PROT_NONE (mprotect keeps the contents).
const pteKept = 1 << 9

const maxRanges = 4096

var (
	vmLock    spin.Lock
	vmas      vmrange.Set
	vmStorage [maxRanges]vmrange.Range
	rover     uintptr = MmapBase

	// batch holds frames unmapped under vmLock until every CPU has
	// flushed its TLB; then they are freed.
	batch  [256]uintptr
	nbatch int

	// shootdown, installed by the kernel, makes every other CPU flush its
	// TLB and returns once they all have.
	shootdown func()

	// Counters.
	faults, zeroFills uint64
)

// InitVM prepares the mmap window; shoot is the cross-CPU TLB flush.
//
//go:nosplit
func InitVM(shoot func()) {
	vmas.Init(vmStorage[:])
	shootdown = shoot
}

// VMStats are counters of the mmap window.
type VMStats struct {
	Ranges             int
	Faults, ZeroFilled uint64
}

// Stats returns counters of the mmap window.
//
//go:nosplit
func Stats() VMStats {
	vmLock.Lock()
	s := VMStats{vmas.Len(), faults, zeroFills}
	vmLock.Unlock()
	return s
}

//go:nosplit
func inWindow(addr, n uintptr) bool {
	return addr >= MmapBase && addr < MmapEnd && n <= MmapEnd-addr
}

// Mmap maps anonymous memory in the window.
//
//go:nosplit
func Mmap(addr, length uintptr, prot, flags uint32) (uintptr, syscall.Errno) {
	if length == 0 || prot&^(ProtRead|ProtWrite|ProtExec) != 0 {
		return 0, syscall.EINVAL
	}
	n := pageUp(length)
	if n < length {
		return 0, syscall.ENOMEM
	}
	if flags&MapAnonymous == 0 {
		return 0, syscall.ENODEV // the kernel has no files to map
	}
	if flags&(MapShared|MapPrivate) == 0 {
		return 0, syscall.EINVAL
	}
	fixed := flags&(MapFixed|MapFixedNoreplace) != 0
	if fixed && (addr&(PageSize-1) != 0 || !inWindow(addr, n)) {
		if addr&(PageSize-1) != 0 {
			return 0, syscall.EINVAL
		}
		return 0, syscall.ENOMEM
	}
	vmLock.Lock()
	switch {
	case flags&MapFixedNoreplace != 0:
		if overlaps(addr, n) {
			vmLock.Unlock()
			return 0, syscall.EEXIST
		}
	case fixed:
		if _, err := vmas.Remove(uint64(addr), uint64(addr+n)); err != nil {
			vmLock.Unlock()
			return 0, syscall.ENOMEM
		}
		unmapPages(addr, addr+n)
	case addr&(PageSize-1) == 0 && inWindow(addr, n) && !overlaps(addr, n):
		// the hint is free
	default:
		a, ok := vmas.FindGap(uint64(n), PageSize, MmapBase, MmapEnd, uint64(rover))
		if !ok {
			vmLock.Unlock()
			return 0, syscall.ENOMEM
		}
		addr = uintptr(a)
		rover = addr + n
	}
	err := vmas.Insert(vmrange.Range{Start: uint64(addr), End: uint64(addr + n), Prot: prot})
	flushBatch()
	vmLock.Unlock()
	if err != nil {
		return 0, syscall.ENOMEM
	}
	return addr, 0
}

//go:nosplit
func overlaps(addr, n uintptr) bool {
	i := vmas.Index(uint64(addr))
	if i < vmas.Len() {
		r := vmas.At(i)
		return r.Start < uint64(addr+n) && uint64(addr) < r.End
	}
	return false
}

// Munmap removes mappings in [addr, addr+length).
//
//go:nosplit
func Munmap(addr, length uintptr) syscall.Errno {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || length == 0 || n < length || !inWindow(addr, n) {
		return syscall.EINVAL
	}
	vmLock.Lock()
	_, err := vmas.Remove(uint64(addr), uint64(addr+n))
	if err == nil {
		unmapPages(addr, addr+n)
		flushBatch()
	}
	vmLock.Unlock()
	if err != nil {
		return syscall.ENOMEM
	}
	return 0
}

// Mprotect changes protections; every page must be mapped.
//
//go:nosplit
func Mprotect(addr, length uintptr, prot uint32) syscall.Errno {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || n < length || prot&^(ProtRead|ProtWrite|ProtExec) != 0 {
		return syscall.EINVAL
	}
	if !inWindow(addr, n) {
		return syscall.ENOMEM
	}
	if n == 0 {
		return 0
	}
	vmLock.Lock()
	if !vmas.Covered(uint64(addr), uint64(addr+n)) {
		vmLock.Unlock()
		return syscall.ENOMEM
	}
	if _, err := vmas.Protect(uint64(addr), uint64(addr+n), prot); err != nil {
		vmLock.Unlock()
		return syscall.ENOMEM
	}
	for va := addr; va < addr+n; va += PageSize {
		e := walk(kernelRoot, va, false)
		if e == nil || *e&(PTEPresent|pteKept) == 0 {
			continue
		}
		frame := *e & pteAddr
		if prot == 0 {
			*e = frame | pteKept
		} else {
			*e = frame | pteFlags(prot)
		}
	}
	flushRange(addr, addr+n)
	vmLock.Unlock()
	return 0
}

// Madvise acts on advice: MADV_DONTNEED and MADV_FREE drop the pages
// (they read as zero afterwards); the other known advice needs nothing.
//
//go:nosplit
func Madvise(addr, length uintptr, advice int) syscall.Errno {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || n < length {
		return syscall.EINVAL
	}
	switch advice {
	case MadvDontneed, MadvFree:
	case MadvNormal, MadvRandom, MadvSequential, MadvWillneed, MadvDontfork, MadvDofork,
		MadvHugepage, MadvNohugepage, MadvDontdump, MadvDodump:
		return 0
	default:
		return syscall.EINVAL
	}
	if !inWindow(addr, n) {
		return syscall.ENOMEM
	}
	vmLock.Lock()
	if !vmas.Covered(uint64(addr), uint64(addr+n)) {
		vmLock.Unlock()
		return syscall.ENOMEM
	}
	unmapPages(addr, addr+n)
	flushBatch()
	vmLock.Unlock()
	return 0
}

// Mincore reports which pages of [addr, addr+length) are resident.
//
//go:nosplit
func Mincore(addr, length uintptr, vec []byte) syscall.Errno {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || n < length {
		return syscall.EINVAL
	}
	if uintptr(len(vec)) < n/PageSize {
		return syscall.EFAULT
	}
	if !inWindow(addr, n) {
		return syscall.ENOMEM
	}
	vmLock.Lock()
	defer vmLock.Unlock()
	if !vmas.Covered(uint64(addr), uint64(addr+n)) {
		return syscall.ENOMEM
	}
	for i := uintptr(0); i < n/PageSize; i++ {
		vec[i] = 0
		if e := walk(kernelRoot, addr+i*PageSize, false); e != nil && *e&(PTEPresent|pteKept) != 0 {
			vec[i] = 1
		}
	}
	return 0
}

// unmapPages clears the entries of [start, end) and queues their frames.
//
//go:nosplit
func unmapPages(start, end uintptr) {
	for va := start; va < end; va += PageSize {
		e := walk(kernelRoot, va, false)
		if e == nil {
			// no table: skip to the next 2 MiB boundary
			next := (va + HugeSize) &^ (HugeSize - 1)
			if next > va {
				va = next - PageSize
			}
			continue
		}
		if *e&(PTEPresent|pteKept) == 0 {
			continue
		}
		frame := uintptr(*e & pteAddr)
		*e = 0
		if nbatch == len(batch) {
			flushBatch()
		}
		batch[nbatch] = frame
		nbatch++
	}
	flushRange(start, end)
}

// flushRange drops TLB entries of [start, end) on this CPU.
//
//go:nosplit
func flushRange(start, end uintptr) {
	if end-start <= 32*PageSize {
		for va := start; va < end; va += PageSize {
			amd64.Invlpg(va)
		}
	} else {
		amd64.SetCR3(amd64.CR3())
	}
}

// flushBatch makes the other CPUs forget the unmapped pages, then frees
// their frames.
//
//go:nosplit
func flushBatch() {
	if nbatch == 0 {
		return
	}
	if shootdown != nil {
		shootdown()
	}
	for i := 0; i < nbatch; i++ {
		FreeFrame(batch[i])
	}
	nbatch = 0
}

// Fault results.
const (
	FaultHandled = iota // a page was mapped, retry the access
	FaultMapErr         // no mapping: SIGSEGV with SEGV_MAPERR
	FaultAccErr         // the mapping forbids the access: SEGV_ACCERR
	FaultOOM            // no memory for the page
)

// Page-fault error-code bits.
const (
	pfWrite = 1 << 1
	pfFetch = 1 << 4
)

// Fault handles a page fault at addr with the hardware error code.
//
//go:nosplit
func Fault(addr uintptr, code uint64) int {
	if !inWindow(addr, 1) {
		return FaultMapErr
	}
	va := pageDown(addr)
	vmLock.Lock()
	defer vmLock.Unlock()
	faults++
	r, ok := vmas.Find(uint64(va))
	if !ok {
		return FaultMapErr
	}
	if r.Prot == 0 || code&pfWrite != 0 && r.Prot&ProtWrite == 0 || code&pfFetch != 0 && r.Prot&ProtExec == 0 {
		return FaultAccErr
	}
	e := walk(kernelRoot, va, true)
	if e == nil {
		return FaultOOM
	}
	if *e&PTEPresent != 0 {
		return FaultHandled // another CPU got there first
	}
	if *e&pteKept != 0 {
		*e = *e&pteAddr | pteFlags(r.Prot)
		return FaultHandled
	}
	p, ok := AllocZeroedFrame()
	if !ok {
		return FaultOOM
	}
	zeroFills++
	*e = uint64(p) | pteFlags(r.Prot)
	return FaultHandled
}

// Access checks that [addr, addr+n) may be read (or written) by the kernel
// on behalf of a system call, faulting in demand-zero pages, so that the
// handler can then touch it without faulting.
//
//go:nosplit
func Access(addr, n uintptr, write bool) bool {
	if n == 0 {
		return true
	}
	end := addr + n
	if end < addr {
		return false
	}
	if addr >= DirectMap && end <= DirectMap+uintptr(physEnd) {
		return true
	}
	if addr < DirectMap {
		return false
	}
	var code uint64
	if write {
		code = pfWrite
	}
	for va := pageDown(addr); va < end; va += PageSize {
		e := Lookup(va)
		if e&PTEPresent != 0 && (!write || e&PTEWrite != 0) {
			continue
		}
		if Fault(va, code) != FaultHandled {
			return false
		}
	}
	return true
}

// AllocStack maps a kernel stack of size bytes (eagerly, with an unmapped
// guard page below it) and returns its top.
//
//go:nosplit
func AllocStack(size uintptr) (uintptr, bool) {
	size = pageUp(size)
	vmLock.Lock()
	defer vmLock.Unlock()
	base := stackNext + PageSize // guard page
	if base+size > StackEnd || base < StackBase {
		return 0, false
	}
	for va := base; va < base+size; va += PageSize {
		p, ok := AllocZeroedFrame()
		if !ok || !MapPage(va, p, pteFlags(ProtRead|ProtWrite)) {
			return 0, false
		}
	}
	stackNext = base + size
	return base + size, true
}

var stackNext uintptr = StackBase

// InStack reports whether addr is in a kernel stack's guard page.
//
//go:nosplit
func InStackGuard(addr uintptr) bool {
	return addr >= StackBase && addr < StackEnd && Lookup(pageDown(addr))&PTEPresent == 0
}
