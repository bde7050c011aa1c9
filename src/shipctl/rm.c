/*
 * rm.c - "shipctl rm ID... | --all": drop an order and its packet data in
 * any state but active/ (being sent, from there or from outgoing/ while it
 * was sealed: refused as busy, 75). Not marked seen: the packet was
 * abandoned, not delivered. Each removal is logged with who did it
 * (stderr and syslog). The loop and its options are idverb.c's: `rm
 * --all` removes every order, `rm --all --state S` those in S (Postfix's
 * postsuper -d ALL [queue]).
 */
#include "queue.h"

#include <stdio.h>

static int
rm(const struct idverb *v, const struct config *cf, struct qentry *e)
{
	if (bay_remove(e->bay, e->id, e->st) < 0) {
		fprintf(stderr, "shipctl: rm: %s: %s\n", e->id, err_get());
		return EX_TEMPFAIL;
	}
	if (e->ok)
		audit("rm: %s removed from %s in %s (%s, %llu bytes, to %s%s)", e->id,
		      qstate_name(e->st), e->bay, e->o.name ? e->o.name : "-",
		      (unsigned long long)e->o.size, e->o.dests.n ? e->o.dests.v[0] : "-",
		      e->o.dests.n > 1 ? ",..." : "");
	else
		audit("rm: %s removed from %s in %s (unparseable)", e->id, qstate_name(e->st),
		      e->bay);
	return EX_OK;
}

/* every state but active/ */
#define RM_STATES	((QBIT(Q_NSTATES) - 1) & ~QBIT(Q_ACTIVE))

IDVERB(rm, RM_STATES, RM_STATES, "not removable", 0, "%d order%s removed", rm)
