/* pipes.c - pipes, fifos, poll/select/epoll, eventfd. */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>

static long ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 7 + (i >> 9)) & 0xff);
}

int main(void)
{
	TEST_BEGIN("pipes");
	signal(SIGPIPE, SIG_IGN);
	int p[2], q[2], n;
	char buf[4096];
	pid_t pid;
	struct stat st;
	char tmpdir[512];
	snprintf(tmpdir, sizeof tmpdir, "%s", t_mkdtemp());

	T_SECTION("pipe basics");
	CHECK_SYS(pipe(p), "pipe");
	CHECK(fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode), "pipe fd is S_ISFIFO");
	CHECK_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY, "read end is O_RDONLY");
	CHECK_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY, "write end is O_WRONLY");
	CHECK_EQ(fcntl(p[0], F_GETFD), 0, "pipe() fds are not close-on-exec");
	CHECK_EQ(write(p[1], "hello", 5), 5, "write 5 bytes");
	CHECK_SYS(ioctl(p[0], FIONREAD, &n), "ioctl FIONREAD");
	CHECK_EQ(n, 5, "FIONREAD reports 5 bytes");
	CHECK_EQ(read(p[0], buf, 3), 3, "partial read");
	CHECK_EQ(read(p[0], buf + 3, sizeof buf - 3), 2, "read returns what is available");
	CHECK(memcmp(buf, "hello", 5) == 0, "data in order");
	CHECK_ERR(write(p[0], "x", 1), EBADF, "write to read end");
	CHECK_ERR(read(p[1], buf, 1), EBADF, "read from write end");
	CHECK_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE, "lseek on pipe");
	CHECK_ERR(pread(p[0], buf, 1, 0), ESPIPE, "pread on pipe");
	close(p[1]);
	CHECK_EQ(read(p[0], buf, sizeof buf), 0, "EOF after writer closed");
	close(p[0]);
	pipe(p);
	close(p[0]);
	CHECK_ERR(write(p[1], "x", 1), EPIPE, "write with no reader: EPIPE (SIGPIPE ignored)");
	close(p[1]);

	T_SECTION("pipe2 flags, capacity");
	CHECK_SYS(pipe2(p, O_CLOEXEC | O_NONBLOCK), "pipe2(O_CLOEXEC|O_NONBLOCK)");
	CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC,
	      "both ends close-on-exec");
	CHECK((fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK),
	      "both ends O_NONBLOCK");
	CHECK_ERR(read(p[0], buf, 1), EAGAIN, "non-blocking read of empty pipe");
	{
		static char big[65536];
		long total = 0;
		ssize_t w;
		/* (bounded, in case the pipe never fills) */
		while (total < (64L << 20) && (w = write(p[1], big, 4096)) > 0)
			total += w;
		int e = errno;
		CHECK(w == -1 && e == EAGAIN, "non-blocking write to full pipe: EAGAIN");
		CHECK(total >= 4096, "pipe capacity >= 4096 (%ld)", total);
		CHECK(ioctl(p[0], FIONREAD, &n) == 0 && n == total, "FIONREAD on full pipe = %ld", total);
		int sz = fcntl(p[0], F_GETPIPE_SZ);
		CHECK(sz == -1 || sz >= total, "F_GETPIPE_SZ (%d) >= contents", sz);
	}
	CHECK_ERR(pipe2(p, 0x12345678), EINVAL, "pipe2 with bad flags");
	close(p[0]);
	close(p[1]);

	T_SECTION("1 MiB through a pipe");
	{
		const size_t total = 1 << 20;
		pipe(p);
		pipe(q);
		pid = t_fork();
		if (pid == 0) {
			close(p[1]);
			close(q[0]);
			unsigned long sum = 0, cnt = 0, bad = 0;
			static char rb[7000];
			ssize_t r;
			while ((r = read(p[0], rb, sizeof rb)) > 0) {
				for (ssize_t i = 0; i < r; i++) {
					if ((unsigned char)rb[i] != pat(cnt + i))
						bad++;
					sum = sum * 31 + (unsigned char)rb[i];
				}
				cnt += r;
			}
			unsigned long res[3] = { cnt, sum, bad };
			write(q[1], res, sizeof res);
			_exit(0);
		}
		close(p[0]);
		close(q[1]);
		static char wb[1 << 20];
		unsigned long sum = 0;
		for (size_t i = 0; i < total; i++) {
			wb[i] = (char)pat(i);
			sum = sum * 31 + (unsigned char)wb[i];
		}
		CHECK_EQ(t_write_full(p[1], wb, total), total, "wrote 1 MiB in one write() loop");
		close(p[1]);
		unsigned long res[3] = { 0, 0, 1 };
		CHECK_EQ(t_read_full(q[0], res, sizeof res), sizeof res, "reader reported");
		CHECK_EQ(res[0], total, "reader received 1 MiB");
		CHECK(res[1] == sum && res[2] == 0, "checksum and byte pattern match");
		close(q[0]);
		t_wait(pid);
	}

	T_SECTION("poll");
	{
		pipe(p);
		struct pollfd pf[2] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 } };
		CHECK_EQ(poll(pf, 1, 0), 0, "poll(timeout 0) on empty pipe returns 0");
		CHECK_EQ(poll(&pf[1], 1, 0), 1, "write end is writable");
		CHECK(pf[1].revents == POLLOUT, "revents POLLOUT");
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK_EQ(poll(pf, 1, 50), 0, "poll(50ms) times out");
		long ms = ms_since(&t0);
		CHECK(ms >= 45 && ms < 20000, "poll waited ~50ms (%ld)", ms);
		write(p[1], "x", 1);
		CHECK(poll(pf, 1, 0) == 1 && pf[0].revents == POLLIN, "POLLIN after write");
		pid = t_fork();
		if (pid == 0) {
			usleep(30000); /* usually lets the parent block first; either order passes */
			write(p[1], "y", 1);
			_exit(0);
		}
		read(p[0], buf, 1);
		CHECK(poll(pf, 1, 30000) == 1 && (pf[0].revents & POLLIN), "poll wakes when child writes");
		read(p[0], buf, 1);
		t_wait(pid);
		close(p[1]);
		CHECK(poll(pf, 1, 0) == 1 && (pf[0].revents & POLLHUP) && !(pf[0].revents & POLLIN),
		      "POLLHUP (no POLLIN) after writer closed and pipe empty");
		pipe(q);
		close(q[0]);
		struct pollfd w = { q[1], POLLOUT, 0 };
		CHECK(poll(&w, 1, 0) == 1 && (w.revents & POLLERR), "POLLERR on write end without reader");
		close(q[1]);
		struct pollfd bad = { 999, POLLIN, 0 };
		CHECK(poll(&bad, 1, 0) == 1 && bad.revents == POLLNVAL, "POLLNVAL for closed fd");
		struct pollfd neg = { -1, POLLIN, 0x55 };
		CHECK(poll(&neg, 1, 0) == 0 && neg.revents == 0, "negative fd ignored, revents 0");
		close(p[0]);
	}

	T_SECTION("select");
	{
		pipe(p);
		fd_set r, w;
		struct timeval tv = { 0, 0 };
		FD_ZERO(&r);
		FD_SET(p[0], &r);
		CHECK_EQ(select(p[0] + 1, &r, NULL, NULL, &tv), 0, "select(0) on empty pipe");
		write(p[1], "z", 1);
		FD_ZERO(&r);
		FD_SET(p[0], &r);
		FD_ZERO(&w);
		FD_SET(p[1], &w);
		tv.tv_sec = 1;
		int max = p[0] > p[1] ? p[0] : p[1];
		CHECK_EQ(select(max + 1, &r, &w, NULL, &tv), 2, "select: both ends ready");
		CHECK(FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w), "FD_ISSET on both");
		int closed = dup(p[0]);
		close(closed);
		FD_ZERO(&r);
		FD_SET(closed, &r);
		tv.tv_sec = 0;
		CHECK_ERR(select(closed + 1, &r, NULL, NULL, &tv), EBADF, "select on closed fd: EBADF");
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		tv.tv_sec = 0;
		tv.tv_usec = 50000;
		CHECK_EQ(select(0, NULL, NULL, NULL, &tv), 0, "select as a 50ms sleep");
		long ms = ms_since(&t0);
		CHECK(ms >= 45 && ms < 20000, "select slept ~50ms (%ld)", ms);
		pid = t_fork();
		if (pid == 0) {
			usleep(30000);
			write(p[1], "s", 1);
			_exit(0);
		}
		read(p[0], buf, 1); /* the "z" */
		FD_ZERO(&r);
		FD_SET(p[0], &r);
		CHECK_EQ(select(p[0] + 1, &r, NULL, NULL, NULL), 1, "select without timeout wakes when child writes");
		CHECK(FD_ISSET(p[0], &r) && read(p[0], buf, 1) == 1 && buf[0] == 's', "and the data is there");
		t_wait(pid);
		close(p[0]);
		close(p[1]);
	}

	T_SECTION("epoll");
	{
		int ep = epoll_create1(EPOLL_CLOEXEC);
		CHECK(ep >= 0, "epoll_create1(EPOLL_CLOEXEC)");
		CHECK_EQ(fcntl(ep, F_GETFD), FD_CLOEXEC, "epoll fd is close-on-exec");
		pipe(p);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234567890ULL }, out[4];
		CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), "EPOLL_CTL_ADD");
		CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST, "ADD twice: EEXIST");
		CHECK_EQ(epoll_wait(ep, out, 4, 0), 0, "epoll_wait(0) with no data");
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK_EQ(epoll_wait(ep, out, 4, 40), 0, "epoll_wait(40ms) times out");
		long ms = ms_since(&t0);
		CHECK(ms >= 35 && ms < 20000, "epoll_wait waited ~40ms (%ld)", ms);
		write(p[1], "e", 1);
		n = epoll_wait(ep, out, 4, 1000);
		CHECK(n == 1 && (out[0].events & EPOLLIN) && out[0].data.u64 == 0x1234567890ULL,
		      "epoll_wait reports EPOLLIN with user data");
		CHECK_EQ(epoll_wait(ep, out, 4, 0), 1, "level-triggered: still ready");
		ev.events = EPOLLIN | EPOLLET;
		CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), "EPOLL_CTL_MOD to edge-triggered");
		CHECK_EQ(epoll_wait(ep, out, 4, 0), 1, "edge-triggered: reported once after MOD");
		CHECK_EQ(epoll_wait(ep, out, 4, 0), 0, "edge-triggered: not again without new data");
		write(p[1], "f", 1);
		CHECK_EQ(epoll_wait(ep, out, 4, 0), 1, "edge-triggered: new data -> new event");
		read(p[0], buf, sizeof buf);
		ev.events = EPOLLOUT;
		ev.data.fd = p[1];
		CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev), "add write end for EPOLLOUT");
		n = epoll_wait(ep, out, 4, 0);
		CHECK(n == 1 && out[0].data.fd == p[1] && (out[0].events & EPOLLOUT), "write end EPOLLOUT");
		CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), "EPOLL_CTL_DEL");
		CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT, "DEL again: ENOENT");
		CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT, "MOD of unregistered fd: ENOENT");
		CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF, "ADD closed fd: EBADF");
		CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL, "ADD epoll fd to itself: EINVAL");
		char tmpl[600];
		snprintf(tmpl, sizeof tmpl, "%s/reg", tmpdir);
		int reg = open(tmpl, O_RDWR | O_CREAT, 0600);
		CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev), EPERM, "ADD regular file: EPERM");
		close(reg);
		unlink(tmpl);
		/* hangup */
		close(p[1]);
		ev.events = EPOLLIN;
		epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
		n = epoll_wait(ep, out, 4, 0);
		CHECK(n == 1 && (out[0].events & EPOLLHUP), "EPOLLHUP after writer closed");
		/* closing the fd removes it from the interest list */
		close(p[0]);
		CHECK_EQ(epoll_wait(ep, out, 4, 0), 0, "closed fd no longer reported");
		/* blocking epoll_wait woken by a child */
		pipe(p);
		ev.events = EPOLLIN;
		ev.data.u64 = 77;
		epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
		pid = t_fork();
		if (pid == 0) {
			usleep(30000);
			write(p[1], "c", 1);
			_exit(0);
		}
		n = epoll_wait(ep, out, 4, -1);
		CHECK(n == 1 && out[0].data.u64 == 77 && (out[0].events & EPOLLIN),
		      "epoll_wait(-1) wakes when child writes");
		t_wait(pid);
		close(p[0]);
		close(p[1]);
		close(ep);
		CHECK_ERR(syscall(SYS_epoll_create, 0), EINVAL, "raw epoll_create(0): EINVAL");
	}

	T_SECTION("eventfd");
	{
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(efd >= 0, "eventfd");
		uint64_t v = 3, got = 0;
		CHECK_ERR(read(efd, &got, 8), EAGAIN, "read of zero counter: EAGAIN");
		CHECK_EQ(write(efd, &v, 8), 8, "write 3");
		v = 4;
		write(efd, &v, 8);
		struct pollfd pf = { efd, POLLIN, 0 };
		CHECK(poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN), "poll: eventfd readable");
		CHECK(read(efd, &got, 8) == 8 && got == 7, "read returns sum 7 (got %llu)", (unsigned long long)got);
		CHECK_ERR(read(efd, &got, 8), EAGAIN, "read reset the counter");
		CHECK_ERR(read(efd, &got, 4), EINVAL, "read with 4-byte buffer: EINVAL");
		v = ~0ULL;
		CHECK_ERR(write(efd, &v, 8), EINVAL, "write 0xffffffffffffffff: EINVAL");
		close(efd);
		efd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
		int ones = 0;
		while (read(efd, &got, 8) == 8 && got == 1)
			ones++;
		int e = errno;
		CHECK(ones == 3 && e == EAGAIN, "EFD_SEMAPHORE: three reads of 1 then EAGAIN (%d)", ones);
		close(efd);
		/* blocking eventfd woken by a child */
		efd = eventfd(0, 0);
		pid = t_fork();
		if (pid == 0) {
			uint64_t one = 5;
			usleep(20000);
			write(efd, &one, 8);
			_exit(0);
		}
		CHECK(read(efd, &got, 8) == 8 && got == 5, "blocking read woken by child's write");
		t_wait(pid);
		close(efd);
	}

	T_SECTION("FIFO");
	{
		char path[700];
		snprintf(path, sizeof path, "%s/fifo", tmpdir);
		CHECK_SYS(mkfifo(path, 0600), "mkfifo");
		CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode), "stat: S_ISFIFO");
		CHECK_ERR(mkfifo(path, 0600), EEXIST, "mkfifo existing");
		CHECK_ERR(open(path, O_WRONLY | O_NONBLOCK), ENXIO, "O_WRONLY|O_NONBLOCK without reader: ENXIO");
		int rn = open(path, O_RDONLY | O_NONBLOCK);
		CHECK(rn >= 0, "O_RDONLY|O_NONBLOCK without writer succeeds");
		close(rn);
		pid = t_fork();
		if (pid == 0) {
			int fd = open(path, O_WRONLY);
			write(fd, "through fifo", 12);
			close(fd);
			_exit(0);
		}
		int fd = open(path, O_RDONLY);
		CHECK(fd >= 0, "blocking open for read meets writer");
		memset(buf, 0, sizeof buf);
		CHECK_EQ(t_read_full(fd, buf, sizeof buf), 12, "read everything until EOF");
		CHECK(memcmp(buf, "through fifo", 12) == 0, "fifo data intact");
		close(fd);
		t_wait(pid);
		unlink(path);
	}

	T_SECTION("write end shared by dup and fork");
	{
		pipe(p);
		pipe(q);
		int w2 = dup(p[1]);
		close(p[1]);
		write(w2, "d", 1);
		struct pollfd pf = { p[0], POLLIN, 0 };
		read(p[0], buf, 1);
		CHECK(poll(&pf, 1, 0) == 0, "no EOF/HUP while a dup of the write end is open");
		pid = t_fork();
		if (pid == 0) {
			char c;
			close(q[1]);
			read(q[0], &c, 1); /* until the parent says so */
			_exit(0);          /* child's copy of w2 closes on exit */
		}
		close(q[0]);
		close(w2);
		CHECK(poll(&pf, 1, 0) == 0, "child's inherited write end keeps the pipe open");
		close(q[1]); /* let the child exit */
		CHECK_EQ(read(p[0], buf, 1), 0, "EOF once the child exits");
		t_wait(pid);
		close(p[0]);
	}

	T_SECTION("PIPE_BUF atomicity");
	{
		enum { REC = 512, NREC = 300 };
		pipe(p);
		pid_t w[2];
		for (int k = 0; k < 2; k++) {
			w[k] = t_fork();
			if (w[k] == 0) {
				close(p[0]);
				char rec[REC];
				for (int i = 0; i < NREC; i++) {
					memset(rec, 'A' + k, REC);
					memcpy(rec + 1, &i, sizeof i);
					if (write(p[1], rec, REC) != REC)
						_exit(1);
				}
				_exit(0);
			}
		}
		close(p[1]);
		static char all[2 * NREC * REC];
		ssize_t got = t_read_full(p[0], all, sizeof all);
		CHECK_EQ(got, sizeof all, "read all records");
		int bad = 0, next[2] = { 0, 0 };
		for (int r = 0; r < 2 * NREC && !bad; r++) {
			char *rec = all + (size_t)r * REC;
			int k = rec[0] - 'A', seq;
			if (k != 0 && k != 1) {
				bad = 1;
				break;
			}
			memcpy(&seq, rec + 1, sizeof seq);
			if (seq != next[k]++)
				bad = 2;
			for (int i = 1 + (int)sizeof seq; i < REC; i++)
				if (rec[i] != 'A' + k)
					bad = 3;
		}
		CHECK_EQ(bad, 0, "no 512-byte write was split or interleaved, per-writer order kept");
		CHECK(t_exitcode(w[0]) == 0 && t_exitcode(w[1]) == 0, "both writers finished");
		close(p[0]);
	}

	t_rmrf(tmpdir);
	return TEST_END();
}
