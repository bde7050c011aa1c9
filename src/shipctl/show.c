/*
 * show.c - "shipctl show [--json] ID": one order in full (every field,
 * its bay, state, order path and data file size) and, once it ended here
 * or was delivered here, its history (done/ID: when, where, by which
 * route, with which result, the destinations' receipts); exit 1 "no
 * order ID" when there is neither. --json: json.h's envelope with
 * "path", "data", "order" (null once ended) and "history" (or null).
 * Read-only.
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"
#include "../queue/history.h"

#include <limits.h>

#include <stdio.h>
#include <string.h>

VERB(show)
{
	struct config *cf;
	struct qentry e;
	struct history h;
	char hbay[PATH_MAX];
	const char *id = NULL;
	int json = 0, live, hist, rc;
	time_t now = time(NULL);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && !json)
			json = 1;
		else if (argv[i][0] != '-' && id == NULL)
			id = argv[i];
		else
			id = NULL, argc = 0;
	}
	if (id == NULL) {
		fprintf(stderr, "usage: shipctl show [--json] ID\n");
		return EX_USAGE;
	}
	cf = ctl_config(c);
	live = q_locate(cf, id, &e) == 0;
	if ((hist = find_history(cf, id, hbay, sizeof(hbay), &h)) < 0 && !live)
		return EX_TEMPFAIL;
	if (!live && hist != 0) {
		fprintf(stderr, "shipctl: show: no order %s (none queued, none in the history of "
			"the last %d days)\n", id, cf->history_days);
		return EX_NOTFOUND;
	}
	if (json) {
		struct sbuf b;
		char path[PATH_MAX];

		json_begin(&b, "show", cf, now);
		if (live)
			bay_path(path, sizeof(path), e.bay, e.st, e.id);
		else
			bay_path(path, sizeof(path), hbay, Q_DONE, id);
		sbuf_puts(&b, ",\"path\":");
		json_str(&b, path);
		if (live)
			bay_data_path(path, sizeof(path), e.bay, e.id);
		sbuf_puts(&b, ",\"data\":");
		json_str(&b, live ? path : NULL);
		sbuf_puts(&b, ",\"order\":");
		if (live)
			json_entry(&b, &e, now);
		else
			sbuf_puts(&b, "null");
		sbuf_puts(&b, ",\"history\":");
		if (hist == 0)
			json_history(&b, &h);
		else
			sbuf_puts(&b, "null");
		rc = json_end(&b) == 0 ? EX_OK : EX_TEMPFAIL;
	} else {
		if (live)
			print_long(stdout, &e, now);
		if (live && hist == 0)
			putchar('\n');
		if (hist == 0)
			print_history(stdout, hbay, &h, now);
		rc = fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
	}
	if (live)
		qe_free(&e);
	if (hist == 0)
		hist_free(&h);
	return rc;
}
