package unixsock

import (
	"encoding/binary"
	"time"

	"dunix/fs/vfs"

	"golang.org/x/sys/unix"
)

// Socket options: SOL_SOCKET only (AF_UNIX has no other level).
// Unsupported ones are ENOPROTOOPT, as Linux says for options it does not
// know: SO_PASSCRED and SO_PASSSEC among them (SCM_CREDENTIALS is not
// delivered, so accepting SO_PASSCRED would be a silent fake).

// boolOpts are kept as set and read back, without effect on AF_UNIX (as on
// Linux, where they only matter to other families).
var boolOpts = map[int]bool{
	unix.SO_REUSEADDR: true, unix.SO_REUSEPORT: true, unix.SO_KEEPALIVE: true,
	unix.SO_BROADCAST: true, unix.SO_DONTROUTE: true, unix.SO_OOBINLINE: true,
	unix.SO_TIMESTAMP: true, unix.SO_PRIORITY: true, unix.SO_RCVLOWAT: true,
}

// SetSockOpt implements setsockopt(2). EINVAL for a value shorter than an
// int, ENOPROTOOPT for unknown options and levels.
func (s *Socket) SetSockOpt(ctx *vfs.Ctx, level, name int, val []byte) error {
	if level != unix.SOL_SOCKET {
		return unix.ENOPROTOOPT
	}
	switch name {
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		d, err := ParseTimeval(val)
		if err != nil {
			return err
		}
		mu.Lock()
		s.setOpt(name, int(d))
		mu.Unlock()
		return nil
	case unix.SO_LINGER:
		if len(val) < 8 {
			return unix.EINVAL
		}
		mu.Lock()
		s.setOpt(name, int(binary.LittleEndian.Uint32(val)))
		s.setOpt(-name, int(int32(binary.LittleEndian.Uint32(val[4:]))))
		mu.Unlock()
		return nil
	}
	if len(val) < 4 {
		return unix.EINVAL
	}
	v := int(int32(binary.LittleEndian.Uint32(val)))
	root := ctx != nil && ctx.Cred.IsRoot()
	mu.Lock()
	defer mu.Unlock()
	switch name {
	case unix.SO_SNDBUF, unix.SO_SNDBUFFORCE:
		if name == unix.SO_SNDBUFFORCE && !root {
			return unix.EPERM
		}
		s.sndbuf = bufSize(v, name == unix.SO_SNDBUFFORCE, minSndBuf)
	case unix.SO_RCVBUF, unix.SO_RCVBUFFORCE:
		if name == unix.SO_RCVBUFFORCE && !root {
			return unix.EPERM
		}
		s.rcvbuf = bufSize(v, name == unix.SO_RCVBUFFORCE, minRcvBuf)
	default:
		if !boolOpts[name] {
			return unix.ENOPROTOOPT
		}
		s.setOpt(name, v)
	}
	return nil
}

// bufSize is Linux's rule for SO_SNDBUF and SO_RCVBUF: the value, capped
// at MaxBuf unless forced, doubled (for bookkeeping), at least min.
func bufSize(v int, force bool, least int) int {
	if v < 0 {
		v = 0
	}
	if !force {
		v = min(v, MaxBuf)
	}
	v = min(v, 1<<30)
	return max(2*v, least)
}

func (s *Socket) setOpt(name, v int) {
	if s.opts == nil {
		s.opts = map[int]int{}
	}
	s.opts[name] = v
}

// GetSockOpt implements getsockopt(2): the option's value as Linux lays it
// out (an int for most). ENOPROTOOPT for unknown options and levels.
func (s *Socket) GetSockOpt(ctx *vfs.Ctx, level, name int) ([]byte, error) {
	if level != unix.SOL_SOCKET {
		return nil, unix.ENOPROTOOPT
	}
	mu.Lock()
	defer mu.Unlock()
	var v int
	switch name {
	case unix.SO_TYPE:
		v = s.typ
	case unix.SO_DOMAIN:
		v = unix.AF_UNIX
	case unix.SO_PROTOCOL:
		v = 0
	case unix.SO_ERROR:
		v = int(s.sockErr)
		s.sockErr = 0
	case unix.SO_SNDBUF:
		v = s.sndbuf
	case unix.SO_RCVBUF:
		v = s.rcvbuf
	case unix.SO_ACCEPTCONN:
		if s.st == listening {
			v = 1
		}
	case unix.SO_PEERCRED:
		c := noCred
		if s.hasPeerCred {
			c = s.peerCred
		}
		b := make([]byte, 12)
		binary.LittleEndian.PutUint32(b, uint32(c.PID))
		binary.LittleEndian.PutUint32(b[4:], c.UID)
		binary.LittleEndian.PutUint32(b[8:], c.GID)
		return b, nil
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		return Timeval(time.Duration(s.opts[name])), nil
	case unix.SO_LINGER:
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(s.opts[name]))
		binary.LittleEndian.PutUint32(b[4:], uint32(s.opts[-name]))
		return b, nil
	default:
		if !boolOpts[name] {
			return nil, unix.ENOPROTOOPT
		}
		v = s.opts[name]
		if name == unix.SO_RCVLOWAT && v == 0 {
			v = 1
		}
	}
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(v))
	return b, nil
}

// Timeouts returns SO_RCVTIMEO and SO_SNDTIMEO (0: none), which the
// system-call layer applies to its waits.
func (s *Socket) Timeouts() (rcv, snd time.Duration) {
	mu.Lock()
	defer mu.Unlock()
	return time.Duration(s.opts[unix.SO_RCVTIMEO]), time.Duration(s.opts[unix.SO_SNDTIMEO])
}

// ParseTimeval decodes a struct timeval for SO_RCVTIMEO and SO_SNDTIMEO:
// EINVAL if short or if the microseconds are out of range; a negative
// time is 0 (no timeout), as Linux's sock_set_timeout.
func ParseTimeval(b []byte) (time.Duration, error) {
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
	sec = min(sec, 1<<32)
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// Timeval encodes d as a struct timeval.
func Timeval(d time.Duration) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
	binary.LittleEndian.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
	return b
}
