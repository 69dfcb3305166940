package frames

import (
	"errors"
	"math/bits"
	"math/rand"
	"sync"
	"testing"
)

// fixture is an Allocator with its storage. Both live on the heap (the
// fixture is returned by pointer), as the package comment requires.
type fixture struct {
	a    Allocator
	bits []uint64
}

func newFixture(t testing.TB, nframes uint64) *fixture {
	f := &fixture{bits: make([]uint64, BitmapWords(nframes))}
	if err := f.a.Init(f.bits, nframes); err != nil {
		t.Fatalf("Init(%d): %v", nframes, err)
	}
	return f
}

// model is the reference the allocator is checked against: the state of
// every frame that is not NotRAM.
type model struct {
	n     uint64
	state map[uint64]State
}

func newModel(n uint64) *model { return &model{n: n, state: map[uint64]State{}} }

func (m *model) get(p uint64) State { return m.state[p] } // zero value is NotRAM

func (m *model) set(p uint64, s State) {
	if s == NotRAM {
		delete(m.state, p)
	} else {
		m.state[p] = s
	}
}

func (m *model) validRange(p, n uint64) bool { return n != 0 && p < m.n && n <= m.n-p }

func (m *model) addFree(p, n uint64) error {
	if !m.validRange(p, n) {
		return ErrRange
	}
	for i := p; i < p+n; i++ {
		if m.get(i) != NotRAM {
			return ErrOverlap
		}
	}
	for i := p; i < p+n; i++ {
		m.set(i, Free)
	}
	return nil
}

func (m *model) reserve(p, n uint64) error {
	if !m.validRange(p, n) {
		return ErrRange
	}
	for i := p; i < p+n; i++ {
		if m.get(i) == Allocated {
			return ErrInUse
		}
	}
	for i := p; i < p+n; i++ {
		m.set(i, NotRAM)
	}
	return nil
}

func (m *model) allocRange(n, align uint64) (uint64, bool) {
	if align == 0 {
		align = 1
	}
	if n == 0 {
		return 0, false
	}
	for c := uint64(0); c+n <= m.n; c += align {
		ok := true
		for i := c; i < c+n; i++ {
			if m.get(i) != Free {
				ok = false
				break
			}
		}
		if ok {
			for i := c; i < c+n; i++ {
				m.set(i, Allocated)
			}
			return c, true
		}
	}
	return 0, false
}

func (m *model) free(p uint64) error {
	if p >= m.n {
		return ErrRange
	}
	switch m.get(p) {
	case NotRAM:
		return ErrNotRAM
	case Free:
		return ErrDoubleFree
	}
	m.set(p, Free)
	return nil
}

func (m *model) freeRange(p, n uint64) error {
	if !m.validRange(p, n) {
		return ErrRange
	}
	var notRAM, double bool
	for i := p; i < p+n; i++ {
		switch m.get(i) {
		case NotRAM:
			notRAM = true
		case Free:
			double = true
		}
	}
	if notRAM {
		return ErrNotRAM
	}
	if double {
		return ErrDoubleFree
	}
	for i := p; i < p+n; i++ {
		m.set(i, Free)
	}
	return nil
}

func (m *model) counts() (total, free uint64) {
	for _, s := range m.state {
		total++
		if s == Free {
			free++
		}
	}
	return
}

// check compares the allocator with the model and checks the internal
// invariants.
func check(t testing.TB, a *Allocator, m *model) {
	t.Helper()
	total, free := m.counts()
	if a.Total() != total || a.FreeCount() != free || a.Used() != total-free {
		t.Fatalf("counters: total %d free %d used %d, model total %d free %d",
			a.Total(), a.FreeCount(), a.Used(), total, free)
	}
	for p := uint64(0); p < m.n+70; p++ {
		if got, want := a.State(p), m.get(p); got != want {
			t.Fatalf("State(%d) = %d, model %d", p, got, want)
		}
	}
	ps := a.pairs()
	if uint64(len(ps)) != (a.nframes+63)/64 {
		t.Fatalf("%d bitmap words for %d frames", len(ps), a.nframes)
	}
	var ne, nf uint64
	for w, p := range ps {
		if p.free&^p.exists != 0 {
			t.Fatalf("word %d: free bit without exists bit", w)
		}
		if p.free != 0 && uint64(w) < a.hint {
			t.Fatalf("free frame in word %d before hint %d", w, a.hint)
		}
		ne += uint64(bits.OnesCount64(p.exists))
		nf += uint64(bits.OnesCount64(p.free))
	}
	if ne != a.total || nf != a.nfree {
		t.Fatalf("bit counts exists %d free %d, counters %d %d", ne, nf, a.total, a.nfree)
	}
	if len(ps) > 0 && a.nframes%64 != 0 {
		if tail := ps[len(ps)-1].exists >> (a.nframes % 64); tail != 0 {
			t.Fatalf("bits beyond nframes: %#x", tail)
		}
	}
}

func TestBitmapWords(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want int
	}{{0, 0}, {1, 2}, {64, 2}, {65, 4}, {1 << 20, 1 << 15}} {
		if got := BitmapWords(c.n); got != c.want {
			t.Errorf("BitmapWords(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestInit(t *testing.T) {
	var a Allocator
	if err := a.Init(make([]uint64, 3), 129); !errors.Is(err, ErrStorage) {
		t.Fatalf("Init with short storage: %v", err)
	}
	store := make([]uint64, 8)
	for i := range store {
		store[i] = ^uint64(0)
	}
	if err := a.Init(store, 100); err != nil {
		t.Fatal(err)
	}
	check(t, &a, newModel(100))
	if store[4] != ^uint64(0) {
		t.Fatal("Init cleared storage it does not use")
	}
	if _, ok := a.Alloc(); ok {
		t.Fatal("Alloc succeeded with no RAM added")
	}
	var zero Allocator
	if _, ok := zero.Alloc(); ok {
		t.Fatal("zero Allocator allocated")
	}
	if err := zero.Free(0); !errors.Is(err, ErrRange) {
		t.Fatalf("zero Allocator Free: %v", err)
	}
	if zero.State(0) != NotRAM {
		t.Fatal("zero Allocator has RAM")
	}
}

func TestAllocAllFreeAll(t *testing.T) {
	const n = 1000 // not a multiple of 64
	f := newFixture(t, n)
	a := &f.a
	if err := a.AddFree(0, n); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve(0, 16); err != nil { // "low memory"
		t.Fatal(err)
	}
	if err := a.Reserve(500, 10); err != nil { // "kernel image"
		t.Fatal(err)
	}
	if a.Total() != n-26 || a.FreeCount() != n-26 || a.Used() != 0 {
		t.Fatalf("after reserve: total %d free %d", a.Total(), a.FreeCount())
	}
	var got []uint64
	prev := int64(-1)
	for {
		p, ok := a.Alloc()
		if !ok {
			break
		}
		if int64(p) <= prev {
			t.Fatalf("Alloc returned %d after %d: not ascending", p, prev)
		}
		if p < 16 || (p >= 500 && p < 510) || p >= n {
			t.Fatalf("Alloc returned reserved or foreign frame %d", p)
		}
		prev = int64(p)
		got = append(got, p)
	}
	if len(got) != n-26 || a.FreeCount() != 0 || a.Used() != n-26 {
		t.Fatalf("allocated %d frames, free %d used %d", len(got), a.FreeCount(), a.Used())
	}
	for _, p := range got {
		if err := a.Free(p); err != nil {
			t.Fatalf("Free(%d): %v", p, err)
		}
	}
	if a.FreeCount() != n-26 || a.Used() != 0 {
		t.Fatalf("after freeing all: free %d used %d", a.FreeCount(), a.Used())
	}
	for _, p := range got {
		if err := a.Free(p); !errors.Is(err, ErrDoubleFree) {
			t.Fatalf("second Free(%d): %v", p, err)
		}
	}
	if err := a.FreeRange(16, 484); !errors.Is(err, ErrDoubleFree) {
		t.Fatalf("FreeRange of free frames: %v", err)
	}
	if p, ok := a.Alloc(); !ok || p != 16 {
		t.Fatalf("Alloc after free-all = %d, %v; want 16", p, ok)
	}
}

func TestMisuseLeavesStateAlone(t *testing.T) {
	const n = 200
	f := newFixture(t, n)
	a := &f.a
	m := newModel(n)
	for _, r := range [][2]uint64{{10, 50}, {100, 90}} {
		if err := a.AddFree(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
		m.addFree(r[0], r[1])
	}
	for i := 0; i < 20; i++ {
		p, _ := a.Alloc()
		m.set(p, Allocated)
	}
	snap := append([]uint64(nil), f.bits...)
	saved := *a
	same := func(what string) {
		t.Helper()
		if *a != saved {
			t.Fatalf("%s changed the allocator header", what)
		}
		for i := range snap {
			if snap[i] != f.bits[i] {
				t.Fatalf("%s changed bitmap word %d", what, i)
			}
		}
		check(t, a, m)
	}
	cases := []struct {
		name string
		op   func() error
		want error
	}{
		{"Free foreign", func() error { return a.Free(5) }, ErrNotRAM},
		{"Free gap", func() error { return a.Free(70) }, ErrNotRAM},
		{"Free beyond", func() error { return a.Free(n) }, ErrRange},
		{"Free huge", func() error { return a.Free(^uint64(0)) }, ErrRange},
		{"double Free", func() error { return a.Free(40) }, ErrDoubleFree},
		{"FreeRange part free", func() error { return a.FreeRange(25, 10) }, ErrDoubleFree},
		{"FreeRange part foreign", func() error { return a.FreeRange(5, 10) }, ErrNotRAM},
		{"FreeRange empty", func() error { return a.FreeRange(10, 0) }, ErrRange},
		{"FreeRange past end", func() error { return a.FreeRange(190, 11) }, ErrRange},
		{"FreeRange wrap", func() error { return a.FreeRange(10, ^uint64(0)) }, ErrRange},
		{"AddFree overlap", func() error { return a.AddFree(55, 10) }, ErrOverlap},
		{"AddFree past end", func() error { return a.AddFree(195, 6) }, ErrRange},
		{"AddFree empty", func() error { return a.AddFree(0, 0) }, ErrRange},
		{"Reserve allocated", func() error { return a.Reserve(0, 11) }, ErrInUse},
		{"Reserve past end", func() error { return a.Reserve(0, n+1) }, ErrRange},
	}
	for _, c := range cases {
		if err := c.op(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		same(c.name)
	}
	if _, ok := a.AllocRange(0, 1); ok {
		t.Error("AllocRange(0) succeeded")
	}
	if _, ok := a.AllocRange(100, 1); ok {
		t.Error("AllocRange(100) succeeded with no such run")
	}
	if _, ok := a.AllocRange(8, 1<<63); ok {
		t.Error("AllocRange with huge alignment succeeded")
	}
	same("AllocRange failures")
}

func TestAllocRange(t *testing.T) {
	const n = 1024
	f := newFixture(t, n)
	a := &f.a
	m := newModel(n)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.AddFree(3, n-3))
	m.addFree(3, n-3)
	for _, c := range []struct{ n, align, want uint64 }{
		{1, 1, 3},
		{4, 4, 4},
		{1, 0, 8}, // 0 means 1
		{16, 16, 16},
		{3, 3, 9},
		{64, 64, 64},
		{2, 64, 128},
		{100, 1, 130},
	} {
		p, ok := a.AllocRange(c.n, c.align)
		mp, mok := m.allocRange(c.n, c.align)
		if !ok || p != c.want || !mok || mp != p {
			t.Fatalf("AllocRange(%d, %d) = %d, %v; want %d (model %d, %v)", c.n, c.align, p, ok, c.want, mp, mok)
		}
		check(t, a, m)
	}
	must(a.FreeRange(3, 1))
	m.freeRange(3, 1)
	must(a.FreeRange(130, 100))
	m.freeRange(130, 100)
	check(t, a, m)

	// Fragment everything above 230: allocate all, free every other frame.
	for {
		p, ok := a.Alloc()
		if !ok {
			break
		}
		m.set(p, Allocated)
	}
	for p := uint64(231); p < n; p += 2 {
		must(a.Free(p))
		m.set(p, Free)
	}
	check(t, a, m)
	if p, ok := a.AllocRange(2, 1); ok {
		t.Fatalf("AllocRange(2) in a fragmented space = %d", p)
	}
	// Make a hole of 8 frames at 601..608: a run of 8 exists but not
	// aligned to 8; one of 4 aligned to 4 does.
	for p := uint64(602); p <= 608; p += 2 {
		must(a.Free(p))
		m.set(p, Free)
	}
	if p, ok := a.AllocRange(8, 8); ok {
		t.Fatalf("AllocRange(8, 8) = %d, no aligned run exists", p)
	}
	p, ok := a.AllocRange(8, 1)
	if !ok || p != 601 {
		t.Fatalf("AllocRange(8, 1) = %d, %v; want 601", p, ok)
	}
	m.allocRange(8, 1)
	check(t, a, m)
	must(a.FreeRange(601, 8))
	m.freeRange(601, 8)
	if p, ok := a.AllocRange(4, 4); !ok || p != 604 {
		t.Fatalf("AllocRange(4, 4) = %d, %v; want 604", p, ok)
	}
	m.allocRange(4, 4)
	check(t, a, m)
}

func TestRandomAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewSource(seed))
		data := make([]byte, 3000)
		r.Read(data)
		runOps(t, data)
	}
}

// runOps interprets data as a sequence of operations on a 300-frame
// allocator and checks each result and the whole state against the model.
func runOps(t testing.TB, data []byte) {
	const n = 300
	f := newFixture(t, n)
	a := &f.a
	m := newModel(n)
	var live []uint64 // allocated frames, to pick frees that succeed
	next := func() uint64 {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return uint64(b)
	}
	for len(data) > 0 {
		op := next() % 9
		switch op {
		case 0, 1: // AddFree
			p, k := next()*2%(n+20), next()%90
			if got, want := a.AddFree(p, k), m.addFree(p, k); got != want {
				t.Fatalf("AddFree(%d, %d) = %v, model %v", p, k, got, want)
			}
		case 2: // Reserve
			p, k := next()*2%(n+20), next()%40
			if got, want := a.Reserve(p, k), m.reserve(p, k); got != want {
				t.Fatalf("Reserve(%d, %d) = %v, model %v", p, k, got, want)
			}
		case 3, 4: // Alloc
			p, ok := a.Alloc()
			mp, mok := m.allocRange(1, 1)
			if ok != mok || p != mp {
				t.Fatalf("Alloc = %d, %v; model %d, %v", p, ok, mp, mok)
			}
			if ok {
				live = append(live, p)
			}
		case 5: // AllocRange
			k, al := next()%20, uint64(1)<<(next()%7)
			p, ok := a.AllocRange(k, al)
			mp, mok := m.allocRange(k, al)
			if ok != mok || p != mp {
				t.Fatalf("AllocRange(%d, %d) = %d, %v; model %d, %v", k, al, p, ok, mp, mok)
			}
			if ok {
				for i := p; i < p+k; i++ {
					live = append(live, i)
				}
			}
		case 6: // Free of a live frame
			if len(live) == 0 {
				break
			}
			i := int(next()) % len(live)
			p := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			if got, want := a.Free(p), m.free(p); got != want {
				t.Fatalf("Free(%d) = %v, model %v", p, got, want)
			}
		case 7: // Free of any frame: mostly misuse
			p := next() * 2 % (n + 20)
			if got, want := a.Free(p), m.free(p); got != want {
				t.Fatalf("Free(%d) = %v, model %v", p, got, want)
			}
			if m.get(p) == Free {
				for i, q := range live {
					if q == p {
						live[i] = live[len(live)-1]
						live = live[:len(live)-1]
						break
					}
				}
			}
		case 8: // FreeRange
			p, k := next()*2%(n+20), next()%10
			if got, want := a.FreeRange(p, k), m.freeRange(p, k); got != want {
				t.Fatalf("FreeRange(%d, %d) = %v, model %v", p, k, got, want)
			}
			kept := live[:0]
			for _, q := range live {
				if m.get(q) == Allocated {
					kept = append(kept, q)
				}
			}
			live = kept
		}
		check(t, a, m)
	}
}

func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 200, 3, 3, 3, 6, 0, 7, 1})
	f.Add([]byte{0, 10, 89, 5, 17, 3, 8, 10, 9, 2, 0, 30, 4, 5, 8, 0})
	f.Add([]byte{1, 0, 89, 0, 45, 89, 2, 20, 30, 4, 4, 4, 5, 70, 6, 8, 50, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			data = data[:512]
		}
		runOps(t, data)
	})
}

func TestNoAllocations(t *testing.T) {
	f := newFixture(t, 4096)
	a := &f.a
	if err := a.AddFree(0, 4096); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		p, _ := a.Alloc()
		_ = a.Free(p)
		_ = a.Free(p) // error path
		q, _ := a.AllocRange(16, 16)
		_ = a.FreeRange(q, 16)
		_ = a.FreeRange(q, 16)
		_ = a.Reserve(4000, 10)
		_ = a.AddFree(4000, 10)
		_ = a.AddFree(4000, 10)
		_ = a.State(p)
		_ = a.Total() + a.FreeCount() + a.Used()
		_ = BitmapWords(4096)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
	if testing.AllocsPerRun(10, func() { _ = a.Init(f.bits, 4096) }) != 0 {
		t.Fatal("Init allocates")
	}
}

// TestConcurrentWithMutex shares one allocator between goroutines behind a
// mutex. Under -race it shows the allocator has no state of its own
// outside the Allocator and its storage.
func TestConcurrentWithMutex(t *testing.T) {
	const n = 4096
	f := newFixture(t, n)
	var mu sync.Mutex
	if err := f.a.AddFree(0, n); err != nil {
		t.Fatal(err)
	}
	// A second, private allocator per goroutine runs unlocked at the same
	// time: separate instances must not share anything either.
	var wg sync.WaitGroup
	owner := make([]int32, n) // which goroutine holds each frame
	for g := 1; g <= 8; g++ {
		wg.Add(1)
		go func(g int32) {
			defer wg.Done()
			own := newFixture(t, 256)
			_ = own.a.AddFree(0, 256)
			r := rand.New(rand.NewSource(int64(g)))
			var mine []uint64
			for i := 0; i < 2000; i++ {
				if p, ok := own.a.Alloc(); ok {
					_ = own.a.Free(p)
				}
				mu.Lock()
				if len(mine) > 0 && r.Intn(2) == 0 {
					k := r.Intn(len(mine))
					p := mine[k]
					mine[k] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					if owner[p] != g {
						t.Errorf("frame %d owned by %d, freed by %d", p, owner[p], g)
					}
					owner[p] = 0
					if err := f.a.Free(p); err != nil {
						t.Error(err)
					}
				} else if p, ok := f.a.Alloc(); ok {
					if owner[p] != 0 {
						t.Errorf("frame %d handed to %d while owned by %d", p, g, owner[p])
					}
					owner[p] = g
					mine = append(mine, p)
				}
				mu.Unlock()
			}
			mu.Lock()
			for _, p := range mine {
				owner[p] = 0
				if err := f.a.Free(p); err != nil {
					t.Error(err)
				}
			}
			mu.Unlock()
		}(int32(g))
	}
	wg.Wait()
	if f.a.FreeCount() != n || f.a.Used() != 0 {
		t.Fatalf("free %d used %d after all goroutines freed", f.a.FreeCount(), f.a.Used())
	}
}

func BenchmarkAllocFree(b *testing.B) {
	f := newFixture(b, 1<<20) // 4 GiB of frames
	a := &f.a
	_ = a.AddFree(0, 1<<20)
	// Half full, so the hint matters.
	for i := 0; i < 1<<19; i++ {
		a.Alloc()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, _ := a.Alloc()
		_ = a.Free(p)
	}
}

func BenchmarkAllocBatch(b *testing.B) {
	f := newFixture(b, 1<<16)
	a := &f.a
	_ = a.AddFree(0, 1<<16)
	var batch [256]uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		for j := range batch {
			batch[j], _ = a.Alloc()
		}
		for j := len(batch) - 1; j >= 0; j-- {
			_ = a.Free(batch[j])
		}
	}
}

func BenchmarkAllocRange(b *testing.B) {
	f := newFixture(b, 1<<16)
	a := &f.a
	_ = a.AddFree(0, 1<<16)
	for i := 0; i < 1<<15; i += 3 { // fragment the first half
		_, _ = a.Alloc()
		_, _ = a.Alloc()
		p, _ := a.Alloc()
		_ = a.Free(p)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, ok := a.AllocRange(16, 16)
		if !ok {
			b.Fatal("AllocRange failed")
		}
		_ = a.FreeRange(p, 16)
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
// (see escape), so it stays where the Allocator's integer address points
// even when the goroutine's stack moves.
func TestLocalStorage(t *testing.T) {
	var bits [2]uint64
	var a Allocator
	if err := a.Init(bits[:], 64); err != nil {
		t.Fatal(err)
	}
	growStack(256)
	bits[0], bits[1] = 1<<5, 1<<5 // frame 5 exists and is free
	if a.State(5) != Free {
		t.Fatal("bitmap storage moved")
	}
}
