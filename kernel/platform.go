package kernel

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/drivers/virtio"
	"dunix/kernel/mm"
)

// The Go-context side of device support (see devices.go): what drivers
// running as goroutines get from the kernel.

// Platform gives virtio drivers memory and interrupts.
type Platform struct{}

var _ virtio.LinePlatform = Platform{}

// Map returns the direct-map address of device memory; the direct map
// covers the first 4 GiB (uncached where there is no RAM) and all RAM.
func (Platform) Map(phys, size uint64) (uintptr, error) {
	if end := mm.DirectMapEnd(); phys+size > end || phys+size < phys {
		return 0, fmt.Errorf("device memory at %#x+%#x lies beyond the direct map (%#x)", phys, size, end)
	}
	return mm.P2V(uintptr(phys)), nil
}

// AllocPage returns a zeroed page of RAM for DMA.
func (Platform) AllocPage() (uint64, uintptr, error) {
	var p [1]uintptr
	if err := AllocPages(p[:]); err != nil {
		return 0, 0, fmt.Errorf("DMA page: %w", err)
	}
	return uint64(p[0]), mm.P2V(p[0]), nil
}

// AllocIRQ returns a new MSI vector on the boot CPU.
func (Platform) AllocIRQ() (virtio.IRQ, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("interrupt: eventfd: %w", err)
	}
	r, e := kcall(kcallMSIAlloc, uintptr(fd), 0)
	if e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("interrupt: %w", e)
	}
	return &msiIRQ{f: os.NewFile(uintptr(fd), "msi"), vector: uint8(r), apic: uint32(r >> 8)}, nil
}

type msiIRQ struct {
	f      *os.File
	vector uint8
	apic   uint32
}

func (q *msiIRQ) Message() (uint64, uint32) {
	// Fixed delivery, edge-triggered, physical destination: the boot CPU.
	return 0xFEE00000 | uint64(q.apic&0xFF)<<12, uint32(q.vector)
}

func (q *msiIRQ) Wait() error {
	var b [8]byte
	_, err := q.f.Read(b[:])
	return err
}

func (q *msiIRQ) Count() uint64 { return msiCount[q.vector-vecMSIBase].Load() }

// AllocLineIRQ routes I/O APIC line gsi to a new eventfd; the handler
// acknowledges the device through its status and ack registers.
func (Platform) AllocLineIRQ(gsi uint32, level, activeLow bool, status, ack uintptr) (virtio.IRQ, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("interrupt: eventfd: %w", err)
	}
	var flags uintptr
	if level {
		flags |= 1
	}
	if activeLow {
		flags |= 2
	}
	if _, _, e := syscall.RawSyscall6(kcallLineAlloc, uintptr(gsi), uintptr(fd), status, ack, flags, 0); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("interrupt line %d: %w", gsi, e)
	}
	return &gsiIRQ{f: os.NewFile(uintptr(fd), "irq"), gsi: gsi}, nil
}

type gsiIRQ struct {
	f   *os.File
	gsi uint32
}

// Message is meaningless for a line interrupt.
func (q *gsiIRQ) Message() (uint64, uint32) { return 0, 0 }

func (q *gsiIRQ) Wait() error {
	var b [8]byte
	_, err := q.f.Read(b[:])
	return err
}

func (q *gsiIRQ) Count() uint64 { return lines[q.gsi].count.Load() }
