package ip6

import (
	"fmt"
	"io"
	randv2 "math/rand/v2"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// NewLoopback returns a stack with only the loopback NIC (NIC 1, "lo",
// ::1 and 127.0.0.1, no DAD): what a node without a network card gives
// its user programs. rng must be safe for concurrent use.
func NewLoopback(rng io.Reader) (*stack.Stack, error) {
	var seed [32]byte
	if _, err := io.ReadFull(rng, seed[:]); err != nil {
		return nil, fmt.Errorf("ip6: seeding from the RNG: %w", err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv6.NewProtocol, ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol6, icmp.NewProtocol4},
		HandleLocal:        true,
		SecureRNG:          rng,
		RandSource:         &lockedSource{r: randv2.NewChaCha8(seed)},
	})
	if err := s.CreateNICWithOptions(LoopbackNIC, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("ip6: creating the loopback NIC: %s", err)
	}
	if ep, err := s.GetNetworkEndpoint(LoopbackNIC, ipv6.ProtocolNumber); err == nil {
		if d, ok := ep.(stack.DuplicateAddressDetector); ok {
			d.SetDADConfigurations(stack.DADConfigurations{})
		}
	}
	for _, a := range []tcpip.ProtocolAddress{
		{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: header.IPv6Loopback, PrefixLen: 128}},
		{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: header.IPv4Loopback, PrefixLen: 8}},
	} {
		if err := s.AddProtocolAddress(LoopbackNIC, a, stack.AddressProperties{}); err != nil {
			s.Destroy()
			return nil, fmt.Errorf("ip6: adding %s to the loopback NIC: %s", a.AddressWithPrefix, err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnet(header.IPv6Loopback, 128), NIC: LoopbackNIC},
		{Destination: subnet(header.IPv4Loopback, 8), NIC: LoopbackNIC},
	})
	return s, nil
}
