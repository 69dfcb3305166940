package mm

import (
	"unsafe"

	"dunix/arch/amd64"
	"dunix/boot"
	"dunix/kernel/mm/frames"
	"dunix/kernel/spin"
)

var (
	physLock spin.Lock
	phys     frames.Allocator
	// physEnd is the end of the highest RAM region: the direct map covers
	// at least [0, max(physEnd, 4 GiB)).
	physEnd uint64
)

// DirectMapEnd is the end of the physical range the direct map covers.
//
//go:nosplit
func DirectMapEnd() uint64 { return (max(physEnd, 1<<32) + HugeSize - 1) &^ (HugeSize - 1) }

// Stats about physical memory.
type PhysStats struct {
	Total, Free uint64 // bytes of RAM managed, and free
}

// Phys returns physical memory statistics.
//
//go:nosplit
func Phys() PhysStats {
	physLock.Lock()
	s := PhysStats{phys.Total() << PageShift, phys.FreeCount() << PageShift}
	physLock.Unlock()
	return s
}

// AllocFrame returns a physical frame, not zeroed.
//
//go:nosplit
func AllocFrame() (uintptr, bool) {
	physLock.Lock()
	pfn, ok := phys.Alloc()
	physLock.Unlock()
	return uintptr(pfn) << PageShift, ok
}

// AllocZeroedFrame returns a zeroed physical frame.
//
//go:nosplit
func AllocZeroedFrame() (uintptr, bool) {
	p, ok := AllocFrame()
	if ok {
		clearPage(P2V(p))
	}
	return p, ok
}

// FreeFrame gives a frame back. Freeing a frame twice is reported and
// ignored.
//
//go:nosplit
func FreeFrame(p uintptr) {
	physLock.Lock()
	err := phys.Free(uint64(p >> PageShift))
	physLock.Unlock()
	if err != nil {
		complain("mm: bad frame free", uint64(p))
	}
}

//go:nosplit
func clearPage(v uintptr) {
	b := (*[PageSize]byte)(amd64.Ptr(v))
	clear(b[:])
}

// InitPhys builds the frame allocator from the loader's memory map.
// Everything below kernelEnd (the BIOS area, the AP trampoline page, the
// kernel image) and the loader's own structures stay reserved. It runs
// before paging is set up: the boot page tables map the first 4 GiB at
// DirectMap, so the allocator's bitmaps are placed there.
//
//go:nosplit
func InitPhys(info *boot.Info, kernelEnd uint64) bool {
	var top uint64
	for i := 0; i < info.NRegions; i++ {
		r := &info.Regions[i]
		if r.Type == boot.RegionRAM && r.Base+r.Size > top {
			top = r.Base + r.Size
		}
	}
	physEnd = top
	nframes := top >> PageShift
	words := uint64(frames.BitmapWords(nframes))
	size := (words*8 + PageSize - 1) &^ (PageSize - 1)

	// The bitmaps go in the first RAM region above the kernel with room,
	// below 4 GiB (mapped by the boot tables), clear of the loader's data.
	var at uint64
	for i := 0; i < info.NRegions && at == 0; i++ {
		r := &info.Regions[i]
		if r.Type != boot.RegionRAM {
			continue
		}
		base := (max(r.Base, kernelEnd) + PageSize - 1) &^ (PageSize - 1)
		for base+size <= r.Base+r.Size && base+size <= 1<<32 {
			if !overlapsUsed(info, base, size) {
				at = base
				break
			}
			base += PageSize
		}
	}
	if at == 0 {
		return false
	}
	bits := unsafe.Slice((*uint64)(amd64.Ptr(P2V(uintptr(at)))), words)
	clear(bits)
	if phys.Init(bits, nframes) != nil {
		return false
	}
	for i := 0; i < info.NRegions; i++ {
		r := &info.Regions[i]
		if r.Type != boot.RegionRAM {
			continue
		}
		start := (r.Base + PageSize - 1) >> PageShift
		end := (r.Base + r.Size) >> PageShift
		if end > start {
			phys.AddFree(start, end-start)
		}
	}
	reserve(0, kernelEnd)
	reserve(at, size)
	for i := 0; i < info.NUsed; i++ {
		reserve(info.Used[i].Base, info.Used[i].Size)
	}
	return true
}

// reserve takes [base, base+size) out of the free frames, frame by frame
// (parts that are not RAM are skipped).
//
//go:nosplit
func reserve(base, size uint64) {
	for pfn := base >> PageShift; pfn < (base+size+PageSize-1)>>PageShift && pfn < physEnd>>PageShift; pfn++ {
		if phys.State(pfn) == frames.Free {
			phys.Reserve(pfn, 1)
		}
	}
}

//go:nosplit
func overlapsUsed(info *boot.Info, base, size uint64) bool {
	for i := 0; i < info.NUsed; i++ {
		u := &info.Used[i]
		if base < u.Base+u.Size && u.Base < base+size {
			return true
		}
	}
	return false
}

// complaint is reported by the kernel (mm does not print itself).
var complainHook func(msg string, v uint64)

// SetComplain installs the function mm reports internal errors through.
//
//go:nosplit
func SetComplain(f func(msg string, v uint64)) { complainHook = f }

//go:nosplit
func complain(msg string, v uint64) {
	if complainHook != nil {
		complainHook(msg, v)
	}
}
