/*
 * show.c - "shipctl show [--json] ID": one order in full (every field,
 * its bay, state, order path and data file size), or exit 1 "no order
 * ID". --json: json.h's envelope with "path", "data" and "order".
 * Read-only.
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"

#include <limits.h>

#include <stdio.h>
#include <string.h>

VERB(show)
{
	struct config *cf;
	struct qentry e;
	const char *id = NULL;
	int json = 0;
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
	if (q_locate(cf, id, &e) < 0) {
		fprintf(stderr, "shipctl: show: no order %s\n", id);
		return EX_NOTFOUND;
	}
	if (json) {
		struct sbuf b;
		char path[PATH_MAX];

		json_begin(&b, "show", cf, now);
		bay_path(path, sizeof(path), e.bay, e.st, e.id);
		sbuf_puts(&b, ",\"path\":");
		json_str(&b, path);
		bay_data_path(path, sizeof(path), e.bay, e.id);
		sbuf_puts(&b, ",\"data\":");
		json_str(&b, path);
		sbuf_puts(&b, ",\"order\":");
		json_entry(&b, &e, now);
		qe_free(&e);
		return json_end(&b) == 0 ? EX_OK : EX_TEMPFAIL;
	}
	print_long(stdout, &e, now);
	qe_free(&e);
	return fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
}
