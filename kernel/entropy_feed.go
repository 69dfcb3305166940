package kernel

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"io"
	"time"
	"unsafe"

	"dunix/arch/amd64"
)

// The Go-context side of the entropy pool (see entropy.go).

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
