#include "textflag.h"

// escape does nothing; being assembly without //go:noescape, it makes the
// compiler's escape analysis treat its argument as escaping (see escape in
// escape.go).
TEXT ·escape(SB),NOSPLIT,$0-8
	RET
