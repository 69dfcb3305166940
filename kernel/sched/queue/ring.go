package queue

import "unsafe"

// Ring is a FIFO of thread indices with the fixed capacity of the storage
// given to Init. The zero value is an empty Ring of capacity 0. It is not
// safe for concurrent use: the caller serialises all calls.
type Ring struct {
	base uintptr // address of the storage
	cap  int     // len(storage)
	head int     // index of the oldest element
	n    int     // number of elements
}

// Init makes r an empty ring over storage (see the package comment for how
// long storage must live); len(storage) is the capacity.
//
//go:nosplit
func (r *Ring) Init(storage []int32) {
	escape(unsafe.Pointer(unsafe.SliceData(storage)))
	*r = Ring{
		base: addr(unsafe.Pointer(unsafe.SliceData(storage)), len(storage)),
		cap:  len(storage),
	}
}

// slots returns the storage, all of it.
//
//go:nosplit
func (r *Ring) slots() []int32 {
	h := view(&r.base, r.cap, r.cap)
	return *(*[]int32)(unsafe.Pointer(&h))
}

// slot returns the storage index of the i-th element from the head
// (0 <= i < cap).
//
//go:nosplit
func (r *Ring) slot(i int) int {
	j := r.head + i
	if j >= r.cap {
		j -= r.cap
	}
	return j
}

// Len returns the number of elements.
//
//go:nosplit
func (r *Ring) Len() int { return r.n }

// Cap returns the capacity.
//
//go:nosplit
func (r *Ring) Cap() int { return r.cap }

// Push appends id at the tail. It returns false, changing nothing, when
// the ring is full.
//
//go:nosplit
func (r *Ring) Push(id int32) bool {
	if r.n >= r.cap {
		return false
	}
	set(r.slots(), r.slot(r.n), id)
	r.n++
	return true
}

// Pop removes and returns the element at the head; ok is false when the
// ring is empty.
//
//go:nosplit
func (r *Ring) Pop() (id int32, ok bool) {
	if r.n == 0 {
		return 0, false
	}
	id = get(r.slots(), r.head)
	r.head = r.slot(1)
	r.n--
	if r.n == 0 {
		r.head = 0
	}
	return id, true
}

// Peek returns the element at the head without removing it; ok is false
// when the ring is empty.
//
//go:nosplit
func (r *Ring) Peek() (id int32, ok bool) {
	if r.n == 0 {
		return 0, false
	}
	return get(r.slots(), r.head), true
}

// At returns the i-th element from the head, or -1 if i is not in
// [0, Len()).
//
//go:nosplit
func (r *Ring) At(i int) int32 {
	if i < 0 || i >= r.n {
		return -1
	}
	return get(r.slots(), r.slot(i))
}

// index returns the position from the head of the first element equal to
// id, or -1.
//
//go:nosplit
func (r *Ring) index(id int32) int {
	s := r.slots()
	for i := 0; i < r.n; i++ {
		if get(s, r.slot(i)) == id {
			return i
		}
	}
	return -1
}

// Contains reports whether id is in the ring. It takes O(Len()).
//
//go:nosplit
func (r *Ring) Contains(id int32) bool { return r.index(id) >= 0 }

// Remove removes the first element equal to id, keeping the order of the
// others, and reports whether there was one. It takes O(Len()).
//
//go:nosplit
func (r *Ring) Remove(id int32) bool {
	i := r.index(id)
	if i < 0 {
		return false
	}
	s := r.slots()
	if i < r.n/2 {
		// Closer to the head: move the elements before it back by one.
		for j := i; j > 0; j-- {
			set(s, r.slot(j), get(s, r.slot(j-1)))
		}
		r.head = r.slot(1)
	} else {
		// Closer to the tail: move the elements after it forward by one.
		for j := i; j < r.n-1; j++ {
			set(s, r.slot(j), get(s, r.slot(j+1)))
		}
	}
	r.n--
	if r.n == 0 {
		r.head = 0
	}
	return true
}

// Reset empties the ring.
//
//go:nosplit
func (r *Ring) Reset() { r.head, r.n = 0, 0 }
