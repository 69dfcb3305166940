package acpi

import (
	"encoding/binary"
	"errors"
	"testing"
)

// parse parses m laid out in a standard image and fails the test on error.
func parse(t *testing.T, m *machine) (*Tables, *image, addrs) {
	t.Helper()
	im, a := m.standard()
	var tb Tables
	if err := Parse(im.mem, a.rsdp, &tb); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return &tb, im, a
}

// status returns the status recorded for the table at phys.
func status(t *testing.T, tb *Tables, phys uint64) Status {
	t.Helper()
	for _, h := range tb.Headers[:tb.NumHeaders] {
		if h.Phys == phys {
			return h.Status
		}
	}
	t.Fatalf("no header recorded for %#x", phys)
	return 0
}

func TestParseQ35(t *testing.T) {
	tb, _, a := parse(t, qemuQ35())

	if tb.RSDP.Revision != 2 || tb.RSDP.XSDT != a.xsdt || tb.RSDP.Phys != a.rsdp {
		t.Errorf("RSDP = %+v", tb.RSDP)
	}
	if tb.Root.Signature != sigXSDT || tb.Root.Phys != a.xsdt || tb.Root.Status != StatusOK {
		t.Errorf("Root = %+v", tb.Root)
	}
	wantHeaders := []struct {
		sig  string
		phys uint64
	}{{"XSDT", a.xsdt}, {"FACP", a.fadt}, {"APIC", a.madt}, {"HPET", a.hpet}, {"MCFG", a.mcfg}, {"DSDT", a.dsdt}}
	if tb.NumHeaders != len(wantHeaders) || tb.DroppedHeaders != 0 {
		t.Fatalf("NumHeaders = %d (dropped %d), want %d", tb.NumHeaders, tb.DroppedHeaders, len(wantHeaders))
	}
	for i, w := range wantHeaders {
		h := tb.Headers[i]
		if string(h.Signature[:]) != w.sig || h.Phys != w.phys || h.Status != StatusOK || h.Length < headerLen {
			t.Errorf("Headers[%d] = %+v, want %s at %#x", i, h, w.sig, w.phys)
		}
	}
	if h, ok := tb.Table("HPET"); !ok || h.Phys != a.hpet {
		t.Errorf(`Table("HPET") = %+v, %v`, h, ok)
	}
	if _, ok := tb.Table("SRAT"); ok {
		t.Errorf(`Table("SRAT") found`)
	}
	if _, ok := tb.Table("HPE"); ok {
		t.Errorf(`Table("HPE") found`)
	}

	m := &tb.MADT
	if !m.Found || m.LAPICBase != 0xFEE00000 || !m.PCATCompat() || m.Revision != 1 {
		t.Errorf("MADT header fields = found %v base %#x flags %#x rev %d", m.Found, m.LAPICBase, m.Flags, m.Revision)
	}
	if m.NumCPUs != 2 || m.IgnoredCPUs != 1 || tb.EnabledCPUs() != 2 {
		t.Errorf("CPUs = %d (ignored %d, enabled %d)", m.NumCPUs, m.IgnoredCPUs, tb.EnabledCPUs())
	}
	for i := 0; i < 2; i++ {
		c := m.CPUs[i]
		if c.UID != uint32(i) || c.APICID != uint32(i) || !c.Enabled() || c.OnlineCapable() || c.X2APIC {
			t.Errorf("CPUs[%d] = %+v", i, c)
		}
	}
	if m.NumIOAPICs != 1 || m.IOAPICs[0] != (IOAPIC{ID: 0, Address: 0xFEC00000, GSIBase: 0}) {
		t.Errorf("IOAPICs = %d %+v", m.NumIOAPICs, m.IOAPICs[0])
	}
	if m.NumOverrides != 5 {
		t.Errorf("NumOverrides = %d", m.NumOverrides)
	}
	if gsi, fl := m.ISAIRQ(0); gsi != 2 || fl != 0 {
		t.Errorf("ISAIRQ(0) = %d, %#x", gsi, fl)
	}
	if gsi, fl := m.ISAIRQ(9); gsi != 9 || fl != PolarityHigh|TriggerLevel {
		t.Errorf("ISAIRQ(9) = %d, %#x", gsi, fl)
	}
	if gsi, fl := m.ISAIRQ(4); gsi != 4 || fl != 0 {
		t.Errorf("ISAIRQ(4) = %d, %#x", gsi, fl)
	}
	if o := m.Overrides[1]; o.ActiveLow() || !o.LevelTriggered() {
		t.Errorf("Overrides[1] = %+v", o)
	}
	if m.NumNMIs != 1 || m.NMIs[0] != (NMI{UID: AllProcessors, Flags: 0, LINT: 1}) {
		t.Errorf("NMIs = %d %+v", m.NumNMIs, m.NMIs[0])
	}

	f := &tb.FADT
	if !f.Found || f.Revision != 3 || f.Length != 244 {
		t.Errorf("FADT found %v rev %d len %d", f.Found, f.Revision, f.Length)
	}
	if f.SCIInterrupt != 9 || f.SMICommand != 0xB2 || f.ACPIEnable != 2 || f.ACPIDisable != 3 {
		t.Errorf("FADT SCI %d SMI %#x enable %#x disable %#x", f.SCIInterrupt, f.SMICommand, f.ACPIEnable, f.ACPIDisable)
	}
	if f.PM1aEvent != 0x600 || f.PM1aControl != 0x604 || f.PMTimer != 0x608 || f.PM1bControl != 0 || f.PM1bEvent != 0 || f.PM1EventLength != 4 {
		t.Errorf("FADT ports evt %#x cnt %#x tmr %#x cntb %#x", f.PM1aEvent, f.PM1aControl, f.PMTimer, f.PM1bControl)
	}
	if f.PMTimer32 || f.HWReduced || f.Century != 0x32 {
		t.Errorf("FADT tmr32 %v hwreduced %v century %#x", f.PMTimer32, f.HWReduced, f.Century)
	}
	if !f.BootArchValid || !f.Has8042() || f.LegacyDevices() || f.VGANotPresent() || f.CMOSRTCNotPresent() {
		t.Errorf("FADT boot arch %#x valid %v", f.BootArch, f.BootArchValid)
	}
	if !f.ResetSupported || f.Reset != (GAS{SpaceID: SpaceSystemIO, BitWidth: 8, Address: 0xCF9}) || f.ResetValue != 0x0F {
		t.Errorf("FADT reset %v %+v %#x", f.ResetSupported, f.Reset, f.ResetValue)
	}
	if f.DSDT != a.dsdt {
		t.Errorf("FADT DSDT = %#x, want %#x", f.DSDT, a.dsdt)
	}

	if tb.S5 != (S5{Found: true, SLPTypA: 0, SLPTypB: 0, Table: sigDSDT}) {
		t.Errorf("S5 = %+v", tb.S5)
	}
	h := &tb.HPET
	if !h.Found || h.Base != (GAS{SpaceID: SpaceSystemMemory, Address: 0xFED00000}) || h.HWRevision != 1 ||
		h.Comparators != 3 || !h.Counter64 || !h.LegacyReplacement || h.PCIVendor != 0x8086 || h.MinTick != 0x80 {
		t.Errorf("HPET = %+v", *h)
	}
	if mc := &tb.MCFG; !mc.Found || mc.Num != 1 || mc.Entries[0] != (ECAM{Base: 0xB0000000, EndBus: 0xFF}) {
		t.Errorf("MCFG = %+v", *mc)
	}
}

// TestParseQEMUPC mimics QEMU's pc (i440fx) machine with SeaBIOS: RSDP
// revision 0 (RSDT only), a 116-byte revision 1 FADT, no MCFG.
func TestParseQEMUPC(t *testing.T) {
	m := qemuQ35()
	m.rsdpRev = 0
	m.fadtRev = 1
	m.fadtLen = 116
	m.noMCFG = true
	m.fadt.bootArch = 0 // reserved in revision 1
	m.fadt.flags &^= FADTResetRegSup
	tb, _, a := parse(t, m)
	if tb.Root.Signature != sigRSDT || tb.Root.Phys != a.rsdt || tb.Headers[0].Signature != sigRSDT {
		t.Errorf("Root = %+v", tb.Root)
	}
	f := &tb.FADT
	if !f.Found || f.Length != 116 || f.PMTimer != 0x608 || f.PM1aControl != 0x604 || f.Century != 0x32 {
		t.Errorf("FADT = %+v", *f)
	}
	if f.BootArchValid || !f.Has8042() || !f.LegacyDevices() || f.VGANotPresent() || f.CMOSRTCNotPresent() {
		t.Errorf("FADT rev 1 boot arch: valid %v", f.BootArchValid)
	}
	if f.ResetSupported || f.DSDT != a.dsdt || f.MinorVersion != 0 {
		t.Errorf("FADT reset %v DSDT %#x", f.ResetSupported, f.DSDT)
	}
	if !tb.S5.Found || tb.MCFG.Found || !tb.HPET.Found || tb.EnabledCPUs() != 2 {
		t.Errorf("S5 %v MCFG %v HPET %v CPUs %d", tb.S5.Found, tb.MCFG.Found, tb.HPET.Found, tb.EnabledCPUs())
	}
}

func TestFADTRevisions(t *testing.T) {
	base := qemuQ35().fadt
	tests := []struct {
		name  string
		rev   byte
		len   int
		edit  func(f *fadtFields)
		check func(t *testing.T, f *FADT, dsdt uint64)
	}{
		{"acpi1 116", 1, 116, func(f *fadtFields) { f.flags |= FADTTmrValExt }, func(t *testing.T, f *FADT, dsdt uint64) {
			// Revision 1 with RESET_REG_SUP set: the reset register lies
			// beyond the table and must not be reported.
			if f.ResetSupported || f.BootArchValid || !f.PMTimer32 || f.DSDT != dsdt || f.Reset != (GAS{}) {
				t.Errorf("%+v", *f)
			}
		}},
		{"cut in reset register", 2, 128, nil, func(t *testing.T, f *FADT, dsdt uint64) {
			if f.ResetSupported || !f.BootArchValid || f.Reset != (GAS{}) || f.DSDT != dsdt {
				t.Errorf("%+v", *f)
			}
		}},
		{"acpi2 244", 3, 244, nil, func(t *testing.T, f *FADT, dsdt uint64) {
			if !f.ResetSupported || f.PMTimer != 0x608 || f.SleepControl != (GAS{}) || f.DSDT != dsdt {
				t.Errorf("%+v", *f)
			}
		}},
		{"acpi5 268 hw-reduced", 5, 268, func(f *fadtFields) {
			*f = fadtFields{
				flags:    FADTHWReduced | FADTResetRegSup,
				reset:    GAS{SpaceID: SpaceSystemIO, BitWidth: 8, Address: 0x3C0},
				resetVal: 4,
				sleepCtl: GAS{SpaceID: SpaceSystemIO, BitWidth: 8, Address: 0x3C1},
				sleepSts: GAS{SpaceID: SpaceSystemIO, BitWidth: 8, Address: 0x3C2},
				bootArch: BootArchVGANotPresent | BootArchCMOSRTCNotPresent,
			}
		}, func(t *testing.T, f *FADT, dsdt uint64) {
			if !f.HWReduced || f.PMTimer != 0 || f.PM1aControl != 0 || f.SleepControl.Address != 0x3C1 ||
				f.SleepStatus.Address != 0x3C2 || f.Reset.Address != 0x3C0 || f.ResetValue != 4 {
				t.Errorf("%+v", *f)
			}
			if f.Has8042() || f.LegacyDevices() || !f.VGANotPresent() || !f.CMOSRTCNotPresent() {
				t.Errorf("boot arch %#x", f.BootArch)
			}
		}},
		{"acpi6 276 x ports", 6, 276, func(f *fadtFields) {
			f.minor = 5
			f.pmTmr = 0x1008 // X_ block wins when usable
			f.pm1aCnt = 0x1004
			f.xPM1aEvt = GAS{SpaceID: SpaceSystemMemory, Address: 0xFE000000} // not I/O: use legacy
		}, func(t *testing.T, f *FADT, dsdt uint64) {
			if f.MinorVersion != 5 || f.PMTimer != 0x608 || f.PM1aControl != 0x604 || f.PM1aEvent != 0x600 || f.DSDT != dsdt {
				t.Errorf("%+v", *f)
			}
		}},
		{"legacy port out of range", 3, 244, func(f *fadtFields) {
			f.xPMTmr = GAS{}
			f.pmTmr = 0x12345
		}, func(t *testing.T, f *FADT, dsdt uint64) {
			if f.PMTimer != 0 {
				t.Errorf("PMTimer = %#x", f.PMTimer)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := qemuQ35()
			m.fadtRev, m.fadtLen, m.fadt = tc.rev, tc.len, base
			if tc.edit != nil {
				tc.edit(&m.fadt)
			}
			tb, _, a := parse(t, m)
			if !tb.FADT.Found || tb.FADT.Length != uint32(tc.len) || tb.FADT.Revision != tc.rev {
				t.Fatalf("FADT found %v len %d rev %d", tb.FADT.Found, tb.FADT.Length, tb.FADT.Revision)
			}
			tc.check(t, &tb.FADT, a.dsdt)
			if !tb.S5.Found {
				t.Errorf("S5 not found")
			}
		})
	}
}

func TestFADTTooShort(t *testing.T) {
	m := qemuQ35()
	m.fadtLen = 40
	tb, _, a := parse(t, m)
	if tb.FADT.Found || status(t, tb, a.fadt) != StatusMalformed || tb.S5.Found {
		t.Errorf("FADT %+v status %v", tb.FADT, status(t, tb, a.fadt))
	}
}

func TestDSDTAddresses(t *testing.T) {
	t.Run("x_dsdt only", func(t *testing.T) {
		m := qemuQ35()
		m.xdsdtOnly = true
		tb, _, a := parse(t, m)
		if tb.FADT.DSDT != a.dsdt || !tb.S5.Found {
			t.Errorf("DSDT %#x S5 %+v", tb.FADT.DSDT, tb.S5)
		}
	})
	t.Run("bad x_dsdt falls back", func(t *testing.T) {
		m := qemuQ35()
		im := newImage(2<<20, 1<<20)
		garbage := im.place(sdt("SSDT", 1, []byte{1, 2, 3})) // wrong signature for a DSDT
		a := m.build(im)
		// Rewrite X_DSDT to point at the garbage and fix the checksum.
		f := im.buf[a.fadt : a.fadt+244]
		binary.LittleEndian.PutUint64(f[140:], garbage)
		fixsum(f, 9)
		var tb Tables
		if err := Parse(im.mem, a.rsdp, &tb); err != nil {
			t.Fatal(err)
		}
		if tb.FADT.DSDT != a.dsdt || !tb.S5.Found || status(t, &tb, garbage) != StatusBadSignature || status(t, &tb, a.dsdt) != StatusOK {
			t.Errorf("DSDT %#x S5 %+v", tb.FADT.DSDT, tb.S5)
		}
	})
	t.Run("bad dsdt checksum", func(t *testing.T) {
		m := qemuQ35()
		im, a := m.standard()
		im.buf[a.dsdt+headerLen]++
		var tb Tables
		if err := Parse(im.mem, a.rsdp, &tb); err != nil {
			t.Fatal(err)
		}
		if tb.S5.Found || status(t, &tb, a.dsdt) != StatusBadChecksum || !tb.MADT.Found {
			t.Errorf("S5 %+v", tb.S5)
		}
	})
	t.Run("s5 in ssdt", func(t *testing.T) {
		m := qemuQ35()
		m.dsdtAML = dsdtAML(nil)
		m.extra = [][]byte{
			sdt("SSDT", 1, dsdtAML(nil)),
			sdt("SSDT", 2, s5Name(true, aByte(5), aByte(6))),
		}
		tb, _, a := parse(t, m)
		if tb.S5 != (S5{Found: true, SLPTypA: 5, SLPTypB: 6, Table: sigSSDT}) {
			t.Errorf("S5 = %+v", tb.S5)
		}
		if status(t, tb, a.extra[1]) != StatusOK {
			t.Errorf("SSDT status")
		}
	})
	t.Run("no s5", func(t *testing.T) {
		m := qemuQ35()
		m.dsdtAML = dsdtAML(nil)
		tb, _, _ := parse(t, m)
		if tb.S5 != (S5{}) {
			t.Errorf("S5 = %+v", tb.S5)
		}
	})
}

func TestXSDTFallback(t *testing.T) {
	breakXSDT := map[string]func(im *image, a addrs){
		"checksum":  func(im *image, a addrs) { im.buf[a.xsdt+headerLen]++ },
		"signature": func(im *image, a addrs) { im.buf[a.xsdt] = 'Y' },
		"length": func(im *image, a addrs) {
			binary.LittleEndian.PutUint32(im.buf[a.xsdt+4:], 1<<30)
		},
		"beyond memory": func(im *image, a addrs) {
			binary.LittleEndian.PutUint32(im.buf[a.xsdt+4:], uint32(uint64(len(im.buf))-a.xsdt+1))
		},
		"unreadable": func(im *image, a addrs) { im.holes = append(im.holes, [2]uint64{a.xsdt, a.xsdt + 1}) },
	}
	want := map[string]Status{
		"checksum": StatusBadChecksum, "signature": StatusBadSignature, "length": StatusBadLength,
		"beyond memory": StatusTruncated, "unreadable": StatusUnreadable,
	}
	for name, brk := range breakXSDT {
		t.Run(name, func(t *testing.T) {
			im, a := qemuQ35().standard()
			brk(im, a)
			var tb Tables
			if err := Parse(im.mem, a.rsdp, &tb); err != nil {
				t.Fatalf("Parse with RSDT fallback: %v", err)
			}
			if tb.Headers[0].Phys != a.xsdt || tb.Headers[0].Status != want[name] {
				t.Errorf("Headers[0] = %+v, want status %v", tb.Headers[0], want[name])
			}
			if tb.Root.Signature != sigRSDT || tb.Root.Phys != a.rsdt || !tb.MADT.Found || !tb.S5.Found {
				t.Errorf("Root = %+v", tb.Root)
			}

			// Without an RSDT the XSDT's problem is the error.
			m := qemuQ35()
			m.noRSDT = true
			im, a = m.standard()
			brk(im, a)
			if err := Parse(im.mem, a.rsdp, &tb); !errors.Is(err, want[name].Err()) {
				t.Errorf("Parse without RSDT: %v, want %v", err, want[name].Err())
			}
			if tb.MADT.Found || tb.NumHeaders != 1 {
				t.Errorf("tables decoded after a root failure: %+v", tb.Headers[:tb.NumHeaders])
			}
		})
	}
}

func TestRootErrors(t *testing.T) {
	for _, rev := range []int{0, 2} {
		m := qemuQ35()
		m.rsdpRev = rev
		root := func(a addrs) uint64 {
			if rev == 0 {
				return a.rsdt
			}
			return a.xsdt
		}
		cases := []struct {
			name string
			brk  func(im *image, a addrs)
			err  error
		}{
			{"checksum", func(im *image, a addrs) {
				im.buf[a.rsdt+headerLen]++
				im.buf[a.xsdt+headerLen]++
			}, ErrBadChecksum},
			{"short length", func(im *image, a addrs) {
				binary.LittleEndian.PutUint32(im.buf[root(a)+4:], 35)
				binary.LittleEndian.PutUint32(im.buf[a.rsdt+4:], 35)
			}, ErrBadLength},
			{"beyond memory", func(im *image, a addrs) {
				im.buf = im.buf[:im.next]
				binary.LittleEndian.PutUint32(im.buf[root(a)+4:], 0x10000)
				binary.LittleEndian.PutUint32(im.buf[a.rsdt+4:], 0x10000)
			}, ErrTruncated},
		}
		for _, c := range cases {
			im, a := m.standard()
			c.brk(im, a)
			var tb Tables
			if err := Parse(im.mem, a.rsdp, &tb); !errors.Is(err, c.err) {
				t.Errorf("rev %d %s: err = %v, want %v", rev, c.name, err, c.err)
			}
		}
	}

	im := newImage(4096, 16)
	var tb Tables
	noRoot := im.place(rsdpV1(0))
	if err := Parse(im.mem, noRoot, &tb); !errors.Is(err, ErrMalformed) {
		t.Errorf("RSDP without root: %v", err)
	}
	badRSDP := rsdpV1(0x100)
	badRSDP[8]++
	if err := Parse(im.mem, im.place(badRSDP), &tb); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("bad RSDP: %v", err)
	}
	if err := Parse(im.mem, 0, &tb); !errors.Is(err, ErrNoRSDP) {
		t.Errorf("rsdp 0: %v", err)
	}
	if err := Parse(nil, 0x10, &tb); !errors.Is(err, ErrUnreadable) {
		t.Errorf("nil Mem: %v", err)
	}
	// A Mem that returns short slices is treated as refusing the read.
	m := qemuQ35()
	im2, a := m.standard()
	im2.short = true
	if err := Parse(im2.mem, a.rsdp, &tb); !errors.Is(err, ErrUnreadable) {
		t.Errorf("short Mem: %v", err)
	}
}

func TestRootEntriesGarbage(t *testing.T) {
	for _, rev := range []int{0, 2} {
		im := newImage(2<<20, 1<<20)
		m := qemuQ35()
		m.rsdpRev = rev
		zeroLen := im.place(make([]byte, 64))                   // all zero: bad signature? no, no expectation: bad length
		badSum := im.place(sdt("APIC", 1, make([]byte, 8)))     // fixed below
		huge := im.place(sdt("SSDT", 1, nil))                   // length rewritten below
		atEnd := uint64(len(im.buf) - 10)                       // header not readable
		past := uint64(len(im.buf) - headerLen)                 // header readable, body not
		unknown := im.place(sdt("WAET", 1, []byte{0, 0, 0, 0})) // valid but unknown: OK
		im.buf[badSum+40]++
		binary.LittleEndian.PutUint32(im.buf[huge+4:], MaxTableLength+1)
		copy(im.buf[past:], sdt("SSDT", 1, nil))
		binary.LittleEndian.PutUint32(im.buf[past+4:], 100)
		m.extra = nil
		a := m.build(im)

		// Append the garbage entries to the root table(s) by rebuilding them.
		list := []uint64{a.fadt, a.madt, a.hpet, a.mcfg, 0, zeroLen, badSum, huge, atEnd, past, 1 << 50, unknown}
		if rev == 0 {
			list[10] = 0xFFFFFFF0 // RSDT entries are 32 bits
		}
		rs := im.place(rsdt(list...))
		xs := im.place(xsdt(list...))
		var rp []byte
		if rev >= 2 {
			rp = rsdpV2(uint32(rs), xs)
		} else {
			rp = rsdpV1(uint32(rs))
		}
		rsdpAt := im.place(rp)
		var tb Tables
		if err := Parse(im.mem, rsdpAt, &tb); err != nil {
			t.Fatalf("rev %d: Parse: %v", rev, err)
		}
		want := []Status{StatusOK, StatusOK, StatusOK, StatusOK, StatusUnreadable, StatusBadLength,
			StatusBadChecksum, StatusBadLength, StatusUnreadable, StatusTruncated, StatusUnreadable, StatusOK, StatusOK}
		if tb.NumHeaders != len(want)+1 {
			t.Fatalf("rev %d: NumHeaders = %d, want %d", rev, tb.NumHeaders, len(want)+1)
		}
		for i, w := range want {
			if h := tb.Headers[i+1]; h.Status != w {
				t.Errorf("rev %d: Headers[%d] = %+v, want %v", rev, i+1, h, w)
			}
		}
		if !tb.MADT.Found || !tb.FADT.Found || !tb.HPET.Found || !tb.MCFG.Found || !tb.S5.Found {
			t.Errorf("rev %d: valid tables not decoded", rev)
		}
	}
}

func TestDuplicatesAndMalformed(t *testing.T) {
	m := qemuQ35()
	m.extra = [][]byte{
		madt(1, 0xFEE00000, 0, eLAPIC(7, 7, CPUEnabled)),
		fadt(3, 244, fadtFields{}),
		hpet(0, 0xFED01000, 1, 0),
		mcfg(),
	}
	tb, _, a := parse(t, m)
	for i, p := range a.extra {
		if s := status(t, tb, p); s != StatusDuplicate || s.Err() != ErrDuplicate {
			t.Errorf("extra[%d] status = %v", i, s)
		}
	}
	if tb.MADT.NumCPUs != 2 || tb.HPET.Base.Address != 0xFED00000 || tb.FADT.SCIInterrupt != 9 {
		t.Errorf("duplicate overwrote the first table")
	}

	// Malformed first tables leave room for a later valid one.
	m = qemuQ35()
	m.noHPET, m.noMCFG = true, true
	m.madt = madt(1, 0xFEE00000, 0, []byte{0, 0}) // zero-length entry
	m.extra = [][]byte{
		hpet(0, 0, 0, 0),             // base address 0
		sdt("HPET", 1, []byte{1, 2}), // too short
		sdt("MCFG", 1, []byte{1, 2}), // too short
		madt(1, 0xFEE00000, 0, eLAPIC(7, 7, CPUEnabled)),
	}
	tb, _, a = parse(t, m)
	for p, w := range map[uint64]Status{a.madt: StatusMalformed, a.extra[0]: StatusMalformed,
		a.extra[1]: StatusMalformed, a.extra[2]: StatusMalformed, a.extra[3]: StatusOK} {
		if s := status(t, tb, p); s != w || s.Err() != w.Err() {
			t.Errorf("status(%#x) = %v, want %v", p, s, w)
		}
	}
	if tb.HPET.Found || tb.MCFG.Found || !tb.MADT.Found || tb.MADT.NumCPUs != 1 || tb.MADT.CPUs[0].APICID != 7 {
		t.Errorf("HPET %v MCFG %v MADT %+v", tb.HPET.Found, tb.MCFG.Found, tb.MADT.CPUs[0])
	}
}

func TestHeadersOverflow(t *testing.T) {
	m := qemuQ35()
	for i := 0; i < MaxTables+6; i++ {
		m.extra = append(m.extra, sdt("SSDT", 1, []byte{byte(i)}))
	}
	tb, _, _ := parse(t, m)
	// XSDT + FACP + APIC + HPET + MCFG + 70 SSDTs + DSDT.
	total := 1 + 4 + MaxTables + 6 + 1
	if tb.NumHeaders != MaxTables || tb.DroppedHeaders != total-MaxTables || !tb.S5.Found || !tb.MADT.Found {
		t.Errorf("NumHeaders %d dropped %d", tb.NumHeaders, tb.DroppedHeaders)
	}
}

func TestHPETAndMCFG(t *testing.T) {
	m := qemuQ35()
	m.noHPET, m.noMCFG = true, true
	var es []ECAM
	for i := 0; i < MaxECAM+2; i++ {
		es = append(es, ECAM{Base: 0xE0000000 + uint64(i)<<28, Segment: uint16(i), StartBus: 1, EndBus: byte(0x10 + i)})
	}
	mc := mcfg(es...)
	// A trailing partial entry is ignored.
	mc = sdt("MCFG", 1, append(mc[headerLen:], 1, 2, 3))
	m.extra = [][]byte{hpet(0x10DE0401, 0xFED00000, 2, 0x37EE), mc}
	tb, _, _ := parse(t, m)
	h := tb.HPET
	if !h.Found || h.HWRevision != 1 || h.Comparators != 5 || h.Counter64 || h.LegacyReplacement ||
		h.PCIVendor != 0x10DE || h.Number != 2 || h.MinTick != 0x37EE || h.BlockID != 0x10DE0401 {
		t.Errorf("HPET = %+v", h)
	}
	if !tb.MCFG.Found || tb.MCFG.Num != MaxECAM || tb.MCFG.Dropped != 2 {
		t.Fatalf("MCFG num %d dropped %d", tb.MCFG.Num, tb.MCFG.Dropped)
	}
	for i := 0; i < MaxECAM; i++ {
		if tb.MCFG.Entries[i] != es[i] {
			t.Errorf("MCFG.Entries[%d] = %+v, want %+v", i, tb.MCFG.Entries[i], es[i])
		}
	}
}

func TestStatus(t *testing.T) {
	seen := map[string]bool{}
	for s := StatusOK; s <= StatusDuplicate+1; s++ {
		if (s.Err() == nil) != (s == StatusOK) {
			t.Errorf("%v.Err() = %v", s, s.Err())
		}
		if s <= StatusDuplicate {
			if seen[s.String()] {
				t.Errorf("duplicate String %q", s.String())
			}
			seen[s.String()] = true
		}
	}
	if Status(200).Err() != ErrMalformed || Status(200).String() != "malformed" {
		t.Errorf("unknown status")
	}
}

func TestRootEntryCap(t *testing.T) {
	im := newImage(64<<10, 0x40)
	x := im.place(xsdt(make([]uint64, maxRootEntries+76)...))
	r := im.place(rsdpV2(0, x))
	var tb Tables
	if err := Parse(im.mem, r, &tb); err != nil {
		t.Fatal(err)
	}
	// XSDT + 1024 visited entries (all unreadable address 0) + 76 skipped.
	if tb.NumHeaders != MaxTables || tb.DroppedHeaders != 1+maxRootEntries+76-MaxTables {
		t.Errorf("NumHeaders %d dropped %d", tb.NumHeaders, tb.DroppedHeaders)
	}
}
