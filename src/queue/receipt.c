/*
 * receipt.c - delivering here, exactly once (commit.h): the extraction
 * into unpack/KEY/, the receipt that commits it, the moves into incoming/,
 * the join of a split packet's parts, the receipt handler's pending
 * marks and the owed marks of receipts not yet sent to their origin. What opens a packet is the caller's (bay_extract_fn): nothing
 * here reads packet bytes or touches the network.
 *
 * The receipt, receipts/KEY, is the commit point: before it nothing was
 * delivered (unpack/KEY is thrown away and the packet opened again);
 * after it only the moves remain, and they are redone until they succeed.
 * Any failure to place a file keeps the order: never a receipt without
 * the file in incoming/.
 */
#include "bay_int.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
bay_delivered(const char *bay, const char *key)
{
	char path[PATH_MAX];

	return order_id_valid(key) && bay_path(path, sizeof(path), bay, Q_RECEIPTS, key) == 0 &&
	       access(path, F_OK) == 0;
}

int
bay_unpack_busy(const char *bay, const char *key)
{
	char dir[PATH_MAX];
	int fd;

	if (!order_id_valid(key) || bay_path(dir, sizeof(dir), bay, Q_UNPACK, key) < 0)
		return 0;
	if ((fd = bay_unpack_lock(dir)) >= 0) {
		close(fd);
		return 0;
	}
	return errno == EWOULDBLOCK;
}

int
bay_deliver_seen(const char *bay, const char *id, time_t expires, int sync)
{
	if (!(sync & BAY_SEEN_RECEIPTED) && !bay_delivered(bay, id)) {
		err_set("packet %s: no receipt in %s: not delivered here", id, bay);
		return -1;
	}
	sync &= ~BAY_SEEN_RECEIPTED;
	/* a marker there already is kept (mark_seen) */
	return sync ? bay_mark_seen(bay, id, expires) : bay_mark_seen_nosync(bay, id, expires);
}

/*
 * NAME_N for the nth clash, in incoming/: NAME is shortened first (never
 * inside a UTF-8 character) so that the result fits NAME_MAX.
 */
static int
clash_path(char *buf, size_t size, const char *inc, const char *name, int n)
{
	char suffix[16];
	size_t sl = snprintf(suffix, sizeof(suffix), "_%d", n), keep = strlen(name);

	if (keep + sl > NAME_MAX) {
		keep = NAME_MAX - sl;
		while (keep > 0 && ((unsigned char)name[keep] & 0xc0) == 0x80)
			keep--;
	}
	return path_fmt(buf, size, "%s/%.*s%s", inc, (int)keep, name, suffix);
}

/* bay_unpack_finish; sync: its fsyncs too (else the caller's, once for
 * many: bay_dir_sync of incoming/); known: what unpack/KEY holds, from
 * the extraction just made (else listed). */
static int
unpack_finish(const char *bay, const char *key, const struct strv *known, struct strv *out,
	      int sync)
{
	char dir[PATH_MAX], inc[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct strv listed = {0};
	const struct strv *names = known ? known : &listed;
	int rc = 0;

	if (bay_path(dir, sizeof(dir), bay, Q_UNPACK, key) < 0 ||
	    bay_path(inc, sizeof(inc), bay, Q_INCOMING, NULL) < 0)
		return -1;
	if (known == NULL) {
		if (access(dir, F_OK) < 0 && errno == ENOENT)
			return 0;	/* already finished */
		if (mkdirs(inc, 0700) < 0 || bay_list_dir(dir, &listed) < 0)
			return -1;
	}
	for (int i = 0; i < names->n && rc == 0; i++) {
		const char *name = names->v[i];
		int n = 0;

		if (path_fmt(from, sizeof(from), "%s/%s", dir, name) < 0 ||
		    path_fmt(to, sizeof(to), "%s/%s", inc, name) < 0) {
			rc = -1;
			break;
		}
		while (safe_rename_noreplace(from, to) < 0) {
			int e = errno;

			if (e != EEXIST || ++n > 9999 || clash_path(to, sizeof(to), inc, name, n) < 0) {
				err_set("deliver %s to %s: %s", from, inc,
					e == EEXIST ? "too many name clashes" : strerror(e));
				rc = -1;
				break;
			}
		}
		if (rc == 0) {
			if (n)
				msg_info("order %s: %s exists in incoming, delivered as %s", key, name,
					 strrchr(to, '/') + 1);
			if (out)
				strv_add(out, strrchr(to, '/') + 1);
		}
	}
	strv_free(&listed);
	if ((sync && fsync_dir(inc) < 0) || rc < 0)
		return -1;
	if (rmdir(dir) < 0) {
		err_set("rmdir %s: %s", dir, strerror(errno));
		return -1;
	}
	/* unpack/KEY back after a crash (not synced) holds nothing: the next
	 * finish removes it */
	return sync ? fsync_parent(dir) : 0;
}

int
bay_unpack_finish(const char *bay, const char *key, struct strv *out)
{
	return unpack_finish(bay, key, NULL, out, 1);
}

int
bay_unpack_move(const char *bay, const char *key, const struct strv *names,
		struct strv *out)
{
	return unpack_finish(bay, key, names, out, 0);
}

int
bay_dir_sync(const char *bay, enum qstate st)
{
	char dir[PATH_MAX];

	return bay_path(dir, sizeof(dir), bay, st, NULL) < 0 ? -1 : fsync_dir(dir);
}

int
bay_unpack_lock(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		errno = EWOULDBLOCK;
		return -1;
	}
	return fd;
}

/*
 * The caller's claim on the order (or on every part) makes it the only
 * deliverer of KEY; its lock on unpack/KEY/ tells a recovery running
 * meanwhile (a `shipd --poll` starting) that the extraction is alive.
 * held: the receipt is written but not made durable in receipts/, and
 * nothing moves (bay_deliver_held); *lock stays the caller's.
 */
static int
deliver(const char *bay, const char *key, const struct order *o, const char *const *paths,
	int n, bay_extract_fn extract, void *arg, struct strv *finals, int *lock, int held,
	struct strv *made)
{
	char unpack[PATH_MAX], rdir[PATH_MAX];
	struct strv names = {0};
	size_t len;
	char *text;
	int rc, left, e;

	if (bay_path(rdir, sizeof(rdir), bay, Q_RECEIPTS, NULL) < 0 ||
	    bay_path(unpack, sizeof(unpack), bay, Q_UNPACK, key) < 0 || !order_id_valid(key))
		return BAY_LATER;
	/*
	 * Held, the lock comes first: it is all that keeps a second
	 * connection's delivery of KEY away (no partial/KEY lock for a small
	 * packet, rstream.c), and a held receipt is not durable yet, so while
	 * its group is not committed the answer is "later", never "delivered".
	 */
	if (!held && bay_delivered(bay, key))
		/* committed before a crash: finish the moves, never extract twice */
		return bay_unpack_finish(bay, key, finals) < 0 ? BAY_LATER : 1;
	/* what a dead attempt left goes; a live one's (it holds the lock) stays */
	if ((*lock = bay_unpack_lock(unpack)) < 0 && errno == EWOULDBLOCK) {
		err_set("%s: another delivery of %s is under way", unpack, key);
		return BAY_LATER;
	}
	e = errno;
	if (held && bay_delivered(bay, key)) {
		/* committed (the holder is gone): the caller finishes it */
		if (*lock >= 0)
			close(*lock);
		*lock = -1;
		return 1;
	}
	/* nearly always nothing was left (ENOENT): nothing to remove, and only
	 * the leaf to make */
	left = *lock >= 0 || e != ENOENT;
	if (*lock >= 0)
		close(*lock);
	*lock = -1;
	/* receipts/ and unpack/ made sure of once per process (bay_ready:
	 * the daemon's workers inherit its start-up's), not per delivery */
	if ((left && bay_rm_rf(unpack) < 0) || bay_ready(bay) < 0 ||
	    (mkdir(unpack, 0700) < 0 && mkdirs(unpack, 0700) < 0) ||
	    (*lock = bay_unpack_lock(unpack)) < 0) {
		if (*lock < 0 && errno == EWOULDBLOCK)
			err_set("%s: another delivery of %s is under way", unpack, key);
		else if (*lock < 0)
			err_set("%s: %s", unpack, strerror(errno));
		return BAY_LATER;
	}
	rc = extract(arg, paths, n, unpack, &names);
	if (rc == 0 && made)
		for (int i = 0; i < names.n; i++)
			strv_add(made, names.v[i]);
	strv_free(&names);
	if (rc == 0 && fsync_dirfd(*lock, unpack) < 0)
		rc = BAY_LATER;
	if (rc != 0) {
		bay_rm_rf(unpack);
		return rc == BAY_REFUSED ? BAY_REFUSED : BAY_LATER;
	}
	/* the receipt is the commit point: from here on, only moves remain */
	text = order_format(o, &len);
	rc = held ? safe_write_nosync(rdir, key, text, len, 0600) :
		    safe_write(rdir, key, text, len, 0600);
	free(text);
	if (rc < 0 && !bay_delivered(bay, key)) {
		bay_rm_rf(unpack);
		return BAY_LATER;
	}
	if (held)
		return rc < 0 ? BAY_LATER : 0;
	/* committed (even when the last fsync failed, the receipt is there):
	 * what cannot be moved now is moved by the next attempt or recovery */
	if (rc < 0 || bay_unpack_finish(bay, key, finals) < 0)
		return BAY_LATER;
	return 0;
}

int
bay_deliver(const char *bay, const char *key, const struct order *o,
	    const char *const *paths, int n, bay_extract_fn extract, void *arg,
	    struct strv *finals)
{
	int lock = -1, rc = deliver(bay, key, o, paths, n, extract, arg, finals, &lock, 0, NULL);

	if (lock >= 0)
		close(lock);
	return rc;
}

int
bay_deliver_held(const char *bay, const char *key, const struct order *o,
		 bay_extract_fn extract, void *arg, int *lock, struct strv *names)
{
	int rc;

	*lock = -1;
	rc = deliver(bay, key, o, NULL, 0, extract, arg, NULL, lock, 1, names);
	if (rc != 0 && *lock >= 0) {
		close(*lock);
		*lock = -1;
	}
	return rc;
}

/*
 * Part k's order id in joining/ (GROUP.pKofM, GROUP.pKofM.r1 ...,
 * whatever journey brought it) into ids->v[k-1] ("" where missing);
 * second copies of a part go to dups (may be NULL).
 */
static void
find_parts(const char *bay, const char *group, int m, char **ids, struct strv *dups)
{
	char dir[PATH_MAX], g[ORDER_ID_MAX];
	struct dirent *d;
	DIR *dp;

	if (bay_path(dir, sizeof(dir), bay, Q_JOINING, NULL) < 0 || (dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		int k, mm;

		if (d->d_name[0] == '.' || order_part_of(d->d_name, g, sizeof(g), &k, &mm) < 0 ||
		    mm != m || strcmp(g, group) != 0 || !order_id_valid(d->d_name))
			continue;
		if (ids[k - 1] == NULL)
			ids[k - 1] = xstrdup(d->d_name);
		else if (dups)
			strv_add(dups, d->d_name);
	}
	closedir(dp);
}

/* Parts a join holds: ids, claims and data paths, 1..m at [k - 1]. */
struct parts {
	int m;
	char **ids, **paths;
	struct claim *cl;
};

static void
parts_undo(struct parts *p, enum qstate to, const char *why)
{
	for (int k = 0; k < p->m; k++)
		if (p->cl[k].lock >= 0) {
			if (to == Q_JOINING && bay_move(p->cl[k].bay, p->ids[k], Q_ACTIVE, Q_JOINING) < 0)
				msg_warnx("order %s: back to joining: %s", p->ids[k], err_get());
			else if (to == Q_CORRUPT)
				bay_corrupt(p->cl[k].bay, p->ids[k], Q_ACTIVE, why);
			bay_release(&p->cl[k]);
		}
}

static void
parts_free(struct parts *p)
{
	for (int k = 0; k < p->m; k++) {
		free(p->ids[k]);
		free(p->paths[k]);
		bay_release(&p->cl[k]);
	}
	free(p->ids);
	free(p->paths);
	free(p->cl);
}

/*
 * Steps: the parts claimed one by one (each locked, so a sweep or a
 * recovery running meanwhile leaves them alone); bay_deliver (receipt =
 * commit point); each claimed part finished. A crash before the receipt
 * leaves claimed parts in active/, unlocked: they go back to outgoing/,
 * are delivered here again and wait in joining/ for the next join. A
 * crash after it leaves parts wherever they were: the receipt makes the
 * next join (or the part's own delivery) only finish them.
 */
int
bay_join(const char *bay, const char *group, int m, const struct order *self,
	 const struct order *receipt, bay_extract_fn extract, void *arg, struct strv *finals)
{
	struct parts p = {m, NULL, NULL, NULL};
	struct strv dups = {0};
	int done = bay_delivered(bay, group), mine = self ? self->part : 0, rc;

	if (m < 2 || m > BAY_JOIN_MAX || (self && (mine < 1 || mine > m))) {
		err_set("group %s: %d parts is not a split packet here", group, m);
		return BAY_REFUSED;
	}
	p.ids = xcalloc(m, sizeof(*p.ids));
	p.paths = xcalloc(m, sizeof(*p.paths));
	p.cl = xcalloc(m, sizeof(*p.cl));
	for (int k = 0; k < m; k++)
		p.cl[k].lock = -1;
	find_parts(bay, group, m, p.ids, NULL);
	if (self) {
		free(p.ids[mine - 1]);
		p.ids[mine - 1] = xstrdup(self->id);
	}
	for (int k = 1; k <= m; k++) {
		if (k == mine)
			continue;
		if (p.ids[k - 1] == NULL || bay_claim(&p.cl[k - 1], bay, p.ids[k - 1], Q_JOINING) != 0) {
			if (done)
				continue;	/* delivered: finish what is here */
			parts_undo(&p, Q_JOINING, NULL);
			parts_free(&p);
			return 1;
		}
	}
	if (done)	/* only the moves may be left (a join killed after its receipt) */
		rc = bay_unpack_finish(bay, group, finals) < 0 ? BAY_LATER : 1;
	else {
		for (int k = 0; k < m; k++) {
			p.paths[k] = xmalloc(PATH_MAX);
			bay_data_path(p.paths[k], PATH_MAX, bay, p.ids[k]);
		}
		rc = bay_deliver(bay, group, receipt, (const char *const *)p.paths, m, extract, arg,
				 finals);
	}
	if (rc == BAY_LATER || rc == BAY_REFUSED) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", err_get());
		parts_undo(&p, rc == BAY_LATER ? Q_JOINING : Q_CORRUPT,
			   "part of a packet that was refused");
		parts_free(&p);
		err_set("%s", why);
		return rc;
	}
	for (int k = 0; k < m; k++)
		if (p.cl[k].lock >= 0 && bay_finish(bay, p.ids[k], Q_ACTIVE) < 0)
			msg_warnx("order %s: finish: %s", p.ids[k], err_get());
	parts_free(&p);
	/* a second copy of a part (an earlier journey came after all) */
	p.ids = xcalloc(m, sizeof(*p.ids));
	find_parts(bay, group, m, p.ids, &dups);
	for (int k = 0; k < m; k++)
		if (p.ids[k]) {
			strv_add(&dups, p.ids[k]);
			free(p.ids[k]);
		}
	free(p.ids);
	for (int i = 0; i < dups.n; i++) {
		msg_info("order %s: a copy of a part already delivered; done", dups.v[i]);
		if (bay_finish(bay, dups.v[i], Q_JOINING) < 0)
			msg_warnx("order %s: finish: %s", dups.v[i], err_get());
	}
	strv_free(&dups);
	return 0;
}

/* ---- the receipt handler's pending marks: receipts/KEY.pending ---- */

#define PENDING	".pending"

int
bay_pending_set(const char *bay, const char *key, const char *file)
{
	char dir[PATH_MAX], name[NAME_MAX + 1];

	if (bay_path(dir, sizeof(dir), bay, Q_RECEIPTS, NULL) < 0 ||
	    path_fmt(name, sizeof(name), "%s%s", key, PENDING) < 0)
		return -1;
	return safe_write(dir, name, file, strlen(file), 0600);
}

/* receipts/KEY+SUFFIX: a mark beside the receipt */
static int
mark_path(char *path, size_t size, const char *bay, const char *key, const char *suffix)
{
	char name[NAME_MAX + 1];

	return path_fmt(name, sizeof(name), "%s%s", key, suffix) < 0 ? -1 :
	       bay_path(path, size, bay, Q_RECEIPTS, name);
}

void
bay_pending_clear(const char *bay, const char *key)
{
	char path[PATH_MAX];

	if (mark_path(path, sizeof(path), bay, key, PENDING) == 0)
		unlink(path);
}

void
bay_pending_scan(const char *bay, void (*fn)(void *arg, const char *key, const char *file),
		 void *arg)
{
	char dir[PATH_MAX], path[PATH_MAX], key[NAME_MAX + 1];
	struct strv names = {0};
	size_t pl = strlen(PENDING);

	if (bay_path(dir, sizeof(dir), bay, Q_RECEIPTS, NULL) < 0 || bay_list_dir(dir, &names) < 0)
		return;
	for (int i = 0; i < names.n; i++) {
		size_t n = strlen(names.v[i]);
		char *file;

		if (n <= pl || strcmp(names.v[i] + n - pl, PENDING) != 0)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(n - pl), names.v[i]);
		if (path_fmt(path, sizeof(path), "%s/%s", dir, names.v[i]) == 0 &&
		    (file = read_file(path, PATH_MAX, NULL)) != NULL) {
			fn(arg, key, file);
			free(file);
		}
	}
	strv_free(&names);
}

/* ---- receipts owed to the origin: receipts/KEY.owed ----
 *
 * A packet delivered by a receiver (shipd/rstream.c) has no order left
 * here to deliver again after a crash, so the receipt its origin is owed
 * is kept on disk: KEY.owed, a second name of receipts/KEY (link(2): one
 * call, no bytes written). It is durable once the caller fsynced
 * receipts/ (bay_owed_sync), which it does before it acknowledges the
 * packet; it goes (bay_owed_clear) once the receipt is queued. */

#define OWED	".owed"

int
bay_owed_set(const char *bay, const char *key)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (bay_path(from, sizeof(from), bay, Q_RECEIPTS, key) < 0 ||
	    mark_path(to, sizeof(to), bay, key, OWED) < 0)
		return -1;
	if (link(from, to) < 0 && errno != EEXIST) {
		err_set("link %s: %s", to, strerror(errno));
		return -1;
	}
	return 0;
}

int
bay_owed_sync(const char *bay)
{
	return bay_dir_sync(bay, Q_RECEIPTS);
}

void
bay_owed_clear(const char *bay, const char *key)
{
	char path[PATH_MAX];

	if (mark_path(path, sizeof(path), bay, key, OWED) == 0)
		unlink(path);
}

int
bay_owed_load(const char *bay, const char *key, struct order *o, time_t *at)
{
	char path[PATH_MAX];
	struct stat sb;

	if (mark_path(path, sizeof(path), bay, key, OWED) < 0)
		return -1;
	if (stat(path, &sb) < 0) {
		err_set("%s: %s", path, strerror(errno));
		return -1;
	}
	*at = sb.st_mtime;
	return order_load(path, o);
}

int
bay_owed_scan(const char *bay, time_t older, void (*fn)(void *arg, const char *key,
							  const struct order *o, time_t at),
	      void *arg)
{
	char dir[PATH_MAX], path[PATH_MAX], key[NAME_MAX + 1];
	struct strv names = {0};
	size_t ol = strlen(OWED);
	int n = 0;

	if (bay_path(dir, sizeof(dir), bay, Q_RECEIPTS, NULL) < 0 || bay_list_dir(dir, &names) < 0)
		return -1;
	for (int i = 0; i < names.n; i++) {
		size_t len = strlen(names.v[i]);
		struct stat sb;
		struct order o;

		if (len <= ol || strcmp(names.v[i] + len - ol, OWED) != 0 ||
		    path_fmt(path, sizeof(path), "%s/%s", dir, names.v[i]) < 0 ||
		    lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_mtime > older)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(len - ol), names.v[i]);
		order_init(&o);
		if (!order_id_valid(key) || order_load(path, &o) < 0) {
			msg_warnx("%s: not a receipt: %s; removed", path, err_get());
			unlink(path);
		} else {
			fn(arg, key, &o, sb.st_mtime);
			n++;
		}
		order_free(&o);
	}
	strv_free(&names);
	return n;
}
