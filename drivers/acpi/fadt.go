package acpi

// FADT flags (ACPI 6.5 section 5.2.9, table 5.10).
const (
	FADTTmrValExt   = 1 << 8  // PM timer is 32 bits wide (else 24)
	FADTResetRegSup = 1 << 10 // RESET_REG / RESET_VALUE are valid
	FADTHWReduced   = 1 << 20 // hardware-reduced ACPI: no fixed hardware
	FADTLowPowerS0  = 1 << 21 // low power S0 idle capable
)

// FADT layout limits (ACPI 6.5 table 5.9).
const (
	fadtMinLen      = 44  // up to and including the DSDT field
	fadtBootArchEnd = 111 // IAPC_BOOT_ARCH is at 109, two bytes
	fadtResetEnd    = 129 // RESET_REG (116, 12 bytes) + RESET_VALUE
)

// IA-PC boot architecture flags (ACPI 6.5 section 5.2.9.3, table 5.11).
const (
	BootArchLegacyDevices     = 1 << 0 // LPC/ISA devices exist (e.g. serial, RTC)
	BootArch8042              = 1 << 1 // an 8042 keyboard controller exists
	BootArchVGANotPresent     = 1 << 2 // do not probe VGA
	BootArchMSINotSupported   = 1 << 3
	BootArchPCIeASPMControls  = 1 << 4
	BootArchCMOSRTCNotPresent = 1 << 5 // no CMOS RTC at ports 0x70/0x71
)

// FADT is the decoded fixed ACPI description table. A field whose bytes lie
// beyond the table's length (the short FADTs of ACPI 1.0 are 116 bytes, of
// ACPI 2.0-4.0 244, of 5.0 268) is zero. I/O port fields come from the
// X_ generic address structure when it is present, non-zero and in system
// I/O space, otherwise from the 32-bit field; 0 means absent (also when the
// block is not in I/O space).
type FADT struct {
	Found        bool
	Revision     uint8 // table header revision
	MinorVersion uint8 // FADT minor version (revision 5.1 and later)
	Length       uint32
	Flags        uint32 // FADTTmrValExt, FADTResetRegSup, FADTHWReduced, ...

	SCIInterrupt uint16 // SCI_INT: ISA IRQ on PCs (map it with MADT.ISAIRQ), else a GSI
	SMICommand   uint32 // SMI_CMD port; 0 when the system is already in ACPI mode
	ACPIEnable   uint8  // value to write to SMICommand to enter ACPI mode
	ACPIDisable  uint8

	PM1aEvent      uint16 // PM1a event block port
	PM1bEvent      uint16
	PM1EventLength uint8
	PM1aControl    uint16 // PM1a control block port (SLP_TYP/SLP_EN live here)
	PM1bControl    uint16
	PMTimer        uint16 // PM timer block port (3.579545 MHz counter)
	PMTimer32      bool   // FADTTmrValExt: the counter is 32 bits, else 24

	Century uint8 // CMOS RTC index of the century register, 0 if none

	// BootArch holds the IA-PC boot architecture flags; BootArchValid is
	// false when the table is too short or predates revision 2, where the
	// field was reserved. Use the methods, which supply PC defaults.
	BootArch      uint16
	BootArchValid bool

	Reset          GAS // reset register, valid when ResetSupported
	ResetValue     uint8
	ResetSupported bool // FADTResetRegSup set and the fields are present

	HWReduced    bool // FADTHWReduced: use SleepControl/SleepStatus, no PM1 blocks
	SleepControl GAS  // SLEEP_CONTROL_REG (ACPI 5.0+, hardware-reduced systems)
	SleepStatus  GAS  // SLEEP_STATUS_REG

	DSDT    uint64 // physical address of the DSDT (X_DSDT when non-zero)
	dsdtAlt uint64 // the other DSDT address, tried when DSDT is unusable
}

// LegacyDevices reports whether the platform has legacy (ISA/LPC) devices;
// true when BootArch is not valid.
//
//go:nosplit
func (f *FADT) LegacyDevices() bool {
	return !f.BootArchValid || f.BootArch&BootArchLegacyDevices != 0
}

// Has8042 reports whether an 8042 keyboard controller exists; true when
// BootArch is not valid.
//
//go:nosplit
func (f *FADT) Has8042() bool { return !f.BootArchValid || f.BootArch&BootArch8042 != 0 }

// VGANotPresent reports whether the firmware says not to probe VGA.
//
//go:nosplit
func (f *FADT) VGANotPresent() bool { return f.BootArchValid && f.BootArch&BootArchVGANotPresent != 0 }

// CMOSRTCNotPresent reports whether the firmware says there is no CMOS RTC.
//
//go:nosplit
func (f *FADT) CMOSRTCNotPresent() bool {
	return f.BootArchValid && f.BootArch&BootArchCMOSRTCNotPresent != 0
}

// decodeFADT decodes the checked table b into f, which must be zero. It
// returns false when b is too short to hold even the DSDT address.
//
//go:nosplit
func decodeFADT(b []byte, f *FADT) bool {
	if len(b) < fadtMinLen {
		return false
	}
	f.Found = true
	f.Revision = b[8]
	f.Length = uint32(len(b))
	f.MinorVersion = u8(b, 131)
	f.Flags = u32(b, 112)

	f.SCIInterrupt = u16(b, 46)
	f.SMICommand = u32(b, 48)
	f.ACPIEnable = u8(b, 52)
	f.ACPIDisable = u8(b, 53)

	f.PM1aEvent = port(b, 56, 148)
	f.PM1bEvent = port(b, 60, 160)
	f.PM1aControl = port(b, 64, 172)
	f.PM1bControl = port(b, 68, 184)
	f.PMTimer = port(b, 76, 208)
	f.PM1EventLength = u8(b, 88)
	f.PMTimer32 = f.Flags&FADTTmrValExt != 0

	f.Century = u8(b, 108)
	if f.Revision >= 2 && len(b) >= fadtBootArchEnd {
		f.BootArch = u16(b, 109)
		f.BootArchValid = true
	}
	if len(b) >= fadtResetEnd && f.Flags&FADTResetRegSup != 0 {
		gasAt(b, 116, &f.Reset)
		f.ResetValue = b[128]
		f.ResetSupported = true
	}
	f.HWReduced = f.Flags&FADTHWReduced != 0
	gasAt(b, 244, &f.SleepControl)
	gasAt(b, 256, &f.SleepStatus)

	dsdt32, xdsdt := uint64(u32(b, 40)), u64(b, 140)
	f.DSDT, f.dsdtAlt = dsdt32, 0
	if xdsdt != 0 {
		f.DSDT, f.dsdtAlt = xdsdt, dsdt32
	}
	return true
}

// port returns the I/O port of a register block given the offsets of its
// 32-bit field and of its X_ generic address structure, or 0 (see FADT).
//
//go:nosplit
func port(b []byte, legacy, x int) uint16 {
	var g GAS
	if gasAt(b, x, &g) && g.Address != 0 && g.SpaceID == SpaceSystemIO && g.Address <= 0xFFFF {
		return uint16(g.Address)
	}
	if v := u32(b, legacy); v <= 0xFFFF {
		return uint16(v)
	}
	return 0
}
