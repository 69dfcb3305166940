// Package uart drives a 16550-compatible serial port (PC16550D data sheet):
// the dunix console. Output is polled, so it works in trap context, before
// the runtime and while the kernel is dying; input is interrupt-driven
// (the kernel routes the port's IRQ and calls Receive from its handler).
//
// Every method is nosplit and allocates nothing.
package uart

import "dunix/arch/amd64"

// Port is a UART identified by its I/O port base.
type Port uint16

// The standard PC serial ports.
const (
	COM1 Port = 0x3F8
	COM2 Port = 0x2F8
)

// IRQs of the standard ports on the ISA bus.
const (
	COM1IRQ = 4
	COM2IRQ = 3
)

// Registers, as offsets from the base.
const (
	regData    = 0 // RBR (read) / THR (write); divisor low when DLAB
	regIER     = 1 // interrupt enable; divisor high when DLAB
	regFCR     = 2 // FIFO control (write) / IIR (read)
	regLCR     = 3 // line control
	regMCR     = 4 // modem control
	regLSR     = 5 // line status
	regScratch = 7

	lsrDataReady = 1 << 0
	lsrTHREmpty  = 1 << 5

	ierRxAvailable = 1 << 0

	lcrDLAB    = 1 << 7
	lcr8N1     = 0x03
	mcrDTR     = 1 << 0
	mcrRTS     = 1 << 1
	mcrOUT2    = 1 << 3 // gates the IRQ line on PCs
	fcrEnable  = 0x01   // FIFOs on (without the clear bits)
	iirFIFOsOn = 0xC0   // IIR bits 7:6 read 11 when the FIFOs are on
	fcrTrig1   = 0x00   // interrupt after 1 byte
	baseBaud   = 115200
)

// Present reports whether a UART answers at this port: the scratch register
// keeps what is written to it.
//
//go:nosplit
func (p Port) Present() bool {
	amd64.Outb(uint16(p)+regScratch, 0x5A)
	if amd64.Inb(uint16(p)+regScratch) != 0x5A {
		return false
	}
	amd64.Outb(uint16(p)+regScratch, 0xA5)
	return amd64.Inb(uint16(p)+regScratch) == 0xA5
}

// Init sets the port to baud, 8 data bits, no parity, one stop bit,
// interrupts off; bytes already received stay in the receiver.
//
//go:nosplit
func (p Port) Init(baud int) {
	b := uint16(p)
	if baud <= 0 || baud > baseBaud {
		baud = baseBaud
	}
	div := uint16(baseBaud / baud)
	amd64.Outb(b+regIER, 0)
	amd64.Outb(b+regLCR, lcrDLAB)
	amd64.Outb(b+regData, uint8(div))
	amd64.Outb(b+regIER, uint8(div>>8))
	amd64.Outb(b+regLCR, lcr8N1)
	// Changing the FIFO enable bit clears the receive FIFO (the data sheet
	// says so and QEMU does it), which loses whatever a user typed or piped
	// in before the kernel came up. So keep the FIFO state the firmware
	// left: only refresh the trigger level when the FIFOs are already on.
	// Without FIFOs QEMU holds input back until each byte is read.
	if amd64.Inb(b+regFCR)&iirFIFOsOn == iirFIFOsOn {
		amd64.Outb(b+regFCR, fcrEnable|fcrTrig1)
	}
	amd64.Outb(b+regMCR, mcrDTR|mcrRTS|mcrOUT2)
}

// EnableReceiveInterrupt asks the UART to raise its IRQ when a byte
// arrives.
//
//go:nosplit
func (p Port) EnableReceiveInterrupt() {
	amd64.Outb(uint16(p)+regIER, ierRxAvailable)
}

// PutByte sends one byte, waiting for room in the transmitter.
//
//go:nosplit
func (p Port) PutByte(c byte) {
	b := uint16(p)
	for amd64.Inb(b+regLSR)&lsrTHREmpty == 0 {
		amd64.Pause()
	}
	amd64.Outb(b+regData, c)
}

// Write sends s, turning "\n" into "\r\n" as a terminal expects.
//
//go:nosplit
func (p Port) Write(s []byte) {
	for _, c := range s {
		if c == '\n' {
			p.PutByte('\r')
		}
		p.PutByte(c)
	}
}

// WriteString is Write for a string.
//
//go:nosplit
func (p Port) WriteString(s string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			p.PutByte('\r')
		}
		p.PutByte(s[i])
	}
}

// Receive returns the next received byte, if any.
//
//go:nosplit
func (p Port) Receive() (byte, bool) {
	b := uint16(p)
	if amd64.Inb(b+regLSR)&lsrDataReady == 0 {
		return 0, false
	}
	return amd64.Inb(b + regData), true
}
