package main

import "golang.org/x/sys/unix"

// keepOutputProcessing turns output post-processing back on after
// term.MakeRaw, as QEMU's -nographic does, so that "\n" from the kernel
// still starts a new line on the terminal.
func keepOutputProcessing(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return
	}
	t.Oflag |= unix.OPOST | unix.ONLCR
	unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
