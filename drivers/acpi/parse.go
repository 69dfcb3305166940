package acpi

// Table signatures this package knows.
var (
	sigXSDT = [4]byte{'X', 'S', 'D', 'T'}
	sigRSDT = [4]byte{'R', 'S', 'D', 'T'}
	sigMADT = [4]byte{'A', 'P', 'I', 'C'}
	sigFADT = [4]byte{'F', 'A', 'C', 'P'}
	sigDSDT = [4]byte{'D', 'S', 'D', 'T'}
	sigSSDT = [4]byte{'S', 'S', 'D', 'T'}
	sigHPET = [4]byte{'H', 'P', 'E', 'T'}
	sigMCFG = [4]byte{'M', 'C', 'F', 'G'}
)

// maxRootEntries bounds how many root table entries Parse visits, so that
// a corrupt root table cannot make it read millions of tables. Real firmware
// lists well under a hundred.
const maxRootEntries = 1024

// Parse validates the RSDP at rsdp, walks the root table it points to and
// decodes the tables this package knows into t (which must not be nil and
// is cleared first).
//
// The XSDT is used when the RSDP revision is >= 2 and its address is not
// zero; if the XSDT is not valid and the RSDP also names an RSDT, the RSDT
// is used instead (the rejected XSDT stays in t.Headers with its Status).
// Parse returns an error only when the RSDP or the root table is unusable.
// A listed table that is unreadable, fails its checksum or is malformed is
// skipped: its Header records the reason, and its decoded struct keeps
// Found == false. Only the first valid MADT, FADT, HPET and MCFG are
// decoded; later ones are marked StatusDuplicate. Root entries beyond the
// first 1024 are not visited and are counted in t.DroppedHeaders.
//
// \_S5_ is looked up in the DSDT named by the FADT (X_DSDT preferred, the
// 32-bit DSDT address as fallback when X_DSDT is unusable), then in the
// SSDTs recorded in t.Headers.
//
//go:nosplit
func Parse(mem Mem, rsdp uint64, t *Tables) error {
	*t = Tables{}
	if mem == nil {
		return ErrUnreadable
	}
	if err := readRSDP(mem, rsdp, &t.RSDP); err != nil {
		return err
	}
	root, entry, err := loadRoot(mem, t)
	if err != nil {
		return err
	}
	for i, off := 0, headerLen; off+entry <= len(root); i, off = i+1, off+entry {
		if i >= maxRootEntries {
			t.DroppedHeaders++
			continue
		}
		var phys uint64
		if entry == 8 {
			phys = u64(root, off)
		} else {
			phys = uint64(u32(root, off))
		}
		visit(mem, phys, t)
	}
	if t.FADT.Found {
		findDSDT(mem, t)
	}
	if !t.S5.Found {
		scanSSDTs(mem, t)
	}
	return nil
}

// loadRoot loads the XSDT or RSDT named by t.RSDP, records the header(s)
// tried, and returns the root table with its entry size (8 or 4 bytes).
//
//go:nosplit
func loadRoot(mem Mem, t *Tables) ([]byte, int, error) {
	var h Header
	status := StatusOK
	if t.RSDP.Revision >= 2 && t.RSDP.XSDT != 0 {
		b := loadTable(mem, t.RSDP.XSDT, sigXSDT, &h)
		t.addHeader(&h)
		if b != nil {
			t.Root = h
			return b, 8, nil
		}
		if t.RSDP.RSDT == 0 {
			return nil, 0, h.Status.Err()
		}
		status = h.Status
	}
	if t.RSDP.RSDT == 0 {
		return nil, 0, ErrMalformed
	}
	b := loadTable(mem, uint64(t.RSDP.RSDT), sigRSDT, &h)
	t.addHeader(&h)
	if b == nil {
		if status != StatusOK {
			return nil, 0, status.Err() // report the preferred table's problem
		}
		return nil, 0, h.Status.Err()
	}
	t.Root = h
	return b, 4, nil
}

// visit loads the table at phys, decodes it when it is one this package
// knows, and records its header.
//
//go:nosplit
func visit(mem Mem, phys uint64, t *Tables) {
	var h Header
	if b := loadTable(mem, phys, [4]byte{}, &h); b != nil {
		h.Status = decode(b, h.Signature, t)
	}
	t.addHeader(&h)
}

// decode dispatches a checked table to its decoder and returns its status.
//
//go:nosplit
func decode(b []byte, s [4]byte, t *Tables) Status {
	switch s {
	case sigMADT:
		if t.MADT.Found {
			return StatusDuplicate
		}
		if !decodeMADT(b, &t.MADT) {
			t.MADT = MADT{}
			return StatusMalformed
		}
	case sigFADT:
		if t.FADT.Found {
			return StatusDuplicate
		}
		if !decodeFADT(b, &t.FADT) {
			t.FADT = FADT{}
			return StatusMalformed
		}
	case sigHPET:
		if t.HPET.Found {
			return StatusDuplicate
		}
		if !decodeHPET(b, &t.HPET) {
			t.HPET = HPET{}
			return StatusMalformed
		}
	case sigMCFG:
		if t.MCFG.Found {
			return StatusDuplicate
		}
		if !decodeMCFG(b, &t.MCFG) {
			t.MCFG = MCFG{}
			return StatusMalformed
		}
	}
	return StatusOK
}

// findDSDT loads the DSDT named by the FADT, records its header and looks
// for \_S5_ in it.
//
//go:nosplit
func findDSDT(mem Mem, t *Tables) {
	var h Header
	b := loadTable(mem, t.FADT.DSDT, sigDSDT, &h)
	if b == nil && t.FADT.dsdtAlt != 0 && t.FADT.dsdtAlt != t.FADT.DSDT {
		t.addHeader(&h)
		t.FADT.DSDT = t.FADT.dsdtAlt
		b = loadTable(mem, t.FADT.DSDT, sigDSDT, &h)
	}
	t.addHeader(&h)
	if b != nil {
		t.S5.find(b, sigDSDT)
	}
}

// scanSSDTs looks for \_S5_ in the valid SSDTs recorded in t.Headers.
//
//go:nosplit
func scanSSDTs(mem Mem, t *Tables) {
	var h Header
	for i := 0; i < t.NumHeaders && i < MaxTables && !t.S5.Found; i++ {
		if t.Headers[i].Signature != sigSSDT || t.Headers[i].Status != StatusOK {
			continue
		}
		if b := loadTable(mem, t.Headers[i].Phys, sigSSDT, &h); b != nil {
			t.S5.find(b, sigSSDT)
		}
	}
}
