/*
 * deliver.c - opening packets addressed to this node.
 *
 * Exactly once: a packet (or a joined group of parts) KEY is verified and
 * extracted into unpack/KEY/, then the order is written to receipts/KEY:
 * that is the commit point. Only then are the files renamed into
 * incoming/ (bay_unpack_finish: never overwriting, a clash becomes NAME_1,
 * NAME_2 ...). Start-up recovery (bay_recover) finishes a committed
 * unpack/KEY and removes an uncommitted one; a worker that finds
 * receipts/KEY does not extract again.
 *
 * After delivery the class's receipt handler runs as
 *   HANDLER -data FILE -actual ORDER -sclass CLASS -origin HOST
 * A failure leaves receipts/KEY.pending, retried by the next poll.
 */
#include "shipd.h"
#include "../packet/packet.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HANDLER_TIMEOUT	600

static int
rm_tree(const char *dir)
{
	char p[PATH_MAX];
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (dp == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (path_fmt(p, sizeof(p), "%s/%s", dir, d->d_name) == 0 && unlink(p) < 0 &&
		    errno == EISDIR)
			rm_tree(p);
	}
	closedir(dp);
	return rmdir(dir);
}

static const char *
key_of(const struct order *o)
{
	return o->nparts > 1 && o->group ? o->group : o->id;
}

/* Run a program with argv, bounded in time; returns its exit status or -1. */
int
run_program(char *const argv[], int timeout_s)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < timeout_s * 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int
run_handler(const char *bay, const char *key, const char *file, const struct order *o)
{
	const struct sclass *c = config_class(S->cf, o->sclass);
	char orderpath[PATH_MAX], pending[PATH_MAX], rdir[PATH_MAX];
	int st;

	if (c == NULL || c->receipt_handler == NULL)
		return 0;
	if (path_fmt(rdir, sizeof(rdir), "%s/receipts", bay) < 0 ||
	    path_fmt(orderpath, sizeof(orderpath), "%s/%s", rdir, key) < 0 ||
	    path_fmt(pending, sizeof(pending), "%s.pending", key) < 0)
		return -1;
	{
		char *argv[] = {c->receipt_handler, "-data", (char *)file, "-actual", orderpath,
				"-sclass", o->sclass, "-origin", o->origin, NULL};

		st = run_program(argv, HANDLER_TIMEOUT);
	}
	if (st == 0) {
		char pp[PATH_MAX];

		if (path_fmt(pp, sizeof(pp), "%s/%s", rdir, pending) == 0)
			unlink(pp);
		msg_info("receipt handler %s ran for %s (%s)", c->receipt_handler, o->id, file);
		return 0;
	}
	msg_warnx("receipt handler %s failed for %s (%s): %s %d; the next poll retries it",
		  c->receipt_handler, o->id, file, st < 0 ? "timed out or could not run, status" :
		  "exit status", st);
	safe_write(rdir, pending, file, strlen(file), 0600);
	return -1;
}

/*
 * Wording only: does the error text say the disk is full? (Whether a
 * failure is temporary is decided by its class, never by its text.)
 */
static int
out_of_space(const char *why)
{
	return strstr(why, strerror(ENOSPC)) != NULL || strstr(why, strerror(EDQUOT)) != NULL;
}

/* Log the current error as temporary ("bay full: ..." when the disk is
 * full); returns DELIVER_LATER. */
static int
later(const char *id)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", err_get());
	err_set("%s%s", out_of_space(why) ? "bay full: " : "", why);
	msg_warnx("deliver %s: %s; will retry", id, err_get());
	return DELIVER_LATER;
}

/* Open parts (in order) of o into incoming/; 0 done, -1 refused,
 * DELIVER_LATER for a temporary failure (a full disk): nothing delivered. */
static int
open_and_place(const char *bay, const struct order *o, const char *const *parts, int nparts)
{
	const char *key = key_of(o);
	char unpack[PATH_MAX], incoming[PATH_MAX], rdir[PATH_MAX], receipt[PATH_MAX];
	struct strv names = {0}, finals = {0};
	char *text;
	int rc = -1;
	struct stat st;

	if (bay_subpath(rdir, sizeof(rdir), bay, "receipts", NULL) < 0 ||
	    bay_subpath(receipt, sizeof(receipt), bay, "receipts", key) < 0 ||
	    bay_subpath(unpack, sizeof(unpack), bay, "unpack", key) < 0 ||
	    bay_subpath(incoming, sizeof(incoming), bay, "incoming", NULL) < 0)
		return -1;
	mkdirs(rdir, 0700);
	mkdirs(incoming, 0700);
	if (stat(receipt, &st) == 0) {
		/* committed before a crash: finish the moves, never extract twice */
		if (bay_unpack_finish(bay, key, NULL) < 0)
			msg_warnx("deliver %s: %s", o->id, err_get());
		return 0;
	}
	rm_tree(unpack);
	if (mkdirs(unpack, 0700) < 0)
		return later(o->id);
	if ((rc = packet_open(S->cf, S->keys, parts, nparts, unpack, &names)) < 0) {
		rm_tree(unpack);
		if (rc == PKT_LOCAL)	/* our disk, not the packet: deferred */
			return later(o->id);
		msg_warnx("refused packet %s from %s: %s", o->id, o->origin, err_get());
		return -1;
	}
	/* a packet of another kind than data is consumed here, not delivered */
	if ((rc = control_deliver(o, parts[0], unpack, &names)) != CONTROL_DATA) {
		rm_tree(unpack);
		goto out;
	}
	rc = -1;
	fsync_dir(unpack);
	/* the receipt is the commit point: from here on, only moves remain */
	text = order_format(o, NULL);
	if (safe_write(rdir, key, text, strlen(text), 0600) < 0) {
		free(text);
		rm_tree(unpack);
		rc = later(o->id);
		goto out;
	}
	free(text);
	if (bay_unpack_finish(bay, key, &finals) < 0) {
		/* committed: start-up recovery or the next attempt finishes it */
		rc = later(o->id);
		goto out;
	}
	rc = 0;
	for (int i = 0; i < finals.n; i++) {
		char full[PATH_MAX];

		if (path_fmt(full, sizeof(full), "%s/%s", incoming, finals.v[i]) < 0)
			continue;
		stat(full, &st);
		msg_info("delivered %s from %s: %s (%lld bytes)", o->id, o->origin, full,
			 (long long)st.st_size);
		run_handler(bay, key, full, o);
	}
out:
	strv_free(&names);
	strv_free(&finals);
	return rc;
}

/*
 * The order ids of group's parts 1..m waiting in joining/, whatever
 * journey brought each (GROUP.pKofM, GROUP.pKofM.r1 ...); "" where part k
 * is not there. With `dups`, the ids of second copies of a part are added.
 */
static void
find_parts(const char *bay, const char *group, int m, char ids[][ORDER_ID_MAX],
	   struct strv *dups)
{
	char dir[PATH_MAX], g[ORDER_ID_MAX];
	struct dirent *d;
	DIR *dp;

	for (int k = 0; k <= m; k++)
		ids[k][0] = 0;
	if (bay_path(dir, sizeof(dir), bay, Q_JOINING, NULL) < 0 || (dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		int n, mm;

		if (d->d_name[0] == '.' || order_part_of(d->d_name, g, sizeof(g), &n, &mm) < 0 ||
		    mm != m || strcmp(g, group) != 0 || strlen(d->d_name) >= ORDER_ID_MAX)
			continue;
		if (ids[n][0] == 0)
			memcpy(ids[n], d->d_name, strlen(d->d_name) + 1);	/* fits: checked */
		else if (dups)
			strv_add(dups, d->d_name);
	}
	closedir(dp);
}

/*
 * Join a group whose parts are all here: `self_part` (already in active/,
 * or 0) plus the others, claimed from joining/. 0 delivered, 1 not all
 * there yet, -1 refused.
 */
static int
join_group(const char *bay, const char *group, int m, const struct order *self)
{
	char ids[m + 1][ORDER_ID_MAX], paths[m + 1][PATH_MAX];
	const char *pp[m + 1];
	int claimed[m + 1], rc;
	enum qstate st;

	memset(claimed, 0, sizeof(claimed));
	find_parts(bay, group, m, ids, NULL);
	if (self)
		snprintf(ids[self->part], sizeof(ids[self->part]), "%s", self->id);
	for (int k = 1; k <= m; k++) {
		if (self && k == self->part)
			continue;
		if (ids[k][0] == 0 || bay_find(bay, ids[k], &st) < 0 || st != Q_JOINING)
			goto not_yet;
	}
	for (int k = 1; k <= m; k++) {
		if (self && k == self->part)
			continue;
		if (bay_move(bay, ids[k], Q_JOINING, Q_ACTIVE) < 0)
			goto not_yet;
		claimed[k] = 1;
	}
	for (int k = 1; k <= m; k++) {
		bay_data_path(paths[k], sizeof(paths[k]), bay, ids[k]);
		pp[k - 1] = paths[k];
	}
	{
		struct order first;
		char op[PATH_MAX];

		order_init(&first);
		if (self)
			rc = open_and_place(bay, self, pp, m);
		else if (bay_path(op, sizeof(op), bay, Q_ACTIVE, ids[1]) == 0 &&
			 order_load(op, &first) == 0)
			rc = open_and_place(bay, &first, pp, m);
		else
			rc = -1;
		order_free(&first);
	}
	if (rc == DELIVER_LATER) {
		for (int k = 1; k <= m; k++)
			if (claimed[k])
				bay_move(bay, ids[k], Q_ACTIVE, Q_JOINING);
		return rc;
	}
	for (int k = 1; k <= m; k++) {
		if (!claimed[k])
			continue;
		if (rc == 0)
			bay_finish(bay, ids[k], Q_ACTIVE);
		else
			bay_corrupt(bay, ids[k], Q_ACTIVE, "part of a packet that was refused");
	}
	if (rc == 0) {
		/* a second copy of a part (an earlier journey came after all) */
		struct strv dups = {0};

		find_parts(bay, group, m, ids, &dups);
		for (int k = 1; k <= m; k++)
			if (ids[k][0])
				strv_add(&dups, ids[k]);
		for (int i = 0; i < dups.n; i++) {
			msg_info("order %s: a copy of a part already delivered; done", dups.v[i]);
			bay_finish(bay, dups.v[i], Q_JOINING);
		}
		strv_free(&dups);
	}
	return rc;
not_yet:
	for (int k = 1; k <= m; k++)
		if (claimed[k])
			bay_move(bay, ids[k], Q_ACTIVE, Q_JOINING);
	return 1;
}

int
deliver_local(const char *bay, struct order *o)
{
	char data[PATH_MAX];
	const char *pp[1];
	int rc;

	if (o->nparts > 1) {
		rc = join_group(bay, o->group, o->nparts, o);
		if (rc == -1)
			bay_corrupt(bay, o->id, Q_ACTIVE, err_get());
		return rc;
	}
	if (bay_data_path(data, sizeof(data), bay, o->id) < 0)
		return -1;
	pp[0] = data;
	if ((rc = open_and_place(bay, o, pp, 1)) == -1)
		bay_corrupt(bay, o->id, Q_ACTIVE, err_get());
	return rc;
}

int
deliver_join(const char *bay, const char *group)
{
	char dir[PATH_MAX];
	struct dirent *d;
	int m = 0;
	DIR *dp;

	if (bay_path(dir, sizeof(dir), bay, Q_JOINING, NULL) < 0 || (dp = opendir(dir)) == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL) {
		char g[ORDER_ID_MAX];
		int n;

		if (order_part_of(d->d_name, g, sizeof(g), &n, &m) == 0 && strcmp(g, group) == 0)
			break;
		m = 0;
	}
	closedir(dp);
	if (m < 2)
		return 0;
	switch (join_group(bay, group, m, NULL)) {
	case -1:
		return 65;
	case DELIVER_LATER:
		return 75;
	default:
		return 0;
	}
}

/* --poll: run receipt handlers that failed before. */
void
deliver_retry_handlers(const char *bay)
{
	char dir[PATH_MAX], p[PATH_MAX], key[NAME_MAX + 1];
	struct dirent *d;
	DIR *dp;

	if (!S->poll_mode || path_fmt(dir, sizeof(dir), "%s/receipts", bay) < 0 ||
	    (dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		size_t n = strlen(d->d_name);
		struct order o;
		char *file;

		if (n < 9 || strcmp(d->d_name + n - 8, ".pending") != 0)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(n - 8), d->d_name);
		order_init(&o);
		if (path_fmt(p, sizeof(p), "%s/%s", dir, d->d_name) == 0 &&
		    (file = read_file(p, PATH_MAX, NULL)) != NULL) {
			char op[PATH_MAX];

			if (path_fmt(op, sizeof(op), "%s/%s", dir, key) == 0 && order_load(op, &o) == 0 &&
			    run_handler(bay, key, file, &o) < 0)
				S->failures++;
			free(file);
		}
		order_free(&o);
	}
	closedir(dp);
}
