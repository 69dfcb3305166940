//go:build unix && !linux

package qemu

import (
	"errors"
	"os"
	"syscall"
)

// sysProcAttr puts QEMU in a process group of its own.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitNoReap is not available here: the group is only signalled while QEMU
// runs.
func waitNoReap(pid int) bool { return false }

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
}

// kvmVersion fails: KVM is Linux-only.
func kvmVersion(f *os.File) (int, error) {
	return 0, errors.New("KVM is only available on Linux")
}

// signalName returns the name of sig.
func signalName(sig syscall.Signal) string { return sig.String() }
