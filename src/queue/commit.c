/*
 * commit.c - the verbs that change what a bay holds (commit.h): enqueue,
 * claim, rewrite and move, defer, receive and accept, corrupt, finish and
 * remove. Deliveries and joins are receipt.c; start-up recovery and the
 * sweep bay_recover.c.
 *
 * Every durable step goes through util/safefile.c (which counts it for
 * the test fault hook) and its result is checked. The comment above each
 * verb says what a failure or a crash at each step leaves. Never exits;
 * never reads a packet.
 */
#include "bay_int.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * After a failed commit made an order visible in a state: take it back
 * (1) unless a worker already claimed it from there (0: it lives on, and
 * its data must stay).
 */
static int
take_back(const char *bay, const char *id, enum qstate st)
{
	char path[PATH_MAX];

	if (bay_path(path, sizeof(path), bay, st, id) < 0)
		return 1;
	if (unlink(path) == 0) {
		fsync_parent(path);
		return 1;
	}
	return bay_find(bay, id, NULL) < 0;
}

/* The order into dir, once its data is in place; see bay_enqueue. */
static int
enqueue_order(const char *bay, const struct order *o, enum qstate st)
{
	char dir[PATH_MAX], why[1024];

	char tmp[PATH_MAX], path[PATH_MAX];

	if (st != Q_OUTGOING && st != Q_RETURN && st != Q_HOLD && st != Q_DEFERRED) {
		err_set("enqueue %s: not a state to enqueue into: %s", o->id, qstate_name(st));
		return -1;
	}
	if (bay_path(dir, sizeof(dir), bay, st, NULL) < 0)
		return -1;
	/* deferred/'s mtime is its next attempt: set before the name exists */
	if (order_write_tmp(dir, o, st == Q_DEFERRED ? o->next_attempt : 0, tmp,
			    sizeof(tmp)) < 0)
		return -1;
	if (path_fmt(path, sizeof(path), "%s/%s", dir, o->id) < 0 ||
	    safe_rename_nosync(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	if (fsync_dir(dir) == 0)
		return 0;
	/* order_save can fail after its rename (the directory fsync) */
	snprintf(why, sizeof(why), "%s", err_get());
	if (!take_back(bay, o->id, st)) {
		msg_warnx("order %s: queued, and already claimed, despite: %s", o->id, why);
		return 0;
	}
	err_set("%s", why);
	return -1;
}

/*
 * data/ID first, then the order: a crash in between leaves data no order
 * names, which recovery removes; never an order without its data.
 * The packet's move out of tmp/ is made durable in data/ only: tmp/
 * losing the name need not be (a name left there after a crash is a
 * second link recovery's sweep of tmp/ removes), and the sealer no longer
 * fsyncs tmp/ before handing it over. Four fsyncs: the packet, data/,
 * the order, outgoing/.
 */
int
bay_enqueue(const char *bay, const struct order *o, enum qstate st, const char *tmp)
{
	char data[PATH_MAX];

	if (bay_data_path(data, sizeof(data), bay, o->id) < 0 || !order_id_valid(o->id)) {
		if (tmp)
			unlink(tmp);
		if (order_id_valid(o->id))
			return -1;
		err_set("enqueue: bad order id \"%.64s\"", o->id);
		return -1;
	}
	if (tmp && safe_rename_nosync(tmp, data) < 0) {
		unlink(tmp);
		return -1;
	}
	if (tmp && fsync_parent(data) < 0) {
		unlink(data);	/* no order names it: never queued */
		return -1;
	}
	if (enqueue_order(bay, o, st) == 0)
		return 0;
	if (tmp)
		unlink(data);	/* no order names it: never queued */
	return -1;
}

/*
 * bay_enqueue for n new orders under one round of directory fsyncs: every
 * tmp[i] renamed to data/ID, data/ fsynced once; then every order written
 * (each file fsynced) and renamed into st/, st/ fsynced once. A crash
 * before the second fsync returned leaves any subset of the orders
 * queued, each with its data (data/ was durable first), and orphan data
 * recovery removes; never an order without its data.
 */
int
bay_enqueue_all(const char *bay, const struct order *const *o, const char *const *tmp, int n,
		enum qstate st, char *ok)
{
	char data[PATH_MAX], dir[PATH_MAX], ddir[PATH_MAX], otmp[PATH_MAX], path[PATH_MAX];
	char why[1024] = "";
	int i, nd = 0, nq = 0;	/* packets in data/, orders in st/ */

	memset(ok, 0, (size_t)n);
	if (st != Q_OUTGOING && st != Q_RETURN && st != Q_HOLD && st != Q_DEFERRED) {
		err_set("enqueue: not a state to enqueue into: %s", qstate_name(st));
		goto fail;
	}
	if (bay_path(dir, sizeof(dir), bay, st, NULL) < 0 ||
	    bay_path(ddir, sizeof(ddir), bay, Q_DATA, NULL) < 0)
		goto fail;
	/* 1. every packet into data/, then data/ durable before any order naming it */
	for (; nd < n; nd++)
		if (!order_id_valid(o[nd]->id) ||
		    bay_data_path(data, sizeof(data), bay, o[nd]->id) < 0 ||
		    safe_rename_nosync(tmp[nd], data) < 0) {
			if (!order_id_valid(o[nd]->id))
				err_set("enqueue: bad order id \"%.64s\"", o[nd]->id);
			goto fail;
		}
	if (fsync_dir(ddir) < 0)
		goto fail;
	/* 2. every order into st/ (deferred/'s mtime is its next attempt), then st/ */
	for (; nq < n; nq++) {
		if (order_write_tmp(dir, o[nq], st == Q_DEFERRED ? o[nq]->next_attempt : 0, otmp,
				    sizeof(otmp)) < 0)
			goto fail;
		if (path_fmt(path, sizeof(path), "%s/%s", dir, o[nq]->id) < 0 ||
		    safe_rename_nosync(otmp, path) < 0) {
			unlink(otmp);
			goto fail;
		}
	}
	if (fsync_dir(dir) < 0) {
		nq = -nq;	/* never fsynced again: a second try may report nothing */
		goto fail;
	}
	memset(ok, 1, (size_t)n);
	return 0;
fail:
	snprintf(why, sizeof(why), "%s", err_get());
	if (nq > 0 && fsync_dir(dir) < 0)
		nq = -nq;	/* st/ not durable: none of them is queued... */
	for (i = 0; i < (nq < 0 ? -nq : nq); i++)
		if (nq > 0 || !take_back(bay, o[i]->id, st))
			ok[i] = 1;	/* ...except what a worker claimed meanwhile */
	for (i = nd; i < n; i++)
		unlink(tmp[i]);
	/* no order names these: never queued */
	for (i = 0; i < nd; i++)
		if (!ok[i] && bay_data_path(data, sizeof(data), bay, o[i]->id) == 0)
			unlink(data);
	err_set("%s", why);
	return -1;
}

int
bay_enqueue_from(const char *from_bay, const char *from_id, const char *bay,
		 const struct order *o, enum qstate st)
{
	char src[PATH_MAX], data[PATH_MAX];

	if (bay_data_path(src, sizeof(src), from_bay, from_id) < 0 ||
	    bay_data_path(data, sizeof(data), bay, o->id) < 0 ||
	    bay_link_data(from_bay, from_id, bay, o->id) < 0)
		return -1;
	if (enqueue_order(bay, o, st) == 0)
		return 0;
	if (strcmp(src, data) != 0)
		unlink(data);	/* the link made for it; the source stays */
	return -1;
}

/*
 * The lock is taken on the order file where it is, then the file renamed
 * into active/: the inode carries the lock, so there is no moment when the
 * claimed order sits in active/ unlocked. Two claimers: one loses the lock
 * or the rename and gets 1.
 */
int
bay_claim(struct claim *c, const char *bay, const char *id, enum qstate from)
{
	struct bay_group g = {0};
	int rc = bay_claim_group(c, bay, id, from, &g);

	if (bay_group_sync(&g) < 0 && rc == 0) {
		bay_release(c);		/* in active/ unlocked: the sweep requeues it */
		return -1;
	}
	return rc;
}

/*
 * Both directories of the rename go to g: the claim is durable once g is
 * synced. Until then a crash leaves the order in `from` or in active/
 * (recovery requeues it), never both, never neither: rename is atomic.
 */
int
bay_claim_group(struct claim *c, const char *bay, const char *id, enum qstate from,
		struct bay_group *g)
{
	char a[PATH_MAX], b[PATH_MAX], da[PATH_MAX];
	struct stat fs, ps;
	int fd;

	c->bay = bay;
	c->lock = -1;
	if (path_fmt(c->id, sizeof(c->id), "%s", id) < 0 || !order_id_valid(id) ||
	    bay_path(a, sizeof(a), bay, from, id) < 0 || bay_path(b, sizeof(b), bay, Q_ACTIVE, id) < 0) {
		err_set("claim: bad order id \"%.64s\"", id);
		return -1;
	}
	if ((fd = open(a, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 1;
		err_set("claim %s: %s", a, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return 1;	/* someone else holds it */
	}
	if (from != Q_ACTIVE && safe_rename_nosync(a, b) < 0) {
		int e = errno;

		close(fd);
		return e == ENOENT ? 1 : -1;
	}
	if (from != Q_ACTIVE &&
	    (bay_path(da, sizeof(da), bay, Q_ACTIVE, NULL) < 0 || bay_group_add(g, da) < 0 ||
	     bay_path(da, sizeof(da), bay, from, NULL) < 0 || bay_group_add(g, da) < 0)) {
		close(fd);	/* in active/ unlocked: the sweep requeues it */
		return -1;
	}
	/* the file renamed is the one locked, unless it was replaced meanwhile */
	if (fstat(fd, &fs) < 0 || lstat(b, &ps) < 0 || fs.st_ino != ps.st_ino ||
	    fs.st_dev != ps.st_dev) {
		close(fd);
		if ((fd = open(b, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
		    flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (fd >= 0)
				close(fd);
			return 1;	/* in active/ unlocked: the sweep requeues it */
		}
	}
	c->lock = fd;
	return 0;
}

int
bay_load_claimed(const struct claim *c, struct order *o)
{
	char path[PATH_MAX], why[900];
	struct stat sb;
	size_t got;
	ssize_t n;
	char *buf;
	int rc;

	if (c->lock < 0)
		return bay_load(c->bay, c->id, Q_ACTIVE, o);
	order_init(o);
	if (bay_path(path, sizeof(path), c->bay, Q_ACTIVE, c->id) < 0)
		return -1;
	if (fstat(c->lock, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		err_set("%s: not a regular file", path);
		return -1;
	}
	if (sb.st_size > ORDER_MAX_SIZE) {
		err_set("%s: larger than %d bytes", path, ORDER_MAX_SIZE);
		return -1;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	for (got = 0; got < (size_t)sb.st_size; got += (size_t)n)
		if ((n = pread(c->lock, buf + got, (size_t)sb.st_size - got, (off_t)got)) <= 0) {
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n == 0)
				break;
			err_set("%s: %s", path, strerror(errno));
			free(buf);
			return -1;
		}
	buf[got] = 0;
	rc = order_parse(buf, got, o);
	free(buf);
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s", err_get());
		err_set("%s: %s", path, why);
		return -1;
	}
	if (strcmp(o->id, c->id) != 0) {
		err_set("%s: names order %s", path, o->id);
		order_free(o);
		return -1;
	}
	return 0;
}

void
bay_release(struct claim *c)
{
	if (c->lock >= 0)
		close(c->lock);
	c->lock = -1;
}

/* The lock is held while the order moves, so the move cannot race a claimer. */
int
bay_requeue(const char *bay, const char *id)
{
	char path[PATH_MAX];
	int fd, rc = 1;

	if (!order_id_valid(id) || bay_path(path, sizeof(path), bay, Q_ACTIVE, id) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		rc = bay_move(bay, id, Q_ACTIVE, Q_OUTGOING) == 0 ? 0 : errno == ENOENT ? 1 : -1;
	close(fd);
	return rc;
}

/*
 * In place first (a new file renamed over the old one, its mtime already
 * set, so content and mtime become durable together), then one rename to
 * `to`: a crash in between leaves one order in `from`, with the new
 * content. Writing into `to` first and then unlinking would leave two.
 */
int
bay_rewrite(const char *bay, const struct order *o, enum qstate from, enum qstate to,
	    time_t mtime, struct claim *c)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX], tpath[PATH_MAX];
	int nfd = -1;

	if (bay_path(dir, sizeof(dir), bay, from, NULL) < 0 ||
	    bay_path(path, sizeof(path), bay, from, o->id) < 0 ||
	    order_write_tmp(dir, o, mtime, tmp, sizeof(tmp)) < 0)
		return -1;
	/* the claim's lock moves to the new file before it takes the name */
	if (c && c->lock >= 0 && (nfd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0)
		flock(nfd, LOCK_EX | LOCK_NB);
	/* unclaimed (an operator's verb), only over the order still there: one
	 * the daemon took meanwhile is never put back without its data */
	if ((c ? safe_rename_nosync(tmp, path) : safe_rename_replace(tmp, path)) < 0) {
		if (c == NULL && access(path, F_OK) < 0 && errno == ENOENT)
			err_set("order %s is no longer in %s (taken meanwhile)", o->id,
				qstate_name(from));
		unlink(tmp);
		if (nfd >= 0)
			close(nfd);
		return -1;
	}
	if (nfd >= 0) {
		close(c->lock);
		c->lock = nfd;
	}
	if (to == from)
		return fsync_dir(dir);
	/*
	 * Moving on: from's directory is fsynced once, after both renames in
	 * it (the new content's and the move's), to's before it; fsyncing it
	 * in between too protected no state the crash windows of the move
	 * do not have anyway.
	 */
	if (bay_path(tpath, sizeof(tpath), bay, to, o->id) < 0 ||
	    safe_rename_nosync(path, tpath) < 0) {
		fsync_dir(dir);		/* the new content stays, in from */
		return -1;
	}
	return fsync_parent(tpath) < 0 || fsync_dir(dir) < 0 ? -1 : 0;
}

int
bay_move(const char *bay, const char *id, enum qstate from, enum qstate to)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (bay_path(a, sizeof(a), bay, from, id) < 0 || bay_path(b, sizeof(b), bay, to, id) < 0)
		return -1;
	return safe_rename(a, b);
}

/*
 * The new record is written in place and moved (bay_rewrite). When that
 * fails - a full disk has no block for the new record - the old file is
 * deferred as it is: its mtime (no block needed) set to the next attempt,
 * then the rename. The attempt is then not counted, which only shortens
 * the next back-off. When not even that works the order stays in `from`:
 * in active/ the sweep finds it unlocked once the worker is gone.
 */
int
bay_defer(const struct config *cf, const char *bay, struct order *o,
	  enum qstate from, const char *why)
{
	char path[PATH_MAX], first[1024];
	struct timespec ts[2];
	enum qstate now;

	o->attempts++;
	free(o->last_error);
	o->last_error = xstrdup(why ? why : "unknown error");
	o->next_attempt = time(NULL) + bay_backoff(cf, o->attempts);
	if (bay_rewrite(bay, o, from, Q_DEFERRED, o->next_attempt, NULL) == 0)
		return 0;
	snprintf(first, sizeof(first), "%s", err_get());
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = o->next_attempt;
	ts[1].tv_nsec = 0;
	if (bay_find(bay, o->id, &now) == 0 && (now == from || now == Q_DEFERRED) &&
	    bay_path(path, sizeof(path), bay, now, o->id) == 0 &&
	    utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (now == Q_DEFERRED || bay_move(bay, o->id, now, Q_DEFERRED) == 0)) {
		msg_warnx("order %s: deferred without recording this attempt: %s", o->id, first);
		return 0;
	}
	err_set("%s", first);
	return -1;
}

/* ---- receiving ---- */

int
bay_partial_open(const char *bay, const char *id, uint64_t size, uint64_t *off)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd;

	*off = 0;
	if (!order_id_valid(id)) {
		err_set("bad packet id \"%.64s\"", id);
		return -1;
	}
	if (bay_path(dir, sizeof(dir), bay, Q_PARTIAL, NULL) < 0 || mkdirs(dir, 0700) < 0 ||
	    bay_path(path, sizeof(path), bay, Q_PARTIAL, id) < 0)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		err_set("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		err_set("busy: another transfer of this packet is running");
		return BAY_BUSY;
	}
	if (fstat(fd, &st) < 0) {
		err_set("fstat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size <= size)
		*off = (uint64_t)st.st_size;
	else if (ftruncate(fd, 0) < 0) {
		err_set("truncate %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
bay_partial_reserve(const char *bay, const char *id, int fd, uint64_t off, uint64_t size)
{
	if (off >= size || fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)(size - off)) == 0)
		return 0;
	if (errno == ENOSPC || errno == EDQUOT) {
		err_set("bay full: %s: no room for the %llu bytes of packet %s still to come",
			bay, (unsigned long long)(size - off), id);
		return -1;
	}
	return 0;	/* EOPNOTSUPP and the like: the bytes will tell */
}

void
bay_partial_drop(const char *bay, const char *id)
{
	char path[PATH_MAX];

	if (bay_path(path, sizeof(path), bay, Q_PARTIAL, id) == 0)
		unlink(path);
}

int
bay_partial_corrupt(const char *bay, const char *id, const char *why)
{
	char path[PATH_MAX], name[NAME_MAX + 1];

	if (bay_path(path, sizeof(path), bay, Q_PARTIAL, id) < 0 ||
	    path_fmt(name, sizeof(name), "%s.pkt", id) < 0)
		return -1;
	return bay_corrupt_file(bay, path, name, why);
}

/*
 * Steps, for the whole batch: every partial/ID renamed to data/ID, data/
 * and partial/ fsynced; every order written (fsynced) and renamed into
 * outgoing/, outgoing/ fsynced. A crash before the last fsync can leave
 * data/ID with no order (recovery removes it; the sender, never ACKed,
 * sends again) but never an order whose data is not durable: the data
 * directory was made durable first.
 */
int
bay_accept(const char *bay, const struct order *const *o, int n)
{
	char pdir[PATH_MAX], ddir[PATH_MAX], odir[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	char tmp[PATH_MAX], why[1024];
	int moved = 0, named = 0, *lives;

	if (bay_path(pdir, sizeof(pdir), bay, Q_PARTIAL, NULL) < 0 ||
	    bay_path(ddir, sizeof(ddir), bay, Q_DATA, NULL) < 0 ||
	    bay_path(odir, sizeof(odir), bay, Q_OUTGOING, NULL) < 0)
		return -1;
	for (; moved < n; moved++)
		if (!order_id_valid(o[moved]->id) ||
		    bay_path(a, sizeof(a), bay, Q_PARTIAL, o[moved]->id) < 0 ||
		    bay_path(b, sizeof(b), bay, Q_DATA, o[moved]->id) < 0 ||
		    safe_rename_nosync(a, b) < 0)
			goto undo;
	if (fsync_dir(ddir) < 0 || fsync_dir(pdir) < 0)
		goto undo;
	for (; named < n; named++) {
		if (order_write_tmp(odir, o[named], 0, tmp, sizeof(tmp)) < 0)
			goto undo;
		if (bay_path(b, sizeof(b), bay, Q_OUTGOING, o[named]->id) < 0 ||
		    safe_rename_nosync(tmp, b) < 0) {
			unlink(tmp);
			goto undo;
		}
	}
	if (fsync_dir(odir) < 0)
		goto undo;
	return 0;
undo:
	/* not accepted: each packet back to partial/ to resume, except one a
	 * worker already claimed from outgoing/ (it lives on with its data) */
	snprintf(why, sizeof(why), "%s", err_get());
	lives = xcalloc(n ? n : 1, sizeof(*lives));
	for (int i = 0; i < named; i++)
		lives[i] = !take_back(bay, o[i]->id, Q_OUTGOING);
	for (int i = 0; i < moved; i++)
		if (!lives[i] && bay_path(a, sizeof(a), bay, Q_PARTIAL, o[i]->id) == 0 &&
		    bay_path(b, sizeof(b), bay, Q_DATA, o[i]->id) == 0 && rename(b, a) < 0)
			unlink(b);
	fsync_dir(ddir);
	fsync_dir(pdir);
	free(lives);
	err_set("%s", why);
	return -1;
}

/* ---- corrupt/ ---- */

/* dir/NAME.why: the reason on one line, whatever it contains. */
static int
write_why(const char *dir, const char *name, const char *why)
{
	char wname[NAME_MAX + 1], line[1024];
	size_t n;

	if (path_fmt(wname, sizeof(wname), "%s.why", name) < 0)
		return -1;
	n = snprintf(line, sizeof(line) - 1, "%s", why ? why : "unknown");
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	line[n++] = '\n';
	return safe_write(dir, wname, line, n, 0600);
}

void
bay_corrupt(const char *bay, const char *id, enum qstate from, const char *why)
{
	char path[PATH_MAX], dir[PATH_MAX];

	if (bay_path(path, sizeof(path), bay, Q_CORRUPT, id) < 0 ||
	    bay_path(dir, sizeof(dir), bay, Q_CORRUPT, NULL) < 0) {
		msg_warnx("order %s: cannot move to corrupt: name too long", id);
		return;
	}
	if (from != Q_CORRUPT && bay_move(bay, id, from, Q_CORRUPT) < 0) {
		msg_warnx("order %s: cannot move to corrupt: %s", id, err_get());
		return;
	}
	if (write_why(dir, id, why) < 0)
		msg_warnx("order %s: cannot write reason: %s", id, err_get());
	msg_warnx("order %s: moved to corrupt: %s: %s", id, path, why ? why : "unknown");
}

int
bay_corrupt_file(const char *bay, const char *path, const char *name, const char *why)
{
	char dir[PATH_MAX], to[PATH_MAX];

	if (bay_path(dir, sizeof(dir), bay, Q_CORRUPT, NULL) < 0 ||
	    bay_path(to, sizeof(to), bay, Q_CORRUPT, name) < 0 || safe_rename(path, to) < 0)
		return -1;
	if (write_why(dir, name, why) < 0)
		msg_warnx("%s: cannot write reason: %s", to, err_get());
	return 0;
}

/* ---- the end of an order ---- */

/* sync: seen/ fsynced too (else the caller's, once for many) */
static int
mark_seen(const char *bay, const char *id, time_t expires, int sync)
{
	char dir[PATH_MAX], buf[32];
	int n;

	if (!order_id_valid(id)) {
		err_set("mark seen: bad id \"%.64s\"", id);
		return -1;
	}
	if (bay_path(dir, sizeof(dir), bay, Q_SEEN, NULL) < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%lld\n", (long long)expires);
	/* the name is the marker and is made durable; the file is not
	 * fsynced: its content is only the purge's hint, and a crash that
	 * loses it leaves an empty marker, which bay_purge_seen counts from
	 * its mtime. One there already (a rerun after a crash) is kept. */
	if (safe_write_volatile_keep(dir, id, buf, n, 0600) < 0)
		return -1;
	return sync ? fsync_dir(dir) : 0;
}

int
bay_mark_seen(const char *bay, const char *id, time_t expires)
{
	return mark_seen(bay, id, expires, 1);
}

int
bay_mark_seen_nosync(const char *bay, const char *id, time_t expires)
{
	return mark_seen(bay, id, expires, 0);
}

/*
 * Finishing must never lose a packet that still needs sending nor leave a
 * packet sendable with its data gone. The steps, each durable before the
 * next:
 *   1. seen/ID written (with the expiry, for purging);
 *   2. the order file unlinked, its directory fsynced;
 *   3. data/ID unlinked.
 * Crash before 1: nothing changed, the order is still queued.
 * Crash between 1 and 2: the order is still queued (and seen); it may be
 *   sent again, which the next hop acks without storing (its own seen/).
 * Crash between 2 and 3, or after 3 before data/ is written back:
 *   finished and seen; data/ID has no order in any state, so recovery
 *   (or the sweep) removes it at once. So data/ is not fsynced.
 * Unlinking data before the order would open a window where an order
 * points at missing data: a "queued" packet that can never be sent.
 */
int
bay_finish(const char *bay, const char *id, enum qstate from)
{
	char path[PATH_MAX], data[PATH_MAX];
	struct order o;
	time_t expires = 0;

	if (bay_path(path, sizeof(path), bay, from, id) < 0 ||
	    bay_data_path(data, sizeof(data), bay, id) < 0)
		return -1;
	if (order_load(path, &o) == 0) {
		expires = o.expires;
		order_free(&o);
	}
	/* a rerun after a crash keeps the marker (and its expiry) it wrote */
	if (bay_mark_seen(bay, id, expires) < 0)
		return -1;
	if ((safe_unlink_nosync(path) < 0 && errno != ENOENT) || fsync_parent(path) < 0)
		return -1;
	/* no fsync of data/: a crash that brings data/ID back leaves data no
	 * order names, with seen/ID durable, which recovery removes at once */
	if (safe_unlink_nosync(data) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* Same order of steps as bay_finish, without the seen marker. */
int
bay_remove(const char *bay, const char *id, enum qstate from)
{
	char path[PATH_MAX], data[PATH_MAX], why[PATH_MAX];

	if (bay_path(path, sizeof(path), bay, from, id) < 0 ||
	    bay_data_path(data, sizeof(data), bay, id) < 0 || safe_unlink(path) < 0)
		return -1;
	if (from == Q_CORRUPT && path_fmt(why, sizeof(why), "%s.why", path) == 0)
		unlink(why);
	if ((safe_unlink_nosync(data) < 0 && errno != ENOENT) || fsync_parent(data) < 0)
		return -1;
	return 0;
}

/*
 * The source stays: the caller removes it only after the new order is
 * committed, so a crash at any point leaves the old order with its data
 * (and at worst an extra copy that recovery removes as an orphan).
 */
int
bay_link_data(const char *from_bay, const char *from_id, const char *to_bay, const char *id)
{
	char src[PATH_MAX], dst[PATH_MAX], tdir[PATH_MAX], tmp[PATH_MAX];
	char buf[65536];
	ssize_t n;
	int in, out;

	if (bay_data_path(src, sizeof(src), from_bay, from_id) < 0 ||
	    bay_data_path(dst, sizeof(dst), to_bay, id) < 0 ||
	    bay_path(tdir, sizeof(tdir), to_bay, Q_TMP, NULL) < 0)
		return -1;
	if (strcmp(src, dst) == 0)
		return 0;
	if (safe_link(src, dst) == 0) {
		/* young again: the sweep takes data no order names for an
		 * orphan only once it is BAY_ORPHAN_AGE old, and its order is
		 * written next */
		utimensat(AT_FDCWD, dst, NULL, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	if (errno == EEXIST) {
		err_set("%s exists already", dst);
		return -1;
	}
	if (errno != EXDEV && errno != EPERM)
		return -1;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		err_set("open %s: %s", src, strerror(errno));
		return -1;
	}
	if ((out = safe_create(tdir, tmp, sizeof(tmp), 0600)) < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_all(out, buf, n) < 0) {
			err_set("copy %s to %s: %s", src, tmp, strerror(errno));
			close(in);
			safe_abort(out, tmp);
			return -1;
		}
	}
	close(in);
	/* safe_commit renames within tdir; the target is data/, so by hand */
	if (safe_finish(out, tmp) < 0)
		return -1;
	if (safe_rename_noreplace(tmp, dst) < 0) {
		int e = errno;

		unlink(tmp);
		if (e == EEXIST)
			err_set("%s exists already", dst);
		return -1;
	}
	return fsync_parent(dst) < 0 || fsync_parent(tmp) < 0 ? -1 : 0;
}
