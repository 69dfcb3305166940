// Package boot is the first code that runs on a dunix node: the entry from
// the boot loader, in 32-bit protected mode, and the switch to 64-bit long
// mode (entry_amd64.s), and the reading of what the loader handed over
// (memory map, command line, ACPI pointer, modules) for the two boot
// protocols the kernel speaks:
//
//   - PVH, which QEMU's -kernel uses (found through the Xen ELF note
//     XEN_ELFNOTE_PHYS32_ENTRY that tools/mkkernel writes into the kernel);
//   - multiboot2, which GRUB uses (header also written by tools/mkkernel).
//
// One entry point, entry32, serves both: multiboot2 loaders put the magic
// 0x36d76289 in EAX, PVH loaders put 0x336ec578 in the first word of the
// start_info structure EBX points to.
//
// The kernel is linked at KernelBase+physical address, inside the direct
// map of physical memory. entry32 builds boot page tables that map the
// first 4 GiB twice (identity, for the switch itself and for the
// application-processor trampoline, and at KernelBase), enters long mode,
// jumps to the high-half address and hands over to the kernel's
// pre-runtime code (dunix/kernel.start, the one reference upwards, like
// rt0 calling main).
//
// The parsing code runs before the Go runtime exists: it is nosplit,
// allocates nothing, and reads physical memory through a Mem function so
// that it can be tested on the host.
package boot
