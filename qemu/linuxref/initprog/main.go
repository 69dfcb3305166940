//go:build linux

// Command initprog is /init of the reference Linux initramfs built by
// package dunix/qemu/linuxref. It prints "linux-init: ready" on its console
// (the kernel opens /dev/console as its standard streams), flushes file
// systems and powers the machine off. If powering off fails it exits, which
// makes the kernel panic; with "panic=-1" and QEMU's -no-reboot that also
// ends QEMU.
package main

import (
	"os"
	"syscall"
)

func main() {
	os.Stdout.WriteString("linux-init: ready\n")
	syscall.Sync()
	err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	os.Stderr.WriteString("linux-init: power off failed: " + err.Error() + "\n")
	os.Exit(1)
}
