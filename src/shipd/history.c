/*
 * history.c - the daemon's side of the history and of delivery receipts:
 *
 *   history_end        an order ended here: its done/ record says when,
 *                      with which result, and to which next hop each
 *                      destination went (queue/history.h)
 *   history_delivered  an order was delivered here: this node's record
 *                      gets its receipt line, and the origin, when it is
 *                      another node, gets a signed receipt packet through
 *                      the routes (global/confirm.h)
 *   history_returned   a return journey (ID.ret) came home: ID's record
 *                      says it was returned, and why
 *   history_receipt    at the origin: a receipt packet, opened; refused
 *                      unless its signer is the destination it speaks
 *                      for and that node was a destination of the order
 *
 * Only data packets have a history and are confirmed: never a receipt
 * for a receipt or for any control packet. A failure to record or to
 * send is logged and never undoes a delivery.
 */
#include "shipd.h"
#include "../global/confirm.h"
#include "../packet/packet.h"
#include "../queue/history.h"
#include "../util/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
history_kind(const char *bay, const char *id, char *kind, size_t size)
{
	char path[PATH_MAX];
	struct pkt_info pi;

	if (bay_data_path(path, sizeof(path), bay, id) < 0 || packet_file_header(path, &pi) < 0)
		return -1;
	snprintf(kind, size, "%s", pi.kind);
	pkt_info_free(&pi);
	return 0;
}

int
history_is_data(const char *bay, const char *id)
{
	char kind[PKT_KIND_MAX + 1];

	return history_kind(bay, id, kind, sizeof(kind)) == 0 && strcmp(kind, PKT_KIND_DATA) == 0;
}

void
history_end(const char *bay, const struct order *o, const char *result, const char *why)
{
	history_end_group(bay, o, result, why, NULL);
}

void
history_end_group(const char *bay, const struct order *o, const char *result, const char *why,
		  struct bay_group *g)
{
	if (hist_end(S->cf, bay, o, result, why, g) < 0)
		msg_warnx("order %s: history not recorded: %s", o->id, err_get());
}

static int
note_returned(void *arg, struct history *h, int exists)
{
	const struct order *o = arg;

	if (!exists)
		return 1;	/* ended before its history began, or purged */
	h->ended = time(NULL);
	free(h->result);
	free(h->why);
	h->result = xstrdup("returned");
	h->why = o->return_reason ? xstrdup(o->return_reason) : NULL;
	return 0;
}

void
history_returned(const struct order *o)
{
	char id[ORDER_ID_MAX], bay[PATH_MAX];
	size_t n = strlen(o->id);

	/* the return journey ID.ret: the history is the original ID's */
	if (n <= 4 || strcmp(o->id + n - 4, ".ret") != 0 ||
	    snprintf(id, sizeof(id), "%.*s", (int)(n - 4), o->id) >= (int)sizeof(id) ||
	    hist_locate(S->cf, id, bay, sizeof(bay)) < 0)
		return;
	if (hist_update(bay, id, note_returned, (void *)o) < 0)
		msg_warnx("order %s: history not recorded: %s", id, err_get());
}

struct noting {
	const struct order *o;		/* NULL: the record must exist already */
	const struct confirm *c;
	int added;
};

static int
note_receipt(void *arg, struct history *h, int exists)
{
	struct noting *n = arg;

	if (n->o)
		hist_from_order(h, n->o, S->cf->node);
	else if (!exists)
		return 1;
	else if (h->origin == NULL || strcmp(h->origin, S->cf->node) != 0 ||
		 hist_to_of(h, n->c->dest) == NULL) {
		err_set("%s was not a destination of order %s from here", n->c->dest, h->id);
		return -1;
	}
	n->added += hist_add_receipt(h, n->c->dest, n->c->delivered, n->c->route,
				     n->c->name[0] ? n->c->name : NULL);
	return 0;
}

void
history_delivered(const char *bay, const struct order *o, const char *name)
{
	struct strv ids = {0};
	struct confirm c;
	char id[ORDER_ID_MAX];

	confirm_of(&c, o, S->cf->node, time(NULL), name);
	hist_ids(o->id, &ids);
	for (int i = 0; i < ids.n; i++) {
		struct noting n = {o, &c, 0};

		if (hist_update(bay, ids.v[i], note_receipt, &n) < 0)
			msg_warnx("order %s: history not recorded: %s", ids.v[i], err_get());
	}
	strv_free(&ids);
	if (strcmp(o->origin, S->cf->node) == 0)
		return;		/* its origin is here: the record above is its receipt */
	if (confirm_send(S->cf, S->keys, &c, id, sizeof(id)) < 0)
		msg_warnx("order %s: delivery receipt for %s dropped: %s", o->id, o->origin,
			  err_get());
	else
		msg_info("order %s: delivery receipt %s queued for %s", o->id, id, o->origin);
}

/* A receipt for an order still queued here (it came back before the
 * order's own end was recorded): checked against the order itself. */
static int
receipt_live(const struct confirm *c, const char *id, int *found)
{
	char bay[PATH_MAX];
	enum qstate st;
	struct order o;
	int rc = 0;

	if (bay_locate(S->cf, id, bay, sizeof(bay), &st) < 0 || bay_load(bay, id, st, &o) < 0)
		return 0;
	*found = 1;
	if (strcmp(o.origin, S->cf->node) != 0 ||
	    (!strv_has(&o.dests, c->dest) && !strv_has(&o.delivered, c->dest))) {
		err_set("%s was not a destination of order %s from here", c->dest, id);
		rc = -1;
	} else {
		struct noting n = {&o, c, 0};

		if (hist_update(bay, id, note_receipt, &n) < 0)
			rc = -1;
	}
	order_free(&o);
	return rc;
}

int
history_receipt(const struct order *o, const char *signer, const char *text, size_t len)
{
	struct strv ids = {0};
	struct confirm c;
	char bay[PATH_MAX];
	int found = 0, rc = 0, added = 0;

	if (confirm_parse(text, len, &c) < 0)
		goto refuse;
	/* the signature is the destination's: a relay cannot speak for another node */
	if (strcmp(c.dest, signer) != 0) {
		err_set("forged receipt: signed by %s, but says %s delivered %s", signer, c.dest,
			c.order);
		goto refuse;
	}
	if (strcmp(c.origin, S->cf->node) != 0) {
		err_set("receipt for origin %s, not for this node", c.origin);
		goto refuse;
	}
	hist_ids(c.order, &ids);
	for (int i = 0; i < ids.n && rc == 0; i++) {
		struct noting n = {NULL, &c, 0};

		if (hist_locate(S->cf, ids.v[i], bay, sizeof(bay)) == 0) {
			found = 1;
			rc = hist_update(bay, ids.v[i], note_receipt, &n);
			added += n.added;
		} else
			rc = receipt_live(&c, ids.v[i], &found);
	}
	strv_free(&ids);
	if (rc < 0)
		goto refuse;
	if (!found)
		msg_info("receipt %s from %s for order %s: no such order here (its history "
			 "purged?); dropped", o->id, signer, c.order);
	else
		msg_info("order %s: delivered to %s at %lld by route %s%s (receipt %s)", c.order,
			 c.dest, (long long)c.delivered, c.route, added ? "" : ", known already",
			 o->id);
	return 0;
refuse:
	{
		char e[600];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("%s", e);
		msg_warnx("refused packet %s from %s: %s", o->id, signer, e);
	}
	return -1;
}
