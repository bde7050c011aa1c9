/*
 * batch.c - which ready job the master starts next, and which other ready
 * orders go with it to the same send worker.
 *
 * A send job's hop key is read from its order the first time it is looked
 * at: the one next hop all its remote destinations share, BATCH_LOCAL when
 * it is only to be delivered here, or "" when it must go alone (several
 * next hops, local and remote, expired, unreadable). Orders with the same
 * bay and hop key travel together, over one connection, up to BATCH_MAX
 * orders or BATCH_BYTES; the batch is the queue's share of the workers
 * free to take one (ceil(queued / free), the master's count in
 * sc->free_workers), so a short queue still runs in parallel and a long
 * one is split evenly: no tail of ever smaller batches is left, each a
 * round trip of its own (a share of the whole pool at each dispatch
 * shrank by a factor of 1 - 1/MAX-CHILDREN from one batch to the next).
 * Each order in a batch stays in the busy set until its worker exits, and
 * is still claimed by rename in the worker: a batch only says what a
 * worker may try, never that it owns anything.
 *
 * A next hop that is not known to be up gets one worker at a time (the
 * probe, see peers.c); jobs waiting for it are passed over, and the next
 * startable job within BATCH_WINDOW of the queue's head is taken instead.
 * In a --poll pass (sc->one_pass) a next hop known down costs its orders
 * nothing: they are parked in its peers.c entry, still in the busy set
 * and untouched on disk, until its back-off ends (sched_parked_until says
 * when) or it connects; then they are ready again, first in line. (The
 * daemon still has its workers defer each of them, without a connection
 * attempt, so that each order records why it waits.) Each kind of job has its own ready
 * queue, and batch_next takes the kinds in turn. In the send queue, a new
 * order only for here (a receipt, a packet to deliver) is queued ahead of
 * the sends (qmgr_enqueue_new): a backlog to a peer never holds it back.
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
jobq_add(struct jobq *q, struct job *j)
{
	j->next = NULL;
	j->prev = q->tail;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

void
jobq_add_before(struct jobq *q, struct job *at, struct job *j)
{
	if (at == NULL) {
		jobq_add(q, j);
		return;
	}
	j->next = at;
	j->prev = at->prev;
	if (at->prev)
		at->prev->next = j;
	else
		q->head = j;
	at->prev = j;
	q->n++;
}

void
jobq_del(struct jobq *q, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		q->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		q->tail = j->prev;
	j->next = j->prev = NULL;
	q->n--;
}

int
sched_ready(const struct sched *sc)
{
	int n = 0;

	for (int k = 0; k < J_NKINDS; k++)
		n += sc->rq[k].n;
	return n;
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
		j->created = o.created;
	}
	order_free(&o);
	return j->hop;
}

int
batch_is_peer(const char *hop)
{
	return hop && *hop && strcmp(hop, BATCH_LOCAL) != 0;
}

/*
 * Other ready orders for the same bay and hop, appended to j->batch; not
 * those the hop's being down holds back (next_send parks them).
 */
static void
gather(struct sched *sc, struct job *j, time_t now)
{
	const char *hop = j->hop;
	struct jobq *q = &sc->rq[J_SEND];
	struct job *k, *next, **tail = &j->batch;
	int matching = 0, want, seen = 0, n = 1;
	int share = sc->free_workers > 0 ? sc->free_workers : sc->cf->max_children;
	uint64_t bytes = j->size;

	for (k = q->head; k && seen < BATCH_WINDOW; k = k->next, seen++)
		if (strcmp(k->bay, j->bay) == 0 && strcmp(job_hop(sc, k), hop) == 0)
			matching++;
	want = (matching + 1 + share - 1) / share;
	if (want > BATCH_MAX)
		want = BATCH_MAX;
	seen = 0;
	for (k = q->head; k && n < want && bytes < BATCH_BYTES && seen < BATCH_WINDOW;
	     k = next, seen++) {
		next = k->next;
		if (strcmp(k->bay, j->bay) != 0 || strcmp(k->hop, hop) != 0 ||
		    (sc->one_pass && batch_is_peer(hop) && peer_down(sc, hop, now, k->created)))
			continue;
		jobq_del(q, k);
		*tail = k;
		tail = &k->batch;
		bytes += k->size;
		n++;
	}
}

/*
 * The first send that may start: one for here, one that goes alone, or
 * one for a next hop that may take a worker (peers.c). In a --poll pass
 * an order whose next hop is known down is not started only to be
 * deferred: it leaves the ready queue for the hop's
 * parked list, untouched on disk, at the cost of reading it once, and
 * does not count in the window.
 */
static struct job *
next_send(struct sched *sc, time_t now)
{
	struct jobq *q = &sc->rq[J_SEND];
	struct job *j, *next;
	int seen = 0;

	for (j = q->head; j && seen < BATCH_WINDOW; j = next) {
		const char *hop = job_hop(sc, j);

		next = j->next;
		if (!batch_is_peer(hop))
			return j;
		if (sc->one_pass && peer_down(sc, hop, now, j->created)) {
			jobq_del(q, j);
			jobq_add(&peer_state(sc, hop)->parked, j);
			continue;
		}
		if (peer_may_start(sc, hop, now))
			return j;
		seen++;
	}
	return NULL;
}

struct unpark {
	struct sched *sc;
	time_t now;
};

/*
 * A next hop whose back-off ended, or that connected since: its parked
 * orders go back to the head of the send queue, in the order they came.
 */
static void
unpark(void *arg, const char *name, void *v)
{
	struct unpark *u = arg;
	struct peerstate *p = v;
	struct jobq *q = &u->sc->rq[J_SEND];

	if (p->parked.n == 0 || (p->down_until && u->now < p->down_until))
		return;
	p->parked.tail->next = q->head;
	if (q->head)
		q->head->prev = p->parked.tail;
	else
		q->tail = p->parked.tail;
	q->head = p->parked.head;
	q->n += p->parked.n;
	memset(&p->parked, 0, sizeof(p->parked));
}

/*
 * Round robin over the kinds of job that have work, starting after the
 * kind served last (Postfix's qmgr takes its in-memory queues in turn):
 * thousands of drops picked up never hold back a send, a join or an
 * import more than one turn.
 */
struct job *
batch_next(struct sched *sc, time_t now)
{
	struct unpark u = {sc, now};
	struct job *j = NULL;
	int k = 0;

	if (sc->peers)
		htab_walk(sc->peers, unpark, &u);
	for (int i = 0; i < J_NKINDS && j == NULL; i++) {
		k = (sc->rq_turn + i) % J_NKINDS;
		if (sc->rq[k].head)
			j = k == J_SEND ? next_send(sc, now) : sc->rq[k].head;
	}
	if (j == NULL)
		return NULL;
	sc->rq_turn = (k + 1) % J_NKINDS;
	jobq_del(&sc->rq[k], j);
	if (k == J_SEND && *j->hop) {
		gather(sc, j, now);
		if (batch_is_peer(j->hop))
			peer_started(sc, j->hop);
	}
	return j;
}

struct parked {
	time_t until;
	int n;
	void (*fn)(void *arg, const char *hop, const struct peerstate *p);
	void *arg;
};

static void
parked_one(void *arg, const char *name, void *v)
{
	struct parked *w = arg;
	struct peerstate *p = v;

	if (p->parked.n == 0)
		return;
	w->n += p->parked.n;
	if (w->until == 0 || p->down_until < w->until)
		w->until = p->down_until;
	if (w->fn)
		w->fn(w->arg, name, p);
}

time_t
sched_parked_until(struct sched *sc)
{
	struct parked w = {0};

	if (sc->peers)
		htab_walk(sc->peers, parked_one, &w);
	return w.until;
}

int
sched_parked(struct sched *sc, void (*fn)(void *arg, const char *hop, const struct peerstate *p),
	     void *arg)
{
	struct parked w = {0, 0, fn, arg};

	if (sc->peers)
		htab_walk(sc->peers, parked_one, &w);
	return w.n;
}
