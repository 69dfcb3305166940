package eventfd

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"dunix/fs/waiter"
)

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, v)
	return b
}

func TestCounter(t *testing.T) {
	f, err := New(3, unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Readiness(waiter.EventIn|waiter.EventOut) != waiter.EventIn|waiter.EventOut {
		t.Fatalf("readiness %v", f.Readiness(waiter.EventIn|waiter.EventOut))
	}
	if _, err := f.Write(u64(4)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	if n, err := f.Read(b); n != 8 || err != nil || binary.LittleEndian.Uint64(b) != 7 {
		t.Fatalf("read %d %v %d, want 8 nil 7", n, err, binary.LittleEndian.Uint64(b))
	}
	if _, err := f.Read(b); err != unix.EAGAIN {
		t.Fatalf("empty read: %v, want EAGAIN", err)
	}
	if _, err := f.Read(b[:4]); err != unix.EINVAL {
		t.Fatalf("short read: %v, want EINVAL", err)
	}
	if _, err := f.Write(u64(^uint64(0))); err != unix.EINVAL {
		t.Fatalf("write 2^64-1: %v, want EINVAL", err)
	}
	if _, err := f.Write(u64(max)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(u64(1)); err != unix.EAGAIN {
		t.Fatalf("overflow: %v, want EAGAIN", err)
	}
	if f.Readiness(waiter.EventOut) != 0 {
		t.Fatal("full counter says writable")
	}
}

func TestSemaphoreAndWakeup(t *testing.T) {
	f, err := New(0, unix.EFD_SEMAPHORE)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, ch := waiter.NewChannelEntry(waiter.EventIn)
	f.EventRegister(e)
	defer f.EventUnregister(e)
	f.Write(u64(2))
	select {
	case <-ch:
	default:
		t.Fatal("no wake-up after a write")
	}
	b := make([]byte, 8)
	for i := 0; i < 2; i++ {
		if _, err := f.Read(b); err != nil || binary.LittleEndian.Uint64(b) != 1 {
			t.Fatalf("semaphore read %d: %v %d", i, err, binary.LittleEndian.Uint64(b))
		}
	}
	if _, err := f.Read(b); err != unix.EAGAIN {
		t.Fatalf("third read: %v", err)
	}
	if _, err := New(0, 0x1234); err != unix.EINVAL {
		t.Fatalf("bad flags: %v", err)
	}
}
