package proc

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Start runs the node's first process (pid 1) with the program at path,
// its descriptors 0, 1 and 2 on /dev/console, which is also the
// controlling terminal of its session (as a getty would arrange). When it
// exits, n.InitExited gets its wait status.
func (n *Node) Start(path string, argv, envp []string) error {
	root := n.NS.Root()
	p := &Process{node: n, PID: n.allocPID(), childEvents: make(chan struct{}), vforkDone: make(chan struct{}),
		exitSig: SIGCHLD, enosys: map[int]int{}, cwd: root, umask: 0o022, sig: &sigHand{}, rlimits: defaultLimits(),
		fds: NewFDTable(), start: n.now()}
	p.pgid, p.sid = p.PID, p.PID
	close(p.vforkDone)
	task, err := newTask()
	if err != nil {
		return err
	}
	t := &Thread{TID: p.PID, p: p, task: task, wake: make(chan struct{}, 1), gone: make(chan struct{}), restartNr: -1, altFlags: ssDisable}
	p.threads = []*Thread{t}
	// An empty address space to replace at exec.
	mm, err := newSpace(n)
	if err != nil {
		return err
	}
	p.mm = mm
	n.mu.Lock()
	n.procs[p.PID] = p
	n.threads[t.TID] = t
	n.init = p
	n.mu.Unlock()
	n.nprocs.Add(1)
	ctx := t.ctx()
	for fd := int32(0); fd < 3; fd++ {
		f, err := n.NS.Open(ctx, root, "/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			return fmt.Errorf("/dev/console: %w", err)
		}
		if fd == 0 {
			if _, err := f.Ioctl(ctx, unix.TIOCSCTTY, 0); err != nil && err != unix.ENOTTY {
				f.Close()
				return fmt.Errorf("/dev/console: controlling terminal: %w", err)
			}
		}
		p.fds.installAt(f, fd, false)
	}
	if err := t.exec(root, path, argv, envp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	kt := task.Task()
	kt.PID, kt.TID, kt.PPID = p.PID, t.TID, 0
	go t.run()
	return nil
}

func (n *Node) hostname() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "dunix"
}
