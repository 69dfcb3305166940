package vm

import "testing"

func TestUsageCountsResidentPages(t *testing.T) {
	s, _, _ := newSpace(t)
	a, err := s.Map(0, 1024*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Map(0, 4*PageSize, ProtRead|ProtWrite, MapPrivate|MapAnonymous, nil, 0, 0, "[stack]")
	if err != nil {
		t.Fatal(err)
	}
	x, err := s.Map(0, 2*PageSize, ProtRead|ProtExec, MapPrivate|MapAnonymous, nil, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	u := s.Usage()
	if u.Size != (1024+4+2)*PageSize || u.RSS != 0 {
		t.Fatalf("fresh: %+v", u)
	}
	// Touch the first page, one in the middle (another page table) and the
	// last one, a stack page, and read an executable page.
	for _, addr := range []uint64{a, a + 600*PageSize + 7, a + 1023*PageSize, st + 3*PageSize} {
		if err := s.CopyOut(addr, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Fault(x, false, true); err != nil {
		t.Fatal(err)
	}
	u = s.Usage()
	if u.RSS != 5*PageSize || u.Anon != 5*PageSize || u.File != 0 || u.Shared != 0 {
		t.Fatalf("after touches: %+v", u)
	}
	if u.Stack != 4*PageSize || u.Data != 1024*PageSize || u.Exec != 2*PageSize {
		t.Fatalf("kinds: %+v", u)
	}
	if err := s.Unmap(a, 1024*PageSize); err != nil {
		t.Fatal(err)
	}
	if u = s.Usage(); u.RSS != 2*PageSize || u.Size != 6*PageSize {
		t.Fatalf("after unmap: %+v", u)
	}
	s.Release()
	if u = s.Usage(); u.RSS != 0 || u.Size != 0 {
		t.Fatalf("released: %+v", u)
	}
}
