package discovery

import (
	"bytes"
	"testing"

	"dunix/net/clusterkey"
)

var fuzzKey = clusterkey.Key{1}.Derive(clusterkey.Discovery, "", 32)

func TestBeaconRoundTrip(t *testing.T) {
	b := beacon{Joined: true, Service: 7946, Epoch: 1 << 60, Seq: 42, Time: -5, Nonce: [16]byte{9, 8, 7}, Name: "nœud-1"}
	p := encode(nil, fuzzKey, &b)
	got, err := decode(fuzzKey, p)
	if err != nil {
		t.Fatal(err)
	}
	if got != b {
		t.Fatalf("decoded %+v, want %+v", got, b)
	}
	if _, err := decode(clusterkey.Key{2}.Derive(clusterkey.Discovery, "", 32), p); err != errBadMAC {
		t.Errorf("wrong key: %v", err)
	}
	for i := range p {
		if _, err := decode(fuzzKey, p[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", i)
		}
		q := bytes.Clone(p)
		q[i] ^= 0x40
		if _, err := decode(fuzzKey, q); err == nil {
			t.Fatalf("byte %d flipped: decoded", i)
		}
	}
	if _, err := decode(fuzzKey, append(bytes.Clone(p), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	// A bad name or flags with a valid MAC is still refused.
	for _, bad := range []beacon{{Service: 1, Name: "a\x00b"}, {Service: 0, Name: "a"}} {
		if _, err := decode(fuzzKey, encode(nil, fuzzKey, &bad)); err != errMalformed {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	q := encode(nil, fuzzKey, &b)
	q[offFlags] = 0x80
	if _, err := decode(fuzzKey, q); err == nil {
		t.Error("unknown flag accepted")
	}
}

// FuzzDecode checks that decode never panics and that whatever it
// accepts re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	b := beacon{Service: 7946, Epoch: 3, Seq: 1, Time: 1700000000000000000, Nonce: [16]byte{1, 2, 3}, Name: "node-a"}
	good := encode(nil, fuzzKey, &b)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, p []byte) {
		got, err := decode(fuzzKey, p)
		if err != nil {
			return
		}
		if q := encode(nil, fuzzKey, &got); !bytes.Equal(p, q) {
			t.Fatalf("decoded %+v re-encodes differently", got)
		}
	})
}
