/*
 * test_group.c - commit groups (queue/commit.h: bay_group, bay_claim_group,
 * bay_finish_all, bay_finish_known): a batch of claims or finishes costs one round of
 * directory fsyncs, not one per order (counted through safefile.c's
 * safe_dir_fsyncs), a finish fsyncs neither data/ nor its seen marker's
 * content, and a failure or a crash at each durable step of a
 * batch (qt.h's fault_sweep) still leaves every order in exactly one
 * state, or finished with its seen marker, after recovery.
 */
#include "qt.h"

#define N	8

/* path lookups the code under test makes, while counting */
static int counting, lookups;

int
access(const char *path, int mode)
{
	lookups += counting;
	return faccessat(AT_FDCWD, path, mode, 0);
}

int
lstat(const char *path, struct stat *sb)
{
	lookups += counting;
	return fstatat(AT_FDCWD, path, sb, AT_SYMLINK_NOFOLLOW);
}

static const char *ids[N] = {"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7"};

/* ---- what a batch costs ---- */

static void
claim_costs_one_round(void)
{
	const char *bay = new_bay();
	struct claim c[20];
	struct bay_group g = {0};
	char id[16];
	long f0;

	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		queue(bay, id, Q_OUTGOING, "x");
	}
	f0 = safe_dir_fsyncs();
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		CHECK_INT(bay_claim_group(&c[i], bay, id, Q_OUTGOING, &g), 0);
	}
	CHECK_INT(safe_dir_fsyncs() - f0, 0);	/* nothing durable yet */
	CHECK_INT(bay_group_sync(&g), 0);
	/* active/ and outgoing/, once each for the twenty */
	CHECK_INT(safe_dir_fsyncs() - f0, 2);
	CHECK_INT(entries(bay, Q_ACTIVE), 20);
	CHECK_INT(entries(bay, Q_OUTGOING), 0);
	for (int i = 0; i < 20; i++)
		bay_release(&c[i]);
	/* an empty group costs nothing */
	f0 = safe_dir_fsyncs();
	CHECK_INT(bay_group_sync(&g), 0);
	CHECK_INT(safe_dir_fsyncs() - f0, 0);
}

static void
finish_costs_one_round(void)
{
	const char *bay = new_bay();
	char id[16];
	const char *v[20];
	char names[20][16];
	long f0, s0;

	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		v[i] = names[i];
		queue(bay, v[i], Q_ACTIVE, "x");
	}
	f0 = safe_dir_fsyncs();
	CHECK_INT(bay_finish_all(bay, v, 20, Q_ACTIVE), 0);
	/* seen/, then active/: data/ needs none (recovery takes a finished
	 * order's data that a crash brings back) */
	CHECK_INT(safe_dir_fsyncs() - f0, 2);
	for (int i = 0; i < 20; i++) {
		CHECK(bay_seen(bay, v[i]));
		CHECK_INT(states_of(bay, v[i], NULL), 0);
		CHECK(!has(bay, Q_DATA, v[i]));
	}
	/* one order alone: two, where it was three */
	snprintf(id, sizeof(id), "one");
	queue(bay, id, Q_ACTIVE, "x");
	f0 = safe_dir_fsyncs();
	s0 = safe_steps();
	CHECK_INT(bay_finish(bay, id, Q_ACTIVE), 0);
	CHECK_INT(safe_dir_fsyncs() - f0, 2);
	/* the seen marker's name is made durable, its content (the purge's
	 * hint) is not fsynced: two unlinks and two directory fsyncs */
	CHECK(safe_steps() - s0 <= 4);
	CHECK(bay_seen(bay, id));
}

/* a claimed order read through its lock is the order bay_load reads;
 * a broken one is refused with its path named */
static void
claim_load(void)
{
	const char *bay = new_bay();
	struct claim c;
	struct order a, b;
	char path[PATH_MAX];

	queue(bay, "l1", Q_OUTGOING, "x");
	CHECK_INT(bay_claim(&c, bay, "l1", Q_OUTGOING), 0);
	CHECK_INT(bay_load_claimed(&c, &a), 0);
	CHECK_INT(bay_load(bay, "l1", Q_ACTIVE, &b), 0);
	CHECK_STR(a.id, "l1");
	CHECK_STR(a.origin, b.origin);
	CHECK_INT(a.expires, b.expires);
	CHECK_INT(a.dests.n, b.dests.n);
	order_free(&a);
	order_free(&b);
	bay_release(&c);
	/* no lock: read by its path */
	CHECK_INT(bay_load_claimed(&c, &a), 0);
	CHECK_STR(a.id, "l1");
	order_free(&a);
	/* truncated under the lock */
	CHECK_INT(bay_claim(&c, bay, "l1", Q_ACTIVE), 0);
	snprintf(path, sizeof(path), "%s/active/l1", bay);
	CHECK_INT(truncate(path, 10), 0);
	CHECK_INT(bay_load_claimed(&c, &a), -1);
	CHECK(strstr(err_get(), path) != NULL);
	bay_release(&c);
}

/* the sender's finish: the expiry it loaded goes into each seen marker
 * (what the purge of seen/ reads), one order alone or several */
static void
finish_known_expiry(void)
{
	const char *bay = new_bay();
	const char *v[3] = {"k0", "k1", "k2"};
	time_t exp[3] = {1900000000, 1900000001, 1900000002};
	char path[PATH_MAX], want[32], *got;
	long f0;

	for (int i = 0; i < 3; i++)
		queue(bay, v[i], Q_ACTIVE, "x");
	f0 = safe_dir_fsyncs();
	CHECK_INT(bay_finish_known(bay, v, exp, 2, Q_ACTIVE), 0);
	CHECK_INT(safe_dir_fsyncs() - f0, 2);
	CHECK_INT(bay_finish_known(bay, v + 2, exp + 2, 1, Q_ACTIVE), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(states_of(bay, v[i], NULL), 0);
		CHECK(!has(bay, Q_DATA, v[i]));
		snprintf(path, sizeof(path), "%s/seen/%s", bay, v[i]);
		snprintf(want, sizeof(want), "%lld\n", (long long)exp[i]);
		got = read_file(path, 64, NULL);
		CHECK_STR(got, want);
		free(got);
	}
}

/* a finish looks nothing up first: a new marker is written, and one a
 * crashed finish left (a rerun) is kept, content and all */
static void
finish_known_no_lookup(void)
{
	const char *bay = new_bay();
	const char *v[3] = {"n0", "n1", "n2"};
	time_t exp[3] = {1900000000, 1900000001, 1900000002};
	char sdir[PATH_MAX], path[PATH_MAX], want[32], *got;

	for (int i = 0; i < 3; i++)
		queue(bay, v[i], Q_ACTIVE, "x");
	bay_path(sdir, sizeof(sdir), bay, Q_SEEN, NULL);
	CHECK_INT(safe_write(sdir, "n1", "123\n", 4, 0600), 0);	/* the crashed run's */
	counting = 1;
	lookups = 0;
	CHECK_INT(bay_finish_known(bay, v, exp, 3, Q_ACTIVE), 0);
	counting = 0;
	CHECK_INT(lookups, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(states_of(bay, v[i], NULL), 0);
		CHECK(!has(bay, Q_DATA, v[i]));
		bay_path(path, sizeof(path), bay, Q_SEEN, v[i]);
		snprintf(want, sizeof(want), "%lld\n", (long long)exp[i]);
		got = read_file(path, 64, NULL);
		CHECK_STR(got, i == 1 ? "123\n" : want);
		free(got);
	}
	/* bay_finish alone: the same */
	queue(bay, "n3", Q_ACTIVE, "x");
	CHECK_INT(safe_write(sdir, "n3", "456\n", 4, 0600), 0);
	queue(bay, "n4", Q_ACTIVE, "x");
	counting = 1;
	lookups = 0;
	CHECK_INT(bay_finish(bay, "n3", Q_ACTIVE), 0);
	CHECK_INT(bay_finish(bay, "n4", Q_ACTIVE), 0);
	counting = 0;
	CHECK_INT(lookups, 0);
	CHECK_INT(states_of(bay, "n3", NULL) + states_of(bay, "n4", NULL), 0);
	bay_path(path, sizeof(path), bay, Q_SEEN, "n3");
	got = read_file(path, 64, NULL);
	CHECK_STR(got, "456\n");
	free(got);
	CHECK(bay_seen(bay, "n4"));
	CHECK_INT(temporaries(bay), 0);
}

/* a rewrite that moves on (a defer, a put-back) fsyncs from's directory
 * once, after both its renames in it: two directory fsyncs, where it was
 * three */
static void
rewrite_moving_costs_two(void)
{
	const char *bay = new_bay();
	struct order o;
	long f0;

	queue(bay, "r1", Q_ACTIVE, "x");
	CHECK_INT(bay_load(bay, "r1", Q_ACTIVE, &o), 0);
	f0 = safe_dir_fsyncs();
	CHECK_INT(bay_rewrite(bay, &o, Q_ACTIVE, Q_DEFERRED, time(NULL) + 60, NULL), 0);
	CHECK_INT(safe_dir_fsyncs() - f0, 2);
	CHECK_INT(states_of(bay, "r1", NULL), 1);
	CHECK(has(bay, Q_DEFERRED, "r1"));
	order_free(&o);
}

/* ---- a failure or a crash at every step of a batch ---- */

static void
batch_prepare(const char *bay)
{
	for (int i = 0; i < N; i++)
		queue(bay, ids[i], i % 2 ? Q_OUTGOING : Q_DEFERRED, "x");
}

/* claim the batch as one group, then finish it as one: the send worker's
 * steps for a window of orders that were all acknowledged */
static int
batch_run(const char *bay)
{
	struct claim c[N];
	struct bay_group g = {0};
	int n = 0, rc = 0;

	for (int i = 0; i < N; i++) {
		if (bay_claim_group(&c[n], bay, ids[i], i % 2 ? Q_OUTGOING : Q_DEFERRED, &g) != 0) {
			rc = -1;
			continue;
		}
		n++;
	}
	if (bay_group_sync(&g) < 0)
		rc = -1;
	else if (rc == 0 && bay_finish_all(bay, ids, N, Q_ACTIVE) < 0)
		rc = -1;
	for (int i = 0; i < n; i++)
		bay_release(&c[i]);
	return rc;
}

static void
batch_check(const char *bay, int rc)
{
	for (int i = 0; i < N; i++) {
		int n = states_of(bay, ids[i], NULL);

		check_once(bay, ids[i], 0);
		/* queued still, or finished and seen: never lost, never twice */
		if (n == 0)
			CHECK(bay_seen(bay, ids[i]));
		if (rc == 0)
			CHECK_INT(n, 0);
	}
	/* recovery put every claimed, unfinished order back to outgoing/ */
	CHECK_INT(entries(bay, Q_ACTIVE), 0);
}

static void
batch_crash(void)
{
	const struct sweep_case c = {batch_prepare, batch_run, batch_check, EIO};

	fault_sweep(&c);
}

/* ---- a multi-file submission: bay_enqueue_all ---- */

/* n sealed packets in tmp/, as the sealer leaves them */
static void
enq_prepare(const char *bay)
{
	char path[PATH_MAX];

	for (int i = 0; i < N; i++) {
		bay_path(path, sizeof(path), bay, Q_TMP, ids[i]);
		put_file(path, "x");
	}
}

static int
enq_run(const char *bay)
{
	struct order o[N];
	const struct order *op[N];
	char tmp[N][PATH_MAX];
	const char *tp[N];
	char ok[N];
	int rc;

	for (int i = 0; i < N; i++) {
		make_order(&o[i], ids[i]);
		op[i] = &o[i];
		bay_path(tmp[i], sizeof(tmp[i]), bay, Q_TMP, ids[i]);
		tp[i] = tmp[i];
	}
	rc = bay_enqueue_all(bay, op, tp, N, Q_OUTGOING, ok);
	for (int i = 0; i < N; i++) {
		/* ok[] says exactly what is queued */
		if (rc == 0 && !ok[i])
			rc = -2;
		if (ok[i] != (has(bay, Q_OUTGOING, ids[i]) && has(bay, Q_DATA, ids[i])))
			rc = -3;
		order_free(&o[i]);
	}
	return rc;
}

static void
enq_check(const char *bay, int rc)
{
	CHECK(rc != -2 && rc != -3);
	for (int i = 0; i < N; i++) {
		/* queued with its data, or not at all; all of them on success */
		check_once(bay, ids[i], rc == 0);
		CHECK(!has(bay, Q_TMP, ids[i]) || rc == -9);
	}
}

static void
enqueue_all_costs_two(void)
{
	const char *bay = new_bay();
	long f0;

	enq_prepare(bay);
	f0 = safe_dir_fsyncs();
	CHECK_INT(enq_run(bay), 0);
	/* data/ and outgoing/ once for the group, not once per order */
	CHECK_INT(safe_dir_fsyncs() - f0, 2);
	enq_check(bay, 0);
}

static void
enqueue_all_crash(void)
{
	const struct sweep_case c = {enq_prepare, enq_run, enq_check, EIO};

	fault_sweep(&c);
}

int
main(void)
{
	if (qt_start("test_group") < 0)
		return 1;
	TEST(claim_costs_one_round);
	TEST(finish_costs_one_round);
	TEST(finish_known_expiry);
	TEST(finish_known_no_lookup);
	TEST(claim_load);
	TEST(rewrite_moving_costs_two);
	TEST(batch_crash);
	TEST(enqueue_all_costs_two);
	TEST(enqueue_all_crash);
	if (qt_end() < 0)
		return 1;
	T_DONE();
}
