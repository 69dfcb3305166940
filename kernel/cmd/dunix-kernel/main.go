// Command dunix-kernel is the dunix kernel: built with the stock Go
// toolchain as a static linux/amd64 program, patched by tools/mkkernel into
// a bootable ELF (PVH note, multiboot2 header), and run on bare metal.
package main

import (
	_ "dunix/boot"
	"dunix/kernel"
	"dunix/userland"
)

func main() {
	kernel.UserInit = userland.Start
	kernel.Main()
}
