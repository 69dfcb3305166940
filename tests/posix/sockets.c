/* sockets.c - AF_UNIX stream/dgram/seqpacket sockets (socketpair, path and
 * abstract names, listen/accept/connect, poll, shutdown, EPIPE, SCM_RIGHTS,
 * SO_PEERCRED) and TCP/UDP over the loopback addresses ::1 and 127.0.0.1.
 * Every dunix node has a loopback interface (and Linux does), so the inet
 * half is never skipped: EAFNOSUPPORT is a failure. */
#include "check.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

static volatile sig_atomic_t got_pipe;
static void on_pipe(int sig) { (void)sig; got_pipe++; }

static socklen_t sun_set(struct sockaddr_un *a, const char *path, int abstract)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		size_t n = strlen(path);
		memcpy(a->sun_path + 1, path, n);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	}
	snprintf(a->sun_path, sizeof a->sun_path, "%s", path);
	return (socklen_t)sizeof *a;
}

/* An echo child for a listening stream socket: accept one connection,
 * echo until EOF, exit 0. */
static pid_t echo_child(int lfd)
{
	pid_t pid = t_fork();
	if (pid == 0) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(1);
		char buf[4096];
		ssize_t n;
		while ((n = read(c, buf, sizeof buf)) > 0)
			if (t_write_full(c, buf, (size_t)n) != n)
				_exit(2);
		_exit(n == 0 ? 0 : 3);
	}
	return pid;
}

/* Send 64 KiB through fd and read the echo back; returns 1 on success. */
static int echo_roundtrip(int fd)
{
	static char out[65536], in[65536];
	for (size_t i = 0; i < sizeof out; i++)
		out[i] = (char)(i * 7 + 3);
	pid_t w = t_fork();
	if (w == 0)
		_exit(t_write_full(fd, out, sizeof out) == (ssize_t)sizeof out ? 0 : 1);
	ssize_t got = t_read_full(fd, in, sizeof in);
	int ok = t_exitcode(w) == 0 && got == (ssize_t)sizeof in && memcmp(in, out, sizeof in) == 0;
	return ok;
}

static void unix_tests(const char *dir)
{
	int sv[2], n;
	char buf[256], path[600];
	struct stat st;
	struct sockaddr_un a, b;
	socklen_t len;

	T_SECTION("socketpair stream");
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair(SOCK_STREAM|SOCK_CLOEXEC)");
	CHECK(fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode), "fstat says S_ISSOCK");
	CHECK_EQ(fcntl(sv[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "SOCK_CLOEXEC sets FD_CLOEXEC");
	CHECK_EQ(write(sv[0], "hello", 5), 5, "write 5 bytes");
	CHECK_EQ(recv(sv[1], buf, sizeof buf, MSG_PEEK), 5, "MSG_PEEK sees them");
	CHECK_EQ(read(sv[1], buf, 3), 3, "read 3");
	CHECK_EQ(read(sv[1], buf + 3, sizeof buf - 3), 2, "read the rest");
	CHECK(memcmp(buf, "hello", 5) == 0, "bytes in order");
	CHECK_ERR(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN, "MSG_DONTWAIT on empty: EAGAIN");
	n = 0;
	len = sizeof n;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &n, &len) == 0 && n == SOCK_STREAM, "SO_TYPE is SOCK_STREAM");
	struct ucred cr;
	len = sizeof cr;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.pid == getpid() && cr.uid == geteuid(),
	      "SO_PEERCRED names this process");
	len = sizeof n;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &n, &len) == 0 && n >= 4096, "SO_SNDBUF has a size (%d)", n);
	CHECK_ERR(lseek(sv[0], 0, SEEK_SET), ESPIPE, "lseek on a socket: ESPIPE");

	T_SECTION("poll and shutdown");
	struct pollfd p = {.fd = sv[1], .events = POLLIN | POLLOUT | POLLRDHUP};
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT, "fresh socket: POLLOUT only (revents %#x)", p.revents);
	write(sv[0], "x", 1);
	CHECK(poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLOUT), "data: POLLIN|POLLOUT (revents %#x)", p.revents);
	CHECK_SYS(shutdown(sv[0], SHUT_WR), "shutdown(SHUT_WR)");
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP), "peer SHUT_WR: POLLRDHUP (revents %#x)", p.revents);
	CHECK_EQ(read(sv[1], buf, sizeof buf), 1, "queued byte still read");
	CHECK_EQ(read(sv[1], buf, sizeof buf), 0, "then end of file");
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR(write(sv[0], "x", 1), EPIPE, "write after SHUT_WR: EPIPE");
	signal(SIGPIPE, on_pipe);
	got_pipe = 0;
	CHECK_ERR(send(sv[0], "x", 1, 0), EPIPE, "send after SHUT_WR: EPIPE");
	CHECK_EQ(got_pipe, 1, "and SIGPIPE");
	CHECK_ERR(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE, "send with MSG_NOSIGNAL: EPIPE");
	CHECK_EQ(got_pipe, 1, "without SIGPIPE");
	signal(SIGPIPE, SIG_IGN);
	close(sv[0]);
	p.events = POLLIN;
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "peer closed: POLLHUP (revents %#x)", p.revents);
	CHECK_ERR(write(sv[1], "x", 1), EPIPE, "write to a closed peer: EPIPE");
	close(sv[1]);

	T_SECTION("socketpair dgram and seqpacket");
	CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), "socketpair(SOCK_DGRAM)");
	send(sv[0], "one", 3, 0);
	send(sv[0], "three", 5, 0);
	send(sv[0], "", 0, 0);
	CHECK_EQ(recv(sv[1], buf, 2, MSG_TRUNC), 3, "MSG_TRUNC gives the real length");
	CHECK_EQ(recv(sv[1], buf, sizeof buf, 0), 5, "boundaries kept");
	CHECK_EQ(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), 0, "an empty datagram");
	CHECK_ERR(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN, "then nothing");
	close(sv[0]);
	close(sv[1]);
	CHECK_SYS(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), "socketpair(SOCK_SEQPACKET)");
	send(sv[0], "abc", 3, 0);
	send(sv[0], "de", 2, 0);
	struct iovec iv = {buf, 2};
	struct msghdr mh = {.msg_iov = &iv, .msg_iovlen = 1};
	CHECK(recvmsg(sv[1], &mh, 0) == 2 && (mh.msg_flags & MSG_TRUNC), "seqpacket cut: MSG_TRUNC in msg_flags");
	CHECK_EQ(recv(sv[1], buf, sizeof buf, 0), 2, "next record whole");
	close(sv[0]);
	close(sv[1]);

	T_SECTION("SCM_RIGHTS");
	int pp[2];
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
	CHECK_SYS(pipe(pp), "pipe");
	{
		char cbuf[CMSG_SPACE(sizeof(int))];
		memset(cbuf, 0, sizeof cbuf);
		struct iovec v = {"f", 1};
		struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pp[1], sizeof(int));
		CHECK_EQ(sendmsg(sv[0], &m, 0), 1, "sendmsg with SCM_RIGHTS");
		close(pp[1]);
		char rbuf[CMSG_SPACE(sizeof(int))];
		char d;
		struct iovec rv = {&d, 1};
		struct msghdr r = {.msg_iov = &rv, .msg_iovlen = 1, .msg_control = rbuf, .msg_controllen = sizeof rbuf};
		CHECK_EQ(recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC), 1, "recvmsg");
		c = CMSG_FIRSTHDR(&r);
		int fd = -1;
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
		CHECK(fd >= 0, "an SCM_RIGHTS message came");
		CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "MSG_CMSG_CLOEXEC");
		CHECK_EQ(write(fd, "via", 3), 3, "write to the passed pipe end");
		CHECK_EQ(read(pp[0], buf, sizeof buf), 3, "read at the other end");
		close(fd);
		close(pp[0]);
	}
	close(sv[0]);
	close(sv[1]);

	T_SECTION("path names: bind, listen, accept, connect");
	snprintf(path, sizeof path, "%s/sock", dir);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(l >= 0, "socket(AF_UNIX, SOCK_STREAM)");
	len = sun_set(&a, path, 0);
	CHECK_SYS(bind(l, (struct sockaddr *)&a, len), "bind to a path");
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "the path is a socket inode");
	int x = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR(bind(x, (struct sockaddr *)&a, len), EADDRINUSE, "bind to an existing path: EADDRINUSE");
	CHECK_ERR(connect(x, (struct sockaddr *)&a, len), ECONNREFUSED, "connect before listen: ECONNREFUSED");
	CHECK_SYS(listen(l, 8), "listen");
	int on = 1;
	CHECK_SYS(ioctl(l, FIONBIO, &on), "FIONBIO");
	CHECK_ERR(accept(l, NULL, NULL), EAGAIN, "non-blocking accept with nothing: EAGAIN");
	on = 0;
	ioctl(l, FIONBIO, &on);
	pid_t srv = echo_child(l);
	CHECK_SYS(connect(x, (struct sockaddr *)&a, len), "connect to the path");
	len = sizeof b;
	CHECK(getpeername(x, (struct sockaddr *)&b, &len) == 0 && strcmp(b.sun_path, path) == 0, "getpeername names the path");
	len = sizeof b;
	CHECK(getsockname(l, (struct sockaddr *)&b, &len) == 0 && strcmp(b.sun_path, path) == 0, "getsockname names the path");
	CHECK(echo_roundtrip(x), "64 KiB echoed by a forked server");
	shutdown(x, SHUT_WR);
	CHECK_EQ(t_exitcode(srv), 0, "server saw EOF");
	close(x);
	close(l);
	CHECK_ERR(connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, sun_set(&a, path, 0)), ECONNREFUSED,
		  "connect after the listener closed: ECONNREFUSED");
	snprintf(path, sizeof path, "%s/none", dir);
	CHECK_ERR(connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, sun_set(&a, path, 0)), ENOENT,
		  "connect to a missing path: ENOENT");

	T_SECTION("abstract names and dgram by name");
	char an[64];
	snprintf(an, sizeof an, "dunix-posix-%d", (int)getpid());
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	len = sun_set(&a, an, 1);
	CHECK_SYS(bind(l, (struct sockaddr *)&a, len), "bind to an abstract name");
	x = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR(bind(x, (struct sockaddr *)&a, len), EADDRINUSE, "abstract name in use: EADDRINUSE");
	listen(l, 1);
	CHECK_SYS(connect(x, (struct sockaddr *)&a, len), "connect to the abstract name");
	int y = accept(l, NULL, NULL);
	CHECK(y >= 0, "accept");
	CHECK_EQ(write(x, "ab", 2), 2, "write");
	CHECK_EQ(read(y, buf, sizeof buf), 2, "read on the accepted end");
	close(x);
	close(y);
	close(l);
	int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(path, sizeof path, "%s/dgram", dir);
	len = sun_set(&a, path, 0);
	CHECK_SYS(bind(d1, (struct sockaddr *)&a, len), "bind a datagram socket");
	CHECK_EQ(sendto(d2, "ping", 4, 0, (struct sockaddr *)&a, len), 4, "sendto by path");
	CHECK_ERR(send(d2, "x", 1, 0), ENOTCONN, "send without a destination: ENOTCONN");
	len = sizeof b;
	CHECK_EQ(recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&b, &len), 4, "recvfrom");
	CHECK_EQ(len, 0, "unbound sender: no address (length 0)");
	close(d1);
	close(d2);
}

/* ---- inet ---------------------------------------------------------------- */

static void inet_tests(int family)
{
	const char *fam = family == AF_INET6 ? "IPv6" : "IPv4";
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[256];
	memset(&ss, 0, sizeof ss);
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *s4;
	}
	struct sockaddr_storage lo = ss; /* the loopback address, port 0 */

	T_SECTION(family == AF_INET6 ? "TCP over ::1" : "TCP over 127.0.0.1");
	int l = socket(family, SOCK_STREAM, 0);
	CHECK(l >= 0, "%s TCP socket", fam);
	int on = 1;
	CHECK_SYS(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), "SO_REUSEADDR");
	CHECK_SYS(bind(l, (struct sockaddr *)&ss, len), "bind to loopback, port 0");
	CHECK_SYS(listen(l, 8), "listen");
	socklen_t sl = sizeof ss;
	CHECK_SYS(getsockname(l, (struct sockaddr *)&ss, &sl), "getsockname");
	CHECK(((struct sockaddr_in *)&ss)->sin_port != 0, "a port was picked");
	int x = socket(family, SOCK_STREAM, 0);
	CHECK_ERR(bind(x, (struct sockaddr *)&ss, len), EADDRINUSE, "bind to the listening port: EADDRINUSE");
	close(x);
	pid_t srv = echo_child(l);
	int c = socket(family, SOCK_STREAM, 0);
	CHECK_SYS(connect(c, (struct sockaddr *)&ss, len), "connect");
	CHECK_SYS(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), "TCP_NODELAY");
	struct sockaddr_storage peer;
	sl = sizeof peer;
	CHECK(getpeername(c, (struct sockaddr *)&peer, &sl) == 0 && sl == len && memcmp(&peer, &ss, len) == 0,
	      "getpeername is the listener's address");
	CHECK(echo_roundtrip(c), "64 KiB echoed over %s TCP", fam);
	CHECK_SYS(shutdown(c, SHUT_WR), "shutdown(SHUT_WR)");
	CHECK_EQ(read(c, buf, sizeof buf), 0, "server closed after EOF");
	CHECK_EQ(t_exitcode(srv), 0, "server saw EOF");
	close(c);

	T_SECTION(family == AF_INET6 ? "non-blocking TCP over ::1" : "non-blocking TCP over 127.0.0.1");
	c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(c, (struct sockaddr *)&ss, len);
	int e = errno;
	CHECK(r == 0 || e == EINPROGRESS, "non-blocking connect: 0 or EINPROGRESS");
	struct pollfd p = {.fd = c, .events = POLLOUT};
	CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT), "poll says writable once connected");
	int err = -1;
	sl = sizeof err;
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0, "SO_ERROR is 0");
	fcntl(l, F_SETFL, O_NONBLOCK);
	p.fd = l;
	p.events = POLLIN;
	CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "the listener polls readable");
	int a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	CHECK(a >= 0, "accept4(SOCK_NONBLOCK)");
	CHECK_ERR(accept(l, NULL, NULL), EAGAIN, "no second connection: EAGAIN");
	CHECK_ERR(read(a, buf, sizeof buf), EAGAIN, "nothing to read: EAGAIN");
	close(c);
	p.fd = a;
	p.events = POLLIN | POLLRDHUP;
	CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLRDHUP), "peer closed: POLLRDHUP (revents %#x)", p.revents);
	CHECK_EQ(read(a, buf, sizeof buf), 0, "end of file");
	close(a);
	close(l);

	T_SECTION(family == AF_INET6 ? "errors over ::1" : "errors over 127.0.0.1");
	/* A port nobody listens on: bind one, note it, close it. */
	ss = lo;
	x = socket(family, SOCK_STREAM, 0);
	bind(x, (struct sockaddr *)&ss, len);
	sl = sizeof ss;
	getsockname(x, (struct sockaddr *)&ss, &sl);
	close(x);
	c = socket(family, SOCK_STREAM, 0);
	CHECK_ERR(connect(c, (struct sockaddr *)&ss, len), ECONNREFUSED, "connect to a closed port: ECONNREFUSED");
	close(c);
	c = socket(family, SOCK_STREAM, 0);
	CHECK_ERR(getpeername(c, (struct sockaddr *)&peer, &sl), ENOTCONN, "getpeername unconnected: ENOTCONN");
	CHECK_ERR(listen(socket(family, SOCK_DGRAM, 0), 1), EOPNOTSUPP, "listen on UDP: EOPNOTSUPP");
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	CHECK_ERR(bind(c, (struct sockaddr *)&un, sizeof un), EAFNOSUPPORT,
		  "bind an inet socket to a unix address: EAFNOSUPPORT");
	close(c);

	T_SECTION(family == AF_INET6 ? "UDP over ::1" : "UDP over 127.0.0.1");
	ss = lo;
	int u1 = socket(family, SOCK_DGRAM, 0), u2 = socket(family, SOCK_DGRAM, 0);
	CHECK_SYS(bind(u1, (struct sockaddr *)&ss, len), "bind UDP");
	sl = sizeof ss;
	getsockname(u1, (struct sockaddr *)&ss, &sl);
	CHECK_EQ(sendto(u2, "hello, udp", 10, 0, (struct sockaddr *)&ss, len), 10, "sendto");
	CHECK_EQ(recv(u1, buf, 5, MSG_PEEK | MSG_TRUNC), 10, "peek with MSG_TRUNC: the datagram's length");
	sl = sizeof peer;
	CHECK_EQ(recvfrom(u1, buf, sizeof buf, 0, (struct sockaddr *)&peer, &sl), 10, "recvfrom");
	CHECK(sl == len && ((struct sockaddr *)&peer)->sa_family == family, "sender address of the right family");
	CHECK_SYS(connect(u2, (struct sockaddr *)&ss, len), "connect UDP");
	CHECK_EQ(send(u2, "x", 1, 0), 1, "send on connected UDP");
	CHECK_EQ(recv(u1, buf, sizeof buf, 0), 1, "recv");
	CHECK_ERR(recv(u1, buf, sizeof buf, MSG_DONTWAIT), EAGAIN, "then EAGAIN");
	close(u1);
	close(u2);
}

int main(void)
{
	TEST_BEGIN("sockets");
	signal(SIGPIPE, SIG_IGN);
	char dir[512];
	snprintf(dir, sizeof dir, "%s", t_mkdtemp());
	unix_tests(dir);
	for (int i = 0; i < 2; i++) {
		int family = i == 0 ? AF_INET6 : AF_INET;
		int s = socket(family, SOCK_STREAM, 0);
		int e = errno;
		CHECK(s >= 0, "socket(%s, SOCK_STREAM): %s", family == AF_INET6 ? "AF_INET6" : "AF_INET",
		      s >= 0 ? "ok" : strerror(e));
		if (s < 0)
			continue;
		close(s);
		inet_tests(family);
	}
	t_rmrf(dir);
	return TEST_END();
}
