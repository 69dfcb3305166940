package rootfs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"dunix/fs/cpio"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree", "sub", "f"), []byte("data"), 0o640)
	os.Symlink("sub/f", filepath.Join(dir, "tree", "link"))
	os.WriteFile(filepath.Join(dir, "prog"), []byte("\x7fELF"), 0o755)
	var buf bytes.Buffer
	err := Write(&buf, Spec{
		Adds: []Add{{filepath.Join(dir, "prog"), "/usr/local/bin/prog"}, {filepath.Join(dir, "tree"), "/opt/tree"}},
		Run:  []string{"/usr/local/bin/prog", "a b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*cpio.Header{}
	data := map[string]string{}
	r := cpio.NewReader(&buf)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		got[h.Name], data[h.Name] = h, string(b)
	}
	for _, want := range []string{"bin", "tmp", "usr/local", "usr/local/bin", "opt", "opt/tree", "opt/tree/sub"} {
		if h := got[want]; h == nil || h.Type() != cpio.TypeDir {
			t.Errorf("directory %s missing", want)
		}
	}
	if data["usr/local/bin/prog"] != "\x7fELF" || got["usr/local/bin/prog"].Perm() != 0o755 {
		t.Error("prog wrong")
	}
	if data["opt/tree/sub/f"] != "data" || got["opt/tree/sub/f"].Perm() != 0o640 {
		t.Error("tree file wrong")
	}
	if h := got["opt/tree/link"]; h == nil || h.Linkname != "sub/f" {
		t.Error("symlink wrong")
	}
	if data["etc/dunix/run"] != "/usr/local/bin/prog\x00a b" {
		t.Errorf("run file %q", data["etc/dunix/run"])
	}
	if got["tmp"].Perm() != 0o1777&0o777 && got["tmp"].Perm() != 0o1777 {
		t.Errorf("tmp perm %o", got["tmp"].Perm())
	}
}

func TestParseAdd(t *testing.T) {
	if a, err := ParseAdd("/usr/bin/busybox:/bin/busybox"); err != nil || a.Guest != "/bin/busybox" {
		t.Fatal(a, err)
	}
	for _, bad := range []string{"x", ":/a", "a:", "a:rel"} {
		if _, err := ParseAdd(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLinksDoNotReplaceFiles(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "ls")
	if err := os.WriteFile(host, []byte("real ls"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := Write(&buf, Spec{Adds: []Add{{host, "/bin/ls"}},
		Links: []Link{{"/bin/ls", "/bin/busybox"}, {"/usr/bin/wc", "/bin/busybox"}, {"/bin", "/bin/busybox"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(&buf)
	got := map[string]string{}
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Type() == cpio.TypeSymlink {
			got[h.Name] = h.Linkname
		} else if h.Type() == cpio.TypeReg {
			got[h.Name] = "file"
		}
	}
	if got["bin/ls"] != "file" {
		t.Errorf("bin/ls is %q, want the added file", got["bin/ls"])
	}
	if got["usr/bin/wc"] != "/bin/busybox" {
		t.Errorf("usr/bin/wc is %q, want a link to /bin/busybox", got["usr/bin/wc"])
	}
}

func TestBusyboxLinks(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox not installed: make deps installs Debian's busybox-static")
	}
	links, err := BusyboxLinks(bb, "/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range links {
		if l.Path == "/usr/bin/wc" || l.Path == "/bin/wc" {
			found = l.Target == "/bin/busybox"
		}
	}
	if !found {
		t.Fatalf("no wc link among %d links", len(links))
	}
}
