package procfs

import (
	"strconv"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// rootDir is /proc: fixed entries (the system files, self, thread-self,
// sys) followed by one directory per process.
type rootDir struct {
	dir
}

// sysAttr returns the attributes of a new system inode of mode (owned by
// root, numbered in order of creation).
func (fs *FS) sysAttr(mode uint32) attr {
	return attr{fs: fs, ino: fs.newIno(), mode: mode, nlink: 1, time: fs.born}
}

// sysFile returns a read-only system file made by gen.
func (fs *FS) sysFile(gen genFunc) *genFile {
	return &genFile{attr: fs.sysAttr(unix.S_IFREG | 0o444), gen: gen}
}

// static returns a genFunc for contents made without the reader.
func static(f func() []byte) genFunc {
	return func(*vfs.Ctx) ([]byte, error) { return f(), nil }
}

// newRoot builds /proc and /proc/sys.
func (fs *FS) newRoot() *rootDir {
	r := &rootDir{}
	r.dir = *newDir(fs.sysAttr(0o555), nil, "", nil)
	src := fs.src

	self := &symlink{attr: fs.sysAttr(unix.S_IFLNK | 0o777), text: fs.selfText}
	threadSelf := &symlink{attr: fs.sysAttr(unix.S_IFLNK | 0o777), text: fs.threadSelfText}
	r.add("self", self)
	r.add("thread-self", threadSelf)
	r.add("cmdline", fs.sysFile(static(func() []byte { return []byte(src.System().Cmdline + "\n") })))
	r.add("cpuinfo", fs.sysFile(static(func() []byte { return formatCPUInfo(src.CPUs()) })))
	r.add("filesystems", fs.sysFile(static(func() []byte { return formatFilesystems(src.System().Filesystems) })))
	r.add("loadavg", fs.sysFile(static(func() []byte { c := src.Counters(); return formatLoadavg(&c) })))
	r.add("meminfo", fs.sysFile(static(func() []byte { m := src.Meminfo(); return formatMeminfo(&m) })))
	r.add("mounts", &symlink{attr: fs.sysAttr(unix.S_IFLNK | 0o777), text: func(*vfs.Ctx) (string, error) { return "self/mounts", nil }})
	r.add("stat", fs.sysFile(static(func() []byte { c := src.Counters(); return formatSysStat(src.CPUs(), &c) })))
	r.add("swaps", fs.sysFile(static(func() []byte { return []byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n") })))
	r.add("uptime", fs.sysFile(static(func() []byte { return formatUptime(src.Uptime()) })))
	r.add("version", fs.sysFile(static(func() []byte { s := src.System(); return formatVersion(&s) })))

	sys := newDir(fs.sysAttr(0o555), r, "sys", nil)
	r.add("sys", sys)
	line := func(f func(s *System) string) *genFile {
		return fs.sysFile(static(func() []byte { s := src.System(); return []byte(f(&s) + "\n") }))
	}
	kernel := newDir(fs.sysAttr(0o555), sys, "kernel", nil)
	kernel.add("domainname", line(func(s *System) string { return s.Domainname }))
	kernel.add("hostname", line(func(s *System) string { return s.Hostname }))
	kernel.add("osrelease", line(func(s *System) string { return s.Release }))
	kernel.add("ostype", line(func(s *System) string { return s.Sysname }))
	kernel.add("pid_max", line(func(s *System) string { return strconv.Itoa(s.PIDMax) }))
	kernel.add("version", line(func(s *System) string { return s.Version }))
	sysfs := newDir(fs.sysAttr(0o555), sys, "fs", nil)
	sysfs.add("pipe-max-size", line(func(s *System) string { return strconv.Itoa(s.PipeMaxSize) }))
	vm := newDir(fs.sysAttr(0o555), sys, "vm", nil)
	vm.add("overcommit_memory", line(func(s *System) string { return strconv.Itoa(s.OvercommitMemory) }))
	sys.add("fs", sysfs)
	sys.add("kernel", kernel)
	sys.add("vm", vm)
	return r
}

// selfText is the target of /proc/self: the caller's process ID.
func (fs *FS) selfText(ctx *vfs.Ctx) (string, error) {
	pid, _, ok := fs.src.Caller(ctx)
	if !ok {
		return "", unix.ENOENT
	}
	return strconv.FormatInt(int64(pid), 10), nil
}

// threadSelfText is the target of /proc/thread-self: "PID/task/TID".
func (fs *FS) threadSelfText(ctx *vfs.Ctx) (string, error) {
	pid, tid, ok := fs.src.Caller(ctx)
	if !ok {
		return "", unix.ENOENT
	}
	return strconv.FormatInt(int64(pid), 10) + "/task/" + strconv.FormatInt(int64(tid), 10), nil
}

// parseID parses a process, thread or descriptor number as Linux's
// name_to_int: decimal digits without a leading zero (but "0"), at most
// 2^31-1.
func parseID(name string) (int32, bool) {
	if name == "" || len(name) > 10 || (len(name) > 1 && name[0] == '0') {
		return 0, false
	}
	var n int64
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n > 1<<31-1 {
		return 0, false
	}
	return int32(n), true
}

// Stat implements vfs.Inode: the link count counts the processes, as
// Linux's.
func (r *rootDir) Stat() (vfs.Stat, error) {
	st, _ := r.attr.Stat()
	st.Nlink += uint32(len(r.fs.src.PIDs()))
	return st, nil
}

// Lookup implements vfs.DirInode.
func (r *rootDir) Lookup(ctx *vfs.Ctx, name string) (vfs.Inode, error) {
	if name == ".." {
		return r, nil
	}
	for i := range r.kids {
		if r.kids[i].name == name {
			return r.kids[i].ino, nil
		}
	}
	pid, ok := parseID(name)
	if !ok || pid == 0 {
		return nil, unix.ENOENT
	}
	h, err := r.fs.lookupProc(pid)
	if err != nil {
		return nil, err
	}
	return h.dir, nil
}

// Readdir implements vfs.DirInode. The fixed entries are at positions 1 to
// n, the process with ID pid at n+pid: a listing survives processes coming
// and going.
func (r *rootDir) Readdir(_ *vfs.Ctx, cookie int64, emit func(vfs.Dirent) bool) error {
	n := int64(len(r.kids))
	for i, k := range r.kids {
		off := int64(i) + 1
		if off <= cookie {
			continue
		}
		if !emit(vfs.Dirent{Name: k.name, Ino: k.num, Type: k.dtype, Off: off}) {
			return nil
		}
	}
	pids := sortedIDs(r.fs.src.PIDs(), 1)
	if cookie <= n {
		r.fs.keepOnly(pids) // a new listing: forget the processes gone since
	}
	for _, pid := range pids {
		off := n + int64(pid)
		if off <= cookie {
			continue
		}
		e := vfs.Dirent{Name: strconv.FormatInt(int64(pid), 10), Ino: pidIno(pid, kPidDir, 0), Type: unix.DT_DIR, Off: off}
		if !emit(e) {
			return nil
		}
	}
	return nil
}

// Name implements vfs.DirNamer.
func (r *rootDir) Name() (vfs.DirInode, string, error) { return r, "", nil }
