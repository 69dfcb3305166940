package kernel

import (
	"sync"

	"dunix/drivers/pci"
	"dunix/drivers/virtio/virtionet"
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
