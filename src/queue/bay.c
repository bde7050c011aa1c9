/*
 * bay.c - the bay as directories: names and paths, finding and loading
 * orders, seen markers, space checks, scans and back-off. Read-only but
 * for bay_init and the purges; the verbs that change a bay are commit.c,
 * start-up recovery and the sweep bay_recover.c. The state table is in
 * bay.h. Nothing here reads packet contents or touches the network;
 * nothing here exits.
 */
#include "bay_int.h"
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
#include <time.h>
#include <unistd.h>

/* Every directory of a bay, in enum qstate order (the table in bay.h). */
static const char *const qnames[Q_NDIRS] = {
	"outgoing", "active", "deferred", "hold", "joining", "return", "corrupt",
	"tmp", "drop", "data", "partial", "inflight", "unpack", "incoming", "receipts", "seen",
	"done",
};

const char *
qstate_name(enum qstate st)
{
	return (unsigned)st < Q_NDIRS ? qnames[st] : "unknown";
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

/* The bays this process has made sure of: bay_ready's memory (inherited
 * by the workers the daemon forks after its start-up bay_init). */
static struct strv inited;

int
bay_init(const char *bay)
{
	char path[PATH_MAX];

	if (mkdirs(bay, 0700) < 0 || dir_tighten(bay, 0750) < 0)
		return -1;
	for (int i = 0; i < Q_NDIRS; i++) {
		if (bay_path(path, sizeof(path), bay, (enum qstate)i, NULL) < 0)
			return -1;
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			err_set("mkdir %s: %s", path, strerror(errno));
			return -1;
		}
		if (dir_tighten(path, i == Q_INCOMING ? 0750 : i == Q_DROP ? 0770 : 0700) < 0)
			return -1;
	}
	if (!strv_has(&inited, bay))
		strv_add(&inited, bay);
	return 0;
}

/* 36 system calls saved per call (a mkdir and a stat per directory). */
int
bay_ready(const char *bay)
{
	return strv_has(&inited, bay) ? 0 : bay_init(bay);
}

int
bay_path(char *buf, size_t size, const char *bay, enum qstate st, const char *name)
{
	if ((unsigned)st >= Q_NDIRS) {
		err_set("bad queue directory %d", (int)st);
		return -1;
	}
	if (name)
		return path_fmt(buf, size, "%s/%s/%s", bay, qnames[st], name);
	return path_fmt(buf, size, "%s/%s", bay, qnames[st]);
}

int
bay_data_path(char *buf, size_t size, const char *bay, const char *id)
{
	return bay_path(buf, size, bay, Q_DATA, id);
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

/*
 * data/ID is written before its order enters any state and removed only
 * after the order left the last one (commit.c, group.c): no data/ID, no
 * live order, so an unknown id costs data/, corrupt/ (which may keep an
 * order whose data went missing) and seen/ instead of every state. seen/
 * is looked at last: bay_finish writes it before the order goes, so an
 * order finished while we look is still found.
 */
int
bay_known(const char *bay, const char *id)
{
	char path[PATH_MAX];
	struct stat sb;

	if (!order_id_valid(id) || bay_data_path(path, sizeof(path), bay, id) < 0 ||
	    lstat(path, &sb) == 0 || errno != ENOENT) {
		if (bay_find(bay, id, NULL) == 0)
			return 1;
	} else if (bay_path(path, sizeof(path), bay, Q_CORRUPT, id) == 0 &&
		   lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
		return 1;
	return bay_seen(bay, id);
}

int
bay_seen(const char *bay, const char *id)
{
	char path[PATH_MAX];

	if (bay_path(path, sizeof(path), bay, Q_SEEN, id) < 0)
		return 0;
	return access(path, F_OK) == 0;
}

int
bay_purge_seen(const char *bay, time_t now)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (bay_path(dir, sizeof(dir), bay, Q_SEEN, NULL) < 0)
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
	if (bay_path(dir, sizeof(dir), bay, Q_DATA, NULL) < 0 || dir_bytes(dir, bytes) < 0)
		return -1;
	if (bay_path(dir, sizeof(dir), bay, Q_TMP, NULL) < 0 || dir_bytes(dir, bytes) < 0)
		return -1;
	/* interrupted transfers waiting to resume take space too */
	if (bay_path(dir, sizeof(dir), bay, Q_PARTIAL, NULL) < 0 || dir_bytes(dir, bytes) < 0)
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

	if (bay_path(dir, sizeof(dir), bay, Q_PARTIAL, NULL) < 0 || (d = opendir(dir)) == NULL)
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
 * The free bytes of the last bay looked at, when (CLOCK_MONOTONIC), and
 * what this process's checks let through since (taken from them).
 */
static struct {
	char bay[PATH_MAX];
	struct timespec at;
	uint64_t avail, taken;
} room;

/* A bay whose free bytes are this far above its floor plus what a check
 * asks is looked at once a second, not on every check (a receiver takes
 * hundreds of small packets a second); closer, on every check. */
#define ROOM_FAR	(64ull << 20)

/* The free bytes of bay as they were looked at within the last second,
 * less what was let through since; 0 when there is no such look. */
static uint64_t
room_recent(const char *bay)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (now.tv_sec - room.at.tv_sec) * 1000000000LL + (now.tv_nsec - room.at.tv_nsec);
	if (strcmp(room.bay, bay) != 0 || ns >= 1000000000LL || room.avail < room.taken)
		return 0;
	return room.avail - room.taken;
}

/*
 * Cost: one statvfs, at most once a second while the bay is far from its
 * floor (ROOM_FAR: what others write within that second would have to
 * exceed it to cross the floor unseen), and with BAY-SIZE-LIMIT set one
 * readdir + fstatat over data/ and tmp/ (files being sealed count too) on
 * every call: a bay with 10^5 packets costs ~10^5 stats per submission or
 * receipt, acceptable for now.
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
	uint64_t avail, used, need = cf->min_free_disk + size + unpacked;
	/* no sum wrapped around (else: looked at, and refused below) */
	int sane = size <= UINT64_MAX - cf->min_free_disk &&
		   unpacked <= UINT64_MAX - cf->min_free_disk - size && need <= UINT64_MAX - ROOM_FAR;

	if (sane && room_recent(bay) >= need + ROOM_FAR) {
		room.taken += size + unpacked;	/* far from the floor: no look */
		goto limit;
	}
	if (free_bytes(bay, &avail) < 0)
		return -1;
	if (strlen(bay) < sizeof(room.bay)) {
		snprintf(room.bay, sizeof(room.bay), "%s", bay);
		clock_gettime(CLOCK_MONOTONIC, &room.at);
		room.avail = avail;
		room.taken = 0;
	}
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
	room.taken += size + unpacked;
limit:
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
	if (cls->bays.n == 1)	/* no choice: no statvfs (every receipt, every packet taken) */
		return cls->bays.v[0];
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
