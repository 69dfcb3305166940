package epoll

import (
	"encoding/binary"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"dunix/fs/eventfd"
	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/vfs"
	"dunix/fs/waiter"
)

func one() []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, 1)
	return b
}

func newEP(t *testing.T) (*vfs.File, *Instance) {
	f, ep, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, ep
}

func TestLevelTriggered(t *testing.T) {
	_, ep := newEP(t)
	r, w, err := pipe.New(&vfs.Cred{}, unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := ep.Add(r, 3, unix.EPOLLIN, 33); err != nil {
		t.Fatal(err)
	}
	if err := ep.Add(r, 3, unix.EPOLLIN, 33); err != unix.EEXIST {
		t.Fatalf("second add: %v, want EEXIST", err)
	}
	if ev := ep.Wait(8); len(ev) != 0 {
		t.Fatalf("empty pipe reported %v", ev)
	}
	w.Write([]byte("x"))
	for i := 0; i < 2; i++ { // level triggered: reported while readable
		ev := ep.Wait(8)
		if len(ev) != 1 || ev[0].Data != 33 || ev[0].Events&unix.EPOLLIN == 0 {
			t.Fatalf("wait %d: %v", i, ev)
		}
	}
	r.Read(make([]byte, 1))
	if ev := ep.Wait(8); len(ev) != 0 {
		t.Fatalf("drained pipe reported %v", ev)
	}
	w.Close()
	ev := ep.Wait(8)
	if len(ev) != 1 || ev[0].Events&unix.EPOLLHUP == 0 {
		t.Fatalf("after the writer closed: %v, want EPOLLHUP", ev)
	}
}

func TestEdgeTriggeredOneShotAndDelete(t *testing.T) {
	epf, ep := newEP(t)
	e, _ := eventfd.New(0, unix.EFD_NONBLOCK)
	defer e.Close()
	if err := ep.Add(e, 4, unix.EPOLLIN|unix.EPOLLET, 4); err != nil {
		t.Fatal(err)
	}
	wake, ch := waiter.NewChannelEntry(waiter.EventIn)
	epf.EventRegister(wake)
	defer epf.EventUnregister(wake)
	e.Write(one())
	select {
	case <-ch:
	default:
		t.Fatal("epoll file not woken")
	}
	if epf.Readiness(waiter.EventIn) == 0 {
		t.Fatal("epoll file not readable")
	}
	if ev := ep.Wait(8); len(ev) != 1 {
		t.Fatalf("edge: %v", ev)
	}
	if ev := ep.Wait(8); len(ev) != 0 {
		t.Fatalf("edge reported twice: %v", ev)
	}
	if err := ep.Modify(e, 4, unix.EPOLLIN|unix.EPOLLONESHOT, 5); err != nil {
		t.Fatal(err)
	}
	if ev := ep.Wait(8); len(ev) != 1 || ev[0].Data != 5 {
		t.Fatalf("oneshot after mod: %v", ev)
	}
	e.Write(one())
	if ev := ep.Wait(8); len(ev) != 0 {
		t.Fatalf("oneshot fired twice: %v", ev)
	}
	if err := ep.Delete(e, 4); err != nil {
		t.Fatal(err)
	}
	if err := ep.Delete(e, 4); err != unix.ENOENT {
		t.Fatalf("delete twice: %v", err)
	}
	if err := ep.Modify(e, 4, unix.EPOLLIN, 0); err != unix.ENOENT {
		t.Fatalf("modify absent: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	epf, ep := newEP(t)
	if err := ep.Add(epf, 3, unix.EPOLLIN, 0); err != unix.EINVAL {
		t.Fatalf("self: %v", err)
	}
	fs := memfs.New(nil)
	ns := vfs.NewNamespace(fs, vfs.Options{})
	f, err := ns.Open(vfs.RootCtx(), ns.Root(), "/file", unix.O_CREAT|unix.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := ep.Add(f, 5, unix.EPOLLIN, 0); err != unix.EPERM {
		t.Fatalf("regular file: %v, want EPERM", err)
	}
	outer, outerEP := newEP(t)
	if err := outerEP.Add(epf, 6, unix.EPOLLIN, 0); err != nil {
		t.Fatal(err)
	}
	if err := ep.Add(outer, 7, unix.EPOLLIN, 0); err != unix.ELOOP {
		t.Fatalf("loop: %v, want ELOOP", err)
	}
}

func TestMaxEventsRotates(t *testing.T) {
	_, ep := newEP(t)
	var files []*vfs.File
	for i := 0; i < 4; i++ {
		e, _ := eventfd.New(1, unix.EFD_NONBLOCK)
		defer e.Close()
		files = append(files, e)
		if err := ep.Add(e, int32(i), unix.EPOLLIN, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint64]bool{}
	for i := 0; i < 2; i++ {
		for _, ev := range ep.Wait(2) {
			seen[ev.Data] = true
		}
	}
	if len(seen) != 4 {
		t.Fatalf("two waits of 2 saw %v, want all 4", seen)
	}
}

func TestClosedFileLeaves(t *testing.T) {
	_, ep := newEP(t)
	e, _ := eventfd.New(1, 0)
	ep.Add(e, 3, unix.EPOLLIN, 0)
	e.Close()
	if ev := ep.Wait(8); len(ev) != 0 {
		t.Fatalf("closed file reported: %v", ev)
	}
	if ep.Len() != 0 {
		t.Fatalf("%d interests left, want 0", ep.Len())
	}
}

func TestConcurrentNotify(t *testing.T) {
	_, ep := newEP(t)
	e, _ := eventfd.New(0, unix.EFD_NONBLOCK)
	defer e.Close()
	ep.Add(e, 3, unix.EPOLLIN|unix.EPOLLET, 0)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				e.Write(one())
				ep.Wait(4)
			}
		}()
	}
	wg.Wait()
	b := make([]byte, 8)
	e.Read(b)
	if binary.LittleEndian.Uint64(b) != 800 {
		t.Fatalf("counter %d, want 800", binary.LittleEndian.Uint64(b))
	}
}
