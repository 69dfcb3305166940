//go:build linux

package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests below make real tap LANs: they need root and /dev/net/tun, and
// fail (rather than skip) without them.

func newTestTapLAN(t *testing.T) *TapLAN {
	t.Helper()
	l, err := NewTapLAN()
	if err != nil {
		t.Fatalf("cannot make a tap LAN (these tests need root and /dev/net/tun): %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func testPort(t *testing.T, l *TapLAN, vnetHdr bool) *os.File {
	t.Helper()
	f, err := l.Port(vnetHdr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

var (
	macA      = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB      = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	macC      = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0c}
	macBcast  = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macFabric = net.HardwareAddr{0x33, 0x33, 0x6e, 0x78, 0x87, 0x41} // ff02::6475:6e78:8741
)

// testFrame returns an Ethernet frame from src to dst carrying an IPv6
// packet (no next header) from fe80::src to ff02::6475:6e78:8741, or to
// fe80::dst when dst is unicast, whose payload is marker.
func testFrame(dst, src net.HardwareAddr, marker string) []byte {
	b := append(append([]byte(nil), dst...), src...)
	b = append(b, 0x86, 0xdd)
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(marker)))
	b = append(b, 59, 1) // no next header, hop limit 1
	b = append(b, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, src[5])
	if dst[0]&1 != 0 {
		b = append(b, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x64, 0x75, 0x6e, 0x78, 0x87, 0x41)
	} else {
		b = append(b, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, dst[5])
	}
	return append(b, marker...)
}

func writeFrame(t *testing.T, f *os.File, b []byte) {
	t.Helper()
	if n, err := f.Write(b); err != nil || n != len(b) {
		t.Fatalf("write to %s: %d, %v", f.Name(), n, err)
	}
}

// expectFrame reads from f until a frame ending in marker arrives and
// returns it; it fails after a few seconds. skip bytes are dropped from the
// front of each frame (a virtio-net header).
func expectFrame(t *testing.T, f *os.File, skip int, marker string) []byte {
	t.Helper()
	b, err := readMarked(f, skip, marker, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: no frame %q: %v", f.Name(), marker, err)
	}
	return b
}

// expectNoFrame checks that no frame ending in marker arrives at f for a
// while.
func expectNoFrame(t *testing.T, f *os.File, marker string) {
	t.Helper()
	if b, err := readMarked(f, 0, marker, 300*time.Millisecond); err == nil {
		t.Errorf("%s: got frame %x, want none", f.Name(), b)
	}
}

func readMarked(f *os.File, skip int, marker string, wait time.Duration) ([]byte, error) {
	if err := f.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	buf := make([]byte, 65536)
	for {
		n, err := f.Read(buf)
		if err != nil {
			return nil, err
		}
		if n >= skip && bytes.HasSuffix(buf[skip:n], []byte(marker)) {
			return append([]byte(nil), buf[skip:n]...), nil
		}
	}
}

func TestTapLANForwarding(t *testing.T) {
	l := newTestTapLAN(t)
	a, b, c := testPort(t, l, false), testPort(t, l, false), testPort(t, l, false)

	// Broadcast from A (which teaches the bridge where A is) reaches B and
	// C at once: STP is off.
	bc := testFrame(macBcast, macA, "broadcast from A")
	writeFrame(t, a, bc)
	for _, f := range []*os.File{b, c} {
		if got := expectFrame(t, f, 0, "broadcast from A"); !bytes.Equal(got, bc) {
			t.Errorf("%s got %x, want %x", f.Name(), got, bc)
		}
	}

	// IPv6 multicast to the fabric's group reaches everyone else: snooping
	// is off.
	writeFrame(t, b, testFrame(macFabric, macB, "multicast from B"))
	expectFrame(t, a, 0, "multicast from B")
	expectFrame(t, c, 0, "multicast from B")

	// Unicast to A's address goes to A only.
	writeFrame(t, c, testFrame(macA, macC, "unicast C to A"))
	expectFrame(t, a, 0, "unicast C to A")
	expectNoFrame(t, b, "unicast C to A")

	// A port never gets its own frames back.
	expectNoFrame(t, a, "broadcast from A")
}

// TestTapLANBridgeSettings reads the bridge's settings back by netlink.
// Snooping is checked this way because frames cannot show it: a snooping
// bridge that knows no MLD querier floods every group anyway, and one
// would prune groups only once a guest became a querier.
func TestTapLANBridgeSettings(t *testing.T) {
	l := newTestTapLAN(t)
	testPort(t, l, false)
	var data map[uint16][]byte
	err := l.do(func() error {
		var err error
		data, err = bridgeInfoData(tapBridge)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := data[unix.IFLA_BR_MCAST_SNOOPING]; len(v) != 1 || v[0] != 0 {
		t.Errorf("multicast snooping = %v, want [0]", v)
	}
	if v := data[unix.IFLA_BR_STP_STATE]; len(v) != 4 || binary.NativeEndian.Uint32(v) != 0 {
		t.Errorf("STP state = %v, want 0", v)
	}
}

func TestTapLANVnetHdr(t *testing.T) {
	l := newTestTapLAN(t)
	v, p := testPort(t, l, true), testPort(t, l, false)

	flags := func(f *os.File) uint16 {
		t.Helper()
		var ifr *unix.Ifreq
		var err error
		rc, _ := f.SyscallConn()
		rc.Control(func(fd uintptr) {
			if ifr, err = unix.NewIfreq(""); err == nil {
				err = unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr)
			}
		})
		if err != nil {
			t.Fatalf("TUNGETIFF %s: %v", f.Name(), err)
		}
		return ifr.Uint16()
	}
	if fl := flags(v); fl&unix.IFF_VNET_HDR == 0 || fl&unix.IFF_TAP == 0 || fl&unix.IFF_NO_PI == 0 {
		t.Errorf("vnet port flags %#x: want IFF_TAP|IFF_NO_PI|IFF_VNET_HDR", fl)
	}
	if fl := flags(p); fl&unix.IFF_VNET_HDR != 0 {
		t.Errorf("plain port flags %#x: want no IFF_VNET_HDR", fl)
	}

	// The default header is struct virtio_net_hdr, 10 bytes.
	frame := testFrame(macBcast, macA, "from vnet port, 10-byte header")
	writeFrame(t, v, append(make([]byte, 10), frame...))
	if got := expectFrame(t, p, 0, "from vnet port, 10-byte header"); !bytes.Equal(got, frame) {
		t.Errorf("plain port got %x, want %x", got, frame)
	}

	// QEMU sets 12 (virtio 1.0's header with num_buffers).
	var err error
	rc, _ := v.SyscallConn()
	rc.Control(func(fd uintptr) { err = unix.IoctlSetPointerInt(int(fd), unix.TUNSETVNETHDRSZ, 12) })
	if err != nil {
		t.Fatalf("TUNSETVNETHDRSZ: %v", err)
	}
	frame = testFrame(macBcast, macA, "from vnet port, 12-byte header")
	writeFrame(t, v, append(make([]byte, 12), frame...))
	if got := expectFrame(t, p, 0, "from vnet port, 12-byte header"); !bytes.Equal(got, frame) {
		t.Errorf("plain port got %x, want %x", got, frame)
	}

	// And the other way: the vnet port reads a header, then the frame.
	frame = testFrame(macA, macB, "to vnet port")
	writeFrame(t, p, frame)
	if got := expectFrame(t, v, 12, "to vnet port"); !bytes.Equal(got, frame) {
		t.Errorf("vnet port got %x after its header, want %x", got, frame)
	}
}

func TestTapLANHostUntouched(t *testing.T) {
	hostDefault, hostErr := os.ReadFile("/proc/sys/net/ipv6/conf/default/disable_ipv6")
	l := newTestTapLAN(t)
	testPort(t, l, true)
	testPort(t, l, false)

	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, "dnx") {
			t.Errorf("the host's namespace has interface %s", i.Name)
		}
	}
	for _, dev := range []string{tapBridge, tapPortName + "0"} {
		if _, err := os.Stat("/proc/sys/net/ipv6/conf/" + dev); err == nil {
			t.Errorf("the host's /proc/sys/net shows %s", dev)
		}
	}
	if hostErr == nil {
		if now, _ := os.ReadFile("/proc/sys/net/ipv6/conf/default/disable_ipv6"); !bytes.Equal(now, hostDefault) {
			t.Errorf("the host's default disable_ipv6 changed from %q to %q", hostDefault, now)
		}
	}

	// Inside: another namespace, and IPv6 off on the LAN's devices
	// (/proc/sys/net follows the namespace of the thread that opens it).
	// The main thread, whose view /proc/self shows, stays outside.
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	disabled := map[string]string{}
	err = l.do(func() error {
		var err error
		if inside, err = os.Readlink("/proc/thread-self/ns/net"); err != nil {
			return err
		}
		if hostErr != nil {
			return nil // no IPv6 here
		}
		for _, dev := range []string{tapBridge, tapPortName + "0", tapPortName + "1"} {
			b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + dev + "/disable_ipv6")
			if err != nil {
				return err
			}
			disabled[dev] = strings.TrimSpace(string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside == host || !strings.HasPrefix(inside, "net:[") {
		t.Errorf("namespace inside the LAN %q, host %q: want two different ones", inside, host)
	}
	for dev, v := range disabled {
		if v != "1" {
			t.Errorf("%s: disable_ipv6 = %q inside the LAN, want 1", dev, v)
		}
	}

	// Threads the runtime starts now (some perhaps from the LAN's thread)
	// stay in the host's namespace: only the LAN's thread is inside.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-stop
		}()
	}
	l.do(func() error { // the LAN's thread makes a goroutine too
		wg.Add(1)
		go func() { defer wg.Done(); <-stop }()
		return nil
	})
	time.Sleep(50 * time.Millisecond)
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	in := 0
	for _, task := range tasks {
		if ns, err := os.Readlink(task); err == nil && ns == inside {
			in++
		}
	}
	close(stop)
	wg.Wait()
	if in != 1 {
		t.Errorf("%d of %d threads are in the LAN's namespace, want 1", in, len(tasks))
	}
}

func TestTapLANClose(t *testing.T) {
	l := newTestTapLAN(t)
	a, b := testPort(t, l, false), testPort(t, l, false)
	var inside string
	if err := l.do(func() (err error) { inside, err = os.Readlink("/proc/thread-self/ns/net"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The LAN's thread ends: no thread of ours is left inside.
	for deadline := time.Now().Add(2 * time.Second); ; {
		tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
		in := 0
		for _, task := range tasks {
			if ns, _ := os.Readlink(task); ns == inside {
				in++
			}
		}
		if in == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d threads still in the LAN's namespace after Close", in)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if f, err := l.Port(false); err == nil {
		f.Close()
		t.Error("Port after Close succeeded")
	}
	// Ports handed out still work.
	writeFrame(t, a, testFrame(macBcast, macA, "after Close"))
	expectFrame(t, b, 0, "after Close")
}

func TestTapLANPortsConcurrently(t *testing.T) {
	l := newTestTapLAN(t)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			f, err := l.Port(true)
			if err == nil {
				f.Close()
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// bridgeInfoData returns the IFLA_INFO_DATA attributes (IFLA_BR_*) of
// bridge name, asked by RTM_GETLINK in the calling thread's namespace.
func bridgeInfoData(name string) (map[uint16][]byte, error) {
	var data map[uint16][]byte
	var perr error
	err := netlinkRoute(unix.RTM_GETLINK, 0, ifInfoMsg(0), nlAttr(unix.IFLA_IFNAME, append([]byte(name), 0)),
		func(m syscall.NetlinkMessage) {
			attrs, err := syscall.ParseNetlinkRouteAttr(&m)
			if err != nil {
				perr = err
				return
			}
			for _, a := range attrs {
				if a.Attr.Type&^unix.NLA_F_NESTED == unix.IFLA_LINKINFO {
					data = parseAttrs(parseAttrs(a.Value)[unix.IFLA_INFO_DATA])
				}
			}
		})
	if err == nil {
		err = perr
	}
	if err == nil && data == nil {
		err = errors.New("no IFLA_INFO_DATA in the RTM_GETLINK reply")
	}
	return data, err
}

// parseAttrs splits netlink attributes by type (nested flag cleared).
func parseAttrs(b []byte) map[uint16][]byte {
	m := map[uint16][]byte{}
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if n < unix.SizeofRtAttr || n > len(b) {
			break
		}
		m[typ] = b[unix.SizeofRtAttr:n]
		n = (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if n > len(b) {
			break
		}
		b = b[n:]
	}
	return m
}

// Args and Validate for tap NICs need no tap LAN: any open file will do.

func TestArgsTapNICs(t *testing.T) {
	lan, _ := ParseLAN("239.255.7.8:61234")
	t1, t2 := openTemp(t, "tap1"), openTemp(t, "tap2")
	cfg := Config{Kernel: "k", Accel: AccelTCG, NICs: []NIC{
		{MAC: "52:54:00:aa:00:01", Tap: t1},
		{MAC: "52:54:00:aa:00:02", LAN: lan},
		{MAC: "52:54:00:aa:00:03", Tap: t2},
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Args(cfg), " ")
	want := "-netdev tap,id=fab0,fd=3,vhost=off -device virtio-net-pci,netdev=fab0,mac=52:54:00:aa:00:01,disable-legacy=on,romfile=" +
		" -netdev socket,id=fab1,mcast=239.255.7.8:61234,localaddr=127.0.0.1 -device virtio-net-pci,netdev=fab1,mac=52:54:00:aa:00:02,disable-legacy=on,romfile=" +
		" -netdev tap,id=fab2,fd=4,vhost=off -device virtio-net-pci,netdev=fab2,mac=52:54:00:aa:00:03,disable-legacy=on,romfile="
	if !strings.Contains(got, want) {
		t.Errorf("Args = %s\nwant it to contain %s", got, want)
	}
	if files := tapFiles(cfg); len(files) != 2 || files[0] != t1 || files[1] != t2 {
		t.Errorf("tapFiles = %v, want [%s %s]", files, t1.Name(), t2.Name())
	}
	cfg.Machine = MachineMicroVM
	got = strings.Join(Args(cfg), " ")
	want = "-global virtio-mmio.force-legacy=false -netdev tap,id=fab0,fd=3,vhost=off -device virtio-net-device,netdev=fab0,mac=52:54:00:aa:00:01"
	if !strings.Contains(got, want) {
		t.Errorf("Args = %s\nwant it to contain %s", got, want)
	}
}

func TestValidateTapNICs(t *testing.T) {
	lan, _ := ParseLAN("239.255.7.8:61234")
	tap := openTemp(t, "tap")
	for _, tc := range []struct {
		nic  NIC
		want string
	}{
		{NIC{MAC: "52:54:00:00:00:01"}, "neither a LAN nor a tap"},
		{NIC{MAC: "52:54:00:00:00:01", LAN: lan, Tap: tap}, "both a LAN and a tap"},
		{NIC{MAC: "01:00:5e:00:00:01", Tap: tap}, "multicast"},
		{NIC{MAC: "zz", Tap: tap}, "six hexadecimal bytes"},
	} {
		err := Config{Kernel: "k", NICs: []NIC{tc.nic}}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error saying %q", tc.nic, err, tc.want)
		}
	}
	if err := (NIC{MAC: "52:54:00:00:00:01", Tap: tap}).Validate(); err != nil {
		t.Errorf("tap NIC: %v", err)
	}
}

// TestStartPassesTaps checks that QEMU gets the tap files as descriptors
// 3, 4, ... in the order of the NICs, with a stand-in QEMU that records
// what its descriptors 3 and 4 are.
func TestStartPassesTaps(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fds")
	bin := filepath.Join(dir, "qemu-system-x86_64")
	script := "#!/bin/sh\nreadlink /proc/$$/fd/3 /proc/$$/fd/4 > " + out + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	kernel := filepath.Join(dir, "kernel")
	if err := os.WriteFile(kernel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lan, _ := ParseLAN("239.255.7.8:61234")
	t1, t2 := openTemp(t, "tap1"), openTemp(t, "tap2")
	cfg := Config{QEMU: bin, Kernel: kernel, Accel: AccelTCG, NICs: []NIC{
		{MAC: "52:54:00:aa:00:01", LAN: lan},
		{MAC: "52:54:00:aa:00:02", Tap: t1},
		{MAC: "52:54:00:aa:00:03", Tap: t2},
	}}
	m, err := Start(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Wait(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := t1.Name() + "\n" + t2.Name() + "\n"; string(got) != want {
		t.Errorf("QEMU's descriptors 3 and 4 are\n%swant\n%s", got, want)
	}
	if args := strings.Join(m.Args(), " "); !strings.Contains(args, "tap,id=fab1,fd=3,") || !strings.Contains(args, "tap,id=fab2,fd=4,") {
		t.Errorf("Args = %s", args)
	}
}

func openTemp(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
