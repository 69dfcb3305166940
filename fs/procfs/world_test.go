package procfs

import (
	"testing"
	"time"

	"dunix/fs/memfs"
	"dunix/fs/pipe"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// world is an env with a file tree and four processes:
//
//   - 1 "init", root's, no descriptors;
//   - 100 "a) b" (a name that tests the parsing of stat), user 1000's,
//     threads 100, 101 ("worker") and 102, descriptors 0 (/etc/data,
//     read-only), 1 (a pipe's write end), 3 (/home/user, close-on-exec),
//     5 (/home/user/notes, read-write, append, at offset 7);
//   - 200 a zombie of user 1000's;
//   - 300 "other", user 2000's.
type world struct {
	*env
	init, prog, zombie, other *fakeProc
	user                      *vfs.Ctx // process 100, thread 101
	stranger                  *vfs.Ctx // process 300, user 2000
	pipeR, pipeW              *vfs.File
	tmp                       *memfs.FS
}

// progStat is the status of process 100.
func progStat() ProcStat {
	return ProcStat{
		PID: 100, TGID: 100, Comm: "a) b", State: 'S', PPID: 1, PGRP: 100, Session: 1,
		TTY: unix.Mkdev(4, 1), TPGID: 100, Flags: 0x400000,
		MinFlt: 10, CMinFlt: 1, MajFlt: 2,
		UTime: 1500 * time.Millisecond, STime: 250 * time.Millisecond, CSTime: 10 * time.Millisecond,
		NumThreads: 3, StartTime: 12340 * time.Millisecond,
		Mem: &MemStat{
			Size: 10 << 20, Peak: 12 << 20, HWM: 1400 << 10, RSS: 1200 << 10, Anon: 800 << 10, File: 400 << 10,
			Data: 2 << 20, Stack: 132 << 10, Text: 4 << 10, PTE: 48 << 10,
			StartCode: 0x400000, EndCode: 0x401000, StartStack: 0x7ffc0000,
			StartData: 0x600000, EndData: 0x601000, StartBrk: 0x602000,
			ArgStart: 0x7ffd0000, ArgEnd: 0x7ffd0010, EnvStart: 0x7ffd0010, EnvEnd: 0x7ffd0100,
		},
		SigBlocked: 1 << 1, SigIgnored: 1 << 12, SigCaught: 1<<16 | 1<<33,
		SigQueued: 1,
		UIDs:      [4]uint32{1000, 1000, 1000, 1000}, GIDs: [4]uint32{1000, 1000, 1000, 1000},
		Groups: []uint32{1000, 27}, Umask: 0o22, FDSize: 64, ExitSignal: 17, Processor: 1,
		Caps: [5]uint64{0, 0, 0, 0x1ffffffffff, 0}, VoluntarySwitches: 7, InvoluntarySwitches: 3,
	}
}

func newWorld(t testing.TB) *world {
	e := newEnv(t)
	w := &world{env: e}
	for _, d := range []string{"bin", "etc", "home", "home/user", "tmp dir"} {
		e.must(e.ns.Mkdir(e.kctx, e.root, d, 0o755))
	}
	e.write("bin/prog", "\x7fELF program")
	e.write("etc/data", "hello data\n")
	e.write("home/user/notes", "notes: 0123456789")
	w.tmp = memfs.New(nil)
	e.must(e.ns.Mount(e.kctx, e.root, "tmp dir", w.tmp, vfs.MountOptions{Source: "tmpfs", Type: "tmpfs", Flags: unix.MS_RDONLY | unix.MS_RELATIME, Data: "size=10k"}))

	open := func(path string, flags int) *vfs.File {
		f, err := e.ns.Open(e.kctx, e.root, path, flags, 0)
		e.must(err)
		return f
	}
	exe := open("bin/prog", unix.O_RDONLY)
	home, err := e.ns.Lookup(e.kctx, e.root, "home/user", 0)
	e.must(err)

	w.init = &fakeProc{
		stat: ProcStat{PID: 1, TGID: 1, Comm: "init", State: 'S', TPGID: -1, NumThreads: 1, Umask: 0o22,
			Mem: &MemStat{Size: 1 << 20}, ExitSignal: 17},
		tids: []int32{1}, threads: map[int32]ProcStat{}, cmdline: []byte("/sbin/init\x00"),
		ns: e.ns, cwd: e.root, root: e.root, fds: map[int32]fdEnt{},
	}
	w.init.threads[1] = w.init.stat

	ps := progStat()
	w.prog = &fakeProc{
		stat: ps, tids: []int32{100, 101, 102}, threads: map[int32]ProcStat{},
		cmdline: []byte("prog\x00-v\x00a b\x00"), environ: []byte("HOME=/home/user\x00TERM=vt100\x00"),
		ns: e.ns, exe: exe, cwd: home, root: e.root, fds: map[int32]fdEnt{},
		maps: []Mapping{
			{Start: 0x400000, End: 0x401000, Read: true, Exec: true, Offset: 0, Dev: unix.Mkdev(0, 17), Inode: 5, Name: "/bin/prog"},
			{Start: 0x602000, End: 0x623000, Read: true, Write: true, Name: "[heap]"},
			{Start: 0x7f0000000000, End: 0x7f0000001000, Read: true, Write: true, Shared: true, Offset: 0x1000},
			{Start: 0x7ffc0000, End: 0x7ffe1000, Read: true, Write: true, Name: "[stack]"},
		},
		limits: []Limit{
			unix.RLIMIT_CPU: {Unlimited, Unlimited}, unix.RLIMIT_FSIZE: {Unlimited, Unlimited},
			unix.RLIMIT_DATA: {Unlimited, Unlimited}, unix.RLIMIT_STACK: {8 << 20, Unlimited},
			unix.RLIMIT_CORE: {0, Unlimited}, unix.RLIMIT_RSS: {Unlimited, Unlimited},
			unix.RLIMIT_NPROC: {63432, 63432}, unix.RLIMIT_NOFILE: {1024, 4096},
			unix.RLIMIT_MEMLOCK: {8 << 20, 8 << 20}, unix.RLIMIT_AS: {Unlimited, Unlimited},
			unix.RLIMIT_LOCKS: {Unlimited, Unlimited}, unix.RLIMIT_SIGPENDING: {63432, 63432},
			unix.RLIMIT_MSGQUEUE: {819200, 819200}, unix.RLIMIT_NICE: {0, 0},
			unix.RLIMIT_RTPRIO: {0, 0}, unix.RLIMIT_RTTIME: {Unlimited, Unlimited},
		},
		uid: 1000, gid: 1000,
	}
	w.prog.threads[100] = ps
	t1 := ps
	t1.PID, t1.Comm, t1.State, t1.UTime, t1.Processor = 101, "worker", 'R', 20*time.Millisecond, 0
	w.prog.threads[101] = t1
	t2 := ps
	t2.PID, t2.Comm = 102, "a) b"
	w.prog.threads[102] = t2

	w.pipeR, w.pipeW, err = pipe.New(&vfs.Cred{UID: 1000, GID: 1000}, 0)
	e.must(err)
	notes := open("home/user/notes", unix.O_RDWR|unix.O_APPEND)
	if _, err := notes.Seek(7, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	w.pipeW.IncRef()
	w.prog.fds[0] = fdEnt{f: open("etc/data", unix.O_RDONLY)}
	w.prog.fds[1] = fdEnt{f: w.pipeW}
	w.prog.fds[3] = fdEnt{f: open("home/user", unix.O_RDONLY|unix.O_DIRECTORY), cloexec: true}
	w.prog.fds[5] = fdEnt{f: notes}

	w.zombie = &fakeProc{
		stat: ProcStat{PID: 200, TGID: 200, Comm: "dead", State: 'Z', PPID: 100, PGRP: 100, Session: 1,
			TPGID: -1, NumThreads: 1, Umask: -1, ExitSignal: 17, ExitCode: 0x0100,
			UIDs: [4]uint32{1000, 1000, 1000, 1000}, GIDs: [4]uint32{1000, 1000, 1000, 1000}},
		tids: []int32{200}, threads: map[int32]ProcStat{}, uid: 1000, gid: 1000, fds: map[int32]fdEnt{},
	}
	w.zombie.threads[200] = w.zombie.stat

	w.other = &fakeProc{
		stat: ProcStat{PID: 300, TGID: 300, Comm: "other", State: 'S', PPID: 1, PGRP: 300, Session: 300,
			TPGID: -1, NumThreads: 1, Umask: 0o77, Mem: &MemStat{Size: 1 << 20, StartCode: 0x1000, EndCode: 0x2000}},
		tids: []int32{300}, threads: map[int32]ProcStat{}, cmdline: []byte("other\x00"), environ: []byte("SECRET=1\x00"),
		ns: e.ns, exe: exe, cwd: e.root, root: e.root, fds: map[int32]fdEnt{}, uid: 2000, gid: 2000,
	}
	w.other.threads[300] = w.other.stat
	exe.IncRef()

	for pid, p := range map[int32]*fakeProc{1: w.init, 100: w.prog, 200: w.zombie, 300: w.other} {
		e.src.set(pid, p)
	}
	w.user = &vfs.Ctx{Cred: vfs.Cred{UID: 1000, GID: 1000, Groups: []uint32{1000, 27}}, Task: &fakeTask{100, 101}}
	w.stranger = &vfs.Ctx{Cred: vfs.Cred{UID: 2000, GID: 2000}, Task: &fakeTask{300, 300}}

	e.src.cpus = []CPU{
		{VendorID: "GenuineIntel", Family: 6, Model: 85, ModelName: "Intel Xeon", Stepping: 7, Microcode: 0x5003604,
			KHz: 2100000, CacheKB: 16384, Siblings: 2, Cores: 2, CPUIDLevel: 22, Flags: []string{"fpu", "sse2"},
			Bugs: []string{"spectre_v1"}, Bogomips: 4200, CLFlush: 64, CacheAlign: 64, PhysBits: 46, VirtBits: 48,
			Times: CPUTimes{User: 1230 * time.Millisecond, System: 50 * time.Millisecond, Idle: 10 * time.Second}},
		{VendorID: "GenuineIntel", Family: 6, Model: 85, ModelName: "Intel Xeon", Stepping: 7, Microcode: 0x5003604,
			KHz: 2100500, CacheKB: 16384, CoreID: 1, Siblings: 2, Cores: 2, APICID: 1, CPUIDLevel: 22,
			Bogomips: 4200.5, CLFlush: 64, CacheAlign: 64, PhysBits: 46, VirtBits: 48,
			Times: CPUTimes{User: 10 * time.Millisecond, Nice: 20 * time.Millisecond, Idle: 11 * time.Second, IOWait: 30 * time.Millisecond}},
	}
	e.src.sys = System{
		Sysname: "Linux", Release: "6.6.0-dunix", Version: "#1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026",
		Hostname: "node1", Domainname: "(none)", BuiltBy: "dunix@build", Compiler: "go1.26",
		Cmdline:     "console=ttyS0 quiet",
		Filesystems: []FilesystemType{{Name: "proc", NoDev: true}, {Name: "tmpfs", NoDev: true}, {Name: "ext4"}},
		PIDMax:      4194304, PipeMaxSize: 1048576, OvercommitMemory: 0,
	}
	e.src.up, e.src.idle = 12345670*time.Millisecond, 2*12345670*time.Millisecond+5*time.Millisecond
	e.src.counters = Counters{
		Load: [3]float64{0.5, 0.126, 1.999}, Running: 2, Blocked: 1, Threads: 83, LastPID: 9940,
		Interrupts: 68623371, ContextSwitches: 214804017, Forks: 113725,
		BootTime: time.Unix(1795593743, 0),
	}
	t.Cleanup(func() {
		for _, p := range []*fakeProc{w.init, w.prog, w.zombie, w.other} {
			p.closeFDs()
		}
		w.pipeR.Close()
		w.pipeW.Close()
		exe.Close()
		exe.Close()
	})
	return w
}
