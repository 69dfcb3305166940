// Package kimage turns the Go-linked kernel ELF into a bootable image
// (host side; it runs in tools/mkkernel and in tests).
//
// The stock Go linker knows nothing of boot protocols, so the kernel is
// linked with a 32-byte placeholder build-id note (-B) and then patched:
//
//   - every PT_LOAD gets p_paddr = p_vaddr - boot.KernelBase (the kernel
//     is linked in the direct map; loaders place segments by p_paddr);
//   - Go's own note (.note.go.buildid, the only one a PT_NOTE covers) is
//     replaced by the Xen note XEN_ELFNOTE_PHYS32_ENTRY holding the
//     physical address of boot.entry32, which QEMU's -kernel (PVH) boots;
//   - the placeholder build-id payload becomes a multiboot2 header, which
//     GRUB finds in the first 32 KiB; GRUB enters at e_entry (boot.entry32,
//     translated from virtual to physical through the segments).
package kimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// KernelBase must equal boot.KernelBase (checked by a test; this package
// is host-side and does not import the kernel's boot package).
const KernelBase = 0xffff800000000000

// LoadAddress is the physical address of the kernel's first text byte.
const LoadAddress = 0x200000

// EntrySymbol is the loader entry point.
const EntrySymbol = "dunix/boot.entry32"

// Xen PVH and multiboot2 constants.
const (
	xenElfNotePhys32Entry = 18
	multiboot2HeaderMagic = 0xE85250D6
	multiboot2SearchLimit = 32768
	buildIDPlaceholder    = 32 // bytes of -B payload
)

// LinkFlags returns the -ldflags the kernel must be linked with.
func LinkFlags() string {
	base := uint64(KernelBase)
	text := int64(base + LoadAddress)
	return fmt.Sprintf("-E=%s -T=%d -B=0x%s", EntrySymbol, text, zeros(buildIDPlaceholder))
}

func zeros(n int) string { return string(bytes.Repeat([]byte("00"), n)) }

// Info describes a patched image.
type Info struct {
	Entry32       uint64 // physical address of the 32-bit entry
	PVHNoteOffset uint64 // file offset of the Xen note
	MB2Offset     uint64 // file offset of the multiboot2 header
	LowestPhys    uint64 // lowest physical address loaded
	HighestPhys   uint64 // end of the highest segment in memory
}

// Patch rewrites img in place as described in the package comment.
func Patch(img []byte) (Info, error) {
	var info Info
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return info, fmt.Errorf("kimage: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Data != elf.ELFDATA2LSB {
		return info, errors.New("kimage: not a little-endian x86-64 ELF64 file")
	}
	// The linker resolved -E to the assembly (ABI0) symbol; check it is
	// the one we mean, since a Go declaration also creates a wrapper of
	// the same name.
	syms, err := f.Symbols()
	if err != nil {
		return info, fmt.Errorf("kimage: symbols: %w (was the kernel linked with -s?)", err)
	}
	entry := f.Entry
	found := false
	for _, s := range syms {
		if (s.Name == EntrySymbol || s.Name == EntrySymbol+".abi0") && s.Value == entry {
			found = true
		}
	}
	if !found || entry < KernelBase {
		return info, fmt.Errorf("kimage: ELF entry %#x is not %s at KernelBase", entry, EntrySymbol)
	}
	info.Entry32 = entry - KernelBase
	if info.Entry32 >= 1<<32 {
		return info, fmt.Errorf("kimage: entry %#x is not below 4 GiB", info.Entry32)
	}

	le := binary.LittleEndian
	phoff := le.Uint64(img[32:])
	phentsize := uint64(le.Uint16(img[54:]))
	phnum := uint64(le.Uint16(img[56:]))
	if phentsize != 56 || phoff+phnum*phentsize > uint64(len(img)) {
		return info, errors.New("kimage: bad program header table")
	}
	var noteHdr uint64
	info.LowestPhys = ^uint64(0)
	for i := uint64(0); i < phnum; i++ {
		ph := img[phoff+i*phentsize:][:phentsize]
		switch elf.ProgType(le.Uint32(ph[0:])) {
		case elf.PT_LOAD:
			vaddr := le.Uint64(ph[16:])
			if vaddr < KernelBase {
				return info, fmt.Errorf("kimage: segment at %#x is below KernelBase", vaddr)
			}
			paddr := vaddr - KernelBase
			le.PutUint64(ph[24:], paddr)
			memsz := le.Uint64(ph[40:])
			info.LowestPhys = min(info.LowestPhys, paddr)
			info.HighestPhys = max(info.HighestPhys, paddr+memsz)
		case elf.PT_NOTE:
			noteHdr = phoff + i*phentsize
		}
	}
	if info.LowestPhys < 1<<20 {
		return info, fmt.Errorf("kimage: image starts at %#x, inside the first MiB", info.LowestPhys)
	}
	if info.HighestPhys >= 1<<32 {
		return info, fmt.Errorf("kimage: image ends at %#x, above 4 GiB", info.HighestPhys)
	}

	// PVH: the Xen note replaces Go's build-id note.
	goNote := f.Section(".note.go.buildid")
	if goNote == nil || noteHdr == 0 {
		return info, errors.New("kimage: no .note.go.buildid note to replace")
	}
	// The descriptor is 8 bytes (entry, then zeros): QEMU reads an ELF64
	// note's value as a 64-bit word, 32-bit readers take the low half.
	const xenNoteSize = 12 + 4 + 8
	if goNote.Size < xenNoteSize || goNote.Offset+xenNoteSize > uint64(len(img)) {
		return info, errors.New("kimage: Go note too small for the Xen note")
	}
	n := img[goNote.Offset:][:xenNoteSize]
	le.PutUint32(n[0:], 4) // namesz
	le.PutUint32(n[4:], 8) // descsz
	le.PutUint32(n[8:], xenElfNotePhys32Entry)
	copy(n[12:], "Xen\x00")
	le.PutUint64(n[16:], info.Entry32)
	ph := img[noteHdr:][:phentsize]
	le.PutUint64(ph[8:], goNote.Offset)
	le.PutUint64(ph[16:], goNote.Addr)
	le.PutUint64(ph[24:], goNote.Addr-KernelBase)
	le.PutUint64(ph[32:], xenNoteSize)
	le.PutUint64(ph[40:], xenNoteSize)
	info.PVHNoteOffset = goNote.Offset

	// Multiboot2: header in the -B placeholder payload.
	gnu := f.Section(".note.gnu.build-id")
	if gnu == nil {
		return info, errors.New("kimage: no .note.gnu.build-id placeholder (link with -B)")
	}
	desc := gnu.Offset + 16 // namesz, descsz, type, "GNU\0"
	if le.Uint32(img[gnu.Offset+4:]) != buildIDPlaceholder {
		return info, errors.New("kimage: build-id placeholder has the wrong size")
	}
	const mb2Size = 24
	at := (desc + 7) &^ 7
	if at+mb2Size > desc+buildIDPlaceholder || at+mb2Size > multiboot2SearchLimit {
		return info, fmt.Errorf("kimage: no room for the multiboot2 header at %#x", at)
	}
	h := img[at:][:mb2Size]
	le.PutUint32(h[0:], multiboot2HeaderMagic)
	le.PutUint32(h[4:], 0) // i386 protected mode
	le.PutUint32(h[8:], mb2Size)
	sum := uint32(multiboot2HeaderMagic + mb2Size)
	le.PutUint32(h[12:], -sum)
	le.PutUint16(h[16:], 0) // end tag
	le.PutUint16(h[18:], 0)
	le.PutUint32(h[20:], 8)
	info.MB2Offset = at
	return info, nil
}

// Inspect reads back what Patch wrote, checking it the way the loaders do:
// a PT_NOTE holding the Xen PHYS32_ENTRY note, and a valid multiboot2
// header on an 8-byte boundary in the first 32 KiB.
func Inspect(img []byte) (Info, error) {
	var info Info
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return info, err
	}
	le := binary.LittleEndian
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			if p.Paddr != p.Vaddr-KernelBase {
				return info, fmt.Errorf("segment %#x: paddr %#x", p.Vaddr, p.Paddr)
			}
		}
		if p.Type != elf.PT_NOTE {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return info, err
		}
		for len(b) >= 12 {
			namesz, descsz, typ := le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])
			name := b[12:]
			nlen := (uint64(namesz) + 3) &^ 3
			dlen := (uint64(descsz) + 3) &^ 3
			if uint64(len(name)) < nlen+dlen {
				break
			}
			if typ == xenElfNotePhys32Entry && string(name[:namesz]) == "Xen\x00" && descsz >= 4 {
				info.Entry32 = uint64(le.Uint32(name[nlen:]))
				info.PVHNoteOffset = p.Off
			}
			b = name[nlen+dlen:]
		}
	}
	if info.Entry32 == 0 {
		return info, errors.New("no Xen PHYS32_ENTRY note in any PT_NOTE")
	}
	for off := 0; off+16 <= multiboot2SearchLimit && off+16 <= len(img); off += 8 {
		if le.Uint32(img[off:]) != multiboot2HeaderMagic {
			continue
		}
		sum := le.Uint32(img[off:]) + le.Uint32(img[off+4:]) + le.Uint32(img[off+8:]) + le.Uint32(img[off+12:])
		if sum == 0 {
			info.MB2Offset = uint64(off)
			return info, nil
		}
	}
	return info, errors.New("no multiboot2 header in the first 32 KiB")
}
