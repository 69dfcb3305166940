// Package frames is the physical page-frame allocator: it hands out 4 KiB
// frames of RAM, named by frame number (pfn = physical address >> 12).
//
// # Trap context
//
// The code runs in trap context (see docs/conventions.md): system-call and
// interrupt handlers and the pre-runtime boot code call it. Every function
// is //go:nosplit, nothing allocates, the package keeps no Go pointers in
// globals (its only globals are the statically initialised error values)
// and it never panics on purpose; misuse returns an error or false and
// leaves the state unchanged.
//
// The Allocator is NOT locked. The kernel serialises every call on one
// Allocator with its own spinlock, interrupts off; tests use a sync.Mutex.
//
// # Storage
//
// The bitmaps live in memory the caller provides to Init (BitmapWords tells
// how much): in the kernel a slice built over raw memory with unsafe.Slice,
// in tests an ordinary slice. The Allocator remembers only the address of
// that memory, as an integer, so that Init stores no Go pointer (an
// Allocator may sit in a global written with interrupts off and no valid g,
// where a write barrier could not run). Hence the caller must keep the
// storage alive for as long as the Allocator is used: raw memory, a
// global array, or a slice the caller still references. It must not move
// either; Init marks it as escaping (see escape) so that the compiler never
// places it on a goroutine stack, which moves when it grows.
//
// # Representation
//
// Two bitmaps of one bit per frame tell the three states of a frame apart:
//
//	exists free  state
//	0      0     not RAM (never added, or reserved)
//	1      1     free
//	1      0     allocated
//
// They are interleaved: word 2i of the storage holds the "exists" bits of
// frames 64i..64i+63, word 2i+1 their "free" bits, so that one frame's two
// bits share a cache line.
//
// Alloc keeps a hint: the index of a word before which no frame is free.
// It scans 64 frames per word from there and returns the lowest free frame.
//
// # Stack
//
// The linker allows nosplit call chains of 792 bytes in all. Every index
// is proven in range by the compiler (no bounds checks, hence no
// runtime.panicBounds frames), and the storage is viewed without unsafe.Slice
// (whose length checks have panic paths too). TestCodegen checks the
// generated code for calls that could panic, allocate or grow the stack,
// and TestStackProbe links testdata/stackprobe to check that the deepest
// chain leaves the kernel 600 bytes of the budget.
package frames

import (
	"errors"
	"math/bits"
	"unsafe"
)

// FrameShift is log2 of FrameSize.
const FrameShift = 12

// FrameSize is the size of a frame in bytes.
const FrameSize = 1 << FrameShift

// Errors returned for misuse. None of the calls returning them changes the
// Allocator.
var (
	// ErrStorage: the storage given to Init is smaller than BitmapWords.
	ErrStorage = errors.New("frames: bitmap storage too small")
	// ErrRange: a frame number or range lies outside [0, nframes), or a
	// range is empty.
	ErrRange = errors.New("frames: frame range invalid or out of bounds")
	// ErrOverlap: AddFree of a range of which some frame is already RAM.
	ErrOverlap = errors.New("frames: range overlaps RAM already added")
	// ErrInUse: Reserve of a range that holds an allocated frame.
	ErrInUse = errors.New("frames: range contains allocated frames")
	// ErrNotRAM: Free of a frame that was never added (or was reserved).
	ErrNotRAM = errors.New("frames: frame is not managed RAM")
	// ErrDoubleFree: Free of a frame that is already free.
	ErrDoubleFree = errors.New("frames: frame already free")
)

// State is the state of one frame, as State reports it.
type State uint8

// Frame states.
const (
	NotRAM    State = iota // not managed: never added, or reserved
	Free                   // available to Alloc
	Allocated              // handed out by Alloc or AllocRange
)

// Allocator is a bitmap page-frame allocator over frames [0, nframes).
// The zero value manages no frames; call Init. It is not safe for
// concurrent use: the caller serialises all calls.
type Allocator struct {
	base    uintptr // address of the storage: words pairs
	words   uint64  // 64-frame words per bitmap
	nframes uint64  // frames covered by the bitmaps
	total   uint64  // frames that exist (free or allocated)
	nfree   uint64  // frames that are free
	hint    uint64  // no free frame in words [0, hint)
}

// pair holds the two bitmap words of 64 frames.
type pair struct {
	exists uint64
	free   uint64
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// BitmapWords returns the number of uint64 words of storage Init needs to
// manage nframes frames (two bitmaps of one bit per frame).
//
//go:nosplit
func BitmapWords(nframes uint64) int {
	return int(2 * ((nframes + 63) / 64))
}

// Init makes a manage frames [0, nframes) with bits as storage (at least
// BitmapWords(nframes) words; see the package comment for how long it must
// live). All frames start as NotRAM; AddFree makes RAM available. Init
// clears the storage it uses. It fails with ErrStorage, leaving a as it
// was, when bits is too small.
//
//go:nosplit
func (a *Allocator) Init(bits []uint64, nframes uint64) error {
	words := (nframes + 63) / 64
	if uint64(len(bits))/2 < words {
		return ErrStorage
	}
	for i := uint64(0); i < 2*words && i < uint64(len(bits)); i++ {
		bits[i] = 0
	}
	*a = Allocator{words: words, nframes: nframes}
	if words > 0 && len(bits) > 0 {
		escape(unsafe.Pointer(&bits[0]))
		a.base = uintptr(unsafe.Pointer(&bits[0]))
	}
	return nil
}

// pairs returns the storage as a slice of words pairs. It reads the address
// word as a pointer (rather than convert a uintptr value, which vet and the
// checkptr instrumentation of -race builds reject) and builds the slice by
// hand (unsafe.Slice would add length checks with panic paths).
//
//go:nosplit
func (a *Allocator) pairs() []pair {
	h := sliceHeader{*(*unsafe.Pointer)(unsafe.Pointer(&a.base)), int(a.words), int(a.words)}
	return *(*[]pair)(unsafe.Pointer(&h))
}

// Frames returns the number of frames the bitmaps cover (nframes of Init).
//
//go:nosplit
func (a *Allocator) Frames() uint64 { return a.nframes }

// Total returns the number of frames of RAM the allocator manages (added
// and not reserved), free or allocated.
//
//go:nosplit
func (a *Allocator) Total() uint64 { return a.total }

// FreeCount returns the number of free frames. (The method is not called
// Free because Free returns a frame.)
//
//go:nosplit
func (a *Allocator) FreeCount() uint64 { return a.nfree }

// Used returns the number of allocated frames: Total() - FreeCount().
//
//go:nosplit
func (a *Allocator) Used() uint64 { return a.total - a.nfree }

// State reports the state of frame pfn; frames beyond nframes are NotRAM.
//
//go:nosplit
func (a *Allocator) State(pfn uint64) State {
	ps := a.pairs()
	w, bit := pfn/64, uint64(1)<<(pfn%64)
	if pfn >= a.nframes || w >= uint64(len(ps)) {
		return NotRAM
	}
	switch {
	case ps[w].free&bit != 0:
		return Free
	case ps[w].exists&bit != 0:
		return Allocated
	}
	return NotRAM
}

// checkRange reports whether [pfn, pfn+n) is a non-empty range inside
// [0, nframes).
//
//go:nosplit
func (a *Allocator) checkRange(pfn, n uint64) bool {
	return n != 0 && pfn < a.nframes && n <= a.nframes-pfn
}

// wordMask returns the mask of the bits of [pfn, end) that lie in word w;
// the caller guarantees that the range meets word w.
//
//go:nosplit
func wordMask(w, pfn, end uint64) uint64 {
	lo, hi := w*64, w*64+64
	m := ^uint64(0)
	if pfn > lo {
		m &^= (uint64(1) << (pfn - lo)) - 1
	}
	if end < hi {
		m &= (uint64(1) << (end - lo)) - 1
	}
	return m
}

// AddFree makes frames [pfn, pfn+n) available RAM, all free. It fails with
// ErrRange for an empty or out-of-bounds range and with ErrOverlap if any
// frame of the range already is RAM.
//
//go:nosplit
func (a *Allocator) AddFree(pfn, n uint64) error {
	if !a.checkRange(pfn, n) {
		return ErrRange
	}
	ps := a.pairs()
	end := pfn + n
	first, last := pfn/64, (end-1)/64
	for w := first; w <= last && w < uint64(len(ps)); w++ {
		if ps[w].exists&wordMask(w, pfn, end) != 0 {
			return ErrOverlap
		}
	}
	for w := first; w <= last && w < uint64(len(ps)); w++ {
		m := wordMask(w, pfn, end)
		ps[w].exists |= m
		ps[w].free |= m
	}
	a.total += n
	a.nfree += n
	a.hint = min(a.hint, first)
	return nil
}

// Reserve takes frames [pfn, pfn+n) out of the managed RAM: free frames
// in the range become NotRAM, frames that were not RAM stay so. It fails
// with ErrRange for an empty or out-of-bounds range and with ErrInUse if
// any frame of the range is allocated (free it first).
//
//go:nosplit
func (a *Allocator) Reserve(pfn, n uint64) error {
	if !a.checkRange(pfn, n) {
		return ErrRange
	}
	ps := a.pairs()
	end := pfn + n
	first, last := pfn/64, (end-1)/64
	for w := first; w <= last && w < uint64(len(ps)); w++ {
		if ps[w].exists&^ps[w].free&wordMask(w, pfn, end) != 0 {
			return ErrInUse
		}
	}
	for w := first; w <= last && w < uint64(len(ps)); w++ {
		m := ps[w].free & wordMask(w, pfn, end)
		c := uint64(bits.OnesCount64(m))
		ps[w].exists &^= m
		ps[w].free &^= m
		a.total -= c
		a.nfree -= c
	}
	return nil
}

// Alloc allocates the lowest free frame. ok is false when no frame is
// free.
//
//go:nosplit
func (a *Allocator) Alloc() (pfn uint64, ok bool) {
	if a.nfree == 0 {
		return 0, false
	}
	ps := a.pairs()
	for w := a.hint; w < uint64(len(ps)); w++ {
		if f := ps[w].free; f != 0 {
			b := uint64(bits.TrailingZeros64(f))
			ps[w].free = f &^ (1 << b)
			a.nfree--
			a.hint = w
			return w*64 + b, true
		}
	}
	// Unreachable while nfree counts the free bits, which lie at or
	// after the hint; report failure rather than trust a broken count.
	return 0, false
}

// nextFree returns the lowest free frame at or after pfn, or nframes if
// there is none.
//
//go:nosplit
func nextFree(ps []pair, pfn, nframes uint64) uint64 {
	w := pfn / 64
	if pfn >= nframes || w >= uint64(len(ps)) {
		return nframes
	}
	f := ps[w].free &^ ((uint64(1) << (pfn % 64)) - 1)
	for {
		if f != 0 {
			return w*64 + uint64(bits.TrailingZeros64(f))
		}
		w++
		if w >= uint64(len(ps)) {
			return nframes
		}
		f = ps[w].free
	}
}

// firstNotFree returns the lowest frame of [pfn, end) that is not free, or
// end if all are free.
//
//go:nosplit
func firstNotFree(ps []pair, pfn, end uint64) uint64 {
	for w := pfn / 64; w*64 < end && w < uint64(len(ps)); w++ {
		if m := ^ps[w].free & wordMask(w, pfn, end); m != 0 {
			return w*64 + uint64(bits.TrailingZeros64(m))
		}
	}
	return end
}

// alignUp rounds pfn up to a multiple of align; ok is false on overflow
// and for align 0.
//
//go:nosplit
func alignUp(pfn, align uint64) (uint64, bool) {
	if align == 0 {
		return 0, false
	}
	r := pfn % align
	if r == 0 {
		return pfn, true
	}
	up := pfn + (align - r)
	return up, up > pfn
}

// AllocRange allocates n physically contiguous frames whose first frame
// number is a multiple of alignFrames (0 means 1; any value is allowed,
// powers of two are the usual ones) and returns the first frame: the
// lowest such run. ok is false when n is 0 or no run fits.
//
//go:nosplit
func (a *Allocator) AllocRange(n, alignFrames uint64) (pfn uint64, ok bool) {
	if alignFrames == 0 {
		alignFrames = 1
	}
	if n == 0 || n > a.nfree {
		return 0, false
	}
	ps := a.pairs()
	cand := a.hint * 64
	for {
		cand = nextFree(ps, cand, a.nframes)
		cand, ok = alignUp(cand, alignFrames)
		if !ok || cand >= a.nframes || n > a.nframes-cand {
			return 0, false
		}
		bad := firstNotFree(ps, cand, cand+n)
		if bad == cand+n {
			break
		}
		cand = bad + 1
	}
	end := cand + n
	for w := cand / 64; w*64 < end && w < uint64(len(ps)); w++ {
		ps[w].free &^= wordMask(w, cand, end)
	}
	a.nfree -= n
	return cand, true
}

// Free returns frame pfn to the allocator. It fails with ErrRange beyond
// nframes, ErrNotRAM for a frame that is not managed RAM and ErrDoubleFree
// for a frame that is already free.
//
//go:nosplit
func (a *Allocator) Free(pfn uint64) error {
	ps := a.pairs()
	w, bit := pfn/64, uint64(1)<<(pfn%64)
	if pfn >= a.nframes || w >= uint64(len(ps)) {
		return ErrRange
	}
	p := &ps[w]
	if p.exists&bit == 0 {
		return ErrNotRAM
	}
	if p.free&bit != 0 {
		return ErrDoubleFree
	}
	p.free |= bit
	a.nfree++
	a.hint = min(a.hint, w)
	return nil
}

// FreeRange frees frames [pfn, pfn+n), all of which must be allocated. It
// fails, freeing nothing, with ErrRange for an empty or out-of-bounds
// range, else ErrNotRAM if a frame of the range is not managed RAM, else
// ErrDoubleFree if one is already free.
//
//go:nosplit
func (a *Allocator) FreeRange(pfn, n uint64) error {
	if !a.checkRange(pfn, n) {
		return ErrRange
	}
	ps := a.pairs()
	end := pfn + n
	first, last := pfn/64, (end-1)/64
	notRAM, double := false, false
	for w := first; w <= last && w < uint64(len(ps)); w++ {
		m := wordMask(w, pfn, end)
		notRAM = notRAM || ps[w].exists&m != m
		double = double || ps[w].free&m != 0
	}
	if notRAM {
		return ErrNotRAM
	}
	if double {
		return ErrDoubleFree
	}
	for w := first; w <= last && w < uint64(len(ps)); w++ {
		ps[w].free |= wordMask(w, pfn, end)
	}
	a.nfree += n
	a.hint = min(a.hint, first)
	return nil
}
