// Package pit uses the 8254 programmable interval timer as a reference
// clock: the kernel measures the TSC frequency against it at boot. Channel
// 0 runs as a rate generator and its count is read back with the latch
// command, which works on PCs and on QEMU's microvm alike (channel 2 needs
// the PC speaker port 0x61, which microvm lacks).
//
// Every function is nosplit and allocates nothing.
package pit

import "dunix/arch/amd64"

// Hz is the PIT's input clock.
const Hz = 1193182

const (
	portCh0 = 0x40
	portCmd = 0x43
)

// StartRateGenerator runs channel 0 in mode 2 (rate generator) with the
// largest divisor (65536: 18.2 Hz). Its output is IRQ 0.
//
//go:nosplit
func StartRateGenerator() {
	amd64.Outb(portCmd, 0x34) // channel 0, lobyte/hibyte, mode 2, binary
	amd64.Outb(portCh0, 0)
	amd64.Outb(portCh0, 0)
}

// count latches and reads channel 0's current count.
//
//go:nosplit
func count() uint16 {
	amd64.Outb(portCmd, 0x00) // latch channel 0
	lo := amd64.Inb(portCh0)
	hi := amd64.Inb(portCh0)
	return uint16(hi)<<8 | uint16(lo)
}

// Measure lets ticks PIT ticks pass on channel 0 (which StartRateGenerator
// must have started) and returns how much the counter function advanced
// meanwhile, or 0 when the PIT's count does not move (no PIT).
//
//go:nosplit
func Measure(ticks uint32, counter func() uint64) uint64 {
	prev := count()
	// Wait for the count to change once, so that the measurement starts on
	// a tick boundary (and to see that there is a PIT at all).
	for i := 0; ; i++ {
		c := count()
		if c != prev {
			prev = c
			break
		}
		if i > 1_000_000 {
			return 0
		}
	}
	start := counter()
	var elapsed uint32
	for i := 0; elapsed < ticks; i++ {
		c := count()
		elapsed += uint32(prev-c) & 0xFFFF // counts down, wraps at 65536
		prev = c
		if i > 100_000_000 {
			return 0
		}
	}
	return (counter() - start) * uint64(ticks) / uint64(elapsed)
}
