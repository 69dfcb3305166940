package elf

import (
	"encoding/binary"
	"strings"
	"syscall"
)

// Auxiliary vector entry types (include/uapi/linux/auxvec.h and
// arch/x86/include/uapi/asm/auxvec.h).
const (
	AT_NULL              = 0  // end of the vector
	AT_IGNORE            = 1  // entry to ignore
	AT_EXECFD            = 2  // file descriptor of the program
	AT_PHDR              = 3  // address of the program headers
	AT_PHENT             = 4  // size of one program header
	AT_PHNUM             = 5  // number of program headers
	AT_PAGESZ            = 6  // page size
	AT_BASE              = 7  // interpreter base (0 for static binaries)
	AT_FLAGS             = 8  // flags (0)
	AT_ENTRY             = 9  // program entry point
	AT_NOTELF            = 10 // program is not ELF
	AT_UID               = 11 // real user id
	AT_EUID              = 12 // effective user id
	AT_GID               = 13 // real group id
	AT_EGID              = 14 // effective group id
	AT_PLATFORM          = 15 // address of the platform string
	AT_HWCAP             = 16 // CPUID leaf 1 EDX
	AT_CLKTCK            = 17 // times() frequency (100)
	AT_SECURE            = 23 // secure (setuid) mode
	AT_BASE_PLATFORM     = 24 // address of the real platform string
	AT_RANDOM            = 25 // address of 16 random bytes
	AT_HWCAP2            = 26 // more hardware capabilities
	AT_RSEQ_FEATURE_SIZE = 27 // rseq supported feature size
	AT_RSEQ_ALIGN        = 28 // rseq allocation alignment
	AT_EXECFN            = 31 // address of the executed file name
	AT_SYSINFO_EHDR      = 33 // address of the vDSO ELF header
	AT_MINSIGSTKSZ       = 51 // minimal signal stack size
)

// Argument limits enforced by BuildStack and CheckArgs, as Linux has them.
const (
	// MaxArgStrlen is MAX_ARG_STRLEN: one argument or environment string,
	// NUL included, may not be longer (32 pages).
	MaxArgStrlen = 32 * PageSize
	// MaxArgTotal is the limit on all strings plus the argv and envp
	// pointers: a quarter of the default 8 MiB stack rlimit (Linux uses
	// min(rlimit/4, 6 MiB), at least 128 KiB).
	MaxArgTotal = 2 << 20
	// Platform is the AT_PLATFORM string.
	Platform = "x86_64"
)

// AuxEntry is one entry of the auxiliary vector.
type AuxEntry struct {
	Type uint64
	Val  uint64
}

// AuxParams are the process-dependent values of the auxiliary vector.
type AuxParams struct {
	UID, EUID, GID, EGID uint32
	// Secure is AT_SECURE (set-user-ID or set-group-ID execution).
	Secure bool
	// HWCap is CPUID.1:EDX, HWCap2 the x86 HWCAP2 bits (bit 1: FSGSBASE).
	HWCap, HWCap2 uint64
	// MinSigStkSz is AT_MINSIGSTKSZ, the size of a signal frame.
	MinSigStkSz uint64
	// SysinfoEHDR is the address of the vDSO, 0 if there is none (then
	// AT_SYSINFO_EHDR is left out).
	SysinfoEHDR uint64
}

// Auxv returns the auxiliary vector entries that depend on the image and
// the process, in Linux's order, for BuildStack (which adds AT_RANDOM,
// AT_EXECFN and AT_PLATFORM). The image must be relocated.
func (img *Image) Auxv(p AuxParams) []AuxEntry {
	var v []AuxEntry
	if p.SysinfoEHDR != 0 {
		v = append(v, AuxEntry{AT_SYSINFO_EHDR, p.SysinfoEHDR})
	}
	secure := uint64(0)
	if p.Secure {
		secure = 1
	}
	return append(v,
		AuxEntry{AT_MINSIGSTKSZ, p.MinSigStkSz},
		AuxEntry{AT_HWCAP, p.HWCap},
		AuxEntry{AT_PAGESZ, PageSize},
		AuxEntry{AT_CLKTCK, 100},
		AuxEntry{AT_PHDR, img.Phdr},
		AuxEntry{AT_PHENT, img.Phent},
		AuxEntry{AT_PHNUM, img.Phnum},
		AuxEntry{AT_BASE, 0},
		AuxEntry{AT_FLAGS, 0},
		AuxEntry{AT_ENTRY, img.Entry},
		AuxEntry{AT_UID, uint64(p.UID)},
		AuxEntry{AT_EUID, uint64(p.EUID)},
		AuxEntry{AT_GID, uint64(p.GID)},
		AuxEntry{AT_EGID, uint64(p.EGID)},
		AuxEntry{AT_SECURE, secure},
		AuxEntry{AT_HWCAP2, p.HWCap2},
	)
}

// CheckArgs reports whether execve's strings fit Linux's limits: every
// string (with its NUL) at most MaxArgStrlen bytes, and all strings plus
// one pointer per argument and environment string (at least one argument
// is counted, as an empty argv gets "" added) at most limit bytes. It
// returns syscall.E2BIG if not, syscall.EINVAL if a string contains a NUL
// byte. execve must call it (BuildStack does, with MaxArgTotal) before it
// destroys the old address space; a caller with a stack rlimit other than
// 8 MiB passes min(rlimit/4, 6 MiB), at least 128 KiB.
func CheckArgs(args, env []string, execfn string, limit int) error {
	total := 8 * (max(len(args), 1) + len(env))
	if total >= limit {
		return syscall.E2BIG
	}
	for _, group := range [][]string{args, env, {execfn}} {
		for _, s := range group {
			if len(s)+1 > MaxArgStrlen {
				return syscall.E2BIG
			}
			if strings.IndexByte(s, 0) >= 0 {
				return syscall.EINVAL
			}
			total += len(s) + 1
			if total > limit {
				return syscall.E2BIG
			}
		}
	}
	return nil
}

// BuildStack lays out the initial stack of a process as Linux does on
// x86-64 and returns the bytes to copy to [sp, top) and sp. From top down:
//
//	8 zero bytes (Linux starts below one word)
//	execfn, NUL-terminated
//	environment strings (env[0] lowest), argument strings (args[0] lowest)
//	  -- rounded down to 16 bytes (Linux would also subtract a random
//	     amount below 8 KiB here; not done)
//	"x86_64\0" (AT_PLATFORM)
//	16 bytes of AT_RANDOM data
//	padding so that sp is 16-byte aligned
//	auxv pairs, AT_NULL last
//	NULL, envp pointers, NULL, argv pointers, argc   <- sp
//
// auxv holds the caller's entries (see Image.Auxv); BuildStack inserts
// AT_RANDOM after AT_SECURE, then AT_EXECFN and AT_PLATFORM after AT_HWCAP2
// (Linux's order), or appends the three at the end if AT_SECURE is absent.
// auxv must not contain AT_NULL, AT_RANDOM, AT_EXECFN or AT_PLATFORM
// (syscall.EINVAL). An empty args becomes [""], as Linux does since 5.18.
// The limits of CheckArgs (with MaxArgTotal) are enforced (syscall.E2BIG).
// top must be 16-byte aligned and leave room below it (syscall.EINVAL).
func BuildStack(top uint64, args, env []string, execfn string, auxv []AuxEntry, random [16]byte) (mem []byte, sp uint64, err error) {
	if top%16 != 0 {
		return nil, 0, syscall.EINVAL
	}
	if err := CheckArgs(args, env, execfn, MaxArgTotal); err != nil {
		return nil, 0, err
	}
	if len(args) == 0 {
		args = []string{""}
	}
	for _, e := range auxv {
		switch e.Type {
		case AT_NULL, AT_RANDOM, AT_EXECFN, AT_PLATFORM:
			return nil, 0, syscall.EINVAL
		}
	}

	strLen := uint64(len(execfn) + 1)
	for _, group := range [][]string{args, env} {
		for _, s := range group {
			strLen += uint64(len(s) + 1)
		}
	}
	nwords := uint64(1 + len(args) + 1 + len(env) + 1 + 2*(len(auxv)+4))
	if top < 8+strLen+16+uint64(len(Platform)+1)+16+8*nwords+16 {
		return nil, 0, syscall.EINVAL // no room below top
	}

	// Strings, from the top down.
	p := top - 8
	p -= uint64(len(execfn) + 1)
	execfnAddr := p
	strs := make([]uint64, len(args)+len(env)) // addresses: args then env
	for i := len(env) - 1; i >= 0; i-- {
		p -= uint64(len(env[i]) + 1)
		strs[len(args)+i] = p
	}
	for i := len(args) - 1; i >= 0; i-- {
		p -= uint64(len(args[i]) + 1)
		strs[i] = p
	}
	p &^= 15
	p -= uint64(len(Platform) + 1)
	platformAddr := p
	p -= 16
	randomAddr := p

	// The auxiliary vector with our entries inserted.
	full := make([]AuxEntry, 0, len(auxv)+4)
	ours := []AuxEntry{{AT_EXECFN, execfnAddr}, {AT_PLATFORM, platformAddr}}
	secureSeen, inserted := false, false
	for _, e := range auxv {
		full = append(full, e)
		switch {
		case e.Type == AT_SECURE && !secureSeen:
			secureSeen = true
			full = append(full, AuxEntry{AT_RANDOM, randomAddr})
		case e.Type == AT_HWCAP2 && secureSeen && !inserted:
			inserted = true
			full = append(full, ours...)
		}
	}
	if !secureSeen {
		full = append(full, AuxEntry{AT_RANDOM, randomAddr})
	}
	if !inserted {
		// Right after AT_RANDOM when there is no AT_HWCAP2 after it.
		for i, e := range full {
			if e.Type == AT_RANDOM {
				full = append(full[:i+1], append(ours, full[i+1:]...)...)
				break
			}
		}
	}
	full = append(full, AuxEntry{AT_NULL, 0})

	words := 1 + (len(args) + 1) + (len(env) + 1) + 2*len(full)
	sp = (p - 8*uint64(words)) &^ 15
	mem = make([]byte, top-sp)
	at := func(addr uint64) []byte { return mem[addr-sp:] }
	le := binary.LittleEndian

	// Vectors.
	w := sp
	put := func(v uint64) { le.PutUint64(at(w), v); w += 8 }
	put(uint64(len(args)))
	for i := range args {
		put(strs[i])
	}
	put(0)
	for i := range env {
		put(strs[len(args)+i])
	}
	put(0)
	for _, e := range full {
		put(e.Type)
		put(e.Val)
	}

	// Data.
	copy(at(randomAddr), random[:])
	copy(at(platformAddr), Platform) // NUL from make
	for i, s := range args {
		copy(at(strs[i]), s)
	}
	for i, s := range env {
		copy(at(strs[len(args)+i]), s)
	}
	copy(at(execfnAddr), execfn)
	return mem, sp, nil
}
