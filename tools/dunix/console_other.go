//go:build !linux

package main

// keepOutputProcessing is a no-op where termios is not at hand.
func keepOutputProcessing(fd int) {}
