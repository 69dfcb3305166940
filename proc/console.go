package proc

import (
	"io"
	"sync"
	"syscall"
)

// Console is the node's terminal as user programs see it. Output goes to
// the kernel's console; input comes from it.
type Console struct {
	Out io.Writer

	mu    sync.Mutex
	in    []byte
	ready chan struct{}
}

// NewConsole returns a console writing to out.
func NewConsole(out io.Writer) *Console {
	return &Console{Out: out, ready: make(chan struct{})}
}

// Input adds bytes typed on the console.
func (c *Console) Input(b []byte) {
	c.mu.Lock()
	c.in = append(c.in, b...)
	close(c.ready)
	c.ready = make(chan struct{})
	c.mu.Unlock()
}

// consoleFile is an open /dev/console.
type consoleFile struct{ c *Console }

func (f consoleFile) Read(b []byte) (int, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if len(f.c.in) == 0 {
		return 0, syscall.EAGAIN
	}
	n := copy(b, f.c.in)
	f.c.in = f.c.in[n:]
	return n, nil
}

func (f consoleFile) Write(b []byte) (int, error) { return f.c.Out.Write(b) }
func (f consoleFile) Close() error                { return nil }

func (f consoleFile) Ready(write bool) <-chan struct{} {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if write || len(f.c.in) > 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return f.c.ready
}
