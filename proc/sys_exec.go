package proc

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/fs/vfs"
	"dunix/proc/elf"
)

func init() {
	reg(unix.SYS_EXECVE, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.execve(unix.AT_FDCWD, a[0], a[1], a[2], 0)
	})
	reg(unix.SYS_EXECVEAT, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.execve(int32(a[0]), a[1], a[2], a[3], int(a[4]))
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
		s, err := t.p.mm.CopyInString(ptr, elf.MaxArgStrlen)
		if err == syscall.ENAMETOOLONG {
			return nil, syscall.E2BIG
		}
		if err != nil {
			return nil, err
		}
		total += len(s) + 1
		if total > elf.MaxArgTotal || len(out) >= elf.MaxArgTotal/8 {
			return nil, syscall.E2BIG
		}
		out = append(out, s)
		addr += 8
	}
	return out, nil
}

func (t *Thread) execve(dirfd int32, pathp, argvp, envp uint64, flags int) error {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return syscall.EINVAL
	}
	at, path, err := t.atPath(dirfd, pathp, flags)
	if err != nil {
		return err
	}
	if path == "" {
		// fexecve: the program is the open file itself, reached through
		// its /proc link.
		path = fmt.Sprintf("/proc/self/fd/%d", dirfd)
		at = vfs.Loc{}
	} else if flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
		st, err := t.p.node.NS.Stat(t.ctx(), at, path, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			return err
		}
		if st.Type() == unix.S_IFLNK {
			return syscall.ELOOP
		}
	}
	argv, err := t.stringArray(argvp)
	if err != nil {
		return err
	}
	env, err := t.stringArray(envp)
	if err != nil {
		return err
	}
	if err := t.exec(at, path, argv, env); err != nil {
		return err
	}
	return errNoReturn
}
