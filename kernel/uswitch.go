package kernel

import (
	"dunix/arch/amd64"
	"dunix/kernel/mm"
)

// Switching address spaces without a CR3 write, under emulation.
//
// QEMU's TCG drops its whole software TLB and its jump cache on every CR3
// write: everything the CPU touches afterwards, kernel code and data as
// much as the new program's, is looked up again the slow way. Measured
// here, that refill is most of a switch between two processes (a pipe
// round trip between two threads of one process, no CR3 write, took a
// third of the time between two processes).
//
// So when the node is a uniprocessor under TCG, the CPU keeps one root of
// its own for good (uroot: the kernel half, and a copy of the top-level
// entries of the address space in use, "installed"). Switching to another
// space rewrites the 256 lower entries and invalidates, page by page, only
// what the old space may have in the TLB: the pages whose entries have the
// accessed bit, which the page walk sets on the way to every translation
// it caches. The kernel's walk clears the bits it follows (so the next
// switch looks only at what was used since) and falls back to a full flush when more
// than uswitchMaxPages pages were used.
//
// The invariant this rests on: a user translation the TLB may hold has its
// accessed bit set at every level (in a leaf entry even when the entry is
// no longer present). The walk keeps it; the process layer writes present
// entries with the bit set (an entry it rewrites without a flush, a
// copy-on-write page upgraded in place, must count as cached), and keeps
// the bit when it makes an entry not present (it flushes only after a
// batch of changes, and the CPU may switch spaces before: a page the old
// space had just unmapped, still cached, was once read by the next
// process as its own).
//
// Only a uniprocessor: the accessed bits are shared by every CPU that
// runs the space, so one CPU's walk would clear bits another CPU still
// needs. With several CPUs, or on KVM and real hardware (where a CR3
// write keeps the kernel's global translations), every CPU loads each
// space's own root as before. dunix.uswitch=0 turns it off.

// uswitchMaxPages bounds the pages invalidated one by one at a switch;
// beyond, one full flush is cheaper.
const uswitchMaxPages = 64

// Page-table entry bits the walk looks at.
const (
	pteP  = 1 << 0
	pteA  = 1 << 5
	ptePS = 1 << 7
	pteAd = 0x000F_FFFF_FFFF_F000
)

// uswitchOn tells whether the boot CPU switches spaces in its own root.
var uswitchOn bool

// initUswitch gives the boot CPU its own root when the node qualifies. It
// runs at boot, after paging and CPU discovery, before anything runs in
// user mode.
//
//go:nosplit
func initUswitch(c *CPU) {
	if ncpu != 1 || !underTCG() || hasWord(bootInfo.CmdlineString(), "dunix.uswitch=0") {
		return
	}
	p, ok := mm.AllocZeroedFrame()
	if !ok {
		return
	}
	c.uroot = p
	c.urootGen = 0
	syncUrootKernel(c)
	amd64.SetCR3(uint64(p))
	c.cr3 = p
	uswitchOn = true
}

// underTCG tells whether the CPU is QEMU's emulator (hypervisor leaf
// signature "TCGTCGTCGTCG").
//
//go:nosplit
func underTCG() bool {
	if _, _, ecx, _ := amd64.CPUID(1, 0); ecx&(1<<31) == 0 {
		return false
	}
	_, b, c, d := amd64.CPUID(0x40000000, 0)
	return b == le32("TCGT") && c == le32("CGTC") && d == le32("GTCG")
}

// le32 is the little-endian word of four ASCII bytes (CPUID signatures).
//
//go:nosplit
func le32(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// syncUrootKernel copies the kernel half into c's root when the kernel
// gained a top-level entry since.
//
//go:nosplit
func syncUrootKernel(c *CPU) {
	if g := mm.KernelGen(); c.urootGen != g {
		copyKernelHalf(c.uroot)
		c.urootGen = g
	}
}

// install makes root the address space of c's own root.
//
//go:nosplit
func (c *CPU) install(root uintptr) {
	syncUrootKernel(c)
	if c.installed == root {
		return
	}
	if c.installed != 0 && c.invalidateUser() {
		c.uswitchFlushes++
		amd64.SetCR3(uint64(c.uroot))
	}
	src := (*[512]uint64)(amd64.Ptr(mm.P2V(root)))
	dst := (*[512]uint64)(amd64.Ptr(mm.P2V(c.uroot)))
	for w := range c.utop {
		for m := c.utop[w]; m != 0; m &= m - 1 {
			dst[w*64+int(trailingZeros(m))] = 0
		}
		c.utop[w] = 0
	}
	for i := 0; i < 256; i += 8 {
		if src[i]|src[i+1]|src[i+2]|src[i+3]|src[i+4]|src[i+5]|src[i+6]|src[i+7] == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			if e := src[j]; e != 0 {
				dst[j] = e
				c.utop[j/64] |= 1 << (j % 64)
			}
		}
	}
	c.installed = root
	c.uswitches++
}

// uninstall empties the lower half of c's root and flushes the TLB.
//
//go:nosplit
func (c *CPU) uninstall() {
	dst := (*[512]uint64)(amd64.Ptr(mm.P2V(c.uroot)))
	for i := 0; i < 256; i++ {
		dst[i] = 0
	}
	c.utop = [4]uint64{}
	c.installed = 0
	amd64.SetCR3(uint64(c.uroot))
}

// invalidateUser walks the installed space along the accessed bits,
// clearing them, and invalidates each used page; it reports whether a
// full flush is needed instead (too many pages, or a large page).
//
//go:nosplit
func (c *CPU) invalidateUser() bool {
	top := (*[512]uint64)(amd64.Ptr(mm.P2V(c.uroot)))
	s := uscan{masks: &c.uscanMasks}
	for w := range c.utop {
		for m := c.utop[w]; m != 0; m &= m - 1 {
			i := w*64 + int(trailingZeros(m))
			e := top[i]
			if e&(pteP|pteA) != pteP|pteA {
				continue
			}
			top[i] = e &^ pteA
			s.pdpt(uintptr(e&pteAd), uint64(i)<<39)
		}
	}
	return s.full
}

// uscan is one walk of invalidateUser.
type uscan struct {
	n     int           // pages used
	full  bool          // a full flush is needed
	masks *[3][8]uint64 // per level (leaf first), the entries found: CPU.uscanMasks
}

// The three lower levels of the walk: a PDPT, a page directory, a page
// table (no recursion in trap context). takeAccessed does the scanning.

//go:nosplit
func (s *uscan) pdpt(p uintptr, va uint64) {
	m := &s.masks[2]
	t := takeAccessed(p, pteP|pteA, m)
	for w := range m {
		for b := m[w]; b != 0; b &= b - 1 {
			j := w*64 + int(trailingZeros(b))
			if t[j]&ptePS != 0 {
				s.full = true // a large page: user spaces have none
				continue
			}
			s.pd(uintptr(t[j]&pteAd), va|uint64(j)<<30)
		}
	}
}

//go:nosplit
func (s *uscan) pd(p uintptr, va uint64) {
	m := &s.masks[1]
	t := takeAccessed(p, pteP|pteA, m)
	for w := range m {
		for b := m[w]; b != 0; b &= b - 1 {
			j := w*64 + int(trailingZeros(b))
			if t[j]&ptePS != 0 {
				s.full = true
				continue
			}
			s.pt(uintptr(t[j]&pteAd), va|uint64(j)<<21)
		}
	}
}

// pt invalidates the used pages of a page table. Present or not: an
// entry the process layer made not present keeps the accessed bit until
// the next invalidation.
//
//go:nosplit
func (s *uscan) pt(p uintptr, va uint64) {
	m := &s.masks[0]
	takeAccessed(p, pteA, m)
	for w := range m {
		for b := m[w]; b != 0; b &= b - 1 {
			j := w*64 + int(trailingZeros(b))
			if s.n < uswitchMaxPages {
				amd64.Invlpg(uintptr(va | uint64(j)<<12))
			} else {
				s.full = true
			}
			s.n++
		}
	}
}

// takeAccessed clears the accessed bit of the entries of table p that
// have all the bits of want, marks them in m (cleared first), and
// returns the table.
// Entries are looked at eight at a time, most tables being sparse.
//
//go:nosplit
func takeAccessed(p uintptr, want uint64, m *[8]uint64) *[512]uint64 {
	*m = [8]uint64{}
	t := (*[512]uint64)(amd64.Ptr(mm.P2V(p)))
	for i := 0; i < 512; i += 8 {
		if (t[i]|t[i+1]|t[i+2]|t[i+3]|t[i+4]|t[i+5]|t[i+6]|t[i+7])&pteA == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			if e := t[j]; e&want == want {
				t[j] = e &^ pteA
				m[j/64] |= 1 << (j % 64)
			}
		}
	}
	return t
}

// resyncTop handles a user page fault at addr that only c's copy of the
// top level causes: the process layer added a top-level entry to the
// installed space since it was installed. It reports whether it copied
// the entry (then the faulting access is simply retried).
//
//go:nosplit
func (c *CPU) resyncTop(root uintptr, addr uint64) bool {
	if c.uroot == 0 || c.installed != root || addr >= 1<<47 {
		return false
	}
	i := addr >> 39
	src := (*[512]uint64)(amd64.Ptr(mm.P2V(root)))
	dst := (*[512]uint64)(amd64.Ptr(mm.P2V(c.uroot)))
	if dst[i]&^pteA == src[i]&^pteA { // (the walk sets the bit in the copy)
		return false
	}
	dst[i] = src[i]
	c.utop[i/64] |= 1 << (i % 64)
	return true
}
