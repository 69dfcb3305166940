/* mem.c - malloc, mmap/munmap/mprotect/mremap, brk, file mappings, COW. */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PG 4096L

/* Run fn in a child; return 1000+signal if it was killed, else exit code. */
static int in_child(void (*fn)(void *), void *arg)
{
	pid_t pid = t_fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	return t_exitcode(pid);
}

static void do_write(void *p) { *(volatile char *)p = 1; }
static void do_read(void *p) { (void)*(volatile char *)p; }

static int recurse(int depth)
{
	volatile char frame[4096];
	frame[0] = (char)depth;
	frame[4095] = (char)depth;
	if (depth == 0)
		return 0;
	return recurse(depth - 1) + (frame[4095] != (char)depth || frame[0] != (char)depth);
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(void)
{
	TEST_BEGIN("mem");
	char *dir = t_mkdtemp();
	char path[600];

	/* brk first, before malloc can interleave (raw syscall: musl's sbrk
	 * refuses non-zero increments) */
	T_SECTION("brk");
	{
		unsigned long cur = (unsigned long)syscall(SYS_brk, 0);
		CHECK(cur != 0 && cur != (unsigned long)-1, "brk(0) returns the current break");
		unsigned long want = cur + 64 * 1024;
		unsigned long got = (unsigned long)syscall(SYS_brk, want);
		CHECK(got == want, "brk grows by 64 KiB (got %#lx, want %#lx)", got, want);
		if (got == want) {
			char *p = (char *)cur;
			CHECK(all_zero(p, 64 * 1024), "new brk memory is zeroed");
			memset(p, 0x5a, 64 * 1024);
			CHECK(p[65535] == 0x5a, "new brk memory is writable");
		}
		CHECK_EQ((unsigned long)syscall(SYS_brk, cur), cur, "brk shrinks back");
		CHECK_EQ(in_child(do_read, (void *)(cur + 32 * 1024)), 1000 + SIGSEGV,
			 "memory above the shrunk break faults");
		void *s0 = sbrk(0);
		CHECK(s0 != (void *)-1, "sbrk(0)");
	}

	T_SECTION("malloc");
	{
		enum { N = 2000 };
		static unsigned char *ptrs[N];
		int ok = 1;
		for (int i = 0; i < N; i++) {
			size_t sz = 1 + (i * 37) % 300;
			ptrs[i] = malloc(sz);
			if (!ptrs[i]) {
				ok = 0;
				break;
			}
			memset(ptrs[i], i & 0xff, sz);
		}
		for (int i = 0; ok && i < N; i++) {
			size_t sz = 1 + (i * 37) % 300;
			for (size_t j = 0; j < sz; j++)
				if (ptrs[i][j] != (i & 0xff))
					ok = 0;
		}
		for (int i = 0; i < N; i += 2)
			free(ptrs[i]);
		for (int i = 0; i < N; i += 2)
			ptrs[i] = malloc(64);
		for (int i = 0; i < N; i++)
			free(ptrs[i]);
		CHECK(ok, "2000 small allocations keep their contents");
		size_t big = 32u << 20;
		unsigned char *b = malloc(big);
		CHECK(b != NULL, "malloc 32 MiB");
		if (b) {
			for (size_t i = 0; i < big; i += 4096)
				b[i] = (unsigned char)(i >> 12);
			int bok = 1;
			for (size_t i = 0; i < big; i += 4096)
				if (b[i] != (unsigned char)(i >> 12))
					bok = 0;
			CHECK(bok, "32 MiB block readable back");
			b = realloc(b, big * 2);
			CHECK(b && b[4096 * 100] == 100, "realloc to 64 MiB keeps contents");
			free(b);
		}
		unsigned char *c = calloc(1, 1 << 20);
		CHECK(c && all_zero((char *)c, 1 << 20), "calloc 1 MiB is zeroed");
		free(c);
	}

	T_SECTION("anonymous mmap, errors");
	char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED, "mmap anonymous private");
	CHECK(((uintptr_t)m & (PG - 1)) == 0, "mapping is page aligned");
	CHECK(all_zero(m, 4 * PG), "anonymous memory is zero-filled");
	memset(m, 0x11, 4 * PG);
	/* error paths use raw syscalls: musl rounds or pre-validates some
	 * arguments itself, which would hide the kernel's answer */
	CHECK_ERR(syscall(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL, "mmap length 0");
	CHECK_ERR(syscall(SYS_mmap, 0x10001, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		  EINVAL, "MAP_FIXED with unaligned address");
	CHECK_ERR(syscall(SYS_mmap, 0, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL,
		  "neither MAP_PRIVATE nor MAP_SHARED");
	CHECK_ERR(syscall(SYS_munmap, m + 1, PG), EINVAL, "munmap unaligned");
	CHECK_ERR(syscall(SYS_mprotect, m + 1, PG, PROT_READ), EINVAL, "mprotect unaligned");
	CHECK_ERR(syscall(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, 999, 0), EBADF, "mmap bad fd");

	T_SECTION("MAP_FIXED, munmap, mprotect");
	{
		char *f = mmap(m + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		CHECK(f == m + PG, "MAP_FIXED maps at the requested address");
		CHECK(all_zero(m + PG, PG) && m[0] == 0x11 && m[2 * PG] == 0x11,
		      "MAP_FIXED page is fresh, neighbours untouched");
	}

	/* munmap then access -> SIGSEGV */
	CHECK_SYS(munmap(m + 2 * PG, PG), "munmap one page in the middle");
	CHECK_EQ(in_child(do_read, m + 2 * PG), 1000 + SIGSEGV, "read of unmapped page: SIGSEGV");
	CHECK(m[3 * PG] == 0x11, "page after the hole still mapped");
	CHECK_SYS(munmap(m + 2 * PG, PG), "munmap of already unmapped range succeeds");

	/* mprotect */
	CHECK_SYS(mprotect(m, PG, PROT_READ), "mprotect PROT_READ");
	CHECK(m[0] == 0x11, "read-only page still readable");
	CHECK_EQ(in_child(do_write, m), 1000 + SIGSEGV, "write to read-only page: SIGSEGV");
	CHECK_SYS(mprotect(m, PG, PROT_NONE), "mprotect PROT_NONE");
	CHECK_EQ(in_child(do_read, m), 1000 + SIGSEGV, "read of PROT_NONE page: SIGSEGV");
	CHECK_SYS(mprotect(m, PG, PROT_READ | PROT_WRITE), "mprotect back to RW");
	m[0] = 0x22;
	CHECK(m[0] == 0x22 && m[1] == 0x11, "writable again, contents kept");
	munmap(m, 4 * PG);

	T_SECTION("mremap");
	{
		char *r = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(r, 0x33, 2 * PG);
		char *g = mremap(r, 2 * PG, 64 * PG, MREMAP_MAYMOVE);
		CHECK(g != MAP_FAILED, "mremap grow 2 -> 64 pages");
		if (g != MAP_FAILED) {
			CHECK(g[0] == 0x33 && g[2 * PG - 1] == 0x33, "old contents preserved");
			CHECK(all_zero(g + 2 * PG, 62 * PG), "grown part is zero");
			g[64 * PG - 1] = 1;
			char *s = mremap(g, 64 * PG, PG, 0);
			CHECK(s == g, "mremap shrink in place");
			CHECK_EQ(in_child(do_read, g + 8 * PG), 1000 + SIGSEGV, "shrunk-away part faults");
			munmap(s, PG);
		}
	}

	T_SECTION("MAP_SHARED vs MAP_PRIVATE across fork; COW");
	{
		volatile int *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		volatile int *pr = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		static volatile int global = 5;
		volatile int *heap = malloc(sizeof(int));
		*sh = 1;
		*pr = 1;
		*heap = 7;
		pid_t pid = t_fork();
		if (pid == 0) {
			int ok = *sh == 1 && *pr == 1 && global == 5 && *heap == 7;
			*sh = 2;
			*pr = 2;
			global = 6;
			*heap = 8;
			_exit(ok ? 0 : 1);
		}
		CHECK_EQ(t_exitcode(pid), 0, "child sees parent's pre-fork values");
		CHECK_EQ(*sh, 2, "MAP_SHARED anonymous: child's write visible in parent");
		CHECK_EQ(*pr, 1, "MAP_PRIVATE anonymous: child's write not visible");
		CHECK(global == 5 && *heap == 7, "copy-on-write: parent's data and heap unchanged");
		*pr = 3;
		pid = t_fork();
		if (pid == 0)
			_exit(*pr == 3 && *sh == 2 ? 0 : 1);
		CHECK_EQ(t_exitcode(pid), 0, "second child sees parent's later writes");
		/* parent writes after fork are not seen by the child either */
		int sy[2];
		pipe(sy);
		*pr = 10;
		global = 10;
		pid = t_fork();
		if (pid == 0) {
			char c;
			close(sy[1]);
			read(sy[0], &c, 1);
			_exit(*pr == 10 && global == 10 && *sh == 12 ? 0 : 1);
		}
		close(sy[0]);
		*pr = 11;
		global = 11;
		*sh = 12;
		write(sy[1], "go", 1);
		close(sy[1]);
		CHECK_EQ(t_exitcode(pid), 0, "parent's writes after fork: private ones unseen, shared one seen");
		munmap((void *)sh, PG);
		munmap((void *)pr, PG);
	}

	T_SECTION("file mappings");
	{
		snprintf(path, sizeof path, "%s/mapfile", dir);
		static char data[3 * 4096 + 100];
		for (size_t i = 0; i < sizeof data; i++)
			data[i] = (char)('a' + i % 26);
		t_write_file(path, data, sizeof data, 0644);
		int fd = open(path, O_RDWR);
		char *f = mmap(NULL, sizeof data, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		CHECK(f != MAP_FAILED, "mmap file MAP_PRIVATE");
		CHECK(memcmp(f, data, sizeof data) == 0, "mapping shows file contents");
		CHECK(all_zero(f + sizeof data, 4 * PG - sizeof data), "tail of last page reads zero");
		f[0] = 'X';
		char c = 0;
		pread(fd, &c, 1, 0);
		CHECK_EQ(c, 'a', "MAP_PRIVATE write does not reach the file");
		char *f2 = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, PG);
		CHECK(f2 != MAP_FAILED && memcmp(f2, data + PG, PG) == 0, "mmap with file offset");
		CHECK_ERR(syscall(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, fd, 100), EINVAL, "unaligned offset: EINVAL");
		munmap(f, sizeof data);
		munmap(f2, 2 * PG);

		char *s = mmap(NULL, sizeof data, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(s != MAP_FAILED, "mmap file MAP_SHARED");
		s[1] = 'Y';
		CHECK_SYS(msync(s, PG, MS_SYNC), "msync");
		pread(fd, &c, 1, 1);
		CHECK_EQ(c, 'Y', "MAP_SHARED write reaches the file");
		pwrite(fd, "Z", 1, 2);
		CHECK_EQ(s[2], 'Z', "pwrite visible through MAP_SHARED mapping");
		munmap(s, sizeof data);

		/* beyond EOF: SIGBUS */
		char *big = mmap(NULL, 8 * PG, PROT_READ, MAP_SHARED, fd, 0);
		CHECK(big != MAP_FAILED, "map 8 pages of a 4-page file");
		CHECK_EQ(in_child(do_read, big + 6 * PG), 1000 + SIGBUS, "access past EOF page: SIGBUS");
		munmap(big, 8 * PG);
		close(fd);

		int ro = open(path, O_RDONLY);
		CHECK_ERR(syscall(SYS_mmap, 0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES,
			  "shared writable map of O_RDONLY fd: EACCES");
		close(ro);
		int wo = open(path, O_WRONLY);
		CHECK_ERR(syscall(SYS_mmap, 0, PG, PROT_READ, MAP_PRIVATE, wo, 0), EACCES, "map of O_WRONLY fd: EACCES");
		close(wo);
		unlink(path);
	}

	T_SECTION("madvise / mincore");
	{
		char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(a, 0x44, 4 * PG);
		CHECK_SYS(madvise(a, 2 * PG, MADV_DONTNEED), "madvise MADV_DONTNEED");
		CHECK(all_zero(a, 2 * PG), "DONTNEED pages read back as zero");
		CHECK(a[2 * PG] == 0x44, "other pages untouched");
		unsigned char vec[4];
		a[0] = 1;
		CHECK_SYS(mincore(a, 4 * PG, vec), "mincore");
		CHECK((vec[0] & 1) && (vec[2] & 1), "touched pages are resident");
		munmap(a, 4 * PG);
		CHECK_ERR(syscall(SYS_mincore, a, PG, vec), ENOMEM, "mincore on unmapped range: ENOMEM");
		CHECK_ERR(syscall(SYS_madvise, a + 1, PG, MADV_DONTNEED), EINVAL, "madvise unaligned: EINVAL");
	}

	T_SECTION("64 MiB touched page by page");
	{
		size_t sz = 64u << 20;
		unsigned char *big = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(big != MAP_FAILED, "mmap 64 MiB");
		if (big != MAP_FAILED) {
			for (size_t i = 0; i < sz; i += PG)
				big[i] = (unsigned char)(i / PG * 13);
			int ok = 1;
			for (size_t i = 0; i < sz; i += PG)
				if (big[i] != (unsigned char)(i / PG * 13) || big[i + 1] != 0)
					ok = 0;
			CHECK(ok, "all 16384 pages hold their value");
			CHECK_SYS(munmap(big, sz), "munmap 64 MiB");
		}
	}

	T_SECTION("stack growth");
	CHECK_EQ(recurse(300), 0, "recursion using ~1.2 MiB of stack");
	{
		size_t n = 1 << 20;
		volatile char *a = __builtin_alloca(n);
		for (size_t i = n; i-- > 0;)
			if (i % 1024 == 0)
				a[i] = (char)i;
		CHECK(a[0] == 0 && a[1024] == (char)1024, "alloca 1 MiB touched top-down");
	}

	t_rmrf(dir);
	return TEST_END();
}
