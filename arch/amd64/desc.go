package amd64

import "unsafe"

// GDT is one CPU's global descriptor table: null, kernel code, kernel
// data, user data, user code (the order SYSCALL/SYSRET need) and the
// two-slot descriptor of the CPU's TSS.
type GDT [7]uint64

// TSS is the 64-bit task-state segment: the stacks the CPU switches to on
// a privilege change (RSP0) and for IST-marked interrupt gates.
type TSS [104]byte

// IDT is the interrupt descriptor table shared by all CPUs.
type IDT [256][2]uint64

// IST slots the IDT uses.
const (
	ISTNMI          = 1 // non-maskable interrupts
	ISTDoubleFault  = 2
	ISTMachineCheck = 3
	ISTEntry        = 4 // every other vector
)

// pseudo is the operand of LGDT/LIDT: a 16-bit limit then a 64-bit base.
// The padding puts Base on an 8-byte boundary; the operand starts at limit.
type pseudo struct {
	_     [3]uint16
	limit uint16
	base  uint64
}

// Init fills the table; tss is the CPU's task-state segment.
//
//go:nosplit
func (g *GDT) Init(tss *TSS) {
	g[0] = 0
	g[1] = 0x00AF9A000000FFFF // kernel code: 64-bit, DPL 0
	g[2] = 0x00CF92000000FFFF // kernel data
	g[3] = 0x00CFF2000000FFFF // user data, DPL 3
	g[4] = 0x00AFFA000000FFFF // user code: 64-bit, DPL 3
	base := uint64(uintptr(unsafe.Pointer(tss)))
	limit := uint64(len(tss) - 1)
	// System descriptor, type 9 (available 64-bit TSS), present.
	g[5] = limit&0xFFFF | (base&0xFFFFFF)<<16 | 0x89<<40 | (limit>>16&0xF)<<48 | (base>>24&0xFF)<<56
	g[6] = base >> 32
}

// Load makes g this CPU's GDT, reloads the segment registers and loads the
// task register.
//
//go:nosplit
func (g *GDT) Load() {
	var p pseudo
	p.limit = uint16(unsafe.Sizeof(*g) - 1)
	p.base = uint64(uintptr(unsafe.Pointer(g)))
	Lgdt(uintptr(unsafe.Pointer(&p.limit)))
	ReloadSegments(KernelCode, KernelData)
	Ltr(TSSSel)
}

// SetIST sets interrupt stack n (1..7) to the stack whose top is top.
//
//go:nosplit
func (t *TSS) SetIST(n int, top uintptr) {
	*(*uint64)(unsafe.Pointer(&t[36+8*(n-1)])) = uint64(top)
}

// SetRSP0 sets the stack used when an interrupt arrives in ring 3.
//
//go:nosplit
func (t *TSS) SetRSP0(top uintptr) {
	*(*uint64)(unsafe.Pointer(&t[4])) = uint64(top)
}

// Init points every gate at its entry stub, as an interrupt gate (IF
// cleared on entry) for ring 0, on the IST stack the vector needs.
//
//go:nosplit
func (idt *IDT) Init() {
	stubs := stubTable()
	for v := range idt {
		ist := uint64(ISTEntry)
		switch v {
		case 2:
			ist = ISTNMI
		case 8:
			ist = ISTDoubleFault
		case 18:
			ist = ISTMachineCheck
		}
		idt.set(v, stubs[v], ist, 0)
	}
}

// SetUserCallable lets ring 3 raise vector v with INT (breakpoints).
//
//go:nosplit
func (idt *IDT) SetUserCallable(v int) {
	idt[v][0] |= 3 << 45
}

//go:nosplit
func (idt *IDT) set(v int, handler uintptr, ist uint64, dpl uint64) {
	h := uint64(handler)
	idt[v][0] = h&0xFFFF | uint64(KernelCode)<<16 | ist<<32 | (0x8E|dpl<<5)<<40 | (h>>16&0xFFFF)<<48
	idt[v][1] = h >> 32
}

// Load makes idt this CPU's interrupt table.
//
//go:nosplit
func (idt *IDT) Load() {
	var p pseudo
	p.limit = uint16(unsafe.Sizeof(*idt) - 1)
	p.base = uint64(uintptr(unsafe.Pointer(idt)))
	Lidt(uintptr(unsafe.Pointer(&p.limit)))
}
