package virtio

import (
	"encoding/binary"
	"testing"
)

func le32b(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// microvmAML is the shape of QEMU microvm's DSDT entry for one transport:
// Device (VR03) { Name (_HID, "LNRO0005"); Name (_UID, 3); Name (_CCA, One);
// Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xFEB00600,
// 0x200); Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) {19} }) }
func microvmAML(base, gsi uint32) []byte {
	b := []byte{0x5B, 0x82, 0x30, 'V', 'R', '0', '3', 0x08, '_', 'H', 'I', 'D', 0x0D}
	b = append(b, "LNRO0005\x00"...)
	b = append(b, 0x08, '_', 'U', 'I', 'D', 0x0A, 3, 0x08, '_', 'C', 'C', 'A', 0x01)
	b = append(b, 0x08, '_', 'C', 'R', 'S', 0x11, 0x1A, 0x0A, 0x17)
	b = append(b, 0x86, 0x09, 0x00, 0x01)
	b = append(b, le32b(base)...)
	b = append(b, le32b(0x200)...)
	b = append(b, 0x89, 0x06, 0x00, 0x01, 0x01)
	b = append(b, le32b(gsi)...)
	return append(b, 0x79, 0x00)
}

func TestFindMMIO(t *testing.T) {
	aml := append([]byte("junk LNRO0005 without resources "), microvmAML(0xFEB00600, 19)...)
	aml = append(aml, microvmAML(0xFEB00800, 20)...)
	out := make([]MMIOTransport, 8)
	n := FindMMIO(aml, out)
	if n != 2 {
		t.Fatalf("found %d transports: %+v", n, out[:n])
	}
	want := MMIOTransport{Base: 0xFEB00600, Size: 0x200, GSI: 19, Level: true}
	if out[0] != want || out[1].Base != 0xFEB00800 || out[1].GSI != 20 {
		t.Errorf("got %+v", out[:n])
	}
	// Truncated anywhere: never a panic, never a half-decoded device.
	full := microvmAML(0xFEB00600, 19)
	for cut := 0; cut < len(full); cut++ {
		for _, d := range out[:FindMMIO(full[:cut], out)] {
			if d != want {
				t.Errorf("cut at %d: %+v", cut, d)
			}
		}
	}
	if FindMMIO(aml, out[:1]) != 1 {
		t.Error("out's length is not respected")
	}
}

func FuzzFindMMIO(f *testing.F) {
	f.Add(microvmAML(0xFEB00000, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := make([]MMIOTransport, 4)
		if n := FindMMIO(b, out); n > len(out) {
			t.Fatal(n)
		}
	})
}
