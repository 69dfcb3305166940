package linuxref

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"dunix/fs/cpio"
)

func TestBootArgs(t *testing.T) {
	got := BootArgs("/k/vmlinuz", "/k/initrd.cpio", 256, 2)
	want := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", "q35", "-cpu", "max", "-accel", "tcg,thread=multi",
		"-m", "256", "-smp", "2",
		"-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-kernel", "/k/vmlinuz", "-initrd", "/k/initrd.cpio",
		"-append", "console=ttyS0 panic=-1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("BootArgs =\n%q\nwant\n%q", got, want)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("DUNIX_CACHE", "/x/dunix-cache")
	t.Setenv("XDG_CACHE_HOME", "/x/xdg")
	t.Setenv("HOME", "/x/home")
	check := func(want string) {
		t.Helper()
		got, err := CacheDir()
		if err != nil || got != want {
			t.Fatalf("CacheDir() = %q, %v; want %q", got, err, want)
		}
	}
	check("/x/dunix-cache")
	t.Setenv("DUNIX_CACHE", "")
	check("/x/xdg/dunix")
	t.Setenv("XDG_CACHE_HOME", "")
	check("/x/home/.cache/dunix")
}

func TestControlParsing(t *testing.T) {
	control := "Package: linux-image-amd64\nVersion: 6.1.192-2\n" +
		"Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2), foo:any | linux-image-other\n" +
		"Description: x\n\nPackage: second\nVersion: 0\n"
	if v := controlField(control, "Version"); v != "6.1.192-2" {
		t.Errorf("Version = %q", v)
	}
	if v := controlField(control, "Missing"); v != "" {
		t.Errorf("Missing = %q", v)
	}
	deps := splitDepends(controlField(control, "Depends"))
	if want := []string{"linux-image-6.1.0-56-amd64", "foo", "linux-image-other"}; !reflect.DeepEqual(deps, want) {
		t.Errorf("splitDepends = %q, want %q", deps, want)
	}
}

func TestExtractFromTar(t *testing.T) {
	image := make([]byte, 0x400)
	copy(image[0x202:], "HdrS")
	build := func(files map[string][]byte, order []string) io.Reader {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, name := range order {
			typ := byte(tar.TypeReg)
			if strings.HasSuffix(name, "/") {
				typ = tar.TypeDir
			}
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Size: int64(len(files[name]))})
			tw.Write(files[name])
		}
		tw.Close()
		return &buf
	}
	dst := t.TempDir()
	files := map[string][]byte{"./boot/config-6.1": []byte("x"), "./boot/vmlinuz-6.1": image}
	name, err := extractFromTar(build(files, []string{"./", "./boot/", "./boot/config-6.1", "./boot/vmlinuz-6.1"}), dst)
	if err != nil || name != "vmlinuz-6.1" {
		t.Fatalf("extractFromTar = %q, %v", name, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, name)); !bytes.Equal(got, image) {
		t.Fatal("extracted image differs")
	}
	if _, err := extractFromTar(build(map[string][]byte{"./boot/vmlinuz-x": []byte("not a kernel")}, []string{"./boot/vmlinuz-x"}), dst); err == nil {
		t.Fatal("accepted a vmlinuz that is not a bzImage")
	}
	if _, err := extractFromTar(build(files, []string{"./boot/config-6.1"}), dst); err == nil {
		t.Fatal("no error for a package without vmlinuz")
	}
}

func TestRunErrorNamesCommand(t *testing.T) {
	_, err := run(context.Background(), "", "sh", "-c", "echo oops >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "sh -c") || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("error %v does not name the command and its stderr", err)
	}
}

// TestInitramfs builds the initramfs and reads it back with the cpio reader.
func TestInitramfs(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on $PATH")
	}
	cache := t.TempDir()
	p, err := Initramfs(context.Background(), cache)
	if err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Dir(p); dir != filepath.Join(cache, "linuxref") || !strings.HasPrefix(filepath.Base(p), "initramfs-") {
		t.Fatalf("initramfs at %s, not in %s/linuxref", p, cache)
	}
	archive, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(bytes.NewReader(archive))
	type ent struct {
		name       string
		mode       uint32
		major, min uint32
	}
	var got []ent
	var initBin []byte
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ent{h.Name, h.Mode, h.RDevMajor, h.RDevMinor})
		if h.Name == "init" {
			if initBin, err = io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []ent{
		{"dev", cpio.TypeDir | 0o755, 0, 0},
		{"dev/console", cpio.TypeChar | 0o600, 5, 1},
		{"proc", cpio.TypeDir | 0o755, 0, 0},
		{"sys", cpio.TypeDir | 0o755, 0, 0},
		{"init", cpio.TypeReg | 0o755, 0, 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %+v, want %+v", got, want)
	}

	f, err := elf.NewFile(bytes.NewReader(initBin))
	if err != nil {
		t.Fatalf("/init is not ELF: %v", err)
	}
	if f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Errorf("/init is %v %v, want a static x86-64 executable", f.Machine, f.Type)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("/init is dynamically linked (%v)", prog.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("/init is not stripped")
	}

	// A second call finds the cached image.
	before, _ := os.Stat(p)
	p2, err := Initramfs(context.Background(), cache)
	if err != nil || p2 != p {
		t.Fatalf("second Initramfs = %q, %v; want %q", p2, err, p)
	}
	if after, _ := os.Stat(p); !after.ModTime().Equal(before.ModTime()) {
		t.Error("second Initramfs rebuilt the cached image")
	}
}

// TestBootLinux boots Debian's kernel with the initramfs in QEMU (TCG) and
// checks that /init runs and powers the machine off. It downloads about
// 70 MB into the cache on first use.
func TestBootLinux(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Linux boot (downloads Debian's ~70 MB kernel package, boots it under TCG for ~10-30 s)")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 is not installed")
	}
	for _, tool := range []string{"apt-cache", "apt-get", "dpkg-deb", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	start := time.Now()
	vmlinuz, err := Kernel(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s (%v)", vmlinuz, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	initrd, err := Initramfs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("initramfs %s (%v)", initrd, time.Since(start).Round(time.Millisecond))

	res, err := boot(ctx, qemu, BootArgs(vmlinuz, initrd, 256, 2), 3*time.Minute)
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, res.console)
	}
	if res.ready == 0 {
		t.Fatalf("no %q line; console:\n%s", ReadyLine, res.console)
	}
	t.Logf("first console line after %v: %q", res.first.Round(time.Millisecond), res.firstLine)
	t.Logf("%q after %v", ReadyLine, res.ready.Round(time.Millisecond))
	t.Logf("QEMU exited after %v (%d console lines)", res.exit.Round(time.Millisecond), strings.Count(res.console, "\n"))
}

// bootResult holds the times (from starting QEMU) of a boot's milestones.
type bootResult struct {
	first, ready, exit time.Duration
	firstLine          string
	console            string
}

// boot runs QEMU with args until it exits on its own, timing the first
// console line, ReadyLine and the exit. It fails if QEMU exits with an error
// or does not exit within limit.
func boot(ctx context.Context, qemu string, args []string, limit time.Duration) (bootResult, error) {
	var res bootResult
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	var console strings.Builder
	br := bufio.NewReader(out)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			now := time.Since(start)
			console.WriteString(line)
			text := strings.TrimRight(line, "\r\n")
			if res.first == 0 && strings.TrimSpace(text) != "" {
				res.first, res.firstLine = now, text
			}
			if res.ready == 0 && strings.Contains(text, ReadyLine) {
				res.ready = now
			}
		}
		if err != nil {
			break
		}
	}
	err = cmd.Wait()
	res.exit = time.Since(start)
	res.console = console.String()
	if ctx.Err() != nil {
		return res, errors.New("QEMU did not exit within " + limit.String())
	}
	if err != nil {
		return res, errors.New("QEMU: " + err.Error() + ": " + strings.TrimSpace(stderr.String()))
	}
	return res, nil
}

// fakeApt puts fake apt-cache, apt-get and dpkg-deb first on $PATH. They
// log their arguments to the returned log file. Until "apt-get update" ran,
// apt-cache knows no packages if listsMissing is set. The "package" is a tar
// file holding boot/vmlinuz-6.1.0-99-amd64.
func fakeApt(t *testing.T, listsMissing bool) (logFile string) {
	t.Helper()
	bin := t.TempDir()
	state := t.TempDir()
	logFile = filepath.Join(state, "log")
	image := make([]byte, 0x400)
	copy(image[0x202:], "HdrS")
	var deb bytes.Buffer
	tw := tar.NewWriter(&deb)
	tw.WriteHeader(&tar.Header{Name: "./boot/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "./boot/vmlinuz-6.1.0-99-amd64", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(image))})
	tw.Write(image)
	tw.Close()
	if err := os.WriteFile(filepath.Join(state, "pkg.deb"), deb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if !listsMissing {
		os.WriteFile(filepath.Join(state, "updated"), nil, 0o644)
	}
	scripts := map[string]string{
		"apt-cache": `echo "apt-cache $*" >> "$S/log"
[ -e "$S/updated" ] || { echo "E: No packages found" >&2; exit 100; }
case "$3" in
linux-image-amd64) printf 'Package: linux-image-amd64\nVersion: 6.1.999-1\nDepends: linux-image-6.1.0-99-amd64 (= 6.1.999-1)\n\n' ;;
linux-image-6.1.0-99-amd64) printf 'Package: linux-image-6.1.0-99-amd64\nVersion: 6.1.999-1\n\n' ;;
*) echo "E: No packages found" >&2; exit 100 ;;
esac`,
		"apt-get": `echo "apt-get $*" >> "$S/log"
case "$1" in
update) touch "$S/updated" ;;
download) [ -e "$S/no-network" ] && { echo "E: Failed to fetch" >&2; exit 100; }
  cp "$S/pkg.deb" "./linux-image-6.1.0-99-amd64_6.1.999-1_amd64.deb" ;;
esac`,
		"dpkg-deb": `echo "dpkg-deb $*" >> "$S/log"
# Like dpkg-deb, leave the writing to a child that also holds stderr and
# has more to write than a pipe holds.
[ "$1" = --fsys-tarfile ] && { cat "$2"; sh -c 'exec yes'; }`,
	}
	for name, body := range scripts {
		text := "#!/bin/sh\nS=" + state + "\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logFile
}

// readLog returns the fake tools' log and empties it.
func readLog(t *testing.T, logFile string) string {
	t.Helper()
	b, _ := os.ReadFile(logFile)
	os.Remove(logFile)
	return string(b)
}

func TestKernelWithFakeApt(t *testing.T) {
	logFile := fakeApt(t, true)
	cache := t.TempDir()
	ctx := context.Background()
	p, err := Kernel(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, "linuxref", "linux-image-6.1.0-99-amd64_6.1.999-1", "vmlinuz-6.1.0-99-amd64")
	if p != want {
		t.Fatalf("Kernel = %s, want %s", p, want)
	}
	// The missing lists made Kernel run apt-get update once, then download.
	log := readLog(t, logFile)
	if strings.Count(log, "apt-get update") != 1 || !strings.Contains(log, "apt-get download linux-image-6.1.0-99-amd64=6.1.999-1") {
		t.Fatalf("unexpected commands:\n%s", log)
	}

	// Cached: no download, no extraction.
	if p2, err := Kernel(ctx, cache); err != nil || p2 != p {
		t.Fatalf("second Kernel = %q, %v", p2, err)
	}
	if log := readLog(t, logFile); strings.Contains(log, "apt-get") || strings.Contains(log, "dpkg-deb") {
		t.Fatalf("cached Kernel ran:\n%s", log)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "linuxref", ".download-*")); len(m) != 0 {
		t.Fatalf("temporary folders left: %q", m)
	}
}

func TestKernelDownloadError(t *testing.T) {
	logFile := fakeApt(t, false)
	os.WriteFile(filepath.Join(filepath.Dir(logFile), "no-network"), nil, 0o644)
	_, err := Kernel(context.Background(), t.TempDir())
	if err == nil {
		t.Fatal("no error")
	}
	// The error names the failing command and quotes its stderr; the
	// download was retried once after apt-get update.
	msg := err.Error()
	if !strings.Contains(msg, "apt-get download linux-image-6.1.0-99-amd64=6.1.999-1") || !strings.Contains(msg, "E: Failed to fetch") {
		t.Fatalf("error does not name the command and its stderr: %v", err)
	}
	if log := readLog(t, logFile); strings.Count(log, "apt-get download") != 2 || strings.Count(log, "apt-get update") != 1 {
		t.Fatalf("unexpected commands:\n%s", log)
	}
}
