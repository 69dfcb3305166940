package acpi

// RSDP layout (ACPI 6.5 section 5.2.5.3).
const (
	rsdpV1Len   = 20 // signature .. RsdtAddress, covered by the checksum
	rsdpV2Len   = 36 // up to the reserved bytes, covered by the extended checksum
	ebdaPointer = 0x40E
	ebdaScanLen = 1024
	biosStart   = 0xE0000
	biosEnd     = 0x100000
	ebdaLowest  = 0x400   // above the BIOS data area
	ebdaHighest = 0xA0000 // below the legacy video window
)

// rsdpSig is the RSDP signature "RSD PTR " read as a little-endian uint64.
const rsdpSig = 'R' | 'S'<<8 | 'D'<<16 | ' '<<24 | 'P'<<32 | 'T'<<40 | 'R'<<48 | ' '<<56

// FindRSDP returns the physical address of a valid RSDP.
//
// With hint != 0 (boot loaders such as PVH and multiboot2 hand the address
// over) only the RSDP at hint is validated, and its error is returned if it
// is not valid. With hint == 0 it scans, on 16-byte boundaries, the first
// KiB of the EBDA (real-mode segment stored at physical 0x40E) and then
// 0xE0000-0xFFFFF for "RSD PTR " with a valid checksum (and a valid extended
// checksum when revision >= 2); candidates that fail validation are skipped.
// It returns ErrNoRSDP when nothing is found. Unreadable parts of these areas
// are skipped.
//
//go:nosplit
func FindRSDP(mem Mem, hint uint64) (uint64, error) {
	if mem == nil {
		return 0, ErrUnreadable
	}
	if hint != 0 {
		var r RSDP
		if err := readRSDP(mem, hint, &r); err != nil {
			return 0, err
		}
		return hint, nil
	}
	if seg := read(mem, ebdaPointer, 2); seg != nil {
		base := uint64(u16(seg, 0)) << 4
		if base >= ebdaLowest && base < ebdaHighest {
			if p := scanRSDP(mem, base, base+ebdaScanLen); p != 0 {
				return p, nil
			}
		}
	}
	if p := scanRSDP(mem, biosStart, biosEnd); p != 0 {
		return p, nil
	}
	return 0, ErrNoRSDP
}

// scanRSDP returns the first 16-byte aligned address in [start, end) holding
// a valid RSDP, or 0.
//
//go:nosplit
func scanRSDP(mem Mem, start, end uint64) uint64 {
	var r RSDP
	for p := start &^ 15; p < end; p += 16 {
		if b := read(mem, p, 8); u64(b, 0) != rsdpSig {
			continue
		}
		if readRSDP(mem, p, &r) == nil {
			return p
		}
	}
	return 0
}

// readRSDP validates the RSDP at phys and decodes it into r.
//
//go:nosplit
func readRSDP(mem Mem, phys uint64, r *RSDP) error {
	*r = RSDP{}
	if phys == 0 {
		return ErrNoRSDP
	}
	b := read(mem, phys, rsdpV1Len)
	if b == nil {
		return ErrUnreadable
	}
	if u64(b, 0) != rsdpSig {
		return ErrBadSignature
	}
	if sum(b) != 0 {
		return ErrBadChecksum
	}
	rev := u8(b, 15)
	if rev >= 2 {
		// The extended checksum covers the first 36 bytes; like ACPICA we
		// do not trust the Length field for it.
		b = read(mem, phys, rsdpV2Len)
		if b == nil {
			return ErrTruncated
		}
		if sum(b) != 0 {
			return ErrBadChecksum
		}
		r.XSDT = u64(b, 24)
	}
	r.Phys = phys
	r.Revision = rev
	for i := range r.OEMID {
		r.OEMID[i] = u8(b, 9+i)
	}
	r.RSDT = u32(b, 16)
	return nil
}
