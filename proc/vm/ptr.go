package vm

import "unsafe"

func unsafePagePtr(p *[PageSize]byte) unsafe.Pointer { return unsafe.Pointer(p) }
