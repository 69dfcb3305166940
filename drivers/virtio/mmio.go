package virtio

import (
	"fmt"

	"dunix/drivers/mmio"
)

// virtio-mmio register offsets (virtio 1.2, 4.2.2; version 2 only).
const (
	mmioMagic         = 0x000 // "virt"
	mmioVersion       = 0x004
	mmioDeviceID      = 0x008
	mmioDevFeatures   = 0x010
	mmioDevFeatSel    = 0x014
	mmioDrvFeatures   = 0x020
	mmioDrvFeatSel    = 0x024
	mmioQueueSel      = 0x030
	mmioQueueNumMax   = 0x034
	mmioQueueNum      = 0x038
	mmioQueueReady    = 0x044
	mmioQueueNotify   = 0x050
	mmioIntStatus     = 0x060
	mmioIntAck        = 0x064
	mmioStatus        = 0x070
	mmioQueueDescLo   = 0x080
	mmioQueueDriverLo = 0x090
	mmioQueueDeviceLo = 0x0A0
	mmioConfig        = 0x100

	magicVirt = 0x74726976
)

// LinePlatform is a Platform that can also route an interrupt line of the
// I/O APIC: the kernel's handler acknowledges the device (reads the
// 32-bit register at status, writes the value to ack; both virtual
// addresses) before it wakes the driver, as level-triggered lines need.
type LinePlatform interface {
	Platform
	AllocLineIRQ(gsi uint32, level, activeLow bool, status, ack uintptr) (IRQ, error)
}

// MMIODevice is a device found on a virtio-mmio transport.
type MMIODevice struct {
	MMIOTransport
	Type int     // device type (TypeNet...)
	base uintptr // virtual address of the registers
}

// ProbeMMIO maps the transports and returns those that hold a device
// (a transport without one reads device ID 0). Legacy (version 1)
// transports are skipped: the drivers speak virtio 1.x only.
func ProbeMMIO(ts []MMIOTransport, p Platform) []MMIODevice {
	var out []MMIODevice
	for _, t := range ts {
		if t.Size < mmioConfig {
			continue
		}
		va, err := p.Map(uint64(t.Base), uint64(t.Size))
		if err != nil {
			continue
		}
		if mmio.Read32(va+mmioMagic) != magicVirt || mmio.Read32(va+mmioVersion) != 2 {
			continue
		}
		if id := mmio.Read32(va + mmioDeviceID); id != 0 {
			out = append(out, MMIODevice{MMIOTransport: t, Type: int(id), base: va})
		}
	}
	return out
}

// OpenMMIO resets a virtio-mmio device and routes its interrupt line.
func OpenMMIO(d MMIODevice, p LinePlatform) (*Device, error) {
	name := fmt.Sprintf("mmio@%#x", d.Base)
	irq, err := p.AllocLineIRQ(d.GSI, d.Level, d.ActiveLow, d.base+mmioIntStatus, d.base+mmioIntAck)
	if err != nil {
		return nil, fmt.Errorf("virtio %s: interrupt line %d: %w", name, d.GSI, err)
	}
	return start(&Device{Name: name, Type: d.Type, plat: p, t: &mmioTransport{base: d.base, irq: irq}})
}

// mmioTransport is virtio 1.x over MMIO: one interrupt for the device.
type mmioTransport struct {
	base uintptr
	irq  IRQ
}

func (t *mmioTransport) status() uint8     { return uint8(mmio.Read32(t.base + mmioStatus)) }
func (t *mmioTransport) setStatus(s uint8) { mmio.Write32(t.base+mmioStatus, uint32(s)) }
func (t *mmioTransport) config() uintptr   { return t.base + mmioConfig }
func (t *mmioTransport) ready()            {}
func (t *mmioTransport) notify32() bool    { return true }

func (t *mmioTransport) deviceFeatures() uint64 {
	return readFeatures(t.base+mmioDevFeatSel, t.base+mmioDevFeatures)
}

func (t *mmioTransport) setDriverFeatures(f uint64) {
	writeFeatures(t.base+mmioDrvFeatSel, t.base+mmioDrvFeatures, f)
}

func (t *mmioTransport) queueSize(idx int) int {
	mmio.Write32(t.base+mmioQueueSel, uint32(idx))
	if mmio.Read32(t.base+mmioQueueReady) != 0 {
		return 0 // in use: not ours to set up
	}
	return int(mmio.Read32(t.base + mmioQueueNumMax))
}

func (t *mmioTransport) setupQueue(idx, size int, desc, driver, device uint64, interrupts bool) (uintptr, IRQ, error) {
	b := t.base
	mmio.Write32(b+mmioQueueSel, uint32(idx))
	mmio.Write32(b+mmioQueueNum, uint32(size))
	for off, a := range map[uintptr]uint64{mmioQueueDescLo: desc, mmioQueueDriverLo: driver, mmioQueueDeviceLo: device} {
		mmio.Write32(b+off, uint32(a))
		mmio.Write32(b+off+4, uint32(a>>32))
	}
	mmio.Write32(b+mmioQueueReady, 1)
	var irq IRQ
	if interrupts {
		irq = t.irq
	}
	return b + mmioQueueNotify, irq, nil
}
