// Package pci finds devices on the PCI buses and reads and writes their
// configuration space: identifiers, base address registers (BARs), the
// capability list, the command register and MSI-X tables.
//
// Configuration space is reached through a ConfigSpace; on x86 that is
// configuration mechanism #1 (I/O ports 0xCF8/0xCFC, Ports), which q35
// and every PC chipset provide. The firmware has already assigned the
// BARs; this package reads them and never moves them. The code runs in Go
// context (a goroutine), not in trap context.
package pci

import (
	"fmt"
	"sync"

	"dunix/arch/amd64"
	"dunix/drivers/mmio"
)

// Addr is a device function's bus address.
type Addr struct{ Bus, Dev, Fn uint8 }

func (a Addr) String() string { return fmt.Sprintf("%02x:%02x.%d", a.Bus, a.Dev, a.Fn) }

// ConfigSpace reads and writes aligned 32-bit words of configuration
// space.
type ConfigSpace interface {
	Read32(a Addr, off uint8) uint32
	Write32(a Addr, off uint8, v uint32)
}

// Ports is configuration mechanism #1 through I/O ports 0xCF8 and 0xCFC.
var Ports ConfigSpace = &portConfig{}

type portConfig struct{ mu sync.Mutex }

func portAddr(a Addr, off uint8) uint32 {
	return 1<<31 | uint32(a.Bus)<<16 | uint32(a.Dev&31)<<11 | uint32(a.Fn&7)<<8 | uint32(off&^3)
}

func (p *portConfig) Read32(a Addr, off uint8) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	amd64.Outl(0xCF8, portAddr(a, off)) // select the register
	return amd64.Inl(0xCFC)             // and read it
}

func (p *portConfig) Write32(a Addr, off uint8, v uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	amd64.Outl(0xCF8, portAddr(a, off))
	amd64.Outl(0xCFC, v)
}

// Configuration-space offsets and bits used here.
const (
	offVendor   = 0x00
	offCommand  = 0x04
	offClass    = 0x08
	offHeader   = 0x0C
	offBAR0     = 0x10
	offBus      = 0x18 // bridges: primary, secondary, subordinate bus
	offCapPtr   = 0x34
	statusCaps  = 1 << 20 // in the command/status word: a capability list exists
	cmdMemory   = 1 << 1
	cmdMaster   = 1 << 2
	cmdINTxOff  = 1 << 10
	headerMulti = 0x80

	// CapMSIX is the capability ID of MSI-X; CapVendor of vendor-specific
	// capabilities (virtio's).
	CapMSIX   = 0x11
	CapVendor = 0x09
)

// Device is one function found on a bus.
type Device struct {
	Addr
	Vendor, ID              uint16
	Class, Subclass, ProgIF uint8
	cfg                     ConfigSpace
}

func (d *Device) String() string {
	return fmt.Sprintf("%s %04x:%04x class %02x%02x", d.Addr, d.Vendor, d.ID, d.Class, d.Subclass)
}

// Read32 reads a 32-bit word of the device's configuration space.
func (d *Device) Read32(off uint8) uint32 { return d.cfg.Read32(d.Addr, off) }

// Write32 writes a 32-bit word of the device's configuration space.
func (d *Device) Write32(off uint8, v uint32) { d.cfg.Write32(d.Addr, off, v) }

// Read8 reads one byte of configuration space.
func (d *Device) Read8(off uint8) uint8 { return uint8(d.Read32(off) >> (8 * (off & 3))) }

// Read16 reads a 16-bit word of configuration space (off even).
func (d *Device) Read16(off uint8) uint16 { return uint16(d.Read32(off) >> (8 * (off & 2))) }

// Write16 writes a 16-bit word of configuration space (off even),
// keeping the other half of its 32-bit word.
func (d *Device) Write16(off uint8, v uint16) {
	w := d.Read32(off)
	sh := 8 * uint32(off&2)
	w = w&^(0xFFFF<<sh) | uint32(v)<<sh
	if off&^3 == offCommand {
		w &^= 0xFFFF << 16 // status bits are write-1-to-clear: write zeros
	}
	d.Write32(off, w)
}

// Scan returns the functions present on bus 0 and on every bus behind a
// PCI-to-PCI bridge found on the way.
func Scan(cfg ConfigSpace) []*Device {
	var out []*Device
	seen := map[uint8]bool{}
	var scanBus func(bus uint8)
	scanBus = func(bus uint8) {
		if seen[bus] {
			return
		}
		seen[bus] = true
		for dev := uint8(0); dev < 32; dev++ {
			for fn := uint8(0); fn < 8; fn++ {
				a := Addr{bus, dev, fn}
				id := cfg.Read32(a, offVendor)
				if id&0xFFFF == 0xFFFF {
					if fn == 0 {
						break // no device
					}
					continue
				}
				class := cfg.Read32(a, offClass)
				d := &Device{Addr: a, Vendor: uint16(id), ID: uint16(id >> 16),
					Class: uint8(class >> 24), Subclass: uint8(class >> 16), ProgIF: uint8(class >> 8), cfg: cfg}
				out = append(out, d)
				header := uint8(cfg.Read32(a, offHeader) >> 16)
				if header&0x7F == 1 { // PCI-to-PCI bridge
					if sec := uint8(cfg.Read32(a, offBus) >> 8); sec != 0 {
						scanBus(sec)
					}
				}
				if fn == 0 && header&headerMulti == 0 {
					break
				}
			}
		}
	}
	scanBus(0)
	return out
}

// BAR returns the memory address that base address register i decodes
// (64-bit BARs take two registers); ok is false for an I/O-port BAR, an
// unassigned one or an index out of range.
func (d *Device) BAR(i int) (addr uint64, ok bool) {
	if i < 0 || i > 5 {
		return 0, false
	}
	lo := d.Read32(offBAR0 + uint8(4*i))
	if lo&1 != 0 {
		return 0, false // I/O space
	}
	addr = uint64(lo &^ 0xF)
	if (lo>>1)&3 == 2 { // 64-bit
		if i == 5 {
			return 0, false
		}
		addr |= uint64(d.Read32(offBAR0+uint8(4*i+4))) << 32
	}
	return addr, addr != 0
}

// Cap is one entry of the capability list.
type Cap struct {
	ID     uint8
	Offset uint8 // where it starts in configuration space
}

// Caps returns the capability list (at most 48 entries, which stops a
// looping list).
func (d *Device) Caps() []Cap {
	if d.Read32(offCommand)&statusCaps == 0 {
		return nil
	}
	var out []Cap
	for off := d.Read8(offCapPtr) &^ 3; off >= 0x40 && len(out) < 48; {
		out = append(out, Cap{ID: d.Read8(off), Offset: off})
		off = d.Read8(off+1) &^ 3
	}
	return out
}

// EnableDMA turns on memory decoding and bus mastering, and turns the
// legacy interrupt line off (the drivers use MSI-X).
func (d *Device) EnableDMA() {
	d.Write16(offCommand, d.Read16(offCommand)|cmdMemory|cmdMaster|cmdINTxOff)
}

// MSIX is a device's MSI-X capability with its vector table mapped.
type MSIX struct {
	dev   *Device
	cap   uint8
	table uintptr // virtual address of the vector table
	// Size is the number of vectors (table entries).
	Size int
}

// MSIX finds the MSI-X capability and maps its table with mapBAR (which
// turns a physical address range into a virtual address of uncached
// memory). It returns an error when the device has no MSI-X.
func (d *Device) MSIX(mapBAR func(phys, size uint64) (uintptr, error)) (*MSIX, error) {
	for _, c := range d.Caps() {
		if c.ID != CapMSIX {
			continue
		}
		ctl := d.Read16(c.Offset + 2)
		tab := d.Read32(c.Offset + 4)
		bar, ok := d.BAR(int(tab & 7))
		if !ok {
			return nil, fmt.Errorf("pci %s: MSI-X table in unassigned BAR %d", d.Addr, tab&7)
		}
		n := int(ctl&0x7FF) + 1
		v, err := mapBAR(bar+uint64(tab&^7), uint64(16*n))
		if err != nil {
			return nil, fmt.Errorf("pci %s: MSI-X table: %w", d.Addr, err)
		}
		return &MSIX{dev: d, cap: c.Offset, table: v, Size: n}, nil
	}
	return nil, fmt.Errorf("pci %s: no MSI-X capability", d.Addr)
}

// Set programs vector entry i to send data to addr, unmasked.
func (m *MSIX) Set(i int, addr uint64, data uint32) {
	e := m.table + uintptr(16*i)
	mmio.Write32(e+12, 1) // mask while changing
	mmio.Write32(e+0, uint32(addr))
	mmio.Write32(e+4, uint32(addr>>32))
	mmio.Write32(e+8, data)
	mmio.Write32(e+12, 0) // unmask
}

// Enable turns MSI-X on (and the function-wide mask off).
func (m *MSIX) Enable() {
	ctl := m.dev.Read16(m.cap + 2)
	m.dev.Write16(m.cap+2, (ctl|1<<15)&^(1<<14))
}
