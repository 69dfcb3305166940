/* signals.c - sigaction, masks, delivery, faults, rt queueing, job control. */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t g_count, g_signo, g_code, g_pid, g_uid, g_masked, g_masked2;
static volatile sig_atomic_t g_alarms;
static volatile int g_vals[16];
static volatile int g_sigs[16];
static volatile int g_nvals;
static volatile sig_atomic_t g_status;

static void h_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	g_masked = sigismember(&m, sig);
	g_masked2 = sigismember(&m, SIGUSR2);
	g_signo = si->si_signo;
	g_code = si->si_code;
	g_pid = si->si_pid;
	g_uid = si->si_uid;
	g_status = si->si_status;
	g_count++;
}

static void h_queue(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (g_nvals < 16) {
		g_sigs[g_nvals] = sig;
		g_vals[g_nvals] = si->si_value.sival_int;
		g_nvals++;
	}
	g_code = si->si_code;
	g_pid = si->si_pid;
}

static void h_alarm(int sig)
{
	(void)sig;
	g_alarms++;
}

/* SIGALRM handler that also reports each run on a pipe */
static int g_note_fd = -1;
static void h_alarm_note(int sig)
{
	(void)sig;
	g_alarms++;
	int e = errno;
	write(g_note_fd, "a", 1);
	errno = e;
}

static void h_plain(int sig)
{
	(void)sig;
	g_count++;
}

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void set_plain(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* ITIMER_REAL every ms milliseconds (0: off).  Periodic on purpose: if the
 * first expiry comes before the caller reaches its blocking call (slow
 * emulated CPU), a later one still interrupts it. */
static void arm_every_ms(long ms)
{
	struct itimerval it = { { ms / 1000, (ms % 1000) * 1000 }, { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

/* While a section owns SIGALRM/ITIMER_REAL the watchdog is off.  A guard
 * child ends a blocking call that a broken timer would never interrupt:
 * after secs seconds it sends SIGUSR2 (handler sets g_guard, no SA_RESTART)
 * and writes one byte to fd (if >= 0), so the check fails instead of hanging. */
static volatile sig_atomic_t g_guard;
static void h_guard(int sig)
{
	(void)sig;
	g_guard = 1;
}
static void set_plain(int sig, void (*fn)(int), int flags);
static pid_t start_guard(int secs, int fd)
{
	set_plain(SIGUSR2, h_guard, 0);
	g_guard = 0;
	pid_t parent = getpid();
	pid_t pid = t_fork();
	if (pid == 0) {
		sleep(secs);
		kill(parent, SIGUSR2);
		if (fd >= 0)
			write(fd, "g", 1);
		_exit(0);
	}
	return pid;
}
static void stop_guard(pid_t pid)
{
	kill(pid, SIGKILL);
	t_wait(pid);
	set_plain(SIGUSR2, SIG_DFL, 0);
}

static long ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static int blocked(int sig)
{
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	return sigismember(&m, sig);
}

/* ---- fault handling --------------------------------------------------- */
static sigjmp_buf jb;
static volatile void *g_addr;

static void h_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	g_signo = sig;
	g_code = si->si_code;
	g_addr = si->si_addr;
	siglongjmp(jb, 1);
}

/* ---- alt stack -------------------------------------------------------- */
static char *alt_lo, *alt_hi;
static volatile int alt_on, alt_flag;

static void h_alt(int sig)
{
	(void)sig;
	char local;
	stack_t cur;
	alt_on = &local >= alt_lo && &local < alt_hi;
	alt_flag = sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK);
}

static void h_overflow(int sig)
{
	(void)sig;
	_exit(0x37);
}

static int recurse(int n)
{
	volatile char buf[1024];
	buf[0] = (char)n;
	buf[1023] = (char)n;
	if (n > 100000000)
		return 0;
	return recurse(n + 1) + buf[0] + buf[1023];
}

/* exec'd mode: check dispositions/mask inherited over execve */
static int mode_exec_check(void)
{
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	if (sa.sa_handler != SIG_IGN)
		return 0x40;
	sigaction(SIGUSR2, NULL, &sa);
	if (sa.sa_handler != SIG_DFL)
		return 0x41;
	if (!blocked(SIGHUP))
		return 0x42;
	return 0x36;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "exec-check") == 0)
		return mode_exec_check();

	TEST_BEGIN("signals");
	pid_t me = getpid(), pid, guard;
	struct sigaction sa;
	sigset_t set, old;
	int p[2];

	T_SECTION("basic delivery and siginfo");
	set_handler(SIGUSR1, h_info, 0);
	g_count = 0;
	CHECK_SYS(kill(me, SIGUSR1), "kill(self, SIGUSR1)");
	CHECK_EQ(g_count, 1, "handler ran before kill returned");
	CHECK_EQ(g_signo, SIGUSR1, "si_signo");
	CHECK_EQ(g_code, SI_USER, "si_code SI_USER for kill()");
	CHECK_EQ(g_pid, me, "si_pid is the sender");
	CHECK_EQ(g_uid, getuid(), "si_uid is the sender's uid");
	CHECK_EQ(g_masked, 1, "signal is blocked while its handler runs");
	CHECK(!blocked(SIGUSR1), "mask restored after handler returns");
	CHECK_SYS(raise(SIGUSR1), "raise(SIGUSR1)");
	CHECK(g_count == 2 && g_code == SI_TKILL, "raise delivers with si_code SI_TKILL (got %d)", (int)g_code);
	CHECK(sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_sigaction == h_info &&
		      (sa.sa_flags & SA_SIGINFO),
	      "sigaction reports the installed handler");
	CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "sigaction(SIGKILL)");
	CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "sigaction(SIGSTOP)");
	CHECK_ERR(kill(me, 1000), EINVAL, "kill with invalid signal");
	CHECK_SYS(kill(me, 0), "kill(self, 0) probes");

	T_SECTION("sa_mask, SA_NODEFER, SA_RESETHAND");
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h_info;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	CHECK_EQ(g_masked2, 1, "sa_mask signals blocked during handler");
	set_handler(SIGUSR1, h_info, SA_NODEFER);
	raise(SIGUSR1);
	CHECK_EQ(g_masked, 0, "SA_NODEFER: signal not blocked in its handler");
	set_handler(SIGUSR1, h_info, SA_RESETHAND);
	raise(SIGUSR1);
	CHECK(sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL,
	      "SA_RESETHAND resets disposition to SIG_DFL");

	T_SECTION("blocking, pending, coalescing");
	set_handler(SIGUSR1, h_info, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old), "sigprocmask SIG_BLOCK");
	g_count = 0;
	kill(me, SIGUSR1);
	kill(me, SIGUSR1);
	CHECK_EQ(g_count, 0, "blocked signal not delivered");
	sigset_t pend;
	CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1), "sigpending shows SIGUSR1");
	CHECK(!sigismember(&pend, SIGUSR2), "sigpending does not show SIGUSR2");
	/* fork: child inherits mask, not pending signals */
	pid = t_fork();
	if (pid == 0) {
		sigset_t cp;
		sigpending(&cp);
		_exit(sigismember(&cp, SIGUSR1) ? 1 : blocked(SIGUSR1) ? 0 : 2);
	}
	CHECK_EQ(t_exitcode(pid), 0, "fork child inherits mask but not pending signals");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	CHECK_EQ(g_count, 1, "standard signals coalesce: one delivery on unblock");
	sigemptyset(&set);
	sigaddset(&set, SIGKILL);
	sigaddset(&set, SIGSTOP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	CHECK(!blocked(SIGKILL) && !blocked(SIGSTOP), "SIGKILL/SIGSTOP cannot be blocked");
	CHECK_ERR(syscall(SYS_rt_sigprocmask, 12345, &set, NULL, 8), EINVAL, "rt_sigprocmask bad 'how'");

	T_SECTION("sigsuspend");
	set_handler(SIGUSR2, h_info, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	g_count = 0;
	/* SIGUSR2 is blocked, so the child's signal stays pending until
	 * sigsuspend, however the two processes are scheduled */
	pid = t_fork();
	if (pid == 0) {
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	sigset_t waitmask;
	sigprocmask(SIG_BLOCK, NULL, &waitmask);
	sigdelset(&waitmask, SIGUSR2);
	int r = sigsuspend(&waitmask);
	int e = errno;
	CHECK(r == -1 && e == EINTR, "sigsuspend returns -1/EINTR");
	CHECK(g_count == 1 && g_signo == SIGUSR2 && g_pid == pid, "handler ran for child's SIGUSR2");
	CHECK(blocked(SIGUSR2), "sigsuspend restored the mask");
	t_wait(pid);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* ---- ITIMER_REAL sections: the watchdog is off until rearmed ---- */
	T_SECTION("pause + ITIMER_REAL");
	set_plain(SIGALRM, h_alarm, 0);
	g_alarms = 0;
	guard = start_guard(10, -1);
	arm_every_ms(20);
	r = pause();
	e = errno;
	arm_every_ms(0);
	CHECK(r == -1 && e == EINTR, "pause returns -1/EINTR");
	CHECK(g_alarms >= 1 && !g_guard, "pause was ended by the SIGALRM handler (ITIMER_REAL)");
	stop_guard(guard);
	{
		struct itimerval it = { { 0, 0 }, { 5, 0 } }, cur;
		setitimer(ITIMER_REAL, &it, NULL);
		CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_value.tv_sec <= 5 &&
			      (cur.it_value.tv_sec > 0 || cur.it_value.tv_usec > 0) &&
			      cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 0,
		      "getitimer shows the armed one-shot timer");
		unsigned left = alarm(0);
		CHECK(left == 5 || left == 4, "alarm(0) cancels it and returns the seconds left (%u)", left);
		CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0,
		      "timer disarmed");
	}

	T_SECTION("nanosleep interrupted by a signal");
	{
		g_alarms = 0;
		struct timespec req = { 10, 0 }, rem = { 0, 0 }, t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		arm_every_ms(20);
		r = nanosleep(&req, &rem);
		e = errno;
		arm_every_ms(0);
		long ms = ms_since(&t0);
		CHECK(r == -1 && e == EINTR && g_alarms >= 1, "nanosleep(10 s) fails with EINTR (after %ld ms)", ms);
		CHECK(rem.tv_sec < 10 && (rem.tv_sec > 0 || rem.tv_nsec > 0) && rem.tv_nsec < 1000000000,
		      "nanosleep reports the remaining time (%ld.%09ld)", (long)rem.tv_sec, rem.tv_nsec);
	}

	T_SECTION("SA_RESTART vs EINTR");
	{
		char c = 0;
		ssize_t n;
		int note[2];
		pipe(p);
		pipe(note);
		g_note_fd = note[1];
		set_plain(SIGALRM, h_alarm_note, SA_RESTART);
		g_alarms = 0;
		/* the writer waits until the handler has run twice: at least one
		 * SIGALRM then came while the parent was blocked in read */
		pid = t_fork();
		if (pid == 0) {
			char b[2];
			close(note[1]);
			t_read_full(note[0], b, 2);
			write(p[1], "x", 1);
			_exit(0);
		}
		guard = start_guard(10, p[1]);
		arm_every_ms(20);
		n = read(p[0], &c, 1);
		e = errno;
		arm_every_ms(0);
		CHECK(n == 1 && c == 'x', "SA_RESTART: read restarted and got the data (n=%zd, %s)", n,
		      n < 0 ? t_errname(e) : "ok");
		CHECK(g_alarms >= 2, "SA_RESTART: handler ran while read was blocked (%d)", (int)g_alarms);
		stop_guard(guard);
		kill(pid, SIGKILL);
		t_wait(pid);
		close(note[0]);
		close(note[1]);

		set_plain(SIGALRM, h_alarm, 0);
		g_alarms = 0;
		guard = start_guard(10, p[1]);
		arm_every_ms(20);
		errno = 0;
		n = read(p[0], &c, 1);
		e = errno;
		arm_every_ms(0);
		CHECK(n == -1 && e == EINTR && !g_guard, "no SA_RESTART: read fails with EINTR (n=%zd, %s)", n,
		      t_errname(e));
		CHECK(g_alarms >= 1, "handler ran");
		stop_guard(guard);
		close(p[0]);
		close(p[1]);

		/* waitpid is interrupted too; the child ends itself after 10 s */
		pipe(p);
		pid = t_fork();
		if (pid == 0) {
			struct pollfd pf = { p[0], POLLIN, 0 };
			close(p[1]);
			poll(&pf, 1, 10000);
			_exit(0);
		}
		close(p[0]);
		g_alarms = 0;
		arm_every_ms(20);
		int st;
		pid_t w = waitpid(pid, &st, 0);
		e = errno;
		arm_every_ms(0);
		CHECK(w == -1 && e == EINTR, "no SA_RESTART: waitpid fails with EINTR (got %d, %s)", (int)w,
		      t_errname(e));
		close(p[1]);
		CHECK_EQ(t_exitcode(pid), 0, "child then reaped normally");
	}
	t_watchdog_rearm();

	T_SECTION("default actions");
	pid = t_fork();
	if (pid == 0) {
		abort();
	}
	CHECK_EQ(t_exitcode(pid), 1000 + SIGABRT, "abort() kills with SIGABRT");
	pid = t_fork();
	if (pid == 0) {
		raise(SIGTERM);
		_exit(0);
	}
	CHECK_EQ(t_exitcode(pid), 1000 + SIGTERM, "raise(SIGTERM) default action terminates");
	pid = t_fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	kill(pid, SIGTERM);
	CHECK_EQ(t_exitcode(pid), 1000 + SIGTERM, "kill(child, SIGTERM) terminates it");
	pid = t_fork();
	if (pid == 0) {
		signal(SIGUSR1, SIG_IGN);
		raise(SIGUSR1);
		raise(SIGCHLD); /* default: ignore */
		raise(SIGWINCH);
		_exit(5);
	}
	CHECK_EQ(t_exitcode(pid), 5, "SIG_IGN and default-ignore signals do nothing");

	T_SECTION("SIGCHLD");
	{
		set_handler(SIGCHLD, h_info, 0);
		sigemptyset(&set);
		sigaddset(&set, SIGCHLD);
		sigprocmask(SIG_BLOCK, &set, &old);
		g_count = 0;
		pid = t_fork();
		if (pid == 0)
			_exit(5);
		sigset_t wm = old;
		sigdelset(&wm, SIGCHLD);
		while (g_count == 0)
			sigsuspend(&wm);
		CHECK(g_signo == SIGCHLD && g_pid == pid && g_code == CLD_EXITED && g_status == 5,
		      "SIGCHLD siginfo: pid, CLD_EXITED, status 5");
		t_wait(pid);
		g_count = 0;
		pid = t_fork();
		if (pid == 0) {
			for (;;)
				pause();
		}
		kill(pid, SIGKILL);
		while (g_count == 0)
			sigsuspend(&wm);
		CHECK(g_pid == pid && g_code == CLD_KILLED && g_status == SIGKILL,
		      "SIGCHLD siginfo: CLD_KILLED, SIGKILL");
		t_wait(pid);
		sigprocmask(SIG_SETMASK, &old, NULL);
		set_plain(SIGCHLD, SIG_DFL, 0);

		/* SIGCHLD ignored: children are reaped automatically and wait
		 * blocks until they are gone, then fails with ECHILD */
		signal(SIGCHLD, SIG_IGN);
		pid = t_fork();
		if (pid == 0)
			_exit(1);
		int st;
		CHECK_ERR(waitpid(pid, &st, 0), ECHILD, "SIGCHLD SIG_IGN: child auto-reaped, waitpid ECHILD");
		CHECK_ERR(kill(pid, 0), ESRCH, "no zombie left behind");
		t_untrack(pid);
		signal(SIGCHLD, SIG_DFL);
	}

	T_SECTION("SIGSTOP / SIGCONT");
	{
		pid = t_fork();
		if (pid == 0) {
			for (;;)
				pause();
		}
		int st;
		kill(pid, SIGSTOP);
		CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP,
		      "WUNTRACED reports WIFSTOPPED/SIGSTOP");
		kill(pid, SIGCONT);
		CHECK(waitpid(pid, &st, WCONTINUED) == pid && WIFCONTINUED(st), "WCONTINUED reports WIFCONTINUED");
		kill(pid, SIGKILL);
		CHECK_EQ(t_exitcode(pid), 1000 + SIGKILL, "then SIGKILL");
	}

	T_SECTION("SIGPIPE / EPIPE");
	pipe(p);
	close(p[0]);
	pid = t_fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(p[1], "x", 1);
		_exit(0);
	}
	CHECK_EQ(t_exitcode(pid), 1000 + SIGPIPE, "write to pipe without reader: SIGPIPE kills");
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR(write(p[1], "x", 1), EPIPE, "with SIGPIPE ignored: EPIPE");
	set_plain(SIGPIPE, h_plain, 0);
	g_count = 0;
	CHECK_ERR(write(p[1], "x", 1), EPIPE, "with SIGPIPE handled: EPIPE");
	CHECK_EQ(g_count, 1, "SIGPIPE handler ran");
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);

	T_SECTION("process-group signals");
	pid = t_fork();
	if (pid == 0) {
		int q[2];
		setpgid(0, 0);
		signal(SIGUSR1, SIG_IGN);
		pipe(q);
		int bad = 0;
		for (int round = 0; round < 2; round++) {
			pid_t kids[2];
			for (int i = 0; i < 2; i++) {
				kids[i] = t_fork();
				if (kids[i] == 0) {
					signal(SIGUSR1, SIG_DFL);
					write(q[1], "r", 1);
					for (;;)
						pause();
				}
			}
			char b[2];
			t_read_full(q[0], b, 2);
			if (round == 0)
				kill(0, SIGUSR1);
			else
				kill(-getpgrp(), SIGUSR1);
			for (int i = 0; i < 2; i++)
				if (t_exitcode(kids[i]) != 1000 + SIGUSR1)
					bad++;
		}
		_exit(bad);
	}
	CHECK_EQ(t_exitcode(pid), 0, "kill(0, sig) and kill(-pgrp, sig) reach every group member");

	T_SECTION("sigaltstack");
	{
		stack_t ss, cur;
		size_t sz = 64 * 1024;
		alt_lo = malloc(sz);
		alt_hi = alt_lo + sz;
		ss.ss_sp = alt_lo;
		ss.ss_size = sz;
		ss.ss_flags = 0;
		CHECK_SYS(sigaltstack(&ss, NULL), "sigaltstack install");
		CHECK(sigaltstack(NULL, &cur) == 0 && cur.ss_sp == alt_lo && cur.ss_size == sz &&
			      !(cur.ss_flags & SS_ONSTACK),
		      "sigaltstack query");
		set_plain(SIGUSR1, h_alt, SA_ONSTACK);
		raise(SIGUSR1);
		CHECK(alt_on, "SA_ONSTACK handler runs on the alternate stack");
		CHECK(alt_flag, "sigaltstack reports SS_ONSTACK inside the handler");
		set_plain(SIGUSR1, h_alt, 0);
		alt_on = 1;
		raise(SIGUSR1);
		CHECK(!alt_on, "handler without SA_ONSTACK runs on the normal stack");
		stack_t tiny = { .ss_sp = alt_lo, .ss_size = 512, .ss_flags = 0 };
		CHECK_ERR(syscall(SYS_sigaltstack, &tiny, NULL), ENOMEM, "sigaltstack smaller than MINSIGSTKSZ (raw)");
		ss.ss_flags = SS_DISABLE;
		sigaltstack(&ss, NULL);

		pid = t_fork();
		if (pid == 0) {
			/* bound the overflow (1 MiB) whatever the inherited limit */
			struct rlimit rl = { 1 << 20, 1 << 20 };
			setrlimit(RLIMIT_STACK, &rl);
			stack_t s2 = { .ss_sp = malloc(sz), .ss_size = sz, .ss_flags = 0 };
			sigaltstack(&s2, NULL);
			set_plain(SIGSEGV, h_overflow, SA_ONSTACK);
			recurse(0);
			_exit(1);
		}
		CHECK_EQ(t_exitcode(pid), 0x37, "stack overflow -> SIGSEGV handled on alt stack");
	}

	T_SECTION("SIGSEGV / siglongjmp");
	{
		long pg = sysconf(_SC_PAGESIZE);
		char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(m, pg, PROT_NONE);
		munmap(m + pg, pg);
		set_handler(SIGSEGV, h_fault, 0);
		g_signo = 0;
		if (sigsetjmp(jb, 1) == 0) {
			*(volatile char *)(m + 123) = 1;
			CHECK(0, "write to PROT_NONE page did not fault");
		} else {
			CHECK(g_signo == SIGSEGV && g_code == SEGV_ACCERR && g_addr == m + 123,
			      "PROT_NONE write: SIGSEGV, SEGV_ACCERR, si_addr exact");
		}
		CHECK(!blocked(SIGSEGV), "siglongjmp restored the mask");
		g_signo = 0;
		if (sigsetjmp(jb, 1) == 0) {
			(void)*(volatile char *)(m + pg + 8);
			CHECK(0, "read of unmapped page did not fault");
		} else {
			CHECK(g_signo == SIGSEGV && g_code == SEGV_MAPERR && g_addr == m + pg + 8,
			      "unmapped read: SIGSEGV, SEGV_MAPERR, si_addr exact");
		}
		volatile uintptr_t bad = 16;
		if (sigsetjmp(jb, 1) == 0) {
			*(volatile int *)bad = 1;
			CHECK(0, "NULL-page write did not fault");
		} else {
			CHECK(g_signo == SIGSEGV && g_addr == (void *)16, "write to address 16 faults");
		}
		munmap(m, pg);
		set_plain(SIGSEGV, SIG_DFL, 0);
	}

	T_SECTION("SIGFPE");
	{
		volatile int zero = 0, num = 7, mn = INT_MIN, m1 = -1;
		pid = t_fork();
		if (pid == 0) {
			volatile int q = num / zero;
			(void)q;
			_exit(0);
		}
		CHECK_EQ(t_exitcode(pid), 1000 + SIGFPE, "integer divide by zero kills with SIGFPE");
		pid = t_fork();
		if (pid == 0) {
			volatile int q = mn / m1;
			(void)q;
			_exit(0);
		}
		CHECK_EQ(t_exitcode(pid), 1000 + SIGFPE, "INT_MIN / -1 kills with SIGFPE");
		set_handler(SIGFPE, h_fault, 0);
		if (sigsetjmp(jb, 1) == 0) {
			volatile int q = num / zero;
			(void)q;
			CHECK(0, "no SIGFPE");
		} else {
			CHECK(g_signo == SIGFPE && g_code == FPE_INTDIV, "SIGFPE handler: si_code FPE_INTDIV");
		}
		set_plain(SIGFPE, SIG_DFL, 0);
	}
	t_watchdog_rearm(); /* crash handlers back for SIGSEGV and SIGFPE */

	T_SECTION("realtime signals, sigwaitinfo, sigtimedwait");
	{
		int rt = SIGRTMIN;
		sigemptyset(&set);
		sigaddset(&set, rt);
		sigaddset(&set, rt + 1);
		sigaddset(&set, rt + 2);
		/* each handler blocks all three, so handlers run one at a time in
		 * dequeue order instead of nesting */
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = h_queue;
		sa.sa_flags = SA_SIGINFO;
		sa.sa_mask = set;
		sigaction(rt, &sa, NULL);
		sigaction(rt + 1, &sa, NULL);
		sigaction(rt + 2, &sa, NULL);
		sigprocmask(SIG_BLOCK, &set, &old);
		g_nvals = 0;
		int ok = 1;
		for (int i = 1; i <= 3; i++)
			if (sigqueue(me, rt, (union sigval){ .sival_int = i }) != 0)
				ok = 0;
		sigqueue(me, rt + 2, (union sigval){ .sival_int = 20 });
		sigqueue(me, rt + 1, (union sigval){ .sival_int = 10 });
		CHECK(ok, "sigqueue x3");
		CHECK_EQ(g_nvals, 0, "queued while blocked");
		sigprocmask(SIG_SETMASK, &old, NULL);
		CHECK_EQ(g_nvals, 5, "all 5 rt signals delivered (queued, not coalesced)");
		CHECK(g_vals[0] == 1 && g_vals[1] == 2 && g_vals[2] == 3 && g_sigs[0] == rt,
		      "same rt signal delivered in FIFO order with values 1,2,3");
		CHECK(g_sigs[3] == rt + 1 && g_vals[3] == 10 && g_sigs[4] == rt + 2 && g_vals[4] == 20,
		      "lower-numbered rt signal delivered first");
		CHECK(g_code == SI_QUEUE && g_pid == me, "si_code SI_QUEUE and si_pid");

		sigemptyset(&set);
		sigaddset(&set, rt + 3);
		sigprocmask(SIG_BLOCK, &set, &old);
		sigqueue(me, rt + 3, (union sigval){ .sival_int = 77 });
		siginfo_t si;
		memset(&si, 0, sizeof si);
		CHECK_EQ(sigwaitinfo(&set, &si), rt + 3, "sigwaitinfo returns the queued signal");
		CHECK(si.si_value.sival_int == 77 && si.si_code == SI_QUEUE, "sigwaitinfo siginfo value 77");
		struct timespec zero = { 0, 0 }, t50 = { 0, 50000000 };
		CHECK_ERR(sigtimedwait(&set, &si, &zero), EAGAIN, "sigtimedwait(0) with nothing pending");
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		CHECK_ERR(sigtimedwait(&set, &si, &t50), EAGAIN, "sigtimedwait(50ms) times out");
		clock_gettime(CLOCK_MONOTONIC, &b);
		long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		CHECK(ms >= 45 && ms < 20000, "sigtimedwait waited ~50ms (%ld ms)", ms);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}

	T_SECTION("dispositions across exec");
	{
		/* re-exec ourselves by the path in argv[0] (no /proc) */
		char *self = argv[0];
		pid = t_fork();
		if (pid == 0) {
			signal(SIGUSR1, SIG_IGN);
			set_plain(SIGUSR2, h_plain, 0);
			sigemptyset(&set);
			sigaddset(&set, SIGHUP);
			sigprocmask(SIG_BLOCK, &set, NULL);
			char *av[] = { self, "exec-check", NULL };
			execv(self, av);
			_exit(127);
		}
		CHECK_EQ(t_exitcode(pid), 0x36, "exec keeps SIG_IGN and mask, resets handlers (0x36 = ok)");
	}

	return TEST_END();
}
