// Command mkkernel builds the bootable dunix kernel image: it links
// dunix/kernel/cmd/dunix-kernel with the stock go command and patches in the
// PVH note and the multiboot2 header (see package dunix/boot/kimage).
//
//	go run ./tools/mkkernel -o bin/dunix-kernel-amd64
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"dunix/boot/kimage"
)

func main() {
	out := flag.String("o", "bin/dunix-kernel-amd64", "output file")
	dir := flag.String("C", ".", "root of the dunix module")
	verbose := flag.Bool("v", false, "print where the entry point and headers landed")
	flag.Parse()
	info, err := kimage.Build(context.Background(), *dir, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkkernel:", err)
		os.Exit(1)
	}
	if *verbose {
		fmt.Printf("%s: entry32 at %#x, loaded at [%#x, %#x), PVH note at file offset %#x, multiboot2 header at %#x\n",
			*out, info.Entry32, info.LowestPhys, info.HighestPhys, info.PVHNoteOffset, info.MB2Offset)
	}
}
