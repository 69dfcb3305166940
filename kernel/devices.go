package kernel

import (
	"sync/atomic"
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
		fd := msiFD[i]
		if e := fdGet(uint64(fd)); e != nil && e.kind == fdEventfd {
			ev := &eventfds[e.obj]
			if ev.count < 1<<62 {
				ev.count++
			}
			notify(fd)
		}
	}
	fdLock.Unlock()
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
