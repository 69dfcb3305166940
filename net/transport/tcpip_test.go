package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"

	"dunix/net/clusterkey"
	"dunix/net/ip6"
	"dunix/net/link/memlink"
)

// tcpipNode is a transport on a gVisor stack on a memlink hub, listening
// on its link-local address as the fabric will.
type tcpipNode struct {
	*Transport
	port *memlink.Port
}

const testPort = 7947

// tcpipFabric starts one transport per name, each on its own stack on
// one hub; they dial each other by link-local address through a table.
func tcpipFabric(t *testing.T, key clusterkey.Key, keepAlive time.Duration, names ...string) []*tcpipNode {
	hub := memlink.NewHub()
	t.Cleanup(hub.Close)
	var mu sync.Mutex
	addrs := map[string]tcpip.Address{}
	var nodes []*tcpipNode
	for i, name := range names {
		port := hub.Port([6]byte{0x02, 0, 0, 0, 1, byte(i + 1)})
		st, err := ip6.New(ip6.Config{Device: port, Secret: []byte("secret of node " + name), DADRetransmitTimer: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		addr, err := st.LinkLocal(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		addrs[name] = addr
		mu.Unlock()
		ln, err := gonet.ListenTCP(st.S, tcpip.FullAddress{NIC: st.NIC, Addr: addr, Port: testPort}, ipv6.ProtocolNumber)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := New(Config{
			Name:     name,
			Key:      key,
			Listener: ln,
			Dial: func(ctx context.Context, node string) (net.Conn, error) {
				mu.Lock()
				to, ok := addrs[node]
				mu.Unlock()
				if !ok {
					return nil, fmt.Errorf("no address for %q", node)
				}
				return gonet.DialContextTCP(ctx, st.S, tcpip.FullAddress{NIC: st.NIC, Addr: to, Port: testPort}, ipv6.ProtocolNumber)
			},
			Logf:      func(f string, a ...any) { t.Logf(name+": "+f, a...) },
			KeepAlive: keepAlive,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		nodes = append(nodes, &tcpipNode{Transport: tr, port: port})
	}
	return nodes
}

func TestOverTcpip(t *testing.T) {
	key, _ := clusterkey.Generate()
	nodes := tcpipFabric(t, key, time.Second, "a", "b", "c") // 300 ms flapped under load (-race, busy host)
	for _, n := range nodes {
		n.HandleCall("len", func(ctx context.Context, from string, req []byte) ([]byte, error) {
			return []byte(fmt.Sprintf("%s:%d", from, len(req))), nil
		})
		n.Handle("sink", func(s *Stream) {
			k, _ := io.Copy(io.Discard, s)
			fmt.Fprintf(s, "%d", k)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Calls between every pair at once.
	var wg sync.WaitGroup
	for _, from := range nodes {
		for _, to := range nodes {
			for k := 0; k < 5; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := make([]byte, 20000*k)
					resp, err := from.Call(ctx, to.Name(), "len", req)
					if want := fmt.Sprintf("%s:%d", from.Name(), len(req)); err != nil || string(resp) != want {
						t.Errorf("%s->%s: %q %v, want %q", from.Name(), to.Name(), resp, err, want)
					}
				}()
			}
		}
	}
	wg.Wait()

	// A bulk stream.
	const size = 4 << 20
	c, err := nodes[0].Open(ctx, "b", "sink")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.Copy(c, io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != fmt.Sprint(size) {
		t.Fatalf("sink answered %q %v", got, err)
	}
	t.Logf("4 MiB stream a->b over tcpip+memlink: %v (%.1f MiB/s, with -race if on)", time.Since(start), size/time.Since(start).Seconds()/(1<<20))

	// c's machine stops: a call in flight to it fails once keep-alives
	// time out.
	blocked := make(chan struct{})
	nodes[2].HandleCall("block", func(ctx context.Context, from string, req []byte) ([]byte, error) {
		close(blocked)
		select {}
	})
	errc := make(chan error, 1)
	go func() {
		_, err := nodes[0].Call(context.Background(), "c", "block", nil)
		errc <- err
	}()
	<-blocked
	nodes[2].port.SetUp(false)
	killed := time.Now()
	select {
	case err := <-errc:
		if !isPeerGone(err) {
			t.Errorf("call to the dead node: %v, want ErrPeerGone", err)
		}
		t.Logf("call in flight failed %v after the link went down (keep-alive 1 s)", time.Since(killed))
	case <-time.After(10 * time.Second):
		t.Fatal("call to the dead node still running after 10 s")
	}
	// The others are unaffected.
	if _, err := nodes[0].Call(ctx, "b", "len", nil); err != nil {
		t.Errorf("a->b after c died: %v", err)
	}
}

func isPeerGone(err error) bool { return errors.Is(err, ErrPeerGone) }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
