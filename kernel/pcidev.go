package kernel

import (
	"fmt"
	"sync"

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

// NICs probes the virtio network cards; cards that fail are named in the
// error, the others returned.
func NICs() ([]*virtionet.NIC, error) {
	return virtionet.Probe(PCIDevices(), Platform{})
}

// startEntropy feeds the entropy pool, from a virtio-rng device when the
// machine has one.
func startEntropy() {
	rng, err := virtiorng.Probe(PCIDevices(), Platform{})
	if err != nil {
		fmt.Println("dunix: entropy device:", err)
	}
	if rng != nil {
		FeedEntropy(rng)
		return
	}
	FeedEntropy(nil)
}
