package kimage

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"dunix/boot"
)

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// kernel builds the kernel once for all tests of this package.
func kernel(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kimage")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "kernel.elf")
		_, buildErr = Build(context.Background(), "../..", built)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKernelBaseAgrees(t *testing.T) {
	if KernelBase != boot.KernelBase {
		t.Fatalf("kimage.KernelBase %#x != boot.KernelBase %#x", uint64(KernelBase), uint64(boot.KernelBase))
	}
}

func TestPatchedKernelIsBootable(t *testing.T) {
	img := kernel(t)
	info, err := Inspect(img)
	if err != nil {
		t.Fatal(err)
	}
	if info.MB2Offset%8 != 0 || info.MB2Offset >= 32768 {
		t.Fatalf("multiboot2 header at %#x", info.MB2Offset)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if f.Entry-KernelBase != info.Entry32 {
		t.Fatalf("PVH entry %#x, ELF entry %#x", info.Entry32, f.Entry)
	}
	// Patching again is harmless (the build does it once).
	again := append([]byte(nil), img...)
	if _, err := Patch(again); err != nil {
		t.Fatalf("second patch: %v", err)
	}
}

// entry32 runs in 32-bit mode although the Go assembler wrote it as
// 64-bit code: decoding it both ways must give the same instructions, and
// there must be no REX prefix (a 32-bit CPU would read it as INC/DEC).
func TestEntry32Is32BitClean(t *testing.T) {
	img := kernel(t)
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := f.Symbols()
	var start, end uint64
	for _, s := range syms {
		if s.Name == EntrySymbol+".abi0" || s.Name == EntrySymbol && s.Value == f.Entry {
			start, end = s.Value, s.Value+s.Size
		}
	}
	if start == 0 {
		t.Fatal("entry32 not found")
	}
	text := f.Section(".text")
	code := make([]byte, end-start)
	if _, err := text.ReadAt(code, int64(start-text.Addr)); err != nil {
		t.Fatal(err)
	}
	var listing []string
	for off := 0; off < len(code); {
		i32, err32 := x86asm.Decode(code[off:], 32)
		i64, err64 := x86asm.Decode(code[off:], 64)
		if err32 != nil || err64 != nil {
			t.Fatalf("%#x: undecodable (%v, %v)", start+uint64(off), err32, err64)
		}
		s32 := x86asm.IntelSyntax(i32, start+uint64(off), nil)
		s64 := x86asm.IntelSyntax(i64, start+uint64(off), nil)
		if i32.Len != i64.Len || i32.Op != i64.Op {
			t.Fatalf("%#x: 32-bit %q vs 64-bit %q", start+uint64(off), s32, s64)
		}
		if code[off]&0xF0 == 0x40 {
			t.Fatalf("%#x: REX prefix in 32-bit code: %q", start+uint64(off), s64)
		}
		listing = append(listing, s32)
		off += i32.Len
		if i32.Op == x86asm.LRET {
			break // the far return into 64-bit code ends the 32-bit part
		}
	}
	all := strings.Join(listing, "\n")
	for _, want := range []string{"cli", "lgdt", "mov cr3, eax", "wrmsr", "mov cr0, eax", "ret far"} {
		if !strings.Contains(all, want) {
			t.Errorf("entry32 lacks %q:\n%s", want, all)
		}
	}
}
