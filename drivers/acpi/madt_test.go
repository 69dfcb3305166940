package acpi

import "testing"

// parseMADT parses a q35 machine whose MADT is replaced by table.
func parseMADT(t *testing.T, table []byte) (*Tables, addrs) {
	t.Helper()
	m := qemuQ35()
	m.madt = table
	tb, _, a := parse(t, m)
	return tb, a
}

func TestMADTX2APIC(t *testing.T) {
	tb, _ := parseMADT(t, madt(5, 0xFEE00000, 0,
		eLAPIC(0, 0, CPUEnabled),
		eLAPIC(1, 1, CPUOnlineCapable),     // hot-pluggable later
		eLAPIC(2, 0xFF, CPUEnabled),        // invalid APIC ID
		eX2APIC(0, CPUEnabled, 100),        // same CPU as APIC ID 0
		eX2APIC(300, CPUEnabled|0x80, 300), // reserved flag bits dropped
		eX2APIC(0xFFFFFFFF, CPUEnabled, 7), // invalid x2APIC ID
		eX2APIC(301, 0, 301),               // unusable
		[]byte{0x7F, 5, 1, 2, 3},           // unknown type: skipped
		[]byte{madtX2APIC, 20, 0, 0, 46, 1, 0, 0, 1, 0, 0, 0, 46, 1, 0, 0, 9, 9, 9, 9}, // longer than needed
		eLAPICOverride(0x1_0000_0000),
		eX2NMI(PolarityLow|TriggerLevel, AllProcessors, 1),
		eNMI(3, PolarityHigh, 0),
	))
	m := &tb.MADT
	want := []CPU{
		{UID: 0, APICID: 0, Flags: CPUEnabled},
		{UID: 1, APICID: 1, Flags: CPUOnlineCapable},
		{UID: 300, APICID: 300, Flags: CPUEnabled, X2APIC: true},
		{UID: 302, APICID: 302, Flags: CPUEnabled, X2APIC: true},
	}
	if m.NumCPUs != len(want) || m.IgnoredCPUs != 4 || m.DroppedCPUs != 0 {
		t.Fatalf("NumCPUs %d ignored %d dropped %d: %+v", m.NumCPUs, m.IgnoredCPUs, m.DroppedCPUs, m.CPUs[:m.NumCPUs])
	}
	for i, w := range want {
		if m.CPUs[i] != w {
			t.Errorf("CPUs[%d] = %+v, want %+v", i, m.CPUs[i], w)
		}
	}
	if tb.EnabledCPUs() != 3 || !m.CPUs[1].OnlineCapable() || m.CPUs[1].Enabled() {
		t.Errorf("EnabledCPUs = %d", tb.EnabledCPUs())
	}
	if m.LAPICBase != 0x1_0000_0000 || m.PCATCompat() {
		t.Errorf("LAPICBase %#x flags %#x", m.LAPICBase, m.Flags)
	}
	wantNMI := []NMI{{UID: AllProcessors, Flags: PolarityLow | TriggerLevel, LINT: 1}, {UID: 3, Flags: PolarityHigh, LINT: 0}}
	if m.NumNMIs != 2 || m.NMIs[0] != wantNMI[0] || m.NMIs[1] != wantNMI[1] {
		t.Errorf("NMIs = %+v", m.NMIs[:m.NumNMIs])
	}
}

func TestMADTOnlineCapableNeedsRev5(t *testing.T) {
	tb, _ := parseMADT(t, madt(4, 0xFEE00000, 0, eLAPIC(0, 0, CPUEnabled), eLAPIC(1, 1, CPUOnlineCapable)))
	if tb.MADT.NumCPUs != 1 || tb.MADT.IgnoredCPUs != 1 {
		t.Errorf("rev 4: NumCPUs %d ignored %d", tb.MADT.NumCPUs, tb.MADT.IgnoredCPUs)
	}
}

func TestMADTCapacity(t *testing.T) {
	var es [][]byte
	for i := 0; i < MaxCPUs+44; i++ {
		es = append(es, eX2APIC(uint32(i), CPUEnabled, uint32(i)))
	}
	for i := 0; i < MaxIOAPICs+3; i++ {
		es = append(es, eIOAPIC(byte(i), 0xFEC00000+uint32(i)<<12, uint32(24*i)))
	}
	for i := 0; i < MaxOverrides+5; i++ {
		es = append(es, eOverride(0, byte(i), uint32(i), TriggerEdge))
	}
	for i := 0; i < MaxNMIs+2; i++ {
		es = append(es, eNMI(byte(i), 0, 1))
	}
	tb, _ := parseMADT(t, madt(1, 0xFEE00000, 0, es...))
	m := &tb.MADT
	if m.NumCPUs != MaxCPUs || m.DroppedCPUs != 44 || tb.EnabledCPUs() != MaxCPUs {
		t.Errorf("CPUs %d dropped %d", m.NumCPUs, m.DroppedCPUs)
	}
	if m.NumIOAPICs != MaxIOAPICs || m.DroppedIOAPICs != 3 || m.IOAPICs[15].GSIBase != 24*15 {
		t.Errorf("IOAPICs %d dropped %d", m.NumIOAPICs, m.DroppedIOAPICs)
	}
	if m.NumOverrides != MaxOverrides || m.DroppedOverrides != 5 || m.Overrides[31].Source != 31 {
		t.Errorf("Overrides %d dropped %d", m.NumOverrides, m.DroppedOverrides)
	}
	if m.NumNMIs != MaxNMIs || m.DroppedNMIs != 2 {
		t.Errorf("NMIs %d dropped %d", m.NumNMIs, m.DroppedNMIs)
	}
}

func TestMADTMalformed(t *testing.T) {
	cases := map[string][]byte{
		"zero length entry":    madt(1, 0xFEE00000, 0, eLAPIC(0, 0, 1), []byte{0, 0, 0, 0}),
		"length one":           madt(1, 0xFEE00000, 0, []byte{0x7F, 1, 0}),
		"overruns table":       madt(1, 0xFEE00000, 0, eLAPIC(0, 0, 1), []byte{1, 12, 0, 0}),
		"short lapic":          madt(1, 0xFEE00000, 0, []byte{madtLAPIC, 6, 0, 0, 1, 0}),
		"short ioapic":         madt(1, 0xFEE00000, 0, []byte{madtIOAPIC, 8, 0, 0, 0, 0, 0xC0, 0xFE}),
		"short override":       madt(1, 0xFEE00000, 0, []byte{madtOverride, 8, 0, 0, 2, 0, 0, 0}),
		"short nmi":            madt(1, 0xFEE00000, 0, []byte{madtLAPICNMI, 5, 0xFF, 0, 0}),
		"short lapic override": madt(1, 0xFEE00000, 0, []byte{madtLAPICOverride, 8, 0, 0, 0, 0, 0, 0}),
		"short x2apic":         madt(1, 0xFEE00000, 0, []byte{madtX2APIC, 12, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}),
		"short x2nmi":          madt(1, 0xFEE00000, 0, []byte{madtX2APICNMI, 8, 0, 0, 0, 0, 0, 0}),
		"no fixed part":        sdt("APIC", 1, []byte{0, 0, 0xE0, 0xFE}),
	}
	for name, table := range cases {
		t.Run(name, func(t *testing.T) {
			tb, a := parseMADT(t, table)
			if tb.MADT.Found || tb.MADT.NumCPUs != 0 || status(t, tb, a.madt) != StatusMalformed {
				t.Errorf("MADT = found %v cpus %d, status %v", tb.MADT.Found, tb.MADT.NumCPUs, status(t, tb, a.madt))
			}
			if !tb.FADT.Found || !tb.S5.Found {
				t.Errorf("other tables lost")
			}
		})
	}
	// A lone trailing byte is padding, not an error.
	tb, _ := parseMADT(t, madt(1, 0xFEE00000, 0, eLAPIC(0, 0, 1), []byte{0}))
	if !tb.MADT.Found || tb.MADT.NumCPUs != 1 {
		t.Errorf("trailing byte: found %v cpus %d", tb.MADT.Found, tb.MADT.NumCPUs)
	}
}
