/*
 * batch.c - which ready job the master starts next, and which other ready
 * orders go with it to the same send worker.
 *
 * A send job's hop key is read from its order the first time it is looked
 * at: the one next hop all its remote destinations share, BATCH_LOCAL when
 * it is only to be delivered here, or "" when it must go alone (several
 * next hops, local and remote, expired, unreadable). Orders with the same
 * bay and hop key travel together, over one connection, up to BATCH_MAX
 * orders or BATCH_BYTES; the batch is the queue's share of the pool
 * (ceil(queued / MAX-CHILDREN)), so a short queue still runs in parallel.
 * Each order in a batch stays in the busy set until its worker exits, and
 * is still claimed by rename in the worker: a batch only says what a
 * worker may try, never that it owns anything.
 *
 * A next hop that is not known to be up gets one worker at a time (the
 * probe, see peers.c); jobs waiting for it are passed over, and the next
 * startable job within BATCH_WINDOW of the queue's head is taken instead.
 * Never forks, never moves an order.
 */
#include "sched.h"
#include "../queue/bay.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void
rq_remove(struct sched *sc, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		sc->rq_head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		sc->rq_tail = j->prev;
	j->next = j->prev = NULL;
}

static char *
order_hop(const struct config *cf, const struct order *o)
{
	const char *self = cf->node, *nh = NULL;
	int local = 0;

	if (o->returning) {
		if (strcmp(o->origin, self) == 0)
			return xstrdup("");
		nh = config_next_hop(cf, o->origin);
		return xstrdup(nh ? nh : "");
	}
	if (order_expired(o, time(NULL)))
		return xstrdup("");
	for (int i = 0; i < o->dests.n; i++) {
		const char *d = o->dests.v[i], *k;

		if (strcmp(d, self) == 0) {
			local = 1;
			continue;
		}
		if ((k = config_next_hop(cf, d)) == NULL || (nh && strcmp(nh, k) != 0))
			return xstrdup("");
		nh = k;
	}
	if (local)
		return xstrdup(nh ? "" : BATCH_LOCAL);
	if (nh == NULL || strv_has(&o->hops, nh))
		return xstrdup("");
	return xstrdup(nh);
}

const char *
job_hop(struct sched *sc, struct job *j)
{
	struct order o;

	if (j->hop)
		return j->hop;
	if (j->kind != J_SEND)
		return j->hop = xstrdup("");
	order_init(&o);
	if (bay_load(j->bay, j->id, j->from, &o) < 0)
		j->hop = xstrdup("");	/* gone, claimed or unreadable: the worker sees */
	else {
		j->hop = order_hop(sc->cf, &o);
		j->size = o.size;
	}
	order_free(&o);
	return j->hop;
}

int
batch_is_peer(const char *hop)
{
	return hop && *hop && strcmp(hop, BATCH_LOCAL) != 0;
}

/* Other ready orders for the same bay and hop, appended to j->batch. */
static void
gather(struct sched *sc, struct job *j)
{
	const char *hop = j->hop;
	struct job *k, *next, **tail = &j->batch;
	int matching = 0, want, seen = 0, n = 1;
	uint64_t bytes = j->size;

	for (k = sc->rq_head; k && seen < BATCH_WINDOW; k = k->next, seen++)
		if (k->kind == J_SEND && strcmp(k->bay, j->bay) == 0 &&
		    strcmp(job_hop(sc, k), hop) == 0)
			matching++;
	want = (matching + 1 + sc->cf->max_children - 1) / sc->cf->max_children;
	if (want > BATCH_MAX)
		want = BATCH_MAX;
	seen = 0;
	for (k = sc->rq_head; k && n < want && bytes < BATCH_BYTES && seen < BATCH_WINDOW;
	     k = next, seen++) {
		next = k->next;
		if (k->kind != J_SEND || strcmp(k->bay, j->bay) != 0 || strcmp(k->hop, hop) != 0)
			continue;
		rq_remove(sc, k);
		*tail = k;
		tail = &k->batch;
		bytes += k->size;
		n++;
	}
}

struct job *
batch_next(struct sched *sc, time_t now)
{
	struct job *j;
	int seen = 0;

	for (j = sc->rq_head; j && seen < BATCH_WINDOW; j = j->next, seen++) {
		const char *hop;

		if (j->kind != J_SEND)
			break;
		hop = job_hop(sc, j);
		if (!batch_is_peer(hop) || peer_may_start(sc, hop, now))
			break;
	}
	if (j == NULL || seen == BATCH_WINDOW)
		return NULL;
	rq_remove(sc, j);
	if (j->kind == J_SEND && *j->hop) {
		gather(sc, j);
		if (batch_is_peer(j->hop))
			peer_started(sc, j->hop);
	}
	return j;
}
