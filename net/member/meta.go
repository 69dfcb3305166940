package member

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"

	"dunix/net/status"
)

// MaxMeta is the largest node metadata memberlist carries (its
// MetaMaxSize).
const MaxMeta = 512

// First byte of encoded metadata: the format version, with the node's
// intent to leave (memberlist cannot tell a graceful leave from a failure
// to its event delegate: its Node.State is never set).
const (
	metaVersion = 1
	metaLeaving = 2 // same layout; the node is leaving
)

// knownFeatures are CPU feature names (cpuinfo spelling) sent as one bit
// each; any other feature is sent as text while room remains. The order
// is part of the wire format: append only.
var knownFeatures = [...]string{
	"fpu", "sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "popcnt",
	"aes", "pclmulqdq", "avx", "avx2", "fma", "f16c", "bmi1", "bmi2",
	"abm", "movbe", "adx", "erms", "rdrand", "rdseed", "sha_ni", "x2apic",
	"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_vnni", "avx512ifma", "avx512vbmi",
	"cx16", "lahf_lm", "xsave", "osxsave", "hypervisor", "nx", "pdpe1gb", "rdtscp",
	"lm", "constant_tsc", "nonstop_tsc", "tsc_deadline_timer", "invpcid", "smep", "smap", "fsgsbase",
	"pcid", "vmx", "svm", "avx_vnni", "gfni", "vaes", "vpclmulqdq", "clflushopt",
	"clwb", "xsaveopt", "pku", "umip", "la57", "arat", "tsc", "apic",
}

var featureBit = func() map[string]int {
	m := make(map[string]int, len(knownFeatures))
	for i, f := range knownFeatures {
		m[f] = i
	}
	return m
}()

// encodeMeta packs l into at most MaxMeta bytes:
//
//	version 1 byte (metaVersion, or metaLeaving if leaving)
//	cpus, load1×100, mem_total KiB, mem_free KiB, uptime s   uvarints
//	known features                                           8 bytes, bit i = knownFeatures[i]
//	other features                                           space-separated text, to the end
//
// Other features that do not fit are left out (whole names only).
func encodeMeta(l status.Load, leaving bool) []byte {
	b := make([]byte, 0, 64)
	if leaving {
		b = append(b, metaLeaving)
	} else {
		b = append(b, metaVersion)
	}
	b = binary.AppendUvarint(b, uint64(max(l.CPUs, 0)))
	b = binary.AppendUvarint(b, scaled(l.Load1, 100))
	b = binary.AppendUvarint(b, l.MemTotal>>10)
	b = binary.AppendUvarint(b, l.MemFree>>10)
	b = binary.AppendUvarint(b, scaled(l.Uptime, 1))
	var bits uint64
	var other []string
	for _, f := range l.Features {
		if i, ok := featureBit[f]; ok {
			bits |= 1 << i
		} else if f != "" && !strings.ContainsAny(f, " \x00") {
			other = append(other, f)
		}
	}
	b = binary.BigEndian.AppendUint64(b, bits)
	sep := false
	for _, f := range other {
		need := len(f)
		if sep {
			need++
		}
		if len(b)+need > MaxMeta {
			continue
		}
		if sep {
			b = append(b, ' ')
		}
		b = append(b, f...)
		sep = true
	}
	return b
}

// scaled returns v×mul as a non-negative integer (0 for NaN or negative).
func scaled(v, mul float64) uint64 {
	x := v * mul
	if !(x > 0) {
		return 0
	}
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	return uint64(math.Round(x))
}

var errMeta = errors.New("bad node metadata")

// decodeMeta unpacks what encodeMeta packed, and whether the node is
// leaving. It never panics on any input.
func decodeMeta(b []byte) (l status.Load, leaving bool, err error) {
	if len(b) == 0 {
		return l, false, nil // a node that sends no figures (yet)
	}
	if (b[0] != metaVersion && b[0] != metaLeaving) || len(b) > MaxMeta {
		return l, false, errMeta
	}
	leaving = b[0] == metaLeaving
	b = b[1:]
	var v [5]uint64
	for i := range v {
		x, n := binary.Uvarint(b)
		if n <= 0 {
			return status.Load{}, false, errMeta
		}
		v[i], b = x, b[n:]
	}
	if len(b) < 8 || v[0] > math.MaxInt32 {
		return status.Load{}, false, errMeta
	}
	l.CPUs = int(v[0])
	l.Load1 = float64(v[1]) / 100
	l.MemTotal = min(v[2], math.MaxUint64>>10) << 10
	l.MemFree = min(v[3], math.MaxUint64>>10) << 10
	l.Uptime = float64(v[4])
	bits := binary.BigEndian.Uint64(b)
	for i, f := range knownFeatures {
		if bits&(1<<i) != 0 {
			l.Features = append(l.Features, f)
		}
	}
	if rest := string(b[8:]); rest != "" {
		l.Features = append(l.Features, strings.Fields(rest)...)
	}
	return l, leaving, nil
}
