package elf

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseShebang(t *testing.T) {
	long := "/" + strings.Repeat("a", 300)
	tests := []struct {
		in          string
		interp, arg string
		ok          bool
	}{
		{"#!/bin/sh\necho hi\n", "/bin/sh", "", true},
		{"#!/bin/sh", "/bin/sh", "", true},
		{"#! /bin/sh -e\n", "/bin/sh", "-e", true},
		{"#!\t/usr/bin/env  python3 -u  \t\nprint()\n", "/usr/bin/env", "python3 -u", true},
		{"#!/bin/busybox sh -x -e\n", "/bin/busybox", "sh -x -e", true},
		{"#!/bin/sh\r\n", "/bin/sh\r", "", true}, // Linux keeps the CR
		{"#!/bin/sh\x00junk -x\n", "/bin/sh", "", true},
		{"#!/bin/sh -a\x00b\n", "/bin/sh", "-a", true},
		{"#!\n", "", "", false},
		{"#!   \t \n", "", "", false},
		{"#!", "", "", true}, // Linux then fails to open "" (ENOENT)
		{"#!\x00/bin/sh\n", "", "", true},
		{"#", "", "", false},
		{"", "", "", false},
		{"\x7fELF", "", "", false},
		{" #!/bin/sh\n", "", "", false},
		// No newline within 256 bytes: the name must visibly end.
		{"#!" + long, "", "", false},
		{"#!/bin/sh " + long, "/bin/sh", long[:256-2-8-1], true},
		{"#!" + strings.Repeat(" ", 300), "", "", false},
		// A newline at the last byte of the buffer counts.
		{"#!/bin/sh " + strings.Repeat("b", 256-11) + "\n", "/bin/sh", strings.Repeat("b", 256-11), true},
		{"#!/bin/sh " + strings.Repeat("b", 256-10) + "\n", "/bin/sh", strings.Repeat("b", 256-11), true},
	}
	for _, tt := range tests {
		interp, arg, ok := ParseShebang([]byte(tt.in))
		if interp != tt.interp || arg != tt.arg || ok != tt.ok {
			t.Errorf("ParseShebang(%q) = %q, %q, %v; want %q, %q, %v", tt.in, interp, arg, ok, tt.interp, tt.arg, tt.ok)
		}
	}
}

func TestScriptArgs(t *testing.T) {
	got := ScriptArgs("/bin/sh", "-e", "./x.sh", []string{"x.sh", "a", "b"})
	if want := []string{"/bin/sh", "-e", "./x.sh", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	got = ScriptArgs("/bin/sh", "", "/x", nil)
	if want := []string{"/bin/sh", "/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestShebangMatchesLinux runs scripts on the host and compares the
// arguments Linux gives the interpreter with ParseShebang and ScriptArgs.
func TestShebangMatchesLinux(t *testing.T) {
	dir := t.TempDir()
	echo := buildC(t, `#include <stdio.h>
int main(int argc, char **argv) { for (int i = 0; i < argc; i++) printf("%s\n", argv[i]); return 0; }
`, "-static")
	for i, line := range []string{
		"#!" + echo + "\n",
		"#! " + echo + "   -x  -y \t\n",
		"#!\t" + echo + "\targ with spaces\n",
		"#!" + echo + " " + strings.Repeat("z", 300),
	} {
		script := filepath.Join(dir, "s"+string(rune('0'+i)))
		if err := os.WriteFile(script, []byte(line+"rest\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(script, "p1", "p2").Output()
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		linux := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		interp, arg, ok := ParseShebang([]byte(line + "rest\n"))
		if !ok {
			t.Fatalf("%q not parsed", line)
		}
		if ours := ScriptArgs(interp, arg, script, []string{script, "p1", "p2"}); !reflect.DeepEqual(linux, ours) {
			t.Errorf("%q: Linux %q, ours %q", line, linux, ours)
		}
	}
}
