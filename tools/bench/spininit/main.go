// Command spininit is the /init of the Linux reference for the parallel
// speed-up benchmark (tools/bench smp): it runs the same CPU-bound job as
// the dunix kernel's "dunix.bench=spin" (selftest.SpinBench), prints the
// same lines, and powers the machine off.
package main

import (
	"os"
	"syscall"

	"dunix/kernel/selftest"
)

func main() {
	selftest.SpinBench(os.Stdout, 3)
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}
