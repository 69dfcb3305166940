/* files.c - open/read/write/seek/stat/link/symlink and friends. */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/uio.h>
#include <time.h>

static char dir[512];

static const char *P(const char *name)
{
	static char buf[4][600];
	static int i;
	i = (i + 1) & 3;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static off_t fsize(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

int main(void)
{
	TEST_BEGIN("files");
	snprintf(dir, sizeof dir, "%s", t_mkdtemp());
	umask(022);

	static char buf[16384];
	struct stat st;
	int fd, fd2;

	T_SECTION("open flags, fstat");
	fd = open(P("a"), O_RDWR | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0, "open O_CREAT|O_EXCL creates a new file");
	CHECK_ERR(open(P("a"), O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST,
		  "O_CREAT|O_EXCL on existing file");
	CHECK_ERR(open(P("missing"), O_RDONLY), ENOENT, "open missing file without O_CREAT");
	CHECK_ERR(open(P("nodir/x"), O_RDWR | O_CREAT, 0644), ENOENT,
		  "O_CREAT in a missing directory");
	CHECK_EQ(write(fd, "hello world", 11), 11, "write 11 bytes");
	CHECK_SYS(fstat(fd, &st), "fstat");
	CHECK(S_ISREG(st.st_mode), "fstat: S_ISREG");
	CHECK_EQ(st.st_size, 11, "fstat: st_size");
	CHECK_EQ(st.st_nlink, 1, "fstat: st_nlink of new file");
	CHECK_EQ(st.st_mode & 07777, 0644, "mode 0644 under umask 022");
	CHECK(st.st_ino != 0 && st.st_blksize > 0, "st_ino and st_blksize set");
	CHECK_ERR(open(P("a/x"), O_RDONLY), ENOTDIR, "path through a regular file");
	CHECK_ERR(open(P("a"), O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on regular file");

	T_SECTION("lseek, holes, pread/pwrite, ftruncate");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 11, "SEEK_CUR after write");
	CHECK_EQ(lseek(fd, 0, SEEK_END), 11, "SEEK_END");
	CHECK_EQ(lseek(fd, -5, SEEK_END), 6, "SEEK_END -5");
	CHECK_EQ(read(fd, buf, sizeof buf), 5, "read rest of file");
	CHECK(memcmp(buf, "world", 5) == 0, "read returns file data");
	CHECK_EQ(read(fd, buf, sizeof buf), 0, "read at EOF returns 0");
	CHECK_ERR(lseek(fd, -1, SEEK_SET), EINVAL, "lseek to negative offset");
	CHECK_ERR(lseek(fd, 0, 12345), EINVAL, "lseek with bad whence");

	/* hole */
	CHECK_EQ(lseek(fd, 4096 * 3, SEEK_SET), 4096 * 3, "seek beyond EOF");
	CHECK_EQ(write(fd, "Z", 1), 1, "write after hole");
	CHECK_EQ(fsize(fd), 4096 * 3 + 1, "size includes hole");
	CHECK_EQ(pread(fd, buf, 4096 * 3 - 11, 11), 4096 * 3 - 11, "pread across hole");
	CHECK(all_zero(buf, 4096 * 3 - 11), "hole reads as zeros");

	/* pread/pwrite don't move the offset */
	off_t cur = lseek(fd, 2, SEEK_SET);
	CHECK_EQ(pwrite(fd, "HELLO", 5, 0), 5, "pwrite");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur, "pwrite leaves offset alone");
	memset(buf, 0, 16);
	CHECK_EQ(pread(fd, buf, 11, 0), 11, "pread");
	CHECK(memcmp(buf, "HELLO world", 11) == 0, "pread sees pwrite data");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur, "pread leaves offset alone");
	CHECK_ERR(pwrite(fd, "x", 1, -1), EINVAL, "pwrite at negative offset");
	CHECK_ERR(pread(fd, buf, 1, -1), EINVAL, "pread at negative offset");

	/* ftruncate */
	CHECK_SYS(ftruncate(fd, 5), "ftruncate shrink");
	CHECK_EQ(fsize(fd), 5, "size after shrink");
	CHECK_SYS(ftruncate(fd, 100), "ftruncate extend");
	CHECK_EQ(pread(fd, buf, 200, 0), 100, "read extended file");
	CHECK(memcmp(buf, "HELLO", 5) == 0 && all_zero(buf + 5, 95), "extension reads zeros");
	CHECK_ERR(ftruncate(fd, -1), EINVAL, "ftruncate negative length");
	CHECK_SYS(fsync(fd), "fsync");
	CHECK_SYS(fdatasync(fd), "fdatasync");
	close(fd);

	T_SECTION("O_TRUNC, O_APPEND, O_CLOEXEC, fcntl");
	fd = open(P("a"), O_RDONLY);
	CHECK_ERR(write(fd, "x", 1), EBADF, "write on O_RDONLY fd");
	CHECK_ERR(ftruncate(fd, 0), EINVAL, "ftruncate on O_RDONLY fd (Linux: EINVAL)");
	close(fd);
	fd = open(P("a"), O_WRONLY | O_TRUNC);
	CHECK(fd >= 0, "open O_TRUNC");
	CHECK_EQ(fsize(fd), 0, "O_TRUNC empties the file");
	CHECK_ERR(read(fd, buf, 1), EBADF, "read on O_WRONLY fd");
	close(fd);

	/* O_APPEND */
	t_write_file(P("ap"), "0123", 4, 0644);
	fd = open(P("ap"), O_WRONLY | O_APPEND);
	lseek(fd, 0, SEEK_SET);
	CHECK_EQ(write(fd, "ab", 2), 2, "write with O_APPEND");
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 6, "O_APPEND offset at end after write");
	close(fd);
	fd = open(P("ap"), O_RDONLY);
	CHECK(read(fd, buf, 16) == 6 && memcmp(buf, "0123ab", 6) == 0, "O_APPEND data went to end");
	close(fd);

	/* O_CLOEXEC */
	fd = open(P("ap"), O_RDONLY | O_CLOEXEC);
	CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "O_CLOEXEC sets FD_CLOEXEC");
	fd2 = open(P("ap"), O_RDONLY);
	CHECK_EQ(fcntl(fd2, F_GETFD), 0, "no O_CLOEXEC: FD_CLOEXEC clear");
	CHECK_SYS(fcntl(fd2, F_SETFD, FD_CLOEXEC), "F_SETFD FD_CLOEXEC");
	CHECK_EQ(fcntl(fd2, F_GETFD), FD_CLOEXEC, "F_GETFD after F_SETFD");
	close(fd2);

	/* F_GETFL/F_SETFL */
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY, "F_GETFL access mode O_RDONLY");
	close(fd);
	fd = open(P("ap"), O_RDWR);
	CHECK_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK), O_RDWR,
		 "F_GETFL O_RDWR without flags");
	CHECK_SYS(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK), "F_SETFL O_APPEND|O_NONBLOCK");
	CHECK_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK),
		 O_RDWR | O_APPEND | O_NONBLOCK, "F_GETFL shows new flags, access mode unchanged");
	lseek(fd, 0, SEEK_SET);
	write(fd, "Q", 1);
	CHECK_EQ(fsize(fd), 7, "F_SETFL O_APPEND takes effect");

	T_SECTION("dup family");
	lseek(fd, 1, SEEK_SET);
	fd2 = dup(fd);
	CHECK(fd2 > fd, "dup returns a new fd");
	CHECK_EQ(lseek(fd2, 0, SEEK_CUR), 1, "dup shares the offset");
	lseek(fd2, 3, SEEK_SET);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 3, "offset change visible via original");
	CHECK_EQ(fcntl(fd2, F_GETFL) & O_APPEND, O_APPEND, "dup shares file status flags");
	close(fd2);
	CHECK_EQ(dup2(fd, 100), 100, "dup2 to fd 100");
	CHECK_EQ(fcntl(100, F_GETFD), 0, "dup2 result has FD_CLOEXEC clear");
	CHECK_EQ(dup2(fd, fd), fd, "dup2(fd, fd) returns fd");
	CHECK_ERR(syscall(SYS_dup3, fd, fd, O_CLOEXEC), EINVAL, "dup3(fd, fd) is EINVAL (raw syscall)");
	CHECK_EQ(dup3(fd, 101, O_CLOEXEC), 101, "dup3 O_CLOEXEC");
	CHECK_EQ(fcntl(101, F_GETFD), FD_CLOEXEC, "dup3 result has FD_CLOEXEC");
	fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 200);
	CHECK(fd2 >= 200, "F_DUPFD_CLOEXEC returns fd >= 200 (got %d)", fd2);
	CHECK_EQ(fcntl(fd2, F_GETFD), FD_CLOEXEC, "F_DUPFD_CLOEXEC sets FD_CLOEXEC");
	CHECK_EQ(fcntl(fd, F_DUPFD, 100), 102, "F_DUPFD picks lowest free >= 100");
	close(100); close(101); close(102); close(fd2);
	CHECK_ERR(close(100), EBADF, "close of closed fd");
	CHECK_ERR(close(-1), EBADF, "close(-1)");
	CHECK_ERR(dup(100), EBADF, "dup of closed fd");
	CHECK_ERR(fcntl(100, F_GETFD), EBADF, "fcntl on closed fd");
	close(fd);

	T_SECTION("readv / writev");
	{
		struct iovec iov[3] = {
			{ "abc", 3 }, { "", 0 }, { "defgh", 5 },
		};
		fd = open(P("v"), O_RDWR | O_CREAT | O_TRUNC, 0644);
		CHECK_EQ(writev(fd, iov, 3), 8, "writev gathers 3 iovecs");
		char b1[2], b2[10];
		struct iovec r[2] = { { b1, 2 }, { b2, 10 } };
		lseek(fd, 0, SEEK_SET);
		CHECK_EQ(readv(fd, r, 2), 8, "readv scatters");
		CHECK(memcmp(b1, "ab", 2) == 0 && memcmp(b2, "cdefgh", 6) == 0, "readv data");
		CHECK_EQ(pwritev(fd, iov, 3, 1), 8, "pwritev");
		CHECK_EQ(fsize(fd), 9, "pwritev size");
		close(fd);
	}

	T_SECTION("unlink, rename, links, symlinks");
	t_write_file(P("u"), "keepme", 6, 0644);
	fd = open(P("u"), O_RDONLY);
	CHECK_SYS(unlink(P("u")), "unlink open file");
	CHECK_ERR(stat(P("u"), &st), ENOENT, "unlinked name is gone");
	CHECK(read(fd, buf, 16) == 6 && memcmp(buf, "keepme", 6) == 0, "data still readable via fd");
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0, "fstat nlink 0 after unlink");
	close(fd);
	CHECK_ERR(unlink(P("u")), ENOENT, "unlink missing");

	/* rename over existing file */
	t_write_file(P("r1"), "one", 3, 0644);
	t_write_file(P("r2"), "two!", 4, 0644);
	struct stat s1;
	stat(P("r1"), &s1);
	CHECK_SYS(rename(P("r1"), P("r2")), "rename over existing file");
	CHECK_ERR(access(P("r1"), F_OK), ENOENT, "rename source gone");
	CHECK(stat(P("r2"), &st) == 0 && st.st_ino == s1.st_ino && st.st_size == 3,
	      "rename target is the source inode");
	CHECK_SYS(rename(P("r2"), P("r2")), "rename onto itself is a no-op");
	CHECK_ERR(rename(P("nope"), P("r3")), ENOENT, "rename missing source");

	/* hard links */
	CHECK_SYS(link(P("r2"), P("l2")), "link");
	CHECK(stat(P("r2"), &st) == 0 && st.st_nlink == 2, "nlink 2 after link");
	CHECK(stat(P("l2"), &s1) == 0 && s1.st_ino == st.st_ino, "link shares inode");
	CHECK_ERR(link(P("r2"), P("l2")), EEXIST, "link to existing name");
	unlink(P("l2"));
	CHECK(stat(P("r2"), &st) == 0 && st.st_nlink == 1, "nlink back to 1");

	/* symlinks */
	CHECK_SYS(symlink("r2", P("s")), "symlink relative");
	ssize_t n = readlink(P("s"), buf, sizeof buf);
	CHECK_EQ(n, 2, "readlink length, no NUL");
	CHECK(n == 2 && memcmp(buf, "r2", 2) == 0, "readlink content");
	CHECK_EQ(readlink(P("s"), buf, 1), 1, "readlink truncates to bufsize");
	CHECK(lstat(P("s"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 2,
	      "lstat: S_ISLNK, size = target length");
	CHECK(stat(P("s"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 3,
	      "stat follows symlink");
	CHECK_ERR(readlink(P("r2"), buf, sizeof buf), EINVAL, "readlink on non-link");
	CHECK_ERR(readlink(P("nope"), buf, sizeof buf), ENOENT, "readlink missing");
	CHECK_ERR(symlink("x", P("s")), EEXIST, "symlink over existing name");
	CHECK_ERR(open(P("s"), O_RDONLY | O_NOFOLLOW), ELOOP, "O_NOFOLLOW on symlink");
	fd = open(P("s"), O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, 8) == 3 && memcmp(buf, "one", 3) == 0,
	      "open through symlink");
	close(fd);
	symlink("dangling-target", P("dang"));
	CHECK_ERR(open(P("dang"), O_RDONLY), ENOENT, "open dangling symlink");
	symlink("loop2", P("loop1"));
	symlink("loop1", P("loop2"));
	CHECK_ERR(open(P("loop1"), O_RDONLY), ELOOP, "symlink loop");

	T_SECTION("long names, directories as files");
	{
		char longname[300];
		memset(longname, 'n', 299);
		longname[299] = 0;
		CHECK_ERR(open(P(longname), O_RDWR | O_CREAT, 0644), ENAMETOOLONG,
			  "299-char component");
		static char longpath[PATH_MAX + 100];
		size_t i;
		for (i = 0; i + 2 < sizeof longpath; i += 2)
			memcpy(longpath + i, "./", 2);
		longpath[i] = 0;
		CHECK_ERR(open(longpath, O_RDONLY), ENAMETOOLONG, "path longer than PATH_MAX");
	}

	/* directories as files */
	CHECK_ERR(open(dir, O_WRONLY), EISDIR, "open dir O_WRONLY");
	CHECK_ERR(open(dir, O_RDWR), EISDIR, "open dir O_RDWR");
	fd = open(dir, O_RDONLY);
	CHECK(fd >= 0, "open dir O_RDONLY");
	CHECK_ERR(read(fd, buf, 16), EISDIR, "read on a dir fd");
	close(fd);
	mkdir(P("d"), 0755);
	CHECK_ERR(unlink(P("d")), EISDIR, "unlink of a directory (Linux: EISDIR)");
	CHECK_ERR(rmdir(P("r2")), ENOTDIR, "rmdir of a file");

	T_SECTION("access, chmod, umask");
	t_write_file(P("m"), "#", 1, 0644);
	CHECK_SYS(access(P("m"), F_OK), "access F_OK");
	CHECK_SYS(access(P("m"), R_OK | W_OK), "access R_OK|W_OK");
	CHECK_ERR(access(P("m"), X_OK), EACCES, "access X_OK on 0644 file");
	CHECK_ERR(access(P("zz"), F_OK), ENOENT, "access missing");
	CHECK_SYS(chmod(P("m"), 0755), "chmod 0755");
	CHECK_SYS(access(P("m"), X_OK), "access X_OK after chmod");
	fd = open(P("m"), O_RDONLY);
	CHECK_SYS(fchmod(fd, 0600), "fchmod");
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600, "fchmod took effect");
	close(fd);

	/* umask */
	CHECK_EQ(umask(077), 022, "umask returns previous mask");
	fd = creat(P("um"), 0666);
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600, "creat 0666 under umask 077 -> 0600");
	close(fd);
	umask(0);
	fd = open(P("um0"), O_CREAT | O_WRONLY, 0666);
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0666, "umask 0 keeps 0666");
	close(fd);
	umask(022);

	T_SECTION("timestamps");
	{
		struct timespec ts[2] = { { 1000000000, 111 }, { 1200000000, 222000 } };
		CHECK_SYS(utimensat(AT_FDCWD, P("um"), ts, 0), "utimensat explicit times");
		CHECK(stat(P("um"), &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
			      st.st_mtim.tv_sec == 1200000000,
		      "stat shows the set atime/mtime");
		struct timespec omit[2] = { { 0, UTIME_OMIT }, { 1300000000, 0 } };
		CHECK_SYS(utimensat(AT_FDCWD, P("um"), omit, 0), "utimensat UTIME_OMIT atime");
		CHECK(stat(P("um"), &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
			      st.st_mtim.tv_sec == 1300000000,
		      "UTIME_OMIT keeps atime");
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		fd = open(P("um"), O_RDWR);
		CHECK_SYS(futimens(fd, NULL), "futimens(NULL) = now");
		CHECK(fstat(fd, &st) == 0 && st.st_mtim.tv_sec >= now.tv_sec - 2 &&
			      st.st_mtim.tv_sec <= now.tv_sec + 2,
		      "futimens set mtime to about now");
		struct timespec old[2] = { { 5, 0 }, { 5, 0 } };
		futimens(fd, old);
		write(fd, "x", 1);
		CHECK(fstat(fd, &st) == 0 && st.st_mtim.tv_sec >= now.tv_sec - 2,
		      "write updates mtime");
		close(fd);
		CHECK_ERR(utimensat(AT_FDCWD, P("nope"), NULL, 0), ENOENT, "utimensat missing file");
	}

	T_SECTION("openat");
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);
		CHECK(dfd >= 0, "open O_DIRECTORY on dir");
		fd = openat(dfd, "oa", O_RDWR | O_CREAT | O_EXCL, 0644);
		CHECK(fd >= 0, "openat relative to dirfd");
		close(fd);
		CHECK_SYS(access(P("oa"), F_OK), "openat created file in dirfd");
		CHECK(fstatat(dfd, "s", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
		      "fstatat AT_SYMLINK_NOFOLLOW");
		int ffd = open(P("oa"), O_RDONLY);
		CHECK_ERR(openat(ffd, "x", O_RDONLY), ENOTDIR, "openat with non-dir fd");
		CHECK_ERR(openat(999, "x", O_RDONLY), EBADF, "openat with bad fd");
		close(ffd);
		close(dfd);
	}

	T_SECTION("shared offset across fork");
	fd = open(P("fk"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	pid_t pid = t_fork();
	if (pid == 0) {
		write(fd, "child", 5);
		_exit(0);
	}
	t_wait(pid);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5, "fork child shares file offset");
	close(fd);

	T_SECTION("permission checks");
	/* The kernel runs us as root; permission checks are tested in a child
	 * that drops to uid/gid 65534 first.  Not root (host run as a normal
	 * user): setuid is impossible, so these checks are skipped. */
	if (geteuid() != 0) {
		SKIP("permission checks need root to drop privileges");
	} else {
		chmod(dir, 0755); /* mkdtemp made it 0700: let the child in */
		t_write_file(P("none"), "0", 1, 0644);
		chmod(P("none"), 0);
		fd = open(P("none"), O_RDWR);
		CHECK(fd >= 0, "root opens a mode 0000 file read-write");
		close(fd);
		CHECK_ERR(access(P("none"), X_OK), EACCES, "root: X_OK still needs an x bit");
		t_write_file(P("secret"), "s", 1, 0600);
		t_write_file(P("pub"), "p", 1, 0644);
		t_write_file(P("mine"), "m", 1, 0600);
		CHECK_SYS(chown(P("mine"), 65534, 65534), "chown to 65534:65534");
		CHECK(stat(P("mine"), &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534, "stat shows new owner");
		mkdir(P("ro"), 0555);
		int rp[2];
		pipe(rp);
		pid = t_fork();
		if (pid == 0) {
			enum { N = 12 };
			int res[N];
			close(rp[0]);
			if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
				_exit(100);
#define TRY(i, expr) (errno = 0, res[i] = (expr) == -1 ? errno : 0)
			int f;
			TRY(0, open(P("secret"), O_RDONLY));
			TRY(1, open(P("pub"), O_WRONLY));
			TRY(2, f = open(P("pub"), O_RDONLY));
			if (res[2] == 0)
				close(f);
			TRY(3, access(P("secret"), R_OK));
			TRY(4, open(P("ro/new"), O_CREAT | O_WRONLY, 0644));
			TRY(5, chmod(P("pub"), 0777));
			TRY(6, unlink(P("pub")));
			TRY(7, f = open(P("mine"), O_RDWR));
			if (res[7] == 0)
				close(f);
			TRY(8, chmod(P("mine"), 0644));
			TRY(9, chown(P("mine"), 0, 0));
			TRY(10, setuid(0));
			TRY(11, truncate(P("secret"), 0));
#undef TRY
			write(rp[1], res, sizeof res);
			_exit(0);
		}
		close(rp[1]);
		int res[12];
		memset(res, 0xff, sizeof res);
		CHECK_EQ(t_read_full(rp[0], res, sizeof res), sizeof res, "unprivileged child reported");
		close(rp[0]);
		CHECK_EQ(t_exitcode(pid), 0, "child dropped to uid/gid 65534");
		static const struct {
			int want;
			const char *what;
		} exp[12] = {
			{ EACCES, "open 0600 root file for reading" },
			{ EACCES, "open 0644 root file for writing" },
			{ 0, "open 0644 root file for reading" },
			{ EACCES, "access(R_OK) on 0600 root file" },
			{ EACCES, "create in a 0555 dir" },
			{ EPERM, "chmod of a file we do not own" },
			{ EACCES, "unlink in a 0755 root dir" },
			{ 0, "open own 0600 file read-write" },
			{ 0, "chmod own file" },
			{ EPERM, "chown own file to root" },
			{ EPERM, "setuid(0) after dropping" },
			{ EACCES, "truncate 0600 root file" },
		};
		for (int i = 0; i < 12; i++)
			CHECK(res[i] == exp[i].want, "unprivileged: %s -> %s (got %s)", exp[i].what,
			      t_errname(exp[i].want), t_errname(res[i]));
	}

	t_rmrf(dir);
	return TEST_END();
}
