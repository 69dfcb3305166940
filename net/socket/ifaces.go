package socket

import (
	"sort"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// Interface is a network interface as the SIOCGIF* ioctls describe it.
type Interface struct {
	Index int
	Name  string
	Flags uint16 // IFF_* bits
	MTU   uint32
	MAC   [6]byte
	IPv4  [][4]byte // IPv4 addresses (SIOCGIFCONF lists only these, as Linux)
}

// Interfaces lists the stack's NICs in index order.
func (f *Factory) Interfaces() []Interface {
	var out []Interface
	for id, info := range f.stack.NICInfo() {
		in := Interface{Index: int(id), Name: info.Name, MTU: info.MTU}
		copy(in.MAC[:], info.LinkAddress)
		if info.Flags.Up {
			in.Flags |= unix.IFF_UP
		}
		if info.Flags.Running {
			in.Flags |= unix.IFF_RUNNING
		}
		if info.Flags.Loopback {
			in.Flags |= unix.IFF_LOOPBACK
		} else {
			in.Flags |= unix.IFF_BROADCAST | unix.IFF_MULTICAST
		}
		if info.Flags.Promiscuous {
			in.Flags |= unix.IFF_PROMISC
		}
		for _, a := range info.ProtocolAddresses {
			if a.Protocol == ipv4.ProtocolNumber {
				in.IPv4 = append(in.IPv4, a.AddressWithPrefix.Address.As4())
			}
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}
