package lan

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"dunix/qemu"
)

// frame builds an Ethernet frame from src to dst with payload.
func frame(dst, src [6]byte, payload string) []byte {
	f := append(append(dst[:], src[:]...), 0x88, 0xb5) // local experimental EtherType
	return append(f, payload...)
}

// collector gathers received frames.
type collector chan []byte

func (c collector) rx(f []byte) {
	select {
	case c <- bytes.Clone(f):
	default:
	}
}

// expect waits for a frame with payload, failing after a timeout; frames
// with other payloads are skipped.
func (c collector) expect(t *testing.T, who, payload string) []byte {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f := <-c:
			if string(f[14:]) == payload {
				return f
			}
		case <-timeout:
			t.Fatalf("%s: no frame with payload %q", who, payload)
			return nil
		}
	}
}

func newLAN(t *testing.T) qemu.LAN {
	t.Helper()
	l, err := qemu.NewLAN()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func join(t *testing.T, l qemu.LAN) (*Device, collector) {
	t.Helper()
	mac, err := RandomMAC()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Join(l, mac)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c := make(collector, 64)
	d.Attach(c.rx)
	return d, c
}

var broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func TestTwoDevices(t *testing.T) {
	l := newLAN(t)
	a, ac := join(t, l)
	b, bc := join(t, l)
	// Another LAN on the same port must not see our frames.
	other := qemu.LAN{Group: netipWithAddr(l, 7)}
	_, oc := join(t, other)

	if err := a.Transmit(frame(broadcast, a.MAC(), "from a")); err != nil {
		t.Fatal(err)
	}
	got := bc.expect(t, "b", "from a")
	if [6]byte(got[6:12]) != a.MAC() {
		t.Errorf("b got source %x, want %x", got[6:12], a.MAC())
	}
	if err := b.Transmit(frame(a.MAC(), b.MAC(), "from b")); err != nil {
		t.Fatal(err)
	}
	ac.expect(t, "a", "from b")

	// a never sees its own frame; the other LAN sees nothing.
	time.Sleep(100 * time.Millisecond)
	for len(ac) > 0 {
		if f := <-ac; [6]byte(f[6:12]) == a.MAC() {
			t.Errorf("a received its own frame %q", f[14:])
		}
	}
	if len(oc) > 0 {
		t.Errorf("a device on another group of the same port received %d frames", len(oc))
	}

	if err := a.Transmit([]byte{1, 2}); err == nil {
		t.Error("Transmit of a runt frame succeeded")
	}
	a.Close()
	if err := a.Transmit(frame(broadcast, a.MAC(), "closed")); err == nil {
		t.Error("Transmit after Close succeeded")
	}
}

// netipWithAddr returns l's port with the last byte of the group changed.
func netipWithAddr(l qemu.LAN, last byte) netip.AddrPort {
	a := l.Group.Addr().As4()
	a[3] = a[3]%240 + last
	return netip.AddrPortFrom(netip.AddrFrom4(a), l.Group.Port())
}

func TestJoinBad(t *testing.T) {
	l := newLAN(t)
	if _, err := Join(l, [6]byte{1, 0, 0x5e, 0, 0, 1}); err == nil {
		t.Error("Join with a multicast MAC succeeded")
	}
	if _, err := Join(qemu.LAN{}, [6]byte{2}); err == nil {
		t.Error("Join of a zero LAN succeeded")
	}
}

// TestQEMU checks the framing against QEMU itself, without a guest: a
// QEMU hub joins the LAN (-netdev socket,mcast=...) to a unicast UDP
// netdev (-netdev socket,udp=...), which carries frames the same way (one
// frame per datagram). A frame our Device sends on the LAN comes out of the
// UDP socket, and a frame sent to QEMU's UDP socket reaches our Device.
func TestQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	if err := qemu.CheckInstalled(); err != nil {
		t.Fatal(err)
	}
	l := newLAN(t)
	d, dc := join(t, l)

	// Our unicast end, and a free port for QEMU's.
	mine, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	qport := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu.Config{}.Binary(),
		"-M", "none", "-nodefaults", "-display", "none", "-accel", "tcg",
		"-netdev", "socket,id=m,mcast="+l.String()+",localaddr=127.0.0.1",
		"-netdev", "socket,id=u,udp="+mine.LocalAddr().String()+",localaddr=127.0.0.1:"+strconv.Itoa(qport),
		"-netdev", "hubport,id=p1,hubid=0,netdev=m",
		"-netdev", "hubport,id=p2,hubid=0,netdev=u",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("QEMU's stderr: %s", stderr.String())
		}
	})

	// QEMU → us: a frame sent to QEMU's UDP end reaches the Device. QEMU
	// takes a moment to start; send until it arrives.
	peer := [6]byte{0x52, 0x54, 0, 0, 0, 9}
	qaddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: qport}
	deadline := time.Now().Add(20 * time.Second)
	for got := false; !got; {
		if time.Now().After(deadline) {
			t.Fatal("no frame from QEMU's LAN socket")
		}
		mine.WriteToUDP(frame(broadcast, peer, "via qemu"), qaddr)
		select {
		case f := <-dc:
			got = string(f[14:]) == "via qemu" && [6]byte(f[6:12]) == peer
		case <-time.After(300 * time.Millisecond):
		}
	}

	// Us → QEMU: a frame the Device sends comes out of QEMU's UDP end.
	want := frame(peer, d.MAC(), "to qemu")
	if err := d.Transmit(want); err != nil {
		t.Fatal(err)
	}
	mine.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	for {
		n, _, err := mine.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no frame out of QEMU: %v", err)
		}
		if bytes.Equal(buf[:n], want) {
			break
		}
	}
}
