package proc

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"dunix/arch/amd64"
	"dunix/fs/vfs"
	"dunix/kernel"
	"dunix/proc/elf"
	"dunix/proc/vm"
)

// maxScriptDepth is how many #! interpreters may lead to one another
// (Linux: 4 levels; ELOOP beyond).
const maxScriptDepth = 4

// program is an executable found and checked: the open file, its
// parsed plan, and the arguments after #! processing.
type program struct {
	f      *vfs.File
	img    *elf.Image
	path   string // the file's path in the namespace (/proc/PID/exe)
	execfn string // the name given to execve (AT_EXECFN)
	argv   []string
	setuid int64 // the owner to run as (set-user-ID file), or -1
	setgid int64
}

// image is a loaded program, ready to become a process's address space.
type image struct {
	mm    *vm.Space
	entry uint64
	sp    uint64
}

// find opens the program at path (relative to at) for t, following #!
// lines, and parses it. Everything that can fail before the old image is
// destroyed fails here.
func (t *Thread) find(at vfs.Loc, path string, argv, envp []string) (*program, error) {
	ctx := t.ctx()
	ns := t.p.node.NS
	execfn := path
	for depth := 0; ; depth++ {
		f, err := ns.OpenExec(ctx, at, path)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		head := make([]byte, 256)
		n, err := mapFile{f}.ReadAt(head, 0)
		if err != nil && n == 0 && st.Size > 0 {
			f.Close()
			return nil, err
		}
		head = head[:n]
		if interp, arg, ok := elf.ParseShebang(head); ok {
			f.Close()
			if depth >= maxScriptDepth {
				return nil, syscall.ELOOP
			}
			argv = elf.ScriptArgs(interp, arg, path, argv)
			path = interp
			t.p.mu.Lock()
			at = t.p.cwd
			t.p.mu.Unlock()
			continue
		} else if len(head) >= 2 && head[0] == '#' && head[1] == '!' {
			f.Close()
			return nil, syscall.ENOEXEC
		}
		img, err := elf.Parse(mapFile{f}, st.Size)
		if err != nil {
			f.Close()
			if errors.Is(err, elf.ErrDynamic) {
				// ENOEXEC for the caller, and a line saying why for the
				// user (a shell would otherwise say "syntax error").
				fmt.Fprintf(os.Stdout, "dunix: cannot run %s: %v\n", path, err)
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return nil, syscall.ENOEXEC
		}
		if err := elf.CheckArgs(argv, envp, execfn, elf.MaxArgTotal); err != nil {
			f.Close()
			return nil, err
		}
		name, err := ns.Path(ctx, f.Loc())
		if err != nil {
			name = path
		}
		pr := &program{f: f, img: img, path: name, execfn: execfn, argv: argv, setuid: -1, setgid: -1}
		nosuid := f.Mount() != nil && f.Mount().Flags()&unix.MS_NOSUID != 0
		if st.Mode&unix.S_ISUID != 0 && !nosuid {
			pr.setuid = int64(st.UID)
		}
		if st.Mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP && !nosuid {
			pr.setgid = int64(st.GID)
		}
		return pr, nil
	}
}

// load builds a new address space for pr with its initial stack.
func (n *Node) load(pr *program, cred Cred, envp []string) (*image, error) {
	img := pr.img
	if img.PIE {
		var err error
		if img, err = img.Relocate(img.DefaultBias()); err != nil {
			return nil, syscall.ENOEXEC
		}
	}
	mm, err := vm.New(n.Pool)
	if err != nil {
		return nil, err
	}
	fail := func(e error) (*image, error) { mm.Release(); return nil, e }
	file := mapFile{pr.f}
	for _, s := range img.Segments {
		prot := int(s.Prot) // PROT_* values
		fileLen := (s.FileLen + vm.PageSize - 1) &^ (vm.PageSize - 1)
		if s.FileLen > 0 {
			// The file's size is given as s.Off+s.FileLen: the bytes
			// past FileLen in the last page read as zeros (.bss).
			if _, err := mm.Map(s.Addr, fileLen, prot, vm.MapPrivate|vm.MapFixedNoreplace,
				file, int64(s.Off), int64(s.Off+s.FileLen), pr.path); err != nil {
				return fail(syscall.ENOEXEC)
			}
		}
		if s.Len > fileLen {
			if _, err := mm.Map(s.Addr+fileLen, s.Len-fileLen, prot, vm.MapPrivate|vm.MapAnonymous|vm.MapFixedNoreplace,
				nil, 0, 0, ""); err != nil {
				return fail(syscall.ENOEXEC)
			}
		}
	}
	mm.SetBrk(img.Brk)
	stackProt := vm.ProtRead | vm.ProtWrite
	if img.ExecStack {
		stackProt |= vm.ProtExec
	}
	if _, err := mm.Map(vm.StackTop-vm.StackSize, vm.StackSize, stackProt,
		vm.MapPrivate|vm.MapAnonymous|vm.MapFixedNoreplace, nil, 0, 0, "[stack]"); err != nil {
		return fail(err)
	}
	var random [16]byte
	rand.Read(random[:])
	auxv := img.Auxv(elf.AuxParams{UID: cred.UID, EUID: cred.EUID, GID: cred.GID, EGID: cred.EGID,
		Secure: cred.UID != cred.EUID || cred.GID != cred.EGID,
		HWCap:  uint64(kernel.HWCap()), MinSigStkSz: minSigStkSz(),
		SysinfoEHDR: n.mapVDSO(mm)})
	stack, sp, err := elf.BuildStack(vm.StackTop, pr.argv, envp, pr.execfn, auxv, random)
	if err != nil {
		return fail(err)
	}
	if err := mm.CopyOut(sp, stack); err != nil {
		return fail(err)
	}
	return &image{mm: mm, entry: img.Entry, sp: sp}, nil
}

// minSigStkSz is the size of a signal frame (AT_MINSIGSTKSZ).
func minSigStkSz() uint64 {
	return uint64(frameSize+kernel.FPUSize()+4+64+128+15) &^ 15
}

// exec replaces t's process image with the program at path (relative to
// at): execve(2). On success t resumes at the program's entry.
func (t *Thread) exec(at vfs.Loc, path string, argv, envp []string) error {
	pr, err := t.find(at, path, argv, envp)
	if err != nil {
		return err
	}
	defer pr.f.Close() // the mappings hold their own references
	p := t.p
	p.mu.Lock()
	cred := p.cred
	p.mu.Unlock()
	if p.noNewPrivs {
		pr.setuid, pr.setgid = -1, -1
	}
	if pr.setuid >= 0 {
		cred.EUID, cred.SUID, cred.FSUID = uint32(pr.setuid), uint32(pr.setuid), uint32(pr.setuid)
	}
	if pr.setgid >= 0 {
		cred.EGID, cred.SGID, cred.FSGID = uint32(pr.setgid), uint32(pr.setgid), uint32(pr.setgid)
	}
	cred.SUID, cred.SGID = cred.EUID, cred.EGID
	img, err := p.node.load(pr, cred, envp)
	if err != nil {
		return err
	}
	// The point of no return. One thread remains: the others die
	// (de_thread). When two threads call execve at once the first to get
	// here wins; the other fails with EAGAIN, as Linux's de_thread does,
	// and is ended by the winner like any other thread.
	p.mu.Lock()
	if p.execer != nil && p.execer != t {
		p.mu.Unlock()
		img.mm.Release()
		return syscall.EAGAIN
	}
	p.execer = t
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
	// Wait until they are gone: none may run on the old address space
	// once it is released (a thread still in user mode on another CPU
	// would run on a freed page table), nor exit into the new one.
	for _, o := range others {
		if !t.awaitGone(o) {
			// The process is going away (a fatal signal, exit_group).
			p.endExec()
			img.mm.Release()
			return syscall.EINTR
		}
	}
	old := p.mm
	if err := t.task.SetRoot(img.mm.Root()); err != nil {
		p.endExec()
		img.mm.Release()
		return err
	}
	p.mu.Lock()
	p.execer = nil
	p.mm = img.mm
	p.cred = cred
	p.exe = pr.path
	p.execed = true
	oldExe := p.exeFile
	pr.f.IncRef()
	p.exeFile = pr.f
	p.args = pr.argv
	p.env = envp
	p.mu.Unlock()
	if oldExe != nil {
		oldExe.Close()
	}
	if old != nil {
		old.Release()
	}
	p.fds.closeOnExec()
	p.sig.resetForExec()
	t.altSP, t.altSize, t.altFlags = 0, 0, ssDisable
	t.clearTID = 0
	t.setComm(baseName(pr.execfn))
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

// endExec gives up the claim of an execve that failed after it.
func (p *Process) endExec() {
	p.mu.Lock()
	p.execer = nil
	p.mu.Unlock()
}

// awaitGone waits until thread o has exited, kicking it again now and
// then (a kick may land before it blocks). It returns false, without
// waiting longer, when t itself has been ended meanwhile (two threads
// calling execve at once: the other one's won).
func (t *Thread) awaitGone(o *Thread) bool {
	if o.gone == nil {
		return true
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-o.gone:
			return true
		case <-tick.C:
			t.mu.Lock()
			dead := t.dead
			t.mu.Unlock()
			if dead {
				return false
			}
			o.kick()
		}
	}
}
