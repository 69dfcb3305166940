package memfs_test

import (
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"dunix/fs/memfs"
)

// fakeFrames counts references to frames numbered from 1.
type fakeFrames struct {
	mu   sync.Mutex
	mem  map[uintptr]*[4096]byte
	refs map[uintptr]int
	next uintptr
}

func (f *fakeFrames) Get() (uintptr, *[4096]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.mem[f.next], f.refs[f.next] = new([4096]byte), 1
	return f.next, f.mem[f.next], nil
}

func (f *fakeFrames) Ref(fr uintptr) { f.mu.Lock(); f.refs[fr]++; f.mu.Unlock() }

func (f *fakeFrames) Put(fr uintptr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs[fr]--; f.refs[fr] == 0 {
		delete(f.refs, fr)
		delete(f.mem, fr)
	}
}

type sharedFramer interface {
	SharedFrame(off int64) (uintptr, error)
}

func TestSharedFrames(t *testing.T) {
	frames := &fakeFrames{mem: map[uintptr]*[4096]byte{}, refs: map[uintptr]int{}}
	fs := memfs.New(&memfs.Options{Frames: frames})
	n, ctx, root := ns(fs)
	f, err := n.Open(ctx, root, "f", unix.O_RDWR|unix.O_CREAT, 0o644)
	must(t, err)
	if _, err := f.Pwrite([]byte("hello"), 4096+10); err != nil {
		t.Fatal(err)
	}
	sf, ok := f.Inode().(sharedFramer)
	if !ok {
		t.Fatal("memfs files have no SharedFrame")
	}
	// The written page: the mapping sees the file's bytes in the frame.
	fr, err := sf.SharedFrame(4096)
	must(t, err)
	if got := string(frames.mem[fr][10:15]); got != "hello" {
		t.Fatalf("frame holds %q", got)
	}
	// A write through the frame is the file's data.
	frames.mem[fr][10] = 'J'
	buf := make([]byte, 5)
	if _, err := f.Pread(buf, 4096+10); err != nil || string(buf) != "Jello" {
		t.Fatalf("read after a write through the mapping: %q %v", buf, err)
	}
	// A hole gets a page; past the last page is EFAULT (SIGBUS).
	hole, err := sf.SharedFrame(0)
	must(t, err)
	if _, err := sf.SharedFrame(2 * 4096); err != unix.EFAULT {
		t.Fatalf("past the end: %v", err)
	}
	if _, err := sf.SharedFrame(100); err != unix.EFAULT {
		t.Fatalf("unaligned: %v", err)
	}
	// Truncation drops the file's references; the mapping's stay.
	must(t, f.Truncate(0))
	if frames.refs[fr] != 1 || frames.refs[hole] != 1 {
		t.Fatalf("after truncate: refs %v", frames.refs)
	}
	frames.Put(fr)
	frames.Put(hole)
	f.Close()
	must(t, n.Unlink(ctx, root, "f"))
	if len(frames.refs) != 0 {
		t.Fatalf("frames leaked: %v", frames.refs)
	}
}

func TestSharedFrameWithoutFrames(t *testing.T) {
	n, ctx, root := ns(memfs.New(nil))
	f, err := n.Open(ctx, root, "f", unix.O_RDWR|unix.O_CREAT, 0o644)
	must(t, err)
	defer f.Close()
	f.Pwrite([]byte("x"), 0)
	if _, err := f.Inode().(sharedFramer).SharedFrame(0); err != unix.ENODEV {
		t.Fatalf("got %v, want ENODEV", err)
	}
}
