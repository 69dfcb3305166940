package cmdline

import "testing"

func TestParse(t *testing.T) {
	f := Parse([]string{"dunix.selftest=1", "dunix.probe", "dunix.crash=nil", "dunix.cpus=4", "dunix.cpus=x", "dunix.off=0", "", "a=b=c"})
	if !f.Bool("dunix.selftest") || !f.Bool("dunix.probe") || f.Bool("dunix.off") || f.Bool("missing") {
		t.Fatal("Bool")
	}
	if f.String("dunix.crash") != "nil" || f.String("a") != "b=c" || !f.Has("dunix.probe") || f.Has("x") {
		t.Fatal("String/Has")
	}
	if f.Int("dunix.cpus", 7) != 7 || f.Int("nope", 3) != 3 || Parse([]string{"n=12"}).Int("n", 0) != 12 {
		t.Fatal("Int")
	}
}
