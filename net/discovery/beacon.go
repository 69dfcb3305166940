package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// Version is the beacon format version.
const Version = 1

// MaxNameLen is the longest node name a beacon carries, in bytes.
const MaxNameLen = 64

// Beacon layout (all integers big-endian):
//
//	0      version (Version)
//	1      flags (flagJoined)
//	2..3   service port
//	4..11  epoch: random, chosen at boot
//	12..19 sequence number within the epoch, from 0
//	20..27 send time, Unix nanoseconds (the sender's clock)
//	28..43 nonce: 16 random bytes
//	44     name length n (1..MaxNameLen)
//	45..   name (UTF-8, no control characters)
//	then   HMAC-SHA256 of all the above under the discovery key
const (
	offFlags   = 1
	offService = 2
	offEpoch   = 4
	offSeq     = 12
	offTime    = 20
	offNonce   = 28
	nonceLen   = 16
	offNameLen = 44
	offName    = 45
	macLen     = sha256.Size

	minBeaconLen = offName + 1 + macLen
	maxBeaconLen = offName + MaxNameLen + macLen
)

// flagJoined marks a beacon from a node that has joined (is quiet).
const flagJoined = 0x01

// beacon is a decoded beacon.
type beacon struct {
	Joined  bool
	Service uint16
	Epoch   uint64
	Seq     uint64
	Time    int64 // Unix nanoseconds
	Nonce   [nonceLen]byte
	Name    string
}

// Decoding errors.
var (
	errMalformed = errors.New("malformed beacon")
	errBadMAC    = errors.New("beacon MAC does not verify")
)

// validName reports whether name can travel in a beacon.
func validName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// encode appends b, authenticated under key, to dst.
func encode(dst []byte, key []byte, b *beacon) []byte {
	start := len(dst)
	var flags byte
	if b.Joined {
		flags |= flagJoined
	}
	dst = append(dst, Version, flags)
	dst = binary.BigEndian.AppendUint16(dst, b.Service)
	dst = binary.BigEndian.AppendUint64(dst, b.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, b.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.Time))
	dst = append(dst, b.Nonce[:]...)
	dst = append(dst, byte(len(b.Name)))
	dst = append(dst, b.Name...)
	m := hmac.New(sha256.New, key)
	m.Write(dst[start:])
	return m.Sum(dst)
}

// decode checks and decodes a beacon. It returns errMalformed for
// anything that is not a well-formed beacon of this version, errBadMAC
// when the MAC does not verify under key. It never panics and does not
// keep p.
func decode(key []byte, p []byte) (beacon, error) {
	var b beacon
	if len(p) < minBeaconLen || len(p) > maxBeaconLen || p[0] != Version {
		return b, errMalformed
	}
	n := int(p[offNameLen])
	if n == 0 || n > MaxNameLen || len(p) != offName+n+macLen {
		return b, errMalformed
	}
	body := p[:offName+n]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), p[offName+n:]) {
		return b, errBadMAC
	}
	flags := p[offFlags]
	if flags&^flagJoined != 0 {
		return b, errMalformed
	}
	b.Joined = flags&flagJoined != 0
	b.Service = binary.BigEndian.Uint16(p[offService:])
	b.Epoch = binary.BigEndian.Uint64(p[offEpoch:])
	b.Seq = binary.BigEndian.Uint64(p[offSeq:])
	b.Time = int64(binary.BigEndian.Uint64(p[offTime:]))
	copy(b.Nonce[:], p[offNonce:offNonce+nonceLen])
	b.Name = string(p[offName : offName+n])
	if !validName(b.Name) || b.Service == 0 {
		return beacon{}, errMalformed
	}
	return b, nil
}
