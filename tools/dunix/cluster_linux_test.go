package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dunix/boot/kimage"
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

// TestClusterQEMU runs a two-node cluster of the real kernel through its
// life: up (ready; the membership wait replaced by one that fails, to see
// up leave the cluster running), status, console, a second up refused,
// kill, down.
func TestClusterQEMU(t *testing.T) {
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
	cdir := filepath.Join(dir, "t1")
	t.Cleanup(func() {
		// Whatever happened, no QEMU outlives the test.
		if st, err := loadState("t1", cdir); err == nil {
			stopCluster(cdir, st)
		}
	})

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

// TestClusterFabricQEMU checks the fabric of a real two-node cluster from
// the host: the membership wait of `cluster up` and `dunix status` (text
// and JSON) through the observer on the cluster's LAN, then that n1 stops
// seeing n2 as alive once n2 is killed. It needs a kernel whose nodes come
// onto the fabric ("dunix: fabric: node ..." on the console); with an
// older kernel it says so and skips.
func TestClusterFabricQEMU(t *testing.T) {
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
	cdir := filepath.Join(dir, "f1")
	t.Cleanup(func() {
		if st, err := loadState("f1", cdir); err == nil {
			stopCluster(cdir, st)
		}
	})
	dunix(t, nil, "cluster", "up", "--name", "f1", "-n", "2", "--mem", "256M", "--accel", "tcg", "--wait", "ready").expect(t, 0, nil, []string{"n2 ready"})
	st, err := loadState("f1", cdir)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		b, _ := os.ReadFile(st.Nodes[0].Log)
		if strings.Contains(string(b), "dunix: fabric: node n1") {
			break
		}
		if time.Now().After(deadline) {
			t.Skipf("this kernel does not bring its nodes onto the fabric; n1's console:\n%s", b)
		}
	}

	var progress syncBuf
	e := &env{stdout: &progress, stderr: &progress}
	if err := waitFabricMembers(context.Background(), e, st, time.Now().Add(upTimeoutBase+2*upTimeoutPerNode)); err != nil {
		t.Fatalf("membership wait: %v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "n1 sees n1 n2; n2 sees n1 n2") {
		t.Errorf("progress of the wait: %s", progress.String())
	}

	js := dunix(t, nil, "status", "--name", "f1", "--json")
	js.expect(t, 0, nil, nil)
	var nodes []status.Node
	if err := json.Unmarshal([]byte(js.stdout.String()), &nodes); err != nil {
		t.Fatalf("status --json: %v\n%s", err, js.stdout.String())
	}
	if len(nodes) != 2 || nodes[0].Name != "n1" || nodes[1].Name != "n2" || len(observe.Alive(&nodes[0])) != 2 || nodes[1].MAC == "" {
		t.Errorf("status --json: %+v", nodes)
	}
	dunix(t, nil, "status", "--name", "f1").expect(t, 0, []string{"n1  fe80::", "n2  fe80::", "alive"}, nil)

	dunix(t, nil, "cluster", "kill", "--name", "f1", "n2").expect(t, 0, nil, nil)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		inv := dunix(t, nil, "status", "--name", "f1", "--json")
		nodes = nil
		json.Unmarshal([]byte(inv.stdout.String()), &nodes)
		if len(nodes) == 1 && nodes[0].Name == "n1" && slices.Equal(observe.Alive(&nodes[0]), []string{"n1"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n1 still sees n2 alive a minute after n2 was killed: %s", inv.stdout.String())
		}
	}
}
