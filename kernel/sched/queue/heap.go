package queue

import (
	"math"
	"unsafe"
)

// Entry is one element of a Heap: thread (or timer) id and its key, for
// example a deadline in nanoseconds. It is exported so that the caller can
// provide the storage.
type Entry struct {
	Key uint64
	ID  int32
}

// before reports whether e comes out of the heap before f: smaller key
// first, equal keys in id order (which makes the heap's order fully
// determined).
//
//go:nosplit
func (e Entry) before(f Entry) bool {
	return e.Key < f.Key || e.Key == f.Key && e.ID < f.ID
}

// Heap is a min-heap of (key, id) with ids in [0, MaxID()), each present at
// most once. A position index makes Contains O(1) and Remove and Update
// O(log n). The zero value is an empty Heap that accepts no id. It is not
// safe for concurrent use: the caller serialises all calls.
type Heap struct {
	entries uintptr // address of the heap array
	pos     uintptr // address of the position index
	cap     int     // len of the heap array
	maxID   int     // len of the position index
	n       int     // number of entries
}

// Init makes h an empty heap that keeps its entries in entries (the
// capacity) and, for every id in [0, len(pos)), the position of that id in
// pos, which Init fills. See the package comment for how long the storage
// must live. Ids go up to math.MaxInt32; a longer pos is used only that
// far, and a longer entries too (no more entries can be present).
//
//go:nosplit
func (h *Heap) Init(entries []Entry, pos []int32) {
	maxID := min(len(pos), math.MaxInt32)
	escape(unsafe.Pointer(unsafe.SliceData(entries)))
	escape(unsafe.Pointer(unsafe.SliceData(pos)))
	for i := range pos {
		pos[i] = -1
	}
	*h = Heap{
		entries: addr(unsafe.Pointer(unsafe.SliceData(entries)), len(entries)),
		pos:     addr(unsafe.Pointer(unsafe.SliceData(pos)), len(pos)),
		cap:     min(len(entries), math.MaxInt32),
		maxID:   maxID,
	}
}

// storage returns the entries in use (length Len(), capacity Cap()) and
// the position index (length MaxID()).
//
//go:nosplit
func (h *Heap) storage() (e []Entry, pos []int32) {
	eh := view(&h.entries, h.n, h.cap)
	ph := view(&h.pos, h.maxID, h.maxID)
	return *(*[]Entry)(unsafe.Pointer(&eh)), *(*[]int32)(unsafe.Pointer(&ph))
}

// Len returns the number of entries.
//
//go:nosplit
func (h *Heap) Len() int { return h.n }

// Cap returns the number of entries the storage holds.
//
//go:nosplit
func (h *Heap) Cap() int { return h.cap }

// MaxID returns the bound on ids: valid ids are [0, MaxID()).
//
//go:nosplit
func (h *Heap) MaxID() int { return h.maxID }

// where returns the heap index of id, or -1 if id is out of range or not
// present.
//
//go:nosplit
func (h *Heap) where(id int32) int {
	_, pos := h.storage()
	return int(get(pos, int(id)))
}

// Contains reports whether id is in the heap.
//
//go:nosplit
func (h *Heap) Contains(id int32) bool { return h.where(id) >= 0 }

// Key returns the key of id; ok is false if id is not in the heap.
//
//go:nosplit
func (h *Heap) Key(id int32) (key uint64, ok bool) {
	e, _ := h.storage()
	if i := h.where(id); uint(i) < uint(len(e)) {
		return e[i].Key, true
	}
	return 0, false
}

// Min returns the entry with the smallest key (among equal keys the
// smallest id) without removing it; ok is false when the heap is empty.
//
//go:nosplit
func (h *Heap) Min() (id int32, key uint64, ok bool) {
	e, _ := h.storage()
	if len(e) == 0 {
		return 0, 0, false
	}
	return e[0].ID, e[0].Key, true
}

// Push adds id with key. It fails with ErrRange if id is not in
// [0, MaxID()), ErrPresent if id is already in the heap, and ErrFull if the
// storage is full.
//
//go:nosplit
func (h *Heap) Push(id int32, key uint64) error {
	e, pos := h.storage()
	j := int(id)
	if uint(j) >= uint(len(pos)) {
		return ErrRange
	}
	if pos[j] >= 0 {
		return ErrPresent
	}
	n := len(e)
	if n >= cap(e) {
		return ErrFull
	}
	e = e[:n+1]
	e[n] = Entry{Key: key, ID: id}
	pos[j] = int32(n)
	h.n = len(e)
	up(e, pos, n)
	return nil
}

// PopMin removes and returns the entry Min returns.
//
//go:nosplit
func (h *Heap) PopMin() (id int32, key uint64, ok bool) {
	e, _ := h.storage()
	if len(e) == 0 {
		return 0, 0, false
	}
	id, key = e[0].ID, e[0].Key
	h.removeAt(0)
	return id, key, true
}

// PopExpired pops every entry with key <= now, in order, up to len(out) of
// them, stores their ids in out and returns how many it popped. Entries it
// had no room for stay in the heap.
//
//go:nosplit
func (h *Heap) PopExpired(now uint64, out []int32) int {
	k := 0
	for ; k < len(out); k++ {
		id, key, ok := h.Min()
		if !ok || key > now {
			break
		}
		out[k] = id
		h.removeAt(0)
	}
	return k
}

// Remove removes id and reports whether it was in the heap.
//
//go:nosplit
func (h *Heap) Remove(id int32) bool {
	i := h.where(id)
	if i < 0 {
		return false
	}
	h.removeAt(i)
	return true
}

// Update changes the key of id. It fails with ErrRange if id is not in
// [0, MaxID()) and ErrAbsent if id is not in the heap.
//
//go:nosplit
func (h *Heap) Update(id int32, key uint64) error {
	e, pos := h.storage()
	j := int(id)
	if uint(j) >= uint(len(pos)) {
		return ErrRange
	}
	i := int(pos[j])
	if uint(i) >= uint(len(e)) {
		return ErrAbsent
	}
	e[i].Key = key
	if !up(e, pos, i) {
		down(e, pos, i)
	}
	return nil
}

// Reset empties the heap. It takes O(Len()).
//
//go:nosplit
func (h *Heap) Reset() {
	e, pos := h.storage()
	for i := range e {
		set(pos, int(e[i].ID), -1)
	}
	h.n = 0
}

// removeAt removes the entry at heap index i.
//
//go:nosplit
func (h *Heap) removeAt(i int) {
	e, pos := h.storage()
	if uint(i) >= uint(len(e)) { // unreachable; proves the indexing
		return
	}
	set(pos, int(e[i].ID), -1)
	n := len(e) - 1
	h.n = n
	if i == n {
		return
	}
	x := e[n]
	e[i] = x
	set(pos, int(x.ID), int32(i))
	e = e[:n]
	if !up(e, pos, i) {
		down(e, pos, i)
	}
}

// up moves the entry at e[i] towards the root while it comes before its
// parent, and reports whether it moved.
//
//go:nosplit
func up(e []Entry, pos []int32, i int) bool {
	if uint(i) >= uint(len(e)) {
		return false
	}
	x := e[i]
	start := i
	for i > 0 && i < len(e) {
		p := (i - 1) / 2
		if !x.before(e[p]) {
			break
		}
		e[i] = e[p]
		set(pos, int(e[i].ID), int32(i))
		i = p
	}
	if uint(i) < uint(len(e)) { // always; proves e[i]
		e[i] = x
		set(pos, int(x.ID), int32(i))
	}
	return i != start
}

// down moves the entry at e[i] towards the leaves while a child comes
// before it.
//
//go:nosplit
func down(e []Entry, pos []int32, i int) {
	if uint(i) >= uint(len(e)) {
		return
	}
	x := e[i]
	for uint(i) < uint(len(e)) {
		c := 2*i + 1 // left child; c+1 is the right one
		if uint(c) >= uint(len(e)) {
			break
		}
		m := c // the child that comes first
		if r := c + 1; uint(r) < uint(len(e)) && e[r].before(e[c]) {
			m = r
		}
		if uint(m) >= uint(len(e)) || !e[m].before(x) {
			break
		}
		e[i] = e[m]
		set(pos, int(e[i].ID), int32(i))
		i = m
	}
	if uint(i) < uint(len(e)) { // always; proves e[i]
		e[i] = x
		set(pos, int(x.ID), int32(i))
	}
}
