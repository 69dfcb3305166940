package virtio

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// testQueue is a Queue over Go memory, with the device's side played by
// the test: it reads the available ring and descriptors, and writes used
// entries.
type testQueue struct {
	*Queue
	desc, avail, used []byte
	seen              uint16 // available entries consumed by the "device"
	usedIdx           uint16
}

func newTestQueue(size int) *testQueue {
	t := &testQueue{desc: make([]byte, 16*size), avail: make([]byte, 4+2*size+2), used: make([]byte, 4+8*size+2)}
	q := &Queue{size: uint16(size), free: make([]uint16, 0, size), next: make([]uint16, size), chain: make([]uint16, size),
		desc: uintptr(unsafe.Pointer(&t.desc[0])), avail: uintptr(unsafe.Pointer(&t.avail[0])), used: uintptr(unsafe.Pointer(&t.used[0]))}
	for i := size - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
	t.Queue = q
	return t
}

type desc struct {
	phys  uint64
	len   uint32
	flags uint16
	next  uint16
}

// take returns the next available chain, as the device walks it.
func (t *testQueue) take() (head uint16, chain []desc, ok bool) {
	if binary.LittleEndian.Uint16(t.avail[2:]) == t.seen {
		return 0, nil, false
	}
	head = binary.LittleEndian.Uint16(t.avail[4+2*int(t.seen%t.size):])
	t.seen++
	for id := head; ; {
		b := t.desc[16*int(id):]
		d := desc{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint16(b[12:]), binary.LittleEndian.Uint16(b[14:])}
		chain = append(chain, d)
		if d.flags&1 == 0 || len(chain) > int(t.size) {
			break
		}
		id = d.next
	}
	return head, chain, true
}

// give puts id in the used ring with n bytes written.
func (t *testQueue) give(id uint32, n uint32) {
	e := t.used[4+8*int(t.usedIdx%t.size):]
	binary.LittleEndian.PutUint32(e, id)
	binary.LittleEndian.PutUint32(e[4:], n)
	t.usedIdx++
	binary.LittleEndian.PutUint16(t.used[2:], t.usedIdx)
}

func TestQueueChains(t *testing.T) {
	q := newTestQueue(8)
	segs := []Segment{{0x1000, 100}, {0x2000, 4096}, {0x3000, 7}}
	head, err := q.AddChain(segs, false)
	if err != nil {
		t.Fatal(err)
	}
	one, err := q.Add(0x9000, 50, true)
	if err != nil {
		t.Fatal(err)
	}
	if q.Free() != 4 {
		t.Fatalf("free %d, want 4", q.Free())
	}
	h, chain, ok := q.take()
	if !ok || h != head || len(chain) != 3 {
		t.Fatalf("device sees head %d chain %+v, want head %d of 3", h, chain, head)
	}
	for i, d := range chain {
		if d.phys != segs[i].Phys || d.len != segs[i].Len || d.flags&2 != 0 || (d.flags&1 != 0) != (i < 2) {
			t.Errorf("descriptor %d: %+v for %+v", i, d, segs[i])
		}
	}
	h, chain, ok = q.take()
	if !ok || h != one || len(chain) != 1 || chain[0].flags != 2 || chain[0].phys != 0x9000 {
		t.Fatalf("single buffer: %d %+v", h, chain)
	}
	// Too many segments: nothing is taken.
	if _, err := q.AddChain(make([]Segment, 5), false); err != ErrFull {
		t.Fatalf("AddChain of 5 with 4 free: %v", err)
	}
	if q.Free() != 4 {
		t.Fatalf("a failed AddChain took descriptors: %d free", q.Free())
	}
	// The device returns the chain: all three descriptors come back.
	q.give(uint32(head), 0)
	if id, _, ok := q.Used(); !ok || id != head || q.Free() != 7 {
		t.Fatalf("Used %d %v, free %d", id, ok, q.Free())
	}
	// A buggy device: an index out of the table, a head returned twice,
	// a descriptor not in use. All are skipped.
	q.give(99, 0)
	q.give(uint32(head), 0)
	q.give(uint32(one), 50)
	if id, n, ok := q.Used(); !ok || id != one || n != 50 || q.Free() != 8 {
		t.Fatalf("Used after bad entries: %d %d %v, free %d", id, n, ok, q.Free())
	}
	if _, _, ok := q.Used(); ok {
		t.Fatal("Used with nothing left")
	}
	// Every descriptor is free exactly once.
	seen := map[uint16]bool{}
	for _, id := range q.free {
		if seen[id] {
			t.Fatalf("descriptor %d free twice", id)
		}
		seen[id] = true
	}
	// A chain as long as the queue.
	long := make([]Segment, 8)
	if _, err := q.AddChain(long, true); err != nil || q.Free() != 0 {
		t.Fatalf("full-length chain: %v, free %d", err, q.Free())
	}
}
