package qemutest

import (
	"bytes"
	"encoding/binary"
)

// PVHKernel returns a minimal 32-bit ELF kernel with a Xen PVH entry note,
// small enough to be generated in a test. QEMU boots it with -kernel on both
// q35 and microvm. It needs no memory of its own beyond its image and uses
// no stack. It writes to COM1:
//
//	tiny: cmdline=<the kernel command line>
//	tiny: rsdp=yes|no    (whether the PVH start info carries an ACPI RSDP)
//	<text>
//
// and then writes status to the isa-debug-exit port 0xf4, so that QEMU exits
// with code (status<<1)|1. Text should end in a newline.
func PVHKernel(text string, status uint32) []byte {
	return pvhKernel(text, status, false)
}

// PVHTripleFault returns a kernel like PVHKernel's that, instead of writing
// a status, loads an empty IDT and raises an exception: the CPU triple
// faults, and QEMU (with -no-reboot) exits with code 0.
func PVHTripleFault(text string) []byte {
	return pvhKernel(text, 0, true)
}

func pvhKernel(text string, status uint32, crash bool) []byte {
	const (
		base     = 0x100000 // physical load address
		ehdrSize = 52
		phdrSize = 32
		noteOff  = ehdrSize + 2*phdrSize // 116
		noteSize = 12 + 4 + 4            // header, "Xen\0", entry
		codeOff  = 144
	)

	// Strings follow the code; their addresses are patched in afterwards.
	// The fifth string is an empty IDT descriptor (limit 0, base 0).
	strs := []string{"tiny: cmdline=", "\ntiny: rsdp=yes\n", "\ntiny: rsdp=no\n", text, "\x00\x00\x00\x00\x00"}
	var code bytes.Buffer
	var fixups []struct{ at, str int } // imm32 positions that need a string address

	movESI := func(str int) { // mov esi, imm32
		code.WriteByte(0xBE)
		fixups = append(fixups, struct{ at, str int }{code.Len(), str})
		code.Write([]byte{0, 0, 0, 0})
	}
	// print writes the NUL-terminated string at ESI to COM1, polling the
	// line status register (THR empty, bit 5) before each byte.
	print := func() {
		code.Write([]byte{
			0x66, 0xBA, 0xFD, 0x03, // next: mov dx, 0x3fd (LSR)
			0xEC,       // wait: in al, dx
			0xA8, 0x20, // test al, 0x20
			0x74, 0xFB, // jz wait
			0xAC,       // lodsb
			0x84, 0xC0, // test al, al
			0x74, 0x07, // jz done
			0x66, 0xBA, 0xF8, 0x03, // mov dx, 0x3f8 (THR)
			0xEE,       // out dx, al
			0xEB, 0xEB, // jmp next
		}) // done:
	}

	code.WriteByte(0xFC) // cld: lodsb walks forwards
	movESI(0)
	print()
	code.Write([]byte{0x8B, 0x73, 0x18}) // mov esi, [ebx+24]: start_info.cmdline_paddr
	print()
	movESI(1)
	code.Write([]byte{0x83, 0x7B, 0x20, 0x00}) // cmp dword [ebx+32], 0: start_info.rsdp_paddr
	code.Write([]byte{0x75, 0x05})             // jne +5 (skip the next mov)
	movESI(2)
	print()
	movESI(3)
	print()
	if crash {
		code.Write([]byte{0x0F, 0x01, 0x1D}) // lidt [disp32]: the empty IDT
		fixups = append(fixups, struct{ at, str int }{code.Len(), 4})
		code.Write([]byte{0, 0, 0, 0})
		code.WriteByte(0xCC) // int3: #BP, #DF, triple fault
	}
	code.WriteByte(0xB8) // mov eax, status
	binary.Write(&code, binary.LittleEndian, status)
	code.Write([]byte{0x66, 0xBA, 0xF4, 0x00}) // mov dx, 0xf4
	code.WriteByte(0xEF)                       // out dx, eax: isa-debug-exit
	code.Write([]byte{0xFA, 0xF4, 0xEB, 0xFC}) // halt: cli; hlt; jmp halt

	// Lay out the strings after the code and patch their addresses.
	img := code.Bytes()
	strAddr := make([]uint32, len(strs))
	var data bytes.Buffer
	for i, s := range strs {
		strAddr[i] = uint32(base + codeOff + len(img) + data.Len())
		data.WriteString(s)
		data.WriteByte(0)
	}
	for _, f := range fixups {
		binary.LittleEndian.PutUint32(img[f.at:], strAddr[f.str])
	}

	var out bytes.Buffer
	le := binary.LittleEndian
	total := uint32(codeOff + len(img) + data.Len())
	entry := uint32(base + codeOff)
	w := func(v any) { binary.Write(&out, le, v) }

	// ELF header (ELFCLASS32, little endian, EM_386, ET_EXEC).
	out.Write([]byte{0x7F, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w(uint16(2))        // e_type: ET_EXEC
	w(uint16(3))        // e_machine: EM_386
	w(uint32(1))        // e_version
	w(entry)            // e_entry
	w(uint32(ehdrSize)) // e_phoff
	w(uint32(0))        // e_shoff
	w(uint32(0))        // e_flags
	w(uint16(ehdrSize)) // e_ehsize
	w(uint16(phdrSize)) // e_phentsize
	w(uint16(2))        // e_phnum
	w(uint16(40))       // e_shentsize
	w(uint16(0))        // e_shnum
	w(uint16(0))        // e_shstrndx

	// PT_LOAD: the whole file at 1 MiB, read/write/execute.
	w([8]uint32{1, 0, base, base, total, total, 7, 0x1000})
	// PT_NOTE: the PVH entry note.
	w([8]uint32{4, noteOff, base + noteOff, base + noteOff, noteSize, noteSize, 4, 4})

	// Note: namesz, descsz, type XEN_ELFNOTE_PHYS32_ENTRY (18), "Xen\0", entry.
	w([3]uint32{4, 4, 18})
	out.WriteString("Xen\x00")
	w(entry)

	for out.Len() < codeOff {
		out.WriteByte(0)
	}
	out.Write(img)
	out.Write(data.Bytes())
	return out.Bytes()
}
