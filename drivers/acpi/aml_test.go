package acpi

import "testing"

// s5Raw builds NameOp "_S5_" PackageOp followed by raw bytes.
func s5Raw(rest ...byte) []byte {
	return append([]byte{amlNameOp, '_', 'S', '5', '_', amlPackageOp}, rest...)
}

func TestFindS5(t *testing.T) {
	long := make([][]byte, 0, 40)
	long = append(long, aByte(3), aByte(4))
	for len(long) < 40 {
		long = append(long, aQWord(0)) // 9 bytes each: > 63 bytes of contents
	}
	tests := []struct {
		name string
		aml  []byte
		a, b uint8
		ok   bool
	}{
		{"qemu zeros", s5Name(false, aZero, aZero, aZero, aZero), 0, 0, true},
		{"root prefix", s5Name(true, aByte(7), aByte(7)), 7, 7, true},
		{"bytes", s5Name(false, aByte(5), aByte(6), aZero, aZero), 5, 6, true},
		{"one and zero", s5Name(false, aOne, aZero), 1, 0, true},
		{"ones", s5Name(false, []byte{amlOnesOp}, aOne), 0xFF, 1, true},
		{"word", s5Name(false, aWord(0x0107), aWord(0x0203)), 7, 3, true},
		{"dword", s5Name(false, aDWord(0xAABBCC05), aByte(2)), 5, 2, true},
		{"qword", s5Name(false, aQWord(0x0600000000000004), aQWord(6)), 4, 6, true},
		{"one element", s5Name(false, aWord(0x0605)), 5, 6, true},
		{"one element byte", s5Name(false, aByte(7)), 7, 0, true},
		{"two byte pkglength", s5Name(false, long...), 3, 4, true},
		{"forced 2-byte pkglength", s5Raw(append(encPkgLength(5, 2), 2, 0x0A, 5, 0x0A, 6)...), 5, 6, true},
		{"forced 3-byte pkglength", s5Raw(append(encPkgLength(5, 3), 2, 0x0A, 5, 0x0A, 6)...), 5, 6, true},
		{"forced 4-byte pkglength", s5Raw(append(encPkgLength(5, 4), 2, 0x0A, 5, 0x0A, 6)...), 5, 6, true},
		{"in dsdt context", dsdtAML(s5Name(true, aByte(5), aByte(5))), 5, 5, true},
		{"first undecodable, second good", cat(
			s5Raw(0x06, 0x02, 'S', 'L', 'P', 'A', 0x00), // NameString element: not a constant
			s5Name(false, aByte(2), aByte(3))), 2, 3, true},
		{"decoy without NameOp", cat([]byte{0x5B, 0x12, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x01}, s5Name(false, aByte(1), aByte(2))), 1, 2, true},
		{"absent", dsdtAML(nil), 0, 0, false},
		{"empty", nil, 0, 0, false},
		{"name only", []byte{amlNameOp, '_', 'S', '5', '_'}, 0, 0, false},
		{"root prefix at start", []byte{'\\', '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x00}, 0, 0, false},
		{"not a package", []byte{amlNameOp, '_', 'S', '5', '_', 0x0A, 0x05}, 0, 0, false},
		{"zero elements", s5Raw(0x02, 0x00), 0, 0, false},
		{"pkglength too small", s5Raw(0x01, 0x02, 0x00, 0x00), 0, 0, false},
		{"pkglength past end", s5Raw(0x10, 0x02, 0x00, 0x00), 0, 0, false},
		{"pkglength reserved bits", s5Raw(0x50, 0x00, 0x02, 0x00, 0x00), 0, 0, false},
		{"pkglength truncated", s5Raw(0xC0, 0x00), 0, 0, false},
		{"pkglength missing", s5Raw(), 0, 0, false},
		{"elements past package", s5Raw(0x03, 0x02, 0x00, 0x00, 0x00), 0, 0, false},
		{"byte prefix truncated", s5Raw(0x04, 0x02, 0x00, 0x0A), 0, 0, false},
		{"dword truncated", s5Raw(0x05, 0x01, 0x0C, 0x01, 0x02), 0, 0, false},
		{"second element missing", s5Raw(0x04, 0x02, 0x0A, 0x05), 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b, ok := findS5(tc.aml)
			if a != tc.a || b != tc.b || ok != tc.ok {
				t.Errorf("findS5(% x) = %d, %d, %v; want %d, %d, %v", tc.aml, a, b, ok, tc.a, tc.b, tc.ok)
			}
			// Every prefix of the stream must be handled without panicking.
			for n := range tc.aml {
				findS5(tc.aml[:n])
			}
			// And via a DSDT in a full parse.
			m := qemuQ35()
			m.dsdtAML = tc.aml
			tb, _, _ := parse(t, m)
			if want := (S5{Found: tc.ok, SLPTypA: tc.a, SLPTypB: tc.b}); tc.ok {
				want.Table = sigDSDT
				if tb.S5 != want {
					t.Errorf("Parse S5 = %+v, want %+v", tb.S5, want)
				}
			} else if tb.S5 != want {
				t.Errorf("Parse S5 = %+v, want not found", tb.S5)
			}
		})
	}
}

func TestPkgLength(t *testing.T) {
	for _, n := range []int{0, 1, 62, 63, 64, 100, 4000, 4095 - 2, 5000, 1 << 20, 1<<28 - 5} {
		for min := 0; min <= 4; min++ {
			enc := func() (b []byte) {
				defer func() {
					if recover() != nil {
						b = nil
					}
				}()
				return encPkgLength(n, min)
			}()
			if enc == nil {
				continue
			}
			got, size, ok := pkgLength(append([]byte{0x99}, append(enc, 0xEE)...), 1)
			if !ok || got != n+len(enc) || size != len(enc) {
				t.Errorf("pkgLength(% x) = %d, %d, %v; want %d, %d", enc, got, size, ok, n+len(enc), len(enc))
			}
		}
	}
	if _, _, ok := pkgLength(nil, 0); ok {
		t.Errorf("pkgLength(nil) ok")
	}
}
