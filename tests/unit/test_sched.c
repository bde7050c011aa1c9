/*
 * test_sched.c - the daemon's scheduling as a module (src/sched/), fed a
 * struct sched and bays on disk: back-off arithmetic, batches grouped by
 * next hop (one worker at a time for a hop not known up), a dead next hop
 * remembered and tried again once per back-off period, an order newer
 * than the hop's failure still tried, a peer whose TCP is dropped
 * remembered in its peer file (UDP first until the probe), and the queue
 * manager's scans (due deferred orders, joinable groups, a class filter).
 */
#include "t.h"
#include "sched/sched.h"
#include "queue/commit.h"
#include "crypto/crypto.h"
#include "util/log.h"
#include "util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_B	"shipd1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=="

static char top[64], bay[128], docs[128];

/* A: peers B and C; D is behind B; classes -default and docs. */
static struct config *
conf(int max_children)
{
	char text[2048];
	struct config *cf;

	snprintf(text, sizeof(text),
		 "NODE A\n"
		 "PEER B 127.0.0.1 4590 " KEY_B "\n"
		 "PEER C 127.0.0.1 4591 " KEY_B "\n"
		 "KEY D " KEY_B "\n"
		 "ROUTE B D\n"
		 "STORAGE-CLASS -default %s\n"
		 "STORAGE-CLASS docs %s\n"
		 "RETRY-MIN 60s\nRETRY-MAX 1h\nMAX-CHILDREN %d\n",
		 bay, docs, max_children);
	cf = config_load_buf("sched.conf", text, strlen(text));
	if (cf == NULL)
		printf("# config: %s\n", err_get());
	return cf;
}

static int nid;

/* An order in state st of b for dests (comma-separated), created at created. */
static const char *
order_to(const char *b, const char *dests, enum qstate st, time_t created)
{
	static char id[64];
	char dir[PATH_MAX], list[256], *save, *d;
	struct order o;

	snprintf(id, sizeof(id), "o%03d", ++nid);
	order_init(&o);
	snprintf(o.id, sizeof(o.id), "%s", id);
	o.origin = xstrdup("A");
	o.sclass = xstrdup("-default");
	snprintf(list, sizeof(list), "%s", dests);
	for (d = strtok_r(list, ",", &save); d; d = strtok_r(NULL, ",", &save))
		strv_add(&o.dests, d);
	strv_add(&o.hops, "A");
	o.created = created;
	o.expires = created + 86400;
	o.size = 100;
	memset(o.digest, 'a', 64);
	bay_path(dir, sizeof(dir), b, st, NULL);
	if (order_save(dir, &o) < 0)
		printf("# order_save: %s\n", err_get());
	order_free(&o);
	return id;
}

/* Empty every state of the test bays. */
static void
clean(void)
{
	char cmd[PATH_MAX];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", bay, docs);
	if (system(cmd) != 0)
		printf("# %s failed\n", cmd);
	bay_init(bay);
	bay_init(docs);
}

/* Every job of a started batch leaves the busy set, as the master does. */
static void
done(struct sched *sc, struct job *j)
{
	while (j) {
		struct job *k = j->batch;

		htab_del(sc->busy, j->key);
		job_free(j);
		j = k;
	}
}

static void
backoff(void)
{
	struct config *cf = conf(10);
	struct sched sc;
	struct peerstate *p;
	time_t t0 = 1000000;
	static const int want[] = {60, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600};

	if (cf == NULL)
		return;
	for (int i = 0; i < 10; i++)
		CHECK_INT(bay_backoff(cf, i), want[i]);
	CHECK_INT(bay_backoff(cf, 1 << 30), 3600);	/* no overflow */
	/* a next hop's back-off grows with its consecutive failures */
	sched_init(&sc, cf);
	sc.quiet = 1;
	for (int i = 1; i <= 9; i++) {
		time_t now = t0 + 100000L * i;

		peer_failed(&sc, "B", "refused", now);
		p = peer_state(&sc, "B");
		CHECK(p != NULL && p->failures == i && p->down_until == now + want[i]);
	}
	peer_connected(&sc, "B", t0 + 2000000);
	p = peer_state(&sc, "B");
	CHECK(p->failures == 0 && p->down_until == 0 && p->up && p->why == NULL);
	sched_free(&sc);
	config_free(cf);
}

/* Hop keys of the test's orders, and what was started per key. */
static const char *const keys[] = {"B", "C", BATCH_LOCAL, ""};
struct tally {
	int batches[4], orders[4];
};

/* Start what can start; count batches and orders per hop key. */
static void
run_ready(struct sched *sc, time_t now, struct tally *t)
{
	struct job *j;

	while ((j = batch_next(sc, now)) != NULL) {
		int k;

		for (k = 0; k < 4 && strcmp(j->hop, keys[k]) != 0; k++)
			;
		CHECK(k < 4);
		for (struct job *b = j; k < 4 && b; b = b->batch) {
			CHECK_STR(b->hop, keys[k]);	/* never two hops in one batch */
			t->orders[k]++;
		}
		if (k < 4)
			t->batches[k]++;
		done(sc, j);
	}
}

/*
 * A scheduler with a pool of `pool` and ten ready orders - 5 via B (3 to
 * B, 2 to D behind it), 2 to C, 2 delivered here, 1 to both B and C (two
 * next hops: alone) - and what it starts at once, tallied. Returns its
 * configuration (NULL when it did not load).
 */
static struct config *
ten_orders(struct sched *sc, int pool, struct tally *t, time_t now)
{
	static const char *const dests[] = {"B", "D", "C", "A", "B", "D", "C", "A", "B", "B,C"};
	struct config *cf = conf(pool);

	if (cf == NULL)
		return NULL;
	clean();
	sched_init(sc, cf);
	sc->quiet = 1;
	for (int i = 0; i < 10; i++)
		order_to(bay, dests[i], Q_OUTGOING, now);
	qmgr_scan_all(sc, 0);
	CHECK_INT(htab_count(sc->busy), 10);
	run_ready(sc, now, t);
	return cf;
}

/* Everything started, nothing left queued or busy; then freed. */
static void
drained(struct sched *sc, struct config *cf)
{
	CHECK_INT(sched_ready(sc), 0);
	CHECK_INT(sched_parked(sc, NULL, NULL), 0);
	CHECK_INT(htab_count(sc->busy), 0);
	sched_free(sc);
	config_free(cf);
}

/* Orders for one next hop go together to one worker; other hops wait for
 * their own. With a pool of one, a hop's whole queue is one batch. */
static void
batch_by_hop(void)
{
	struct tally t = {{0}, {0}};
	struct sched sc;
	struct config *cf = ten_orders(&sc, 1, &t, time(NULL));

	if (cf == NULL)
		return;
	CHECK(t.batches[0] == 1 && t.orders[0] == 5);
	CHECK(t.batches[1] == 1 && t.orders[1] == 2);
	CHECK(t.batches[2] == 1 && t.orders[2] == 2);
	CHECK(t.batches[3] == 1 && t.orders[3] == 1);
	drained(&sc, cf);
}

/*
 * A batch is the queue's share of the pool (a pool of 2: three of B's
 * five); a next hop not known to be up gets one worker at a time (the
 * probe): its other orders wait until it connected.
 */
static void
batch_share_and_probe(void)
{
	struct tally t = {{0}, {0}};
	struct sched sc;
	time_t now = time(NULL);
	struct config *cf = ten_orders(&sc, 2, &t, now);

	if (cf == NULL)
		return;
	CHECK(t.batches[0] == 1 && t.orders[0] == 3);	/* B's probe took 3 of 5 */
	CHECK(t.batches[1] == 1 && t.orders[1] == 1);	/* C's probe: 1 of 2 (ceil 2/2) */
	CHECK(t.batches[2] == 2 && t.orders[2] == 2);	/* here: no probe, both start */
	CHECK(t.batches[3] == 1 && t.orders[3] == 1);
	CHECK_INT(htab_count(sc.busy), 3);		/* 2 for B and 1 for C wait */
	CHECK(!peer_may_start(&sc, "B", now));
	/* the probes connected: the rest goes */
	peer_stopped(&sc, "B");
	peer_connected(&sc, "B", now);
	peer_stopped(&sc, "C");
	peer_connected(&sc, "C", now);
	run_ready(&sc, now, &t);
	CHECK_INT(t.orders[0], 5);
	CHECK_INT(t.orders[1], 2);
	drained(&sc, cf);
}

/*
 * A dead next hop costs one connection attempt per back-off period: its
 * orders are deferred without one until the period ends; then one worker
 * at a time tries it again.
 */
static void
dead_peer(void)
{
	struct config *cf = conf(10);
	struct sched sc;
	struct peerstate *p;
	time_t t0 = time(NULL), old = t0 - 600;

	if (cf == NULL)
		return;
	sched_init(&sc, cf);
	sc.quiet = 1;
	CHECK(peer_may_start(&sc, "B", t0));		/* never tried */
	CHECK(!peer_down(&sc, "B", t0, old));
	peer_started(&sc, "B");				/* the probe */
	CHECK(!peer_may_start(&sc, "B", t0));
	peer_failed(&sc, "B", "connect: refused", t0);
	peer_stopped(&sc, "B");
	/* remembered: older orders are deferred without a connection */
	CHECK(peer_down(&sc, "B", t0 + 1, old));
	CHECK(peer_down(&sc, "B", t0 + 59, old));
	CHECK(peer_may_start(&sc, "B", t0 + 1));	/* workers only defer: any number */
	p = peer_state(&sc, "B");
	CHECK(p && p->why && strcmp(p->why, "connect: refused") == 0);
	/* a second failure within the period does not lengthen it */
	peer_failed(&sc, "B", "again", t0 + 30);
	CHECK_INT(p->down_until, t0 + 60);
	CHECK_INT(p->failures, 1);
	/* the period is over: tried again, by one worker */
	CHECK(!peer_down(&sc, "B", t0 + 60, old));
	CHECK(peer_may_start(&sc, "B", t0 + 60));
	peer_started(&sc, "B");
	CHECK(!peer_may_start(&sc, "B", t0 + 60));
	/* ... which fails: down for twice as long */
	peer_failed(&sc, "B", "still refused", t0 + 61);
	peer_stopped(&sc, "B");
	CHECK_INT(p->down_until, t0 + 61 + 120);
	CHECK(peer_down(&sc, "B", t0 + 62, old));
	CHECK(!peer_down(&sc, "C", t0 + 62, old));	/* other hops unaffected */
	sched_free(&sc);
	config_free(cf);
}

/* An order created after the hop's last failure still gets its own try. */
static void
newer_order_tried(void)
{
	struct config *cf = conf(10);
	struct sched sc;
	time_t t0 = time(NULL);

	if (cf == NULL)
		return;
	sched_init(&sc, cf);
	sc.quiet = 1;
	peer_failed(&sc, "B", "refused", t0);
	CHECK(peer_down(&sc, "B", t0 + 5, t0 - 1));
	CHECK(!peer_down(&sc, "B", t0 + 5, t0));	/* the same second counts as newer */
	CHECK(!peer_down(&sc, "B", t0 + 5, t0 + 3));
	/* its failure moves the mark: orders older than it are spared again */
	peer_failed(&sc, "B", "refused", t0 + 5);
	CHECK(peer_down(&sc, "B", t0 + 6, t0 + 3));
	CHECK(!peer_down(&sc, "B", t0 + 6, t0 + 5));
	sched_free(&sc);
	config_free(cf);
}

/*
 * A TCP connect timeout then UDP: UDP first for TCP_BLOCKED_SECS, kept in
 * SPOOL/peers/B (so another worker, or the next poll, knows it); a refused
 * TCP (no timeout) or a plain TCP connection never sets it, and TCP that
 * works clears it.
 */
static void
tcp_blocked(void)
{
	char text[1024];
	struct config *cf;
	struct sched sc;
	struct peerfile pf;
	time_t t0 = time(NULL);

	snprintf(text, sizeof(text), "NODE A\nSPOOL %s\nPEER B 127.0.0.1 4590 " KEY_B "\n"
		 "STORAGE-CLASS -default %s\n", top, bay);
	if ((cf = config_load_buf("tcp.conf", text, strlen(text))) == NULL) {
		CHECK(!"config");
		return;
	}
	sched_init(&sc, cf);
	CHECK(!peer_udp_first(&sc, "B", t0));		/* never seen */
	peer_transport(&sc, "B", "udp", 0, t0);		/* TCP refused, not dropped */
	CHECK(!peer_udp_first(&sc, "B", t0));
	peer_transport(&sc, "B", "udp", 1, t0);
	CHECK(peer_udp_first(&sc, "B", t0 + 1));
	CHECK(peer_udp_first(&sc, "B", t0 + TCP_BLOCKED_SECS - 1));
	CHECK(!peer_udp_first(&sc, "B", t0 + TCP_BLOCKED_SECS));	/* the probe */
	CHECK(!peer_udp_first(&sc, "C", t0 + 1));		/* other peers unaffected */
	CHECK(peerfile_read(top, "B", &pf) == 0 && pf.tcp_blocked_until == t0 + TCP_BLOCKED_SECS);
	peerfile_free(&pf);
	peer_transport(&sc, "B", "tcp", 0, t0 + 5);	/* TCP works again */
	CHECK(!peer_udp_first(&sc, "B", t0 + 6));
	CHECK(peerfile_read(top, "B", &pf) == 0 && pf.tcp_blocked_until == 0);
	peerfile_free(&pf);
	/* monitoring state takes no durable step (no fsync, written at every
	 * connection's end): a fault armed on the next one is not hit */
	safe_fault(1, EIO);
	peer_note(&sc, "B", PE_SENT, "tcp", NULL, 3, 3000);
	CHECK(peerfile_read(top, "B", &pf) == 0 && pf.sent_orders == 3 && pf.sent_bytes == 3000);
	peerfile_free(&pf);
	{
		char tmp[PATH_MAX];

		/* still armed: the next durable step fails */
		CHECK(safe_create(top, tmp, sizeof(tmp), 0600) < 0);
		safe_fault(0, 0);
	}
	sched_free(&sc);
	config_free(cf);
}

/*
 * A burst of drops does not starve sends: with N pickups queued and then
 * one send, the send starts before all N pickups have (before: one FIFO,
 * so the send waited for every pickup).
 */
static void
kinds_take_turns(void)
{
	struct config *cf = conf(10);
	struct sched sc;
	struct job *j;
	char drop[64];
	int pickups = 0, send_at = -1, joins_at = -1, n = 200;

	if (cf == NULL)
		return;
	clean();
	sched_init(&sc, cf);
	sc.quiet = 1;
	for (int i = 0; i < n; i++) {
		snprintf(drop, sizeof(drop), "drop/A/f%d", i);
		qmgr_enqueue(&sc, J_PICKUP, bay, drop);
	}
	qmgr_enqueue(&sc, J_SEND, bay, order_to(bay, "A", Q_OUTGOING, time(NULL)));
	qmgr_enqueue(&sc, J_JOIN, bay, "G");
	while ((j = batch_next(&sc, time(NULL))) != NULL) {
		if (j->kind == J_PICKUP)
			pickups++;
		else if (j->kind == J_SEND)
			send_at = pickups;
		else if (j->kind == J_JOIN)
			joins_at = pickups;
		done(&sc, j);
	}
	CHECK_INT(pickups, n);
	CHECK(send_at >= 0 && send_at <= 2);	/* at its first turn, not after 200 */
	CHECK(joins_at >= 0 && joins_at <= 2);
	CHECK_INT(htab_count(sc.busy), 0);
	sched_free(&sc);
	config_free(cf);
}

/*
 * In a --poll pass (one_pass), orders for a next hop known down are not
 * started only to be deferred: they are parked, untouched, even one of
 * the failure's second (nothing is submitted during a pass); when the
 * back-off ends they are first in line, behind one probe worker; a poll
 * request (peer_retry_all) releases them at once. The daemon still starts
 * them (its workers defer each, recording why it waits).
 */
static void
down_hop_parked(void)
{
	struct config *cf = conf(2);
	struct sched sc;
	struct job *j;
	time_t t0 = time(NULL), old = t0 - 600;
	int n;

	if (cf == NULL)
		return;
	clean();
	sched_init(&sc, cf);
	sc.quiet = 1;
	sc.one_pass = 1;
	for (int i = 0; i < 20; i++)
		order_to(bay, "B", Q_OUTGOING, old);
	order_to(bay, "C", Q_OUTGOING, old);
	qmgr_scan_all(&sc, 0);
	peer_failed(&sc, "B", "refused", t0);
	j = batch_next(&sc, t0 + 1);			/* C's: B's are parked */
	CHECK(j && strcmp(j->hop, "C") == 0);
	peer_stopped(&sc, "C");
	done(&sc, j);
	CHECK(batch_next(&sc, t0 + 1) == NULL);
	CHECK_INT(sched_ready(&sc), 0);
	CHECK_INT(sched_parked(&sc, NULL, NULL), 20);
	CHECK_INT(htab_count(sc.busy), 20);		/* still busy: scans add nothing */
	qmgr_scan_all(&sc, 1);				/* C's order is still there */
	CHECK_INT(sched_ready(&sc), 1);
	CHECK_INT(sched_parked(&sc, NULL, NULL), 20);
	j = batch_next(&sc, t0 + 1);
	CHECK(j && strcmp(j->hop, "C") == 0);
	peer_stopped(&sc, "C");
	done(&sc, j);
	CHECK_INT(sched_parked_until(&sc), t0 + 60);
	/* an order of the failure's own second is parked too */
	qmgr_enqueue(&sc, J_SEND, bay, order_to(bay, "B", Q_OUTGOING, t0));
	CHECK(batch_next(&sc, t0 + 59) == NULL);
	CHECK_INT(sched_parked(&sc, NULL, NULL), 21);
	/* the back-off is over: one probe takes its share of the parked */
	j = batch_next(&sc, t0 + 60);
	for (n = 0; j && n < 100; j = j->batch)
		n++;
	CHECK_INT(n, 11);
	CHECK_INT(sched_parked(&sc, NULL, NULL), 0);
	CHECK_INT(sched_ready(&sc), 10);
	CHECK(batch_next(&sc, t0 + 60) == NULL);	/* the probe is alone */
	sched_free(&sc);

	/* a poll request tries the hop again at once: a parked order probes */
	sched_init(&sc, cf);
	sc.quiet = 1;
	sc.one_pass = 1;
	peer_failed(&sc, "B", "refused", t0);
	qmgr_enqueue(&sc, J_SEND, bay, order_to(bay, "B", Q_OUTGOING, old));
	CHECK(batch_next(&sc, t0) == NULL);
	CHECK_INT(sched_parked(&sc, NULL, NULL), 1);
	peer_retry_all(&sc);
	j = batch_next(&sc, t0 + 1);
	CHECK(j && strcmp(j->hop, "B") == 0);
	CHECK_INT(sched_parked(&sc, NULL, NULL), 0);
	CHECK_INT(peer_state(&sc, "B")->failures, 1);	/* a new failure backs off longer */
	done(&sc, j);
	sched_free(&sc);

	/* the daemon: started, to be deferred one by one by the worker */
	sched_init(&sc, cf);
	sc.quiet = 1;
	peer_failed(&sc, "B", "refused", t0);
	qmgr_enqueue(&sc, J_SEND, bay, order_to(bay, "B", Q_OUTGOING, old));
	j = batch_next(&sc, t0 + 1);
	CHECK(j && strcmp(j->hop, "B") == 0);
	CHECK_INT(sched_parked(&sc, NULL, NULL), 0);
	done(&sc, j);
	sched_free(&sc);
	config_free(cf);
}

/* deferred/: due ones queued where they are; the next wake-up is the earliest. */
static void
due_deferred(void)
{
	struct config *cf = conf(10);
	struct sched sc;
	char path[PATH_MAX], due[64], later[64], latest[64];
	time_t now = time(NULL);
	struct timespec ts[2] = {{0, UTIME_OMIT}, {0, 0}};

	if (cf == NULL)
		return;
	clean();
	sched_init(&sc, cf);
	snprintf(due, sizeof(due), "%s", order_to(bay, "B", Q_DEFERRED, now));
	snprintf(later, sizeof(later), "%s", order_to(bay, "B", Q_DEFERRED, now));
	snprintf(latest, sizeof(latest), "%s", order_to(docs, "B", Q_DEFERRED, now));
	ts[1].tv_sec = now - 5;
	bay_path(path, sizeof(path), bay, Q_DEFERRED, due);
	utimensat(AT_FDCWD, path, ts, 0);
	ts[1].tv_sec = now + 300;
	bay_path(path, sizeof(path), bay, Q_DEFERRED, later);
	utimensat(AT_FDCWD, path, ts, 0);
	ts[1].tv_sec = now + 900;
	bay_path(path, sizeof(path), docs, Q_DEFERRED, latest);
	utimensat(AT_FDCWD, path, ts, 0);
	qmgr_due(&sc);
	CHECK_INT(htab_count(sc.busy), 1);
	CHECK(qmgr_busy(&sc, J_SEND, bay, due));
	CHECK(sc.rq[J_SEND].head && sc.rq[J_SEND].head->from == Q_DEFERRED);
	CHECK_INT(sc.next_due, now + 300);
	/* queued once, however often it is seen */
	qmgr_due(&sc);
	CHECK_INT(htab_count(sc.busy), 1);
	/* shipd --poll: everything deferred, now */
	qmgr_scan_all(&sc, 1);
	CHECK_INT(htab_count(sc.busy), 3);
	sched_free(&sc);
	/* -sclass docs: only the docs bay */
	sched_init(&sc, cf);
	sc.only_class = "docs";
	qmgr_scan_all(&sc, 1);
	CHECK_INT(htab_count(sc.busy), 1);
	CHECK(qmgr_busy(&sc, J_SEND, docs, latest));
	sched_free(&sc);
	config_free(cf);
}

/* joining/: a group is joined when complete, or at once once delivered. */
static void
joinable(void)
{
	struct config *cf = conf(10);
	struct sched sc;
	char dir[PATH_MAX];
	struct order o;

	if (cf == NULL)
		return;
	clean();
	sched_init(&sc, cf);
	bay_path(dir, sizeof(dir), bay, Q_JOINING, NULL);
	for (int k = 1; k <= 2; k++) {
		order_init(&o);
		snprintf(o.id, sizeof(o.id), "G.p%dof3", k);
		o.origin = xstrdup("B");
		o.sclass = xstrdup("-default");
		strv_add(&o.dests, "A");
		memset(o.digest, 'a', 64);
		CHECK(order_save(dir, &o) == 0);
		order_free(&o);
	}
	qmgr_scan_joining(&sc, bay);
	CHECK_INT(htab_count(sc.busy), 0);		/* part 3 is missing */
	/* the group was delivered (a crash after its commit point): join now */
	bay_path(dir, sizeof(dir), bay, Q_RECEIPTS, NULL);
	CHECK(safe_write(dir, "G", "version: 1\n", 11, 0600) == 0);
	qmgr_scan_joining(&sc, bay);
	CHECK_INT(htab_count(sc.busy), 1);
	CHECK(qmgr_busy(&sc, J_JOIN, bay, "G"));
	sched_free(&sc);
	config_free(cf);
}

/*
 * A long queue for one next hop is split evenly over the workers free to
 * take it: with a pool of ten and 200 orders for B, each of ten batches
 * takes 20, and none is left over. (A share of the whole pool at each
 * dispatch took 20, 18, 17, 15 ... and left 69 orders to later, ever
 * smaller batches, each a round trip of its own.)
 */
static void
even_shares(void)
{
	struct config *cf = conf(10);
	struct job *b[10] = {0};
	struct sched sc;
	time_t now = time(NULL);
	int n;

	if (cf == NULL)
		return;
	clean();
	sched_init(&sc, cf);
	sc.quiet = 1;
	for (int i = 0; i < 200; i++)
		order_to(bay, "B", Q_OUTGOING, now);
	qmgr_scan_all(&sc, 0);
	peer_connected(&sc, "B", now);	/* known up: no probe first */
	for (int w = 0; w < 10; w++) {
		sc.free_workers = 10 - w;	/* the master's count: w at work */
		b[w] = batch_next(&sc, now);
		CHECK(b[w] != NULL);
		if (b[w] == NULL)
			break;
		n = 0;
		for (struct job *k = b[w]; k; k = k->batch)
			n++;
		CHECK_INT(n, 20);
	}
	CHECK_INT(sched_ready(&sc), 0);
	for (int w = 0; w < 10 && b[w]; w++) {
		peer_stopped(&sc, "B");
		done(&sc, b[w]);
	}
	drained(&sc, cf);
}

/*
 * What comes for this node (a receipt, a packet to deliver) while a
 * backlog waits for a next hop is started first: it goes ahead of every
 * send, after those for here that came before it; a new send goes last.
 */
static void
here_first(void)
{
	struct config *cf = conf(2);
	struct sched sc;
	struct job *j;
	time_t now = time(NULL);
	char here1[64], here2[64], late[64];

	if (cf == NULL)
		return;
	clean();
	sched_init(&sc, cf);
	sc.quiet = 1;
	peer_connected(&sc, "B", now);	/* up: any number of workers */
	for (int i = 0; i < 100; i++)
		order_to(bay, "B", Q_OUTGOING, now);
	qmgr_scan_all(&sc, 0);
	snprintf(here1, sizeof(here1), "%s", order_to(bay, "A", Q_OUTGOING, now));
	qmgr_enqueue_new(&sc, bay, here1);
	snprintf(late, sizeof(late), "%s", order_to(bay, "B", Q_OUTGOING, now));
	qmgr_enqueue_new(&sc, bay, late);
	snprintf(here2, sizeof(here2), "%s", order_to(bay, "A", Q_OUTGOING, now));
	qmgr_enqueue_new(&sc, bay, here2);
	CHECK_INT(sched_ready(&sc), 103);
	j = batch_next(&sc, now);
	CHECK(j && strcmp(j->hop, BATCH_LOCAL) == 0 && strcmp(j->id, here1) == 0);
	done(&sc, j);
	j = batch_next(&sc, now);	/* a batch is one of the pool's two shares */
	CHECK(j && strcmp(j->hop, BATCH_LOCAL) == 0 && strcmp(j->id, here2) == 0);
	done(&sc, j);
	j = batch_next(&sc, now);
	CHECK(j && strcmp(j->hop, "B") == 0 && strcmp(j->id, late) != 0);
	done(&sc, j);
	/* the late send is the last one started */
	while ((j = batch_next(&sc, now)) != NULL) {
		struct job *k = j;

		while (k->batch)
			k = k->batch;
		if (sched_ready(&sc) == 0)
			CHECK_STR(k->id, late);
		done(&sc, j);
	}
	drained(&sc, cf);
}

int
main(void)
{
	char cmd[128];

	crypto_init();
	log_open("test_sched", "stderr");
	snprintf(top, sizeof(top), "/tmp/test_sched.XXXXXX");
	if (mkdtemp(top) == NULL)
		return 1;
	snprintf(bay, sizeof(bay), "%s/ms_ship", top);
	snprintf(docs, sizeof(docs), "%s/docs", top);
	TEST(backoff);
	TEST(batch_by_hop);
	TEST(batch_share_and_probe);
	TEST(dead_peer);
	TEST(newer_order_tried);
	TEST(tcp_blocked);
	TEST(kinds_take_turns);
	TEST(down_hop_parked);
	TEST(due_deferred);
	TEST(joinable);
	TEST(here_first);
	TEST(even_shares);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
