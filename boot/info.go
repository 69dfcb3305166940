package boot

import (
	"encoding/binary"
	"errors"
)

// Mem returns the n bytes of physical memory at phys, or nil when the
// range is not readable. The kernel returns slices of its direct map; tests
// return slices of a buffer.
type Mem func(phys, n uint64) []byte

// Memory region types (the E820 numbering, which PVH and multiboot2 share).
const (
	RegionRAM      = 1
	RegionReserved = 2
	RegionACPI     = 3 // ACPI tables, reclaimable after reading them
	RegionNVS      = 4
	RegionBad      = 5
)

// Loaders.
const (
	LoaderPVH        = 1
	LoaderMultiboot2 = 2
)

// Region is a range of physical memory and what it holds.
type Region struct {
	Base, Size uint64
	Type       uint32
}

// Module is a file the loader placed in memory (an initrd).
type Module struct {
	Start, End uint64 // physical, end exclusive
}

// Capacities of Info.
const (
	MaxRegions    = 128
	MaxModules    = 8
	MaxCmdline    = 4096
	maxLoaderUsed = 4 + MaxModules
)

// Info is what the loader handed over.
type Info struct {
	Loader     uint32
	Regions    [MaxRegions]Region
	NRegions   int
	Cmdline    [MaxCmdline]byte
	CmdlineLen int
	// RSDP is the physical address of the ACPI root pointer (or of the copy
	// in the multiboot2 information), 0 when the loader gave none.
	RSDP     uint64
	Modules  [MaxModules]Module
	NModules int
	// Used lists the memory the loader's own structures occupy, which the
	// kernel must not hand out before it is done reading them.
	Used  [maxLoaderUsed]Region
	NUsed int
}

// Errors.
var (
	ErrUnknownLoader = errors.New("boot: neither a PVH start_info nor multiboot2 information")
	ErrBadInfo       = errors.New("boot: loader information is malformed")
	ErrNoMemoryMap   = errors.New("boot: loader gave no memory map")
)

// CmdlineString returns the command line (it aliases i.Cmdline).
//
//go:nosplit
func (i *Info) CmdlineString() []byte { return i.Cmdline[:i.CmdlineLen] }

// Parse reads the loader's information: magic is EAX at entry, info is EBX.
//
//go:nosplit
func Parse(magic uint32, info uint64, mem Mem, out *Info) error {
	out.NRegions, out.NModules, out.NUsed, out.CmdlineLen, out.RSDP = 0, 0, 0, 0, 0
	if magic == Multiboot2Magic {
		out.Loader = LoaderMultiboot2
		return parseMultiboot2(info, mem, out)
	}
	if b := mem(info, 4); b != nil && binary.LittleEndian.Uint32(b) == PVHMagic {
		out.Loader = LoaderPVH
		return parsePVH(info, mem, out)
	}
	return ErrUnknownLoader
}

//go:nosplit
func (i *Info) addUsed(base, size uint64) {
	if i.NUsed < len(i.Used) && size > 0 {
		i.Used[i.NUsed] = Region{base, size, RegionReserved}
		i.NUsed++
	}
}

//go:nosplit
func (i *Info) addRegion(base, size uint64, typ uint32) {
	if i.NRegions < len(i.Regions) && size > 0 {
		i.Regions[i.NRegions] = Region{base, size, typ}
		i.NRegions++
	}
}

// copyCmdline copies the NUL-terminated string at phys.
//
//go:nosplit
func (i *Info) copyCmdline(phys uint64, mem Mem) {
	for i.CmdlineLen < MaxCmdline-1 {
		b := mem(phys+uint64(i.CmdlineLen), 1)
		if b == nil || b[0] == 0 {
			break
		}
		i.Cmdline[i.CmdlineLen] = b[0]
		i.CmdlineLen++
	}
	i.addUsed(phys, uint64(i.CmdlineLen)+1)
}

// PVH: struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h).
const (
	pvhSize        = 56
	pvhMemmapEntry = 24
	pvhModEntry    = 32
)

//go:nosplit
func parsePVH(info uint64, mem Mem, out *Info) error {
	b := mem(info, pvhSize)
	if b == nil {
		return ErrBadInfo
	}
	le := binary.LittleEndian
	version := le.Uint32(b[4:])
	nmods := le.Uint32(b[12:])
	modlist := le.Uint64(b[16:])
	cmdline := le.Uint64(b[24:])
	out.RSDP = le.Uint64(b[32:])
	out.addUsed(info, pvhSize)
	if cmdline != 0 {
		out.copyCmdline(cmdline, mem)
	}
	if nmods > 0 {
		if nmods > MaxModules {
			nmods = MaxModules
		}
		m := mem(modlist, uint64(nmods)*pvhModEntry)
		if m == nil {
			return ErrBadInfo
		}
		out.addUsed(modlist, uint64(nmods)*pvhModEntry)
		for k := uint32(0); k < nmods; k++ {
			e := m[k*pvhModEntry:]
			start, size := le.Uint64(e), le.Uint64(e[8:])
			out.Modules[out.NModules] = Module{start, start + size}
			out.NModules++
			out.addUsed(start, size)
		}
	}
	if version < 1 {
		return ErrNoMemoryMap
	}
	memmap, n := le.Uint64(b[40:]), le.Uint32(b[48:])
	if n == 0 || n > MaxRegions {
		return ErrNoMemoryMap
	}
	m := mem(memmap, uint64(n)*pvhMemmapEntry)
	if m == nil {
		return ErrBadInfo
	}
	out.addUsed(memmap, uint64(n)*pvhMemmapEntry)
	for k := uint32(0); k < n; k++ {
		e := m[k*pvhMemmapEntry:]
		out.addRegion(le.Uint64(e), le.Uint64(e[8:]), le.Uint32(e[16:]))
	}
	return nil
}

// Multiboot2 information tags (Multiboot2 specification, section 3.6).
const (
	mb2TagEnd     = 0
	mb2TagCmdline = 1
	mb2TagModule  = 3
	mb2TagMmap    = 6
	mb2TagACPIOld = 14
	mb2TagACPINew = 15
	mb2MaxSize    = 1 << 20
)

//go:nosplit
func parseMultiboot2(info uint64, mem Mem, out *Info) error {
	h := mem(info, 8)
	if h == nil {
		return ErrBadInfo
	}
	le := binary.LittleEndian
	total := uint64(le.Uint32(h))
	if total < 16 || total > mb2MaxSize {
		return ErrBadInfo
	}
	all := mem(info, total)
	if all == nil {
		return ErrBadInfo
	}
	out.addUsed(info, total)
	for off := uint64(8); off+8 <= total; {
		typ, size := le.Uint32(all[off:]), uint64(le.Uint32(all[off+4:]))
		if typ == mb2TagEnd {
			break
		}
		if size < 8 || off+size > total {
			return ErrBadInfo
		}
		tag := all[off : off+size]
		switch typ {
		case mb2TagCmdline:
			out.copyCmdline(info+off+8, mem)
		case mb2TagModule:
			if size >= 16 && out.NModules < MaxModules {
				start, end := uint64(le.Uint32(tag[8:])), uint64(le.Uint32(tag[12:]))
				if end >= start {
					out.Modules[out.NModules] = Module{start, end}
					out.NModules++
					out.addUsed(start, end-start)
				}
			}
		case mb2TagMmap:
			if size < 16 {
				return ErrBadInfo
			}
			esize := uint64(le.Uint32(tag[8:]))
			if esize < 24 {
				return ErrBadInfo
			}
			for e := uint64(16); e+esize <= size; e += esize {
				out.addRegion(le.Uint64(tag[e:]), le.Uint64(tag[e+8:]), le.Uint32(tag[e+16:]))
			}
		case mb2TagACPINew:
			out.RSDP = info + off + 8
		case mb2TagACPIOld:
			if out.RSDP == 0 {
				out.RSDP = info + off + 8
			}
		}
		off += (size + 7) &^ 7
	}
	if out.NRegions == 0 {
		return ErrNoMemoryMap
	}
	return nil
}
