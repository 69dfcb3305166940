// Package rtc reads the PC's CMOS real-time clock (MC146818 compatible),
// the source of wall-clock time at boot.
//
// Every function is nosplit and allocates nothing.
package rtc

import "dunix/arch/amd64"

const (
	portIndex = 0x70
	portData  = 0x71

	regSeconds = 0x00
	regMinutes = 0x02
	regHours   = 0x04
	regDay     = 0x07
	regMonth   = 0x08
	regYear    = 0x09
	regStatusA = 0x0A
	regStatusB = 0x0B

	statusAUpdating = 1 << 7
	statusBBinary   = 1 << 2
	statusB24Hour   = 1 << 1
)

// Time is a calendar time as the RTC keeps it.
type Time struct {
	Year, Month, Day, Hour, Minute, Second int
}

//go:nosplit
func read(reg uint8) uint8 {
	amd64.Outb(portIndex, reg) // bit 7 would mask NMIs: keep it clear
	return amd64.Inb(portData)
}

// Read returns the RTC's time. centuryReg is the CMOS register of the
// century from the ACPI FADT, or 0 when there is none (20xx is assumed).
//
//go:nosplit
func Read(centuryReg uint8) Time {
	var a, b Time
	var century uint8
	for tries := 0; tries < 1000; tries++ {
		for i := 0; i < 100000 && read(regStatusA)&statusAUpdating != 0; i++ {
		}
		a = raw()
		if centuryReg != 0 {
			century = read(centuryReg)
		}
		b = raw()
		if a == b {
			break
		}
	}
	sb := read(regStatusB)
	if sb&statusBBinary == 0 {
		pm := a.Hour & 0x80
		a = Time{bcd(a.Year), bcd(a.Month), bcd(a.Day), bcd(a.Hour&0x7F) | pm, bcd(a.Minute), bcd(a.Second)}
		century = uint8(bcd(int(century)))
	}
	if sb&statusB24Hour == 0 && a.Hour&0x80 != 0 {
		a.Hour = (a.Hour&0x7F)%12 + 12
	}
	a.Hour &= 0x7F
	if century != 0 {
		a.Year += int(century) * 100
	} else {
		a.Year += 2000
	}
	return a
}

//go:nosplit
func raw() Time {
	return Time{int(read(regYear)), int(read(regMonth)), int(read(regDay)), int(read(regHours)), int(read(regMinutes)), int(read(regSeconds))}
}

//go:nosplit
func bcd(v int) int { return v&0xF + (v>>4)*10 }

// Unix returns t as seconds since 1970-01-01 00:00:00 UTC (the RTC is
// assumed to keep UTC), or -1 when t is not a valid date.
//
//go:nosplit
func (t Time) Unix() int64 {
	if t.Month < 1 || t.Month > 12 || t.Day < 1 || t.Day > 31 || t.Hour > 23 || t.Minute > 59 || t.Second > 60 || t.Year < 1970 {
		return -1
	}
	return daysFromCivil(t.Year, t.Month, t.Day)*86400 + int64(t.Hour*3600+t.Minute*60+t.Second)
}

// daysFromCivil counts days from 1970-01-01 to y-m-d (proleptic
// Gregorian calendar), by the era method.
//
//go:nosplit
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
