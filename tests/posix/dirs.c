/* dirs.c - directories: mkdir/rmdir, readdir/getdents, cwd, rename, *at. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sys/syscall.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static char dir[512];

static const char *P(const char *name)
{
	static char buf[4][700];
	static int i;
	i = (i + 1) & 3;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Count entries of path; verify names against want[] (NULL-terminated). */
static int list_matches(const char *path, const char *const *want, int *count)
{
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int nwant = 0;
	while (want[nwant])
		nwant++;
	int seen[64] = { 0 };
	int n = 0, ok = 1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		n++;
		int found = 0;
		for (int i = 0; i < nwant; i++)
			if (strcmp(e->d_name, want[i]) == 0) {
				if (seen[i]++)
					ok = 0; /* duplicate */
				found = 1;
			}
		if (!found)
			ok = 0;
	}
	closedir(d);
	*count = n;
	return ok && n == nwant;
}

int main(void)
{
	TEST_BEGIN("dirs");
	snprintf(dir, sizeof dir, "%s", t_mkdtemp());
	umask(022);
	struct stat st, st2;
	char cwd[PATH_MAX], buf[PATH_MAX + 16];

	T_SECTION("mkdir / rmdir");
	CHECK_SYS(mkdir(P("d"), 0755), "mkdir");
	CHECK(stat(P("d"), &st) == 0 && S_ISDIR(st.st_mode), "stat: S_ISDIR");
	CHECK_EQ(st.st_mode & 07777, 0755, "mkdir mode 0755");
	CHECK_EQ(st.st_nlink, 2, "empty dir has nlink 2");
	CHECK_ERR(mkdir(P("d"), 0755), EEXIST, "mkdir existing");
	CHECK_ERR(mkdir(P("x/y"), 0755), ENOENT, "mkdir with missing parent");
	touch(P("f"));
	CHECK_ERR(mkdir(P("f/y"), 0755), ENOTDIR, "mkdir under a file");
	CHECK_ERR(mkdir(P("f"), 0755), EEXIST, "mkdir over a file");
	stat(P("d"), &st);
	mkdir(P("d/sub"), 0777);
	CHECK(stat(P("d"), &st2) == 0 && st2.st_nlink == st.st_nlink + 1,
	      "subdir increments parent nlink");
	umask(027);
	CHECK(stat(P("d/sub"), &st) == 0 && (st.st_mode & 0777) == 0755,
	      "mkdir 0777 under umask 022 -> 0755");
	mkdir(P("d/um"), 0777);
	CHECK(stat(P("d/um"), &st) == 0 && (st.st_mode & 0777) == 0750,
	      "mkdir 0777 under umask 027 -> 0750");
	rmdir(P("d/um"));
	umask(022);
	touch(P("d/file"));
	CHECK_ERR(rmdir(P("d")), ENOTEMPTY, "rmdir non-empty");
	CHECK_ERR(rmdir(P("nope")), ENOENT, "rmdir missing");
	CHECK_ERR(rmdir(P("f")), ENOTDIR, "rmdir a file");
	CHECK_ERR(rmdir(P("d/sub/.")), EINVAL, "rmdir of path ending in '.'");
	CHECK_SYS(mkdir(P("t/"), 0755), "mkdir with trailing slash");
	CHECK_SYS(rmdir(P("t/")), "rmdir with trailing slash");
	CHECK_ERR(stat(P("f/"), &st), ENOTDIR, "stat file/ with trailing slash");
	CHECK_ERR(open(P("newf/"), O_WRONLY | O_CREAT, 0644), EISDIR,
		  "O_CREAT of name/ (Linux: EISDIR)");
	CHECK_ERR(opendir(P("f")) ? 0 : -1, ENOTDIR, "opendir on a file");

	T_SECTION("readdir listing");
	{
		const char *want[] = { ".", "..", "sub", "file", "a", "b", "c", NULL };
		touch(P("d/a"));
		touch(P("d/b"));
		touch(P("d/c"));
		int n = 0;
		CHECK(list_matches(P("d"), want, &n), "readdir lists exactly . .. and 5 names (got %d)", n);
		DIR *d = opendir(P("d"));
		struct dirent *e;
		int types_ok = 1, dot_ok = 0, dotdot_ok = 0;
		struct stat dst, pst;
		stat(P("d"), &dst);
		stat(dir, &pst);
		while ((e = readdir(d)) != NULL) {
			unsigned char want_t = strcmp(e->d_name, "sub") == 0 ||
						       e->d_name[0] == '.'
					       ? DT_DIR
					       : DT_REG;
			if (e->d_type != want_t)
				types_ok = 0;
			if (strcmp(e->d_name, ".") == 0)
				dot_ok = e->d_ino == dst.st_ino;
			if (strcmp(e->d_name, "..") == 0)
				dotdot_ok = e->d_ino == pst.st_ino;
			if (strcmp(e->d_name, "a") == 0) {
				struct stat ast;
				stat(P("d/a"), &ast);
				if (ast.st_ino != e->d_ino)
					types_ok = 0;
			}
		}
		CHECK(types_ok, "d_type (DT_DIR/DT_REG) and d_ino match");
		CHECK(dot_ok, "'.' d_ino is the directory itself");
		CHECK(dotdot_ok, "'..' d_ino is the parent");
		rewinddir(d);
		int again = 0;
		while (readdir(d))
			again++;
		CHECK_EQ(again, 7, "rewinddir then readdir sees all entries again");
		closedir(d);
		unlink(P("d/b"));
		const char *want2[] = { ".", "..", "sub", "file", "a", "c", NULL };
		CHECK(list_matches(P("d"), want2, &n), "unlinked name disappears from listing");
	}

	T_SECTION("big directory, getdents64");
	{
		mkdir(P("big"), 0755);
		char name[64];
		int made = 0;
		for (int i = 0; i < 400; i++) {
			snprintf(name, sizeof name, "big/entry-with-a-longish-name-%04d", i);
			if (touch(P(name)) == 0)
				made++;
		}
		CHECK_EQ(made, 400, "created 400 files");
		DIR *d = opendir(P("big"));
		static char seen[400];
		int n = 0, bad = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			n++;
			int k;
			if (e->d_name[0] == '.')
				continue;
			if (sscanf(e->d_name, "entry-with-a-longish-name-%d", &k) != 1 || k < 0 ||
			    k >= 400 || seen[k]++)
				bad++;
		}
		closedir(d);
		CHECK(n == 402 && bad == 0, "readdir of 400 files: %d entries, %d bad", n, bad);

		/* raw getdents64 */
		int fd = open(P("big"), O_RDONLY | O_DIRECTORY);
		char small[8];
		CHECK_ERR(syscall(SYS_getdents64, fd, small, sizeof small), EINVAL,
			  "getdents64 with too-small buffer");
		static char gbuf[4096];
		long total = 0, r;
		int ents = 0;
		while ((r = syscall(SYS_getdents64, fd, gbuf, sizeof gbuf)) > 0) {
			total += r;
			for (long off = 0; off < r;) {
				unsigned short reclen;
				memcpy(&reclen, gbuf + off + 16, 2);
				if (reclen == 0)
					break;
				ents++;
				off += reclen;
			}
		}
		CHECK(r == 0 && ents == 402, "getdents64 loop returns 402 entries then 0 (got %d)", ents);
		close(fd);
		int ffd = open(P("f"), O_RDONLY);
		CHECK_ERR(syscall(SYS_getdents64, ffd, gbuf, sizeof gbuf), ENOTDIR,
			  "getdents64 on a regular file");
		close(ffd);
		t_rmrf(P("big"));
	}

	T_SECTION("chdir / fchdir / getcwd");
	CHECK_SYS(chdir(dir), "chdir to test dir");
	CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
	CHECK(stat(cwd, &st) == 0 && stat(dir, &st2) == 0 && st.st_ino == st2.st_ino,
	      "getcwd names the directory we chdir'ed to");
	CHECK(cwd[0] == '/', "getcwd is absolute");
	CHECK_SYS(chdir("d/sub"), "chdir relative");
	snprintf(buf, sizeof buf, "%s/d/sub", cwd);
	char cwd2[PATH_MAX];
	CHECK_STR(getcwd(cwd2, sizeof cwd2), buf, "getcwd after relative chdir");
	CHECK_SYS(chdir("../.."), "chdir ../..");
	CHECK_STR(getcwd(cwd2, sizeof cwd2), cwd, "getcwd back at test dir");
	{
		int dfd = open("d", O_RDONLY | O_DIRECTORY);
		CHECK_SYS(fchdir(dfd), "fchdir");
		snprintf(buf, sizeof buf, "%s/d", cwd);
		CHECK_STR(getcwd(cwd2, sizeof cwd2), buf, "getcwd after fchdir");
		close(dfd);
		int ffd = open(P("f"), O_RDONLY);
		CHECK_ERR(fchdir(ffd), ENOTDIR, "fchdir to a file");
		close(ffd);
		CHECK_ERR(fchdir(9999), EBADF, "fchdir bad fd");
		CHECK_ERR(chdir(P("f")), ENOTDIR, "chdir to a file");
		CHECK_ERR(chdir(P("nope")), ENOENT, "chdir to missing dir");
		char tiny[2];
		CHECK_ERR(syscall(SYS_getcwd, tiny, sizeof tiny), ERANGE, "getcwd syscall, 2-byte buffer");
		CHECK_ERR(getcwd(tiny, sizeof tiny) ? 0 : -1, ERANGE, "getcwd() with small buffer");
		CHECK_EQ(syscall(SYS_getcwd, cwd2, sizeof cwd2), (long)strlen(buf) + 1,
			 "getcwd syscall returns length including NUL");
		chdir(dir);
	}

	T_SECTION(".. at root");
	{
		struct stat r1, r2;
		CHECK(stat("/", &r1) == 0 && stat("/..", &r2) == 0 && r1.st_ino == r2.st_ino &&
			      r1.st_dev == r2.st_dev,
		      "/.. is /");
		int pfd = open(".", O_RDONLY);
		chdir("/");
		CHECK_SYS(chdir("../../.."), "chdir ../../.. from /");
		CHECK_STR(getcwd(cwd2, sizeof cwd2), "/", "still at /");
		fchdir(pfd);
		close(pfd);
	}

	T_SECTION("rename directories, renameat2");
	mkdir(P("r"), 0755);
	touch(P("r/inner"));
	CHECK_SYS(rename(P("r"), P("r2")), "rename directory");
	CHECK(access(P("r"), F_OK) != 0 && access(P("r2/inner"), F_OK) == 0,
	      "renamed dir keeps contents, old name gone");
	mkdir(P("empty"), 0755);
	CHECK_SYS(rename(P("r2"), P("empty")), "rename dir over empty dir");
	CHECK_SYS(access(P("empty/inner"), F_OK), "contents under the new name");
	mkdir(P("full"), 0755);
	touch(P("full/x"));
	CHECK_ERR(rename(P("empty"), P("full")), ENOTEMPTY, "rename dir over non-empty dir");
	CHECK_ERR(rename(P("empty"), P("empty/inside")), EINVAL, "rename dir into itself");
	CHECK_ERR(rename(P("f"), P("full")), EISDIR, "rename file over dir");
	CHECK_ERR(rename(P("full"), P("f")), ENOTDIR, "rename dir over file");

	/* renameat2: no SKIP.  Linux has had it since 3.15 and tmpfs, ext4,
	 * btrfs and xfs support both flags; if a host's /tmp does not, run
	 * with TMPDIR pointing at one that does. */
	{
		touch(P("n1"));
		touch(P("n2"));
		errno = 0;
		long r = syscall(SYS_renameat2, AT_FDCWD, P("n1"), AT_FDCWD, P("n2"), RENAME_NOREPLACE);
		int e = errno;
		CHECK(r == -1 && e == EEXIST, "renameat2 RENAME_NOREPLACE onto existing: EEXIST (got %ld, %s)", r,
		      t_errname(e));
		CHECK_SYS(syscall(SYS_renameat2, AT_FDCWD, P("n1"), AT_FDCWD, P("n3"), RENAME_NOREPLACE),
			  "renameat2 RENAME_NOREPLACE to a free name");
		CHECK(access(P("n1"), F_OK) != 0 && access(P("n3"), F_OK) == 0, "RENAME_NOREPLACE moved the file");
		t_write_file(P("n3"), "333", 3, 0644);
		t_write_file(P("n2"), "22", 2, 0644);
		r = syscall(SYS_renameat2, AT_FDCWD, P("n2"), AT_FDCWD, P("n3"), RENAME_EXCHANGE);
		struct stat a, b;
		CHECK(r == 0 && stat(P("n2"), &a) == 0 && stat(P("n3"), &b) == 0 && a.st_size == 3 && b.st_size == 2,
		      "RENAME_EXCHANGE swaps two files");
		CHECK_ERR(syscall(SYS_renameat2, AT_FDCWD, P("n2"), AT_FDCWD, P("n4"), RENAME_EXCHANGE), ENOENT,
			  "RENAME_EXCHANGE with a missing target: ENOENT");
		CHECK_ERR(syscall(SYS_renameat2, AT_FDCWD, P("n2"), AT_FDCWD, P("n3"),
				  RENAME_EXCHANGE | RENAME_NOREPLACE),
			  EINVAL, "RENAME_EXCHANGE|RENAME_NOREPLACE: EINVAL");
	}

	T_SECTION("mkdirat / unlinkat");
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);
		CHECK_SYS(mkdirat(dfd, "ma", 0700), "mkdirat");
		CHECK(stat(P("ma"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
		      "mkdirat created 0700 dir");
		CHECK_ERR(unlinkat(dfd, "ma", 0), EISDIR, "unlinkat dir without AT_REMOVEDIR");
		CHECK_ERR(unlinkat(dfd, "f", AT_REMOVEDIR), ENOTDIR, "unlinkat AT_REMOVEDIR on a file");
		CHECK_SYS(unlinkat(dfd, "ma", AT_REMOVEDIR), "unlinkat AT_REMOVEDIR");
		CHECK_ERR(access(P("ma"), F_OK), ENOENT, "directory removed");
		CHECK_SYS(unlinkat(dfd, "f", 0), "unlinkat file");
		CHECK_ERR(unlinkat(dfd, "x", 0x12345), EINVAL, "unlinkat bad flags");
		close(dfd);
	}

	T_SECTION("rmdir of cwd");
	{
		mkdir(P("gone"), 0755);
		chdir(P("gone"));
		CHECK_SYS(rmdir(P("gone")), "rmdir of the current directory");
		CHECK(getcwd(cwd2, sizeof cwd2) == NULL && errno == ENOENT,
		      "getcwd in removed dir fails with ENOENT");
		CHECK_ERR(open("newfile", O_WRONLY | O_CREAT, 0644), ENOENT,
			  "creating a file in a removed cwd");
		CHECK(stat(".", &st) == 0 && st.st_nlink == 0, "stat('.') of removed dir: nlink 0");
		chdir(dir);
	}

	T_SECTION("deep paths");
	{
		int depth = 0, ok = 1;
		char rel[PATH_MAX];
		strcpy(rel, "deep");
		for (depth = 0; depth < 60 && ok; depth++) {
			if (mkdir(P(rel), 0755) != 0)
				ok = 0;
			strcat(rel, "/dir");
		}
		CHECK(ok, "mkdir 60 nested levels");
		rel[strlen(rel) - 4] = 0;
		strcat(rel, "/leaf");
		CHECK_SYS(t_write_file(P(rel), "deep", 4, 0644), "create file 60 levels deep");
		CHECK(stat(P(rel), &st) == 0 && st.st_size == 4, "stat file 60 levels deep");
		/* walk down with chdir */
		int walked = 0;
		chdir(P("deep"));
		while (chdir("dir") == 0)
			walked++;
		CHECK_EQ(walked, 59, "chdir down 59 levels");
		CHECK(access("leaf", F_OK) == 0, "leaf visible at bottom");
		getcwd(cwd2, sizeof cwd2);
		CHECK(strlen(cwd2) > strlen(dir) + 59 * 4, "getcwd of a deep dir");
		chdir(dir);
		/* a relative path that is too long */
		static char lp[PATH_MAX + 64];
		size_t i = 0;
		while (i + 4 < sizeof lp) {
			memcpy(lp + i, "dir/", 4);
			i += 4;
		}
		lp[i] = 0;
		CHECK_ERR(mkdir(lp, 0755), ENAMETOOLONG, "mkdir with path > PATH_MAX");
	}

	T_SECTION("directory permissions");
	/* As in files.c: checked in a child that drops root to 65534 first;
	 * skipped only when the program does not run as root. */
	if (geteuid() != 0) {
		SKIP("directory permission checks need root to drop privileges");
	} else {
		chmod(dir, 0755);
		mkdir(P("priv"), 0700);
		touch(P("priv/x"));
		mkdir(P("noexec"), 0755);
		touch(P("noexec/f"));
		chmod(P("noexec"), 0644); /* readable, not searchable */
		mkdir(P("sticky"), 0755);
		chmod(P("sticky"), 01777);
		touch(P("sticky/rootfile"));
		int rp[2];
		pipe(rp);
		pid_t pid = t_fork();
		if (pid == 0) {
			enum { N = 11 };
			int res[N];
			close(rp[0]);
			if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
				_exit(100);
#define TRY(i, expr) (errno = 0, res[i] = (expr) == -1 ? errno : 0)
			int fd;
			TRY(0, fd = open(P("priv"), O_RDONLY | O_DIRECTORY));
			if (res[0] == 0)
				close(fd);
			TRY(1, chdir(P("priv")));
			TRY(2, stat(P("noexec/f"), &st));
			TRY(3, fd = open(P("noexec"), O_RDONLY | O_DIRECTORY));
			if (res[3] == 0) {
				/* names can be listed without search permission */
				static char g[4096];
				long n = syscall(SYS_getdents64, fd, g, sizeof g);
				res[3] = n > 0 ? 0 : n == 0 ? ENOENT : errno;
				close(fd);
			}
			TRY(4, unlink(P("sticky/rootfile")));
			TRY(5, rename(P("sticky/rootfile"), P("sticky/stolen")));
			TRY(6, touch(P("sticky/mine")));
			TRY(7, unlink(P("sticky/mine")));
			TRY(8, rmdir(P("priv")));
			TRY(9, mkdir(P("sticky/d"), 0755));
			TRY(10, mkdir(P("newdir"), 0755));
#undef TRY
			write(rp[1], res, sizeof res);
			_exit(0);
		}
		close(rp[1]);
		int res[11];
		memset(res, 0xff, sizeof res);
		CHECK_EQ(t_read_full(rp[0], res, sizeof res), sizeof res, "unprivileged child reported");
		close(rp[0]);
		CHECK_EQ(t_exitcode(pid), 0, "child dropped to uid/gid 65534");
		static const struct {
			int want;
			const char *what;
		} exp[11] = {
			{ EACCES, "open a 0700 root dir" },
			{ EACCES, "chdir into a 0700 root dir" },
			{ EACCES, "stat through a dir without x" },
			{ 0, "list a dir with r but without x" },
			{ EPERM, "unlink another user's file in a sticky dir" },
			{ EPERM, "rename another user's file in a sticky dir" },
			{ 0, "create a file in a 01777 dir" },
			{ 0, "unlink own file in a sticky dir" },
			{ EACCES, "rmdir in a 0755 root dir" },
			{ 0, "mkdir in a 01777 dir" },
			{ EACCES, "mkdir in a 0755 root dir" },
		};
		for (int i = 0; i < 11; i++)
			CHECK(res[i] == exp[i].want, "unprivileged: %s -> %s (got %s)", exp[i].what,
			      t_errname(exp[i].want), t_errname(res[i]));
		CHECK(stat(P("sticky/d"), &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534,
		      "new dir owned by the creating uid/gid");
		chmod(P("noexec"), 0755);
	}

	chdir("/");
	t_rmrf(dir);
	return TEST_END();
}
