package mm

import "dunix/boot"

// Virtual layout.
const (
	DirectMap = boot.KernelBase
	MmapBase  = 0xffffc00000000000
	MmapEnd   = 0xffffff0000000000
	StackBase = 0xffffff0000000000
	StackEnd  = 0xffffff8000000000

	PageSize  = 4096
	PageShift = 12
	HugeSize  = 2 << 20
)

// P2V returns the direct-map address of physical address p.
//
//go:nosplit
func P2V(p uintptr) uintptr { return p + DirectMap }

// V2P returns the physical address of direct-map address v.
//
//go:nosplit
func V2P(v uintptr) uintptr { return v - DirectMap }

//go:nosplit
func pageDown(v uintptr) uintptr { return v &^ (PageSize - 1) }

//go:nosplit
func pageUp(v uintptr) uintptr { return (v + PageSize - 1) &^ (PageSize - 1) }
