package linuxref

import (
	"archive/tar"
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

// NetModules are the modules Debian's kernel needs for a modern
// virtio-net-pci card (its config has VIRTIO, VIRTIO_PCI, VIRTIO_NET and
// NET_FAILOVER as modules), as paths under lib/modules/<release>/kernel/,
// in the order they must be loaded: each after the modules its depends=
// field names (virtio uses virtio_ring; a module loaded before one it
// uses fails with ENOENT, an unknown symbol).
var NetModules = []string{
	"drivers/virtio/virtio_ring.ko",
	"drivers/virtio/virtio.ko",
	"drivers/virtio/virtio_pci_modern_dev.ko",
	"drivers/virtio/virtio_pci_legacy_dev.ko",
	"drivers/virtio/virtio_pci.ko",
	"net/core/failover.ko",
	"drivers/net/net_failover.ko",
	"drivers/net/virtio_net.ko",
}

// Modules returns the paths of the kernel modules named in want (paths
// under lib/modules/<release>/kernel/, like NetModules), in want's order,
// for the kernel Kernel returns, extracting them first if needed. They are
// kept in the cache cacheDir ("" means CacheDir()) beside the image, as
//
//	<cache>/linuxref/<package>_<version>/modules/<base name>
//
// (the base names of want must differ). When one of them is missing the
// kernel package is downloaded again with "apt-get download" into a
// temporary folder and the wanted files are taken out of its file system
// tree, streamed through "dpkg-deb --fsys-tarfile"; the rest of the
// package is not written to disk. As with Kernel, a failure to resolve or
// download the package is retried once after "apt-get update".
func Modules(ctx context.Context, cacheDir string, want []string) ([]string, error) {
	dir, err := refDir(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("linuxref: %w", err)
	}
	seen := map[string]bool{}
	for _, w := range want {
		b := path.Base(w)
		if seen[b] || !strings.HasSuffix(b, ".ko") {
			return nil, fmt.Errorf("linuxref: module %q: want distinct base names ending in .ko", w)
		}
		seen[b] = true
	}
	paths, firstErr := fetchModules(ctx, dir, want)
	if firstErr == nil || ctx.Err() != nil {
		return paths, firstErr
	}
	if _, err := run(ctx, "", "apt-get", "update"); err != nil {
		return nil, errors.Join(firstErr, err)
	}
	paths, err = fetchModules(ctx, dir, want)
	if err != nil {
		return nil, fmt.Errorf("%w (after apt-get update; before it: %v)", err, firstErr)
	}
	return paths, nil
}

// fetchModules resolves the kernel package and returns the cached modules,
// extracting them if any is missing.
func fetchModules(ctx context.Context, dir string, want []string) ([]string, error) {
	pkg, version, err := resolveKernelPackage(ctx)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(dir, pkg+"_"+strings.ReplaceAll(version, ":", "%3a"), "modules")
	if p, ok := cachedModules(final, want); ok {
		return p, nil
	}
	tmp, err := os.MkdirTemp(dir, ".download-")
	if err != nil {
		return nil, fmt.Errorf("linuxref: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := run(ctx, tmp, "apt-get", "download", pkg+"="+version); err != nil {
		return nil, err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("linuxref: apt-get download %s=%s left %d .deb files in %s", pkg, version, len(debs), tmp)
	}
	staged := filepath.Join(tmp, "modules")
	if err := os.Mkdir(staged, 0o755); err != nil {
		return nil, fmt.Errorf("linuxref: %w", err)
	}
	if err := extractModules(ctx, debs[0], staged, want); err != nil {
		return nil, err
	}
	// Replace any incomplete folder by the staged one.
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, fmt.Errorf("linuxref: %w", err)
	}
	os.RemoveAll(final)
	if err := os.Rename(staged, final); err != nil {
		return nil, fmt.Errorf("linuxref: %w", err)
	}
	p, ok := cachedModules(final, want)
	if !ok {
		return nil, fmt.Errorf("linuxref: modules missing from %s after extraction", final)
	}
	return p, nil
}

// cachedModules returns the paths of the wanted modules in folder dir and
// whether all are there.
func cachedModules(dir string, want []string) ([]string, bool) {
	var out []string
	for _, w := range want {
		p := filepath.Join(dir, path.Base(w))
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			return nil, false
		}
		out = append(out, p)
	}
	return out, true
}

// extractModules streams the file system tree of the .deb deb and writes
// the wanted lib/modules/*/kernel/ files into folder dst under their base
// names. It stops dpkg-deb once all are out.
func extractModules(ctx context.Context, deb, dst string, want []string) error {
	cmdline := "dpkg-deb --fsys-tarfile " + deb
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second // see extractVmlinuz
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("linuxref: %s: %w", cmdline, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("linuxref: %s: %w", cmdline, err)
	}
	extractErr := modulesFromTar(out, dst, want)
	if extractErr == nil {
		out.Close()
		cmd.Wait()
		return nil
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("linuxref: %s: %v: %s", cmdline, err, strings.TrimSpace(stderr.String()))
	}
	return fmt.Errorf("linuxref: %s: %w", cmdline, extractErr)
}

// modulesFromTar copies the regular files lib/modules/<release>/kernel/<w>
// for every w in want from the tar stream r into folder dst and checks
// that each is an ELF relocatable object.
func modulesFromTar(r io.Reader, dst string, want []string) error {
	left := map[string]bool{}
	for _, w := range want {
		left[w] = true
	}
	tr := tar.NewReader(r)
	for len(left) > 0 {
		h, err := tr.Next()
		if err == io.EOF {
			var missing []string
			for _, w := range want {
				if left[w] {
					missing = append(missing, w)
				}
			}
			return fmt.Errorf("no lib/modules/*/kernel/{%s} in the package (compressed modules are not supported)", strings.Join(missing, ","))
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		parts := strings.SplitN(name, "/", 5) // lib modules <release> kernel <rest>
		if len(parts) != 5 || parts[0] != "lib" || parts[1] != "modules" || parts[3] != "kernel" ||
			!left[parts[4]] || h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if len(data) < 18 || string(data[:4]) != "\x7fELF" || data[16] != 1 { // ET_REL
			return fmt.Errorf("%s is not a kernel module (ELF relocatable)", name)
		}
		if err := os.WriteFile(filepath.Join(dst, path.Base(parts[4])), data, 0o644); err != nil {
			return err
		}
		delete(left, parts[4])
	}
	return nil
}
