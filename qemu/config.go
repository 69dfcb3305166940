// Package qemu runs dunix nodes in QEMU from Go: it builds QEMU command
// lines from a Config, decides between KVM and TCG (probing KVM once per
// kernel build), starts QEMU with the node's console (COM1) on pipes that
// the caller connects to a terminal or a log, scans the console line by line
// and decodes the kernel's exit status.
//
// The console protocol the kernel follows:
//
//   - `dunix: ready...` at the start of a line once the runtime is up and
//     all CPUs are online;
//   - `dunix: probe ok` when booted with `dunix.probe=1`, followed by a
//     power-off with status 0;
//   - `selftest: PASS|FAIL ...` lines and a `selftest: P passed, F failed`
//     summary when booted with `dunix.selftest=1`;
//   - `dunix: power-off status=N` just before the kernel writes N to the
//     isa-debug-exit port 0xf4, which makes QEMU exit with (N<<1)|1.
//
// A node's network cards (NIC) sit on one of two kinds of LAN. A socket
// LAN (LAN) is QEMU's `-netdev socket` multicast on the host's loopback:
// no privileges needed, but no virtio-net header, so the card offers no
// checksum or segmentation offloads. A tap LAN (TapLAN, Linux only, needs
// root) is a Linux bridge in a network namespace of its own with a tap
// device per card, handed to QEMU as an open file descriptor with
// virtio-net headers, so the card offers those offloads; the host's own
// network namespace is never touched.
//
// The package runs on the host; it never imports kernel code.
package qemu

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Machine types accepted in Config.Machine.
const (
	MachineQ35     = "q35"
	MachineMicroVM = "microvm"
)

// Accelerators accepted in Config.Accel.
const (
	AccelAuto = "auto" // KVM when it is usable and passes the probe, else TCG
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// Defaults used for zero Config fields.
const (
	DefaultBinary  = "qemu-system-x86_64"
	DefaultMachine = MachineQ35
	DefaultMemMiB  = 256
	DefaultCPUs    = 1
)

// EnvQEMU names the environment variable that overrides the QEMU binary
// when Config.QEMU is empty.
const EnvQEMU = "DUNIX_QEMU"

// MicroVMOptions are the properties passed with -M microvm. They give the
// kernel what it gets on q35 minus PCI and the 8259 PIC: the ISA COM1 UART,
// an MC146818 RTC, an i8254 PIT, one I/O APIC (GSIs 0-23; virtio-mmio
// transports, when used, sit on GSIs 16-23), local APICs and ACPI tables
// (hardware-reduced FADT, MADT, DSDT; the RSDP address is in the PVH start
// info). auto-kernel-cmdline=off keeps QEMU from appending virtio_mmio.device
// options to the kernel command line, so -append reaches the kernel as is.
// The ISA bus is always present, so isa-debug-exit works as on q35.
const MicroVMOptions = "acpi=on,pic=off,pit=on,rtc=on,isa-serial=on,ioapic2=off,pcie=off,auto-kernel-cmdline=off"

// Config describes one node.
type Config struct {
	// QEMU is the QEMU binary. Empty means $DUNIX_QEMU, or else
	// qemu-system-x86_64 from $PATH.
	QEMU string
	// Kernel is the kernel ELF file booted with -kernel (PVH entry).
	Kernel string
	// Initrd, when set, is loaded beside the kernel (-initrd): the root
	// file system archive.
	Initrd string
	// CDROM, when set instead of Kernel, is a bootable ISO image the
	// firmware boots (a GRUB image loading the kernel by multiboot2);
	// Cmdline is then unused (the image's boot loader has its own).
	CDROM string
	// Machine is MachineQ35 (the default when empty) or MachineMicroVM.
	Machine string
	// MemMiB is the guest memory in MiB (DefaultMemMiB when 0).
	MemMiB int
	// CPUs is the number of virtual CPUs (DefaultCPUs when 0).
	CPUs int
	// Accel is AccelAuto (the default when empty), AccelKVM or AccelTCG.
	// Args treats everything but AccelKVM as TCG; Start and ChooseAccel
	// resolve AccelAuto.
	Accel string
	// Cmdline is the kernel command line (-append).
	Cmdline string
	// NICs are the node's network cards, each a virtio-net device on a
	// socket LAN or a tap LAN (see NIC).
	NICs []NIC
	// ConsoleSocket, when set, is the path of a unix socket QEMU listens
	// on for the console (COM1) instead of its standard input and output;
	// one client at a time may connect, and the machine runs whether or
	// not one is connected. ConsoleLog, when set with it, is a file QEMU
	// appends all console output to.
	ConsoleSocket, ConsoleLog string
	// Extra holds more QEMU arguments, appended after the generated ones.
	Extra []string
}

// Binary returns the QEMU binary the configuration runs: Config.QEMU, else
// $DUNIX_QEMU, else DefaultBinary (looked up in $PATH when started).
func (c Config) Binary() string {
	if c.QEMU != "" {
		return c.QEMU
	}
	if b := os.Getenv(EnvQEMU); b != "" {
		return b
	}
	return DefaultBinary
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Machine == "" {
		c.Machine = DefaultMachine
	}
	if c.MemMiB == 0 {
		c.MemMiB = DefaultMemMiB
	}
	if c.CPUs == 0 {
		c.CPUs = DefaultCPUs
	}
	if c.Accel == "" {
		c.Accel = AccelAuto
	}
	return c
}

// Validate reports the first field of c (after defaults) that QEMU or the
// kernel would reject.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Kernel == "" && c.CDROM == "":
		return errors.New("qemu: no kernel file given")
	case c.Kernel != "" && c.CDROM != "":
		return errors.New("qemu: give a kernel file or a CD image, not both")
	case c.Machine != MachineQ35 && c.Machine != MachineMicroVM:
		return fmt.Errorf("qemu: unknown machine %q (want %s or %s)", c.Machine, MachineQ35, MachineMicroVM)
	case c.Accel != AccelAuto && c.Accel != AccelKVM && c.Accel != AccelTCG:
		return fmt.Errorf("qemu: unknown accelerator %q (want auto, kvm or tcg)", c.Accel)
	case c.MemMiB < MinMemMiB:
		return fmt.Errorf("qemu: %d MiB of memory is too little (at least %d MiB)", c.MemMiB, MinMemMiB)
	case c.CPUs < 1 || c.CPUs > MaxCPUs:
		return fmt.Errorf("qemu: %d CPUs is out of range (1..%d)", c.CPUs, MaxCPUs)
	case len(c.ConsoleSocket) > MaxSocketPath:
		return fmt.Errorf("qemu: console socket path %s is longer than %d bytes (a unix socket limit); use a shorter directory", c.ConsoleSocket, MaxSocketPath)
	case c.ConsoleLog != "" && c.ConsoleSocket == "":
		return errors.New("qemu: a console log needs a console socket")
	}
	for _, n := range c.NICs {
		if err := n.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Limits checked by Validate.
const (
	MinMemMiB = 16
	MaxCPUs   = 255
	// MaxSocketPath is the longest unix socket path (sun_path holds 108
	// bytes with the terminating NUL).
	MaxSocketPath = 107
)

// Args returns QEMU's arguments (without the binary name) for cfg, with
// defaults applied to its zero fields. It does no I/O: AccelAuto is treated
// as TCG here, so resolve it with ChooseAccel first.
func Args(cfg Config) []string {
	cfg = cfg.withDefaults()
	machine := cfg.Machine
	if machine == MachineMicroVM {
		machine += "," + MicroVMOptions
	}
	cpu, accel := "max", "tcg,thread=multi"
	if cfg.Accel == AccelKVM {
		cpu, accel = "host", "kvm"
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", machine,
		"-cpu", cpu,
		"-accel", accel,
		"-m", strconv.Itoa(cfg.MemMiB) + "M",
		"-smp", strconv.Itoa(cfg.CPUs),
	}
	args = append(args, consoleArgs(cfg)...)
	args = append(args, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04")
	args = append(args, nicArgs(cfg)...)
	if cfg.CDROM != "" {
		args = append(args, "-cdrom", cfg.CDROM, "-boot", "d")
	} else {
		args = append(args, "-kernel", cfg.Kernel, "-append", cfg.Cmdline)
		if cfg.Initrd != "" {
			args = append(args, "-initrd", cfg.Initrd)
		}
	}
	return append(args, cfg.Extra...)
}

// ParseMemSize parses a memory size the way QEMU's -m does and returns it
// in MiB: a number with an optional unit suffix K, M, G or T (also KB, KiB
// and so on, any case; no suffix means MiB). Fractions are allowed as long
// as the result is a whole number of MiB: "1.5G" is 1536.
func ParseMemSize(s string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	num, unit := t, ""
	if i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	var perMiB float64
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I") {
	case "K":
		perMiB = 1.0 / 1024
	case "", "M":
		perMiB = 1
	case "G":
		perMiB = 1024
	case "T":
		perMiB = 1024 * 1024
	default:
		return 0, fmt.Errorf("memory size %q: unknown unit %q (use M or G)", s, unit)
	}
	if unit == "B" || unit == "IB" {
		return 0, fmt.Errorf("memory size %q: unknown unit %q (use M or G)", s, unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("memory size %q: not a number followed by an optional unit (like 256M or 1G)", s)
	}
	mib := v * perMiB
	if mib != math.Trunc(mib) {
		return 0, fmt.Errorf("memory size %q is not a whole number of MiB", s)
	}
	if mib <= 0 || mib > 1<<30 {
		return 0, fmt.Errorf("memory size %q is out of range", s)
	}
	return int(mib), nil
}
