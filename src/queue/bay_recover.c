/*
 * bay_recover.c - start-up recovery of a bay and the running daemon's
 * sweep (the table in bay.h).
 *
 * Both remove only what no order names and nothing is still writing:
 * files in tmp/ and data/ (and safe_write temporaries in state
 * directories) must be BAY_ORPHAN_AGE seconds old or have a writer that
 * is gone, because `shipctl submit` may run beside the daemon: a file
 * being sealed in tmp/ is being written (fresh mtime), and a packet's
 * data/ID is renamed in just before its order is written. An active/
 * order goes back to outgoing/ only when no live process holds its lock
 * (commit.h's claim). Recovery never deletes an order: what cannot be
 * parsed goes to corrupt/ with the reason.
 */
#include "bay_int.h"
#include "progress.h"
#include "../util/htab.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		msg_warn("recovery: remove %s", path);
	return 0;
}

int
bay_rm_rf(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (access(path, F_OK) == 0) {
		err_set("cannot remove %s", path);
		return -1;
	}
	return 0;
}

int
bay_list_dir(const char *dir, struct strv *names)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL) {
		err_set("opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			strv_add(names, de->d_name);
	closedir(d);
	return 0;
}

static int
aged(const char *path, time_t now)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return 0;
	return now - sb.st_mtime >= BAY_ORPHAN_AGE;
}

/*
 * safe_create names a temporary ".tmp.PID.NSEC.SEQ": when PID no longer
 * exists nothing can still be writing it, whatever its age (a worker killed
 * with its master leaves one in active/ that would otherwise stay until a
 * start-up a minute later). A PID reused since only delays the removal.
 */
static int
writer_gone(const char *name)
{
	char *end;
	long pid;

	if (strncmp(name, ".tmp.", 5) != 0)
		return 0;
	pid = strtol(name + 5, &end, 10);
	if (end == name + 5 || *end != '.' || pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* tmp/: everything old enough, or whose writer is gone. */
static void
sweep_tmp(const char *bay, time_t now, struct recovery *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct strv names = {0};
	int n = 0;

	if (bay_path(dir, sizeof(dir), bay, Q_TMP, NULL) < 0 || bay_list_dir(dir, &names) < 0) {
		msg_warnx("recovery: %s", err_get());
		return;
	}
	for (int i = 0; i < names.n; i++) {
		if (path_fmt(path, sizeof(path), "%s/%s", dir, names.v[i]) < 0 ||
		    !(aged(path, now) || writer_gone(names.v[i])))
			continue;
		if (bay_rm_rf(path) == 0)
			n++;
		else
			msg_warn("recovery: cannot remove %s", path);
	}
	strv_free(&names);
	if (n) {
		r->tmp_removed += n;
		fsync_dir(dir);
	}
}

/* safe_write leaves ".tmp.*" beside the file it replaces if it crashed. */
static void
sweep_temporaries(const char *dir, time_t now, struct recovery *r)
{
	char path[PATH_MAX];
	struct strv names = {0};
	int n = 0;

	if (bay_list_dir(dir, &names) < 0)
		return;
	for (int i = 0; i < names.n; i++)
		if (strncmp(names.v[i], ".tmp.", 5) == 0 &&
		    path_fmt(path, sizeof(path), "%s/%s", dir, names.v[i]) == 0 &&
		    (aged(path, now) || writer_gone(names.v[i])) && unlink(path) == 0)
			n++;
	strv_free(&names);
	if (n) {
		r->tmp_removed += n;
		fsync_dir(dir);
	}
}

/* active/: back to outgoing/ when no live process holds the order's lock. */
static int
sweep_active(const char *bay, bay_busy_fn busy, void *arg, struct strv *requeued,
	     struct recovery *r)
{
	char dir[PATH_MAX];
	struct strv names = {0};

	if (bay_path(dir, sizeof(dir), bay, Q_ACTIVE, NULL) < 0 || bay_list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n; i++) {
		const char *id = names.v[i];
		int rc;

		if (!order_id_valid(id) || (busy && busy(arg, bay, id)))
			continue;
		if ((rc = bay_requeue(bay, id)) == 0) {
			r->active_requeued++;
			if (requeued)
				strv_add(requeued, id);
		} else if (rc < 0)
			msg_warnx("recovery: %s", err_get());
	}
	strv_free(&names);
	return 0;
}

/*
 * data/: a packet no order names is a crash before acceptance (once
 * BAY_ORPHAN_AGE old: a submit may be about to write its order), or a
 * crash inside bay_finish (seen/ID and no order: at once; only bay_finish
 * writes seen/ID, and ids are never reused, so nothing can be about to
 * name it). The orders are listed first, by readdir alone.
 */
static int
sweep_data(const char *bay, time_t now, struct recovery *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct strv names = {0};
	struct htab *orders = htab_new();
	int n = 0;

	for (int st = 0; st < Q_NSTATES; st++)
		if (bay_path(dir, sizeof(dir), bay, (enum qstate)st, NULL) == 0 &&
		    bay_list_dir(dir, &names) == 0) {
			for (int i = 0; i < names.n; i++)
				htab_put(orders, names.v[i], (void *)1);
			strv_free(&names);
		}
	if (bay_path(dir, sizeof(dir), bay, Q_DATA, NULL) < 0 || bay_list_dir(dir, &names) < 0) {
		htab_free(orders, NULL);
		return -1;
	}
	for (int i = 0; i < names.n; i++) {
		const char *id = names.v[i];
		int valid = order_id_valid(id);

		if ((valid && htab_get(orders, id)) ||
		    path_fmt(path, sizeof(path), "%s/%s", dir, id) < 0)
			continue;
		if (!aged(path, now) && !(valid && bay_seen(bay, id)))
			continue;
		if (valid && bay_find(bay, id, NULL) == 0)
			continue;	/* its order was written since the listing */
		if (bay_rm_rf(path) == 0) {
			n++;
			msg_info("recovery: removed orphan data %s", path);
		} else
			msg_warn("recovery: cannot remove %s", path);
	}
	strv_free(&names);
	htab_free(orders, NULL);
	if (n) {
		r->data_orphans += n;
		fsync_dir(dir);
	}
	return 0;
}

/* Leftovers of dead writers, and active/ orders nobody holds. */
static int
sweep_writers(const char *bay, time_t now, bay_busy_fn busy, void *arg,
	      struct strv *requeued, struct recovery *r)
{
	static const enum qstate others[] = {Q_SEEN, Q_RECEIPTS, Q_DONE};
	char dir[PATH_MAX];

	sweep_tmp(bay, now, r);
	for (int i = 0; i < Q_NSTATES; i++)
		if (bay_path(dir, sizeof(dir), bay, (enum qstate)i, NULL) == 0)
			sweep_temporaries(dir, now, r);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (bay_path(dir, sizeof(dir), bay, others[i], NULL) == 0)
			sweep_temporaries(dir, now, r);
	progress_clean(bay);
	return sweep_active(bay, busy, arg, requeued, r);
}

int
bay_sweep(const char *bay, bay_busy_fn busy, void *arg, struct strv *requeued,
	  struct recovery *r)
{
	time_t now = time(NULL);

	memset(r, 0, sizeof(*r));
	if (sweep_writers(bay, now, busy, arg, requeued, r) < 0)
		return -1;
	return sweep_data(bay, now, r);
}

/* A state directory: junk names and unparseable orders go to corrupt/. */
static void
recover_state(const char *bay, enum qstate st, struct recovery *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct strv names = {0};
	struct stat sb;
	struct order o;

	if (bay_path(dir, sizeof(dir), bay, st, NULL) < 0 || bay_list_dir(dir, &names) < 0) {
		msg_warnx("recovery: %s", err_get());
		return;
	}
	for (int i = 0; i < names.n; i++) {
		const char *id = names.v[i];

		if (strncmp(id, ".tmp.", 5) == 0)
			continue;
		if (path_fmt(path, sizeof(path), "%s/%s", dir, id) < 0 || lstat(path, &sb) < 0)
			continue;
		if (!order_id_valid(id)) {
			bay_corrupt(bay, id, st, "not an order id");
			r->corrupted++;
		} else if (!S_ISREG(sb.st_mode)) {
			bay_corrupt(bay, id, st, "not a regular file");
			r->corrupted++;
		} else if (bay_load(bay, id, st, &o) < 0) {
			bay_corrupt(bay, id, st, err_get());
			r->corrupted++;
		} else
			order_free(&o);
	}
	strv_free(&names);
}

/* unpack/: finished if its receipt was written, else started over. */
static int
recover_unpack(const char *bay, struct recovery *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct strv names = {0};

	if (bay_path(dir, sizeof(dir), bay, Q_UNPACK, NULL) < 0 || bay_list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n; i++) {
		const char *id = names.v[i];
		int lock;

		if (path_fmt(path, sizeof(path), "%s/%s", dir, id) < 0)
			continue;
		/* a live delivery (a worker of a daemon running beside us) holds it */
		if ((lock = bay_unpack_lock(path)) < 0 && errno == EWOULDBLOCK)
			continue;
		if (lock >= 0)
			close(lock);
		if (bay_delivered(bay, id)) {
			if (bay_unpack_finish(bay, id, NULL) == 0)
				r->unpack_finished++;
			else
				msg_warnx("recovery: %s", err_get());
		} else if (bay_rm_rf(path) == 0)
			r->unpack_removed++;
		else
			msg_warn("recovery: cannot remove %s", path);
	}
	strv_free(&names);
	fsync_dir(dir);
	return 0;
}

int
bay_recover(const char *bay, struct recovery *r)
{
	static const enum qstate kept[] = {Q_OUTGOING, Q_ACTIVE, Q_DEFERRED, Q_HOLD, Q_JOINING,
					   Q_RETURN};
	time_t now = time(NULL);

	memset(r, 0, sizeof(*r));
	if (bay_init(bay) < 0)
		return -1;
	/*
	 * active/: back to outgoing/ unless a live worker holds its lock (a
	 * `shipd --poll` running beside a daemon that starts); workers die with
	 * their master, so after a crash nothing holds one. Then every order
	 * is parsed (what is not one goes to corrupt/, where it still names
	 * its data), then data/ and unpack/.
	 */
	if (sweep_writers(bay, now, NULL, NULL, NULL, r) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		recover_state(bay, kept[i], r);
	if (sweep_data(bay, now, r) < 0)
		return -1;
	return recover_unpack(bay, r);
}
