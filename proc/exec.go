package proc

import (
	"bytes"
	"crypto/rand"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
	"syscall"

	"dunix/arch/amd64"
	"dunix/kernel"
	"dunix/proc/vm"
)

// FileSystem is what exec needs of the file system until the VFS is wired
// in: the bytes of an executable.
type FileSystem interface {
	ReadFile(path string) ([]byte, error)
}

// Limits of execve.
const (
	maxArgStrlen = 128 << 10
	maxArgTotal  = 2 << 20
	maxArgs      = 1 << 16
	pieBase      = 0x5555_5555_4000
)

// image is a loaded program, ready to become a process's address space.
type image struct {
	mm    *vm.Space
	entry uint64
	sp    uint64
}

// load builds a new address space for the static ELF program data.
func (n *Node) load(path string, data []byte, argv, envp []string) (*image, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil || f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Data != elf.ELFDATA2LSB {
		return nil, syscall.ENOEXEC
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, syscall.ENOEXEC
	}
	var bias uint64
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s: dynamically linked: dunix runs static binaries only: %w", path, syscall.ENOEXEC)
		}
	}
	if f.Type == elf.ET_DYN {
		bias = pieBase
	}
	mm, err := vm.New(n.Pool)
	if err != nil {
		return nil, err
	}
	fail := func(e error) (*image, error) { mm.Release(); return nil, e }
	file := bytes.NewReader(data)
	phoff := binary.LittleEndian.Uint64(data[32:])
	var phdr, end uint64
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		if p.Filesz > p.Memsz || p.Off+p.Filesz > uint64(len(data)) || p.Off%vm.PageSize != p.Vaddr%vm.PageSize {
			return fail(syscall.ENOEXEC)
		}
		start := (p.Vaddr + bias) &^ (vm.PageSize - 1)
		fileEnd := p.Vaddr + bias + p.Filesz
		memEnd := p.Vaddr + bias + p.Memsz
		if memEnd >= vm.UserEnd || memEnd < start || start < vm.PageSize {
			return fail(syscall.ENOEXEC)
		}
		prot := 0
		if p.Flags&elf.PF_R != 0 {
			prot |= vm.ProtRead
		}
		if p.Flags&elf.PF_W != 0 {
			prot |= vm.ProtWrite
		}
		if p.Flags&elf.PF_X != 0 {
			prot |= vm.ProtExec
		}
		// The file's bytes (the last page zero past them), then anonymous
		// zeros for the rest (BSS).
		off := int64(p.Off &^ (vm.PageSize - 1))
		fileBytes := int64(fileEnd - start)
		filePages := (fileEnd + vm.PageSize - 1) &^ (vm.PageSize - 1)
		if fileBytes > 0 {
			if _, err := mm.Map(start, filePages-start, prot, vm.MapPrivate|vm.MapFixedNoreplace, file, off, fileBytes, path); err != nil {
				return fail(syscall.ENOEXEC)
			}
		} else {
			filePages = start
		}
		if memEnd > filePages {
			if _, err := mm.Map(filePages, memEnd-filePages, prot, vm.MapPrivate|vm.MapAnonymous|vm.MapFixedNoreplace, nil, 0, 0, ""); err != nil {
				return fail(syscall.ENOEXEC)
			}
		}
		if phdr == 0 && p.Off <= phoff && phoff < p.Off+p.Filesz {
			phdr = p.Vaddr + bias + (phoff - p.Off)
		}
		end = max(end, memEnd)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_PHDR {
			phdr = p.Vaddr + bias
		}
	}
	if end == 0 {
		return fail(syscall.ENOEXEC)
	}
	mm.SetBrk((end + vm.PageSize - 1) &^ (vm.PageSize - 1))
	if _, err := mm.Map(vm.StackTop-vm.StackSize, vm.StackSize, vm.ProtRead|vm.ProtWrite,
		vm.MapPrivate|vm.MapAnonymous|vm.MapFixedNoreplace, nil, 0, 0, "[stack]"); err != nil {
		return fail(err)
	}
	var random [16]byte
	rand.Read(random[:])
	auxv := [][2]uint64{
		{atPhdr, phdr}, {atPhent, 56}, {atPhnum, uint64(len(f.Progs))},
		{atPagesz, vm.PageSize}, {atBase, 0}, {atFlags, 0},
		{atEntry, f.Entry + bias}, {atUid, 0}, {atEuid, 0}, {atGid, 0}, {atEgid, 0},
		{atSecure, 0}, {atClktck, 100}, {atHwcap, hwcap()}, {atHwcap2, 0},
	}
	stack, sp, err := buildStack(vm.StackTop, argv, envp, path, auxv, random)
	if err != nil {
		return fail(err)
	}
	if err := mm.CopyOut(sp, stack); err != nil {
		return fail(err)
	}
	return &image{mm: mm, entry: f.Entry + bias, sp: sp}, nil
}

func hwcap() uint64 {
	return uint64(kernel.HWCap())
}

// buildStack lays out argc, argv, envp and auxv below top as Linux does.
func buildStack(top uint64, argv, envp []string, execfn string, auxv [][2]uint64, random [16]byte) ([]byte, uint64, error) {
	total := 0
	for _, s := range append(append([]string{execfn}, argv...), envp...) {
		if len(s)+1 > maxArgStrlen {
			return nil, 0, syscall.E2BIG
		}
		total += len(s) + 1
	}
	if total > maxArgTotal || len(argv)+len(envp) > maxArgs {
		return nil, 0, syscall.E2BIG
	}
	var strs []byte
	place := func(s string) uint64 { // strings grow downwards from top
		strs = append([]byte(s+"\x00"), strs...)
		return top - uint64(len(strs))
	}
	execAddr := place(execfn)
	envAddr := make([]uint64, len(envp))
	for i := len(envp) - 1; i >= 0; i-- {
		envAddr[i] = place(envp[i])
	}
	argAddr := make([]uint64, len(argv))
	for i := len(argv) - 1; i >= 0; i-- {
		argAddr[i] = place(argv[i])
	}
	platform := place("x86_64")
	strs = append(random[:], strs...)
	randAddr := top - uint64(len(strs))
	aux := append(append([][2]uint64{}, auxv...), [2]uint64{atRandom, randAddr},
		[2]uint64{atExecfn, execAddr}, [2]uint64{atPlatform, platform}, [2]uint64{atNull, 0})
	words := 1 + len(argv) + 1 + len(envp) + 1 + 2*len(aux)
	sp := (top - uint64(len(strs)) - uint64(words)*8) &^ 15
	buf := make([]byte, top-sp)
	le := binary.LittleEndian
	w := 0
	put := func(v uint64) { le.PutUint64(buf[w:], v); w += 8 }
	put(uint64(len(argv)))
	for _, a := range argAddr {
		put(a)
	}
	put(0)
	for _, e := range envAddr {
		put(e)
	}
	put(0)
	for _, kv := range aux {
		put(kv[0])
		put(kv[1])
	}
	copy(buf[len(buf)-len(strs):], strs)
	return buf, sp, nil
}

// exec replaces t's process image with the program at path.
func (t *Thread) exec(path string, argv, envp []string) error {
	n := t.p.node
	data, err := n.FS.ReadFile(path)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(data, []byte("#!")) {
		line, _, _ := bytes.Cut(data[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			return syscall.ENOEXEC
		}
		interp := fields[0]
		nargv := []string{interp}
		if len(fields) > 1 {
			nargv = append(nargv, strings.Join(fields[1:], " "))
		}
		nargv = append(nargv, path)
		if len(argv) > 1 {
			nargv = append(nargv, argv[1:]...)
		}
		if data, err = n.FS.ReadFile(interp); err != nil {
			return err
		}
		path, argv = interp, nargv
	}
	img, err := n.load(path, data, argv, envp)
	if err != nil {
		return err
	}
	p := t.p
	// One thread remains: the others die (de_thread).
	p.mu.Lock()
	others := []*Thread{}
	for _, o := range p.threads {
		if o != t {
			others = append(others, o)
		}
	}
	p.mu.Unlock()
	for _, o := range others {
		o.mu.Lock()
		o.dead = true
		o.mu.Unlock()
		o.kick()
	}
	old := p.mm
	if err := t.task.SetRoot(img.mm.Root()); err != nil {
		img.mm.Release()
		return err
	}
	p.mu.Lock()
	p.mm = img.mm
	p.exe = path
	p.args = argv
	p.mu.Unlock()
	old.Release()
	p.fds.closeOnExec()
	p.sig.resetForExec()
	t.altSP, t.altSize, t.altFlags = 0, 0, ssDisable
	t.clearTID = 0
	r := t.task.Regs()
	*r = amd64.Frame{}
	r.RIP, r.RSP = img.entry, img.sp
	r.RFLAGS = 0x202
	kt := t.task.Task()
	kt.FSBase, kt.GSBase = 0, 0
	t.task.ResetFPU()
	p.releaseVfork()
	return nil
}

// Auxiliary-vector keys.
const (
	atNull     = 0
	atPhdr     = 3
	atPhent    = 4
	atPhnum    = 5
	atPagesz   = 6
	atBase     = 7
	atFlags    = 8
	atEntry    = 9
	atUid      = 11
	atEuid     = 12
	atGid      = 13
	atEgid     = 14
	atPlatform = 15
	atHwcap    = 16
	atClktck   = 17
	atSecure   = 23
	atRandom   = 25
	atHwcap2   = 26
	atExecfn   = 31
)
