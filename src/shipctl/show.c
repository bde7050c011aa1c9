/*
 * show.c - "shipctl show ID": one order in full (every field, its bay,
 * state, order path and data file size), or exit 1 "no order ID".
 * Read-only.
 */
#include "shipctl.h"
#include "queue.h"

#include <stdio.h>
#include <string.h>

VERB(show)
{
	struct config *cf;
	struct qentry e;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: shipctl show ID\n");
		return EX_USAGE;
	}
	cf = ctl_config(c);
	if (q_locate(cf, argv[1], &e) < 0) {
		fprintf(stderr, "shipctl: show: no order %s\n", argv[1]);
		return EX_NOTFOUND;
	}
	print_long(stdout, &e, time(NULL));
	qe_free(&e);
	return fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
}
