package boot

import (
	"encoding/binary"
	"testing"
)

// physMem is a fake physical memory of the test's size.
type physMem []byte

func (m physMem) read(phys, n uint64) []byte {
	if phys > uint64(len(m)) || n > uint64(len(m))-phys {
		return nil
	}
	return m[phys : phys+n]
}

func pvhImage() physMem {
	m := make(physMem, 0x10000)
	le := binary.LittleEndian
	const si, cmd, mmap, mods = 0x1000, 0x2000, 0x3000, 0x4000
	le.PutUint32(m[si:], PVHMagic)
	le.PutUint32(m[si+4:], 1)
	le.PutUint32(m[si+12:], 1)
	le.PutUint64(m[si+16:], mods)
	le.PutUint64(m[si+24:], cmd)
	le.PutUint64(m[si+32:], 0xF5A40)
	le.PutUint64(m[si+40:], mmap)
	le.PutUint32(m[si+48:], 3)
	copy(m[cmd:], "dunix.selftest=1 quiet\x00")
	regions := []Region{{0, 0x9fc00, 1}, {0xf0000, 0x10000, 2}, {0x100000, 0xff00000, 1}}
	for i, r := range regions {
		e := m[mmap+i*24:]
		le.PutUint64(e, r.Base)
		le.PutUint64(e[8:], r.Size)
		le.PutUint32(e[16:], r.Type)
	}
	le.PutUint64(m[mods:], 0x8000)
	le.PutUint64(m[mods+8:], 0x500)
	return m
}

func TestPVH(t *testing.T) {
	m := pvhImage()
	var info Info
	if err := Parse(0, 0x1000, m.read, &info); err != nil {
		t.Fatal(err)
	}
	if info.Loader != LoaderPVH || string(info.CmdlineString()) != "dunix.selftest=1 quiet" || info.RSDP != 0xF5A40 {
		t.Fatalf("got loader %d cmdline %q rsdp %#x", info.Loader, info.CmdlineString(), info.RSDP)
	}
	if info.NRegions != 3 || info.Regions[2] != (Region{0x100000, 0xff00000, RegionRAM}) {
		t.Fatalf("regions %+v", info.Regions[:info.NRegions])
	}
	if info.NModules != 1 || info.Modules[0] != (Module{0x8000, 0x8500}) {
		t.Fatalf("modules %+v", info.Modules[:info.NModules])
	}
	if info.NUsed < 4 {
		t.Fatalf("used %+v", info.Used[:info.NUsed])
	}
}

func TestPVHVersion0HasNoMap(t *testing.T) {
	m := pvhImage()
	binary.LittleEndian.PutUint32(m[0x1004:], 0)
	var info Info
	if err := Parse(0, 0x1000, m.read, &info); err != ErrNoMemoryMap {
		t.Fatalf("err = %v", err)
	}
}

func mb2Image() physMem {
	m := make(physMem, 0x4000)
	le := binary.LittleEndian
	off := 0x1000 + 8
	tag := func(typ uint32, body []byte) {
		le.PutUint32(m[off:], typ)
		le.PutUint32(m[off+4:], uint32(8+len(body)))
		copy(m[off+8:], body)
		off += (8 + len(body) + 7) &^ 7
	}
	tag(mb2TagCmdline, []byte("console=ttyS0\x00"))
	mm := make([]byte, 8+2*24)
	le.PutUint32(mm, 24)
	le.PutUint64(mm[8:], 0)
	le.PutUint64(mm[16:], 0x9fc00)
	le.PutUint32(mm[24:], 1)
	le.PutUint64(mm[32:], 0x100000)
	le.PutUint64(mm[40:], 0x7f00000)
	le.PutUint32(mm[48:], 1)
	tag(mb2TagMmap, mm)
	tag(mb2TagACPIOld, []byte("RSD PTR xxxxxxxxxxxxxxxxxxxx"))
	mod := make([]byte, 8)
	le.PutUint32(mod, 0x2000)
	le.PutUint32(mod[4:], 0x2100)
	tag(mb2TagModule, append(mod, "initrd\x00"...))
	tag(mb2TagEnd, nil)
	le.PutUint32(m[0x1000:], uint32(off-0x1000))
	return m
}

func TestMultiboot2(t *testing.T) {
	m := mb2Image()
	var info Info
	if err := Parse(Multiboot2Magic, 0x1000, m.read, &info); err != nil {
		t.Fatal(err)
	}
	if info.Loader != LoaderMultiboot2 || string(info.CmdlineString()) != "console=ttyS0" {
		t.Fatalf("loader %d cmdline %q", info.Loader, info.CmdlineString())
	}
	if info.NRegions != 2 || info.Regions[1].Base != 0x100000 || info.RSDP == 0 {
		t.Fatalf("regions %+v rsdp %#x", info.Regions[:info.NRegions], info.RSDP)
	}
	if got := string(m[info.RSDP : info.RSDP+8]); got != "RSD PTR " {
		t.Fatalf("RSDP points at %q", got)
	}
	if info.NModules != 1 || info.Modules[0] != (Module{0x2000, 0x2100}) {
		t.Fatalf("modules %+v", info.Modules[:info.NModules])
	}
}

func TestMultiboot2Malformed(t *testing.T) {
	m := mb2Image()
	binary.LittleEndian.PutUint32(m[0x1000+12:], 0xFFFF) // first tag runs past the end
	var info Info
	if err := Parse(Multiboot2Magic, 0x1000, m.read, &info); err != ErrBadInfo {
		t.Fatalf("err = %v", err)
	}
	if err := Parse(0x1234, 0x1000, m.read, &info); err != ErrUnknownLoader {
		t.Fatalf("err = %v", err)
	}
	if err := Parse(Multiboot2Magic, 0x3FFC, m.read, &info); err != ErrBadInfo {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(pvhImage()[:0x5000]), uint32(0), uint64(0x1000))
	f.Add([]byte(mb2Image()), uint32(Multiboot2Magic), uint64(0x1000))
	f.Fuzz(func(t *testing.T, data []byte, magic uint32, at uint64) {
		var info Info
		_ = Parse(magic, at, physMem(data).read, &info)
		if info.NRegions > MaxRegions || info.CmdlineLen >= MaxCmdline || info.NModules > MaxModules {
			t.Fatalf("capacities exceeded: %d %d %d", info.NRegions, info.CmdlineLen, info.NModules)
		}
	})
}

func TestParseAllocatesNothing(t *testing.T) {
	m := pvhImage()
	var info Info
	if n := testing.AllocsPerRun(10, func() { _ = Parse(0, 0x1000, m.read, &info) }); n != 0 {
		t.Fatalf("Parse allocates %v times", n)
	}
}
