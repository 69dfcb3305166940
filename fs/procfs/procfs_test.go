package procfs

import (
	"strconv"
	"strings"
	"testing"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// check compares got with want line by line, reporting the first
// difference.
func check(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("%s: line %d:\n got %q\nwant %q", what, i+1, g, w)
			return
		}
	}
	t.Errorf("%s: got %q, want %q", what, got, want)
}

func TestRootListing(t *testing.T) {
	w := newWorld(t)
	names, ents, err := w.list(w.user, "/proc")
	w.must(err)
	want := "self thread-self cmdline cpuinfo filesystems loadavg meminfo mounts stat swaps uptime version sys 1 100 200 300"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("/proc: %s\nwant %s", got, want)
	}
	for _, d := range ents {
		st, err := w.ns.Stat(w.user, w.root, "/proc/"+d.Name, unix.AT_SYMLINK_NOFOLLOW)
		w.must(err)
		if st.Ino != d.Ino || vfs.DirentType(st.Mode) != d.Type {
			t.Errorf("%s: dirent ino %d type %d, stat ino %d mode %o", d.Name, d.Ino, d.Type, st.Ino, st.Mode)
		}
		if st.Dev != w.fs.dev || st.Size != 0 {
			t.Errorf("%s: dev %d size %d", d.Name, st.Dev, st.Size)
		}
	}
	st, err := w.ns.Stat(w.user, w.root, "/proc", 0)
	w.must(err)
	if st.Mode != unix.S_IFDIR|0o555 || st.Nlink != 3+4 || st.UID != 0 {
		t.Errorf("/proc: mode %o nlink %d uid %d", st.Mode, st.Nlink, st.UID)
	}
	sf, err := w.ns.Statfs(w.user, w.root, "/proc/self/stat")
	w.must(err)
	if sf.Type != Magic || sf.Flags&unix.ST_NOEXEC == 0 {
		t.Errorf("statfs %+v", sf)
	}
	// Entries that are no process.
	for _, n := range []string{"0", "01", "-1", "4294967296", "99", "abc", "1x"} {
		_, err := w.ns.Stat(w.user, w.root, "/proc/"+n, 0)
		wantErr(t, "stat /proc/"+n, err, unix.ENOENT)
	}
}

func TestSelf(t *testing.T) {
	w := newWorld(t)
	if s, err := w.ns.Readlink(w.user, w.root, "/proc/self"); err != nil || s != "100" {
		t.Errorf("readlink self: %q %v", s, err)
	}
	if s, err := w.ns.Readlink(w.user, w.root, "/proc/thread-self"); err != nil || s != "100/task/101" {
		t.Errorf("readlink thread-self: %q %v", s, err)
	}
	if s, err := w.ns.Readlink(w.user, w.root, "/proc/mounts"); err != nil || s != "self/mounts" {
		t.Errorf("readlink mounts: %q %v", s, err)
	}
	// The kernel has no /proc/self.
	_, err := w.ns.Readlink(w.kctx, w.root, "/proc/self")
	wantErr(t, "readlink self as the kernel", err, unix.ENOENT)
	_, err = w.read(w.kctx, "/proc/self/stat")
	wantErr(t, "read self/stat as the kernel", err, unix.ENOENT)

	if got := w.mustRead(w.user, "/proc/self/comm"); got != "a) b\n" {
		t.Errorf("self/comm %q", got)
	}
	if got := w.mustRead(w.user, "/proc/thread-self/comm"); got != "worker\n" {
		t.Errorf("thread-self/comm %q", got)
	}
	if got := w.mustRead(w.stranger, "/proc/self/cmdline"); got != "other\x00" {
		t.Errorf("self/cmdline of 300 %q", got)
	}
	// /proc/mounts is the reader's.
	if got := w.mustRead(w.user, "/proc/mounts"); !strings.HasPrefix(got, "rootfs / rootfs rw 0 0\n") {
		t.Errorf("/proc/mounts %q", got)
	}
	// getcwd inside /proc/self.
	l, err := w.ns.LookupDir(w.user, w.root, "/proc/self/task/101", 0)
	w.must(err)
	if p, err := w.ns.Path(w.user, l); err != nil || p != "/proc/100/task/101" {
		t.Errorf("path of task dir %q %v", p, err)
	}
	l, err = w.ns.LookupDir(w.user, w.root, "/proc/self/fdinfo", 0)
	w.must(err)
	if p, err := w.ns.Path(w.user, l); err != nil || p != "/proc/100/fdinfo" {
		t.Errorf("path of fdinfo %q %v", p, err)
	}
	l, err = w.ns.LookupDir(w.kctx, w.root, "/proc/100/task/..", 0)
	w.must(err)
	if p, err := w.ns.Path(w.user, l); err != nil || p != "/proc/100" {
		t.Errorf("path of task/.. %q %v", p, err)
	}
}

func TestProcessDir(t *testing.T) {
	w := newWorld(t)
	names, ents, err := w.list(w.user, "/proc/100")
	w.must(err)
	want := "task fd fdinfo environ status limits comm cmdline stat statm maps cwd root exe mounts mountinfo"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("/proc/100: %s\nwant %s", got, want)
	}
	seen := map[uint64]string{}
	modes := map[string]uint32{
		"task": unix.S_IFDIR | 0o555, "fd": unix.S_IFDIR | 0o500, "fdinfo": unix.S_IFDIR | 0o555,
		"environ": unix.S_IFREG | 0o400, "cwd": unix.S_IFLNK | 0o777, "exe": unix.S_IFLNK | 0o777,
		"stat": unix.S_IFREG | 0o444, "maps": unix.S_IFREG | 0o444,
	}
	for _, d := range ents {
		st, err := w.ns.Stat(w.user, w.root, "/proc/100/"+d.Name, unix.AT_SYMLINK_NOFOLLOW)
		w.must(err)
		if st.Ino != d.Ino || vfs.DirentType(st.Mode) != d.Type {
			t.Errorf("%s: dirent ino %d type %d, stat ino %d mode %o", d.Name, d.Ino, d.Type, st.Ino, st.Mode)
		}
		if o, dup := seen[st.Ino]; dup {
			t.Errorf("%s and %s share inode %d", d.Name, o, st.Ino)
		}
		seen[st.Ino] = d.Name
		if st.UID != 1000 || st.GID != 1000 {
			t.Errorf("%s: owner %d:%d", d.Name, st.UID, st.GID)
		}
		if m, ok := modes[d.Name]; ok && st.Mode != m {
			t.Errorf("%s: mode %o, want %o", d.Name, st.Mode, m)
		}
		if st.Type() == unix.S_IFREG && st.Size != 0 {
			t.Errorf("%s: size %d", d.Name, st.Size)
		}
	}
	st, err := w.ns.Stat(w.user, w.root, "/proc/100", 0)
	w.must(err)
	if st.UID != 1000 || st.Mode != unix.S_IFDIR|0o555 || st.Nlink != 5 {
		t.Errorf("/proc/100: %+v", st)
	}
	if st, err := w.ns.Stat(w.user, w.root, "/proc/100/fd", 0); err != nil || st.Size != 4 {
		t.Errorf("fd dir size %d %v", st.Size, err)
	}
	if st, err := w.ns.Stat(w.user, w.root, "/proc/100/task", 0); err != nil || st.Nlink != 5 {
		t.Errorf("task dir nlink %d %v", st.Nlink, err)
	}
	// Root's process belongs to root.
	if st, err := w.ns.Stat(w.user, w.root, "/proc/1/status", 0); err != nil || st.UID != 0 {
		t.Errorf("/proc/1/status owner %d %v", st.UID, err)
	}
	// A second lookup gives the same inodes.
	a, err := w.ns.Lookup(w.user, w.root, "/proc/100/fd/0", unix.AT_SYMLINK_NOFOLLOW)
	w.must(err)
	b, err := w.ns.Lookup(w.user, w.root, "/proc/self/fd/0", unix.AT_SYMLINK_NOFOLLOW)
	w.must(err)
	if a != b {
		t.Errorf("fd/0 looked up twice: different inodes")
	}
	a, err = w.ns.Lookup(w.user, w.root, "/proc/100/task/101", 0)
	w.must(err)
	b, err = w.ns.Lookup(w.user, w.root, "/proc/thread-self", 0)
	w.must(err)
	if a != b {
		t.Errorf("task/101 looked up twice: different inodes")
	}
}

func TestStat(t *testing.T) {
	w := newWorld(t)
	full := "100 (a) b) S 1 100 1 1025 100 4194304 10 1 2 0 150 25 0 1 20 0 3 0 1234 10485760 300 " +
		"18446744073709551615 4194304 4198400 2147221504 0 0 0 2 4096 65536 0 0 0 17 1 0 0 0 0 0 " +
		"6291456 6295552 6299648 2147287040 2147287056 2147287056 2147287296 0\n"
	got := w.mustRead(w.user, "/proc/100/stat")
	check(t, "stat", got, full)
	// As ps parses it: after the last ')'.
	rest := got[strings.LastIndexByte(got, ')')+2:]
	if n := 2 + len(strings.Fields(rest)); n != 52 {
		t.Errorf("stat has %d fields", n)
	}
	if got := w.mustRead(w.kctx, "/proc/100/stat"); got != full {
		t.Errorf("stat as root %q", got)
	}
	// Others do not see the addresses.
	hidden := "100 (a) b) S 1 100 1 1025 100 4194304 10 1 2 0 150 25 0 1 20 0 3 0 1234 10485760 300 " +
		"18446744073709551615 1 1 0 0 0 0 2 4096 65536 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	check(t, "stat as another user", w.mustRead(w.stranger, "/proc/100/stat"), hidden)

	// Threads: their own IDs, names and times; wchan for a sleeping one.
	check(t, "task/101/stat", w.mustRead(w.user, "/proc/100/task/101/stat"),
		"101 (worker) R 1 100 1 1025 100 4194304 10 1 2 0 2 25 0 1 20 0 3 0 1234 10485760 300 "+
			"18446744073709551615 4194304 4198400 2147221504 0 0 0 2 4096 65536 0 0 0 17 0 0 0 0 0 0 "+
			"6291456 6295552 6299648 2147287040 2147287056 2147287056 2147287296 0\n")
	got = w.mustRead(w.user, "/proc/self/task/102/stat")
	if f := strings.Fields(got[strings.LastIndexByte(got, ')')+2:]); f[35-3] != "1" {
		t.Errorf("task/102 wchan %q in %q", f[35-3], got)
	}

	// The zombie.
	check(t, "zombie stat", w.mustRead(w.user, "/proc/200/stat"),
		"200 (dead) Z 100 100 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 1 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 256\n")
	check(t, "zombie statm", w.mustRead(w.user, "/proc/200/statm"), "0 0 0 0 0 0 0\n")

	check(t, "statm", w.mustRead(w.stranger, "/proc/100/statm"), "2560 300 100 1 0 545 0\n")
}

func TestStatus(t *testing.T) {
	w := newWorld(t)
	want := `Name:	a) b
Umask:	0022
State:	S (sleeping)
Tgid:	100
Ngid:	0
Pid:	100
PPid:	1
TracerPid:	0
Uid:	1000	1000	1000	1000
Gid:	1000	1000	1000	1000
FDSize:	64
Groups:	1000 27 
NStgid:	100
NSpid:	100
NSpgid:	100
NSsid:	1
Kthread:	0
VmPeak:	   12288 kB
VmSize:	   10240 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	    1400 kB
VmRSS:	    1200 kB
RssAnon:	     800 kB
RssFile:	     400 kB
RssShmem:	       0 kB
VmData:	    2048 kB
VmStk:	     132 kB
VmExe:	       4 kB
VmLib:	       0 kB
VmPTE:	      48 kB
VmSwap:	       0 kB
HugetlbPages:	       0 kB
CoreDumping:	0
THP_enabled:	0
untag_mask:	0xffffffffffffffff
Threads:	3
SigQ:	1/63432
SigPnd:	0000000000000000
ShdPnd:	0000000000000000
SigBlk:	0000000000000002
SigIgn:	0000000000001000
SigCgt:	0000000200010000
CapInh:	0000000000000000
CapPrm:	0000000000000000
CapEff:	0000000000000000
CapBnd:	000001ffffffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
Seccomp:	0
Seccomp_filters:	0
Speculation_Store_Bypass:	unknown
SpeculationIndirectBranch:	unsupported
Cpus_allowed:	3
Cpus_allowed_list:	0-1
Mems_allowed:	1
Mems_allowed_list:	0
voluntary_ctxt_switches:	7
nonvoluntary_ctxt_switches:	3
`
	check(t, "status", w.mustRead(w.stranger, "/proc/100/status"), want)
	got := w.mustRead(w.user, "/proc/100/task/101/status")
	for _, l := range []string{"Name:\tworker\n", "State:\tR (running)\n", "Tgid:\t100\n", "Pid:\t101\n"} {
		if !strings.Contains(got, l) {
			t.Errorf("task status lacks %q:\n%s", l, got)
		}
	}
	// A zombie: no umask, no memory.
	got = w.mustRead(w.user, "/proc/200/status")
	if !strings.HasPrefix(got, "Name:\tdead\nState:\tZ (zombie)\nTgid:\t200\n") || strings.Contains(got, "Vm") {
		t.Errorf("zombie status:\n%s", got)
	}
	// With no limits: SigQ against unlimited.
	if got := w.mustRead(w.user, "/proc/1/status"); !strings.Contains(got, "SigQ:\t0/18446744073709551615\n") {
		t.Errorf("init status:\n%s", got)
	}
}

func TestProcessFiles(t *testing.T) {
	w := newWorld(t)
	check(t, "cmdline", w.mustRead(w.stranger, "/proc/100/cmdline"), "prog\x00-v\x00a b\x00")
	check(t, "environ", w.mustRead(w.user, "/proc/100/environ"), "HOME=/home/user\x00TERM=vt100\x00")
	check(t, "comm", w.mustRead(w.user, "/proc/100/task/101/comm"), "worker\n")
	check(t, "zombie cmdline", w.mustRead(w.user, "/proc/200/cmdline"), "")
	pad := strings.Repeat(" ", 34)
	check(t, "maps", w.mustRead(w.user, "/proc/self/maps"),
		"00400000-00401000 r-xp 00000000 00:11 5"+pad+"/bin/prog\n"+
			"00602000-00623000 rw-p 00000000 00:00 0"+pad+"[heap]\n"+
			"7f0000000000-7f0000001000 rw-s 00001000 00:00 0 \n"+
			"7ffc0000-7ffe1000 rw-p 00000000 00:00 0"+pad+"[stack]\n")
	check(t, "limits", w.mustRead(w.stranger, "/proc/100/limits"),
		`Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             63432                63432                processes 
Max open files            1024                 4096                 files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       63432                63432                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`)
	// No limits at all: all unlimited.
	if got := w.mustRead(w.user, "/proc/1/limits"); strings.Count(got, "unlimited") != 32 {
		t.Errorf("init limits:\n%s", got)
	}
}

func TestMounts(t *testing.T) {
	w := newWorld(t)
	mounts := "rootfs / rootfs rw 0 0\n" +
		"proc /proc proc rw,nosuid,nodev,noexec 0 0\n" +
		"tmpfs /tmp\\040dir tmpfs ro,relatime,size=10k 0 0\n"
	check(t, "mounts", w.mustRead(w.user, "/proc/self/mounts"), mounts)
	check(t, "/proc/mounts", w.mustRead(w.user, "/proc/mounts"), mounts)
	check(t, "mountinfo", w.mustRead(w.user, "/proc/100/mountinfo"),
		"1 1 0:0 / / rw - rootfs rootfs rw\n"+
			"2 1 0:0 / /proc rw,nosuid,nodev,noexec - proc proc rw\n"+
			"3 1 0:0 / /tmp\\040dir ro,relatime - tmpfs tmpfs ro,size=10k\n")
	w.prog.devs = map[int]uint64{1: unix.Mkdev(0, 20), 2: unix.Mkdev(0, 21), 3: unix.Mkdev(259, 300)}
	check(t, "mountinfo with devices", w.mustRead(w.user, "/proc/100/mountinfo"),
		"1 1 0:20 / / rw - rootfs rootfs rw\n"+
			"2 1 0:21 / /proc rw,nosuid,nodev,noexec - proc proc rw\n"+
			"3 1 259:300 / /tmp\\040dir ro,relatime - tmpfs tmpfs ro,size=10k\n")
	// A process without mounts (a zombie).
	check(t, "zombie mounts", w.mustRead(w.user, "/proc/200/mounts"), "")
}

func TestFDs(t *testing.T) {
	w := newWorld(t)
	names, ents, err := w.list(w.user, "/proc/self/fd")
	w.must(err)
	if got := strings.Join(names, " "); got != "0 1 3 5" {
		t.Errorf("fd: %s", got)
	}
	for _, d := range ents {
		if d.Type != unix.DT_LNK {
			t.Errorf("fd/%s type %d", d.Name, d.Type)
		}
		st, err := w.ns.Stat(w.user, w.root, "/proc/self/fd/"+d.Name, unix.AT_SYMLINK_NOFOLLOW)
		w.must(err)
		if st.Ino != d.Ino || st.UID != 1000 || st.Size != 64 {
			t.Errorf("fd/%s: %+v (dirent ino %d)", d.Name, st, d.Ino)
		}
	}
	pipeSt, _ := w.pipeW.Stat()
	pipeName := "pipe:[" + strconv.FormatUint(pipeSt.Ino, 10) + "]"
	for fd, want := range map[string]struct {
		target string
		mode   uint32
	}{
		"0": {"/etc/data", 0o500}, "1": {pipeName, 0o300}, "3": {"/home/user", 0o500}, "5": {"/home/user/notes", 0o700},
	} {
		if s, err := w.ns.Readlink(w.user, w.root, "/proc/self/fd/"+fd); err != nil || s != want.target {
			t.Errorf("readlink fd/%s: %q %v", fd, s, err)
		}
		st, err := w.ns.Stat(w.user, w.root, "/proc/100/fd/"+fd, unix.AT_SYMLINK_NOFOLLOW)
		w.must(err)
		if st.Mode != unix.S_IFLNK|want.mode {
			t.Errorf("fd/%s mode %o", fd, st.Mode)
		}
	}
	// Following the links leads to the files.
	check(t, "read fd/0", w.mustRead(w.user, "/proc/self/fd/0"), "hello data\n")
	check(t, "read fd/3/notes", w.mustRead(w.user, "/proc/self/fd/3/notes"), "notes: 0123456789")
	st, err := w.ns.Stat(w.user, w.root, "/proc/100/fd/0", 0)
	w.must(err)
	dst, _ := w.prog.fds[0].f.Stat()
	if st.Ino != dst.Ino || st.Dev != dst.Dev {
		t.Errorf("stat through fd/0: %+v", st)
	}
	f, err := w.open(w.kctx, "/proc/100/fd/5", unix.O_WRONLY|unix.O_APPEND)
	w.must(err)
	f.Write([]byte("!"))
	f.Close()
	check(t, "written through fd/5", w.mustRead(w.user, "/home/user/notes"), "notes: 0123456789!")
	// fdinfo.
	dataSt, _ := w.prog.fds[0].f.Stat()
	notesSt, _ := w.prog.fds[5].f.Stat()
	homeSt, _ := w.prog.fds[3].f.Stat()
	for fd, want := range map[string]string{
		"0": "pos:\t0\nflags:\t0100000\nmnt_id:\t1\nino:\t" + strconv.FormatUint(dataSt.Ino, 10) + "\n",
		"1": "pos:\t0\nflags:\t01\nmnt_id:\t0\nino:\t" + strconv.FormatUint(pipeSt.Ino, 10) + "\n",
		"3": "pos:\t0\nflags:\t02300000\nmnt_id:\t1\nino:\t" + strconv.FormatUint(homeSt.Ino, 10) + "\n",
		"5": "pos:\t7\nflags:\t0102002\nmnt_id:\t1\nino:\t" + strconv.FormatUint(notesSt.Ino, 10) + "\n",
	} {
		check(t, "fdinfo/"+fd, w.mustRead(w.user, "/proc/self/fdinfo/"+fd), want)
	}
	names, _, err = w.list(w.kctx, "/proc/100/fdinfo")
	w.must(err)
	if got := strings.Join(names, " "); got != "0 1 3 5" {
		t.Errorf("fdinfo: %s", got)
	}
	// Thread directories show the same descriptors.
	if s, err := w.ns.Readlink(w.user, w.root, "/proc/thread-self/fd/0"); err != nil || s != "/etc/data" {
		t.Errorf("readlink thread-self/fd/0: %q %v", s, err)
	}
	a, _ := w.ns.Stat(w.user, w.root, "/proc/thread-self/fd/0", unix.AT_SYMLINK_NOFOLLOW)
	b, _ := w.ns.Stat(w.user, w.root, "/proc/self/fd/0", unix.AT_SYMLINK_NOFOLLOW)
	if a.Ino == b.Ino {
		t.Errorf("thread and process fd/0 share an inode number")
	}
	// Descriptors that are not open.
	for _, n := range []string{"2", "4", "00", "-1", "x"} {
		_, err := w.ns.Readlink(w.user, w.root, "/proc/self/fd/"+n)
		wantErr(t, "readlink fd/"+n, err, unix.ENOENT)
		_, err = w.read(w.user, "/proc/self/fdinfo/"+n)
		wantErr(t, "read fdinfo/"+n, err, unix.ENOENT)
	}
	// A descriptor closed after the lookup.
	l, err := w.ns.Lookup(w.user, w.root, "/proc/self/fd/1", unix.AT_SYMLINK_NOFOLLOW)
	w.must(err)
	w.prog.mu.Lock()
	e := w.prog.fds[1]
	delete(w.prog.fds, 1)
	w.prog.mu.Unlock()
	e.f.Close()
	if _, err := l.Inode().Stat(); err != unix.ENOENT {
		t.Errorf("stat of a closed fd link: %v", err)
	}
	_, err = l.Inode().(vfs.SymlinkInode).Readlink(w.user)
	wantErr(t, "readlink of a closed fd", err, unix.ENOENT)
	_, err = w.ns.Readlink(w.user, w.root, "/proc/self/fd/1")
	wantErr(t, "readlink fd/1 after close", err, unix.ENOENT)
}

func TestExeCwdRoot(t *testing.T) {
	w := newWorld(t)
	for link, want := range map[string]string{"exe": "/bin/prog", "cwd": "/home/user", "root": "/"} {
		if s, err := w.ns.Readlink(w.user, w.root, "/proc/self/"+link); err != nil || s != want {
			t.Errorf("readlink %s: %q %v", link, s, err)
		}
		if s, err := w.ns.Readlink(w.user, w.root, "/proc/self/task/102/"+link); err != nil || s != want {
			t.Errorf("readlink task/102/%s: %q %v", link, s, err)
		}
	}
	check(t, "read exe", w.mustRead(w.user, "/proc/self/exe"), "\x7fELF program")
	check(t, "read cwd/notes", w.mustRead(w.user, "/proc/self/cwd/notes"), "notes: 0123456789")
	check(t, "read root/etc/data", w.mustRead(w.user, "/proc/100/root/etc/data"), "hello data\n")
	// A chrooted reader sees the paths from its root.
	home, err := w.ns.LookupDir(w.kctx, w.root, "/home", 0)
	w.must(err)
	jailed := &vfs.Ctx{Cred: w.user.Cred, Root: home, Task: w.user.Task}
	cwd, err := w.ns.Lookup(w.kctx, w.root, "/proc/100/cwd", unix.AT_SYMLINK_NOFOLLOW)
	w.must(err)
	if s, err := cwd.Inode().(vfs.SymlinkInode).Readlink(jailed); err != nil || s != "/user" {
		t.Errorf("cwd for a chrooted reader: %q %v", s, err)
	}
	// A process whose cwd is not known.
	w.prog.cwd = vfs.Loc{}
	_, err = w.ns.Readlink(w.user, w.root, "/proc/self/cwd")
	wantErr(t, "readlink of a missing cwd", err, unix.ENOENT)
	w.prog.nilLocs = true
	_, err = w.read(w.user, "/proc/self/root/etc/data")
	wantErr(t, "follow a root without location", err, unix.ENOENT)
	// Others may not.
	for _, link := range []string{"exe", "cwd", "root"} {
		_, err := w.ns.Readlink(w.stranger, w.root, "/proc/100/"+link)
		wantErr(t, "readlink "+link+" as another user", err, unix.EACCES)
		_, err = w.read(w.stranger, "/proc/100/"+link)
		wantErr(t, "follow "+link+" as another user", err, unix.EACCES)
		// The zombie has none.
		_, err = w.ns.Readlink(w.user, w.root, "/proc/200/"+link)
		wantErr(t, "readlink zombie "+link, err, unix.ENOENT)
	}
	// Root may.
	if s, err := w.ns.Readlink(w.kctx, w.root, "/proc/300/exe"); err != nil || s != "/bin/prog" {
		t.Errorf("readlink 300/exe as root: %q %v", s, err)
	}
}

func TestPermissions(t *testing.T) {
	w := newWorld(t)
	for _, p := range []string{"/proc/100/environ", "/proc/100/maps", "/proc/100/fdinfo/0", "/proc/100/task/101/environ", "/proc/100/task/101/maps"} {
		_, err := w.read(w.stranger, p)
		wantErr(t, "read "+p+" as another user", err, unix.EACCES)
		if _, err := w.read(w.kctx, p); err != nil {
			t.Errorf("read %s as root: %v", p, err)
		}
		if _, err := w.read(w.user, p); err != nil {
			t.Errorf("read %s as the owner: %v", p, err)
		}
	}
	_, _, err := w.list(w.stranger, "/proc/100/fd")
	wantErr(t, "list fd as another user", err, unix.EACCES)
	_, _, err = w.list(w.stranger, "/proc/100/fdinfo")
	wantErr(t, "list fdinfo as another user", err, unix.EACCES)
	_, err = w.ns.Readlink(w.stranger, w.root, "/proc/100/fd/0")
	wantErr(t, "readlink fd/0 as another user", err, unix.EACCES)
	// Public files stay readable.
	for _, p := range []string{"/proc/100/stat", "/proc/100/status", "/proc/100/cmdline", "/proc/100/limits", "/proc/100/mounts", "/proc/100/comm", "/proc/100/task/101/stat"} {
		if _, err := w.read(w.stranger, p); err != nil {
			t.Errorf("read %s as another user: %v", p, err)
		}
	}
	// A process may always read its own, even when not its owner (not
	// dumpable: root's).
	w.prog.mu.Lock()
	w.prog.uid, w.prog.gid = 0, 0
	w.prog.mu.Unlock()
	if got, err := w.read(w.user, "/proc/self/maps"); err != nil || got == "" {
		t.Errorf("own maps when not dumpable: %q %v", got, err)
	}
	_, err = w.read(w.user, "/proc/self/environ") // 0400, root's
	wantErr(t, "own environ when not dumpable", err, unix.EACCES)
	if st, err := w.ns.Stat(w.user, w.root, "/proc/100", 0); err != nil || st.UID != 0 {
		t.Errorf("owner when not dumpable: %d %v", st.UID, err)
	}
}

func TestReadOnly(t *testing.T) {
	w := newWorld(t)
	for _, ctx := range []*vfs.Ctx{w.kctx, w.user} {
		for _, p := range []string{"/proc/100/comm", "/proc/100/stat", "/proc/meminfo", "/proc/sys/kernel/hostname"} {
			for _, fl := range []int{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC} {
				_, err := w.open(ctx, p, fl)
				wantErr(t, "open "+p+" for writing", err, unix.EACCES)
			}
		}
	}
	wantErr(t, "mkdir", w.ns.Mkdir(w.kctx, w.root, "/proc/x", 0o755), unix.ENOENT)
	_, err := w.ns.Open(w.kctx, w.root, "/proc/newfile", unix.O_CREAT|unix.O_WRONLY, 0o644)
	wantErr(t, "creat", err, unix.ENOENT)
	wantErr(t, "unlink", w.ns.Unlink(w.kctx, w.root, "/proc/meminfo"), unix.EPERM)
	wantErr(t, "unlink fd", w.ns.Unlink(w.kctx, w.root, "/proc/100/fd/0"), unix.EPERM)
	wantErr(t, "rmdir", w.ns.Rmdir(w.kctx, w.root, "/proc/100/task"), unix.EPERM)
	wantErr(t, "rename", w.ns.Rename(w.kctx, w.root, "/proc/uptime", w.root, "/proc/up", 0), unix.EPERM)
	wantErr(t, "chmod", w.ns.Chmod(w.kctx, w.root, "/proc/100/stat", 0o666, 0), unix.EPERM)
	wantErr(t, "symlink", w.ns.Symlink(w.kctx, "x", w.root, "/proc/x"), unix.ENOENT)
	wantErr(t, "truncate", w.ns.Truncate(w.kctx, w.root, "/proc/uptime", 0), unix.EPERM)
	wantErr(t, "chmod /proc", w.ns.Chmod(w.kctx, w.root, "/proc", 0o777, 0), unix.EPERM)
}

func TestSeqFile(t *testing.T) {
	w := newWorld(t)
	f, err := w.open(w.user, "/proc/uptime", unix.O_RDONLY)
	w.must(err)
	defer f.Close()
	buf := make([]byte, 100)
	n, err := f.Pread(buf, 6)
	if err != nil || string(buf[:n]) != "67 24691.34\n" {
		t.Errorf("pread at 6: %q %v", buf[:n], err)
	}
	if off, err := f.Seek(9, unix.SEEK_SET); err != nil || off != 9 {
		t.Errorf("seek set: %d %v", off, err)
	}
	if off, err := f.Seek(-3, unix.SEEK_CUR); err != nil || off != 6 {
		t.Errorf("seek cur: %d %v", off, err)
	}
	n, _ = f.Read(buf[:3])
	if string(buf[:n]) != "67 " {
		t.Errorf("read after seek %q", buf[:n])
	}
	for _, wh := range []int{unix.SEEK_END, unix.SEEK_DATA, unix.SEEK_HOLE, 42} {
		_, err := f.Seek(0, wh)
		wantErr(t, "seek whence "+strconv.Itoa(wh), err, unix.EINVAL)
	}
	_, err = f.Seek(-100, unix.SEEK_CUR)
	wantErr(t, "seek before 0", err, unix.EINVAL)
	_, err = f.Seek(-1, unix.SEEK_SET)
	wantErr(t, "seek -1", err, unix.EINVAL)
	if off, err := f.Seek(1<<40, unix.SEEK_SET); err != nil || off != 1<<40 {
		t.Errorf("seek far: %d %v", off, err)
	}
	if n, err := f.Read(buf); n != 0 || err != nil {
		t.Errorf("read past the end: %d %v", n, err)
	}
	// A read from the start makes the contents again.
	w.src.mu.Lock()
	w.src.up = 1e9
	w.src.mu.Unlock()
	if n, err := f.Pread(buf, 0); err != nil || string(buf[:n]) != "1.00 24691.34\n" {
		t.Errorf("pread at 0 after a change: %q %v", buf[:n], err)
	}
	// Open then read: the snapshot of the open.
	g, err := w.open(w.user, "/proc/uptime", unix.O_RDONLY)
	w.must(err)
	defer g.Close()
	w.src.mu.Lock()
	w.src.up = 2e9
	w.src.mu.Unlock()
	if s, _ := readAll(g); s != "1.00 24691.34\n" {
		t.Errorf("snapshot %q", s)
	}
	if _, err := g.Write([]byte("x")); err != unix.EBADF {
		t.Errorf("write on a read-only open: %v", err)
	}
}

func TestDeath(t *testing.T) {
	w := newWorld(t)
	stat, err := w.open(w.stranger, "/proc/300/stat", unix.O_RDONLY)
	w.must(err)
	defer stat.Close()
	dir, err := w.open(w.stranger, "/proc/300", unix.O_RDONLY|unix.O_DIRECTORY)
	w.must(err)
	defer dir.Close()
	task, err := w.open(w.stranger, "/proc/300/task", unix.O_RDONLY|unix.O_DIRECTORY)
	w.must(err)
	defer task.Close()
	fdDir, err := w.open(w.stranger, "/proc/300/fd", unix.O_RDONLY|unix.O_DIRECTORY)
	w.must(err)
	defer fdDir.Close()
	exeLink, err := w.ns.Lookup(w.stranger, w.root, "/proc/300/exe", unix.AT_SYMLINK_NOFOLLOW)
	w.must(err)
	tdir, err := w.ns.Lookup(w.stranger, w.root, "/proc/300/task/300", 0)
	w.must(err)

	buf := make([]byte, 500)
	if _, err := stat.Pread(buf, 0); err != nil {
		t.Fatal(err)
	}
	w.src.remove(300)
	if _, err := stat.Pread(buf, 0); err != unix.ESRCH {
		t.Errorf("re-read of a dead process's stat: %v", err)
	}
	if n, err := stat.Pread(buf, 3); err != nil || !strings.HasPrefix(string(buf[:n]), " (other)") {
		t.Errorf("read of the old snapshot: %q %v", buf[:n], err)
	}
	for what, f := range map[string]*vfs.File{"dir": dir, "task": task, "fd": fdDir} {
		_, _, err := readDir(w.stranger, f)
		wantErr(t, "list dead "+what, err, unix.ENOENT)
	}
	_, err = w.ns.Open(w.stranger, dir.Loc(), "status", unix.O_RDONLY, 0)
	wantErr(t, "open status in a dead dir", err, unix.ENOENT)
	_, err = w.ns.Stat(w.stranger, w.root, "/proc/300", 0)
	wantErr(t, "stat /proc/300", err, unix.ENOENT)
	_, err = exeLink.Inode().(vfs.SymlinkInode).Readlink(w.stranger)
	wantErr(t, "readlink dead exe", err, unix.ENOENT)
	_, err = exeLink.Inode().(vfs.MagicLink).Follow(w.stranger)
	wantErr(t, "follow dead exe", err, unix.ENOENT)
	if _, err := tdir.Inode().(vfs.DirInode).Lookup(w.stranger, "stat"); err != unix.ENOENT {
		t.Errorf("lookup in a dead thread dir: %v", err)
	}
	if _, err := w.ns.Path(w.stranger, tdir); err == nil {
		t.Errorf("path of a dead thread dir")
	}
	if st, err := dir.Stat(); err != nil || st.UID != 0 {
		t.Errorf("fstat of a dead dir: %+v %v", st, err)
	}
	names, _, err := w.list(w.user, "/proc")
	w.must(err)
	if strings.Contains(strings.Join(names, " "), "300") {
		t.Errorf("dead process listed: %v", names)
	}

	// The PID is taken again: a new directory.
	reborn := &fakeProc{stat: ProcStat{PID: 300, TGID: 300, Comm: "reborn", NumThreads: 1}, tids: []int32{300},
		threads: map[int32]ProcStat{300: {PID: 300, TGID: 300, Comm: "reborn"}}, uid: 2000, gid: 2000}
	w.src.set(300, reborn)
	check(t, "reborn comm", w.mustRead(w.stranger, "/proc/300/comm"), "reborn\n")
	if _, _, err := readDir(w.stranger, dir); err != unix.ENOENT {
		t.Errorf("old dir after PID reuse: %v", err)
	}
	if _, err := stat.Pread(buf, 0); err != unix.ESRCH {
		t.Errorf("old stat after PID reuse: %v", err)
	}
	if st, err := dir.Stat(); err != nil || st.UID != 0 {
		t.Errorf("fstat of the old dir: %+v %v", st, err)
	}
	// A thread that ends.
	w.prog.mu.Lock()
	w.prog.tids = []int32{100, 102}
	delete(w.prog.threads, 101)
	w.prog.mu.Unlock()
	_, err = w.read(w.user, "/proc/100/task/101/stat")
	wantErr(t, "read stat of a dead thread", err, unix.ENOENT)
	_, err = w.read(w.user, "/proc/thread-self/stat")
	wantErr(t, "read thread-self/stat of a dead thread", err, unix.ENOENT)
	names, _, err = w.list(w.user, "/proc/100/task")
	w.must(err)
	if got := strings.Join(names, " "); got != "100 102" {
		t.Errorf("tasks after a thread's end: %s", got)
	}
}

func TestTasks(t *testing.T) {
	w := newWorld(t)
	names, ents, err := w.list(w.user, "/proc/100/task")
	w.must(err)
	if got := strings.Join(names, " "); got != "100 101 102" {
		t.Fatalf("task: %s", got)
	}
	for _, d := range ents {
		st, err := w.ns.Stat(w.user, w.root, "/proc/100/task/"+d.Name, 0)
		w.must(err)
		if st.Ino != d.Ino || d.Type != unix.DT_DIR || st.UID != 1000 {
			t.Errorf("task/%s: %+v (dirent %+v)", d.Name, st, d)
		}
	}
	names, _, err = w.list(w.user, "/proc/100/task/101")
	w.must(err)
	want := "fd fdinfo environ status limits comm cmdline stat statm maps cwd root exe mounts mountinfo"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("task/101: %s", got)
	}
	for _, n := range []string{"103", "0", "1", "abc"} {
		_, err := w.ns.Stat(w.user, w.root, "/proc/100/task/"+n, 0)
		wantErr(t, "stat task/"+n, err, unix.ENOENT)
	}
	check(t, "task cmdline", w.mustRead(w.user, "/proc/100/task/101/cmdline"), "prog\x00-v\x00a b\x00")
	if w.mustRead(w.user, "/proc/100/task/101/statm") != w.mustRead(w.user, "/proc/100/statm") {
		t.Errorf("task statm differs")
	}
}

func TestSystemFiles(t *testing.T) {
	w := newWorld(t)
	w.src.mem = Meminfo{
		Total: 24683656 << 10, Free: 23850960 << 10, Available: 24206136 << 10, Buffers: 7828 << 10,
		Cached: 358524 << 10, ActiveAnon: 1560 << 10, InactiveAnon: 86156 << 10, ActiveFile: 262596 << 10,
		InactiveFile: 94796 << 10, Unevictable: 11076 << 10, Mlocked: 9420 << 10, Dirty: 3188 << 10,
		AnonPages: 89732 << 10, Mapped: 38636 << 10, Shmem: 8960 << 10, KReclaimable: 292620 << 10,
		SReclaimable: 292620 << 10, SUnreclaim: 31704 << 10, KernelStack: 1696 << 10, PageTables: 2324 << 10,
		CommitLimit: 12341828 << 10, CommittedAS: 1502924 << 10, VmallocUsed: 5908 << 10, Percpu: 736 << 10,
		DirectMap4k: 20480 << 10, DirectMap2M: 2076672 << 10, DirectMap1G: 25165824 << 10,
	}
	check(t, "meminfo", w.mustRead(w.user, "/proc/meminfo"), `MemTotal:       24683656 kB
MemFree:        23850960 kB
MemAvailable:   24206136 kB
Buffers:            7828 kB
Cached:           358524 kB
SwapCached:            0 kB
Active:           264156 kB
Inactive:         180952 kB
Active(anon):       1560 kB
Inactive(anon):    86156 kB
Active(file):     262596 kB
Inactive(file):    94796 kB
Unevictable:       11076 kB
Mlocked:            9420 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:              3188 kB
Writeback:             0 kB
AnonPages:         89732 kB
Mapped:            38636 kB
Shmem:              8960 kB
KReclaimable:     292620 kB
Slab:             324324 kB
SReclaimable:     292620 kB
SUnreclaim:        31704 kB
KernelStack:        1696 kB
PageTables:         2324 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:    12341828 kB
Committed_AS:    1502924 kB
VmallocTotal:   34359738367 kB
VmallocUsed:        5908 kB
VmallocChunk:          0 kB
Percpu:              736 kB
HardwareCorrupted:     0 kB
AnonHugePages:         0 kB
ShmemHugePages:        0 kB
ShmemPmdMapped:        0 kB
FileHugePages:         0 kB
FilePmdMapped:         0 kB
Unaccepted:            0 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
DirectMap4k:       20480 kB
DirectMap2M:     2076672 kB
DirectMap1G:    25165824 kB
`)
	check(t, "cpuinfo", w.mustRead(w.user, "/proc/cpuinfo"), `processor	: 0
vendor_id	: GenuineIntel
cpu family	: 6
model		: 85
model name	: Intel Xeon
stepping	: 7
microcode	: 0x5003604
cpu MHz		: 2100.000
cache size	: 16384 KB
physical id	: 0
siblings	: 2
core id		: 0
cpu cores	: 2
apicid		: 0
initial apicid	: 0
fpu		: yes
fpu_exception	: yes
cpuid level	: 22
wp		: yes
flags		: fpu sse2
bugs		: spectre_v1
bogomips	: 4200.00
clflush size	: 64
cache_alignment	: 64
address sizes	: 46 bits physical, 48 bits virtual
power management:

processor	: 1
vendor_id	: GenuineIntel
cpu family	: 6
model		: 85
model name	: Intel Xeon
stepping	: 7
microcode	: 0x5003604
cpu MHz		: 2100.500
cache size	: 16384 KB
physical id	: 0
siblings	: 2
core id		: 1
cpu cores	: 2
apicid		: 1
initial apicid	: 1
fpu		: yes
fpu_exception	: yes
cpuid level	: 22
wp		: yes
flags		:
bugs		:
bogomips	: 4200.50
clflush size	: 64
cache_alignment	: 64
address sizes	: 46 bits physical, 48 bits virtual
power management:

`)
	check(t, "stat", w.mustRead(w.user, "/proc/stat"), `cpu  124 2 5 2100 3 0 0 0 0 0
cpu0 123 0 5 1000 0 0 0 0 0 0
cpu1 1 2 0 1100 3 0 0 0 0 0
intr 68623371
ctxt 214804017
btime 1795593743
processes 113725
procs_running 2
procs_blocked 1
softirq 0 0 0 0 0 0 0 0 0 0 0
`)
	for path, want := range map[string]string{
		"uptime":                    "12345.67 24691.34\n",
		"loadavg":                   "0.50 0.13 2.00 2/83 9940\n",
		"version":                   "Linux version 6.6.0-dunix (dunix@build) (go1.26) #1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026\n",
		"filesystems":               "nodev\tproc\nnodev\ttmpfs\n\text4\n",
		"cmdline":                   "console=ttyS0 quiet\n",
		"swaps":                     "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
		"sys/kernel/hostname":       "node1\n",
		"sys/kernel/domainname":     "(none)\n",
		"sys/kernel/ostype":         "Linux\n",
		"sys/kernel/osrelease":      "6.6.0-dunix\n",
		"sys/kernel/version":        "#1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026\n",
		"sys/kernel/pid_max":        "4194304\n",
		"sys/fs/pipe-max-size":      "1048576\n",
		"sys/vm/overcommit_memory":  "0\n",
		"self/../sys/kernel/ostype": "Linux\n",
	} {
		check(t, path, w.mustRead(w.stranger, "/proc/"+path), want)
	}
	names, _, err := w.list(w.user, "/proc/sys")
	w.must(err)
	if got := strings.Join(names, " "); got != "fs kernel vm" {
		t.Errorf("sys: %s", got)
	}
	l, err := w.ns.LookupDir(w.user, w.root, "/proc/sys/kernel", 0)
	w.must(err)
	if p, err := w.ns.Path(w.user, l); err != nil || p != "/proc/sys/kernel" {
		t.Errorf("path of sys/kernel: %q %v", p, err)
	}
}
