// Package cmdline reads the kernel's flags from its command line, which
// reaches the kernel's main as os.Args (see kernel/auxv.go): words like
// "dunix.selftest=1", "dunix.crash=nil", or bare "dunix.probe".
package cmdline

import (
	"strconv"
	"strings"
)

// Flags are the parsed words: name → value ("" for a bare word).
type Flags map[string]string

// Parse reads args; a later word overrides an earlier one.
func Parse(args []string) Flags {
	f := Flags{}
	for _, a := range args {
		if a == "" {
			continue
		}
		name, value, _ := strings.Cut(a, "=")
		f[name] = value
	}
	return f
}

// Has reports whether the flag was given.
func (f Flags) Has(name string) bool {
	_, ok := f[name]
	return ok
}

// String returns the flag's value ("" when absent).
func (f Flags) String(name string) string { return f[name] }

// Bool is true for a bare flag or one set to 1, true, yes or on.
func (f Flags) Bool(name string) bool {
	v, ok := f[name]
	if !ok {
		return false
	}
	switch strings.ToLower(v) {
	case "", "1", "true", "yes", "on":
		return true
	}
	return false
}

// Int returns the flag as an integer, or def when absent or malformed.
func (f Flags) Int(name string, def int) int {
	v, ok := f[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}
