package vfs_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

func BenchmarkStatDeep(b *testing.B) {
	e := newEnv(b)
	e.mkdir("a", 0o755)
	e.mkdir("a/b", 0o755)
	e.mkdir("a/b/c", 0o755)
	e.mkdir("a/b/c/d", 0o755)
	e.write("a/b/c/d/f", "x")
	u := user(1000, 1000)
	b.ResetTimer()
	for range b.N {
		if _, err := e.ns.Stat(u, e.root, "/a/b/c/d/f", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenReadClose(b *testing.B) {
	e := newEnv(b)
	e.write("f", string(make([]byte, 4096)))
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	b.ResetTimer()
	for range b.N {
		f, err := e.ns.Open(e.ctx, e.root, "f", unix.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		f.Read(buf)
		f.Close()
	}
}

func BenchmarkReadLarge(b *testing.B) {
	e := newEnv(b)
	e.write("f", string(make([]byte, 1<<20)))
	f, err := e.ns.Open(e.ctx, e.root, "f", unix.O_RDONLY, 0)
	e.must(err)
	defer f.Close()
	buf := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	for range b.N {
		f.Pread(buf, 0)
	}
}
