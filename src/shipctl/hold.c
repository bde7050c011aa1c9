/*
 * hold.c - "shipctl hold ID... | --all": stop sending an order (outgoing
 * or deferred -> hold) until "shipctl release". One rename per order; an
 * order being sent right now (active/, or sent from outgoing/ while it was
 * sealed: queue.h's sending) is refused as busy (75). The loop and its
 * options are idverb.c's.
 */
#include "queue.h"

#include <stdio.h>

static int
hold(const struct idverb *v, const struct config *cf, struct qentry *e)
{
	enum qstate now;

	if (e->st == Q_HOLD) {
		fprintf(stderr, "shipctl: hold: %s: already held\n", e->id);
		return EX_OK;
	}
	if (bay_move(e->bay, e->id, e->st, Q_HOLD) == 0) {
		audit("hold: %s held (was %s in %s)", e->id, qstate_name(e->st), e->bay);
		return EX_OK;
	}
	/* lost a race with the daemon claiming it */
	if (bay_find(e->bay, e->id, &now) == 0 && now == Q_ACTIVE)
		fprintf(stderr, "shipctl: hold: %s: busy: being sent\n", e->id);
	else
		fprintf(stderr, "shipctl: hold: %s: %s\n", e->id, err_get());
	return EX_TEMPFAIL;
}

IDVERB(hold, QBIT(Q_OUTGOING) | QBIT(Q_DEFERRED) | QBIT(Q_HOLD), QBIT(Q_OUTGOING) | QBIT(Q_DEFERRED),
       "not outgoing or deferred", 0, "%d order%s held", hold)
