package waiter

import (
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func pending(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestNotifyMasks(t *testing.T) {
	var q Queue
	in, inCh := NewChannelEntry(EventIn)
	out, outCh := NewChannelEntry(EventOut)
	var got atomic.Uint32
	fn := NewFuncEntry(EventPri, func(m EventMask) { got.Store(uint32(m)) })
	q.Register(in)
	q.Register(out)
	q.Register(fn)
	if q.Len() != 3 || q.Events() != EventIn|EventOut|EventPri|EventAlways {
		t.Errorf("len %d events %#x", q.Len(), q.Events())
	}
	q.Notify(EventIn)
	if !pending(inCh) || pending(outCh) || got.Load() != 0 {
		t.Errorf("EventIn woke the wrong entries")
	}
	q.Notify(EventHUp) // always delivered
	if !pending(inCh) || !pending(outCh) || EventMask(got.Load()) != EventHUp {
		t.Errorf("EventHUp not delivered to all")
	}
	q.Notify(EventPri | EventRdNorm)
	if EventMask(got.Load()) != EventPri {
		t.Errorf("callback got %#x", got.Load())
	}
	// Notifications do not pile up on a channel.
	q.Notify(EventIn)
	q.Notify(EventIn)
	if !pending(inCh) || pending(inCh) {
		t.Errorf("channel holds more than one wake-up")
	}
	q.Unregister(in)
	q.Unregister(in) // no-op
	q.Notify(EventIn)
	if pending(inCh) {
		t.Errorf("unregistered entry woken")
	}
	if in.Mask() != EventIn {
		t.Errorf("mask")
	}
	// Re-registration after Unregister works; double registration panics.
	q.Register(in)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("double Register did not panic")
			}
		}()
		q.Register(in)
	}()
	// A shared channel for several entries.
	ch := make(chan struct{}, 1)
	var q2 Queue
	q2.Register(NewEntry(EventIn, ch))
	q.Register(NewEntry(EventOut, ch))
	q2.Notify(EventIn)
	if !pending(ch) {
		t.Errorf("shared channel not signalled")
	}
}

// flag is a Waitable whose readiness is a boolean.
type flag struct {
	mu    sync.Mutex
	ready bool
	q     Queue
}

func (f *flag) Readiness(mask EventMask) EventMask {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ready {
		return EventIn & mask
	}
	return 0
}
func (f *flag) EventRegister(e *Entry)   { f.q.Register(e) }
func (f *flag) EventUnregister(e *Entry) { f.q.Unregister(e) }
func (f *flag) set() {
	f.mu.Lock()
	f.ready = true
	f.mu.Unlock()
	f.q.Notify(EventIn)
}
func (f *flag) take() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		return false, syscall.EAGAIN
	}
	f.ready = false
	return true, nil
}

func TestRetry(t *testing.T) {
	f := &flag{}
	cancel := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := Retry(f, EventIn, cancel, f.take)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	f.set()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.q.Len() != 0 {
		t.Errorf("entry left registered")
	}
	go func() {
		_, err := Retry(f, EventIn, cancel, f.take)
		done <- err
	}()
	close(cancel)
	if err := <-done; err != syscall.EINTR {
		t.Errorf("cancelled: %v", err)
	}
	// Other errors come back at once.
	_, err := Retry(f, EventIn, nil, func() (int, error) { return 0, syscall.EBADF })
	if err != syscall.EBADF {
		t.Errorf("error %v", err)
	}
}

// TestNoLostWakeups hands a token back and forth many times between
// goroutines that block with Retry: a lost wake-up would hang.
func TestNoLostWakeups(t *testing.T) {
	const n = 4
	flags := make([]*flag, n)
	for i := range flags {
		flags[i] = &flag{}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if _, err := Retry(flags[i], EventIn, nil, flags[i].take); err != nil {
					t.Error(err)
					return
				}
				flags[(i+1)%n].set()
			}
		}()
	}
	flags[0].set()
	wg.Wait()
}

func TestConcurrentRegister(t *testing.T) {
	var q Queue
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				e, _ := NewChannelEntry(EventIn)
				q.Register(e)
				q.Notify(EventIn)
				q.Unregister(e)
			}
		}()
	}
	wg.Wait()
	if q.Len() != 0 {
		t.Errorf("len %d", q.Len())
	}
}
