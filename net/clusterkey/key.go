// Package clusterkey holds the fabric's cluster key: 32 secret bytes that
// every node of one cluster shares (set when the image or the cluster is
// made; `dunix` generates one when none is given). Nothing uses the key
// itself: each use derives its own subkey with HKDF-SHA256 under a
// purpose label, so that the membership keyring, the discovery beacons,
// the transport's certificate authority and the address secrets never
// share key material.
package clusterkey

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Size is the length of a cluster key in bytes.
const Size = 32

// Key is a cluster key.
type Key [Size]byte

// Purpose labels for Derive; each names one use of a subkey.
const (
	Membership = "dunix membership keyring v1" // memberlist's AES-GCM key
	Discovery  = "dunix discovery beacon v1"   // HMAC key of discovery beacons
	Transport  = "dunix transport ca v1"       // seed of the transport's CA key
	AddrSecret = "dunix rfc7217 secret v1"     // RFC 7217 secret (mixed with the node name)
)

// Generate returns a new random key.
func Generate() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("cluster key: %w", err)
	}
	return k, nil
}

// Parse reads a key written as 64 hexadecimal digits.
func Parse(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	if len(s) != 2*Size {
		return k, fmt.Errorf("cluster key: want %d hexadecimal digits, got %d characters", 2*Size, len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("cluster key: not hexadecimal: %v", err)
	}
	return k, nil
}

// String returns the key as 64 hexadecimal digits (it is a secret: do not
// log it).
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Derive returns n bytes of subkey for purpose (one of the labels above),
// with info mixed in (a node name, or nothing).
func (k Key) Derive(purpose string, info string, n int) []byte {
	out, err := hkdf.Key(sha256.New, k[:], []byte(purpose), info, n)
	if err != nil {
		// Only an n beyond 255*32 bytes fails; callers ask for keys.
		panic("clusterkey: " + err.Error())
	}
	return out
}
