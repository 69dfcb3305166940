package proc

import (
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/fs/vfs"
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

// mappable returns what backs a file mapping of f: the file itself, read
// page by page at faults. A shared writable mapping would have to write
// back, which the file systems cannot do yet (ENODEV, as Linux says for a
// file that cannot be mapped so).
func (t *Thread) mappable(f *vfs.File, prot, flags int) (vm.Backing, int64, string, error) {
	if !f.Readable() {
		return nil, 0, "", syscall.EACCES
	}
	st, err := f.Stat()
	if err != nil {
		return nil, 0, "", err
	}
	if st.Type() != unix.S_IFREG {
		return nil, 0, "", syscall.ENODEV
	}
	if flags&vm.MapShared != 0 && prot&vm.ProtWrite != 0 {
		if !f.Writable() {
			return nil, 0, "", syscall.EACCES
		}
		t.enosysFeature("shared writable file mappings")
		return nil, 0, "", syscall.ENODEV
	}
	return mapFile{f}, st.Size, f.Path(t.ctx()), nil
}
