/*
 * sender_end.c - how an order in the send worker's hands ends (sender.c
 * runs the window): finished when no destination is left, together with
 * the others that ended in the same read or window (one bay_finish_all,
 * after the receipts the window's deliveries owe are queued), and only
 * then logged "done" and its history ended; deferred with back-off;
 * waiting in joining/ for sibling parts or in deferred/ for an exported
 * hop's receipt; its unreachable destinations turned around to the
 * origin; and a returning order sent home. Never moves custody: that is
 * the answers' (ACK or HAVE), recorded by sender.c as they arrive.
 */
#include "shipd.h"
#include "sender_int.h"
#include "../global/dirhop.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
join_errors(struct sbuf *b, const char *why)
{
	if (b->len)
		sbuf_puts(b, "; ");
	sbuf_puts(b, why);
}

/*
 * The end of an order here, in words that say what this node did: the
 * origin "sent to" its destinations (via a next hop), a relay "forwarded
 * to" them (it delivers nothing); "delivered here" only for our own copy.
 */
static void
log_done(const struct order *o, const char *self, const struct strv *forwarded)
{
	struct sbuf b;

	sbuf_init(&b);
	if (strv_has(&o->delivered, self))
		sbuf_puts(&b, "delivered here");
	for (int i = 0; i < forwarded->n; i++) {
		const char *nh = config_next_hop(S->cf, forwarded->v[i]);

		sbuf_printf(&b, "%s%s%s", i == 0 && b.len ? "; " : "",
			    i ? ", " : strcmp(o->origin, self) == 0 ? "sent to " : "forwarded to ",
			    forwarded->v[i]);
		if (nh && strcmp(nh, forwarded->v[i]) != 0)
			sbuf_printf(&b, " via %s", nh);
	}
	msg_info("order %s: done (%s)", o->id, b.len ? b.s : "nothing left to do");
	sbuf_free(&b);
}

int sender_worker_rc;		/* sender_run's exit status */

static void
flight_free(struct flight *f)
{
	send_close(f);
	bay_release(&f->c);
	strv_free(&f->hops_done);
	strv_free(&f->turned);
	strv_free(&f->forwarded);
	sbuf_free(&f->errs);
	sbuf_free(&f->turn_why);
	sbuf_free(&f->busy_why);
	free(f->why);
	order_free(&f->o);
	free(f);
}

/* The order's end here: 0 done, 1 deferred (the worker's exit status). */
void
flight_end(struct flight *f, int rc)
{
	if (rc == 1)
		sender_status("F %s", f->c.id);
	if (rc != 0 && sender_worker_rc != 1)
		sender_worker_rc = rc;
	flight_free(f);
}

/* A returning order whose send ended (r: HOP_OK ...) or could not start. */
void
home_done(struct flight *f, int r, const char *why)
{
	struct order *o = &f->o;
	const char *bay = f->c.bay;

	if (r == HOP_OK) {
		if (bay_finish(bay, o->id, Q_ACTIVE) < 0)
			msg_warnx("order %s: finish: %s", o->id, err_get());
		else
			msg_info("order %s: on its way back to %s via %s", o->id, o->origin, f->nh);
		flight_end(f, 0);
		return;
	}
	if (r == HOP_BUSY)
		put_back_busy(f, why);
	else if (bay_defer(S->cf, bay, o, Q_ACTIVE, why) < 0)
		msg_warnx("order %s: defer: %s", o->id, err_get());
	else
		msg_info("order %s: returning to %s deferred: %s", o->id, o->origin, why);
	flight_end(f, 1);
}

/*
 * A returning order keeps its undelivered destinations (for resubmit) and
 * travels to its origin; it is never turned around again, only retried.
 */
void
send_home(struct flight *f)
{
	struct order *o = &f->o;
	const char *nh;
	char *why = NULL;
	int r = HOP_TEMP;

	if (strcmp(o->origin, S->cf->node) == 0) {
		flight_end(f, arrive_home(f->c.bay, o, Q_ACTIVE) < 0);
		return;
	}
	f->home = 1;
	if ((nh = config_next_hop(S->cf, o->origin)) == NULL)
		why = xasprintf("no route back to origin %s", o->origin);
	else {
		f->nh = xstrdup(nh);
		for (int k = 0; k < o->dests.n; k++)
			strv_add(&f->mine, o->dests.v[k]);
		if ((r = send_offer(f, &why)) == 0)
			return;		/* in the window */
	}
	home_done(f, r, why);
	free(why);
}

/*
 * Orders with nothing left to do, still claimed, waiting to be finished
 * together (done_flush): the answers that one read brought, or one
 * window's local deliveries, cost one round of fsyncs (bay_finish_all).
 * Nothing is told of them before: their "done" line and history come
 * after. A crash before leaves each queued, and its next offer meets HAVE
 * (or its local delivery finds its receipt).
 */
static struct flight *done_q;
static struct flight **done_tail = &done_q;
static int done_n;

static void
done_add(struct flight *f)
{
	f->next = NULL;
	*done_tail = f;
	done_tail = &f->next;
	done_n++;
}

/* Test builds: the worker sleeps VAR seconds here, so that a receipt
 * lands in that moment (tests/scenario/receipt_race.sh, receipt_twice.sh). */
static void
test_pause(const char *var)
{
#ifdef SHIPD_TEST_HOOKS
	const char *pause = getenv(var);

	if (pause)
		sleep(atoi(pause));
#else
	(void)var;
#endif
}

/* Finish every order of done_q, one bay_finish_all per run of one bay. */
void
done_flush(void)
{
	const char **ids;
	time_t *exp;
	struct bay_group g = {0};

	/* the receipts the window's deliveries owe are queued first: a crash
	 * before the finish delivers again, and owes them again */
	history_flush();
	if (done_q == NULL)
		return;
	ids = xcalloc(done_n, sizeof(*ids));
	exp = xcalloc(done_n, sizeof(*exp));

	while (done_q) {
		struct flight *f, *end;
		const char *bay = done_q->c.bay;
		int n = 0, rc;

		/* each order as loaded at its claim: its expiry without reading
		 * the file again. Its history ends first: a receipt taken
		 * between the finish and a record written after it found the
		 * order nowhere, and was dropped (a finish that fails leaves
		 * it queued; its next end writes the record again) */
		test_pause("SHIPD_TEST_END_PAUSE");	/* ACKed, its end not recorded */
		for (end = done_q; end && strcmp(end->c.bay, bay) == 0; end = end->next) {
			exp[n] = end->o.expires;
			ids[n++] = end->o.id;
			if (end->is_data)
				history_end_group(bay, &end->o, NULL, NULL, &g);
		}
		rc = bay_finish_known(bay, ids, exp, n, Q_ACTIVE);
		for (int i = 0; rc == 0 && i < n; i++)
			sender_gone(ids[i]);
		test_pause("SHIPD_TEST_FINISH_PAUSE");	/* finished, not yet logged */
		while (done_q != end) {
			f = done_q;
			done_q = f->next;
			if (rc < 0)
				msg_warnx("order %s: finish: %s", f->o.id, err_get());
			else
				log_done(&f->o, S->cf->node, &f->forwarded);
			flight_end(f, 0);
		}
	}
	/* the batch's history records, once the orders are finished */
	if (bay_group_sync(&g) < 0)
		msg_warnx("history not recorded: %s", err_get());
	done_tail = &done_q;
	done_n = 0;
	free(ids);
	free(exp);
}

/* What is left of f once no next hop is to be tried any more. */
void
finish(struct flight *f)
{
	const char *bay = f->c.bay;
	struct order *o = &f->o;
	int rc = 0;

	if (f->turned.n > 0) {
		/* those destinations go back to the origin; the rest carries on */
		struct order back = *o;

		back.dests = f->turned;
		if (return_order(bay, &back, -1, f->turn_why.s) == 0)
			for (int k = 0; k < f->turned.n; k++)
				strv_remove(&o->dests, f->turned.v[k]);
		else
			join_errors(&f->errs, err_get());
	}
	if (o->dests.n == 0) {
		/* what the delivery or the offer read, else read before data/ID goes */
		f->is_data = f->kind != DELIVER_KIND_UNKNOWN ? f->kind == DELIVER_KIND_DATA :
			     history_is_data(bay, o->id);
		done_add(f);	/* finished with the others that ended meanwhile */
		return;
	} else if (f->errs.len == 0 && f->busy_why.len) {
		put_back_busy(f, f->busy_why.s);
		rc = 1;
	} else if (f->errs.len == 0 && !f->waiting && dirhop_all_exported(o)) {
		/* only exported destinations are left: wait for their receipts, or
		 * expire (the queue manager takes it up again at its expiry) */
		free(o->last_error);
		o->last_error = xstrdup("exported; waiting for the next hop's receipt");
		if (bay_rewrite(bay, o, Q_ACTIVE, Q_DEFERRED, o->expires ? o->expires : BAY_NEXT_POLL,
				&f->c) < 0)
			msg_warnx("order %s: %s", o->id, err_get());
	} else if (f->errs.len == 0 && f->waiting && o->dests.n == 1) {
		/* only our own copy is left, and it waits for sibling parts */
		if (bay_rewrite(bay, o, Q_ACTIVE, Q_JOINING, 0, &f->c) < 0)
			msg_warnx("order %s: to joining: %s", o->id, err_get());
		else
			msg_info("order %s: part %d of %d waiting for the others", o->id, o->part,
				 o->nparts);
	} else {
		const char *why;

		if (f->busy_why.len)
			join_errors(&f->errs, f->busy_why.s);
		why = f->errs.len ? f->errs.s : "waiting";
		if (bay_defer(S->cf, bay, o, Q_ACTIVE, why) < 0)
			msg_warnx("order %s: defer: %s", o->id, err_get());
		else
			msg_info("order %s: deferred: %s; next try in %ds", o->id, why,
				 bay_backoff(S->cf, o->attempts));
		rc = 1;
	}
	flight_end(f, rc);
}
