package acpi

// S5 holds the sleep type values for the S5 (soft-off) state from the
// \_S5_ package. To power off, the kernel writes SLPTypA<<10 | SLP_EN
// (1<<13) to the PM1a control block (and SLPTypB<<10 | SLP_EN to PM1b when
// it exists); a hardware-reduced system uses the sleep control register
// instead (SLP_TYP in bits 4:2, SLP_EN is bit 5).
type S5 struct {
	Found   bool
	SLPTypA uint8   // value for PM1a_CNT.SLP_TYP (only the low 3 bits are used)
	SLPTypB uint8   // value for PM1b_CNT.SLP_TYP
	Table   [4]byte // signature of the table it was found in (DSDT or SSDT)
}

// AML encodings used by the \_S5_ search (ACPI 6.5 chapter 20.2).
const (
	amlZeroOp      = 0x00
	amlOneOp       = 0x01
	amlNameOp      = 0x08
	amlBytePrefix  = 0x0A
	amlWordPrefix  = 0x0B
	amlDWordPrefix = 0x0C
	amlQWordPrefix = 0x0E
	amlPackageOp   = 0x12
	amlRootChar    = '\\'
	amlOnesOp      = 0xFF
)

// find searches the checked table b (header included) for \_S5_ and
// records the first decodable occurrence in s.
//
//go:nosplit
func (s *S5) find(b []byte, table [4]byte) {
	if len(b) < headerLen {
		return
	}
	if a, bb, ok := findS5(b[headerLen:]); ok {
		s.Found, s.SLPTypA, s.SLPTypB, s.Table = true, a, bb, table
	}
}

// s5Seg is the name segment "_S5_" read as a little-endian uint32.
const s5Seg = '_' | 'S'<<8 | '5'<<16 | '_'<<24

// findS5 looks in the AML byte stream aml for
//
//	NameOp ['\'] "_S5_" PackageOp PkgLength NumElements elements...
//
// and decodes the first two elements (ZeroOp, OneOp, OnesOp or a Byte,
// Word, DWord or QWord constant). A one-element package holds both values
// in one integer, SLP_TYPa in bits 7:0 and SLP_TYPb in bits 15:8 (as some
// old firmware does). Occurrences that do not decode are skipped.
//
//go:nosplit
func findS5(aml []byte) (slpA, slpB uint8, ok bool) {
	for i := 1; i < len(aml); i++ {
		if u32(aml, i) != s5Seg {
			continue
		}
		j := i - 1
		if u8(aml, j) == amlRootChar {
			j--
		}
		if j < 0 || u8(aml, j) != amlNameOp {
			continue
		}
		if slpA, slpB, ok = decodeS5Package(aml, i+4); ok {
			return slpA, slpB, true
		}
	}
	return 0, 0, false
}

// decodeS5Package decodes the package at aml[off:] (see findS5).
//
//go:nosplit
func decodeS5Package(aml []byte, off int) (slpA, slpB uint8, ok bool) {
	if u8(aml, off) != amlPackageOp {
		return 0, 0, false
	}
	pkgLen, n, ok := pkgLength(aml, off+1)
	// PkgLength counts its own n bytes and the package contents, which
	// hold at least NumElements; the elements must lie inside the package.
	end := off + 1 + pkgLen
	if !ok || pkgLen <= n || uint(end) > uint(len(aml)) {
		return 0, 0, false
	}
	pkg := aml[:end]
	count := u8(pkg, off+1+n)
	if count == 0 {
		return 0, 0, false
	}
	a, used, ok := amlInteger(pkg, off+2+n)
	if !ok {
		return 0, 0, false
	}
	if count == 1 {
		return uint8(a), uint8(a >> 8), true
	}
	b, _, ok := amlInteger(pkg, off+2+n+used)
	if !ok {
		return 0, 0, false
	}
	return uint8(a), uint8(b), true
}

// pkgLength decodes the PkgLength at p[off:] (ACPI 6.5 section 20.2.4): it
// returns the length value and the number of bytes encoding it.
//
//go:nosplit
func pkgLength(p []byte, off int) (length, n int, ok bool) {
	if uint(off) >= uint(len(p)) {
		return 0, 0, false
	}
	lead := p[off]
	follow := int(lead >> 6)
	if follow == 0 {
		return int(lead & 0x3F), 1, true
	}
	if lead&0x30 != 0 || len(p)-off <= follow {
		return 0, 0, false // bits 5:4 are reserved in the multi-byte form
	}
	length = int(lead & 0x0F)
	for k := 1; k <= follow; k++ {
		length |= int(u8(p, off+k)) << uint(4+8*(k-1))
	}
	return length, 1 + follow, true
}

// amlInteger decodes the constant integer data object at p[off:] and
// returns its value and encoded size.
//
//go:nosplit
func amlInteger(p []byte, off int) (v uint64, n int, ok bool) {
	if uint(off) >= uint(len(p)) {
		return 0, 0, false
	}
	switch p[off] {
	case amlZeroOp:
		return 0, 1, true
	case amlOneOp:
		return 1, 1, true
	case amlOnesOp:
		return ^uint64(0), 1, true
	case amlBytePrefix:
		n = 2
	case amlWordPrefix:
		n = 3
	case amlDWordPrefix:
		n = 5
	case amlQWordPrefix:
		n = 9
	default:
		return 0, 0, false
	}
	if len(p)-off < n {
		return 0, 0, false
	}
	for k := n - 1; k >= 1; k-- {
		v = v<<8 | uint64(u8(p, off+k))
	}
	return v, n, true
}
