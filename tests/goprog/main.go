// Command goprog is a compatibility test of the Go runtime and standard
// library on top of the kernel: it is built as an ordinary static Linux
// binary, run inside the dunix VM and on the host, and the two outputs are
// compared.
//
// It exercises goroutines and channels, the garbage collector and
// finalisers, files and directories, os/exec (running busybox applets
// found in PATH: echo, cat, sh, sleep), pipes, timers and tickers, signals
// sent to itself, and context cancellation killing a child. Each check
// prints one line, "ok NAME" or "FAIL NAME: DETAIL"; the output of a
// passing run is the same on every machine. At the end it prints "PASS"
// and exits 0, or exits 1 if any check failed.
//
// Build and run on the host:
//
//	CGO_ENABLED=0 go build -o /tmp/goprog ./tests/goprog
//	/tmp/goprog
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// check is one named test: it returns nil on success.
type check struct {
	name string
	fn   func() error
}

// checkTimeout bounds each check, so that a hang is reported as a failure
// instead of stopping the run.
const checkTimeout = 60 * time.Second

func main() {
	checks := []check{
		{"pid", checkPid},
		{"goroutines", checkGoroutines},
		{"pipeline", checkPipeline},
		{"many-goroutines", checkManyGoroutines},
		{"mutex", checkMutex},
		{"select-timeout", checkSelectTimeout},
		{"gc-memstats", checkGCMemStats},
		{"finalizer", checkFinalizer},
		{"cleanup", checkCleanup},
		{"files", checkFiles},
		{"file-modes", checkFileModes},
		{"readdir", checkReadDir},
		{"symlink", checkSymlink},
		{"seek-truncate", checkSeekTruncate},
		{"append", checkAppend},
		{"chdir", checkChdir},
		{"mmap", checkMmap},
		{"env", checkEnv},
		{"exec-echo", checkExecEcho},
		{"exec-cat-stdin", checkExecCat},
		{"exec-exit-code", checkExecExitCode},
		{"exec-env-dir", checkExecEnvDir},
		{"exec-stdout-pipe", checkExecStdoutPipe},
		{"exec-parallel", checkExecParallel},
		{"exec-not-found", checkExecNotFound},
		{"os-pipe", checkOSPipe},
		{"sleep", checkSleep},
		{"timer", checkTimer},
		{"ticker", checkTicker},
		{"monotonic", checkMonotonic},
		{"signal-self", checkSignalSelf},
		{"signal-ignore", checkSignalIgnore},
		{"signal-child", checkSignalChild},
		{"context-kill", checkContextKill},
		{"context-timeout", checkContextTimeout},
	}
	failed := 0
	for _, c := range checks {
		if err := run(c); err != nil {
			fmt.Printf("FAIL %s: %v\n", c.name, err)
			failed++
		} else {
			fmt.Printf("ok %s\n", c.name)
		}
	}
	if failed > 0 {
		fmt.Printf("FAILED %d of %d\n", failed, len(checks))
		os.Exit(1)
	}
	fmt.Println("PASS")
}

// run runs c.fn, turning a panic or a hang into an error.
func run(c check) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- c.fn()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(checkTimeout):
		return fmt.Errorf("timed out after %v", checkTimeout)
	}
}

func checkPid() error {
	// The parent ID is 0 only if this program runs as process 1.
	pid, ppid := os.Getpid(), os.Getppid()
	if pid <= 0 || ppid < 0 || pid == ppid || (ppid == 0) != (pid == 1) {
		return fmt.Errorf("pid %d ppid %d", pid, ppid)
	}
	if p := syscall.Getpid(); p != pid {
		return fmt.Errorf("syscall.Getpid %d != os.Getpid %d", p, pid)
	}
	return nil
}

func checkGoroutines() error {
	const n = 200
	var wg sync.WaitGroup
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runtime.Gosched()
			results <- i * i
		}(i)
	}
	wg.Wait()
	close(results)
	sum, count := 0, 0
	for v := range results {
		sum += v
		count++
	}
	want := (n - 1) * n * (2*n - 1) / 6
	if count != n || sum != want {
		return fmt.Errorf("got %d results summing to %d, want %d summing to %d", count, sum, n, want)
	}
	return nil
}

func checkPipeline() error {
	const n = 5000
	gen := make(chan int)
	sq := make(chan int)
	out := make(chan int)
	go func() {
		for i := 1; i <= n; i++ {
			gen <- i
		}
		close(gen)
	}()
	// Three workers square, one collector adds.
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range gen {
				sq <- v * v
			}
		}()
	}
	go func() {
		wg.Wait()
		close(sq)
	}()
	go func() {
		s := 0
		for v := range sq {
			s += v
		}
		out <- s
	}()
	got := <-out
	want := n * (n + 1) * (2*n + 1) / 6
	if got != want {
		return fmt.Errorf("sum of squares %d, want %d", got, want)
	}
	return nil
}

func checkManyGoroutines() error {
	const n = 2000
	start := make(chan struct{})
	var wg sync.WaitGroup
	var count atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			count.Add(1)
		}()
	}
	close(start)
	wg.Wait()
	if c := count.Load(); c != n {
		return fmt.Errorf("%d goroutines ran, want %d", c, n)
	}
	return nil
}

func checkMutex() error {
	const workers, iters = 16, 2000
	var mu sync.Mutex
	var atom atomic.Int64
	counter := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
				atom.Add(1)
			}
		}()
	}
	wg.Wait()
	if counter != workers*iters || atom.Load() != workers*iters {
		return fmt.Errorf("counter %d atomic %d, want %d", counter, atom.Load(), workers*iters)
	}
	var once sync.Once
	calls := 0
	for i := 0; i < 3; i++ {
		once.Do(func() { calls++ })
	}
	if calls != 1 {
		return fmt.Errorf("sync.Once ran %d times", calls)
	}
	return nil
}

func checkSelectTimeout() error {
	never := make(chan int)
	select {
	case <-never:
		return errors.New("received from a channel nobody sends on")
	case <-time.After(20 * time.Millisecond):
	}
	ready := make(chan int, 1)
	ready <- 7
	select {
	case v := <-ready:
		if v != 7 {
			return fmt.Errorf("got %d", v)
		}
	default:
		return errors.New("buffered value not ready")
	}
	return nil
}

// sink keeps allocations from being optimised away.
var sink []byte

func checkGCMemStats() error {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const chunk, count = 4 << 10, 10000 // 40 MiB allocated in total
	live := make([][]byte, 64)
	for i := 0; i < count; i++ {
		b := make([]byte, chunk)
		b[0] = byte(i)
		live[i%len(live)] = b
		sink = b
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.NumGC <= before.NumGC {
		return fmt.Errorf("NumGC did not move: %d -> %d", before.NumGC, after.NumGC)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew < chunk*count {
		return fmt.Errorf("TotalAlloc grew by %d, want at least %d", grew, chunk*count)
	}
	if after.Mallocs <= before.Mallocs || after.Frees <= before.Frees {
		return fmt.Errorf("Mallocs %d->%d Frees %d->%d", before.Mallocs, after.Mallocs, before.Frees, after.Frees)
	}
	// Everything but the live set was freed: the heap holds far less than
	// what was allocated.
	if after.HeapAlloc > before.HeapAlloc+chunk*count/2 {
		return fmt.Errorf("HeapAlloc %d after GC, was %d before churn", after.HeapAlloc, before.HeapAlloc)
	}
	runtime.KeepAlive(live)
	sink = nil
	return nil
}

type finalized struct {
	buf [128]byte
}

func checkFinalizer() error {
	const n = 10
	var ran atomic.Int32
	done := make(chan struct{}, n)
	func() {
		for i := 0; i < n; i++ {
			obj := &finalized{}
			obj.buf[0] = byte(i)
			runtime.SetFinalizer(obj, func(*finalized) {
				ran.Add(1)
				done <- struct{}{}
			})
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for ran.Load() < n && time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-done:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if r := ran.Load(); r != n {
		return fmt.Errorf("%d of %d finalizers ran", r, n)
	}
	return nil
}

func checkCleanup() error {
	done := make(chan int, 1)
	func() {
		obj := new(finalized)
		runtime.AddCleanup(obj, func(v int) { done <- v }, 42)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case v := <-done:
			if v != 42 {
				return fmt.Errorf("cleanup got %d", v)
			}
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	return errors.New("cleanup did not run")
}

// pattern returns n deterministic bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func checkFiles() error {
	dir, err := os.MkdirTemp("", "goprog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	f, err := os.CreateTemp(dir, "data-*.bin")
	if err != nil {
		return err
	}
	data := pattern(200 << 10)
	if n, err := f.Write(data); err != nil || n != len(data) {
		f.Close()
		return fmt.Errorf("write: %d, %v", n, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync: %v", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("read back %d bytes, differ from the %d written", len(got), len(data))
	}
	fi, err := os.Stat(f.Name())
	if err != nil {
		return err
	}
	if fi.Size() != int64(len(data)) || !fi.Mode().IsRegular() {
		return fmt.Errorf("stat: size %d mode %v", fi.Size(), fi.Mode())
	}
	renamed := filepath.Join(dir, "renamed.bin")
	if err := os.Rename(f.Name(), renamed); err != nil {
		return err
	}
	if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("old name after rename: %v", err)
	}
	sum1 := sha256.Sum256(data)
	rf, err := os.Open(renamed)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(h, rf)
	rf.Close()
	if err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), sum1[:]) {
		return errors.New("sha256 of renamed file differs")
	}
	if err := os.Remove(renamed); err != nil {
		return err
	}
	if _, err := os.Stat(renamed); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("after remove: %v", err)
	}
	if _, err := os.OpenFile(filepath.Join(dir, "sub", "x"), os.O_CREATE|os.O_WRONLY, 0o644); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("create in missing dir: %v", err)
	}
	excl := filepath.Join(dir, "excl")
	if err := os.WriteFile(excl, []byte("x"), 0o644); err != nil {
		return err
	}
	if _, err := os.OpenFile(excl, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("O_EXCL on existing file: %v", err)
	}
	return nil
}

func checkFileModes() error {
	dir, err := os.MkdirTemp("", "goprog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("mode"), 0o600); err != nil {
		return err
	}
	for _, m := range []os.FileMode{0o640, 0o755, 0o400, os.ModeSetuid | 0o755, os.ModeSticky | 0o777} {
		if err := os.Chmod(p, m); err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSticky); got != m {
			return fmt.Errorf("chmod %v: stat says %v", m, fi.Mode())
		}
	}
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(sub, 0o751); err != nil {
		return err
	}
	fi, err := os.Stat(sub)
	if err != nil {
		return err
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o751 {
		return fmt.Errorf("dir mode %v", fi.Mode())
	}
	if err := os.Mkdir(sub, 0o700); !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("mkdir existing: %v", err)
	}
	// As root (host and VM both run this as root) permission bits do not
	// stop reading; check that the file can still be opened.
	if err := os.Chmod(p, 0); err != nil {
		return err
	}
	if os.Getuid() == 0 {
		if _, err := os.ReadFile(p); err != nil {
			return fmt.Errorf("root reading mode 000 file: %v", err)
		}
	}
	return nil
}

func checkReadDir() error {
	dir, err := os.MkdirTemp("", "goprog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names := []string{"zeta", "alpha", "mid.txt", "Beta", "_x"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var got []string
	for _, e := range ents {
		s := e.Name()
		if e.IsDir() {
			s += "/"
		}
		got = append(got, s)
	}
	want := append([]string{"sub/"}, names...)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		return fmt.Errorf("ReadDir %v, want %v", got, want)
	}
	var walked []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		walked = append(walked, rel)
		return nil
	})
	if err != nil {
		return err
	}
	if len(walked) != len(names)+3 {
		return fmt.Errorf("WalkDir saw %v", walked)
	}
	if err := os.Remove(filepath.Join(dir, "sub")); err == nil {
		return errors.New("removed a non-empty directory")
	}
	return nil
}

func checkSymlink() error {
	dir, err := os.MkdirTemp("", "goprog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("via link"), 0o644); err != nil {
		return err
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("target", link); err != nil {
		return err
	}
	if got, err := os.Readlink(link); err != nil || got != "target" {
		return fmt.Errorf("readlink %q, %v", got, err)
	}
	if b, err := os.ReadFile(link); err != nil || string(b) != "via link" {
		return fmt.Errorf("read through link %q, %v", b, err)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("lstat mode %v", fi.Mode())
	}
	hard := filepath.Join(dir, "hard")
	if err := os.Link(target, hard); err != nil {
		return err
	}
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Nlink != 2 {
		return fmt.Errorf("nlink after link: %v", st.Sys())
	}
	st2, err := os.Stat(hard)
	if err != nil {
		return err
	}
	if !os.SameFile(st, st2) {
		return errors.New("hard link is not the same file")
	}
	if real, err := filepath.EvalSymlinks(link); err != nil || filepath.Base(real) != "target" {
		return fmt.Errorf("EvalSymlinks %q, %v", real, err)
	}
	return nil
}

func checkSeekTruncate() error {
	f, err := os.CreateTemp("", "goprog-seek-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString("0123456789"); err != nil {
		return err
	}
	if off, err := f.Seek(3, io.SeekStart); err != nil || off != 3 {
		return fmt.Errorf("seek: %d, %v", off, err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(f, buf); err != nil || string(buf) != "3456" {
		return fmt.Errorf("read after seek %q, %v", buf, err)
	}
	if off, err := f.Seek(-2, io.SeekEnd); err != nil || off != 8 {
		return fmt.Errorf("seek end: %d, %v", off, err)
	}
	if _, err := f.WriteAt([]byte("AB"), 1); err != nil {
		return err
	}
	if _, err := f.ReadAt(buf[:3], 0); err != nil || string(buf[:3]) != "0AB" {
		return fmt.Errorf("readat %q, %v", buf[:3], err)
	}
	if err := f.Truncate(5); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != 5 {
		return fmt.Errorf("size after truncate: %v %v", fi, err)
	}
	// Writing past the end leaves a hole that reads as zeros.
	if _, err := f.WriteAt([]byte("Z"), 9); err != nil {
		return err
	}
	all, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	if string(all) != "0AB34\x00\x00\x00\x00Z" {
		return fmt.Errorf("contents %q", all)
	}
	if _, err := f.ReadAt(buf, 100); err != io.EOF {
		return fmt.Errorf("read past end: %v", err)
	}
	return nil
}

func checkAppend() error {
	f, err := os.CreateTemp("", "goprog-append-")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	var wg sync.WaitGroup
	const writers, lines = 4, 50
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			af, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return
			}
			defer af.Close()
			for i := 0; i < lines; i++ {
				fmt.Fprintf(af, "writer %d line %02d\n", w, i)
			}
		}(w)
	}
	wg.Wait()
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(got) != writers*lines {
		return fmt.Errorf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		if len(l) != len("writer 0 line 00") {
			return fmt.Errorf("torn line %q", l)
		}
	}
	return nil
}

func checkChdir() error {
	old, err := os.Getwd()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "goprog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer os.Chdir(old)
	if err := os.Chdir(dir); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if wd != dir && wd != real {
		return fmt.Errorf("getwd %q after chdir %q", wd, dir)
	}
	if err := os.WriteFile("relative", []byte("r"), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "relative")); err != nil {
		return fmt.Errorf("relative create landed elsewhere: %v", err)
	}
	return os.Chdir(old)
}

func checkMmap() error {
	const size = 1 << 20
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return err
	}
	for i := 0; i < size; i += 4096 {
		if mem[i] != 0 {
			return fmt.Errorf("fresh anonymous page not zero at %d", i)
		}
		mem[i] = byte(i >> 12)
	}
	for i := 0; i < size; i += 4096 {
		if mem[i] != byte(i>>12) {
			return fmt.Errorf("page %d lost its write", i>>12)
		}
	}
	if err := syscall.Munmap(mem); err != nil {
		return err
	}
	// A shared file mapping sees what write(2) put in the file.
	f, err := os.CreateTemp("", "goprog-mmap-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(pattern(8192)); err != nil {
		return err
	}
	fm, err := syscall.Mmap(int(f.Fd()), 0, 8192, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("file mmap: %v", err)
	}
	defer syscall.Munmap(fm)
	if !bytes.Equal(fm, pattern(8192)) {
		return errors.New("file mapping differs from file contents")
	}
	return nil
}

func checkEnv() error {
	const key = "GOPROG_TEST_VAR"
	if _, ok := os.LookupEnv(key); ok {
		return errors.New("test variable already set")
	}
	if err := os.Setenv(key, "value=with=equals"); err != nil {
		return err
	}
	if v := os.Getenv(key); v != "value=with=equals" {
		return fmt.Errorf("getenv %q", v)
	}
	found := false
	for _, kv := range os.Environ() {
		if kv == key+"=value=with=equals" {
			found = true
		}
	}
	if !found {
		return errors.New("not in os.Environ")
	}
	out, err := exec.Command("sh", "-c", "echo \"$"+key+"\"").Output()
	if err != nil {
		return fmt.Errorf("child: %v", err)
	}
	if string(out) != "value=with=equals\n" {
		return fmt.Errorf("child saw %q", out)
	}
	os.Unsetenv(key)
	if _, ok := os.LookupEnv(key); ok {
		return errors.New("still set after unsetenv")
	}
	return nil
}

func checkExecEcho() error {
	if _, err := exec.LookPath("echo"); err != nil {
		return fmt.Errorf("echo not in PATH: %v", err)
	}
	out, err := exec.Command("echo", "hello", "from", "echo").Output()
	if err != nil {
		return err
	}
	if string(out) != "hello from echo\n" {
		return fmt.Errorf("output %q", out)
	}
	return nil
}

func checkExecCat() error {
	data := pattern(300 << 10)
	cmd := exec.Command("cat")
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return err
	}
	if !bytes.Equal(out.Bytes(), data) {
		return fmt.Errorf("cat returned %d bytes, differ from %d sent", out.Len(), len(data))
	}
	if cmd.ProcessState.ExitCode() != 0 || !cmd.ProcessState.Success() {
		return fmt.Errorf("state %v", cmd.ProcessState)
	}
	return nil
}

func checkExecExitCode() error {
	err := exec.Command("sh", "-c", "exit 3").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("want ExitError, got %v", err)
	}
	if ee.ExitCode() != 3 || err.Error() != "exit status 3" {
		return fmt.Errorf("exit code %d, error %q", ee.ExitCode(), err)
	}
	out, err := exec.Command("sh", "-c", "echo out; echo err >&2; exit 5").CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		return fmt.Errorf("combined: %v", err)
	}
	if string(out) != "out\nerr\n" {
		return fmt.Errorf("combined output %q", out)
	}
	return nil
}

func checkExecEnvDir() error {
	dir, err := os.MkdirTemp("", "goprog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("m\n"), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("sh", "-c", `echo "$FOO"; cat marker; echo "${HOME-unset}"`)
	cmd.Dir = dir
	cmd.Env = []string{"FOO=bar", "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	if string(out) != "bar\nm\nunset\n" {
		return fmt.Errorf("output %q", out)
	}
	return nil
}

func checkExecStdoutPipe() error {
	cmd := exec.Command("sh", "-c", "i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done")
	r, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		if sc.Text() != "line "+strconv.Itoa(n) {
			cmd.Wait()
			return fmt.Errorf("line %d is %q", n, sc.Text())
		}
	}
	if err := cmd.Wait(); err != nil {
		return err
	}
	if n != 100 {
		return fmt.Errorf("%d lines", n)
	}
	return nil
}

func checkExecParallel() error {
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := exec.Command("sh", "-c", `echo "child $1"; exit $1`, "sh", strconv.Itoa(i)).Output()
			var ee *exec.ExitError
			switch {
			case i == 0 && err != nil:
				errs[i] = err
			case i != 0 && (!errors.As(err, &ee) || ee.ExitCode() != i):
				errs[i] = fmt.Errorf("child %d: %v", i, err)
			case string(out) != fmt.Sprintf("child %d\n", i):
				errs[i] = fmt.Errorf("child %d said %q", i, out)
			}
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func checkExecNotFound() error {
	err := exec.Command("no-such-command-goprog").Run()
	if !errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("want ErrNotFound, got %v", err)
	}
	return nil
}

func checkOSPipe() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	data := pattern(1 << 20)
	werr := make(chan error, 1)
	go func() {
		defer w.Close()
		for off := 0; off < len(data); off += 7000 {
			end := min(off+7000, len(data))
			if _, err := w.Write(data[off:end]); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	h := sha256.New()
	n, err := io.Copy(h, r)
	r.Close()
	if err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("writer: %v", err)
	}
	want := sha256.Sum256(data)
	if n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("read %d bytes, checksum mismatch", n)
	}
	// Writing to a pipe with no reader fails with EPIPE (Go ignores
	// SIGPIPE for descriptors other than 1 and 2).
	r2, w2, err := os.Pipe()
	if err != nil {
		return err
	}
	r2.Close()
	_, err = w2.Write([]byte("x"))
	w2.Close()
	if !errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("write to closed pipe: %v", err)
	}
	return nil
}

func checkSleep() error {
	start := time.Now()
	time.Sleep(50 * time.Millisecond)
	if d := time.Since(start); d < 50*time.Millisecond {
		return fmt.Errorf("slept only %v", d)
	}
	return nil
}

func checkTimer() error {
	start := time.Now()
	t := time.NewTimer(30 * time.Millisecond)
	<-t.C
	if d := time.Since(start); d < 30*time.Millisecond {
		return fmt.Errorf("timer fired after %v", d)
	}
	long := time.NewTimer(time.Hour)
	if !long.Stop() {
		return errors.New("Stop of a pending timer returned false")
	}
	long.Reset(10 * time.Millisecond)
	select {
	case <-long.C:
	case <-time.After(10 * time.Second):
		return errors.New("reset timer did not fire")
	}
	fired := make(chan struct{})
	time.AfterFunc(5*time.Millisecond, func() { close(fired) })
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		return errors.New("AfterFunc did not run")
	}
	return nil
}

func checkTicker() error {
	start := time.Now()
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for i := 0; i < 5; i++ {
		select {
		case <-tk.C:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("tick %d did not come", i)
		}
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		return fmt.Errorf("5 ticks of 10ms in %v", d)
	}
	return nil
}

func checkMonotonic() error {
	prev := time.Now()
	for i := 0; i < 10000; i++ {
		now := time.Now()
		if now.Before(prev) {
			return fmt.Errorf("time went backwards by %v", prev.Sub(now))
		}
		prev = now
	}
	if y := time.Now().Year(); y < 2020 {
		return fmt.Errorf("wall clock year %d", y)
	}
	return nil
}

func checkSignalSelf() error {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		return err
	}
	select {
	case s := <-ch:
		if s != syscall.SIGUSR1 {
			return fmt.Errorf("got %v", s)
		}
	case <-time.After(10 * time.Second):
		return errors.New("SIGUSR1 not delivered")
	}
	// A second signal, sent through os.Process.
	p, _ := os.FindProcess(os.Getpid())
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		return err
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		return errors.New("second SIGUSR1 not delivered")
	}
	return nil
}

func checkSignalIgnore() error {
	signal.Ignore(syscall.SIGUSR2)
	defer signal.Reset(syscall.SIGUSR2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		return err
	}
	time.Sleep(20 * time.Millisecond)
	if !signal.Ignored(syscall.SIGUSR2) {
		return errors.New("SIGUSR2 not reported as ignored")
	}
	// A child inherits the ignored disposition: kill -USR2 $$ does not
	// kill it.
	out, err := exec.Command("sh", "-c", "kill -USR2 $$; echo survived").Output()
	if err != nil || string(out) != "survived\n" {
		return fmt.Errorf("child with SIGUSR2 ignored: %q, %v", out, err)
	}
	return nil
}

func checkSignalChild() error {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	err := cmd.Wait()
	if err == nil || err.Error() != "signal: terminated" {
		return fmt.Errorf("wait: %v", err)
	}
	if time.Since(start) > 9*time.Second {
		return errors.New("child was not killed early")
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM || cmd.ProcessState.ExitCode() != -1 {
		return fmt.Errorf("wait status %v", cmd.ProcessState)
	}
	return nil
}

func checkContextKill() error {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "sleep", "10")
	if err := cmd.Start(); err != nil {
		cancel()
		return err
	}
	start := time.Now()
	time.AfterFunc(50*time.Millisecond, cancel)
	err := cmd.Wait()
	if err == nil || err.Error() != "signal: killed" {
		return fmt.Errorf("wait: %v", err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("ctx.Err %v", ctx.Err())
	}
	if time.Since(start) > 9*time.Second {
		return errors.New("child was not killed early")
	}
	return nil
}

func checkContextTimeout() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	results := make(chan int)
	go func() {
		select {
		case results <- 1:
		case <-ctx.Done():
		}
	}()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		return errors.New("context did not time out")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("ctx.Err %v", ctx.Err())
	}
	// A command under an expired context does not start.
	if err := exec.CommandContext(ctx, "true").Run(); err == nil {
		return errors.New("command ran under an expired context")
	}
	return nil
}
