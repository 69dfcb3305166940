package pipe_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

// fakeMem is user memory for ioctl tests.
type fakeMem map[uintptr][]byte

func (m fakeMem) CopyIn(addr uintptr, dst []byte) error { copy(dst, m[addr]); return nil }
func (m fakeMem) CopyOut(addr uintptr, src []byte) error {
	m[addr] = append([]byte(nil), src...)
	return nil
}

func newPipe(t testing.TB, flags int) (r, w *vfs.File) {
	t.Helper()
	r, w, err := pipe.New(&vfs.Cred{UID: 7, GID: 8}, flags)
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

func TestPipeBasics(t *testing.T) {
	r, w := newPipe(t, unix.O_NONBLOCK)
	buf := make([]byte, 100)
	if _, err := r.Read(buf); err != unix.EAGAIN {
		t.Errorf("read empty: %v", err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Errorf("zero-length read %d %v", n, err)
	}
	if got := r.Readiness(waiter.AllEvents); got != 0 {
		t.Errorf("empty reader readiness %#x", got)
	}
	if got := w.Readiness(waiter.AllEvents); got != waiter.EventOut|waiter.EventWrNorm {
		t.Errorf("writer readiness %#x", got)
	}
	if n, err := w.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("write %d %v", n, err)
	}
	if got := r.Readiness(waiter.EventIn); got != waiter.EventIn {
		t.Errorf("reader readiness %#x", got)
	}
	if _, err := r.Write([]byte("x")); err != unix.EBADF {
		t.Errorf("write on read end: %v", err)
	}
	if _, err := w.Read(buf); err != unix.EBADF {
		t.Errorf("read on write end: %v", err)
	}
	if _, err := r.Pread(buf, 0); err != unix.ESPIPE {
		t.Errorf("pread: %v", err)
	}
	if _, err := w.Pwrite(buf, 0); err != unix.ESPIPE {
		t.Errorf("pwrite: %v", err)
	}
	if _, err := r.Seek(0, 0); err != unix.ESPIPE {
		t.Errorf("seek: %v", err)
	}
	if err := r.Sync(); err != unix.EINVAL {
		t.Errorf("fsync: %v", err)
	}
	if !r.Pollable() || !r.IsStream() || !r.NonBlocking() {
		t.Errorf("pipe file properties")
	}
	mem := fakeMem{}
	if _, err := r.Ioctl(&vfs.Ctx{Mem: mem}, 0x541b, 64); err != nil || binary.LittleEndian.Uint32(mem[64]) != 5 {
		t.Errorf("FIONREAD: %v %v", err, mem[64])
	}
	if n, _ := r.Read(buf[:3]); string(buf[:n]) != "hel" {
		t.Errorf("read %q", buf[:n])
	}
	st, err := r.Stat()
	if err != nil || st.Type() != unix.S_IFIFO || st.UID != 7 || st.GID != 8 || st.Mode&0o777 != 0o600 {
		t.Errorf("stat %+v %v", st, err)
	}
	if wst, _ := w.Stat(); wst.Ino != st.Ino {
		t.Errorf("ends have different inodes")
	}
	if p := r.Path(nil); p != fmt.Sprintf("pipe:[%d]", st.Ino) {
		t.Errorf("path %q", p)
	}
	// Writer gone: the rest, then end of file and hang-up.
	w.Close()
	if got := r.Readiness(waiter.EventIn); got != waiter.EventIn|waiter.EventHUp {
		t.Errorf("readiness after writer closed %#x", got)
	}
	if n, _ := r.Read(buf); string(buf[:n]) != "lo" {
		t.Errorf("read %q", buf[:n])
	}
	if n, err := r.Read(buf); n != 0 || err != nil {
		t.Errorf("EOF: %d %v", n, err)
	}
	r.Close()

	// Reader gone: EPIPE and EventErr; zero-length writes still succeed.
	r, w = newPipe(t, 0)
	r.Close()
	if _, err := w.Write([]byte("x")); err != unix.EPIPE {
		t.Errorf("write without reader: %v", err)
	}
	if n, err := w.Write(nil); n != 0 || err != nil {
		t.Errorf("zero-length write without reader: %d %v", n, err)
	}
	if got := w.Readiness(waiter.EventOut); got != waiter.EventOut|waiter.EventErr {
		t.Errorf("readiness %#x", got)
	}
	w.Close()
	if _, _, err := pipe.New(&vfs.Cred{}, unix.O_DIRECT); err != unix.EINVAL {
		t.Errorf("pipe2 O_DIRECT: %v", err)
	}
}

func TestPipeCapacity(t *testing.T) {
	r, w := newPipe(t, unix.O_NONBLOCK)
	defer r.Close()
	defer w.Close()
	big := bytes.Repeat([]byte("b"), 100000)
	n, err := w.Write(big)
	if n != pipe.DefaultCapacity || err != nil {
		t.Fatalf("first big write %d %v", n, err)
	}
	if _, err := w.Write(big); err != unix.EAGAIN {
		t.Errorf("write to full pipe: %v", err)
	}
	if got := w.Readiness(waiter.EventOut); got != 0 {
		t.Errorf("full pipe writable %#x", got)
	}
	buf := make([]byte, 4000)
	r.Read(buf)
	// 4000 bytes free: an atomic write of 4000 fits, 4001 does not; a
	// big write takes what fits.
	if _, err := w.Write(make([]byte, 4001)); err != unix.EAGAIN {
		t.Errorf("atomic write that does not fit: %v", err)
	}
	if got := w.Readiness(waiter.EventOut); got != 0 {
		t.Errorf("writable with less than PIPE_BUF free %#x", got)
	}
	if n, err := w.Write(make([]byte, 5000)); n != 4000 || err != nil {
		t.Errorf("partial write %d %v", n, err)
	}
	p, ok := pipe.FromFile(r)
	if !ok || p.Capacity() != pipe.DefaultCapacity || p.Len() != pipe.DefaultCapacity {
		t.Fatalf("FromFile")
	}
	if _, err := p.SetCapacity(4096, false); err != unix.EBUSY {
		t.Errorf("shrink below contents: %v", err)
	}
	if _, err := p.SetCapacity(2<<20, false); err != unix.EPERM {
		t.Errorf("above max: %v", err)
	}
	if n, err := p.SetCapacity(100000, false); n != 131072 || err != nil {
		t.Errorf("grow: %d %v", n, err)
	}
	// Contents survive and keep their order.
	all := make([]byte, 200000)
	k, _ := r.Read(all)
	want := append(bytes.Repeat([]byte("b"), pipe.DefaultCapacity-4000), make([]byte, 4000)...)
	if k != pipe.DefaultCapacity || !bytes.Equal(all[:k], want) {
		t.Errorf("read after resize %d", k)
	}
	if n, err := p.SetCapacity(1, false); n != 4096 || err != nil {
		t.Errorf("shrink: %d %v", n, err)
	}
	if _, err := w.Write(make([]byte, 4097)); err != nil {
		t.Errorf("partial write on small pipe: %v", err)
	}
	if p.Len() != 4096 {
		t.Errorf("len %d", p.Len())
	}
}

// ring contents across wrap-around, with many small and large operations.
func TestPipeRing(t *testing.T) {
	r, w := newPipe(t, unix.O_NONBLOCK)
	defer r.Close()
	defer w.Close()
	var sent, got bytes.Buffer
	seq := byte(0)
	buf := make([]byte, 9000)
	for i := range 2000 {
		size := (i * 7919) % 9000
		chunk := make([]byte, size)
		for j := range chunk {
			chunk[j] = seq
			seq++
		}
		n, _ := w.Write(chunk)
		sent.Write(chunk[:n])
		seq -= byte(size - n)
		k, _ := r.Read(buf[:(i*104729)%9000])
		got.Write(buf[:k])
	}
	for {
		k, _ := r.Read(buf)
		if k == 0 {
			break
		}
		got.Write(buf[:k])
	}
	if !bytes.Equal(sent.Bytes(), got.Bytes()) {
		t.Fatalf("data mangled: sent %d, got %d", sent.Len(), got.Len())
	}
}

// blockingWrite writes all of p, waiting as a blocking write(2) would.
func blockingWrite(f *vfs.File, p []byte) error {
	for len(p) > 0 {
		n, err := waiter.Retry(f, waiter.WritableEvents, nil, func() (int, error) { return f.Write(p) })
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// blockingRead reads as a blocking read(2) would.
func blockingRead(f *vfs.File, p []byte) (int, error) {
	return waiter.Retry(f, waiter.ReadableEvents, nil, func() (int, error) { return f.Read(p) })
}

// TestPipeAtomicWrites: writers write records of at most PIPE_BUF bytes;
// the reader must see every record whole, once, in each writer's order.
func TestPipeAtomicWrites(t *testing.T) {
	r, w := newPipe(t, unix.O_NONBLOCK)
	const writers, records = 6, 300
	var wg sync.WaitGroup
	for id := range writers {
		wg.Add(1)
		w.IncRef()
		go func() {
			defer wg.Done()
			defer w.Close()
			for seq := range records {
				size := 8 + (seq*131+id*17)%(pipe.Buf-8)
				rec := make([]byte, size)
				binary.LittleEndian.PutUint16(rec[0:], uint16(id))
				binary.LittleEndian.PutUint16(rec[2:], uint16(seq))
				binary.LittleEndian.PutUint32(rec[4:], uint32(size))
				for i := 8; i < size; i++ {
					rec[i] = byte(id*31 + seq)
				}
				if err := blockingWrite(w, rec); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	w.Close()
	var stream []byte
	buf := make([]byte, 10000)
	for {
		n, err := blockingRead(r, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		stream = append(stream, buf[:n]...)
	}
	wg.Wait()
	r.Close()
	next := make([]int, writers)
	for len(stream) > 0 {
		if len(stream) < 8 {
			t.Fatalf("trailing %d bytes", len(stream))
		}
		id := int(binary.LittleEndian.Uint16(stream[0:]))
		seq := int(binary.LittleEndian.Uint16(stream[2:]))
		size := int(binary.LittleEndian.Uint32(stream[4:]))
		if id >= writers || seq != next[id] || size > len(stream) {
			t.Fatalf("record id %d seq %d size %d: want seq %d", id, seq, size, next[id])
		}
		for i := 8; i < size; i++ {
			if stream[i] != byte(id*31+seq) {
				t.Fatalf("record %d/%d interleaved at byte %d", id, seq, i)
			}
		}
		next[id]++
		stream = stream[size:]
	}
	for id, n := range next {
		if n != records {
			t.Errorf("writer %d: %d records", id, n)
		}
	}
}

// TestPipeManyReadersWriters: large writes (partial, interleavable) and
// several readers; every byte arrives exactly once.
func TestPipeManyReadersWriters(t *testing.T) {
	r, w := newPipe(t, unix.O_NONBLOCK)
	const writers, readers, per = 4, 3, 300000
	var wg sync.WaitGroup
	for id := range writers {
		wg.Add(1)
		w.IncRef()
		go func() {
			defer wg.Done()
			defer w.Close()
			data := bytes.Repeat([]byte{byte('a' + id)}, per)
			for off := 0; off < per; {
				n := min(per-off, 1+(off*7)%20000)
				if err := blockingWrite(w, data[off:off+n]); err != nil {
					t.Error(err)
					return
				}
				off += n
			}
		}()
	}
	w.Close()
	counts := make([][writers]int, readers)
	var rg sync.WaitGroup
	for i := range readers {
		rg.Add(1)
		r.IncRef()
		go func() {
			defer rg.Done()
			defer r.Close()
			buf := make([]byte, 1+i*3000)
			for {
				n, err := blockingRead(r, buf)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
				for _, b := range buf[:n] {
					counts[i][b-'a']++
				}
			}
		}()
	}
	wg.Wait()
	rg.Wait()
	r.Close()
	for id := range writers {
		total := 0
		for i := range readers {
			total += counts[i][id]
		}
		if total != per {
			t.Errorf("writer %d: %d bytes read, %d written", id, total, per)
		}
	}
}

func TestPipeNotify(t *testing.T) {
	r, w := newPipe(t, unix.O_NONBLOCK)
	e, ch := waiter.NewChannelEntry(waiter.EventIn)
	r.EventRegister(e)
	w.Write([]byte("x"))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification on write")
	}
	r.EventUnregister(e)
	// Closing the writer wakes a reader waiting for input with HUP.
	e2, ch2 := waiter.NewChannelEntry(waiter.EventIn)
	r.EventRegister(e2)
	w.Close()
	select {
	case <-ch2:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification on close")
	}
	r.EventUnregister(e2)
	r.Close()
	// A blocked reader is cancelled.
	r, w = newPipe(t, 0)
	cancel := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := waiter.Retry(r, waiter.EventIn, cancel, func() (int, error) { return r.Read(make([]byte, 1)) })
		done <- err
	}()
	close(cancel)
	if err := <-done; err != unix.EINTR {
		t.Errorf("cancelled read: %v", err)
	}
	r.Close()
	w.Close()
}

// fifoEnv is a namespace with a FIFO at /fifo.
func fifoEnv(t *testing.T) (*vfs.Namespace, *vfs.Ctx, *pipe.FIFOTable) {
	tab := pipe.NewFIFOTable()
	ns := vfs.NewNamespace(memfs.New(nil), vfs.Options{FIFOs: tab})
	ctx := vfs.RootCtx()
	if err := ns.Mknod(ctx, ns.Root(), "fifo", unix.S_IFIFO|0o666, 0); err != nil {
		t.Fatal(err)
	}
	return ns, ctx, tab
}

func TestFIFOOpen(t *testing.T) {
	ns, ctx, tab := fifoEnv(t)
	open := func(flags int) (*vfs.File, error) { return ns.Open(ctx, ns.Root(), "fifo", flags, 0) }
	if _, err := open(unix.O_WRONLY | unix.O_NONBLOCK); err != unix.ENXIO {
		t.Errorf("nonblocking writer without reader: %v", err)
	}
	if _, err := open(unix.O_RDWR | 3); err == nil {
		t.Errorf("access mode 3 accepted")
	}
	r, err := open(unix.O_RDONLY | unix.O_NONBLOCK)
	if err != nil || r.OpenPending() {
		t.Fatalf("nonblocking reader: %v", err)
	}
	// A reader opened before any writer sees no hang-up, and reads EOF.
	if got := r.Readiness(waiter.AllEvents); got != 0 {
		t.Errorf("readiness before any writer %#x", got)
	}
	if n, err := r.Read(make([]byte, 4)); n != 0 || err != nil {
		t.Errorf("read without writer: %d %v", n, err)
	}
	w, err := open(unix.O_WRONLY | unix.O_NONBLOCK)
	if err != nil || w.OpenPending() {
		t.Fatalf("nonblocking writer with reader: %v", err)
	}
	w.Write([]byte("data"))
	w.Close()
	if got := r.Readiness(waiter.AllEvents); got != waiter.EventIn|waiter.EventRdNorm|waiter.EventHUp {
		t.Errorf("readiness after writer left %#x", got)
	}
	buf := make([]byte, 10)
	if n, _ := r.Read(buf); string(buf[:n]) != "data" {
		t.Errorf("read %q", buf[:n])
	}
	st, _ := r.Stat()
	if st.Type() != unix.S_IFIFO || st.Nlink != 1 {
		t.Errorf("fstat of a FIFO gives the node: %+v", st)
	}
	if p := r.Path(ctx); p != "/fifo" {
		t.Errorf("path %q", p)
	}
	r.Close()
	if tab.Len() != 0 {
		t.Errorf("table keeps %d pipes", tab.Len())
	}
	// O_RDWR never waits.
	rw, err := open(unix.O_RDWR)
	if err != nil || rw.OpenPending() {
		t.Fatalf("O_RDWR: %v", err)
	}
	rw.Write([]byte("self"))
	if n, _ := rw.Read(buf); string(buf[:n]) != "self" {
		t.Errorf("O_RDWR read %q", buf[:n])
	}
	rw.Write([]byte("lost"))
	rw.Close()
	// Data left when everybody closed is discarded.
	r, _ = open(unix.O_RDONLY | unix.O_NONBLOCK)
	if n, err := r.Read(buf); n != 0 || err != nil {
		t.Errorf("data survived: %d %v", n, err)
	}
	r.Close()
}

func TestFIFOBlockingOpen(t *testing.T) {
	ns, ctx, tab := fifoEnv(t)
	open := func(flags int) *vfs.File {
		f, err := ns.Open(ctx, ns.Root(), "fifo", flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// A blocking reader waits for a writer.
	r := open(unix.O_RDONLY)
	if !r.OpenPending() {
		t.Fatal("blocking reader not pending")
	}
	done := make(chan error)
	go func() { done <- r.WaitOpen(nil) }()
	select {
	case err := <-done:
		t.Fatalf("reader finished opening alone: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	// The writer does not wait: a reader is there.
	w := open(unix.O_WRONLY)
	if w.OpenPending() {
		t.Errorf("writer pending with a reader present")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hi"))
	buf := make([]byte, 4)
	if n, _ := r.Read(buf); string(buf[:n]) != "hi" {
		t.Errorf("read %q", buf[:n])
	}
	w.Close()
	r.Close()

	// A blocking writer waits for a reader; a writer that came and went
	// while a reader waited still completes that reader's open.
	w = open(unix.O_WRONLY)
	if !w.OpenPending() {
		t.Fatal("blocking writer not pending")
	}
	r = open(unix.O_RDONLY)
	if r.OpenPending() || w.OpenPending() {
		t.Errorf("pending after both sides opened: %v %v", r.OpenPending(), w.OpenPending())
	}
	w.Close()
	r.Close()
	r = open(unix.O_RDONLY)
	w = open(unix.O_WRONLY | unix.O_NONBLOCK)
	w.Close()
	if r.OpenPending() {
		t.Errorf("reader still pending after a writer came and went")
	}
	r.Close()

	// Interrupted open.
	r = open(unix.O_RDONLY)
	cancel := make(chan struct{})
	close(cancel)
	if err := r.WaitOpen(cancel); err != unix.EINTR {
		t.Errorf("cancelled open: %v", err)
	}
	r.Close()
	if tab.Len() != 0 {
		t.Errorf("table keeps %d pipes", tab.Len())
	}
	// Many rendezvous in parallel. Nobody closes before all opened, or
	// a late writer would wait for readers that are gone.
	var wg, opened sync.WaitGroup
	opened.Add(20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flags := unix.O_RDONLY
			if i%2 == 1 {
				flags = unix.O_WRONLY
			}
			f, err := ns.Open(ctx, ns.Root(), "fifo", flags, 0)
			if err != nil {
				t.Error(err)
				return
			}
			if err := f.WaitOpen(nil); err != nil {
				t.Error(err)
			}
			opened.Done()
			opened.Wait()
			f.Close()
		}()
	}
	wg.Wait()
	if tab.Len() != 0 {
		t.Errorf("table keeps %d pipes", tab.Len())
	}
}

// Opening a pipe's inode again (what /proc/PID/fd/N and /dev/stdin do)
// opens the same pipe, not a new FIFO; once its ends are gone it is ENXIO.
func TestReopenAnonymousPipe(t *testing.T) {
	cred := vfs.RootCtx().Cred
	r, w, err := pipe.New(&cred, 0)
	if err != nil {
		t.Fatal(err)
	}
	tab := pipe.NewFIFOTable()
	ops, err := tab.OpenFIFO(vfs.RootCtx(), r.Inode(), unix.O_RDONLY)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	r2 := vfs.NewFile(ops, r.Inode(), unix.O_RDONLY, "pipe")
	if _, err := w.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := r2.Read(buf); err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("read through the reopened end: %q %v", buf[:n], err)
	}
	r.Close()
	w.Write([]byte("left"))
	w.Close()
	// With no writer left, a new blocking open for reading does not wait
	// (a pipe is not a FIFO) and reads what is left.
	ops, err = tab.OpenFIFO(vfs.RootCtx(), r.Inode(), unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	r3 := vfs.NewFile(ops, r.Inode(), unix.O_RDONLY, "pipe")
	if r3.OpenPending() {
		t.Fatal("reopening a pipe waits for a writer")
	}
	if n, _ := r3.Read(buf); string(buf[:n]) != "left" {
		t.Fatalf("read %q", buf[:n])
	}
	r3.Close()
	if n, err := r2.Read(buf); n != 0 || err != nil {
		t.Fatalf("EOF once the writer is gone: %d %v", n, err)
	}
	ino := r.Inode()
	r2.Close()
	if tab.Len() != 0 {
		t.Errorf("the FIFO table took the pipe: %d", tab.Len())
	}
	if _, err := tab.OpenFIFO(vfs.RootCtx(), ino, unix.O_RDONLY|unix.O_NONBLOCK); err != unix.ENXIO {
		t.Fatalf("reopen after the last end: %v, want ENXIO", err)
	}
}
