/*
 * release.c - "shipctl release ID...": a held order goes back to
 * outgoing/, due now. The order is rewritten in hold/ (next attempt
 * cleared) and then renamed, so a crash leaves it held or released, never
 * both.
 */
#include "shipctl.h"
#include "queue.h"

#include <stdio.h>
#include <string.h>

static int
release_one(const struct config *cf, const char *id)
{
	struct qentry e;
	int rc = EX_OK;

	if (q_locate(cf, id, &e) < 0) {
		fprintf(stderr, "shipctl: release: no order %s\n", id);
		return EX_NOTFOUND;
	}
	if (e.st == Q_ACTIVE) {
		fprintf(stderr, "shipctl: release: %s: busy: being sent\n", id);
		rc = EX_TEMPFAIL;
	} else if (e.st != Q_HOLD) {
		fprintf(stderr, "shipctl: release: %s: not held (%s)\n", id, qe_state(&e));
		rc = EX_DATAERR;
	} else if (!e.ok) {
		fprintf(stderr, "shipctl: release: %s: %s\n", id, e.error);
		rc = EX_DATAERR;
	} else {
		e.o.next_attempt = 0;
		if (qe_rewrite(&e, Q_OUTGOING, 0) < 0) {
			fprintf(stderr, "shipctl: release: %s: %s\n", id, err_get());
			rc = EX_TEMPFAIL;
		} else
			audit("release: %s released to outgoing in %s", id, e.bay);
	}
	qe_free(&e);
	return rc;
}

VERB(release)
{
	struct config *cf;
	int rc = EX_OK, r;

	if (argc < 2) {
		fprintf(stderr, "usage: shipctl release ID...\n");
		return EX_USAGE;
	}
	cf = ctl_config(c);
	for (int i = 1; i < argc; i++)
		if ((r = release_one(cf, argv[i])) != EX_OK && rc == EX_OK)
			rc = r;
	return rc;
}
