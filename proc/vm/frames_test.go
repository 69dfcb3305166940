package vm

import (
	"syscall"
	"testing"
)

// pagedFile keeps its pages in frames of the pool, as memfs does in the
// kernel.
type pagedFile struct {
	pool     *Pool
	frames   map[int64]uintptr
	size     int64
	writable bool
}

func (f *pagedFile) ReadAt(b []byte, off int64) (int, error) { return 0, syscall.EIO }
func (f *pagedFile) Writable() bool                          { return f.writable }

func (f *pagedFile) SharedFrame(off int64) (uintptr, error) {
	if off >= f.size {
		return 0, syscall.EFAULT
	}
	fr, ok := f.frames[off]
	if !ok {
		var err error
		if fr, err = f.pool.Get(); err != nil {
			return 0, err
		}
		f.frames[off] = fr
	}
	f.pool.Share(fr)
	return fr, nil
}

func TestSharedFileMapping(t *testing.T) {
	s, pool, m := newSpace(t)
	f := &pagedFile{pool: pool, frames: map[int64]uintptr{}, size: 2 * PageSize, writable: true}
	a, err := s.Map(0, 3*PageSize, ProtRead|ProtWrite, MapShared, f, 0, f.size, "/f")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CopyOut(a+PageSize+5, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	// The write is in the file's frame, and a write to the frame shows.
	fr := f.frames[PageSize]
	if string(m.Page(fr)[5:7]) != "hi" {
		t.Fatal("write through the mapping is not in the file's page")
	}
	m.Page(fr)[7] = '!'
	b := make([]byte, 3)
	if s.CopyIn(a+PageSize+5, b); string(b) != "hi!" {
		t.Fatalf("read %q", b)
	}
	// A fork shares the page; past the file's end is SIGBUS.
	c, err := s.Fork()
	if err != nil {
		t.Fatal(err)
	}
	c.CopyOut(a+PageSize, []byte("C"))
	if m.Page(fr)[0] != 'C' {
		t.Fatal("the child's write did not reach the shared page")
	}
	if err := s.Fault(a+2*PageSize, false, false); err != ErrBus {
		t.Fatalf("past the end: %v", err)
	}
	// Unmapping drops the mappings' references; the file keeps its own.
	c.Release()
	s.Unmap(a, 3*PageSize)
	if pool.Shared(fr) {
		t.Fatal("references left after unmapping")
	}
	before := pool.InUse()
	pool.Put(fr) // the file lets go: the frame is free
	if pool.InUse() != before-1 {
		t.Fatalf("pages in use %d, want %d", pool.InUse(), before-1)
	}
}

func TestSharedFileMappingStaysReadOnly(t *testing.T) {
	s, pool, _ := newSpace(t)
	f := &pagedFile{pool: pool, frames: map[int64]uintptr{}, size: PageSize}
	a, err := s.Map(0, PageSize, ProtRead, MapShared, f, 0, f.size, "/f")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Protect(a, PageSize, ProtRead|ProtWrite); err != syscall.EACCES {
		t.Fatalf("mprotect writable: %v, want EACCES", err)
	}
	if err := s.Protect(a, PageSize, ProtRead|ProtExec); err != nil {
		t.Fatal(err)
	}
}
