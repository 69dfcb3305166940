package vdso

// callC3 calls the SysV ABI function at fn with the integer arguments a,
// b, c (RDI, RSI, RDX) and returns its RAX. It exists for the tests, which
// run the page's code on the host; fn must use no more stack than its
// return address (the page's functions use none) and preserve RBX.
//
//go:noescape
func callC3(fn, a, b, c uintptr) uintptr
