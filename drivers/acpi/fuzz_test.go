package acpi

import (
	"bytes"
	"testing"
)

// Fuzz mode bits for FuzzParse.
const (
	fuzzFixChecksums = 1 << 0 // repair checksums so the decoders see the bytes
	fuzzShortMem     = 1 << 1 // Mem returns one byte less than asked
)

// FuzzParse runs Parse over arbitrary memory (phys p is data[p]) with an
// arbitrary RSDP address.
func FuzzParse(f *testing.F) {
	for _, m := range sweepMachines() {
		im, a := m.compact()
		f.Add(im.buf, a.rsdp, uint8(0))
		f.Add(im.buf, a.rsdp, uint8(fuzzFixChecksums))
	}
	f.Add([]byte("RSD PTR "), uint64(0), uint8(fuzzFixChecksums))
	f.Fuzz(func(t *testing.T, data []byte, rsdp uint64, mode uint8) {
		if len(data) > 1<<20 {
			return
		}
		im := &image{buf: append([]byte(nil), data...), short: mode&fuzzShortMem != 0}
		if mode&fuzzFixChecksums != 0 {
			fixChecksums(im.buf, rsdp)
		}
		var tb Tables
		err := Parse(im.mem, rsdp, &tb)
		checkInvariants(t, &tb, err)
		if rsdp == 0 {
			return
		}
		p, ferr := FindRSDP(im.mem, rsdp)
		if (ferr == nil) != (p == rsdp) {
			t.Fatalf("FindRSDP(%#x) = %#x, %v", rsdp, p, ferr)
		}
		if (ferr == nil) != (tb.RSDP.Phys == rsdp) {
			t.Fatalf("FindRSDP and Parse disagree on %#x: %v / %+v", rsdp, ferr, tb.RSDP)
		}
	})
}

// decodeSigs are the table kinds FuzzDecode feeds to the decoders.
var decodeSigs = []string{"APIC", "FACP", "HPET", "MCFG", "DSDT"}

// FuzzDecode wraps arbitrary bytes in a valid table header of a known kind
// (so checksums never stop the input) and runs the decoder on it.
func FuzzDecode(f *testing.F) {
	q := qemuQ35()
	f.Add(uint8(0), uint8(1), q.madt[headerLen:])
	f.Add(uint8(0), uint8(5), sweepMachines()["big"].madt[headerLen:])
	f.Add(uint8(1), uint8(3), fadt(3, 244, q.fadt)[headerLen:])
	f.Add(uint8(1), uint8(6), fadt(6, 276, q.fadt)[headerLen:])
	f.Add(uint8(1), uint8(1), fadt(1, 116, q.fadt)[headerLen:])
	f.Add(uint8(2), uint8(1), hpet(0x8086A201, 0xFED00000, 0, 0)[headerLen:])
	f.Add(uint8(3), uint8(1), mcfg(ECAM{Base: 0xB0000000, EndBus: 0xFF})[headerLen:])
	f.Add(uint8(4), uint8(2), q.dsdtAML)
	f.Fuzz(func(t *testing.T, kind, rev uint8, body []byte) {
		if len(body) > 1<<16 {
			return
		}
		s := decodeSigs[int(kind)%len(decodeSigs)]
		tbl := sdt(s, rev, body)
		var tb Tables
		st := decode(tbl, sig(tbl), &tb)
		if s == "DSDT" {
			tb.S5.find(tbl, sigDSDT)
		}
		checkInvariants(t, &tb, nil)
		found := tb.MADT.Found || tb.FADT.Found || tb.HPET.Found || tb.MCFG.Found
		if (st == StatusOK) != (found || s == "DSDT") {
			t.Fatalf("%s: status %v but found %v", s, st, found)
		}
		if tb.FADT.Found && tb.FADT.Length != uint32(len(tbl)) {
			t.Fatalf("FADT length %d, table %d", tb.FADT.Length, len(tbl))
		}
	})
}

// FuzzS5 runs the \_S5_ search over arbitrary AML, directly and through a
// DSDT in a full parse.
func FuzzS5(f *testing.F) {
	f.Add(s5Name(false, aZero, aZero, aZero, aZero))
	f.Add(s5Name(true, aByte(5), aByte(6)))
	f.Add(s5Name(false, aWord(0x0605)))
	f.Add(s5Name(false, aDWord(7), aQWord(7)))
	f.Add(s5Raw(append(encPkgLength(5, 4), 2, 0x0A, 5, 0x0A, 6)...))
	f.Add(dsdtAML(s5Name(true, aOne, []byte{amlOnesOp})))
	f.Fuzz(func(t *testing.T, aml []byte) {
		if len(aml) > 1<<16 {
			return
		}
		a, b, ok := findS5(aml)
		if ok && !bytes.Contains(aml, []byte("_S5_")) {
			t.Fatalf("found S5 (%d, %d) without _S5_", a, b)
		}
		if !ok && (a != 0 || b != 0) {
			t.Fatalf("not found but values %d, %d", a, b)
		}
		var s S5
		s.find(sdt("DSDT", 2, aml), sigDSDT)
		if s.Found != ok || (ok && (s.SLPTypA != a || s.SLPTypB != b)) {
			t.Fatalf("S5.find = %+v, findS5 = %d, %d, %v", s, a, b, ok)
		}
	})
}
