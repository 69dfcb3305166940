/* threads.c - pthreads: mutex, condvar, barrier, TLS, tids, signals, futex,
 * cancellation, exit/exec from threads. */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#define NT 8

/* <linux/futex.h> is not on musl-gcc's include path */
#define FUTEX_WAIT_PRIVATE (0 | 128)
#define FUTEX_WAKE_PRIVATE (1 | 128)

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* ---- mutex counter ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *inc_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* ---- condvar producer/consumer ---- */
static pthread_cond_t cv_nonempty = PTHREAD_COND_INITIALIZER, cv_nonfull = PTHREAD_COND_INITIALIZER;
static int q[8], qn, qhead;
static void *producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= 2000; i++) {
		pthread_mutex_lock(&mu);
		while (qn == 8)
			pthread_cond_wait(&cv_nonfull, &mu);
		q[(qhead + qn++) % 8] = i;
		pthread_cond_signal(&cv_nonempty);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}
static void *consumer(void *arg)
{
	long sum = 0, last = 0, ordered = 1;
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&mu);
		while (qn == 0)
			pthread_cond_wait(&cv_nonempty, &mu);
		int v = q[qhead];
		qhead = (qhead + 1) % 8;
		qn--;
		pthread_cond_signal(&cv_nonfull);
		pthread_mutex_unlock(&mu);
		if (v != last + 1)
			ordered = 0;
		last = v;
		sum += v;
	}
	return (void *)(ordered ? sum : -1);
}

/* ---- barrier + TLS + tids ---- */
static pthread_barrier_t bar;
static int arrived;
static __thread int tls_val = 42;
static __thread char tls_buf[64];
static pid_t tids[NT];
static volatile int tls_ok[NT], serial_count, barrier_ok[NT];
static void *bar_thread(void *arg)
{
	int id = (int)(long)arg;
	int ok = tls_val == 42; /* initial value from the TLS image */
	tls_val = id * 100;
	snprintf(tls_buf, sizeof tls_buf, "thread-%d", id);
	tids[id] = my_tid();
	__atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
	int r = pthread_barrier_wait(&bar);
	if (r == PTHREAD_BARRIER_SERIAL_THREAD)
		__atomic_add_fetch(&serial_count, 1, __ATOMIC_SEQ_CST);
	else if (r != 0)
		ok = 0;
	barrier_ok[id] = __atomic_load_n(&arrived, __ATOMIC_SEQ_CST) == NT;
	pthread_barrier_wait(&bar); /* everyone has written TLS; check nobody clobbered ours */
	char want[64];
	snprintf(want, sizeof want, "thread-%d", id);
	tls_ok[id] = ok && tls_val == id * 100 && strcmp(tls_buf, want) == 0;
	return (void *)&tls_val;
}

/* ---- pthread_kill ---- */
static volatile pid_t sig_tid;
static volatile int sig_seen;
static void on_usr1(int s)
{
	(void)s;
	sig_tid = my_tid();
	sig_seen = 1;
}
static volatile pid_t target_tid;
static void *sig_target(void *arg)
{
	(void)arg;
	target_tid = my_tid();
	long start = now_ms();
	while (!sig_seen && now_ms() - start < 20000) /* generous: slow emulators */
		usleep(1000);
	return NULL;
}

/* ---- process-directed signal picks the thread that does not block it ---- */
static volatile int usr2_seen;
static volatile pid_t usr2_tid;
static void on_usr2(int s)
{
	(void)s;
	usr2_tid = my_tid();
	usr2_seen = 1;
}
static void *usr2_target(void *arg)
{
	(void)arg;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL); /* inherited blocked from main */
	target_tid = my_tid();
	long start = now_ms();
	while (!usr2_seen && now_ms() - start < 20000)
		usleep(1000);
	return NULL;
}
static void *sigwait_thread(void *arg)
{
	(void)arg;
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	siginfo_t si;
	int r = sigwaitinfo(&m, &si);
	return (void *)(long)(r == SIGUSR2 && si.si_code == SI_USER && si.si_pid == getpid());
}

/* ---- semaphores ---- */
static sem_t sem, done_sem;
static void *sem_thread(void *arg)
{
	(void)arg;
	sem_wait(&sem);
	sem_post(&done_sem);
	return NULL;
}

/* ---- sleeping threads ---- */
static void *sleeper(void *arg)
{
	(void)arg;
	long t0 = now_ms();
	struct timespec ts = { 0, 50 * 1000000 };
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	long el = now_ms() - t0;
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 20 * 1000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	int r2 = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
	struct timespec after;
	clock_gettime(CLOCK_MONOTONIC, &after);
	int late = after.tv_sec > abs.tv_sec || (after.tv_sec == abs.tv_sec && after.tv_nsec >= abs.tv_nsec);
	return (void *)(long)(r == 0 && r2 == 0 && el >= 49 && el < 20000 && late);
}

/* ---- futex ---- */
static int fword;
static volatile int futex_woken, futex_ready;
static void *futex_waiter(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&futex_ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&fword, __ATOMIC_SEQ_CST) == 0)
		syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	__atomic_add_fetch(&futex_woken, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* ---- exit from a thread ---- */
static void *exit_thread(void *arg)
{
	usleep(10000);
	exit((int)(long)arg);
}
static void *late_thread(void *arg)
{
	usleep(30000);
	_exit((int)(long)arg); /* process survives main's pthread_exit */
}

/* ---- cancel ---- */
static int cancel_pipe[2];
static void *cancel_thread(void *arg)
{
	char c;
	(void)arg;
	read(cancel_pipe[0], &c, 1); /* cancellation point */
	return (void *)1;
}

/* ---- shared fd table / fork in thread ---- */
static int shared_fds[2] = { -1, -1 };
static void *open_thread(void *arg)
{
	(void)arg;
	if (pipe(shared_fds) == 0)
		write(shared_fds[1], "t", 1);
	return NULL;
}
static void *fork_thread(void *arg)
{
	(void)arg;
	pid_t pid = t_fork();
	if (pid == 0)
		_exit(3);
	return (void *)(long)t_exitcode(pid);
}

/* ---- execve from a non-main thread replaces the whole process ---- */
static char *self_path;
static void *exec_thread(void *arg)
{
	(void)arg;
	char *av[] = { self_path, "exit", "42", NULL };
	execv(self_path, av);
	_exit(127);
}
static pthread_barrier_t exec_barrier;

static void *race_exec_thread(void *arg)
{
	(void)arg;
	char *av[] = { self_path, "exit", "42", NULL };
	pthread_barrier_wait(&exec_barrier);
	execv(self_path, av);
	/* The other thread's execve won: this thread is ended by it. */
	for (;;)
		pause();
	return NULL;
}

static void *forever_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* ---- detached threads ---- */
static sem_t det_sem;
static int det_count;
static void *detached_thread(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&det_count, 1, __ATOMIC_SEQ_CST);
	sem_post(&det_sem);
	return NULL;
}

static void *trivial_thread(void *arg)
{
	return (void *)((long)arg * 3);
}

static void *big_stack_thread(void *arg)
{
	(void)arg;
	volatile char buf[512 * 1024];
	for (size_t i = 0; i < sizeof buf; i += 4096)
		buf[i] = 1;
	return (void *)(long)buf[4096];
}

int main(int argc, char **argv)
{
	/* re-executed by exec_thread */
	if (argc == 3 && strcmp(argv[1], "exit") == 0)
		return atoi(argv[2]);

	TEST_BEGIN("threads");
	self_path = argv[0];
	pthread_t th[NT];
	void *ret;

	T_SECTION("mutex");
	int created = 0;
	for (int i = 0; i < NT; i++)
		if (pthread_create(&th[i], NULL, inc_thread, NULL) == 0)
			created++;
	CHECK_EQ(created, NT, "pthread_create x8");
	int joined = 0;
	for (int i = 0; i < created; i++)
		if (pthread_join(th[i], NULL) == 0)
			joined++;
	CHECK_EQ(joined, NT, "pthread_join x8");
	CHECK_EQ(counter, NT * 50000L, "mutex-protected counter is exact");
	CHECK_EQ(pthread_mutex_trylock(&mu), 0, "trylock free mutex");
	CHECK_EQ(pthread_mutex_trylock(&mu), EBUSY, "trylock held mutex: EBUSY");
	pthread_mutex_unlock(&mu);

	T_SECTION("condvar");
	pthread_t pt, ct;
	pthread_create(&ct, NULL, consumer, NULL);
	pthread_create(&pt, NULL, producer, NULL);
	pthread_join(pt, NULL);
	pthread_join(ct, &ret);
	CHECK_EQ((long)ret, 2000L * 2001 / 2, "condvar queue: all 2000 items in order");
	{
		pthread_mutex_lock(&mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 30 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		long t0 = now_ms();
		CHECK_EQ(pthread_cond_timedwait(&cv_nonempty, &mu, &ts), ETIMEDOUT, "cond_timedwait times out");
		long el = now_ms() - t0;
		CHECK(el >= 25 && el < 20000, "cond_timedwait waited ~30ms (%ld)", el);
		pthread_mutex_unlock(&mu);
	}

	T_SECTION("barrier, TLS, tids");
	pthread_barrier_init(&bar, NULL, NT);
	tls_val = 7;
	for (int i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, bar_thread, (void *)(long)i);
	void *addrs[NT];
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], &addrs[i]);
	int all_ok = 1, all_bar = 1, distinct_addr = 1, distinct_tid = 1;
	pid_t mtid = my_tid();
	for (int i = 0; i < NT; i++) {
		all_ok &= tls_ok[i];
		all_bar &= barrier_ok[i];
		if (addrs[i] == (void *)&tls_val || tids[i] == mtid || tids[i] <= 0)
			distinct_addr = distinct_tid = 0;
		for (int j = 0; j < i; j++) {
			if (addrs[i] == addrs[j])
				distinct_addr = 0;
			if (tids[i] == tids[j])
				distinct_tid = 0;
		}
	}
	CHECK(all_bar, "nobody passed the barrier before all 8 arrived");
	CHECK_EQ(serial_count, 1, "exactly one PTHREAD_BARRIER_SERIAL_THREAD");
	CHECK(all_ok, "__thread variables start from the TLS image and stay per-thread");
	CHECK(distinct_addr, "each thread's __thread variable has its own address");
	CHECK_EQ(tls_val, 7, "main thread's __thread value untouched");
	CHECK(distinct_tid, "gettid differs per thread and from main");
	CHECK_EQ(mtid, getpid(), "main thread's tid == pid");
	pthread_barrier_destroy(&bar);

	T_SECTION("signals and threads");
	{
		signal(SIGUSR1, on_usr1);
		pthread_t t;
		pthread_create(&t, NULL, sig_target, NULL);
		while (target_tid == 0)
			usleep(1000);
		CHECK_EQ(pthread_kill(t, SIGUSR1), 0, "pthread_kill");
		pthread_join(t, NULL);
		CHECK(sig_seen && sig_tid == target_tid, "handler ran in the target thread");
		CHECK_EQ(pthread_kill(pthread_self(), 0), 0, "pthread_kill(self, 0)");
		sig_seen = 0;
		CHECK_SYS(syscall(SYS_tgkill, getpid(), my_tid(), SIGUSR1), "tgkill to own tid");
		CHECK(sig_seen && sig_tid == my_tid(), "tgkill delivered to the calling thread");
		CHECK_ERR(syscall(SYS_tgkill, getpid(), 0x7ffffff0, SIGUSR1), ESRCH, "tgkill bad tid: ESRCH");
		signal(SIGUSR1, SIG_DFL);

		/* kill() to the process: only one thread leaves SIGUSR2 unblocked */
		signal(SIGUSR2, on_usr2);
		sigset_t m, old;
		sigemptyset(&m);
		sigaddset(&m, SIGUSR2);
		pthread_sigmask(SIG_BLOCK, &m, &old);
		target_tid = 0;
		pthread_create(&t, NULL, usr2_target, NULL);
		while (target_tid == 0)
			usleep(1000);
		CHECK_SYS(kill(getpid(), SIGUSR2), "kill(getpid(), SIGUSR2) with main blocking it");
		pthread_join(t, NULL);
		CHECK(usr2_seen && usr2_tid == target_tid,
		      "process-directed signal handled by the only thread not blocking it");
		/* sigwaitinfo in a thread while every thread blocks the signal */
		signal(SIGUSR2, SIG_DFL);
		pthread_create(&t, NULL, sigwait_thread, NULL);
		CHECK_SYS(kill(getpid(), SIGUSR2), "kill(getpid(), SIGUSR2), blocked everywhere");
		pthread_join(t, &ret);
		CHECK(ret == (void *)1, "sigwaitinfo in another thread took it (SI_USER, si_pid)");
		sigset_t pend;
		sigpending(&pend);
		CHECK(!sigismember(&pend, SIGUSR2), "nothing left pending");
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}

	T_SECTION("semaphores");
	{
		sem_init(&sem, 0, 0);
		sem_init(&done_sem, 0, 0);
		CHECK_ERR(sem_trywait(&sem), EAGAIN, "sem_trywait at 0: EAGAIN");
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, sem_thread, NULL);
		usleep(20000);
		int v = -1;
		sem_getvalue(&done_sem, &v);
		CHECK_EQ(v, 0, "waiters blocked before post");
		for (int i = 0; i < 4; i++)
			sem_post(&sem);
		int released = 0;
		for (int i = 0; i < 4; i++)
			released += sem_wait(&done_sem) == 0;
		int joined4 = 0;
		for (int i = 0; i < 4; i++)
			joined4 += pthread_join(th[i], NULL) == 0;
		v = -1;
		sem_getvalue(&sem, &v);
		CHECK(released == 4 && joined4 == 4 && v == 0, "4 posts released exactly the 4 waiters");
		struct timespec past = { 1, 0 };
		CHECK_ERR(sem_timedwait(&sem, &past), ETIMEDOUT, "sem_timedwait with past deadline");
		sem_destroy(&sem);
		sem_destroy(&done_sem);
	}

	T_SECTION("raw futex");
	{
		int word = 1;
		CHECK_ERR(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0), EAGAIN,
			  "FUTEX_WAIT with stale value: EAGAIN");
		struct timespec to = { 0, 30 * 1000000 };
		long t0 = now_ms();
		CHECK_ERR(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, &to, NULL, 0), ETIMEDOUT,
			  "FUTEX_WAIT with timeout: ETIMEDOUT");
		long el = now_ms() - t0;
		CHECK(el >= 25 && el < 20000, "futex wait lasted ~30ms (%ld)", el);
		CHECK_EQ(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0,
			 "FUTEX_WAKE with no waiters returns 0");
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, futex_waiter, NULL);
		while (__atomic_load_n(&futex_ready, __ATOMIC_SEQ_CST) < 3)
			usleep(1000);
		/* While fword is still 0, a woken waiter goes back to sleep.  Wake
		 * one at a time until the kernel reports a sleeper: this cannot
		 * depend on scheduling, the waiters are certain to block soon. */
		long one = 0, t1 = now_ms();
		while (one == 0 && now_ms() - t1 < 20000) {
			usleep(1000);
			one = syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		}
		CHECK_EQ(one, 1, "FUTEX_WAKE(nr=1) reports the one sleeper it woke");
		CHECK_EQ(futex_woken, 0, "spuriously woken waiters re-check the word and sleep again");
		__atomic_store_n(&fword, 1, __ATOMIC_SEQ_CST);
		long woke = 0;
		t1 = now_ms();
		while (__atomic_load_n(&futex_woken, __ATOMIC_SEQ_CST) < 3 && now_ms() - t1 < 20000)
			woke += syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		CHECK(futex_woken == 3 && woke <= 3, "FUTEX_WAKE(INT_MAX) released all 3 (reported %ld)", woke);
	}

	T_SECTION("clock_nanosleep in threads");
	{
		long t0 = now_ms();
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, sleeper, NULL);
		int good = 0;
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], &ret);
			good += ret != NULL;
		}
		long el = now_ms() - t0;
		CHECK_EQ(good, 4, "4 threads: relative and TIMER_ABSTIME clock_nanosleep");
		CHECK(el >= 69 && el < 20000, "concurrent sleeps took %ld ms", el);
	}

	T_SECTION("exit and exec from threads");
	{
		pid_t pid = t_fork();
		if (pid == 0) {
			pthread_t t;
			pthread_create(&t, NULL, exit_thread, (void *)7L);
			for (;;)
				pause();
		}
		CHECK_EQ(t_exitcode(pid), 7, "exit(7) in a thread terminates the process");
		pid = t_fork();
		if (pid == 0) {
			pthread_t t;
			pthread_create(&t, NULL, late_thread, (void *)9L);
			pthread_exit(NULL);
		}
		CHECK_EQ(t_exitcode(pid), 9, "pthread_exit in main leaves other threads running");
		pid = t_fork();
		if (pid == 0) {
			pthread_t t1, t2;
			pthread_create(&t1, NULL, forever_thread, NULL);
			pthread_create(&t2, NULL, exec_thread, NULL);
			for (;;)
				pause();
		}
		CHECK_EQ(t_exitcode(pid), 42, "execve from a non-main thread ends the other threads");
		/* Two threads call execve at the same moment: one image runs
		 * (the first wins on Linux; the other thread dies with the old
		 * image), never none. */
		for (int round = 0; round < 10; round++) {
			pid = t_fork();
			if (pid == 0) {
				pthread_t t1, t2;
				pthread_barrier_init(&exec_barrier, NULL, 2);
				pthread_create(&t1, NULL, race_exec_thread, NULL);
				pthread_create(&t2, NULL, race_exec_thread, NULL);
				for (;;)
					pause();
			}
			int st = t_exitcode(pid);
			if (st != 42) {
				CHECK_EQ(st, 42, "two threads calling execve at once: one image runs (round %d)", round);
				break;
			}
		}
		CHECK(1, "two threads calling execve at once, 10 rounds");
	}

	T_SECTION("cancellation");
	{
		pipe(cancel_pipe);
		pthread_t t;
		pthread_create(&t, NULL, cancel_thread, NULL);
		usleep(20000);
		CHECK_EQ(pthread_cancel(t), 0, "pthread_cancel");
		pthread_join(t, &ret);
		CHECK(ret == PTHREAD_CANCELED, "blocked read was cancelled (PTHREAD_CANCELED)");
		close(cancel_pipe[0]);
		close(cancel_pipe[1]);
	}

	T_SECTION("fd table, fork in thread, stacks, detach, churn");
	{
		pthread_t t;
		pthread_create(&t, NULL, open_thread, NULL);
		pthread_join(t, NULL);
		char c = 0;
		CHECK(shared_fds[0] >= 0 && fcntl(shared_fds[0], F_GETFD) == 0 && read(shared_fds[0], &c, 1) == 1 &&
			      c == 't',
		      "pipe created and written in a thread is readable in main");
		close(shared_fds[0]);
		close(shared_fds[1]);
		pthread_create(&t, NULL, fork_thread, NULL);
		pthread_join(t, &ret);
		CHECK_EQ((long)ret, 3, "fork + waitpid from a thread");
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 1 << 20);
		CHECK_EQ(pthread_create(&t, &a, big_stack_thread, NULL), 0, "thread with 1 MiB stack");
		pthread_join(t, &ret);
		CHECK_EQ((long)ret, 1, "thread used 512 KiB of its stack");
		pthread_attr_destroy(&a);
		/* (no pthread_join(self) check: POSIX only says it "may" fail
		 * with EDEADLK; glibc does, musl blocks forever) */

		sem_init(&det_sem, 0, 0);
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		int ok = 0;
		for (int i = 0; i < 8; i++)
			ok += pthread_create(&t, &a, detached_thread, NULL) == 0;
		for (int i = 0; i < ok; i++)
			sem_wait(&det_sem);
		CHECK(ok == 8 && __atomic_load_n(&det_count, __ATOMIC_SEQ_CST) == 8, "8 detached threads ran");
		pthread_attr_destroy(&a);
		sem_destroy(&det_sem);

		/* create/join churn: 25 rounds of 4 threads */
		int good = 0;
		for (int r = 0; r < 25; r++) {
			for (int i = 0; i < 4; i++)
				pthread_create(&th[i], NULL, trivial_thread, (void *)(long)(r * 4 + i));
			for (int i = 0; i < 4; i++)
				if (pthread_join(th[i], &ret) == 0 && (long)ret == (r * 4 + i) * 3)
					good++;
		}
		CHECK_EQ(good, 100, "100 threads created and joined with their return values");
	}

	return TEST_END();
}
