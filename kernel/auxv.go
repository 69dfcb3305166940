package kernel

import (
	"unsafe"

	"dunix/kernel/mm"
)

// The runtime starts like a Linux program: on a stack holding argc, argv,
// envp and the auxiliary vector. The kernel command line is split the
// Linux way: "NAME=value" words with a name not starting with "dunix."
// become environment variables, everything else is an argument (the Go
// side parses the "dunix.*" flags).

// Auxiliary-vector keys.
const (
	atNull           = 0
	atPagesz         = 6
	atUID            = 11
	atEUID           = 12
	atGID            = 13
	atEGID           = 14
	atPlatform       = 15
	atHwcap          = 16
	atClktck         = 17
	atSecure         = 23
	atRandom         = 25
	atHwcap2         = 26
	atExecfn         = 31
	atSysinfoEhdr    = 33
	atMinsigstksz    = 51
	maxArgs          = 64
	defaultTraceback = "GOTRACEBACK=system"
)

// Scratch for runtimeStartStack (too big for a nosplit frame).
var (
	bootArgv, bootEnvp [maxArgs]uintptr
	bootAux            [32]uint64
)

// stackWriter fills the top of the runtime's stack downwards.
type stackWriter struct {
	top, sp uintptr
}

//go:nosplit
func (w *stackWriter) str(s []byte) uintptr {
	w.sp -= uintptr(len(s)) + 1
	b := bytesAt(uint64(w.sp), uint64(len(s)+1))
	copy(b, s)
	b[len(s)] = 0
	return w.sp
}

// runtimeStartStack builds the runtime's initial stack and returns its SP.
//
//go:nosplit
func runtimeStartStack() uintptr {
	top, ok := mm.AllocStack(runtimeStack)
	if !ok {
		return 0
	}
	w := stackWriter{top, top}
	argv, envp := &bootArgv, &bootEnvp
	argc, envc := 0, 0
	argv[argc] = w.str([]byte("/dunix"))
	argc++
	hasTraceback := false
	cl := bootInfo.CmdlineString()
	for i := 0; i < len(cl); {
		for i < len(cl) && cl[i] == ' ' {
			i++
		}
		j := i
		for j < len(cl) && cl[j] != ' ' {
			j++
		}
		if j == i {
			break
		}
		word := cl[i:j]
		i = j
		if isEnv(word) {
			if envc < maxArgs-4 {
				if hasPrefix(word, "GOTRACEBACK=") {
					hasTraceback = true
				}
				envp[envc] = w.str(word)
				envc++
			}
		} else if argc < maxArgs-1 {
			argv[argc] = w.str(word)
			argc++
		}
	}
	if !hasTraceback {
		envp[envc] = w.str([]byte(defaultTraceback))
		envc++
	}
	envp[envc] = w.str([]byte("HOME=/"))
	envc++
	platform := w.str([]byte("x86_64"))
	execfn := argv[0]
	w.sp &^= 15
	w.sp -= 16
	random := w.sp
	for k := uintptr(0); k < 16; k += 8 {
		st64(random+k, random64())
	}
	// From here 8-byte words, written top-down, ending 16-byte aligned at
	// argc.
	aux := &bootAux
	naux := 0
	add := func(k, v uint64) {
		aux[naux], aux[naux+1] = k, v
		naux += 2
	}
	add(atPagesz, mm.PageSize)
	add(atClktck, 100)
	add(atHwcap, hwcap)
	add(atHwcap2, 0)
	add(atUID, 0)
	add(atEUID, 0)
	add(atGID, 0)
	add(atEGID, 0)
	add(atSecure, 0)
	add(atRandom, uint64(random))
	add(atPlatform, uint64(platform))
	add(atExecfn, uint64(execfn))
	add(atMinsigstksz, uint64(xsaveSize)+frameSize+256)
	if vdsoPage[vdsoUsableWord] != 0 && !noVDSO() {
		add(atSysinfoEhdr, uint64(uintptr(unsafe.Pointer(&vdsoPage))))
		runtimeVDSO = true
	}
	add(atNull, 0)
	words := 1 + argc + 1 + envc + 1 + naux
	w.sp -= uintptr(words) * 8
	w.sp &^= 15
	p := w.sp
	st64(p, uint64(argc))
	p += 8
	for k := 0; k < argc; k++ {
		st64(p, uint64(argv[k]))
		p += 8
	}
	st64(p, 0)
	p += 8
	for k := 0; k < envc; k++ {
		st64(p, uint64(envp[k]))
		p += 8
	}
	st64(p, 0)
	p += 8
	for _, v := range aux[:naux] {
		st64(p, v)
		p += 8
	}
	return w.sp
}

// isEnv: NAME=value where NAME does not start with "dunix.".
//
//go:nosplit
func isEnv(w []byte) bool {
	if hasPrefix(w, "dunix.") {
		return false
	}
	for i, c := range w {
		if c == '=' {
			return i > 0
		}
	}
	return false
}

//go:nosplit
func hasPrefix(w []byte, p string) bool {
	if len(w) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if w[i] != p[i] {
			return false
		}
	}
	return true
}

// runtimeVDSO is set when the runtime was given the vDSO.
var runtimeVDSO bool

// noVDSO tells whether the command line turns the vDSO off
// (dunix.vdso=0): then every clock read, the runtime's too, is a system
// call, for comparison.
//
//go:nosplit
func noVDSO() bool { return hasWord(bootInfo.CmdlineString(), "dunix.vdso=0") }
