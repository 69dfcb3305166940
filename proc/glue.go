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
	if flags&vm.MapShared != 0 && prot&vm.ProtWrite != 0 && !f.Writable() {
		return nil, 0, "", syscall.EACCES
	}
	if _, ok := f.Inode().(vm.FramePager); ok && flags&vm.MapShared != 0 {
		// The file system keeps its pages in frames: map them.
		return sharedFile{mapFile{f}}, st.Size, f.Path(t.ctx()), nil
	}
	if flags&vm.MapShared != 0 && prot&vm.ProtWrite != 0 {
		t.enosysFeature("shared writable mappings of this file system's files")
		return nil, 0, "", syscall.ENODEV
	}
	return mapFile{f}, st.Size, f.Path(t.ctx()), nil
}

// sharedFile backs a shared mapping with the file's own pages.
type sharedFile struct{ mapFile }

// SharedFrame implements vm.FramePager.
func (s sharedFile) SharedFrame(off int64) (uintptr, error) {
	return s.f.Inode().(vm.FramePager).SharedFrame(off)
}

// Writable implements vm.WriteChecker: a file not open for writing keeps
// its shared mappings read-only.
func (s sharedFile) Writable() bool { return s.f.Writable() }

// PoolFrames gives a memory file system the node's page frames for file
// data (memfs.Frames), so shared mappings can map file pages.
type PoolFrames struct{ Pool *vm.Pool }

// Get implements memfs.Frames.
func (p PoolFrames) Get() (uintptr, *[4096]byte, error) {
	fr, err := p.Pool.Get()
	if err != nil {
		return 0, nil, err
	}
	return fr, p.Pool.M.Page(fr), nil
}

// Ref implements memfs.Frames.
func (p PoolFrames) Ref(fr uintptr) { p.Pool.Share(fr) }

// Put implements memfs.Frames.
func (p PoolFrames) Put(fr uintptr) { p.Pool.Put(fr) }
