/*
 * sysbench: the micro-benchmarks of issue 3, run the same way on dunix and
 * as /init of Debian's Linux in the same QEMU (tools/bench sys). Each line:
 *   bench: NAME ns=N iters=K
 * Built static (gcc -static or musl-gcc -static).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void report(const char *name, long long ns, long iters) {
	printf("bench: %s ns=%lld iters=%ld\n", name, ns / iters, iters);
	fflush(stdout);
}

static void null_syscall(void) {
	long n = 200000;
	long long t = now();
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	report("getpid", now() - t, n);
}

/* A null call that goes through the kernel's handler table (getpid is
 * answered by dunix's entry code alone). */
static void null_handler(void) {
	long n = 100000;
	long long t = now();
	for (long i = 0; i < n; i++)
		syscall(SYS_getuid);
	report("getuid", now() - t, n);
}

/* Reading the clock: libc's clock_gettime, which takes the vDSO where
 * the kernel gives one (both do), and needs no system call then. */
static void clock_read(void) {
	long n = 200000;
	struct timespec ts;
	long long t = now();
	for (long i = 0; i < n; i++)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	report("clock-gettime", now() - t, n);
}

static void read_zero(void) {
	char buf[4096];
	int fd = open("/dev/zero", O_RDONLY);
	if (fd < 0) {
		printf("bench: read-zero-4k error=open\n");
		return;
	}
	long n = 50000;
	long long t = now();
	for (long i = 0; i < n; i++)
		if (read(fd, buf, sizeof buf) != sizeof buf)
			break;
	report("read-zero-4k", now() - t, n);
	close(fd);
}

static void pipe_rtt(void) {
	int a[2], b[2];
	char c = 'x';
	if (pipe(a) || pipe(b))
		return;
	long n = 20000;
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			if (read(a[0], &c, 1) != 1)
				_exit(1);
			write(b[1], &c, 1);
		}
		_exit(0);
	}
	long long t = now();
	for (long i = 0; i < n; i++) {
		write(a[1], &c, 1);
		if (read(b[0], &c, 1) != 1)
			break;
	}
	long long d = now() - t;
	waitpid(pid, NULL, 0);
	report("pipe-rtt", d, n);
}

static void fork_exit(void) {
	long n = 500;
	long long t = now();
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	report("fork-exit-wait", now() - t, n);
}

static void fork_exec(const char *self) {
	long n = 200;
	long long t = now();
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			execl(self, self, "--exit", (char *)0);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
	}
	report("fork-exec-wait", now() - t, n);
}

static void page_fault(void) {
	long pages = 16384; /* 64 MiB */
	char *p = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	long long t = now();
	for (long i = 0; i < pages; i++)
		p[i * 4096] = 1;
	report("page-fault", now() - t, pages);
	munmap(p, pages * 4096);
}

static void context_switch(void) {
	/* Two processes hand a token back and forth with sched_yield-free
	 * blocking: a pipe pair, counting each handoff as one switch. */
	int a[2], b[2];
	char c = 'x';
	if (pipe(a) || pipe(b))
		return;
	long n = 20000;
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			read(a[0], &c, 1);
			write(b[1], &c, 1);
		}
		_exit(0);
	}
	long long t = now();
	for (long i = 0; i < n; i++) {
		write(a[1], &c, 1);
		read(b[0], &c, 1);
	}
	long long d = now() - t;
	waitpid(pid, NULL, 0);
	report("context-switch", d, 2 * n);
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "--exit") == 0)
		return 0;
	const char *self = argc > 0 ? argv[0] : "/init";
	null_syscall();
	null_handler();
	clock_read();
	read_zero();
	pipe_rtt();
	fork_exit();
	fork_exec(self);
	page_fault();
	context_switch();
	printf("bench: done\n");
	fflush(stdout);
	if (getpid() == 1) {
		sync();
		reboot(RB_POWER_OFF);
	}
	return 0;
}
