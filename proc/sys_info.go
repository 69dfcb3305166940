package proc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/proc/vm"
)

// The system: uname, sysinfo, getrandom, limits, arch_prctl, umask…

// Uname strings, also shown by /proc.
const (
	unameSysname = "Linux"
	unameRelease = "6.1.0-dunix"
	unameVersion = "#1 SMP dunix"
	unameMachine = "x86_64"
	unameDomain  = "(none)"
)

func init() {
	reg(unix.SYS_UNAME, func(t *Thread, a *[6]uint64) (uint64, error) {
		var b [6 * 65]byte
		for i, s := range []string{unameSysname, t.p.node.hostname(), unameRelease, unameVersion, unameMachine, unameDomain} {
			copy(b[i*65:i*65+64], s)
		}
		return 0, t.p.mm.CopyOut(a[0], b[:])
	})
	reg(unix.SYS_GETRANDOM, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[2]&^uint64(unix.GRND_NONBLOCK|unix.GRND_RANDOM|unix.GRND_INSECURE) != 0 {
			return 0, syscall.EINVAL
		}
		n := min(a[1], 1<<25)
		b := make([]byte, n)
		rand.Read(b)
		return n, t.p.mm.CopyOut(a[0], b)
	})
	reg(unix.SYS_ARCH_PRCTL, func(t *Thread, a *[6]uint64) (uint64, error) {
		kt := t.task.Task()
		switch a[0] {
		case 0x1002:
			if a[1] >= vm.UserEnd {
				return 0, syscall.EPERM
			}
			kt.FSBase = a[1]
		case 0x1001:
			if a[1] >= vm.UserEnd {
				return 0, syscall.EPERM
			}
			kt.GSBase = a[1]
		case 0x1003:
			return 0, putU64(t.p, a[1], kt.FSBase)
		case 0x1004:
			return 0, putU64(t.p, a[1], kt.GSBase)
		default:
			return 0, syscall.EINVAL
		}
		return 0, nil
	})
	reg(unix.SYS_UMASK, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.p.mu.Lock()
		defer t.p.mu.Unlock()
		old := t.p.umask
		t.p.umask = uint32(a[0]) & 0o777
		return uint64(old), nil
	})
	reg(unix.SYS_PRLIMIT64, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.prlimit(int32(a[0]), int(a[1]), a[2], a[3])
	})
	reg(unix.SYS_GETRLIMIT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.prlimit(0, int(a[0]), 0, a[1])
	})
	reg(unix.SYS_SETRLIMIT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.prlimit(0, int(a[0]), a[1], 0)
	})
	reg(unix.SYS_SYSINFO, func(t *Thread, a *[6]uint64) (uint64, error) {
		var b [112]byte
		le := binary.LittleEndian
		total, free := t.p.node.memory()
		le.PutUint64(b[0:], uint64(t.p.node.now()/1e9))
		le.PutUint64(b[32:], total)
		le.PutUint64(b[40:], free)
		le.PutUint16(b[80:], uint16(t.p.node.nprocs.Load()))
		le.PutUint32(b[104:], 1)
		return 0, t.p.mm.CopyOut(a[0], b[:])
	})
	reg(unix.SYS_SCHED_YIELD, func(t *Thread, a *[6]uint64) (uint64, error) {
		runtime.Gosched()
		return 0, nil
	})
	reg(unix.SYS_SCHED_GETAFFINITY, func(t *Thread, a *[6]uint64) (uint64, error) {
		n := runtime.NumCPU()
		size := uint64((n + 63) / 64 * 8)
		if a[1] < size || a[1]&7 != 0 {
			return 0, syscall.EINVAL
		}
		b := make([]byte, size)
		for i := 0; i < n; i++ {
			b[i/8] |= 1 << (i % 8)
		}
		return size, t.p.mm.CopyOut(a[2], b)
	})
	reg(unix.SYS_SCHED_SETAFFINITY, func(t *Thread, a *[6]uint64) (uint64, error) { return 0, nil })
	reg(unix.SYS_GETRUSAGE, func(t *Thread, a *[6]uint64) (uint64, error) {
		var u usage
		switch int32(a[0]) {
		case unix.RUSAGE_SELF:
			u = t.p.use()
		case unix.RUSAGE_CHILDREN:
			u = t.p.reapedUse()
		case unix.RUSAGE_THREAD:
			u = t.use()
			u.maxRSS = t.p.use().maxRSS
		default:
			return 0, syscall.EINVAL
		}
		return 0, t.p.mm.CopyOut(a[1], u.rusage())
	})
	reg(unix.SYS_PRCTL, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.prctl(int(a[0]), a[1])
	})
}

// prctl(2): the operations user programs commonly ask for.
func (t *Thread) prctl(op int, arg uint64) (uint64, error) {
	p := t.p
	switch op {
	case unix.PR_SET_NAME:
		name, err := p.mm.CopyInString(arg, 4096)
		if err == syscall.ENAMETOOLONG {
			b := make([]byte, 16)
			if err := p.mm.CopyIn(arg, b); err != nil {
				return 0, err
			}
			name, err = string(b[:15]), nil
		}
		if err != nil {
			return 0, err
		}
		t.setComm(name)
		return 0, nil
	case unix.PR_GET_NAME:
		name := make([]byte, 16)
		copy(name[:15], t.Comm())
		return 0, p.mm.CopyOut(arg, name)
	case unix.PR_SET_DUMPABLE:
		if arg > 1 {
			return 0, syscall.EINVAL
		}
		p.mu.Lock()
		p.notDumpable = arg == 0
		p.mu.Unlock()
		return 0, nil
	case unix.PR_GET_DUMPABLE:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.notDumpable {
			return 0, nil
		}
		return 1, nil
	case unix.PR_SET_PDEATHSIG:
		if arg != 0 && !validSig(int(arg)) {
			return 0, syscall.EINVAL
		}
		p.mu.Lock()
		p.pdeathSig = int(arg)
		p.mu.Unlock()
		return 0, nil
	case unix.PR_GET_PDEATHSIG:
		p.mu.Lock()
		sig := p.pdeathSig
		p.mu.Unlock()
		return 0, putU32(p, arg, uint32(sig))
	case unix.PR_SET_NO_NEW_PRIVS:
		if arg != 1 {
			return 0, syscall.EINVAL
		}
		p.mu.Lock()
		p.noNewPrivs = true
		p.mu.Unlock()
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.noNewPrivs {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_VMA:
		// Naming anonymous memory (the Go runtime does it): Linux built
		// without CONFIG_ANON_VMA_NAME answers EINVAL too, and callers
		// treat it as optional, so it is not counted as missing.
		return 0, syscall.EINVAL
	}
	t.enosysFeature(fmt.Sprintf("prctl operation %d", op))
	return 0, syscall.EINVAL
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// Resource limits.
type rlimit struct{ cur, max uint64 }

const rlimInf = ^uint64(0)

func defaultLimits() [16]rlimit {
	var l [16]rlimit
	for i := range l {
		l[i] = rlimit{rlimInf, rlimInf}
	}
	l[unix.RLIMIT_STACK] = rlimit{vm.StackSize, rlimInf}
	l[unix.RLIMIT_NOFILE] = rlimit{1024, 4096}
	l[unix.RLIMIT_NPROC] = rlimit{2048, 2048}
	l[unix.RLIMIT_CORE] = rlimit{0, rlimInf}
	l[unix.RLIMIT_MEMLOCK] = rlimit{8 << 20, 8 << 20}
	l[unix.RLIMIT_SIGPENDING] = rlimit{2048, 2048}
	l[unix.RLIMIT_MSGQUEUE] = rlimit{819200, 819200}
	return l
}

func (t *Thread) prlimit(pid int32, res int, nw, old uint64) error {
	p := t.p.node.lookup(t.p, pid)
	if p == nil {
		return syscall.ESRCH
	}
	if res < 0 || res >= len(p.rlimits) {
		return syscall.EINVAL
	}
	var nl rlimit
	if nw != 0 {
		b := make([]byte, 16)
		if err := t.p.mm.CopyIn(nw, b); err != nil {
			return err
		}
		nl = rlimit{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
		if nl.cur > nl.max {
			return syscall.EINVAL
		}
	}
	p.mu.Lock()
	prev := p.rlimits[res]
	if nw != 0 {
		if nl.max > prev.max && t.p.cred.EUID != 0 {
			p.mu.Unlock()
			return syscall.EPERM
		}
		p.rlimits[res] = nl
		if res == unix.RLIMIT_NOFILE {
			p.fds.setMax(int32(min(nl.cur, 1<<20)))
		}
	}
	p.mu.Unlock()
	if old != 0 {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, prev.cur)
		binary.LittleEndian.PutUint64(b[8:], prev.max)
		return t.p.mm.CopyOut(old, b)
	}
	return nil
}
