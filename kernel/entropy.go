package kernel

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"dunix/arch/amd64"
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

// FeedEntropy keeps the pool full from dev (nil: RDRAND and TSC jitter
// only). It returns at once; the work goes on in a goroutine.
func FeedEntropy(dev io.Reader) {
	if dev != nil {
		poolSource.Store(true)
	}
	go func() {
		var key [32]byte
		var stream cipher.Stream
		chunk := make([]byte, 4096+32)
		for {
			// New key: device bytes, RDRAND/TSC, and the last key's
			// unused keystream.
			var fresh [32]byte
			if dev != nil {
				if n, err := io.ReadFull(dev, fresh[:]); err == nil {
					entropyBytes.Add(uint64(n))
				}
			}
			for i := 0; i < 4; i++ {
				// random64 takes a spinlock that trap context wants too:
				// Go context uses the instructions themselves.
				var hw uint64
				if cpuHasRdrand {
					hw, _ = amd64.Rdrand()
				}
				binary.LittleEndian.PutUint64(fresh[8*i:], binary.LittleEndian.Uint64(fresh[8*i:])^hw^amd64.Rdtsc())
			}
			for i := range key {
				key[i] ^= fresh[i]
			}
			block, err := aes.NewCipher(key[:])
			if err != nil {
				return
			}
			var iv [16]byte
			stream = cipher.NewCTR(block, iv[:]) // a fresh key every time: a zero IV is safe
			clear(chunk)
			stream.XORKeyStream(chunk, chunk)
			copy(key[:], chunk[4096:])
			for off := 0; off < 4096; {
				r, _ := kcall(kcallEntropyAdd, uintptr(unsafe.Pointer(&chunk[off])), uintptr(4096-off))
				if int64(r) <= 0 {
					time.Sleep(time.Second) // the pool is full
					continue
				}
				off += int(r)
			}
			clear(chunk)
		}
	}()
}
