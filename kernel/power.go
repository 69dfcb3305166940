package kernel

import (
	"dunix/arch/amd64"
	"dunix/kernel/klog"
)

// Power-off: the status goes to QEMU's isa-debug-exit device (QEMU then
// exits with status*2+1) and, just before, into the console line
// "dunix: power-off status=N", which the host tools read. Without that
// device the machine is switched off through ACPI (S5); failing that, the
// CPUs stop.

const debugExitPort = 0xF4

var (
	acpiPM1a, acpiPM1b uint16 // PM1 control ports
	acpiSlpTypA        uint16
	acpiSlpTypB        uint16
	acpiS5             bool
)

//go:nosplit
func powerOff(status int) {
	amd64.DisableInterrupts()
	stopOtherCPUs()
	klog.Begin().S("dunix: power-off status=").D(uint64(status & 0xFF)).End()
	amd64.Outl(debugExitPort, uint32(status&0xFF))
	if acpiS5 {
		const slpEn = 1 << 13
		amd64.Outw(acpiPM1a, acpiSlpTypA<<10|slpEn)
		if acpiPM1b != 0 {
			amd64.Outw(acpiPM1b, acpiSlpTypB<<10|slpEn)
		}
	}
	klog.Write([]byte("dunix: power-off failed; halting\n"))
	for {
		amd64.DisableInterrupts()
		amd64.Halt()
	}
}

// stopOtherCPUs: the others must not keep printing while this one powers
// off. They get an NMI that halts them.
//
//go:nosplit
func stopOtherCPUs() {
	c := thisCPU()
	if !stopping.CompareAndSwap(0, c.ID+1) && stopping.Load() != c.ID+1 {
		amd64.Stop() // another CPU is powering off already
	}
	for i := int32(0); i < ncpu; i++ {
		if i != c.ID && cpus[i].online.Load() != 0 {
			sendNMI(i)
		}
	}
}
