/*
 * check.h - tiny TAP-like assertion helpers shared by the tests/posix
 * programs.  Header-only; every program includes it exactly once.
 *
 * Output goes straight to fd 1 with write(2), one line per write, so that
 * nothing is buffered in stdio when a test forks and children that call
 * exit() can never replay a parent's buffered output.
 *
 *   TEST_BEGIN("name");              start (also makes stdout unbuffered)
 *   CHECK(cond, fmt, ...);           generic assertion; errno=0 before cond,
 *                                    the errno left by cond is shown on failure
 *   CHECK_SYS(expr, fmt, ...);       expr must not return -1 (or MAP_FAILED)
 *   CHECK_ERR(expr, E, fmt, ...);    expr must return -1 with errno == E
 *   CHECK_EQ(got, want, fmt, ...);   integer equality, values shown on failure
 *   CHECK_STR(got, want, fmt, ...);  string equality
 *   SKIP(fmt, ...);                  "ok N - ... # SKIP" (counted, not failed)
 *   T_SECTION("name");               "# name" comment; named by the watchdog
 *   t_fork();                        fork() whose child is tracked (see below)
 *   return TEST_END();               prints plan and "# PASS/FAIL name"
 *
 * Hangs: TEST_BEGIN arms a watchdog, alarm(60) (or alarm(N) with
 * POSIX_TEST_TIMEOUT=N in the environment).  When it fires it prints a "not ok" line
 * naming the current section and the last check, then "# FAIL name",
 * SIGKILLs every child created with t_fork() that has not been reaped (and
 * its process group), removes the t_mkdtemp() directories and exits with
 * status 3.  A program that installs its own SIGALRM handler or uses
 * ITIMER_REAL replaces the watchdog until it calls t_watchdog_rearm().
 * Likewise SIGSEGV/SIGBUS/SIGILL/SIGFPE in the test program print where it
 * crashed before it dies of the signal (children just die of it).
 *
 * Children: t_fork() records the pid in the parent and sets
 * PR_SET_PDEATHSIG(SIGKILL) in the child, so a child can outlive neither a
 * watchdog exit nor a crash of its parent.  t_wait()/t_exitcode() forget the
 * pid again.  TEST_END fails the program if a t_fork() child is still running
 * (and kills it); zombies reaped by other means are tolerated.
 */
#ifndef POSIX_CHECK_H
#define POSIX_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int t_num;      /* checks run so far */
static int t_failures; /* checks failed so far */
static int t_skips;    /* checks skipped so far */
static const char *t_name = "?";
static const char *t_section = "(start)"; /* set by T_SECTION */
static char t_last_desc[160] = "(none)";  /* last check, for the watchdog */
static int t_last_line;

/* errno -> symbolic name.  glibc >= 2.32 has strerrorname_np; musl does not,
 * so keep our own table of the values Linux uses. */
static inline const char *t_errname(int e)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *n = strerrorname_np(e);
	if (n)
		return n;
#else
#define T_E(x) case x: return #x
	switch (e) {
	case 0: return "0";
	T_E(EPERM); T_E(ENOENT); T_E(ESRCH); T_E(EINTR); T_E(EIO); T_E(ENXIO);
	T_E(E2BIG); T_E(ENOEXEC); T_E(EBADF); T_E(ECHILD); T_E(EAGAIN);
	T_E(ENOMEM); T_E(EACCES); T_E(EFAULT); T_E(ENOTBLK); T_E(EBUSY);
	T_E(EEXIST); T_E(EXDEV); T_E(ENODEV); T_E(ENOTDIR); T_E(EISDIR);
	T_E(EINVAL); T_E(ENFILE); T_E(EMFILE); T_E(ENOTTY); T_E(ETXTBSY);
	T_E(EFBIG); T_E(ENOSPC); T_E(ESPIPE); T_E(EROFS); T_E(EMLINK);
	T_E(EPIPE); T_E(EDOM); T_E(ERANGE); T_E(EDEADLK); T_E(ENAMETOOLONG);
	T_E(ENOLCK); T_E(ENOSYS); T_E(ENOTEMPTY); T_E(ELOOP); T_E(ENOMSG);
	T_E(EIDRM); T_E(ENODATA); T_E(ETIME); T_E(EPROTO); T_E(EBADMSG);
	T_E(EOVERFLOW); T_E(EBADFD); T_E(EILSEQ); T_E(ENOTSOCK);
	T_E(EDESTADDRREQ); T_E(EMSGSIZE); T_E(EPROTOTYPE); T_E(ENOPROTOOPT);
	T_E(EPROTONOSUPPORT); T_E(EOPNOTSUPP); T_E(EAFNOSUPPORT);
	T_E(EADDRINUSE); T_E(EADDRNOTAVAIL); T_E(ENETDOWN); T_E(ENETUNREACH);
	T_E(ECONNABORTED); T_E(ECONNRESET); T_E(ENOBUFS); T_E(EISCONN);
	T_E(ENOTCONN); T_E(ETIMEDOUT); T_E(ECONNREFUSED); T_E(EHOSTUNREACH);
	T_E(EALREADY); T_E(EINPROGRESS); T_E(ESTALE); T_E(EDQUOT);
	T_E(ECANCELED); T_E(EOWNERDEAD); T_E(ENOTRECOVERABLE);
	}
#undef T_E
#endif
	{
		static char buf[2][24];
		static int which;
		which ^= 1;
		snprintf(buf[which], sizeof buf[which], "errno %d", e);
		return buf[which];
	}
}

static inline void t_write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static inline void t_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void t_printf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int save = errno;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	t_write_all(buf, (size_t)n);
	errno = save;
}

/* Record one result.  detail may be NULL; err < 0 means "don't show errno". */
static inline void t_result(int ok, int err, const char *file, int line,
			    const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static inline void t_result(int ok, int err, const char *file, int line,
			    const char *detail, const char *fmt, ...)
{
	char desc[512], out[1024];
	va_list ap;
	int save = errno;
	va_start(ap, fmt);
	vsnprintf(desc, sizeof desc, fmt, ap);
	va_end(ap);
	t_num++;
	snprintf(t_last_desc, sizeof t_last_desc, "%.150s", desc);
	t_last_line = line;
	if (ok) {
		snprintf(out, sizeof out, "ok %d - %s\n", t_num, desc);
	} else {
		t_failures++;
		char eb[64] = "";
		if (err > 0)
			snprintf(eb, sizeof eb, " (%s)", t_errname(err));
		snprintf(out, sizeof out, "not ok %d - %s: %s%s [%s:%d]\n", t_num,
			 desc, detail ? detail : "failed", eb, file, line);
	}
	t_write_all(out, strlen(out));
	errno = save;
}

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		errno = 0;                                                   \
		int t_ok_ = !!(cond);                                        \
		int t_e_ = errno;                                            \
		t_result(t_ok_, t_e_, __FILE__, __LINE__, NULL, __VA_ARGS__); \
	} while (0)

/* expr must succeed (return something other than -1 / MAP_FAILED). */
#define CHECK_SYS(expr, ...)                                                 \
	do {                                                                 \
		errno = 0;                                                   \
		long t_r_ = (long)(expr);                                    \
		int t_e_ = errno;                                            \
		t_result(t_r_ != -1, t_e_, __FILE__, __LINE__,               \
			 "returned -1", __VA_ARGS__);                        \
	} while (0)

/* expr must fail with -1 and errno == want. */
#define CHECK_ERR(expr, want, ...)                                           \
	do {                                                                 \
		errno = 0;                                                   \
		long t_r_ = (long)(expr);                                    \
		int t_e_ = errno;                                            \
		char t_d_[160];                                              \
		snprintf(t_d_, sizeof t_d_,                                  \
			 "expected -1 with %s, got %ld with %s",             \
			 t_errname(want), t_r_, t_errname(t_e_));            \
		t_result(t_r_ == -1 && t_e_ == (want), -1, __FILE__,         \
			 __LINE__, t_d_, __VA_ARGS__);                       \
	} while (0)

#define CHECK_EQ(got, want, ...)                                             \
	do {                                                                 \
		errno = 0;                                                   \
		long long t_g_ = (long long)(got);                           \
		int t_e_ = errno;                                            \
		long long t_w_ = (long long)(want);                          \
		char t_d_[160];                                              \
		snprintf(t_d_, sizeof t_d_, "got %lld (0x%llx), want %lld",  \
			 t_g_, (unsigned long long)t_g_, t_w_);              \
		t_result(t_g_ == t_w_, t_g_ == -1 ? t_e_ : -1, __FILE__,     \
			 __LINE__, t_d_, __VA_ARGS__);                       \
	} while (0)

#define CHECK_STR(got, want, ...)                                            \
	do {                                                                 \
		const char *t_g_ = (got), *t_w_ = (want);                    \
		char t_d_[400];                                              \
		snprintf(t_d_, sizeof t_d_, "got \"%.150s\", want \"%.150s\"", \
			 t_g_ ? t_g_ : "(null)", t_w_);                      \
		t_result(t_g_ && strcmp(t_g_, t_w_) == 0, -1, __FILE__,      \
			 __LINE__, t_d_, __VA_ARGS__);                       \
	} while (0)

#define SKIP(...)                                                            \
	do {                                                                 \
		char t_s_[512];                                              \
		snprintf(t_s_, sizeof t_s_, __VA_ARGS__);                    \
		t_num++;                                                     \
		t_skips++;                                                   \
		t_printf("ok %d - %s # SKIP\n", t_num, t_s_);                \
	} while (0)

#define T_SECTION(name)                                                      \
	do {                                                                 \
		t_section = (name);                                          \
		t_printf("# -- %s\n", t_section);                            \
	} while (0)

/* ---- children ----------------------------------------------------------- */

#define T_MAXKIDS 1024
static pid_t t_kids[T_MAXKIDS]; /* t_fork() children not yet reaped by t_wait */
static int t_nkids;
static pid_t t_owner; /* pid of the test program itself */

static inline void t_untrack(pid_t pid)
{
	for (int i = 0; i < t_nkids; i++)
		if (t_kids[i] == pid) {
			t_kids[i] = t_kids[--t_nkids];
			return;
		}
}

/* fork() for tests: the parent remembers the child, the child dies with its
 * parent (PR_SET_PDEATHSIG), so no test child can be left running. */
static inline pid_t t_fork(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		t_nkids = 0;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(111); /* parent already gone */
	} else if (pid > 0 && t_nkids < T_MAXKIDS) {
		t_kids[t_nkids++] = pid;
	}
	return pid;
}

static inline void t_kill_kids(void)
{
	for (int i = 0; i < t_nkids; i++) {
		kill(t_kids[i], SIGKILL);
		kill(-t_kids[i], SIGKILL); /* its group, if it made one */
	}
}

/* ---- temporary directories ---------------------------------------------- */

static char t_dirs[4][512];
static int t_ndirs;

/* ---- watchdog ------------------------------------------------------------- */

static unsigned t_timeout = 60;
static struct timespec t_deadline;

static inline void t_rmrf(const char *path);

static void t_watchdog_fire(int sig)
{
	(void)sig;
	if (getpid() != t_owner)
		_exit(3); /* a child that inherited an alarm */
	t_printf("not ok %d - watchdog: %s did not finish within %u s; in section \"%s\", "
		 "last check #%d \"%s\" (line %d)\n",
		 t_num + 1, t_name, t_timeout, t_section, t_num, t_last_desc, t_last_line);
	t_printf("# FAIL %s (watchdog timeout)\n", t_name);
	t_kill_kids();
	/* the cleanup below may deadlock if the program was interrupted inside
	 * malloc: SA_RESETHAND|SA_NODEFER let this second alarm kill us */
	alarm(3);
	for (int i = 0; i < t_ndirs; i++)
		t_rmrf(t_dirs[i]);
	_exit(3);
}

/* A fault in the test program itself (not one a test provokes on purpose:
 * those install their own handlers): say where, then die of the signal.
 * Children inherit this handler and simply die of the signal. */
static void t_crash(int sig)
{
	/* SA_RESETHAND: the disposition is SIG_DFL again */
	if (getpid() == t_owner) {
		t_printf("not ok %d - %s crashed with signal %d in section \"%s\", "
			 "last check #%d \"%s\" (line %d)\n",
			 t_num + 1, t_name, sig, t_section, t_num, t_last_desc, t_last_line);
		t_printf("# FAIL %s (signal %d)\n", t_name, sig);
		t_kill_kids();
	}
	raise(sig); /* SA_NODEFER: delivered now; a fault also recurs on return */
}

/* (Re)install the watchdog and crash handlers and arm the alarm for whatever
 * is left of the program's time budget. */
static inline void t_watchdog_rearm(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = t_crash;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sa.sa_handler = t_watchdog_fire;
	sigaction(SIGALRM, &sa, NULL);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long left = (long)(t_deadline.tv_sec - now.tv_sec);
	alarm(left > 1 ? (unsigned)left : 1);
}

static inline void t_watchdog_start(void)
{
	const char *e = getenv("POSIX_TEST_TIMEOUT");
	if (e && atoi(e) > 0)
		t_timeout = (unsigned)atoi(e);
	clock_gettime(CLOCK_MONOTONIC, &t_deadline);
	t_deadline.tv_sec += t_timeout;
	t_watchdog_rearm();
}

#define TEST_BEGIN(name)                                                     \
	do {                                                                 \
		t_name = (name);                                             \
		t_owner = getpid();                                          \
		setvbuf(stdout, NULL, _IONBF, 0);                            \
		t_printf("# %s\n", t_name);                                  \
		t_watchdog_start();                                          \
	} while (0)

static inline int TEST_END(void)
{
	alarm(0);
	/* every t_fork() child must have been reaped; kill any left running */
	for (int i = 0; i < t_nkids; i++) {
		pid_t pid = t_kids[i];
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == 0) {
			kill(pid, SIGKILL);
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			t_result(0, -1, __FILE__, __LINE__, "it was still running (killed now)",
				 "every child was reaped by the end of the test (pid %d)", (int)pid);
		}
	}
	t_nkids = 0;
	for (int i = 0; i < t_ndirs; i++) /* in case the program did not */
		t_rmrf(t_dirs[i]);
	t_printf("1..%d\n", t_num);
	if (t_failures == 0) {
		if (t_skips)
			t_printf("# PASS %s (%d skipped)\n", t_name, t_skips);
		else
			t_printf("# PASS %s\n", t_name);
		return 0;
	}
	t_printf("# FAIL %s %d failures\n", t_name, t_failures);
	return 1;
}

/* ---- small helpers ---------------------------------------------------- */

/* Create a fresh private directory under $TMPDIR (default /tmp). */
static inline char *t_mkdtemp(void)
{
	static char path[512];
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	snprintf(path, sizeof path, "%s/posix-%s-XXXXXX", base, t_name);
	if (!mkdtemp(path)) {
		t_printf("Bail out! mkdtemp(%s): %s\n", path, t_errname(errno));
		exit(2);
	}
	if (t_ndirs < 4)
		snprintf(t_dirs[t_ndirs++], sizeof t_dirs[0], "%s", path);
	return path;
}

/* rm -rf path (best effort).  Own recursion instead of nftw: musl's nftw
 * stops descending after nopenfd levels.  Names are collected before
 * anything is removed, so no directory is modified while it is read. */
static inline void t_rmrf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	chmod(path, 0700); /* a test may have left it unreadable */
	DIR *d = opendir(path);
	if (d) {
		char *names = NULL;
		size_t len = 0, cap = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			size_t n = strlen(e->d_name) + 1;
			if (len + n > cap) {
				cap = (cap + n) * 2;
				char *nn = realloc(names, cap);
				if (!nn)
					break;
				names = nn;
			}
			memcpy(names + len, e->d_name, n);
			len += n;
		}
		closedir(d);
		size_t plen = strlen(path);
		for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
			char *child = malloc(plen + strlen(names + off) + 2);
			if (!child)
				break;
			sprintf(child, "%s/%s", path, names + off);
			t_rmrf(child);
			free(child);
		}
		free(names);
	}
	rmdir(path);
}

/* waitpid() that retries on EINTR; returns the raw status or -1. */
static inline int t_wait(pid_t pid)
{
	int st;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r == pid && (WIFEXITED(st) || WIFSIGNALED(st)))
		t_untrack(pid);
	return r == pid ? st : -1;
}

/* Exit status of a child that exited normally, else 1000+signal, else -1. */
static inline int t_exitcode(pid_t pid)
{
	int st = t_wait(pid);
	if (st == -1)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 1000 + WTERMSIG(st);
	return -2;
}

/* Read exactly n bytes unless EOF/error; returns bytes read. */
static inline ssize_t t_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Write exactly n bytes; returns bytes written. */
static inline ssize_t t_write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t w = write(fd, (const char *)buf + put, n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		put += (size_t)w;
	}
	return (ssize_t)put;
}

/* Write a whole file; returns 0 on success. */
static inline int t_write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	ssize_t w = t_write_full(fd, data, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

#endif
