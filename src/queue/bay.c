/*
 * bay.c - the bay as directories: paths, state changes (one durable
 * rename), exactly-once markers, space checks, scans and deferral. The
 * state table is in bay.h; start-up recovery is bay_recover.c.
 *
 * Every state change is a rename within the bay; every file that must
 * survive a crash is written with safe_write/safe_commit. Nothing here
 * reads packet contents or touches the network; nothing here exits.
 */
#include "bay.h"
#include "drop.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char *const qnames[Q_NSTATES] = {
	"outgoing", "active", "deferred", "hold", "joining", "return", "corrupt",
};

/* Every directory of a bay, states and the rest (see the table in bay.h). */
static const char *const bay_dirs[] = {
	"tmp", "drop", "data", "outgoing", "active", "deferred", "hold", "joining",
	"unpack", "incoming", "receipts", "return", "corrupt", "seen",
};

const char *
qstate_name(enum qstate st)
{
	return (unsigned)st < Q_NSTATES ? qnames[st] : "unknown";
}

int
qstate_parse(const char *name, enum qstate *st)
{
	for (int i = 0; i < Q_NSTATES; i++)
		if (strcmp(name, qnames[i]) == 0) {
			*st = (enum qstate)i;
			return 0;
		}
	err_set("unknown state \"%s\" (outgoing, active, deferred, hold, joining, return, corrupt)",
		name);
	return -1;
}

/*
 * A directory made before us keeps no more than max of its mode: others
 * never; group at most read and search on BAY and incoming/ (so that a
 * group can be given the delivered files) and write on drop/ (operators
 * who drop files); the rest the owner only.
 * Tightened with a log line naming the path; -1 when that cannot be done.
 */
static int
dir_tighten(const char *path, mode_t max)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		err_set("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_set("%s: not a directory", path);
		return -1;
	}
	if ((st.st_mode & 07777 & ~max) == 0)
		return 0;
	if (chmod(path, st.st_mode & 07777 & max) < 0) {
		err_set("%s: mode %04o lets other users in and cannot be tightened: %s", path,
			(unsigned)(st.st_mode & 07777), strerror(errno));
		return -1;
	}
	msg_info("mode of %s was %04o: tightened to %04o", path, (unsigned)(st.st_mode & 07777),
		 (unsigned)(st.st_mode & 07777 & max));
	return 0;
}

int
bay_init(const char *bay)
{
	char path[PATH_MAX];

	if (mkdirs(bay, 0700) < 0 || dir_tighten(bay, 0750) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(bay_dirs) / sizeof(bay_dirs[0]); i++) {
		if (path_fmt(path, sizeof(path), "%s/%s", bay, bay_dirs[i]) < 0)
			return -1;
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			err_set("mkdir %s: %s", path, strerror(errno));
			return -1;
		}
		if (dir_tighten(path, strcmp(bay_dirs[i], "incoming") == 0 ? 0750 :
				      strcmp(bay_dirs[i], "drop") == 0 ? 0770 : 0700) < 0)
			return -1;
	}
	return 0;
}

int
bay_path(char *buf, size_t size, const char *bay, enum qstate st, const char *id)
{
	if ((unsigned)st >= Q_NSTATES) {
		err_set("bad queue state %d", (int)st);
		return -1;
	}
	if (id)
		return path_fmt(buf, size, "%s/%s/%s", bay, qnames[st], id);
	return path_fmt(buf, size, "%s/%s", bay, qnames[st]);
}

int
bay_data_path(char *buf, size_t size, const char *bay, const char *id)
{
	return path_fmt(buf, size, "%s/data/%s", bay, id);
}

int
bay_subpath(char *buf, size_t size, const char *bay, const char *sub, const char *id)
{
	if (id)
		return path_fmt(buf, size, "%s/%s/%s", bay, sub, id);
	return path_fmt(buf, size, "%s/%s", bay, sub);
}

int
bay_move(const char *bay, const char *id, enum qstate from, enum qstate to)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (bay_path(a, sizeof(a), bay, from, id) < 0 || bay_path(b, sizeof(b), bay, to, id) < 0)
		return -1;
	return safe_rename(a, b);
}

int
bay_find(const char *bay, const char *id, enum qstate *st)
{
	char path[PATH_MAX];
	struct stat sb;

	if (order_id_valid(id))
		for (int i = 0; i < Q_NSTATES; i++) {
			if (bay_path(path, sizeof(path), bay, (enum qstate)i, id) < 0)
				return -1;
			if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
				if (st)
					*st = (enum qstate)i;
				return 0;
			}
		}
	err_set("no order %s in %s", id, bay);
	return -1;
}

int
bay_load(const char *bay, const char *id, enum qstate st, struct order *o)
{
	char path[PATH_MAX];
	struct stat sb;

	if (bay_path(path, sizeof(path), bay, st, id) < 0) {
		order_init(o);
		return -1;
	}
	/* never opened unless a regular file (corrupt/ keeps links, FIFOs...) */
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		order_init(o);
		err_set("%s: a %s, not an order", path, drop_kind(sb.st_mode));
		return -1;
	}
	if (order_load(path, o) < 0)
		return -1;
	if (strcmp(o->id, id) != 0) {
		err_set("%s: names order %s", path, o->id);
		order_free(o);
		return -1;
	}
	return 0;
}

void
bay_corrupt(const char *bay, const char *id, enum qstate from, const char *why)
{
	char path[PATH_MAX], dir[PATH_MAX], name[NAME_MAX + 1], line[1024];
	size_t n;

	if (bay_path(path, sizeof(path), bay, Q_CORRUPT, id) < 0 ||
	    bay_path(dir, sizeof(dir), bay, Q_CORRUPT, NULL) < 0 ||
	    path_fmt(name, sizeof(name), "%s.why", id) < 0) {
		msg_warnx("order %s: cannot move to corrupt: name too long", id);
		return;
	}
	if (from != Q_CORRUPT && bay_move(bay, id, from, Q_CORRUPT) < 0) {
		msg_warnx("order %s: cannot move to corrupt: %s", id, err_get());
		return;
	}
	/* one line, whatever the reason contains */
	n = snprintf(line, sizeof(line) - 1, "%s", why ? why : "unknown");
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	line[n++] = '\n';
	if (safe_write(dir, name, line, n, 0600) < 0)
		msg_warnx("order %s: cannot write reason: %s", id, err_get());
	msg_warnx("order %s: moved to corrupt: %s: %s", id, path, why ? why : "unknown");
}

int
bay_seen(const char *bay, const char *id)
{
	char path[PATH_MAX];

	if (bay_subpath(path, sizeof(path), bay, "seen", id) < 0)
		return 0;
	return access(path, F_OK) == 0;
}

int
bay_mark_seen_until(const char *bay, const char *id, time_t expires)
{
	char dir[PATH_MAX], buf[32];
	int n;

	if (!order_id_valid(id)) {
		err_set("mark seen: bad id \"%.64s\"", id);
		return -1;
	}
	if (bay_subpath(dir, sizeof(dir), bay, "seen", NULL) < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%lld\n", (long long)expires);
	return safe_write(dir, id, buf, n, 0600);
}

int
bay_mark_seen(const char *bay, const char *id)
{
	return bay_mark_seen_until(bay, id, 0);
}

int
bay_purge_seen(const char *bay, time_t now)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (bay_subpath(dir, sizeof(dir), bay, "seen", NULL) < 0)
		return -1;
	if ((d = opendir(dir)) == NULL) {
		err_set("opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		char *buf;
		long long t = 0;

		if (de->d_name[0] == '.' || path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) < 0)
			continue;
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if ((buf = read_file(path, 64, NULL)) != NULL) {
			t = strtoll(buf, NULL, 10);
			free(buf);
		}
		if (t <= 0)	/* expiry unknown: count from when it was marked */
			t = sb.st_mtime + (long long)DEFAULT_EXPIRATION * 86400;
		if (now > t + (long long)RETURN_PURGE_DAYS * 86400 && unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Finishing must never lose a packet that still needs sending nor leave a
 * packet sendable with its data gone. The steps, each durable before the
 * next:
 *   1. seen/ID written (with the expiry, for purging);
 *   2. the order file unlinked, its directory fsynced;
 *   3. data/ID unlinked, data/ fsynced.
 * Crash before 1: nothing changed, the order is still queued.
 * Crash between 1 and 2: the order is still queued (and seen); it may be
 *   sent again, which the next hop acks without storing (its own seen/).
 * Crash between 2 and 3: finished and seen; data/ID has no order in any
 *   state, so recovery removes it as an orphan.
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
	if (!bay_seen(bay, id) && bay_mark_seen_until(bay, id, expires) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT) {
		err_set("unlink %s: %s", path, strerror(errno));
		return -1;
	}
	if (fsync_parent(path) < 0)
		return -1;
	if (unlink(data) < 0 && errno != ENOENT) {
		err_set("unlink %s: %s", data, strerror(errno));
		return -1;
	}
	return fsync_parent(data);
}

/* Same order of steps as bay_finish, without the seen marker. */
int
bay_remove(const char *bay, const char *id, enum qstate from)
{
	char path[PATH_MAX], data[PATH_MAX];

	if (bay_path(path, sizeof(path), bay, from, id) < 0 ||
	    bay_data_path(data, sizeof(data), bay, id) < 0)
		return -1;
	if (unlink(path) < 0) {
		err_set("unlink %s: %s", path, strerror(errno));
		return -1;
	}
	if (fsync_parent(path) < 0)
		return -1;
	if (from == Q_CORRUPT) {
		char why[PATH_MAX];

		if (path_fmt(why, sizeof(why), "%s.why", path) == 0)
			unlink(why);
	}
	if (unlink(data) < 0 && errno != ENOENT) {
		err_set("unlink %s: %s", data, strerror(errno));
		return -1;
	}
	return fsync_parent(data);
}

/* Bytes of regular files directly in dir (not recursive). */
static int
dir_bytes(const char *dir, uint64_t *sum)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int dfd;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		err_set("opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
			*sum += (uint64_t)sb.st_size;
	closedir(d);
	return 0;
}

int
bay_usage(const char *bay, uint64_t *bytes)
{
	char dir[PATH_MAX];

	*bytes = 0;
	if (bay_subpath(dir, sizeof(dir), bay, "data", NULL) < 0 || dir_bytes(dir, bytes) < 0)
		return -1;
	if (bay_subpath(dir, sizeof(dir), bay, "tmp", NULL) < 0 || dir_bytes(dir, bytes) < 0)
		return -1;
	/* interrupted transfers waiting to resume take space too */
	if (bay_subpath(dir, sizeof(dir), bay, "partial", NULL) < 0 || dir_bytes(dir, bytes) < 0)
		return -1;
	return 0;
}

int
bay_purge_partial(const char *bay, time_t older_than)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	int dfd, n = 0;
	DIR *d;

	if (bay_subpath(dir, sizeof(dir), bay, "partial", NULL) < 0 || (d = opendir(dir)) == NULL)
		return 0;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode) && sb.st_mtime < older_than &&
		    unlinkat(dfd, de->d_name, 0) == 0) {
			msg_info("purged interrupted transfer %s/%s (%lld bytes, idle since %ld)", dir,
				 de->d_name, (long long)sb.st_size, (long)sb.st_mtime);
			n++;
		}
	closedir(d);
	return n;
}

static int
free_bytes(const char *path, uint64_t *avail)
{
	struct statvfs vfs;

	if (statvfs(path, &vfs) < 0) {
		err_set("statvfs %s: %s", path, strerror(errno));
		return -1;
	}
	*avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	return 0;
}

/*
 * Cost: one statvfs, and with BAY-SIZE-LIMIT set one readdir + fstatat
 * over data/ and tmp/ (files being sealed count too) on every call. There
 * is no cache to go stale; a bay with 10^5 packets costs ~10^5 stats per
 * submission or receipt, acceptable for now.
 */
int
bay_space_ok(const struct config *cf, const char *bay, uint64_t size)
{
	return bay_room_ok(cf, bay, size, 0);
}

int
bay_room_ok(const struct config *cf, const char *bay, uint64_t size, uint64_t unpacked)
{
	char a[16], b[16], c[16], d[16];
	uint64_t avail, used;

	if (free_bytes(bay, &avail) < 0)
		return -1;
	if (avail < cf->min_free_disk || avail - cf->min_free_disk < size ||
	    avail - cf->min_free_disk - size < unpacked) {
		if (unpacked)
			err_set("bay full: %s: %s free, need %s for the packet and %s to unpack "
				"it, plus MIN-FREE-DISK %s", bay, fmt_size(avail, a, sizeof(a)),
				fmt_size(size, b, sizeof(b)), fmt_size(unpacked, d, sizeof(d)),
				fmt_size(cf->min_free_disk, c, sizeof(c)));
		else
			err_set("bay full: %s: %s free, need %s plus MIN-FREE-DISK %s", bay,
				fmt_size(avail, a, sizeof(a)), fmt_size(size, b, sizeof(b)),
				fmt_size(cf->min_free_disk, c, sizeof(c)));
		return -1;
	}
	if (cf->bay_size_limit == 0)
		return 0;
	if (bay_usage(bay, &used) < 0)
		return -1;
	if (used > cf->bay_size_limit || cf->bay_size_limit - used < size) {
		err_set("bay full: %s holds %s, %s more exceeds BAY-SIZE-LIMIT %s", bay,
			fmt_size(used, a, sizeof(a)), fmt_size(size, b, sizeof(b)),
			fmt_size(cf->bay_size_limit, c, sizeof(c)));
		return -1;
	}
	return 0;
}

const char *
bay_choose(const struct sclass *cls)
{
	const char *best = NULL;
	uint64_t best_free = 0, avail;

	if (cls == NULL || cls->bays.n == 0)
		return NULL;
	for (int i = 0; i < cls->bays.n; i++)
		if (free_bytes(cls->bays.v[i], &avail) == 0 && (best == NULL || avail > best_free)) {
			best = cls->bays.v[i];
			best_free = avail;
		}
	return best ? best : cls->bays.v[0];	/* none exists yet: the first */
}

int
bay_scan(const char *bay, enum qstate st, bay_scan_fn fn, void *arg)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int rc = 0;

	if (bay_path(dir, sizeof(dir), bay, st, NULL) < 0)
		return -1;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;	/* a state never created holds nothing */
		err_set("opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		/* temporaries, reasons and junk names are not orders */
		if (!order_id_valid(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISREG(sb.st_mode) && st != Q_CORRUPT))
			continue;	/* moved away meanwhile, or not a file; corrupt/
					 * lists what was set aside, links and all */
		if (fn(arg, bay, st, de->d_name, sb.st_mtime) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

void
bay_all(const struct config *cf, struct strv *out)
{
	for (int i = 0; i < cf->nclasses; i++) {
		const struct sclass *c = &cf->classes[i];

		for (int j = 0; j < c->bays.n; j++)
			if (!strv_has(out, c->bays.v[j]))
				strv_add(out, c->bays.v[j]);
		if (c->return_bay && !strv_has(out, c->return_bay))
			strv_add(out, c->return_bay);
	}
}

int
bay_backoff(const struct config *cf, int attempts)
{
	long long d = cf->retry_min > 0 ? cf->retry_min : 1;
	long long max = cf->retry_max > d ? cf->retry_max : d;

	for (int i = 1; i < attempts && d < max; i++)
		d *= 2;
	return (int)(d < max ? d : max);
}

/*
 * Crash-safe order: the new content replaces the order in its current
 * state (one safe_write, with the mtime already set on the temporary, so
 * content and mtime become durable together), then one rename moves it to
 * deferred/. A crash in between leaves one order, in its old state, with
 * the attempt counted: recovery requeues it from active/ and it is tried
 * once more early. Writing into deferred/ first and then unlinking the old
 * file would instead leave two copies after a crash.
 */
int
bay_defer(const struct config *cf, const char *bay, struct order *o,
	  enum qstate from, const char *why)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	struct timespec ts[2];
	size_t len;
	char *buf;
	int fd;

	o->attempts++;
	free(o->last_error);
	o->last_error = xstrdup(why ? why : "unknown error");
	o->next_attempt = time(NULL) + bay_backoff(cf, o->attempts);
	if (bay_path(dir, sizeof(dir), bay, from, NULL) < 0)
		return -1;
	if ((fd = safe_create(dir, tmp, sizeof(tmp), 0600)) < 0)
		return -1;
	buf = order_format(o, &len);
	if (write_all(fd, buf, len) < 0) {
		err_set("write %s: %s", tmp, strerror(errno));
		free(buf);
		safe_abort(fd, tmp);
		return -1;
	}
	free(buf);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = o->next_attempt;
	ts[1].tv_nsec = 0;
	if (futimens(fd, ts) < 0) {
		err_set("futimens %s: %s", tmp, strerror(errno));
		safe_abort(fd, tmp);
		return -1;
	}
	if (safe_commit(fd, tmp, dir, o->id) < 0)
		return -1;
	if (from == Q_DEFERRED)
		return 0;
	return bay_move(bay, o->id, from, Q_DEFERRED);
}

/*
 * Give to_bay a durable data/ID of its own that is the same file as
 * from_bay's: link(2) when both are on one file system, else copy to the
 * target's tmp/, fsync, and rename into data/. The source stays: the caller
 * unlinks it only after the new order is committed, so a crash at any
 * point leaves the old order with its data (and at worst an extra copy
 * that recovery removes as an orphan). Resubmitting a returned packet into
 * its class's storage bay is the use.
 */
int
bay_link_data(const char *from_bay, const char *to_bay, const char *id)
{
	return bay_link_data_as(from_bay, id, to_bay, id);
}

int
bay_link_data_as(const char *from_bay, const char *from_id, const char *to_bay,
		 const char *id)
{
	char src[PATH_MAX], dst[PATH_MAX], tdir[PATH_MAX], tmp[PATH_MAX];
	char buf[65536];
	ssize_t n;
	int in, out;

	if (bay_data_path(src, sizeof(src), from_bay, from_id) < 0 ||
	    bay_data_path(dst, sizeof(dst), to_bay, id) < 0 ||
	    bay_subpath(tdir, sizeof(tdir), to_bay, "tmp", NULL) < 0)
		return -1;
	if (strcmp(src, dst) == 0)
		return 0;
	if (link(src, dst) == 0)
		return fsync_parent(dst);
	if (errno == EEXIST) {
		err_set("%s exists already", dst);
		return -1;
	}
	if (errno != EXDEV && errno != EPERM) {
		err_set("link %s to %s: %s", src, dst, strerror(errno));
		return -1;
	}
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
	if (fsync(out) < 0) {
		err_set("fsync %s: %s", tmp, strerror(errno));
		safe_abort(out, tmp);
		return -1;
	}
	if (close(out) < 0) {
		err_set("close %s: %s", tmp, strerror(errno));
		safe_abort(-1, tmp);
		return -1;
	}
	if (safe_rename(tmp, dst) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
bay_locate(const struct config *cf, const char *id, char *bay, size_t size, enum qstate *st)
{
	struct strv bays = {0};
	int rc = -1;

	bay_all(cf, &bays);
	for (int i = 0; i < bays.n && rc < 0; i++)
		if (bay_find(bays.v[i], id, st) == 0)
			rc = path_fmt(bay, size, "%s", bays.v[i]);
	strv_free(&bays);
	if (rc < 0)
		err_set("no order %s", id);
	return rc;
}
