/*
 * test_deliver.c - delivering here exactly once (queue/commit.h's
 * bay_deliver, bay_join, bay_unpack_finish), with a failure injected at
 * every durable step in turn, as an error and as a crash (qt.h's
 * fault_sweep), then the restarted daemon's work redone: one copy of the
 * file in incoming/, every order finished, nothing left in unpack/ or any
 * state. Also: a live join worker that recovery must leave alone, parts
 * that come again after the group was delivered, a failing move into
 * incoming/, and a delivered name too long for a numbered copy.
 */
#include "qt.h"

/* ---- delivery and joins ---- */

static int extractions;

/* A stand-in for packet_open: the parts' data, concatenated, as "payload". */
static int
fake_extract(void *arg, const char *const *paths, int n, const char *dir, struct strv *names)
{
	char out[PATH_MAX];
	FILE *f;

	extractions++;
	if (path_fmt(out, sizeof(out), "%s/payload", dir) < 0 || (f = fopen(out, "w")) == NULL)
		return BAY_LATER;
	for (int i = 0; i < n; i++) {
		char *d = read_file(paths[i], 1 << 20, NULL);

		if (d == NULL) {
			fclose(f);
			return BAY_REFUSED;
		}
		fputs(d, f);
		free(d);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return BAY_LATER;
	}
	fclose(f);
	strv_add(names, "payload");
	return 0;
}

/* Parts "G.pKof3" of group G addressed here, data "aa", "bb", "cc". */
static void
part_order(struct order *o, int k)
{
	char id[64];

	snprintf(id, sizeof(id), "G.p%dof3", k);
	make_order(o, id);
	o->part = k;
	o->nparts = 3;
	o->group = xstrdup("G");
}

/* What a join worker records in receipts/G: part 1's order. */
static struct order g_receipt;

static void
put_part(const char *bay, int k, enum qstate st)
{
	char dir[PATH_MAX], path[PATH_MAX], data[4] = {0};
	struct order o;

	part_order(&o, k);
	bay_path(dir, sizeof(dir), bay, st, NULL);
	order_save(dir, &o);
	bay_data_path(path, sizeof(path), bay, o.id);
	data[0] = data[1] = 'a' + k - 1;
	put_file(path, data);
	order_free(&o);
}

/*
 * The daemon's work on orders addressed here, until nothing changes (what
 * sender.c and the queue manager do with them): an order in outgoing/ is
 * claimed and delivered (a part joins its group or waits in joining/); a
 * group in joining/ that is complete, or delivered already, is joined.
 */
static void
settle(const char *bay)
{
	for (int round = 0; round < 10; round++) {
		struct strv ids = {0};
		char dir[PATH_MAX];
		int changed = 0;

		bay_path(dir, sizeof(dir), bay, Q_OUTGOING, NULL);
		bay_list_dir(dir, &ids);
		for (int i = 0; i < ids.n; i++) {
			struct claim c;
			struct order o;
			char data[PATH_MAX];
			const char *pp[1];
			int rc;

			if (bay_claim(&c, bay, ids.v[i], Q_OUTGOING) != 0)
				continue;
			changed = 1;
			if (bay_load(bay, ids.v[i], Q_ACTIVE, &o) < 0) {
				bay_release(&c);
				continue;
			}
			if (o.nparts > 1)
				rc = bay_join(bay, o.group, o.nparts, &o, &o, fake_extract, NULL, NULL);
			else {
				bay_data_path(data, sizeof(data), bay, o.id);
				pp[0] = data;
				rc = bay_deliver(bay, o.id, &o, pp, 1, fake_extract, NULL, NULL);
				rc = rc == 1 ? 0 : rc;
			}
			if (rc == 0)
				CHECK(bay_finish(bay, o.id, Q_ACTIVE) == 0);
			else if (rc == 1)
				CHECK(bay_rewrite(bay, &o, Q_ACTIVE, Q_JOINING, 0, &c) == 0);
			else
				CHECK(bay_move(bay, o.id, Q_ACTIVE, Q_OUTGOING) == 0);
			order_free(&o);
			bay_release(&c);
		}
		strv_free(&ids);
		bay_path(dir, sizeof(dir), bay, Q_JOINING, NULL);
		bay_list_dir(dir, &ids);
		if ((ids.n == 3 || (ids.n > 0 && bay_delivered(bay, "G"))) &&
		    bay_join(bay, "G", 3, NULL, &g_receipt, fake_extract, NULL, NULL) == 0)
			changed = 1;
		strv_free(&ids);
		if (!changed)
			break;
	}
}

/* Exactly once: one payload with every part, nothing left anywhere. */
static void
check_delivered(const char *bay, const char *want, const char *key)
{
	char *p = slurp(bay, Q_INCOMING, "payload");

	CHECK(p && strcmp(p, want) == 0);
	free(p);
	CHECK_INT(entries(bay, Q_INCOMING), 1);		/* no payload_1 */
	CHECK_INT(entries(bay, Q_UNPACK), 0);
	CHECK(bay_delivered(bay, key));
	for (int st = 0; st < Q_NSTATES; st++)
		if (entries(bay, (enum qstate)st) != 0) {
			printf("#   left in %s\n", qstate_name((enum qstate)st));
			CHECK(0);
		}
	CHECK_INT(entries(bay, Q_DATA), 0);
}

static void
deliver_prepare(const char *bay)
{
	queue(bay, "s1", Q_OUTGOING, "single");
}

/* A send worker delivering here: claim, deliver, finish. */
static int
deliver_run(const char *bay)
{
	struct claim c;
	struct order o;
	char data[PATH_MAX];
	const char *pp[1];
	int rc;

	if (bay_claim(&c, bay, "s1", Q_OUTGOING) != 0)
		return -1;
	if (bay_load(bay, "s1", Q_ACTIVE, &o) < 0) {
		bay_release(&c);
		return -1;
	}
	bay_data_path(data, sizeof(data), bay, "s1");
	pp[0] = data;
	rc = bay_deliver(bay, "s1", &o, pp, 1, fake_extract, NULL, NULL);
	if (rc == 0 || rc == 1)
		rc = bay_finish(bay, "s1", Q_ACTIVE);
	order_free(&o);
	bay_release(&c);
	return rc == 0 ? 0 : -1;
}

static void
deliver_check(const char *bay, int rc)
{
	settle(bay);
	check_delivered(bay, "single", "s1");
}

static void
deliver_once(void)
{
	const struct sweep_case c = {deliver_prepare, deliver_run, deliver_check, EIO};

	fault_sweep(&c);
}

static void
join_prepare(const char *bay)
{
	for (int k = 1; k <= 3; k++)
		put_part(bay, k, Q_JOINING);
}

/* A join worker: every part is waiting in joining/. */
static int
join_run(const char *bay)
{
	return bay_join(bay, "G", 3, NULL, &g_receipt, fake_extract, NULL, NULL);
}

static void
join_check(const char *bay, int rc)
{
	settle(bay);
	check_delivered(bay, "aabbcc", "G");
	for (int k = 1; k <= 3; k++) {
		char id[32];

		snprintf(id, sizeof(id), "G.p%dof3", k);
		CHECK(bay_seen(bay, id));
	}
}

static void
join_once(void)
{
	const struct sweep_case c = {join_prepare, join_run, join_check, EIO};

	fault_sweep(&c);
}

static void
join_self_prepare(const char *bay)
{
	put_part(bay, 1, Q_JOINING);
	put_part(bay, 2, Q_JOINING);
	put_part(bay, 3, Q_OUTGOING);
}

/* The last part's own send worker completes the group. */
static int
join_self_run(const char *bay)
{
	struct claim c;
	struct order o;
	int rc;

	if (bay_claim(&c, bay, "G.p3of3", Q_OUTGOING) != 0)
		return -1;
	if (bay_load(bay, "G.p3of3", Q_ACTIVE, &o) < 0) {
		bay_release(&c);
		return -1;
	}
	rc = bay_join(bay, "G", 3, &o, &o, fake_extract, NULL, NULL);
	if (rc == 0)
		rc = bay_finish(bay, o.id, Q_ACTIVE);
	order_free(&o);
	bay_release(&c);
	return rc == 0 ? 0 : -1;
}

static void
join_self(void)
{
	const struct sweep_case c = {join_self_prepare, join_self_run, join_check, EIO};

	fault_sweep(&c);
}

/*
 * A join worker that is alive is not dead: while it holds the parts (here
 * it waits inside its extraction), a daemon's sweep and a start-up
 * recovery (say, a `shipd --poll` starting) leave them alone, and the
 * group is delivered once.
 */
static int gate[2];

static int
slow_extract(void *arg, const char *const *paths, int n, const char *dir, struct strv *names)
{
	char c;

	if (write(gate[1], "x", 1) != 1 || read(gate[0], &c, 1) != 1)
		return BAY_LATER;
	return fake_extract(arg, paths, n, dir, names);
}

static void
join_live_worker(void)
{
	const char *bay = new_bay();
	struct recovery r;
	int to_child[2], from_child[2], status;
	char c;
	pid_t pid;

	join_prepare(bay);
	if (pipe(to_child) < 0 || pipe(from_child) < 0)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		gate[0] = to_child[0];
		gate[1] = from_child[1];
		_exit(bay_join(bay, "G", 3, NULL, &g_receipt, slow_extract, NULL, NULL) == 0 ? 0 : 1);
	}
	CHECK(read(from_child[0], &c, 1) == 1);		/* it holds every part now */
	CHECK_INT(entries(bay, Q_ACTIVE), 3);
	CHECK(bay_sweep(bay, NULL, NULL, NULL, &r) == 0);
	CHECK_INT(r.active_requeued, 0);
	CHECK(bay_recover(bay, &r) == 0);
	CHECK_INT(r.active_requeued, 0);
	CHECK_INT(entries(bay, Q_ACTIVE), 3);
	CHECK_INT(entries(bay, Q_OUTGOING), 0);
	CHECK(write(to_child[1], "x", 1) == 1);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	settle(bay);
	check_delivered(bay, "aabbcc", "G");
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
}

/*
 * Delivered once, then parts of the group come again (a crash after the
 * commit point left them, or an earlier journey arrives): they are
 * finished, never opened again, never left waiting in joining/.
 */
static void
join_after_receipt(void)
{
	const char *bay = new_bay();

	join_prepare(bay);
	extractions = 0;
	CHECK_INT(join_run(bay), 0);
	CHECK_INT(extractions, 1);
	put_part(bay, 2, Q_JOINING);		/* a second copy of part 2 */
	CHECK_INT(bay_join(bay, "G", 3, NULL, &g_receipt, fake_extract, NULL, NULL), 0);
	CHECK_INT(extractions, 1);
	CHECK_INT(entries(bay, Q_JOINING), 0);
	check_delivered(bay, "aabbcc", "G");
}

/*
 * A delivered name whose numbered copy would pass NAME_MAX: the name is
 * shortened to make room, the file delivered; never a receipt with the
 * file left in unpack/ (it used to end "done").
 */
static void
long_name_clash(void)
{
	const char *bay = new_bay();
	char name[NAME_MAX + 1], dir[PATH_MAX], path[PATH_MAX], want[NAME_MAX + 1];
	struct strv finals = {0};
	char *c;

	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = 0;
	memcpy(name + NAME_MAX - 4, ".dat", 4);
	bay_path(path, sizeof(path), bay, Q_INCOMING, name);
	put_file(path, "first");
	bay_path(dir, sizeof(dir), bay, Q_UNPACK, "u1");
	mkdir(dir, 0700);
	CHECK(path_fmt(path, sizeof(path), "%s/%s", dir, name) == 0);
	put_file(path, "second");
	CHECK(bay_unpack_finish(bay, "u1", &finals) == 0);
	CHECK(!has(bay, Q_UNPACK, "u1"));
	snprintf(want, sizeof(want), "%.*s_1", NAME_MAX - 2, name);
	CHECK(finals.n == 1 && strcmp(finals.v[0], want) == 0);
	c = slurp(bay, Q_INCOMING, want);
	CHECK(c && strcmp(c, "second") == 0);
	free(c);
	c = slurp(bay, Q_INCOMING, name);
	CHECK(c && strcmp(c, "first") == 0);
	free(c);
	strv_free(&finals);
	/* a multibyte character is never cut in half */
	memset(name, 'm', NAME_MAX);
	memcpy(name + NAME_MAX - 3, "\xc3\xa9x", 3);
	bay_path(path, sizeof(path), bay, Q_INCOMING, name);
	put_file(path, "first");
	mkdir(dir, 0700);
	CHECK(path_fmt(path, sizeof(path), "%s/%s", dir, name) == 0);
	put_file(path, "second");
	CHECK(bay_unpack_finish(bay, "u1", &finals) == 0);
	CHECK(finals.n == 1 && strlen(finals.v[0]) == NAME_MAX - 1);
	strv_free(&finals);
}

/*
 * Any failure to place a file keeps the delivery pending: bay_deliver
 * says BAY_LATER (the order stays), and once the moves can be made the
 * file arrives; it never answers "delivered" with the file in unpack/.
 */
static int
deliver_s2(const char *bay)
{
	char data[PATH_MAX];
	const char *pp[1];
	struct order o;
	int rc;

	make_order(&o, "s2");
	bay_data_path(data, sizeof(data), bay, "s2");
	pp[0] = data;
	rc = bay_deliver(bay, "s2", &o, pp, 1, fake_extract, NULL, NULL);
	order_free(&o);
	return rc;
}

static void
deliver_place_fails(void)
{
	const char *bay = new_bay();
	long s0, n;

	queue(bay, "s2", Q_ACTIVE, "two");
	s0 = safe_steps();
	CHECK_INT(deliver_s2(bay), 0);
	n = safe_steps() - s0;	/* the last three: move, fsync incoming/, fsync unpack/ */
	bay = new_bay();
	queue(bay, "s2", Q_ACTIVE, "two");
	safe_fault(n - 2, EIO);	/* the move into incoming/ fails */
	CHECK_INT(deliver_s2(bay), BAY_LATER);
	safe_fault(0, 0);
	CHECK(has(bay, Q_UNPACK, "s2") && bay_delivered(bay, "s2"));
	CHECK(!has(bay, Q_INCOMING, "payload"));
	/* the retry only finishes the moves; while they fail it says so */
	safe_fault(1, EIO);
	CHECK_INT(deliver_s2(bay), BAY_LATER);
	safe_fault(0, 0);
	extractions = 0;
	CHECK_INT(deliver_s2(bay), 1);
	CHECK_INT(extractions, 0);
	CHECK(!has(bay, Q_UNPACK, "s2") && has(bay, Q_INCOMING, "payload"));
}

/*
 * A group of deliveries committed together (bay_deliver_held, then one
 * fsync of unpack/, receipts/, incoming/ and seen/ for all: what a
 * receiver does with the small packets of one window), failed and
 * crashed at each step in turn: after a restart and the sender's offers
 * again (those not acknowledged: all of them), each of the three files is
 * in incoming/ exactly once, with its receipt and its seen/ marker.
 */
static const char *const held_keys[] = {"h1", "h2", "h3"};

/* A stand-in for the receiver's opener: file "f-KEY" holding KEY. */
static int
held_extract(void *arg, const char *const *paths, int n, const char *dir, struct strv *names)
{
	char out[PATH_MAX], name[32];

	snprintf(name, sizeof(name), "f-%s", (const char *)arg);
	if (path_fmt(out, sizeof(out), "%s/%s", dir, name) < 0 ||
	    safe_write_nosync(dir, name, arg, strlen(arg), 0600) < 0)
		return BAY_LATER;
	strv_add(names, name);
	return 0;
}

static void
held_prepare(const char *bay)
{
	(void)bay;
}

static int
held_run(const char *bay)
{
	struct order o[3];
	struct strv made[3] = {{0}};
	int lock[3], ok = 0;

	for (int i = 0; i < 3; i++) {
		make_order(&o[i], held_keys[i]);
		lock[i] = -1;
		if (bay_deliver_held(bay, held_keys[i], &o[i], held_extract,
				     (void *)held_keys[i], &lock[i], &made[i]) != 0)
			ok = -1;
	}
	if (ok == 0 && (bay_dir_sync(bay, Q_UNPACK) < 0 || bay_dir_sync(bay, Q_RECEIPTS) < 0))
		ok = -1;
	for (int i = 0; i < 3 && ok == 0; i++)
		if (bay_unpack_move(bay, held_keys[i], &made[i], NULL) < 0)
			ok = -1;
	if (ok == 0 && bay_dir_sync(bay, Q_INCOMING) < 0)
		ok = -1;
	for (int i = 0; i < 3 && ok == 0; i++)
		if (bay_deliver_seen(bay, held_keys[i], o[i].expires, 0) < 0)
			ok = -1;
	if (ok == 0 && bay_dir_sync(bay, Q_SEEN) < 0)
		ok = -1;
	for (int i = 0; i < 3; i++) {
		if (lock[i] >= 0)
			close(lock[i]);
		order_free(&o[i]);
		strv_free(&made[i]);
	}
	return ok;
}

static void
held_check(const char *bay, int rc)
{
	/* what was not acknowledged is offered again: delivered, or found
	 * delivered (its moves finished), never extracted twice */
	for (int i = 0; i < 3; i++) {
		struct order o;
		int r, lock = -1;

		make_order(&o, held_keys[i]);
		r = bay_deliver_held(bay, held_keys[i], &o, held_extract, (void *)held_keys[i],
				     &lock, NULL);
		CHECK(r == 0 || r == 1);
		if (lock >= 0)
			close(lock);
		CHECK(bay_dir_sync(bay, Q_UNPACK) == 0 && bay_dir_sync(bay, Q_RECEIPTS) == 0);
		CHECK(bay_unpack_finish(bay, held_keys[i], NULL) == 0);
		CHECK(bay_deliver_seen(bay, held_keys[i], o.expires, 1) == 0);
		order_free(&o);
	}
	CHECK_INT(entries(bay, Q_INCOMING), 3);		/* no f-h1_1 */
	CHECK_INT(entries(bay, Q_UNPACK), 0);
	for (int i = 0; i < 3; i++) {
		char name[32], *c;

		snprintf(name, sizeof(name), "f-%s", held_keys[i]);
		c = slurp(bay, Q_INCOMING, name);
		CHECK(c && strcmp(c, held_keys[i]) == 0);
		free(c);
		CHECK(bay_delivered(bay, held_keys[i]) && bay_seen(bay, held_keys[i]));
	}
}

static void
held_group(void)
{
	const struct sweep_case c = {held_prepare, held_run, held_check, EIO};
	const char *bay;
	long before;

	fault_sweep(&c);
	/* and the point of it: three deliveries, one fsync of each
	 * unpack/KEY and four for the group, not five for each */
	bay = new_bay();
	before = safe_dir_fsyncs();
	CHECK_INT(held_run(bay), 0);
	CHECK_INT(safe_dir_fsyncs() - before, 3 + 4);
	CHECK_INT(entries(bay, Q_INCOMING), 3);
	CHECK_INT(entries(bay, Q_UNPACK), 0);
}

int
main(void)
{
	if (qt_start("test_deliver") < 0)
		return 1;
	part_order(&g_receipt, 1);
	TEST(deliver_once);
	TEST(deliver_place_fails);
	TEST(join_once);
	TEST(join_self);
	TEST(join_live_worker);
	TEST(join_after_receipt);
	TEST(long_name_clash);
	TEST(held_group);
	order_free(&g_receipt);
	if (qt_end() < 0)
		return 1;
	T_DONE();
}
