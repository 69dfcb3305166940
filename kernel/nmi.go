package kernel

import (
	"sync/atomic"

	"dunix/arch/amd64"
	"dunix/arch/amd64/lapic"
	"dunix/kernel/klog"
)

// Non-maskable interrupts carry what must reach a CPU even when it runs
// with interrupts off: TLB shootdowns, the stop request of a dying kernel,
// and the watchdog's questions. An NMI handler looks at every reason each
// time (NMIs can merge).

var (
	// stopping holds 1+ the ID of the CPU that is powering off: the others
	// stop at their next NMI.
	stopping atomic.Int32
	// dumpCPU asks the CPU with this ID+1 to print where it is.
	dumpCPU atomic.Int32
	// watchdogNMIs counts the periodic NMIs of the watchdog timer.
	watchdogNMIs atomic.Uint64
	watchdogGSI  int32 = -1
)

//go:nosplit
func sendNMI(i int32) { lapic.SendNMI(cpus[i].APICID) }

//go:nosplit
func nmi(c *CPU, f *amd64.Frame) {
	if s := stopping.Load(); s != 0 && s != c.ID+1 {
		amd64.Stop()
	}
	for {
		w := c.flushWanted.Load()
		if c.flushDone.Load() >= w {
			break
		}
		c.dropLazyRoot()
		c.flushDone.Store(w)
	}
	if dumpCPU.Load() == c.ID+1 {
		dumpCPU.Store(0)
		where(c, f)
	}
	if c.ID == 0 && watchdogGSI >= 0 {
		watchdogNMIs.Add(1)
		if watchdog(c, now()) {
			where(c, f)
		}
	}
}

// where reports where the watchdog found c: the interrupted state f.
//
//go:nosplit
func where(c *CPU, f *amd64.Frame) {
	klog.Begin().S("dunix: watchdog: cpu ").D(uint64(c.ID)).S(" was at:").End()
	printFrame(f, amd64.CR2())
	backtrace(f.RIP, f.RBP)
}

// shootdown makes every other online CPU drop its TLB, and waits for them.
// It runs with interrupts off; the NMIs reach CPUs that have them off too,
// so two CPUs shooting at each other cannot deadlock.
//
//go:nosplit
func shootdown() {
	me := thisCPU()
	want := &me.shootWant
	for i := int32(0); i < ncpu; i++ {
		c := &cpus[i]
		if i == me.ID || c.online.Load() == 0 {
			continue
		}
		want[i] = c.flushWanted.Add(1)
		sendNMI(i)
	}
	for i := int32(0); i < ncpu; i++ {
		for want[i] != 0 && cpus[i].flushDone.Load() < want[i] {
			// Serve requests aimed at this CPU while waiting.
			if w := me.flushWanted.Load(); me.flushDone.Load() < w {
				me.dropLazyRoot()
				me.flushDone.Store(w)
			}
			amd64.Pause()
		}
	}
}

// The watchdog: every CPU takes a timer interrupt at least every 100 ms
// (its heartbeat). The timer interrupt of each CPU, and the periodic
// watchdog NMI on CPU 0 (which arrives even when CPU 0 has interrupts
// off), look at all heartbeats; a CPU silent for 2 s is reported once with
// where it is.

const watchdogNs = 2_000_000_000

// It returns true when it has just reported c itself (then the caller, an
// NMI handler, knows where c is and prints it).
//
//go:nosplit
func watchdog(c *CPU, t uint64) bool {
	self := false
	for i := int32(0); i < ncpu; i++ {
		o := &cpus[i]
		if o.online.Load() == 0 {
			continue
		}
		hb := o.heartbeat.Load()
		if t < hb+watchdogNs {
			o.stuck = false
			continue
		}
		if o.stuck {
			continue
		}
		o.stuck = true
		klog.Begin().S("dunix: watchdog: cpu ").D(uint64(i)).S(" has taken no timer interrupt for ").D((t - hb) / 1_000_000).S(" ms").End()
		if i == c.ID {
			self = true
			continue
		}
		dumpCPU.Store(i + 1)
		sendNMI(i)
	}
	return self
}
