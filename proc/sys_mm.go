package proc

import (
	"syscall"

	"golang.org/x/sys/unix"

	"dunix/proc/vm"
)

// Memory: mmap, munmap, mprotect, mremap, brk, madvise, mincore, msync.

func init() {
	reg(unix.SYS_MMAP, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.mmap(a[0], a[1], int(a[2]), int(a[3]), int32(a[4]), int64(a[5]))
	})
	reg(unix.SYS_MUNMAP, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, t.p.mm.Unmap(a[0], a[1])
	})
	reg(unix.SYS_MPROTECT, func(t *Thread, a *[6]uint64) (uint64, error) {
		if a[2]&^(vm.ProtRead|vm.ProtWrite|vm.ProtExec|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
			return 0, syscall.EINVAL
		}
		return 0, t.p.mm.Protect(a[0], a[1], int(a[2]))
	})
	reg(unix.SYS_MREMAP, func(t *Thread, a *[6]uint64) (uint64, error) {
		flags := a[3]
		if flags&^uint64(unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED) != 0 || flags&unix.MREMAP_FIXED != 0 {
			return 0, syscall.EINVAL // moving to a given address: not supported
		}
		return t.p.mm.Remap(a[0], a[1], a[2], flags&unix.MREMAP_MAYMOVE != 0)
	})
	reg(unix.SYS_BRK, func(t *Thread, a *[6]uint64) (uint64, error) {
		return t.p.mm.Brk(a[0]), nil
	})
	reg(unix.SYS_MADVISE, func(t *Thread, a *[6]uint64) (uint64, error) {
		switch a[2] {
		case unix.MADV_DONTNEED, unix.MADV_FREE:
			return 0, t.p.mm.DropPages(a[0], a[1])
		case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
			unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE,
			unix.MADV_DONTDUMP, unix.MADV_DODUMP, unix.MADV_MERGEABLE, unix.MADV_UNMERGEABLE:
			return 0, nil // advice only
		}
		return 0, syscall.EINVAL
	})
	reg(unix.SYS_MINCORE, func(t *Thread, a *[6]uint64) (uint64, error) {
		v, err := t.p.mm.Resident(a[0], a[1])
		if err != nil {
			return 0, err
		}
		return 0, t.p.mm.CopyOut(a[2], v)
	})
	reg(unix.SYS_MSYNC, func(t *Thread, a *[6]uint64) (uint64, error) {
		return 0, nil // private and anonymous mappings have nothing to write back
	})
	reg(unix.SYS_MLOCK, func(t *Thread, a *[6]uint64) (uint64, error) { return 0, nil })
	reg(unix.SYS_MUNLOCK, func(t *Thread, a *[6]uint64) (uint64, error) { return 0, nil })
}

func (t *Thread) mmap(addr, length uint64, prot, flags int, fd int32, off int64) (uint64, error) {
	if prot&^(vm.ProtRead|vm.ProtWrite|vm.ProtExec) != 0 {
		return 0, syscall.EINVAL
	}
	typ := flags & (vm.MapShared | vm.MapPrivate)
	if typ == 0 || typ == vm.MapShared|vm.MapPrivate {
		return 0, syscall.EINVAL
	}
	if flags&vm.MapAnonymous != 0 {
		return t.p.mm.Map(addr, length, prot, flags, nil, 0, 0, "")
	}
	f, err := t.p.fds.get(fd)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	backing, size, name, err := t.mappable(f, prot, flags)
	if err != nil {
		return 0, err
	}
	return t.p.mm.Map(addr, length, prot, flags, backing, off, size, name)
}
