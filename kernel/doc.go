// Package kernel hosts the Go runtime on bare metal: it is the "Linux" the
// stock GOOS=linux runtime believes it runs on. It owns physical memory,
// the kernel's address space, threads and their scheduling on all CPUs,
// clocks, the console, and it answers, in trap context, every system call
// the runtime and the standard library make.
package kernel
