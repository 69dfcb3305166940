// Package ioapic drives I/O APICs (Intel 82093AA data sheet): it routes
// the interrupt lines of devices (global system interrupts, GSIs) to
// vectors on CPUs. Registers are reached through an index/data pair in the
// chip's MMIO page, mapped by the kernel.
//
// Every function is nosplit and allocates nothing (trap context).
package ioapic

import (
	"sync/atomic"

	"dunix/arch/amd64"
)

const (
	regSelect = 0x00
	regWindow = 0x10

	regVersion = 0x01
	regTable   = 0x10

	masked     = 1 << 16
	levelTrig  = 1 << 15
	activeLow  = 1 << 13
	deliverNMI = 4 << 8
)

// IOAPIC is one I/O APIC.
type IOAPIC struct {
	base    uintptr // virtual address of the register page
	GSIBase uint32  // first GSI it serves
	Lines   uint32  // number of redirection entries
}

//go:nosplit
func (a *IOAPIC) read(reg uint32) uint32 {
	atomic.StoreUint32((*uint32)(amd64.Ptr(a.base+regSelect)), reg)
	return atomic.LoadUint32((*uint32)(amd64.Ptr(a.base + regWindow)))
}

//go:nosplit
func (a *IOAPIC) write(reg, v uint32) {
	atomic.StoreUint32((*uint32)(amd64.Ptr(a.base+regSelect)), reg)
	atomic.StoreUint32((*uint32)(amd64.Ptr(a.base+regWindow)), v)
}

// Init attaches to the I/O APIC mapped at base serving GSIs from gsiBase,
// and masks all its lines.
//
//go:nosplit
func (a *IOAPIC) Init(base uintptr, gsiBase uint32) {
	a.base = base
	a.GSIBase = gsiBase
	a.Lines = (a.read(regVersion)>>16)&0xFF + 1
	for i := uint32(0); i < a.Lines; i++ {
		a.write(regTable+2*i, masked)
		a.write(regTable+2*i+1, 0)
	}
}

// Serves reports whether gsi belongs to this I/O APIC.
//
//go:nosplit
func (a *IOAPIC) Serves(gsi uint32) bool {
	return a.base != 0 && gsi >= a.GSIBase && gsi < a.GSIBase+a.Lines
}

// Route delivers gsi as vector to the CPU with APIC ID dest (fixed
// delivery, physical destination).
//
//go:nosplit
func (a *IOAPIC) Route(gsi uint32, vector uint8, dest uint32, level, low bool) {
	lo := uint32(vector)
	if level {
		lo |= levelTrig
	}
	if low {
		lo |= activeLow
	}
	a.set(gsi, lo, dest)
}

// RouteNMI delivers gsi as a non-maskable interrupt to dest (used by the
// watchdog).
//
//go:nosplit
func (a *IOAPIC) RouteNMI(gsi uint32, dest uint32) {
	a.set(gsi, deliverNMI, dest)
}

//go:nosplit
func (a *IOAPIC) set(gsi, lo, dest uint32) {
	i := gsi - a.GSIBase
	a.write(regTable+2*i, masked)
	a.write(regTable+2*i+1, dest<<24)
	a.write(regTable+2*i, lo)
}

// Mask disables gsi.
//
//go:nosplit
func (a *IOAPIC) Mask(gsi uint32) {
	i := gsi - a.GSIBase
	a.write(regTable+2*i, a.read(regTable+2*i)|masked)
}
