package qemu

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts QEMU in a process group of its own (terminal signals go
// to us, and we can kill the whole group) and has the kernel kill it when
// this process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitNoReap waits until process pid has exited without reaping it, so that
// its process group id stays reserved while we kill the rest of the group.
func waitNoReap(pid int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err == nil
		}
	}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
}

// kvmVersion asks the KVM device f for its API version.
func kvmVersion(f *os.File) (int, error) {
	const kvmGetAPIVersion = 0xAE00 // _IO(KVMIO, 0x00)
	return unix.IoctlRetInt(int(f.Fd()), kvmGetAPIVersion)
}

// signalName returns the name of sig, like "SIGKILL".
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return sig.String()
}
