package kernel

import (
	"unsafe"

	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/boot"
	"dunix/drivers/acpi"
	"dunix/drivers/pit"
	"dunix/drivers/rtc"
	"dunix/drivers/uart"
	"dunix/kernel/klog"
	"dunix/kernel/mm"
)

// start is the hand-over point from package boot (asm_amd64.s).
func start()

// imageStart and imageEnd return the bounds of the kernel image.
func imageStart() uintptr
func imageEnd() uintptr

var (
	bootInfo   boot.Info
	acpiTables acpi.Tables
	ramEnd     uint64 // end of the direct map's RAM
	idt        amd64.IDT
	bootTSC    uint64 // TSC at entry, for the boot-time report
	imagePhys  [2]uint64
)

// Sizes of the per-CPU stacks.
const (
	trapStackSize  = 32 << 10
	istStackSize   = 16 << 10
	idleStackSize  = 8 << 10
	runtimeStack   = 256 << 10
	apBootStack    = 16 << 10
	statusBootFail = 4
)

// physMem reads physical memory through the direct map.
//
//go:nosplit
func physMem(phys, n uint64) []byte {
	limit := uint64(1 << 32)
	if mm.KernelRoot() != 0 && ramEnd > limit {
		limit = ramEnd
	}
	if phys >= limit || n > limit-phys {
		return nil
	}
	return unsafe.Slice((*byte)(amd64.Ptr(mm.P2V(uintptr(phys)))), n)
}

//go:nosplit
func bootFail(msg string) {
	klog.Begin().S("dunix: boot failed: ").S(msg).End()
	powerOff(statusBootFail)
}

// bootstrap runs on the boot CPU before the Go runtime: it sets up memory,
// this CPU, interrupts, clocks and the first thread, and returns the stack
// pointer the runtime starts with.
//
//go:nosplit
func bootstrap(magic, info uint64) uintptr {
	bootTSC = amd64.Rdtsc()
	klog.Init()
	detectFeatures()
	setupCPU()
	initXsaveTemplate()

	err := boot.Parse(uint32(magic), info, physMem, &bootInfo)
	quiet = hasWord(bootInfo.CmdlineString(), "dunix.quiet=1")
	if !quiet {
		klog.WriteString("dunix: booting\n")
	}
	if err != nil {
		bootFail(err.Error())
	}
	imagePhys[0] = uint64(mm.V2P(uintptr(unsafe.Pointer(&bootInfo)))) &^ (1<<21 - 1)
	imagePhys[1] = uint64(mm.V2P(imageEnd()))
	for i := 0; i < bootInfo.NRegions; i++ {
		r := &bootInfo.Regions[i]
		if r.Type == boot.RegionRAM && r.Base+r.Size > ramEnd {
			ramEnd = r.Base + r.Size
		}
	}
	if !mm.InitPhys(&bootInfo, imagePhys[1]) {
		bootFail("no room for the page-frame bitmaps")
	}
	mm.SetComplain(complain)

	rsdp, err := acpi.FindRSDP(physMem, bootInfo.RSDP)
	if err != nil && bootInfo.RSDP != 0 {
		rsdp, err = acpi.FindRSDP(physMem, 0)
	}
	if err != nil {
		bootFail("no ACPI tables (RSDP not found)")
	}
	if err := acpi.Parse(physMem, rsdp, &acpiTables); err != nil {
		bootFail(err.Error())
	}
	madt := &acpiTables.MADT
	if !madt.Found || madt.NumCPUs == 0 {
		bootFail("no CPUs in the ACPI MADT")
	}

	if !mm.InitPaging(ramAt, 0, imagePhys[1], cpuHasNX) {
		bootFail("cannot build the kernel page tables")
	}
	mm.InitVM(shootdown)
	initSymbols()

	// CPUs: the boot CPU is CPU 0; the others in MADT order.
	lapicBase := madt.LAPICBase
	if lapicBase == 0 {
		lapicBase = lapic.DefaultBase
	}
	lapic.SetBase(mm.P2V(uintptr(lapicBase)))
	bspID := lapic.ID()
	ncpu = 1
	cpus[0].APICID = bspID
	for i := 0; i < madt.NumCPUs && ncpu < MaxCPUs; i++ {
		cp := &madt.CPUs[i]
		if cp.Enabled() && cp.APICID != bspID {
			cpus[ncpu].APICID = cp.APICID
			ncpu++
		}
	}
	if f := &acpiTables.FADT; f.Found && acpiTables.S5.Found {
		acpiPM1a, acpiPM1b = f.PM1aControl, f.PM1bControl
		acpiSlpTypA, acpiSlpTypB = uint16(acpiTables.S5.SLPTypA), uint16(acpiTables.S5.SLPTypB)
		acpiS5 = acpiPM1a != 0
	}

	initSched()
	initFutex()
	initFDs()
	initLines()
	idt.Init()
	amd64.SetTrapHandlers(handleTrap, nestedTrap)

	// The first thread: the runtime's main thread (tid 1 = pid 1).
	ti := newThread()
	t := &threads[ti]
	t.fsBase = uint64(uintptr(unsafe.Pointer(&mainTLS)) + 8)
	initXsave(t.xsave)
	t.onCPU.Store(1)
	t.state.Store(tsRunning)
	nthreads = 1

	if !initCPU(&cpus[0], 0) {
		bootFail("cannot set up the boot CPU")
	}
	c := &cpus[0]
	c.current = ti
	c.cr3 = mm.KernelRoot()
	c.fsBase = ^uint64(0)
	c.load(t)
	initUswitch(c)

	// Interrupt controllers: the legacy PICs masked, the I/O APICs on.
	maskPICs()
	initIOAPICs(madt)
	if uart.COM1.Present() {
		uartGSI = routeISA(madt, uart.COM1IRQ)
		uart.COM1.EnableReceiveInterrupt()
		drainConsole() // bytes typed before now raise no new interrupt
	}

	// Clocks.
	if !calibrateClock() {
		bootFail("no PIT and no CPUID frequency to calibrate the TSC against")
	}
	century := uint8(0)
	if acpiTables.FADT.Found {
		century = acpiTables.FADT.Century
	}
	if s := rtc.Read(century).Unix(); s > 0 {
		wallBoot = s * 1e9
	}
	initVDSO()
	deadlineTimer = cpuHasDeadline
	if !deadlineTimer {
		calibrateAPICTimer()
	}
	startTimer(c)
	startWatchdogTimer(madt)
	c.online.Store(1)
	nonline.Store(1)

	sp := runtimeStartStack()
	if sp == 0 {
		bootFail("no memory for the runtime's stack")
	}
	return sp
}

// quiet is set by dunix.quiet=1: the kernel keeps its own messages off
// the console (dunix run shows the program's output only).
var quiet bool

// hasWord tells whether the command line has the word w.
//
//go:noinline
//go:nosplit
func hasWord(cl []byte, w string) bool {
	for i := 0; i+len(w) <= len(cl); i++ {
		if (i == 0 || cl[i-1] == ' ') && (i+len(w) == len(cl) || cl[i+len(w)] == ' ') && string(cl[i:i+len(w)]) == w {
			return true
		}
	}
	return false
}

// ramAt tells whether [base, base+size) overlaps RAM.
//
//go:nosplit
func ramAt(base, size uint64) bool {
	for i := 0; i < bootInfo.NRegions; i++ {
		r := &bootInfo.Regions[i]
		if r.Type == boot.RegionRAM && base < r.Base+r.Size && r.Base < base+size {
			return true
		}
	}
	return false
}

// initCPU gives CPU c its descriptor tables, stacks and per-CPU block,
// and an idle thread; it runs on that CPU.
//
//go:nosplit
func initCPU(c *CPU, id int32) bool {
	c.ID = id
	c.Self = uintptr(unsafe.Pointer(c))
	c.XsaveMask = xsaveMask
	c.timers.Init(c.timerEntries[:], c.timerPos[:])
	top, ok := mm.AllocStack(trapStackSize)
	if !ok {
		return false
	}
	c.KernelStack = top
	for _, ist := range [...]int{amd64.ISTNMI, amd64.ISTDoubleFault, amd64.ISTMachineCheck, amd64.ISTEntry} {
		top, ok := mm.AllocStack(istStackSize)
		if !ok {
			return false
		}
		c.tss.SetIST(ist, top)
	}
	c.tss.SetRSP0(c.KernelStack)
	c.gdt.Init(&c.tss)
	c.gdt.Load()
	amd64.SetGSBase(uint64(c.Self))
	idt.Load()

	// The idle thread.
	ii := newThread()
	if ii < 0 {
		return false
	}
	it := &threads[ii]
	itop, ok := mm.AllocStack(idleStackSize)
	if !ok {
		return false
	}
	it.idle = true
	clear((*[amd64.FrameSize]byte)(unsafe.Pointer(&it.Frame))[:])
	it.Frame.RIP = uint64(amd64.IdleLoopAddr())
	it.Frame.CS, it.Frame.SS = amd64.KernelCode, amd64.KernelData
	it.Frame.RSP = uint64(itop)
	it.Frame.RFLAGS = amd64.FlagIF | 2
	it.fsBase = uint64(uintptr(unsafe.Pointer(&idleTLS[id])) + 8)
	initXsave(it.xsave)
	c.idle = ii
	c.heartbeat.Store(now())

	lapic.Enable(vecSpurious)
	lapic.SetErrorVector(vecAPICErr)
	return true
}

// idleTLS gives idle threads a readable FS:-8, mainTLS the runtime's
// first thread until it sets its own.
var (
	idleTLS [MaxCPUs][2]uint64
	mainTLS [2]uint64
)

//go:nosplit
func startTimer(c *CPU) {
	if deadlineTimer {
		lapic.TimerDeadlineMode(vecTimer)
	}
	t := now()
	c.heartbeat.Store(t)
	c.sliceEnd = t + sliceNs
	armTimer(c, t)
}

// maskPICs remaps the 8259 PICs away from the exception vectors and masks
// every line: the I/O APICs deliver device interrupts.
//
//go:nosplit
func maskPICs() {
	const m, s = 0x20, 0xA0
	amd64.Outb(m, 0x11)
	amd64.Outb(s, 0x11)
	amd64.Outb(m+1, 0x20)
	amd64.Outb(s+1, 0x28)
	amd64.Outb(m+1, 4)
	amd64.Outb(s+1, 2)
	amd64.Outb(m+1, 1)
	amd64.Outb(s+1, 1)
	amd64.Outb(m+1, 0xFF)
	amd64.Outb(s+1, 0xFF)
}

// startWatchdogTimer: PIT channel 0 at its slowest rate (18.2 Hz), routed
// as an NMI to CPU 0, drives the watchdog even when CPU 0 has interrupts
// off.
//
//go:nosplit
func startWatchdogTimer(m *acpi.MADT) {
	gsi, _ := m.ISAIRQ(0)
	a := ioapicFor(gsi)
	if a == nil {
		return
	}
	pit.StartRateGenerator()
	a.RouteNMI(gsi, cpus[0].APICID)
	watchdogGSI = int32(gsi)
}

//go:nosplit
func complain(msg string, v uint64) {
	klog.Begin().S("dunix: ").S(msg).S(" ").X(v).End()
}
