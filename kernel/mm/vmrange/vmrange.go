// Package vmrange keeps a sorted set of non-overlapping, page-aligned
// virtual address ranges [Start, End) with attributes: the kernel's mmap
// bookkeeping. The Go runtime reserves large PROT_NONE regions, later maps
// parts of them read-write, and unmaps or re-protects pieces; Set records
// the result, splitting ranges where an operation cuts through them and
// merging neighbours whose attributes became equal, so that the number of
// ranges stays low.
//
// # Trap context
//
// The code runs in trap context (see docs/conventions.md): the system-call
// handlers for mmap, munmap and mprotect call it. Every function is
// //go:nosplit, nothing allocates, the package keeps no Go pointers in
// globals (its only globals are the statically initialised error values)
// and it never panics on purpose. Misuse returns an error or false; an
// operation that fails changes nothing.
//
// A Set is NOT locked. The kernel serialises every call on one Set with
// its own spinlock, interrupts off; tests use a sync.Mutex.
//
// # Storage
//
// The ranges live in a []Range the caller provides to Init, which fixes
// the capacity. In the kernel that slice is built over raw memory with
// unsafe.Slice; tests pass an ordinary slice. The Set remembers only the
// address of that memory, as an integer, so that Init stores no Go pointer
// (a Set may sit in a global written with interrupts off and no valid g,
// where a write barrier could not run). Hence the caller must keep the
// storage alive for as long as the Set is used: raw memory, a global
// array, or a slice the caller still references. It must not move either;
// Init marks it as escaping (see escape) so that the compiler never places
// it on a goroutine stack, which moves when it grows.
//
// # Invariants
//
// After every call the ranges are sorted by Start, non-empty, page-aligned,
// non-overlapping, and no two adjacent ranges (one's End equals the next
// one's Start) have the same Prot and Flags.
//
// # Stack
//
// The linker allows nosplit call chains of 792 bytes in all. Every index
// is proven in range by the compiler (no bounds checks, hence no
// runtime.panicBounds frames), and the storage is viewed without unsafe.Slice
// (whose length checks have panic paths too). TestCodegen checks the
// generated code for calls that could panic, allocate or grow the stack,
// and TestStackProbe links testdata/stackprobe to check that the deepest
// chain leaves the kernel 400 bytes of the budget.
package vmrange

import (
	"errors"
	"unsafe"
)

// PageSize is the granularity of all addresses and sizes.
const PageSize = 4096

// Errors returned for misuse. A call that returns one changes nothing.
var (
	// ErrInvalid: an empty or inverted range, or an address that is not
	// page aligned.
	ErrInvalid = errors.New("vmrange: invalid range")
	// ErrOverlap: Insert of a range that overlaps one already present.
	ErrOverlap = errors.New("vmrange: range overlaps an existing range")
	// ErrFull: the operation needs more ranges than the storage holds.
	ErrFull = errors.New("vmrange: storage full")
)

// Range is the virtual address range [Start, End) with protection Prot
// (PROT_* bits, opaque here) and Flags (opaque here). Ranges with equal
// Prot and Flags that touch are merged.
type Range struct {
	Start, End  uint64
	Prot, Flags uint32
}

// Len returns End - Start.
//
//go:nosplit
func (r Range) Len() uint64 { return r.End - r.Start }

// Contains reports whether addr lies in r.
//
//go:nosplit
func (r Range) Contains(addr uint64) bool { return r.Start <= addr && addr < r.End }

// sameAttr reports whether r and q have the same Prot and Flags.
//
//go:nosplit
func (r Range) sameAttr(q Range) bool { return r.Prot == q.Prot && r.Flags == q.Flags }

// Set is a sorted set of ranges over caller-provided storage. The zero
// value is an empty Set of capacity 0; call Init. It is not safe for
// concurrent use: the caller serialises all calls.
//
// To iterate: for i := 0; i < s.Len(); i++ { r := s.At(i) ... }, or start
// at i := s.Index(addr) to visit the ranges ending after addr.
type Set struct {
	base uintptr // address of the storage
	cap  int     // number of Ranges the storage holds
	n    int     // number of Ranges in use
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// Init makes s an empty set that keeps its ranges in storage (see the
// package comment for how long storage must live); len(storage) is the
// capacity.
//
//go:nosplit
func (s *Set) Init(storage []Range) {
	*s = Set{cap: len(storage)}
	if len(storage) > 0 {
		escape(unsafe.Pointer(&storage[0]))
		s.base = uintptr(unsafe.Pointer(&storage[0]))
	}
}

// Reset removes all ranges, keeping the storage.
//
//go:nosplit
func (s *Set) Reset() { s.n = 0 }

// ranges returns the ranges in use: a slice of length Len() and capacity
// Cap() over the storage. It reads the address word as a pointer (rather
// than convert a uintptr value, which vet and the checkptr instrumentation
// of -race builds reject) and builds the slice by hand (unsafe.Slice would
// add length checks with panic paths).
//
//go:nosplit
func (s *Set) ranges() []Range {
	h := sliceHeader{*(*unsafe.Pointer)(unsafe.Pointer(&s.base)), s.n, s.cap}
	return *(*[]Range)(unsafe.Pointer(&h))
}

// Len returns the number of ranges.
//
//go:nosplit
func (s *Set) Len() int { return s.n }

// Cap returns the number of ranges the storage holds.
//
//go:nosplit
func (s *Set) Cap() int { return s.cap }

// At returns the i-th range in address order, or the zero Range if i is
// not in [0, Len()).
//
//go:nosplit
func (s *Set) At(i int) Range {
	rs := s.ranges()
	if uint(i) >= uint(len(rs)) {
		return Range{}
	}
	return rs[i]
}

// search returns the index of the first range of rs whose End is above
// addr, or len(rs).
//
//go:nosplit
func search(rs []Range, addr uint64) int {
	lo, hi := 0, len(rs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if uint(mid) >= uint(len(rs)) { // unreachable; proves rs[mid]
			break
		}
		if rs[mid].End > addr {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// searchStart returns the index of the first range of rs whose Start is at
// or above addr, or len(rs).
//
//go:nosplit
func searchStart(rs []Range, addr uint64) int {
	lo, hi := 0, len(rs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if uint(mid) >= uint(len(rs)) { // unreachable; proves rs[mid]
			break
		}
		if rs[mid].Start >= addr {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Index returns the index of the first range whose End is above addr, or
// Len() if there is none: the range containing addr if there is one, else
// the first range after addr.
//
//go:nosplit
func (s *Set) Index(addr uint64) int { return search(s.ranges(), addr) }

// Find returns the range containing addr.
//
//go:nosplit
func (s *Set) Find(addr uint64) (Range, bool) {
	rs := s.ranges()
	i := search(rs, addr)
	if uint(i) < uint(len(rs)) && rs[i].Start <= addr {
		return rs[i], true
	}
	return Range{}, false
}

// Covered reports whether every byte of [start, end) lies in some range.
// An empty range (start == end) is covered; an inverted one is not.
//
//go:nosplit
func (s *Set) Covered(start, end uint64) bool {
	if start > end {
		return false
	}
	rs := s.ranges()
	c := start
	for i := search(rs, start); c < end; i++ {
		if uint(i) >= uint(len(rs)) || rs[i].Start > c {
			return false
		}
		c = rs[i].End
	}
	return true
}

// validSpan reports whether [start, end) is a non-empty page-aligned
// range.
//
//go:nosplit
func validSpan(start, end uint64) bool {
	return start < end && start%PageSize == 0 && end%PageSize == 0
}

// Insert adds r. It fails with ErrInvalid if r is empty or not page
// aligned, with ErrOverlap if r overlaps a range of the set, and with
// ErrFull if the set is full and r cannot be merged into a neighbour.
//
//go:nosplit
func (s *Set) Insert(r Range) error {
	if !validSpan(r.Start, r.End) {
		return ErrInvalid
	}
	rs := s.ranges()
	i := search(rs, r.Start)
	if i < 0 || i > len(rs) { // unreachable; proves the indexing below
		return ErrInvalid
	}
	if i < len(rs) && rs[i].Start < r.End {
		return ErrOverlap
	}
	if i > 0 && rs[i-1].End == r.Start && rs[i-1].sameAttr(r) {
		if i < len(rs) && rs[i].Start == r.End && rs[i].sameAttr(r) {
			// Merge with both neighbours: one range less.
			rs[i-1].End = rs[i].End
			move(rs, i, i+1, len(rs))
			s.n--
			return nil
		}
		rs[i-1].End = r.End // merge with the left neighbour
		return nil
	}
	if i < len(rs) && rs[i].Start == r.End && rs[i].sameAttr(r) {
		rs[i].Start = r.Start // merge with the right neighbour
		return nil
	}
	n := len(rs)
	if n >= cap(rs) {
		return ErrFull
	}
	rs = rs[:n+1]
	move(rs, i+1, i, n)
	if i < len(rs) { // always; proves rs[i]
		rs[i] = r
	}
	s.n++
	return nil
}

// move copies rs[src:end] to rs[dst:] (as far as it fits), checking the
// bounds itself so that no bounds-check panic path remains.
//
//go:nosplit
func move(rs []Range, dst, src, end int) {
	if 0 <= src && src <= end && end <= len(rs) && 0 <= dst && dst <= len(rs) {
		copy(rs[dst:], rs[src:end])
	}
}

// Remove takes [start, end) out of the set: ranges inside it disappear,
// ranges straddling its bounds are cut, and a range containing it is split
// in two. removed is the number of ranges that lost at least one page;
// gaps inside [start, end) are fine. It fails with ErrInvalid if the range
// is empty or not page aligned and with ErrFull, removing nothing, if a
// split needs a slot the storage does not have.
//
//go:nosplit
func (s *Set) Remove(start, end uint64) (removed int, err error) {
	if !validSpan(start, end) {
		return 0, ErrInvalid
	}
	rs := s.ranges()
	a, b := search(rs, start), searchStart(rs, end)
	if a >= b {
		return 0, nil
	}
	if err := s.rewrite(a, b, start, end, noProt); err != nil {
		return 0, err
	}
	return b - a, nil
}

// Protect sets the Prot of every page of [start, end) that lies in a range
// to prot, keeping Flags; ranges straddling the bounds are split, and
// ranges that end up with equal attributes merge. Gaps inside [start, end)
// are left alone: covered reports whether there were none (Linux mprotect
// fails with ENOMEM in that case; the caller decides). It fails with
// ErrInvalid if the range is empty or not page aligned and with ErrFull,
// changing nothing, if the result needs more slots than the storage has.
//
//go:nosplit
func (s *Set) Protect(start, end uint64, prot uint32) (covered bool, err error) {
	if !validSpan(start, end) {
		return false, ErrInvalid
	}
	rs := s.ranges()
	a, b := search(rs, start), searchStart(rs, end)
	if a >= b {
		return false, nil
	}
	covered = s.Covered(start, end)
	// Take the neighbours into the window: they may merge.
	a, b = max(a-1, 0), min(b+1, len(rs))
	if err := s.rewrite(a, b, start, end, uint64(prot)); err != nil {
		return false, err
	}
	return covered, nil
}

// noProt, as the prot argument of rewrite, means remove.
const noProt = 1 << 32

// rewrite replaces the ranges [a, b) by what remains of them after
// removing [start, end) from them (prot is noProt) or setting the Prot of
// their parts inside it to prot, merging pieces that touch and have equal
// attributes. It first counts the resulting pieces and fails with ErrFull,
// changing nothing, if they do not fit.
//
//go:nosplit
func (s *Set) rewrite(a, b int, start, end, prot uint64) error {
	rs := s.ranges()
	if a < 0 || b > len(rs) || a >= b { // unreachable
		return ErrInvalid
	}
	n := len(rs) + cut(rs, a, b, start, end, prot, false) - (b - a)
	if n < 0 || n > cap(rs) {
		return ErrFull
	}
	if n > len(rs) {
		// Make room: move the ranges after the window up first.
		old := len(rs)
		rs = rs[:n]
		move(rs, b+n-old, b, old)
		cut(rs, a, b, start, end, prot, true)
	} else {
		// Write the pieces, then move the ranges after the window down.
		cut(rs, a, b, start, end, prot, true)
		move(rs, b+n-len(rs), b, len(rs))
	}
	s.n = n
	return nil
}

// cut computes the pieces rewrite replaces rs[a:b] with and returns their
// number; if write is set it also stores them from index a on.
//
// Writing in place, over the ranges the pieces come from, is safe: only a
// range straddling start and one straddling end yield an extra piece each,
// and one piece is always held back as pending, so before range k is read
// at most k-a+1 pieces have been stored, which reaches index k only when
// both extra pieces came before it, that is for the last range (the right
// neighbour): that one is read up front.
//
//go:nosplit
func cut(rs []Range, a, b int, start, end, prot uint64, write bool) int {
	if a < 0 || b > len(rs) || a >= b { // unreachable
		return 0
	}
	last := rs[b-1]
	var pend Range // the last piece, not yet stored
	have := false  // pend is valid
	at := a        // where the next piece is stored
	for k := a; k < b; k++ {
		r := rs[k]
		if k == b-1 {
			r = last
		}
		// Up to three pieces: before start, inside, after end.
		for part := 0; part < 3; part++ {
			p := r
			switch part {
			case 0:
				p.End = min(r.End, start)
			case 1:
				p.Start, p.End = max(r.Start, start), min(r.End, end)
				if prot == noProt {
					continue
				}
				p.Prot = uint32(prot)
			case 2:
				p.Start = max(r.Start, end)
			}
			if p.Start >= p.End {
				continue
			}
			if have && pend.End == p.Start && pend.sameAttr(p) {
				pend.End = p.End
				continue
			}
			if have {
				if write && uint(at) < uint(len(rs)) {
					rs[at] = pend
				}
				at++
			}
			pend, have = p, true
		}
	}
	if have {
		if write && uint(at) < uint(len(rs)) {
			rs[at] = pend
		}
		at++
	}
	return at - a
}

// alignUp rounds x up to a multiple of align (a power of two); ok is false
// on overflow.
//
//go:nosplit
func alignUp(x, align uint64) (uint64, bool) {
	up := (x + align - 1) &^ (align - 1)
	return up, up >= x
}

// FindGap returns the lowest address addr, a multiple of align, such that
// [addr, addr+size) lies in [lo, hi), overlaps no range, and addr >= hint;
// if there is none it searches again from lo (wrapping around). A hint
// outside (lo, hi) means lo. align below PageSize means PageSize; it must
// be a power of two. ok is false if size is 0, align is not a power of
// two, or nothing fits.
//
//go:nosplit
func (s *Set) FindGap(size, align, lo, hi, hint uint64) (addr uint64, ok bool) {
	if size == 0 || lo >= hi || align&(align-1) != 0 {
		return 0, false
	}
	align = max(align, PageSize)
	rs := s.ranges()
	if hint > lo && hint < hi {
		if addr, ok = gapFrom(rs, size, align, hint, hi); ok {
			return addr, true
		}
	}
	return gapFrom(rs, size, align, lo, hi)
}

// gapFrom returns the lowest aligned addr >= from with [addr, addr+size)
// inside [from, hi) and overlapping no range of rs.
//
//go:nosplit
func gapFrom(rs []Range, size, align, from, hi uint64) (uint64, bool) {
	c, ok := alignUp(from, align)
	for i := search(rs, c); ok; i++ {
		if c >= hi || size > hi-c {
			return 0, false
		}
		// c+size cannot overflow: size <= hi-c.
		if uint(i) >= uint(len(rs)) || c+size <= rs[i].Start {
			return c, true
		}
		// rs[i] blocks c unless an alignment step already took c past it.
		if rs[i].End > c {
			c, ok = alignUp(rs[i].End, align)
		}
	}
	return 0, false
}
