package acpi

// HPET is the decoded HPET description table (IA-PC HPET specification
// 1.0a, section 3.2.4). Only the first HPET table is decoded.
type HPET struct {
	Found bool
	Base  GAS // event timer block; normally system memory (0xFED00000 on PCs)

	BlockID           uint32 // raw Event Timer Block ID
	HWRevision        uint8  // hardware revision ID (bits 7:0)
	Comparators       uint8  // number of comparators in the first block (bits 12:8, plus one)
	Counter64         bool   // COUNT_SIZE_CAP: the main counter is 64 bits
	LegacyReplacement bool   // LegacyReplacement IRQ routing capable
	PCIVendor         uint16 // PCI vendor ID of the first block

	Number         uint8  // HPET sequence number
	MinTick        uint16 // main counter minimum clock tick in periodic mode (may be 0)
	PageProtection uint8  // page protection and OEM attribute
}

// hpetLen is the length of an HPET table through its last field.
const hpetLen = 56

// decodeHPET decodes the checked table b into h. It returns false when the
// table is too short or its base address is zero.
//
//go:nosplit
func decodeHPET(b []byte, h *HPET) bool {
	if len(b) < hpetLen || !gasAt(b, 40, &h.Base) || h.Base.Address == 0 {
		return false
	}
	id := u32(b, 36)
	h.BlockID = id
	h.HWRevision = uint8(id)
	h.Comparators = uint8(id>>8)&0x1F + 1
	h.Counter64 = id&(1<<13) != 0
	h.LegacyReplacement = id&(1<<15) != 0
	h.PCIVendor = uint16(id >> 16)
	h.Number = u8(b, 52)
	h.MinTick = u16(b, 53)
	h.PageProtection = u8(b, 55)
	h.Found = true
	return true
}

// ECAM is one PCI Express enhanced configuration space allocation: the
// configuration space of buses StartBus..EndBus of segment Segment is at
// Base + (bus << 20 | device << 15 | function << 12). Base is the address
// of bus 0 even when StartBus is not 0.
type ECAM struct {
	Base     uint64
	Segment  uint16
	StartBus uint8
	EndBus   uint8
}

// MCFG is the decoded PCI Express memory-mapped configuration table (PCI
// Firmware specification 3.x, section 4.1.2). Entries are recorded as
// found (StartBus <= EndBus is not checked); a trailing partial entry is
// ignored.
type MCFG struct {
	Found   bool
	Entries [MaxECAM]ECAM
	Num     int // valid entries in Entries
	Dropped int // entries that did not fit
}

// MCFG layout.
const (
	mcfgEntries  = 44 // header + 8 reserved bytes
	mcfgEntryLen = 16
)

// decodeMCFG decodes the checked table b into m. It returns false when the
// table is too short for its fixed part.
//
//go:nosplit
func decodeMCFG(b []byte, m *MCFG) bool {
	if len(b) < mcfgEntries {
		return false
	}
	for off := mcfgEntries; off+mcfgEntryLen <= len(b); off += mcfgEntryLen {
		i := uint(m.Num)
		if i >= MaxECAM {
			m.Dropped++
			continue
		}
		m.Entries[i] = ECAM{Base: u64(b, off), Segment: u16(b, off+8), StartBus: u8(b, off+10), EndBus: u8(b, off+11)}
		m.Num++
	}
	m.Found = true
	return true
}
