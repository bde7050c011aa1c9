/*
 * qmgr.c - the queue manager: decides what is ready (outgoing/), due
 * (deferred/ whose mtime has passed, or whose order expired), joinable
 * (joining/ groups with every part, or whose group was delivered already)
 * and picked up (drop/DEST/ files), and queues one job per order (batch.c
 * groups them for the workers). Each kind of job has its own ready queue
 * (batch.c takes them in turn, so that a burst of drops never starves
 * sends, joins or imports). The busy set makes sure an order is
 * queued or worked on once at a time; the claim in the worker (commit.h)
 * makes sure two processes (say, the daemon and a cron poll) never send
 * it twice.
 *
 * Scans are readdir + stat: the next retry lives in deferred/'s mtime.
 * All state is the struct sched passed in.
 */
#include "sched.h"
#include "../queue/commit.h"
#include "../queue/history.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->bay);
	free(j->id);
	free(j->key);
	free(j->hop);
	free(j->cut);
	sbuf_free(&j->status);
	free(j);
}

void
sched_init(struct sched *sc, const struct config *cf)
{
	memset(sc, 0, sizeof(*sc));
	sc->cf = cf;
	sc->busy = htab_new();
	sc->peers = htab_new();
}

static void
free_job(void *p)
{
	struct job *j = p;

	/* a batch's other jobs are in the busy set themselves */
	j->batch = NULL;
	job_free(j);
}

static void
free_peer(void *p)
{
	struct peerstate *ps = p;

	free(ps->why);
	free(ps);
}

void
sched_free(struct sched *sc)
{
	/* every job, ready, parked or running, is in the busy set */
	htab_free(sc->busy, free_job);
	htab_free(sc->peers, free_peer);
	sc->busy = sc->peers = NULL;
	memset(sc->rq, 0, sizeof(sc->rq));
}

static char *
busy_key(enum job_kind kind, const char *bay, const char *id)
{
	return xasprintf("%d:%s/%s", kind, bay, id);
}

int
qmgr_busy(struct sched *sc, enum job_kind kind, const char *bay, const char *id)
{
	char *key = busy_key(kind, bay, id);
	int busy = htab_get(sc->busy, key) != NULL;

	free(key);
	return busy;
}

void
qmgr_enqueue(struct sched *sc, enum job_kind kind, const char *bay, const char *id)
{
	qmgr_enqueue_from(sc, kind, bay, id, Q_OUTGOING);
}

/* A new job, in the busy set but in no queue; NULL when one is queued or
 * running for that order already. */
static struct job *
job_new(struct sched *sc, enum job_kind kind, const char *bay, const char *id,
	enum qstate from)
{
	struct job *j;
	char *key = busy_key(kind, bay, id);

	if (htab_get(sc->busy, key)) {
		free(key);
		return NULL;
	}
	if (kind < 0 || kind >= J_NKINDS)
		msg_panic("qmgr_enqueue: unknown job kind %d", kind);
	j = xcalloc(1, sizeof(*j));
	j->kind = kind;
	j->bay = xstrdup(bay);
	j->id = xstrdup(id);
	j->key = key;
	j->from = from;
	j->statfd = -1;
	htab_put(sc->busy, key, j);
	return j;
}

void
qmgr_enqueue_from(struct sched *sc, enum job_kind kind, const char *bay, const char *id,
		  enum qstate from)
{
	struct job *j = job_new(sc, kind, bay, id, from);

	if (j)
		jobq_add(&sc->rq[kind], j);
}

static int
for_here(const struct job *j)
{
	return j->hop && strcmp(j->hop, BATCH_LOCAL) == 0;
}

void
qmgr_enqueue_new(struct sched *sc, const char *bay, const char *id)
{
	struct jobq *q = &sc->rq[J_SEND];
	struct job *j = job_new(sc, J_SEND, bay, id, Q_OUTGOING), *k;

	if (j == NULL)
		return;
	if (strcmp(job_hop(sc, j), BATCH_LOCAL) != 0) {
		jobq_add(q, j);
		return;
	}
	/* after those for here already waiting, before every send */
	for (k = q->head; k && for_here(k); k = k->next)
		;
	jobq_add_before(q, k, j);
}

static int
class_selected(struct sched *sc, const char *bay)
{
	const struct sclass *c;

	if (sc->only_class == NULL)
		return 1;
	c = config_bay_class(sc->cf, bay);
	return c && strcmp(c->name, sc->only_class) == 0;
}

static int
scan_ready(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	qmgr_enqueue(arg, J_SEND, bay, id);
	return 0;
}

void
qmgr_scan_bay_outgoing(struct sched *sc, const char *bay)
{
	if (class_selected(sc, bay))
		bay_scan(bay, Q_OUTGOING, scan_ready, sc);
}

struct due {
	struct sched *sc;
	int everything;
	time_t now;
};

/*
 * deferred/: what is due (mtime passed) is queued where it is; the worker
 * claims it straight from deferred/ into active/, which spares a durable
 * rename per retry (and the master a serial pass over a long queue).
 */
static int
scan_deferred(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	struct due *d = arg;

	if (d->everything || mtime <= d->now)
		qmgr_enqueue_from(d->sc, J_SEND, bay, id, Q_DEFERRED);
	else if (d->sc->next_due == 0 || mtime < d->sc->next_due)
		d->sc->next_due = mtime;
	return 0;
}

/*
 * joining/: parts addressed here wait for their siblings. Part ids are
 * GROUP.pNofM plus any journey suffix (a part that was returned and
 * resubmitted arrives as GROUP.pNofM.r1), so a group is complete when M
 * distinct N are present, whatever journeys brought them; or at once
 * when the group was delivered already (a crash after the join's commit
 * point left parts here): the join only finishes them.
 */
void
qmgr_scan_joining(struct sched *sc, const char *bay)
{
	char dir[PATH_MAX], group[ORDER_ID_MAX];
	struct htab *groups, *seen;
	struct strv names = {0};
	struct dirent *d;
	DIR *dp;

	if (bay_path(dir, sizeof(dir), bay, Q_JOINING, NULL) < 0 || (dp = opendir(dir)) == NULL)
		return;
	groups = htab_new();
	seen = htab_new();
	while ((d = readdir(dp)) != NULL) {
		char *key;
		int n, m;
		long have;

		if (d->d_name[0] == '.' ||
		    order_part_of(d->d_name, group, sizeof(group), &n, &m) < 0)
			continue;
		key = xasprintf("%s %d", group, n);
		if (htab_get(seen, key) == NULL) {
			htab_put(seen, key, (void *)1);
			have = (long)htab_get(groups, group) + 1;
			htab_put(groups, group, (void *)have);
			if (have == m || (have == 1 && bay_delivered(bay, group)))
				strv_add(&names, group);
		}
		free(key);
	}
	closedir(dp);
	for (int i = 0; i < names.n; i++)
		qmgr_enqueue(sc, J_JOIN, bay, names.v[i]);
	strv_free(&names);
	htab_free(groups, NULL);
	htab_free(seen, NULL);
}

/* drop/DEST/FILE: what is complete becomes an order; how a drop is judged
 * is the daemon's (sc->scan_drops: pickup.c, queue/drop.h). */
void
qmgr_scan_drops(struct sched *sc, const char *bay)
{
	if (sc->scan_drops)
		sc->scan_drops(sc, bay);
}

/* Deferred orders that are due; recomputes the next wake-up. */
void
qmgr_due(struct sched *sc)
{
	struct strv bays = {0};
	struct due d = {sc, 0, time(NULL)};

	sc->next_due = 0;
	bay_all(sc->cf, &bays);
	for (int i = 0; i < bays.n; i++)
		if (class_selected(sc, bays.v[i])) {
			bay_scan(bays.v[i], Q_DEFERRED, scan_deferred, &d);
			qmgr_scan_drops(sc, bays.v[i]);
		}
	strv_free(&bays);
}

/*
 * Everything: outgoing, due deferred (all deferred for --poll, which is
 * the administrator asking for a retry now), joinable groups, drops.
 */
void
qmgr_scan_all(struct sched *sc, int include_deferred_not_due)
{
	struct strv bays = {0};
	struct due d = {sc, include_deferred_not_due, time(NULL)};

	sc->next_due = 0;
	sc->last_full_scan = d.now;
	bay_all(sc->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		if (!class_selected(sc, bays.v[i]))
			continue;
		bay_scan(bays.v[i], Q_DEFERRED, scan_deferred, &d);
		qmgr_scan_bay_outgoing(sc, bays.v[i]);
		qmgr_scan_joining(sc, bays.v[i]);
		qmgr_scan_drops(sc, bays.v[i]);
		if (sc->scanned)
			sc->scanned(sc, bays.v[i]);
	}
	strv_free(&bays);
}

/* Returns that came home and were not collected: deleted after 14 days. */
static int
purge_return(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	if (mtime + RETURN_PURGE_DAYS * 86400L < time(NULL)) {
		if (bay_finish(bay, id, Q_RETURN) == 0)
			msg_info("order %s: purged from return bay %s after %d days", id, bay,
				 RETURN_PURGE_DAYS);
		else
			msg_warnx("order %s: purge: %s", id, err_get());
	}
	return 0;
}

void
qmgr_purge(struct sched *sc)
{
	struct strv bays = {0};

	bay_all(sc->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		bay_scan(bays.v[i], Q_RETURN, purge_return, NULL);
		bay_purge_partial(bays.v[i], time(NULL) - PARTIAL_MAX_IDLE);
		if (bay_purge_seen(bays.v[i], time(NULL)) < 0)
			msg_warnx("bay %s: purging seen markers: %s", bays.v[i], err_get());
		if (bay_purge_history(bays.v[i], time(NULL) - (time_t)sc->cf->history_days * 86400) < 0)
			msg_warnx("bay %s: purging the history: %s", bays.v[i], err_get());
	}
	strv_free(&bays);
}
