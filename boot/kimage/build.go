package kimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// KernelPackage is the Go package of the kernel's main.
const KernelPackage = "dunix/kernel/cmd/dunix-kernel"

// Build compiles the kernel with the stock go command found on PATH
// (GOOS=linux GOARCH=amd64 CGO_ENABLED=0, static) from the module rooted at
// dir, patches it, and writes the bootable image to out.
func Build(ctx context.Context, dir, out string) (Info, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".kernel-*.elf")
	if err != nil {
		return Info{}, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp.Name(),
		"-ldflags="+LinkFlags(), KernelPackage)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return Info{}, fmt.Errorf("go build %s: %v\n%s", KernelPackage, err, b)
	}
	img, err := os.ReadFile(tmp.Name())
	if err != nil {
		return Info{}, err
	}
	info, err := Patch(img)
	if err != nil {
		return info, err
	}
	if err := os.WriteFile(tmp.Name(), img, 0o755); err != nil {
		return info, err
	}
	return info, os.Rename(tmp.Name(), out)
}
