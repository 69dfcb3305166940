package ip6

import (
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// ndpDispatcher receives the IPv6 protocol's NDP events for a Stack.
// gVisor calls it with its own locks held: no method may call into the
// stack or block.
type ndpDispatcher Stack

var _ ipv6.NDPDispatcher = (*ndpDispatcher)(nil)

// OnDuplicateAddressDetectionResult implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnDuplicateAddressDetectionResult(nic tcpip.NICID, addr tcpip.Address, res stack.DADResult) {
	s := (*Stack)(d)
	if nic != s.NIC {
		return
	}
	s.dadResult(addr, res)
}

// OnOffLinkRouteUpdated implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnOffLinkRouteUpdated(nic tcpip.NICID, sn tcpip.Subnet, router tcpip.Address, _ header.NDPRoutePreference) {
	(*Stack)(d).logf("ip6: NIC %d: route to %s via %s", nic, sn, router)
}

// OnOffLinkRouteInvalidated implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnOffLinkRouteInvalidated(nic tcpip.NICID, sn tcpip.Subnet, router tcpip.Address) {
	(*Stack)(d).logf("ip6: NIC %d: route to %s via %s expired", nic, sn, router)
}

// OnOnLinkPrefixDiscovered implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnOnLinkPrefixDiscovered(nic tcpip.NICID, sn tcpip.Subnet) {
	(*Stack)(d).logf("ip6: NIC %d: on-link prefix %s", nic, sn)
}

// OnOnLinkPrefixInvalidated implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnOnLinkPrefixInvalidated(nic tcpip.NICID, sn tcpip.Subnet) {
	(*Stack)(d).logf("ip6: NIC %d: on-link prefix %s expired", nic, sn)
}

// OnAutoGenAddress implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnAutoGenAddress(nic tcpip.NICID, a tcpip.AddressWithPrefix) stack.AddressDispatcher {
	(*Stack)(d).logf("ip6: NIC %d: SLAAC address %s (tentative)", nic, a)
	return nil
}

// OnAutoGenAddressDeprecated implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnAutoGenAddressDeprecated(nic tcpip.NICID, a tcpip.AddressWithPrefix) {
	(*Stack)(d).logf("ip6: NIC %d: SLAAC address %s deprecated", nic, a)
}

// OnAutoGenAddressInvalidated implements ipv6.NDPDispatcher.
func (d *ndpDispatcher) OnAutoGenAddressInvalidated(nic tcpip.NICID, a tcpip.AddressWithPrefix) {
	(*Stack)(d).logf("ip6: NIC %d: SLAAC address %s invalidated", nic, a)
}

// OnRecursiveDNSServerOption implements ipv6.NDPDispatcher (ignored: the
// fabric has no DNS).
func (*ndpDispatcher) OnRecursiveDNSServerOption(tcpip.NICID, []tcpip.Address, time.Duration) {}

// OnDNSSearchListOption implements ipv6.NDPDispatcher (ignored).
func (*ndpDispatcher) OnDNSSearchListOption(tcpip.NICID, []string, time.Duration) {}

// OnDHCPv6Configuration implements ipv6.NDPDispatcher (ignored: no DHCPv6).
func (*ndpDispatcher) OnDHCPv6Configuration(tcpip.NICID, ipv6.DHCPv6ConfigurationFromNDPRA) {}
