// Package net holds the fabric: the tcpip stack bound to network devices
// (link), IPv6 autoconfiguration, discovery, membership, the node-to-node
// transport and the status server. This file pins the libraries they use
// (gVisor tcpip at the exact pseudo-version the proxy serves, memberlist,
// yamux) so that go mod tidy keeps them.
package net

import (
	_ "github.com/hashicorp/memberlist"
	_ "github.com/hashicorp/yamux"
	_ "gvisor.dev/gvisor/pkg/log"
	_ "gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	_ "gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	_ "gvisor.dev/gvisor/pkg/tcpip/link/sniffer"
	_ "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	_ "gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	_ "gvisor.dev/gvisor/pkg/tcpip/stack"
	_ "gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	_ "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	_ "gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)
