/*
 * qt.h - what the queue's module tests (test_queue.c, test_deliver.c)
 * share: scratch bays, orders on disk, the invariant a recovered bay keeps
 * for each order, and fault_sweep(), which runs a verb with a failure
 * injected at each of its durable steps in turn (util/safefile.c's hook),
 * as an error and as a crash, and checks the bay after a restart.
 */
#ifndef SHIPD_QT_H
#define SHIPD_QT_H

#include "t.h"
#include "queue/bay.h"
#include "queue/bay_int.h"
#include "queue/commit.h"
#include "crypto/crypto.h"
#include "util/log.h"
#include "util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define QT_FN	static __attribute__((unused))

#define DIGEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static char top[64];
static int nbay;
static struct config cfg;

/* ---- helpers ---- */

QT_FN const char *
new_bay(void)
{
	static char bay[128];

	snprintf(bay, sizeof(bay), "%s/bay%d", top, ++nbay);
	if (bay_init(bay) < 0)
		printf("# bay_init: %s\n", err_get());
	return bay;
}

QT_FN void
put_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		printf("# cannot write %s\n", path);
		return;
	}
	fputs(content, f);
	fclose(f);
}

QT_FN int
has(const char *bay, enum qstate st, const char *name)
{
	char path[PATH_MAX];

	bay_path(path, sizeof(path), bay, st, name);
	return access(path, F_OK) == 0;
}

QT_FN char *
slurp(const char *bay, enum qstate st, const char *name)
{
	char path[PATH_MAX];

	bay_path(path, sizeof(path), bay, st, name);
	return read_file(path, 1 << 20, NULL);
}

QT_FN void
make_order(struct order *o, const char *id)
{
	order_init(o);
	snprintf(o->id, sizeof(o->id), "%s", id);
	o->origin = xstrdup("A");
	o->sclass = xstrdup("-default");
	strv_add(&o->dests, "B");
	strv_add(&o->hops, "A");
	o->created = time(NULL);
	o->expires = o->created + 14 * 86400;
	o->size = 5;
	memcpy(o->digest, DIGEST, 65);
}

/* Order id in state st with data/ID holding `data`. */
QT_FN void
queue(const char *bay, const char *id, enum qstate st, const char *data)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct order o;

	make_order(&o, id);
	bay_path(dir, sizeof(dir), bay, st, NULL);
	if (order_save(dir, &o) < 0)
		printf("# order_save: %s\n", err_get());
	order_free(&o);
	bay_data_path(path, sizeof(path), bay, id);
	put_file(path, data);
}

/* How many order states hold id; *where is the last one. */
QT_FN int
states_of(const char *bay, const char *id, enum qstate *where)
{
	int n = 0;

	for (int st = 0; st < Q_NSTATES; st++)
		if (has(bay, (enum qstate)st, id)) {
			n++;
			if (where)
				*where = (enum qstate)st;
		}
	return n;
}

/* Anything named ".tmp.*" left in a directory of the bay. */
QT_FN int
temporaries(const char *bay)
{
	char dir[PATH_MAX];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	for (int st = 0; st < Q_NDIRS; st++) {
		if (bay_path(dir, sizeof(dir), bay, (enum qstate)st, NULL) < 0 ||
		    (dp = opendir(dir)) == NULL)
			continue;
		while ((d = readdir(dp)) != NULL)
			if (strncmp(d->d_name, ".tmp.", 5) == 0) {
				printf("#   left: %s/%s\n", dir, d->d_name);
				n++;
			}
		closedir(dp);
	}
	return n;
}

/* Entries of one directory of the bay (not "." and ".."). */
QT_FN int
entries(const char *bay, enum qstate st)
{
	char dir[PATH_MAX];
	struct strv names = {0};
	int n;

	bay_path(dir, sizeof(dir), bay, st, NULL);
	if (bay_list_dir(dir, &names) < 0)
		return -1;
	n = names.n;
	strv_free(&names);
	return n;
}

/* Make every file in data/ and tmp/ old, so recovery may take orphans. */
QT_FN void
age_all(const char *bay)
{
	static const enum qstate dirs[] = {Q_DATA, Q_TMP};
	char dir[PATH_MAX], path[PATH_MAX];
	struct strv names = {0};
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
		bay_path(dir, sizeof(dir), bay, dirs[k], NULL);
		if (bay_list_dir(dir, &names) < 0)
			continue;
		for (int i = 0; i < names.n; i++)
			if (path_fmt(path, sizeof(path), "%s/%s", dir, names.v[i]) == 0)
				utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
		strv_free(&names);
	}
}

/* A restarted daemon's start-up, with enough time passed for orphans. */
QT_FN void
restart(const char *bay)
{
	struct recovery r;

	age_all(bay);
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(temporaries(bay), 0);
}

/*
 * The invariant every recovered bay keeps for order id: it is in at most
 * one state (exactly one when `queued`), it parses, and its data is there;
 * no data without an order after recovery.
 */
QT_FN void
check_once(const char *bay, const char *id, int queued)
{
	enum qstate st = Q_NSTATES;
	struct order o;
	int n = states_of(bay, id, &st);

	CHECK(n <= 1);
	if (queued)
		CHECK_INT(n, 1);
	if (n == 1) {
		CHECK(bay_load(bay, id, st, &o) == 0);
		order_free(&o);
		CHECK(has(bay, Q_DATA, id));
	} else
		CHECK(!has(bay, Q_DATA, id));
}

/*
 * Run `run` on a bay made by `prepare` with a failure at each durable step
 * in turn: an error (err) and a crash (a child killed just before the
 * step). `check` sees the bay after restart(); rc is run's result, or -9
 * when the child was killed.
 */
struct sweep_case {
	void (*prepare)(const char *bay);
	int (*run)(const char *bay);
	void (*check)(const char *bay, int rc);
	int err;
};

QT_FN int
steps_of(const struct sweep_case *c)
{
	const char *bay = new_bay();
	long s0;

	c->prepare(bay);
	s0 = safe_steps();
	if (c->run(bay) != 0)
		printf("#   the unhurt run failed: %s\n", err_get());
	return (int)(safe_steps() - s0);
}

QT_FN void
fault_sweep(const struct sweep_case *c)
{
	int n = steps_of(c);

	CHECK(n > 0);
	printf("# %s: %d durable steps, each failed (%s) and crashed in turn\n", t_name, n,
	       strerror(c->err));
	for (int k = 1; k <= n; k++) {
		const char *bay = new_bay();
		int rc, status;
		pid_t pid;

		c->prepare(bay);
		safe_fault(k, c->err);
		rc = c->run(bay);
		safe_fault(0, 0);
		restart(bay);
		c->check(bay, rc);

		bay = new_bay();
		c->prepare(bay);
		fflush(stdout);
		if ((pid = fork()) == 0) {
			safe_fault(k, SAFE_FAULT_KILL);
			_exit(c->run(bay) == 0 ? 0 : 1);
		}
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		restart(bay);
		c->check(bay, -9);
		if (t_case_failed) {
			printf("#   (failure injected at durable step %d of %d)\n", k, n);
			return;
		}
	}
}

/* Scratch directory, log, and a configuration with a 60 s RETRY-MIN. */
QT_FN int
qt_start(const char *name)
{
	crypto_init();
	log_open(name, "stderr");
	cfg.retry_min = 60;
	cfg.retry_max = 3600;
	snprintf(top, sizeof(top), "/tmp/%s.XXXXXX", name);
	return mkdtemp(top) == NULL ? -1 : 0;
}

QT_FN int
qt_end(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
