package vm

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fakeMachine is physical memory made of Go pages.
type fakeMachine struct {
	mu      sync.Mutex
	pages   map[uintptr]*[PageSize]byte
	next    uintptr
	limit   int
	flushes int
}

func newFake(limit int) *fakeMachine {
	return &fakeMachine{pages: map[uintptr]*[PageSize]byte{}, next: 1 << 20, limit: limit}
}

func (m *fakeMachine) AllocPages(ps []uintptr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pages)+len(ps) > m.limit {
		return syscall.ENOMEM
	}
	for i := range ps {
		m.next += PageSize
		m.pages[m.next] = new([PageSize]byte)
		ps[i] = m.next
	}
	return nil
}

func (m *fakeMachine) FreePages(ps []uintptr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		if m.pages[p] == nil {
			panic("double free")
		}
		delete(m.pages, p)
	}
}

func (m *fakeMachine) Page(p uintptr) *[PageSize]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	pg := m.pages[p]
	if pg == nil {
		panic("access to a page that is not allocated")
	}
	return pg
}

func (m *fakeMachine) NewRoot() (uintptr, error) {
	ps := make([]uintptr, 1)
	err := m.AllocPages(ps)
	return ps[0], err
}

func (m *fakeMachine) FlushTLB() { m.mu.Lock(); m.flushes++; m.mu.Unlock() }

func newSpace(t *testing.T) (*Space, *Pool, *fakeMachine) {
	m := newFake(1 << 16)
	p := NewPool(m)
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return s, p, m
}

func TestAnonymousDemandZero(t *testing.T) {
	s, p, _ := newSpace(t)
	a, err := s.Map(0, 3*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if a < MmapBottom || a+3*PageSize > MmapTop || a%PageSize != 0 {
		t.Fatalf("address %#x", a)
	}
	before := p.InUse()
	buf := make([]byte, 10)
	if err := s.CopyIn(a+PageSize+5, buf); err != nil || !bytes.Equal(buf, make([]byte, 10)) {
		t.Fatalf("read %v %v", buf, err)
	}
	if err := s.CopyOut(a+PageSize-3, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	s.CopyIn(a+PageSize-3, got)
	if string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	if p.InUse() <= before {
		t.Fatal("no pages used by the touches")
	}
	if err := s.CopyIn(a+3*PageSize, buf); err != syscall.EFAULT {
		t.Fatalf("read past the mapping: %v", err)
	}
	if err := s.Fault(a+5*PageSize, false, false); err != ErrMapErr {
		t.Fatalf("fault outside: %v", err)
	}
}

func TestProtectAndAccessErrors(t *testing.T) {
	s, _, _ := newSpace(t)
	a, _ := s.Map(0, 2*PageSize, ProtRead, MapPrivate|MapAnonymous, nil, 0, 0, "")
	if err := s.Fault(a, true, false); err != ErrAccErr {
		t.Fatalf("write to read-only: %v", err)
	}
	if err := s.CopyOut(a, []byte{1}); err != syscall.EFAULT {
		t.Fatalf("copyout to read-only: %v", err)
	}
	if err := s.Protect(a, PageSize, ProtRead|ProtWrite); err != nil {
		t.Fatal(err)
	}
	if err := s.CopyOut(a, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.CopyOut(a+PageSize, []byte{1}); err != syscall.EFAULT {
		t.Fatalf("second page should still be read-only: %v", err)
	}
	if err := s.Protect(a, PageSize, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CopyIn(a, make([]byte, 1)); err != syscall.EFAULT {
		t.Fatal("PROT_NONE page readable")
	}
	s.Protect(a, PageSize, ProtRead)
	b := make([]byte, 1)
	if s.CopyIn(a, b); b[0] != 1 {
		t.Fatal("PROT_NONE lost the page's contents")
	}
	if err := s.Protect(a, 8*PageSize, ProtRead); err != syscall.ENOMEM {
		t.Fatalf("protect beyond the mapping: %v", err)
	}
	if n := len(s.VMAs()); n != 2 {
		t.Fatalf("%d VMAs after splitting, want 2", n)
	}
}

func TestForkCopyOnWrite(t *testing.T) {
	s, p, _ := newSpace(t)
	a, _ := s.Map(0, 4*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	sh, _ := s.Map(0, PageSize, ProtRead|ProtWrite, MapShared|MapAnonymous, nil, 0, 0, "")
	s.CopyOut(a, []byte("parent"))
	s.CopyOut(sh, []byte("shared"))
	c, err := s.Fork()
	if err != nil {
		t.Fatal(err)
	}
	used := p.InUse()
	got := make([]byte, 6)
	c.CopyIn(a, got)
	if string(got) != "parent" {
		t.Fatalf("child sees %q", got)
	}
	c.CopyOut(a, []byte("child!"))
	s.CopyIn(a, got)
	if string(got) != "parent" {
		t.Fatalf("parent sees the child's write: %q", got)
	}
	if p.InUse() != used+1 {
		t.Fatalf("a COW break used %d pages", p.InUse()-used)
	}
	s.CopyOut(a, []byte("again!")) // the last owner writes in place
	if p.InUse() != used+1 {
		t.Fatalf("writing the now-private page copied it")
	}
	c.CopyOut(sh, []byte("SHARED"))
	s.CopyIn(sh, got)
	if string(got) != "SHARED" {
		t.Fatalf("shared mapping not shared: %q", got)
	}
	c.Release()
	s.Release()
	if n := p.InUse(); n != 0 {
		t.Fatalf("%d pages leaked", n)
	}
}

func TestUnmapSplitsAndFrees(t *testing.T) {
	s, p, _ := newSpace(t)
	a, _ := s.Map(0, 4*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	for i := uint64(0); i < 4; i++ {
		s.CopyOut(a+i*PageSize, []byte{byte(i + 1)})
	}
	used := p.InUse()
	if err := s.Unmap(a+PageSize, PageSize); err != nil {
		t.Fatal(err)
	}
	if p.InUse() != used-1 || len(s.VMAs()) != 2 {
		t.Fatalf("in use %d (was %d), %d VMAs", p.InUse(), used, len(s.VMAs()))
	}
	b := make([]byte, 1)
	if err := s.CopyIn(a+PageSize, b); err != syscall.EFAULT {
		t.Fatal("unmapped page still readable")
	}
	if s.CopyIn(a+2*PageSize, b); b[0] != 3 {
		t.Fatalf("page after the hole lost: %d", b[0])
	}
	if _, err := s.Map(a+2*PageSize, PageSize, ProtRead, MapPrivate|MapAnonymous|MapFixedNoreplace, nil, 0, 0, ""); err != syscall.EEXIST {
		t.Fatalf("MAP_FIXED_NOREPLACE over a mapping: %v", err)
	}
	if _, err := s.Map(a+2*PageSize, PageSize, ProtRead, MapPrivate|MapAnonymous|MapFixed, nil, 0, 0, ""); err != nil {
		t.Fatal(err)
	}
	if s.CopyIn(a+2*PageSize, b); b[0] != 0 {
		t.Fatal("MAP_FIXED kept the old page")
	}
}

type memFile []byte

func (f memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, f[off:])
	return n, nil
}

func TestFileMapping(t *testing.T) {
	s, _, _ := newSpace(t)
	data := memFile(strings.Repeat("x", PageSize+10))
	a, err := s.Map(0, 3*PageSize, ProtRead, MapPrivate, data, 0, int64(len(data)), "/f")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 12)
	s.CopyIn(a+PageSize, b)
	if string(b) != "xxxxxxxxxx\x00\x00" {
		t.Fatalf("got %q", b)
	}
	if err := s.Fault(a+2*PageSize, false, false); err != ErrBus {
		t.Fatalf("beyond the file: %v", err)
	}
}

func TestBrkAndRemap(t *testing.T) {
	s, _, _ := newSpace(t)
	s.SetBrk(0x600000)
	if got := s.Brk(0x600000 + 3*PageSize + 1); got != 0x600000+3*PageSize+1 {
		t.Fatalf("brk = %#x", got)
	}
	if err := s.CopyOut(0x600000+3*PageSize, []byte{7}); err != nil {
		t.Fatal(err)
	}
	if got := s.Brk(0x500000); got != 0x600000+3*PageSize+1 {
		t.Fatal("brk below its start accepted")
	}
	s.Brk(0x600000 + PageSize)
	if err := s.CopyOut(0x600000+3*PageSize, []byte{7}); err != syscall.EFAULT {
		t.Fatal("shrunk heap still writable")
	}
	a, _ := s.Map(0, PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	s.CopyOut(a, []byte("keep"))
	s.Map(a+PageSize, PageSize, ProtRead, MapPrivate|MapAnonymous|MapFixed, nil, 0, 0, "") // block growth in place
	n, err := s.Remap(a, PageSize, 4*PageSize, true)
	if err != nil || n == a {
		t.Fatalf("remap: %#x %v", n, err)
	}
	b := make([]byte, 4)
	s.CopyIn(n, b)
	if string(b) != "keep" {
		t.Fatalf("moved data %q", b)
	}
	if _, err := s.Remap(n, 4*PageSize, 8*PageSize, false); err != nil && err != syscall.ENOMEM {
		t.Fatal(err)
	}
}

func TestOutOfMemory(t *testing.T) {
	m := newFake(16)
	p := NewPool(m)
	s, _ := New(p)
	a, _ := s.Map(0, 64*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	var err error
	for i := uint64(0); i < 64 && err == nil; i++ {
		err = s.Fault(a+i*PageSize, true, false)
	}
	if err != syscall.ENOMEM {
		t.Fatalf("got %v, want ENOMEM", err)
	}
}

func TestConcurrentFaults(t *testing.T) {
	s, p, _ := newSpace(t)
	a, _ := s.Map(0, 256*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 256; i++ {
				s.CopyOut(a+uint64(i)*PageSize+uint64(g), []byte{byte(g)})
			}
		}(g)
	}
	wg.Wait()
	b := make([]byte, 8)
	for i := 0; i < 256; i++ {
		s.CopyIn(a+uint64(i)*PageSize, b)
		if !bytes.Equal(b, []byte{0, 1, 2, 3, 4, 5, 6, 7}) {
			t.Fatalf("page %d: %v", i, b)
		}
	}
	s.Release()
	if p.InUse() != 0 {
		t.Fatalf("%d pages leaked", p.InUse())
	}
}

func TestCopyInString(t *testing.T) {
	s, _, _ := newSpace(t)
	a, _ := s.Map(0, 2*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	s.CopyOut(a+PageSize-3, []byte("abcdef\x00"))
	if str, err := s.CopyInString(a+PageSize-3, 100); err != nil || str != "abcdef" {
		t.Fatalf("%q %v", str, err)
	}
	if _, err := s.CopyInString(a+PageSize-3, 3); err != syscall.ENAMETOOLONG {
		t.Fatalf("too long: %v", err)
	}
}

// heldFile counts the mappings that hold it.
type heldFile struct {
	memFile
	n int
}

func (h *heldFile) Hold() { h.n++ }
func (h *heldFile) Drop() {
	h.n--
	if h.n < 0 {
		panic("dropped more than held")
	}
}

func TestBackingHeldByMappings(t *testing.T) {
	s, _, _ := newSpace(t)
	f := &heldFile{memFile: memFile(strings.Repeat("y", 4*PageSize))}
	a, err := s.Map(0, 4*PageSize, ProtRead, MapPrivate, f, 0, 4*PageSize, "/f")
	if err != nil {
		t.Fatal(err)
	}
	if f.n != 1 {
		t.Fatalf("after map: %d holds, want 1", f.n)
	}
	if err := s.Unmap(a+PageSize, PageSize); err != nil { // split in two
		t.Fatal(err)
	}
	if f.n != 2 {
		t.Fatalf("after a hole: %d holds, want 2", f.n)
	}
	if err := s.Protect(a+2*PageSize, PageSize, ProtRead|ProtWrite); err != nil {
		t.Fatal(err)
	}
	if f.n != 3 {
		t.Fatalf("after a split by mprotect: %d holds, want 3", f.n)
	}
	c, err := s.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if f.n != 6 {
		t.Fatalf("after fork: %d holds, want 6", f.n)
	}
	c.Release()
	if err := s.Unmap(a, 4*PageSize); err != nil {
		t.Fatal(err)
	}
	if f.n != 0 {
		t.Fatalf("after unmapping all: %d holds, want 0", f.n)
	}
}

// Entries carry the accessed bit for the kernel's switches without a CR3
// write (kernel/uswitch.go): every present entry written here has it, and
// an entry made not present keeps it until the kernel clears it (the TLB
// may still hold the old translation until the batch's flush).
func TestAccessedBitMarksMaybeCached(t *testing.T) {
	s, _, _ := newSpace(t)
	a, err := s.Map(0, 3*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 3; i++ {
		if err := s.Fault(a+i*PageSize, true, false); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(va uint64) uint64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		e := s.pte(va, false)
		if e == nil {
			t.Fatalf("no page table for %#x", va)
		}
		return *e
	}
	for i := uint64(0); i < 3; i++ {
		if e := entry(a + i*PageSize); e&(pteP|pteA) != pteP|pteA {
			t.Fatalf("page %d: entry %#x, want present with the accessed bit", i, e)
		}
	}
	if err := s.Protect(a+PageSize, PageSize, 0); err != nil {
		t.Fatal(err)
	}
	if e := entry(a + PageSize); e&pteP != 0 || e&pteKept == 0 || e&pteA == 0 {
		t.Fatalf("PROT_NONE page: entry %#x, want kept, not present, accessed", e)
	}
	if err := s.Unmap(a, PageSize); err != nil {
		t.Fatal(err)
	}
	if e := entry(a); e != pteA {
		t.Fatalf("unmapped page: entry %#x, want only the accessed bit (%#x)", e, uint64(pteA))
	}
	// The marker is not a mapping: the page is gone.
	if err := s.Fault(a, false, false); err != ErrMapErr {
		t.Fatalf("fault on the unmapped page: %v, want ErrMapErr", err)
	}
}
