// Package klog writes the kernel's own messages to the console from trap
// context: no allocation, no system call, no buffer on the stack (the
// nosplit stack budget is small), and a lock so that lines from different
// CPUs do not interleave. The lock is recursive per CPU, so that an NMI
// that prints on a CPU already printing does not deadlock.
//
//	klog.Begin().S("dunix: cpu ").D(id).S(" online").End()
package klog

import (
	"sync/atomic"

	"dunix/arch/amd64"
	"dunix/drivers/uart"
)

var (
	owner   atomic.Uint64 // GS base of the CPU holding the console, +1
	depth   int
	console = uart.COM1
)

// Line is a console line being written; its methods write at once.
type Line struct{}

//go:nosplit
func self() uint64 { return amd64.Rdmsr(amd64.MSRGSBase) + 1 }

//go:nosplit
func lock() {
	me := self()
	if owner.Load() == me {
		depth++
		return
	}
	for !owner.CompareAndSwap(0, me) {
		amd64.Pause()
	}
	depth = 1
}

//go:nosplit
func unlock() {
	depth--
	if depth == 0 {
		owner.Store(0)
	}
}

// Begin starts a line, taking the console.
//
//go:nosplit
func Begin() Line {
	lock()
	return Line{}
}

// End finishes the line and gives the console back.
//
//go:nosplit
func (l Line) End() {
	console.PutByte('\r')
	console.PutByte('\n')
	unlock()
}

// S writes a string.
//
//go:nosplit
func (l Line) S(s string) Line {
	console.WriteString(s)
	return l
}

// B writes bytes.
//
//go:nosplit
func (l Line) B(b []byte) Line {
	console.Write(b)
	return l
}

// C writes one byte.
//
//go:nosplit
func (l Line) C(c byte) Line {
	console.PutByte(c)
	return l
}

// D writes v in decimal.
//
//go:nosplit
func (l Line) D(v uint64) Line {
	var t [20]byte
	i := len(t)
	for {
		i--
		t[i] = byte('0' + v%10)
		v /= 10
		if v == 0 || i == 0 {
			break
		}
	}
	console.Write(t[i:])
	return l
}

// I writes a signed v in decimal.
//
//go:nosplit
func (l Line) I(v int64) Line {
	if v < 0 {
		console.PutByte('-')
		return l.D(uint64(-v))
	}
	return l.D(uint64(v))
}

// X writes v in hexadecimal with a 0x prefix.
//
//go:nosplit
func (l Line) X(v uint64) Line {
	console.WriteString("0x")
	return l.hex(v, 1)
}

// X16 writes v as 16 hexadecimal digits.
//
//go:nosplit
func (l Line) X16(v uint64) Line { return l.hex(v, 16) }

//go:nosplit
func (l Line) hex(v uint64, min int) Line {
	const digits = "0123456789abcdef"
	var t [16]byte
	i := len(t)
	for (v != 0 || len(t)-i < min) && i > 0 {
		i--
		t[i] = digits[v&0xF]
		v >>= 4
	}
	console.Write(t[i:])
	return l
}

// Write writes s to the console as it is (where the write system call on
// the console ends).
//
//go:nosplit
func Write(s []byte) {
	lock()
	console.Write(s)
	unlock()
}

// WriteString writes s to the console as it is.
//
//go:nosplit
func WriteString(s string) {
	lock()
	console.WriteString(s)
	unlock()
}

// Init programs the console UART.
//
//go:nosplit
func Init() {
	console.Init(115200)
}

// Break takes the console away from whoever holds it: a dying kernel must
// be able to speak even if it died holding the console.
//
//go:nosplit
func Break() {
	owner.Store(0)
	depth = 0
}

// WriteRaw writes b as it is, without turning "\n" into "\r\n" (the
// user console's line discipline has done that already).
//
//go:nosplit
func WriteRaw(b []byte) {
	lock()
	for _, c := range b {
		console.PutByte(c)
	}
	unlock()
}
