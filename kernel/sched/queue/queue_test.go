package queue

import (
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
)

// ringFixture and heapFixture keep a queue together with its storage, on
// the heap (they are returned by pointer), as the package comment
// requires.
type ringFixture struct {
	r       Ring
	storage []int32
}

func newRing(capacity int) *ringFixture {
	f := &ringFixture{storage: make([]int32, capacity)}
	f.r.Init(f.storage)
	return f
}

type heapFixture struct {
	h       Heap
	entries []Entry
	pos     []int32
}

func newHeap(capacity, maxID int) *heapFixture {
	f := &heapFixture{entries: make([]Entry, capacity), pos: make([]int32, maxID)}
	for i := range f.pos {
		f.pos[i] = 12345 // Init must not trust the storage
	}
	f.h.Init(f.entries, f.pos)
	return f
}

func ringContents(r *Ring) []int32 {
	var out []int32
	for i := 0; i < r.Len(); i++ {
		out = append(out, r.At(i))
	}
	return out
}

func TestRingBasics(t *testing.T) {
	f := newRing(4)
	r := &f.r
	if _, ok := r.Pop(); ok {
		t.Fatal("Pop from empty ring")
	}
	if _, ok := r.Peek(); ok {
		t.Fatal("Peek at empty ring")
	}
	for i := int32(1); i <= 4; i++ {
		if !r.Push(i) {
			t.Fatalf("Push(%d) failed", i)
		}
	}
	if r.Push(5) {
		t.Fatal("Push into full ring succeeded")
	}
	if got := ringContents(r); !slices.Equal(got, []int32{1, 2, 3, 4}) {
		t.Fatalf("contents %v", got)
	}
	// Wrap around.
	for round := int32(0); round < 10; round++ {
		id, ok := r.Pop()
		if !ok || id != round+1 {
			t.Fatalf("Pop = %d, %v; want %d", id, ok, round+1)
		}
		if !r.Push(round + 5) {
			t.Fatal("Push after Pop failed")
		}
	}
	if got := ringContents(r); !slices.Equal(got, []int32{11, 12, 13, 14}) {
		t.Fatalf("contents after wrapping %v", got)
	}
	if !r.Contains(13) || r.Contains(10) {
		t.Fatal("Contains")
	}
	if !r.Remove(12) || r.Remove(12) {
		t.Fatal("Remove(12)")
	}
	if got := ringContents(r); !slices.Equal(got, []int32{11, 13, 14}) {
		t.Fatalf("after Remove(12): %v", got)
	}
	if !r.Remove(14) || !r.Remove(11) {
		t.Fatal("Remove tail/head")
	}
	if id, ok := r.Peek(); !ok || id != 13 || r.Len() != 1 {
		t.Fatalf("Peek = %d, %v, Len %d", id, ok, r.Len())
	}
	if r.At(-1) != -1 || r.At(1) != -1 {
		t.Fatal("At out of range")
	}
	r.Reset()
	if r.Len() != 0 || r.Cap() != 4 {
		t.Fatal("Reset")
	}
	var zero Ring
	if zero.Push(1) || zero.Contains(1) || zero.Remove(1) {
		t.Fatal("zero Ring accepted an element")
	}
	if _, ok := zero.Pop(); ok {
		t.Fatal("zero Ring popped")
	}
}

func TestRingRemoveKeepsOrder(t *testing.T) {
	// Every position, every head offset.
	for capacity := 1; capacity <= 7; capacity++ {
		for head := 0; head < capacity; head++ {
			for n := 1; n <= capacity; n++ {
				for victim := 0; victim < n; victim++ {
					f := newRing(capacity)
					r := &f.r
					for i := 0; i < head; i++ {
						r.Push(-1)
						r.Pop()
					}
					var model []int32
					for i := 0; i < n; i++ {
						r.Push(int32(i))
						model = append(model, int32(i))
					}
					if !r.Remove(int32(victim)) {
						t.Fatal("Remove failed")
					}
					model = slices.Delete(model, victim, victim+1)
					if got := ringContents(r); !slices.Equal(got, model) {
						t.Fatalf("cap %d head %d n %d remove %d: %v, want %v", capacity, head, n, victim, got, model)
					}
					// The ring still works as a FIFO afterwards.
					for r.Push(100) {
						model = append(model, 100)
					}
					for _, want := range model {
						if id, ok := r.Pop(); !ok || id != want {
							t.Fatalf("Pop = %d, %v; want %d", id, ok, want)
						}
					}
				}
			}
		}
	}
}

func TestHeapBasics(t *testing.T) {
	f := newHeap(4, 8)
	h := &f.h
	if _, _, ok := h.Min(); ok {
		t.Fatal("Min of empty heap")
	}
	for _, c := range []struct {
		id   int32
		key  uint64
		want error
	}{
		{3, 30, nil}, {1, 10, nil}, {5, 10, nil}, {3, 1, ErrPresent},
		{-1, 0, ErrRange}, {8, 0, ErrRange}, {7, 70, nil}, {6, 1, ErrFull},
	} {
		if err := h.Push(c.id, c.key); err != c.want {
			t.Fatalf("Push(%d, %d) = %v, want %v", c.id, c.key, err, c.want)
		}
	}
	if id, key, ok := h.Min(); !ok || id != 1 || key != 10 {
		t.Fatalf("Min = %d, %d, %v", id, key, ok)
	}
	if !h.Contains(5) || h.Contains(6) || h.Contains(-3) || h.Contains(100) {
		t.Fatal("Contains")
	}
	if k, ok := h.Key(7); !ok || k != 70 {
		t.Fatal("Key")
	}
	if err := h.Update(7, 5); err != nil {
		t.Fatal(err)
	}
	if err := h.Update(6, 5); err != ErrAbsent {
		t.Fatalf("Update absent = %v", err)
	}
	if err := h.Update(9, 5); err != ErrRange {
		t.Fatalf("Update out of range = %v", err)
	}
	if !h.Remove(1) || h.Remove(1) || h.Remove(-1) {
		t.Fatal("Remove")
	}
	out := make([]int32, 8)
	if n := h.PopExpired(10, out); n != 2 || out[0] != 7 || out[1] != 5 {
		t.Fatalf("PopExpired = %d %v", n, out[:n])
	}
	if n := h.PopExpired(10, out); n != 0 {
		t.Fatal("PopExpired twice")
	}
	if id, key, ok := h.PopMin(); !ok || id != 3 || key != 30 {
		t.Fatalf("PopMin = %d %d %v", id, key, ok)
	}
	if _, _, ok := h.PopMin(); ok || h.Len() != 0 {
		t.Fatal("PopMin from empty")
	}
	for i := int32(0); i < 4; i++ {
		_ = h.Push(i, 5)
	}
	if n := h.PopExpired(5, out[:3]); n != 3 || !slices.Equal(out[:3], []int32{0, 1, 2}) || h.Len() != 1 {
		t.Fatalf("PopExpired limited by out: %d %v", n, out[:n])
	}
	h.Reset()
	if h.Len() != 0 || h.Contains(3) || h.Cap() != 4 || h.MaxID() != 8 {
		t.Fatal("Reset")
	}
	for i := range f.pos {
		if f.pos[i] != -1 {
			t.Fatal("Reset left a position")
		}
	}
	var zero Heap
	if zero.Push(0, 0) != ErrRange || zero.Contains(0) || zero.Remove(0) {
		t.Fatal("zero Heap accepted an id")
	}
}

// heapModel is a slice kept sorted in heap order.
type heapModel []Entry

func (m *heapModel) find(id int32) int {
	return slices.IndexFunc(*m, func(e Entry) bool { return e.ID == id })
}

func (m *heapModel) insert(e Entry) {
	i, _ := slices.BinarySearchFunc(*m, e, func(a, b Entry) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	})
	*m = slices.Insert(*m, i, e)
}

// checkHeap checks the heap property, the position index and equality
// with the model.
func checkHeap(t testing.TB, f *heapFixture, m heapModel) {
	t.Helper()
	h := &f.h
	if h.Len() != len(m) {
		t.Fatalf("Len %d, model %d", h.Len(), len(m))
	}
	present := 0
	for id, p := range f.pos {
		if p < 0 {
			continue
		}
		present++
		if int(p) >= h.Len() || f.entries[p].ID != int32(id) {
			t.Fatalf("pos[%d] = %d, bad", id, p)
		}
	}
	if present != h.Len() {
		t.Fatalf("%d positions for %d entries", present, h.Len())
	}
	for i := 1; i < h.Len(); i++ {
		if f.entries[i].before(f.entries[(i-1)/2]) {
			t.Fatalf("heap property broken at %d", i)
		}
	}
	got := slices.Clone(f.entries[:h.Len()])
	slices.SortFunc(got, func(a, b Entry) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	if !slices.Equal(got, m) {
		t.Fatalf("heap %v, model %v", got, m)
	}
	if id, key, ok := h.Min(); ok != (len(m) > 0) || ok && (id != m[0].ID || key != m[0].Key) {
		t.Fatalf("Min = %d, %d, %v; model %v", id, key, ok, m)
	}
}

// runOps drives a Heap and a Ring with operations decoded from data and
// checks both against their models after each one.
func runOps(t testing.TB, data []byte) {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	capacity := next()%12 + 1
	maxID := next()%16 + 1
	hf := newHeap(capacity, maxID)
	rf := newRing(capacity)
	h, r := &hf.h, &rf.r
	var hm heapModel
	var rm []int32
	out := make([]int32, 6)
	for len(data) > 0 {
		op := next() % 10
		id := int32(next()%(maxID+2) - 1)
		key := uint64(next() % 8)
		switch op {
		case 0, 1: // Push
			want := error(nil)
			switch {
			case id < 0 || int(id) >= maxID:
				want = ErrRange
			case hm.find(id) >= 0:
				want = ErrPresent
			case len(hm) >= capacity:
				want = ErrFull
			}
			if err := h.Push(id, key); err != want {
				t.Fatalf("Push(%d, %d) = %v, model %v", id, key, err, want)
			}
			if want == nil {
				hm.insert(Entry{key, id})
			}
		case 2: // PopMin
			gid, gkey, ok := h.PopMin()
			if ok != (len(hm) > 0) || ok && (gid != hm[0].ID || gkey != hm[0].Key) {
				t.Fatalf("PopMin = %d, %d, %v; model %v", gid, gkey, ok, hm)
			}
			if ok {
				hm = hm[1:]
			}
		case 3: // Remove
			i := hm.find(id)
			if got := h.Remove(id); got != (i >= 0) {
				t.Fatalf("Remove(%d) = %v", id, got)
			}
			if i >= 0 {
				hm = slices.Delete(hm, i, i+1)
			}
		case 4: // Update
			i := hm.find(id)
			want := error(nil)
			switch {
			case id < 0 || int(id) >= maxID:
				want = ErrRange
			case i < 0:
				want = ErrAbsent
			}
			if err := h.Update(id, key); err != want {
				t.Fatalf("Update(%d, %d) = %v, model %v", id, key, err, want)
			}
			if want == nil {
				hm = slices.Delete(hm, i, i+1)
				hm.insert(Entry{key, id})
			}
		case 5: // PopExpired
			lim := next() % (len(out) + 1)
			n := h.PopExpired(key, out[:lim])
			var want []int32
			for len(hm) > 0 && len(want) < lim && hm[0].Key <= key {
				want = append(want, hm[0].ID)
				hm = hm[1:]
			}
			if !slices.Equal(out[:n], want) {
				t.Fatalf("PopExpired(%d, %d) = %v, model %v", key, lim, out[:n], want)
			}
		case 6: // Contains, Key
			i := hm.find(id)
			k, ok := h.Key(id)
			if h.Contains(id) != (i >= 0) || ok != (i >= 0) || ok && k != hm[i].Key {
				t.Fatalf("Contains/Key(%d) disagree with model", id)
			}
		case 7: // Ring Push
			ok := r.Push(id)
			if ok != (len(rm) < capacity) {
				t.Fatalf("Ring.Push(%d) = %v with %d of %d", id, ok, len(rm), capacity)
			}
			if ok {
				rm = append(rm, id)
			}
		case 8: // Ring Pop
			got, ok := r.Pop()
			if ok != (len(rm) > 0) || ok && got != rm[0] {
				t.Fatalf("Ring.Pop = %d, %v; model %v", got, ok, rm)
			}
			if ok {
				rm = rm[1:]
			}
		case 9: // Ring Remove, Contains
			i := slices.Index(rm, id)
			if r.Contains(id) != (i >= 0) {
				t.Fatalf("Ring.Contains(%d) disagrees with model", id)
			}
			if r.Remove(id) != (i >= 0) {
				t.Fatalf("Ring.Remove(%d) disagrees with model", id)
			}
			if i >= 0 {
				rm = slices.Delete(rm, i, i+1)
			}
		}
		checkHeap(t, hf, hm)
		if got := ringContents(r); !slices.Equal(got, rm) {
			t.Fatalf("ring %v, model %v", got, rm)
		}
	}
}

func TestRandomAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		data := make([]byte, 1000)
		rnd.Read(data)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runOps(t, data) })
	}
}

func FuzzOps(f *testing.F) {
	f.Add([]byte{5, 8, 0, 1, 3, 0, 2, 1, 0, 3, 2, 4, 2, 5, 5, 5, 2, 7, 1, 0, 7, 2, 0, 9, 1, 0, 8, 0, 0})
	f.Add([]byte{11, 15, 0, 0, 7, 1, 1, 7, 1, 2, 7, 4, 3, 0, 5, 0, 7, 6, 6, 6, 3, 1, 0, 2, 0, 0})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 1, 0, 7, 0, 0, 7, 1, 0, 9, 1, 0, 8, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2048 {
			data = data[:2048]
		}
		runOps(t, data)
	})
}

func TestNoAllocations(t *testing.T) {
	hf := newHeap(64, 64)
	rf := newRing(64)
	h, r := &hf.h, &rf.r
	out := make([]int32, 64)
	allocs := testing.AllocsPerRun(100, func() {
		for i := int32(0); i < 64; i++ {
			_ = h.Push(i, uint64(i*7%13))
			r.Push(i)
		}
		_ = h.Push(0, 0) // error paths
		_ = h.Push(-1, 0)
		_ = h.Update(3, 100)
		_ = h.Update(99, 1)
		h.Remove(5)
		_, _, _ = h.Min()
		_, _ = h.Key(4)
		_ = h.Contains(6)
		h.PopExpired(6, out[:10])
		_, _, _ = h.PopMin()
		h.Reset()
		r.Remove(10)
		r.Contains(20)
		_, _ = r.Peek()
		for {
			if _, ok := r.Pop(); !ok {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
	if testing.AllocsPerRun(10, func() { h.Init(hf.entries, hf.pos); r.Init(rf.storage) }) != 0 {
		t.Fatal("Init allocates")
	}
}

// TestConcurrentWithMutex shares one Ring and one Heap between goroutines
// behind a mutex, while each goroutine also drives private ones unlocked.
// Under -race it shows that the queues have no state outside themselves and
// their storage.
func TestConcurrentWithMutex(t *testing.T) {
	const ids = 64
	hf := newHeap(ids, ids)
	rf := newRing(ids)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			own := newHeap(8, 8)
			ownRing := newRing(8)
			rnd := rand.New(rand.NewSource(int64(g)))
			out := make([]int32, 4)
			for i := 0; i < 2000; i++ {
				_ = own.h.Push(int32(i%8), uint64(rnd.Intn(100)))
				own.h.PopMin()
				ownRing.r.Push(int32(i))
				ownRing.r.Pop()

				// Goroutine g owns ids g*8 .. g*8+7 of the shared queues.
				id := int32(g*8 + rnd.Intn(8))
				mu.Lock()
				switch rnd.Intn(4) {
				case 0:
					if err := hf.h.Push(id, uint64(rnd.Intn(1000))); err != nil && err != ErrPresent {
						t.Error(err)
					}
				case 1:
					if hf.h.Contains(id) {
						_ = hf.h.Update(id, uint64(rnd.Intn(1000)))
					}
				case 2:
					hf.h.PopExpired(uint64(rnd.Intn(1000)), out)
				case 3:
					if !rf.r.Remove(id) && !rf.r.Push(id) {
						t.Error("shared ring full")
					}
				}
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	for hf.h.Len() > 0 {
		hf.h.PopMin()
	}
	for i := range hf.pos {
		if hf.pos[i] != -1 {
			t.Fatalf("position of %d left behind", i)
		}
	}
}

func BenchmarkRingPushPop(b *testing.B) {
	f := newRing(256)
	for i := 0; i < 128; i++ {
		f.r.Push(int32(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, _ := f.r.Pop()
		f.r.Push(id)
	}
}

func BenchmarkRingRemove(b *testing.B) {
	f := newRing(64)
	for i := 0; i < 64; i++ {
		f.r.Push(int32(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := int32(i % 64)
		f.r.Remove(id)
		f.r.Push(id)
	}
}

func BenchmarkHeapPushPop(b *testing.B) {
	const n = 1024
	f := newHeap(n, n)
	rnd := rand.New(rand.NewSource(1))
	for i := int32(0); i < n-1; i++ {
		_ = f.h.Push(i, uint64(rnd.Int63()))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, key, _ := f.h.PopMin()
		_ = f.h.Push(id, key+uint64(i))
	}
}

func BenchmarkHeapUpdate(b *testing.B) {
	const n = 1024
	f := newHeap(n, n)
	for i := int32(0); i < n; i++ {
		_ = f.h.Push(i, uint64(i)*1000)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = f.h.Update(int32(i%n), uint64(i*7919%(n*1000)))
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

// TestLocalStorage passes local arrays as storage: Init makes them escape
// (see escape), so they stay where the queues' integer addresses point even
// when the goroutine's stack moves.
func TestLocalStorage(t *testing.T) {
	var slots [4]int32
	var entries [4]Entry
	var pos [4]int32
	var r Ring
	var h Heap
	r.Init(slots[:])
	h.Init(entries[:], pos[:])
	r.Push(7)
	_ = h.Push(2, 20)
	growStack(256)
	slots[0] = 9 // through the caller's slice: the ring must see it
	entries[0].Key = 5
	if id, ok := r.Pop(); !ok || id != 9 {
		t.Fatalf("ring storage moved: Pop = %d, %v", id, ok)
	}
	if id, key, ok := h.Min(); !ok || id != 2 || key != 5 {
		t.Fatalf("heap storage moved: Min = %d, %d, %v", id, key, ok)
	}
}
