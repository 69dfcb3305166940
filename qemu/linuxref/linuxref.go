// Package linuxref provides a reference Linux guest for benchmarks: Debian's
// own amd64 kernel (Kernel), a tiny initramfs whose /init prints ReadyLine
// and powers off (Initramfs), and the QEMU arguments that boot the two the
// way the dunix kernel is booted (BootArgs). Comparing the two guests in the
// same QEMU shows what dunix costs or saves against a stock kernel.
//
// Everything is kept in a cache directory (see CacheDir), laid out as
//
//	<cache>/linuxref/<package>_<version>/vmlinuz-<release>   Debian's kernel image
//	<cache>/linuxref/initramfs-<hash>.cpio                  the initramfs
//
// where <package> is the concrete kernel package that the metapackage
// linux-image-amd64 depends on (for example linux-image-6.1.0-56-amd64) and
// <hash> is a content hash of everything the initramfs is built from.
//
// This is host code: it runs apt-cache, apt-get, dpkg-deb and go.
package linuxref

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ReadyLine is the line the initramfs's /init writes to the console once
// user space runs.
const ReadyLine = "linux-init: ready"

// Cmdline is the kernel command line BootArgs passes.
//
// "console=ttyS0" gives Linux its normal serial console, the one a serial
// console user of Debian's kernel has; "panic=-1" reboots at once on a
// panic, which -no-reboot turns into QEMU exiting. Deliberately absent:
//
//   - earlyprintk=serial: Linux's first console line would then come from
//     the early boot console, a debugging aid that prints before the real
//     console driver exists. The benchmark measures the normal console, so
//     the first line appears when the 8250 driver registers ttyS0 and
//     replays the log buffer, as on any machine with a serial console.
//   - quiet: it would hide every kernel message, leaving no first kernel
//     line to time. The cost of printing the boot log through the emulated
//     UART is part of a normal serial-console boot and stays in.
const Cmdline = "console=ttyS0 panic=-1"

// BootArgs returns the QEMU arguments (without the program name) that boot
// vmlinuz with initramfs under TCG with memMiB MiB of memory and cpus
// virtual CPUs, the console on QEMU's standard input and output. The machine
// is the one dunix boots on, including the isa-debug-exit device at port
// 0xf4 (which Linux leaves alone); the guest ends QEMU by powering off
// through ACPI.
func BootArgs(vmlinuz, initramfs string, memMiB, cpus int) []string {
	return []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", "q35", "-cpu", "max", "-accel", "tcg,thread=multi",
		"-m", strconv.Itoa(memMiB), "-smp", strconv.Itoa(cpus),
		"-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-kernel", vmlinuz, "-initrd", initramfs, "-append", Cmdline,
	}
}

// CacheDir returns the default cache directory: $DUNIX_CACHE if set, else
// $XDG_CACHE_HOME/dunix, else ~/.cache/dunix.
func CacheDir() (string, error) {
	if d := os.Getenv("DUNIX_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", errors.New("linuxref: no cache directory: set $DUNIX_CACHE, $XDG_CACHE_HOME or $HOME")
	}
	return filepath.Join(base, "dunix"), nil
}

// refDir returns (and creates) the linuxref folder of the cache cacheDir,
// or of the default cache if cacheDir is empty.
func refDir(cacheDir string) (string, error) {
	if cacheDir == "" {
		d, err := CacheDir()
		if err != nil {
			return "", err
		}
		cacheDir = d
	}
	dir := filepath.Join(cacheDir, "linuxref")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	removeStale(dir)
	return dir, nil
}

// staleAge is the age after which a temporary folder in the cache is taken
// to be left over by a killed process.
const staleAge = time.Hour

// removeStale removes temporary folders (".download-*", ".initramfs-*")
// older than staleAge from the cache folder dir.
func removeStale(dir string) {
	for _, pattern := range []string{".download-*", ".initramfs-*"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > staleAge {
				os.RemoveAll(p)
			}
		}
	}
}
