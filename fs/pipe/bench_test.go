package pipe_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

func BenchmarkPipe4K(b *testing.B) {
	r, w := newPipe(b, unix.O_NONBLOCK)
	defer r.Close()
	defer w.Close()
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	for range b.N {
		w.Write(buf)
		r.Read(buf)
	}
}
