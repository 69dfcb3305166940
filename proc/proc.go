// Package proc runs user programs: processes and their threads, the Linux
// system-call ABI (one file per family, a table from number to handler, as
// gVisor's sentry does), signals, and the glue to the file system.
//
// Each user thread has a goroutine (its "task goroutine") that runs the
// thread in ring 3 through kernel.UserTask.Run and handles what comes back:
// a system call, a fault, an interruption. All that a process is — its
// registers, address space, descriptors, working directory, credentials,
// signal state, children — lives in the structures of this package, so
// that it can be inspected, saved or moved; a goroutine's stack holds only
// a system call in progress, which can always be interrupted and
// restarted.
//
// The package runs in Go context (docs/conventions.md).
package proc

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"dunix/fs/vfs"
	"dunix/proc/vm"
)

// Node is the process layer of one node: the process table and what all
// processes share.
type Node struct {
	Pool *vm.Pool
	// NS is the node's file namespace.
	NS *vfs.Namespace
	// FSTypes makes file systems for mount(2), by type name ("tmpfs",
	// "proc"): source and data are mount's arguments.
	FSTypes map[string]func(source, data string) (vfs.Filesystem, error)
	// ReportENOSYS prints each process's first call of each unimplemented
	// system call.
	ReportENOSYS bool
	// InitExited is called with the wait status of process 1.
	InitExited func(status int32)
	vdsoState

	mu       sync.Mutex
	procs    map[int32]*Process
	threads  map[int32]*Thread
	nextPID  int32
	init     *Process
	nprocs   atomic.Int32
	maxProcs int32
	enosys   [512]atomic.Uint32
	features map[string]int // unimplemented features asked for (enosysFeature)
	boot     int64          // ns, wall clock at boot (for /proc/uptime, stat)
	forks    atomic.Uint64  // processes created (/proc/stat "processes")
	console  *Terminal      // the node's terminal (/proc/PID/stat tty_nr)
}

// Process is a user process: a thread group sharing an address space.
type Process struct {
	node *Node
	PID  int32

	mu       sync.Mutex
	ppid     int32
	pgid     int32
	sid      int32
	cred     Cred
	mm       *vm.Space
	fds      *FDTable
	cwd      vfs.Loc // working directory
	root     vfs.Loc // root directory (chroot); zero: the namespace's
	umask    uint32
	sig      *sigHand // shared by CLONE_SIGHAND threads
	pending  sigSet   // process-directed signals
	queue    sigQueue // their siginfo
	threads  []*Thread
	children []*Process
	exited   bool
	zombie   bool
	status   int32 // wait status (exit code << 8, or signal)
	exitSig  int   // signal to the parent at exit (SIGCHLD)
	rlimits  [16]rlimit
	exe      string    // path of the program, as exec resolved it
	exeFile  *vfs.File // the program file, held open (/proc/PID/exe); nil once a zombie
	args     []string
	env      []string
	start    int64 // ns since boot
	stopped  bool
	execed   bool    // has called execve (setpgid by the parent is then EACCES)
	execer   *Thread // the thread past execve's point of no return, if any
	// Job control (jobctl.go): the stop signal, whether a stop or a
	// continue is still to be reported to wait, and the channel closed
	// when a stop ends.
	stopSig                int
	stopReport, contReport bool
	cont                   chan struct{}
	stoppedHint            atomic.Bool // stopped, readable without mu

	notDumpable bool // PR_SET_DUMPABLE 0
	pdeathSig   int  // PR_SET_PDEATHSIG: sent when the parent exits
	noNewPrivs  bool // PR_SET_NO_NEW_PRIVS: exec does not honour set-user-ID

	// childEvents is closed and replaced whenever a child changes state
	// (wait4 blocks on it).
	childEvents chan struct{}
	// vforkDone is closed when a vfork child execs or exits.
	vforkDone chan struct{}
	// exiting is set by exit_group or a fatal signal.
	exiting  atomic.Bool
	exitOnce sync.Once
	// ENOSYS calls of this process, by number.
	enosys   map[int]int
	features map[string]bool
	// deadUse sums the threads that exited; reaped the waited-for
	// children (with their own reaped children), as getrusage and times
	// report them.
	deadUse, reaped usage
	itReal          itimer
}

// Cred are a process's credentials.
type Cred struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	Groups                 []uint32
}

// NewNode prepares the process layer.
func NewNode(pool *vm.Pool, ns *vfs.Namespace) *Node {
	return &Node{Pool: pool, NS: ns, procs: map[int32]*Process{}, threads: map[int32]*Thread{},
		nextPID: 1, maxProcs: 4000}
}

// now is the time since boot, in ns.
func (n *Node) now() int64 { return int64(time.Since(monoStart)) }

func (n *Node) initExited(status int32) {
	if n.InitExited != nil {
		n.InitExited(status)
	}
}

// allocPID returns an unused ID for a process or thread (PIDs and TIDs
// share one space, as on Linux). They fit in 31 bits and are reused only
// after the ID space wraps (issue: cluster-wide IDs come with the fabric).
func (n *Node) allocPID() int32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		id := n.nextPID
		n.nextPID++
		if n.nextPID >= maxPID {
			n.nextPID = 300
		}
		if n.procs[id] == nil && n.threads[id] == nil {
			return id
		}
	}
}

// maxPID bounds process and thread IDs (Linux's pid_max on 64-bit).
const maxPID = 1 << 22

// Process returns the process with pid, or nil.
func (n *Node) Process(pid int32) *Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.procs[pid]
	if p != nil && p.zombie {
		return p
	}
	return p
}

// Processes returns all processes, for /proc and ps.
func (n *Node) Processes() []*Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Process, 0, len(n.procs))
	for _, p := range n.procs {
		out = append(out, p)
	}
	return out
}

// ENOSYS returns the counts of unimplemented calls made on this node.
func (n *Node) ENOSYS() map[int]uint32 {
	m := map[int]uint32{}
	for i := range n.enosys {
		if c := n.enosys[i].Load(); c != 0 {
			m[i] = c
		}
	}
	return m
}

// Thread is a user thread.
type Thread struct {
	TID  int32
	p    *Process
	task taskContext

	mu         sync.Mutex
	sigMask    sigSet
	pending    sigSet
	queue      sigQueue // siginfo of the pending signals
	altSP      uint64
	altSize    uint64
	altFlags   uint32
	clearTID   uint64 // set_tid_address / CLONE_CHILD_CLEARTID
	robust     uint64
	savedMask  *sigSet // rt_sigsuspend / ppoll / pselect restore this at signal delivery
	sigWaiting sigSet  // signals a sigtimedwait in progress takes (kicked when one is queued for the process)

	// wake is signalled when a signal arrives or the process exits, to
	// end a blocking system call.
	// gone is closed once the thread has exited (its task freed, never
	// again in user mode); exec waits for the threads it ends.
	gone chan struct{}
	wake chan struct{}
	// exitCode of the thread (exit(2)).
	exitCode int32
	dead     bool
	// restartNr is the system call to run again if a signal interrupts it
	// (-1: none); trapno the vector of the last fault (for sigcontext).
	restartNr  int64
	trapno     uint64
	handlerRan bool
	comm       string // the thread's name (prctl PR_SET_NAME, /proc/PID/comm), at most 15 bytes

	acct  threadAcct // CPU time and event counts (account.go)
	ioBuf []byte     // transfer buffer of read and write (scratch)
}

// Errors.
var errNoProc = syscall.ESRCH

// setComm sets the thread's name, cut to 15 bytes as Linux's TASK_COMM_LEN.
func (t *Thread) setComm(s string) {
	if len(s) > 15 {
		s = s[:15]
	}
	t.mu.Lock()
	t.comm = s
	t.mu.Unlock()
}

// Comm returns the thread's name.
func (t *Thread) Comm() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.comm
}
