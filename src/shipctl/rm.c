/*
 * rm.c - "shipctl rm ID...": drop an order and its packet data in any
 * state but active/ (being sent: refused as busy, 75). Not marked seen:
 * the packet was abandoned, not delivered. Each removal is logged with
 * who did it (stderr and syslog).
 */
#include "shipctl.h"
#include "queue.h"

#include <stdio.h>
#include <string.h>

static int
rm_one(const struct config *cf, const char *id)
{
	struct qentry e;
	int rc = EX_OK;

	if (q_locate(cf, id, &e) < 0) {
		fprintf(stderr, "shipctl: rm: no order %s\n", id);
		return EX_NOTFOUND;
	}
	if (e.st == Q_ACTIVE) {
		fprintf(stderr, "shipctl: rm: %s: busy: being sent\n", id);
		rc = EX_TEMPFAIL;
	} else if (bay_remove(e.bay, id, e.st) < 0) {
		fprintf(stderr, "shipctl: rm: %s: %s\n", id, err_get());
		rc = EX_TEMPFAIL;
	} else if (e.ok)
		audit("rm: %s removed from %s in %s (%s, %llu bytes, to %s%s)", id,
		      qstate_name(e.st), e.bay, e.o.name ? e.o.name : "-",
		      (unsigned long long)e.o.size, e.o.dests.n ? e.o.dests.v[0] : "-",
		      e.o.dests.n > 1 ? ",..." : "");
	else
		audit("rm: %s removed from %s in %s (unparseable)", id, qstate_name(e.st), e.bay);
	qe_free(&e);
	return rc;
}

VERB(rm)
{
	struct config *cf;
	int rc = EX_OK, r;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: shipctl rm ID...\n");
		return EX_USAGE;
	}
	cf = ctl_config(c);
	for (int i = 1; i < argc; i++)
		if ((r = rm_one(cf, argv[i])) != EX_OK && rc == EX_OK)
			rc = r;
	return rc;
}
