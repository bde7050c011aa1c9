/*
 * qmgr.c - the queue manager: decides what is ready (outgoing/), due
 * (deferred/ whose mtime has passed, or whose order expired), joinable
 * (joining/ groups with every part) and picked up (drop/DEST/ files), and
 * queues one job per order (batch.c groups them for the workers). The busy
 * set makes sure an order is queued or
 * worked on once at a time; the claim by rename in the worker makes sure
 * two processes (say, the daemon and a cron poll) never send it twice.
 *
 * Scans are readdir + stat: the next retry lives in deferred/'s mtime.
 */
#include "shipd.h"
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
	sbuf_free(&j->status);
	free(j);
}

void
qmgr_enqueue(enum job_kind kind, const char *bay, const char *id)
{
	qmgr_enqueue_from(kind, bay, id, Q_OUTGOING);
}

void
qmgr_enqueue_from(enum job_kind kind, const char *bay, const char *id, enum qstate from)
{
	struct job *j;
	char *key = xasprintf("%d:%s/%s", kind, bay, id);

	if (htab_get(S->busy, key)) {
		free(key);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = kind;
	j->bay = xstrdup(bay);
	j->id = xstrdup(id);
	j->key = key;
	j->from = from;
	j->statfd = -1;
	htab_put(S->busy, key, j);
	j->prev = S->rq_tail;
	if (S->rq_tail)
		S->rq_tail->next = j;
	else
		S->rq_head = j;
	S->rq_tail = j;
}

static int
class_selected(const char *bay)
{
	const struct sclass *c;

	if (S->only_class == NULL)
		return 1;
	c = bay_class(S->cf, bay);
	return c && strcmp(c->name, S->only_class) == 0;
}

static int
scan_ready(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	qmgr_enqueue(J_SEND, bay, id);
	return 0;
}

void
qmgr_scan_bay_outgoing(const char *bay)
{
	if (class_selected(bay))
		bay_scan(bay, Q_OUTGOING, scan_ready, NULL);
}

/*
 * deferred/: what is due (mtime passed) is queued where it is; the worker
 * claims it straight from deferred/ into active/, which spares a durable
 * rename per retry (and the master a serial pass over a long queue).
 */
static int
scan_deferred(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	int everything = *(int *)arg;
	time_t now = time(NULL);

	if (everything || mtime <= now)
		qmgr_enqueue_from(J_SEND, bay, id, Q_DEFERRED);
	else if (S->next_due == 0 || mtime < S->next_due)
		S->next_due = mtime;
	return 0;
}

/*
 * joining/: parts addressed here wait for their siblings. Part ids are
 * GROUP.pNofM plus any journey suffix (a part that was returned and
 * resubmitted arrives as GROUP.pNofM.r1), so a group is complete when M
 * distinct N are present, whatever journeys brought them.
 */
void
qmgr_scan_joining(const char *bay)
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
			if (have == m)
				strv_add(&names, group);
		}
		free(key);
	}
	closedir(dp);
	for (int i = 0; i < names.n; i++)
		qmgr_enqueue(J_JOIN, bay, names.v[i]);
	strv_free(&names);
	htab_free(groups, NULL);
	htab_free(seen, NULL);
}

/* drop/DEST/FILE: what is complete becomes an order (pickup.c, queue/drop.h). */
void
qmgr_scan_drops(const char *bay)
{
	pickup_scan(bay);
}

/* Deferred orders that are due; recomputes the next wake-up. */
void
qmgr_due(void)
{
	struct strv bays = {0};
	int everything = 0;

	S->next_due = 0;
	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++)
		if (class_selected(bays.v[i])) {
			bay_scan(bays.v[i], Q_DEFERRED, scan_deferred, &everything);
			qmgr_scan_drops(bays.v[i]);
		}
	strv_free(&bays);
}

/*
 * Everything: outgoing, due deferred (all deferred for --poll, which is
 * the administrator asking for a retry now), joinable groups, drops.
 */
void
qmgr_scan_all(int include_deferred_not_due)
{
	struct strv bays = {0};

	S->next_due = 0;
	S->last_full_scan = time(NULL);
	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		if (!class_selected(bays.v[i]))
			continue;
		bay_scan(bays.v[i], Q_DEFERRED, scan_deferred, &include_deferred_not_due);
		qmgr_scan_bay_outgoing(bays.v[i]);
		qmgr_scan_joining(bays.v[i]);
		qmgr_scan_drops(bays.v[i]);
		deliver_retry_handlers(bays.v[i]);
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
qmgr_purge(void)
{
	struct strv bays = {0};

	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		bay_scan(bays.v[i], Q_RETURN, purge_return, NULL);
		bay_purge_partial(bays.v[i], time(NULL) - PARTIAL_MAX_IDLE);
		if (bay_purge_seen(bays.v[i], time(NULL)) < 0)
			msg_warnx("bay %s: purging seen markers: %s", bays.v[i], err_get());
	}
	strv_free(&bays);
}
