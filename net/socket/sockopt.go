package socket

import (
	"encoding/binary"
	"math"
	"time"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// Socket options. Supported: SOL_SOCKET SO_REUSEADDR, SO_REUSEPORT,
// SO_KEEPALIVE, SO_BROADCAST, SO_SNDBUF, SO_RCVBUF (and the FORCE forms
// for root), SO_ERROR, SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN,
// SO_LINGER, SO_RCVLOWAT, SO_RCVTIMEO, SO_SNDTIMEO; SOL_TCP TCP_NODELAY,
// TCP_CORK, TCP_QUICKACK, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
// TCP_MAXSEG (get); SOL_IP IP_TTL, IP_TOS, IP_MULTICAST_TTL,
// IP_MULTICAST_LOOP, IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP; SOL_IPV6
// IPV6_V6ONLY, IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP,
// IPV6_TCLASS, IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP. Anything else is
// ENOPROTOOPT.

// intVal decodes an int option value: EINVAL when shorter than an int.
func intVal(val []byte) (int, error) {
	if len(val) < 4 {
		return 0, unix.EINVAL
	}
	return int(int32(binary.LittleEndian.Uint32(val))), nil
}

// clampBuf applies Linux's rule for SO_SNDBUF/SO_RCVBUF: capped at the
// maximum unless forced, doubled, at least the minimum.
func clampBuf(v, least, most int64, force bool) int64 {
	if v < 0 {
		v = 0
	}
	if v > most && !force {
		v = most
	}
	if v < math.MaxInt32/2 {
		v *= 2
	} else {
		v = math.MaxInt32
	}
	return max(v, least)
}

// SetSockOpt implements setsockopt(2).
func (s *Socket) SetSockOpt(ctx *vfs.Ctx, level, name int, val []byte) error {
	so := s.ep.SocketOptions()
	root := ctx != nil && ctx.Cred.IsRoot()
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			d, err := parseTimeval(val)
			if err != nil {
				return err
			}
			s.mu.Lock()
			if name == unix.SO_RCVTIMEO {
				s.rcvTimeo = d
			} else {
				s.sndTim = d
			}
			s.mu.Unlock()
			return nil
		case unix.SO_LINGER:
			if len(val) < 8 {
				return unix.EINVAL
			}
			on := binary.LittleEndian.Uint32(val) != 0
			secs := int32(binary.LittleEndian.Uint32(val[4:]))
			so.SetLinger(tcpip.LingerOption{Enabled: on, Timeout: time.Duration(max(secs, 0)) * time.Second})
			return nil
		}
		v, err := intVal(val)
		if err != nil {
			return err
		}
		switch name {
		case unix.SO_REUSEADDR:
			so.SetReuseAddress(v != 0)
		case unix.SO_REUSEPORT:
			so.SetReusePort(v != 0)
		case unix.SO_KEEPALIVE:
			so.SetKeepAlive(v != 0)
		case unix.SO_BROADCAST:
			so.SetBroadcast(v != 0)
		case unix.SO_SNDBUF, unix.SO_SNDBUFFORCE:
			if name == unix.SO_SNDBUFFORCE && !root {
				return unix.EPERM
			}
			lo, hi := so.SendBufferLimits()
			so.SetSendBufferSize(clampBuf(int64(v), lo, hi, name == unix.SO_SNDBUFFORCE), true)
		case unix.SO_RCVBUF, unix.SO_RCVBUFFORCE:
			if name == unix.SO_RCVBUFFORCE && !root {
				return unix.EPERM
			}
			lo, hi := so.ReceiveBufferLimits()
			so.SetReceiveBufferSize(clampBuf(int64(v), lo, hi, name == unix.SO_RCVBUFFORCE), true)
		case unix.SO_RCVLOWAT:
			return errno(so.SetRcvlowat(int32(max(v, 1))))
		default:
			return unix.ENOPROTOOPT
		}
		return nil
	case unix.SOL_TCP:
		if s.typ != unix.SOCK_STREAM {
			return unix.ENOPROTOOPT
		}
		v, err := intVal(val)
		if err != nil {
			return err
		}
		switch name {
		case unix.TCP_NODELAY:
			so.SetDelayOption(v == 0)
		case unix.TCP_CORK:
			so.SetCorkOption(v != 0)
		case unix.TCP_QUICKACK:
			so.SetQuickAck(v != 0)
		case unix.TCP_KEEPIDLE, unix.TCP_KEEPINTVL:
			if v < 1 || v > 32767 {
				return unix.EINVAL
			}
			d := time.Duration(v) * time.Second
			if name == unix.TCP_KEEPIDLE {
				o := tcpip.KeepaliveIdleOption(d)
				return errno(s.ep.SetSockOpt(&o))
			}
			o := tcpip.KeepaliveIntervalOption(d)
			return errno(s.ep.SetSockOpt(&o))
		case unix.TCP_KEEPCNT:
			if v < 1 || v > 127 {
				return unix.EINVAL
			}
			return errno(s.ep.SetSockOptInt(tcpip.KeepaliveCountOption, v))
		case unix.TCP_MAXSEG:
			return errno(s.ep.SetSockOptInt(tcpip.MaxSegOption, v))
		default:
			return unix.ENOPROTOOPT
		}
		return nil
	case unix.SOL_IP:
		if s.family != unix.AF_INET {
			return unix.ENOPROTOOPT // IPv4 options on an AF_INET6 socket: not supported here
		}
		switch name {
		case unix.IP_ADD_MEMBERSHIP, unix.IP_DROP_MEMBERSHIP:
			m, err := s.mreq4(val)
			if err != nil {
				return err
			}
			if name == unix.IP_ADD_MEMBERSHIP {
				o := tcpip.AddMembershipOption(m)
				return errno(s.ep.SetSockOpt(&o))
			}
			o := tcpip.RemoveMembershipOption(m)
			return errno(s.ep.SetSockOpt(&o))
		}
		v, err := intVal(val)
		if err != nil {
			// Linux takes a single byte for some IP options.
			if len(val) == 1 {
				v, err = int(val[0]), nil
			} else {
				return err
			}
		}
		switch name {
		case unix.IP_TTL:
			if v == -1 {
				v = 0 // the default
			} else if v < 1 || v > 255 {
				return unix.EINVAL
			}
			return errno(s.ep.SetSockOptInt(tcpip.IPv4TTLOption, v))
		case unix.IP_TOS:
			return errno(s.ep.SetSockOptInt(tcpip.IPv4TOSOption, v&0xff))
		case unix.IP_MULTICAST_TTL:
			if v == -1 {
				v = 1
			} else if v < 0 || v > 255 {
				return unix.EINVAL
			}
			return errno(s.ep.SetSockOptInt(tcpip.MulticastTTLOption, v))
		case unix.IP_MULTICAST_LOOP:
			so.SetMulticastLoop(v != 0)
			return nil
		}
		return unix.ENOPROTOOPT
	case unix.SOL_IPV6:
		if s.family != unix.AF_INET6 {
			return unix.ENOPROTOOPT
		}
		switch name {
		case unix.IPV6_JOIN_GROUP, unix.IPV6_LEAVE_GROUP:
			if len(val) < 20 { // struct ipv6_mreq
				return unix.EINVAL
			}
			var ip [16]byte
			copy(ip[:], val)
			m := tcpip.MembershipOption{NIC: tcpip.NICID(binary.LittleEndian.Uint32(val[16:])), MulticastAddr: tcpip.AddrFrom16(ip)}
			if name == unix.IPV6_JOIN_GROUP {
				o := tcpip.AddMembershipOption(m)
				return errno(s.ep.SetSockOpt(&o))
			}
			o := tcpip.RemoveMembershipOption(m)
			return errno(s.ep.SetSockOpt(&o))
		}
		v, err := intVal(val)
		if err != nil {
			return err
		}
		switch name {
		case unix.IPV6_V6ONLY:
			if s.typ == unix.SOCK_STREAM && s.ep.State() != uint32(tcp.StateInitial) {
				return unix.EINVAL // Linux: only before bind and connect
			}
			so.SetV6Only(v != 0)
		case unix.IPV6_UNICAST_HOPS:
			if v < -1 || v > 255 {
				return unix.EINVAL
			}
			if v == -1 {
				v = 0
			}
			return errno(s.ep.SetSockOptInt(tcpip.IPv6HopLimitOption, v))
		case unix.IPV6_MULTICAST_HOPS:
			if v < -1 || v > 255 {
				return unix.EINVAL
			}
			if v == -1 {
				v = 1
			}
			return errno(s.ep.SetSockOptInt(tcpip.MulticastTTLOption, v))
		case unix.IPV6_MULTICAST_LOOP:
			so.SetMulticastLoop(v != 0)
		case unix.IPV6_TCLASS:
			if v < -1 || v > 255 {
				return unix.EINVAL
			}
			return errno(s.ep.SetSockOptInt(tcpip.IPv6TrafficClassOption, max(v, 0)))
		default:
			return unix.ENOPROTOOPT
		}
		return nil
	}
	return unix.ENOPROTOOPT
}

// mreq4 decodes struct ip_mreq (group, interface address) or struct
// ip_mreqn (group, address, interface index).
func (s *Socket) mreq4(val []byte) (tcpip.MembershipOption, error) {
	if len(val) < 8 {
		return tcpip.MembershipOption{}, unix.EINVAL
	}
	var grp, ifa [4]byte
	copy(grp[:], val)
	copy(ifa[:], val[4:8])
	m := tcpip.MembershipOption{MulticastAddr: tcpip.AddrFrom4(grp)}
	if ifa != [4]byte{} {
		m.InterfaceAddr = tcpip.AddrFrom4(ifa)
	}
	if len(val) >= 12 {
		m.NIC = tcpip.NICID(binary.LittleEndian.Uint32(val[8:]))
	}
	return m, nil
}

func intBytes(v int) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(int32(v)))
	return b
}

func boolBytes(v bool) []byte {
	if v {
		return intBytes(1)
	}
	return intBytes(0)
}

// GetSockOpt implements getsockopt(2): the value as Linux lays it out.
func (s *Socket) GetSockOpt(_ *vfs.Ctx, level, name int) ([]byte, error) {
	so := s.ep.SocketOptions()
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_TYPE:
			return intBytes(s.typ), nil
		case unix.SO_DOMAIN:
			return intBytes(s.family), nil
		case unix.SO_PROTOCOL:
			return intBytes(s.protocol), nil
		case unix.SO_ERROR:
			e := errno(s.ep.LastError())
			if e == nil {
				return intBytes(0), nil
			}
			return intBytes(int(e.(unix.Errno))), nil
		case unix.SO_REUSEADDR:
			return boolBytes(so.GetReuseAddress()), nil
		case unix.SO_REUSEPORT:
			return boolBytes(so.GetReusePort()), nil
		case unix.SO_KEEPALIVE:
			return boolBytes(so.GetKeepAlive()), nil
		case unix.SO_BROADCAST:
			return boolBytes(so.GetBroadcast()), nil
		case unix.SO_ACCEPTCONN:
			return boolBytes(so.GetAcceptConn()), nil
		case unix.SO_SNDBUF:
			return intBytes(int(min(so.GetSendBufferSize(), math.MaxInt32))), nil
		case unix.SO_RCVBUF:
			return intBytes(int(min(so.GetReceiveBufferSize(), math.MaxInt32))), nil
		case unix.SO_RCVLOWAT:
			return intBytes(int(so.GetRcvlowat())), nil
		case unix.SO_LINGER:
			l := so.GetLinger()
			b := make([]byte, 8)
			if l.Enabled {
				binary.LittleEndian.PutUint32(b, 1)
			}
			binary.LittleEndian.PutUint32(b[4:], uint32(l.Timeout/time.Second))
			return b, nil
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			r, w := s.Timeouts()
			if name == unix.SO_SNDTIMEO {
				r = w
			}
			return timeval(r), nil
		}
	case unix.SOL_TCP:
		if s.typ != unix.SOCK_STREAM {
			return nil, unix.ENOPROTOOPT
		}
		switch name {
		case unix.TCP_NODELAY:
			return boolBytes(!so.GetDelayOption()), nil
		case unix.TCP_CORK:
			return boolBytes(so.GetCorkOption()), nil
		case unix.TCP_QUICKACK:
			return boolBytes(so.GetQuickAck()), nil
		case unix.TCP_KEEPIDLE:
			var o tcpip.KeepaliveIdleOption
			if terr := s.ep.GetSockOpt(&o); terr != nil {
				return nil, errno(terr)
			}
			return intBytes(int(time.Duration(o) / time.Second)), nil
		case unix.TCP_KEEPINTVL:
			var o tcpip.KeepaliveIntervalOption
			if terr := s.ep.GetSockOpt(&o); terr != nil {
				return nil, errno(terr)
			}
			return intBytes(int(time.Duration(o) / time.Second)), nil
		case unix.TCP_KEEPCNT:
			return s.intOpt(tcpip.KeepaliveCountOption)
		case unix.TCP_MAXSEG:
			return s.intOpt(tcpip.MaxSegOption)
		}
	case unix.SOL_IP:
		if s.family != unix.AF_INET {
			return nil, unix.ENOPROTOOPT
		}
		switch name {
		case unix.IP_TTL:
			return s.intOpt(tcpip.IPv4TTLOption)
		case unix.IP_TOS:
			return s.intOpt(tcpip.IPv4TOSOption)
		case unix.IP_MULTICAST_TTL:
			return s.intOpt(tcpip.MulticastTTLOption)
		case unix.IP_MULTICAST_LOOP:
			return boolBytes(so.GetMulticastLoop()), nil
		}
	case unix.SOL_IPV6:
		if s.family != unix.AF_INET6 {
			return nil, unix.ENOPROTOOPT
		}
		switch name {
		case unix.IPV6_V6ONLY:
			return boolBytes(so.GetV6Only()), nil
		case unix.IPV6_UNICAST_HOPS:
			return s.intOpt(tcpip.IPv6HopLimitOption)
		case unix.IPV6_MULTICAST_HOPS:
			return s.intOpt(tcpip.MulticastTTLOption)
		case unix.IPV6_MULTICAST_LOOP:
			return boolBytes(so.GetMulticastLoop()), nil
		case unix.IPV6_TCLASS:
			return s.intOpt(tcpip.IPv6TrafficClassOption)
		}
	}
	return nil, unix.ENOPROTOOPT
}

func (s *Socket) intOpt(o tcpip.SockOptInt) ([]byte, error) {
	v, terr := s.ep.GetSockOptInt(o)
	if terr != nil {
		return nil, errno(terr)
	}
	return intBytes(v), nil
}

// parseTimeval decodes a struct timeval for SO_RCVTIMEO and SO_SNDTIMEO:
// EINVAL if short, EDOM for microseconds out of range; a negative time is
// no timeout, as Linux's sock_set_timeout.
func parseTimeval(b []byte) (time.Duration, error) {
	if len(b) < 16 {
		return 0, unix.EINVAL
	}
	sec := int64(binary.LittleEndian.Uint64(b))
	usec := int64(binary.LittleEndian.Uint64(b[8:]))
	if usec < 0 || usec >= 1e6 {
		return 0, unix.EDOM
	}
	if sec < 0 {
		return 0, nil
	}
	return time.Duration(min(sec, 1<<32))*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// timeval encodes d as a struct timeval.
func timeval(d time.Duration) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
	binary.LittleEndian.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
	return b
}
