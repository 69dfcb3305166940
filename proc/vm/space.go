package vm

import (
	"errors"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
)

// Layout of a user address space.
const (
	PageSize  = 4096
	pageShift = 12

	// UserEnd is the end of the canonical lower half.
	UserEnd = 0x0000_8000_0000_0000
	// StackTop is the top of the main thread's stack.
	StackTop = 0x7fff_ffff_f000
	// StackSize is how far the main stack may grow (RLIMIT_STACK).
	StackSize = 8 << 20
	// MmapTop is where mmap starts looking for room, downwards.
	MmapTop = StackTop - StackSize - 1<<30
	// MmapBottom is the lowest address mmap chooses by itself.
	MmapBottom = 0x1000_0000
)

// Protections (mmap's PROT_*).
const (
	ProtRead  = 0x1
	ProtWrite = 0x2
	ProtExec  = 0x4
)

// Page-table entry bits of user pages.
const (
	pteP    = 1 << 0
	pteW    = 1 << 1
	pteU    = 1 << 2
	pteA    = 1 << 5  // accessed: set in every present entry written here
	pteCOW  = 1 << 9  // shared read-only until written: copy then
	pteKept = 1 << 10 // not present because PROT_NONE, the frame kept
	pteNX   = 1 << 63
	pteAddr = 0x000F_FFFF_FFFF_F000
)

// Errors of a fault, which the caller turns into signals.
var (
	// ErrMapErr: no mapping at the address (SIGSEGV, SEGV_MAPERR).
	ErrMapErr = errors.New("vm: address not mapped")
	// ErrAccErr: the mapping forbids the access (SIGSEGV, SEGV_ACCERR).
	ErrAccErr = errors.New("vm: access not permitted")
	// ErrBus: a file mapping beyond the end of its file (SIGBUS).
	ErrBus = errors.New("vm: mapping beyond the end of its file")
)

// Backing is the file behind a file mapping.
type Backing interface {
	io.ReaderAt
}

// FramePager is implemented by a Backing whose pages a shared mapping maps
// directly (a file system that keeps file pages in frames of the Pool):
// SharedFrame returns the frame of the page at off with a reference that
// the mapping then owns (Pool.Put drops it). Writes through the mapping
// are then the file's data, and write(2) shows through the mapping.
type FramePager interface {
	SharedFrame(off int64) (uintptr, error)
}

// WriteChecker is implemented by a Backing that may refuse to become
// writable: Writable false makes mprotect(PROT_WRITE) of a shared mapping
// of it EACCES (a file not open for writing).
type WriteChecker interface {
	Writable() bool
}

// Holder is implemented by a Backing that counts the mappings using it
// (an open file kept open by its mappings): Hold is called for every VMA
// that starts to refer to it (a new mapping, each half of a split, a
// fork's copy) and Drop for every VMA that goes away.
type Holder interface {
	Hold()
	Drop()
}

func hold(v *VMA) {
	if h, ok := v.File.(Holder); ok {
		h.Hold()
	}
}

func drop(v *VMA) {
	if h, ok := v.File.(Holder); ok {
		h.Drop()
	}
}

// VMA is one mapping: [Start, End), page aligned.
type VMA struct {
	Start, End uint64
	Prot       int
	Shared     bool    // MAP_SHARED: pages shared with forks, not copied
	File       Backing // nil: anonymous (zero-filled)
	Off        int64   // file offset of Start
	FileSize   int64   // the file's size: offsets at or past it read as zeros (SIGBUS past its last page)
	Name       string  // for /proc/PID/maps: a path, "[heap]", "[stack]"
}

// Space is an address space.
type Space struct {
	pool *Pool
	m    Machine

	users    atomic.Int32 // processes sharing the space (CLONE_VM)
	mu       sync.Mutex
	root     uintptr
	vmas     []*VMA // sorted, not overlapping
	brkStart uint64
	brk      uint64
	released bool
	freed    []uintptr // frames dropped, given back after a TLB flush (flushFreed)
}

// New returns an empty address space.
func New(pool *Pool) (*Space, error) {
	root, err := pool.M.NewRoot()
	if err != nil {
		return nil, syscall.ENOMEM
	}
	pool.adopt()
	s := &Space{pool: pool, m: pool.M, root: root}
	s.users.Store(1)
	return s, nil
}

// Root is the physical address of the top-level page table.
func (s *Space) Root() uintptr { return s.root }

// VMAs returns a copy of the mappings.
func (s *Space) VMAs() []VMA {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]VMA, len(s.vmas))
	for i, v := range s.vmas {
		out[i] = *v
	}
	return out
}

func pageDown(a uint64) uint64 { return a &^ (PageSize - 1) }
func pageUp(a uint64) uint64   { return (a + PageSize - 1) &^ (PageSize - 1) }

// find returns the VMA containing addr, or nil.
func (s *Space) find(addr uint64) *VMA {
	i := sort.Search(len(s.vmas), func(i int) bool { return s.vmas[i].End > addr })
	if i < len(s.vmas) && s.vmas[i].Start <= addr {
		return s.vmas[i]
	}
	return nil
}

// overlaps tells whether [start, end) touches any mapping.
func (s *Space) overlaps(start, end uint64) bool {
	i := sort.Search(len(s.vmas), func(i int) bool { return s.vmas[i].End > start })
	return i < len(s.vmas) && s.vmas[i].Start < end
}

func (s *Space) insert(v *VMA) {
	i := sort.Search(len(s.vmas), func(i int) bool { return s.vmas[i].Start >= v.Start })
	s.vmas = append(s.vmas, nil)
	copy(s.vmas[i+1:], s.vmas[i:])
	s.vmas[i] = v
}

// pte returns the level-1 entry for va, creating tables when create is
// set (nil when a table is missing or cannot be allocated).
func (s *Space) pte(va uint64, create bool) *uint64 {
	t := table(s.m, s.root)
	for shift := uint(39); shift > 12; shift -= 9 {
		e := &t[(va>>shift)&511]
		if *e&pteP == 0 {
			if !create {
				return nil
			}
			p, err := s.pool.Get()
			if err != nil {
				return nil
			}
			*e = uint64(p) | pteP | pteW | pteU
		}
		t = table(s.m, uintptr(*e&pteAddr))
	}
	return &t[(va>>12)&511]
}

// flags returns the entry bits for a page of v.
//
// The accessed bit is set: the kernel, when it switches address spaces
// without a CR3 write (kernel/uswitch.go), invalidates the pages whose
// entries have it, and an entry rewritten here without a TLB flush (a
// copy-on-write page upgraded in place) may still be cached. For the
// same reason an entry made not present keeps the bit it had (the flush
// comes later, after a batch, and the CPU may switch spaces before).
func flags(v *VMA) uint64 {
	f := uint64(pteP | pteU | pteA)
	if v.Prot&ProtWrite != 0 {
		f |= pteW
	}
	if v.Prot&ProtExec == 0 {
		f |= pteNX
	}
	return f
}

// Map flags.
const (
	MapShared         = 0x01
	MapPrivate        = 0x02
	MapFixed          = 0x10
	MapAnonymous      = 0x20
	MapGrowsDown      = 0x100
	MapPopulate       = 0x8000
	MapFixedNoreplace = 0x100000
)

// Map creates a mapping of length bytes (rounded up to pages) and returns
// its address: at addr with MapFixed (replacing what was there) or
// MapFixedNoreplace (EEXIST if taken), else near the hint addr when free,
// else the highest free range below MmapTop. file is nil for anonymous
// memory; fileSize is the file's size, which bounds what the file backs
// (beyond it: zeros within the last page, SIGBUS past it).
func (s *Space) Map(addr, length uint64, prot, flags int, file Backing, off, fileSize int64, name string) (uint64, error) {
	if length == 0 || off < 0 || off&(PageSize-1) != 0 {
		return 0, syscall.EINVAL
	}
	n := pageUp(length)
	if n < length || n > UserEnd {
		return 0, syscall.ENOMEM
	}
	fixed := flags&(MapFixed|MapFixedNoreplace) != 0
	if fixed && (addr&(PageSize-1) != 0 || addr < PageSize || addr+n > UserEnd || addr+n < addr) {
		if addr&(PageSize-1) != 0 {
			return 0, syscall.EINVAL
		}
		return 0, syscall.ENOMEM
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case flags&MapFixedNoreplace != 0:
		if s.overlaps(addr, addr+n) {
			return 0, syscall.EEXIST
		}
	case flags&MapFixed != 0:
		s.unmap(addr, addr+n)
	default:
		a, ok := s.gap(addr, n)
		if !ok {
			return 0, syscall.ENOMEM
		}
		addr = a
	}
	v := &VMA{Start: addr, End: addr + n, Prot: prot & (ProtRead | ProtWrite | ProtExec),
		Shared: flags&MapShared != 0, File: file, Off: off, FileSize: fileSize, Name: name}
	hold(v)
	s.insert(v)
	if v.Shared && file == nil || flags&MapPopulate != 0 {
		// Shared anonymous pages must exist before a fork shares them.
		for a := v.Start; a < v.End; a += PageSize {
			if err := s.populate(v, a); err != nil {
				s.unmap(v.Start, v.End)
				return 0, err
			}
		}
	}
	return addr, nil
}

// gap finds n free bytes: at hint if free, else the highest free range
// below MmapTop (top-down, like Linux).
func (s *Space) gap(hint, n uint64) (uint64, bool) {
	hint = pageDown(hint)
	if hint >= MmapBottom && hint+n <= UserEnd && hint+n > hint && !s.overlaps(hint, hint+n) {
		return hint, true
	}
	top := uint64(MmapTop)
	for i := len(s.vmas) - 1; i >= -1; i-- {
		lo := uint64(MmapBottom)
		if i >= 0 {
			lo = max(lo, s.vmas[i].End)
		}
		if i >= 0 && s.vmas[i].Start >= top {
			continue
		}
		if top >= lo+n {
			return top - n, true
		}
		if i >= 0 {
			top = min(top, s.vmas[i].Start)
		}
	}
	return 0, false
}

// Unmap removes the mappings of [addr, addr+length).
func (s *Space) Unmap(addr, length uint64) error {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || length == 0 || n < length || addr+n > UserEnd || addr+n < addr {
		return syscall.EINVAL
	}
	s.mu.Lock()
	s.unmap(addr, addr+n)
	s.mu.Unlock()
	return nil
}

// unmap removes [start, end) from the VMAs and frees its pages, after a
// TLB flush when there were any (s.mu held).
func (s *Space) unmap(start, end uint64) {
	var keep []*VMA
	for _, v := range s.vmas {
		if v.End <= start || v.Start >= end {
			keep = append(keep, v)
			continue
		}
		if v.Start < start {
			left := *v
			left.End = start
			hold(&left)
			keep = append(keep, &left)
		}
		if v.End > end {
			right := *v
			right.Off += int64(end - v.Start)
			right.Start = end
			hold(&right)
			keep = append(keep, &right)
		}
		s.dropPages(max(v.Start, start), min(v.End, end))
		drop(v)
	}
	s.vmas = keep
	s.flushFreed(false)
}

// flushFreed flushes every CPU's TLB if pages were dropped (or always),
// then gives them back: a frame is reused only when no CPU can reach it
// through a stale entry (kernel code runs on the last user root a CPU had, so even
// the CPU that dropped them may still cache them).
func (s *Space) flushFreed(always bool) {
	if len(s.freed) == 0 && !always {
		return
	}
	s.m.FlushTLB()
	for _, f := range s.freed {
		s.pool.Put(f)
	}
	s.freed = s.freed[:0]
}

// dropPages clears the entries of [start, end); their frames wait in
// s.freed for flushFreed.
func (s *Space) dropPages(start, end uint64) {
	for a := start; a < end; a += PageSize {
		e := s.pte(a, false)
		if e == nil {
			// No table here: skip to the next 2 MiB.
			next := (a + 1<<21) &^ (1<<21 - 1)
			if next > a {
				a = next - PageSize
			}
			continue
		}
		if *e&(pteP|pteKept) != 0 {
			s.freed = append(s.freed, uintptr(*e&pteAddr))
		}
		*e &= pteA // not present; the bit says it may still be cached

	}
}

// Protect changes the protection of [addr, addr+length); every page must
// be mapped (ENOMEM otherwise).
func (s *Space) Protect(addr, length uint64, prot int) error {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || n < length || addr+n > UserEnd || addr+n < addr {
		return syscall.EINVAL
	}
	end := addr + n
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := addr; a < end; {
		v := s.find(a)
		if v == nil {
			return syscall.ENOMEM
		}
		if w, ok := v.File.(WriteChecker); ok && v.Shared && prot&ProtWrite != 0 && !w.Writable() {
			return syscall.EACCES
		}
		a = v.End
	}
	s.split(addr)
	s.split(end)
	for _, v := range s.vmas {
		if v.Start >= addr && v.End <= end {
			v.Prot = prot & (ProtRead | ProtWrite | ProtExec)
			for a := v.Start; a < v.End; a += PageSize {
				e := s.pte(a, false)
				if e == nil || *e&(pteP|pteKept) == 0 {
					continue
				}
				frame, cow := *e&pteAddr, *e&pteCOW
				if v.Prot == 0 {
					*e = frame | pteKept | cow | *e&pteA
					continue
				}
				f := flags(v) | cow
				if cow != 0 {
					f &^= pteW
				}
				*e = frame | f
			}
		}
	}
	s.m.FlushTLB()
	return nil
}

// split cuts the VMA containing a in two at a.
func (s *Space) split(a uint64) {
	v := s.find(a)
	if v == nil || v.Start == a {
		return
	}
	right := *v
	right.Off += int64(a - v.Start)
	right.Start = a
	v.End = a
	hold(&right)
	s.insert(&right)
}

// Fault resolves a page fault at addr (write: a write access; exec: an
// instruction fetch). It returns nil when the access can be retried.
func (s *Space) Fault(addr uint64, write, exec bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault(addr, write, exec)
}

func (s *Space) fault(addr uint64, write, exec bool) error {
	if addr >= UserEnd {
		return ErrMapErr
	}
	v := s.find(addr)
	if v == nil {
		return ErrMapErr
	}
	if v.Prot == 0 || write && v.Prot&ProtWrite == 0 || exec && v.Prot&ProtExec == 0 || !write && !exec && v.Prot&(ProtRead|ProtWrite|ProtExec) == 0 {
		return ErrAccErr
	}
	a := pageDown(addr)
	e := s.pte(a, true)
	if e == nil {
		return syscall.ENOMEM
	}
	switch {
	case *e&pteP == 0 && *e&pteKept != 0:
		*e = *e&(pteAddr|pteCOW) | flags(v)
		if *e&pteCOW != 0 {
			*e &^= pteW
		}
		if write && *e&pteCOW != 0 {
			return s.breakCOW(v, e)
		}
		return nil
	case *e&pteP == 0:
		return s.populate(v, a)
	case write && *e&pteCOW != 0:
		return s.breakCOW(v, e)
	}
	return nil // already resolved (another thread got there first)
}

// breakCOW gives the faulting process its own copy of a shared page.
func (s *Space) breakCOW(v *VMA, e *uint64) error {
	old := uintptr(*e & pteAddr)
	if !s.pool.Shared(old) {
		*e = uint64(old) | flags(v) // the last owner keeps it
		return nil
	}
	p, err := s.pool.Get()
	if err != nil {
		return err
	}
	copy(s.m.Page(p)[:], s.m.Page(old)[:])
	*e = uint64(p) | flags(v)
	s.m.FlushTLB() // CPUs may cache the read-only entry of this address
	s.pool.Put(old)
	return nil
}

// populate gives page a of v its frame (zeros, or the file's bytes).
func (s *Space) populate(v *VMA, a uint64) error {
	e := s.pte(a, true)
	if e == nil {
		return syscall.ENOMEM
	}
	if *e&pteP != 0 {
		return nil
	}
	if fp, ok := v.File.(FramePager); ok && v.Shared {
		// The file's own page, not a copy.
		fr, err := fp.SharedFrame(v.Off + int64(a-v.Start))
		if err != nil {
			return ErrBus
		}
		*e = uint64(fr) | flags(v)
		return nil
	}
	p, err := s.pool.Get()
	if err != nil {
		return err
	}
	if v.File != nil {
		off := v.Off + int64(a-v.Start)
		end := v.FileSize
		if off >= pageUpI(end) {
			s.pool.Put(p)
			return ErrBus
		}
		if n := min(int64(PageSize), end-off); n > 0 {
			if _, err := v.File.ReadAt(s.m.Page(p)[:n], off); err != nil && err != io.EOF {
				s.pool.Put(p)
				return ErrBus
			}
		}
	}
	*e = uint64(p) | flags(v)
	return nil
}

func pageUpI(a int64) int64 { return (a + PageSize - 1) &^ (PageSize - 1) }

// Copying to and from user memory. Every access goes through the page
// tables in software: a bad address is EFAULT, never a kernel fault.

// access returns the frame behind addr, faulting it in as a user access
// would.
func (s *Space) access(addr uint64, write bool) (uintptr, error) {
	if addr >= UserEnd {
		return 0, syscall.EFAULT
	}
	for try := 0; try < 3; try++ {
		e := s.pte(pageDown(addr), false)
		if e != nil && *e&pteP != 0 && (!write || *e&pteW != 0) && *e&pteU != 0 {
			return uintptr(*e & pteAddr), nil
		}
		if err := s.fault(addr, write, false); err != nil {
			return 0, syscall.EFAULT
		}
	}
	return 0, syscall.EFAULT
}

// CopyIn reads len(b) bytes at addr.
func (s *Space) CopyIn(addr uint64, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(b) > 0 {
		p, err := s.access(addr, false)
		if err != nil {
			return err
		}
		off := addr & (PageSize - 1)
		n := copy(b, s.m.Page(p)[off:])
		b, addr = b[n:], addr+uint64(n)
	}
	return nil
}

// CopyOut writes b at addr.
func (s *Space) CopyOut(addr uint64, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(b) > 0 {
		p, err := s.access(addr, true)
		if err != nil {
			return err
		}
		off := addr & (PageSize - 1)
		n := copy(s.m.Page(p)[off:], b)
		b, addr = b[n:], addr+uint64(n)
	}
	return nil
}

// Zero writes n zero bytes at addr.
func (s *Space) Zero(addr, n uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n > 0 {
		p, err := s.access(addr, true)
		if err != nil {
			return err
		}
		off := addr & (PageSize - 1)
		k := min(n, PageSize-off)
		clear(s.m.Page(p)[off : off+k])
		n, addr = n-k, addr+k
	}
	return nil
}

// CopyInString reads a NUL-terminated string of at most max bytes
// (ENAMETOOLONG beyond).
func (s *Space) CopyInString(addr uint64, max int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []byte
	for {
		p, err := s.access(addr, false)
		if err != nil {
			return "", err
		}
		off := addr & (PageSize - 1)
		chunk := s.m.Page(p)[off:]
		for i, c := range chunk {
			if c == 0 {
				return string(append(out, chunk[:i]...)), nil
			}
			if len(out)+i >= max {
				return "", syscall.ENAMETOOLONG
			}
		}
		out = append(out, chunk...)
		addr += uint64(len(chunk))
	}
}

// Brk moves the program break (start is set by SetBrk at exec); it
// returns the new break, or the old one when the move is refused.
func (s *Space) Brk(addr uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if addr < s.brkStart || addr >= UserEnd {
		return s.brk
	}
	oldEnd, newEnd := pageUp(s.brk), pageUp(addr)
	switch {
	case newEnd > oldEnd:
		if s.overlaps(oldEnd, newEnd) {
			return s.brk
		}
		if v := s.find(oldEnd - 1); v != nil && v.Name == "[heap]" && v.End == oldEnd {
			v.End = newEnd
		} else {
			s.insert(&VMA{Start: oldEnd, End: newEnd, Prot: ProtRead | ProtWrite, Name: "[heap]"})
		}
	case newEnd < oldEnd:
		s.unmap(newEnd, oldEnd) // flushes
	}
	s.brk = addr
	return s.brk
}

// SetBrk sets the start of the heap (page aligned, after the program).
func (s *Space) SetBrk(start uint64) {
	s.mu.Lock()
	s.brkStart, s.brk = start, start
	s.mu.Unlock()
}

// Fork returns a copy of the address space: private pages become shared
// copy-on-write, shared mappings stay shared.
func (s *Space) Fork() (*Space, error) {
	c, err := New(s.pool)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.brkStart, c.brk = s.brkStart, s.brk
	for _, v := range s.vmas {
		cv := *v
		hold(&cv)
		c.vmas = append(c.vmas, &cv)
		for a := v.Start; a < v.End; a += PageSize {
			e := s.pte(a, false)
			if e == nil {
				next := (a + 1<<21) &^ (1<<21 - 1)
				if next > a {
					a = next - PageSize
				}
				continue
			}
			if *e&(pteP|pteKept) == 0 {
				continue
			}
			ce := c.pte(a, true)
			if ce == nil {
				c.mu.Lock()
				c.release()
				c.mu.Unlock()
				return nil, syscall.ENOMEM
			}
			if !v.Shared {
				*e = (*e | pteCOW) &^ pteW
			}
			*ce = *e
			s.pool.Share(uintptr(*e & pteAddr))
		}
	}
	s.m.FlushTLB() // the parent's writable entries just became read-only
	return c, nil
}

// Madvise with MADV_DONTNEED drops the pages of private mappings, which
// read back as zeros (or as the file's bytes).
func (s *Space) DropPages(addr, length uint64) error {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || n < length || addr+n > UserEnd {
		return syscall.EINVAL
	}
	s.mu.Lock()
	for a := addr; a < addr+n; {
		v := s.find(a)
		if v == nil {
			s.mu.Unlock()
			return syscall.ENOMEM
		}
		end := min(v.End, addr+n)
		if !v.Shared {
			s.dropPages(a, end)
		}
		a = end
	}
	s.flushFreed(false)
	s.mu.Unlock()
	return nil
}

// Resident tells which pages of [addr, addr+length) are present.
func (s *Space) Resident(addr, length uint64) ([]byte, error) {
	n := pageUp(length)
	if addr&(PageSize-1) != 0 || n < length {
		return nil, syscall.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]byte, n/PageSize)
	for i := range out {
		a := addr + uint64(i)*PageSize
		if s.find(a) == nil {
			return nil, syscall.ENOMEM
		}
		if e := s.pte(a, false); e != nil && *e&pteP != 0 {
			out[i] = 1
		}
	}
	return out, nil
}

// Remap implements mremap: shrink in place, grow in place when the room
// is free, else (with mayMove) move the pages to a new range.
func (s *Space) Remap(old, oldLen, newLen uint64, mayMove bool) (uint64, error) {
	oldN, newN := pageUp(oldLen), pageUp(newLen)
	if old&(PageSize-1) != 0 || newLen == 0 || newN < newLen {
		return 0, syscall.EINVAL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.find(old)
	if v == nil || old+oldN > v.End {
		return 0, syscall.EFAULT
	}
	switch {
	case newN <= oldN:
		s.unmap(old+newN, old+oldN) // flushes
		return old, nil
	case old+oldN == v.End && !s.overlaps(v.End, old+newN) && old+newN <= UserEnd:
		v.End = old + newN
		return old, nil
	case !mayMove:
		return 0, syscall.ENOMEM
	}
	dst, ok := s.gap(0, newN)
	if !ok {
		return 0, syscall.ENOMEM
	}
	nv := *v
	nv.Start, nv.End = dst, dst+newN
	nv.Off = v.Off + int64(old-v.Start)
	hold(&nv)
	for a := uint64(0); a < oldN; a += PageSize {
		e := s.pte(old+a, false)
		if e == nil || *e&(pteP|pteKept) == 0 {
			continue
		}
		ne := s.pte(dst+a, true)
		if ne == nil {
			return 0, syscall.ENOMEM
		}
		*ne, *e = *e, *e&pteA
	}
	s.unmap(old, old+oldN) // the range is empty of pages now
	s.insert(&nv)
	s.m.FlushTLB()
	return dst, nil
}

// Share adds a user of the space (a CLONE_VM child) and returns it.
func (s *Space) Share() *Space {
	s.users.Add(1)
	return s
}

// Release drops a user; the last one frees every page and page table.
func (s *Space) Release() {
	if s.users.Add(-1) > 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release()
}

func (s *Space) release() {
	if s.released {
		return
	}
	s.released = true
	for _, v := range s.vmas {
		s.dropPages(v.Start, v.End)
		drop(v)
	}
	s.vmas = nil
	// Flush even without pages: no CPU may keep the root loaded once it
	// is freed (kernel code runs on the last user root a CPU had, and a
	// TLB flush makes every CPU drop one no task of its uses).
	s.flushFreed(true)
	s.freeTables(s.root, 4)
	s.pool.Put(s.root)
}

// freeTables frees the lower-half page tables below table p at level.
func (s *Space) freeTables(p uintptr, level int) {
	t := table(s.m, p)
	n := 512
	if level == 4 {
		n = 256 // the upper half belongs to the kernel
	}
	for i := 0; i < n; i++ {
		if t[i]&pteP == 0 || level == 1 {
			continue
		}
		child := uintptr(t[i] & pteAddr)
		if level > 2 {
			s.freeTables(child, level-1)
		}
		s.pool.Put(child)
		t[i] = 0
	}
}
