package amd64

// Port I/O.

// Inb reads a byte from an I/O port.
func Inb(port uint16) uint8

// Outb writes a byte to an I/O port.
func Outb(port uint16, v uint8)

// Inw reads a 16-bit word from an I/O port.
func Inw(port uint16) uint16

// Outw writes a 16-bit word to an I/O port.
func Outw(port uint16, v uint16)

// Inl reads a 32-bit word from an I/O port.
func Inl(port uint16) uint32

// Outl writes a 32-bit word to an I/O port.
func Outl(port uint16, v uint32)

// Model-specific registers.

// Rdmsr reads a model-specific register.
func Rdmsr(msr uint32) uint64

// Wrmsr writes a model-specific register.
func Wrmsr(msr uint32, v uint64)

// CPUID executes CPUID for a leaf and sub-leaf.
func CPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// Xgetbv reads an extended control register (XCR0 is index 0).
func Xgetbv(index uint32) uint64

// Xsetbv writes an extended control register.
func Xsetbv(index uint32, v uint64)

// Control registers.

// CR0 returns control register 0.
func CR0() uint64

// SetCR0 writes control register 0.
func SetCR0(v uint64)

// CR2 returns the faulting linear address of the last page fault.
func CR2() uint64

// CR3 returns the physical address of the current top-level page table.
func CR3() uint64

// SetCR3 switches page tables (and flushes non-global TLB entries).
func SetCR3(v uint64)

// CR4 returns control register 4.
func CR4() uint64

// SetCR4 writes control register 4.
func SetCR4(v uint64)

// Invlpg invalidates the TLB entry for one virtual address.
func Invlpg(addr uintptr)

// Descriptor tables.

// Lgdt loads the GDT register from the 10-byte pseudo-descriptor at p.
func Lgdt(p uintptr)

// Lidt loads the IDT register from the 10-byte pseudo-descriptor at p.
func Lidt(p uintptr)

// Ltr loads the task register with a TSS selector.
func Ltr(sel uint16)

// ReloadSegments loads CS with code and DS, ES, SS with data. FS and GS
// keep their bases (set through MSRs).
func ReloadSegments(code, data uint16)

// Time, randomness, interrupts.

// Rdtsc reads the time-stamp counter.
func Rdtsc() uint64

// Rdrand returns a hardware random number; ok is false when the CPU had
// none ready (or lacks the instruction: check the CPUID bit first).
func Rdrand() (v uint64, ok bool)

// Rdseed is like Rdrand but draws from the entropy source itself.
func Rdseed() (v uint64, ok bool)

// Halt enables interrupts and halts until the next one arrives.
func Halt()

// Pause hints the CPU that this is a spin-wait loop.
func Pause()

// DisableInterrupts clears IF and returns the previous RFLAGS.
func DisableInterrupts() uint64

// RestoreInterrupts sets IF again if it was set in flags.
func RestoreInterrupts(flags uint64)

// EnableInterrupts sets IF.
func EnableInterrupts()

// Flags returns RFLAGS.
func Flags() uint64

// Segment bases.

// SetFSBase sets the FS segment base (thread-local storage of Go threads).
func SetFSBase(v uint64)

// FSBase returns the FS segment base.
func FSBase() uint64

// SetGSBase sets the GS segment base (this CPU's per-CPU block).
func SetGSBase(v uint64)

// GSWord reads the 64-bit word at offset off from the GS base.
func GSWord(off uintptr) uint64

// Extended state.

// Xsave saves the extended state components in mask to the 64-byte aligned
// area at p.
func Xsave(p uintptr, mask uint64)

// Xrstor restores the extended state components in mask from p.
func Xrstor(p uintptr, mask uint64)

// Fxsave saves x87/SSE state to the 16-byte aligned 512-byte area at p.
func Fxsave(p uintptr)

// Fxrstor restores x87/SSE state from p.
func Fxrstor(p uintptr)

// Fninit resets the x87 FPU.
func Fninit()

// Ldmxcsr loads MXCSR.
func Ldmxcsr(v uint32)

// Stop disables interrupts and halts this CPU for good (NMIs aside).
func Stop()
