package linuxref

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeModule is the start of an ELF relocatable object.
func fakeModule(tag string) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF")
	b[16] = 1 // ET_REL
	return append(b, tag...)
}

func TestModulesFromTar(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	add("./boot/vmlinuz-6.1.0-56-amd64", []byte("kernel"))
	add("./lib/modules/6.1.0-56-amd64/kernel/drivers/virtio/virtio.ko", fakeModule("virtio"))
	add("./lib/modules/6.1.0-56-amd64/kernel/drivers/net/other.ko", fakeModule("other"))
	add("./lib/modules/6.1.0-56-amd64/kernel/net/core/failover.ko", fakeModule("failover"))
	tw.Close()

	dst := t.TempDir()
	want := []string{"net/core/failover.ko", "drivers/virtio/virtio.ko"}
	if err := modulesFromTar(bytes.NewReader(buf.Bytes()), dst, want); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		b, err := os.ReadFile(filepath.Join(dst, filepath.Base(w)))
		if err != nil || !bytes.HasSuffix(b, []byte(strings.TrimSuffix(filepath.Base(w), ".ko"))) {
			t.Errorf("%s: %q, %v", w, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "other.ko")); err == nil {
		t.Error("a module not asked for was extracted")
	}
	if p, ok := cachedModules(dst, want); !ok || filepath.Base(p[0]) != "failover.ko" {
		t.Errorf("cachedModules = %v, %v; want them in the order asked", p, ok)
	}

	err := modulesFromTar(bytes.NewReader(buf.Bytes()), t.TempDir(), []string{"drivers/net/virtio_net.ko"})
	if err == nil || !strings.Contains(err.Error(), "virtio_net.ko") {
		t.Errorf("missing module: error %v", err)
	}
}
