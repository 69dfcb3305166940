package vm

import (
	"sync"
	"syscall"
)

// Pool hands out zeroed physical pages, in batches from the Machine, and
// keeps reference counts of shared pages (copy-on-write after fork,
// shared mappings). A page has one owner unless the count says more.
type Pool struct {
	M Machine

	mu    sync.Mutex
	zero  []uintptr         // pages known to be zero (fresh from the Machine)
	dirty []uintptr         // pages given back, to be cleared before reuse
	refs  map[uintptr]int32 // pages with more than one owner: owners-1
	inUse int64
}

// NewPool returns a pool over m.
func NewPool(m Machine) *Pool { return &Pool{M: m, refs: map[uintptr]int32{}} }

const batch = 64

// Get returns a zeroed page, or ENOMEM when the node has none left.
func (p *Pool) Get() (uintptr, error) {
	p.mu.Lock()
	if len(p.zero) == 0 && len(p.dirty) == 0 {
		buf := make([]uintptr, batch)
		if err := p.M.AllocPages(buf); err != nil {
			buf = buf[:1] // memory is short: one page at a time
			if err := p.M.AllocPages(buf); err != nil {
				p.mu.Unlock()
				return 0, syscall.ENOMEM
			}
		}
		p.zero = append(p.zero, buf...)
	}
	p.inUse++
	if n := len(p.zero); n > 0 {
		f := p.zero[n-1]
		p.zero = p.zero[:n-1]
		p.mu.Unlock()
		return f, nil
	}
	f := p.dirty[len(p.dirty)-1]
	p.dirty = p.dirty[:len(p.dirty)-1]
	p.mu.Unlock()
	clear(p.M.Page(f)[:])
	return f, nil
}

// Share adds an owner to page f.
func (p *Pool) Share(f uintptr) {
	p.mu.Lock()
	p.refs[f]++
	p.mu.Unlock()
}

// Shared tells whether page f has more than one owner.
func (p *Pool) Shared(f uintptr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refs[f] > 0
}

// Put drops one owner of page f; the last owner frees it.
func (p *Pool) Put(f uintptr) {
	p.mu.Lock()
	if n := p.refs[f]; n > 0 {
		if n == 1 {
			delete(p.refs, f)
		} else {
			p.refs[f] = n - 1
		}
		p.mu.Unlock()
		return
	}
	p.inUse--
	p.dirty = append(p.dirty, f)
	var spill []uintptr
	if len(p.dirty) > 4*batch {
		spill = append(spill, p.dirty[2*batch:]...)
		p.dirty = p.dirty[:2*batch]
	}
	p.mu.Unlock()
	if spill != nil {
		for len(spill) > 0 {
			n := min(len(spill), 512)
			p.M.FreePages(spill[:n])
			spill = spill[n:]
		}
	}
}

// InUse returns the number of pages handed out and not yet freed.
func (p *Pool) InUse() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse
}

// adopt counts a page the Machine handed out directly (a root) as the
// pool's, so that Put may free it.
func (p *Pool) adopt() {
	p.mu.Lock()
	p.inUse++
	p.mu.Unlock()
}
