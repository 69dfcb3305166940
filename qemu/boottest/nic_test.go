package boottest

import (
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"dunix/qemu"
)

// TestNICExchange boots two nodes on one LAN with dunix.nettest=1: each
// sends broadcast frames through its virtio-net card for a few seconds
// and must receive the other's (interrupt-driven receive, recycled
// buffers) and never its own (QEMU's multicast LAN loops them back; the
// driver drops them).
func TestNICExchange(t *testing.T) {
	t.Parallel()
	nicExchange(t, qemu.MachineQ35)
}

// TestNICExchangeMicroVM is TestNICExchange on microvm: virtio-mmio
// transports found in the DSDT, the card's interrupt on an I/O APIC line.
func TestNICExchangeMicroVM(t *testing.T) {
	t.Parallel()
	nicExchange(t, qemu.MachineMicroVM)
}

func nicExchange(t *testing.T, machine string) {
	lan, err := qemu.NewLAN()
	if err != nil {
		t.Fatal(err)
	}
	macs := []string{qemu.NodeMAC(t.Name(), 1), qemu.NodeMAC(t.Name(), 2)}
	consoles := make([]string, 2)
	errs := make([]error, 2)
	k := kernel(t)
	var wg sync.WaitGroup
	for i := range macs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consoles[i], _, errs[i] = bootErr(t, qemu.Config{Kernel: k, Machine: machine, Cmdline: "dunix.nettest=1",
				NICs: []qemu.NIC{{MAC: macs[i], LAN: lan}}}, nil, 3*time.Minute)
		}()
	}
	wg.Wait()
	for i, c := range consoles {
		if errs[i] != nil {
			t.Errorf("node %d: %v", i+1, errs[i])
		}
		other := strings.ReplaceAll(macs[1-i], ":", "")
		self := strings.ReplaceAll(macs[i], ":", "")
		where := "net: virtio-net 00:" // a PCI address
		if machine == qemu.MachineMicroVM {
			where = "net: virtio-net mmio@0x"
		}
		want(t, c, where, "mac "+macs[i], "rx 60 bytes from "+other, "dropped 0/0")
		if strings.Contains(c, "from "+self) || strings.Contains(c, "net: tx:") {
			t.Errorf("node %d heard itself or failed to send:\n%s", i+1, c)
		}
	}
}

// TestEntropyDevice boots with a virtio-rng device: the kernel's pool
// must be fed from it.
func TestEntropyDevice(t *testing.T) {
	t.Parallel()
	entropyDevice(t, qemu.MachineQ35, "virtio-rng-pci,disable-legacy=on")
}

// TestEntropyDeviceMicroVM is TestEntropyDevice over virtio-mmio.
func TestEntropyDeviceMicroVM(t *testing.T) {
	t.Parallel()
	entropyDevice(t, qemu.MachineMicroVM, "virtio-rng-device")
}

func entropyDevice(t *testing.T, machine, device string) {
	pr, pw := io.Pipe()
	go func() {
		time.Sleep(8 * time.Second) // the pool fills in a few seconds
		io.WriteString(pw, "report\r")
		io.WriteString(pw, "poweroff 0\r")
	}()
	extra := []string{"-device", device}
	if machine == qemu.MachineMicroVM {
		extra = append([]string{"-global", "virtio-mmio.force-legacy=false"}, extra...)
	}
	console, _ := boot(t, qemu.Config{Machine: machine, Extra: extra}, pr, 3*time.Minute)
	pw.Close()
	m := regexp.MustCompile(`fed by virtio-rng \((\d+) bytes so far\)`).FindAllStringSubmatch(console, -1)
	if len(m) < 2 || m[len(m)-1][1] == "0" {
		t.Errorf("the report after 8 s shows no bytes from the device:\n%s", console)
	}
}
