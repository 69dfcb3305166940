package kernel

import (
	"golang.org/x/sys/unix"

	"dunix/kernel/mm"
)

//go:nosplit
func sysRtSigaction(sig, act, oact, size uint64) int64 {
	if size != 8 || sig < 1 || sig > nsig {
		return -einval
	}
	if act != 0 && (sig == sigKILL || sig == sigSTOP) {
		return -einval
	}
	if act != 0 && !mm.Access(uintptr(act), 32, false) || oact != 0 && !mm.Access(uintptr(oact), 32, true) {
		return -efault
	}
	sigLock.Lock()
	old := sigactions[sig]
	if act != 0 {
		a := sigaction{ld64(uintptr(act)), ld64(uintptr(act) + 8), ld64(uintptr(act) + 16), ld64(uintptr(act) + 24)}
		a.mask &^= cantMask
		sigactions[sig] = a
	}
	sigLock.Unlock()
	if oact != 0 {
		st64(uintptr(oact), old.handler)
		st64(uintptr(oact)+8, old.flags)
		st64(uintptr(oact)+16, old.restorer)
		st64(uintptr(oact)+24, old.mask)
	}
	return 0
}

//go:nosplit
func sysRtSigprocmask(t *Thread, how, set, oset, size uint64) int64 {
	if size != 8 {
		return -einval
	}
	if set != 0 && !mm.Access(uintptr(set), 8, false) || oset != 0 && !mm.Access(uintptr(oset), 8, true) {
		return -efault
	}
	sigLock.Lock()
	old := t.sigMask
	if set != 0 {
		s := ld64(uintptr(set))
		switch how {
		case unix.SIG_BLOCK:
			t.sigMask |= s
		case unix.SIG_UNBLOCK:
			t.sigMask &^= s
		case unix.SIG_SETMASK:
			t.sigMask = s
		default:
			sigLock.Unlock()
			return -einval
		}
		t.sigMask &^= cantMask
	}
	sigLock.Unlock()
	if oset != 0 {
		st64(uintptr(oset), old)
	}
	return 0
}

//go:nosplit
func sysRtSigreturn(t *Thread) int64 {
	if !sigreturn(t) {
		fatal(&t.Frame, "rt_sigreturn with a corrupt signal frame")
	}
	return keep
}

//go:nosplit
func sysSigaltstack(t *Thread, ss, oss uint64) int64 {
	if ss != 0 && !mm.Access(uintptr(ss), 24, false) || oss != 0 && !mm.Access(uintptr(oss), 24, true) {
		return -efault
	}
	sp := t.Frame.RSP
	onAlt := t.altFlags&ssDisable == 0 && sp > t.altSP && sp <= t.altSP+t.altSize
	if oss != 0 {
		flags := uint64(t.altFlags)
		if onAlt {
			flags |= ssOnStack
		}
		st64(uintptr(oss), t.altSP)
		st64(uintptr(oss)+8, flags)
		st64(uintptr(oss)+16, t.altSize)
	}
	if ss != 0 {
		if onAlt {
			return -eperm
		}
		nsp, flags, size := ld64(uintptr(ss)), uint32(ld64(uintptr(ss)+8)), ld64(uintptr(ss)+16)
		switch {
		case flags&ssDisable != 0:
			t.altSP, t.altSize, t.altFlags = 0, 0, ssDisable
		case flags&^uint32(ssAutoDisarm) != 0:
			return -einval
		case size < minSigStkSz:
			return -enomem
		default:
			t.altSP, t.altSize, t.altFlags = nsp, size, 0
		}
	}
	return 0
}

const (
	ssAutoDisarm = 1 << 31
	minSigStkSz  = 2048
)
