/*
 * resubmit.c - "shipctl resubmit ID... | --all": send a packet that
 * expired and came home (return/ of a return bay) again: returning,
 * attempts and errors reset, its undelivered destinations kept, a new
 * expiry of now + the class's expiration, hops restarted here, into
 * outgoing/ of the class's storage bay, under a new journey id (printed).
 *
 * bay_enqueue_from links (or copies) the data and saves the new order
 * first; only then is the returned order removed: a crash leaves the
 * returned order intact, or both (the return copy inert), never an order
 * without its data. The loop and its options are idverb.c's.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int
resubmit(const struct idverb *v, const struct config *cf, struct qentry *e)
{
	char newid[ORDER_ID_MAX];
	const struct sclass *cls;
	const char *target;
	struct order *o = &e->o;

	if ((cls = config_class(cf, o->sclass)) == NULL) {
		fprintf(stderr, "shipctl: resubmit: %s: class \"%s\" is no longer configured\n",
			e->id, o->sclass);
		return EX_DATAERR;
	}
	if (o->dests.n == 0) {
		fprintf(stderr, "shipctl: resubmit: %s: no undelivered destination left\n", e->id);
		return EX_DATAERR;
	}
	/* a new journey gets a new order id: relays that saw the first one
	 * keep a seen/ marker for it and would take this one for a replay */
	if (order_id_resubmit(e->id, newid, sizeof(newid)) < 0) {
		fprintf(stderr, "shipctl: resubmit: %s: id too long to resubmit\n", e->id);
		return EX_DATAERR;
	}
	o->returning = 0;
	free(o->return_reason);
	o->return_reason = NULL;
	o->attempts = 0;
	free(o->last_error);
	o->last_error = NULL;
	o->next_attempt = 0;
	o->expires = time(NULL) + (time_t)cls->expiration_days * 86400;
	strv_free(&o->hops);	/* a fresh journey: old hops would look like a loop */
	strv_add(&o->hops, cf->node);
	snprintf(o->id, sizeof(o->id), "%s", newid);
	target = bay_choose(cls);
	if (bay_init(target) < 0 || bay_space_ok(cf, target, o->size) < 0 ||
	    bay_enqueue_from(e->bay, e->id, target, o, Q_OUTGOING) < 0) {
		fprintf(stderr, "shipctl: resubmit: %s: %s\n", e->id, err_get());
		return EX_TEMPFAIL;
	}
	/* committed: now the returned order, then its data */
	if (bay_remove(e->bay, e->id, Q_RETURN) < 0)
		fprintf(stderr, "shipctl: resubmit: %s: warning: cannot remove the returned "
			"order: %s\n", e->id, err_get());
	printf("%s\n", newid);
	audit("resubmit: %s as %s to %s in %s, expires in %d days", e->id, newid, o->dests.v[0],
	      target, cls->expiration_days);
	return EX_OK;
}

IDVERB(resubmit, QBIT(Q_RETURN), QBIT(Q_RETURN), "not a returned order", 1,
       "%d returned order%s resubmitted", resubmit)
