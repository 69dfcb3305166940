package acpi

import (
	"encoding/binary"
)

// This file lays out synthetic firmware tables in a byte buffer that stands
// for physical memory. Everything here is test-only and may allocate.

// image is a fake physical address space: phys p is buf[p], and every
// address in [0, len(buf)) is readable unless hidden by a hole.
type image struct {
	buf   []byte
	next  uint64 // next free address for place
	holes [][2]uint64
	short bool // mem returns one byte less than asked (a buggy Mem)
}

// newImage returns an image of size bytes whose tables start at start.
func newImage(size int, start uint64) *image {
	return &image{buf: make([]byte, size), next: start}
}

// mem is the image's Mem function.
func (im *image) mem(phys, n uint64) []byte {
	if phys > uint64(len(im.buf)) || n > uint64(len(im.buf))-phys {
		return nil
	}
	for _, h := range im.holes {
		if phys < h[1] && phys+n > h[0] {
			return nil
		}
	}
	if im.short && n > 0 {
		n--
	}
	return im.buf[phys : phys+n : phys+n]
}

// place copies b to the next free 16-byte aligned address and returns it.
func (im *image) place(b []byte) uint64 {
	p := (im.next + 15) &^ 15
	copy(im.buf[p:], b)
	im.next = p + uint64(len(b))
	return p
}

// putAt copies b to phys.
func (im *image) putAt(phys uint64, b []byte) { copy(im.buf[phys:], b) }

// fixsum sets b[off] so that b sums to zero.
func fixsum(b []byte, off int) {
	b[off] = 0
	b[off] = -sum(b)
}

func le16b(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32b(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64b(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// sdt returns a system description table: 36-byte header + body, with a
// correct length and checksum.
func sdt(signature string, rev byte, body []byte) []byte {
	b := make([]byte, headerLen+len(body))
	copy(b, signature)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	b[8] = rev
	copy(b[10:], "DUNIX ")
	copy(b[16:], "TESTTBL ")
	binary.LittleEndian.PutUint32(b[24:], 1)
	copy(b[28:], "DNX ")
	binary.LittleEndian.PutUint32(b[32:], 1)
	copy(b[headerLen:], body)
	fixsum(b, 9)
	return b
}

// rsdpV1 returns an ACPI 1.0 RSDP (20 bytes).
func rsdpV1(rsdt uint32) []byte {
	b := make([]byte, rsdpV1Len)
	copy(b, "RSD PTR ")
	copy(b[9:], "DUNIX ")
	b[15] = 0
	binary.LittleEndian.PutUint32(b[16:], rsdt)
	fixsum(b, 8)
	return b
}

// rsdpV2 returns an ACPI 2.0+ RSDP (36 bytes) with both checksums.
func rsdpV2(rsdt uint32, xsdt uint64) []byte {
	b := make([]byte, rsdpV2Len)
	copy(b, "RSD PTR ")
	copy(b[9:], "DUNIX ")
	b[15] = 2
	binary.LittleEndian.PutUint32(b[16:], rsdt)
	binary.LittleEndian.PutUint32(b[20:], rsdpV2Len)
	binary.LittleEndian.PutUint64(b[24:], xsdt)
	fixsum(b[:rsdpV1Len], 8)
	fixsum(b, 32)
	return b
}

func rsdt(addrs ...uint64) []byte {
	var body []byte
	for _, a := range addrs {
		body = append(body, le32b(uint32(a))...)
	}
	return sdt("RSDT", 1, body)
}

func xsdt(addrs ...uint64) []byte {
	var body []byte
	for _, a := range addrs {
		body = append(body, le64b(a)...)
	}
	return sdt("XSDT", 1, body)
}

// MADT entries.
func eLAPIC(uid, id byte, flags uint32) []byte {
	return cat([]byte{0, 8, uid, id}, le32b(flags))
}
func eIOAPIC(id byte, addr, gsiBase uint32) []byte {
	return cat([]byte{1, 12, id, 0}, le32b(addr), le32b(gsiBase))
}
func eOverride(bus, src byte, gsi uint32, flags uint16) []byte {
	return cat([]byte{2, 10, bus, src}, le32b(gsi), le16b(flags))
}
func eNMI(uid byte, flags uint16, lint byte) []byte {
	return cat([]byte{4, 6, uid}, le16b(flags), []byte{lint})
}
func eLAPICOverride(addr uint64) []byte {
	return cat([]byte{5, 12, 0, 0}, le64b(addr))
}
func eX2APIC(id, flags, uid uint32) []byte {
	return cat([]byte{9, 16, 0, 0}, le32b(id), le32b(flags), le32b(uid))
}
func eX2NMI(flags uint16, uid uint32, lint byte) []byte {
	return cat([]byte{0xA, 12}, le16b(flags), le32b(uid), []byte{lint, 0, 0, 0})
}

func madt(rev byte, lapic, flags uint32, entries ...[]byte) []byte {
	return sdt("APIC", rev, cat(le32b(lapic), le32b(flags), cat(entries...)))
}

// fadtFields are the FADT fields the tests set; zero means "leave zero".
type fadtFields struct {
	facs, dsdt                 uint32
	sci                        uint16
	smiCmd                     uint32
	acpiEnable, acpiDisable    uint8
	pm1aEvt, pm1bEvt           uint32
	pm1aCnt, pm1bCnt           uint32
	pmTmr                      uint32
	pm1EvtLen                  uint8
	century                    uint8
	bootArch                   uint16
	flags                      uint32
	reset                      GAS
	resetVal                   uint8
	minor                      uint8
	xdsdt                      uint64
	xPM1aEvt, xPM1aCnt, xPMTmr GAS
	sleepCtl, sleepSts         GAS
}

func putGAS(b []byte, g GAS) {
	b[0], b[1], b[2], b[3] = g.SpaceID, g.BitWidth, g.BitOffset, g.AccessSize
	binary.LittleEndian.PutUint64(b[4:], g.Address)
}

// fadt returns a FADT of the given revision truncated to length bytes (116
// for ACPI 1.0, 244 for 2.0-4.0, 268 for 5.0, 276 for 6.x).
func fadt(rev byte, length int, f fadtFields) []byte {
	b := make([]byte, 276)
	le := binary.LittleEndian
	le.PutUint32(b[36:], f.facs)
	le.PutUint32(b[40:], f.dsdt)
	b[44] = 1
	le.PutUint16(b[46:], f.sci)
	le.PutUint32(b[48:], f.smiCmd)
	b[52], b[53] = f.acpiEnable, f.acpiDisable
	le.PutUint32(b[56:], f.pm1aEvt)
	le.PutUint32(b[60:], f.pm1bEvt)
	le.PutUint32(b[64:], f.pm1aCnt)
	le.PutUint32(b[68:], f.pm1bCnt)
	le.PutUint32(b[76:], f.pmTmr)
	b[88], b[89], b[91] = f.pm1EvtLen, 2, 4
	b[108] = f.century
	le.PutUint16(b[109:], f.bootArch)
	le.PutUint32(b[112:], f.flags)
	putGAS(b[116:], f.reset)
	b[128] = f.resetVal
	b[131] = f.minor
	le.PutUint64(b[140:], f.xdsdt)
	putGAS(b[148:], f.xPM1aEvt)
	putGAS(b[172:], f.xPM1aCnt)
	putGAS(b[208:], f.xPMTmr)
	putGAS(b[244:], f.sleepCtl)
	putGAS(b[256:], f.sleepSts)
	return sdt("FACP", rev, b[headerLen:length])
}

// s5Name returns the AML "Name(_S5_, Package(n){elems...})" with an
// optional root prefix; elems are already encoded data objects.
func s5Name(root bool, elems ...[]byte) []byte {
	contents := cat([]byte{byte(len(elems))}, cat(elems...))
	out := []byte{amlNameOp}
	if root {
		out = append(out, '\\')
	}
	out = append(out, "_S5_"...)
	out = append(out, amlPackageOp)
	out = append(out, encPkgLength(len(contents), 0)...)
	return append(out, contents...)
}

// encPkgLength encodes a PkgLength for a package whose contents (after the
// PkgLength) are n bytes, using at least min bytes of encoding (0 = smallest).
func encPkgLength(n, min int) []byte {
	for size := 1; size <= 4; size++ {
		if size < min {
			continue
		}
		total := n + size
		if size == 1 {
			if total < 64 {
				return []byte{byte(total)}
			}
			continue
		}
		if total >= 1<<(4+8*(size-1)) {
			continue
		}
		b := []byte{byte(size-1)<<6 | byte(total&0x0F)}
		for k := 1; k < size; k++ {
			b = append(b, byte(total>>(4+8*(k-1))))
		}
		return b
	}
	panic("package too long")
}

// Encoded AML integers.
func aByte(v byte) []byte    { return []byte{amlBytePrefix, v} }
func aWord(v uint16) []byte  { return cat([]byte{amlWordPrefix}, le16b(v)) }
func aDWord(v uint32) []byte { return cat([]byte{amlDWordPrefix}, le32b(v)) }
func aQWord(v uint64) []byte { return cat([]byte{amlQWordPrefix}, le64b(v)) }

var (
	aZero = []byte{amlZeroOp}
	aOne  = []byte{amlOneOp}
)

// dsdtAML returns plausible AML around the given object: a scope with a
// method mentioning _S5_ without NameOp first (which must be skipped).
func dsdtAML(obj []byte) []byte {
	pre := []byte{
		0x10, 0x0A, '\\', '_', 'S', 'B', '_', // Scope(\_SB_) {
		0x5B, 0x82, 0x04, 'P', 'C', 'I', '0', // Device(PCI0) (truncated body)
		0x5B, 0x12, '_', 'S', '5', '_', 0x00, // CondRefOf(_S5_, Zero)
	}
	post := []byte{0x14, 0x08, 'P', 'T', 'S', '_', 0x01, 0xA4, 0x00} // Method(_PTS,1){Return(Zero)}
	return cat(pre, obj, post)
}

func hpet(blockID uint32, base uint64, number byte, minTick uint16) []byte {
	g := make([]byte, 12)
	putGAS(g, GAS{SpaceID: SpaceSystemMemory, Address: base})
	return sdt("HPET", 1, cat(le32b(blockID), g, []byte{number}, le16b(minTick), []byte{0}))
}

func mcfg(entries ...ECAM) []byte {
	body := make([]byte, 8)
	for _, e := range entries {
		body = append(body, le64b(e.Base)...)
		body = append(body, le16b(e.Segment)...)
		body = append(body, e.StartBus, e.EndBus, 0, 0, 0, 0)
	}
	return sdt("MCFG", 1, body)
}

// machine describes a synthetic platform to lay out.
type machine struct {
	rsdpRev   int    // 0: v1 (RSDT only), 2: v2 (XSDT and RSDT)
	rsdpAt    uint64 // where the RSDP goes (0: placed like a table)
	noRSDT    bool   // v2 RSDP with RSDT address 0
	fadtRev   byte
	fadtLen   int
	fadt      fadtFields
	dsdtAML   []byte
	madt      []byte
	extra     [][]byte // more tables listed after the standard ones
	noHPET    bool
	noMCFG    bool
	xdsdtOnly bool // put the DSDT address only in X_DSDT
}

// qemuQ35 returns a machine close to what QEMU q35 + SeaBIOS provides (but
// with an XSDT so both root tables are exercised).
func qemuQ35() *machine {
	return &machine{
		rsdpRev: 2,
		fadtRev: 3,
		fadtLen: 244,
		fadt: fadtFields{
			sci: 9, smiCmd: 0xB2, acpiEnable: 0x02, acpiDisable: 0x03,
			pm1aEvt: 0x600, pm1aCnt: 0x604, pmTmr: 0x608, pm1EvtLen: 4,
			century: 0x32, bootArch: BootArch8042,
			flags: 1<<0 | 1<<2 | 1<<5 | 1<<7 | FADTResetRegSup | 1<<15,
			reset: GAS{SpaceID: SpaceSystemIO, BitWidth: 8, Address: 0xCF9}, resetVal: 0x0F,
			xPM1aEvt: GAS{SpaceID: SpaceSystemIO, BitWidth: 32, Address: 0x600},
			xPM1aCnt: GAS{SpaceID: SpaceSystemIO, BitWidth: 16, Address: 0x604},
			xPMTmr:   GAS{SpaceID: SpaceSystemIO, BitWidth: 32, Address: 0x608},
		},
		dsdtAML: dsdtAML(s5Name(false, aZero, aZero, aZero, aZero)),
		madt: madt(1, 0xFEE00000, MADTPCATCompat,
			eLAPIC(0, 0, CPUEnabled),
			eLAPIC(1, 1, CPUEnabled),
			eLAPIC(2, 2, 0), // possible but not present
			eIOAPIC(0, 0xFEC00000, 0),
			eOverride(0, 0, 2, 0),
			eOverride(0, 5, 5, PolarityHigh|TriggerLevel),
			eOverride(0, 9, 9, PolarityHigh|TriggerLevel),
			eOverride(0, 10, 10, PolarityHigh|TriggerLevel),
			eOverride(0, 11, 11, PolarityHigh|TriggerLevel),
			eNMI(0xFF, 0, 1),
		),
	}
}

// addrs records where build put things.
type addrs struct {
	rsdp, rsdt, xsdt, fadt, dsdt, madt, hpet, mcfg uint64
	extra                                          []uint64
}

// build lays m out in im and returns the addresses used.
func (m *machine) build(im *image) addrs {
	var a addrs
	a.dsdt = im.place(sdt("DSDT", 2, m.dsdtAML))
	f := m.fadt
	if !m.xdsdtOnly {
		f.dsdt = uint32(a.dsdt)
	}
	if m.fadtLen >= 148 {
		f.xdsdt = a.dsdt
	}
	a.fadt = im.place(fadt(m.fadtRev, m.fadtLen, f))
	list := []uint64{a.fadt}
	if m.madt != nil {
		a.madt = im.place(m.madt)
		list = append(list, a.madt)
	}
	if !m.noHPET {
		a.hpet = im.place(hpet(0x8086A201, 0xFED00000, 0, 0x80))
		list = append(list, a.hpet)
	}
	if !m.noMCFG {
		a.mcfg = im.place(mcfg(ECAM{Base: 0xB0000000, Segment: 0, StartBus: 0, EndBus: 0xFF}))
		list = append(list, a.mcfg)
	}
	for _, e := range m.extra {
		p := im.place(e)
		a.extra = append(a.extra, p)
		list = append(list, p)
	}
	if !m.noRSDT {
		a.rsdt = im.place(rsdt(list...))
	}
	var rp []byte
	if m.rsdpRev >= 2 {
		a.xsdt = im.place(xsdt(list...))
		rp = rsdpV2(uint32(a.rsdt), a.xsdt)
	} else {
		rp = rsdpV1(uint32(a.rsdt))
	}
	if m.rsdpAt != 0 {
		a.rsdp = m.rsdpAt
		im.putAt(a.rsdp, rp)
	} else {
		a.rsdp = im.place(rp)
	}
	return a
}

// standard builds m in a fresh 2 MiB image whose tables start at 1 MiB.
func (m *machine) standard() (*image, addrs) {
	im := newImage(2<<20, 1<<20)
	return im, m.build(im)
}

// compact builds m in a small image with tables from address 0x40, for fuzz
// seeds.
func (m *machine) compact() (*image, addrs) {
	im := newImage(64<<10, 0x40)
	a := m.build(im)
	im.buf = im.buf[:im.next]
	return im, a
}
