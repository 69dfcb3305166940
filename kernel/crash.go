package kernel

import (
	"dunix/arch/amd64"
	"fmt"
	"os"
)

// crash makes the kernel fail on purpose, for the tests of the crash
// reports: faults in Go code (which become signals and Go panics) and
// faults in trap context (reported by the kernel itself).
func crash(kind string) {
	fmt.Printf("dunix: crashing on purpose: %s\n", kind)
	switch kind {
	case "nil":
		var p *int
		println(*p)
	case "ud":
		ud2()
	case "gp":
		p := (*int)(amd64.Ptr(0x8000_0000_0000_0000))
		println(*p)
	case "trap-pf":
		kcall(kcallCrash, crashTrapPageFault, 0)
	case "trap-ud":
		kcall(kcallCrash, crashTrapInvalidOp, 0)
	case "kstack":
		kcall(kcallCrash, crashKernelStack, 0)
	case "df":
		kcall(kcallCrash, crashDoubleFault, 0)
	case "hang":
		kcall(kcallCrash, crashHang, 0)
		fmt.Println("dunix: back from 3 s with interrupts off")
		PowerOff(0)
	default:
		fmt.Fprintf(os.Stderr, "dunix: unknown crash kind %q\n", kind)
		PowerOff(2)
	}
	fmt.Println("dunix: the crash did not happen")
	PowerOff(1)
}
