package virtio

// MMIOTransport is a virtio-mmio transport the DSDT describes (a device with
// _HID "LNRO0005", as QEMU's microvm lists them): its register window and
// its interrupt.
type MMIOTransport struct {
	Base, Size uint32
	GSI        uint32
	Level      bool // level-triggered (else edge)
	ActiveLow  bool
}

// Resource descriptor tags (ACPI 6.5, 6.4.3).
const (
	resMemory32Fixed = 0x86 // followed by length 9 (two bytes)
	resExtIRQ        = 0x89 // followed by a two-byte length
)

// FindMMIO scans AML (a DSDT or SSDT, header included or not) for
// virtio-mmio devices and fills out with those it can decode: the first
// Memory32Fixed and Extended Interrupt descriptors within 256 bytes after
// each "LNRO0005" string (and before the next one). It returns how many it filled. It does not
// interpret AML: it looks for byte patterns, and a descriptor that does
// not decode is skipped.
func FindMMIO(aml []byte, out []MMIOTransport) int {
	n := 0
	hid := [8]byte{'L', 'N', 'R', 'O', '0', '0', '0', '5'}
	for i := 0; i+len(hid) <= len(aml) && n < len(out); i++ {
		if !hidAt(aml, i, &hid) {
			continue
		}
		// A device's resources follow its _HID, before the next device's.
		end := min(len(aml), i+len(hid)+256)
		for k := i + len(hid); k < end; k++ {
			if hidAt(aml, k, &hid) {
				end = k
				break
			}
		}
		var d MMIOTransport
		haveMem, haveIRQ := false, false
		for j := i + len(hid); j < end && !(haveMem && haveIRQ); j++ {
			switch {
			case !haveMem && aml[j] == resMemory32Fixed && j+12 <= end && aml[j+1] == 9 && aml[j+2] == 0:
				d.Base = le32(aml, j+4)
				d.Size = le32(aml, j+8)
				haveMem = true
				j += 11
			case haveMem && !haveIRQ && aml[j] == resExtIRQ && j+9 <= end && aml[j+4] >= 1:
				l := int(aml[j+1]) | int(aml[j+2])<<8
				if l < 6 || j+3+l > end {
					continue
				}
				flags := aml[j+3]
				d.Level = flags&2 == 0
				d.ActiveLow = flags&4 != 0
				d.GSI = le32(aml, j+5)
				haveIRQ = true
			}
		}
		if haveMem && haveIRQ && d.Size != 0 {
			out[n] = d
			n++
		}
		i += len(hid) - 1
	}
	return n
}

// hidAt reports whether the _HID string is at aml[i:].
func hidAt(aml []byte, i int, hid *[8]byte) bool {
	if i+len(hid) > len(aml) {
		return false
	}
	for k := range hid {
		if aml[i+k] != hid[k] {
			return false
		}
	}
	return true
}

// le32 reads a little-endian 32-bit word.
func le32(b []byte, off int) uint32 {
	return uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24
}
