package linuxref

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"dunix/fs/cpio"
)

// initSource is the source of /init (package main, standard library only).
//
//go:embed initprog/main.go
var initSource string

// initramfsLayout names the build settings and archive layout below; change
// it whenever they change so that cached images are rebuilt.
const initramfsLayout = "linuxref initramfs v1: CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOAMD64=v1 -trimpath -ldflags=-s -w; dev dev/console(c 5 1) proc sys init"

// Initramfs returns the path of the reference initramfs in the cache
// cacheDir ("" means CacheDir()), building it first if needed.
//
// The image is a newc cpio archive written with dunix/fs/cpio holding the
// directories dev, proc and sys, the console device dev/console (character
// 5,1, so that the kernel can give /init its standard streams) and /init
// (mode 0755): the program in initprog, built by the go command on $PATH as
// a static, stripped linux/amd64 binary. The file is named after a hash of
// the program's source, the go command's version and the layout, so a
// cached image is reused only if it would be built the same.
func Initramfs(ctx context.Context, cacheDir string) (string, error) {
	dir, err := refDir(cacheDir)
	if err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	goVersion, err := run(ctx, "", "go", "env", "GOVERSION")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(initramfsLayout + "\n" + strings.TrimSpace(goVersion) + "\n" + initSource))
	final := filepath.Join(dir, "initramfs-"+hex.EncodeToString(sum[:8])+".cpio")
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() {
		return final, nil
	}

	tmp, err := os.MkdirTemp(dir, ".initramfs-")
	if err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	defer os.RemoveAll(tmp)
	initBin, err := buildInit(ctx, tmp)
	if err != nil {
		return "", err
	}
	var image bytes.Buffer
	if err := writeInitramfs(&image, initBin); err != nil {
		return "", fmt.Errorf("linuxref: writing initramfs: %w", err)
	}
	staged := filepath.Join(tmp, "initramfs.cpio")
	if err := os.WriteFile(staged, image.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	if err := os.Rename(staged, final); err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	return final, nil
}

// buildInit builds initSource in a module of its own under folder tmp and
// returns the binary.
func buildInit(ctx context.Context, tmp string) ([]byte, error) {
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, fmt.Errorf("linuxref: %w", err)
	}
	files := map[string]string{
		"go.mod":  "module initprog\n\ngo 1.21\n",
		"main.go": initSource,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("linuxref: %w", err)
		}
	}
	out := filepath.Join(tmp, "init")
	cmd := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "."}
	env := []string{
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1",
		"GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "GO111MODULE=on",
	}
	if _, err := runEnv(ctx, src, env, "go", cmd...); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("linuxref: %w", err)
	}
	return bin, nil
}

// writeInitramfs writes the initramfs archive with initBin as /init.
func writeInitramfs(w io.Writer, initBin []byte) error {
	cw := cpio.NewWriter(w)
	dir := cpio.Attr{Perm: 0o755}
	steps := []func() error{
		func() error { return cw.AddDir("dev", dir) },
		func() error { return cw.AddCharDev("dev/console", cpio.Attr{Perm: 0o600}, 5, 1) },
		func() error { return cw.AddDir("proc", dir) },
		func() error { return cw.AddDir("sys", dir) },
		func() error { return cw.AddFile("init", cpio.Attr{Perm: 0o755}, initBin) },
		cw.Close,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
