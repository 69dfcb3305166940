package proc

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Start runs the node's first process (pid 1) with the program at path,
// its descriptors 0, 1 and 2 on the console. When it exits, n.InitExited
// gets its wait status.
func (n *Node) Start(path string, argv, envp []string) error {
	p := &Process{node: n, PID: n.allocPID(), childEvents: make(chan struct{}), vforkDone: make(chan struct{}),
		exitSig: SIGCHLD, enosys: map[int]int{}, cwd: "/", umask: 0o022, sig: &sigHand{}, rlimits: defaultLimits(),
		fds: NewFDTable(), start: n.now()}
	p.pgid, p.sid = p.PID, p.PID
	close(p.vforkDone)
	for fd := int32(0); fd < 3; fd++ {
		p.fds.install(NewFile(consoleFile{n.Console}, unix.O_RDWR, "/dev/console"), fd, false)
	}
	task, err := newTask()
	if err != nil {
		return err
	}
	t := &Thread{TID: p.PID, p: p, task: task, wake: make(chan struct{}, 1), restartNr: -1, altFlags: ssDisable}
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
	if err := t.exec(path, argv, envp); err != nil {
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
