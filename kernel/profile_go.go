package kernel

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"dunix/arch/amd64"
)

// Profile samples the node for d and returns the functions where
// interrupts found the CPUs, most frequent first, as text: one line per
// function with its count and share ("user" is user mode, "idle" the
// idle loop).
func Profile(d time.Duration) string {
	StartProfile(0)
	time.Sleep(d)
	return StopProfile(d)
}

// StartProfile starts sampling: at every interrupt, and when period is
// not zero, at a timer interrupt at least every period on each busy CPU.
func StartProfile(period time.Duration) {
	kcall(kcallProfile, 0, uintptr(max(period, 0)))
}

// StopProfile stops sampling and returns the profile as Profile does; d
// is the time it covered, for the heading.
func StopProfile(d time.Duration) string {
	buf := make([]uint64, len(profBuf))
	n, _, e := syscall.RawSyscall(kcallProfile, 1, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if e != 0 {
		return fmt.Sprintf("profile: %v\n", e)
	}
	kept := min(int(n), len(buf))
	idle := uint64(amd64.IdleLoopAddr())
	counts := map[string]int{}
	for _, pc := range buf[:kept] {
		name := "?"
		switch {
		case pc == 1:
			name = "user"
		case pc >= idle && pc < idle+64:
			name = "idle"
		default:
			if f := runtime.FuncForPC(uintptr(pc)); f != nil {
				name = f.Name()
			}
		}
		counts[name]++
	}
	type entry struct {
		name string
		n    int
	}
	var es []entry
	for k, v := range counts {
		es = append(es, entry{k, v})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].n > es[j].n || es[i].n == es[j].n && es[i].name < es[j].name })
	var b strings.Builder
	fmt.Fprintf(&b, "# %d samples in %v (%d kept), one per interrupt\n", n, d, kept)
	for _, e := range es {
		fmt.Fprintf(&b, "%6d %5.1f%%  %s\n", e.n, 100*float64(e.n)/float64(max(kept, 1)), e.name)
	}
	return b.String()
}
