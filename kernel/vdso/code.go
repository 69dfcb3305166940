package vdso

// The machine code of the page. Every function follows the SysV ABI, is
// position independent (the data is read RIP-relative), touches only
// caller-saved registers (RAX, RCX, RDX, RSI, RDI, R8-R11) and uses no
// stack beyond its return address.

// Linux system call numbers of the fallbacks.
const (
	sysGettimeofday = 96
	sysTime         = 201
	sysClockGettime = 228
	sysGetcpu       = 309
)

// Clock ids handled from the TSC, as bit masks over the id.
const (
	// CLOCK_REALTIME 0, MONOTONIC 1, MONOTONIC_RAW 4, REALTIME_COARSE 5,
	// MONOTONIC_COARSE 6, BOOTTIME 7.
	tscClocks = 1<<0 | 1<<1 | 1<<4 | 1<<5 | 1<<6 | 1<<7
	// The ones that add WallBase: REALTIME and REALTIME_COARSE.
	wallClocks = 1<<0 | 1<<5
	maxClock   = 7
)

// function is one exported function of the text.
type function struct {
	name string // without the __vdso_ prefix
	off  int    // page offset
	size int
}

// assemble returns the text to be placed at page offset base and its
// functions.
func assemble(base int) ([]byte, []function) {
	a := newAsm(base)
	var fns []function
	for _, f := range []struct {
		name string
		emit func(*asm)
	}{
		{"clock_gettime", emitClockGettime},
		{"gettimeofday", emitGettimeofday},
		{"time", emitTime},
		{"getcpu", emitGetcpu},
	} {
		a.align(16)
		start := a.pc()
		f.emit(a)
		fns = append(fns, function{f.name, start, a.pc() - start})
	}
	return a.finish(), fns
}

// readClock emits the sequence-counter loop that reads the TSC and the
// clock data and converts: on exit RAX = ns since boot, RCX = WallBase.
// If the data says the TSC is not usable it jumps to fallback (RDI and
// RSI still hold the caller's arguments). Clobbers RAX, RCX, RDX,
// R8-R11; RDI and RSI are preserved.
func readClock(a *asm, p, fallback string) {
	a.label(p + ".retry")
	a.load(r8, DataOffset+OffSeq) // mov r8, [seq]
	a.raw(0x41, 0xF6, 0xC0, 0x01) // test r8b, 1
	a.jcc(ccE, p+".even")         // jz even
	a.raw(0xF3, 0x90)             // pause: a write is in progress
	a.jmp(p + ".retry")
	a.label(p + ".even")
	a.load(r9, DataOffset+OffUsable)    // mov r9, [usable]
	a.load(r10, DataOffset+OffTSCBase)  // mov r10, [tsc_base]
	a.load(r11, DataOffset+OffMult)     // mov r11, [mult]
	a.load(rcx, DataOffset+OffWallBase) // mov rcx, [wall_base]
	a.raw(0x0F, 0x31)                   // rdtsc: edx:eax = TSC
	a.raw(0x48, 0xC1, 0xE2, 0x20)       // shl rdx, 32
	a.raw(0x48, 0x09, 0xD0)             // or rax, rdx: rax = TSC
	a.cmpMem(r8, DataOffset+OffSeq)     // cmp r8, [seq]
	a.jcc(ccNE, p+".retry")             // changed under us: again
	a.raw(0x4D, 0x85, 0xC9)             // test r9, r9
	a.jcc(ccE, fallback)                // jz fallback: no usable TSC
	// ns = bits 32..95 of (TSC - tsc_base) * mult.
	a.raw(0x4C, 0x29, 0xD0)             // sub rax, r10
	a.raw(0x49, 0xF7, 0xE3)             // mul r11: rdx:rax = rax * r11
	a.raw(0x48, 0x0F, 0xAC, 0xD0, 0x20) // shrd rax, rdx, 32: rax = rdx<<32 | rax>>32
}

// splitSeconds emits the floored division of the signed nanoseconds in
// RAX by 1e9: on exit RAX = seconds, RDX = nanoseconds in [0, 1e9).
// Clobbers R8.
func splitSeconds(a *asm, p string) {
	a.movImm32(r8, 1_000_000_000) // mov r8d, 1e9
	a.raw(0x48, 0x99)             // cqo: rdx:rax = sign-extended rax
	a.raw(0x49, 0xF7, 0xF8)       // idiv r8: rax = quotient, rdx = remainder (truncated)
	a.raw(0x48, 0x85, 0xD2)       // test rdx, rdx
	a.jcc(ccNS, p+".floored")     // jns: remainder >= 0
	a.raw(0x4C, 0x01, 0xC2)       // add rdx, r8: floor a negative time
	a.raw(0x48, 0xFF, 0xC8)       // dec rax
	a.label(p + ".floored")
}

// emitClockGettime: int __vdso_clock_gettime(clockid_t id (EDI), struct
// timespec *ts (RSI)).
func emitClockGettime(a *asm) {
	const p = "clock_gettime"
	a.raw(0x48, 0x63, 0xFF)          // movsxd rdi, edi: clockid_t is an int
	a.raw(0x83, 0xFF, maxClock)      // cmp edi, 7
	a.jccNear(ccA, p+".sys")         // ja sys (unsigned: negative ids too)
	a.movImm32(rax, tscClocks)       // mov eax, tscClocks
	a.raw(0x0F, 0xA3, 0xF8)          // bt eax, edi
	a.jccNear(ccAE, p+".sys")        // jnc sys: not a clock of ours
	readClock(a, p, p+".sys")        // rax = ns since boot, rcx = wall_base
	a.movImm32(rdx, wallClocks)      // mov edx, wallClocks
	a.raw(0x0F, 0xA3, 0xFA)          // bt edx, edi
	a.jcc(ccAE, p+".split")          // jnc split: since boot
	a.raw(0x48, 0x01, 0xC8)          // add rax, rcx: realtime
	a.label(p + ".split")            //
	splitSeconds(a, p)               // rax = sec, rdx = nsec
	a.raw(0x48, 0x89, 0x06)          // mov [rsi], rax: tv_sec
	a.raw(0x48, 0x89, 0x56, 0x08)    // mov [rsi+8], rdx: tv_nsec
	a.raw(0x31, 0xC0)                // xor eax, eax
	a.raw(0xC3)                      // ret
	a.label(p + ".sys")              //
	a.movImm32(rax, sysClockGettime) // mov eax, 228
	a.raw(0x0F, 0x05)                // syscall (rdi = id sign-extended, rsi as given)
	a.raw(0xC3)                      // ret: 0 or -errno
}

// emitGettimeofday: int __vdso_gettimeofday(struct timeval *tv (RDI),
// struct timezone *tz (RSI)).
func emitGettimeofday(a *asm) {
	const p = "gettimeofday"
	readClock(a, p, p+".sys")           // rax = ns since boot, rcx = wall_base
	a.raw(0x48, 0x01, 0xC8)             // add rax, rcx: realtime
	splitSeconds(a, p)                  // rax = sec, rdx = nsec
	a.raw(0x48, 0x85, 0xFF)             // test rdi, rdi
	a.jcc(ccE, p+".tz")                 // jz tz: no tv
	a.raw(0x48, 0x89, 0x07)             // mov [rdi], rax: tv_sec
	a.raw(0x48, 0x89, 0xD0)             // mov rax, rdx
	a.raw(0x31, 0xD2)                   // xor edx, edx
	a.movImm32(rcx, 1000)               // mov ecx, 1000
	a.raw(0x48, 0xF7, 0xF1)             // div rcx: rax = nsec / 1000
	a.raw(0x48, 0x89, 0x47, 0x08)       // mov [rdi+8], rax: tv_usec
	a.label(p + ".tz")                  //
	a.raw(0x48, 0x85, 0xF6)             // test rsi, rsi
	a.jcc(ccE, p+".done")               // jz done: no tz
	a.raw(0x48, 0xC7, 0x06, 0, 0, 0, 0) // mov qword [rsi], 0: minuteswest, dsttime
	a.label(p + ".done")                //
	a.raw(0x31, 0xC0)                   // xor eax, eax
	a.raw(0xC3)                         // ret
	a.label(p + ".sys")                 //
	a.movImm32(rax, sysGettimeofday)    // mov eax, 96
	a.raw(0x0F, 0x05)                   // syscall (rdi, rsi as given)
	a.raw(0xC3)                         // ret
}

// emitTime: time_t __vdso_time(time_t *t (RDI)).
func emitTime(a *asm) {
	const p = "time"
	readClock(a, p, p+".sys") // rax = ns since boot, rcx = wall_base
	a.raw(0x48, 0x01, 0xC8)   // add rax, rcx: realtime
	splitSeconds(a, p)        // rax = sec
	a.raw(0x48, 0x85, 0xFF)   // test rdi, rdi
	a.jcc(ccE, p+".done")     // jz done
	a.raw(0x48, 0x89, 0x07)   // mov [rdi], rax
	a.label(p + ".done")      //
	a.raw(0xC3)               // ret: rax = seconds
	a.label(p + ".sys")       //
	a.movImm32(rax, sysTime)  // mov eax, 201
	a.raw(0x0F, 0x05)         // syscall (rdi as given)
	a.raw(0xC3)               // ret
}

// emitGetcpu: int __vdso_getcpu(unsigned *cpu, unsigned *node, void *),
// always the system call.
func emitGetcpu(a *asm) {
	a.movImm32(rax, sysGetcpu) // mov eax, 309
	a.raw(0x0F, 0x05)          // syscall (rdi, rsi, rdx as given)
	a.raw(0xC3)                // ret
}
