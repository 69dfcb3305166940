package main

import (
	"bytes"
	"testing"
)

// The console filter turns "\r\n" into "\n" even when the two bytes come
// in different writes, keeps lone carriage returns, and sends kernel lines
// to the error stream.
func TestConsoleFilterSplitCRLF(t *testing.T) {
	var out, errw bytes.Buffer
	c := &consoleFilter{out: &out, errw: &errw, stripCR: true}
	for _, chunk := range []string{"one\r", "\ntwo\r\n", "dunix: kernel says\r\n", "a\rb\r"} {
		c.Write([]byte(chunk))
	}
	c.flush()
	if got, want := out.String(), "one\ntwo\na\rb\r"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if got, want := errw.String(), "dunix: kernel says\n"; got != want {
		t.Errorf("kernel lines %q, want %q", got, want)
	}
}
