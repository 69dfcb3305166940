package kernel

import (
	"sync/atomic"

	"dunix/kernel/mm"
)

// The entropy pool. getrandom answers with RDRAND (or, without it, a
// TSC-seeded generator) XORed with bytes of this pool when it has some.
// The pool is filled in Go context by AES-256-CTR (crypto/aes) keyed from
// an entropy device (virtio-rng) when there is one, and from RDRAND and
// TSC jitter; the key is replaced at every refill by fresh device bytes
// XORed with keystream never handed out (fast key erasure). Pool bytes
// are handed out once and cleared.

var (
	poolBuf      [16384]byte
	poolHead     int
	poolN        int
	entropyBytes atomic.Uint64 // bytes read from entropy devices
	poolSource   atomic.Bool   // a device feeds the pool
)

// kEntropyAdd appends n bytes at buf to the pool (as many as fit).
//
//go:nosplit
func kEntropyAdd(buf, n uint64) int64 {
	if !mm.Access(uintptr(buf), uintptr(n), false) {
		return -efault
	}
	src := bytesAt(buf, n)
	rngLock.Lock()
	added := 0
	for added < len(src) && poolN < len(poolBuf) {
		poolBuf[(poolHead+poolN)%len(poolBuf)] = src[added]
		poolN++
		added++
	}
	rngLock.Unlock()
	return int64(added)
}

// poolTake64 takes 8 bytes from the pool (0 when it is empty). rngLock
// is held.
//
//go:nosplit
func poolTake64() uint64 {
	if poolN < 8 {
		return 0
	}
	var v uint64
	for i := 0; i < 8; i++ {
		v |= uint64(poolBuf[poolHead]) << (8 * i)
		poolBuf[poolHead] = 0
		poolHead = (poolHead + 1) % len(poolBuf)
		poolN--
	}
	return v
}
