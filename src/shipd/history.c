/*
 * history.c - the daemon's side of the history and of delivery receipts:
 *
 *   history_end        an order ended here: its done/ record says when,
 *                      with which result, and to which next hop each
 *                      destination went (queue/history.h)
 *   history_delivered  an order was delivered here: this node's record
 *                      gets its receipt line, and the origin, when it is
 *                      another node, is owed a signed receipt
 *   history_flush      what is owed goes: one receipt packet per origin
 *                      (up to CONFIRM_ORDERS orders each) through the
 *                      routes (global/confirm.h)
 *   history_returned   a return journey (ID.ret) came home: ID's record
 *                      says it was returned, and why
 *   history_receipt    at the origin: a receipt packet, opened; refused
 *                      whole unless its signer is the destination it
 *                      speaks for and that node was a destination of
 *                      every order it names
 *
 * Owed receipts wait in this process (at most CONFIRM_ORDERS; one more
 * queues them first), so whoever calls history_delivered calls
 * history_flush before it finishes or acknowledges those orders: a crash
 * before then leaves each order queued, and delivering it again finds it
 * delivered before and owes its receipt again (deliver.c). A receiver
 * that delivers a packet itself (rstream.c) has no order that could owe
 * it again: it marks the receipt owed on disk (marked: receipts/ID.owed,
 * commit.h), acknowledges once that is durable, and tells the master,
 * which sends the receipts of every receiver many to a packet (below); a
 * mark that outlives its note is found by history_owed_recover
 * (start-up, the sweep).
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
	int check;			/* only check it: nothing is written */
	int added;
	int unnamed;			/* the record does not name c's dest */
};

static void
not_a_destination(const struct confirm *c, const char *id)
{
	err_set("%s was not a destination of order %s from here", c->dest, id);
}

static int
note_receipt(void *arg, struct history *h, int exists)
{
	struct noting *n = arg;

	if (n->o && n->check)
		return 1;
	if (n->o)
		hist_from_order(h, n->o, S->cf->node);
	else if (!exists)
		return 1;
	else if (h->origin == NULL || strcmp(h->origin, S->cf->node) != 0) {
		not_a_destination(n->c, h->id);
		return -1;
	} else if (hist_to_of(h, n->c->dest) == NULL) {
		/* its end not recorded yet? (receipt_look) */
		n->unnamed = 1;
		not_a_destination(n->c, h->id);
		return -1;
	} else if (n->check)
		return 1;
	n->added += hist_add_receipt(h, n->c->dest, n->c->delivered, n->c->route,
				     n->c->name[0] ? n->c->name : NULL);
	return 0;
}

/* Receipts owed, and done/'s fsync for their records. owed_bay[i] is the
 * bay of owed[i]'s mark on disk (receipts/ID.owed, cleared once it is
 * queued), NULL when it has none. They go at the next flush: a worker's
 * (history_flush) or the master's (flush(0): its notes, marks recovered),
 * or at once when one more is owed than fit, by the flush of whoever owes
 * it (owe's worker: the master never runs a worker's test hook). */
static struct confirm *owed;		/* CONFIRM_ORDERS of them */
static const char **owed_bay;
static int nowed;
static struct bay_group owed_g;

static void flush(int worker);

static void
owe(const struct confirm *c, const char *marked, int worker)
{
	if (nowed == CONFIRM_ORDERS)
		flush(worker);
	if (owed == NULL) {
		owed = xcalloc(CONFIRM_ORDERS, sizeof(*owed));
		owed_bay = xcalloc(CONFIRM_ORDERS, sizeof(*owed_bay));
	}
	owed_bay[nowed] = marked;
	owed[nowed++] = *c;
}

void
history_delivered(const char *bay, const struct order *o, const char *name, int marked)
{
	struct strv ids = {0};
	struct confirm c;

	confirm_of(&c, o, S->cf->node, time(NULL), name);
	hist_ids(o->id, &ids);
	for (int i = 0; i < ids.n; i++) {
		struct noting n = {o, &c, 0, 0, 0};

		if (hist_update_group(bay, ids.v[i], note_receipt, &n, &owed_g) < 0)
			msg_warnx("order %s: history not recorded: %s", ids.v[i], err_get());
	}
	strv_free(&ids);
	if (strcmp(o->origin, S->cf->node) == 0) {
		if (marked)	/* nothing to send: the mark is not needed */
			bay_owed_clear(bay, o->id);
		return;		/* its origin is here: the record above is its receipt */
	}
	if (!marked)	/* a marked one is sent from its mark (history_owed_tell) */
		owe(&c, NULL, 1);
}

/* Queue v[0..n-1], all for one origin, in as few packets as they fit;
 * the marks of those queued go (bays[i], when not NULL). A receipt that
 * cannot be queued is dropped (no route back, no key for its origin: as
 * before there were marks), unless its mark keeps it for the sweep
 * because a later try may work (a full bay). */
static void
send_owed(const struct confirm *v, const char **bays, int n)
{
	char id[ORDER_ID_MAX];

	for (int k; n > 0; v += k, bays += k, n -= k) {
		int later, sent = confirm_send(S->cf, S->keys, v, k = confirm_fit(v, n), id,
					       sizeof(id), &later);

		for (int i = 0; i < k; i++)
			if (sent < 0) {
				/* a mark keeps it for the sweep when that may help */
				msg_warnx("order %s: delivery receipt for %s %s: %s", v[i].order,
					  v[i].origin, bays[i] && later ? "kept for later" : "dropped",
					  err_get());
				if (bays[i] && !later)
					bay_owed_clear(bays[i], v[i].order);
			} else {
				if (bays[i])
					bay_owed_clear(bays[i], v[i].order);
				msg_info("order %s: delivery receipt %s queued for %s (%d order%s in it)",
					 v[i].order, id, v[i].origin, k, k == 1 ? "" : "s");
			}
	}
}

static void
flush(int worker)
{
	struct confirm *v;
	const char **bays;
	char *taken;
	int n = 0;

	if (bay_group_sync(&owed_g) < 0)
		msg_warnx("history not recorded: %s", err_get());
	if (nowed == 0)
		return;
	/* test builds: a worker killed with the receipts owed, the orders
	 * delivered but not yet finished (tests/scenario/receipts_batch.sh) */
	if (worker)
		sandbox_test_hook("receipts-owed");
	/* grouped by origin, each group in the order delivered */
	v = xcalloc(nowed, sizeof(*v));
	bays = xcalloc(nowed, sizeof(*bays));
	taken = xcalloc(nowed, 1);
	for (int i = 0; i < nowed; i++) {
		int m = n;

		for (int j = i; j < nowed; j++)
			if (!taken[j] && strcmp(owed[j].origin, owed[i].origin) == 0) {
				bays[n] = owed_bay[j];
				v[n++] = owed[j];
				taken[j] = 1;
			}
		if (n > m)
			send_owed(v + m, bays + m, n - m);
	}
	free(taken);
	free(bays);
	free(v);
	nowed = 0;
}

void
history_flush(void)
{
	flush(1);
}

void
history_sync(void)
{
	if (bay_group_sync(&owed_g) < 0)
		msg_warnx("history not recorded: %s", err_get());
}

/* The receipt of o, delivered here at `at` and marked owed in bay, owed
 * now (its mark cleared once it is queued); worker as owe's. bay must
 * outlive the next flush. */
static void
owe_mark(const char *bay, const struct order *o, time_t at, int worker)
{
	struct confirm c;

	confirm_of(&c, o, S->cf->node, at, o->name);
	owe(&c, bay, worker);
}

/* The master (start-up, the sweep): a mark no receiver will send */
static void
owed_found(void *arg, const char *key, const struct order *o, time_t at)
{
	msg_info("order %s: its delivery receipt to %s was not sent yet; sending it now", key,
		 o->origin);
	owe_mark(arg, o, at, 0);
}

void
history_owed_recover(const char *bay, time_t older)
{
	if (bay_owed_scan(bay, older, owed_found, (void *)bay) > 0)
		flush(0);
}

/* The receipt marked owed as receipts/KEY.owed in bay (owe_mark), loaded
 * from its mark; nothing when the mark is gone (queued by someone else
 * meanwhile). */
static void
owe_marked(const char *bay, const char *key, int worker)
{
	struct order o;
	time_t at;

	order_init(&o);
	if (bay_owed_load(bay, key, &o, &at) == 0)
		owe_mark(bay, &o, at, worker);
	order_free(&o);
}

/*
 * ---- Receipts a receiver marked owed, sent by the master ----
 *
 * A receiver tells the master (door.c: "O BAY\nKEY KEY ...") the orders
 * of a group it committed, once their marks are durable; the master sends
 * their receipts, those of every receiver, in one packet per origin for up
 * to CONFIRM_ORDERS orders, OWED_WAIT seconds after the first (or at once
 * when that many wait). The marks are the truth: a note lost with the
 * master is found by history_owed_recover.
 */
struct note {
	char *bay, *key;
};
static struct note *notes;		/* CONFIRM_ORDERS of them */
static int nnotes;
static time_t notes_due;

static void
notes_send(void)
{
	/* test builds: the master dies with the notes unsent, the marks
	 * durable (tests/scenario/receipts_batch.sh) */
	sandbox_test_hook("owed-notes");
	for (int i = 0; i < nnotes; i++)
		owe_marked(notes[i].bay, notes[i].key, 0);
	flush(0);
	for (int i = 0; i < nnotes; i++) {
		free(notes[i].bay);
		free(notes[i].key);
	}
	nnotes = 0;
	notes_due = 0;
}

void
history_owed_note(const char *msg)
{
	const char *nl = strchr(msg, '\n'), *k, *e;
	struct strv bays = {0};
	char *bay;

	if (nl == NULL || nl == msg)
		return;
	/* a receiver reads the network: it names one of our bays and order
	 * ids, or nothing is taken from it */
	bay = xstrndup(msg, nl - msg);
	bay_all(S->cf, &bays);
	if (!strv_has(&bays, bay)) {
		msg_warnx("receive worker: receipts owed in %.200s, not a bay of ours", bay);
		goto out;
	}
	if (notes == NULL)
		notes = xcalloc(CONFIRM_ORDERS, sizeof(*notes));
	for (k = nl + 1; *k; k = *e ? e + 1 : e) {
		char *key;

		e = k + strcspn(k, " ");
		if (e == k)
			continue;
		if (!order_id_valid(key = xstrndup(k, e - k))) {
			msg_warnx("receive worker: receipt owed for %.100s, not an order id", key);
			free(key);
			continue;
		}
		if (nnotes == CONFIRM_ORDERS)
			notes_send();
		notes[nnotes].bay = xstrdup(bay);
		notes[nnotes++].key = key;
		if (notes_due == 0)
			notes_due = time(NULL) + OWED_WAIT;
	}
	if (nnotes == CONFIRM_ORDERS)
		notes_send();
out:
	strv_free(&bays);
	free(bay);
}

time_t
history_owed_due(void)
{
	return notes_due;
}

void
history_owed_tick(int now)
{
	if (notes_due && (now || time(NULL) >= notes_due))
		notes_send();
}

void
history_owed_again(const char *id)
{
	struct strv bays = {0}, keys = {0};
	struct order o;
	time_t at;

	strv_add(&keys, id);
	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		order_init(&o);
		if (bay_owed_load(bays.v[i], id, &o, &at) == 0 && bay_owed_sync(bays.v[i]) == 0)
			history_owed_tell(bays.v[i], &keys);
		order_free(&o);
	}
	strv_free(&bays);
	strv_free(&keys);
}

void
history_owed_tell(const char *bay, const struct strv *keys)
{
	struct sbuf b = {0};

	if (keys->n == 0)
		return;
	sbuf_printf(&b, "O %s\n", bay);
	for (int i = 0; i < keys->n; i++)
		sbuf_printf(&b, "%s%s", i ? " " : "", keys->v[i]);
	if (S->statfd >= 0 && !strchr(bay, '\n') && b.len < CUT_MSG_MAX)
		door_tell(S->statfd, b.s);
	else {		/* no master to tell (or too long a line): sent from here */
		for (int i = 0; i < keys->n; i++)
			owe_marked(bay, keys->v[i], 1);
		history_flush();
	}
	sbuf_free(&b);
}

/* A receipt for an order still queued here (it came back before the
 * order's own end was recorded): checked against the order itself, and
 * recorded unless n->check. */
static int
receipt_live(struct noting *n, const char *id, int *found, struct bay_group *g)
{
	const struct confirm *c = n->c;
	char bay[PATH_MAX];
	enum qstate st;
	struct order o;
	int rc = 0;

	if (bay_locate(S->cf, id, bay, sizeof(bay), &st) < 0 || bay_load(bay, id, st, &o) < 0)
		return 0;
	*found = 1;
	if (strcmp(o.origin, S->cf->node) != 0 ||
	    (!strv_has(&o.dests, c->dest) && !strv_has(&o.delivered, c->dest))) {
		not_a_destination(c, id);
		rc = -1;
	} else {
		n->o = &o;
		rc = hist_update_group(bay, id, note_receipt, n, g);
		n->o = NULL;
	}
	order_free(&o);
	return rc;
}

#define RECEIPT_LOOKS	3	/* for an order that is neither queued nor ended */

/* Test builds: the first look misses, as if the order had moved
 * (tests/scenario/receipt_race.sh). */
static int
look_missed(int look)
{
#ifdef SHIPD_TEST_HOOKS
	return look == 0 && getenv("SHIPD_TEST_RECEIPT_MISS") != NULL;
#else
	(void)look;
	return 0;
#endif
}

/*
 * One look for order id: its history, else the order queued here. A
 * record that does not name c's dest may be one an earlier receipt began
 * (from this dest: one sent again after its receiver died; or from
 * another) while the order is still queued, its end not recorded: then
 * the order itself says whether c's dest is one of its destinations.
 */
static int
receipt_look(struct noting *n, const char *id, int *here, struct bay_group *g)
{
	char bay[PATH_MAX];
	int rc;

	n->unnamed = 0;
	if (hist_locate(S->cf, id, bay, sizeof(bay)) < 0)
		return receipt_live(n, id, here, g);
	if ((rc = hist_update_group(bay, id, note_receipt, n, g)) == 0 || !n->unnamed) {
		*here = 1;
		return rc;
	}
	return receipt_live(n, id, here, g);
}

/*
 * One receipt c at the origin: checked (check) or recorded (done/'s
 * fsync left to g) for every order id it stands for. 0, or -1 (err_set)
 * when c's dest was not a destination of one of them from here; found
 * says whether any was known, added whether the receipt was news.
 */
static int
receipt_take(const struct confirm *c, int check, struct bay_group *g, int *found, int *added)
{
	struct strv ids = {0};
	int rc = 0;

	*found = *added = 0;
	hist_ids(c->order, &ids);
	for (int i = 0; i < ids.n && rc == 0; i++) {
		struct noting n = {NULL, c, check, 0, 0};
		int here = 0;

		/* and again when no look knew it: an order moving between
		 * states (claimed from deferred/, put back to outgoing/, its
		 * end being recorded) can slip between two looks */
		for (int look = 0; look < RECEIPT_LOOKS && !here && rc == 0; look++)
			if (!look_missed(look))
				rc = receipt_look(&n, ids.v[i], &here, g);
		/* a record that does not name c's dest, and no such order
		 * queued: it never was one of its destinations */
		if (rc == 0 && !here && n.unnamed) {
			not_a_destination(c, ids.v[i]);
			rc = -1;
		}
		*found |= here;
		*added += n.added;
	}
	strv_free(&ids);
	return rc;
}

/*
 * At the origin: 0 taken (every order recorded, or dropped as unknown),
 * -1 refused (logged; the packet goes to corrupt/), BAY_LATER when a
 * record could not be written (logged; the packet is opened again later,
 * and what was recorded already is known then).
 */
int
history_receipt(const struct order *o, const char *signer, const char *text, size_t len)
{
	struct confirm *v = xcalloc(CONFIRM_ORDERS, sizeof(*v));
	struct bay_group g = {0};
	int found[CONFIRM_ORDERS], added[CONFIRM_ORDERS];
	int n, rc = -1;

	if ((n = confirm_parse(text, len, v)) < 0)
		goto out;
	/* the signature is the destination's: a relay cannot speak for
	 * another node (every entry has the one dest and origin) */
	if (strcmp(v[0].dest, signer) != 0) {
		err_set("forged receipt: signed by %s, but says %s delivered %s%s", signer, v[0].dest,
			v[0].order, n > 1 ? " and more" : "");
		goto out;
	}
	if (strcmp(v[0].origin, S->cf->node) != 0) {
		err_set("receipt for origin %s, not for this node", v[0].origin);
		goto out;
	}
	/* every order checked before any is recorded: one that was not the
	 * signer's to confirm refuses the packet whole, as a forgery */
	for (int i = 0; i < n; i++)
		if (receipt_take(&v[i], 1, NULL, &found[i], &added[i]) < 0)
			goto out;
	rc = 0;
	for (int i = 0; i < n && rc == 0; i++)
		if (receipt_take(&v[i], 0, &g, &found[i], &added[i]) < 0)
			rc = BAY_LATER;
	/* the records durable before the packet is finished, or said taken */
	if (bay_group_sync(&g) < 0)
		rc = BAY_LATER;
	if (rc == BAY_LATER) {
		msg_warnx("receipt %s from %s: history not recorded: %s; will retry", o->id, signer,
			  err_get());
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (!found[i])
			msg_info("receipt %s from %s for order %s: no such order here (its history "
				 "purged?); dropped", o->id, signer, v[i].order);
		else
			msg_info("order %s: delivered to %s at %lld by route %s%s (receipt %s)",
				 v[i].order, v[i].dest, (long long)v[i].delivered, v[i].route,
				 added[i] ? "" : ", known already", o->id);
out:
	if (rc == -1) {
		char e[600];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("%s", e);
		msg_warnx("refused packet %s from %s: %s", o->id, signer, e);
	}
	free(v);
	return rc;
}
