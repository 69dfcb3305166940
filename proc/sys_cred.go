package proc

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// Credentials: real, effective, saved and file-system IDs, with Linux's
// rules for who may change what (root, i.e. effective UID 0, may do
// anything; others may only move between their real, effective and saved
// IDs).

func registerCreds() {
	get := func(f func(c *Cred) uint32) handler {
		return func(t *Thread, a *[6]uint64) (uint64, error) {
			t.p.mu.Lock()
			defer t.p.mu.Unlock()
			return uint64(f(&t.p.cred)), nil
		}
	}
	reg(unix.SYS_GETUID, get(func(c *Cred) uint32 { return c.UID }))
	reg(unix.SYS_GETEUID, get(func(c *Cred) uint32 { return c.EUID }))
	reg(unix.SYS_GETGID, get(func(c *Cred) uint32 { return c.GID }))
	reg(unix.SYS_GETEGID, get(func(c *Cred) uint32 { return c.EGID }))
	reg(unix.SYS_SETUID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.setIDs(false, -1, int64(uint32(a[0])), -1, true)
	})
	reg(unix.SYS_SETGID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.setIDs(true, -1, int64(uint32(a[0])), -1, true)
	})
	reg(unix.SYS_SETREUID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.setIDs(false, id(a[0]), id(a[1]), -1, false)
	})
	reg(unix.SYS_SETREGID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.setIDs(true, id(a[0]), id(a[1]), -1, false)
	})
	reg(unix.SYS_SETRESUID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.setIDs(false, id(a[0]), id(a[1]), id(a[2]), false)
	})
	reg(unix.SYS_SETRESGID, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.setIDs(true, id(a[0]), id(a[1]), id(a[2]), false)
	})
	getres := func(gid bool) handler {
		return func(t *Thread, a *[6]uint64) (uint64, error) {
			t.p.mu.Lock()
			c := t.p.cred
			t.p.mu.Unlock()
			v := [3]uint32{c.UID, c.EUID, c.SUID}
			if gid {
				v = [3]uint32{c.GID, c.EGID, c.SGID}
			}
			for i := range v {
				if err := putU32(t.p, a[i], v[i]); err != nil {
					return 0, err
				}
			}
			return 0, nil
		}
	}
	reg(unix.SYS_GETRESUID, getres(false))
	reg(unix.SYS_GETRESGID, getres(true))
	reg(unix.SYS_SETFSUID, func(t *Thread, a *[6]uint64) (uint64, error) {
		p := t.p
		p.mu.Lock()
		defer p.mu.Unlock()
		old := p.cred.FSUID
		if v := uint32(a[0]); p.cred.EUID == 0 || v == p.cred.UID || v == p.cred.EUID || v == p.cred.SUID {
			p.cred.FSUID = v
		}
		return uint64(old), nil
	})
	reg(unix.SYS_SETFSGID, func(t *Thread, a *[6]uint64) (uint64, error) {
		p := t.p
		p.mu.Lock()
		defer p.mu.Unlock()
		old := p.cred.FSGID
		if v := uint32(a[0]); p.cred.EUID == 0 || v == p.cred.GID || v == p.cred.EGID || v == p.cred.SGID {
			p.cred.FSGID = v
		}
		return uint64(old), nil
	})
	reg(unix.SYS_GETGROUPS, func(t *Thread, a *[6]uint64) (uint64, error) {
		t.p.mu.Lock()
		g := append([]uint32(nil), t.p.cred.Groups...)
		t.p.mu.Unlock()
		n := int(int32(a[0]))
		if n < 0 {
			return 0, syscall.EINVAL
		}
		if n == 0 {
			return uint64(len(g)), nil
		}
		if n < len(g) {
			return 0, syscall.EINVAL
		}
		b := make([]byte, 4*len(g))
		for i, v := range g {
			binary.LittleEndian.PutUint32(b[4*i:], v)
		}
		return uint64(len(g)), t.p.mm.CopyOut(a[1], b)
	})
	reg(unix.SYS_SETGROUPS, func(t *Thread, a *[6]uint64) (uint64, error) {
		n := int(int32(a[0]))
		if n < 0 || n > 65536 {
			return 0, syscall.EINVAL
		}
		b := make([]byte, 4*n)
		if err := t.p.mm.CopyIn(a[1], b); err != nil {
			return 0, err
		}
		t.p.mu.Lock()
		defer t.p.mu.Unlock()
		if t.p.cred.EUID != 0 {
			return 0, syscall.EPERM
		}
		g := make([]uint32, n)
		for i := range g {
			g[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
		t.p.cred.Groups = g
		return 0, nil
	})
}

// id turns a -1 argument into "unchanged".
func id(v uint64) int64 {
	if uint32(v) == ^uint32(0) {
		return -1
	}
	return int64(uint32(v))
}

// setIDs changes real, effective and saved IDs (-1: unchanged). setuid
// style (posix): root sets all three, others only the effective one.
func (p *Process) setIDs(gid bool, r, e, s int64, posix bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.cred
	real, eff, saved, fs := &c.UID, &c.EUID, &c.SUID, &c.FSUID
	if gid {
		real, eff, saved, fs = &c.GID, &c.EGID, &c.SGID, &c.FSGID
	}
	priv := c.EUID == 0
	ok := func(v int64) bool {
		return v < 0 || priv || uint32(v) == *real || uint32(v) == *eff || uint32(v) == *saved
	}
	if posix {
		if priv {
			*real, *eff, *saved, *fs = uint32(e), uint32(e), uint32(e), uint32(e)
			return nil
		}
		if !ok(e) || uint32(e) != *real && uint32(e) != *saved {
			return syscall.EPERM
		}
		*eff, *fs = uint32(e), uint32(e)
		return nil
	}
	if !ok(r) || !ok(e) || !ok(s) {
		return syscall.EPERM
	}
	oldReal := *real
	if r >= 0 {
		*real = uint32(r)
	}
	if e >= 0 {
		*eff = uint32(e)
	}
	if s >= 0 {
		*saved = uint32(s)
	} else if r >= 0 || e >= 0 && uint32(e) != oldReal {
		*saved = *eff // setreuid's rule
	}
	*fs = *eff
	return nil
}
