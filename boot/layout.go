package boot

// KernelBase is the virtual address of physical address 0 in the kernel's
// direct map. The kernel image is linked at KernelBase plus its load
// address, so for every kernel symbol phys = virt - KernelBase.
const KernelBase = 0xffff800000000000

// Offsets into bootData, the scratch block entry32 uses before any stack
// or page table exists (kept in step with entry_amd64.s).
const (
	offLoaderMagic = 0    // EAX at entry (multiboot2 magic, or anything)
	offInfo        = 4    // EBX at entry: physical address of loader info
	offPageTable   = 8    // physical address of the boot PML4
	offGDT         = 16   // three descriptors: null, 64-bit code, data
	offGDTR        = 40   // limit (2 bytes) and base (8 bytes)
	offStack32     = 4096 // top of the 32-bit stack
	offTables      = 4096 // page tables start at the next 4 KiB boundary
	bootDataSize   = 4096 + 7*4096
)

// Loader magic numbers.
const (
	Multiboot2Magic = 0x36d76289 // in EAX from a multiboot2 loader
	PVHMagic        = 0x336ec578 // first word of hvm_start_info
)

// bootData is laid out by entry32; see the offsets above.
var bootData [bootDataSize]byte

// BootPageTable returns the physical address of the boot page tables, which
// map the first 4 GiB of physical memory at 0 and at KernelBase. The
// application-processor trampoline uses them (its CR3 must be 32-bit).
//
//go:nosplit
func BootPageTable() uint32 {
	return *(*uint32)(ptr(&bootData[offPageTable]))
}
