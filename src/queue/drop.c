/*
 * drop.c - is a file in BAY/drop/DEST/ complete (drop.h has the contract),
 * and moving aside what cannot be shipped.
 *
 * The table keeps, per path: the last lstat seen and since when it has
 * not changed (its ctime, when that is not in the future: the kernel's
 * own record of the last change, which also survives a restart of the
 * daemon), what the events say of its writer, and the lstat it was taken
 * as. Entries a scan of their bay no longer finds are forgotten.
 *
 * Never opens a dropped file for its content, never follows a link,
 * never blocks on a FIFO; the only rename is into corrupt/, never over
 * an existing name.
 */
#include "drop.h"
#include "bay.h"
#include "order.h"
#include "../util/htab.h"
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
#include <unistd.h>

/* What the events say of an entry's writer. */
enum hint {
	H_UNKNOWN,		/* no event: judged by its quiet period */
	H_OPEN,			/* created in place: wait for the writer's close */
	H_CLOSED,		/* closed (or linked in): quiet period, then taken */
	H_RENAMED		/* renamed in: complete */
};

struct drop_rec {
	struct stat snap;		/* the last look */
	struct stat taken;		/* what it was taken as (has_taken) */
	time_t since;			/* snap unchanged since */
	time_t not_before;		/* a pickup failed for now */
	enum hint hint;
	unsigned gen;			/* the scan that last saw it */
	int has_taken, logged;
};

struct drop_table {
	struct htab *h;
	unsigned gen;
};

int
bay_drop_is_temp_name(const char *n)
{
	size_t len = strlen(n);

	return len == 0 || n[0] == '.' || n[0] == '#' || n[len - 1] == '~' ||
	       (len > 4 && strcmp(n + len - 4, ".tmp") == 0) ||
	       (len > 5 && strcmp(n + len - 5, ".part") == 0) ||
	       (len > 4 && strcmp(n + len - 4, ".swp") == 0);
}

struct drop_table *
drop_table_new(void)
{
	struct drop_table *t = xcalloc(1, sizeof(*t));

	t->h = htab_new();
	return t;
}

void
drop_table_free(struct drop_table *t)
{
	if (t == NULL)
		return;
	htab_free(t->h, free);
	free(t);
}

size_t
drop_count(const struct drop_table *t)
{
	return htab_count(t->h);
}

int
drop_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT) && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

const char *
drop_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "regular file";
	case S_IFLNK:
		return "symbolic link";
	case S_IFIFO:
		return "FIFO";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	case S_IFDIR:
		return "directory";
	case S_IFSOCK:
		return "socket";
	default:
		return "file of unknown type";
	}
}

/* path's record, made when new; a new file under the name is logged anew */
static struct drop_rec *
rec_get(struct drop_table *t, const char *path, const struct stat *st, int *fresh)
{
	struct drop_rec *r = htab_get(t->h, path);

	*fresh = r == NULL;
	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		r->hint = H_UNKNOWN;
		htab_put(t->h, path, r);
	} else if (r->snap.st_ino != st->st_ino || r->snap.st_dev != st->st_dev)
		r->logged = 0;
	r->gen = t->gen;
	return r;
}

enum drop_verdict
drop_judge(struct drop_table *t, const char *path, const struct stat *st, enum drop_event ev,
	   time_t now, int quiet, time_t *when)
{
	int fresh;
	struct drop_rec *r = rec_get(t, path, st, &fresh);

	*when = 0;
	if (!S_ISREG(st->st_mode)) {
		r->snap = *st;
		r->has_taken = 0;
		return DROP_ASIDE;
	}
	if (fresh || !drop_same(&r->snap, st)) {
		/* a change: quiet from the kernel's time of it (ctime) */
		r->snap = *st;
		r->since = st->st_ctim.tv_sec <= now ? st->st_ctim.tv_sec : now;
		if (r->hint == H_RENAMED && ev != DROP_RENAMED)
			r->hint = H_CLOSED;	/* written to after its rename */
	}
	switch (ev) {
	case DROP_SEEN:
		break;
	case DROP_CREATED:
		/* a second link to a file is complete; a new one is being written */
		r->hint = st->st_nlink > 1 ? H_CLOSED : H_OPEN;
		break;
	case DROP_CLOSED:
		r->hint = H_CLOSED;
		break;
	case DROP_RENAMED:
		r->hint = H_RENAMED;
		break;
	case DROP_CHANGED:
		if (r->hint == H_RENAMED)
			r->hint = H_CLOSED;
		r->since = now;
		break;
	case DROP_WRITING:
		r->hint = H_OPEN;
		break;
	default:
		msg_panic("drop_judge: unknown event %d", ev);
	}
	if (r->not_before > now) {
		*when = r->not_before;
		return DROP_WAIT;
	}
	if (r->hint == H_OPEN)
		return DROP_WAIT;	/* its close is an event */
	if (r->hint != H_RENAMED) {
		/* found with no event: at least a second, so a scan that sees a
		 * new file before its IN_CREATE is read does not take it */
		int q = r->hint == H_UNKNOWN && quiet < 1 ? 1 : quiet;

		if (now - r->since < q) {
			*when = r->since + q;
			return DROP_WAIT;
		}
	}
	r->taken = r->snap;
	r->has_taken = 1;
	return DROP_TAKE;
}

int
drop_taken(const struct drop_table *t, const char *path, struct stat *st)
{
	const struct drop_rec *r = htab_get(t->h, path);

	if (r == NULL || !r->has_taken)
		return -1;
	*st = r->taken;
	return 0;
}

void
drop_set_taken(struct drop_table *t, const char *path, const struct stat *st)
{
	int fresh;
	struct drop_rec *r = rec_get(t, path, st, &fresh);

	r->snap = r->taken = *st;
	r->has_taken = 1;
}

void
drop_later(struct drop_table *t, const char *path, time_t until)
{
	struct drop_rec *r = htab_get(t->h, path);

	if (r)
		r->not_before = until;
}

static void
lost_one(void *arg, const char *key, void *value)
{
	struct drop_rec *r = value;

	if (r->hint == H_OPEN)
		r->hint = H_UNKNOWN;
}

void
drop_events_lost(struct drop_table *t)
{
	htab_walk(t->h, lost_one, NULL);
}

int
drop_logged(struct drop_table *t, const char *path)
{
	struct drop_rec *r = htab_get(t->h, path);
	int was = r ? r->logged : 0;

	if (r)
		r->logged = 1;
	return was;
}

void
drop_forget(struct drop_table *t, const char *path)
{
	free(htab_del(t->h, path));
}

int
drop_writer_open(int fd)
{
	struct sigaction ign = {0}, old;
	int rc;

	/*
	 * A read lease is granted only while no one has the file open for
	 * writing. A writer opening it in the instant we hold it breaks the
	 * lease with SIGIO (whose default kills): ignored meanwhile.
	 */
	ign.sa_handler = SIG_IGN;
	sigaction(SIGIO, &ign, &old);
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		fcntl(fd, F_SETLEASE, F_UNLCK);
		rc = 0;
	} else
		rc = errno == EAGAIN || errno == EBUSY ? 1 : -1;
	sigaction(SIGIO, &old, NULL);
	return rc;
}

/* ---- moving aside ---- */

/* label as a valid order id with room for ".NNNN", so shipctl lists it */
static void
aside_name(const char *label, char *out, size_t size)
{
	size_t n = 0, max = size - 1 < ORDER_ID_MAX - 7 ? size - 1 : ORDER_ID_MAX - 7;

	for (const char *p = label; *p && n < max; p++, n++)
		out[n] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
			 (*p == '.' && n > 0) ? *p : '_';
	out[n] = 0;
	if (n == 0 || !order_id_valid(out))	/* empty, or ending in ".why" */
		snprintf(out + n, size - n, "_");
}

int
drop_set_aside(const char *bay, int dirfd, const char *name, const char *label,
	       const char *why, char *as, size_t assize)
{
	char cdir[PATH_MAX], base[ORDER_ID_MAX], id[ORDER_ID_MAX + 16], wname[ORDER_ID_MAX + 24];
	struct sbuf w = {0};
	struct stat st;
	int cfd, r;

	if (bay_path(cdir, sizeof(cdir), bay, Q_CORRUPT, NULL) < 0)
		return -1;
	if (mkdirs(cdir, 0700) < 0 ||
	    (cfd = open(cdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		err_set("%s: %s", cdir, strerror(errno));
		return -1;
	}
	aside_name(label, base, sizeof(base));
	for (int i = 0;; i++) {
		if (i == 0)
			snprintf(id, sizeof(id), "%s", base);
		else
			snprintf(id, sizeof(id), "%s.%d", base, i);
		r = renameat2(dirfd, name, cfd, id, RENAME_NOREPLACE);
		if (r < 0 && errno == EINVAL) {
			/* no RENAME_NOREPLACE on this file system: only we write here */
			if (fstatat(cfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
				errno = EEXIST;
			else if (errno == ENOENT)
				r = renameat(dirfd, name, cfd, id);
		}
		if (r == 0)
			break;
		if (errno != EEXIST || i >= 9999) {
			err_set("move %s to %s: %s", name, cdir, strerror(errno));
			close(cfd);
			return -1;
		}
	}
	if (fsync(cfd) < 0 || fsync(dirfd) < 0)
		msg_warn("%s: fsync after moving %s aside", cdir, id);
	close(cfd);
	sbuf_printf(&w, "%s\n", why);
	snprintf(wname, sizeof(wname), "%s.why", id);
	if (safe_write(cdir, wname, w.s, w.len, 0600) < 0)
		msg_warnx("%s/%s: cannot write the reason: %s", cdir, wname, err_get());
	sbuf_free(&w);
	snprintf(as, assize, "%s", id);
	return 0;
}

/* ---- scanning ---- */

/*
 * Move what cannot be shipped aside, saying what it was; a failure is
 * logged once per daemon run and path, then retried quietly.
 */
static void
aside(struct drop_scan *s, const char *bay, int dirfd, const char *path, const char *name,
      const char *label, const char *rel, const struct stat *st, const char *rule)
{
	char why[PATH_MAX + 256], as[ORDER_ID_MAX];

	snprintf(why, sizeof(why), "%s: a %s%s: %s; moved aside", rel, drop_kind(st->st_mode),
		 S_ISLNK(st->st_mode) ? " (never followed)" : "", rule);
	if (drop_set_aside(bay, dirfd, name, label, why, as, sizeof(as)) == 0) {
		msg_warnx("pickup %s: a %s%s: %s; moved to corrupt/%s", path,
			  drop_kind(st->st_mode), S_ISLNK(st->st_mode) ? " (never followed)" : "",
			  rule, as);
		drop_forget(s->t, path);
	} else if (!drop_logged(s->t, path))
		msg_warnx("pickup %s: a %s: %s; cannot move it aside (%s): left in place, "
			  "logged once", path, drop_kind(st->st_mode), rule, err_get());
}

static void
look_at(struct drop_scan *s, const char *bay, int dirfd, const char *dir, const char *dest,
	const char *name, enum drop_event ev)
{
	char path[PATH_MAX], label[2 * NAME_MAX + 8], rel[2 * NAME_MAX + 8];
	struct stat st;
	time_t when;

	if (bay_drop_is_temp_name(name) || path_fmt(path, sizeof(path), "%s/%s", dir, name) < 0)
		return;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		drop_forget(s->t, path);	/* gone: taken, or moved away */
		return;
	}
	switch (drop_judge(s->t, path, &st, ev, s->now, s->quiet, &when)) {
	case DROP_TAKE:
		s->take(s->arg, bay, path);
		break;
	case DROP_WAIT:
		if (when && (s->next == 0 || when < s->next))
			s->next = when;
		break;
	case DROP_ASIDE:
		snprintf(label, sizeof(label), "drop.%s.%s", dest, name);
		snprintf(rel, sizeof(rel), "drop/%s/%s", dest, name);
		aside(s, bay, dirfd, path, name, label, rel, &st, "only regular files are shipped");
		break;
	default:
		msg_panic("drop: unknown verdict");
	}
}

/* The paths of the records under prefix ("DIR/"; directly in DIR only when
 * direct) with inode ino (0: any), not seen by scan not_gen (0: any). */
struct pick {
	const char *prefix;
	int direct;
	ino_t ino;
	unsigned not_gen;
	struct strv paths;
};

static void
pick_one(void *arg, const char *key, void *value)
{
	struct pick *p = arg;
	const struct drop_rec *r = value;
	size_t n = strlen(p->prefix);

	if (strncmp(key, p->prefix, n) == 0 && (!p->direct || strchr(key + n, '/') == NULL) &&
	    (p->ino == 0 || r->snap.st_ino == p->ino) && (p->not_gen == 0 || r->gen != p->not_gen))
		strv_add(&p->paths, key);
}

void
drop_look(struct drop_scan *s, const char *bay, const char *dir, const char *name,
	  enum drop_event ev)
{
	const char *dest = strrchr(dir, '/');
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dirfd < 0)
		return;		/* gone, or no longer a real directory: the scan says */
	dest = dest ? dest + 1 : dir;
	if (ev == DROP_CLOSED && name[0] == '#' && name[1] &&
	    strspn(name + 1, "0123456789") == strlen(name + 1)) {
		/* a file made with O_TMPFILE and linked in is closed under
		 * "#INODE", not under the name it was linked as */
		char prefix[PATH_MAX];
		struct pick c = { prefix, 1, (ino_t)strtoull(name + 1, NULL, 10), 0, {0} };

		if (path_fmt(prefix, sizeof(prefix), "%s/", dir) == 0)
			htab_walk(s->t->h, pick_one, &c);
		for (int i = 0; i < c.paths.n; i++)
			look_at(s, bay, dirfd, dir, dest, strrchr(c.paths.v[i], '/') + 1, ev);
		strv_free(&c.paths);
	} else
		look_at(s, bay, dirfd, dir, dest, name, ev);
	close(dirfd);
}

static void
scan_dest(struct drop_scan *s, const char *bay, int dropfd, const char *droot,
	  const char *dest)
{
	char dir[PATH_MAX];
	struct dirent *d;
	DIR *dp;
	int fd;

	if (path_fmt(dir, sizeof(dir), "%s/%s", droot, dest) < 0 ||
	    (fd = openat(dropfd, dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((d = readdir(dp)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			look_at(s, bay, fd, dir, dest, d->d_name, DROP_SEEN);
	closedir(dp);
}

void
drop_scan(struct drop_scan *s, const char *bay)
{
	char droot[PATH_MAX], prefix[PATH_MAX], path[PATH_MAX];
	char label[NAME_MAX + 8], rel[NAME_MAX + 8];
	struct pick x = { prefix, 0, 0, 0, {0} };
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int fd, fresh;

	if (path_fmt(droot, sizeof(droot), "%s/drop", bay) < 0 ||
	    path_fmt(prefix, sizeof(prefix), "%s/", droot) < 0 ||
	    (fd = open(droot, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	if (++s->t->gen == 0)
		s->t->gen++;	/* 0 means "any scan" to pick_one */
	x.not_gen = s->t->gen;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' ||
		    path_fmt(path, sizeof(path), "%s/%s", droot, d->d_name) < 0 ||
		    fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			scan_dest(s, bay, fd, droot, d->d_name);
			continue;
		}
		/* drop/ holds one real directory per destination, nothing else */
		rec_get(s->t, path, &st, &fresh)->snap = st;
		snprintf(label, sizeof(label), "drop.%s", d->d_name);
		snprintf(rel, sizeof(rel), "drop/%s", d->d_name);
		aside(s, bay, fd, path, d->d_name, label, rel, &st,
		      "drop/ holds one directory per destination (drop/DEST/FILE)");
	}
	closedir(dp);
	/* forget what this bay's drop tree no longer holds */
	htab_walk(s->t->h, pick_one, &x);
	for (int i = 0; i < x.paths.n; i++)
		drop_forget(s->t, x.paths.v[i]);
	strv_free(&x.paths);
}
