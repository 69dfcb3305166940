// Package amd64 gives Go access to the x86-64 instructions that only a
// kernel uses: port I/O, model-specific registers, control registers,
// CPUID and XCR0, descriptor-table loads, TLB invalidation, the time-stamp
// counter, the hardware random number generator, and interrupt control.
//
// Every function here is a short assembly routine (cpu_amd64.s) marked
// NOSPLIT, so it may be called from trap context and before the Go runtime
// runs. The package imports nothing of ours.
package amd64
