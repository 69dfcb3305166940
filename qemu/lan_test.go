package qemu

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestNewLAN(t *testing.T) {
	seen := map[LAN]bool{}
	for range 20 {
		l, err := NewLAN()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Validate(); err != nil {
			t.Fatal(err)
		}
		a := l.Group.Addr().As4()
		if a[0] != 239 || a[1] != 255 || l.Group.Port() < LANPortMin {
			t.Errorf("NewLAN = %s, want 239.255.x.y:%d+", l, LANPortMin)
		}
		if seen[l] {
			t.Errorf("NewLAN gave %s twice", l)
		}
		seen[l] = true
		back, err := ParseLAN(l.String())
		if err != nil || back != l {
			t.Errorf("ParseLAN(%q) = %v, %v", l, back, err)
		}
	}
}

func TestPortFree(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if portFree(c.LocalAddr().(*net.UDPAddr).Port) {
		t.Errorf("portFree says a bound port is free")
	}
}

func TestParseLANBad(t *testing.T) {
	for _, s := range []string{"", "239.1.2.3", "10.0.0.1:5000", "239.1.2.3:0", "[ff02::1]:5000"} {
		if _, err := ParseLAN(s); err == nil {
			t.Errorf("ParseLAN(%q) succeeded", s)
		}
	}
}

func TestNodeMAC(t *testing.T) {
	seen := map[string]bool{}
	for i := 1; i <= 300; i++ {
		m := NodeMAC("c1", i)
		hw, err := net.ParseMAC(m)
		if err != nil {
			t.Fatal(err)
		}
		if hw[0]&2 == 0 || hw[0]&1 != 0 {
			t.Errorf("NodeMAC = %s: not a locally administered unicast address", m)
		}
		if !strings.HasPrefix(m, "52:54:00:") || seen[m] {
			t.Errorf("NodeMAC(c1, %d) = %s (seen before: %v)", i, m, seen[m])
		}
		seen[m] = true
	}
	if NodeMAC("c1", 1) != NodeMAC("c1", 1) {
		t.Error("NodeMAC is not stable")
	}
}

func TestArgsNICsAndConsoleSocket(t *testing.T) {
	lan, _ := ParseLAN("239.255.7.8:61234")
	nic := NIC{MAC: "52:54:00:aa:00:01", LAN: lan}
	cfg := Config{Kernel: "k", Accel: AccelTCG, NICs: []NIC{nic}, ConsoleSocket: "/d/n1.sock", ConsoleLog: "/d,x/n1.log"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Args(cfg), " ")
	for _, want := range []string{
		"-chardev socket,id=con0,path=/d/n1.sock,server=on,wait=off,logfile=/d,,x/n1.log -serial chardev:con0",
		"-netdev socket,id=fab0,mcast=239.255.7.8:61234,localaddr=127.0.0.1 -device virtio-net-pci,netdev=fab0,mac=52:54:00:aa:00:01,disable-legacy=on,romfile=",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Args = %s\nwant it to contain %s", got, want)
		}
	}
	cfg.Machine = MachineMicroVM
	got = strings.Join(Args(cfg), " ")
	want := "-global virtio-mmio.force-legacy=false -netdev socket,id=fab0,mcast=239.255.7.8:61234,localaddr=127.0.0.1 -device virtio-net-device,netdev=fab0,mac=52:54:00:aa:00:01"
	if !strings.Contains(got, want) {
		t.Errorf("Args = %s\nwant it to contain %s", got, want)
	}
	// Without NICs or a socket, nothing changes.
	plain := Args(Config{Kernel: "k"})
	if !reflect.DeepEqual(plain[len(plain)-4:], []string{"-kernel", "k", "-append", ""}) || strings.Contains(strings.Join(plain, " "), "netdev") {
		t.Errorf("Args without NICs = %q", plain)
	}
}

func TestValidateNICsAndSocket(t *testing.T) {
	lan, _ := ParseLAN("239.255.7.8:61234")
	for _, c := range []Config{
		{Kernel: "k", NICs: []NIC{{MAC: "01:00:5e:00:00:01", LAN: lan}}},
		{Kernel: "k", NICs: []NIC{{MAC: "zz", LAN: lan}}},
		{Kernel: "k", NICs: []NIC{{MAC: "52:54:00:00:00:01"}}},
		{Kernel: "k", ConsoleSocket: "/" + strings.Repeat("x", MaxSocketPath)},
		{Kernel: "k", ConsoleLog: "/l"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
}
