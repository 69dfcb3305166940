package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dunix/boot/kimage"
	"dunix/net/clusterkey"
	"dunix/net/status"
	"dunix/qemu"
	"dunix/tools/observe"
)

// clusterEnv gives the test a cluster directory of its own.
func clusterEnv(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dc") // short: console sockets live here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	t.Setenv(envClusterDir, dir)
	return dir
}

func TestClusterHelp(t *testing.T) {
	dunix(t, nil, "help").expect(t, 0, []string{"  cluster ", "  status "}, nil)
	dunix(t, nil, "cluster", "-h").expect(t, 0, []string{"usage: dunix cluster up|status|console|kill|down", "Ctrl-] detaches", envClusterDir}, nil)
	dunix(t, nil, "cluster", "up", "-h").expect(t, 0, []string{"usage: dunix cluster up [flags]", "-n N", "--key HEX", "--wait members|ready|none", "--accel auto|kvm|tcg", "dunix: ready"}, nil)
	dunix(t, nil, "cluster", "console", "-h").expect(t, 0, []string{"usage: dunix cluster console [flags] NODE", "Ctrl-]"}, nil)
	dunix(t, nil, "status", "-h").expect(t, 0, []string{"usage: dunix status [flags]", "--json", "ff02::1"}, nil)
	dunix(t, nil, "cluster").expect(t, exitUsage, nil, []string{"no subcommand"})
	dunix(t, nil, "cluster", "sideways").expect(t, exitUsage, nil, []string{`unknown subcommand "sideways"`})
	dunix(t, nil, "cluster", "up", "--bogus").expect(t, exitUsage, nil, []string{"run 'dunix cluster up -h'"})
}

func TestClusterUpRefuses(t *testing.T) {
	kernel := setup(t, "print dunix: ready\nhang\n")
	t.Setenv(envKernel, kernel)
	clusterEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-n", "0"}, exitUsage, "-n 0: want 1 to 64 nodes"},
		{[]string{"--key", "abc"}, exitUsage, "--key: want 64 hexadecimal digits"},
		{[]string{"--key", strings.Repeat("zz", 32)}, exitUsage, "--key: not hexadecimal"},
		{[]string{"--wait", "forever"}, exitUsage, `--wait "forever"`},
		{[]string{"--name", "../x"}, exitUsage, `--name "../x"`},
		{[]string{"--mem", "1X"}, exitUsage, "--mem"},
		{[]string{"extra"}, exitUsage, `unexpected argument "extra"`},
	} {
		inv := dunix(t, nil, append([]string{"cluster", "up"}, tc.args...)...)
		inv.expect(t, tc.code, nil, []string{tc.want})
	}

	// Not enough memory.
	mi := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(mi, []byte("MemTotal:  1000000 kB\nMemAvailable:  409600 kB\n"), 0o644)
	old := meminfoPath
	meminfoPath = mi
	t.Cleanup(func() { meminfoPath = old })
	dunix(t, nil, "cluster", "up", "-n", "2", "--mem", "256M").expect(t, exitNoStatus, nil,
		[]string{"2 nodes of 256 MiB need about 640 MiB", "only 400 MiB are available"})
	meminfoPath = old

	// No QEMU.
	t.Setenv(qemu.EnvQEMU, "/nonexistent/qemu")
	dunix(t, nil, "cluster", "up", "-n", "1").expect(t, exitNoStatus, nil, []string{"DUNIX_QEMU=/nonexistent/qemu"})
}

func TestClusterNotUp(t *testing.T) {
	clusterEnv(t)
	dunix(t, nil, "cluster", "status").expect(t, 1, nil, []string{`cluster "default" is not up`, "dunix cluster up --name default"})
	dunix(t, nil, "cluster", "status", "--name", "other").expect(t, 1, nil, []string{`cluster "other" is not up`})
	dunix(t, nil, "cluster", "kill", "n1").expect(t, exitNoStatus, nil, []string{"is not up"})
	dunix(t, nil, "cluster", "kill").expect(t, exitUsage, nil, []string{"want one NODE"})
	dunix(t, nil, "cluster", "console", "n1").expect(t, exitNoStatus, nil, []string{"is not up"})
	dunix(t, nil, "cluster", "down").expect(t, 0, nil, []string{"nothing to stop"})
	dunix(t, nil, "status").expect(t, exitNoStatus, nil, []string{"is not up"})
}

func TestClusterDirs(t *testing.T) {
	t.Setenv(envClusterDir, "")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	if d, _ := clusterDir("c1"); d != "/xdg/dunix/clusters/c1" {
		t.Errorf("clusterDir with XDG_STATE_HOME = %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := clusterDir("c1"); d != "/home/u/.local/state/dunix/clusters/c1" {
		t.Errorf("clusterDir with HOME = %s", d)
	}
	t.Setenv(envClusterDir, "/cl")
	if d, _ := clusterDir("c1"); d != "/cl/c1" {
		t.Errorf("clusterDir with %s = %s", envClusterDir, d)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "-x", strings.Repeat("a", 33)} {
		if _, err := clusterDir(bad); err == nil {
			t.Errorf("clusterDir(%q) accepted", bad)
		}
	}
}

func TestMemAvailable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(p, []byte("MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   2097152 kB\n"), 0o644)
	if got, err := memAvailableMiB(p); err != nil || got != 2048 {
		t.Errorf("memAvailableMiB = %d, %v; want 2048", got, err)
	}
	os.WriteFile(p, []byte("MemTotal: 1 kB\n"), 0o644)
	if _, err := memAvailableMiB(p); err == nil {
		t.Error("memAvailableMiB without the line succeeded")
	}
}

func TestProcAlive(t *testing.T) {
	self := os.Getpid()
	if procAlive(self, "/") {
		t.Error("the test binary passed for a QEMU")
	}
	if procAlive(0, "/") || procAlive(1<<30, "/") {
		t.Error("a missing pid is alive")
	}
}

func TestMembership(t *testing.T) {
	st := &clusterState{Nodes: []nodeState{{Name: "n1"}, {Name: "n2"}}}
	node := func(name string, alive ...string) *status.Node {
		n := &status.Node{Name: name}
		for _, a := range alive {
			n.Members = append(n.Members, status.Member{Name: a, State: "alive"})
		}
		n.Members = append(n.Members, status.Member{Name: "n9", State: "dead"})
		return n
	}
	sum, complete, some := membership(st, nil)
	if complete || some || sum != "n1 does not answer; n2 does not answer" {
		t.Errorf("nobody: %q %v %v", sum, complete, some)
	}
	sum, complete, some = membership(st, []observe.Report{{Node: node("n1", "n1")}, {Node: node("n2", "n1", "n2")}})
	if complete || !some || sum != "n1 sees n1; n2 sees n1 n2" {
		t.Errorf("partial: %q %v %v", sum, complete, some)
	}
	_, complete, _ = membership(st, []observe.Report{{Node: node("n1", "n2", "n1")}, {Node: node("n2", "n1", "n2")}, {Err: errors.New("x")}})
	if !complete {
		t.Error("complete membership not seen")
	}
}

var (
	realKernelOnce sync.Once
	realKernelPath string
	realKernelErr  error
)

// realKernel returns $DUNIX_KERNEL or builds the kernel once.
func realKernel(t *testing.T) string {
	t.Helper()
	realKernelOnce.Do(func() {
		if p := os.Getenv(envKernel); p != "" {
			realKernelPath = p
			return
		}
		dir, err := os.MkdirTemp("", "dunix-clustertest")
		if err != nil {
			realKernelErr = err
			return
		}
		realKernelPath = filepath.Join(dir, kernelName)
		_, realKernelErr = kimage.Build(context.Background(), "../..", realKernelPath)
	})
	if realKernelErr != nil {
		t.Fatal(realKernelErr)
	}
	return realKernelPath
}

// realCluster prepares a test that boots cluster name of the real kernel
// and returns its directory; whatever happens, no QEMU outlives the test.
func realCluster(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	if err := qemu.CheckInstalled(); err != nil {
		t.Fatal(err)
	}
	kernel := realKernel(t)
	dir := clusterEnv(t)
	t.Setenv(envKernel, kernel)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cdir := filepath.Join(dir, name)
	t.Cleanup(func() {
		if st, err := loadState(name, cdir); err == nil {
			stopCluster(cdir, st)
		}
	})
	return cdir
}

// TestClusterQEMU runs a two-node cluster of the real kernel through its
// life: up (ready; the membership wait replaced by one that fails, to see
// up leave the cluster running), status, console, a second up refused,
// kill, down.
func TestClusterQEMU(t *testing.T) {
	cdir := realCluster(t, "t1")

	old := waitMembers
	waitMembers = func(ctx context.Context, e *env, st *clusterState, deadline time.Time) error {
		return errors.New("no node answered on the fabric (test)")
	}
	t.Cleanup(func() { waitMembers = old })

	up := dunix(t, nil, "cluster", "up", "--name", "t1", "-n", "2", "--mem", "128M", "--accel", "tcg")
	up.expect(t, 1, nil, []string{"n1 ready after", "n2 ready after", "no node answered on the fabric (test)", "the cluster was left up"})
	st, err := loadState("t1", cdir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 2 || !st.Nodes[0].alive(cdir) || !st.Nodes[1].alive(cdir) {
		t.Fatalf("state after up: %+v", st)
	}
	if fi, err := os.Stat(st.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	if st.Nodes[0].MAC == st.Nodes[1].MAC || st.LAN == "" {
		t.Errorf("MACs %s %s, LAN %q", st.Nodes[0].MAC, st.Nodes[1].MAC, st.LAN)
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Nodes[1].PID) + "/cmdline")
	if !strings.Contains(string(cmdline), "dunix.node=n2 dunix.key=") || !strings.Contains(string(cmdline), "mcast="+st.LAN) {
		t.Errorf("n2's QEMU command line: %q", cmdline)
	}

	dunix(t, nil, "cluster", "status", "--name", "t1").expect(t, 0,
		[]string{"cluster t1: 2 nodes on LAN " + st.LAN, "n1 ", "n2 ", "alive", st.Nodes[1].MAC, filepath.Join(cdir, "n2.log")}, nil)
	dunix(t, nil, "cluster", "up", "--name", "t1", "-n", "1", "--accel", "tcg").expect(t, exitNoStatus, nil, []string{`cluster "t1" is already up`})

	con := dunix(t, strings.NewReader("echo answer-$((6*7))\n"), "cluster", "console", "--name", "t1", "n1")
	con.expect(t, 0, []string{"answer-42"}, []string{"connected to n1's console; Ctrl-] detaches", "detached from n1"})

	consoleOnPTY(t, "t1", "n1")

	dunix(t, nil, "cluster", "kill", "--name", "t1", "n2").expect(t, 0, nil, []string{"n2 powered off"})
	dunix(t, nil, "cluster", "status", "--name", "t1").expect(t, 0, []string{"killed"}, nil)
	if st.Nodes[1].alive(cdir) {
		t.Error("n2 still runs after kill")
	}
	dunix(t, nil, "cluster", "kill", "--name", "t1", "n2").expect(t, 1, nil, []string{"n2 is not running"})

	dunix(t, nil, "cluster", "down", "--name", "t1").expect(t, 0, nil, []string{`cluster "t1" stopped`, "logs stay in " + cdir})
	if st.Nodes[0].alive(cdir) {
		t.Error("n1 still runs after down")
	}
	for _, f := range []string{"state.json", "key", "n1.sock"} {
		if _, err := os.Stat(filepath.Join(cdir, f)); err == nil {
			t.Errorf("%s left after down", f)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(cdir, "n1.log")); !strings.Contains(string(b), "answer-42") {
		t.Errorf("n1.log after down: %q", b)
	}
	dunix(t, nil, "cluster", "down", "--name", "t1", "--purge").expect(t, 0, nil, []string{"nothing to stop"})
	if _, err := os.Stat(cdir); err == nil {
		t.Error("--purge left the directory")
	}
}

// consoleOnPTY attaches to a node's console from a pseudo-terminal: the
// terminal is raw while attached, keys reach the shell, Ctrl-] detaches
// and the terminal is restored.
func consoleOnPTY(t *testing.T, cluster, node string) {
	t.Helper()
	master, slave := openPTY(t)
	before := termios(t, slave)
	inv := &invocation{}
	e := &env{stdin: slave, stdout: &inv.stdout, stderr: &inv.stderr, executable: os.Executable}
	done := make(chan int)
	go func() { done <- run(context.Background(), []string{"cluster", "console", "--name", cluster, node}, e) }()
	inv.stderr.waitFor(t, "Ctrl-] detaches")
	if raw := termios(t, slave); raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("terminal not raw while attached: lflag %#x", raw.Lflag)
	}
	master.Write([]byte("echo pty-$((2+3))\r"))
	inv.stdout.waitFor(t, "pty-5")
	master.Write([]byte{detachByte})
	select {
	case inv.code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("console did not return after Ctrl-]")
	}
	inv.expect(t, 0, nil, []string{"detached from " + node})
	if after := termios(t, slave); after.Lflag != before.Lflag || after.Oflag != before.Oflag {
		t.Errorf("terminal not restored after detaching")
	}
}

// TestClusterFabricQEMU checks the fabric of a real three-node cluster
// from the host: `cluster up` waits for full membership; `dunix status`
// (text and JSON, through the observer on the cluster's LAN) shows every
// node seeing the other two with link-local addresses; a node booted with
// another key on the same LAN is kept out and its packets are counted as
// dropped; busybox nc carries 256 KiB from a program on n1 to one on n2
// over link-local addresses; and once n3 is killed, n1 and n2 see it dead.
func TestClusterFabricQEMU(t *testing.T) {
	cdir := realCluster(t, "f1")
	dunix(t, nil, "cluster", "up", "--name", "f1", "-n", "3", "--mem", "256M", "--accel", "tcg").expect(t, 0,
		nil, []string{"n3 ready", "every node sees 3 alive members"})
	st, err := loadState("f1", cdir)
	if err != nil {
		t.Fatal(err)
	}
	nodes := statusJSON(t, "f1")
	if len(nodes) != 3 {
		t.Fatalf("status --json lists %d nodes: %+v", len(nodes), nodes)
	}
	for i, n := range nodes {
		if n.Name != fmt.Sprintf("n%d", i+1) || len(n.Addrs) == 0 || !strings.HasPrefix(n.Addrs[0], "fe80::") ||
			!slices.Equal(observe.Alive(&n), []string{"n1", "n2", "n3"}) || n.MAC != st.Nodes[i].MAC {
			t.Errorf("node %d: %+v", i+1, n)
		}
	}
	dunix(t, nil, "status", "--name", "f1").expect(t, 0, []string{"n1  fe80::", "n2  fe80::", "n3  fe80::", "alive"}, nil)

	// An intruder: same LAN, another key.
	lan, err := qemu.ParseLAN(st.LAN)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := clusterkey.Generate()
	var intruderOut syncBuf
	m, err := qemu.Start(context.Background(), qemu.Config{Kernel: st.Kernel, Initrd: st.Root, MemMiB: 256, Accel: qemu.AccelTCG,
		Cmdline: "dunix.node=intruder dunix.key=" + other.String(),
		NICs:    []qemu.NIC{{MAC: qemu.NodeMAC("f1-intruder", 1), LAN: lan}}},
		qemu.Options{OnLine: func(_ time.Duration, line string) { fmt.Fprintln(&intruderOut, line) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	waitText(t, "the intruder on the fabric", 60*time.Second, intruderOut.String, "dunix: fabric: node intruder")
	time.Sleep(5 * time.Second) // beacons and gossip meet the intruder
	for _, n := range statusJSON(t, "f1") {
		switch n.Name {
		case "intruder":
			if a := observe.Alive(&n); len(a) != 1 {
				t.Errorf("the intruder sees %v", a)
			}
		default:
			if a := observe.Alive(&n); !slices.Equal(a, []string{"n1", "n2", "n3"}) {
				t.Errorf("%s sees %v with the intruder on the LAN", n.Name, a)
			}
			if n.Counters["discovery.dropped_bad_mac"]+n.Counters["member.dropped_undecryptable"] == 0 {
				t.Errorf("%s counted nothing of the intruder: %v", n.Name, n.Counters)
			}
		}
	}
	m.Kill()

	// A TCP transfer between user programs on two nodes.
	n2addr := nodes[1].Addrs[0]
	shell(t, "f1", st.Nodes[1], "nc -l -p 9000 > /tmp/got &", "")
	time.Sleep(time.Second)
	shell(t, "f1", st.Nodes[0], "dd if=/dev/urandom of=/tmp/sent bs=1024 count=256 2>/dev/null; nc -w 5 "+n2addr+"%eth0 9000 < /tmp/sent; echo nc-rc=$?; sha256sum /tmp/sent", "nc-rc=0")
	sum := func(node nodeState, file string) string {
		b, _ := os.ReadFile(node.Log)
		re := regexp.MustCompile(`([0-9a-f]{64})  ` + file)
		all := re.FindAllStringSubmatch(string(b), -1)
		if len(all) == 0 {
			return ""
		}
		return all[len(all)-1][1]
	}
	waitText(t, "n1's checksum", 30*time.Second, func() string { return sum(st.Nodes[0], "/tmp/sent") }, "")
	shell(t, "f1", st.Nodes[1], "wait; sha256sum /tmp/got", "/tmp/got")
	if a, b := sum(st.Nodes[0], "/tmp/sent"), sum(st.Nodes[1], "/tmp/got"); a == "" || a != b {
		t.Errorf("sent %q, received %q", a, b)
	}

	// A killed node is detected.
	dunix(t, nil, "cluster", "kill", "--name", "f1", "n3").expect(t, 0, nil, nil)
	start := time.Now()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		ok := 0
		got := statusJSON(t, "f1")
		for _, n := range got {
			if (n.Name == "n1" || n.Name == "n2") && slices.Equal(observe.Alive(&n), []string{"n1", "n2"}) {
				ok++
			}
		}
		if ok == 2 {
			t.Logf("n1 and n2 saw n3 gone within %v", time.Since(start).Round(time.Second))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after n3 was killed: %+v", got)
		}
	}
}

// statusJSON runs `dunix status --json` for the cluster.
func statusJSON(t *testing.T, cluster string) []status.Node {
	t.Helper()
	js := dunix(t, nil, "status", "--name", cluster, "--json")
	var nodes []status.Node
	if err := json.Unmarshal([]byte(js.stdout.String()), &nodes); err != nil {
		t.Fatalf("status --json: %v\n%s\n%s", err, js.stdout.String(), js.stderr.String())
	}
	return nodes
}

// shell types cmd into node's console and, unless want is empty, waits
// until its console log shows want after the command line.
func shell(t *testing.T, cluster string, node nodeState, cmd, want string) {
	t.Helper()
	before, _ := os.ReadFile(node.Log)
	dunix(t, strings.NewReader(cmd+"\n"), "cluster", "console", "--name", cluster, node.Name).expect(t, 0, nil, nil)
	if want == "" {
		return
	}
	waitText(t, node.Name+": "+want, 60*time.Second, func() string {
		b, _ := os.ReadFile(node.Log)
		if len(b) < len(before) {
			return ""
		}
		return string(b[len(before):])
	}, want)
}

// waitText polls text until it contains want (or, with want empty, until
// it is not empty).
func waitText(t *testing.T, what string, d time.Duration, text func() string, want string) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		s := text()
		if (want == "" && s != "") || (want != "" && strings.Contains(s, want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; got:\n%s", d, what, s)
		}
	}
}
