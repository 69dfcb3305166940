package rtc

import (
	"testing"
	"time"
)

func TestUnixMatchesTimePackage(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 11, 25, 8, 3, 1, 0, time.UTC),
		time.Date(2100, 3, 1, 12, 0, 0, 0, time.UTC),
	} {
		got := Time{tm.Year(), int(tm.Month()), tm.Day(), tm.Hour(), tm.Minute(), tm.Second()}.Unix()
		if got != tm.Unix() {
			t.Errorf("%v: got %d, want %d", tm, got, tm.Unix())
		}
	}
	if (Time{2026, 13, 1, 0, 0, 0}).Unix() != -1 {
		t.Error("month 13 accepted")
	}
}

func TestBCD(t *testing.T) {
	if bcd(0x59) != 59 || bcd(0x07) != 7 {
		t.Fatal("bcd")
	}
}
