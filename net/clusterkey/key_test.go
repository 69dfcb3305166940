package clusterkey

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(k.String())
	if err != nil || p != k {
		t.Fatalf("Parse(String()) = %v, %v", p, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 64), strings.Repeat("0", 63)} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	var k Key
	a := k.Derive(Membership, "", 32)
	b := k.Derive(Discovery, "", 32)
	c := k.Derive(AddrSecret, "n1", 32)
	d := k.Derive(AddrSecret, "n2", 32)
	if bytes.Equal(a, b) || bytes.Equal(c, d) || len(a) != 32 {
		t.Fatal("subkeys of different purposes or infos coincide")
	}
	if !bytes.Equal(a, k.Derive(Membership, "", 32)) {
		t.Fatal("Derive is not deterministic")
	}
}
