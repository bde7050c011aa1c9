/*
 * hold.c - "shipctl hold ID...": stop sending an order (outgoing or
 * deferred -> hold) until "shipctl release". One rename per order; an
 * order being sent right now (active/) is refused as busy (75).
 */
#include "shipctl.h"
#include "queue.h"

#include <stdio.h>
#include <string.h>

static int
hold_one(const struct config *cf, const char *id)
{
	struct qentry e;
	int rc = EX_OK;

	if (q_locate(cf, id, &e) < 0) {
		fprintf(stderr, "shipctl: hold: no order %s\n", id);
		return EX_NOTFOUND;
	}
	if (e.st == Q_HOLD)
		fprintf(stderr, "shipctl: hold: %s: already held\n", id);
	else if (e.st == Q_ACTIVE) {
		fprintf(stderr, "shipctl: hold: %s: busy: being sent\n", id);
		rc = EX_TEMPFAIL;
	} else if (e.st != Q_OUTGOING && e.st != Q_DEFERRED) {
		fprintf(stderr, "shipctl: hold: %s: cannot hold an order in %s\n", id, qe_state(&e));
		rc = EX_DATAERR;
	} else if (bay_move(e.bay, id, e.st, Q_HOLD) < 0) {
		/* lost a race with the daemon claiming it */
		enum qstate now;

		if (bay_find(e.bay, id, &now) == 0 && now == Q_ACTIVE) {
			fprintf(stderr, "shipctl: hold: %s: busy: being sent\n", id);
			rc = EX_TEMPFAIL;
		} else {
			fprintf(stderr, "shipctl: hold: %s: %s\n", id, err_get());
			rc = EX_TEMPFAIL;
		}
	} else
		audit("hold: %s held (was %s in %s)", id, qstate_name(e.st), e.bay);
	qe_free(&e);
	return rc;
}

VERB(hold)
{
	struct config *cf;
	int rc = EX_OK, r;

	if (argc < 2) {
		fprintf(stderr, "usage: shipctl hold ID...\n");
		return EX_USAGE;
	}
	cf = ctl_config(c);
	for (int i = 1; i < argc; i++)
		if ((r = hold_one(cf, argv[i])) != EX_OK && rc == EX_OK)
			rc = r;
	return rc;
}
