package vmrange

import (
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
)

// pr is a range in pages, for short tables.
type pr struct {
	s, e        uint64
	prot, flags uint32
}

func (p pr) r() Range {
	return Range{Start: p.s * PageSize, End: p.e * PageSize, Prot: p.prot, Flags: p.flags}
}

// fixture is a Set with its storage; both live on the heap (the fixture is
// returned by pointer), as the package comment requires.
type fixture struct {
	s       Set
	storage []Range
}

func newFixture(t testing.TB, capacity int, init ...pr) *fixture {
	t.Helper()
	f := &fixture{storage: make([]Range, capacity)}
	f.s.Init(f.storage)
	for _, p := range init {
		if err := f.s.Insert(p.r()); err != nil {
			t.Fatalf("setup Insert(%v): %v", p, err)
		}
	}
	return f
}

func (f *fixture) pages() []pr {
	var out []pr
	for i := 0; i < f.s.Len(); i++ {
		r := f.s.At(i)
		out = append(out, pr{r.Start / PageSize, r.End / PageSize, r.Prot, r.Flags})
	}
	return out
}

// checkInvariants checks sorted, non-empty, aligned, non-overlapping and
// merged.
func checkInvariants(t testing.TB, s *Set) {
	t.Helper()
	if s.Len() > s.Cap() {
		t.Fatalf("Len %d > Cap %d", s.Len(), s.Cap())
	}
	for i := 0; i < s.Len(); i++ {
		r := s.At(i)
		if r.Start >= r.End || r.Start%PageSize != 0 || r.End%PageSize != 0 {
			t.Fatalf("range %d invalid: %+v", i, r)
		}
		if i > 0 {
			p := s.At(i - 1)
			if p.End > r.Start {
				t.Fatalf("ranges %d and %d overlap or unsorted: %+v %+v", i-1, i, p, r)
			}
			if p.End == r.Start && p.sameAttr(r) {
				t.Fatalf("ranges %d and %d not merged: %+v %+v", i-1, i, p, r)
			}
		}
	}
}

func TestInsertTable(t *testing.T) {
	for _, c := range []struct {
		name string
		cap  int
		init []pr
		in   pr
		err  error
		want []pr
	}{
		{"empty", 4, nil, pr{1, 2, 3, 0}, nil, []pr{{1, 2, 3, 0}}},
		{"before", 4, []pr{{5, 6, 1, 0}}, pr{1, 2, 1, 0}, nil, []pr{{1, 2, 1, 0}, {5, 6, 1, 0}}},
		{"after", 4, []pr{{5, 6, 1, 0}}, pr{7, 9, 1, 0}, nil, []pr{{5, 6, 1, 0}, {7, 9, 1, 0}}},
		{"between", 4, []pr{{1, 2, 1, 0}, {8, 9, 1, 0}}, pr{4, 5, 1, 0}, nil, []pr{{1, 2, 1, 0}, {4, 5, 1, 0}, {8, 9, 1, 0}}},
		{"merge left", 4, []pr{{1, 3, 1, 0}}, pr{3, 5, 1, 0}, nil, []pr{{1, 5, 1, 0}}},
		{"merge right", 4, []pr{{3, 5, 1, 0}}, pr{1, 3, 1, 0}, nil, []pr{{1, 5, 1, 0}}},
		{"merge both", 4, []pr{{1, 3, 1, 0}, {4, 6, 1, 0}, {9, 10, 1, 0}}, pr{3, 4, 1, 0}, nil, []pr{{1, 6, 1, 0}, {9, 10, 1, 0}}},
		{"touch, prot differs", 4, []pr{{1, 3, 1, 0}}, pr{3, 5, 2, 0}, nil, []pr{{1, 3, 1, 0}, {3, 5, 2, 0}}},
		{"touch, flags differ", 4, []pr{{1, 3, 1, 0}}, pr{3, 5, 1, 1}, nil, []pr{{1, 3, 1, 0}, {3, 5, 1, 1}}},
		{"merge left only", 4, []pr{{1, 3, 1, 0}, {4, 6, 2, 0}}, pr{3, 4, 1, 0}, nil, []pr{{1, 4, 1, 0}, {4, 6, 2, 0}}},
		{"merge right only", 4, []pr{{1, 3, 2, 0}, {4, 6, 1, 0}}, pr{3, 4, 1, 0}, nil, []pr{{1, 3, 2, 0}, {3, 6, 1, 0}}},
		{"overlap exact", 4, []pr{{2, 4, 1, 0}}, pr{2, 4, 1, 0}, ErrOverlap, []pr{{2, 4, 1, 0}}},
		{"overlap left edge", 4, []pr{{2, 4, 1, 0}}, pr{1, 3, 1, 0}, ErrOverlap, []pr{{2, 4, 1, 0}}},
		{"overlap right edge", 4, []pr{{2, 4, 1, 0}}, pr{3, 5, 1, 0}, ErrOverlap, []pr{{2, 4, 1, 0}}},
		{"overlap inside", 4, []pr{{2, 6, 1, 0}}, pr{3, 4, 1, 0}, ErrOverlap, []pr{{2, 6, 1, 0}}},
		{"overlap around", 4, []pr{{2, 4, 1, 0}}, pr{1, 5, 1, 0}, ErrOverlap, []pr{{2, 4, 1, 0}}},
		{"overlap second", 4, []pr{{1, 2, 1, 0}, {4, 6, 1, 0}}, pr{2, 5, 1, 0}, ErrOverlap, []pr{{1, 2, 1, 0}, {4, 6, 1, 0}}},
		{"full", 2, []pr{{1, 2, 1, 0}, {4, 5, 1, 0}}, pr{7, 8, 1, 0}, ErrFull, []pr{{1, 2, 1, 0}, {4, 5, 1, 0}}},
		{"full, merges", 2, []pr{{1, 2, 1, 0}, {4, 5, 1, 0}}, pr{5, 8, 1, 0}, nil, []pr{{1, 2, 1, 0}, {4, 8, 1, 0}}},
		{"full, merges both", 2, []pr{{1, 2, 1, 0}, {4, 5, 1, 0}}, pr{2, 4, 1, 0}, nil, []pr{{1, 5, 1, 0}}},
		{"capacity 0", 0, nil, pr{1, 2, 1, 0}, ErrFull, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.cap, c.init...)
			if err := f.s.Insert(c.in.r()); err != c.err {
				t.Fatalf("Insert(%v) = %v, want %v", c.in, err, c.err)
			}
			if got := f.pages(); !slices.Equal(got, c.want) {
				t.Fatalf("ranges %v, want %v", got, c.want)
			}
			checkInvariants(t, &f.s)
		})
	}
}

func TestInsertInvalid(t *testing.T) {
	f := newFixture(t, 4, pr{10, 20, 1, 0})
	for _, r := range []Range{
		{Start: 0, End: 0},
		{Start: PageSize, End: PageSize},
		{Start: 2 * PageSize, End: PageSize},
		{Start: 1, End: PageSize},
		{Start: 0, End: PageSize + 1},
	} {
		if err := f.s.Insert(r); err != ErrInvalid {
			t.Errorf("Insert(%+v) = %v, want ErrInvalid", r, err)
		}
	}
	if _, err := f.s.Remove(1, PageSize); err != ErrInvalid {
		t.Errorf("Remove unaligned = %v", err)
	}
	if _, err := f.s.Remove(PageSize, PageSize); err != ErrInvalid {
		t.Errorf("Remove empty = %v", err)
	}
	if _, err := f.s.Protect(2*PageSize, PageSize, 1); err != ErrInvalid {
		t.Errorf("Protect inverted = %v", err)
	}
	if got := f.pages(); !slices.Equal(got, []pr{{10, 20, 1, 0}}) {
		t.Fatalf("invalid calls changed the set: %v", got)
	}
}

func TestRemoveTable(t *testing.T) {
	three := []pr{{2, 4, 1, 0}, {6, 10, 2, 0}, {12, 14, 1, 0}}
	for _, c := range []struct {
		name    string
		cap     int
		init    []pr
		s, e    uint64
		removed int
		err     error
		want    []pr
	}{
		{"nothing there", 4, three, 4, 6, 0, nil, three},
		{"empty set", 4, nil, 0, 100, 0, nil, nil},
		{"exact", 4, three, 6, 10, 1, nil, []pr{{2, 4, 1, 0}, {12, 14, 1, 0}}},
		{"left part", 4, three, 6, 8, 1, nil, []pr{{2, 4, 1, 0}, {8, 10, 2, 0}, {12, 14, 1, 0}}},
		{"right part", 4, three, 8, 10, 1, nil, []pr{{2, 4, 1, 0}, {6, 8, 2, 0}, {12, 14, 1, 0}}},
		{"middle split", 4, three, 7, 9, 1, nil, []pr{{2, 4, 1, 0}, {6, 7, 2, 0}, {9, 10, 2, 0}, {12, 14, 1, 0}}},
		{"straddle two", 4, three, 3, 7, 2, nil, []pr{{2, 3, 1, 0}, {7, 10, 2, 0}, {12, 14, 1, 0}}},
		{"all, with gaps", 4, three, 0, 20, 3, nil, nil},
		{"cut both ends, drop middle", 4, three, 3, 13, 3, nil, []pr{{2, 3, 1, 0}, {13, 14, 1, 0}}},
		{"full, split fails", 3, three, 7, 9, 0, ErrFull, three},
		{"full, cut edge ok", 3, three, 6, 7, 1, nil, []pr{{2, 4, 1, 0}, {7, 10, 2, 0}, {12, 14, 1, 0}}},
		{"full, split around removal ok", 3, three, 3, 13, 3, nil, []pr{{2, 3, 1, 0}, {13, 14, 1, 0}}},
		{"full one range, split fails", 1, []pr{{0, 100, 0, 0}}, 10, 20, 0, ErrFull, []pr{{0, 100, 0, 0}}},
		{"full one range, cut ok", 1, []pr{{0, 100, 0, 0}}, 0, 20, 1, nil, []pr{{20, 100, 0, 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.cap, c.init...)
			n, err := f.s.Remove(c.s*PageSize, c.e*PageSize)
			if n != c.removed || err != c.err {
				t.Fatalf("Remove(%d, %d) = %d, %v; want %d, %v", c.s, c.e, n, err, c.removed, c.err)
			}
			if got := f.pages(); !slices.Equal(got, c.want) {
				t.Fatalf("ranges %v, want %v", got, c.want)
			}
			checkInvariants(t, &f.s)
		})
	}
}

func TestProtectTable(t *testing.T) {
	three := []pr{{2, 4, 1, 0}, {6, 10, 2, 0}, {12, 14, 1, 0}}
	for _, c := range []struct {
		name    string
		cap     int
		init    []pr
		s, e    uint64
		prot    uint32
		covered bool
		err     error
		want    []pr
	}{
		{"nothing there", 4, three, 4, 6, 7, false, nil, three},
		{"whole", 4, three, 6, 10, 7, true, nil, []pr{{2, 4, 1, 0}, {6, 10, 7, 0}, {12, 14, 1, 0}}},
		{"same prot", 3, three, 6, 10, 2, true, nil, three},
		{"same prot, part", 3, three, 7, 8, 2, true, nil, three},
		{"left part", 4, three, 6, 8, 7, true, nil, []pr{{2, 4, 1, 0}, {6, 8, 7, 0}, {8, 10, 2, 0}, {12, 14, 1, 0}}},
		{"right part", 4, three, 8, 10, 7, true, nil, []pr{{2, 4, 1, 0}, {6, 8, 2, 0}, {8, 10, 7, 0}, {12, 14, 1, 0}}},
		{"middle", 5, three, 7, 9, 7, true, nil, []pr{{2, 4, 1, 0}, {6, 7, 2, 0}, {7, 9, 7, 0}, {9, 10, 2, 0}, {12, 14, 1, 0}}},
		{"middle, one slot short", 4, three, 7, 9, 7, true, ErrFull, three},
		{"left part, full", 3, three, 6, 8, 7, true, ErrFull, three},
		{"over gaps", 4, three, 0, 20, 5, false, nil, []pr{{2, 4, 5, 0}, {6, 10, 5, 0}, {12, 14, 5, 0}}},
		{"starts in gap", 4, three, 5, 8, 5, false, nil, []pr{{2, 4, 1, 0}, {6, 8, 5, 0}, {8, 10, 2, 0}, {12, 14, 1, 0}}},
		{"merge with left neighbour", 3, []pr{{2, 4, 1, 0}, {4, 8, 2, 0}}, 4, 6, 1, true, nil, []pr{{2, 6, 1, 0}, {6, 8, 2, 0}}},
		{"merge with right neighbour", 3, []pr{{2, 4, 2, 0}, {4, 8, 1, 0}}, 3, 4, 1, true, nil, []pr{{2, 3, 2, 0}, {3, 8, 1, 0}}},
		{"merge all three", 3, []pr{{2, 4, 1, 0}, {4, 6, 2, 0}, {6, 8, 1, 0}}, 4, 6, 1, true, nil, []pr{{2, 8, 1, 0}}},
		{"merge across ranges", 3, []pr{{2, 4, 1, 0}, {4, 6, 2, 0}, {6, 8, 3, 0}}, 2, 8, 9, true, nil, []pr{{2, 8, 9, 0}}},
		{"flags keep ranges apart", 3, []pr{{2, 4, 1, 0}, {4, 6, 2, 1}, {6, 8, 3, 0}}, 2, 8, 9, true, nil, []pr{{2, 4, 9, 0}, {4, 6, 9, 1}, {6, 8, 9, 0}}},
		// Full storage: a split at the start (+1) is paid for by two
		// ranges merging; the final result fits, so Protect succeeds.
		{"full, split paid by merge", 2, []pr{{0, 10, 1, 0}, {10, 20, 2, 0}}, 5, 20, 1, true, nil, []pr{{0, 20, 1, 0}}},
		{"full, split plus merge", 3, []pr{{0, 4, 1, 0}, {4, 8, 2, 0}, {8, 12, 3, 0}}, 2, 12, 5, true, nil, []pr{{0, 2, 1, 0}, {2, 12, 5, 0}}},
		{"full, two splits, merges pay", 3, []pr{{0, 4, 1, 0}, {4, 8, 2, 0}, {8, 12, 3, 0}}, 2, 10, 5, true, nil, []pr{{0, 2, 1, 0}, {2, 10, 5, 0}, {10, 12, 3, 0}}},
		{"full, two splits, one merge short", 3, []pr{{0, 4, 1, 0}, {4, 8, 2, 1}, {8, 12, 3, 0}}, 2, 10, 5, true, ErrFull, []pr{{0, 4, 1, 0}, {4, 8, 2, 1}, {8, 12, 3, 0}}},
		{"both ends split, neighbours after", 6, []pr{{0, 4, 1, 0}, {4, 8, 2, 0}, {8, 12, 3, 0}, {12, 16, 4, 0}}, 2, 10, 5, true, nil, []pr{{0, 2, 1, 0}, {2, 10, 5, 0}, {10, 12, 3, 0}, {12, 16, 4, 0}}},
		{"split inside, neighbours", 6, []pr{{0, 4, 1, 0}, {4, 8, 2, 0}, {8, 12, 3, 0}}, 5, 6, 5, true, nil, []pr{{0, 4, 1, 0}, {4, 5, 2, 0}, {5, 6, 5, 0}, {6, 8, 2, 0}, {8, 12, 3, 0}}},
		{"split inside, flags differ", 6, []pr{{0, 4, 1, 0}, {4, 8, 2, 1}, {8, 12, 3, 0}}, 4, 8, 1, true, nil, []pr{{0, 4, 1, 0}, {4, 8, 1, 1}, {8, 12, 3, 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.cap, c.init...)
			covered, err := f.s.Protect(c.s*PageSize, c.e*PageSize, c.prot)
			if covered != c.covered && err == nil || err != c.err {
				t.Fatalf("Protect(%d, %d, %d) = %v, %v; want %v, %v", c.s, c.e, c.prot, covered, err, c.covered, c.err)
			}
			if got := f.pages(); !slices.Equal(got, c.want) {
				t.Fatalf("ranges %v, want %v", got, c.want)
			}
			checkInvariants(t, &f.s)
		})
	}
}

func TestFindCoveredIndex(t *testing.T) {
	f := newFixture(t, 4, pr{2, 4, 1, 0}, pr{4, 6, 2, 0}, pr{8, 9, 1, 0})
	s := &f.s
	for _, c := range []struct {
		addr  uint64
		ok    bool
		start uint64
		index int
	}{
		{0, false, 0, 0},
		{2 * PageSize, true, 2 * PageSize, 0},
		{4*PageSize - 1, true, 2 * PageSize, 0},
		{4 * PageSize, true, 4 * PageSize, 1},
		{6 * PageSize, false, 0, 2},
		{9*PageSize - 1, true, 8 * PageSize, 2},
		{9 * PageSize, false, 0, 3},
		{^uint64(0), false, 0, 3},
	} {
		r, ok := s.Find(c.addr)
		if ok != c.ok || r.Start != c.start || (ok && !r.Contains(c.addr)) {
			t.Errorf("Find(%#x) = %+v, %v", c.addr, r, ok)
		}
		if i := s.Index(c.addr); i != c.index {
			t.Errorf("Index(%#x) = %d, want %d", c.addr, i, c.index)
		}
	}
	for _, c := range []struct {
		s, e uint64
		want bool
	}{
		{2 * PageSize, 6 * PageSize, true},
		{2*PageSize + 5, 6*PageSize - 5, true},
		{2 * PageSize, 6*PageSize + 1, false},
		{PageSize, 3 * PageSize, false},
		{5 * PageSize, 9 * PageSize, false},
		{8 * PageSize, 8 * PageSize, true},
		{9 * PageSize, 8 * PageSize, false},
	} {
		if got := s.Covered(c.s, c.e); got != c.want {
			t.Errorf("Covered(%#x, %#x) = %v", c.s, c.e, got)
		}
	}
	if r := s.At(-1); r != (Range{}) {
		t.Error("At(-1) not zero")
	}
	if r := s.At(3); r != (Range{}) {
		t.Error("At(Len()) not zero")
	}
	if s.At(1).Len() != 2*PageSize {
		t.Error("Range.Len")
	}
	s.Reset()
	if s.Len() != 0 || s.Cap() != 4 {
		t.Fatal("Reset")
	}
	var zero Set
	if _, ok := zero.Find(0); ok || zero.Covered(0, 1) || zero.Len() != 0 {
		t.Fatal("zero Set not empty")
	}
	if err := zero.Insert(Range{Start: 0, End: PageSize}); err != ErrFull {
		t.Fatalf("zero Set Insert = %v", err)
	}
	if a, ok := zero.FindGap(PageSize, 0, 0, 1<<20, 0); !ok || a != 0 {
		t.Fatalf("zero Set FindGap = %#x, %v", a, ok)
	}
}

func TestFindGap(t *testing.T) {
	const P = PageSize
	f := newFixture(t, 8, pr{0, 1, 1, 0}, pr{2, 4, 1, 0}, pr{5, 6, 1, 0}, pr{10, 16, 1, 0})
	s := &f.s
	for _, c := range []struct {
		size, align, lo, hi, hint uint64
		want                      uint64
		ok                        bool
	}{
		{P, 0, 0, 32 * P, 0, 1 * P, true},
		{2 * P, 0, 0, 32 * P, 0, 6 * P, true},
		{P, 0, 0, 32 * P, 3 * P, 4 * P, true},
		{P, 0, 0, 32 * P, 7 * P, 7 * P, true},
		{5 * P, 0, 0, 32 * P, 0, 16 * P, true},
		{4 * P, 0, 0, 10 * P, 0, 6 * P, true},
		{5 * P, 0, 0, 10 * P, 0, 0, false},
		{P, 4 * P, 0, 32 * P, 0, 4 * P, true},
		{P, 8 * P, 0, 32 * P, 0, 8 * P, true},
		{2 * P, 8 * P, 0, 32 * P, 0, 8 * P, true},
		{3 * P, 8 * P, 0, 32 * P, 0, 16 * P, true},
		{P, 0, 0, 32 * P, 20 * P, 20 * P, true},
		{P, 0, 0, 12 * P, 9 * P, 9 * P, true},
		{2 * P, 0, 0, 12 * P, 9 * P, 6 * P, true}, // wraps to lo
		{P, 0, 0, 12 * P, 11 * P, 1 * P, true},    // hint inside a range, nothing after: wrap
		{P, 0, 3 * P, 12 * P, 0, 4 * P, true},     // hint below lo means lo
		{P, 0, 3 * P, 12 * P, 40 * P, 4 * P, true},
		{1, 0, 0, 32 * P, 0, 1 * P, true}, // size below a page
		{P + 1, 0, 0, 32 * P, 0, 6 * P, true},
		{P, 3 * P, 0, 32 * P, 0, 0, false}, // align not a power of two
		{0, 0, 0, 32 * P, 0, 0, false},
		{P, 0, 5 * P, 5 * P, 0, 0, false},
		{P, 0, 16 * P, 17 * P, 0, 16 * P, true},
		{2 * P, 0, 16 * P, 17 * P, 0, 0, false},
		{P, 0, ^uint64(0) - 3*P + 1, ^uint64(0), 0, ^uint64(0) - 3*P + 1, true}, // the last whole page below hi
		{P, 0, ^uint64(0) - 3*P + 2, ^uint64(0), 0, ^uint64(0) - 2*P + 1, true}, // lo unaligned: rounds up
		{2 * P, 0, ^uint64(0) - 3*P + 2, ^uint64(0), 0, 0, false},
		{P, 0, 1 << 63, ^uint64(0), 0, 1 << 63, true},
		{1 << 62, 1 << 63, 0, ^uint64(0), 0, 1 << 63, true},
		{1 << 63, 1 << 63, 0, ^uint64(0), 0, 0, false}, // would end at 2^64
		{1 << 62, 1 << 63, 1, ^uint64(0), 0, 1 << 63, true},
		{P, 1 << 63, 1<<63 + 1, ^uint64(0), 0, 0, false}, // alignment overflows
	} {
		got, ok := s.FindGap(c.size, c.align, c.lo, c.hi, c.hint)
		if got != c.want || ok != c.ok {
			t.Errorf("FindGap(size %#x, align %#x, lo %#x, hi %#x, hint %#x) = %#x, %v; want %#x, %v",
				c.size, c.align, c.lo, c.hi, c.hint, got, ok, c.want, c.ok)
		}
	}
	// A range near the top of the address space and alignment steps that
	// jump over ranges.
	g := newFixture(t, 4)
	top := (^uint64(0)) &^ (PageSize - 1)
	if err := g.s.Insert(Range{Start: top - PageSize, End: top}); err != nil {
		t.Fatal(err)
	}
	// The page at top would end at 2^64, beyond hi: wrap to lo.
	if a, ok := g.s.FindGap(PageSize, 0, top-2*PageSize, ^uint64(0), top-PageSize); !ok || a != top-2*PageSize {
		t.Fatalf("FindGap at the top = %#x, %v", a, ok)
	}
	if a, ok := g.s.FindGap(3*PageSize, 0, top-3*PageSize, ^uint64(0), 0); ok {
		t.Fatalf("FindGap found %#x past the top", a)
	}
	h := newFixture(t, 4, pr{1, 2, 0, 0}, pr{3, 4, 0, 0}, pr{9, 10, 0, 0})
	if a, ok := h.s.FindGap(PageSize, 8*PageSize, 0, 64*PageSize, PageSize); !ok || a != 8*PageSize {
		t.Fatalf("aligned FindGap skipping ranges = %#x, %v", a, ok)
	}
	if a, ok := h.s.FindGap(2*PageSize, 8*PageSize, 0, 64*PageSize, PageSize); !ok || a != 16*PageSize {
		t.Fatalf("aligned FindGap skipping ranges = %#x, %v", a, ok)
	}
}

// The model: one entry per page of a small address space.

// modelPages is the size of the modelled address space; the operations
// use addresses up to gapPages+8 pages, so nothing falls off its end.
const (
	modelPages = 64
	gapPages   = 48 // FindGap searches [0, gapPages pages)
)

type page struct {
	present     bool
	prot, flags uint32
}

type model [modelPages]page

// canon returns the merged ranges the model describes, in pages.
func (m *model) canon() []pr {
	var out []pr
	for i := 0; i < modelPages; i++ {
		p := m[i]
		if !p.present {
			continue
		}
		if n := len(out); n > 0 && out[n-1].e == uint64(i) && out[n-1].prot == p.prot && out[n-1].flags == p.flags {
			out[n-1].e++
			continue
		}
		out = append(out, pr{uint64(i), uint64(i) + 1, p.prot, p.flags})
	}
	return out
}

// pagesOf returns the page interval [lo, hi) holding bytes [s, e) (empty if
// s >= e).
func pagesOf(s, e uint64) (lo, hi uint64) {
	if s >= e {
		return 0, 0
	}
	return s / PageSize, (e-1)/PageSize + 1
}

// runOps interprets data as operations on a Set of small capacity and
// checks every result against the model and the invariants after every
// operation.
func runOps(t testing.TB, data []byte) {
	next := func() uint64 {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return uint64(b)
	}
	capacity := int(next()%8) + 1
	f := newFixture(t, capacity)
	s := &f.s
	var m model
	// addr returns a page-aligned address in [0, gapPages+8 pages], or
	// (rarely) an unaligned one.
	addr := func() uint64 {
		b := next()
		if b == 255 {
			return next()
		}
		return b % (gapPages + 9) * PageSize
	}
	for len(data) > 0 {
		op := next() % 8
		switch op {
		case 0, 1, 2: // Insert
			st, en := addr(), addr()
			r := Range{Start: st, End: en, Prot: uint32(next() % 3), Flags: uint32(next() % 4 / 3)}
			var want error
			lo, hi := pagesOf(st, en)
			var after model
			switch {
			case !validSpan(st, en):
				want = ErrInvalid
			default:
				after = m
				for p := lo; p < hi; p++ {
					if m[p].present {
						want = ErrOverlap
					}
					after[p] = page{true, r.Prot, r.Flags}
				}
				if want == nil && len(after.canon()) > capacity {
					want = ErrFull
				}
			}
			if err := s.Insert(r); err != want {
				t.Fatalf("Insert(%+v) = %v, model %v (set %v)", r, err, want, f.pages())
			}
			if want == nil {
				m = after
			}
		case 3, 4: // Remove
			st, en := addr(), addr()
			var want error
			wantN := 0
			after := m
			if !validSpan(st, en) {
				want = ErrInvalid
			} else {
				lo, hi := pagesOf(st, en)
				for _, r := range m.canon() {
					if r.s < hi && r.e > lo {
						wantN++
					}
				}
				for p := lo; p < hi; p++ {
					after[p] = page{}
				}
				if len(after.canon()) > capacity {
					want, wantN = ErrFull, 0
				}
			}
			n, err := s.Remove(st, en)
			if n != wantN || err != want {
				t.Fatalf("Remove(%#x, %#x) = %d, %v; model %d, %v", st, en, n, err, wantN, want)
			}
			if want == nil {
				m = after
			}
		case 5, 6: // Protect
			st, en, prot := addr(), addr(), uint32(next()%3)
			var want error
			wantCov := false
			after := m
			if !validSpan(st, en) {
				want = ErrInvalid
			} else {
				lo, hi := pagesOf(st, en)
				any := false
				wantCov = true
				for p := lo; p < hi; p++ {
					if m[p].present {
						any = true
						after[p].prot = prot
					} else {
						wantCov = false
					}
				}
				wantCov = wantCov && any
				if len(after.canon()) > capacity {
					want, wantCov = ErrFull, false
				}
			}
			cov, err := s.Protect(st, en, prot)
			if cov != wantCov || err != want {
				t.Fatalf("Protect(%#x, %#x, %d) = %v, %v; model %v, %v", st, en, prot, cov, err, wantCov, want)
			}
			if want == nil {
				m = after
			}
		case 7: // queries
			st, en := addr(), addr()
			if en < st {
				st, en = en, st
			}
			lo, hi := pagesOf(st, en)
			want := true
			for p := lo; p < hi; p++ {
				want = want && m[p].present
			}
			if got := s.Covered(st, en); got != want {
				t.Fatalf("Covered(%#x, %#x) = %v, model %v", st, en, got, want)
			}
			_, ok := s.Find(st)
			if ok != m[st/PageSize].present {
				t.Fatalf("Find(%#x) = %v", st, ok)
			}
			size := (next()%5 + 1) * PageSize
			align := uint64(PageSize) << (next() % 3)
			hint := addr()
			got, gok := s.FindGap(size, align, 0, gapPages*PageSize, hint)
			want2, wok := modelGap(&m, size, align, hint)
			if got != want2 || gok != wok {
				t.Fatalf("FindGap(%#x, %#x, hint %#x) = %#x, %v; model %#x, %v", size, align, hint, got, gok, want2, wok)
			}
		}
		if got, want := f.pages(), m.canon(); !slices.Equal(got, want) {
			t.Fatalf("set %v, model %v", got, want)
		}
		checkInvariants(t, s)
	}
}

func modelGap(m *model, size, align, hint uint64) (uint64, bool) {
	const hi = gapPages * PageSize
	fits := func(c uint64) bool {
		if c+size > hi {
			return false
		}
		lo, h := pagesOf(c, c+size)
		for p := lo; p < h; p++ {
			if m[p].present {
				return false
			}
		}
		return true
	}
	if hint > 0 && hint < hi {
		for c := (hint + align - 1) / align * align; c < hi; c += align {
			if fits(c) {
				return c, true
			}
		}
	}
	for c := uint64(0); c < hi; c += align {
		if fits(c) {
			return c, true
		}
	}
	return 0, false
}

func TestRandomAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewSource(seed))
		data := make([]byte, 600)
		r.Read(data)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runOps(t, data) })
	}
}

func FuzzOps(f *testing.F) {
	f.Add([]byte{3, 0, 1, 9, 1, 0, 0, 12, 20, 2, 0, 5, 14, 16, 1, 3, 10, 15, 7, 1, 30, 1, 2, 1})
	f.Add([]byte{0, 0, 0, 40, 0, 0, 3, 10, 12, 5, 20, 22, 2, 3, 30, 31, 7, 0, 40, 2, 1, 5})
	f.Add([]byte{7, 1, 2, 8, 1, 0, 1, 9, 20, 2, 0, 6, 3, 6, 2, 6, 12, 16, 0, 4, 0, 48})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2048 {
			data = data[:2048]
		}
		runOps(t, data)
	})
}

func TestFullStorageChangesNothing(t *testing.T) {
	// Fill the storage with alternating attributes, then try every
	// operation that would need a slot.
	f := newFixture(t, 8)
	for i := uint64(0); i < 8; i++ {
		if err := f.s.Insert(pr{i * 4, i*4 + 4, uint32(i % 2), 0}.r()); err != nil {
			t.Fatal(err)
		}
	}
	before := f.pages()
	snap := slices.Clone(f.storage)
	same := func(what string) {
		t.Helper()
		if !slices.Equal(f.storage, snap) || f.s.Len() != 8 {
			t.Fatalf("%s changed the set: %v (was %v)", what, f.pages(), before)
		}
	}
	if err := f.s.Insert(pr{40, 41, 0, 0}.r()); err != ErrFull {
		t.Fatalf("Insert into full = %v", err)
	}
	same("Insert")
	if _, err := f.s.Remove(5*PageSize, 6*PageSize); err != ErrFull {
		t.Fatalf("splitting Remove = %v", err)
	}
	same("Remove")
	if _, err := f.s.Protect(5*PageSize, 6*PageSize, 7); err != ErrFull {
		t.Fatalf("splitting Protect = %v", err)
	}
	same("Protect")
	if _, err := f.s.Protect(4*PageSize, 6*PageSize, 7); err != ErrFull {
		t.Fatalf("splitting Protect = %v", err)
	}
	same("Protect edge")
	// The same operations that need no slot work.
	if _, err := f.s.Protect(5*PageSize, 6*PageSize, 1); err != nil {
		t.Fatalf("no-op Protect = %v", err)
	}
	same("no-op Protect")
	if cov, err := f.s.Protect(4*PageSize, 8*PageSize, 0); err != nil || !cov {
		t.Fatalf("merging Protect = %v, %v", cov, err)
	}
	if f.s.Len() != 6 { // [0,12) merged
		t.Fatalf("after merging Protect: %v", f.pages())
	}
	checkInvariants(t, &f.s)
}

func TestNoAllocations(t *testing.T) {
	f := newFixture(t, 16)
	s := &f.s
	allocs := testing.AllocsPerRun(100, func() {
		_ = s.Insert(Range{Start: 0, End: 64 * PageSize, Prot: 0})
		_, _ = s.Protect(8*PageSize, 16*PageSize, 3)
		_, _ = s.Protect(8*PageSize, 16*PageSize, 3)
		_, _ = s.Remove(10*PageSize, 12*PageSize)
		_ = s.Insert(Range{Start: 0, End: PageSize}) // overlap error
		_, _ = s.Find(9 * PageSize)
		_ = s.Covered(0, 64*PageSize)
		_, _ = s.FindGap(4*PageSize, 0, 0, 1<<30, 20*PageSize)
		_ = s.At(0)
		_ = s.Index(0)
		_, _ = s.Remove(0, 64*PageSize)
		_, _ = s.Remove(1, 2) // invalid
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
	if testing.AllocsPerRun(10, func() { s.Init(f.storage) }) != 0 {
		t.Fatal("Init allocates")
	}
}

// TestConcurrentWithMutex shares one Set between goroutines behind a mutex,
// while each goroutine also drives a private Set unlocked. Under -race it
// shows that a Set has no state outside itself and its storage.
func TestConcurrentWithMutex(t *testing.T) {
	f := newFixture(t, 64)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g uint64) {
			defer wg.Done()
			own := &fixture{storage: make([]Range, 8)}
			own.s.Init(own.storage)
			base := g * 1 << 30 // each goroutine works in its own region
			for i := uint64(0); i < 500; i++ {
				a := base + i%32*PageSize
				_ = own.s.Insert(Range{Start: a, End: a + PageSize, Prot: uint32(i % 3)})
				_, _ = own.s.Remove(a, a+PageSize)

				mu.Lock()
				if err := f.s.Insert(Range{Start: a, End: a + 2*PageSize, Prot: uint32(i % 2)}); err != nil && err != ErrOverlap && err != ErrFull {
					t.Error(err)
				}
				_, _ = f.s.Protect(a, a+PageSize, 3)
				if _, err := f.s.Remove(a+PageSize, a+2*PageSize); err != nil && err != ErrFull {
					t.Error(err)
				}
				checkInvariants(t, &f.s)
				mu.Unlock()
			}
		}(uint64(g))
	}
	wg.Wait()
	if _, err := f.s.Remove(0, 8<<30); err != nil {
		t.Fatal(err)
	}
	if f.s.Len() != 0 {
		t.Fatalf("%d ranges left", f.s.Len())
	}
}

func BenchmarkProtectSplitMerge(b *testing.B) {
	f := newFixture(b, 256)
	s := &f.s
	for i := uint64(0); i < 100; i++ {
		_ = s.Insert(Range{Start: i * 16 * PageSize, End: (i*16 + 8) * PageSize, Prot: 1})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := uint64(i%100)*16*PageSize + 2*PageSize
		_, _ = s.Protect(a, a+2*PageSize, 3)
		_, _ = s.Protect(a, a+2*PageSize, 1)
	}
}

func BenchmarkFindGap(b *testing.B) {
	f := newFixture(b, 256)
	s := &f.s
	for i := uint64(0); i < 200; i++ {
		_ = s.Insert(Range{Start: i * 16 * PageSize, End: (i*16 + 15) * PageSize, Prot: 1})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = s.FindGap(2*PageSize, 0, 0, 1<<40, 0)
	}
}

// growStack uses about n KiB of goroutine stack, which makes the runtime
// move the stack to a bigger one.
//
//go:noinline
func growStack(n int) byte {
	var pad [1024]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return growStack(n-1) + pad[(n*7)%len(pad)]
}

// TestLocalStorage passes a local array as storage: Init makes it escape
// (see escape), so it stays where the Set's integer address points even
// when the goroutine's stack moves.
func TestLocalStorage(t *testing.T) {
	var storage [2]Range
	var s Set
	s.Init(storage[:])
	if err := s.Insert(Range{Start: 0, End: PageSize}); err != nil {
		t.Fatal(err)
	}
	growStack(256)
	storage[0].Prot = 5 // through the caller's slice: the Set must see it
	if r := s.At(0); r.Prot != 5 {
		t.Fatalf("storage moved: %+v", r)
	}
}
