// Package acpi parses the ACPI firmware tables the kernel needs at boot: it
// finds the RSDP, walks the XSDT (or RSDT), and decodes the MADT (processors,
// I/O APICs, interrupt source overrides, local APIC NMIs), the FADT (power
// management ports, SCI, reset register, boot architecture flags), the \_S5_
// sleep-type package in the DSDT (or an SSDT), the HPET table and the MCFG
// table. It is not an AML interpreter: \_S5_ is found by a byte-pattern search
// and only its literal integer elements are decoded.
//
// The package runs in trap context: the kernel calls it before the Go runtime
// is initialised. Every function is //go:nosplit, nothing allocates, and
// nothing stores a Go pointer into a global. Physical memory is read only
// through the caller's Mem function; results go into a caller-provided Tables
// value made of fixed-size arrays (it holds no pointers, so it may live in a
// global), and errors are the package-level sentinel values below. Every
// length and offset found in firmware memory is treated as untrusted: a
// malformed table yields an error or a Status, never a panic or a read past
// what Mem returned.
//
// References: ACPI Specification 6.5, chapter 5.2 (ACPI System Description
// Tables: RSDP, RSDT/XSDT, FADT, MADT, generic address structure) and
// chapter 20 (ACPI Machine Language encodings: NameOp, PackageOp, PkgLength,
// integer constants); IA-PC HPET Specification 1.0a section 3.2.4 (HPET
// table); PCI Firmware Specification 3.x section 4.1.2 (MCFG table).
package acpi

import "errors"

// Mem returns the n bytes of physical memory at phys, or nil when that range
// is not readable.
//
// In the kernel it returns a slice over the direct map; in tests, a slice of a
// byte buffer. The kernel's implementation is called from nosplit code through
// a function value, so the linker cannot check it: it must itself be
// //go:nosplit, allocate nothing and use a small frame. A returned slice
// shorter than n is treated as "not readable".
type Mem func(phys, n uint64) []byte

// Errors returned by FindRSDP, Parse and Status.Err. They are created at
// package level (statically initialised data), so returning them allocates
// nothing and they are valid before the runtime has run package init.
var (
	// ErrNoRSDP means no valid RSDP was found (or the address given was 0).
	ErrNoRSDP = errors.New("acpi: no RSDP found")
	// ErrUnreadable means Mem refused the address range of a structure.
	ErrUnreadable = errors.New("acpi: memory not readable")
	// ErrTruncated means a table's header was readable but the length it
	// claims runs past readable memory.
	ErrTruncated = errors.New("acpi: table runs past readable memory")
	// ErrBadLength means a length field is too small for the structure or
	// larger than MaxTableLength.
	ErrBadLength = errors.New("acpi: table length out of range")
	// ErrBadSignature means a structure did not carry the expected signature.
	ErrBadSignature = errors.New("acpi: unexpected signature")
	// ErrBadChecksum means the bytes of a structure do not sum to zero.
	ErrBadChecksum = errors.New("acpi: bad checksum")
	// ErrMalformed means a structure's contents are inconsistent (an entry
	// overruns its table, a required field is missing, ...).
	ErrMalformed = errors.New("acpi: malformed table")
	// ErrDuplicate means a second table of a kind decoded only once was
	// checked but not decoded.
	ErrDuplicate = errors.New("acpi: duplicate table ignored")
)

// Capacities of the fixed arrays in Tables. Entries beyond a capacity are
// counted in the corresponding Dropped field and otherwise ignored.
const (
	MaxTables    = 64  // table headers recorded in Tables.Headers
	MaxCPUs      = 256 // processors recorded in MADT.CPUs
	MaxIOAPICs   = 16  // I/O APICs recorded in MADT.IOAPICs
	MaxOverrides = 32  // interrupt source overrides in MADT.Overrides
	MaxNMIs      = 16  // local APIC NMI entries in MADT.NMIs
	MaxECAM      = 8   // MCFG allocations in MCFG.Entries

	// MaxTableLength bounds the length field of any table this package will
	// read; longer tables are rejected with ErrBadLength.
	MaxTableLength = 16 << 20
)

// headerLen is the size of the common system description table header.
const headerLen = 36

// Status tells what became of one table. The zero value is StatusOK.
type Status uint8

// Table statuses.
const (
	StatusOK           Status = iota // checked (and decoded when known)
	StatusUnreadable                 // address 0 or Mem refused the header
	StatusTruncated                  // header readable, body is not
	StatusBadLength                  // length < 36 or > MaxTableLength
	StatusBadSignature               // not the signature that was expected
	StatusBadChecksum                // bytes do not sum to zero
	StatusMalformed                  // contents inconsistent; not decoded
	StatusDuplicate                  // same kind already decoded; ignored
)

// Err returns the sentinel error for s, or nil for StatusOK.
//
//go:nosplit
func (s Status) Err() error {
	switch s {
	case StatusOK:
		return nil
	case StatusUnreadable:
		return ErrUnreadable
	case StatusTruncated:
		return ErrTruncated
	case StatusBadLength:
		return ErrBadLength
	case StatusBadSignature:
		return ErrBadSignature
	case StatusBadChecksum:
		return ErrBadChecksum
	case StatusDuplicate:
		return ErrDuplicate
	}
	return ErrMalformed
}

// String returns a short constant name for s, for boot logs.
//
//go:nosplit
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusUnreadable:
		return "unreadable"
	case StatusTruncated:
		return "truncated"
	case StatusBadLength:
		return "bad length"
	case StatusBadSignature:
		return "bad signature"
	case StatusBadChecksum:
		return "bad checksum"
	case StatusDuplicate:
		return "duplicate"
	}
	return "malformed"
}

// Address space identifiers of a generic address structure (ACPI 6.5
// section 5.2.3.2). Other values are possible and are kept as found.
const (
	SpaceSystemMemory = 0
	SpaceSystemIO     = 1
	SpacePCIConfig    = 2
)

// GAS is an ACPI generic address structure (ACPI 6.5 section 5.2.3.2).
type GAS struct {
	SpaceID    uint8 // SpaceSystemMemory, SpaceSystemIO, ...
	BitWidth   uint8
	BitOffset  uint8
	AccessSize uint8 // 0 undefined, 1 byte, 2 word, 3 dword, 4 qword
	Address    uint64
}

// Header describes one table the parser looked at.
type Header struct {
	Signature [4]byte // as found in memory (zero when unreadable)
	Revision  uint8
	Status    Status
	Length    uint32 // the table's length field (untrusted when Status != StatusOK)
	Phys      uint64 // physical address of the table
}

// RSDP holds the fields of the root system description pointer.
type RSDP struct {
	Phys     uint64
	Revision uint8 // 0 for ACPI 1.0 (RSDT only), 2 or more for ACPI 2.0+
	OEMID    [6]byte
	RSDT     uint32 // physical address of the RSDT (0 if none)
	XSDT     uint64 // physical address of the XSDT (revision >= 2 only)
}

// Tables is everything Parse learns. It contains no pointers and is about
// 7 KiB: keep it in a global or a heap object, never on a nosplit stack.
type Tables struct {
	RSDP RSDP

	// Root is the header of the root table walked (XSDT or RSDT).
	Root Header

	// Headers lists every table looked at, in order: the root table(s)
	// tried (an XSDT rejected before falling back to the RSDT stays here
	// with its Status), each table the root lists, then the DSDT.
	// Headers[:NumHeaders] are valid; DroppedHeaders counts tables seen
	// after the array filled up (they are still decoded).
	Headers        [MaxTables]Header
	NumHeaders     int
	DroppedHeaders int

	MADT MADT
	FADT FADT
	S5   S5
	HPET HPET
	MCFG MCFG
}

// EnabledCPUs returns how many processors the MADT marks enabled (usable
// now, as opposed to only online-capable).
//
//go:nosplit
func (t *Tables) EnabledCPUs() int {
	n := 0
	for i := 0; i < t.MADT.NumCPUs && i < MaxCPUs; i++ {
		if t.MADT.CPUs[i].Enabled() {
			n++
		}
	}
	return n
}

// Table returns the first recorded header whose signature is sig (four
// bytes, e.g. "SRAT") and whose Status is StatusOK.
//
//go:nosplit
func (t *Tables) Table(sig string) (Header, bool) {
	if len(sig) != 4 {
		return Header{}, false
	}
	for i := 0; i < t.NumHeaders && i < MaxTables; i++ {
		h := &t.Headers[i]
		if h.Status == StatusOK && h.Signature[0] == sig[0] && h.Signature[1] == sig[1] &&
			h.Signature[2] == sig[2] && h.Signature[3] == sig[3] {
			return *h, true
		}
	}
	return Header{}, false
}

// addHeader records h in t.Headers, or counts it as dropped.
//
//go:nosplit
func (t *Tables) addHeader(h *Header) {
	i := uint(t.NumHeaders)
	if i >= MaxTables {
		t.DroppedHeaders++
		return
	}
	t.Headers[i] = *h
	t.NumHeaders++
}

// read returns exactly n bytes at phys from mem, or nil when any of them is
// not readable (including when mem returns a short slice or phys+n wraps).
//
//go:nosplit
func read(mem Mem, phys, n uint64) []byte {
	if n == 0 || phys+n < phys {
		return nil
	}
	b := mem(phys, n)
	if uint64(len(b)) < n {
		return nil
	}
	return b[:n:n]
}

// sum returns the 8-bit sum of b; a valid ACPI structure sums to zero.
//
//go:nosplit
func sum(b []byte) uint8 {
	var s uint8
	for _, c := range b {
		s += c
	}
	return s
}

// The little-endian readers below return 0 when the field does not lie
// entirely inside b. Their shape (an unsigned offset check, then a reslice
// and a length check) lets the compiler prove every index in range, so the
// package has no bounds-check panic paths at all (TestNoBoundsChecks).

// u8 returns b[off], or 0 when off is outside b.
//
//go:nosplit
func u8(b []byte, off int) uint8 {
	if uint(off) >= uint(len(b)) {
		return 0
	}
	return b[off]
}

// u16 returns the little-endian uint16 at b[off:], or 0 when it does not fit.
//
//go:nosplit
func u16(b []byte, off int) uint16 {
	if uint(off) >= uint(len(b)) {
		return 0
	}
	b = b[off:]
	if len(b) < 2 {
		return 0
	}
	return uint16(b[0]) | uint16(b[1])<<8
}

// u32 returns the little-endian uint32 at b[off:], or 0 when it does not fit.
//
//go:nosplit
func u32(b []byte, off int) uint32 {
	if uint(off) >= uint(len(b)) {
		return 0
	}
	b = b[off:]
	if len(b) < 4 {
		return 0
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// u64 returns the little-endian uint64 at b[off:], or 0 when it does not fit.
//
//go:nosplit
func u64(b []byte, off int) uint64 {
	if uint(off) >= uint(len(b)) {
		return 0
	}
	b = b[off:]
	if len(b) < 8 {
		return 0
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// gasAt decodes the generic address structure at b[off:] into g and reports
// whether all 12 bytes of it lie inside b (g is untouched otherwise).
//
//go:nosplit
func gasAt(b []byte, off int, g *GAS) bool {
	if uint(off) >= uint(len(b)) {
		return false
	}
	b = b[off:]
	if len(b) < 12 {
		return false
	}
	g.SpaceID = b[0]
	g.BitWidth = b[1]
	g.BitOffset = b[2]
	g.AccessSize = b[3]
	g.Address = u64(b, 4)
	return true
}

// sig returns the four bytes at b[0:4] (zero when b is shorter).
//
//go:nosplit
func sig(b []byte) [4]byte {
	if len(b) < 4 {
		return [4]byte{}
	}
	return [4]byte{b[0], b[1], b[2], b[3]}
}

// loadTable reads and checks the table at phys: readable header, sane
// length, expected signature (when want is not zero) and checksum. It fills
// h and returns the whole table, or nil with h.Status saying why not.
//
//go:nosplit
func loadTable(mem Mem, phys uint64, want [4]byte, h *Header) []byte {
	*h = Header{Phys: phys}
	if phys == 0 {
		h.Status = StatusUnreadable
		return nil
	}
	hb := read(mem, phys, headerLen)
	if hb == nil {
		h.Status = StatusUnreadable
		return nil
	}
	h.Signature = sig(hb)
	h.Length = u32(hb, 4)
	h.Revision = u8(hb, 8)
	switch {
	case want != [4]byte{} && h.Signature != want:
		h.Status = StatusBadSignature
		return nil
	case h.Length < headerLen || h.Length > MaxTableLength:
		h.Status = StatusBadLength
		return nil
	}
	b := read(mem, phys, uint64(h.Length))
	switch {
	case b == nil:
		h.Status = StatusTruncated
		return nil
	case sum(b) != 0:
		h.Status = StatusBadChecksum
		return nil
	}
	return b
}
