package acpi

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestFindRSDPHint(t *testing.T) {
	im := newImage(1<<20, 0x1000)
	v1 := im.place(rsdpV1(0x1234))
	v2 := im.place(rsdpV2(0x1234, 0x56789))

	badSum := rsdpV1(0x1234)
	badSum[8]++
	pBadSum := im.place(badSum)

	badX := rsdpV2(0x1234, 0x56789)
	badX[32]++ // extended checksum only
	pBadX := im.place(badX)

	badSig := rsdpV1(0x1234)
	badSig[0] = 'X'
	pBadSig := im.place(badSig)

	// A v2 RSDP whose last 16 bytes are beyond readable memory.
	pCut := uint64(len(im.buf) - rsdpV1Len)
	im.putAt(pCut, rsdpV2(1, 2)[:rsdpV1Len])

	tests := []struct {
		name string
		hint uint64
		err  error
	}{
		{"v1", v1, nil},
		{"v2", v2, nil},
		{"bad checksum", pBadSum, ErrBadChecksum},
		{"bad extended checksum", pBadX, ErrBadChecksum},
		{"bad signature", pBadSig, ErrBadSignature},
		{"unreadable", 1 << 40, ErrUnreadable},
		{"wraps", ^uint64(0) - 4, ErrUnreadable},
		{"v2 truncated", pCut, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindRSDP(im.mem, tc.hint)
			if !errors.Is(err, tc.err) {
				t.Fatalf("FindRSDP(%#x) error = %v, want %v", tc.hint, err, tc.err)
			}
			if err == nil && got != tc.hint {
				t.Fatalf("FindRSDP(%#x) = %#x", tc.hint, got)
			}
			if err != nil && got != 0 {
				t.Fatalf("FindRSDP(%#x) = %#x with error", tc.hint, got)
			}
		})
	}

	var r RSDP
	if err := readRSDP(im.mem, v2, &r); err != nil {
		t.Fatal(err)
	}
	if r.Revision != 2 || r.RSDT != 0x1234 || r.XSDT != 0x56789 || string(r.OEMID[:]) != "DUNIX " || r.Phys != v2 {
		t.Errorf("readRSDP v2 = %+v", r)
	}
	if err := readRSDP(im.mem, v1, &r); err != nil || r.Revision != 0 || r.XSDT != 0 || r.RSDT != 0x1234 {
		t.Errorf("readRSDP v1 = %+v, %v", r, err)
	}
}

// lowMem returns an image like the first megabyte of a PC (and a little
// more), with the EBDA segment pointer at 0x40E set to ebda>>4.
func lowMem(ebda uint64) *image {
	im := newImage(1<<20+4096, 0)
	binary.LittleEndian.PutUint16(im.buf[ebdaPointer:], uint16(ebda>>4))
	return im
}

func TestFindRSDPScan(t *testing.T) {
	t.Run("bios area", func(t *testing.T) {
		im := lowMem(0x9FC00)
		im.putAt(0xF5A40, rsdpV1(0x7FE0000))
		got, err := FindRSDP(im.mem, 0)
		if err != nil || got != 0xF5A40 {
			t.Fatalf("FindRSDP = %#x, %v", got, err)
		}
	})
	t.Run("ebda first", func(t *testing.T) {
		im := lowMem(0x9FC00)
		im.putAt(0x9FC00+0x100, rsdpV2(1, 2))
		im.putAt(0xE0000, rsdpV1(3))
		got, err := FindRSDP(im.mem, 0)
		if err != nil || got != 0x9FD00 {
			t.Fatalf("FindRSDP = %#x, %v", got, err)
		}
	})
	t.Run("ebda only first KiB", func(t *testing.T) {
		im := lowMem(0x9F000)
		im.putAt(0x9F000+ebdaScanLen, rsdpV1(1)) // just past the scanned KiB
		if got, err := FindRSDP(im.mem, 0); !errors.Is(err, ErrNoRSDP) {
			t.Fatalf("FindRSDP = %#x, %v; want ErrNoRSDP", got, err)
		}
	})
	t.Run("ebda pointer out of range", func(t *testing.T) {
		for _, seg := range []uint64{0, 0x100, 0xA0000, 0xF0000} {
			im := lowMem(seg)
			im.putAt(0xFFFF0, rsdpV1(1)) // last paragraph of the BIOS area
			got, err := FindRSDP(im.mem, 0)
			if err != nil || got != 0xFFFF0 {
				t.Fatalf("ebda %#x: FindRSDP = %#x, %v", seg, got, err)
			}
		}
	})
	t.Run("skips bad candidates", func(t *testing.T) {
		im := lowMem(0)
		bad := rsdpV1(1)
		bad[8]++
		im.putAt(0xE0000, bad)
		badX := rsdpV2(1, 2)
		badX[32]++
		im.putAt(0xE0010, badX)
		im.putAt(0xE0028, rsdpV1(1)) // not 16-byte aligned
		im.putAt(0xE1000, rsdpV2(5, 6))
		got, err := FindRSDP(im.mem, 0)
		if err != nil || got != 0xE1000 {
			t.Fatalf("FindRSDP = %#x, %v", got, err)
		}
	})
	t.Run("holes", func(t *testing.T) {
		im := lowMem(0x9FC00)
		im.holes = [][2]uint64{{0x9F000, 0xA0000}, {0xE0000, 0xF0000}, {0x400, 0x410}}
		im.putAt(0xF0000, rsdpV1(1))
		got, err := FindRSDP(im.mem, 0)
		if err != nil || got != 0xF0000 {
			t.Fatalf("FindRSDP = %#x, %v", got, err)
		}
	})
	t.Run("v2 at end of memory", func(t *testing.T) {
		// The signature and v1 part are readable, the extended part is not:
		// the candidate is rejected, not read out of range.
		im := lowMem(0)
		im.buf = im.buf[:0xFFFE0+rsdpV1Len]
		copy(im.buf[0xFFFE0:], rsdpV2(1, 2))
		if got, err := FindRSDP(im.mem, 0); !errors.Is(err, ErrNoRSDP) {
			t.Fatalf("FindRSDP = %#x, %v", got, err)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		if _, err := FindRSDP(lowMem(0x9FC00).mem, 0); !errors.Is(err, ErrNoRSDP) {
			t.Fatalf("err = %v", err)
		}
		empty := newImage(0, 0)
		if _, err := FindRSDP(empty.mem, 0); !errors.Is(err, ErrNoRSDP) {
			t.Fatalf("empty memory: err = %v", err)
		}
		if _, err := FindRSDP(nil, 0); !errors.Is(err, ErrUnreadable) {
			t.Fatalf("nil Mem: err = %v", err)
		}
	})
}
