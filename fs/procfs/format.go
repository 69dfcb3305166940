package procfs

import (
	"strconv"
	"time"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// The formats of the files, byte for byte as Linux 6.x writes them
// (fs/proc/array.c, task_mmu.c, meminfo.c, stat.c, base.c,
// arch/x86/kernel/cpu/proc.c).

// tick is a clock tick (USER_HZ = 100).
const tick = 10 * time.Millisecond

// pageSize is the page size counts in pages are made with.
const pageSize = 4096

// ticks converts a duration to clock ticks.
func ticks(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / tick)
}

// commLen is the most bytes of a command name shown (TASK_COMM_LEN - 1).
const commLen = 15

// comm returns the command name as Linux keeps it.
func comm(s string) string {
	if len(s) > commLen {
		return s[:commLen]
	}
	return s
}

// appendU appends sep and the decimal v.
func appendU(b []byte, sep string, v uint64) []byte {
	return strconv.AppendUint(append(b, sep...), v, 10)
}

// appendI appends sep and the decimal v.
func appendI(b []byte, sep string, v int64) []byte {
	return strconv.AppendInt(append(b, sep...), v, 10)
}

// appendHex appends v in lower-case hexadecimal, zero-padded to width.
func appendHex(b []byte, v uint64, width int) []byte {
	var t [16]byte
	s := strconv.AppendUint(t[:0], v, 16)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendWidth appends sep and the decimal v right-aligned in width
// columns (seq_put_decimal_ull_width).
func appendWidth(b []byte, sep string, v uint64, width int) []byte {
	b = append(b, sep...)
	var t [20]byte
	s := strconv.AppendUint(t[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// stateNames are the states of /proc/PID/status.
var stateNames = map[byte]string{
	'R': "R (running)", 'S': "S (sleeping)", 'D': "D (disk sleep)", 'T': "T (stopped)",
	't': "t (tracing stop)", 'X': "X (dead)", 'Z': "Z (zombie)", 'P': "P (parked)", 'I': "I (idle)",
}

// stateLetter returns the state letter of ps.
func stateLetter(ps *ProcStat) byte {
	if _, ok := stateNames[ps.State]; !ok {
		return 'R'
	}
	return ps.State
}

// ttyNr encodes a device number as the tty_nr field (new_encode_dev).
func ttyNr(dev uint64) int64 {
	if dev == 0 {
		return 0
	}
	maj, mnr := uint64(unix.Major(dev)), uint64(unix.Minor(dev))
	return int64(mnr&0xff | maj<<8 | (mnr&^0xff)<<12)
}

// priority returns the priority field: -1 - rt_priority for real-time
// policies, 20 + nice for the others (task_prio).
func priority(ps *ProcStat) int64 {
	if ps.Policy == unix.SCHED_FIFO || ps.Policy == unix.SCHED_RR {
		return -1 - int64(ps.RTPriority)
	}
	return 20 + int64(ps.Nice)
}

// formatStat returns /proc/PID/stat (whole: the thread group) or
// /proc/PID/task/TID/stat: 52 fields. permitted says whether the reader may
// see the addresses and exit code (Linux's ptrace access check); rsslim is
// the soft RLIMIT_RSS.
func formatStat(ps *ProcStat, whole, permitted bool, rsslim uint64) []byte {
	b := make([]byte, 0, 320)
	b = strconv.AppendInt(b, int64(ps.PID), 10)
	b = append(b, " ("...)
	b = append(b, comm(ps.Comm)...)
	b = append(b, ") "...)
	state := stateLetter(ps)
	b = append(b, state)
	b = appendI(b, " ", int64(ps.PPID))
	b = appendI(b, " ", int64(ps.PGRP))
	b = appendI(b, " ", int64(ps.Session))
	b = appendI(b, " ", ttyNr(ps.TTY))
	b = appendI(b, " ", int64(ps.TPGID))
	b = appendU(b, " ", uint64(ps.Flags))
	b = appendU(b, " ", ps.MinFlt)
	b = appendU(b, " ", ps.CMinFlt)
	b = appendU(b, " ", ps.MajFlt)
	b = appendU(b, " ", ps.CMajFlt)
	b = appendU(b, " ", ticks(ps.UTime))
	b = appendU(b, " ", ticks(ps.STime))
	b = appendI(b, " ", int64(ticks(ps.CUTime)))
	b = appendI(b, " ", int64(ticks(ps.CSTime)))
	b = appendI(b, " ", priority(ps))
	b = appendI(b, " ", int64(ps.Nice))
	b = appendI(b, " ", int64(ps.NumThreads))
	b = appendU(b, " ", 0) // itrealvalue
	b = appendU(b, " ", ticks(ps.StartTime))
	m := ps.Mem
	var vsize, rss, code0, code1, stack uint64
	if m != nil {
		vsize, rss, code0, code1 = m.Size, m.RSS/pageSize, 1, 1
		if permitted {
			code0, code1, stack = m.StartCode, m.EndCode, m.StartStack
		}
	}
	b = appendU(b, " ", vsize)
	b = appendU(b, " ", rss)
	b = appendU(b, " ", rsslim)
	b = appendU(b, " ", code0)
	b = appendU(b, " ", code1)
	b = appendU(b, " ", stack)
	b = append(b, " 0 0"...) // kstkesp, kstkeip
	const obsolete = 0x7fffffff
	b = appendU(b, " ", ps.SigPending&obsolete)
	b = appendU(b, " ", ps.SigBlocked&obsolete)
	b = appendU(b, " ", ps.SigIgnored&obsolete)
	b = appendU(b, " ", ps.SigCaught&obsolete)
	wchan := uint64(0)
	if permitted && (!whole || ps.NumThreads < 2) && state != 'R' {
		wchan = 1
	}
	b = appendU(b, " ", wchan)
	b = append(b, " 0 0"...) // nswap, cnswap
	b = appendI(b, " ", int64(ps.ExitSignal))
	b = appendI(b, " ", int64(ps.Processor))
	b = appendU(b, " ", uint64(ps.RTPriority))
	b = appendU(b, " ", uint64(ps.Policy))
	b = append(b, " 0 0 0"...) // delayacct_blkio_ticks, guest_time, cguest_time
	if m != nil && permitted {
		for _, v := range [...]uint64{m.StartData, m.EndData, m.StartBrk, m.ArgStart, m.ArgEnd, m.EnvStart, m.EnvEnd} {
			b = appendU(b, " ", v)
		}
	} else {
		b = append(b, " 0 0 0 0 0 0 0"...)
	}
	if permitted {
		b = appendI(b, " ", int64(ps.ExitCode))
	} else {
		b = append(b, " 0"...)
	}
	return append(b, '\n')
}

// escapeComm escapes a command name for /proc/PID/status: newline and
// backslash, as Linux's proc_task_name.
func escapeComm(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		default:
			b = append(b, s[i])
		}
	}
	return b
}

// appendKB appends a kB line of /proc/PID/status: sep, bytes in kB
// right-aligned in 8 columns, " kB\n".
func appendKB(b []byte, sep string, bytes uint64) []byte {
	return append(appendWidth(b, sep, bytes>>10, 8), " kB\n"...)
}

// formatStatus returns /proc/PID/status (or the status of a thread). ncpu
// is the number of CPUs (the width of Cpus_allowed), sigLimit the soft
// RLIMIT_SIGPENDING.
func formatStatus(ps *ProcStat, ncpu int, sigLimit uint64) []byte {
	b := make([]byte, 0, 1400)
	b = append(b, "Name:\t"...)
	b = escapeComm(b, comm(ps.Comm))
	b = append(b, '\n')
	if ps.Umask >= 0 {
		b = append(b, "Umask:\t0"...)
		b = appendOct3(b, uint64(ps.Umask)&0o777)
		b = append(b, '\n')
	}
	b = append(b, "State:\t"...)
	b = append(b, stateNames[stateLetter(ps)]...)
	b = appendI(b, "\nTgid:\t", int64(ps.TGID))
	b = append(b, "\nNgid:\t0"...)
	b = appendI(b, "\nPid:\t", int64(ps.PID))
	b = appendI(b, "\nPPid:\t", int64(ps.PPID))
	b = appendI(b, "\nTracerPid:\t", int64(ps.TracerPID))
	for i, id := range ps.UIDs {
		b = appendU(b, [...]string{"\nUid:\t", "\t", "\t", "\t"}[i], uint64(id))
	}
	for i, id := range ps.GIDs {
		b = appendU(b, [...]string{"\nGid:\t", "\t", "\t", "\t"}[i], uint64(id))
	}
	b = appendI(b, "\nFDSize:\t", int64(ps.FDSize))
	b = append(b, "\nGroups:\t"...)
	for i, g := range ps.Groups {
		sep := " "
		if i == 0 {
			sep = ""
		}
		b = appendU(b, sep, uint64(g))
	}
	b = append(b, ' ') // as Linux: "Trailing space shouldn't have been added in the first place."
	b = appendI(b, "\nNStgid:\t", int64(ps.TGID))
	b = appendI(b, "\nNSpid:\t", int64(ps.PID))
	b = appendI(b, "\nNSpgid:\t", int64(ps.PGRP))
	b = appendI(b, "\nNSsid:\t", int64(ps.Session))
	b = append(b, "\nKthread:\t0\n"...)
	if m := ps.Mem; m != nil {
		b = appendKB(b, "VmPeak:\t", m.Peak)
		b = appendKB(b, "VmSize:\t", m.Size)
		b = appendKB(b, "VmLck:\t", m.Locked)
		b = appendKB(b, "VmPin:\t", m.Pinned)
		b = appendKB(b, "VmHWM:\t", m.HWM)
		b = appendKB(b, "VmRSS:\t", m.RSS)
		b = appendKB(b, "RssAnon:\t", m.Anon)
		b = appendKB(b, "RssFile:\t", m.File)
		b = appendKB(b, "RssShmem:\t", m.Shmem)
		b = appendKB(b, "VmData:\t", m.Data)
		b = appendKB(b, "VmStk:\t", m.Stack)
		b = appendKB(b, "VmExe:\t", m.Text)
		b = appendKB(b, "VmLib:\t", m.Lib)
		b = appendKB(b, "VmPTE:\t", m.PTE)
		b = appendKB(b, "VmSwap:\t", m.Swap)
		b = appendKB(b, "HugetlbPages:\t", 0)
		b = append(b, "CoreDumping:\t0\nTHP_enabled:\t0\nuntag_mask:\t0xffffffffffffffff\n"...)
	}
	b = appendI(b, "Threads:\t", int64(ps.NumThreads))
	b = appendI(b, "\nSigQ:\t", int64(ps.SigQueued))
	b = appendU(b, "/", sigLimit)
	for _, s := range [...]struct {
		name string
		v    uint64
	}{
		{"\nSigPnd:\t", ps.SigPending}, {"\nShdPnd:\t", ps.SigShared}, {"\nSigBlk:\t", ps.SigBlocked},
		{"\nSigIgn:\t", ps.SigIgnored}, {"\nSigCgt:\t", ps.SigCaught},
		{"\nCapInh:\t", ps.Caps[0]}, {"\nCapPrm:\t", ps.Caps[1]}, {"\nCapEff:\t", ps.Caps[2]},
		{"\nCapBnd:\t", ps.Caps[3]}, {"\nCapAmb:\t", ps.Caps[4]},
	} {
		b = appendHex(append(b, s.name...), s.v, 16)
	}
	nnp := uint64(0)
	if ps.NoNewPrivs {
		nnp = 1
	}
	b = appendU(b, "\nNoNewPrivs:\t", nnp)
	b = append(b, "\nSeccomp:\t0\nSeccomp_filters:\t0"...)
	b = append(b, "\nSpeculation_Store_Bypass:\tunknown\nSpeculationIndirectBranch:\tunsupported"...)
	mask := cpuMask(ps.Affinity, ncpu)
	b = appendBitmap(append(b, "\nCpus_allowed:\t"...), mask, ncpu)
	b = appendBitmapList(append(b, "\nCpus_allowed_list:\t"...), mask, ncpu)
	b = append(b, "\nMems_allowed:\t1\nMems_allowed_list:\t0"...)
	b = appendU(b, "\nvoluntary_ctxt_switches:\t", ps.VoluntarySwitches)
	b = appendU(b, "\nnonvoluntary_ctxt_switches:\t", ps.InvoluntarySwitches)
	return append(b, '\n')
}

// appendOct3 appends v in octal, at least three digits (the "%#04o" of
// Umask after its leading 0).
func appendOct3(b []byte, v uint64) []byte {
	s := strconv.FormatUint(v, 8)
	for i := len(s); i < 3; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// cpuMask returns the affinity mask of n CPUs: aff, or all of them.
func cpuMask(aff []uint64, n int) []uint64 {
	words := (n + 63) / 64
	m := make([]uint64, words)
	for i := 0; i < n; i++ {
		if aff == nil || (i/64 < len(aff) && aff[i/64]&(1<<(i%64)) != 0) {
			m[i/64] |= 1 << (i % 64)
		}
	}
	return m
}

// bit reports whether bit i of mask is set.
func bit(mask []uint64, i int) bool { return i/64 < len(mask) && mask[i/64]&(1<<(i%64)) != 0 }

// appendBitmap appends an n-bit mask as Linux's "%*pb": hexadecimal in
// comma-separated 32-bit chunks, the first as wide as its bits need.
func appendBitmap(b []byte, mask []uint64, n int) []byte {
	if n <= 0 {
		return b
	}
	chunks := (n + 31) / 32
	for c := chunks - 1; c >= 0; c-- {
		var v uint64
		for i := 0; i < 32; i++ {
			if bit(mask, c*32+i) {
				v |= 1 << i
			}
		}
		width := 8
		if c == chunks-1 {
			width = (n - 32*c + 3) / 4
		}
		b = appendHex(b, v, width)
		if c > 0 {
			b = append(b, ',')
		}
	}
	return b
}

// appendBitmapList appends an n-bit mask as Linux's "%*pbl": ranges like
// "0-3,6".
func appendBitmapList(b []byte, mask []uint64, n int) []byte {
	first := true
	for i := 0; i < n; {
		if !bit(mask, i) {
			i++
			continue
		}
		j := i
		for j+1 < n && bit(mask, j+1) {
			j++
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendInt(b, int64(i), 10)
		if j > i {
			b = appendI(b, "-", int64(j))
		}
		i = j + 1
	}
	return b
}

// formatStatm returns /proc/PID/statm: sizes in pages.
func formatStatm(m *MemStat) []byte {
	if m == nil {
		return []byte("0 0 0 0 0 0 0\n")
	}
	b := make([]byte, 0, 64)
	b = appendU(b, "", m.Size/pageSize)
	b = appendU(b, " ", m.RSS/pageSize)
	b = appendU(b, " ", (m.File+m.Shmem)/pageSize)
	b = appendU(b, " ", m.Text/pageSize)
	b = appendU(b, " ", 0)
	b = appendU(b, " ", (m.Data+m.Stack)/pageSize)
	b = appendU(b, " ", 0)
	return append(b, '\n')
}

// mapsNameColumn is where the name of a mapping starts in /proc/PID/maps
// (25 + 6 * sizeof(void *) columns of prefix, then a space).
const mapsNameColumn = 25 + 6*8

// formatMaps returns /proc/PID/maps.
func formatMaps(ms []Mapping) []byte {
	b := make([]byte, 0, 100*len(ms))
	for i := range ms {
		m := &ms[i]
		start := len(b)
		b = appendHex(b, m.Start, 8)
		b = append(b, '-')
		b = appendHex(b, m.End, 8)
		b = append(b, ' ', flag(m.Read, 'r'), flag(m.Write, 'w'), flag(m.Exec, 'x'), 'p', ' ')
		if m.Shared {
			b[len(b)-2] = 's'
		}
		b = appendHex(b, m.Offset, 8)
		b = append(b, ' ')
		b = appendHex(b, uint64(unix.Major(m.Dev)), 2)
		b = append(b, ':')
		b = appendHex(b, uint64(unix.Minor(m.Dev)), 2)
		b = appendU(b, " ", m.Inode)
		b = append(b, ' ')
		if m.Name != "" {
			for len(b)-start < mapsNameColumn-1 {
				b = append(b, ' ')
			}
			b = append(b, ' ')
			b = append(b, m.Name...)
		}
		b = append(b, '\n')
	}
	return b
}

// flag returns c if set, '-' otherwise.
func flag(set bool, c byte) byte {
	if set {
		return c
	}
	return '-'
}

// limitNames are the rows of /proc/PID/limits, by resource number: the
// name and the unit.
var limitNames = [...][2]string{
	{"Max cpu time", "seconds"},
	{"Max file size", "bytes"},
	{"Max data size", "bytes"},
	{"Max stack size", "bytes"},
	{"Max core file size", "bytes"},
	{"Max resident set", "bytes"},
	{"Max processes", "processes"},
	{"Max open files", "files"},
	{"Max locked memory", "bytes"},
	{"Max address space", "bytes"},
	{"Max file locks", "locks"},
	{"Max pending signals", "signals"},
	{"Max msgqueue size", "bytes"},
	{"Max nice priority", ""},
	{"Max realtime priority", ""},
	{"Max realtime timeout", "us"},
}

// limitOf returns limit r of ls, Unlimited if missing.
func limitOf(ls []Limit, r int) Limit {
	if r < len(ls) {
		return ls[r]
	}
	return Limit{Unlimited, Unlimited}
}

// pad appends s left-aligned in width columns (at least s).
func pad(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return b
}

// limitText returns a limit value as /proc/PID/limits shows it.
func limitText(v uint64) string {
	if v == Unlimited {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// formatLimits returns /proc/PID/limits.
func formatLimits(ls []Limit) []byte {
	b := make([]byte, 0, 1400)
	b = pad(b, "Limit", 25)
	b = pad(append(b, ' '), "Soft Limit", 20)
	b = pad(append(b, ' '), "Hard Limit", 20)
	b = pad(append(b, ' '), "Units", 10)
	b = append(b, '\n')
	for r, n := range limitNames {
		l := limitOf(ls, r)
		b = pad(b, n[0], 25)
		b = pad(append(b, ' '), limitText(l.Cur), 20)
		b = pad(append(b, ' '), limitText(l.Max), 20)
		b = append(b, ' ')
		if n[1] != "" {
			b = pad(b, n[1], 10)
		}
		b = append(b, '\n')
	}
	return b
}

// oLargefile is Linux's O_LARGEFILE on x86-64 (x/sys/unix has 0 there):
// open(2) sets it on every file it opens.
const oLargefile = 0o100000

// formatFdinfo returns /proc/PID/fdinfo/N for file f.
func formatFdinfo(f *vfs.File, cloexec bool) []byte {
	flags := uint64(uint32(f.Flags()))
	if cloexec {
		flags |= unix.O_CLOEXEC
	}
	if f.Mount() != nil {
		flags |= oLargefile // opened by path, not made by pipe2, eventfd...
	}
	mnt := 0
	if m := f.Mount(); m != nil {
		mnt = m.ID()
	}
	var ino uint64
	if st, err := f.Stat(); err == nil {
		ino = st.Ino
	}
	b := make([]byte, 0, 64)
	b = appendI(b, "pos:\t", f.Offset())
	b = append(b, "\nflags:\t0"...)
	b = strconv.AppendUint(b, flags, 8)
	b = appendI(b, "\nmnt_id:\t", int64(mnt))
	b = appendU(b, "\nino:\t", ino)
	return append(b, '\n')
}

// mountEscape appends s with space, tab, newline and backslash in octal,
// as Linux's mangle and seq_path do; "none" for an empty s.
func mountEscape(b []byte, s string) []byte {
	if s == "" {
		return append(b, "none"...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			b = append(b, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		default:
			b = append(b, c)
		}
	}
	return b
}

// roRW appends "ro" or "rw".
func roRW(b []byte, flags uint32) []byte {
	if flags&unix.MS_RDONLY != 0 {
		return append(b, "ro"...)
	}
	return append(b, "rw"...)
}

// appendFlagNames appends ",name" for each flag of names set in flags.
func appendFlagNames(b []byte, flags uint32, names []flagName) []byte {
	for _, f := range names {
		if flags&f.bit != 0 {
			b = append(append(b, ','), f.name...)
		}
	}
	return b
}

// flagName names a mount flag.
type flagName struct {
	bit  uint32
	name string
}

// Mount flags as Linux shows them: those of the file system (superblock)
// and those of the mount (show_sb_opts, show_mnt_opts).
var (
	sbFlagNames  = []flagName{{unix.MS_SYNCHRONOUS, "sync"}, {unix.MS_DIRSYNC, "dirsync"}, {unix.MS_MANDLOCK, "mand"}, {unix.MS_LAZYTIME, "lazytime"}}
	mntFlagNames = []flagName{
		{unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
		{unix.MS_NOATIME, "noatime"}, {unix.MS_NODIRATIME, "nodiratime"}, {unix.MS_RELATIME, "relatime"},
		{unix.MS_NOSYMFOLLOW, "nosymfollow"},
	}
)

// formatMounts returns /proc/PID/mounts: "source target type options 0 0",
// the options being ro or rw, the file system's flags, the mount's, then
// the file system's own options (show_vfsmnt).
func formatMounts(ms []vfs.MountInfo) []byte {
	b := make([]byte, 0, 64*len(ms))
	for i := range ms {
		m := &ms[i]
		b = append(mountEscape(b, m.Source), ' ')
		b = append(mountEscape(b, m.Target), ' ')
		b = append(mountEscape(b, m.Type), ' ')
		b = roRW(b, m.Flags)
		b = appendFlagNames(b, m.Flags, sbFlagNames)
		b = appendFlagNames(b, m.Flags, mntFlagNames)
		if m.Data != "" {
			b = append(append(b, ','), m.Data...)
		}
		b = append(b, " 0 0\n"...)
	}
	return b
}

// formatMountinfo returns /proc/PID/mountinfo (show_mountinfo): "id
// parent major:minor root target mount-options - type source
// fs-options". The top mount is its own parent, as Linux shows it. md
// gives the devices and roots, if not nil.
func formatMountinfo(ms []vfs.MountInfo, md MountDever) []byte {
	b := make([]byte, 0, 96*len(ms))
	for i := range ms {
		m := &ms[i]
		var dev uint64
		root := "/"
		if md != nil {
			if d, r, ok := md.MountDev(m.ID); ok {
				dev = d
				if r != "" {
					root = r
				}
			}
		}
		parent := m.ParentID
		if parent == 0 {
			parent = m.ID
		}
		b = appendI(b, "", int64(m.ID))
		b = appendI(b, " ", int64(parent))
		b = appendU(b, " ", uint64(unix.Major(dev)))
		b = appendU(b, ":", uint64(unix.Minor(dev)))
		b = append(mountEscape(append(b, ' '), root), ' ')
		b = append(mountEscape(b, m.Target), ' ')
		b = roRW(b, m.Flags)
		b = appendFlagNames(b, m.Flags, mntFlagNames)
		b = append(b, " - "...)
		b = append(mountEscape(b, m.Type), ' ')
		b = append(mountEscape(b, m.Source), ' ')
		b = roRW(b, m.Flags)
		b = appendFlagNames(b, m.Flags, sbFlagNames)
		if m.Data != "" {
			b = append(append(b, ','), m.Data...)
		}
		b = append(b, '\n')
	}
	return b
}

// kbLine appends a /proc/meminfo line: the label and colon padded to 16
// columns, the value in kB right-aligned in 8 more, then " kB". A label
// too long for that (HardwareCorrupted) is padded to 19 columns and the
// value aligned in 5, as Linux does.
func kbLine(b []byte, label string, bytes uint64) []byte {
	return append(numLine(b, label, bytes>>10, len(label) >= 16), " kB\n"...)
}

// numLine appends label, a colon and v: padded to 16 columns and v in 8,
// or (narrow) padded to 19 columns and v in 5 (the HugePages_ lines).
func numLine(b []byte, label string, v uint64, narrow bool) []byte {
	padTo, width := 16, 8
	if narrow {
		padTo, width = 19, 5
	}
	return appendWidth(pad(b, label+":", padTo), "", v, width)
}

// vmallocTotal is x86-64's VmallocTotal, in bytes.
const vmallocTotal = 34359738367 << 10

// formatMeminfo returns /proc/meminfo.
func formatMeminfo(m *Meminfo) []byte {
	b := make([]byte, 0, 1600)
	vt := m.VmallocTotal
	if vt == 0 {
		vt = vmallocTotal
	}
	for _, l := range [...]struct {
		label string
		v     uint64
	}{
		{"MemTotal", m.Total}, {"MemFree", m.Free}, {"MemAvailable", m.Available},
		{"Buffers", m.Buffers}, {"Cached", m.Cached}, {"SwapCached", m.SwapCached},
		{"Active", m.ActiveAnon + m.ActiveFile}, {"Inactive", m.InactiveAnon + m.InactiveFile},
		{"Active(anon)", m.ActiveAnon}, {"Inactive(anon)", m.InactiveAnon},
		{"Active(file)", m.ActiveFile}, {"Inactive(file)", m.InactiveFile},
		{"Unevictable", m.Unevictable}, {"Mlocked", m.Mlocked},
		{"SwapTotal", m.SwapTotal}, {"SwapFree", m.SwapFree},
		{"Zswap", 0}, {"Zswapped", 0},
		{"Dirty", m.Dirty}, {"Writeback", m.Writeback},
		{"AnonPages", m.AnonPages}, {"Mapped", m.Mapped}, {"Shmem", m.Shmem},
		{"KReclaimable", m.KReclaimable}, {"Slab", m.SReclaimable + m.SUnreclaim},
		{"SReclaimable", m.SReclaimable}, {"SUnreclaim", m.SUnreclaim},
		{"KernelStack", m.KernelStack}, {"PageTables", m.PageTables}, {"SecPageTables", 0},
		{"NFS_Unstable", 0}, {"Bounce", 0}, {"WritebackTmp", 0},
		{"CommitLimit", m.CommitLimit}, {"Committed_AS", m.CommittedAS},
		{"VmallocTotal", vt}, {"VmallocUsed", m.VmallocUsed}, {"VmallocChunk", 0},
		{"Percpu", m.Percpu}, {"HardwareCorrupted", 0},
		{"AnonHugePages", 0}, {"ShmemHugePages", 0}, {"ShmemPmdMapped", 0},
		{"FileHugePages", 0}, {"FilePmdMapped", 0}, {"Unaccepted", 0},
	} {
		b = kbLine(b, l.label, l.v)
	}
	for _, l := range [...]string{"HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"} {
		b = append(numLine(b, l, 0, true), '\n')
	}
	b = kbLine(b, "Hugepagesize", 2<<20)
	b = kbLine(b, "Hugetlb", 0)
	b = kbLine(b, "DirectMap4k", m.DirectMap4k)
	b = kbLine(b, "DirectMap2M", m.DirectMap2M)
	b = kbLine(b, "DirectMap1G", m.DirectMap1G)
	return b
}

// formatCPUInfo returns /proc/cpuinfo (x86 layout).
func formatCPUInfo(cpus []CPU) []byte {
	b := make([]byte, 0, 1500*len(cpus))
	for i := range cpus {
		c := &cpus[i]
		b = appendI(b, "processor\t: ", int64(i))
		b = append(append(b, "\nvendor_id\t: "...), c.VendorID...)
		b = appendI(b, "\ncpu family\t: ", int64(c.Family))
		b = appendI(b, "\nmodel\t\t: ", int64(c.Model))
		name := c.ModelName
		if name == "" {
			name = "unknown"
		}
		b = append(append(b, "\nmodel name\t: "...), name...)
		b = appendI(b, "\nstepping\t: ", int64(c.Stepping))
		b = append(b, "\nmicrocode\t: 0x"...)
		b = strconv.AppendUint(b, uint64(c.Microcode), 16)
		b = appendU(b, "\ncpu MHz\t\t: ", c.KHz/1000)
		b = append(b, '.')
		b = appendDec3(b, c.KHz%1000)
		b = appendI(b, "\ncache size\t: ", int64(c.CacheKB))
		b = append(b, " KB"...)
		b = appendI(b, "\nphysical id\t: ", int64(c.PhysicalID))
		b = appendI(b, "\nsiblings\t: ", int64(c.Siblings))
		b = appendI(b, "\ncore id\t\t: ", int64(c.CoreID))
		b = appendI(b, "\ncpu cores\t: ", int64(c.Cores))
		b = appendI(b, "\napicid\t\t: ", int64(c.APICID))
		b = appendI(b, "\ninitial apicid\t: ", int64(c.APICID))
		b = append(b, "\nfpu\t\t: yes\nfpu_exception\t: yes"...)
		b = appendI(b, "\ncpuid level\t: ", int64(c.CPUIDLevel))
		b = append(b, "\nwp\t\t: yes\nflags\t\t:"...)
		for _, f := range c.Flags {
			b = append(append(b, ' '), f...)
		}
		b = append(b, "\nbugs\t\t:"...)
		for _, f := range c.Bugs {
			b = append(append(b, ' '), f...)
		}
		b = append(b, "\nbogomips\t: "...)
		b = strconv.AppendFloat(b, c.Bogomips, 'f', 2, 64)
		b = appendI(b, "\nclflush size\t: ", int64(c.CLFlush))
		b = appendI(b, "\ncache_alignment\t: ", int64(c.CacheAlign))
		b = appendI(b, "\naddress sizes\t: ", int64(c.PhysBits))
		b = appendI(b, " bits physical, ", int64(c.VirtBits))
		b = append(b, " bits virtual\npower management:\n\n"...)
	}
	return b
}

// appendDec3 appends v (< 1000) as three decimal digits.
func appendDec3(b []byte, v uint64) []byte {
	return append(b, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
}

// appendCPUTimes appends the ten time fields of a cpu line of /proc/stat.
func appendCPUTimes(b []byte, t *CPUTimes) []byte {
	for _, d := range [...]time.Duration{t.User, t.Nice, t.System, t.Idle, t.IOWait, t.IRQ, t.SoftIRQ, t.Steal, t.Guest, t.GuestNice} {
		b = appendU(b, " ", ticks(d))
	}
	return append(b, '\n')
}

// formatSysStat returns /proc/stat.
func formatSysStat(cpus []CPU, c *Counters) []byte {
	b := make([]byte, 0, 200+100*len(cpus))
	var sum CPUTimes
	for i := range cpus {
		t := &cpus[i].Times
		sum.User += t.User
		sum.Nice += t.Nice
		sum.System += t.System
		sum.Idle += t.Idle
		sum.IOWait += t.IOWait
		sum.IRQ += t.IRQ
		sum.SoftIRQ += t.SoftIRQ
		sum.Steal += t.Steal
		sum.Guest += t.Guest
		sum.GuestNice += t.GuestNice
	}
	b = appendCPUTimes(append(b, "cpu "...), &sum)
	for i := range cpus {
		b = appendCPUTimes(appendI(b, "cpu", int64(i)), &cpus[i].Times)
	}
	b = appendU(b, "intr ", c.Interrupts)
	b = appendU(b, "\nctxt ", c.ContextSwitches)
	var btime int64
	if !c.BootTime.IsZero() {
		btime = c.BootTime.Unix()
	}
	b = appendI(b, "\nbtime ", btime)
	b = appendU(b, "\nprocesses ", c.Forks)
	b = appendI(b, "\nprocs_running ", int64(c.Running))
	b = appendI(b, "\nprocs_blocked ", int64(c.Blocked))
	b = append(b, "\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n"...)
	return b
}

// appendCenti appends d in seconds with two decimals, truncated.
func appendCenti(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	cs := uint64(d / (10 * time.Millisecond))
	b = strconv.AppendUint(b, cs/100, 10)
	return append(b, '.', byte('0'+cs%100/10), byte('0'+cs%10))
}

// formatUptime returns /proc/uptime.
func formatUptime(up, idle time.Duration) []byte {
	b := appendCenti(nil, up)
	b = appendCenti(append(b, ' '), idle)
	return append(b, '\n')
}

// formatLoadavg returns /proc/loadavg.
func formatLoadavg(c *Counters) []byte {
	var b []byte
	for i, l := range c.Load {
		if i > 0 {
			b = append(b, ' ')
		}
		if l < 0 {
			l = 0
		}
		b = strconv.AppendFloat(b, l, 'f', 2, 64)
	}
	b = appendI(b, " ", int64(c.Running))
	b = appendI(b, "/", int64(c.Threads))
	b = appendI(b, " ", int64(c.LastPID))
	return append(b, '\n')
}

// formatVersion returns /proc/version.
func formatVersion(s *System) []byte {
	b := make([]byte, 0, 160)
	b = append(b, s.Sysname...)
	b = append(b, " version "...)
	b = append(b, s.Release...)
	if s.BuiltBy != "" {
		b = append(append(append(b, " ("...), s.BuiltBy...), ')')
	}
	if s.Compiler != "" {
		b = append(append(append(b, " ("...), s.Compiler...), ')')
	}
	b = append(append(b, ' '), s.Version...)
	return append(b, '\n')
}

// formatFilesystems returns /proc/filesystems.
func formatFilesystems(fss []FilesystemType) []byte {
	var b []byte
	for _, f := range fss {
		if f.NoDev {
			b = append(b, "nodev"...)
		}
		b = append(append(append(b, '\t'), f.Name...), '\n')
	}
	return b
}
