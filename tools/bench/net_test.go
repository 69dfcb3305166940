//go:build linux

package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"dunix/qemu"
)

// TestNetOffloadsOnTapLAN runs the network benchmark's dunix half, small,
// on a tap LAN (a bridge of taps with virtio-net headers, in a network
// namespace of its own): the cards offer checksum and segmentation
// offloads, both nodes take them, the client's card segments the
// stream's large TCP packets, the server receives them coalesced with
// partial checksums that it completes, and every byte arrives as sent.
func TestNetOffloadsOnTapLAN(t *testing.T) {
	if err := qemu.CheckInstalled(); err != nil {
		t.Fatal(err) // make test installs QEMU
	}
	t.Chdir("../..") // the benchmark builds from the module's root
	dir := t.TempDir()
	ctx := context.Background()
	kernel, err := benchKernel(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := buildNetbench(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := qemu.Config{Kernel: kernel, MemMiB: 256, CPUs: 1, Accel: qemu.AccelTCG}
	args := func(role string) []string {
		a := []string{"-role", role, "-bytes", strconv.Itoa(8 << 20), "-rtt", "20"}
		if role == "server" {
			a = append(a, "-verify")
		}
		return a
	}
	cfgs, err := dunixNetConfigs(dir, bin, base, args)
	if err != nil {
		t.Fatal(err)
	}
	r, err := netPair(ctx, "dunix", cfgs, true, 4*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.2f MiB/s, round trip %.0f µs", r.mibPerS, r.medUs)
	// netPair fails unless the server said "bench: server done"; with
	// -verify it says so only after every byte matched.
	report := regexp.MustCompile(`rx (\d+) frames \((\d+) coalesced, (\d+) checksums completed\), tx (\d+) frames \((\d+) with checksums left to the card, (\d+) segmented by it\)`)
	var figs [2][]int
	for i, role := range []string{"server", "client"} {
		lines := strings.Join(r.netLines[i], "\n")
		if !strings.Contains(lines, "offloads tx-csum,tso4,tso6,rx-csum,rx-tso4,rx-tso6") {
			t.Errorf("%s did not take every offload:\n%s", role, lines)
		}
		m := report.FindStringSubmatch(lines)
		if m == nil {
			t.Fatalf("%s printed no network report:\n%s", role, lines)
		}
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			figs[i] = append(figs[i], n)
		}
	}
	srv, cli := figs[0], figs[1]
	if cli[5] == 0 || cli[4] < cli[5] {
		t.Errorf("the client's card segmented nothing (tx %d, partial checksums %d, segmented %d)", cli[3], cli[4], cli[5])
	}
	if srv[1] == 0 || srv[2] == 0 {
		t.Errorf("the server received nothing coalesced with a partial checksum (rx %d, coalesced %d, completed %d)", srv[0], srv[1], srv[2])
	}
	// 8 MiB in segments of up to 63 KiB: far fewer frames than 1500-byte ones would take.
	if srv[0] > (8<<20)/1448/2 {
		t.Errorf("the server received %d frames for 8 MiB: not coalesced", srv[0])
	}
}
