package qemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dunix/qemu/qemutest"
)

// realQEMU skips the test unless qemu-system-x86_64 is installed.
func realQEMU(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath(DefaultBinary)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s): skipping the test that runs the real QEMU", DefaultBinary, DebianPackage)
	}
	return path
}

var machines = []string{MachineQ35, MachineMicroVM}

// TestRealQEMUAcceptsArgs starts the real QEMU paused (-S) with Args for
// each machine type and checks that it stays up without a complaint.
func TestRealQEMUAcceptsArgs(t *testing.T) {
	bin := realQEMU(t)
	kernel := qemutest.PVHKernelFile(t, "hello\n", 0)
	for _, machine := range machines {
		t.Run(machine, func(t *testing.T) {
			cfg := Config{QEMU: bin, Kernel: kernel, Machine: machine, Accel: AccelTCG, CPUs: 2, MemMiB: 256, Extra: []string{"-S"}}
			m, err := Start(context.Background(), cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-m.Done():
				res, err := m.Wait()
				t.Fatalf("QEMU exited (%v): %s\n%q", err, res.Stderr, res.Args)
			case <-time.After(time.Second):
			}
			m.Kill()
			res, err := m.Wait()
			if !errors.Is(err, ErrKilled) || strings.TrimSpace(res.Stderr) != "" && !strings.Contains(res.Stderr, "terminating on signal") {
				t.Errorf("after Kill: %v, stderr %q", err, res.Stderr)
			}
		})
	}
}

// TestRealQEMUBootsTinyKernel boots qemutest.PVHKernel under TCG on both
// machine types: the command line arrives intact, COM1 and isa-debug-exit
// work, and the PVH start info points at ACPI tables.
func TestRealQEMUBootsTinyKernel(t *testing.T) {
	bin := realQEMU(t)
	for _, machine := range machines {
		for _, tc := range []struct {
			name     string
			text     string
			status   uint32
			want     int
			src      StatusSource
			exitCode int
		}{
			{"line", "dunix: ready (tiny)\ndunix: power-off status=5\n", 5, 5, StatusFromLine, 11},
			{"line-255", "dunix: power-off status=255\n", 255, 255, StatusFromLine, 255},
			{"exit-code", "no power-off line\n", 6, 6, StatusFromExit, 13},
			{"exit-code-0", "", 0, 0, StatusFromExit, 1},
		} {
			t.Run(machine+"/"+tc.name, func(t *testing.T) {
				cfg := Config{
					QEMU: bin, Machine: machine, Accel: AccelTCG, CPUs: 2,
					Kernel:  qemutest.PVHKernelFile(t, tc.text, tc.status),
					Cmdline: `dunix.selftest=1 a="b c"  x`,
				}
				var out bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				m, err := Start(ctx, cfg, Options{Stdout: &out})
				if err != nil {
					t.Fatal(err)
				}
				res, err := m.Wait()
				if err != nil || res.Status != tc.want || res.Source != tc.src || res.ExitCode != tc.exitCode {
					t.Errorf("status %d from %v, exit code %d, err %v; want %d from %v, %d",
						res.Status, res.Source, res.ExitCode, err, tc.want, tc.src, tc.exitCode)
				}
				want := "tiny: cmdline=" + cfg.Cmdline + "\ntiny: rsdp=yes\n" + tc.text
				if out.String() != want {
					t.Errorf("console %q, want %q", out.String(), want)
				}
				if res.Stderr != "" {
					t.Errorf("QEMU's stderr: %q", res.Stderr)
				}
				if (res.Ready != 0) != strings.Contains(tc.text, "ready") || res.FirstByte == 0 || res.Exit < res.FirstLine {
					t.Errorf("timings: first byte %v, first line %v, ready %v, exit %v", res.FirstByte, res.FirstLine, res.Ready, res.Exit)
				}
				t.Logf("%s: first byte %v, exit %v", machine, res.FirstByte, res.Exit)
			})
		}
	}
}

// TestRealQEMUTripleFault checks that a triple fault under -no-reboot
// stops QEMU with code 0, which decodes to "no status".
func TestRealQEMUTripleFault(t *testing.T) {
	bin := realQEMU(t)
	kernel := filepath.Join(t.TempDir(), "crash.elf")
	os.WriteFile(kernel, qemutest.PVHTripleFault("crashing\n"), 0o644)
	for _, machine := range machines {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, err := Start(ctx, Config{QEMU: bin, Machine: machine, Accel: AccelTCG, Kernel: kernel}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Wait()
		if err != nil || res.Source != StatusMissing || res.ExitCode != 0 || res.ExitStatus() != NoStatus {
			t.Errorf("%s: %s, err %v, stderr %q", machine, res.Explain(), err, res.Stderr)
		}
	}
}

// TestRealQEMUChooseAccel runs the KVM check and probe for real. Where
// KVM works it must pick KVM; elsewhere TCG, with a reason.
func TestRealQEMUChooseAccel(t *testing.T) {
	bin := realQEMU(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	kernel := qemutest.PVHKernelFile(t, "dunix: probe ok\ndunix: power-off status=0\n", 0)
	a, why, err := ChooseAccel(context.Background(), Config{QEMU: bin, Kernel: kernel, Accel: AccelAuto})
	if err != nil || (a != AccelKVM && a != AccelTCG) || why == "" {
		t.Fatalf("ChooseAccel = %q, %q, %v", a, why, err)
	}
	t.Logf("CheckKVM: %v; ChooseAccel: %s, %s", CheckKVM(), a, why)
	if a == AccelKVM {
		// Then the kernel must also boot under KVM.
		res, err := run(t, Config{QEMU: bin, Kernel: kernel, Accel: a}, Options{})
		if err != nil || res.Status != 0 || !res.ProbeOK {
			t.Errorf("boot under KVM: %s, %v", res.Explain(), err)
		}
	}
}
