/* procs.c - fork/wait/exec/vfork storms, waitid/wait4, process groups,
 * sessions, kill to a group, #! scripts, atexit. */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>

extern char **environ;

static char self[PATH_MAX];
static char dir[512];

/* ---- modes used when this binary is re-executed ----------------------- */

/* procs exec-child hello WFD CLOEXECFD  (environment: PROCS_VAR=value) */
static int mode_exec_child(int argc, char **argv)
{
	int code = 0x33;
	if (argc != 5 || strcmp(argv[2], "hello") != 0)
		return 0x40;
	const char *v = getenv("PROCS_VAR");
	if (!v || strcmp(v, "value") != 0)
		return 0x41;
	int nenv = 0;
	for (char **e = environ; *e; e++)
		nenv++;
	if (nenv != 2)
		return 0x42;
	int wfd = atoi(argv[3]), cfd = atoi(argv[4]);
	errno = 0;
	if (fcntl(cfd, F_GETFD) != -1 || errno != EBADF)
		return 0x43; /* O_CLOEXEC fd survived exec */
	if (fcntl(wfd, F_GETFD) != 0)
		return 0x44; /* inherited fd missing */
	pid_t ids[2] = { getpid(), getppid() };
	if (write(wfd, ids, sizeof ids) != sizeof ids)
		return 0x45;
	return code;
}

/* #! interpreter mode: argv = [interp, "interp...", script, a1, a2] */
static int mode_interp(int argc, char **argv)
{
	const char *want1 = getenv("EXPECT_ARG1");
	const char *script = getenv("EXPECT_SCRIPT");
	const char *want0 = getenv("EXPECT_ARG0");
	if (!want1 || !script || !want0)
		return 0x50;
	if (argc != 5)
		return 0x51;
	if (strcmp(argv[0], want0) != 0)
		return 0x52;
	if (strcmp(argv[1], want1) != 0)
		return 0x53;
	if (strcmp(argv[2], script) != 0)
		return 0x54;
	if (strcmp(argv[3], "a1") != 0 || strcmp(argv[4], "a2") != 0)
		return 0x55;
	return 0x34;
}

/* procs argc N arg2 ... : check argc and argument contents */
static int mode_argc(int argc, char **argv)
{
	int n = atoi(argv[2]);
	if (argc != n)
		return 0x60;
	for (int i = 3; i < argc; i++) {
		char want[32];
		snprintf(want, sizeof want, "arg%d", i);
		if (strcmp(argv[i], want) != 0)
			return 0x61;
	}
	if (argv[argc] != NULL)
		return 0x62;
	return 0x35;
}

/* ---- helpers ----------------------------------------------------------- */

static int atexit_fd = -1;
static void ae1(void) { write(atexit_fd, "1", 1); }
static void ae2(void) { write(atexit_fd, "2", 1); }

static volatile int vfork_shared;

static int exec_status(const char *path, char *const argv[], char *const envp[])
{
	pid_t pid = t_fork();
	if (pid == 0) {
		execve(path, argv, envp);
		_exit(errno & 0xff);
	}
	return t_exitcode(pid);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "exec-child") == 0)
		return mode_exec_child(argc, argv);
	if (argc >= 2 && strncmp(argv[1], "interp", 6) == 0)
		return mode_interp(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "argc") == 0)
		return mode_argc(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);
	if (argc == 3 && strcmp(argv[1], "wait-fd") == 0) {
		char c;
		while (read(atoi(argv[2]), &c, 1) > 0)
			;
		return 0x37;
	}

	TEST_BEGIN("procs");
	snprintf(dir, sizeof dir, "%s", t_mkdtemp());
	/* our own executable, for re-exec: argv[0] (no /proc); the runner
	 * passes an absolute path, a relative one is made absolute */
	if (argv[0][0] == '/') {
		snprintf(self, sizeof self, "%s", argv[0]);
	} else {
		char cwd[PATH_MAX];
		getcwd(cwd, sizeof cwd);
		snprintf(self, sizeof self, "%.2000s/%.2000s", cwd, argv[0]);
	}
	CHECK(access(self, X_OK) == 0, "own executable found (%s)", self);

	pid_t me = getpid();
	int st, p[2];

	T_SECTION("fork, exit status, wait");
	pid_t pid = t_fork();
	if (pid == 0)
		_exit(42);
	CHECK(pid > 0, "fork returns child pid in parent");
	CHECK_EQ(waitpid(pid, &st, 0), pid, "waitpid returns the child");
	CHECK(WIFEXITED(st) && !WIFSIGNALED(st), "WIFEXITED");
	CHECK_EQ(WEXITSTATUS(st), 42, "WEXITSTATUS");
	CHECK_ERR(waitpid(pid, &st, 0), ECHILD, "waitpid on reaped child");
	CHECK_ERR(wait(&st), ECHILD, "wait with no children");
	CHECK_ERR(getpgid(pid), ESRCH, "getpgid of a reaped pid");
	CHECK_ERR(kill(pid, 0), ESRCH, "kill(reaped pid, 0)");

	/* killed by signal */
	pid = t_fork();
	if (pid == 0) {
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	st = t_wait(pid);
	CHECK(WIFSIGNALED(st) && !WIFEXITED(st), "WIFSIGNALED for SIGKILLed child");
	CHECK_EQ(WTERMSIG(st), SIGKILL, "WTERMSIG == SIGKILL");

	/* getpid / getppid in child */
	pipe(p);
	pid = t_fork();
	if (pid == 0) {
		pid_t ids[2] = { getpid(), getppid() };
		write(p[1], ids, sizeof ids);
		_exit(0);
	}
	{
		pid_t ids[2] = { 0, 0 };
		CHECK_EQ(t_read_full(p[0], ids, sizeof ids), sizeof ids, "child reported its ids");
		CHECK_EQ(ids[0], pid, "child's getpid == fork return value");
		CHECK_EQ(ids[1], me, "child's getppid == parent pid");
		CHECK(ids[0] != me, "child pid differs from parent");
	}
	t_wait(pid);
	close(p[0]);
	close(p[1]);

	/* WNOHANG */
	pipe(p);
	pid = t_fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		read(p[0], &c, 1);
		_exit(3);
	}
	close(p[0]);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0, "WNOHANG on running child returns 0");
	close(p[1]);
	CHECK_EQ(waitpid(pid, &st, 0), pid, "blocking waitpid after child unblocked");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status 3");
	CHECK_ERR(waitpid(-1, &st, WNOHANG), ECHILD, "WNOHANG with no children: ECHILD");

	T_SECTION("waitid / wait4");
	pid = t_fork();
	if (pid == 0)
		_exit(9);
	{
		siginfo_t si;
		memset(&si, 0, sizeof si);
		CHECK_SYS(waitid(P_PID, pid, &si, WEXITED), "waitid");
		CHECK(si.si_pid == pid && si.si_signo == SIGCHLD && si.si_code == CLD_EXITED &&
			      si.si_status == 9,
		      "waitid siginfo: pid, SIGCHLD, CLD_EXITED, status 9");
	}
	{
		/* WNOHANG on a running child: 0 and si_pid 0; WNOWAIT leaves the
		 * zombie waitable; P_ALL; killed child: CLD_KILLED */
		pipe(p);
		pid = t_fork();
		if (pid == 0) {
			char c;
			close(p[1]);
			read(p[0], &c, 1);
			_exit(11);
		}
		close(p[0]);
		siginfo_t si;
		memset(&si, 0x55, sizeof si);
		CHECK(waitid(P_PID, pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0,
		      "waitid WNOHANG on a running child: 0 and si_pid 0");
		close(p[1]);
		memset(&si, 0, sizeof si);
		CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == pid && si.si_status == 11,
		      "waitid(P_ALL, WNOWAIT) reports the child");
		memset(&si, 0, sizeof si);
		CHECK(waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_pid == pid && si.si_status == 11,
		      "after WNOWAIT the child is still waitable");
		CHECK_ERR(waitid(P_PID, pid, &si, WEXITED | WNOHANG), ECHILD, "then it is gone: ECHILD");
		CHECK_ERR(waitid(P_ALL, 0, &si, 0), EINVAL, "waitid without WEXITED/WSTOPPED/WCONTINUED: EINVAL");
		pid = t_fork();
		if (pid == 0) {
			for (;;)
				pause();
		}
		kill(pid, SIGKILL);
		memset(&si, 0, sizeof si);
		CHECK(waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_code == CLD_KILLED && si.si_status == SIGKILL,
		      "waitid: CLD_KILLED, si_status SIGKILL");
	}
	pid = t_fork();
	if (pid == 0) {
		/* burn a little CPU so rusage has something to report */
		volatile unsigned long x = 0;
		for (unsigned long i = 0; i < 2000000; i++)
			x += i;
		_exit(10);
	}
	{
		struct rusage ru;
		memset(&ru, 0xff, sizeof ru);
		CHECK_EQ(wait4(pid, &st, 0, &ru), pid, "wait4 with rusage");
		CHECK_EQ(WEXITSTATUS(st), 10, "wait4 status");
		CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 &&
			      ru.ru_stime.tv_sec >= 0 && ru.ru_stime.tv_usec >= 0 &&
			      ru.ru_stime.tv_usec < 1000000 && ru.ru_utime.tv_sec < 1000,
		      "wait4 rusage times are sane timevals");
		CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0 && ru.ru_utime.tv_usec < 1000000,
		      "getrusage(RUSAGE_CHILDREN)");
		CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_utime.tv_usec < 1000000, "getrusage(RUSAGE_SELF)");
		pid = t_fork();
		if (pid == 0)
			_exit(12);
		CHECK(wait4(-1, &st, 0, NULL) == pid && WEXITSTATUS(st) == 12, "wait4(-1) with NULL rusage");
		t_untrack(pid);
	}

	T_SECTION("fork storms");
	/* 256 sequential fork + exit + wait: exit codes 0..255 and truncation */
	{
		int bad = 0;
		for (int i = 0; i < 256; i++) {
			pid = fork();
			if (pid == 0)
				exit(i);
			if (t_exitcode(pid) != i)
				bad++;
		}
		CHECK_EQ(bad, 0, "256 x fork/exit(i)/waitpid: WEXITSTATUS i for 0..255");
		pid = t_fork();
		if (pid == 0)
			_exit(256 + 7);
		CHECK_EQ(t_exitcode(pid), 7, "exit status is truncated to 8 bits");
	}

	/* 200 children alive at once, then reaped */
	{
		int made = 0;
		for (int i = 0; i < 200; i++) {
			pid = fork();
			if (pid == 0)
				_exit(i & 0x7f);
			if (pid > 0)
				made++;
		}
		CHECK_EQ(made, 200, "forked 200 children");
		int reaped = 0, sum = 0, want = 0;
		for (int i = 0; i < 200; i++)
			want += i & 0x7f;
		pid_t r;
		while ((r = wait(&st)) > 0 || (r < 0 && errno == EINTR))
			if (r > 0) {
				reaped++;
				sum += WEXITSTATUS(st);
			}
		int e = errno;
		CHECK_EQ(reaped, 200, "wait reaped all 200 children");
		CHECK_EQ(sum, want, "sum of their exit statuses");
		CHECK_EQ(e, ECHILD, "then wait fails with ECHILD");
	}

	/* a chain: each process forks the next, 50 deep, exit codes add up */
	pid = t_fork();
	if (pid == 0) {
		int depth = 0;
		for (;;) {
			if (depth == 50)
				_exit(0);
			pid_t c = fork();
			if (c < 0)
				_exit(100);
			if (c > 0) {
				int code = t_exitcode(c);
				_exit(code < 0 || code >= 100 ? 100 : code + 1);
			}
			depth++;
		}
	}
	CHECK_EQ(t_exitcode(pid), 50, "fork chain 50 deep, every level waits for the next");

	/* fork + execve of ourselves: 20 times, exit codes passed back */
	{
		int bad = 0;
		for (int i = 0; i < 20; i++) {
			char code[16];
			snprintf(code, sizeof code, "%d", 100 + i);
			char *av[] = { self, "exit", code, NULL };
			if (exec_status(self, av, environ) != 100 + i)
				bad++;
		}
		CHECK_EQ(bad, 0, "20 x fork + execve(self, \"exit N\") + wait");
	}
	/* vfork + execve: 20 times */
	{
		int bad = 0;
		for (int i = 0; i < 20; i++) {
			char code[16];
			snprintf(code, sizeof code, "%d", 50 + i);
			char *av[] = { self, "exit", code, NULL };
			pid = vfork();
			if (pid == 0) {
				execve(self, av, environ);
				_exit(127);
			}
			if (pid < 0 || t_exitcode(pid) != 50 + i)
				bad++;
		}
		CHECK_EQ(bad, 0, "20 x vfork + execve(self) + wait");
	}

	T_SECTION("atexit");
	/* atexit runs on exit(), not on _exit() */
	pipe(p);
	pid = t_fork();
	if (pid == 0) {
		close(p[0]);
		atexit_fd = p[1];
		atexit(ae1);
		atexit(ae2);
		exit(0);
	}
	close(p[1]);
	{
		char b[8] = { 0 };
		CHECK_EQ(t_read_full(p[0], b, sizeof b), 2, "atexit handlers wrote 2 bytes");
		CHECK_STR(b, "21", "atexit handlers run in reverse order");
	}
	t_wait(pid);
	close(p[0]);
	pipe(p);
	pid = t_fork();
	if (pid == 0) {
		close(p[0]);
		atexit_fd = p[1];
		atexit(ae1);
		_exit(0);
	}
	close(p[1]);
	{
		char b[8];
		CHECK_EQ(t_read_full(p[0], b, sizeof b), 0, "_exit skips atexit handlers");
	}
	t_wait(pid);
	close(p[0]);

	T_SECTION("vfork");
	vfork_shared = 0;
	pid = vfork();
	if (pid == 0) {
		vfork_shared = 1;
		_exit(7);
	}
	CHECK(pid > 0, "vfork");
	CHECK_EQ(t_exitcode(pid), 7, "vfork child _exit(7)");
	CHECK_EQ(vfork_shared, 1, "vfork child shares memory (Linux semantics)");
	{
		char *av[] = { self, "exit", "77", NULL };
		pid = vfork();
		if (pid == 0) {
			execve(self, av, environ);
			_exit(127);
		}
		CHECK_EQ(t_exitcode(pid), 77, "vfork + execve");
	}

	T_SECTION("execve: argv, envp, fds");
	{
		int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		pipe(p);
		char wfds[16], cfds[16];
		snprintf(wfds, sizeof wfds, "%d", p[1]);
		snprintf(cfds, sizeof cfds, "%d", cfd);
		char *av[] = { "procs-child", "exec-child", "hello", wfds, cfds, NULL };
		char *ev[] = { "PROCS_VAR=value", "OTHER=1", NULL };
		pid = t_fork();
		if (pid == 0) {
			execve(self, av, ev);
			_exit(127);
		}
		close(p[1]);
		pid_t ids[2] = { 0, 0 };
		CHECK_EQ(t_read_full(p[0], ids, sizeof ids), sizeof ids, "exec'd child wrote ids to inherited fd");
		CHECK_EQ(t_exitcode(pid), 0x33, "exec'd child checked argv/envp/cloexec (0x33 = ok)");
		CHECK_EQ(ids[0], pid, "exec keeps the pid");
		CHECK_EQ(ids[1], me, "exec keeps the parent");
		close(p[0]);
		close(cfd);
	}

	/* many arguments */
	{
		static char *av[303];
		static char store[303][16];
		av[0] = "procs";
		av[1] = "argc";
		av[2] = "302";
		for (int i = 3; i < 302; i++) {
			snprintf(store[i], sizeof store[i], "arg%d", i);
			av[i] = store[i];
		}
		av[302] = NULL;
		CHECK_EQ(exec_status(self, av, environ), 0x35, "execve with 302 arguments");
	}

	T_SECTION("#! scripts");
	{
		char script[600], text[PATH_MAX + 64];
		snprintf(script, sizeof script, "%s/script", dir);
		snprintf(text, sizeof text, "#!%s interp\necho not reached\n", self);
		t_write_file(script, text, strlen(text), 0755);
		char e0[PATH_MAX + 16], e2[700];
		snprintf(e0, sizeof e0, "EXPECT_ARG0=%s", self);
		snprintf(e2, sizeof e2, "EXPECT_SCRIPT=%s", script);
		char *ev[] = { e0, "EXPECT_ARG1=interp", e2, NULL };
		char *av[] = { "ignored-argv0", "a1", "a2", NULL };
		CHECK_EQ(exec_status(script, av, ev), 0x34,
			 "#! script: argv = [interp, arg, script, a1, a2] (0x34 = ok)");

		snprintf(text, sizeof text, "#!  %s interp with  spaces \t\n", self);
		t_write_file(script, text, strlen(text), 0755);
		char *ev2[] = { e0, "EXPECT_ARG1=interp with  spaces", e2, NULL };
		CHECK_EQ(exec_status(script, av, ev2), 0x34,
			 "#! line: leading blanks skipped, rest is ONE argument, trailing blanks cut");

		snprintf(text, sizeof text, "#!%s/no-such-interpreter\n", dir);
		t_write_file(script, text, strlen(text), 0755);
		CHECK_EQ(exec_status(script, av, ev), ENOENT, "#! with missing interpreter: ENOENT");
	}

	T_SECTION("execve errors");
	{
		char path[600];
		char *av[] = { "x", NULL };
		snprintf(path, sizeof path, "%s/missing", dir);
		CHECK_ERR(execve(path, av, environ), ENOENT, "execve missing file");
		snprintf(path, sizeof path, "%s/noexec", dir);
		t_write_file(path, "#!/bin/sh\nexit 0\n", 17, 0644);
		CHECK_ERR(execve(path, av, environ), EACCES, "execve of a 0644 file");
		CHECK_ERR(execve(dir, av, environ), EACCES, "execve of a directory");
		snprintf(path, sizeof path, "%s/garbage", dir);
		static const char junk[256] = "\x01\x02\x03 this is not an executable\n";
		t_write_file(path, junk, sizeof junk, 0755);
		CHECK_EQ(exec_status(path, av, environ), ENOEXEC, "execve of garbage: ENOEXEC");
		snprintf(path, sizeof path, "%s/garbage/sub", dir);
		CHECK_ERR(execve(path, av, environ), ENOTDIR, "execve through a file: ENOTDIR");
	}

	T_SECTION("process groups and sessions");
	{
		pid_t mypg = getpgrp();
		CHECK_EQ(getpgid(0), mypg, "getpgid(0) == getpgrp()");
		CHECK(getsid(0) > 0, "getsid(0) > 0");
		CHECK_ERR(setpgid(0, -1), EINVAL, "setpgid with negative pgid");

		pid = t_fork();
		if (pid == 0) {
			if (getpgrp() != mypg)
				_exit(1);
			if (setpgid(0, 0) != 0 || getpgrp() != getpid())
				_exit(2);
			errno = 0;
			if (setsid() != -1 || errno != EPERM)
				_exit(3); /* group leader may not setsid */
			_exit(0);
		}
		CHECK_EQ(t_exitcode(pid), 0, "child inherits pgrp, setpgid(0,0), setsid EPERM as leader");

		pid = t_fork();
		if (pid == 0) {
			pid_t s = setsid();
			if (s != getpid() || getsid(0) != s || getpgrp() != s)
				_exit(1);
			errno = 0;
			if (setpgid(0, mypg) != -1 || errno != EPERM)
				_exit(2); /* group in another session */
			_exit(0);
		}
		CHECK_EQ(t_exitcode(pid), 0, "setsid in child: new session and group; setpgid across sessions EPERM");

		pipe(p);
		pid = t_fork();
		if (pid == 0) {
			char c;
			close(p[1]);
			read(p[0], &c, 1);
			_exit(getpgrp() == getpid() ? 0 : 1);
		}
		close(p[0]);
		CHECK_EQ(getsid(pid), getsid(0), "getsid(child) == our session");
		CHECK_SYS(setpgid(pid, pid), "parent moves child into its own group");
		CHECK_EQ(getpgid(pid), pid, "getpgid(child)");
		close(p[1]);
		CHECK_EQ(t_exitcode(pid), 0, "child sees its new pgrp");

		/* a child that has exec'd may no longer be moved: EACCES */
		pipe(p);
		pid = t_fork();
		if (pid == 0) {
			char fd[16];
			close(p[1]);
			snprintf(fd, sizeof fd, "%d", p[0]);
			char *av[] = { self, "wait-fd", fd, NULL };
			execve(self, av, environ);
			_exit(127);
		}
		close(p[0]);
		/* the exec'd child writes nothing; wait for its exec by polling
		 * setpgid, which fails with EACCES as soon as it has exec'd */
		int r = 0, e = 0;
		for (int i = 0; i < 20000; i++) {
			errno = 0;
			r = setpgid(pid, pid);
			e = errno;
			if (r == -1)
				break;
			usleep(1000);
		}
		CHECK(r == -1 && e == EACCES, "setpgid on a child after its execve: EACCES (%s)", t_errname(e));
		close(p[1]);
		CHECK_EQ(t_exitcode(pid), 0x37, "exec'd child saw EOF and exited");

		CHECK_ERR(setpgid(0x7ffffff0, 0), ESRCH, "setpgid of a missing pid: ESRCH");
		CHECK_ERR(getsid(0x7ffffff0), ESRCH, "getsid of a missing pid: ESRCH");

		/* setsid child: getsid from the parent sees the new session */
		pipe(p);
		int q[2];
		pipe(q);
		pid = t_fork();
		if (pid == 0) {
			char c;
			close(p[1]);
			close(q[0]);
			pid_t s = setsid();
			write(q[1], &s, sizeof s);
			read(p[0], &c, 1);
			_exit(0);
		}
		close(p[0]);
		close(q[1]);
		pid_t s = 0;
		t_read_full(q[0], &s, sizeof s);
		CHECK_EQ(s, pid, "setsid in child returns its pid");
		CHECK_EQ(getsid(pid), pid, "getsid(child) after its setsid");
		CHECK_EQ(getpgid(pid), pid, "the child leads a new group too");
		CHECK_ERR(setpgid(pid, mypg), EPERM, "moving a child in another session: EPERM");
		close(p[1]);
		close(q[0]);
		CHECK_EQ(t_exitcode(pid), 0, "session leader child exited");
	}

	T_SECTION("kill and wait by process group");
	{
		/* three children in a new group led by the first; a fourth stays
		 * in ours.  Both parent and child call setpgid (no race). */
		int ready[2];
		pipe(ready);
		pid_t kids[4];
		for (int i = 0; i < 4; i++) {
			kids[i] = t_fork();
			if (kids[i] == 0) {
				if (i < 3)
					setpgid(0, i == 0 ? 0 : kids[0]);
				signal(SIGTERM, SIG_DFL);
				write(ready[1], "r", 1);
				for (;;)
					pause();
			}
			if (i < 3)
				setpgid(kids[i], kids[0]);
		}
		char b[4];
		CHECK_EQ(t_read_full(ready[0], b, 4), 4, "4 children ready");
		close(ready[0]);
		close(ready[1]);
		pid_t pg = kids[0];
		CHECK(getpgid(kids[1]) == pg && getpgid(kids[2]) == pg && getpgid(kids[3]) == getpgrp(),
		      "three children in the new group, one in ours");
		CHECK_EQ(waitpid(-pg, &st, WNOHANG), 0, "waitpid(-pgrp, WNOHANG): members alive");
		CHECK_SYS(kill(-pg, SIGTERM), "kill(-pgrp, SIGTERM)");
		int got = 0, wrong = 0;
		for (int i = 0; i < 3; i++) {
			pid_t w = waitpid(-pg, &st, 0);
			if (w == kids[0] || w == kids[1] || w == kids[2]) {
				t_untrack(w);
				if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
					got++;
			} else {
				wrong++;
			}
		}
		CHECK(got == 3 && wrong == 0, "waitpid(-pgrp) reaped the 3 members, all killed by SIGTERM");
		CHECK_ERR(waitpid(-pg, &st, WNOHANG), ECHILD, "group empty: waitpid(-pgrp) ECHILD");
		CHECK_ERR(kill(-pg, 0), ESRCH, "kill(-pgrp, 0) on an empty group: ESRCH");
		CHECK_EQ(waitpid(0, &st, WNOHANG), 0, "waitpid(0): our-group child still running");
		CHECK_EQ(kill(kids[3], 0), 0, "the child outside the group was not signalled");
		kill(kids[3], SIGKILL);
		CHECK_EQ(waitpid(0, &st, 0), kids[3], "waitpid(0) reaps the child in our group");
		t_untrack(kids[3]);
	}

	t_rmrf(dir);
	return TEST_END();
}
