package procfs

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dunix/fs/pipe"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// walk visits the tree under path as ctx: it lists every directory, stats
// every entry, reads every file, reads and follows every link. Errors are
// expected (permissions, junk); panics and hangs are not. It returns the
// number of entries seen.
func (e *env) walk(ctx *vfs.Ctx, path string, depth int) int {
	names, _, err := e.list(ctx, path)
	if err != nil || depth == 0 {
		return 0
	}
	n := len(names)
	for _, name := range names {
		p := path + "/" + name
		st, err := e.ns.Stat(ctx, e.root, p, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			continue
		}
		switch st.Type() {
		case unix.S_IFDIR:
			n += e.walk(ctx, p, depth-1)
		case unix.S_IFREG:
			e.read(ctx, p)
			if f, err := e.open(ctx, p, unix.O_RDONLY); err == nil {
				buf := make([]byte, 7)
				f.Pread(buf, 3)
				f.Pread(buf, 1<<40)
				f.Pread(buf, 0)
				f.Close()
			}
		case unix.S_IFLNK:
			e.ns.Readlink(ctx, e.root, p)
			e.ns.Stat(ctx, e.root, p, 0)
			e.ns.Lookup(ctx, e.root, p, 0)
		}
	}
	return n
}

// junkProc returns a process made of extreme and inconsistent values.
func junkProc(e *env) *fakeProc {
	r, w, err := pipe.New(&vfs.Cred{}, unix.O_NONBLOCK)
	e.must(err)
	e.t.Cleanup(func() { r.Close() })
	long := strings.Repeat("x\n\\)( ", 10)
	ps := ProcStat{
		PID: -7, TGID: math.MaxInt32, Comm: long, State: 'Q',
		PPID: -1, PGRP: math.MinInt32, Session: math.MaxInt32, TTY: ^uint64(0), TPGID: math.MinInt32,
		Flags: math.MaxUint32, MinFlt: math.MaxUint64, CMinFlt: math.MaxUint64, MajFlt: math.MaxUint64, CMajFlt: math.MaxUint64,
		UTime: math.MaxInt64, STime: math.MinInt64, CUTime: math.MaxInt64, CSTime: -1,
		Nice: -1000, Policy: unix.SCHED_FIFO, RTPriority: math.MaxUint32, NumThreads: -5,
		StartTime: math.MinInt64,
		Mem: &MemStat{
			Size: math.MaxUint64, Peak: math.MaxUint64, Locked: math.MaxUint64, Pinned: math.MaxUint64,
			HWM: math.MaxUint64, RSS: math.MaxUint64, Anon: math.MaxUint64, File: math.MaxUint64,
			Shmem: math.MaxUint64, Data: math.MaxUint64, Stack: math.MaxUint64, Text: math.MaxUint64,
			Lib: math.MaxUint64, PTE: math.MaxUint64, Swap: math.MaxUint64,
			StartCode: math.MaxUint64, EndCode: 0, StartStack: math.MaxUint64,
			StartData: math.MaxUint64, EndData: math.MaxUint64, StartBrk: math.MaxUint64,
			ArgStart: math.MaxUint64, ArgEnd: math.MaxUint64, EnvStart: math.MaxUint64, EnvEnd: math.MaxUint64,
		},
		SigPending: math.MaxUint64, SigShared: math.MaxUint64, SigBlocked: math.MaxUint64,
		SigIgnored: math.MaxUint64, SigCaught: math.MaxUint64, SigQueued: math.MinInt,
		UIDs: [4]uint32{math.MaxUint32, 0, 1, 2}, Groups: make([]uint32, 5000),
		Umask: math.MaxInt32, FDSize: -1, ExitSignal: math.MinInt32, ExitCode: math.MinInt32,
		Processor: math.MaxInt32, Caps: [5]uint64{math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64},
		NoNewPrivs: true, Affinity: make([]uint64, 3000),
		VoluntarySwitches: math.MaxUint64, InvoluntarySwitches: math.MaxUint64,
	}
	for i := range ps.Affinity {
		ps.Affinity[i] = 0xaaaaaaaaaaaaaaaa
	}
	p := &fakeProc{
		stat: ps, tids: []int32{-1, 0, 7, 7, 99, math.MaxInt32, 5, 3},
		threads: map[int32]ProcStat{99: {}, math.MaxInt32: ps, 3: {Mem: &MemStat{}}},
		cmdline: []byte(long), environ: make([]byte, 1<<16),
		ns: e.ns, cwd: e.root, root: e.root, fds: map[int32]fdEnt{3: {}, 0: {f: w}},
		fdList: []int32{-5, 3, 3, math.MaxInt32, 0, 9},
		maps: []Mapping{
			{Start: math.MaxUint64, End: 0, Offset: math.MaxUint64, Dev: ^uint64(0), Inode: math.MaxUint64, Name: "a\nb"},
			{Name: strings.Repeat("n", 5000)},
		},
		limits: make([]Limit, 100),
		uid:    math.MaxUint32, gid: math.MaxUint32,
		devs: map[int]uint64{1: ^uint64(0)},
	}
	return p
}

func TestJunk(t *testing.T) {
	e := newEnv(t)
	e.src.cpus = []CPU{{KHz: math.MaxUint64, Bogomips: math.NaN(), Flags: make([]string, 1000), Microcode: math.MaxUint32,
		Times: CPUTimes{User: math.MaxInt64, Nice: math.MaxInt64, System: math.MinInt64, Idle: -1}}}
	for range 200 {
		e.src.cpus = append(e.src.cpus, CPU{Times: CPUTimes{User: math.MaxInt64}})
	}
	e.src.mem = Meminfo{Total: math.MaxUint64, ActiveAnon: math.MaxUint64, ActiveFile: math.MaxUint64,
		SReclaimable: math.MaxUint64, SUnreclaim: math.MaxUint64, VmallocTotal: math.MaxUint64}
	e.src.counters = Counters{Load: [3]float64{math.NaN(), math.Inf(1), -5}, Running: -1, Threads: math.MinInt,
		LastPID: -1, Interrupts: math.MaxUint64}
	e.src.up, e.src.idle = math.MinInt64, math.MaxInt64
	e.src.sys = System{Hostname: strings.Repeat("h", 10000), PIDMax: math.MinInt,
		Filesystems: []FilesystemType{{}, {Name: "\n", NoDev: true}}}
	junk := junkProc(e)
	e.src.set(7, junk)
	e.src.set(8, &fakeProc{}) // nothing at all: no threads, no memory, no namespace
	e.src.set(9, &fakeProc{stat: ProcStat{Mem: nil, Affinity: []uint64{}}, threads: map[int32]ProcStat{9: {}}, tids: []int32{9}, nilLocs: true})
	e.src.pids = []int32{9, -3, 0, 7, 7, math.MaxInt32, 1, 8}

	root := vfs.RootCtx()
	owner := &vfs.Ctx{Cred: vfs.Cred{UID: math.MaxUint32, GID: math.MaxUint32}, Task: &fakeTask{7, 99}}
	other := &vfs.Ctx{Cred: vfs.Cred{UID: 5}, Task: &fakeTask{-1, -1}}
	for _, ctx := range []*vfs.Ctx{root, owner, other} {
		if n := e.walk(ctx, "/proc", 5); n < 20 {
			t.Errorf("walk saw %d entries", n)
		}
	}
	names, _, err := e.list(root, "/proc")
	e.must(err)
	if got := strings.Join(names[len(names)-4:], " "); got != "7 8 9 2147483647" {
		t.Errorf("junk PIDs listed as %s", got)
	}
	names, _, err = e.list(root, "/proc/7/task")
	e.must(err)
	if got := strings.Join(names, " "); got != "3 5 7 99 2147483647" {
		t.Errorf("junk threads listed as %s", got)
	}
	names, _, err = e.list(root, "/proc/7/fd")
	e.must(err)
	if got := strings.Join(names, " "); got != "0 3 9 2147483647" {
		t.Errorf("junk fds listed as %s", got)
	}
	got := e.mustRead(root, "/proc/7/stat")
	if n := 2 + len(strings.Fields(got[strings.LastIndexByte(got, ')')+2:])); n != 52 {
		t.Errorf("junk stat has %d fields: %q", n, got)
	}
	if !strings.HasPrefix(got, "-7 (x\n\\)( x\n\\)( x\n\\) R ") {
		t.Errorf("junk stat %q", got[:30])
	}
	got = e.mustRead(root, "/proc/7/status")
	if !strings.HasPrefix(got, "Name:\tx\\n\\\\)( x\\n\\\\)( x\\n\\\\\nUmask:\t0777\nState:\tR (running)\n") {
		t.Errorf("junk status %q", got[:60])
	}
	// A descriptor the Source reports open without a file.
	_, err = e.ns.Readlink(root, e.root, "/proc/7/fd/3")
	wantErr(t, "readlink of a nil file", err, unix.ENOENT)
	_, err = e.read(root, "/proc/7/fdinfo/3")
	wantErr(t, "fdinfo of a nil file", err, unix.ENOENT)
	// The pipe's other end is closed: the pipe can still be named.
	if s, err := e.ns.Readlink(root, e.root, "/proc/7/fd/0"); err != nil || !strings.HasPrefix(s, "pipe:[") {
		t.Errorf("readlink of the pipe: %q %v", s, err)
	}
}

// comparableProc is a Process that is a struct value, not a pointer:
// equal when it wraps the same fake.
type comparableProc struct{ *fakeProc }

// badProc is a Process that cannot be compared with == (a slice inside).
type badProc struct {
	*fakeProc
	junk []int
}

func TestProcessValues(t *testing.T) {
	e := newEnv(t)
	fp := &fakeProc{stat: ProcStat{PID: 10, Comm: "value"}, tids: []int32{10}, threads: map[int32]ProcStat{10: {PID: 10}}}
	e.src.set(10, comparableProc{fp})
	check(t, "comm of a value", e.mustRead(e.kctx, "/proc/10/comm"), "value\n")
	check(t, "again", e.mustRead(e.kctx, "/proc/10/task/10/comm"), "\n")
	e.src.set(11, badProc{fakeProc: fp})
	// Never the same as itself: the directory is made and is at once gone.
	_, err := e.read(e.kctx, "/proc/11/comm")
	wantErr(t, "read comm of an incomparable process", err, unix.ENOENT)
	// A nil Process is no process.
	e.src.set(12, nil)
	_, err = e.read(e.kctx, "/proc/12/comm")
	wantErr(t, "read comm of a nil process", err, unix.ENOENT)
	if n := e.walk(e.kctx, "/proc", 3); n < 20 {
		t.Errorf("walk saw %d entries", n)
	}
}

func TestPrune(t *testing.T) {
	e := newEnv(t)
	for pid := int32(1000); pid < 1300; pid++ {
		e.src.set(pid, &fakeProc{stat: ProcStat{PID: pid}})
		if _, err := e.ns.Stat(e.kctx, e.root, "/proc/"+strconv.Itoa(int(pid)), 0); err != nil {
			t.Fatal(err)
		}
	}
	e.fs.mu.Lock()
	n := len(e.fs.procs)
	e.fs.mu.Unlock()
	if n != 300 {
		t.Errorf("%d handles for 300 processes", n)
	}
	for pid := int32(1000); pid < 1290; pid++ {
		e.src.remove(pid)
	}
	if _, _, err := e.list(e.kctx, "/proc"); err != nil {
		t.Fatal(err)
	}
	e.fs.mu.Lock()
	n = len(e.fs.procs)
	e.fs.mu.Unlock()
	if n != 10 {
		t.Errorf("%d handles left for 10 processes", n)
	}
	// Lookups alone also sweep, once the table has doubled.
	for pid := int32(2000); pid < 2200; pid++ {
		e.src.set(pid, &fakeProc{})
		e.ns.Stat(e.kctx, e.root, "/proc/"+strconv.Itoa(int(pid)), 0)
		e.src.remove(pid)
	}
	e.fs.mu.Lock()
	n = len(e.fs.procs)
	e.fs.mu.Unlock()
	if n > 150 {
		t.Errorf("%d handles after lookups of dead processes", n)
	}
}

func TestConcurrent(t *testing.T) {
	w := newWorld(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // processes come and go, threads too
		defer wg.Done()
		rng := rand.New(rand.NewSource(1))
		for i := 0; !stop.Load(); i++ {
			pid := int32(400 + rng.Intn(20))
			if rng.Intn(2) == 0 {
				w.src.set(pid, &fakeProc{stat: ProcStat{PID: pid, Comm: "p" + strconv.Itoa(i), Mem: &MemStat{}},
					tids: []int32{pid}, threads: map[int32]ProcStat{pid: {PID: pid}}, uid: 1000, ns: w.ns, root: w.root, cwd: w.root})
			} else {
				w.src.remove(pid)
			}
			w.prog.mu.Lock()
			if i%2 == 0 {
				w.prog.tids = []int32{100, 102}
				delete(w.prog.threads, 101)
			} else {
				w.prog.tids = []int32{100, 101, 102}
				w.prog.threads[101] = w.prog.threads[100]
			}
			w.prog.mu.Unlock()
			time.Sleep(50 * time.Microsecond)
		}
	}()
	for _, ctx := range []*vfs.Ctx{w.kctx, w.user, w.stranger, w.kctx} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				w.walk(ctx, "/proc", 4)
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	for i := 0; i < 20; i++ {
		w.walk(w.user, "/proc/self", 3)
	}
	stop.Store(true)
	wg.Wait()
}

// TestFormatsRandom feeds random values to the formatters.
func TestFormatsRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	u64 := func() uint64 {
		switch rng.Intn(4) {
		case 0:
			return 0
		case 1:
			return math.MaxUint64 - uint64(rng.Intn(3))
		}
		return rng.Uint64() >> rng.Intn(64)
	}
	i32 := func() int32 { return int32(u64()) }
	dur := func() time.Duration { return time.Duration(u64()) }
	for i := 0; i < 2000; i++ {
		ps := ProcStat{
			PID: i32(), TGID: i32(), Comm: strings.Repeat(string(rune(rng.Intn(256))), rng.Intn(30)), State: byte(rng.Intn(256)),
			PPID: i32(), TTY: u64(), Flags: uint32(u64()), UTime: dur(), STime: dur(), CUTime: dur(), CSTime: dur(),
			Nice: i32(), Policy: uint32(rng.Intn(8)), RTPriority: uint32(u64()), NumThreads: i32(), StartTime: dur(),
			SigPending: u64(), SigCaught: u64(), Umask: i32(), FDSize: i32(), ExitCode: i32(), Processor: i32(),
		}
		if rng.Intn(2) == 0 {
			ps.Mem = &MemStat{Size: u64(), RSS: u64(), File: u64(), Shmem: u64(), Data: u64(), Stack: u64(), StartCode: u64()}
		}
		if rng.Intn(2) == 0 {
			ps.Affinity = make([]uint64, rng.Intn(4))
			for j := range ps.Affinity {
				ps.Affinity[j] = u64()
			}
		}
		ncpu := rng.Intn(300)
		b := formatStat(&ps, rng.Intn(2) == 0, rng.Intn(2) == 0, u64())
		s := string(b)
		if n := 2 + len(strings.Fields(s[strings.LastIndexByte(s, ')')+2:])); n != 52 && !strings.ContainsAny(ps.Comm, " \t\n\v\f\r\x85\xa0") {
			t.Fatalf("stat of %+v has %d fields: %q", ps, n, s)
		}
		formatStatus(&ps, ncpu, u64())
		formatStatm(ps.Mem)
		formatMaps([]Mapping{{Start: u64(), End: u64(), Offset: u64(), Dev: u64(), Inode: u64(), Name: ps.Comm}})
		formatLimits([]Limit{{u64(), u64()}})
		formatUptime(dur(), dur())
		formatLoadavg(&Counters{Load: [3]float64{rng.NormFloat64() * 1e10, 0, 0}, Running: int(i32())})
		formatMountinfo([]vfs.MountInfo{{ID: int(i32()), ParentID: int(i32()), Flags: uint32(u64()), Target: ps.Comm}}, nil)
		formatMounts([]vfs.MountInfo{{Flags: uint32(u64()), Source: ps.Comm}})
		formatCPUInfo([]CPU{{KHz: u64(), Bogomips: rng.NormFloat64()}})
	}
}

// TestFormatHelpers checks the bitmaps and escapes against Linux's.
func TestFormatHelpers(t *testing.T) {
	for _, c := range []struct {
		mask       []uint64
		n          int
		bits, list string
	}{
		{nil, 1, "1", "0"},
		{nil, 2, "3", "0-1"},
		{nil, 4, "f", "0-3"},
		{nil, 8, "ff", "0-7"},
		{[]uint64{0b1011}, 8, "0b", "0-1,3"},
		{nil, 33, "1,ffffffff", "0-32"},
		{[]uint64{1 << 40}, 64, "00000100,00000000", "40"},
		{[]uint64{0}, 4, "0", ""},
		{nil, 0, "", ""},
	} {
		m := cpuMask(c.mask, c.n)
		if got := string(appendBitmap(nil, m, c.n)); got != c.bits {
			t.Errorf("bitmap %v/%d: %q, want %q", c.mask, c.n, got, c.bits)
		}
		if got := string(appendBitmapList(nil, m, c.n)); got != c.list {
			t.Errorf("list %v/%d: %q, want %q", c.mask, c.n, got, c.list)
		}
	}
	if got := string(mountEscape(nil, "a b\tc\nd\\e")); got != `a\040b\011c\012d\134e` {
		t.Errorf("escape %q", got)
	}
	if got := string(mountEscape(nil, "")); got != "none" {
		t.Errorf("escape of nothing %q", got)
	}
	for name, want := range map[string]int32{"0": 0, "1": 1, "2147483647": math.MaxInt32} {
		if got, ok := parseID(name); !ok || got != want {
			t.Errorf("parseID(%q) = %d %v", name, got, ok)
		}
	}
	for _, name := range []string{"", "00", "01", "2147483648", "99999999999", "+1", "-1", " 1", "1 "} {
		if _, ok := parseID(name); ok {
			t.Errorf("parseID(%q) accepted", name)
		}
	}
	if a, b := pidIno(1, kFd, 3), pidIno(1, kFd, tidSub(1)|3); a == b || a < 1<<62 || b < 1<<62 {
		t.Errorf("inode numbers %x %x", a, b)
	}
}
