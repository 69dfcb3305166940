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

// VnetHdrLen is the size of a virtio-net header (struct virtio_net_hdr of
// virtio 1.x, num_buffers included): flags (1 byte), gso_type (1),
// hdr_len, gso_size, csum_start, csum_offset, num_buffers (2 each,
// little-endian). Linux's tap devices use the same header, so it is the
// common language of cards that offload.
const VnetHdrLen = 12

// VnetHdr is a virtio-net header.
type VnetHdr = [VnetHdrLen]byte

// Offload bits, as virtio-net's feature bits (virtio 1.2, 5.1.3).
const (
	// OffloadTxCsum: the device finishes a checksum the stack left
	// partial (header flag NEEDS_CSUM, csum_start, csum_offset).
	OffloadTxCsum = 1 << 0
	// OffloadRxCsum: the device marks frames whose checksums it checked
	// (DATA_VALID), and may deliver local frames with a partial one
	// (NEEDS_CSUM).
	OffloadRxCsum = 1 << 1
	// OffloadRxTSO4, OffloadRxTSO6: the device may deliver TCP segments
	// larger than the MTU (coalesced by the host).
	OffloadRxTSO4 = 1 << 7
	OffloadRxTSO6 = 1 << 8
	// OffloadTxTSO4, OffloadTxTSO6: the device cuts TCP segments larger
	// than the MTU into MSS-sized ones (gso_type, gso_size).
	OffloadTxTSO4 = 1 << 11
	OffloadTxTSO6 = 1 << 12
)

// Header fields (virtio 1.2, 5.1.6).
const (
	VnetNeedsCsum = 1 // flags: finish the checksum at csum_start+csum_offset
	VnetDataValid = 2 // flags: the checksums were checked
	VnetGSOTCPv4  = 1 // gso_type
	VnetGSOTCPv6  = 4 // gso_type
)

// OffloadDevice is a Device that offloads: frames go out and come in with
// a virtio-net header saying what the card is to finish (a partial
// checksum, TCP segmentation) or what it did (checked a checksum,
// coalesced segments). An Endpoint over an OffloadDevice uses these
// methods instead of Transmit and Attach.
type OffloadDevice interface {
	Device
	// Offloads returns the Offload* bits the card does.
	Offloads() uint64
	// TransmitVnet sends frame with hdr; frames may be larger than the
	// MTU when hdr asks for segmentation (at most MaxGSOFrame bytes).
	TransmitVnet(hdr *VnetHdr, frame []byte) error
	// AttachVnet is Attach with each received frame's header.
	AttachVnet(rx func(hdr *VnetHdr, frame []byte))
}

// MaxGSOFrame is the largest frame an OffloadDevice must take with a
// segmentation request: an Ethernet header and an IP packet of at most
// 64 KiB.
const MaxGSOFrame = 14 + 65535
