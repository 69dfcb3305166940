//go:build !linux

package qemu

import (
	"errors"
	"os"
)

// TapLAN is a virtual Ethernet segment in a network namespace of its own,
// a Linux bridge with tap devices: Linux only.
type TapLAN struct{}

var errTapLinuxOnly = errors.New("qemu: tap LAN: needs Linux (a bridge and tap devices in a network namespace of its own); use a socket LAN (NewLAN) here")

// NewTapLAN fails: tap LANs are Linux only.
func NewTapLAN() (*TapLAN, error) { return nil, errTapLinuxOnly }

// Port fails: tap LANs are Linux only.
func (l *TapLAN) Port(vnetHdr bool) (*os.File, error) { return nil, errTapLinuxOnly }

// Close does nothing.
func (l *TapLAN) Close() error { return nil }

// Stats fails: tap LANs are Linux only.
func (l *TapLAN) Stats() (string, error) { return "", errTapLinuxOnly }
