package vfs_test

import (
	"testing"
)

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	e.mkdir("a", 0o755)
	e.mkdir("a/b", 0o755)
	e.write("a/b/f", "hello")
	if got := e.read("/a/./b/../b/f"); got != "hello" {
		t.Fatalf("got %q", got)
	}
	e.symlink("b/f", "a/l")
	if got := e.read("a/l"); got != "hello" {
		t.Fatalf("got %q", got)
	}
}
