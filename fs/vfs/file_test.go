package vfs_test

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"

	"dunix/fs/vfs"
	"dunix/fs/waiter"

	"golang.org/x/sys/unix"
)

func TestFileReadWriteSeek(t *testing.T) {
	e := newEnv(t)
	f, err := e.ns.Open(e.ctx, e.root, "f", unix.O_RDWR|unix.O_CREAT, 0o644)
	e.must(err)
	defer f.Close()
	if n, err := f.Write([]byte("hello world")); n != 11 || err != nil {
		t.Fatalf("write %d %v", n, err)
	}
	type seek struct {
		off    int64
		whence int
		want   int64
		err    error
	}
	for _, s := range []seek{
		{0, io.SeekCurrent, 11, nil},
		{-5, io.SeekEnd, 6, nil},
		{2, io.SeekCurrent, 8, nil},
		{-1, io.SeekStart, 0, unix.EINVAL},
		{-100, io.SeekCurrent, 0, unix.EINVAL},
		{100, io.SeekStart, 100, nil},
		{math.MaxInt64, io.SeekCurrent, 0, unix.EINVAL},
		{3, unix.SEEK_DATA, 3, nil},
		{3, unix.SEEK_HOLE, 11, nil},
		{11, unix.SEEK_DATA, 0, unix.ENXIO},
		{11, unix.SEEK_HOLE, 0, unix.ENXIO},
		{0, 7, 0, unix.EINVAL},
		{6, io.SeekStart, 6, nil},
	} {
		got, err := f.Seek(s.off, s.whence)
		if err != s.err || (err == nil && got != s.want) {
			t.Errorf("seek(%d, %d) = %d, %v; want %d, %v", s.off, s.whence, got, err, s.want, s.err)
		}
	}
	buf := make([]byte, 3)
	if n, _ := f.Read(buf); string(buf[:n]) != "wor" {
		t.Errorf("read %q", buf[:n])
	}
	if f.Offset() != 9 {
		t.Errorf("offset %d", f.Offset())
	}
	if n, _ := f.Pread(buf, 0); string(buf[:n]) != "hel" || f.Offset() != 9 {
		t.Errorf("pread %q, offset %d", buf[:n], f.Offset())
	}
	if _, err := f.Pread(buf, -1); err != unix.EINVAL {
		t.Errorf("pread -1: %v", err)
	}
	if n, err := f.Pread(buf, 1000); n != 0 || err != nil {
		t.Errorf("pread past end %d %v", n, err)
	}
	// Writing past the end leaves a hole of zeros.
	if _, err := f.Pwrite([]byte("!"), 20); err != nil {
		t.Fatal(err)
	}
	all := make([]byte, 30)
	n, _ := f.Pread(all, 0)
	if got := string(all[:n]); got != "hello world\x00\x00\x00\x00\x00\x00\x00\x00\x00!" {
		t.Errorf("content %q", got)
	}
	if _, err := f.Pwrite([]byte("x"), math.MaxInt64); err != unix.EFBIG {
		t.Errorf("pwrite at max: %v", err)
	}
	// ftruncate, fsync, ioctl, poll defaults.
	e.must(f.Truncate(5))
	if st, _ := f.Stat(); st.Size != 5 {
		t.Errorf("size %d", st.Size)
	}
	e.must(f.Sync())
	if _, err := f.Ioctl(e.ctx, 0x5401, 0); err != unix.ENOTTY {
		t.Errorf("ioctl: %v", err)
	}
	if f.Pollable() || f.Readiness(waiter.EventIn|waiter.EventOut|waiter.EventPri) != waiter.EventIn|waiter.EventOut {
		t.Errorf("readiness of a regular file")
	}
	if f.IsStream() || !f.Readable() || !f.Writable() {
		t.Errorf("modes")
	}
}

func TestFileAccessModes(t *testing.T) {
	e := newEnv(t)
	e.write("f", "abc")
	r, err := e.ns.Open(e.ctx, e.root, "f", unix.O_RDONLY, 0)
	e.must(err)
	defer r.Close()
	w, err := e.ns.Open(e.ctx, e.root, "f", unix.O_WRONLY, 0)
	e.must(err)
	defer w.Close()
	buf := make([]byte, 4)
	if _, err := r.Write(buf); err != unix.EBADF {
		t.Errorf("write on O_RDONLY: %v", err)
	}
	if _, err := r.Pwrite(buf, 0); err != unix.EBADF {
		t.Errorf("pwrite on O_RDONLY: %v", err)
	}
	if _, err := w.Read(buf); err != unix.EBADF {
		t.Errorf("read on O_WRONLY: %v", err)
	}
	if err := r.Truncate(0); err != unix.EINVAL {
		t.Errorf("ftruncate O_RDONLY: %v", err)
	}
	if err := w.Truncate(-1); err != unix.EINVAL {
		t.Errorf("ftruncate -1: %v", err)
	}
	d, err := e.ns.Open(e.ctx, e.root, "/", unix.O_RDONLY, 0)
	e.must(err)
	defer d.Close()
	if _, err := d.Read(buf); err != unix.EISDIR {
		t.Errorf("read dir: %v", err)
	}
	if err := d.Truncate(0); err != unix.EINVAL {
		t.Errorf("ftruncate dir: %v", err)
	}
	if err := r.Readdir(nil, func(vfs.Dirent) bool { return true }); err != unix.ENOTDIR {
		t.Errorf("readdir file: %v", err)
	}
	if _, err := d.Seek(0, io.SeekEnd); err != unix.EINVAL {
		t.Errorf("seek end on dir: %v", err)
	}
	// O_PATH files only locate.
	p, err := e.ns.Open(e.ctx, e.root, "f", unix.O_PATH|unix.O_RDWR, 0)
	e.must(err)
	defer p.Close()
	if !p.IsPath() || p.Readable() || p.Writable() {
		t.Errorf("O_PATH modes")
	}
	if _, err := p.Read(buf); err != unix.EBADF {
		t.Errorf("read O_PATH: %v", err)
	}
	if _, err := p.Seek(0, 0); err != unix.EBADF {
		t.Errorf("seek O_PATH: %v", err)
	}
	if st, err := p.Stat(); err != nil || st.Size != 3 {
		t.Errorf("fstat O_PATH: %+v %v", st, err)
	}
	if p.Readiness(waiter.EventIn) != waiter.EventNVal {
		t.Errorf("readiness O_PATH")
	}
	// Flags and SetFlags.
	f, err := e.ns.Open(e.ctx, e.root, "f", unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	e.must(err)
	defer f.Close()
	if got := f.Flags(); got != unix.O_RDWR|unix.O_NONBLOCK {
		t.Errorf("flags %#x", got)
	}
	f.SetFlags(unix.O_APPEND | unix.O_WRONLY | unix.O_CREAT)
	if got := f.Flags(); got != unix.O_RDWR|unix.O_APPEND || f.NonBlocking() {
		t.Errorf("flags after F_SETFL %#x", got)
	}
	if _, err := f.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if got := e.read("f"); got != "abcd" {
		t.Errorf("append via F_SETFL: %q", got)
	}
}

func TestAppendConcurrent(t *testing.T) {
	e := newEnv(t)
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := e.ns.Open(e.ctx, e.root, "log", unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND, 0o644)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for j := range lines {
				line := fmt.Sprintf("writer %d line %03d\n", i, j)
				if n, err := f.Write([]byte(line)); n != len(line) || err != nil {
					t.Errorf("write %d %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(e.read("log"), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines", len(got))
	}
	next := make([]int, writers)
	for _, l := range got {
		var w, n int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &w, &n); err != nil || n != next[w] {
			t.Fatalf("line %q (want line %d)", l, next[w])
		}
		next[w]++
	}
}

func TestSharedOffset(t *testing.T) {
	e := newEnv(t)
	e.write("f", strings.Repeat("x", 10000))
	f, err := e.ns.Open(e.ctx, e.root, "f", unix.O_RDONLY, 0)
	e.must(err)
	f.IncRef() // a dup shares the description and its offset
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 7)
			for {
				n, err := f.Read(buf)
				if err != nil {
					t.Error(err)
				}
				if n == 0 {
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if total != 10000 {
		t.Errorf("read %d bytes in total through a shared offset", total)
	}
	if f.Refs() != 2 {
		t.Errorf("refs %d", f.Refs())
	}
	f.Close()
	f.Close()
	defer func() {
		if recover() == nil {
			t.Errorf("third Close did not panic")
		}
	}()
	f.Close()
}

func TestReaddir(t *testing.T) {
	e := newEnv(t)
	e.mkdir("d", 0o755)
	want := []string{".", ".."}
	for i := range 300 {
		name := fmt.Sprintf("f%03d", i)
		e.write("d/"+name, "")
		want = append(want, name)
	}
	e.mkdir("d/sub", 0o755)
	e.symlink("x", "d/link")
	want = append(want, "sub", "link")
	d, err := e.ns.Open(e.ctx, e.root, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	e.must(err)
	defer d.Close()
	// Read in small batches, resuming each time.
	var got []vfs.Dirent
	for {
		k := 0
		err := d.Readdir(nil, func(de vfs.Dirent) bool {
			if k == 7 {
				return false
			}
			k++
			got = append(got, de)
			return true
		})
		e.must(err)
		if k == 0 {
			break
		}
	}
	var gotNames []string
	for _, de := range got {
		gotNames = append(gotNames, de.Name)
	}
	if strings.Join(gotNames, ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v", gotNames)
	}
	dst, sst := e.stat("d"), e.stat("d/sub")
	if got[0].Ino != dst.Ino || got[0].Type != unix.DT_DIR || got[1].Ino != e.stat("/").Ino {
		t.Errorf("dots %+v %+v", got[0], got[1])
	}
	if de := got[len(got)-2]; de.Ino != sst.Ino || de.Type != unix.DT_DIR {
		t.Errorf("sub %+v", de)
	}
	if de := got[len(got)-1]; de.Type != unix.DT_LNK || got[5].Type != unix.DT_REG {
		t.Errorf("types %+v %+v", de, got[5])
	}
	// Seeking to a reported offset resumes after that entry.
	pos := got[100].Off
	if _, err := d.Seek(pos, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var first vfs.Dirent
	d.Readdir(nil, func(de vfs.Dirent) bool { first = de; return false })
	if first.Name != got[101].Name {
		t.Errorf("after seek to %d: %q, want %q", pos, first.Name, got[101].Name)
	}
	if cur, _ := d.Seek(0, io.SeekCurrent); cur != pos {
		t.Errorf("telldir %d, want %d", cur, pos)
	}
	// A removed directory reads as ENOENT.
	e.mkdir("gone", 0o755)
	g, err := e.ns.Open(e.ctx, e.root, "gone", unix.O_RDONLY, 0)
	e.must(err)
	defer g.Close()
	e.must(e.ns.Rmdir(e.ctx, e.root, "gone"))
	if err := g.Readdir(nil, func(vfs.Dirent) bool { return true }); err != unix.ENOENT {
		t.Errorf("readdir of removed dir: %v", err)
	}
	// Size grows with entries.
	if st := e.stat("d"); st.Size != 304*20 {
		t.Errorf("dir size %d", st.Size)
	}
}

func TestReaddirConcurrentChanges(t *testing.T) {
	e := newEnv(t)
	e.mkdir("d", 0o755)
	stable := map[string]bool{}
	for i := range 200 {
		name := fmt.Sprintf("s%03d", i)
		e.write("d/"+name, "")
		stable[name] = true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // churn: create, rename and remove other names
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := fmt.Sprintf("d/t%d", i%50)
			f, err := e.ns.Open(e.ctx, e.root, n, unix.O_CREAT|unix.O_WRONLY, 0o644)
			if err == nil {
				f.Close()
			}
			e.ns.Rename(e.ctx, e.root, n, e.root, n+"r", 0)
			e.ns.Unlink(e.ctx, e.root, n+"r")
		}
	}()
	for range 50 {
		d, err := e.ns.Open(e.ctx, e.root, "d", unix.O_RDONLY, 0)
		e.must(err)
		seen := map[string]int{}
		for {
			k := 0
			d.Readdir(nil, func(de vfs.Dirent) bool {
				if k == 13 {
					return false
				}
				k++
				seen[de.Name]++
				return true
			})
			if k == 0 {
				break
			}
		}
		d.Close()
		for name := range stable {
			if seen[name] != 1 {
				t.Fatalf("%s seen %d times", name, seen[name])
			}
		}
	}
	close(stop)
	wg.Wait()
}

// TestConcurrentDirectoryOps runs many goroutines creating, renaming,
// linking and unlinking in one directory, then checks that the directory
// is consistent: readdir, lookups and link counts agree.
func TestConcurrentDirectoryOps(t *testing.T) {
	e := newEnv(t)
	e.mkdir("d", 0o777)
	const workers, ops = 8, 400
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := user(uint32(1000+w%2), 1000)
			for i := range ops {
				a := fmt.Sprintf("d/n%d", (i*7+w)%23)
				b := fmt.Sprintf("d/n%d", (i*5+w*3)%23)
				switch (i + w) % 6 {
				case 0:
					if f, err := e.ns.Open(ctx, e.root, a, unix.O_CREAT|unix.O_WRONLY, 0o666); err == nil {
						f.Write([]byte(a))
						f.Close()
					}
				case 1:
					e.ns.Rename(ctx, e.root, a, e.root, b, 0)
				case 2:
					e.ns.Unlink(ctx, e.root, a)
				case 3:
					e.ns.Link(ctx, e.root, a, e.root, b, 0)
				case 4:
					e.ns.Mkdir(ctx, e.root, a, 0o777)
				case 5:
					if e.ns.Rmdir(ctx, e.root, a) != nil {
						e.ns.Rename(ctx, e.root, a, e.root, b, unix.RENAME_EXCHANGE)
					}
				}
			}
		}()
	}
	wg.Wait()
	d, err := e.ns.Open(e.ctx, e.root, "d", unix.O_RDONLY, 0)
	e.must(err)
	defer d.Close()
	ents := names(t, d)[2:]
	sort.Strings(ents)
	links := map[uint64]uint32{}
	subdirs := uint32(0)
	for _, n := range ents {
		st, err := e.ns.Stat(e.ctx, e.root, "d/"+n, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			t.Fatalf("%s listed but: %v", n, err)
		}
		if st.IsDir() {
			subdirs++
			if st.Nlink != 2 {
				t.Errorf("%s: dir nlink %d", n, st.Nlink)
			}
		} else {
			links[st.Ino]++
		}
	}
	for ino, n := range links {
		for _, name := range ents {
			st, _ := e.ns.Stat(e.ctx, e.root, "d/"+name, 0)
			if st.Ino == ino && st.Nlink != n {
				t.Errorf("%s: nlink %d, %d names", name, st.Nlink, n)
			}
		}
	}
	if st := e.stat("d"); st.Nlink != 2+subdirs {
		t.Errorf("d nlink %d, %d subdirectories", st.Nlink, subdirs)
	}
	for i := range 23 {
		n := fmt.Sprintf("n%d", i)
		_, err := e.ns.Stat(e.ctx, e.root, "d/"+n, unix.AT_SYMLINK_NOFOLLOW)
		listed := sort.SearchStrings(ents, n) < len(ents) && ents[sort.SearchStrings(ents, n)] == n
		if (err == nil) != listed {
			t.Errorf("%s: stat %v, listed %v", n, err, listed)
		}
	}
}

// TestConcurrentTreeRenames moves directories around a small tree from
// many goroutines (checking for deadlocks and cycles), then checks that
// the tree is still a tree.
func TestConcurrentTreeRenames(t *testing.T) {
	e := newEnv(t)
	dirs := []string{"a", "b", "c", "d", "e", "f"}
	for _, d := range dirs {
		e.mkdir(d, 0o755)
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				src := dirs[(i+w)%len(dirs)]
				dst := dirs[(i*3+w*5)%len(dirs)]
				// Find src wherever it is now, move it into dst.
				sp, ok := find(e, src)
				dp, ok2 := find(e, dst)
				if !ok || !ok2 {
					continue
				}
				e.ns.Rename(e.ctx, e.root, sp, e.root, dp+"/"+src, 0)
				if i%10 == 0 {
					e.ns.Rename(e.ctx, e.root, dp+"/"+src, e.root, src, 0)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	var walk func(p string, depth int)
	walk = func(p string, depth int) {
		if depth > len(dirs)+1 {
			t.Fatalf("cycle at %s", p)
		}
		d, err := e.ns.Open(e.ctx, e.root, p, unix.O_RDONLY, 0)
		e.must(err)
		ents := names(t, d)[2:]
		d.Close()
		l, err := e.ns.LookupDir(e.ctx, e.root, p, 0)
		e.must(err)
		if got, err := e.ns.Path(e.ctx, l); err != nil || got != p {
			t.Errorf("path %q, want %q (%v)", got, p, err)
		}
		for _, n := range ents {
			if seen[n] {
				t.Fatalf("%s seen twice", n)
			}
			seen[n] = true
			walk(strings.TrimSuffix(p, "/")+"/"+n, depth+1)
		}
	}
	walk("/", 0)
	if len(seen) != len(dirs) {
		t.Errorf("found %d of %d directories", len(seen), len(dirs))
	}
}

// find returns the path of directory name anywhere in the tree.
func find(e *env, name string) (string, bool) {
	var res string
	var walk func(p string, depth int) bool
	walk = func(p string, depth int) bool {
		if depth > 8 {
			return false
		}
		d, err := e.ns.Open(e.ctx, e.root, p, unix.O_RDONLY, 0)
		if err != nil {
			return false
		}
		var ents []string
		d.Readdir(nil, func(de vfs.Dirent) bool {
			if de.Name != "." && de.Name != ".." {
				ents = append(ents, de.Name)
			}
			return true
		})
		d.Close()
		for _, n := range ents {
			q := strings.TrimSuffix(p, "/") + "/" + n
			if n == name {
				res = q
				return true
			}
			if walk(q, depth+1) {
				return true
			}
		}
		return false
	}
	ok := walk("/", 0)
	return res, ok
}

func TestToErrno(t *testing.T) {
	if vfs.ToErrno(nil) != 0 || vfs.ToErrno(unix.ENOENT) != unix.ENOENT ||
		vfs.ToErrno(fmt.Errorf("x: %w", unix.EPERM)) != unix.EPERM || vfs.ToErrno(io.EOF) != unix.EIO {
		t.Error("ToErrno")
	}
}
