package proc

import (
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"dunix/arch/amd64"
	"dunix/fs/procfs"
	"dunix/fs/vfs"
	"dunix/kernel"
	"dunix/proc/vm"
)

// What /proc shows: the process layer as a procfs.Source.

// ProcFS returns the node's processes and system state as procfs shows
// them.
func (n *Node) ProcFS() procfs.Source { return procSource{n} }

type procSource struct{ n *Node }

func (s procSource) PIDs() []int32 {
	s.n.mu.Lock()
	out := make([]int32, 0, len(s.n.procs))
	for pid := range s.n.procs {
		out = append(out, pid)
	}
	s.n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (s procSource) Process(pid int32) (procfs.Process, bool) {
	p := s.n.Process(pid)
	if p == nil {
		return nil, false
	}
	return procView{p}, true
}

func (s procSource) Caller(ctx *vfs.Ctx) (int32, int32, bool) {
	t := caller(ctx)
	if t == nil {
		return 0, 0, false
	}
	return t.p.PID, t.TID, true
}

func (s procSource) System() procfs.System {
	sys := procfs.System{
		Sysname: unameSysname, Release: unameRelease, Version: unameVersion,
		Hostname: s.n.hostname(), Domainname: unameDomain,
		BuiltBy: "dunix@dunix", Compiler: runtime.Version(),
		PIDMax: int(maxPID), PipeMaxSize: 1 << 20,
	}
	if len(os.Args) > 1 {
		sys.Cmdline = strings.Join(os.Args[1:], " ")
	}
	names := make([]string, 0, len(s.n.FSTypes))
	for name := range s.n.FSTypes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sys.Filesystems = append(sys.Filesystems, procfs.FilesystemType{Name: name, NoDev: true})
	}
	return sys
}

func (s procSource) Meminfo() procfs.Meminfo {
	total, free := s.n.memory()
	return procfs.Meminfo{Total: total, Free: free, Available: free,
		CommitLimit: total, DirectMap4k: total}
}

func (s procSource) Uptime() (time.Duration, time.Duration) {
	st := kernel.ReadStats()
	var idle uint64
	for i := uint64(0); i < st.NCPU && i < uint64(len(st.CPU)); i++ {
		idle += st.CPU[i].IdleNs
	}
	return time.Duration(s.n.now()), time.Duration(idle)
}

func (s procSource) CPUs() []procfs.CPU {
	st := kernel.ReadStats()
	id := cpuIdentity()
	out := make([]procfs.CPU, 0, st.NCPU)
	for i := uint64(0); i < st.NCPU && i < uint64(len(st.CPU)); i++ {
		c := id
		c.APICID = int(st.CPU[i].APICID)
		c.CoreID, c.Cores, c.Siblings = int(i), int(st.NCPU), int(st.NCPU)
		c.KHz = st.TSCHz / 1000
		c.Bogomips = float64(st.TSCHz) / 500000
		c.Times.Idle = time.Duration(st.CPU[i].IdleNs)
		up := time.Duration(st.UptimeNs)
		if up > c.Times.Idle {
			c.Times.System = up - c.Times.Idle // busy time, not split yet
		}
		out = append(out, c)
	}
	return out
}

func (s procSource) Counters() procfs.Counters {
	st := kernel.ReadStats()
	c := procfs.Counters{Forks: s.n.forks.Load(),
		BootTime: time.Unix(0, st.WallBootNs)}
	for i := uint64(0); i < st.NCPU && i < uint64(len(st.CPU)); i++ {
		c.Interrupts += st.CPU[i].Interrupts
		c.ContextSwitches += st.CPU[i].Switches
	}
	s.n.mu.Lock()
	c.LastPID = s.n.nextPID - 1
	threads := make([]*Thread, 0, len(s.n.threads))
	for _, t := range s.n.threads {
		threads = append(threads, t)
	}
	s.n.mu.Unlock()
	c.Threads = len(threads)
	for _, t := range threads {
		if !t.acct.sleeping.Load() {
			c.Running++
		}
	}
	c.Load[0] = float64(c.Running) // an instantaneous figure, not an average yet
	return c
}

// cpuIdentity reads the CPU's name and features with CPUID.
func cpuIdentity() procfs.CPU {
	var c procfs.CPU
	max0, b, cx, d := amd64.CPUID(0, 0)
	c.CPUIDLevel = int(max0)
	c.VendorID = string(le32(b)) + string(le32(d)) + string(le32(cx))
	a, b, cx, d := amd64.CPUID(1, 0)
	c.Stepping = int(a & 0xF)
	c.Model = int(a>>4&0xF | a>>12&0xF0)
	c.Family = int(a >> 8 & 0xF)
	if c.Family == 0xF {
		c.Family += int(a >> 20 & 0xFF)
	}
	c.CLFlush = int(b>>8&0xFF) * 8
	c.CacheAlign = c.CLFlush
	for i, name := range cpuid1EDX {
		if name != "" && d&(1<<i) != 0 {
			c.Flags = append(c.Flags, name)
		}
	}
	for i, name := range cpuid1ECX {
		if name != "" && cx&(1<<i) != 0 {
			c.Flags = append(c.Flags, name)
		}
	}
	if max0 >= 7 {
		_, b, _, _ := amd64.CPUID(7, 0)
		for i, name := range cpuid7EBX {
			if name != "" && b&(1<<i) != 0 {
				c.Flags = append(c.Flags, name)
			}
		}
	}
	ext, _, _, _ := amd64.CPUID(0x80000000, 0)
	if ext >= 0x80000004 {
		var brand []byte
		for l := uint32(0x80000002); l <= 0x80000004; l++ {
			a, b, cx, d := amd64.CPUID(l, 0)
			brand = append(append(append(append(brand, le32(a)...), le32(b)...), le32(cx)...), le32(d)...)
		}
		c.ModelName = strings.TrimSpace(strings.TrimRight(string(brand), "\x00"))
	}
	if ext >= 0x80000008 {
		a, _, _, _ := amd64.CPUID(0x80000008, 0)
		c.PhysBits, c.VirtBits = int(a&0xFF), int(a>>8&0xFF)
	}
	return c
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// Linux's names of the CPUID feature bits (arch/x86/include/asm/cpufeatures.h).
var (
	cpuid1EDX = [32]string{"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "", "sep",
		"mtrr", "pge", "mca", "cmov", "pat", "pse36", "pn", "clflush", "", "dts", "acpi", "mmx", "fxsr",
		"sse", "sse2", "ss", "ht", "tm", "ia64", "pbe"}
	cpuid1ECX = [32]string{"pni", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est", "tm2",
		"ssse3", "cid", "sdbg", "fma", "cx16", "xtpr", "pdcm", "", "pcid", "dca", "sse4_1", "sse4_2",
		"x2apic", "movbe", "popcnt", "tsc_deadline_timer", "aes", "xsave", "", "avx", "f16c", "rdrand",
		"hypervisor"}
	cpuid7EBX = [32]string{"fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", "", "smep", "bmi2",
		"erms", "invpcid", "rtm", "", "", "mpx", "", "avx512f", "avx512dq", "rdseed", "adx", "smap",
		"avx512ifma", "", "clflushopt", "clwb", "", "avx512pf", "avx512er", "avx512cd", "sha_ni",
		"avx512bw", "avx512vl"}
)

// procView is a process as procfs sees it; comparable, and the same value
// for the same process.
type procView struct{ p *Process }

func (v procView) Stat() procfs.ProcStat {
	p := v.p
	st := v.common()
	u := p.use()
	k := p.reapedUse()
	st.PID = p.PID
	st.UTime, st.STime = time.Duration(u.utime), time.Duration(u.stime)
	st.CUTime, st.CSTime = time.Duration(k.utime), time.Duration(k.stime)
	st.MinFlt, st.CMinFlt = u.minflt, k.minflt
	st.VoluntarySwitches, st.InvoluntarySwitches = u.nvcsw, u.nivcsw
	p.mu.Lock()
	threads := append([]*Thread(nil), p.threads...)
	p.mu.Unlock()
	if len(threads) > 0 {
		st.Comm = threads[0].Comm()
		st.SigPending = uint64(threads[0].pendingSet())
		st.SigBlocked = uint64(threads[0].mask())
	}
	if st.State == 0 {
		st.State = 'S'
		for _, t := range threads {
			if !t.acct.sleeping.Load() {
				st.State = 'R'
			}
		}
	}
	return st
}

// common fills what a process and its threads share.
func (v procView) common() procfs.ProcStat {
	p := v.p
	p.mu.Lock()
	st := procfs.ProcStat{
		TGID: p.PID, PPID: p.ppid, PGRP: p.pgid, Session: p.sid,
		NumThreads: int32(len(p.threads)), StartTime: time.Duration(p.start),
		UIDs:   [4]uint32{p.cred.UID, p.cred.EUID, p.cred.SUID, p.cred.FSUID},
		GIDs:   [4]uint32{p.cred.GID, p.cred.EGID, p.cred.SGID, p.cred.FSGID},
		Groups: append([]uint32(nil), p.cred.Groups...),
		Umask:  int32(p.umask), ExitSignal: int32(p.exitSig),
		SigShared: uint64(p.pending), NoNewPrivs: p.noNewPrivs, TPGID: -1,
		Nice: 0,
	}
	if p.cred.EUID == 0 {
		st.Caps = [5]uint64{0, capAll, capAll, capAll, 0}
	} else {
		st.Caps[3] = capAll
	}
	zombie, stopped := p.zombie, p.stopped
	if zombie {
		st.State, st.ExitCode, st.Umask = 'Z', p.status, -1
	} else if stopped {
		st.State = 'T'
	}
	sig := p.sig
	mm := p.mm
	p.mu.Unlock()
	if c := p.node.console; c != nil && c.TTY.Session() == st.Session && st.Session != 0 {
		st.TTY = unix.Mkdev(5, 1)
		st.TPGID = c.TTY.ForegroundPgrp()
	}
	if sig != nil {
		sig.mu.Lock()
		for s := 1; s <= nsig; s++ {
			switch sig.actions[s].Handler {
			case sigDFL:
			case sigIGN:
				st.SigIgnored |= uint64(bit(s))
			default:
				st.SigCaught |= uint64(bit(s))
			}
		}
		sig.mu.Unlock()
	}
	if !zombie {
		st.FDSize = max(64, int32(len(p.fds.list())))
		u := mm.Usage()
		st.Mem = &procfs.MemStat{Size: u.Size, Peak: u.Size, HWM: u.RSS, RSS: u.RSS,
			Anon: u.Anon, File: u.File, Shmem: u.Shared, Data: u.Data, Stack: u.Stack,
			Text: u.Exec, StartBrk: u.BrkStart}
	}
	return st
}

// capAll is every capability Linux 6.1 knows (CAP_LAST_CAP 40).
const capAll = 1<<41 - 1

func (v procView) Threads() []int32 {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	out := make([]int32, 0, len(v.p.threads))
	for _, t := range v.p.threads {
		out = append(out, t.TID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (v procView) Thread(tid int32) (procfs.ProcStat, bool) {
	var t *Thread
	v.p.mu.Lock()
	for _, o := range v.p.threads {
		if o.TID == tid {
			t = o
		}
	}
	v.p.mu.Unlock()
	if t == nil {
		return procfs.ProcStat{}, false
	}
	st := v.common()
	u := t.use()
	st.PID, st.Comm = tid, t.Comm()
	st.UTime, st.STime = time.Duration(u.utime), time.Duration(u.stime)
	st.MinFlt = u.minflt
	st.VoluntarySwitches, st.InvoluntarySwitches = u.nvcsw, u.nivcsw
	st.SigPending, st.SigBlocked = uint64(t.pendingSet()), uint64(t.mask())
	if st.State == 0 {
		st.State = 'R'
		if t.acct.sleeping.Load() {
			st.State = 'S'
		}
	}
	return st, true
}

func nulJoin(ss []string) []byte {
	var b []byte
	for _, s := range ss {
		b = append(append(b, s...), 0)
	}
	return b
}

func (v procView) Cmdline() []byte {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	if v.p.zombie {
		return nil
	}
	return nulJoin(v.p.args)
}

func (v procView) Environ() []byte {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	if v.p.zombie {
		return nil
	}
	return nulJoin(v.p.env)
}

// loc returns a location of the process with its path for ctx's reader.
func (v procView) loc(ctx *vfs.Ctx, get func(p *Process) vfs.Loc) (vfs.Loc, string, error) {
	v.p.mu.Lock()
	zombie := v.p.zombie
	l := get(v.p)
	v.p.mu.Unlock()
	if zombie || l == (vfs.Loc{}) {
		return vfs.Loc{}, "", syscall.ENOENT
	}
	path, err := v.p.node.NS.Path(ctx, l)
	if err != nil {
		return vfs.Loc{}, "", err
	}
	return l, path, nil
}

func (v procView) Exe(ctx *vfs.Ctx) (vfs.Loc, string, error) {
	v.p.mu.Lock()
	f := v.p.exeFile
	if f != nil {
		f.IncRef()
	}
	v.p.mu.Unlock()
	if f == nil {
		return vfs.Loc{}, "", syscall.ENOENT
	}
	defer f.Close()
	return f.Loc(), f.Path(ctx), nil
}

func (v procView) Cwd(ctx *vfs.Ctx) (vfs.Loc, string, error) {
	return v.loc(ctx, func(p *Process) vfs.Loc { return p.cwd })
}

func (v procView) Root(ctx *vfs.Ctx) (vfs.Loc, string, error) {
	return v.loc(ctx, func(p *Process) vfs.Loc {
		if p.root == (vfs.Loc{}) {
			return p.node.NS.Root()
		}
		return p.root
	})
}

func (v procView) live() bool {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	return !v.p.zombie
}

func (v procView) FDs() []int32 {
	if !v.live() {
		return nil
	}
	return v.p.fds.list()
}

func (v procView) FD(fd int32) (*vfs.File, bool, bool) {
	if !v.live() {
		return nil, false, false
	}
	f, err := v.p.fds.getPath(fd, true)
	if err != nil {
		return nil, false, false
	}
	cloexec, _ := v.p.fds.cloexec(fd)
	return f, cloexec, true
}

func (v procView) Maps() []procfs.Mapping {
	if !v.live() {
		return nil
	}
	vmas := v.p.mm.VMAs()
	out := make([]procfs.Mapping, 0, len(vmas))
	for _, m := range vmas {
		e := procfs.Mapping{Start: m.Start, End: m.End, Read: m.Prot&vm.ProtRead != 0,
			Write: m.Prot&vm.ProtWrite != 0, Exec: m.Prot&vm.ProtExec != 0, Shared: m.Shared,
			Name: m.Name}
		if mf, ok := m.File.(mapFile); ok {
			e.Offset = uint64(m.Off)
			if st, err := mf.f.Stat(); err == nil {
				e.Dev, e.Inode = st.Dev, st.Ino
			}
		}
		out = append(out, e)
	}
	return out
}

func (v procView) Limits() []procfs.Limit {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	out := make([]procfs.Limit, len(v.p.rlimits))
	for i, l := range v.p.rlimits {
		out[i] = procfs.Limit{Cur: l.cur, Max: l.max}
	}
	return out
}

func (v procView) Mounts() []vfs.MountInfo {
	v.p.mu.Lock()
	root := v.p.root
	v.p.mu.Unlock()
	ctx := &vfs.Ctx{Root: root}
	return v.p.node.NS.Mounts(ctx)
}

func (v procView) Owner() (uint32, uint32) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	if v.p.notDumpable {
		return 0, 0
	}
	return v.p.cred.EUID, v.p.cred.EGID
}

// pendingSet returns the signals pending for the thread itself.
func (t *Thread) pendingSet() sigSet {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending
}

// mask returns the thread's blocked signals.
func (t *Thread) mask() sigSet {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sigMask
}
