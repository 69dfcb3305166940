//go:build tools

// Package tools pins the modules the host tools and tests use, so that
// go.mod keeps them while the code that imports them is being written.
package tools

import (
	_ "golang.org/x/arch/x86/x86asm"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
