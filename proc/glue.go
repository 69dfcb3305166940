package proc

import (
	"syscall"

	"dunix/kernel"
	"dunix/proc/vm"
)

// Machine is the kernel's physical memory and MMU for user address spaces.
type Machine struct{}

// AllocPages implements vm.Machine.
func (Machine) AllocPages(ps []uintptr) error {
	for len(ps) > 0 {
		n := min(len(ps), 512)
		if err := kernel.AllocPages(ps[:n]); err != nil {
			return err
		}
		ps = ps[n:]
	}
	return nil
}

// FreePages implements vm.Machine.
func (Machine) FreePages(ps []uintptr) { kernel.FreePages(ps) }

// Page implements vm.Machine.
func (Machine) Page(p uintptr) *[vm.PageSize]byte { return kernel.Page(p) }

// NewRoot implements vm.Machine.
func (Machine) NewRoot() (uintptr, error) { return kernel.NewRoot() }

// FlushTLB implements vm.Machine.
func (Machine) FlushTLB() { kernel.FlushTLB() }

func newTask() (*kernel.UserTask, error) {
	t, err := kernel.NewUserTask()
	if err != nil {
		return nil, syscall.EAGAIN
	}
	return t, nil
}

func newSpace(n *Node) (*vm.Space, error) { return vm.New(n.Pool) }

// memory returns the node's RAM and free RAM in bytes.
func (n *Node) memory() (total, free uint64) {
	s := kernel.ReadStats()
	return s.MemTotal, s.MemFree
}

// mappable returns what backs a file mapping of f.
func mappable(f *File, prot, flags int) (vm.Backing, int64, string, error) {
	type mapper interface {
		Mappable() (vm.Backing, int64, error)
	}
	m, ok := f.ops.(mapper)
	if !ok {
		return nil, 0, "", syscall.ENODEV
	}
	b, size, err := m.Mappable()
	return b, size, f.Path, err
}

func (t *FDTable) setMax(n int32) {
	t.mu.Lock()
	t.max = max(n, 3)
	t.mu.Unlock()
}
