package linuxref

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// metaPackage is the Debian metapackage that depends on the current amd64
// kernel image package.
const metaPackage = "linux-image-amd64"

// Kernel returns the path of Debian's amd64 kernel image (a bzImage) in the
// cache cacheDir ("" means CacheDir()), downloading it first if needed.
//
// It asks apt-cache which package linux-image-amd64 depends on and what its
// candidate version is; if <cache>/linuxref/<package>_<version> holds the
// image it is returned without network access. Otherwise "apt-get download"
// fetches the .deb into a temporary folder (nothing is installed on the
// host) and the image is taken out of it with dpkg-deb. When apt-cache knows
// no such package or the download fails, the package lists are missing or
// stale: Kernel then runs "apt-get update" (which needs root) and tries once
// more. When apt cannot be asked at all but an image is cached, the newest
// cached one is returned.
func Kernel(ctx context.Context, cacheDir string) (string, error) {
	dir, err := refDir(cacheDir)
	if err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	p, firstErr := fetchKernel(ctx, dir)
	if firstErr == nil {
		return p, nil
	}
	if ctx.Err() != nil {
		return "", firstErr
	}
	if _, err := run(ctx, "", "apt-get", "update"); err != nil {
		if cached := newestCachedKernel(dir); cached != "" {
			return cached, nil
		}
		return "", errors.Join(firstErr, err)
	}
	p, err = fetchKernel(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("%w (after apt-get update; before it: %v)", err, firstErr)
	}
	return p, nil
}

// fetchKernel resolves the kernel package and returns its cached image,
// downloading it if it is not cached yet.
func fetchKernel(ctx context.Context, dir string) (string, error) {
	pkg, version, err := resolveKernelPackage(ctx)
	if err != nil {
		return "", err
	}
	final := filepath.Join(dir, pkg+"_"+strings.ReplaceAll(version, ":", "%3a"))
	if p := cachedKernel(final); p != "" {
		return p, nil
	}
	return downloadKernel(ctx, dir, final, pkg, version)
}

// resolveKernelPackage returns the concrete kernel image package the
// metapackage depends on and that package's candidate version.
func resolveKernelPackage(ctx context.Context) (pkg, version string, err error) {
	out, err := run(ctx, "", "apt-cache", "show", "--no-all-versions", metaPackage)
	if err != nil {
		return "", "", err
	}
	for _, dep := range splitDepends(controlField(out, "Depends")) {
		if strings.HasPrefix(dep, "linux-image-") {
			pkg = dep
			break
		}
	}
	if pkg == "" {
		return "", "", fmt.Errorf("linuxref: apt-cache show %s: no linux-image-* package in Depends: %q",
			metaPackage, controlField(out, "Depends"))
	}
	out, err = run(ctx, "", "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return "", "", err
	}
	version = controlField(out, "Version")
	if version == "" {
		return "", "", fmt.Errorf("linuxref: apt-cache show %s: no Version field", pkg)
	}
	return pkg, version, nil
}

// controlField returns the value of field in the first stanza of Debian
// control data (one-line fields only).
func controlField(control, field string) string {
	sc := bufio.NewScanner(strings.NewReader(control))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// splitDepends returns the package names of a Depends field, each
// alternative in order, without version constraints or architectures.
func splitDepends(depends string) []string {
	var names []string
	for _, dep := range strings.Split(depends, ",") {
		for _, alt := range strings.Split(dep, "|") {
			name, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
			name, _, _ = strings.Cut(name, "(")
			name, _, _ = strings.Cut(name, ":")
			if name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// cachedKernel returns the kernel image in folder dir, or "".
func cachedKernel(dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "vmlinuz-*"))
	if len(m) != 1 {
		return ""
	}
	if fi, err := os.Stat(m[0]); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return m[0]
}

// newestCachedKernel returns the most recently fetched kernel image in the
// cache folder dir, or "".
func newestCachedKernel(dir string) string {
	dirs, _ := filepath.Glob(filepath.Join(dir, "linux-image-*_*"))
	var best string
	var bestTime int64
	for _, d := range dirs {
		p := cachedKernel(d)
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.ModTime().UnixNano() >= bestTime {
			best, bestTime = p, fi.ModTime().UnixNano()
		}
	}
	return best
}

// downloadKernel downloads pkg at version with apt-get into a temporary
// folder under dir and puts its boot/vmlinuz-* into the folder final.
func downloadKernel(ctx context.Context, dir, final, pkg, version string) (string, error) {
	tmp, err := os.MkdirTemp(dir, ".download-")
	if err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := run(ctx, tmp, "apt-get", "download", pkg+"="+version); err != nil {
		return "", err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("linuxref: apt-get download %s=%s left %d .deb files in %s", pkg, version, len(debs), tmp)
	}
	name, err := extractVmlinuz(ctx, debs[0], tmp)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(final, 0o755); err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	dst := filepath.Join(final, name)
	if err := os.Rename(filepath.Join(tmp, name), dst); err != nil {
		return "", fmt.Errorf("linuxref: %w", err)
	}
	return dst, nil
}

// extractVmlinuz streams the file system tree of the .deb deb out of
// "dpkg-deb --fsys-tarfile" and writes its boot/vmlinuz-* into folder dst,
// returning the file's name. Streaming (rather than "dpkg-deb -x") avoids
// writing the package's hundreds of megabytes of modules to disk: boot/
// comes first in the archive, and dpkg-deb is stopped (by closing its
// output) once the image is out.
func extractVmlinuz(ctx context.Context, deb, dst string) (string, error) {
	cmdline := "dpkg-deb --fsys-tarfile " + deb
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// dpkg-deb pipes through a decompressor child that also holds stderr:
	// bound the wait for it after dpkg-deb itself ended.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("linuxref: %s: %w", cmdline, err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("linuxref: %s: %w", cmdline, err)
	}
	name, extractErr := extractFromTar(out, dst)
	if extractErr == nil {
		// The rest of the package is not needed: closing the pipe ends
		// dpkg-deb and its decompressor with EPIPE.
		out.Close()
		cmd.Wait()
		return name, nil
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("linuxref: %s: %v: %s", cmdline, err, strings.TrimSpace(stderr.String()))
	}
	return "", fmt.Errorf("linuxref: %s: %w", cmdline, extractErr)
}

// extractFromTar copies the first boot/vmlinuz-* regular file of the tar
// stream r into folder dst and checks that it is a bzImage.
func extractFromTar(r io.Reader, dst string) (string, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", errors.New("no boot/vmlinuz-* in the package")
		}
		if err != nil {
			return "", err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		base := path.Base(name)
		if path.Dir(name) != "boot" || !strings.HasPrefix(base, "vmlinuz-") || h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return "", err
		}
		if len(data) < 0x206 || string(data[0x202:0x206]) != "HdrS" {
			return "", fmt.Errorf("boot/%s is not a bzImage", base)
		}
		if err := os.WriteFile(filepath.Join(dst, base), data, 0o644); err != nil {
			return "", err
		}
		return base, nil
	}
}

// run runs a command (in folder dir unless empty) with the C locale and
// returns its standard output. Its error names the command and quotes its
// standard error.
func run(ctx context.Context, dir, name string, args ...string) (string, error) {
	return runEnv(ctx, dir, nil, name, args...)
}

// runEnv is run with the variables env added to the environment.
func runEnv(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "(no output on stderr)"
		}
		return "", fmt.Errorf("linuxref: %s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}
