package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Settings of the KVM check and probe; tests change them.
var (
	kvmDevice    = "/dev/kvm"
	checkKVM     = CheckKVM
	probeTimeout = 10 * time.Second
)

// ProbeMemMiB is the guest memory of the KVM probe boot.
const ProbeMemMiB = 128

// kvmAPIVersion is KVM_GET_API_VERSION's answer on every Linux since 2.6.22.
const kvmAPIVersion = 12

// CheckKVM returns nil when /dev/kvm can be opened read-write and speaks
// the stable KVM API, and otherwise an error saying why not.
func CheckKVM() error {
	f, err := os.OpenFile(kvmDevice, os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s does not exist", kvmDevice)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("no read-write access to %s (join the kvm group)", kvmDevice)
	case err != nil:
		return err
	}
	defer f.Close()
	v, err := kvmVersion(f)
	if err != nil {
		return fmt.Errorf("%s: KVM_GET_API_VERSION: %v", kvmDevice, err)
	}
	if v != kvmAPIVersion {
		return fmt.Errorf("%s: KVM API version %d, want %d", kvmDevice, v, kvmAPIVersion)
	}
	return nil
}

// ChooseAccel resolves cfg.Accel to AccelKVM or AccelTCG and says why in a
// line fit for the user, e.g. "using KVM (probe passed)" or "KVM is present
// but failed the probe (no output in 10s); using TCG".
//
// AccelTCG is taken as is. AccelKVM is taken when CheckKVM passes and is an
// error otherwise. AccelAuto (or "") picks KVM only when CheckKVM passes and
// a probe boot of cfg's kernel under KVM (ProbeCmdline, 1 CPU, ProbeMemMiB,
// 10 s) prints ProbeOKLine and powers off with status 0. The probe's verdict
// is cached in $XDG_CACHE_HOME/dunix/kvm-probe (~/.cache/dunix/kvm-probe),
// keyed by the kernel file's SHA-256, the QEMU version and the machine type,
// so a kernel build pays for it once. Errors are returned for a bad
// configuration, a missing kernel or QEMU, or when ctx ends.
func ChooseAccel(ctx context.Context, cfg Config) (accel, why string, err error) {
	cfg = cfg.withDefaults()
	switch cfg.Accel {
	case AccelTCG:
		return AccelTCG, "using TCG (requested)", nil
	case AccelKVM:
		if err := checkKVM(); err != nil {
			return "", "", fmt.Errorf("qemu: KVM was requested but is not usable: %v; use TCG instead", err)
		}
		return AccelKVM, "using KVM (requested)", nil
	case AccelAuto:
	default:
		return "", "", cfg.Validate()
	}
	if err := cfg.Validate(); err != nil {
		return "", "", err
	}
	if err := checkKVM(); err != nil {
		return AccelTCG, fmt.Sprintf("KVM is not usable (%v); using TCG", err), nil
	}
	if cfg.Kernel == "" {
		return AccelTCG, "no kernel file to probe KVM with (booting a CD image); using TCG", nil
	}

	key, err := probeKey(ctx, cfg)
	if err != nil {
		return "", "", err
	}
	dir, _ := probeCacheDir()
	if v, ok := loadVerdict(dir, key); ok {
		if v.KVM {
			return AccelKVM, "using KVM (probe passed; cached)", nil
		}
		return AccelTCG, fmt.Sprintf("KVM is present but failed the probe (%s; cached, remove %s to probe again); using TCG",
			v.Reason, dir), nil
	}
	v, err := probeKVM(ctx, cfg)
	if err != nil {
		return "", "", err
	}
	v.verdictKey = key
	saveVerdict(dir, v) // a cache we cannot write costs a probe next time
	if v.KVM {
		return AccelKVM, fmt.Sprintf("using KVM (probe passed in %s)", v.Took), nil
	}
	return AccelTCG, fmt.Sprintf("KVM is present but failed the probe (%s); using TCG", v.Reason), nil
}

// verdictKey identifies what a probe verdict is valid for.
type verdictKey struct {
	KernelSHA256 string `json:"kernel_sha256"`
	QEMUVersion  string `json:"qemu_version"`
	Machine      string `json:"machine"`
}

// file returns the cache file name for k.
func (k verdictKey) file() string {
	h := sha256.Sum256([]byte(k.KernelSHA256 + "\x00" + k.QEMUVersion + "\x00" + k.Machine))
	return hex.EncodeToString(h[:16]) + ".json"
}

// verdict is a cached probe result.
type verdict struct {
	verdictKey
	KVM      bool      `json:"kvm"`
	Reason   string    `json:"reason,omitempty"`
	Took     string    `json:"took"`
	ProbedAt time.Time `json:"probed_at"`
}

// probeKey hashes the kernel and asks QEMU for its version.
func probeKey(ctx context.Context, cfg Config) (verdictKey, error) {
	f, err := os.Open(cfg.Kernel)
	if err != nil {
		return verdictKey{}, fmt.Errorf("qemu: kernel: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return verdictKey{}, fmt.Errorf("qemu: kernel: %w", err)
	}
	version, err := Version(ctx, cfg)
	if err != nil {
		return verdictKey{}, err
	}
	return verdictKey{
		KernelSHA256: hex.EncodeToString(h.Sum(nil)),
		QEMUVersion:  version,
		Machine:      cfg.Machine,
	}, nil
}

// probeCacheDir returns the directory of the probe verdicts.
func probeCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "dunix", "kvm-probe"), nil
}

// loadVerdict returns the cached verdict for key, if any.
func loadVerdict(dir string, key verdictKey) (verdict, bool) {
	if dir == "" {
		return verdict{}, false
	}
	data, err := os.ReadFile(filepath.Join(dir, key.file()))
	if err != nil {
		return verdict{}, false
	}
	var v verdict
	if json.Unmarshal(data, &v) != nil || v.verdictKey != key {
		return verdict{}, false
	}
	return v, true
}

// saveVerdict stores v atomically.
func saveVerdict(dir string, v verdict) error {
	if dir == "" {
		return errors.New("no cache directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, v.file()))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// errProbeTimeout is the cause of a probe's context when it runs out.
var errProbeTimeout = errors.New("KVM probe timed out")

// probeKVM boots cfg's kernel under KVM with ProbeCmdline and judges it.
// It returns an error only when the probe could not be run or ctx ended.
func probeKVM(ctx context.Context, cfg Config) (verdict, error) {
	pcfg := Config{
		QEMU:    cfg.QEMU,
		Kernel:  cfg.Kernel,
		Machine: cfg.Machine,
		MemMiB:  ProbeMemMiB,
		CPUs:    1,
		Accel:   AccelKVM,
		Cmdline: ProbeCmdline,
	}
	pctx, cancel := context.WithTimeoutCause(ctx, probeTimeout, errProbeTimeout)
	defer cancel()
	start := time.Now()
	m, err := Start(pctx, pcfg, Options{})
	if err != nil {
		return verdict{}, err
	}
	res, werr := m.Wait()
	if ctx.Err() != nil {
		return verdict{}, fmt.Errorf("qemu: KVM probe: %w", context.Cause(ctx))
	}
	v := verdict{Took: time.Since(start).Round(time.Millisecond).String(), ProbedAt: time.Now().UTC()}
	v.KVM = werr == nil && res.ProbeOK && res.Source != StatusMissing && res.Status == 0
	if !v.KVM {
		v.Reason = probeFailure(res, werr)
	}
	return v, nil
}

// probeFailure says in a few words why a probe boot failed.
func probeFailure(res Result, err error) string {
	var qe *QEMUError
	var reason string
	switch {
	case errors.Is(err, errProbeTimeout) && res.FirstByte == 0:
		reason = fmt.Sprintf("no output in %s", probeTimeout)
	case errors.Is(err, errProbeTimeout) && !res.ProbeOK:
		reason = fmt.Sprintf("no %q in %s", ProbeOKLine, probeTimeout)
	case errors.Is(err, errProbeTimeout):
		reason = fmt.Sprintf("printed %q but did not power off in %s", ProbeOKLine, probeTimeout)
	case errors.As(err, &qe):
		how := fmt.Sprintf("exit code %d", qe.ExitCode)
		if qe.Signal != 0 {
			how = "killed by " + signalName(qe.Signal)
		}
		return fmt.Sprintf("QEMU failed, %s: %s", how, FirstLine(qe.Stderr))
	case err != nil:
		reason = err.Error()
	default:
		switch {
		case res.Signal != 0:
			reason = "no exit status; QEMU was killed by " + signalName(res.Signal)
		case res.Source == StatusMissing:
			reason = fmt.Sprintf("no exit status; QEMU exited with code %d", res.ExitCode)
		default:
			reason = fmt.Sprintf("powered off with status %d", res.Status)
		}
		if !res.ProbeOK {
			reason = fmt.Sprintf("no %q; %s", ProbeOKLine, reason)
		}
	}
	if l := FirstLine(res.Stderr); l != "" {
		reason += "; QEMU said: " + l
	}
	return reason
}
