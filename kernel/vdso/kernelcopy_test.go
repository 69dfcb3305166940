package vdso

import (
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestKernelCopy checks the kernel's own copy of the page
// (kernel/vdso_image_amd64.go, written by kernel/gen_vdso.go) against
// Image: after a change here, run `go generate ./kernel`.
func TestKernelCopy(t *testing.T) {
	src, err := os.ReadFile("../vdso_image_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)var vdsoPage = \[(\d+)\]uint64\{(.*?)\}`).FindSubmatch(src)
	if body == nil {
		t.Fatal("no vdsoPage in vdso_image_amd64.go")
	}
	if n, _ := strconv.Atoi(string(body[1])); n != Size/8 {
		t.Fatalf("vdsoPage has %d words, want %d", n, Size/8)
	}
	words := regexp.MustCompile(`0x[0-9a-f]+`).FindAll(body[2], -1)
	if len(words) != Size/8 {
		t.Fatalf("vdsoPage lists %d words, want %d: run go generate ./kernel", len(words), Size/8)
	}
	img := Image(Clock{})
	for i, w := range words {
		v, err := strconv.ParseUint(string(w[2:]), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := binary.LittleEndian.Uint64(img[8*i:]); v != want {
			t.Fatalf("word %d of the kernel's copy is %#x, Image has %#x: run go generate ./kernel", i, v, want)
		}
	}
	for name, off := range map[string]int{"Seq": OffSeq, "TSCBase": OffTSCBase, "Mult": OffMult, "WallBase": OffWallBase, "Usable": OffUsable} {
		m := regexp.MustCompile(`vdso` + name + `Word\s*=\s*(\d+)`).FindSubmatch(src)
		if m == nil {
			t.Fatalf("no vdso%sWord in the kernel's copy", name)
		}
		if got, _ := strconv.Atoi(string(m[1])); got != (DataOffset+off)/8 {
			t.Errorf("vdso%sWord = %d, want %d: run go generate ./kernel", name, got, (DataOffset+off)/8)
		}
	}
}
