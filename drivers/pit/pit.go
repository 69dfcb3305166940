// Package pit uses the 8254 programmable interval timer (channel 2, the
// one gated through port 0x61) as a reference clock: the kernel measures
// the TSC frequency against it at boot.
//
// Every function is nosplit and allocates nothing.
package pit

import "dunix/arch/amd64"

// Hz is the PIT's input clock.
const Hz = 1193182

const (
	portCh2  = 0x42
	portCmd  = 0x43
	portGate = 0x61

	gateOn  = 1 << 0
	speaker = 1 << 1
	out2    = 1 << 5
)

// Measure runs channel 2 for ticks PIT ticks (at most 65535) and returns
// how much the counter function advanced meanwhile, or 0 when the PIT
// never finished (no PIT, e.g. some microVMs).
//
//go:nosplit
func Measure(ticks uint16, counter func() uint64) uint64 {
	g := amd64.Inb(portGate)
	amd64.Outb(portGate, g&^(gateOn|speaker)) // gate low: stop
	amd64.Outb(portCmd, 0xB0)                 // channel 2, lobyte/hibyte, mode 0, binary
	amd64.Outb(portCh2, uint8(ticks))
	amd64.Outb(portCh2, uint8(ticks>>8))
	amd64.Outb(portGate, (g&^speaker)|gateOn) // gate high: count
	start := counter()
	for i := 0; i < 100_000_000; i++ {
		if amd64.Inb(portGate)&out2 != 0 {
			end := counter()
			amd64.Outb(portGate, g&^(gateOn|speaker))
			return end - start
		}
	}
	return 0
}

// Disable stops channel 0 (the legacy system timer), which the kernel does
// not use: mode 0 with a zero count fires once and then stays quiet.
//
//go:nosplit
func Disable() {
	amd64.Outb(portCmd, 0x30) // channel 0, lobyte/hibyte, mode 0
	amd64.Outb(0x40, 0)
	amd64.Outb(0x40, 0)
}
