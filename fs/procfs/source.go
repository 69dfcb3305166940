package procfs

import (
	"time"

	"dunix/fs/vfs"
)

// Source is what procfs shows: the processes and the state of the system.
// The process layer implements it.
//
// procfs calls it without holding any lock of its own, from any goroutine,
// so it must be safe for concurrent use. It must not call back into procfs.
type Source interface {
	// PIDs lists the thread-group IDs of the live processes and the
	// zombies, in ascending order.
	PIDs() []int32
	// Process returns the process (or zombie) whose thread-group ID is
	// pid. Process values must be comparable with ==, and one process must
	// always come back as the same value (a pointer, say): procfs tells a
	// PID reused by a new process from the process it knew that way.
	Process(pid int32) (Process, bool)
	// Caller returns the thread-group ID and the thread ID of the caller
	// that ctx describes (ctx.Task is the process layer's thread), or ok
	// false for the kernel's own calls: /proc/self then does not resolve.
	Caller(ctx *vfs.Ctx) (pid, tid int32, ok bool)
	// System returns the facts that seldom change: the uname strings, the
	// kernel command line, the file system types, the sysctl values.
	System() System
	// Meminfo returns the memory counters of /proc/meminfo.
	Meminfo() Meminfo
	// Uptime returns the time since boot and the idle time summed over
	// all CPUs (/proc/uptime).
	Uptime() (up, idle time.Duration)
	// CPUs describes the CPUs, in CPU number order (/proc/cpuinfo, the
	// cpu lines of /proc/stat, and the width of the CPU masks of
	// /proc/PID/status).
	CPUs() []CPU
	// Counters returns the system-wide activity counters of /proc/stat
	// and /proc/loadavg.
	Counters() Counters
}

// Process is one process (thread group), or a zombie, as procfs sees it.
//
// procfs calls its methods only right after Source.Process returned it for
// its PID; they describe the process at the time of the call.
type Process interface {
	// Stat returns the fields of /proc/PID/stat and /proc/PID/status for
	// the whole thread group: PID and TGID are the thread-group ID, times
	// and fault counts are summed over the threads.
	Stat() ProcStat
	// Threads lists the thread IDs of the process, ascending (the
	// thread-group leader first).
	Threads() []int32
	// Thread returns the fields of /proc/PID/task/TID/stat and status for
	// thread tid of the process: PID is tid, TGID the process's ID, times
	// and counts the thread's own.
	Thread(tid int32) (ProcStat, bool)
	// Cmdline returns the argument strings, each followed by a NUL byte,
	// as Linux shows them; empty for a zombie.
	Cmdline() []byte
	// Environ returns the environment strings, each followed by a NUL
	// byte; empty for a zombie.
	Environ() []byte
	// Exe returns the location of the executable and its path as
	// readlink(2) shows it to the reader described by ctx (relative to
	// ctx's root: vfs.File.Path(ctx) of the executable, for instance).
	// ENOENT when there is none (a zombie).
	Exe(ctx *vfs.Ctx) (vfs.Loc, string, error)
	// Cwd returns the current directory and its path relative to ctx's
	// root (vfs.Namespace.Path(ctx, loc)). ENOENT for a zombie.
	Cwd(ctx *vfs.Ctx) (vfs.Loc, string, error)
	// Root returns the root directory (chroot) and its path relative to
	// ctx's root. ENOENT for a zombie.
	Root(ctx *vfs.Ctx) (vfs.Loc, string, error)
	// FDs lists the open file descriptors, ascending.
	FDs() []int32
	// FD returns the file open as descriptor fd with a new reference
	// (procfs drops it with Close) and whether the descriptor is
	// close-on-exec.
	FD(fd int32) (f *vfs.File, cloexec bool, ok bool)
	// Maps returns the memory mappings in address order (/proc/PID/maps);
	// none for a zombie.
	Maps() []Mapping
	// Limits returns the resource limits indexed by resource number
	// (unix.RLIMIT_CPU ... unix.RLIMIT_RTTIME); missing ones are shown as
	// Unlimited.
	Limits() []Limit
	// Mounts returns the mounts as the process sees them: those of its
	// mount namespace visible from its root, with paths relative to it
	// (vfs.Namespace.Mounts with a Ctx holding the process's root).
	Mounts() []vfs.MountInfo
	// Owner returns the owner of the /proc/PID entries: the effective
	// user and group IDs, or root's when the process is not dumpable, as
	// Linux does. procfs also lets only this user and root see what Linux
	// guards with a ptrace access check.
	Owner() (uid, gid uint32)
}

// ProcStat holds what /proc/PID/stat and /proc/PID/status show of a
// process or thread. Times are durations; procfs converts them to clock
// ticks (USER_HZ, 100 per second) where Linux shows ticks.
type ProcStat struct {
	// PID is the ID the file describes: the thread-group ID for a
	// process, the thread ID for a thread.
	PID int32
	// TGID is the thread-group ID.
	TGID int32
	// Comm is the command name; procfs shows at most 15 bytes of it.
	Comm string
	// State is the state letter: 'R' running, 'S' sleeping, 'D' disk
	// sleep, 'T' stopped, 't' tracing stop, 'Z' zombie, 'X' dead, 'I'
	// idle. 0 means 'R'.
	State byte
	// PPID, PGRP and Session are the parent's thread-group ID, the
	// process group and the session.
	PPID, PGRP, Session int32
	// TTY is the controlling terminal's device number (unix.Mkdev
	// encoding), 0 for none.
	TTY uint64
	// TPGID is the foreground process group of the controlling terminal,
	// -1 without one.
	TPGID int32
	// TracerPID is the ID of the tracing process, 0 if none.
	TracerPID int32
	// Flags are Linux's PF_* task flags.
	Flags uint32
	// MinFlt, MajFlt count minor and major page faults; CMinFlt and
	// CMajFlt those of waited-for children.
	MinFlt, CMinFlt, MajFlt, CMajFlt uint64
	// UTime and STime are the user and system CPU times; CUTime and
	// CSTime those of waited-for children.
	UTime, STime, CUTime, CSTime time.Duration
	// Nice is the nice value (-20..19).
	Nice int32
	// Policy is the scheduling policy (SCHED_OTHER 0, SCHED_FIFO 1,
	// SCHED_RR 2...) and RTPriority the real-time priority.
	Policy, RTPriority uint32
	// NumThreads is the number of threads of the process.
	NumThreads int32
	// StartTime is when the process started, since boot.
	StartTime time.Duration
	// Mem describes the address space; nil when there is none (a zombie).
	Mem *MemStat
	// SigPending (the thread's), SigShared (the process's), SigBlocked,
	// SigIgnored and SigCaught are signal sets: bit n-1 is signal n.
	SigPending, SigShared, SigBlocked, SigIgnored, SigCaught uint64
	// SigQueued is the number of queued signals of the user (SigQ).
	SigQueued int
	// UIDs and GIDs are the real, effective, saved and file-system IDs.
	UIDs, GIDs [4]uint32
	// Groups are the supplementary groups.
	Groups []uint32
	// Umask is the file mode creation mask, or -1 when unknown (the line
	// is then left out, as for a zombie).
	Umask int32
	// FDSize is the number of slots of the descriptor table.
	FDSize int32
	// ExitSignal is the signal sent to the parent at exit (SIGCHLD).
	ExitSignal int32
	// ExitCode is the exit status (wait status) once known, else 0.
	ExitCode int32
	// Processor is the CPU the thread last ran on.
	Processor int32
	// Caps are the capability sets: inheritable, permitted, effective,
	// bounding, ambient.
	Caps [5]uint64
	// NoNewPrivs is the no_new_privs bit.
	NoNewPrivs bool
	// Affinity is the CPU affinity mask (bit n of word n/64 is CPU n);
	// nil means all CPUs.
	Affinity []uint64
	// VoluntarySwitches and InvoluntarySwitches count context switches.
	VoluntarySwitches, InvoluntarySwitches uint64
}

// MemStat describes an address space. Sizes are in bytes.
type MemStat struct {
	Size   uint64 // mapped (VmSize, vsize)
	Peak   uint64 // largest Size (VmPeak)
	Locked uint64 // mlocked (VmLck)
	Pinned uint64 // pinned (VmPin)
	HWM    uint64 // largest RSS (VmHWM)
	RSS    uint64 // resident: Anon + File + Shmem (VmRSS)
	Anon   uint64 // resident anonymous memory (RssAnon)
	File   uint64 // resident file mappings (RssFile)
	Shmem  uint64 // resident shared memory (RssShmem)
	Data   uint64 // private writable mappings but the stack (VmData)
	Stack  uint64 // stack (VmStk)
	Text   uint64 // the executable's code (VmExe)
	Lib    uint64 // other executable mappings (VmLib)
	PTE    uint64 // page tables (VmPTE)
	Swap   uint64 // swapped out (VmSwap)

	// Addresses of the layout (stat fields 26-28 and 45-51).
	StartCode, EndCode, StartStack     uint64
	StartData, EndData, StartBrk       uint64
	ArgStart, ArgEnd, EnvStart, EnvEnd uint64
}

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End uint64 // address range [Start, End)
	// Read, Write, Exec are the protections; Shared is set for a
	// MAP_SHARED mapping ("s"), clear for a private one ("p").
	Read, Write, Exec, Shared bool
	Offset                    uint64 // file offset
	Dev                       uint64 // device of the file (unix.Mkdev encoding)
	Inode                     uint64 // inode number of the file
	// Name is the file's path, a pseudo-name ("[heap]", "[stack]",
	// "[vdso]", "[vvar]"), or "" for anonymous memory.
	Name string
}

// Unlimited is the value of a Limit without limit (RLIM_INFINITY).
const Unlimited = ^uint64(0)

// Limit is a resource limit: the soft (Cur) and hard (Max) values.
type Limit struct {
	Cur, Max uint64
}

// Meminfo holds the memory counters of /proc/meminfo, in bytes, named as
// the lines they fill. Slab, Active and Inactive are sums procfs makes;
// counters Linux has and Meminfo does not are shown as 0, and a zero
// VmallocTotal as x86-64's 34359738367 kB.
type Meminfo struct {
	Total, Free, Available                             uint64
	Buffers, Cached, SwapCached                        uint64
	ActiveAnon, InactiveAnon, ActiveFile, InactiveFile uint64
	Unevictable, Mlocked                               uint64
	SwapTotal, SwapFree                                uint64
	Dirty, Writeback                                   uint64
	AnonPages, Mapped, Shmem                           uint64
	KReclaimable, SReclaimable, SUnreclaim             uint64
	KernelStack, PageTables                            uint64
	CommitLimit, CommittedAS                           uint64
	VmallocTotal, VmallocUsed, Percpu                  uint64
	DirectMap4k, DirectMap2M, DirectMap1G              uint64
}

// CPU describes one CPU for /proc/cpuinfo and /proc/stat.
type CPU struct {
	VendorID   string // "GenuineIntel", "AuthenticAMD"
	Family     int
	Model      int
	ModelName  string
	Stepping   int
	Microcode  uint32
	KHz        uint64 // clock frequency, shown as "cpu MHz"
	CacheKB    int    // cache size
	PhysicalID int
	Siblings   int
	CoreID     int
	Cores      int
	APICID     int
	CPUIDLevel int
	Flags      []string // feature flags as Linux names them ("fpu", "sse2"...)
	Bugs       []string
	Bogomips   float64
	CLFlush    int // clflush size, bytes
	CacheAlign int // cache_alignment, bytes
	PhysBits   int // physical address bits
	VirtBits   int // virtual address bits
	// Times are the CPU's time counters.
	Times CPUTimes
}

// CPUTimes are the time counters of a CPU (/proc/stat): time spent in user
// mode, in user mode with a positive nice value, in the kernel, idle,
// waiting for I/O, in interrupts, in soft interrupts, stolen by the
// hypervisor, running guests and niced guests.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal, Guest, GuestNice time.Duration
}

// Counters are system-wide activity counters.
type Counters struct {
	// Load is the load average over 1, 5 and 15 minutes.
	Load [3]float64
	// Running is the number of runnable threads, Blocked of threads
	// waiting for I/O, Threads of all threads.
	Running, Blocked, Threads int
	// LastPID is the most recently allocated process ID.
	LastPID int32
	// Interrupts, ContextSwitches and Forks count interrupts, context
	// switches and process creations since boot.
	Interrupts, ContextSwitches, Forks uint64
	// BootTime is when the system booted (btime).
	BootTime time.Time
}

// System holds the facts that seldom change.
type System struct {
	// Sysname, Release and Version are uname's sysname ("Linux"),
	// release ("6.6.0-dunix") and version ("#1 SMP PREEMPT_DYNAMIC ...").
	Sysname, Release, Version string
	// Hostname and Domainname are the node and NIS domain names.
	Hostname, Domainname string
	// BuiltBy ("user@host") and Compiler ("go1.26") complete
	// /proc/version.
	BuiltBy, Compiler string
	// Cmdline is the kernel command line.
	Cmdline string
	// Filesystems are the file system types (/proc/filesystems).
	Filesystems []FilesystemType
	// PIDMax, PipeMaxSize and OvercommitMemory are the values of
	// /proc/sys/kernel/pid_max, /proc/sys/fs/pipe-max-size and
	// /proc/sys/vm/overcommit_memory.
	PIDMax, PipeMaxSize, OvercommitMemory int
}

// FilesystemType is a line of /proc/filesystems.
type FilesystemType struct {
	Name string
	// NoDev is set for file systems that need no block device ("nodev").
	NoDev bool
}

// MountDever may be implemented by a Process to complete
// /proc/PID/mountinfo, whose third and fourth fields vfs.MountInfo does not
// give. It is optional: without it, mountinfo shows the device 0:0 and the
// root "/" for every mount.
type MountDever interface {
	// MountDev returns, for the mount numbered id (vfs.MountInfo.ID) of
	// Mounts, the device number of the mounted file system (st_dev of its
	// files, unix.Mkdev encoding) and the path, inside that file system,
	// of the directory or file the mount shows ("/" but for bind mounts of
	// a part of it). ok is false for a mount it does not know.
	MountDev(id int) (dev uint64, root string, ok bool)
}
