package kernel

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"dunix/arch/amd64"
	"dunix/drivers/virtio"
	"dunix/kernel/mm"

	"dunix/drivers/pci"
	"dunix/drivers/virtio/virtionet"
	"dunix/drivers/virtio/virtiorng"
)

var (
	pciOnce sync.Once
	pciDevs []*pci.Device
)

// PCIDevices returns the functions on the PCI buses (scanned once; none on
// a machine without PCI, such as microvm).
func PCIDevices() []*pci.Device {
	pciOnce.Do(func() { pciDevs = pci.Scan(pci.Ports) })
	return pciDevs
}

// NICs probes the virtio network cards, on PCI and on the virtio-mmio
// transports the DSDT lists; cards that fail are named in the error, the
// others returned.
func NICs() ([]*virtionet.NIC, error) {
	nics, err := virtionet.Probe(PCIDevices(), Platform{})
	mnics, merr := virtionet.ProbeMMIO(MMIODevices(), Platform{})
	return append(nics, mnics...), errors.Join(err, merr)
}

var (
	mmioOnce sync.Once
	mmioDevs []virtio.MMIODevice
)

// MMIODevices returns the devices on the virtio-mmio transports the DSDT
// describes (QEMU's microvm lists eight).
func MMIODevices() []virtio.MMIODevice {
	mmioOnce.Do(func() {
		h, ok := acpiTables.Table("DSDT")
		if !ok || h.Length < 36 || uint64(h.Phys)+uint64(h.Length) > mm.DirectMapEnd() {
			return
		}
		dsdt := unsafe.Slice((*byte)(amd64.Ptr(mm.P2V(uintptr(h.Phys)))), h.Length)
		var ts [32]virtio.MMIOTransport
		n := virtio.FindMMIO(dsdt, ts[:])
		mmioDevs = virtio.ProbeMMIO(ts[:n], Platform{})
	})
	return mmioDevs
}

// startEntropy feeds the entropy pool, from a virtio-rng device when the
// machine has one.
func startEntropy() {
	rng, err := virtiorng.Probe(PCIDevices(), Platform{})
	if err != nil {
		fmt.Println("dunix: entropy device:", err)
	}
	if rng == nil {
		if rng, err = virtiorng.ProbeMMIO(MMIODevices(), Platform{}); err != nil {
			fmt.Println("dunix: entropy device:", err)
		}
	}
	if rng != nil {
		FeedEntropy(rng)
		return
	}
	FeedEntropy(nil)
}
