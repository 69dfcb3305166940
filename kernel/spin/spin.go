// Package spin is the kernel's spinlock. Trap context holds spinlocks with
// interrupts off (it always runs with interrupts off), so a lock is never
// wanted by an interrupt handler on the CPU that holds it.
//
// Every function is nosplit and allocates nothing.
package spin

import (
	"sync/atomic"

	"dunix/arch/amd64"
)

// Lock is a test-and-test-and-set spinlock. The zero value is unlocked.
type Lock struct {
	v atomic.Uint32
}

// Lock acquires l, spinning until it is free.
//
//go:nosplit
func (l *Lock) Lock() {
	for !l.v.CompareAndSwap(0, 1) {
		for l.v.Load() != 0 {
			amd64.Pause()
		}
	}
}

// TryLock acquires l if it is free.
//
//go:nosplit
func (l *Lock) TryLock() bool { return l.v.CompareAndSwap(0, 1) }

// Unlock releases l.
//
//go:nosplit
func (l *Lock) Unlock() { l.v.Store(0) }

// Held reports whether l is held (by anyone).
//
//go:nosplit
func (l *Lock) Held() bool { return l.v.Load() != 0 }
