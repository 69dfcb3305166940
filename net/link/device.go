// Package link binds a network interface card to gVisor's tcpip stack: a
// Device moves whole Ethernet frames, and Endpoint turns a Device into the
// stack.LinkEndpoint the stack wants (Ethernet framing included).
//
// Devices are the virtio-net driver in the kernel, the QEMU socket LAN
// that host tools join, and in-memory hubs in tests (package memlink).
package link

// Device is a network interface card that moves Ethernet frames.
type Device interface {
	// MAC is the interface's hardware address.
	MAC() [6]byte
	// MTU is the largest IP packet (Ethernet payload) the link carries,
	// usually 1500.
	MTU() uint32
	// Transmit sends one Ethernet frame (destination MAC first, no frame
	// check sequence). It does not keep frame after it returns. It
	// returns an error, and the frame is dropped, when the link is down
	// or its transmit queue is full.
	Transmit(frame []byte) error
	// Attach sets the function the device calls, from a goroutine of its
	// own, with each frame it receives (frame is valid only during the
	// call). It is called once, before any traffic is expected.
	Attach(rx func(frame []byte))
}
