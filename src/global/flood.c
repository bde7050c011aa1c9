/*
 * flood.c - queueing control packets for the neighbours (flood.h). A
 * packet's body is written once to the -default class's bay tmp/ and
 * sealed for each neighbour through submit_file, the one path every
 * order takes. Never opens a connection; never exits.
 */
#include "flood.h"
#include "submit.h"
#include "../queue/bay.h"
#include "../trust/trust.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
add_target(const struct config *cf, const char *name, const char *except, struct strv *out)
{
	const struct peer *p;

	if ((cf->node && strcmp(name, cf->node) == 0) || (except && strcmp(name, except) == 0) ||
	    strv_has(out, name))
		return;
	if ((p = config_peer(cf, name)) != NULL && p->host)
		strv_add(out, name);
}

struct learned_ctx {
	const struct config *cf;
	const char *except;
	struct strv *out;
};

static int
learned_target(void *arg, const struct cert *c)
{
	struct learned_ctx *x = arg;

	add_target(x->cf, c->name, x->except, x->out);
	return 0;
}

void
flood_targets(const struct config *cf, const char *except, struct strv *out)
{
	struct learned_ctx x = {cf, except, out};
	int patterns = 0;

	for (int i = 0; i < cf->npeers; i++) {
		if (cf->peers[i].pattern)
			patterns = 1;
		else if (cf->peers[i].host)
			add_target(cf, cf->peers[i].name, except, out);
	}
	if (patterns)
		trust_learned(cf, learned_target, &x);
}

void
flood_drop_revoked(const struct config *cf, const struct revlist *rl, struct strv *to)
{
	struct strv keep = {0};

	for (int i = 0; i < to->n; i++) {
		const struct peer *p = config_peer(cf, to->v[i]);
		struct cert c;

		if ((p && p->has_key && revlist_match_key(rl, p->key.sign)) ||
		    (trust_node_cert(cf, to->v[i], &c) == 0 && revlist_match(rl, &c)))
			msg_info("revocation list serial %" PRIu64 " not sent to %s: it revokes %s",
				 rl->serial, to->v[i], to->v[i]);
		else
			strv_add(&keep, to->v[i]);
	}
	strv_free(to);
	*to = keep;
}

int
flood_body(const struct config *cf, const void *data, size_t len, char *tmp, size_t size)
{
	const struct sclass *cls = config_class(cf, DEFAULT_CLASS);
	const char *bay = cls ? bay_choose(cls) : NULL;
	char tmpdir[PATH_MAX];
	int fd;

	if (bay == NULL) {
		err_set("no bay for class %s", DEFAULT_CLASS);
		return -1;
	}
	if (bay_ready(bay) < 0 || bay_path(tmpdir, sizeof(tmpdir), bay, Q_TMP, NULL) < 0 ||
	    (fd = safe_create(tmpdir, tmp, size, 0600)) < 0)
		return -1;
	/* input to the sealer only, never fsynced: what is durable is the
	 * sealed packet once queued; a crash before that leaves only this
	 * temporary, which nothing reads back and the sweep removes */
	if (write_all(fd, data, len) < 0) {
		err_set("writing %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return 0;
}

int
flood_queue(const struct config *cf, const struct keys *me, const char *kind,
	    const char *name, const void *data, size_t len, const struct strv *to)
{
	char tmp[PATH_MAX];
	int queued = 0;

	if (to->n == 0)
		return 0;
	if (flood_body(cf, data, len, tmp, sizeof(tmp)) < 0) {
		msg_warnx("%s packet for %d neighbour%s not queued: %s", kind, to->n,
			  to->n == 1 ? "" : "s", err_get());
		return 0;
	}
	for (int i = 0; i < to->n; i++) {
		struct submit_req r = {0};
		struct strv ids = {0};
		struct pubkey pk;
		int tempfail;

		if (trust_node_key(cf, me, to->v[i], &pk) == TK_NONE) {
			msg_info("%s packet not queued for %s: %s (it gets the news when it next "
				 "connects)", kind, to->v[i], err_get());
			continue;
		}
		r.path = tmp;
		r.name = name;
		r.copy = 1;
		r.kind = kind;
		strv_add(&r.dests, to->v[i]);
		if (submit_file(cf, me, &r, &ids, &tempfail) < 0)
			msg_warnx("%s packet for %s not queued: %s", kind, to->v[i], err_get());
		else {
			msg_info("%s packet %s queued for %s", kind, ids.n ? ids.v[0] : "?", to->v[i]);
			queued++;
		}
		strv_free(&ids);
		strv_free(&r.dests);
	}
	unlink(tmp);
	return queued;
}

void
flood_cert_line(const struct cert *c, struct sbuf *out)
{
	char tok[CERT_TOKEN_MAX];

	cert_token(c, tok);
	sbuf_printf(out, "%s\n", tok);
}

static int
add_cert(void *arg, const struct cert *c)
{
	flood_cert_line(c, arg);
	return 0;
}

struct rev_ctx {
	const struct config *cf;
	const struct keys *me;
	struct strv *to;
	int queued;
};

static int
send_list(void *arg, const char *text, size_t len)
{
	struct rev_ctx *x = arg;

	x->queued += flood_queue(x->cf, x->me, FLOOD_REVOCATION, "revocation-list", text, len,
				 x->to);
	return 0;
}

int
flood_directory(const struct config *cf, const struct keys *me, const char *to)
{
	struct strv dest = {0};
	struct sbuf body;
	struct rev_ctx x = {cf, me, &dest, 0};

	strv_add(&dest, to);
	sbuf_init(&body);
	if (me->cert) {
		struct cert c;

		if (cert_decode(me->cert, me->certlen, &c) == 0)
			flood_cert_line(&c, &body);
	}
	trust_learned(cf, add_cert, &body);
	if (body.len)
		x.queued += flood_queue(cf, me, FLOOD_CERTS, "certificates", body.s, body.len, &dest);
	trust_revlists(cf, send_list, &x);
	sbuf_free(&body);
	strv_free(&dest);
	return x.queued;
}
