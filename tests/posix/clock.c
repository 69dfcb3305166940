/* clock.c - the clocks: clock_gettime, gettimeofday, time, through the vDSO
 * (libc uses it when the kernel provides one, AT_SYSINFO_EHDR) and through
 * the system calls, which must agree; nanosleep against both. */
#include "check.h"

#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static struct timespec sys_clock(clockid_t id)
{
	struct timespec t = {0, 0};
	syscall(SYS_clock_gettime, id, &t);
	return t;
}

int main(void)
{
	TEST_BEGIN("clock");

	T_SECTION("vdso");
	unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
	CHECK(ehdr != 0, "AT_SYSINFO_EHDR gives the vDSO");
	if (ehdr) {
		const unsigned char *e = (const unsigned char *)ehdr;
		CHECK(e[0] == 0x7f && e[1] == 'E' && e[2] == 'L' && e[3] == 'F', "the vDSO starts with an ELF header");
		/* Shared by every process: it cannot be made writable (Linux
		 * says EINVAL or EACCES, depending on its version). */
		void *page = (void *)(ehdr & ~4095UL);
		CHECK(mprotect(page, 4096, PROT_READ | PROT_WRITE) == -1, "mprotect(PROT_WRITE) of the vDSO fails");
	}

	T_SECTION("monotonic");
	static const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_REALTIME,
		CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE};
	for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
		clockid_t id = clocks[i];
		struct timespec a, b;
		CHECK_SYS(clock_gettime(id, &a), "clock_gettime(%d)", id);
		struct timespec s = sys_clock(id);
		CHECK_SYS(clock_gettime(id, &b), "clock_gettime(%d) again", id);
		CHECK(a.tv_nsec >= 0 && a.tv_nsec < 1000000000, "clock %d: tv_nsec %ld in range", id, a.tv_nsec);
		/* Coarse clocks may lag the fine ones by a tick on Linux. */
		long long slack = (id == CLOCK_MONOTONIC_COARSE || id == CLOCK_REALTIME_COARSE) ? 20000000 : 0;
		CHECK(ns(a) <= ns(s) + slack && ns(s) <= ns(b) + slack,
		      "clock %d: libc %lld <= system call %lld <= libc %lld", id, ns(a), ns(s), ns(b));
		CHECK(ns(b) - ns(a) < 1000000000LL, "clock %d: two reads less than 1 s apart (%lld ns)", id, ns(b) - ns(a));
	}
	long long last = 0, backwards = 0;
	for (int i = 0; i < 2000; i++) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (ns(t) < last)
			backwards++;
		last = ns(t);
	}
	CHECK_EQ(backwards, 0, "CLOCK_MONOTONIC never went back in 2000 reads");

	T_SECTION("realtime");
	struct timeval tv;
	CHECK_SYS(gettimeofday(&tv, NULL), "gettimeofday");
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec %ld in range", (long)tv.tv_usec);
	struct timespec rt = sys_clock(CLOCK_REALTIME);
	long long d = ns(rt) - (tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL);
	CHECK(d >= 0 && d < 1000000000LL, "gettimeofday and CLOCK_REALTIME agree (%lld ns apart)", d);
	time_t t1 = 0, t0 = time(&t1);
	CHECK(t0 == t1, "time() returns what it stores");
	CHECK(t0 >= tv.tv_sec && t0 - tv.tv_sec <= 1, "time() %lld agrees with gettimeofday %lld", (long long)t0, (long long)tv.tv_sec);
	CHECK(time(NULL) >= t0, "time(NULL)");

	T_SECTION("other clocks");
	struct timespec c;
	CHECK_SYS(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c), "CLOCK_PROCESS_CPUTIME_ID (not a vDSO clock)");
	CHECK_ERR(clock_gettime(12345, &c), EINVAL, "an unknown clock");

	T_SECTION("sleep");
	struct timespec a, b, nap = {0, 20000000};
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_SYS(nanosleep(&nap, NULL), "nanosleep 20 ms");
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(ns(b) - ns(a) >= 20000000LL, "20 ms asleep by the vDSO clock (%lld ns)", ns(b) - ns(a));

	return TEST_END();
}
