package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Wire format. Every yamux stream starts with a header from the opener:
//
//	version  1 byte  (wireVersion)
//	kind     1 byte  (kindStream or kindCall)
//	timeout  4 bytes big-endian, milliseconds the caller still waits (calls; 0 = none)
//	svclen   1 byte  (1..MaxServiceLen)
//	service  svclen bytes, printable ASCII
//
// A stream is answered by one status byte (statusOK or statusNoService),
// then carries the service's own bytes. A call continues with one frame,
// the request; the answer is a status byte and one frame (the response,
// or an error message). A frame is a 4-byte big-endian length and that
// many bytes, at most MaxMessage.
const (
	wireVersion = 1

	kindStream = 1
	kindCall   = 2

	statusOK        = 0
	statusError     = 1 // the handler returned an error; the frame is its message
	statusNoService = 2 // no handler for the service

	headerFixed = 7 // version, kind, timeout, svclen
)

// MaxServiceLen is the longest service name.
const MaxServiceLen = 255

// MaxMessage is the largest request or response of a Call, in bytes.
const MaxMessage = 16 << 20

// maxErrorMessage bounds the error text a call answer carries.
const maxErrorMessage = 4096

// errBadHeader is wrapped by every header decoding error.
var errBadHeader = errors.New("bad stream header")

// header is the decoded start of a stream.
type header struct {
	kind    byte
	timeout time.Duration // calls: how long the caller still waits (0 = no deadline)
	service string
}

// validService reports whether s is an acceptable service name.
func validService(s string) error {
	if len(s) == 0 || len(s) > MaxServiceLen {
		return fmt.Errorf("service name length %d not in 1..%d", len(s), MaxServiceLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("service name %q: byte %d not printable ASCII", s, i)
		}
	}
	return nil
}

// encode appends h to b.
func (h header) encode(b []byte) []byte {
	ms := h.timeout.Milliseconds()
	if h.timeout > 0 && ms == 0 {
		ms = 1
	}
	if ms > 0xffffffff {
		ms = 0xffffffff
	}
	b = append(b, wireVersion, h.kind)
	b = binary.BigEndian.AppendUint32(b, uint32(ms))
	b = append(b, byte(len(h.service)))
	return append(b, h.service...)
}

// readHeader reads and checks a stream header from r.
func readHeader(r io.Reader) (header, error) {
	var fixed [headerFixed]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return header{}, fmt.Errorf("%w: %w", errBadHeader, err)
	}
	if fixed[0] != wireVersion {
		return header{}, fmt.Errorf("%w: version %d", errBadHeader, fixed[0])
	}
	h := header{kind: fixed[1]}
	if h.kind != kindStream && h.kind != kindCall {
		return header{}, fmt.Errorf("%w: kind %d", errBadHeader, h.kind)
	}
	h.timeout = time.Duration(binary.BigEndian.Uint32(fixed[2:6])) * time.Millisecond
	n := int(fixed[6])
	svc := make([]byte, n)
	if _, err := io.ReadFull(r, svc); err != nil {
		return header{}, fmt.Errorf("%w: service: %w", errBadHeader, err)
	}
	h.service = string(svc)
	if err := validService(h.service); err != nil {
		return header{}, fmt.Errorf("%w: %v", errBadHeader, err)
	}
	return h, nil
}

// appendFrame appends a length-prefixed frame holding p to b.
func appendFrame(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

// readFrame reads one frame of at most max bytes from r.
func readFrame(r io.Reader, max int) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if uint64(size) > uint64(max) {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", size, max)
	}
	// Read what arrives rather than allocating what the length claims.
	p, err := io.ReadAll(io.LimitReader(r, int64(size)))
	if err != nil {
		return nil, err
	}
	if len(p) != int(size) {
		return nil, io.ErrUnexpectedEOF
	}
	return p, nil
}
