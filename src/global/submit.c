/*
 * submit.c - a file becomes queued orders (submit.h): checks, sealing
 * into the bay's tmp/, then per part data/ID before outgoing/ID; several
 * files of one call share the directory fsyncs (a submit batch).
 *
 * A request with `early` set tells a running daemon about a large file
 * while it is sealed (seal while sending, early_part): the sealer's file
 * is flocked until its order is committed or given up, and tmp/ID.early
 * says where it is and what order it becomes (queue/commit.h).
 *
 * Errors say what is wrong without the file name (callers prefix it);
 * nothing here exits or touches the network.
 */
#include "submit.h"
#include "../queue/commit.h"
#include "../queue/drop.h"
#include "../crypto/crypto.h"
#include "../queue/order.h"
#include "../packet/packet.h"
#include "../trust/trust.h"
#include "../util/log.h"
#include "../util/mailaddr.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Files sealed and not yet queued: their orders (with the sealed packets
 * in the bay's tmp/) wait here until submit_batch_flush queues them all
 * with bay_enqueue_all, under one round of directory fsyncs.
 */
struct sfile {
	char *path;			/* the source: removed once queued, unless keep */
	char *name, *sclass;
	char group[ORDER_ID_MAX];
	int first, n;			/* its parts: b->o[first .. first + n) */
	int keep;
};

struct submit_batch {
	const struct config *cf;
	const struct keys *me;
	submit_done_fn done;
	void *arg;
	const char *bay;		/* every staged order goes to this bay... */
	enum qstate st;			/* ...in this state */
	const char *ready;		/* the bay bay_init last made sure of */
	struct timespec first;		/* when the first staged order was sealed */
	struct order *o;
	char **tmp;			/* o[i]'s sealed packet, in bay/tmp/ */
	int n, cap;
	struct sfile *f;
	int nf, fcap;
	/* sealing while sending (early_part): the sealer's file, flocked
	 * until its order is committed or given up, and its notice */
	int early_fd;
	char early_id[ORDER_ID_MAX];
	const char *early_bay;
};

struct seal_ctx {
	const struct config *cf;
	const struct submit_req *r;
	const struct sclass *cls;
	const char *bay;
	const char *name;
	char *source;
	char group[ORDER_ID_MAX];
	time_t created, expires;
	struct submit_batch *b;
	int first;			/* this file's first order in b */
	int changed;			/* r->expect no longer holds */
};

static void order_fill(const struct seal_ctx *x, const struct pkt_info *pi, struct order *o);
static void early_end(struct submit_batch *b);

/* Where a new order goes: outgoing/, or deferred/ until the next poll. */
static enum qstate
queued_state(const struct submit_req *r)
{
	return r->until_poll ? Q_DEFERRED : Q_OUTGOING;
}

/* A drop: is r->fd still the file judged complete? */
static int
unchanged(const struct submit_req *r, const char *when)
{
	struct stat st;

	if (fstat(r->fd, &st) < 0 || !drop_same(r->expect, &st)) {
		err_set("changed %s (a drop must be complete: write it elsewhere and "
			"rename it in)", when);
		return -1;
	}
	return 0;
}

/* One sealed part: its order staged in the batch, queued at the flush. */
static int
queue_part(void *arg, const char *path, const struct pkt_info *pi)
{
	struct seal_ctx *x = arg;
	struct submit_batch *b = x->b;
	struct order *o;

	/* every part is sealed before the first is handed over: the whole
	 * file has been read, and nothing of it is staged yet */
	if (x->r->expect && b->n == x->first && unchanged(x->r, "while it was sealed") < 0) {
		x->changed = 1;
		unlink(path);
		return -1;
	}
	if (!order_id_valid(pi->id)) {
		err_set("sealed part has a bad id \"%.64s\"", pi->id);
		unlink(path);
		return -1;
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->o = xrealloc(b->o, (size_t)b->cap * sizeof(*b->o));
		b->tmp = xrealloc(b->tmp, (size_t)b->cap * sizeof(*b->tmp));
	}
	o = &b->o[b->n];
	order_fill(x, pi, o);
	b->tmp[b->n++] = xstrdup(path);
	return 0;
}

/* The order of a sealed part, as it is queued. */
static void
order_fill(const struct seal_ctx *x, const struct pkt_info *pi, struct order *o)
{
	order_init(o);
	o->size = pi->file_size;
	hex_encode(pi->digest, sizeof(pi->digest), o->digest);	/* the sealer's: no re-read */
	snprintf(o->id, sizeof(o->id), "%s", pi->id);
	o->group = xstrdup(x->group);
	o->part = pi->part;
	o->nparts = pi->nparts;
	o->origin = xstrdup(x->cf->node);
	o->sclass = xstrdup(x->cls->name);
	for (int i = 0; i < x->r->dests.n; i++)
		strv_add(&o->dests, x->r->dests.v[i]);
	strv_add(&o->hops, x->cf->node);
	o->created = x->created;
	o->expires = x->expires;
	o->name = xstrdup(x->name);
	o->source = xstrdup(x->source);
	o->keep_data = x->r->copy;
	o->submitter = x->r->submitter ? xstrdup(x->r->submitter) : NULL;
	o->notify = x->r->notify ? xstrdup(x->r->notify) : NULL;
	o->comment = x->r->comment ? xstrdup(x->r->comment) : NULL;
	if (x->r->until_poll)
		o->next_attempt = BAY_NEXT_POLL;
}

/* Give up the announcement of a file sealed while sent (early_part). */
static void
early_end(struct submit_batch *b)
{
	if (b->early_fd < 0)
		return;
	bay_early_withdraw(b->early_bay, b->early_id);
	close(b->early_fd);	/* the daemon's sender now finds the lock free */
	b->early_fd = -1;
}

/*
 * The sealer wrote the signed header of path first (packet.h,
 * pkt_extra.early): lock the file for as long as it may yet become an
 * order, then announce it. Any failure here only means the ordinary way.
 */
static int
early_part(void *arg, const char *path, const struct pkt_info *pi)
{
	struct seal_ctx *x = arg;
	struct submit_batch *b = x->b;
	const char *name = strrchr(path, '/');
	struct order o;
	char *text;
	int fd;

	if (b->early_fd >= 0 || name == NULL || !order_id_valid(pi->id))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	order_fill(x, pi, &o);
	if ((text = order_format(&o, NULL)) == NULL ||
	    bay_early_announce(x->bay, pi->id, name + 1, text) < 0) {
		msg_warnx("submit: %s: not sent while sealed: %s", pi->id, err_get());
		close(fd);
	} else {
		b->early_fd = fd;
		b->early_bay = x->bay;
		snprintf(b->early_id, sizeof(b->early_id), "%s", pi->id);
	}
	free(text);
	order_free(&o);
	return 0;
}

/* Forget the staged orders from `from` on (a file that failed sealing). */
static void
unstage(struct submit_batch *b, int from)
{
	early_end(b);	/* nothing of it is queued: the daemon's sender gives up */
	while (b->n > from) {
		b->n--;
		unlink(b->tmp[b->n]);
		free(b->tmp[b->n]);
		order_free(&b->o[b->n]);
	}
}

static int
check_file(const char *path, uint64_t *size)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		err_set("%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		err_set("not a regular file");
		close(fd);
		return -1;
	}
	close(fd);
	*size = (uint64_t)sb.st_size;
	return 0;
}

/* The permanent checks; fills what submit_file needs. */
static int
check(const struct config *cf, const struct submit_req *r, struct seal_ctx *x, uint64_t *size)
{
	const char *sclass = r->sclass ? r->sclass : DEFAULT_CLASS;
	const char *slash;

	if ((x->cls = config_class(cf, sclass)) == NULL) {
		err_set("unknown class \"%s\"", sclass);
		return -1;
	}
	if (r->notify && (slash = mailaddr_bad(r->notify)) != NULL) {
		err_set("bad notify address \"%.64s\": %s (want user or user@domain, see "
			"shipctl(1))", r->notify, slash);
		return -1;
	}
	if (r->comment && strlen(r->comment) > PKT_COMMENT_MAX) {
		err_set("comment longer than %d bytes", PKT_COMMENT_MAX);
		return -1;
	}
	if (r->expect)
		*size = (uint64_t)r->expect->st_size;
	else if (check_file(r->path, size) < 0)
		return -1;
	if (r->dests.n == 0) {
		err_set("no destination");
		return -1;
	}
	for (int i = 0; i < r->dests.n; i++) {
		if (!order_name_valid(r->dests.v[i])) {
			err_set("bad destination name \"%.64s\"", r->dests.v[i]);
			return -1;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(r->dests.v[i], r->dests.v[j]) == 0) {
				err_set("destination %s given twice", r->dests.v[i]);
				return -1;
			}
		if (config_next_hop(cf, r->dests.v[i]) == NULL) {
			err_set("no route and no peer for %s", r->dests.v[i]);
			return -1;
		}
		/* sealing needs every far destination's key (this node: ours):
		 * pinned, or from a certificate this node has seen */
		if (strcmp(r->dests.v[i], cf->node) != 0) {
			struct pubkey pk;

			if (trust_node_key(cf, NULL, r->dests.v[i], &pk) == TK_NONE)
				return -1;
		}
	}
	x->created = time(NULL);
	x->expires = r->expires ? r->expires
				: x->created + (time_t)x->cls->expiration_days * 86400;
	if (x->expires <= x->created) {
		err_set("expiry is not in the future");
		return -1;
	}
	slash = strrchr(r->path, '/');
	x->name = r->name ? r->name : slash ? slash + 1 : r->path;
	if (*x->name == 0) {
		err_set("empty file name");
		return -1;
	}
	if ((x->bay = bay_choose(x->cls)) == NULL) {
		err_set("class %s has no storage bay", x->cls->name);
		return -1;
	}
	return 0;
}

int
submit_check(const struct config *cf, const struct submit_req *r)
{
	struct seal_ctx x;
	uint64_t size;

	memset(&x, 0, sizeof(x));
	return check(cf, r, &x, &size);
}

/* Seconds since the batch's first staged order was sealed. */
static double
batch_age(const struct submit_batch *b)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - b->first.tv_sec) +
	       (double)(now.tv_nsec - b->first.tv_nsec) / 1e9;
}

static void
sfile_free(struct sfile *f)
{
	free(f->path);
	free(f->name);
	free(f->sclass);
}

struct submit_batch *
submit_batch_new(const struct config *cf, const struct keys *me, submit_done_fn done, void *arg)
{
	struct submit_batch *b = xcalloc(1, sizeof(*b));

	b->cf = cf;
	b->me = me;
	b->done = done;
	b->arg = arg;
	b->early_fd = -1;
	return b;
}

/*
 * Queue every staged order (bay_enqueue_all: two directory fsyncs for
 * all), then tell done about each file, in the order they were added:
 * queued (every part), or not (its parts that were queued are removed
 * again, unless a daemon already claimed one, which is logged).
 */
int
submit_batch_flush(struct submit_batch *b)
{
	const struct order **op;
	char *ok, why[1024] = "";
	int rc = 0;

	if (b->n == 0)
		return 0;
	op = xcalloc((size_t)b->n, sizeof(*op));
	ok = xcalloc((size_t)b->n, 1);
	for (int i = 0; i < b->n; i++)
		op[i] = &b->o[i];
	if (bay_enqueue_all(b->bay, op, (const char *const *)b->tmp, b->n, b->st, ok) < 0)
		snprintf(why, sizeof(why), "%s", err_get());
	early_end(b);		/* committed (its sender sends the rest), or given up */
	for (int k = 0; k < b->nf; k++) {
		struct sfile *f = &b->f[k];
		struct strv ids = {0};
		int all = 1;

		for (int i = f->first; i < f->first + f->n; i++)
			all &= ok[i];
		if (!all) {
			for (int i = f->first; i < f->first + f->n; i++)
				if (ok[i] && bay_remove(b->bay, b->o[i].id, b->st) < 0)
					msg_warnx("submit: part %s was already claimed for sending; "
						  "its siblings failed: %s", b->o[i].id, why);
			rc = -1;
			b->done(b->arg, f->path, NULL, why, 1);
			continue;
		}
		for (int i = f->first; i < f->first + f->n; i++)
			strv_add(&ids, b->o[i].id);
		if (!f->keep && unlink(f->path) < 0)
			msg_warn("submit: queued as %s but cannot remove %s", f->group, f->path);
		msg_info("submit: %s: queued %d part%s of %s to %s in %s", f->name, f->n,
			 f->n == 1 ? "" : "s", f->group, f->sclass, b->bay);
		b->done(b->arg, f->path, &ids, NULL, 0);
		strv_free(&ids);
	}
	for (int i = 0; i < b->n; i++) {
		free(b->tmp[i]);	/* renamed away, or removed by bay_enqueue_all */
		order_free(&b->o[i]);
	}
	for (int k = 0; k < b->nf; k++)
		sfile_free(&b->f[k]);
	b->n = b->nf = 0;
	free(op);
	free(ok);
	return rc;
}

void
submit_batch_free(struct submit_batch *b)
{
	if (b == NULL)
		return;
	unstage(b, 0);		/* never flushed: nothing of it queued */
	for (int k = 0; k < b->nf; k++)
		sfile_free(&b->f[k]);
	free(b->o);
	free(b->tmp);
	free(b->f);
	free(b);
}

int
submit_batch_add(struct submit_batch *b, const struct submit_req *r)
{
	const struct config *cf = b->cf;
	struct seal_ctx x;
	char real[PATH_MAX], fdpath[64], tmpdir[PATH_MAX];
	const char *src = r->path;
	uint64_t size;
	int rc, tempfail = 0;

	memset(&x, 0, sizeof(x));
	x.cf = cf;
	x.r = r;
	x.b = b;
	if (r->expect) {
		/* sealed from the descriptor judged complete, never by its name
		 * again (which may have become a link meanwhile) */
		if (unchanged(r, "since it was judged complete") < 0) {
			tempfail = SUBMIT_CHANGED;
			goto fail;
		}
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", r->fd);
		src = fdpath;	/* for messages: the descriptor itself is read */
	}
	if (check(cf, r, &x, &size) < 0)
		goto fail;
	tempfail = 1;
	/*
	 * A staged packet waits in tmp/ (then data/) with the mtime it was
	 * sealed at, and the daemon's sweep removes what no order names once
	 * BAY_ORPHAN_AGE old: a batch never holds one for long. A large file
	 * (long to seal) is queued alone, as soon as it is sealed.
	 */
	if (b->n > 0 && (strcmp(b->bay, x.bay) != 0 || b->st != queued_state(r) ||
			 b->n >= SUBMIT_BATCH_ORDERS || size > SUBMIT_BATCH_FILE_MAX ||
			 batch_age(b) >= SUBMIT_BATCH_SECONDS) && submit_batch_flush(b) < 0)
		return -1;	/* done was told */
	/* its directories made sure of once per process (bay_ready) */
	if ((b->ready != x.bay && bay_ready(x.bay) < 0) || bay_space_ok(cf, x.bay, size) < 0 ||
	    bay_path(tmpdir, sizeof(tmpdir), x.bay, Q_TMP, NULL) < 0)
		goto fail;
	b->bay = b->ready = x.bay;	/* the class's, from config: lives as long as cf */
	b->st = queued_state(r);
	if (b->n == 0)
		clock_gettime(CLOCK_MONOTONIC, &b->first);
	x.first = b->n;
	/* a control packet's source (a receipt's, a flood's) is the daemon's
	 * own temporary in the bay: recorded as named, not resolved with a
	 * readlink per component for every receipt */
	x.source = xstrdup(r->kind == NULL && realpath(r->path, real) ? real : r->path);
	order_new_id(x.group, sizeof(x.group), cf->node);
	{
		/* notify is signed into the clear header, the comment sealed
		 * inside: no relay can change the one or read the other */
		struct pkt_extra extra = { r->notify, r->comment, r->kind, r->expect != NULL, r->fd,
					   r->early && !r->until_poll ? early_part : NULL };

		rc = packet_seal_extra(cf, b->me, cf->node, src, x.name, &r->dests, x.cls->name,
				       x.group, x.created, x.expires, cf->max_data_size, tmpdir,
				       &extra, queue_part, &x);
	}
	if (rc == 0 && b->n == x.first) {
		err_set("sealing produced no packet");
		rc = -1;
	}
	free(x.source);
	if (rc < 0) {
		/* everything permanent was checked above: what is left is I/O
		 * (disk full while sealing, a failed rename or write) */
		tempfail = x.changed ? SUBMIT_CHANGED : 1;
		unstage(b, x.first);
		goto fail;
	}
	if (b->nf == b->fcap) {
		b->fcap = b->fcap ? 2 * b->fcap : 16;
		b->f = xrealloc(b->f, (size_t)b->fcap * sizeof(*b->f));
	}
	b->f[b->nf].path = xstrdup(r->path);
	b->f[b->nf].name = xstrdup(x.name);
	b->f[b->nf].sclass = xstrdup(x.cls->name);
	snprintf(b->f[b->nf].group, sizeof(b->f[b->nf].group), "%s", x.group);
	b->f[b->nf].first = x.first;
	b->f[b->nf].n = b->n - x.first;
	b->f[b->nf].keep = r->copy || r->expect;	/* a drop is removed by its caller */
	b->nf++;
	if (size > SUBMIT_BATCH_FILE_MAX)
		return submit_batch_flush(b);
	return 0;
fail:
	{
		char why[1024];

		snprintf(why, sizeof(why), "%s", err_get());
		submit_batch_flush(b);	/* what was staged before this file is reported first */
		b->done(b->arg, r->path, NULL, why, tempfail);
	}
	return -1;
}

/* submit_file: a batch of one */
struct one {
	struct strv *ids;
	char why[1024];
	int failed, tempfail;
};

static void
one_done(void *arg, const char *path, const struct strv *ids, const char *err, int tempfail)
{
	struct one *w = arg;

	if (err) {
		snprintf(w->why, sizeof(w->why), "%s", err);
		w->failed = 1;
		w->tempfail = tempfail;
		return;
	}
	for (int i = 0; i < ids->n; i++)
		strv_add(w->ids, ids->v[i]);
}

int
submit_file(const struct config *cf, const struct keys *me, const struct submit_req *r,
	    struct strv *ids_out, int *tempfail)
{
	struct one w = { .ids = ids_out };
	struct submit_batch *b = submit_batch_new(cf, me, one_done, &w);

	if (submit_batch_add(b, r) == 0)
		submit_batch_flush(b);
	submit_batch_free(b);
	*tempfail = w.tempfail;
	if (w.failed) {
		err_set("%s", w.why);
		return -1;
	}
	return 0;
}
