package elf

// ShebangBufSize is how much of a file execve looks at for a "#!" line
// (Linux's BINPRM_BUF_SIZE). Pass at least that much (or the whole file if
// shorter) to ParseShebang.
const ShebangBufSize = 256

// MaxScriptDepth is how many interpreters may be scripts in turn before
// execve fails with ELOOP (Linux's BINPRM_MAX_RECURSION).
const MaxScriptDepth = 4

func spacetab(c byte) bool { return c == ' ' || c == '\t' }

// nextNonSpacetab returns the index of the first byte in b[first:last+1]
// that is neither space nor tab, or -1.
func nextNonSpacetab(b []byte, first, last int) int {
	for ; first <= last; first++ {
		if !spacetab(b[first]) {
			return first
		}
	}
	return -1
}

// nextTerminator returns the index of the first space, tab or NUL in
// b[first:last+1], or -1.
func nextTerminator(b []byte, first, last int) int {
	for ; first <= last; first++ {
		if spacetab(b[first]) || b[first] == 0 {
			return first
		}
	}
	return -1
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// ParseShebang parses the "#!" line at the start of first (the first
// ShebangBufSize bytes of a file, or all of it if shorter) exactly as
// Linux's binfmt_script does: the line ends at the first newline within
// 256 bytes; without one, the line is the first 255 bytes, accepted only if
// the interpreter name visibly ends (a space, tab or NUL follows it) so that
// a truncated path is never run. Leading and trailing spaces and tabs are
// skipped; the interpreter name ends at the first space, tab or NUL; the
// rest of the line after further spaces and tabs, with inner spaces kept,
// is the single optional argument (up to a NUL). ok is false if first does
// not start with "#!" or names no interpreter; execve then fails with
// ENOEXEC. As with Linux, a NUL right after "#!" (a file of just "#!", say)
// gives ok with an empty interp, which execve then fails to open (ENOENT);
// and an argument made empty by a NUL is dropped here where Linux would pass
// an empty argument.
func ParseShebang(first []byte) (interp string, arg string, ok bool) {
	var buf [ShebangBufSize]byte
	copy(buf[:], first)
	if buf[0] != '#' || buf[1] != '!' {
		return "", "", false
	}
	bufEnd := len(buf) - 1
	iEnd := -1
	for i, c := range buf {
		if c == '\n' {
			iEnd = i
			break
		}
	}
	if iEnd < 0 {
		iEnd = nextNonSpacetab(buf[:], 2, bufEnd)
		if iEnd < 0 {
			return "", "", false // only spaces and tabs
		}
		if nextTerminator(buf[:], iEnd, bufEnd) < 0 {
			return "", "", false // interpreter path truncated
		}
		iEnd = bufEnd
	}
	for spacetab(buf[iEnd-1]) {
		iEnd--
	}
	iName := nextNonSpacetab(buf[:], 2, iEnd)
	if iName < 0 || iName == iEnd {
		return "", "", false // no interpreter name
	}
	iSep := nextTerminator(buf[:], iName, iEnd)
	iArg := -1
	if iSep >= 0 && buf[iSep] != 0 {
		iArg = nextNonSpacetab(buf[:], iSep, iEnd)
	}
	nameEnd := iEnd
	if iSep >= 0 {
		nameEnd = iSep
	}
	interp = cstring(buf[iName:nameEnd])
	if iArg >= 0 && iArg < iEnd {
		arg = cstring(buf[iArg:iEnd])
	}
	return interp, arg, true
}

// ScriptArgs returns the argument vector execve passes to the interpreter
// of a script: interp, then arg if not empty, then path (the file name
// given to execve), then argv without its first element. execve then runs
// interp (looked up like any executable, at most MaxScriptDepth levels of
// scripts deep) with these arguments, the same environment, and AT_EXECFN
// still naming the script.
func ScriptArgs(interp, arg, path string, argv []string) []string {
	out := []string{interp}
	if arg != "" {
		out = append(out, arg)
	}
	out = append(out, path)
	if len(argv) > 1 {
		out = append(out, argv[1:]...)
	}
	return out
}
