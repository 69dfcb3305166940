package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dunix/qemu/qemutest"
)

// withKVM makes ChooseAccel see a usable (err == nil) or unusable KVM and
// gives it an empty cache.
func withKVM(t *testing.T, err error) {
	old := checkKVM
	checkKVM = func() error { return err }
	t.Cleanup(func() { checkKVM = old })
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

func TestChooseAccelForced(t *testing.T) {
	cfg := fakeConfig(t, "exit 1\n")
	withKVM(t, errors.New("/dev/kvm does not exist"))
	cfg.Accel = AccelTCG
	if a, why, err := ChooseAccel(context.Background(), cfg); a != AccelTCG || err != nil || why != "using TCG (requested)" {
		t.Errorf("tcg: %q, %q, %v", a, why, err)
	}
	cfg.Accel = AccelKVM
	if a, _, err := ChooseAccel(context.Background(), cfg); a != "" || err == nil || !strings.Contains(err.Error(), "/dev/kvm does not exist") {
		t.Errorf("kvm without /dev/kvm: %q, %v; want an error", a, err)
	}
	cfg.Accel = AccelAuto
	if a, why, err := ChooseAccel(context.Background(), cfg); a != AccelTCG || err != nil || why != "KVM is not usable (/dev/kvm does not exist); using TCG" {
		t.Errorf("auto without /dev/kvm: %q, %q, %v", a, why, err)
	}
	withKVM(t, nil)
	cfg.Accel = AccelKVM
	if a, why, err := ChooseAccel(context.Background(), cfg); a != AccelKVM || err != nil || why != "using KVM (requested)" {
		t.Errorf("kvm: %q, %q, %v", a, why, err)
	}
	cfg.Accel = "xen"
	if _, _, err := ChooseAccel(context.Background(), cfg); err == nil {
		t.Error("unknown accelerator accepted")
	}
}

func TestCheckKVMMissing(t *testing.T) {
	defer func(d string) { kvmDevice = d }(kvmDevice)
	kvmDevice = filepath.Join(t.TempDir(), "kvm")
	if err := CheckKVM(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("CheckKVM without the device = %v", err)
	}
	os.WriteFile(kvmDevice, nil, 0o644)
	if err := CheckKVM(); err == nil || !strings.Contains(err.Error(), "KVM_GET_API_VERSION") {
		t.Errorf("CheckKVM on a plain file = %v", err)
	}
}

// probeScript is a fake kernel that passes the probe under KVM and counts
// probe boots in count.
func probeScript(count string) string {
	return `
[kvm] append ` + count + ` probe
[kvm] argsfile ` + count + `.args
[dunix.probe=1] print dunix: probe ok
[dunix.probe=1] print dunix: power-off status=0
[dunix.probe=1] exit 1
print dunix: ready
print dunix: power-off status=0
exit 1
`
}

func probes(t *testing.T, count string) int {
	data, _ := os.ReadFile(count)
	return strings.Count(string(data), "probe\n")
}

func TestProbePassesAndIsCached(t *testing.T) {
	withKVM(t, nil)
	count := filepath.Join(t.TempDir(), "count")
	cfg := fakeConfig(t, probeScript(count))
	cfg.Accel, cfg.CPUs, cfg.MemMiB, cfg.Cmdline, cfg.Extra = AccelAuto, 4, 1024, "user=1", []string{"-S"}

	a, why, err := ChooseAccel(context.Background(), cfg)
	if a != AccelKVM || err != nil || !strings.HasPrefix(why, "using KVM (probe passed in ") {
		t.Fatalf("first: %q, %q, %v", a, why, err)
	}
	args, _ := os.ReadFile(count + ".args")
	for _, want := range []string{"\n-accel\nkvm\n", "\n-cpu\nhost\n", "\n-smp\n1\n", "\n-m\n128M\n", "\n-append\ndunix.probe=1\n", "\n-M\nq35\n"} {
		if !strings.Contains(string(args), want) {
			t.Errorf("probe arguments lack %q:\n%s", want, args)
		}
	}
	if strings.Contains(string(args), "-S") {
		t.Error("probe passed on Config.Extra")
	}

	a, why, err = ChooseAccel(context.Background(), cfg)
	if a != AccelKVM || err != nil || why != "using KVM (probe passed; cached)" || probes(t, count) != 1 {
		t.Errorf("second: %q, %q, %v after %d probes", a, why, err, probes(t, count))
	}

	// Start resolves auto the same way, and says why.
	cfg.Extra = nil
	res, err := run(t, cfg, Options{})
	if err != nil || res.Accel != AccelKVM || res.AccelWhy != why || res.Status != 0 || probes(t, count) != 2 {
		t.Errorf("Start(auto): %q, %q, status %d, %v, %d boots under KVM", res.Accel, res.AccelWhy, res.Status, err, probes(t, count))
	}

	// A new kernel build, another QEMU version or machine type probe again.
	os.WriteFile(cfg.Kernel, []byte(qemutest.ScriptMagic+probeScript(count)+"# rebuilt\n"), 0o644)
	ChooseAccel(context.Background(), cfg)
	t.Setenv(qemutest.EnvVersion, "QEMU emulator version 9.0.0")
	ChooseAccel(context.Background(), cfg)
	cfg.Machine = MachineMicroVM
	ChooseAccel(context.Background(), cfg)
	ChooseAccel(context.Background(), cfg)
	if n := probes(t, count); n != 2+3 {
		t.Errorf("%d probe boots, want 5", n)
	}
	files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "dunix", "kvm-probe", "*.json"))
	if len(files) != 4 {
		t.Errorf("cache holds %q", files)
	}
}

func TestProbeFailures(t *testing.T) {
	defer func(d time.Duration) { probeTimeout = d }(probeTimeout)
	probeTimeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name, script, reason string
	}{
		{"hang", "[kvm] hang\n", "no output in 500ms"},
		{"silent", "[kvm] print booting\n[kvm] hang\n", `no "dunix: probe ok" in 500ms`},
		{"no power-off", "[kvm] print dunix: probe ok\n[kvm] hang\n", `printed "dunix: probe ok" but did not power off in 500ms`},
		{"crash", "[kvm] stderr qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\n[kvm] exit 134\n",
			"QEMU failed, exit code 134: error: failed to set MSR 0x10a to 0x69"},
		{"triple fault", "[kvm] print dunix: probe ok\n[kvm] exit 0\n", "no exit status; QEMU exited with code 0)"},
		{"status", "[kvm] print dunix: probe ok\n[kvm] print dunix: power-off status=3\n[kvm] exit 7\n", "powered off with status 3)"},
		{"no probe line", "[kvm] print dunix: power-off status=0\n[kvm] exit 1\n", `no "dunix: probe ok"; powered off with status 0)`},
		{"emulation failure", "[kvm] stderr KVM internal error. Suberror: 1\n[kvm] print x\n[kvm] hang\n",
			`no "dunix: probe ok" in 500ms; QEMU said: KVM internal error. Suberror: 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withKVM(t, nil)
			cfg := fakeConfig(t, tc.script)
			cfg.Accel = AccelAuto
			a, why, err := ChooseAccel(context.Background(), cfg)
			want := "KVM is present but failed the probe (" + tc.reason
			if a != AccelTCG || err != nil || !strings.HasPrefix(why, want) || !strings.HasSuffix(why, "); using TCG") {
				t.Errorf("got %q, %q, %v; want tcg, %q...", a, why, err, want)
			}
			a, why, err = ChooseAccel(context.Background(), cfg)
			if a != AccelTCG || err != nil || !strings.Contains(why, "; cached, remove ") {
				t.Errorf("cached: %q, %q, %v", a, why, err)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	withKVM(t, nil)
	cfg := fakeConfig(t, "[kvm] hang\n")
	cfg.Accel = AccelAuto
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if a, _, err := ChooseAccel(ctx, cfg); err == nil {
		t.Errorf("cancelled probe chose %q", a)
	}
	files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "dunix", "kvm-probe", "*"))
	if len(files) != 0 {
		t.Errorf("cancelled probe cached %q", files)
	}
}
