/*
 * submit.c - a file becomes queued orders (submit.h): checks, sealing
 * into the bay's tmp/, then per part data/ID before outgoing/ID.
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
#include <sys/stat.h>
#include <unistd.h>

struct seal_ctx {
	const struct config *cf;
	const struct submit_req *r;
	const struct sclass *cls;
	const char *bay;
	const char *name;
	char *source;
	char group[ORDER_ID_MAX];
	time_t created, expires;
	struct strv queued;		/* parts whose order is in outgoing/ */
	int changed;			/* r->expect no longer holds */
};

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

/* One sealed part: its data and order into the bay (bay_enqueue). */
static int
queue_part(void *arg, const char *path, const struct pkt_info *pi)
{
	struct seal_ctx *x = arg;
	struct order o;
	int rc;

	/* every part is sealed before the first is handed over: the whole
	 * file has been read, and nothing is queued yet */
	if (x->r->expect && x->queued.n == 0 && unchanged(x->r, "while it was sealed") < 0) {
		x->changed = 1;
		unlink(path);
		return -1;
	}
	if (!order_id_valid(pi->id)) {
		err_set("sealed part has a bad id \"%.64s\"", pi->id);
		unlink(path);
		return -1;
	}
	order_init(&o);
	o.size = pi->file_size;
	hex_encode(pi->digest, sizeof(pi->digest), o.digest);	/* the sealer's: no re-read */
	snprintf(o.id, sizeof(o.id), "%s", pi->id);
	o.group = xstrdup(x->group);
	o.part = pi->part;
	o.nparts = pi->nparts;
	o.origin = xstrdup(x->cf->node);
	o.sclass = xstrdup(x->cls->name);
	for (int i = 0; i < x->r->dests.n; i++)
		strv_add(&o.dests, x->r->dests.v[i]);
	strv_add(&o.hops, x->cf->node);
	o.created = x->created;
	o.expires = x->expires;
	o.name = xstrdup(x->name);
	o.source = xstrdup(x->source);
	o.keep_data = x->r->copy;
	o.submitter = x->r->submitter ? xstrdup(x->r->submitter) : NULL;
	o.notify = x->r->notify ? xstrdup(x->r->notify) : NULL;
	o.comment = x->r->comment ? xstrdup(x->r->comment) : NULL;
	if (x->r->until_poll)
		o.next_attempt = BAY_NEXT_POLL;
	rc = bay_enqueue(x->bay, &o, queued_state(x->r), path);
	order_free(&o);
	if (rc < 0)
		return -1;
	strv_add(&x->queued, pi->id);
	return 0;
}

/* Undo the parts already queued, unless a daemon already claimed them. */
static void
rollback(struct seal_ctx *x)
{
	char why[1024];

	snprintf(why, sizeof(why), "%s", err_get());
	for (int i = 0; i < x->queued.n; i++)
		if (bay_remove(x->bay, x->queued.v[i], queued_state(x->r)) < 0)
			msg_warnx("submit: part %s was already claimed for sending; "
				  "its siblings failed: %s", x->queued.v[i], why);
	err_set("%s", why);
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

int
submit_file(const struct config *cf, const struct keys *me, const struct submit_req *r,
	    struct strv *ids_out, int *tempfail)
{
	struct seal_ctx x;
	char real[PATH_MAX], fdpath[64];
	const char *src = r->path;
	uint64_t size;
	int rc;

	*tempfail = 0;
	memset(&x, 0, sizeof(x));
	x.cf = cf;
	x.r = r;
	if (r->expect) {
		/* sealed from the descriptor judged complete, never by its name
		 * again (which may have become a link meanwhile) */
		if (unchanged(r, "since it was judged complete") < 0) {
			*tempfail = SUBMIT_CHANGED;
			return -1;
		}
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", r->fd);
		src = fdpath;	/* for messages: the descriptor itself is read */
	}
	if (check(cf, r, &x, &size) < 0)
		return -1;
	*tempfail = 1;
	if (bay_init(x.bay) < 0 || bay_space_ok(cf, x.bay, size) < 0)
		return -1;
	x.source = xstrdup(realpath(r->path, real) ? real : r->path);
	order_new_id(x.group, sizeof(x.group), cf->node);
	{
		char tmpdir[PATH_MAX];

		if (bay_path(tmpdir, sizeof(tmpdir), x.bay, Q_TMP, NULL) < 0)
			rc = -1;
		else {
			/* notify is signed into the clear header, the comment sealed
			 * inside: no relay can change the one or read the other */
			struct pkt_extra extra = { r->notify, r->comment, r->kind,
						   r->expect != NULL, r->fd };

			rc = packet_seal_extra(cf, me, cf->node, src, x.name, &r->dests,
					       x.cls->name, x.group, x.created, x.expires,
					       cf->max_data_size, tmpdir, &extra, queue_part, &x);
		}
	}
	if (rc == 0 && x.queued.n == 0) {
		err_set("sealing produced no packet");
		rc = -1;
	}
	if (rc < 0) {
		/* everything permanent was checked above: what is left is I/O
		 * (disk full while sealing, a failed rename or write) */
		*tempfail = x.changed ? SUBMIT_CHANGED : 1;
		rollback(&x);
		strv_free(&x.queued);
		free(x.source);
		return -1;
	}
	*tempfail = 0;
	for (int i = 0; i < x.queued.n; i++)
		strv_add(ids_out, x.queued.v[i]);
	if (!r->copy && !r->expect && unlink(r->path) < 0)
		msg_warn("submit: queued as %s but cannot remove %s", x.group, r->path);
	msg_info("submit: %s: queued %d part%s of %s to %s in %s", x.name, x.queued.n,
		 x.queued.n == 1 ? "" : "s", x.group, x.cls->name, x.bay);
	strv_free(&x.queued);
	free(x.source);
	return 0;
}
