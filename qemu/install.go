package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DebianPackage is the Debian and Ubuntu package that installs
// qemu-system-x86_64.
const DebianPackage = "qemu-system-x86"

// CheckInstalled returns nil when the QEMU binary that a zero Config runs
// ($DUNIX_QEMU, else qemu-system-x86_64 in $PATH) exists, and otherwise an
// error that says how to install it.
func CheckInstalled() error {
	_, err := lookBinary(Config{}.Binary())
	return err
}

// lookBinary resolves the QEMU binary name to a path.
func lookBinary(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	if os.Getenv(EnvQEMU) == name {
		return "", fmt.Errorf("qemu: %s=%s: %v", EnvQEMU, name, unwrapExec(err))
	}
	if name == DefaultBinary && errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("qemu: %s is not installed (not found in $PATH); install it with "+
			"`sudo apt install %s` (Debian, Ubuntu), or set %s to the QEMU binary", DefaultBinary, DebianPackage, EnvQEMU)
	}
	return "", fmt.Errorf("qemu: %s: %v", name, unwrapExec(err))
}

// unwrapExec drops exec's "exec: NAME:" decoration.
func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// Version returns the first line of `QEMU --version` for cfg's binary,
// like "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".
func Version(ctx context.Context, cfg Config) (string, error) {
	bin, err := lookBinary(cfg.Binary())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("qemu: %s --version: %w", bin, err)
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if v == "" {
		return "", fmt.Errorf("qemu: %s --version printed nothing", bin)
	}
	return strings.TrimSpace(v), nil
}
