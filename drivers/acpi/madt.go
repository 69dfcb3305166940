package acpi

// MADT flag and entry constants (ACPI 6.5 section 5.2.12).
const (
	// MADTPCATCompat is the MADT flag saying the system also has dual
	// 8259 PICs, which must be masked before the I/O APIC is used.
	MADTPCATCompat = 1 << 0

	// CPUEnabled marks a processor usable now.
	CPUEnabled = 1 << 0
	// CPUOnlineCapable marks a disabled processor that can be brought
	// online later. Parse clears it for MADT revisions < 5, where the bit
	// was reserved.
	CPUOnlineCapable = 1 << 1

	// AllProcessors is the NMI UID meaning "every processor" (0xFF in a
	// type 4 entry, 0xFFFFFFFF in a type 0xA entry).
	AllProcessors = 0xFFFFFFFF

	// Polarity and trigger fields of the MPS INTI flags used by interrupt
	// source overrides and NMI entries. "Conforms" means the bus default
	// (for ISA: active high, edge triggered).
	PolarityMask     = 0x3
	PolarityConforms = 0x0
	PolarityHigh     = 0x1
	PolarityLow      = 0x3
	TriggerMask      = 0xC
	TriggerConforms  = 0x0
	TriggerEdge      = 0x4
	TriggerLevel     = 0xC
)

// MADT entry types decoded by this package.
const (
	madtLAPIC         = 0x0
	madtIOAPIC        = 0x1
	madtOverride      = 0x2
	madtLAPICNMI      = 0x4
	madtLAPICOverride = 0x5
	madtX2APIC        = 0x9
	madtX2APICNMI     = 0xA

	madtEntries = 44 // offset of the first interrupt controller structure
)

// CPU is one processor from a local APIC (type 0) or local x2APIC (type 9)
// entry.
type CPU struct {
	UID    uint32 // ACPI processor UID
	APICID uint32 // local APIC ID (x2APIC ID for type 9 entries)
	Flags  uint32 // CPUEnabled, CPUOnlineCapable
	X2APIC bool   // described by a type 9 entry
}

// Enabled reports whether the processor is usable now.
//
//go:nosplit
func (c CPU) Enabled() bool { return c.Flags&CPUEnabled != 0 }

// OnlineCapable reports whether the processor is disabled but may be
// enabled later (MADT revision >= 5 only).
//
//go:nosplit
func (c CPU) OnlineCapable() bool { return c.Flags&CPUOnlineCapable != 0 }

// IOAPIC is one I/O APIC (type 1 entry).
type IOAPIC struct {
	ID      uint8
	Address uint32 // physical MMIO base
	GSIBase uint32 // first global system interrupt it handles
}

// Override is one interrupt source override (type 2 entry): bus-relative
// interrupt Source (an ISA IRQ for bus 0) is delivered on GSI.
type Override struct {
	Bus    uint8
	Source uint8
	GSI    uint32
	Flags  uint16 // Polarity* | Trigger*
}

// ActiveLow reports whether the override says active low.
//
//go:nosplit
func (o Override) ActiveLow() bool { return o.Flags&PolarityMask == PolarityLow }

// LevelTriggered reports whether the override says level triggered.
//
//go:nosplit
func (o Override) LevelTriggered() bool { return o.Flags&TriggerMask == TriggerLevel }

// NMI is one local APIC NMI entry (type 4 or type 0xA): the LINT pin of the
// processor(s) with the given UID is wired to NMI.
type NMI struct {
	UID   uint32 // ACPI processor UID, or AllProcessors
	Flags uint16 // Polarity* | Trigger*
	LINT  uint8  // 0 for LINT0, 1 for LINT1
}

// MADT is the decoded multiple APIC description table.
//
// CPUs holds the processors that are enabled or online-capable, in table
// order, without duplicates: an entry whose APIC ID is already recorded (a
// firmware listing the same processor as both type 0 and type 9), an entry
// with the invalid ID 0xFF (type 0) or 0xFFFFFFFF (type 9), and an entry
// neither enabled nor online-capable are counted in IgnoredCPUs. Each
// Dropped field counts valid entries that did not fit in their array.
type MADT struct {
	Found     bool
	Revision  uint8
	Flags     uint32 // MADTPCATCompat
	LAPICBase uint64 // local APIC physical base (type 5 override applied)

	CPUs        [MaxCPUs]CPU
	NumCPUs     int
	DroppedCPUs int
	IgnoredCPUs int

	IOAPICs        [MaxIOAPICs]IOAPIC
	NumIOAPICs     int
	DroppedIOAPICs int

	Overrides        [MaxOverrides]Override
	NumOverrides     int
	DroppedOverrides int

	NMIs        [MaxNMIs]NMI
	NumNMIs     int
	DroppedNMIs int
}

// PCATCompat reports whether the system has dual 8259 PICs as well.
//
//go:nosplit
func (m *MADT) PCATCompat() bool { return m.Flags&MADTPCATCompat != 0 }

// ISAIRQ returns the GSI and MPS INTI flags for ISA IRQ irq: those of the
// bus 0 interrupt source override for it, or the identity mapping with
// flags 0 (bus default: active high, edge) when there is none.
//
//go:nosplit
func (m *MADT) ISAIRQ(irq uint8) (gsi uint32, flags uint16) {
	for i := 0; i < m.NumOverrides && i < MaxOverrides; i++ {
		o := &m.Overrides[i]
		if o.Bus == 0 && o.Source == irq {
			return o.GSI, o.Flags
		}
	}
	return uint32(irq), 0
}

// decodeMADT decodes the checked table b into m, which must be zero. It
// returns false when an entry is malformed (m is then partly filled).
//
//go:nosplit
func decodeMADT(b []byte, m *MADT) bool {
	if len(b) < madtEntries {
		return false
	}
	m.Revision = u8(b, 8)
	m.LAPICBase = uint64(u32(b, 36))
	m.Flags = u32(b, 40)
	rest := b[madtEntries:]
	for len(rest) >= 2 { // a trailing lone byte is padding, not an entry
		n := int(rest[1])
		if n < 2 || n > len(rest) {
			return false
		}
		if !m.entry(rest[:n]) {
			return false
		}
		rest = rest[n:]
	}
	m.Found = true
	return true
}

// entry decodes one interrupt controller structure e (its length byte
// matches len(e)). Unknown types are skipped; a known type too short for
// its fields is malformed.
//
//go:nosplit
func (m *MADT) entry(e []byte) bool {
	switch u8(e, 0) {
	case madtLAPIC:
		if len(e) < 8 {
			return false
		}
		if u8(e, 3) == 0xFF {
			m.IgnoredCPUs++
			return true
		}
		m.addCPU(uint32(u8(e, 2)), uint32(u8(e, 3)), u32(e, 4), false)
	case madtX2APIC:
		if len(e) < 16 {
			return false
		}
		if u32(e, 4) == 0xFFFFFFFF {
			m.IgnoredCPUs++
			return true
		}
		m.addCPU(u32(e, 12), u32(e, 4), u32(e, 8), true)
	case madtIOAPIC:
		if len(e) < 12 {
			return false
		}
		i := uint(m.NumIOAPICs)
		if i >= MaxIOAPICs {
			m.DroppedIOAPICs++
			return true
		}
		m.IOAPICs[i] = IOAPIC{ID: u8(e, 2), Address: u32(e, 4), GSIBase: u32(e, 8)}
		m.NumIOAPICs++
	case madtOverride:
		if len(e) < 10 {
			return false
		}
		i := uint(m.NumOverrides)
		if i >= MaxOverrides {
			m.DroppedOverrides++
			return true
		}
		m.Overrides[i] = Override{Bus: u8(e, 2), Source: u8(e, 3), GSI: u32(e, 4), Flags: u16(e, 8)}
		m.NumOverrides++
	case madtLAPICNMI:
		if len(e) < 6 {
			return false
		}
		uid := uint32(u8(e, 2))
		if uid == 0xFF {
			uid = AllProcessors
		}
		m.addNMI(uid, u16(e, 3), u8(e, 5))
	case madtX2APICNMI:
		if len(e) < 12 {
			return false
		}
		m.addNMI(u32(e, 4), u16(e, 2), u8(e, 8))
	case madtLAPICOverride:
		if len(e) < 12 {
			return false
		}
		m.LAPICBase = u64(e, 4)
	}
	return true
}

// addCPU records a processor unless it is unusable, a duplicate, or the
// array is full.
//
//go:nosplit
func (m *MADT) addCPU(uid, id, flags uint32, x2 bool) {
	if m.Revision < 5 {
		flags &^= CPUOnlineCapable
	}
	flags &= CPUEnabled | CPUOnlineCapable
	if flags == 0 {
		m.IgnoredCPUs++
		return
	}
	for i := 0; i < m.NumCPUs && i < MaxCPUs; i++ {
		if m.CPUs[i].APICID == id {
			m.IgnoredCPUs++
			return
		}
	}
	i := uint(m.NumCPUs)
	if i >= MaxCPUs {
		m.DroppedCPUs++
		return
	}
	m.CPUs[i] = CPU{UID: uid, APICID: id, Flags: flags, X2APIC: x2}
	m.NumCPUs++
}

// addNMI records a local APIC NMI entry unless the array is full.
//
//go:nosplit
func (m *MADT) addNMI(uid uint32, flags uint16, lint uint8) {
	i := uint(m.NumNMIs)
	if i >= MaxNMIs {
		m.DroppedNMIs++
		return
	}
	m.NMIs[i] = NMI{UID: uid, Flags: flags, LINT: lint}
	m.NumNMIs++
}
