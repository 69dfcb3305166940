package elf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// stackView reads a process stack image back, independently of
// BuildStack: mem holds [sp, top).
type stackView struct {
	t       *testing.T
	mem     []byte
	sp, top uint64
	owner   []string // per byte: what it belongs to ("" = unclaimed)
}

func newView(t *testing.T, mem []byte, sp, top uint64) *stackView {
	if uint64(len(mem)) != top-sp {
		t.Fatalf("len(mem) = %d, top-sp = %d", len(mem), top-sp)
	}
	return &stackView{t: t, mem: mem, sp: sp, top: top, owner: make([]string, len(mem))}
}

// claim marks [addr, addr+n) as belonging to what; overlapping claims and
// claims outside the image fail the test.
func (v *stackView) claim(addr, n uint64, what string) []byte {
	v.t.Helper()
	if addr < v.sp || addr+n > v.top || addr+n < addr {
		v.t.Fatalf("%s [%#x, +%d) outside the stack [%#x, %#x)", what, addr, n, v.sp, v.top)
	}
	for i := addr - v.sp; i < addr-v.sp+n; i++ {
		if v.owner[i] != "" {
			v.t.Fatalf("%s overlaps %s at %#x", what, v.owner[i], v.sp+i)
		}
		v.owner[i] = what
	}
	return v.mem[addr-v.sp : addr-v.sp+n]
}

func (v *stackView) word(addr uint64, what string) uint64 {
	return binary.LittleEndian.Uint64(v.claim(addr, 8, what))
}

// cstr claims and returns the NUL-terminated string at addr.
func (v *stackView) cstr(addr uint64, what string) string {
	v.t.Helper()
	if addr < v.sp || addr >= v.top {
		v.t.Fatalf("%s at %#x outside the stack", what, addr)
	}
	n := bytes.IndexByte(v.mem[addr-v.sp:], 0)
	if n < 0 {
		v.t.Fatalf("%s at %#x not terminated", what, addr)
	}
	return string(v.claim(addr, uint64(n+1), what)[:n])
}

// parsed is what a stack says.
type parsed struct {
	argv, envp   []string
	argvAddr     []uint64
	envAddr      []uint64
	auxv         []AuxEntry
	auxEnd       uint64
	execfn       string
	random       []byte
	platform     string
	platformAddr uint64
}

func (v *stackView) parse() parsed {
	var p parsed
	a := v.sp
	argc := v.word(a, "argc")
	a += 8
	if argc > 1000 {
		v.t.Fatalf("argc %d", argc)
	}
	for i := uint64(0); i < argc; i++ {
		ptr := v.word(a, "argv pointer")
		p.argvAddr = append(p.argvAddr, ptr)
		p.argv = append(p.argv, v.cstr(ptr, "argv string"))
		a += 8
	}
	if v.word(a, "argv NULL") != 0 {
		v.t.Fatal("argv not NULL-terminated")
	}
	a += 8
	for {
		ptr := v.word(a, "envp pointer")
		a += 8
		if ptr == 0 {
			break
		}
		p.envAddr = append(p.envAddr, ptr)
		p.envp = append(p.envp, v.cstr(ptr, "env string"))
	}
	for {
		typ, val := v.word(a, "auxv type"), v.word(a+8, "auxv value")
		a += 16
		if typ == AT_NULL {
			break
		}
		p.auxv = append(p.auxv, AuxEntry{typ, val})
		switch typ {
		case AT_EXECFN:
			p.execfn = v.cstr(val, "execfn")
		case AT_PLATFORM:
			p.platform = v.cstr(val, "platform")
			p.platformAddr = val
		case AT_RANDOM:
			p.random = append([]byte(nil), v.claim(val, 16, "random")...)
		}
	}
	p.auxEnd = a
	v.claim(v.top-8, 8, "top word")
	return p
}

// unclaimed returns the ranges of bytes nobody claimed, failing the test
// if any is not zero.
func (v *stackView) unclaimed() [][2]uint64 {
	var out [][2]uint64
	for i := 0; i < len(v.owner); i++ {
		if v.owner[i] != "" {
			continue
		}
		j := i
		for j < len(v.owner) && v.owner[j] == "" {
			if v.mem[j] != 0 {
				v.t.Errorf("unclaimed byte at %#x is %#x", v.sp+uint64(j), v.mem[j])
			}
			j++
		}
		out = append(out, [2]uint64{v.sp + uint64(i), v.sp + uint64(j)})
		i = j
	}
	return out
}

func testAuxv() []AuxEntry {
	img := &Image{Phdr: 0x400040, Phent: 56, Phnum: 10, Entry: 0x401530}
	return img.Auxv(AuxParams{UID: 1000, EUID: 1000, GID: 100, EGID: 100, HWCap: 0x178bfbff, HWCap2: 2,
		MinSigStkSz: 3632, SysinfoEHDR: 0x7ffff7fc1000})
}

func TestBuildStackLayout(t *testing.T) {
	const top = 0x7ffffffff000
	args := []string{"/bin/sh", "-c", "echo hi", ""}
	env := []string{"HOME=/", "PATH=/bin:/usr/bin", "TERM=vt100"}
	var random [16]byte
	for i := range random {
		random[i] = byte(0xa0 + i)
	}
	for extra := 0; extra < 4; extra++ { // vary the padding
		args := append(args, strings.Repeat("x", extra*5))
		mem, sp, err := BuildStack(top, args, env, "/bin/busybox", testAuxv(), random)
		if err != nil {
			t.Fatal(err)
		}
		if sp%16 != 0 {
			t.Fatalf("sp %#x not 16-byte aligned", sp)
		}
		v := newView(t, mem, sp, top)
		p := v.parse()
		if !reflect.DeepEqual(p.argv, args) || !reflect.DeepEqual(p.envp, env) {
			t.Fatalf("argv %q envp %q", p.argv, p.envp)
		}
		if p.execfn != "/bin/busybox" || p.platform != "x86_64" || !bytes.Equal(p.random, random[:]) {
			t.Fatalf("execfn %q platform %q random %x", p.execfn, p.platform, p.random)
		}
		// auxv: the caller's entries with ours inserted in Linux's order.
		var types []uint64
		for _, e := range p.auxv {
			types = append(types, e.Type)
		}
		want := []uint64{AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT,
			AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_RANDOM,
			AT_HWCAP2, AT_EXECFN, AT_PLATFORM}
		if !reflect.DeepEqual(types, want) {
			t.Fatalf("auxv types %v, want %v", types, want)
		}
		for _, e := range p.auxv {
			for _, c := range testAuxv() {
				if c.Type == e.Type && c.Val != e.Val {
					t.Errorf("auxv %d = %#x, caller gave %#x", e.Type, e.Val, c.Val)
				}
			}
		}
		// Strings: argv ascending, then env, then execfn, then the top word.
		next := p.argvAddr[0]
		for i, a := range append(append([]uint64{}, p.argvAddr...), p.envAddr...) {
			if a != next {
				t.Fatalf("string %d at %#x, want %#x", i, a, next)
			}
			s := append(append([]string{}, p.argv...), p.envp...)[i]
			next += uint64(len(s) + 1)
		}
		execfnAddr := p.auxv[18].Val
		if execfnAddr != next || execfnAddr+uint64(len(p.execfn))+1 != top-8 {
			t.Fatalf("execfn at %#x, strings end %#x, top %#x", execfnAddr, next, top)
		}
		// Platform right below the 16-aligned strings, random right below.
		if p.platformAddr+7 > p.argvAddr[0] || p.argvAddr[0]&^15-p.platformAddr != 7 {
			t.Fatalf("platform at %#x, strings at %#x", p.platformAddr, p.argvAddr[0])
		}
		if p.auxv[16].Val != p.platformAddr-16 {
			t.Fatalf("random at %#x, platform at %#x", p.auxv[16].Val, p.platformAddr)
		}
		// The only unclaimed bytes: padding below random (< 16) and the
		// alignment gap below the strings (< 16).
		gaps := v.unclaimed()
		for _, g := range gaps {
			switch {
			case g[0] == p.auxEnd && g[1] == p.auxv[16].Val && g[1]-g[0] < 16:
			case g[0] == p.platformAddr+7 && g[1] == p.argvAddr[0] && g[1]-g[0] < 16:
			default:
				t.Errorf("unexpected gap [%#x, %#x)", g[0], g[1])
			}
		}
	}
}

func TestBuildStackEmptyArgs(t *testing.T) {
	mem, sp, err := BuildStack(1<<20, nil, nil, "/init", nil, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	v := newView(t, mem, sp, 1<<20)
	p := v.parse()
	if !reflect.DeepEqual(p.argv, []string{""}) || len(p.envp) != 0 || p.execfn != "/init" {
		t.Fatalf("argv %q envp %q execfn %q", p.argv, p.envp, p.execfn)
	}
	var types []uint64
	for _, e := range p.auxv {
		types = append(types, e.Type)
	}
	if !reflect.DeepEqual(types, []uint64{AT_RANDOM, AT_EXECFN, AT_PLATFORM}) {
		t.Errorf("auxv types %v", types)
	}
	v.unclaimed()
}

func TestBuildStackErrors(t *testing.T) {
	big := strings.Repeat("a", MaxArgStrlen-1) // with its NUL: exactly the limit
	tests := []struct {
		name      string
		args, env []string
		execfn    string
		auxv      []AuxEntry
		top       uint64
		want      error
	}{
		{"max string", []string{big}, nil, "/x", nil, 1 << 40, nil},
		{"string too long", []string{big + "a"}, nil, "/x", nil, 1 << 40, syscall.E2BIG},
		{"env too long", nil, []string{big + "a"}, "/x", nil, 1 << 40, syscall.E2BIG},
		{"execfn too long", nil, nil, big + "a", nil, 1 << 40, syscall.E2BIG},
		{"total", []string{big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big}, nil, "/x", nil, 1 << 40, syscall.E2BIG},
		{"pointers", make([]string, MaxArgTotal/8), nil, "/x", nil, 1 << 40, syscall.E2BIG},
		{"NUL", []string{"a\x00b"}, nil, "/x", nil, 1 << 40, syscall.EINVAL},
		{"AT_NULL", nil, nil, "/x", []AuxEntry{{AT_NULL, 0}}, 1 << 40, syscall.EINVAL},
		{"AT_RANDOM", nil, nil, "/x", []AuxEntry{{AT_RANDOM, 0}}, 1 << 40, syscall.EINVAL},
		{"misaligned top", nil, nil, "/x", nil, 1<<40 - 8, syscall.EINVAL},
		{"no room", []string{"abc"}, nil, "/x", nil, 64, syscall.EINVAL},
	}
	for _, tt := range tests {
		_, _, err := BuildStack(tt.top, tt.args, tt.env, tt.execfn, tt.auxv, [16]byte{})
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
	// Exactly at the total limit (Linux's arithmetic: the strings with
	// their NULs plus 8 bytes per pointer).
	var args []string
	n := 0
	for n+8+MaxArgStrlen+12 <= MaxArgTotal {
		args = append(args, big)
		n += 8 + MaxArgStrlen
	}
	// One more pointer and string, and "/x\x00": 12 bytes besides the
	// string's characters.
	args = append(args, strings.Repeat("b", MaxArgTotal-n-12))
	if err := CheckArgs(args, nil, "/x", MaxArgTotal); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
	args[len(args)-1] += "b"
	if err := CheckArgs(args, nil, "/x", MaxArgTotal); err != syscall.E2BIG {
		t.Errorf("one byte over the limit: %v", err)
	}
}

// cStackDump prints what Linux put on the initial stack, in the terms of
// stackFacts.
const cStackDump = `#include <stdio.h>
#include <string.h>
#include <elf.h>
int main(int argc, char **argv, char **envp) {
	unsigned long sp = (unsigned long)(argv - 1);
	char **e = envp;
	while (*e) e++;
	Elf64_auxv_t *av = (Elf64_auxv_t *)(e + 1);
	unsigned long execfn = 0, plat = 0, rnd = 0;
	for (; av->a_type != AT_NULL; av++) {
		printf("aux %lu\n", (unsigned long)av->a_type);
		if (av->a_type == AT_EXECFN) execfn = av->a_un.a_val;
		if (av->a_type == AT_PLATFORM) plat = av->a_un.a_val;
		if (av->a_type == AT_RANDOM) rnd = av->a_un.a_val;
	}
	unsigned long auxend = (unsigned long)(av + 1);
	unsigned long words = (auxend - sp) / 8;
	printf("sp%%16 %lu\n", sp % 16);
	printf("platform %s\n", (char *)plat);
	printf("plat-rnd %ld\n", (long)(plat - rnd));
	printf("rnd-auxend %ld\n", (long)(rnd - auxend));
	printf("expected-pad %lu\n", (rnd - 8 * words) - ((rnd - 8 * words) & ~15UL));
	int contiguous = 1;
	char *next = argv[0];
	for (int i = 0; i < argc; i++) { if (argv[i] != next) contiguous = 0; next += strlen(argv[i]) + 1; }
	for (char **p = envp; *p; p++) { if (*p != next) contiguous = 0; next += strlen(*p) + 1; }
	printf("contiguous %d\n", contiguous);
	printf("execfn-follows %d\n", (unsigned long)next == execfn);
	printf("execfn %s\n", (char *)execfn);
	unsigned long top = execfn + strlen((char *)execfn) + 1 + 8;
	printf("top%%4096 %lu\n", top % 4096);
	printf("top-word %lu\n", *(unsigned long *)(top - 8));
	printf("plat-below-strings %d\n", plat + 7 <= (unsigned long)argv[0] && (plat + 7) % 16 == 0);
	return 0;
}
`

// stackFacts computes from our stack image the facts cStackDump prints.
func stackFacts(t *testing.T, mem []byte, sp, top uint64) (facts map[string]string, aux []uint64) {
	v := newView(t, mem, sp, top)
	p := v.parse()
	facts = map[string]string{}
	var execfn, rnd uint64
	for _, e := range p.auxv {
		aux = append(aux, e.Type)
		switch e.Type {
		case AT_EXECFN:
			execfn = e.Val
		case AT_RANDOM:
			rnd = e.Val
		}
	}
	words := (p.auxEnd - sp) / 8
	facts["sp%16"] = fmt.Sprint(sp % 16)
	facts["platform"] = p.platform
	facts["plat-rnd"] = fmt.Sprint(p.platformAddr - rnd)
	facts["rnd-auxend"] = fmt.Sprint(rnd - p.auxEnd)
	facts["expected-pad"] = fmt.Sprint((rnd - 8*words) % 16)
	contiguous, next := 1, p.argvAddr[0]
	for i, a := range append(append([]uint64{}, p.argvAddr...), p.envAddr...) {
		if a != next {
			contiguous = 0
		}
		next += uint64(len(append(append([]string{}, p.argv...), p.envp...)[i]) + 1)
	}
	facts["contiguous"] = fmt.Sprint(contiguous)
	facts["execfn-follows"] = fmt.Sprint(b2i(next == execfn))
	facts["execfn"] = p.execfn
	facts["top%4096"] = fmt.Sprint((execfn + uint64(len(p.execfn)) + 1 + 8) % 4096)
	facts["top-word"] = fmt.Sprint(binary.LittleEndian.Uint64(mem[top-8-sp:]))
	facts["plat-below-strings"] = fmt.Sprint(b2i(p.platformAddr+7 <= p.argvAddr[0] && (p.platformAddr+7)%16 == 0))
	return facts, aux
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestBuildStackMatchesLinux runs a static C program that describes the
// stack the host's Linux kernel built for it, and compares that with what
// BuildStack builds for the same arguments and environment.
func TestBuildStackMatchesLinux(t *testing.T) {
	prog := buildC(t, cStackDump, "-static")
	for _, tc := range []struct{ args, env []string }{
		{[]string{"a"}, []string{"X=1"}},
		{[]string{"one", "two", "three and four"}, []string{"HOME=/", "TERM=vt100", "Y="}},
		{[]string{"p", "qq"}, nil},
	} {
		cmd := exec.Command(prog, tc.args[1:]...)
		cmd.Args[0] = tc.args[0]
		cmd.Env = tc.env
		if tc.env == nil {
			cmd.Env = []string{}
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", prog, err)
		}
		linux := map[string]string{}
		var linuxAux []uint64
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			k, val, _ := strings.Cut(line, " ")
			if k == "aux" {
				n, _ := strconv.ParseUint(val, 10, 64)
				linuxAux = append(linuxAux, n)
				continue
			}
			linux[k] = val
		}
		mem, sp, err := BuildStack(0x7ffffffff000, tc.args, tc.env, prog, testAuxv(), [16]byte{})
		if err != nil {
			t.Fatal(err)
		}
		ours, ourAux := stackFacts(t, mem, sp, 0x7ffffffff000)
		if !reflect.DeepEqual(linux, ours) {
			t.Errorf("args %q env %q:\nLinux %v\nours  %v", tc.args, tc.env, linux, ours)
		}
		// Linux's auxv, without the entries we do not produce, is ours in
		// the same order; what we do not produce is known.
		have := map[uint64]bool{}
		for _, a := range ourAux {
			have[a] = true
		}
		var common []uint64
		for _, a := range linuxAux {
			if have[a] {
				common = append(common, a)
				continue
			}
			switch a {
			case AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN, 29, 30, AT_SYSINFO_EHDR, AT_MINSIGSTKSZ:
			default:
				t.Errorf("Linux gives auxv type %d that BuildStack/Image.Auxv do not", a)
			}
		}
		var ourCommon []uint64
		in := map[uint64]bool{}
		for _, a := range linuxAux {
			in[a] = true
		}
		for _, a := range ourAux {
			if in[a] {
				ourCommon = append(ourCommon, a)
			}
		}
		if !reflect.DeepEqual(common, ourCommon) {
			t.Errorf("auxv order: Linux %v, ours %v", linuxAux, ourAux)
		}
		t.Logf("Linux auxv %v; ours %v", linuxAux, ourAux)
	}
}
