package kernel

import (
	"unsafe"

	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/boot"
	"dunix/kernel/klog"
	"dunix/kernel/mm"
)

// Starting the other CPUs (INIT-SIPI-SIPI). The Go side (main.go) paces
// the sequence with real sleeps; each step is a kernel call. An AP runs
// the trampoline (arch/amd64/trampoline.go) into apEntry (asm_amd64.s) on
// the boot page tables, then apMain sets it up like the boot CPU and
// leaves trap context into its idle thread.

var (
	apStarting int32 // CPU index being started
	apCR3      uint64
)

// apEntry is where the trampoline lands (asm_amd64.s).
func apEntry()

// apEntryAddr returns apEntry's address.
func apEntryAddr() uintptr

// kStartCPU: phase 0 sends INIT to CPU i, phase 1 a startup IPI; phase 2
// returns 1 once CPU i is online.
//
//go:nosplit
func kStartCPU(i, phase uint64) int64 {
	if i == 0 || i >= uint64(ncpu) {
		return -einval
	}
	c := &cpus[i]
	switch phase {
	case 0:
		if c.online.Load() != 0 {
			return -eexist
		}
		tr := (*[amd64.TrampSize]byte)(amd64.Ptr(mm.P2V(amd64.TrampolineAddr)))
		*tr = amd64.Trampoline
		efer := uint32(amd64.EFERLME)
		if cpuHasNX {
			efer |= amd64.EFERNXE
		}
		st32(uintptr(unsafe.Pointer(&tr[amd64.TrampCR3])), boot.BootPageTable())
		st32(uintptr(unsafe.Pointer(&tr[amd64.TrampEFER])), efer)
		top, ok := mm.AllocStack(apBootStack)
		if !ok {
			return -enomem
		}
		st64(uintptr(unsafe.Pointer(&tr[amd64.TrampStack])), uint64(top))
		st64(uintptr(unsafe.Pointer(&tr[amd64.TrampEntry])), uint64(apEntryAddr()))
		apCR3 = uint64(mm.KernelRoot())
		apStarting = int32(i)
		lapic.SendInit(c.APICID)
		return 0
	case 1:
		lapic.SendStartup(c.APICID, amd64.TrampolineAddr>>12)
		return 0
	case 2:
		return int64(c.online.Load())
	}
	return -einval
}

// apMain runs on a new CPU, on its boot stack, with the kernel's page
// tables, interrupts off.
//
//go:nosplit
func apMain() {
	id := apStarting
	c := &cpus[id]
	setupCPU()
	if !initCPU(c, id) {
		klog.Begin().S("dunix: cpu ").D(uint64(id)).S(" failed to initialise").End()
		amd64.Stop()
	}
	it := &threads[c.idle]
	it.onCPU.Store(1)
	c.current = c.idle
	c.cr3 = mm.KernelRoot()
	c.fsBase = ^uint64(0)
	c.load(it)
	c.idleSince = now()
	idleMask.Or(1 << id)
	startTimer(c)
	c.online.Store(1)
	nonline.Add(1)
	amd64.Resume()
}

// apTLS is the FS block of a starting AP (FS:-8 must be readable).
var apTLS [2]uint64
