/*
 * import.c - the daemon's side of directory hops (global/dirhop.h): the
 * directories it imports from are every IMPORT-DIR (packets for this
 * node, and receipts) and every directory PEER's (receipts the next hop
 * wrote back on a shared medium). Each is watched with inotify; an event
 * queues one import job per directory (a child runs dirhop_import), and
 * an event that comes while that job runs queues it again when it ends.
 * The sweep queues them all too, for what events miss (NFS, overflow).
 * Never imports in the master: a large packet is copied in a child.
 */
#include "shipd.h"
#include "../global/dirhop.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static struct strv again;		/* directories with news while their job ran */

static void
each_dir(void (*fn)(const char *dir))
{
	struct strv dirs = {0};

	for (int i = 0; i < S->cf->import_dirs.n; i++)
		strv_add(&dirs, S->cf->import_dirs.v[i]);
	for (int i = 0; i < S->cf->npeers; i++)
		if (S->cf->peers[i].dir && !strv_has(&dirs, S->cf->peers[i].dir))
			strv_add(&dirs, S->cf->peers[i].dir);
	for (int i = 0; i < dirs.n; i++)
		fn(dirs.v[i]);
	strv_free(&dirs);
}

static void
watch_one(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		msg_warnx("import directory %s: not there (not mounted?): looked at every sweep",
			  dir);
		return;
	}
	pickup_watch_import(dir);
}

void
import_watch(void)
{
	each_dir(watch_one);
	import_scan();
}

static void
queue_one(const char *dir)
{
	qmgr_enqueue(&S->sched, J_IMPORT, dir, dir);
}

void
import_scan(void)
{
	each_dir(queue_one);
}

void
import_event(const char *dir)
{
	if (qmgr_busy(&S->sched, J_IMPORT, dir, dir)) {
		if (!strv_has(&again, dir))
			strv_add(&again, dir);
		return;
	}
	queue_one(dir);
}

void
import_exited(const char *dir)
{
	if (strv_has(&again, dir)) {
		strv_remove(&again, dir);
		queue_one(dir);
	}
}

int
import_run(const char *dir)
{
	struct import_stats st;

	if (dirhop_import(S->cf, S->keys, dir, once_first, &st) < 0) {
		msg_warnx("%s", err_get());
		return 75;
	}
	if (st.taken || st.had || st.receipts || st.refused)
		msg_info("import from %s: %d taken, %d had already, %d receipts, %d refused, %d left "
			 "for later", dir, st.taken, st.had, st.receipts, st.refused, st.waiting);
	return 0;		/* what waits is looked at again at the next event or sweep */
}
