package kernel

import (
	"sync/atomic"

	"dunix/drivers/mmio"
	"dunix/kernel/mm"
)

// Device support for drivers running as goroutines: DMA pages, device
// memory, and message-signalled interrupts. An MSI is a vector of its own
// (vecMSIBase and up) on the boot CPU; its handler adds one to an eventfd
// the driver created and wakes the runtime's poller, so a driver waits
// for its interrupt with an ordinary blocking read.

const (
	vecMSIBase = 0x50
	vecMSILast = 0xDF
)

var (
	msiFD    [vecMSILast - vecMSIBase + 1]int32 // eventfd per vector, -1 when free
	msiCount [vecMSILast - vecMSIBase + 1]atomic.Uint64
	msiNext  int32 // vectors are handed out once and never freed
)

// msi handles a message-signalled interrupt on vector v (the caller
// signals the end of interrupt).
//
//go:nosplit
func msi(v uint64) {
	i := v - vecMSIBase
	msiCount[i].Add(1)
	fdLock.Lock()
	if msiNext > int32(i) {
		signalEventfd(msiFD[i])
	}
	fdLock.Unlock()
}

// signalEventfd adds one to eventfd fd and wakes its waiters. fdLock is
// held.
//
//go:nosplit
func signalEventfd(fd int32) {
	if e := fdGet(uint64(fd)); e != nil && e.kind == fdEventfd {
		ev := &eventfds[e.obj]
		if ev.count < 1<<62 {
			ev.count++
		}
		notify(fd)
	}
}

// Interrupt lines of the I/O APICs bound to drivers (virtio-mmio): the
// handler acknowledges the device (reads its interrupt status register,
// writes the value to its acknowledge register) so that a level-triggered
// line drops before the end of interrupt, then signals the eventfd.
type line struct {
	fd          int32 // -1: not bound
	status, ack uintptr
	count       atomic.Uint64
}

var lines [24]line

// initLines marks every line unbound.
//
//go:nosplit
func initLines() {
	for i := range lines {
		lines[i].fd = -1
	}
}

// lineIRQ handles a bound line; false when gsi is not bound.
//
//go:nosplit
func lineIRQ(gsi uint32) bool {
	if gsi >= uint32(len(lines)) {
		return false
	}
	l := &lines[gsi]
	fdLock.Lock()
	fd := l.fd
	if fd >= 0 {
		if v := mmio.Read32(l.status); v != 0 {
			mmio.Write32(l.ack, v)
		}
		l.count.Add(1)
		signalEventfd(fd)
	}
	fdLock.Unlock()
	return fd >= 0
}

// kLineAlloc binds GSI gsi to eventfd fd with the device's status and
// acknowledge registers, and routes the line to its vector on the boot
// CPU (flags: bit 0 level-triggered, bit 1 active-low).
//
//go:nosplit
func kLineAlloc(gsi, fd, status, ack, flags uint64) int64 {
	if gsi >= uint64(len(lines)) || gsi > vecIRQLast-vecIRQBase || int32(gsi) == uartGSI {
		return -einval
	}
	if status < mm.DirectMap || ack < mm.DirectMap {
		return -efault // device registers live in the direct map
	}
	a := ioapicFor(uint32(gsi))
	if a == nil {
		return -enodev
	}
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(fd)
	if e == nil || e.kind != fdEventfd {
		return -ebadf
	}
	l := &lines[gsi]
	if l.fd >= 0 {
		return -ebusy
	}
	l.fd, l.status, l.ack = int32(fd), uintptr(status), uintptr(ack)
	a.Route(uint32(gsi), uint8(vecIRQBase+gsi), cpus[0].APICID, flags&1 != 0, flags&2 != 0)
	return 0
}

// kMSIAlloc binds the next free MSI vector to eventfd fd and returns the
// vector and the boot CPU's APIC ID (vector | apic<<8).
//
//go:nosplit
func kMSIAlloc(fd uint64) int64 {
	fdLock.Lock()
	defer fdLock.Unlock()
	e := fdGet(fd)
	if e == nil || e.kind != fdEventfd {
		return -ebadf
	}
	if msiNext >= int32(len(msiFD)) {
		return -ebusy
	}
	i := msiNext
	msiFD[i] = int32(fd)
	msiNext++
	return int64(vecMSIBase+i) | int64(cpus[0].APICID)<<8
}
