// Package devfs provides device files for dunix: a registry that opens
// device nodes by type and major:minor number (it is the vfs.DeviceOpener
// of a namespace), the memory devices (/dev/null, /dev/zero, /dev/full,
// /dev/random, /dev/urandom), and a /dev tree with the standard nodes.
//
// Device nodes can live on any file system (an initramfs may bring its
// own /dev): opening one asks the registry, whatever file system holds
// the node. Another package adds a device, a terminal for instance, with
//
//	reg.Register(unix.S_IFCHR, devfs.TTYAuxMajor, devfs.ConsoleMinor,
//		devfs.OpenFunc(func(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) {
//			return newConsoleFile(ctx, flags)
//		}))
//
// A node whose device is not registered opens with ENXIO, as in Linux.
//
// Everything is safe for concurrent use. The package runs in Go context.
package devfs

import (
	"crypto/rand"
	"io"
	"sync"

	"dunix/fs/memfs"
	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// Linux's device numbers for the devices dunix knows about.
const (
	MemMajor     = 1 // memory devices
	NullMinor    = 3 // /dev/null
	ZeroMinor    = 5 // /dev/zero
	FullMinor    = 7 // /dev/full
	RandomMinor  = 8 // /dev/random
	URandomMinor = 9 // /dev/urandom

	TTYMajor = 4 // virtual consoles (minors 0-63) and serial ports ttyS* (minors 64-)

	TTYAuxMajor  = 5 // /dev/tty, /dev/console, /dev/ptmx
	TTYMinor     = 0 // /dev/tty: the process's controlling terminal
	ConsoleMinor = 1 // /dev/console
	PtmxMinor    = 2 // /dev/ptmx

	MiscMajor = 10  // miscellaneous devices
	PTSMajor  = 136 // pseudo-terminal slaves, /dev/pts/*
)

// Device is something that can be opened through a device node.
type Device interface {
	// Open returns the FileOps of a new open file description. flags are
	// the open(2) flags (access was checked against the node); ctx.Task
	// identifies the opening process.
	Open(ctx *vfs.Ctx, flags int) (vfs.FileOps, error)
}

// OpenFunc adapts a function to Device.
type OpenFunc func(ctx *vfs.Ctx, flags int) (vfs.FileOps, error)

// Open implements Device.
func (f OpenFunc) Open(ctx *vfs.Ctx, flags int) (vfs.FileOps, error) { return f(ctx, flags) }

// devKey identifies a device.
type devKey struct {
	typ          uint32
	major, minor uint32
}

// Registry maps device numbers to devices. It implements vfs.DeviceOpener.
type Registry struct {
	mu   sync.RWMutex
	devs map[devKey]Device
}

// NewRegistry returns a registry holding the memory devices; random is
// what /dev/random and /dev/urandom read (nil means crypto/rand.Reader).
// It need not be safe for concurrent use.
func NewRegistry(random io.Reader) *Registry {
	r := &Registry{devs: map[devKey]Device{}}
	if random == nil {
		random = rand.Reader
	}
	rnd := &lockedReader{r: random}
	for minor, kind := range map[uint32]memKind{
		NullMinor: memNull, ZeroMinor: memZero, FullMinor: memFull,
		RandomMinor: memRandom, URandomMinor: memRandom,
	} {
		r.Register(unix.S_IFCHR, MemMajor, minor, OpenFunc(func(*vfs.Ctx, int) (vfs.FileOps, error) {
			return &memDev{kind: kind, rnd: rnd}, nil
		}))
	}
	return r
}

// Register adds device d as typ (unix.S_IFCHR or unix.S_IFBLK)
// major:minor. EBUSY if the number is taken, EINVAL for another type.
func (r *Registry) Register(typ, major, minor uint32, d Device) error {
	if typ != unix.S_IFCHR && typ != unix.S_IFBLK {
		return unix.EINVAL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := devKey{typ, major, minor}
	if r.devs[k] != nil {
		return unix.EBUSY
	}
	r.devs[k] = d
	return nil
}

// Unregister removes a device; it reports whether there was one. Files
// already open stay open.
func (r *Registry) Unregister(typ, major, minor uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := devKey{typ, major, minor}
	_, ok := r.devs[k]
	delete(r.devs, k)
	return ok
}

// Lookup returns the device registered as typ major:minor.
func (r *Registry) Lookup(typ, major, minor uint32) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.devs[devKey{typ, major, minor}]
	return d, ok
}

// OpenDevice implements vfs.DeviceOpener: ENXIO for an unregistered
// device.
func (r *Registry) OpenDevice(ctx *vfs.Ctx, typ, major, minor uint32, flags int) (vfs.FileOps, error) {
	d, ok := r.Lookup(typ, major, minor)
	if !ok {
		return nil, unix.ENXIO
	}
	return d.Open(ctx, flags)
}

// lockedReader serializes reads of a reader.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

// Read reads all of p.
func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}

// memKind says which memory device a memDev is.
type memKind int

const (
	memNull memKind = iota
	memZero
	memFull
	memRandom
)

// memDev is an open memory device.
type memDev struct {
	kind memKind
	rnd  *lockedReader
}

// Read implements vfs.FileOps.
func (m *memDev) Read(_ *vfs.File, dst []byte, _ int64) (int, error) {
	switch m.kind {
	case memNull:
		return 0, nil
	case memRandom:
		n, err := m.rnd.Read(dst)
		if err != nil && n == 0 {
			return 0, unix.EIO
		}
		return n, nil
	}
	clear(dst)
	return len(dst), nil
}

// Write implements vfs.FileOps: /dev/full is always full.
func (m *memDev) Write(_ *vfs.File, src []byte, _ int64) (int, error) {
	if m.kind == memFull {
		return 0, unix.ENOSPC
	}
	return len(src), nil
}

// Seek implements vfs.Seeker: the offset of a memory device stays 0, as
// Linux's null_lseek.
func (m *memDev) Seek(*vfs.File, int64, int64, int) (int64, error) { return 0, nil }

// Release implements vfs.FileOps.
func (m *memDev) Release() {}

// Node describes a device node of a /dev tree.
type Node struct {
	Name         string
	Mode         uint32 // type (unix.S_IFCHR, unix.S_IFBLK) and permissions
	Major, Minor uint32
}

// Nodes are the device nodes of the standard /dev tree.
var Nodes = []Node{
	{"null", unix.S_IFCHR | 0o666, MemMajor, NullMinor},
	{"zero", unix.S_IFCHR | 0o666, MemMajor, ZeroMinor},
	{"full", unix.S_IFCHR | 0o666, MemMajor, FullMinor},
	{"random", unix.S_IFCHR | 0o666, MemMajor, RandomMinor},
	{"urandom", unix.S_IFCHR | 0o666, MemMajor, URandomMinor},
	{"tty", unix.S_IFCHR | 0o666, TTYAuxMajor, TTYMinor},
	{"console", unix.S_IFCHR | 0o600, TTYAuxMajor, ConsoleMinor},
	{"ptmx", unix.S_IFCHR | 0o666, TTYAuxMajor, PtmxMinor},
}

// links are the symbolic links of the standard /dev tree.
var links = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}

// New returns a memfs holding a standard /dev tree (mount it on /dev, as
// devtmpfs): the Nodes, the fd, stdin, stdout and stderr links, and the
// directories pts (0755) and shm (1777). More nodes can be made in it with
// mknod, or MakeNodes.
func New() *memfs.FS {
	fs := memfs.New(&memfs.Options{Mode: 0o755})
	ns := vfs.NewNamespace(fs, vfs.Options{})
	ctx := vfs.RootCtx()
	root := ns.Root()
	if err := MakeNodes(ns, ctx, root, Nodes); err != nil {
		panic("devfs: " + err.Error()) // cannot fail on an empty memfs
	}
	for _, l := range links {
		ns.Symlink(ctx, l[1], root, l[0])
	}
	ns.Mkdir(ctx, root, "pts", 0o755)
	ns.Mkdir(ctx, root, "shm", 0o777)
	ns.Chmod(ctx, root, "shm", 0o1777, 0)
	return fs
}

// MakeNodes makes device nodes in directory at of ns, with their exact
// modes (no umask); existing names are left alone.
func MakeNodes(ns *vfs.Namespace, ctx *vfs.Ctx, at vfs.Loc, nodes []Node) error {
	for _, n := range nodes {
		err := ns.Mknod(ctx, at, n.Name, n.Mode, unix.Mkdev(n.Major, n.Minor))
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return err
		}
		if err := ns.Chmod(ctx, at, n.Name, n.Mode&0o7777, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}
