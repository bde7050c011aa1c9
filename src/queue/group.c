/*
 * group.c - commit groups (commit.h): the renames of several verbs first,
 * then one fsync of each directory they touched, so that a worker's batch
 * of claims or finishes costs one round of directory fsyncs, not one per
 * order. Offers bay_group_sync (and bay_group_add to the queue's own
 * verbs) and bay_finish_all.
 *
 * Never reports anything durable before its fsync returned; never groups
 * steps whose order matters for a crash (seen/ before the order's unlink,
 * the unlink before data/'s) into one fsync round.
 */
#include "bay_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
bay_group_add(struct bay_group *g, const char *dir)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->dir[i], dir) == 0)
			return 0;
	if (g->n == BAY_GROUP_DIRS)
		return fsync_dir(dir);	/* no room to wait: durable now */
	g->dir[g->n++] = xstrdup(dir);
	return 0;
}

int
bay_group_sync(struct bay_group *g)
{
	char why[1024] = "";
	int rc = 0;

	for (int i = 0; i < g->n; i++) {
		if (fsync_dir(g->dir[i]) < 0 && rc == 0) {
			snprintf(why, sizeof(why), "%s", err_get());
			rc = -1;
		}
		free(g->dir[i]);
		g->dir[i] = NULL;
	}
	g->n = 0;
	if (rc < 0)
		err_set("%s", why);
	return rc;
}

/*
 * bay_finish's three steps, each for every order before the next, with
 * one directory fsync between them: a crash leaves each order as bay_finish's
 * crash at the same step would (queued, or queued and seen, or finished
 * with an orphan data/ID recovery removes at once).
 */
int
bay_finish_all(const char *bay, const char *const *ids, int n, enum qstate from)
{
	if (n == 1)
		return bay_finish(bay, ids[0], from);
	return bay_finish_known(bay, ids, NULL, n, from);
}

/* expires NULL: each order's expiry read from its file (bay_finish_all) */
int
bay_finish_known(const char *bay, const char *const *ids, const time_t *expires, int n,
		 enum qstate from)
{
	char sdir[PATH_MAX], fdir[PATH_MAX], path[PATH_MAX], buf[32];
	struct order o;
	int rc = 0, len;

	if (bay_path(sdir, sizeof(sdir), bay, Q_SEEN, NULL) < 0 ||
	    bay_path(fdir, sizeof(fdir), bay, from, NULL) < 0)
		return -1;
	/* 1. every seen/ID (a rerun after a crash keeps the marker it wrote) */
	for (int i = 0; i < n; i++) {
		time_t exp = expires ? expires[i] : 0;

		if (!order_id_valid(ids[i]) ||
		    bay_path(path, sizeof(path), bay, from, ids[i]) < 0) {
			err_set("finish: bad order id \"%.64s\"", ids[i]);
			return -1;
		}
		if (expires == NULL && order_load(path, &o) == 0) {
			exp = o.expires;
			order_free(&o);
		}
		len = snprintf(buf, sizeof(buf), "%lld\n", (long long)exp);
		/* not fsynced: see bay_mark_seen; kept if there (a rerun) */
		if (safe_write_volatile_keep(sdir, ids[i], buf, len, 0600) < 0)
			return -1;
	}
	/* seen/ is durable before any order's removal is */
	if (fsync_dir(sdir) < 0)
		return -1;
	/* 2. every order file */
	for (int i = 0; i < n; i++)
		if (bay_path(path, sizeof(path), bay, from, ids[i]) < 0 ||
		    (safe_unlink_nosync(path) < 0 && errno != ENOENT))
			return -1;
	if (fsync_dir(fdir) < 0)
		return -1;
	/* 3. every data/ID, not fsynced: see bay_finish */
	for (int i = 0; i < n; i++)
		if (bay_data_path(path, sizeof(path), bay, ids[i]) < 0 ||
		    (safe_unlink_nosync(path) < 0 && errno != ENOENT))
			rc = -1;
	return rc;
}
