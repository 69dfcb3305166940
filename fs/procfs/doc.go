// Package procfs is the /proc file system of dunix: a read-only,
// Linux-compatible view of the processes and of the system, generated on
// demand over the VFS (dunix/fs/vfs), for programs like ps, top, free,
// uptime, mount, df, pidof, and the C and Go libraries that read
// /proc/self.
//
// The process layer supplies the facts through the Source and Process
// interfaces; procfs formats them byte for byte as Linux 6.x does. Mount
// an FS made by New on /proc with MountOptions.
//
// # Contents
//
// The root holds a directory per process (named by its ID), "self" and
// "thread-self" (symbolic links to the caller's directory and thread
// directory), "mounts" (a link to self/mounts), the system files cmdline,
// cpuinfo, filesystems, loadavg, meminfo, stat, swaps, uptime, version,
// and sys/kernel/{domainname,hostname,osrelease,ostype,pid_max,version},
// sys/fs/pipe-max-size, sys/vm/overcommit_memory.
//
// /proc/PID holds cmdline, comm, environ, limits, maps, mountinfo, mounts,
// stat, statm, status, the magic links cwd, exe and root, fd/ (a magic
// link per open descriptor), fdinfo/ (a file per descriptor) and task/ (a
// directory per thread with the same entries, task/ aside, whose stat,
// status and comm describe the thread).
//
// # Behaviour
//
// Files are generated when opened: the open file keeps a snapshot, which
// a read at offset 0 makes again (as Linux's seq_file), and can be read at
// any offset and lseek'd with SEEK_SET and SEEK_CUR. Their size is 0. Nothing
// can be written (EACCES), created, removed or renamed.
//
// The entries of /proc/PID belong to the process's owner (Process.Owner).
// environ, maps, fd/ and fdinfo/ entries and the magic links are only for
// the owner, root and the process itself (EACCES for others, as Linux's
// ptrace access check); stat then hides addresses.
//
// A process that dies makes the entries of its directory fail: lookups and
// listings with ENOENT, a new read of an open file with ESRCH. A process
// ID taken by a new process names a new directory.
package procfs
