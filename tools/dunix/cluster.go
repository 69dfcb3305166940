package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"dunix/net/clusterkey"
	"dunix/qemu"
	"dunix/tools/rootfs"
)

// Where cluster state lives.
const (
	// envClusterDir overrides the directory that holds one directory per
	// cluster.
	envClusterDir = "DUNIX_CLUSTER_DIR"
	// defaultCluster is the cluster name when --name is not given.
	defaultCluster = "default"
	// qemuOverheadMiB is what a QEMU process costs beyond its guest
	// memory, for the memory check of `cluster up`.
	qemuOverheadMiB = 64
	// detachByte is Ctrl-], which detaches `cluster console`.
	detachByte = 0x1d
)

// clusterCommands holds the subcommands of `dunix cluster`.
var clusterCommands = map[string]*command{}

func init() {
	for _, c := range []*command{clusterUp, clusterStatus, clusterConsole, clusterKill, clusterDown} {
		clusterCommands[strings.TrimPrefix(c.name, "cluster ")] = c
	}
	register(&command{
		name:    "cluster",
		args:    "up|status|console|kill|down [flags] [arguments]",
		summary: "run a cluster of nodes on a virtual LAN in the background",
		help: `
Cluster starts, shows and stops clusters of dunix nodes in QEMU on this
host. The nodes run in the background, each with a virtio-net card on the
cluster's own virtual LAN (a multicast group on the loopback interface),
the cluster key on its kernel command line, and busybox sh on its console.

  dunix cluster up -n N    start N nodes (n1..nN) and wait until they are up
  dunix cluster status     list the nodes: pid, alive or not, MAC, log
  dunix cluster console NODE
                           attach this terminal to NODE's console (Ctrl-] detaches)
  dunix cluster kill NODE  power NODE off hard (SIGKILL to its QEMU)
  dunix cluster down       stop every node and forget the cluster

Every subcommand takes --name NAME (default "` + defaultCluster + `"), so several clusters can
run at once. A cluster's state (state.json, the key, the root archive, the
console sockets and logs nK.log) lives in $` + envClusterDir + `/NAME, by default
$XDG_STATE_HOME/dunix/clusters/NAME (~/.local/state/dunix/clusters/NAME).
Run 'dunix cluster SUBCOMMAND -h' for the flags of one; 'dunix status'
shows the fabric as the nodes see it.`,
		flags: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) == 0 {
					fmt.Fprintf(e.stderr, "dunix cluster: no subcommand; want up, status, console, kill or down (run 'dunix cluster -h')\n")
					return exitUsage
				}
				c := clusterCommands[args[0]]
				if c == nil {
					fmt.Fprintf(e.stderr, "dunix cluster: unknown subcommand %q; want up, status, console, kill or down\n", args[0])
					return exitUsage
				}
				sub := newFlagSet(c, e.stderr)
				runf := c.flags(sub)
				switch err := sub.Parse(args[1:]); {
				case errors.Is(err, flag.ErrHelp):
					printCommandUsage(e.stdout, c)
					return 0
				case err != nil:
					fmt.Fprintf(e.stderr, "run 'dunix %s -h' for usage\n", c.name)
					return exitUsage
				}
				return runf(ctx, e, sub.Args())
			}
		},
	})
}

// clusterState is a cluster's state.json.
type clusterState struct {
	Name    string      `json:"name"`
	LAN     string      `json:"lan"`      // the multicast group, "239.255.x.y:port"
	KeyFile string      `json:"key_file"` // the cluster key, 64 hex digits (mode 0600)
	Kernel  string      `json:"kernel"`
	Root    string      `json:"root"` // the root archive every node boots with
	Machine string      `json:"machine"`
	Accel   string      `json:"accel"`
	MemMiB  int         `json:"mem_mib"`
	CPUs    int         `json:"cpus"`
	Started time.Time   `json:"started"`
	Nodes   []nodeState `json:"nodes"`
}

// nodeState is one node of a cluster.
type nodeState struct {
	Name    string    `json:"name"` // n1, n2, ...
	PID     int       `json:"pid"`  // QEMU's process id
	MAC     string    `json:"mac"`
	Socket  string    `json:"socket"`   // the console's unix socket
	Log     string    `json:"log"`      // the console log
	QEMULog string    `json:"qemu_log"` // QEMU's own standard error
	Killed  time.Time `json:"killed,omitzero"`
}

// clustersDir returns the directory holding one directory per cluster.
func clustersDir() (string, error) {
	if d := os.Getenv(envClusterDir); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "dunix", "clusters"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no directory for cluster state: %v; set %s", err, envClusterDir)
	}
	return filepath.Join(home, ".local", "state", "dunix", "clusters"), nil
}

var clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)

// clusterDir returns the state directory of cluster name.
func clusterDir(name string) (string, error) {
	if !clusterNameRE.MatchString(name) {
		return "", usageError{fmt.Errorf("--name %q: want up to 32 letters, digits, '.', '_' or '-', starting with a letter or digit", name)}
	}
	d, err := clustersDir()
	if err != nil {
		return "", err
	}
	d, err = filepath.Abs(filepath.Join(d, name))
	if err != nil {
		return "", err
	}
	return d, nil
}

// errNoCluster says that a cluster has no state.
type errNoCluster struct{ name, dir string }

func (e errNoCluster) Error() string {
	return fmt.Sprintf("cluster %q is not up (no %s); start it with 'dunix cluster up --name %s'", e.name, filepath.Join(e.dir, "state.json"), e.name)
}

// loadState reads the state of the cluster in dir.
func loadState(name, dir string) (*clusterState, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoCluster{name, dir}
	}
	if err != nil {
		return nil, err
	}
	var st clusterState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("cluster %q: %s is damaged (%v); remove %s", name, filepath.Join(dir, "state.json"), err, dir)
	}
	return &st, nil
}

// save writes the state atomically.
func (st *clusterState) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "state.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "state.json"))
}

// node returns the node called name.
func (st *clusterState) node(name string) (*nodeState, error) {
	for i := range st.Nodes {
		if st.Nodes[i].Name == name {
			return &st.Nodes[i], nil
		}
	}
	names := make([]string, len(st.Nodes))
	for i, n := range st.Nodes {
		names[i] = n.Name
	}
	return nil, usageError{fmt.Errorf("cluster %q has no node %q (it has %s)", st.Name, name, strings.Join(names, ", "))}
}

// procAlive reports whether pid is a live QEMU of the cluster in dir: its
// command line (empty for a zombie) names qemu and dir. A pid that was
// reused by another program is not alive.
func procAlive(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte("qemu")) && bytes.Contains(b, []byte(dir))
}

// alive reports whether the node's QEMU runs.
func (n *nodeState) alive(dir string) bool { return procAlive(n.PID, dir) }

// lockCluster takes the cluster's lock (a flock on DIR/lock), so that two
// dunix commands do not change one cluster at once; unlock releases it.
func lockCluster(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster directory %s is in use by another dunix command", dir)
	}
	return func() { f.Close() }, nil
}

// memAvailableMiB returns MemAvailable from meminfo, in MiB.
func memAvailableMiB(meminfo string) (int, error) {
	b, err := os.ReadFile(meminfo)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return int(kb / 1024), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("%s has no MemAvailable line", meminfo)
}

// meminfoPath is read by the memory check; tests change it.
var meminfoPath = "/proc/meminfo"

// clusterFlags are the flags every cluster subcommand has.
type clusterFlags struct{ name string }

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.name, "name", defaultCluster, "cluster `NAME`")
}

// open loads the named cluster's state and directory.
func (c *clusterFlags) open() (*clusterState, string, error) {
	dir, err := clusterDir(c.name)
	if err != nil {
		return nil, "", err
	}
	st, err := loadState(c.name, dir)
	return st, dir, err
}

// Timeouts of `cluster up`: readiness and membership must come within
// upTimeoutBase + upTimeoutPerNode×N (TCG is slow; the machine may be
// shared).
var (
	upTimeoutBase    = 60 * time.Second
	upTimeoutPerNode = 15 * time.Second
)

var clusterUp = &command{
	name:    "cluster up",
	summary: "start a cluster",
	help: `
Up starts N nodes, n1..nN, in the background (they outlive this command),
each with a virtio-net card on the cluster's own virtual LAN and the kernel
command line "dunix.node=nK dunix.key=KEY", and busybox sh (the host's
busybox-static) on its console. It refuses when the cluster is already up
or when N nodes would not fit in the memory available.

Up then waits until every node's console shows "dunix: ready" (it fails,
stopping the cluster, with the console of a node that died), and with
--wait members (the default) until every node reports N alive members
through its status server, as 'dunix status' shows them. When that does not
happen in time, up says which node sees whom and exits 1, leaving the
cluster up.

The cluster key is generated unless --key gives one; it is stored in the
cluster's directory (mode 0600).`,
	flags: func(fs *flag.FlagSet) runFunc {
		var cf clusterFlags
		cf.register(fs)
		var nf nodeFlags
		n := fs.Int("n", 3, "number of `N`odes")
		fs.IntVar(&nf.cpus, "cpus", 1, "`C` virtual CPUs per node")
		fs.StringVar(&nf.mem, "mem", "256M", "guest memory per node, `SIZE` like 256M or 1G")
		fs.StringVar(&nf.accel, "accel", qemu.AccelAuto, "accelerator, `auto|kvm|tcg`")
		fs.StringVar(&nf.machine, "machine", qemu.MachineQ35, "QEMU machine type, `q35|microvm`")
		fs.StringVar(&nf.kernel, "kernel", "", "kernel ELF file `PATH` (default $"+envKernel+", else "+kernelName+" next to the dunix binary)")
		fs.BoolVar(&nf.verbose, "v", false, "print the QEMU command lines")
		key := fs.String("key", "", "cluster key, `HEX` (64 hexadecimal digits; default: a new random key)")
		wait := fs.String("wait", "members", "what to wait for, `members|ready|none`")
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) > 0 {
				return failed(e, usageError{fmt.Errorf("cluster up: unexpected argument %q", args[0])})
			}
			u := &upRun{cf: cf, nf: nf, n: *n, key: *key, wait: *wait}
			return u.run(ctx, e)
		}
	},
}

// upRun is one `cluster up`.
type upRun struct {
	cf   clusterFlags
	nf   nodeFlags
	n    int
	key  string
	wait string
}

func (u *upRun) run(ctx context.Context, e *env) int {
	switch {
	case u.n < 1 || u.n > 64:
		return failed(e, usageError{fmt.Errorf("-n %d: want 1 to 64 nodes", u.n)})
	case u.wait != "members" && u.wait != "ready" && u.wait != "none":
		return failed(e, usageError{fmt.Errorf("--wait %q: want members, ready or none", u.wait)})
	}
	key, err := clusterkey.Generate()
	if u.key != "" {
		key, err = clusterkey.Parse(u.key)
		if err != nil {
			err = usageError{fmt.Errorf("--key: %v", strings.TrimPrefix(err.Error(), "cluster key: "))}
		}
	}
	if err != nil {
		return failed(e, err)
	}
	dir, err := clusterDir(u.cf.name)
	if err != nil {
		return failed(e, err)
	}
	if err := qemu.CheckInstalled(); err != nil {
		return failed(e, err)
	}
	cfg, err := u.nf.config(e, nil)
	if err != nil {
		return failed(e, err)
	}
	if avail, err := memAvailableMiB(meminfoPath); err == nil {
		if need := u.n * (cfg.MemMiB + qemuOverheadMiB); need > avail {
			return failed(e, fmt.Errorf("%d nodes of %d MiB need about %d MiB (with %d MiB of QEMU overhead each), but only %d MiB are available; use fewer nodes or less --mem",
				u.n, cfg.MemMiB, need, qemuOverheadMiB, avail))
		}
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return failed(e, errors.New("busybox is not installed (the nodes' shell); install it with `sudo apt install busybox-static`"))
	}

	unlock, err := lockCluster(dir)
	if err != nil {
		return failed(e, err)
	}
	defer unlock()
	if old, err := loadState(u.cf.name, dir); err == nil {
		var up []string
		for _, n := range old.Nodes {
			if n.alive(dir) {
				up = append(up, n.Name)
			}
		}
		if len(up) > 0 {
			return failed(e, fmt.Errorf("cluster %q is already up (nodes %s running); stop it with 'dunix cluster down --name %s' or pick another --name",
				u.cf.name, strings.Join(up, ", "), u.cf.name))
		}
		fmt.Fprintf(e.stderr, "dunix: cluster %q had stopped; starting it again\n", u.cf.name)
		removeRuntime(dir, old)
	} else if !errors.As(err, new(errNoCluster)) {
		return failed(e, err)
	}
	if len(filepath.Join(dir, "n00.sock")) > qemu.MaxSocketPath {
		return failed(e, fmt.Errorf("the cluster directory %s is too long for a unix socket path (%d bytes at most); set %s to a shorter directory",
			dir, qemu.MaxSocketPath-9, envClusterDir))
	}

	// Until the first node runs, a failure leaves nothing behind but logs.
	started := false
	defer func() {
		if !started {
			removeRuntime(dir, &clusterState{})
		}
	}()

	// The root archive, as `dunix run` builds it, with busybox sh as the
	// program.
	spec := rootfs.Spec{Adds: []rootfs.Add{{Host: busybox, Guest: "/bin/busybox"}}, Run: []string{"/bin/busybox", "sh"}}
	addBusyboxLinks(e, &spec)
	root, err := writeRoot(dir, spec)
	if err != nil {
		return failed(e, fmt.Errorf("root archive: %v", err))
	}
	keyFile := filepath.Join(dir, "key")
	os.Remove(keyFile)
	if err := os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		return failed(e, err)
	}
	accel, why, err := qemu.ChooseAccel(ctx, cfg)
	if err != nil {
		return failed(e, stopped(err))
	}
	fmt.Fprintf(e.stderr, "dunix: %s\n", why)
	lan, err := qemu.NewLAN()
	if err != nil {
		return failed(e, err)
	}

	st := &clusterState{
		Name: u.cf.name, LAN: lan.String(), KeyFile: keyFile, Kernel: cfg.Kernel, Root: root,
		Machine: cfg.Machine, Accel: accel, MemMiB: cfg.MemMiB, CPUs: cfg.CPUs, Started: time.Now().UTC(),
	}
	cfg.Accel, cfg.Initrd = accel, root
	for i := 1; i <= u.n; i++ {
		name := "n" + strconv.Itoa(i)
		n := nodeState{
			Name:    name,
			MAC:     qemu.NodeMAC(u.cf.name, i),
			Socket:  filepath.Join(dir, name+".sock"),
			Log:     filepath.Join(dir, name+".log"),
			QEMULog: filepath.Join(dir, name+".qemu.log"),
		}
		ncfg := cfg
		ncfg.Cmdline = "dunix.node=" + name + " dunix.key=" + key.String()
		ncfg.NICs = []qemu.NIC{{MAC: n.MAC, LAN: lan}}
		ncfg.ConsoleSocket, ncfg.ConsoleLog = n.Socket, n.Log
		if u.nf.verbose {
			args := append([]string{ncfg.Binary()}, qemu.Args(ncfg)...)
			fmt.Fprintf(e.stderr, "dunix: %s\n", strings.ReplaceAll(strings.Join(quoteArgs(args), " "), key.String(), "KEY"))
		}
		n.PID, err = startNode(ncfg, n)
		if err != nil {
			st.save(dir)
			stopCluster(dir, st)
			return failed(e, fmt.Errorf("%s: %v; the cluster was stopped", name, err))
		}
		started = true
		st.Nodes = append(st.Nodes, n)
		if err := st.save(dir); err != nil {
			stopCluster(dir, st)
			return failed(e, err)
		}
	}
	fmt.Fprintf(e.stderr, "dunix: cluster %q: %s started on LAN %s (%s, %d MiB, %d CPUs each); state in %s\n",
		st.Name, plural(u.n, "node"), st.LAN, accel, cfg.MemMiB, cfg.CPUs, dir)
	if u.wait == "none" {
		return 0
	}

	timeout := upTimeoutBase + time.Duration(u.n)*upTimeoutPerNode
	if accel == qemu.AccelKVM {
		timeout /= 3
	}
	deadline := time.Now().Add(timeout)
	if err := waitReady(ctx, e, dir, st, deadline); err != nil {
		stopCluster(dir, st)
		return failed(e, fmt.Errorf("%v\nthe cluster was stopped; its logs are in %s", stopped(err), dir))
	}
	if u.wait == "ready" {
		fmt.Fprintf(e.stderr, "dunix: cluster %q is up; 'dunix cluster console --name %s n1' opens a shell\n", st.Name, st.Name)
		return 0
	}
	if err := waitMembers(ctx, e, st, deadline); err != nil {
		fmt.Fprintf(e.stderr, "dunix: %v\ndunix: the cluster was left up: 'dunix cluster status --name %s' lists it, 'dunix cluster down --name %s' stops it\n",
			err, st.Name, st.Name)
		return 1
	}
	fmt.Fprintf(e.stderr, "dunix: cluster %q is up: every node sees %s; 'dunix cluster console --name %s n1' opens a shell\n", st.Name, plural(u.n, "alive member"), st.Name)
	return 0
}

// startNode starts the QEMU of node n in the background: in a session of
// its own, standard input /dev/null, standard output and error to
// n.QEMULog. It returns QEMU's pid; a goroutine reaps it should it exit
// while this process runs.
func startNode(cfg qemu.Config, n nodeState) (int, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	os.Remove(n.Socket)
	qlog, err := os.OpenFile(n.QEMULog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer qlog.Close()
	bin, err := exec.LookPath(cfg.Binary())
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(bin, qemu.Args(cfg)...)
	cmd.Stdout, cmd.Stderr = qlog, qlog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go cmd.Wait()
	return cmd.Process.Pid, nil
}

// readyIn reports whether the console log at path has a `dunix: ready`
// line.
func readyIn(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if qemu.IsReady(strings.TrimRight(sc.Text(), "\r")) {
			return true
		}
	}
	return false
}

// logTail returns the last lines of a file, indented, for error messages.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	text := strings.TrimRight(strings.ReplaceAll(string(b), "\r", ""), "\n")
	if text == "" {
		return "  (empty)"
	}
	l := strings.Split(text, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return "  " + strings.Join(l, "\n  ")
}

// waitReady waits until every node's console shows `dunix: ready`.
func waitReady(ctx context.Context, e *env, dir string, st *clusterState, deadline time.Time) error {
	start := time.Now()
	ready := make([]bool, len(st.Nodes))
	left := len(st.Nodes)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for left > 0 {
		for i := range st.Nodes {
			n := &st.Nodes[i]
			if ready[i] {
				continue
			}
			if readyIn(n.Log) {
				ready[i] = true
				left--
				fmt.Fprintf(e.stderr, "dunix: %s ready after %s\n", n.Name, time.Since(start).Round(100*time.Millisecond))
				continue
			}
			if !n.alive(dir) {
				return fmt.Errorf("%s stopped before it was ready; its console:\n%s\nQEMU said:\n%s",
					n.Name, logTail(n.Log, 20), logTail(n.QEMULog, 5))
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			var late []string
			first := -1
			for i, n := range st.Nodes {
				if !ready[i] {
					late = append(late, n.Name)
					if first < 0 {
						first = i
					}
				}
			}
			return fmt.Errorf("%s not ready after %s; the console of %s:\n%s",
				strings.Join(late, ", "), time.Since(start).Round(time.Second), late[0], logTail(st.Nodes[first].Log, 20))
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
	}
	return nil
}

// stopCluster kills every node that still runs (SIGTERM, then SIGKILL
// after a grace period) and removes the runtime files, keeping the logs.
func stopCluster(dir string, st *clusterState) {
	var pids []int
	for _, n := range st.Nodes {
		if n.alive(dir) {
			syscall.Kill(n.PID, syscall.SIGTERM)
			pids = append(pids, n.PID)
		}
	}
	for deadline := time.Now().Add(3 * time.Second); len(pids) > 0; {
		var still []int
		for _, p := range pids {
			if procAlive(p, dir) {
				still = append(still, p)
			}
		}
		pids = still
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
			deadline = time.Now().Add(time.Hour)
		}
		time.Sleep(50 * time.Millisecond)
	}
	removeRuntime(dir, st)
}

// removeRuntime removes what a stopped cluster leaves besides its logs.
func removeRuntime(dir string, st *clusterState) {
	for _, n := range st.Nodes {
		os.Remove(n.Socket)
	}
	for _, f := range []string{"state.json", "key", "root.cpio"} {
		os.Remove(filepath.Join(dir, f))
	}
}

var clusterStatus = &command{
	name:    "cluster status",
	summary: "list a cluster's nodes",
	help: `
Status lists the nodes of the cluster: name, QEMU's pid, whether it runs
("alive", "dead", or "killed" after 'dunix cluster kill'), MAC address and
console log. It exits 1 when the cluster is not up.`,
	flags: func(fs *flag.FlagSet) runFunc {
		var cf clusterFlags
		cf.register(fs)
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) > 0 {
				return failed(e, usageError{fmt.Errorf("cluster status: unexpected argument %q", args[0])})
			}
			st, dir, err := cf.open()
			if err != nil {
				fmt.Fprintf(e.stderr, "dunix: %v\n", err)
				return 1
			}
			fmt.Fprintf(e.stdout, "cluster %s: %s on LAN %s, %s, %d MiB and %d CPUs each, started %s\n",
				st.Name, plural(len(st.Nodes), "node"), st.LAN, st.Accel, st.MemMiB, st.CPUs, st.Started.Local().Format(time.DateTime))
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "NODE\tPID\tSTATE\tMAC\tLOG\n")
			for _, n := range st.Nodes {
				state := "alive"
				switch {
				case n.alive(dir):
				case !n.Killed.IsZero():
					state = "killed"
				default:
					state = "dead"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", n.Name, n.PID, state, n.MAC, n.Log)
			}
			tw.Flush()
			return 0
		}
	},
}

var clusterKill = &command{
	name:    "cluster kill",
	args:    "NODE",
	summary: "power a node off hard",
	help: `
Kill powers NODE off hard, as pulling its plug would (SIGKILL to its QEMU),
for testing how the rest of the fabric copes. The cluster's state records
it; 'dunix cluster status' shows the node as killed.`,
	flags: func(fs *flag.FlagSet) runFunc {
		var cf clusterFlags
		cf.register(fs)
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) != 1 {
				return failed(e, usageError{errors.New("cluster kill: want one NODE (like n2)")})
			}
			st, dir, err := cf.open()
			if err != nil {
				return failed(e, err)
			}
			unlock, err := lockCluster(dir)
			if err != nil {
				return failed(e, err)
			}
			defer unlock()
			n, err := st.node(args[0])
			if err != nil {
				return failed(e, err)
			}
			if !n.alive(dir) {
				fmt.Fprintf(e.stderr, "dunix: %s is not running (pid %d is gone)\n", n.Name, n.PID)
				return 1
			}
			if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
				return failed(e, fmt.Errorf("kill %s (pid %d): %v", n.Name, n.PID, err))
			}
			for deadline := time.Now().Add(2 * time.Second); n.alive(dir) && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			n.Killed = time.Now().UTC()
			os.Remove(n.Socket)
			if err := st.save(dir); err != nil {
				return failed(e, err)
			}
			fmt.Fprintf(e.stderr, "dunix: %s powered off (SIGKILL to pid %d)\n", n.Name, n.PID)
			return 0
		}
	},
}

var clusterDown = &command{
	name:    "cluster down",
	summary: "stop a cluster",
	help: `
Down stops every node of the cluster and removes its state, sockets, key
and root archive. The console logs stay (nK.log in the cluster's directory)
unless --purge is given, which removes the whole directory.`,
	flags: func(fs *flag.FlagSet) runFunc {
		var cf clusterFlags
		cf.register(fs)
		purge := fs.Bool("purge", false, "remove the logs too")
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) > 0 {
				return failed(e, usageError{fmt.Errorf("cluster down: unexpected argument %q", args[0])})
			}
			st, dir, err := cf.open()
			if errors.As(err, new(errNoCluster)) {
				if *purge && dir != "" {
					os.RemoveAll(dir)
				}
				fmt.Fprintf(e.stderr, "dunix: cluster %q is not up; nothing to stop\n", cf.name)
				return 0
			}
			if err != nil {
				return failed(e, err)
			}
			unlock, err := lockCluster(dir)
			if err != nil {
				return failed(e, err)
			}
			stopCluster(dir, st)
			unlock()
			if *purge {
				if err := os.RemoveAll(dir); err != nil {
					return failed(e, err)
				}
				fmt.Fprintf(e.stderr, "dunix: cluster %q stopped and removed\n", st.Name)
				return 0
			}
			os.Remove(filepath.Join(dir, "lock"))
			fmt.Fprintf(e.stderr, "dunix: cluster %q stopped; its console logs stay in %s\n", st.Name, dir)
			return 0
		}
	},
}

var clusterConsole = &command{
	name:    "cluster console",
	args:    "NODE",
	summary: "attach the terminal to a node's console",
	help: `
Console connects this terminal to NODE's console (COM1, where busybox sh
runs): keys go to the node as typed (the terminal is put in raw mode) and
its output comes here. Ctrl-] detaches and leaves the node running; exiting
the shell powers the node off. The last lines of the console are shown
first. One console client per node at a time.

When standard input is not a terminal, console sends it to the node and,
once it ends, prints the output until the node has been quiet for a second.`,
	flags: func(fs *flag.FlagSet) runFunc {
		var cf clusterFlags
		cf.register(fs)
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) != 1 {
				return failed(e, usageError{errors.New("cluster console: want one NODE (like n1)")})
			}
			st, dir, err := cf.open()
			if err != nil {
				return failed(e, err)
			}
			n, err := st.node(args[0])
			if err != nil {
				return failed(e, err)
			}
			if !n.alive(dir) {
				return failed(e, fmt.Errorf("%s is not running; its console log:\n%s", n.Name, logTail(n.Log, 10)))
			}
			return attachConsole(ctx, e, n)
		}
	},
}

// attachConsole connects e's terminal to the node's console socket.
func attachConsole(ctx context.Context, e *env, n *nodeState) int {
	conn, err := net.Dial("unix", n.Socket)
	if err != nil {
		return failed(e, fmt.Errorf("%s's console %s: %v (is another console attached?)", n.Name, n.Socket, err))
	}
	defer conn.Close()

	tty := false
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		restore, err := makeRaw(int(f.Fd()))
		if err != nil {
			return failed(e, fmt.Errorf("terminal: %v", err))
		}
		defer restore()
		tty = true
	}
	nl := "\n" // makeRaw keeps output processing: "\n" starts a line
	if tail := logTail(n.Log, 10); tail != "  (empty)" {
		// The console so far, for context (the prompt is on its last line).
		text := strings.TrimPrefix(strings.ReplaceAll(tail, "\n  ", "\n"), "  ")
		fmt.Fprintf(e.stdout, "%s%s", strings.ReplaceAll(text, "\n", nl), nl)
	}
	fmt.Fprintf(e.stderr, "dunix: connected to %s's console; Ctrl-] detaches%s", n.Name, nl)

	// Output: socket → stdout, noting when it last moved.
	outDone := make(chan struct{})
	moved := make(chan struct{}, 1)
	go func() {
		defer close(outDone)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if k > 0 {
				e.stdout.Write(buf[:k])
				select {
				case moved <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	// Input: stdin → socket until Ctrl-] or the end of input.
	inDone := make(chan bool, 1) // true: detached with Ctrl-]
	go func() {
		buf := make([]byte, 1024)
		for {
			k, err := e.stdin.Read(buf)
			if i := bytes.IndexByte(buf[:k], detachByte); i >= 0 {
				conn.Write(buf[:i])
				inDone <- true
				return
			}
			if k > 0 {
				if _, werr := conn.Write(buf[:k]); werr != nil {
					inDone <- false
					return
				}
			}
			if err != nil {
				inDone <- false
				return
			}
		}
	}()

	select {
	case <-ctx.Done():
		fmt.Fprintf(e.stderr, "\ndunix: %v; detached from %s (it keeps running)\n", context.Cause(ctx), n.Name)
		return exitNoStatus
	case <-outDone:
		fmt.Fprintf(e.stderr, "\ndunix: %s's console closed: the node stopped\n", n.Name)
		return 1
	case detached := <-inDone:
		if !detached && !tty {
			// Piped input ended: show what the node answers until it has
			// been quiet for a second (at most 30 s).
			limit := time.After(30 * time.Second)
		drain:
			for {
				select {
				case <-moved:
				case <-outDone:
					break drain
				case <-limit:
					break drain
				case <-time.After(time.Second):
					break drain
				}
			}
		}
		fmt.Fprintf(e.stderr, "\ndunix: detached from %s (it keeps running)\n", n.Name)
		return 0
	}
}

// waitMembers waits until every node reports every node as an alive
// member (waitFabricMembers in status.go; tests replace it). It reports
// progress on e.stderr.
var waitMembers = waitFabricMembers

// plural returns "1 node", "2 nodes".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
