/*
 * test_bay.c - the bay as directories: init, moves, find, corrupt with its
 * reason, finish (seen marker, no data), space limits, back-off, defer's
 * mtime, scans, data moves across bays, and start-up recovery of each
 * leftover state on its own.
 */
#include "qt.h"

static int
exists(const char *fmt_bay, const char *sub, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s", fmt_bay, sub, id);
	return access(path, F_OK) == 0;
}

static void
age(const char *path, int seconds)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= seconds;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

/* An order in state st with data/ID of `bytes` bytes. */
static void
queue_bytes(const char *bay, const char *id, enum qstate st, size_t bytes)
{
	char *buf = xmalloc(bytes + 1);

	memset(buf, 'x', bytes);
	buf[bytes] = 0;
	queue(bay, id, st, buf);
	free(buf);
}

static struct config *
conf(void)
{
	struct config *cf = xcalloc(1, sizeof(*cf));

	cf->retry_min = 60;
	cf->retry_max = 3600;
	return cf;
}

static void
init_dirs(void)
{
	const char *bay = new_bay();
	static const char *dirs[] = {"tmp", "drop", "data", "outgoing", "active", "deferred",
				     "hold", "joining", "unpack", "incoming", "receipts",
				     "return", "corrupt", "seen", "done"};
	char path[PATH_MAX];
	struct stat sb;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", bay, dirs[i]);
		CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
	}
	CHECK(bay_init(bay) == 0);	/* idempotent */
	snprintf(path, sizeof(path), "%s/file", top);
	put_file(path, "x");
	snprintf(path, sizeof(path), "%s/file/bay", top);
	CHECK(bay_init(path) < 0);	/* a file in the way is an error, not a crash */
}

/* bay_ready (a receipt's or submission's way in): a bay this process
 * never made is made in full; one made already costs nothing, and a
 * reload's bay_init still makes what went missing meanwhile */
static void
ready_dirs(void)
{
	char bay[PATH_MAX], path[PATH_MAX];
	struct stat sb;

	snprintf(bay, sizeof(bay), "%s/ready/spool/bay", top);
	CHECK(bay_ready(bay) == 0);
	for (int i = 0; i < Q_NDIRS; i++) {
		CHECK(bay_path(path, sizeof(path), bay, (enum qstate)i, NULL) == 0);
		CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
	}
	CHECK(bay_ready(bay) == 0);
	CHECK(bay_path(path, sizeof(path), bay, Q_DONE, NULL) == 0 && rmdir(path) == 0);
	CHECK(bay_init(bay) == 0);
	CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
	snprintf(path, sizeof(path), "%s/file/bay", top);
	CHECK(bay_ready(path) < 0);	/* a file in the way: still an error */
}

/*
 * An operator's rewrite (shipctl retry, release, ship) that loses the race
 * with the daemon, which claimed and finished the order meanwhile, must
 * fail: never put back an order whose data is gone.
 */
static void
rewrite_lost_race(void)
{
	const char *bay = new_bay();
	struct claim c;
	struct order o;

	queue_bytes(bay, "r1", Q_DEFERRED, 5);
	CHECK(bay_load(bay, "r1", Q_DEFERRED, &o) == 0);	/* what shipctl read */
	CHECK(bay_claim(&c, bay, "r1", Q_DEFERRED) == 0);	/* the daemon, meanwhile */
	CHECK(bay_finish(bay, "r1", Q_ACTIVE) == 0);
	bay_release(&c);
	o.next_attempt = 0;
	CHECK(bay_rewrite(bay, &o, Q_DEFERRED, Q_OUTGOING, 0, NULL) < 0);
	CHECK(!exists(bay, "outgoing", "r1") && !exists(bay, "deferred", "r1"));
	order_free(&o);
	/* the order still there: rewritten and moved */
	queue_bytes(bay, "r2", Q_DEFERRED, 5);
	CHECK(bay_load(bay, "r2", Q_DEFERRED, &o) == 0);
	o.attempts = 7;
	CHECK(bay_rewrite(bay, &o, Q_DEFERRED, Q_OUTGOING, 0, NULL) == 0);
	order_free(&o);
	CHECK(bay_load(bay, "r2", Q_OUTGOING, &o) == 0 && o.attempts == 7);
	order_free(&o);
}

static void
states(void)
{
	enum qstate st;
	char buf[32];

	for (int i = 0; i < Q_NSTATES; i++) {
		CHECK(qstate_parse(qstate_name((enum qstate)i), &st) == 0);
		CHECK_INT(st, i);
	}
	CHECK(qstate_parse("queued", &st) < 0);
	CHECK(strstr(err_get(), "unknown state \"queued\"") != NULL);
	CHECK(bay_path(buf, sizeof(buf), "/b", Q_DEFERRED, "X") == 0);
	CHECK_STR(buf, "/b/deferred/X");
	CHECK(bay_path(buf, 8, "/b", Q_DEFERRED, "X") < 0);	/* never truncated */
	CHECK(bay_data_path(buf, sizeof(buf), "/b", "X") == 0);
	CHECK_STR(buf, "/b/data/X");
}

static void
move_find(void)
{
	const char *bay = new_bay();
	enum qstate st;
	struct order o;

	queue_bytes(bay, "id1", Q_OUTGOING, 5);
	CHECK(bay_find(bay, "id1", &st) == 0 && st == Q_OUTGOING);
	CHECK(bay_move(bay, "id1", Q_OUTGOING, Q_HOLD) == 0);
	CHECK(bay_find(bay, "id1", &st) == 0 && st == Q_HOLD);
	CHECK(!exists(bay, "outgoing", "id1") && exists(bay, "hold", "id1"));
	CHECK(exists(bay, "data", "id1"));	/* data never moves */
	/* a second mover loses cleanly (two workers never both claim it) */
	CHECK(bay_move(bay, "id1", Q_OUTGOING, Q_ACTIVE) < 0);
	CHECK(strstr(err_get(), "No such file") != NULL);
	CHECK(bay_find(bay, "nope", &st) < 0);
	CHECK(strstr(err_get(), "no order nope") != NULL);
	CHECK(bay_find(bay, "../../etc", &st) < 0);
	CHECK(bay_load(bay, "id1", Q_HOLD, &o) == 0);
	CHECK_STR(o.id, "id1");
	order_free(&o);
	/* an order whose id is not its file name is refused */
	{
		char a[PATH_MAX], b[PATH_MAX];

		bay_path(a, sizeof(a), bay, Q_HOLD, "id1");
		bay_path(b, sizeof(b), bay, Q_HOLD, "id2");
		rename(a, b);
		CHECK(bay_load(bay, "id2", Q_HOLD, &o) < 0);
		CHECK(strstr(err_get(), "names order id1") != NULL);
	}
}

static void
corrupt(void)
{
	const char *bay = new_bay();
	char path[PATH_MAX], *why;

	queue_bytes(bay, "bad1", Q_ACTIVE, 5);
	bay_corrupt(bay, "bad1", Q_ACTIVE, "line 3: unknown key \"x\"\nsecond line");
	CHECK(!exists(bay, "active", "bad1"));
	CHECK(exists(bay, "corrupt", "bad1"));
	snprintf(path, sizeof(path), "%s/corrupt/bad1.why", bay);
	why = read_file(path, 4096, NULL);
	CHECK(why != NULL);
	if (why) {
		CHECK_STR(why, "line 3: unknown key \"x\" second line\n");
		free(why);
	}
	/* the .why file is not an order to scanners */
	{
		enum qstate st;

		CHECK(bay_find(bay, "bad1.why", &st) < 0);
	}
}

static void
finish(void)
{
	const char *bay = new_bay();
	char path[PATH_MAX], *c;
	struct order o;

	queue_bytes(bay, "done1", Q_ACTIVE, 5);
	bay_load(bay, "done1", Q_ACTIVE, &o);
	CHECK(!bay_seen(bay, "done1"));
	CHECK(bay_finish(bay, "done1", Q_ACTIVE) == 0);
	CHECK(bay_seen(bay, "done1"));
	CHECK(!exists(bay, "active", "done1"));
	CHECK(!exists(bay, "data", "done1"));
	snprintf(path, sizeof(path), "%s/seen/done1", bay);
	c = read_file(path, 64, NULL);
	CHECK(c != NULL && strtoll(c, NULL, 10) == o.expires);
	free(c);
	order_free(&o);
	/* finishing twice (a retried step after a crash) is harmless and
	 * keeps the expiry the first run recorded */
	CHECK(bay_finish(bay, "done1", Q_ACTIVE) == 0);
	c = read_file(path, 64, NULL);
	CHECK(c != NULL && strtoll(c, NULL, 10) > 0);
	free(c);
	/* purge: not yet, then past expiry + RETURN_PURGE_DAYS */
	CHECK_INT(bay_purge_seen(bay, time(NULL)), 0);
	CHECK_INT(bay_purge_seen(bay, time(NULL) + (14 + RETURN_PURGE_DAYS + 1) * 86400), 1);
	CHECK(!bay_seen(bay, "done1"));
	/* rm: no seen marker */
	queue_bytes(bay, "gone1", Q_HOLD, 5);
	CHECK(bay_remove(bay, "gone1", Q_HOLD) == 0);
	CHECK(!exists(bay, "hold", "gone1") && !exists(bay, "data", "gone1"));
	CHECK(!bay_seen(bay, "gone1"));
	CHECK(bay_remove(bay, "gone1", Q_HOLD) < 0);
}

static void
space(void)
{
	const char *bay = new_bay();
	struct config *cf = conf();
	uint64_t used;

	cf->bay_size_limit = 1000;
	CHECK(bay_space_ok(cf, bay, 1000) == 0);
	queue_bytes(bay, "s1", Q_OUTGOING, 600);
	CHECK(bay_usage(bay, &used) == 0);
	CHECK_INT(used, 600);
	CHECK(bay_space_ok(cf, bay, 400) == 0);
	CHECK(bay_space_ok(cf, bay, 401) < 0);
	CHECK(strncmp(err_get(), "bay full: ", 10) == 0 && strstr(err_get(), "BAY-SIZE-LIMIT") != NULL);
	/* files being sealed in tmp/ count too */
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/tmp/sealing", bay);
		put_file(path, "0123456789");
		CHECK(bay_space_ok(cf, bay, 395) < 0);
		unlink(path);
	}
	cf->bay_size_limit = 0;
	CHECK(bay_space_ok(cf, bay, 1 << 20) == 0);
	cf->min_free_disk = UINT64_MAX / 2;	/* more than any disk: the floor bites */
	CHECK(bay_space_ok(cf, bay, 1) < 0);
	CHECK(strncmp(err_get(), "bay full: ", 10) == 0 && strstr(err_get(), "MIN-FREE-DISK") != NULL);
	cf->min_free_disk = 0;
	CHECK(bay_space_ok(cf, bay, UINT64_MAX) < 0);
	CHECK(bay_space_ok(cf, "/nonexistent/bay", 1) < 0);
	/* a destination: room to unpack too, on the disk, not in the bay limit */
	CHECK(bay_room_ok(cf, bay, 1, UINT64_MAX / 2) < 0);
	CHECK(strncmp(err_get(), "bay full: ", 10) == 0 && strstr(err_get(), "to unpack") != NULL);
	CHECK(bay_room_ok(cf, bay, UINT64_MAX / 2, UINT64_MAX / 2 + 2) < 0);	/* no overflow */
	cf->bay_size_limit = 1000;
	CHECK(bay_room_ok(cf, bay, 100, 1 << 20) == 0);
	CHECK(bay_room_ok(cf, bay, 401, 0) < 0);
	free(cf);
}

static void
backoff(void)
{
	struct config *cf = conf();
	static const int want[] = {60, 60, 120, 240, 480, 960, 1920, 3600, 3600};

	for (int i = 0; i < 9; i++)
		CHECK_INT(bay_backoff(cf, i), want[i]);
	CHECK_INT(bay_backoff(cf, 1000000), 3600);	/* no overflow */
	cf->retry_min = 3000;
	CHECK_INT(bay_backoff(cf, 2), 3600);
	free(cf);
}

static void
defer(void)
{
	const char *bay = new_bay();
	struct config *cf = conf();
	char path[PATH_MAX];
	struct order o, p;
	struct stat sb;
	time_t before = time(NULL);

	queue_bytes(bay, "d1", Q_ACTIVE, 5);
	CHECK(bay_load(bay, "d1", Q_ACTIVE, &o) == 0);
	CHECK(bay_defer(cf, bay, &o, Q_ACTIVE, "connect B: Connection refused") == 0);
	CHECK(!exists(bay, "active", "d1"));
	bay_path(path, sizeof(path), bay, Q_DEFERRED, "d1");
	CHECK(stat(path, &sb) == 0);
	CHECK(sb.st_mtime == o.next_attempt);
	CHECK(o.next_attempt >= before + 60 && o.next_attempt <= time(NULL) + 60);
	CHECK(bay_load(bay, "d1", Q_DEFERRED, &p) == 0);
	CHECK_INT(p.attempts, 1);
	CHECK_STR(p.last_error, "connect B: Connection refused");
	CHECK_INT(p.next_attempt, o.next_attempt);
	order_free(&p);
	/* second failure, retried from deferred in place: backoff doubles */
	CHECK(bay_defer(cf, bay, &o, Q_DEFERRED, "again") == 0);
	CHECK(stat(path, &sb) == 0 && sb.st_mtime == o.next_attempt);
	CHECK(o.next_attempt >= before + 120);
	CHECK(bay_load(bay, "d1", Q_DEFERRED, &p) == 0);
	CHECK_INT(p.attempts, 2);
	order_free(&p);
	order_free(&o);
	free(cf);
}

static int
count_fn(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	(*(int *)arg)++;
	return strcmp(id, "stop") == 0 ? -1 : 0;
}

static void
scan(void)
{
	const char *bay = new_bay();
	char path[PATH_MAX];
	int n = 0;

	queue_bytes(bay, "a1", Q_OUTGOING, 1);
	queue_bytes(bay, "a2", Q_OUTGOING, 1);
	snprintf(path, sizeof(path), "%s/outgoing/.tmp.1.2.3", bay);
	put_file(path, "");
	snprintf(path, sizeof(path), "%s/outgoing/sub", bay);
	mkdir(path, 0700);
	CHECK(bay_scan(bay, Q_OUTGOING, count_fn, &n) == 0);
	CHECK_INT(n, 2);
	n = 0;
	CHECK(bay_scan(bay, Q_HOLD, count_fn, &n) == 0);
	CHECK_INT(n, 0);
	queue_bytes(bay, "stop", Q_HOLD, 1);
	queue_bytes(bay, "stop2", Q_DEFERRED, 1);
	CHECK(bay_scan(bay, Q_HOLD, count_fn, &n) < 0);
	n = 0;
	CHECK(bay_scan("/nonexistent", Q_HOLD, count_fn, &n) == 0 && n == 0);
	snprintf(path, sizeof(path), "%s/hold", bay);
	chmod(path, 0);
	if (geteuid() != 0)	/* root reads it anyway */
		CHECK(bay_scan(bay, Q_HOLD, count_fn, &n) < 0);
	chmod(path, 0700);
}

static void
all_and_choose(void)
{
	struct config *cf = conf();
	struct strv out = {0};
	char real[PATH_MAX];

	cf->nclasses = 2;
	cf->classes[0].name = "-default";
	strv_add(&cf->classes[0].bays, "/s/ms_ship");
	cf->classes[0].return_bay = "/s/ms_rtn";
	cf->classes[1].name = "docs";
	strv_add(&cf->classes[1].bays, "/s/docs1");
	strv_add(&cf->classes[1].bays, "/s/ms_ship");
	cf->classes[1].return_bay = "/s/ms_rtn";
	bay_all(cf, &out);
	CHECK_INT(out.n, 3);
	CHECK_STR(out.v[0], "/s/ms_ship");
	CHECK_STR(out.v[1], "/s/ms_rtn");
	CHECK_STR(out.v[2], "/s/docs1");
	strv_free(&out);
	/* a bay that does not exist has no free space: the existing one wins */
	snprintf(real, sizeof(real), "%s", new_bay());
	strv_free(&cf->classes[1].bays);
	strv_add(&cf->classes[1].bays, "/nonexistent/bay");
	strv_add(&cf->classes[1].bays, real);
	CHECK_STR(bay_choose(&cf->classes[1]), real);
	strv_free(&cf->classes[0].bays);
	strv_free(&cf->classes[1].bays);
	CHECK(bay_choose(&cf->classes[1]) == NULL);
	/* a class's only bay, whether it exists yet or not */
	strv_add(&cf->classes[1].bays, "/nonexistent/bay");
	CHECK_STR(bay_choose(&cf->classes[1]), "/nonexistent/bay");
	strv_free(&cf->classes[1].bays);
	free(cf);
}

static void
link_data(void)
{
	const char *b1;
	char a[128], shm[64], path[PATH_MAX], *c;

	snprintf(a, sizeof(a), "%s", new_bay());
	b1 = new_bay();
	queue_bytes(a, "m1", Q_RETURN, 100);
	CHECK(bay_link_data(a, "m1", b1, "m1") == 0);
	CHECK(exists(a, "data", "m1") && exists(b1, "data", "m1"));	/* source kept */
	CHECK(bay_link_data(a, "m1", b1, "m1") < 0);	/* never overwrites */
	CHECK(strstr(err_get(), "exists already") != NULL);
	/* across file systems (tmpfs): copied, fsynced, nothing left in tmp/ */
	snprintf(shm, sizeof(shm), "/dev/shm/test_bay.%ld", (long)getpid());
	if (bay_init(shm) == 0) {
		CHECK(bay_link_data(b1, "m1", shm, "m1") == 0);
		CHECK(exists(b1, "data", "m1"));
		snprintf(path, sizeof(path), "%s/data/m1", shm);
		c = read_file(path, 1000, NULL);
		CHECK(c != NULL && strlen(c) == 100);
		free(c);
		snprintf(path, sizeof(path), "%s/tmp", shm);
		CHECK(rmdir(path) == 0);	/* empty */
		snprintf(path, sizeof(path), "rm -rf %s", shm);
		CHECK(system(path) == 0);
	}
	CHECK(bay_link_data(a, "missing", b1, "missing") < 0);
}

static void
locate(void)
{
	struct config *cf = conf();
	char a[128], b[128], found[PATH_MAX];
	enum qstate st;

	snprintf(a, sizeof(a), "%s", new_bay());
	snprintf(b, sizeof(b), "%s", new_bay());
	cf->nclasses = 1;
	cf->classes[0].name = "-default";
	strv_add(&cf->classes[0].bays, a);
	cf->classes[0].return_bay = b;
	queue_bytes(b, "ret1", Q_RETURN, 1);
	queue_bytes(a, "out1", Q_OUTGOING, 1);
	CHECK(bay_locate(cf, "ret1", found, sizeof(found), &st) == 0);
	CHECK_STR(found, b);
	CHECK_INT(st, Q_RETURN);
	CHECK(bay_locate(cf, "out1", found, sizeof(found), &st) == 0);
	CHECK_STR(found, a);
	CHECK(bay_locate(cf, "none", found, sizeof(found), &st) < 0);
	CHECK_STR(err_get(), "no order none");
	strv_free(&cf->classes[0].bays);
	free(cf);
}

/* ---- recovery: each leftover state on its own ---- */

static void
recover_tmp(void)
{
	const char *bay = new_bay();
	struct recovery r;
	char old[PATH_MAX], young[PATH_MAX], dir[PATH_MAX];

	snprintf(old, sizeof(old), "%s/tmp/old", bay);
	snprintf(young, sizeof(young), "%s/tmp/young", bay);
	snprintf(dir, sizeof(dir), "%s/tmp/olddir", bay);
	put_file(old, "x");
	put_file(young, "x");
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/tmp/olddir/f", bay);
	put_file(dir, "x");
	age(dir, 3600);
	snprintf(dir, sizeof(dir), "%s/tmp/olddir", bay);
	age(old, 3600);
	age(dir, 3600);
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.tmp_removed, 2);
	CHECK(access(old, F_OK) < 0 && access(dir, F_OK) < 0);
	CHECK(access(young, F_OK) == 0);	/* may be a submit in progress */
	/* a crashed safe_write's temporary beside an order */
	snprintf(old, sizeof(old), "%s/outgoing/.tmp.1.2.3", bay);
	put_file(old, "version: 1\n");
	age(old, 3600);
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.tmp_removed, 1);
	CHECK(access(old, F_OK) < 0);
	CHECK_INT(r.corrupted, 0);
	/* a fresh one whose writer is dead (kill -9) goes at once; a live
	 * writer's (pid 1) stays until it is old */
	snprintf(old, sizeof(old), "%s/active/.tmp.999999999.2.3", bay);
	put_file(old, "version: 1\n");
	snprintf(young, sizeof(young), "%s/active/.tmp.1.2.3", bay);
	put_file(young, "version: 1\n");
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.tmp_removed, 1);
	CHECK(access(old, F_OK) < 0);
	CHECK(access(young, F_OK) == 0);
}

static void
recover_active(void)
{
	const char *bay = new_bay();
	struct recovery r;
	enum qstate st;

	queue_bytes(bay, "act1", Q_ACTIVE, 5);
	queue_bytes(bay, "out1", Q_OUTGOING, 5);
	queue_bytes(bay, "def1", Q_DEFERRED, 5);
	queue_bytes(bay, "hold1", Q_HOLD, 5);
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.active_requeued, 1);
	CHECK(bay_find(bay, "act1", &st) == 0 && st == Q_OUTGOING);
	CHECK(bay_find(bay, "out1", &st) == 0 && st == Q_OUTGOING);
	CHECK(bay_find(bay, "def1", &st) == 0 && st == Q_DEFERRED);
	CHECK(bay_find(bay, "hold1", &st) == 0 && st == Q_HOLD);
	CHECK(exists(bay, "data", "act1"));
	CHECK_INT(r.data_orphans + r.tmp_removed + r.corrupted + r.unpack_removed, 0);
}

static void
recover_orphan_data(void)
{
	const char *bay = new_bay();
	struct recovery r;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/data/orphan-old", bay);
	put_file(path, "x");
	age(path, 2 * BAY_ORPHAN_AGE);
	snprintf(path, sizeof(path), "%s/data/orphan-young", bay);
	put_file(path, "x");
	queue_bytes(bay, "kept", Q_HOLD, 5);
	queue_bytes(bay, "bad", Q_CORRUPT, 5);
	snprintf(path, sizeof(path), "%s/data/kept", bay);
	age(path, 3600);
	snprintf(path, sizeof(path), "%s/data/bad", bay);
	age(path, 3600);
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.data_orphans, 1);
	CHECK(!exists(bay, "data", "orphan-old"));
	CHECK(exists(bay, "data", "orphan-young"));
	CHECK(exists(bay, "data", "kept"));
	CHECK(exists(bay, "data", "bad"));	/* a corrupt order still names its data */
	/* bay_finish killed between unlinking the order and the data: the
	 * seen marker says it is done, so even fresh data goes */
	snprintf(path, sizeof(path), "%s/data/finished", bay);
	put_file(path, "x");
	CHECK(bay_mark_seen(bay, "finished", 0) == 0);
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.data_orphans, 1);
	CHECK(!exists(bay, "data", "finished"));
	CHECK(exists(bay, "data", "orphan-young"));
}

static void
recover_unpack(void)
{
	const char *bay = new_bay();
	struct recovery r;
	char path[PATH_MAX], *c;

	/* no receipt: extraction never completed, start over */
	snprintf(path, sizeof(path), "%s/unpack/u1", bay);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/unpack/u1/sub", bay);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/unpack/u1/sub/half", bay);
	put_file(path, "partial");
	/* receipt written: the moves into incoming/ finish, never overwriting */
	snprintf(path, sizeof(path), "%s/unpack/u2", bay);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/unpack/u2/report.txt", bay);
	put_file(path, "new");
	snprintf(path, sizeof(path), "%s/unpack/u2/other", bay);
	put_file(path, "o");
	snprintf(path, sizeof(path), "%s/receipts/u2", bay);
	put_file(path, "version: 1\n");
	snprintf(path, sizeof(path), "%s/incoming/report.txt", bay);
	put_file(path, "old");
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.unpack_removed, 1);
	CHECK_INT(r.unpack_finished, 1);
	CHECK(!exists(bay, "unpack", "u1") && !exists(bay, "unpack", "u2"));
	c = read_file(path, 100, NULL);
	CHECK(c && strcmp(c, "old") == 0);
	free(c);
	snprintf(path, sizeof(path), "%s/incoming/report.txt_1", bay);
	c = read_file(path, 100, NULL);
	CHECK(c && strcmp(c, "new") == 0);
	free(c);
	CHECK(exists(bay, "incoming", "other"));
	CHECK(exists(bay, "receipts", "u2"));
	/* finishing again is a no-op */
	CHECK(bay_unpack_finish(bay, "u2", NULL) == 0);
}

static void
recover_unparseable(void)
{
	const char *bay = new_bay();
	struct recovery r;
	char path[PATH_MAX], *why;

	queue_bytes(bay, "good", Q_DEFERRED, 5);
	snprintf(path, sizeof(path), "%s/deferred/trunc", bay);
	put_file(path, "version: 1\nid: trunc\n");
	snprintf(path, sizeof(path), "%s/active/wrongname", bay);
	put_file(path, "version: 1\n");
	snprintf(path, sizeof(path), "%s/hold/bad name", bay);
	put_file(path, "junk");
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.corrupted, 3);
	CHECK(exists(bay, "deferred", "good"));
	CHECK(exists(bay, "corrupt", "trunc") && !exists(bay, "deferred", "trunc"));
	CHECK(exists(bay, "corrupt", "wrongname"));
	CHECK(exists(bay, "corrupt", "bad name"));
	snprintf(path, sizeof(path), "%s/corrupt/trunc.why", bay);
	why = read_file(path, 4096, NULL);
	CHECK(why && strstr(why, "missing \"end\"") != NULL);
	free(why);
	/* recovery is idempotent: a second run changes nothing */
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.corrupted + r.active_requeued + r.tmp_removed + r.data_orphans, 0);
}

int
main(void)
{
	if (qt_start("test_bay") < 0)
		return 1;
	TEST(init_dirs);
	TEST(ready_dirs);
	TEST(states);
	TEST(move_find);
	TEST(rewrite_lost_race);
	TEST(corrupt);
	TEST(finish);
	TEST(space);
	TEST(backoff);
	TEST(defer);
	TEST(scan);
	TEST(all_and_choose);
	TEST(link_data);
	TEST(locate);
	TEST(recover_tmp);
	TEST(recover_active);
	TEST(recover_orphan_data);
	TEST(recover_unpack);
	TEST(recover_unparseable);
	if (qt_end() < 0)
		return 1;
	T_DONE();
}
