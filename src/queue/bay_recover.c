/*
 * bay_recover.c - start-up recovery of a bay (the table in bay.h), and the
 * last step of delivery (unpack/ID -> incoming/) that recovery finishes
 * when a crash interrupted it.
 *
 * Recovery removes only what no order names and nothing is still writing:
 * files in tmp/ and data/ (and safe_write temporaries in state
 * directories) must be BAY_ORPHAN_AGE seconds old, because `shipctl
 * submit` may run while the daemon starts: a file being sealed in tmp/ is
 * being written (fresh mtime), and a part's data/ID is renamed in just
 * before its order is written. It never deletes an order: what cannot be
 * parsed goes to corrupt/ with the reason.
 */
#include "bay.h"
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

/* rm -r without following symbolic links. */
static int
rm_rf(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return access(path, F_OK) == 0 ? -1 : 0;
}

/* Names in dir except "." and ".."; -1 if dir cannot be read. */
static int
list_dir(const char *dir, struct strv *names)
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

/* tmp/: everything old enough goes. */
static void
recover_tmp(const char *bay, time_t now, struct recovery *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct strv names = {0};

	if (bay_subpath(dir, sizeof(dir), bay, "tmp", NULL) < 0 || list_dir(dir, &names) < 0) {
		msg_warnx("recovery: %s", err_get());
		return;
	}
	for (int i = 0; i < names.n; i++) {
		if (path_fmt(path, sizeof(path), "%s/%s", dir, names.v[i]) < 0 || !aged(path, now))
			continue;
		if (rm_rf(path) == 0)
			r->tmp_removed++;
		else
			msg_warn("recovery: cannot remove %s", path);
	}
	strv_free(&names);
	fsync_dir(dir);
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
	long pid = strtol(name + 5, &end, 10);

	if (strncmp(name, ".tmp.", 5) != 0 || end == name + 5 || *end != '.' || pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* safe_write leaves ".tmp.*" beside the file it replaces if it crashed. */
static void
recover_temporaries(const char *dir, time_t now, struct recovery *r)
{
	char path[PATH_MAX];
	struct strv names = {0};
	int n = 0;

	if (list_dir(dir, &names) < 0)
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

/* A state directory: junk names and unparseable orders go to corrupt/. */
static void
recover_state(const char *bay, enum qstate st, struct recovery *r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct strv names = {0};
	struct stat sb;
	struct order o;

	if (bay_path(dir, sizeof(dir), bay, st, NULL) < 0 || list_dir(dir, &names) < 0) {
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

/*
 * Only the temporaries of writers that are gone, in every state directory
 * and seen/: safe while the daemon runs. A worker killed with its master
 * may still be finishing an fsync when the next master's start-up looks
 * (its SIGKILL waits for the system call), so the daemon sweeps again a
 * little later.
 */
int
bay_sweep_temporaries(const char *bay)
{
	struct recovery r = {0};
	char dir[PATH_MAX];
	time_t now = time(NULL);

	for (int i = 0; i < Q_NSTATES; i++)
		if (bay_path(dir, sizeof(dir), bay, (enum qstate)i, NULL) == 0)
			recover_temporaries(dir, now, &r);
	if (bay_subpath(dir, sizeof(dir), bay, "seen", NULL) == 0)
		recover_temporaries(dir, now, &r);
	return r.tmp_removed;
}

int
bay_recover(const char *bay, struct recovery *r)
{
	char dir[PATH_MAX], path[PATH_MAX], rc_path[PATH_MAX];
	struct strv names = {0};
	time_t now = time(NULL);
	static const enum qstate kept[] = {Q_OUTGOING, Q_DEFERRED, Q_HOLD, Q_JOINING, Q_RETURN};

	memset(r, 0, sizeof(*r));
	if (bay_init(bay) < 0)
		return -1;

	recover_tmp(bay, now, r);
	for (int i = 0; i < Q_NSTATES; i++)
		if (bay_path(dir, sizeof(dir), bay, (enum qstate)i, NULL) == 0)
			recover_temporaries(dir, now, r);
	if (bay_subpath(dir, sizeof(dir), bay, "seen", NULL) == 0)
		recover_temporaries(dir, now, r);

	/*
	 * active/: back to outgoing/, unless a live worker holds its flock (a
	 * `shipd --poll` running beside a daemon that starts); workers die with
	 * their master, so after a crash nothing holds one.
	 */
	if (bay_path(dir, sizeof(dir), bay, Q_ACTIVE, NULL) < 0 || list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n; i++) {
		char ap[PATH_MAX];
		int fd, busy = 0;

		if (strncmp(names.v[i], ".tmp.", 5) == 0)
			continue;
		if (path_fmt(ap, sizeof(ap), "%s/%s", dir, names.v[i]) == 0 &&
		    (fd = open(ap, O_RDONLY | O_CLOEXEC)) >= 0) {
			busy = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
			close(fd);
		}
		if (busy)
			continue;
		if (bay_move(bay, names.v[i], Q_ACTIVE, Q_OUTGOING) == 0)
			r->active_requeued++;
		else
			msg_warnx("recovery: %s", err_get());
	}
	strv_free(&names);

	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		recover_state(bay, kept[i], r);

	/* data/: a packet no order names is a crash before acceptance */
	if (bay_subpath(dir, sizeof(dir), bay, "data", NULL) < 0 || list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n; i++) {
		const char *id = names.v[i];

		if (path_fmt(path, sizeof(path), "%s/%s", dir, id) < 0)
			continue;
		if (order_id_valid(id) && bay_find(bay, id, NULL) == 0)
			continue;
		/*
		 * seen/ID with no order: bay_finish ran (marker, then the order
		 * unlinked) and died before unlinking the data, so it goes now.
		 * Only bay_finish writes seen/ID (acceptance writes none), and a
		 * submit never reuses an id, so nothing can be about to name it.
		 */
		if (!aged(path, now) && !(order_id_valid(id) && bay_seen(bay, id)))
			continue;	/* a submit may be about to write its order */
		if (rm_rf(path) == 0) {
			r->data_orphans++;
			msg_info("recovery: removed orphan data %s", path);
		} else
			msg_warn("recovery: cannot remove %s", path);
	}
	strv_free(&names);
	fsync_dir(dir);

	/* unpack/: finished if its receipt was written, else started over */
	if (bay_subpath(dir, sizeof(dir), bay, "unpack", NULL) < 0 || list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n; i++) {
		const char *id = names.v[i];

		if (path_fmt(path, sizeof(path), "%s/%s", dir, id) < 0 ||
		    bay_subpath(rc_path, sizeof(rc_path), bay, "receipts", id) < 0)
			continue;
		if (order_id_valid(id) && access(rc_path, F_OK) == 0) {
			if (bay_unpack_finish(bay, id, NULL) == 0)
				r->unpack_finished++;
			else
				msg_warnx("recovery: %s", err_get());
		} else if (rm_rf(path) == 0)
			r->unpack_removed++;
		else
			msg_warn("recovery: cannot remove %s", path);
	}
	strv_free(&names);
	fsync_dir(dir);
	return 0;
}

/* Rename without replacing; falls back to check-then-rename where the
 * file system lacks RENAME_NOREPLACE. */
static int
rename_noreplace(const char *from, const char *to)
{
	struct stat sb;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (lstat(to, &sb) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

int
bay_unpack_finish(const char *bay, const char *id, struct strv *out)
{
	char dir[PATH_MAX], inc[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct strv names = {0};
	int rc = 0;

	if (bay_subpath(dir, sizeof(dir), bay, "unpack", id) < 0 ||
	    bay_subpath(inc, sizeof(inc), bay, "incoming", NULL) < 0)
		return -1;
	if (access(dir, F_OK) < 0 && errno == ENOENT)
		return 0;	/* already finished */
	if (list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n && rc == 0; i++) {
		const char *name = names.v[i];
		int n = 0;

		if (path_fmt(from, sizeof(from), "%s/%s", dir, name) < 0 ||
		    path_fmt(to, sizeof(to), "%s/%s", inc, name) < 0) {
			rc = -1;
			break;
		}
		while (rename_noreplace(from, to) < 0) {
			if (errno != EEXIST || ++n > 9999 ||
			    path_fmt(to, sizeof(to), "%s/%s_%d", inc, name, n) < 0) {
				err_set("deliver %s to %s: %s", from, inc,
					errno == EEXIST ? "too many name clashes" : strerror(errno));
				rc = -1;
				break;
			}
		}
		if (rc == 0) {
			if (n)
				msg_info("order %s: %s exists in incoming, delivered as %s", id, name,
					 strrchr(to, '/') + 1);
			if (out)
				strv_add(out, strrchr(to, '/') + 1);
		}
	}
	strv_free(&names);
	if (fsync_dir(inc) < 0 || rc < 0)
		return -1;
	if (rmdir(dir) < 0) {
		err_set("rmdir %s: %s", dir, strerror(errno));
		return -1;
	}
	return fsync_parent(dir);
}
