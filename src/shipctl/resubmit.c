/*
 * resubmit.c - "shipctl resubmit ID...": send a packet that expired and
 * came home (return/ of a return bay) again: returning, attempts and
 * errors reset, its undelivered destinations kept, a new expiry of now +
 * the class's expiration, hops restarted here, into outgoing/ of the
 * class's storage bay.
 *
 * Across bays the data is linked (or copied) first, the new order saved,
 * and only then the return order and old data removed: a crash leaves the
 * returned order intact, or both (the return copy inert), never an order
 * without its data.
 */
#include "shipctl.h"
#include "queue.h"
#include "../util/safefile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
resubmit_one(const struct config *cf, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX], data[PATH_MAX], newid[ORDER_ID_MAX];
	const struct sclass *cls;
	const char *target;
	struct qentry e;
	struct order *o;
	int rc = EX_OK;

	if (q_locate(cf, id, &e) < 0) {
		fprintf(stderr, "shipctl: resubmit: no order %s\n", id);
		return EX_NOTFOUND;
	}
	o = &e.o;
	if (e.st == Q_ACTIVE) {
		fprintf(stderr, "shipctl: resubmit: %s: busy: being sent\n", id);
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (e.st != Q_RETURN || !e.ok) {
		fprintf(stderr, "shipctl: resubmit: %s: not a returned order (%s)%s%s\n", id,
			qe_state(&e), e.ok ? "" : ": ", e.ok ? "" : e.error);
		rc = EX_DATAERR;
		goto out;
	}
	if ((cls = config_class(cf, o->sclass)) == NULL) {
		fprintf(stderr, "shipctl: resubmit: %s: class \"%s\" is no longer configured\n",
			id, o->sclass);
		rc = EX_DATAERR;
		goto out;
	}
	if (o->dests.n == 0) {
		fprintf(stderr, "shipctl: resubmit: %s: no undelivered destination left\n", id);
		rc = EX_DATAERR;
		goto out;
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

	/* a new journey gets a new order id: relays that saw the first one
	 * keep a seen/ marker for it and would take this one for a replay */
	if (order_id_resubmit(id, newid, sizeof(newid)) < 0) {
		fprintf(stderr, "shipctl: resubmit: %s: id too long to resubmit\n", id);
		rc = EX_DATAERR;
		goto out;
	}
	snprintf(o->id, sizeof(o->id), "%s", newid);
	target = bay_choose(cls);
	if (bay_init(target) < 0 || bay_space_ok(cf, target, o->size) < 0 ||
	    bay_link_data_as(e.bay, id, target, newid) < 0) {
		fprintf(stderr, "shipctl: resubmit: %s: %s\n", id, err_get());
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (bay_path(dir, sizeof(dir), target, Q_OUTGOING, NULL) < 0 || order_save(dir, o) < 0) {
		fprintf(stderr, "shipctl: resubmit: %s: %s\n", id, err_get());
		if (bay_data_path(data, sizeof(data), target, newid) == 0)
			unlink(data);
		rc = EX_TEMPFAIL;
		goto out;
	}
	/* committed: now the old order, then the old data */
	if (bay_path(path, sizeof(path), e.bay, Q_RETURN, id) == 0 &&
	    (unlink(path) < 0 || fsync_parent(path) < 0))
		fprintf(stderr, "shipctl: resubmit: %s: warning: cannot remove %s: %s\n", id,
			path, strerror(errno));
	if (bay_data_path(data, sizeof(data), e.bay, id) == 0 && unlink(data) == 0)
		fsync_parent(data);
	printf("%s\n", newid);
	audit("resubmit: %s as %s to %s in %s, expires in %d days", id, newid, o->dests.v[0], target,
	      cls->expiration_days);
out:
	qe_free(&e);
	return rc;
}

VERB(resubmit)
{
	struct config *cf;
	int rc = EX_OK, r;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: shipctl resubmit ID...\n");
		return EX_USAGE;
	}
	cf = ctl_config(c);
	for (int i = 1; i < argc; i++)
		if ((r = resubmit_one(cf, argv[i])) != EX_OK && rc == EX_OK)
			rc = r;
	return rc;
}
