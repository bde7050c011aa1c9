/*
 * dirhop.c - `shipctl export --to NODE DIR` and `shipctl import DIR`: the
 * carried-by-hand directory hop (global/dirhop.h). export writes every
 * queued order whose next hop is NODE into DIR (custody stays here until
 * NODE's receipt is imported); import takes what DIR holds for this node:
 * packets (a receipt is written back into DIR) and receipts. Orders are
 * claimed and rewritten through commit.h only; never touches the network.
 */
#include "shipctl.h"
#include "../global/dirhop.h"
#include "../queue/commit.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct exp {
	const struct config *cf;
	const struct keys *me;
	const char *to, *dir;
	int exported, failed, skipped;
};

/* The destinations of o whose next hop is e->to and that are not yet on a medium. */
static void
dests_for(const struct exp *e, const struct order *o, struct strv *mine)
{
	for (int k = 0; k < o->dests.n; k++) {
		const char *nh = config_next_hop(e->cf, o->dests.v[k]);

		if (nh && strcmp(nh, e->to) == 0 && order_exported(o, o->dests.v[k]) == NULL)
			strv_add(mine, o->dests.v[k]);
	}
}

static int
export_one(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	struct exp *e = arg;
	struct strv mine = {0};
	struct claim c;
	struct order o;
	char *why = NULL;
	time_t back = mtime;

	if (bay_load(bay, id, st, &o) < 0)
		return 0;
	if (!o.returning)
		dests_for(e, &o, &mine);
	order_free(&o);
	if (mine.n == 0)
		goto out;
	if (bay_claim(&c, bay, id, st) != 0) {
		fprintf(stderr, "shipctl: export: order %s: busy (being sent): skipped\n", id);
		e->skipped++;
		goto out;
	}
	strv_free(&mine);
	if (bay_load(bay, id, Q_ACTIVE, &o) < 0) {
		bay_corrupt(bay, id, Q_ACTIVE, err_get());
		bay_release(&c);
		return 0;
	}
	dests_for(e, &o, &mine);
	if (mine.n && dirhop_export(e->cf, e->me, bay, &o, &mine, e->to, e->dir, 0, &why) < 0) {
		fprintf(stderr, "shipctl: export: order %s: %s\n", id, why);
		free(why);
		e->failed++;
	} else if (mine.n) {
		dirhop_mark_exported(&o, &mine, e->to, time(NULL));
		printf("%s exported to %s in %s\n", id, e->to, e->dir);
		e->exported++;
		if (dirhop_all_exported(&o)) {
			free(o.last_error);
			o.last_error = xstrdup("exported; waiting for the next hop's receipt");
			st = Q_DEFERRED;
			back = o.expires ? o.expires : BAY_NEXT_POLL;
		}
	}
	/* back where it was (or waiting for its receipt), never unlocked */
	if (bay_rewrite(bay, &o, Q_ACTIVE, st, back, &c) < 0)
		fprintf(stderr, "shipctl: export: order %s: %s\n", id, err_get());
	bay_release(&c);
	order_free(&o);
out:
	strv_free(&mine);
	return 0;
}

VERB(export)
{
	struct config *cf;
	struct keys *me = NULL;
	struct strv bays = {0};
	struct exp e;
	struct stat sb;
	const struct peer *p;

	memset(&e, 0, sizeof(e));
	if (argc != 4 || strcmp(argv[1], "--to") != 0) {
		fprintf(stderr, "usage: shipctl export --to NODE DIR\n");
		return EX_USAGE;
	}
	e.to = argv[2];
	e.dir = argv[3];
	c->keep_root = 1;
	cf = ctl_config(c);
	if ((p = config_peer(cf, e.to)) == NULL || !PEER_REACHABLE(p)) {
		fprintf(stderr, "shipctl: export: %s is not a PEER of %s\n", e.to, cf->node);
		return EX_DATAERR;
	}
	if (stat(e.dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "shipctl: export: %s: not a directory\n", e.dir);
		return EX_CANTCREAT;
	}
	if (keys_load(cf->key_file, &me) < 0) {
		fprintf(stderr, "shipctl: export: %s\n", err_get());
		return EX_CONFIG;
	}
	ctl_drop(c);
	e.cf = cf;
	e.me = me;
	bay_all(cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		bay_scan(bays.v[i], Q_OUTGOING, export_one, &e);
		bay_scan(bays.v[i], Q_DEFERRED, export_one, &e);
	}
	strv_free(&bays);
	keys_free(me);
	printf("export to %s: %d order%s written to %s, %d failed, %d busy\n", e.to, e.exported,
	       e.exported == 1 ? "" : "s", e.dir, e.failed, e.skipped);
	return e.failed || e.skipped ? EX_TEMPFAIL : EX_OK;
}

VERB(import)
{
	struct config *cf;
	struct keys *me = NULL;
	struct import_stats st;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: shipctl import DIR\n");
		return EX_USAGE;
	}
	c->keep_root = 1;
	cf = ctl_config(c);
	if (keys_load(cf->key_file, &me) < 0) {
		fprintf(stderr, "shipctl: import: %s\n", err_get());
		return EX_CONFIG;
	}
	ctl_drop(c);
	rc = dirhop_import(cf, me, argv[1], NULL, &st);
	keys_free(me);
	if (rc < 0) {
		fprintf(stderr, "shipctl: import: %s\n", err_get());
		return EX_NOINPUT;
	}
	printf("import from %s: %d taken, %d had already, %d receipt%s, %d refused, %d left for "
	       "later\n", argv[1], st.taken, st.had, st.receipts, st.receipts == 1 ? "" : "s",
	       st.refused, st.waiting);
	if (st.taken || st.receipts)
		ctl_daemon_note(c, "import");
	return st.refused ? EX_DATAERR : st.waiting ? EX_TEMPFAIL : EX_OK;
}
