package qemu

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dunix/qemu/qemutest"
)

func TestMain(m *testing.M) {
	qemutest.Main()
	if os.Getenv(envHelper) != "" {
		helperMain()
	}
	os.Exit(m.Run())
}

func TestArgsQ35TCG(t *testing.T) {
	got := Args(Config{Kernel: "k.elf", Machine: MachineQ35, MemMiB: 512, CPUs: 4, Accel: AccelTCG, Cmdline: "a=1 b"})
	want := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", "q35",
		"-cpu", "max",
		"-accel", "tcg,thread=multi",
		"-m", "512M",
		"-smp", "4",
		"-chardev", "stdio,id=con0,signal=off",
		"-serial", "chardev:con0",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-kernel", "k.elf",
		"-append", "a=1 b",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
}

func TestArgsMicroVMKVM(t *testing.T) {
	got := Args(Config{Kernel: "/k", Machine: MachineMicroVM, MemMiB: 128, CPUs: 1, Accel: AccelKVM, Extra: []string{"-S"}})
	want := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", "microvm,acpi=on,pic=off,pit=on,rtc=on,isa-serial=on,ioapic2=off,pcie=off,auto-kernel-cmdline=off",
		"-cpu", "host",
		"-accel", "kvm",
		"-m", "128M",
		"-smp", "1",
		"-chardev", "stdio,id=con0,signal=off",
		"-serial", "chardev:con0",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-kernel", "/k",
		"-append", "",
		"-S",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
}

func TestArgsDefaults(t *testing.T) {
	got := strings.Join(Args(Config{Kernel: "k"}), " ")
	for _, want := range []string{"-M q35 ", "-cpu max -accel tcg,thread=multi ", "-m 256M ", "-smp 1 "} {
		if !strings.Contains(got, want) {
			t.Errorf("Args(defaults) = %s; missing %q", got, want)
		}
	}
	// auto is not resolved by Args: it means TCG there.
	if a := strings.Join(Args(Config{Kernel: "k", Accel: AccelAuto}), " "); a != got {
		t.Errorf("Args(auto) = %s, want %s", a, got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Kernel: "k"}, ""},
		{Config{Kernel: "k", Machine: "microvm", Accel: "kvm", CPUs: 8, MemMiB: 4096}, ""},
		{Config{}, "no kernel"},
		{Config{Kernel: "k", Machine: "pc"}, "unknown machine"},
		{Config{Kernel: "k", Accel: "hvf"}, "unknown accelerator"},
		{Config{Kernel: "k", MemMiB: 8}, "too little"},
		{Config{Kernel: "k", CPUs: -1}, "out of range"},
		{Config{Kernel: "k", CPUs: 1000}, "out of range"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestParseMemSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // 0: error
	}{
		{"256M", 256}, {"256m", 256}, {"256", 256}, {"256MB", 256}, {"256MiB", 256},
		{"1G", 1024}, {"1g", 1024}, {"2GiB", 2048}, {"1.5G", 1536}, {" 64M ", 64},
		{"1T", 1 << 20}, {"1048576K", 1024}, {"131072k", 128},
		{"", 0}, {"M", 0}, {"abc", 0}, {"-1G", 0}, {"0", 0}, {"1.5M", 0}, {"512K", 0},
		{"1X", 0}, {"10B", 0}, {"1.2.3G", 0}, {"1GG", 0}, {"9999999T", 0},
	} {
		got, err := ParseMemSize(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("ParseMemSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseMemSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestBinary(t *testing.T) {
	t.Setenv(EnvQEMU, "")
	if b := (Config{}).Binary(); b != DefaultBinary {
		t.Errorf("Binary() = %q", b)
	}
	t.Setenv(EnvQEMU, "/opt/q")
	if b := (Config{}).Binary(); b != "/opt/q" {
		t.Errorf("Binary() with $%s = %q", EnvQEMU, b)
	}
	if b := (Config{QEMU: "/x"}).Binary(); b != "/x" {
		t.Errorf("Binary() with Config.QEMU = %q", b)
	}
}

func TestCheckInstalled(t *testing.T) {
	t.Setenv(EnvQEMU, "")
	t.Setenv("PATH", t.TempDir())
	err := CheckInstalled()
	if err == nil || !strings.Contains(err.Error(), "apt install qemu-system-x86") {
		t.Errorf("CheckInstalled() without QEMU = %v; want the Debian package named", err)
	}
	fakeDir := t.TempDir()
	fake := filepath.Join(fakeDir, DefaultBinary)
	os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("PATH", fakeDir)
	if err := CheckInstalled(); err != nil {
		t.Errorf("CheckInstalled() with QEMU in $PATH = %v", err)
	}
	t.Setenv(EnvQEMU, "/nonexistent/qemu")
	if err := CheckInstalled(); err == nil || !strings.Contains(err.Error(), EnvQEMU) {
		t.Errorf("CheckInstalled() with a bad $%s = %v", EnvQEMU, err)
	}
}

func TestArgsCDROM(t *testing.T) {
	args := Args(Config{CDROM: "/tmp/x.iso"})
	joined := strings.Join(args, " ")
	if !strings.Contains(joined, "-cdrom /tmp/x.iso -boot d") || strings.Contains(joined, "-kernel") {
		t.Fatalf("args: %s", joined)
	}
	if err := (Config{CDROM: "a", Kernel: "b"}).Validate(); err == nil {
		t.Fatal("kernel and CD both accepted")
	}
	if err := (Config{CDROM: "a"}).Validate(); err != nil {
		t.Fatal(err)
	}
}
