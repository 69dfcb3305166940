module dunix

go 1.26.0

toolchain go1.26.8

require (
	golang.org/x/arch v0.32.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)
