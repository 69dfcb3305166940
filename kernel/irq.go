package kernel

import (
	"dunix/drivers/acpi"
	"dunix/drivers/ioapic"
	"dunix/drivers/uart"
	"dunix/kernel/mm"
)

// Device interrupts arrive through the I/O APICs, each GSI on its own
// vector (vecIRQBase+GSI), all on the boot CPU for now.

var (
	ioapics  [4]ioapic.IOAPIC
	nioapics int
	uartGSI  int32 = -1
	irqCount [24]uint64
)

//go:nosplit
func initIOAPICs(m *acpi.MADT) {
	for i := 0; i < m.NumIOAPICs && nioapics < len(ioapics); i++ {
		a := &m.IOAPICs[i]
		ioapics[nioapics].Init(mm.P2V(uintptr(a.Address)), a.GSIBase)
		nioapics++
	}
}

//go:nosplit
func ioapicFor(gsi uint32) *ioapic.IOAPIC {
	for i := 0; i < nioapics; i++ {
		if ioapics[i].Serves(gsi) {
			return &ioapics[i]
		}
	}
	return nil
}

// routeISA routes legacy ISA interrupt irq to its vector on the boot CPU,
// honouring the MADT's overrides; it returns the GSI or -1.
//
//go:nosplit
func routeISA(m *acpi.MADT, irq uint8) int32 {
	gsi, flags := m.ISAIRQ(irq)
	a := ioapicFor(gsi)
	if a == nil || gsi > vecIRQLast-vecIRQBase {
		return -1
	}
	level := flags&acpi.TriggerMask == acpi.TriggerLevel
	low := flags&acpi.PolarityMask == acpi.PolarityLow
	a.Route(gsi, uint8(vecIRQBase+gsi), cpus[0].APICID, level, low)
	return int32(gsi)
}

// irq handles device interrupt gsi.
//
//go:nosplit
func irq(gsi uint32) {
	if gsi < uint32(len(irqCount)) {
		irqCount[gsi]++
	}
	if int32(gsi) == uartGSI {
		drainConsole()
		return
	}
	lineIRQ(gsi)
}

// drainConsole moves every byte the console UART holds (and those it held
// before it was initialised) into the console input buffer.
//
//go:nosplit
func drainConsole() {
	for {
		b, ok := uart.COM1.Receive()
		if !ok {
			return
		}
		consoleInput(b)
	}
}
