/* aspace.c - address spaces stay apart: processes that map different
 * pages at the same addresses hand the CPU to each other many times, and
 * each always sees its own bytes (after copy-on-write, after munmap and
 * mmap, with many pages touched between switches, with threads, and with
 * a mapping far away added while the process runs). */
#include "check.h"

#include <pthread.h>
#include <sys/mman.h>

#define PG 4096L
#define ADDR ((void *)0x200000000L)       /* the shared address */
#define FAR ((void *)0x500000000000L)     /* another top-level slot */
#define MANY 200                          /* pages touched per turn */
#define ROUNDS 200

static int to_child[2], to_parent[2];

static void pass(int fd)
{
	char c = 'x';
	if (write(fd, &c, 1) != 1)
		_exit(90);
}

static void await(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		_exit(91);
}

/* Fill n pages at p with the word tag+i, and check them. */
static void fill(volatile long *p, int n, long tag)
{
	for (int i = 0; i < n; i++)
		p[i * PG / 8] = tag + i;
}

static int same(volatile long *p, int n, long tag)
{
	for (int i = 0; i < n; i++)
		if (p[i * PG / 8] != tag + i)
			return 0;
	return 1;
}

static void *map_at(void *a, long len)
{
	return mmap(a, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/* The child side of a ping-pong: its own pages at ADDR (n of them), a
 * new value every round, checked after every switch. Exit status: the
 * number of rounds that saw a wrong value. */
static int child_turns(int n)
{
	int bad = 0;
	volatile long *p = ADDR;
	for (int r = 0; r < ROUNDS; r++) {
		await(to_child[0]);
		if (!same(p, n, 7000000 + r * 1000))
			bad++;
		fill(p, n, 7000000 + (r + 1) * 1000);
		pass(to_parent[1]);
	}
	return bad > 250 ? 250 : bad;
}

static int parent_turns(int n, const char *what)
{
	int bad = 0;
	volatile long *p = ADDR;
	for (int r = 0; r < ROUNDS; r++) {
		fill(p, n, 1000000 + r * 1000);
		pass(to_child[1]);
		await(to_parent[0]);
		if (!same(p, n, 1000000 + r * 1000))
			bad++;
	}
	CHECK_EQ(bad, 0, "%s: parent rounds with foreign bytes", what);
	return bad;
}

/* Parent and child with different pages at ADDR, n touched per turn. */
static void pingpong(int n, const char *what)
{
	CHECK_SYS(pipe(to_child), "pipe");
	CHECK_SYS(pipe(to_parent), "pipe");
	CHECK(map_at(ADDR, n * PG) == ADDR, "%s: map %d pages at ADDR", what, n);
	fill(ADDR, n, 1000000 - 1000);
	pid_t pid = t_fork();
	if (pid == 0) {
		/* New pages at the same address: no longer the parent's. */
		if (munmap(ADDR, n * PG) != 0 || map_at(ADDR, n * PG) != ADDR)
			_exit(92);
		fill(ADDR, n, 7000000);
		_exit(child_turns(n));
	}
	parent_turns(n, what);
	CHECK_EQ(t_exitcode(pid), 0, "%s: child rounds with foreign bytes", what);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	munmap(ADDR, n * PG);
}

static volatile long *shared_word;

static void *thread_turns(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		await(to_child[0]);
		*shared_word += 1;
		pass(to_parent[1]);
	}
	return NULL;
}

int main(void)
{
	TEST_BEGIN("aspace");

	T_SECTION("one page, new page in the child");
	pingpong(1, "one page");

	T_SECTION("many pages per turn");
	pingpong(MANY, "many pages");

	T_SECTION("copy-on-write, then written in place by the last owner");
	{
		volatile long *p = map_at(ADDR, PG);
		CHECK(p == ADDR, "map");
		*p = 11;
		pid_t pid = t_fork();
		if (pid == 0)
			_exit(*p == 11 ? 0 : 1);
		CHECK_EQ(t_exitcode(pid), 0, "child saw the parent's page");
		CHECK_EQ(*p, 11, "read back (the page may be cached read-only)");
		*p = 12; /* sole owner again: writable in place */
		CHECK_SYS(pipe(to_child), "pipe");
		CHECK_SYS(pipe(to_parent), "pipe");
		pid = t_fork();
		if (pid == 0) {
			if (munmap(ADDR, PG) != 0 || map_at(ADDR, PG) != ADDR)
				_exit(92);
			*(volatile long *)ADDR = 99;
			pass(to_parent[1]);
			await(to_child[0]);
			_exit(*(volatile long *)ADDR == 99 ? 0 : 1);
		}
		await(to_parent[0]);
		CHECK_EQ(*p, 12, "the parent's page after the child wrote its own");
		*p = 13;
		pass(to_child[1]);
		CHECK_EQ(t_exitcode(pid), 0, "the child's page after the parent wrote its own");
		CHECK_EQ(*p, 13, "the parent's page at the end");
		close(to_child[0]);
		close(to_child[1]);
		close(to_parent[0]);
		close(to_parent[1]);
		munmap(ADDR, PG);
	}

	T_SECTION("a far mapping added while running, then a switch");
	{
		CHECK_SYS(pipe(to_child), "pipe");
		CHECK_SYS(pipe(to_parent), "pipe");
		pid_t pid = t_fork();
		if (pid == 0) {
			await(to_child[0]);
			volatile long *f = map_at(FAR, PG);
			if (f != FAR)
				_exit(92);
			*f = 5;
			pass(to_parent[1]);
			await(to_child[0]);
			_exit(*f == 5 ? 0 : 1);
		}
		volatile long *f = map_at(FAR, PG);
		CHECK(f == FAR, "map far");
		*f = 4;
		pass(to_child[1]);
		await(to_parent[0]);
		CHECK_EQ(*f, 4, "the parent's far page after the child mapped its own");
		pass(to_child[1]);
		CHECK_EQ(t_exitcode(pid), 0, "the child's far page");
		munmap(FAR, PG);
		close(to_child[0]);
		close(to_child[1]);
		close(to_parent[0]);
		close(to_parent[1]);
	}

	T_SECTION("threads share one space");
	{
		CHECK_SYS(pipe(to_child), "pipe");
		CHECK_SYS(pipe(to_parent), "pipe");
		shared_word = map_at(ADDR, PG);
		CHECK(shared_word == ADDR, "map");
		*shared_word = 0;
		pthread_t th;
		CHECK_EQ(pthread_create(&th, NULL, thread_turns, NULL), 0, "pthread_create");
		long want = 0;
		int bad = 0;
		for (int r = 0; r < ROUNDS; r++) {
			pass(to_child[1]);
			await(to_parent[0]);
			if (*shared_word != ++want)
				bad++;
		}
		CHECK_EQ(pthread_join(th, NULL), 0, "pthread_join");
		CHECK_EQ(bad, 0, "rounds where the thread's write was not seen");
		close(to_child[0]);
		close(to_child[1]);
		close(to_parent[0]);
		close(to_parent[1]);
		munmap(ADDR, PG);
	}
	return TEST_END();
}
