package proc

import (
	"io"
	"math/bits"
	"sync"
	"syscall"

	"dunix/kernel"
	"dunix/kernel/vdso"
	"dunix/proc/vm"
)

// The vDSO (kernel/vdso): one page of the pool, filled once, mapped
// read-only and executable into every process at exec ("[vdso]" in
// /proc/PID/maps), its address given as AT_SYSINFO_EHDR. Programs find
// clock_gettime, gettimeofday and time in it and read the clock without
// a system call. Every mapping maps the same frame; the node keeps its
// own reference to it for good.

// vdsoPage is the node's vDSO frame; it is the Backing of every mapping.
type vdsoPage struct {
	pool  *vm.Pool
	frame uintptr
}

// getVDSO makes the page at the first exec (nil: no vDSO).
func (n *Node) getVDSO() *vdsoPage {
	n.vdsoOnce.Do(func() {
		if n.Clock == nil {
			return
		}
		fr, err := n.Pool.Get()
		if err != nil {
			return // programs then make the system calls
		}
		img := vdso.Image(n.alignClock(n.Clock()))
		copy(n.Pool.M.Page(fr)[:], img[:])
		n.vdso = &vdsoPage{pool: n.Pool, frame: fr}
	})
	return n.vdso
}

// alignClock shifts c, which counts from the kernel's boot, so that the
// vDSO's clocks read what the system calls answer: CLOCK_MONOTONIC here
// counts from this package's start (monoStart), a little after boot, and
// CLOCK_REALTIME stays the same instant.
func (n *Node) alignClock(c vdso.Clock) vdso.Clock {
	// How far the kernel's clock is ahead: ours read between two of
	// the kernel's, so the error is at most half their distance.
	k1 := kernel.Nanotime()
	ours := n.now()
	k2 := kernel.Nanotime()
	off := k1 + (k2-k1)/2 - ours
	if off <= 0 || c.Mult == 0 || uint64(off)>>32 >= c.Mult {
		return c
	}
	ticks, _ := bits.Div64(uint64(off)>>32, uint64(off)<<32, c.Mult) // off ns in TSC ticks
	c.TSCBase += ticks
	c.WallBase += off
	return c
}

// mapVDSO maps the vDSO into mm and returns its address (0: none).
func (n *Node) mapVDSO(mm *vm.Space) uint64 {
	v := n.getVDSO()
	if v == nil {
		return 0
	}
	a, err := mm.Map(0, vdso.Size, vm.ProtRead|vm.ProtExec, vm.MapShared, v, 0, vdso.Size, "[vdso]")
	if err != nil {
		return 0
	}
	return a
}

// ReadAt implements vm.Backing.
func (v *vdsoPage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= vdso.Size {
		return 0, io.EOF
	}
	n := copy(p, v.pool.M.Page(v.frame)[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// SharedFrame implements vm.FramePager: every mapping maps the one frame,
// with an owner reference of its own.
func (v *vdsoPage) SharedFrame(off int64) (uintptr, error) {
	if off != 0 {
		return 0, syscall.EFAULT
	}
	v.pool.Share(v.frame)
	return v.frame, nil
}

// Writable implements vm.WriteChecker: no process may write the page
// every process shares (mprotect PROT_WRITE is EACCES).
func (v *vdsoPage) Writable() bool { return false }

var _ interface {
	vm.Backing
	vm.FramePager
	vm.WriteChecker
} = (*vdsoPage)(nil)

// vdsoState is the Node's part.
type vdsoState struct {
	// Clock, when set, gives the vDSO its clock figures; nil means no
	// vDSO (programs make the time system calls).
	Clock func() vdso.Clock

	vdsoOnce sync.Once
	vdso     *vdsoPage
}
