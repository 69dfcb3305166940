// Package vfs is the virtual file system of dunix: the layer between the
// Linux system calls and the file systems.
//
// # Pieces
//
//   - A Filesystem (memfs, devfs, later remote ones) implements a small set
//     of interfaces: Inode (Stat, SetAttr) for every file, DirInode for
//     directories (Lookup, Create, Link, Unlink, Readdir), SymlinkInode
//     (Readlink), Opener for regular files (Open returns the FileOps of an
//     open file), and Filesystem.Rename. File systems know nothing of
//     credentials, mounts or path names: the VFS does permission checks,
//     path walking and mount crossing.
//   - A Namespace is a mount tree. Its methods are the path operations of
//     the *at system calls (Open, Mkdir, Mknod, Unlink, Rmdir, Rename, Link,
//     Symlink, Readlink, Stat, Chmod, Chown, Utimes, Truncate, Access,
//     Statfs), mount and unmount, and Path (getcwd). Each takes a *Ctx (who
//     asks: credentials, process root) and a starting location Loc (the
//     current directory or the directory of a dirfd; AT_FDCWD is resolved by
//     the caller) with a path relative to it.
//   - A File is an open file description. dup and fork share one *File
//     (IncRef); the description is released when its last reference is
//     closed. Its FileOps are supplied by the file system (regular files),
//     the device registry (device nodes, see DeviceOpener), the FIFO table
//     (FIFOs, see FIFOOpener) or the creator of an anonymous file (pipes,
//     and later eventfd, epoll, sockets: NewFile).
//
// # Errors
//
// Every error that can reach a system call is a syscall.Errno (the
// golang.org/x/sys/unix constants), returned as is: the caller negates it.
// ToErrno maps anything else to EIO.
//
// # Blocking
//
// No operation blocks. Operations that would block return syscall.EAGAIN;
// the caller waits with the dunix/fs/waiter protocol on the File (which is
// a waiter.Waitable) unless the file is non-blocking. A blocking FIFO open
// returns a File whose OpenPending reports true until the other side opens;
// WaitOpen waits for that.
//
// # Concurrency
//
// Everything is safe for concurrent use. Path walks take no global lock:
// directories are looked up one at a time and a walk may observe a
// concurrent rename as Linux's may. The mount table is copy-on-write.
//
// The package runs in Go context (ordinary goroutines).
package vfs
