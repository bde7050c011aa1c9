/*
 * trust_rev.c - revocation lists held in TRUST-DIR/revoked/AUTHID: check,
 * apply (newest wins, under the trust lock), list, and the question every
 * check asks: does a held list revoke this certificate or key?
 *
 * A held list is read again only when its file changed (cached on cf by
 * trust_attach), and revoked/ is listed again only when the directory
 * changed: a check costs one stat of revoked/ and one per held list. A
 * list added, replaced, rewritten or removed while shipd runs counts from
 * the next check after the change. A held list that no longer parses or verifies fails
 * closed: every certificate of its authority is refused, with a line
 * saying why, until a good list replaces it. Never touches a bay or the
 * network.
 */
#include "trust_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct held {
	char id[AUTH_ID_HEX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int bad;			/* damaged or no longer trusted: why says */
	int seen;			/* its file is still there */
	char why[PATH_MAX + 512];
	struct revlist rl;
	char *text;
	size_t len;
};

struct trust {
	struct held *v;
	int n;
	/* revoked/ as it was when last listed: while it stays so, no name
	 * came or went (an absent directory: absent) */
	int listed, absent;
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
};

/*
 * A directory time within the file system's granularity (whole seconds
 * on some, two on FAT) of the listing may be shared by a change made just
 * after it: such a listing is not trusted, the next check lists again.
 * ctime, because a change always sets it to the current time.
 */
#define REV_SETTLE	2

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static int
held_same(const struct held *h, const struct stat *st)
{
	return h->dev == st->st_dev && h->ino == st->st_ino && h->size == st->st_size &&
	       same_time(&h->mtime, &st->st_mtim);
}

static void
held_free(struct held *h)
{
	revlist_free(&h->rl);
	free(h->text);
	memset(h, 0, sizeof(*h));
}

static void
cache_free(struct trust *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < t->n; i++)
		held_free(&t->v[i]);
	free(t->v);
	free(t);
}

void
trust_attach(struct config *cf)
{
	if (cf->trust && cf->trust_free)
		cf->trust_free(cf->trust);
	cf->trust = xcalloc(1, sizeof(*cf->trust));
	cf->trust_free = cache_free;
}

int
trust_revlist_check(const struct config *cf, const char *text, size_t len, struct revlist *out)
{
	const struct authority *a;
	char hex[AUTH_ID_HEX];

	if (revlist_parse(text, len, out) < 0)
		return -1;
	if ((a = config_authority(cf, out->authority)) == NULL) {
		cert_id_hex(out->authority, hex);
		err_set("revocation list serial %" PRIu64 " of authority %s: not an AUTHORITY "
			"trusted here", out->serial, hex);
		revlist_free(out);
		return -1;
	}
	if (revlist_verify(out, text, a->key.sign) < 0) {
		revlist_free(out);
		return -1;
	}
	return 0;
}

/* Load (or reuse) the held list in file id; h is a cache slot. */
static void
held_load(const struct config *cf, const char *path, const char *id, const struct stat *st,
	  struct held *h)
{
	held_free(h);
	snprintf(h->id, sizeof(h->id), "%.16s", id);
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->size = st->st_size;
	h->mtime = st->st_mtim;
	if ((h->text = read_file(path, REV_MAX_SIZE, &h->len)) == NULL ||
	    trust_revlist_check(cf, h->text, h->len, &h->rl) < 0) {
		h->bad = 1;
		snprintf(h->why, sizeof(h->why), "revocation list %s is damaged (%s)", path,
			 err_get());
		revlist_init(&h->rl);
		return;
	}
	{
		char hex[AUTH_ID_HEX];

		cert_id_hex(h->rl.authority, hex);
		if (strcmp(hex, id) != 0) {
			h->bad = 1;
			snprintf(h->why, sizeof(h->why), "revocation list %s holds the list of "
				 "authority %s", path, hex);
		}
	}
}

/*
 * Is the cache as revoked/ is now (dst: its stat, or NULL when it cannot
 * be looked at)? Same directory, same times, and every held list's file
 * unchanged (an administrator may rewrite one in place).
 */
static int
unchanged(const struct trust *t, const char *dir, const struct stat *dst, int gone)
{
	char path[PATH_MAX];
	struct stat st;

	if (!t->listed)
		return 0;
	if (gone || t->absent)
		return gone && t->absent;
	if (dst == NULL || t->dev != dst->st_dev || t->ino != dst->st_ino ||
	    !same_time(&t->mtime, &dst->st_mtim) || !same_time(&t->ctime, &dst->st_ctim))
		return 0;
	for (int i = 0; i < t->n; i++)
		if (t->v[i].id[0] &&
		    (path_fmt(path, sizeof(path), "%s/%s", dir, t->v[i].id) < 0 ||
		     stat(path, &st) < 0 || !held_same(&t->v[i], &st)))
			return 0;
	return 1;
}

/* The held lists, fresh from TRUST-DIR/revoked (t: the cache to refresh). */
static void
refresh(const struct config *cf, struct trust *t)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct stat dst;
	struct timespec now;
	DIR *d = NULL;
	int named, looked, listed, gone = 0;

	named = cf->trust_dir && path_fmt(dir, sizeof(dir), "%s/revoked", cf->trust_dir) == 0;
	/* looked before it is listed: a change during the listing shows next time */
	looked = named && stat(dir, &dst) == 0;
	if (named && !looked)
		gone = errno == ENOENT;
	if (named && unchanged(t, dir, looked ? &dst : NULL, gone))
		return;
	t->listed = 0;
	for (int i = 0; i < t->n; i++)
		t->v[i].seen = 0;
	if (named)
		d = opendir(dir);
	listed = d != NULL;
	while (d && (de = readdir(d)) != NULL) {
		uint8_t id[AUTH_ID_LEN];
		struct stat st;
		struct held *h = NULL;

		if (strlen(de->d_name) != AUTH_ID_HEX - 1 || hex_decode(de->d_name, id, AUTH_ID_LEN) < 0 ||
		    path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) < 0 ||
		    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		for (int k = 0; k < t->n && h == NULL; k++)
			if (strcmp(t->v[k].id, de->d_name) == 0)
				h = &t->v[k];
		if (h == NULL) {
			t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
			h = &t->v[t->n++];
			memset(h, 0, sizeof(*h));
		} else if (held_same(h, &st)) {
			h->seen = 1;
			continue;
		}
		held_load(cf, path, de->d_name, &st, h);
		h->seen = 1;
	}
	if (d)
		closedir(d);
	/* lists whose file went away (only an administrator does that) */
	for (int i = 0; i < t->n; i++)
		if (!t->v[i].seen)
			held_free(&t->v[i]);
	/* kept for the next check: an absent directory, or one listed whole
	 * and settled (REV_SETTLE) */
	clock_gettime(CLOCK_REALTIME, &now);
	if (gone) {
		t->listed = t->absent = 1;
	} else if (looked && listed && now.tv_sec >= dst.st_ctim.tv_sec + REV_SETTLE) {
		t->listed = 1;
		t->absent = 0;
		t->dev = dst.st_dev;
		t->ino = dst.st_ino;
		t->mtime = dst.st_mtim;
		t->ctime = dst.st_ctim;
	}
}

/* The cache to use: cf's, or a fresh one the caller frees (*tmp). */
static struct trust *
lists(const struct config *cf, struct trust **tmp)
{
	struct trust *t = cf->trust;

	*tmp = NULL;
	if (t == NULL)
		t = *tmp = xcalloc(1, sizeof(*t));
	refresh(cf, t);
	return t;
}

int
trust_revoked(const struct config *cf, const struct cert *c, const uint8_t *sign)
{
	struct trust *tmp, *t = lists(cf, &tmp);
	const struct rev_entry *e = NULL;
	char what[160], desc[200];
	int rc = 0;

	for (int i = 0; i < t->n && rc == 0; i++) {
		const struct held *h = &t->v[i];
		char hex[AUTH_ID_HEX];

		if (h->id[0] == 0)
			continue;
		if (h->bad) {
			/* fail closed for that authority's certificates */
			if (c) {
				cert_id_hex(c->authority, hex);
				if (strcmp(hex, h->id) == 0) {
					trust_cert_str(c, what, sizeof(what));
					err_set("%s refused: %s; install a good list (shipctl "
						"authority install)", what, h->why);
					rc = -1;
				}
			}
			continue;
		}
		e = c ? revlist_match(&h->rl, c) : revlist_match_key(&h->rl, sign);
		if (e) {
			rev_entry_str(e, desc, sizeof(desc));
			if (c) {
				trust_cert_str(c, what, sizeof(what));
				err_set("%s is revoked (revocation list serial %" PRIu64 " of "
					"authority %s: %s)", what, h->rl.serial, h->id, desc);
			} else
				err_set("its key is revoked (revocation list serial %" PRIu64
					" of authority %s: %s)", h->rl.serial, h->id, desc);
			rc = -1;
		}
	}
	cache_free(tmp);
	return rc;
}

int
trust_revlist_newer(const struct config *cf, const struct revlist *rl, uint64_t *have)
{
	struct trust *tmp, *t = lists(cf, &tmp);
	char hex[AUTH_ID_HEX];
	int newer = 1;

	*have = 0;
	cert_id_hex(rl->authority, hex);
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->v[i].id, hex) == 0 && !t->v[i].bad) {
			*have = t->v[i].rl.serial;
			newer = rl->serial > t->v[i].rl.serial;
		}
	cache_free(tmp);
	return newer;
}

int
trust_revlist_apply(const struct config *cf, const struct revlist *rl, const char *text,
		    size_t len, uint64_t *have)
{
	char dir[PATH_MAX], hex[AUTH_ID_HEX];
	int lock, rc = -1;

	if ((lock = trust_lock(cf)) < 0)
		return -1;
	if (!trust_revlist_newer(cf, rl, have)) {
		rc = 0;
		goto out;
	}
	cert_id_hex(rl->authority, hex);
	if (path_fmt(dir, sizeof(dir), "%s/revoked", cf->trust_dir) < 0 || mkdirs(dir, 0700) < 0 ||
	    safe_write(dir, hex, text, len, 0600) < 0) {
		char e[512];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("cannot store revocation list in %s: %s", dir, e);
		goto out;
	}
	rc = 1;
out:
	close(lock);
	return rc;
}

int
trust_revlists(const struct config *cf, trust_rev_fn fn, void *arg)
{
	struct trust *tmp, *t = lists(cf, &tmp);
	int rc = 0;

	for (int i = 0; i < t->n && rc == 0; i++)
		if (t->v[i].id[0] && !t->v[i].bad)
			rc = fn(arg, t->v[i].text, t->v[i].len);
	cache_free(tmp);
	return rc;
}
