// Package virtiorng drives virtio entropy devices (virtio-rng, virtio 1.x
// on the modern PCI transport): one request queue into which the driver
// puts a buffer the device fills with random bytes.
package virtiorng

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"dunix/arch/amd64"
	"dunix/drivers/pci"
	"dunix/drivers/virtio"
)

// RNG is one virtio entropy device. Reads are serialized.
type RNG struct {
	mu   sync.Mutex
	dev  *virtio.Device
	q    *virtio.Queue
	phys uint64
	virt uintptr
}

// Probe opens the first virtio entropy device among devs; it returns nil
// and no error when there is none.
func Probe(devs []*pci.Device, p virtio.Platform) (*RNG, error) {
	found := virtio.Find(devs, virtio.TypeEntropy)
	if len(found) == 0 {
		return nil, nil
	}
	dev, err := virtio.Open(found[0], virtio.TypeEntropy, p)
	if err != nil {
		return nil, err
	}
	return setup(dev, p)
}

// ProbeMMIO opens the first virtio entropy device among virtio-mmio
// devices; nil and no error when there is none.
func ProbeMMIO(devs []virtio.MMIODevice, p virtio.LinePlatform) (*RNG, error) {
	for _, d := range devs {
		if d.Type != virtio.TypeEntropy {
			continue
		}
		dev, err := virtio.OpenMMIO(d, p)
		if err != nil {
			return nil, err
		}
		return setup(dev, p)
	}
	return nil, nil
}

// setup negotiates and sets up the request queue.
func setup(dev *virtio.Device, p virtio.Platform) (*RNG, error) {
	r := &RNG{dev: dev}
	var err error
	fail := func(err error) (*RNG, error) {
		dev.Fail()
		return nil, fmt.Errorf("virtio-rng %s: %w", dev.Name, err)
	}
	if _, err := dev.Negotiate(0); err != nil {
		return fail(err)
	}
	if r.q, err = dev.Queue(0, 1, true); err != nil {
		return fail(err)
	}
	if r.phys, r.virt, err = p.AllocPage(); err != nil {
		return fail(err)
	}
	dev.Ready()
	return r, nil
}

// Read fills b (up to one page at a time) with bytes from the device and
// returns how many it gave.
func (r *RNG) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(b), 4096)
	if _, err := r.q.Add(r.phys, uint32(n), true); err != nil {
		return 0, err
	}
	r.q.Kick()
	for {
		_, got, ok := r.q.Used()
		if ok {
			if got > uint32(n) {
				return 0, errors.New("virtio-rng: device claims more bytes than asked for")
			}
			return copy(b, unsafe.Slice((*byte)(amd64.Ptr(r.virt)), got)), nil
		}
		if err := r.q.IRQ.Wait(); err != nil {
			return 0, err
		}
	}
}
