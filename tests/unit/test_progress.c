/*
 * test_progress.c - progress records (src/queue/progress.h) and the
 * process identity they rest on (src/util/proc.h): a record lives exactly
 * as long as the process that wrote it, not while its PID answers kill(0)
 * as a zombie, and not for another process that got the same PID later.
 */
#include "qt.h"
#include "queue/progress.h"
#include "util/proc.h"

#include <stdio.h>
#include <sys/wait.h>

/* a child that has exited but is not reaped: a zombie */
static pid_t
zombie(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	for (int i = 0; i < 200; i++) {		/* until it is a zombie (2 s at most) */
		siginfo_t si = {0};

		if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
			break;
		usleep(10000);
	}
	return pid;
}

static void
identity(void)
{
	unsigned long long me = proc_start_time(getpid());
	pid_t z;

	CHECK(me != 0);
	CHECK(proc_start_time(getpid()) == me);		/* stable */
	CHECK(proc_start_time(0) == 0);
	CHECK(proc_start_time(-1) == 0);
	z = zombie();
	CHECK(kill(z, 0) == 0);				/* what fooled the old check */
	CHECK(proc_start_time(z) == 0);			/* a zombie is gone */
	waitpid(z, NULL, 0);
	CHECK(proc_start_time(z) == 0);
}

/* BAY/inflight/ID with the given pid and start time */
static void
forge(const char *bay, const char *id, long pid, unsigned long long start)
{
	char path[PATH_MAX], line[512];

	snprintf(path, sizeof(path), "%s/inflight", bay);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/inflight/%s", bay, id);
	snprintf(line, sizeof(line), "%s B tcp 1 10 100 1.000 %ld %llu\n", id, pid, start);
	put_file(path, line);
}

static int
exists(const char *bay, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/inflight/%s", bay, id);
	return access(path, F_OK) == 0;
}

static void
records(void)
{
	const char *bay = new_bay();
	struct progress_rec r;
	struct progress *p;
	pid_t z;

	p = progress_start(bay, "live", "B", "tcp", 40000, 100);
	CHECK(p != NULL);
	progress_update(p, 100);
	CHECK(progress_read(bay, "live", &r) == 0);
	CHECK(r.pid == getpid() && r.done == 100 && r.total == 100);
	CHECK_STR(r.peer, "B");

	z = zombie();
	forge(bay, "zombie", z, proc_start_time(getpid()));
	/* our own PID, but another start time: the PID of a process gone */
	forge(bay, "reused", getpid(), proc_start_time(getpid()) + 1);
	forge(bay, "old-format", getpid(), 0);
	CHECK(progress_read(bay, "zombie", &r) < 0);
	CHECK(progress_read(bay, "reused", &r) < 0);
	CHECK(progress_read(bay, "old-format", &r) < 0);
	progress_clean(bay);
	CHECK(!exists(bay, "zombie"));
	CHECK(!exists(bay, "reused"));
	CHECK(!exists(bay, "old-format"));
	CHECK(exists(bay, "live"));			/* ours, alive */
	CHECK(progress_read(bay, "live", &r) == 0);
	waitpid(z, NULL, 0);
	progress_end(p);
	CHECK(!exists(bay, "live"));
}

int
main(void)
{
	if (qt_start("test_progress") < 0)
		return 1;
	TEST(identity);
	TEST(records);
	if (qt_end() < 0)
		return 1;
	T_DONE();
}
