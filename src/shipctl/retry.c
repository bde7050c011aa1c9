/*
 * retry.c - "shipctl retry ID...|--all": deferred orders are due now:
 * rewritten with the next attempt cleared (attempt count kept), then
 * renamed to outgoing/ for the daemon to pick up.
 */
#include "shipctl.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
retry_entry(struct qentry *e)
{
	if (e->st == Q_ACTIVE) {
		fprintf(stderr, "shipctl: retry: %s: busy: being sent\n", e->id);
		return EX_TEMPFAIL;
	}
	if (e->st != Q_DEFERRED) {
		fprintf(stderr, "shipctl: retry: %s: not deferred (%s)\n", e->id, qe_state(e));
		return EX_DATAERR;
	}
	if (!e->ok) {
		fprintf(stderr, "shipctl: retry: %s: %s\n", e->id, e->error);
		return EX_DATAERR;
	}
	e->o.next_attempt = 0;
	if (qe_rewrite(e, Q_OUTGOING, 0) < 0) {
		fprintf(stderr, "shipctl: retry: %s: %s\n", e->id, err_get());
		return EX_TEMPFAIL;
	}
	audit("retry: %s due now (after %d attempts) in %s", e->id, e->o.attempts, e->bay);
	return EX_OK;
}

VERB(retry)
{
	struct config *cf;
	int rc = EX_OK, r;

	if (argc < 2) {
		fprintf(stderr, "usage: shipctl retry ID...|--all\n");
		return EX_USAGE;
	}
	cf = ctl_config(c);
	if (strcmp(argv[1], "--all") == 0) {
		struct qentry *v;
		int n, done = 0;

		if (argc != 2) {
			fprintf(stderr, "usage: shipctl retry ID...|--all\n");
			return EX_USAGE;
		}
		q_collect(cf, &v, &n);
		for (int i = 0; i < n; i++) {
			if (v[i].st != Q_DEFERRED || !v[i].ok)
				continue;
			if ((r = retry_entry(&v[i])) == EX_OK)
				done++;
			else if (rc == EX_OK)
				rc = r;
		}
		q_free(v, n);
		fprintf(stderr, "shipctl: retry: %d deferred order%s due now\n", done,
			done == 1 ? "" : "s");
		return rc;
	}
	for (int i = 1; i < argc; i++) {
		struct qentry e;

		if (q_locate(cf, argv[i], &e) < 0) {
			fprintf(stderr, "shipctl: retry: no order %s\n", argv[i]);
			r = EX_NOTFOUND;
		} else {
			r = retry_entry(&e);
			qe_free(&e);
		}
		if (r != EX_OK && rc == EX_OK)
			rc = r;
	}
	return rc;
}
