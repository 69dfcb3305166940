package proc

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func init() {
	reg(unix.SYS_EXECVE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.execve(a[0], a[1], a[2])
	})
	reg(unix.SYS_EXECVEAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		if int32(a[0]) != unix.AT_FDCWD || a[4] != 0 {
			return 0, syscall.EINVAL // relative to a directory descriptor: not yet
		}
		return 0, t.execve(a[1], a[2], a[3])
	})
}

// strings reads a NULL-terminated array of string pointers.
func (t *Thread) stringArray(addr uint64) ([]string, error) {
	var out []string
	total := 0
	for addr != 0 {
		ptr, err := getU64(t.p, addr)
		if err != nil {
			return nil, err
		}
		if ptr == 0 {
			break
		}
		s, err := t.p.mm.CopyInString(ptr, maxArgStrlen)
		if err == syscall.ENAMETOOLONG {
			return nil, syscall.E2BIG
		}
		if err != nil {
			return nil, err
		}
		total += len(s) + 1
		if total > maxArgTotal || len(out) >= maxArgs {
			return nil, syscall.E2BIG
		}
		out = append(out, s)
		addr += 8
	}
	return out, nil
}

func (t *Thread) execve(pathp, argvp, envp uint64) error {
	path, err := t.p.mm.CopyInString(pathp, 4096)
	if err != nil {
		return err
	}
	argv, err := t.stringArray(argvp)
	if err != nil {
		return err
	}
	env, err := t.stringArray(envp)
	if err != nil {
		return err
	}
	if err := t.exec(t.p.resolve(path), argv, env); err != nil {
		return err
	}
	return errNoReturn
}

// resolve makes path absolute against the working directory.
func (p *Process) resolve(path string) string {
	if len(path) > 0 && path[0] == '/' {
		return path
	}
	p.mu.Lock()
	cwd := p.cwd
	p.mu.Unlock()
	if cwd == "/" {
		return "/" + path
	}
	return cwd + "/" + path
}
