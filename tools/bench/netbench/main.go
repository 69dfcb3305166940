//go:build linux

// Command netbench measures TCP between two machines on one LAN: the
// throughput of one stream and the round-trip time of a 1-byte ping-pong.
// `go run ./tools/bench net` runs it, built static, on two dunix nodes and
// on two Debian Linux guests.
//
// The peers find each other without configuration: the server listens on
// TCP [::]:PORT and sends UDP datagrams "netbench PORT" to the all-nodes
// group [ff02::1%ZONE]:PORT every 200 ms until a client connects; the
// client, bound to UDP [::]:PORT, takes the server's link-local address
// from the first such datagram and connects to it with the same zone
// (interface index ZONE, 2 by default: the network card, lo being 1; a
// numeric zone needs no interface-name lookup). The client then sends a
// header (the stream size and the ping-pong count), the stream, waits for
// the server's 1-byte acknowledgement, and plays ping-pong. It prints
//
//	bench: tcp-stream bytes=N ns=T
//	bench: tcp-rtt iters=N ns=T median_ns=M
//	bench: done
//
// (T the total time in nanoseconds, M the median round trip) and the
// server "bench: server done".
//
// With -linux, netbench sets up a bare Linux first (as /init of an
// initramfs): it mounts /proc, loads the kernel modules listed in
// /modules/order (one file name a line, in load order), brings eth0 up,
// waits for its link-local address to pass duplicate address detection,
// and powers the machine off at the end.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	role := flag.String("role", "", "server or client")
	port := flag.Int("port", 7300, "TCP and UDP port")
	size := flag.Int64("bytes", 64<<20, "bytes of the stream (client)")
	iters := flag.Int("rtt", 2000, "ping-pong round trips (client)")
	zone := flag.Int("zone", 2, "interface index of the network card")
	linux := flag.Bool("linux", false, "set up a bare Linux first and power off at the end")
	verify := flag.Bool("verify", false, "check every byte of the stream against the client's pattern (server)")
	flag.Parse()

	var err error
	if *linux {
		*zone, err = setupLinux()
	}
	if err == nil {
		switch *role {
		case "server":
			err = server(*port, *zone, *verify)
		case "client":
			err = client(*port, *zone, *size, *iters)
		default:
			err = fmt.Errorf("-role %q: want server or client", *role)
		}
	}
	code := 0
	if err != nil {
		fmt.Printf("bench: error: %v\n", err)
		code = 1
	}
	if *linux && os.Getpid() == 1 {
		unix.Sync()
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
	os.Exit(code)
}

// announce is the payload of the server's datagrams.
const announce = "netbench "

// server announces itself until a client connects, then serves it.
func server(port, zone int, verify bool) error {
	ln, err := net.ListenTCP("tcp6", &net.TCPAddr{IP: net.IPv6unspecified, Port: port})
	if err != nil {
		return err
	}
	defer ln.Close()
	u, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	go func() {
		defer u.Close()
		to := &net.UDPAddr{IP: net.ParseIP("ff02::1"), Port: port, Zone: strconv.Itoa(zone)}
		msg := []byte(announce + strconv.Itoa(port))
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		var lastErr string
		for {
			// Sends fail until the address is out of DAD: retry quietly,
			// saying once why.
			if _, err := u.WriteToUDP(msg, to); err != nil && err.Error() != lastErr {
				lastErr = err.Error()
				fmt.Printf("bench: announce: %v (retrying)\n", err)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	c, err := ln.AcceptTCP()
	close(stop)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetNoDelay(true)
	var hdr [12]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return fmt.Errorf("header: %v", err)
	}
	size, iters := int64(binary.BigEndian.Uint64(hdr[:8])), int(binary.BigEndian.Uint32(hdr[8:]))
	var sink io.Writer = io.Discard
	var check *patternChecker
	if verify {
		check = &patternChecker{bad: -1}
		sink = check
	}
	if _, err := io.CopyN(sink, c, size); err != nil {
		return fmt.Errorf("stream: %v", err)
	}
	if check != nil {
		if check.bad >= 0 {
			return fmt.Errorf("stream: byte %d differs from what the client sent", check.bad)
		}
		fmt.Printf("bench: stream verified (%d bytes as sent)\n", check.n)
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return err
	}
	b := make([]byte, 1)
	for i := 0; i < iters; i++ {
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("ping %d: %v", i, err)
		}
		if _, err := c.Write(b); err != nil {
			return fmt.Errorf("pong %d: %v", i, err)
		}
	}
	// Wait for the client to hang up before the machine powers off: the
	// last pong may still be queued on its way out.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c)
	fmt.Printf("bench: server done (client %s, %d bytes, %d round trips)\n", c.RemoteAddr(), size, iters)
	return nil
}

// client finds the server, then measures.
func client(port, zone int, size int64, iters int) error {
	u, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified, Port: port})
	if err != nil {
		return err
	}
	var peer net.IP
	buf := make([]byte, 512)
	for peer == nil {
		n, from, err := u.ReadFromUDP(buf)
		if err != nil {
			u.Close()
			return err
		}
		if strings.HasPrefix(string(buf[:n]), announce) && from.IP.IsLinkLocalUnicast() {
			peer = from.IP
		}
	}
	u.Close()
	// The client's own address may still be in DAD (on dunix the program
	// starts while the node joins the LAN): connect fails with
	// ENETUNREACH until it is usable.
	var c *net.TCPConn
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		c, err = net.DialTCP("tcp6", nil, &net.TCPAddr{IP: peer, Port: port, Zone: strconv.Itoa(zone)})
		if err == nil {
			break
		}
		if time.Since(start) > 60*time.Second {
			return err
		}
	}
	defer c.Close()
	c.SetNoDelay(true)
	fmt.Printf("bench: connected %s -> %s\n", c.LocalAddr(), c.RemoteAddr())
	var hdr [12]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(size))
	binary.BigEndian.PutUint32(hdr[8:], uint32(iters))
	if _, err := c.Write(hdr[:]); err != nil {
		return err
	}

	chunk := make([]byte, patternLen)
	for i := range chunk {
		chunk[i] = patternByte(int64(i))
	}
	start := time.Now()
	for left := size; left > 0; {
		k := min(left, int64(len(chunk)))
		if _, err := c.Write(chunk[:k]); err != nil {
			return fmt.Errorf("stream: %v", err)
		}
		left -= k
	}
	ack := make([]byte, 1)
	if _, err := io.ReadFull(c, ack); err != nil {
		return fmt.Errorf("acknowledgement: %v", err)
	}
	fmt.Printf("bench: tcp-stream bytes=%d ns=%d\n", size, time.Since(start).Nanoseconds())

	b := []byte{'x'}
	rtts := make([]time.Duration, iters)
	start = time.Now()
	for i := 0; i < iters; i++ {
		t := time.Now()
		if _, err := c.Write(b); err != nil {
			return fmt.Errorf("ping %d: %v", i, err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("pong %d: %v", i, err)
		}
		rtts[i] = time.Since(t)
	}
	total := time.Since(start)
	slices.Sort(rtts)
	var median time.Duration
	if iters > 0 {
		median = rtts[iters/2]
	}
	fmt.Printf("bench: tcp-rtt iters=%d ns=%d median_ns=%d\n", iters, total.Nanoseconds(), median.Nanoseconds())
	fmt.Println("bench: done")
	return nil
}

// setupLinux prepares a bare Linux (netbench as /init): /proc, the
// network card's modules, eth0 up with its link-local address usable. It
// returns eth0's interface index.
func setupLinux() (int, error) {
	if err := os.MkdirAll("/proc", 0o755); err != nil {
		return 0, err
	}
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil && err != unix.EBUSY {
		return 0, fmt.Errorf("mount /proc: %v", err)
	}
	order, err := os.ReadFile("/modules/order")
	if err != nil {
		return 0, err
	}
	for _, name := range strings.Fields(string(order)) {
		if err := loadModule(filepath.Join("/modules", name)); err != nil {
			return 0, err
		}
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	// The card's driver may register eth0 a moment after its module.
	var ifr *unix.Ifreq
	deadline := time.Now().Add(30 * time.Second)
	for {
		ifr, err = unix.NewIfreq("eth0")
		if err != nil {
			return 0, err
		}
		if err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("eth0: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return 0, fmt.Errorf("eth0 up: %v", err)
	}
	idx, err := unix.NewIfreq("eth0")
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, idx); err != nil {
		return 0, fmt.Errorf("eth0 index: %v", err)
	}
	index := int(idx.Uint32())
	start := time.Now()
	for !linkLocalReady(index) {
		if time.Since(start) > 60*time.Second {
			return 0, fmt.Errorf("eth0 (index %d): no link-local address out of DAD after 60 s", index)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("bench: eth0 (index %d) up, link-local address usable after %v\n", index, time.Since(start).Round(time.Millisecond))
	return index, nil
}

// loadModule loads a kernel module file; one already loaded is fine.
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return fmt.Errorf("finit_module %s: %v", path, err)
	}
	return nil
}

// linkLocalReady reports whether interface index has a link-local
// address that is neither tentative nor failed DAD (/proc/net/if_inet6:
// address, index, prefix length, scope, flags, name; all hexadecimal).
func linkLocalReady(index int) bool {
	f, err := os.Open("/proc/net/if_inet6")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 6 {
			continue
		}
		idx, _ := strconv.ParseUint(fl[1], 16, 32)
		scope, _ := strconv.ParseUint(fl[3], 16, 32)
		flags, _ := strconv.ParseUint(fl[4], 16, 32)
		const tentative, dadFailed = 0x40, 0x08
		if int(idx) == index && scope == 0x20 && flags&(tentative|dadFailed) == 0 {
			return true
		}
	}
	return false
}

// The stream is a pattern the server can check (-verify): byte p of the
// stream is patternByte(p).
const patternLen = 128 << 10

func patternByte(p int64) byte { return byte(p % patternLen * 7) }

// patternChecker is a Writer that compares what it is given with the
// pattern; bad is the position of the first difference, or -1 (set it
// so to start).
type patternChecker struct {
	n   int64
	bad int64
}

func (c *patternChecker) Write(b []byte) (int, error) {
	for i, v := range b {
		if v != patternByte(c.n+int64(i)) && c.bad < 0 {
			c.bad = c.n + int64(i)
		}
	}
	c.n += int64(len(b))
	return len(b), nil
}
