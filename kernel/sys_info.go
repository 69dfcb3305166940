package kernel

import (
	"golang.org/x/sys/unix"

	"dunix/arch/amd64"
	"dunix/kernel/mm"
	"dunix/kernel/spin"
)

// uname: the ABI is Linux's, so programs that branch on the system name
// and release see a Linux they know; the version string says dunix.
var utsFields = [6]string{"Linux", "dunix", "6.1.0-dunix", "#1 SMP dunix", "x86_64", "(none)"}

//go:nosplit
func sysUname(buf uint64) int64 {
	if !mm.Access(uintptr(buf), 6*65, true) {
		return -efault
	}
	b := (*[6 * 65]byte)(amd64.Ptr(uintptr(buf)))
	clear(b[:])
	for i, s := range utsFields {
		f := i * 65
		if i == 1 && hostnameLen > 0 {
			copy(b[f:f+64], hostname[:hostnameLen]) // no string: trap context allocates nothing
			continue
		}
		copy(b[f:f+64], s)
	}
	return 0
}

// sysSethostname sets the node name uname reports (the fabric names the
// node after its membership name).
//
//go:nosplit
func sysSethostname(buf, n uint64) int64 {
	if n > uint64(len(hostname)) {
		return -einval
	}
	if !mm.Access(uintptr(buf), uintptr(n), false) {
		return -efault
	}
	hostnameLen = copy(hostname[:], bytesAt(buf, n))
	return 0
}

var (
	hostname    [64]byte
	hostnameLen int
)

// Random numbers: RDRAND where the CPU has it (checked at boot), else a
// generator seeded from the TSC, reported at boot as not cryptographically
// strong.
var (
	rngLock  spin.Lock
	rngState [2]uint64
)

//go:nosplit
func random64() uint64 {
	if cpuHasRdrand {
		for i := 0; i < 10; i++ {
			if v, ok := amd64.Rdrand(); ok {
				return v
			}
		}
	}
	// xorshift128+ over a TSC-seeded state.
	rngLock.Lock()
	s1, s0 := rngState[0], rngState[1]
	if s1|s0 == 0 {
		s1, s0 = amd64.Rdtsc()|1, 0x9E3779B97F4A7C15
	}
	rngState[0] = s0
	s1 ^= s1 << 23
	rngState[1] = s1 ^ s0 ^ s1>>17 ^ s0>>26
	v := rngState[1] + s0
	rngState[0] ^= amd64.Rdtsc()
	rngLock.Unlock()
	return v
}

//go:nosplit
func sysGetrandom(buf, n, flags uint64) int64 {
	if flags&^(unix.GRND_NONBLOCK|unix.GRND_RANDOM|unix.GRND_INSECURE) != 0 {
		return -einval
	}
	if n > 1<<25 {
		n = 1 << 25
	}
	if !mm.Access(uintptr(buf), uintptr(n), true) {
		return -efault
	}
	for i := uint64(0); i < n; i += 8 {
		v := random64()
		rngLock.Lock()
		v ^= poolTake64()
		rngLock.Unlock()
		for k := uint64(0); k < 8 && i+k < n; k++ {
			*(*byte)(amd64.Ptr(uintptr(buf + i + k))) = byte(v >> (8 * k))
		}
	}
	return int64(n)
}

// Resource limits.
type rlimit struct{ cur, max uint64 }

const rlimInfinity = ^uint64(0)

var rlimits = [16]rlimit{
	0: {rlimInfinity, rlimInfinity}, 1: {rlimInfinity, rlimInfinity}, 2: {rlimInfinity, rlimInfinity},
	3: {8 << 20, rlimInfinity}, 4: {0, rlimInfinity}, 5: {rlimInfinity, rlimInfinity},
	6: {MaxThreads, MaxThreads}, 7: {maxFDs, maxFDs}, 8: {64 << 10, 64 << 10},
	9: {rlimInfinity, rlimInfinity}, 10: {rlimInfinity, rlimInfinity}, 11: {MaxThreads, MaxThreads},
	12: {819200, 819200}, 13: {0, 0}, 14: {0, 0}, 15: {rlimInfinity, rlimInfinity},
}

//go:nosplit
func sysPrlimit(p, res, nw, old uint64) int64 {
	if p != 0 && p != pid {
		return -esrch
	}
	if res >= uint64(len(rlimits)) {
		return -einval
	}
	if nw != 0 && !mm.Access(uintptr(nw), 16, false) || old != 0 && !mm.Access(uintptr(old), 16, true) {
		return -efault
	}
	sigLock.Lock()
	defer sigLock.Unlock()
	o := rlimits[res]
	if nw != 0 {
		n := rlimit{ld64(uintptr(nw)), ld64(uintptr(nw) + 8)}
		if n.cur > n.max {
			return -einval
		}
		if n.max > o.max {
			return -eperm
		}
		rlimits[res] = n
	}
	if old != 0 {
		st64(uintptr(old), o.cur)
		st64(uintptr(old)+8, o.max)
	}
	return 0
}

//go:nosplit
func sysPrctl(option uint64) int64 {
	// PR_SET_VMA (naming mappings) included: EINVAL tells the runtime to
	// stop trying.
	return -einval
}

//go:nosplit
func sysGetcwd(buf, size uint64) int64 {
	if size < 2 {
		return -erange
	}
	if !mm.Access(uintptr(buf), 2, true) {
		return -efault
	}
	*(*[2]byte)(amd64.Ptr(uintptr(buf))) = [2]byte{'/', 0}
	return 2
}

//go:nosplit
func sysSysinfo(buf uint64) int64 {
	if !mm.Access(uintptr(buf), 112, true) {
		return -efault
	}
	clear((*[112]byte)(amd64.Ptr(uintptr(buf)))[:])
	p := mm.Phys()
	st64(uintptr(buf), now()/1e9)                               // uptime
	st64(uintptr(buf)+32, p.Total)                              // totalram
	st64(uintptr(buf)+40, p.Free)                               // freeram
	*(*uint16)(amd64.Ptr(uintptr(buf) + 80)) = uint16(nthreads) // procs
	st32(uintptr(buf)+104, 1)                                   // mem_unit
	return 0
}
