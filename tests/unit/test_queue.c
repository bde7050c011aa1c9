/*
 * test_queue.c - the queue's commit verbs (queue/commit.h) other than
 * delivery (test_deliver.c): enqueue, claim, rewrite and defer, receive
 * and accept, corrupt, finish and remove, each run with a failure
 * injected at every durable step in turn (qt.h's fault_sweep: an error
 * the verb sees, then a crash). After each, the bay is recovered as a
 * restarted daemon would and must hold every order exactly once, with its
 * data, nothing half-written visible. Also: two claimers, a full disk at
 * the defer record, and the running daemon's sweep.
 */
#include "qt.h"
#include "queue/spoollock.h"

/* ---- enqueue ---- */

static void
enq_prepare(const char *bay)
{
	char path[PATH_MAX];

	bay_path(path, sizeof(path), bay, Q_TMP, "sealed");
	put_file(path, "12345");
}

static int
enq_run(const char *bay)
{
	char path[PATH_MAX];
	struct order o;
	int rc;

	make_order(&o, "e1");
	bay_path(path, sizeof(path), bay, Q_TMP, "sealed");
	rc = bay_enqueue(bay, &o, Q_OUTGOING, path);
	order_free(&o);
	return rc;
}

static void
enq_check(const char *bay, int rc)
{
	check_once(bay, "e1", rc == 0);
	if (rc == 0 || has(bay, Q_OUTGOING, "e1")) {
		char *d = slurp(bay, Q_DATA, "e1");

		CHECK(d && strcmp(d, "12345") == 0);
		free(d);
	}
	CHECK_INT(entries(bay, Q_TMP), 0);
}

static void
enqueue(void)
{
	const struct sweep_case c = {enq_prepare, enq_run, enq_check, EIO};

	fault_sweep(&c);
}

static void
enqueue_from_prepare(const char *bay)
{
	queue(bay, "r1", Q_RETURN, "12345");
}

static int
enqueue_from_run(const char *bay)
{
	struct order o;
	int rc;

	make_order(&o, "r1.r1");
	rc = bay_enqueue_from(bay, "r1", bay, &o, Q_OUTGOING);
	order_free(&o);
	if (rc == 0)
		rc = bay_remove(bay, "r1", Q_RETURN);
	return rc;
}

/* resubmit: the returned order or the new one, or both; never neither */
static void
enqueue_from_check(const char *bay, int rc)
{
	check_once(bay, "r1.r1", rc == 0);
	check_once(bay, "r1", 0);
	CHECK(states_of(bay, "r1", NULL) + states_of(bay, "r1.r1", NULL) >= 1);
}

static void
enqueue_from(void)
{
	const struct sweep_case c = {enqueue_from_prepare, enqueue_from_run, enqueue_from_check,
				     EIO};

	fault_sweep(&c);
}

/* ---- claim, rewrite, defer ---- */

static void
claim_prepare(const char *bay)
{
	queue(bay, "c1", Q_OUTGOING, "12345");
}

/* A worker: claim, record progress in place, then defer it. */
static int
claim_run(const char *bay)
{
	struct claim c;
	struct order o;
	int rc;

	if ((rc = bay_claim(&c, bay, "c1", Q_OUTGOING)) != 0)
		return -1;
	if (bay_load(bay, "c1", Q_ACTIVE, &o) < 0) {
		bay_release(&c);
		return -1;
	}
	strv_add(&o.delivered, "X");
	rc = bay_rewrite(bay, &o, Q_ACTIVE, Q_ACTIVE, 0, &c);
	if (rc == 0)
		rc = bay_defer(&cfg, bay, &o, Q_ACTIVE, "connect B: refused");
	order_free(&o);
	bay_release(&c);
	return rc;
}

static void
claim_check(const char *bay, int rc)
{
	enum qstate st = Q_NSTATES;

	check_once(bay, "c1", 1);
	states_of(bay, "c1", &st);
	CHECK(st == Q_OUTGOING || st == Q_DEFERRED);	/* never stuck in active/ */
	if (rc == 0)
		CHECK_INT(st, Q_DEFERRED);
}

static void
claim_rewrite_defer(void)
{
	struct sweep_case c = {claim_prepare, claim_run, claim_check, EIO};

	fault_sweep(&c);
	c.err = ENOSPC;
	fault_sweep(&c);
}

/* Two claimers: one wins; the claimed order is never unlocked in active/. */
static void
claim_twice(void)
{
	const char *bay = new_bay();
	struct claim a, b;
	char path[PATH_MAX];
	int fd;

	queue(bay, "c2", Q_OUTGOING, "x");
	CHECK_INT(bay_claim(&a, bay, "c2", Q_OUTGOING), 0);
	CHECK_INT(bay_claim(&b, bay, "c2", Q_OUTGOING), 1);
	CHECK(has(bay, Q_ACTIVE, "c2"));
	bay_path(path, sizeof(path), bay, Q_ACTIVE, "c2");
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0);	/* held */
	close(fd);
	CHECK_INT(bay_requeue(bay, "c2"), 1);			/* held: stays */
	bay_release(&a);
	CHECK_INT(bay_requeue(bay, "c2"), 0);			/* nobody: back */
	CHECK(has(bay, Q_OUTGOING, "c2") && !has(bay, Q_ACTIVE, "c2"));
}

/*
 * Full disk: the new defer record cannot be written. The order must not
 * stay in active/ (it used to, for good): it is deferred as it was, with
 * the next attempt as its mtime.
 */
static void
defer_full_disk(void)
{
	const char *bay = new_bay();
	struct claim c;
	struct order o;
	struct stat sb;
	char path[PATH_MAX];

	queue(bay, "f1", Q_OUTGOING, "x");
	CHECK_INT(bay_claim(&c, bay, "f1", Q_OUTGOING), 0);
	CHECK(bay_load(bay, "f1", Q_ACTIVE, &o) == 0);
	safe_fault(1, ENOSPC);		/* the record's temporary: no space */
	CHECK(bay_defer(&cfg, bay, &o, Q_ACTIVE, "no route") == 0);
	safe_fault(0, 0);
	bay_release(&c);
	CHECK(!has(bay, Q_ACTIVE, "f1"));
	CHECK(has(bay, Q_DEFERRED, "f1"));
	bay_path(path, sizeof(path), bay, Q_DEFERRED, "f1");
	CHECK(stat(path, &sb) == 0 && sb.st_mtime == o.next_attempt && o.next_attempt > time(NULL));
	CHECK_INT(temporaries(bay), 0);
	order_free(&o);
}

/* ---- receive and accept, as a batch ---- */

static const char *const acc_ids[] = {"p1", "p2", "p3"};

static void
acc_prepare(const char *bay)
{
	char path[PATH_MAX];

	for (int i = 0; i < 3; i++) {
		bay_path(path, sizeof(path), bay, Q_PARTIAL, acc_ids[i]);
		put_file(path, "12345");
	}
}

static int
acc_run(const char *bay)
{
	struct order o[3];
	const struct order *v[3];
	int rc;

	for (int i = 0; i < 3; i++) {
		make_order(&o[i], acc_ids[i]);
		v[i] = &o[i];
	}
	rc = bay_accept(bay, v, 3);
	for (int i = 0; i < 3; i++)
		order_free(&o[i]);
	return rc;
}

/*
 * An error: none accepted, each packet in partial/ to resume. A crash:
 * each either accepted (an order with its data) or not; a packet not
 * accepted was never acknowledged, so its sender offers it again (here:
 * it is received again where recovery removed it) and the next accept
 * takes it.
 */
static void
acc_check(const char *bay, int rc)
{
	const struct order *v[3];
	struct order o[3];
	char path[PATH_MAX];
	int again = 0;

	for (int i = 0; i < 3; i++) {
		check_once(bay, acc_ids[i], rc == 0);
		if (has(bay, Q_OUTGOING, acc_ids[i]))
			continue;
		if (rc != -9) {
			char *d = slurp(bay, Q_PARTIAL, acc_ids[i]);

			CHECK(rc < 0 && d && strcmp(d, "12345") == 0);
			free(d);
		} else if (!has(bay, Q_PARTIAL, acc_ids[i])) {
			bay_path(path, sizeof(path), bay, Q_PARTIAL, acc_ids[i]);
			put_file(path, "12345");
		}
		make_order(&o[again], acc_ids[i]);
		v[again] = &o[again];
		again++;
	}
	CHECK(bay_accept(bay, v, again) == 0);
	for (int i = 0; i < again; i++)
		order_free(&o[i]);
	for (int i = 0; i < 3; i++)
		check_once(bay, acc_ids[i], 1);
}

static void
accept_batch(void)
{
	const struct sweep_case c = {acc_prepare, acc_run, acc_check, EIO};

	fault_sweep(&c);
}

static void
partial(void)
{
	const char *bay = new_bay();
	uint64_t off;
	int fd, fd2;
	char *why;

	fd = bay_partial_open(bay, "q1", 100, &off);
	CHECK(fd >= 0 && off == 0);
	CHECK(write(fd, "abcde", 5) == 5);
	/* a second transfer of the same packet is busy */
	CHECK_INT(bay_partial_open(bay, "q1", 100, &off), BAY_BUSY);
	close(fd);
	/* the next attempt resumes where it stopped */
	fd = bay_partial_open(bay, "q1", 100, &off);
	CHECK(fd >= 0 && off == 5);
	close(fd);
	/* more than announced: start afresh */
	fd2 = bay_partial_open(bay, "q1", 3, &off);
	CHECK(fd2 >= 0 && off == 0);
	close(fd2);
	/* refused: kept in corrupt/ with its reason */
	CHECK(bay_partial_corrupt(bay, "q1", "trailer signature\nbad") == 0);
	CHECK(!has(bay, Q_PARTIAL, "q1") && has(bay, Q_CORRUPT, "q1.pkt"));
	why = slurp(bay, Q_CORRUPT, "q1.pkt.why");
	CHECK(why && strcmp(why, "trailer signature bad\n") == 0);
	free(why);
	CHECK(bay_partial_open(bay, "../x", 3, &off) < 0);
}

/* a relay's cut-through follows partial/ID as it grows, across the commit */
static void
follow(void)
{
	const char *bay = new_bay();
	char from[PATH_MAX], to[PATH_MAX], buf[8];
	uint64_t off;
	int fd, rd = -1;

	CHECK(bay_partial_follow(bay, "f1") < 0);	/* nothing received yet */
	fd = bay_partial_open(bay, "f1", 100, &off);
	CHECK(fd >= 0 && (rd = bay_partial_follow(bay, "f1")) >= 0);
	CHECK_INT(bay_partial_receiving(rd), 1);	/* the receiver holds it */
	/* the probe does not keep a resuming receiver out */
	CHECK_INT(bay_partial_receiving(rd), 1);
	CHECK(write(fd, "abc", 3) == 3 && pread(rd, buf, 3, 0) == 3 && memcmp(buf, "abc", 3) == 0);
	/* committed: the same file under data/, still read through rd */
	bay_path(from, sizeof(from), bay, Q_PARTIAL, "f1");
	bay_data_path(to, sizeof(to), bay, "f1");
	CHECK(rename(from, to) == 0 && write(fd, "de", 2) == 2);
	CHECK(pread(rd, buf, 5, 0) == 5 && memcmp(buf, "abcde", 5) == 0);
	close(fd);
	CHECK_INT(bay_partial_receiving(rd), 0);	/* the receiver let go */
	close(rd);
	CHECK((rd = bay_partial_follow(bay, "f1")) >= 0);	/* found in data/ */
	close(rd);
	CHECK(bay_partial_follow(bay, "../f1") < 0);
}

static void
corrupt_file_prepare(const char *bay)
{
	char path[PATH_MAX];

	bay_path(path, sizeof(path), bay, Q_PARTIAL, "k1");
	put_file(path, "bad");
}

static int
corrupt_file_run(const char *bay)
{
	return bay_partial_corrupt(bay, "k1", "does not verify");
}

/* the refused file is in partial/ or corrupt/, never lost */
static void
corrupt_file_check(const char *bay, int rc)
{
	CHECK(has(bay, Q_PARTIAL, "k1") != has(bay, Q_CORRUPT, "k1.pkt"));
	if (rc == 0)
		CHECK(has(bay, Q_CORRUPT, "k1.pkt"));	/* its .why is best effort */
}

static void
corrupt_file(void)
{
	const struct sweep_case c = {corrupt_file_prepare, corrupt_file_run, corrupt_file_check,
				     EIO};

	fault_sweep(&c);
}

/* ---- finish and remove ---- */

static void
finish_prepare(const char *bay)
{
	queue(bay, "d1", Q_ACTIVE, "x");
	queue(bay, "d2", Q_HOLD, "x");
}

static int
finish_run(const char *bay)
{
	if (bay_finish(bay, "d1", Q_ACTIVE) < 0)
		return -1;
	return bay_remove(bay, "d2", Q_HOLD);
}

static void
finish_check(const char *bay, int rc)
{
	check_once(bay, "d1", 0);
	check_once(bay, "d2", 0);
	/* finished means seen: the next hop's second offer is acked, not stored */
	if (states_of(bay, "d1", NULL) == 0)
		CHECK(bay_seen(bay, "d1"));
	CHECK(!bay_seen(bay, "d2"));
	if (rc == 0)
		CHECK(states_of(bay, "d1", NULL) + states_of(bay, "d2", NULL) == 0);
}

static void
finish_remove(void)
{
	const struct sweep_case c = {finish_prepare, finish_run, finish_check, EIO};

	fault_sweep(&c);
}

/* ---- the sweep ---- */

static int
busy_mine(void *arg, const char *bay, const char *id)
{
	return strcmp(id, "mine") == 0;
}

static void
sweep(void)
{
	const char *bay = new_bay();
	char path[PATH_MAX];
	struct strv requeued = {0};
	struct recovery r;
	struct claim c;

	/* a finished order whose data a crash left (seen marker, no order) */
	bay_data_path(path, sizeof(path), bay, "done1");
	put_file(path, "x");
	CHECK(bay_mark_seen(bay, "done1", 0) == 0);
	/* temporaries of writers that are gone, and one of a live writer */
	bay_path(path, sizeof(path), bay, Q_ACTIVE, ".tmp.999999999.1.1");
	put_file(path, "version: 1\n");
	bay_path(path, sizeof(path), bay, Q_DEFERRED, ".tmp.999999999.3.3");
	put_file(path, "version: 1\n");
	bay_path(path, sizeof(path), bay, Q_TMP, ".tmp.999999999.2.2");
	put_file(path, "sealing");
	bay_path(path, sizeof(path), bay, Q_ACTIVE, ".tmp.1.1.1");
	put_file(path, "version: 1\n");
	/* in active/: one nobody holds, one a worker holds, one the caller
	 * says it has in hand */
	queue(bay, "lost", Q_ACTIVE, "x");
	queue(bay, "held", Q_OUTGOING, "x");
	CHECK_INT(bay_claim(&c, bay, "held", Q_OUTGOING), 0);
	queue(bay, "mine", Q_ACTIVE, "x");
	/* a young orphan: a submit may be about to write its order */
	bay_data_path(path, sizeof(path), bay, "young");
	put_file(path, "x");

	CHECK(bay_sweep(bay, busy_mine, NULL, &requeued, &r) == 0);
	CHECK(requeued.n == 1 && strcmp(requeued.v[0], "lost") == 0);
	CHECK_INT(r.active_requeued, 1);
	CHECK(has(bay, Q_OUTGOING, "lost") && !has(bay, Q_ACTIVE, "lost"));
	CHECK(has(bay, Q_ACTIVE, "held") && has(bay, Q_ACTIVE, "mine"));
	CHECK(!has(bay, Q_DATA, "done1"));
	CHECK_INT(r.data_orphans, 1);
	CHECK(has(bay, Q_DATA, "young") && has(bay, Q_DATA, "held"));
	CHECK(!has(bay, Q_ACTIVE, ".tmp.999999999.1.1"));
	CHECK(!has(bay, Q_DEFERRED, ".tmp.999999999.3.3"));
	CHECK(!has(bay, Q_TMP, ".tmp.999999999.2.2"));
	CHECK_INT(r.tmp_removed, 3);
	CHECK(has(bay, Q_ACTIVE, ".tmp.1.1.1"));	/* pid 1 is alive */
	strv_free(&requeued);
	/* once the worker lets go, the next sweep takes its order back */
	bay_release(&c);
	CHECK(bay_sweep(bay, busy_mine, NULL, NULL, &r) == 0);
	CHECK_INT(r.active_requeued, 1);
	CHECK(has(bay, Q_OUTGOING, "held") && has(bay, Q_ACTIVE, "mine"));
}

/* ---- the spool lock (queue/spoollock.h) ---- */

static pid_t
dead_pid(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

/* a process holding SPOOL/shipd.pid's lock, the file naming pid `named`
 * (0: the holder's own); it exits after `ms` milliseconds (its pid is
 * returned) */
static pid_t
lock_holder(const struct config *cf, pid_t named, int ms)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char path[PATH_MAX], line[32];
	int fd, n;
	pid_t p;

	snprintf(path, sizeof(path), "%s/%s", cf->spool, SPOOL_LOCK_NAME);
	if ((fd = open(path, O_RDWR | O_CREAT, 0644)) < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0)
		return -1;
	if ((p = fork()) == 0) {
		usleep(ms * 1000);
		_exit(0);
	}
	n = snprintf(line, sizeof(line), "%ld\n", (long)(named ? named : p));
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, n, 0) != n)
		printf("#   cannot write %s\n", path);
	close(fd);	/* the child alone holds it now, as a worker of a killed master */
	return p;
}

static void
spool_lock_restart(void)
{
	struct config c = {0};
	char spool[PATH_MAX], buf[32];
	pid_t holder, h;
	int fd;

	snprintf(spool, sizeof(spool), "%s/spool", top);
	c.spool = spool;
	CHECK(mkdir(spool, 0700) == 0);
	/* the master is dead (-9), a worker it forked still holds the lock for
	 * 300 ms: the restart waits for it and takes the lock */
	h = lock_holder(&c, dead_pid(), 300);
	CHECK(h > 0);
	fd = spool_lock(&c, &holder);
	CHECK(fd >= 0);
	if (fd < 0)
		printf("#   %s\n", err_get());
	CHECK(pread(fd, buf, sizeof(buf), 0) > 0 && atol(buf) == (long)getpid());
	waitpid(h, NULL, 0);
	if (fd >= 0)
		close(fd);
	/* a live daemon holds it: refused at once, naming it */
	h = lock_holder(&c, 0, 3000);
	CHECK(h > 0);
	CHECK(spool_lock(&c, &holder) < 0);
	CHECK_INT(holder, h);
	CHECK_INT(spool_lock_holder(&c), h);
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
}

int
main(void)
{
	if (qt_start("test_queue") < 0)
		return 1;
	TEST(enqueue);
	TEST(enqueue_from);
	TEST(claim_rewrite_defer);
	TEST(claim_twice);
	TEST(defer_full_disk);
	TEST(accept_batch);
	TEST(partial);
	TEST(follow);
	TEST(corrupt_file);
	TEST(finish_remove);
	TEST(sweep);
	TEST(spool_lock_restart);
	if (qt_end() < 0)
		return 1;
	T_DONE();
}
