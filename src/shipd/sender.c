/*
 * sender.c - the send worker. It is given a batch of orders (batch.c) and
 * keeps a window of them in flight on one connection (hop protocol 4,
 * xfer_engine.h): each order is claimed by renaming into active/ (an
 * order someone else claimed first is skipped), delivered here if this
 * node is a destination, and offered to its next hop without waiting for
 * the answers to the orders before it; bodies stream back to back, and
 * answers come as the receiver commits. The connection to a next hop
 * stays open from one order to the next, and ends with BYE when the batch
 * is done or another next hop is needed (then the window drains first).
 * Custody of a destination moves only on the receiver's ACK (sent after
 * its copy is fsynced) or HAVE (it had it already); each is recorded in
 * the order as it arrives. Temporary failures defer the order with
 * back-off; permanent ones (no route, cyclic route, refused) turn those
 * destinations around to the origin. Expired orders are not sent: they
 * are turned around.
 *
 * A next hop that could not be reached is down (peers.c) for the rest of
 * the batch and, once the master hears it on the status pipe, for every
 * worker until its back-off ends: its orders are deferred with its last
 * error and no new connection attempt (in a --poll pass what is left of
 * the batch for it is not claimed at all but handed back: sender_run). A
 * connection that broke mid-window leaves every unanswered order the
 * worker's: each is offered once more on a new connection (the receiver
 * resumes it), and deferred when that fails too; none is lost, none
 * moves custody without its ACK. Connections go UDP first to a peer whose
 * TCP is known to be dropped (peers.c remembers it). A connection that
 * broke, that answered "busy", or that the peer closed meanwhile is not
 * reused. A worker that lives on (pool.c) keeps a TCP connection open
 * after its batch, for the next batch to the same next hop, once every
 * order of the window is answered. "Busy" next hops: sender_busy.c;
 * directory hops: sender_export.c; how each order ends: sender_end.c.
 */
#include "shipd.h"
#include "sender_int.h"
#include "../global/dirhop.h"
#include "../packet/packet.h"
#include "../queue/progress.h"
#include "../wire/wire.h"
#include "../wire/xfer.h"
#include "../wire/xfer_engine.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "G ID..." lines (finished orders) waiting to go with the next status
 * line: the master needs them only when the batch ends ("D RC") */
static struct sbuf gone;
#define GONE_MAX	3072	/* with a status line, under PIPE_BUF */

/* one write, under PIPE_BUF: whole lines; never blocks (O_NONBLOCK) */
static void
status_write(const char *p, size_t n)
{
	if (write(S->statfd, p, n) != (ssize_t)n)
		msg_warnx("status pipe to the master: %s", strerror(errno));
}

/* A line on the status pipe to the master (see master_status_line). */
void
sender_status(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (S->statfd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (gone.len) {
		sbuf_add(&gone, line, n);
		status_write(gone.s, gone.len);
		sbuf_reset(&gone);
	} else
		status_write(line, n);
}

/* Order id is finished here: said to the master with the next status
 * line, so that it does not look for the order in the queue (master.c). */
void
sender_gone(const char *id)
{
	if (S->statfd < 0)
		return;
	if (gone.len && gone.len + strlen(id) + 2 > GONE_MAX) {
		status_write(gone.s, gone.len);
		sbuf_reset(&gone);
	}
	if (gone.len)
		gone.s[--gone.len] = 0;	/* the line goes on */
	else
		sbuf_puts(&gone, "G");
	sbuf_printf(&gone, " %s\n", id);
}

/* The connection kept open from one order of the batch to the next. */
struct hop *cur;
struct xsend *xs;
char *cur_nh;
static int cur_offers;
static struct strv failed_here;		/* next hops this worker could not reach */
struct strv busy_here;		/* next hops still busy after BUSY_TRIES */
int cur_busy;			/* cur answered "busy": offer nothing more on it */
static int cur_took;			/* cur answered an offer otherwise: it has a slot */
static int cur_kept;			/* cur was kept open after the last batch */
static uint64_t cur_bytes;		/* sent over cur (for queue/peerfile.h) */
static uint64_t thr_bytes;		/* SHIPD_TEST_LINK_RATE: bodies' bytes on cur ... */
static double thr_t0;			/* ... since it was opened (tests only) */
static int cur_sent;
static struct flight *answered;		/* answers to act upon, oldest first */
static struct flight **answered_tail = &answered;
static int in_window;			/* orders with a send open */

/* One line per connection, so that an operator sees how orders share them. */
void
hop_drop(int bye)
{
	if (cur) {
		bye = bye && xsend_open(xs) == 0 && xsend_bye(xs) == 0;
		xsend_abandon(xs, "connection closed");
		/* refused after an early start: never up (the deferrals say why) */
		if (!hop_refused(cur))
			msg_info("connection to %s (%s) via %s from port %d closed%s: %d order%s "
				 "offered", cur_nh, hop_remote(cur), hop_proto(cur),
				 hop_local_port(cur), bye ? "" : " after an error", cur_offers,
				 cur_offers == 1 ? "" : "s");
		peer_note(&S->sched, cur_nh, PE_SENT, hop_proto(cur), NULL, cur_sent, cur_bytes);
		xsend_free(xs);
		hop_close(cur);
	}
	cur = NULL;
	xs = NULL;
	cur_busy = cur_took = cur_kept = 0;
	cur_offers = cur_sent = 0;
	cur_bytes = 0;
	free(cur_nh);
	cur_nh = NULL;
}

/* cur may carry more orders: not broken, and not "busy". */
static int
cur_usable(void)
{
	return cur && !xsend_broken(xs) && !cur_busy;
}

/* nh cannot be reached (or refused us): down for this worker and the master. */
static void
hop_unreachable(const char *nh, const char *why)
{
	peer_failed(&S->sched, nh, why, time(NULL));
	strv_add(&failed_here, nh);
	sender_status("X %s %s", nh, why);
	peer_note(&S->sched, nh, PE_DOWN, NULL, why, 0, 0);
}

static void on_answer(void *arg, void *ctx, int type, const char *why);
static void on_progress(void *arg, void *ctx, uint64_t off, uint64_t size);
static void on_accept(void *arg, void *ctx, uint64_t off, uint64_t size);

static struct hop *
hop_get(const struct peer *p, const char *nh, time_t created, char **why)
{
	static const struct xs_ops ops = { on_answer, on_progress, on_accept };
	struct peerstate *ps;
	char until[32];

	if (cur && strcmp(cur_nh, nh) == 0 && cur_usable()) {
		/* one kept from the last batch: unless the peer closed it, or
		 * sent anything, while it was idle, or was revoked meanwhile (a
		 * new handshake then says so) */
		if (!cur_kept || (hop_reusable(cur) && hop_still_trusted(cur, S->cf) == 0)) {
			cur_kept = 0;
			return cur;
		}
		hop_drop(0);
	}
	/* another next hop (or a busy one): what is open on it is answered first */
	while (cur && xsend_open(xs) > 0 && xsend_pump(xs, 1000) == 0)
		;
	hop_drop(1);	/* BYE: a busy receiver's worker leaves at once */
	if (strv_has(&busy_here, nh)) {
		*why = xasprintf("%s busy: no receiver free after %d tries", nh, BUSY_TRIES);
		return NULL;
	}
	if ((strv_has(&failed_here, nh) || peer_down(&S->sched, nh, time(NULL), created)) &&
	    (ps = peer_state(&S->sched, nh)) != NULL) {
		struct tm tm;

		strftime(until, sizeof(until), "%H:%M:%S", localtime_r(&ps->down_until, &tm));
		*why = xasprintf("%s (next hop down: not tried again before %s)", ps->why, until);
		return NULL;
	}
	/* HOP_EARLY: offers follow our AUTH at once (a one-round-trip handshake) */
	if ((cur = hop_connect_via(S->cf, S->keys, p, S->cf->io_timeout, HOP_EARLY |
				   (peer_udp_first(&S->sched, nh, time(NULL)) ? HOP_UDP_FIRST : 0)))
	    == NULL) {
		*why = xasprintf("%s (%s port %d) unreachable: %s", nh, p->host, p->port, err_get());
		hop_unreachable(nh, *why);
		return NULL;
	}
	peer_connected(&S->sched, nh, time(NULL));
	peer_transport(&S->sched, nh, hop_proto(cur), hop_tcp_timed_out(cur), time(NULL));
	sender_status("U %s", nh);
	peer_note(&S->sched, nh, PE_UP, hop_proto(cur), NULL, 0, 0);
	control_hop(cur);	/* a certificate it showed may be news here */
	cur_nh = xstrdup(nh);
	thr_bytes = 0;
	thr_t0 = now_mono();
	xs = xsend_new(cur, &ops, NULL);
	return cur;
}

static void
on_progress(void *arg, void *ctx, uint64_t off, uint64_t size)
{
	struct flight *f = ctx;

	progress_update(f->pr, off);
	/* tests only: each order's rate, and the connection's, whatever its
	 * window holds (bodies queued behind others start at full speed) */
	clock_throttle("SHIPD_TEST_RATE", off - f->base, f->t0);
	thr_bytes += off - f->thr_off;
	f->thr_off = off;
	clock_throttle("SHIPD_TEST_LINK_RATE", thr_bytes, thr_t0);
}

static void
on_accept(void *arg, void *ctx, uint64_t off, uint64_t size)
{
	struct flight *f = ctx;

	cur_took = 1;
	f->base = f->thr_off = off;
	f->t0 = now_mono();
	if (off)
		msg_info("order %s: resuming at byte %llu of %llu for %s", f->o.id,
			 (unsigned long long)off, (unsigned long long)size, f->nh);
}

/* The window's answer for f: acted upon from the main loop (step). */
static void
on_answer(void *arg, void *ctx, int type, const char *why)
{
	struct flight *f = ctx;

	/*
	 * "busy" before anything else: the receiver has no slot for this
	 * connection, and tells every offer so; after another answer it is
	 * about that packet only (another transfer of it still running there)
	 */
	if (type == XF_TEMPFAIL && why && xfer_is_busy((const uint8_t *)why, strlen(why)))
		cur_busy |= !cur_took;
	else
		cur_took = 1;
	f->answered = 1;
	f->answer = type;
	free(f->why);
	f->why = why ? xstrdup(why) : NULL;
	f->next = NULL;
	*answered_tail = f;
	answered_tail = &f->next;
	in_window--;
}

void
send_close(struct flight *f)
{
	progress_end(f->pr);
	f->pr = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->hdr);
	free(f->text);
	free(f->nh);
	f->hdr = NULL;
	f->text = f->nh = NULL;
	strv_free(&f->mine);
}

/*
 * Offer f to next hop nh for the destinations in f->mine: 0 when it is in
 * the window (its answer comes through on_answer), else HOP_TEMP (or
 * HOP_BUSY: the hop is still busy after BUSY_TRIES) with *why (nothing
 * was offered).
 */
int
send_offer(struct flight *f, char **why)
{
	const struct peer *p = config_peer(S->cf, f->nh);
	char data[PATH_MAX];
	struct stat st;
	struct xs_item it;
	ssize_t hn;

	*why = NULL;
	if (p == NULL || p->host == NULL) {
		*why = xasprintf("next hop %s is not a PEER with an address", f->nh);
		return HOP_TEMP;
	}
	if (f->fd < 0) {
		if (bay_data_path(data, sizeof(data), f->c.bay, f->o.id) < 0 ||
		    (f->fd = open(data, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f->fd, &st) < 0) {
			*why = xasprintf("packet data %s: %s", data, strerror(errno));
			return HOP_TEMP;
		}
		f->size = st.st_size;
		/* the signed outer header travels in the offer, so the receiver can
		 * refuse a forged or unroutable packet before it costs disk */
		f->hdr = xmalloc(PKT_MAX_HEADER);
		hn = read_full(f->fd, f->hdr, f->size < PKT_MAX_HEADER ? f->size : PKT_MAX_HEADER);
		if (hn < 0) {
			*why = xasprintf("packet data %s: %s", data, strerror(errno));
			return HOP_TEMP;
		}
		f->hdrlen = hn;
		/* its kind, for the finish (the same parse as history_is_data's) */
		if (f->kind == DELIVER_KIND_UNKNOWN) {
			struct pkt_info pi;

			if (packet_header(f->hdr, f->hdrlen, &pi) == 0) {
				f->kind = strcmp(pi.kind, PKT_KIND_DATA) == 0 ? DELIVER_KIND_DATA :
					  DELIVER_KIND_OTHER;
				pkt_info_free(&pi);
			}
		}
		f->text = dirhop_hop_order_text(&f->o, &f->mine);
	}
	if (hop_get(p, f->nh, f->o.created, why) == NULL)
		return strv_has(&busy_here, f->nh) ? HOP_BUSY : HOP_TEMP;
	if (f->size <= XF_INLINE_MAX) {	/* tests only: inside its offer, counted here */
		thr_bytes += f->size;
		clock_throttle("SHIPD_TEST_LINK_RATE", thr_bytes, thr_t0);
	}
	while (xsend_room(xs) == 0 && xsend_pump(xs, 1000) == 0)
		;
	if (xsend_broken(xs)) {
		*why = xasprintf("%s: connection lost", f->nh);
		return HOP_TEMP;
	}
	it = (struct xs_item){ f, f->o.id, f->fd, f->size, f->hdr, f->hdrlen, f->text,
			       strlen(f->text), NULL };
	f->answered = 0;
	f->t0 = now_mono();
	if (f->size > XF_INLINE_MAX && f->pr == NULL)
		f->pr = progress_start(f->c.bay, f->o.id, f->nh, hop_proto(cur),
				       hop_local_port(cur), f->size);
	in_window++;
	cur_offers++;
	if (xsend_offer(xs, &it) < 0 && !f->answered) {
		in_window--;	/* cannot happen: a broken offer is answered XS_LOST */
		*why = xasprintf("%s: offer: %s", f->nh, err_get());
		return HOP_TEMP;
	}
	return 0;
}

/* The send to f->nh ended: r (HOP_OK ...) with why. */
static void
hop_result(struct flight *f, int r, const char *why)
{
	struct order *o = &f->o;

	if (r == HOP_OK) {
		for (int k = 0; k < f->mine.n; k++) {
			if (!strv_has(&o->delivered, f->mine.v[k]))
				strv_add(&o->delivered, f->mine.v[k]);
			strv_add(&f->forwarded, f->mine.v[k]);
			strv_remove(&o->dests, f->mine.v[k]);
		}
		/* custody moved: recorded now, unless the order ends here anyway
		 * (bay_finish; a crash before it offers again and meets HAVE) */
		if (o->dests.n > 0 && bay_rewrite(f->c.bay, o, Q_ACTIVE, Q_ACTIVE, 0, &f->c) < 0)
			msg_warnx("order %s: %s", o->id, err_get());
	} else if (r == HOP_PERM) {
		for (int k = 0; k < f->mine.n; k++)
			strv_add(&f->turned, f->mine.v[k]);
		join_errors(&f->turn_why, why);
	} else if (r == HOP_BUSY) {
		join_errors(&f->busy_why, why);
	} else {
		msg_warnx("order %s: attempt to %s failed: %s", o->id, f->nh, why);
		join_errors(&f->errs, why);
	}
	f->busy = 0;	/* the next next hop's tries are its own */
	send_close(f);
}

/*
 * Go on with f: the next next hop it needs is offered (and f waits in the
 * window), or, when none is left, the order ends here.
 */
static void
step(struct flight *f)
{
	const char *self = S->cf->node;
	struct order *o = &f->o;

	for (int i = 0; i < o->dests.n; i++) {
		const char *d = o->dests.v[i], *nh;
		char *why = NULL;
		int r;

		if (strcmp(d, self) == 0)
			continue;
		nh = config_next_hop(S->cf, d);
		if (nh == NULL) {
			if (!strv_has(&f->turned, d)) {
				strv_add(&f->turned, d);
				join_errors(&f->turn_why, "no route and no peer for ");
				sbuf_puts(&f->turn_why, d);
			}
			continue;
		}
		if (strv_has(&f->hops_done, nh))
			continue;
		strv_add(&f->hops_done, nh);
		for (int k = 0; k < o->dests.n; k++) {
			const char *knh = config_next_hop(S->cf, o->dests.v[k]);

			if (strcmp(o->dests.v[k], self) != 0 && knh && strcmp(knh, nh) == 0)
				strv_add(&f->mine, o->dests.v[k]);
		}
		f->nh = xstrdup(nh);
		if (strv_has(&o->hops, nh)) {
			for (int k = 0; k < f->mine.n; k++)
				strv_add(&f->turned, f->mine.v[k]);
			join_errors(&f->turn_why, "cyclic delivery route: already passed through ");
			sbuf_puts(&f->turn_why, nh);
			send_close(f);
			continue;
		}
		if (config_peer(S->cf, nh) && config_peer(S->cf, nh)->dir) {
			/* a directory hop: custody stays here until its receipt */
			export_hop(f->c.bay, o, nh, &f->mine, &f->c, &f->errs);
			send_close(f);
			continue;
		}
		if ((r = send_offer(f, &why)) == 0)
			return;		/* in the window: on_answer brings it back */
		hop_result(f, r, why);
		free(why);
		i = -1;		/* the list may have changed: start over, skipping done hops */
	}
	finish(f);
}

/* f's send ended (r: HOP_OK ...): go on with it; frees why. */
void
send_ended(struct flight *f, int r, char *why)
{
	if (f->home)
		home_done(f, r, why);
	else {
		hop_result(f, r, why);
		step(f);
	}
	free(why);
}

/* An answer from the window, acted upon. */
static void
answer(struct flight *f)
{
	char *why = NULL;
	int r;

	switch (f->answer) {
	case XF_ACK:
	case XF_HAVE: {
		double secs = now_mono() - f->t0;

		if (f->answer == XF_HAVE)
			msg_info("order %s: %s already has it (custody moved earlier)", f->o.id,
				 f->nh);
		else
			msg_info("sent %s to %s (%s) via %s from port %d: %llu bytes in %.3fs "
				 "(%.1f MB/s)", f->o.id, f->nh, cur ? hop_remote(cur) : "?",
				 cur ? hop_proto(cur) : "?", cur ? hop_local_port(cur) : 0,
				 (unsigned long long)(f->size - f->base), secs,
				 secs > 0 ? (f->size - f->base) / secs / 1e6 : 0.0);
		cur_sent++;
		cur_bytes += f->size;
		r = HOP_OK;
		break;
	}
	case XF_TEMPFAIL:
		if (f->why && xfer_is_busy((const uint8_t *)f->why, strlen(f->why))) {
			/* busy is not down: offered again shortly (retry_busy) */
			busy_add(f);
			return;
		}
		why = xasprintf("%s: %s", f->nh, f->why);
		r = HOP_TEMP;
		break;
	case XF_REFUSE:
		why = xasprintf("refused by %s: %s", f->nh, f->why);
		r = HOP_PERM;
		break;
	case XS_LOST:
		/* a connection lost mid-window: the order stays ours, deferred,
		 * and the receiver resumes it next time */
		why = xasprintf("%s: %s", f->nh, f->why);
		r = HOP_TEMP;
		/* refused right after an early start: as if the connect had failed */
		if (cur && hop_refused(cur) && !strv_has(&failed_here, f->nh))
			hop_unreachable(f->nh, why);
		break;
	default:
		msg_panic("sender: answer %d", f->answer);
	}
	send_ended(f, r, why);
}

/*
 * In a --poll pass, once the batch's next hop failed, the rest of the
 * batch is not claimed only to be deferred one durable rewrite at a time:
 * each is left as it is and named to the master ("S ID"), which parks it
 * with the hop (batch.c). The order that made the attempt is deferred and
 * carries the error. The daemon's workers defer each as before.
 */
static int
hop_known_down(const struct job *k)
{
	return S->sched.one_pass && batch_is_peer(k->hop) &&
	       peer_down(&S->sched, k->hop, time(NULL), k->created);
}

/*
 * Orders of the batch claimed ahead, as one commit group (bay_group), not
 * yet started: a window's worth of claims costs one round of directory
 * fsyncs. Each is started (start) as the window has room.
 */
#define CLAIM_AHEAD	64
static struct flight *ready;
static struct flight **ready_tail = &ready;

/*
 * Claim up to n orders from k on: from where the queue manager saw each
 * (outgoing/, or deferred/ when due), or from outgoing/ if an operator's
 * `shipctl retry` moved it there since; claimed by someone else, or gone:
 * nothing to do. Nothing else is done with them until the claims are
 * durable. Returns the first job not looked at.
 */
static const struct job *
claim_ahead(const struct job *k, int n)
{
	struct bay_group g = {0};
	struct flight *got = NULL, **tail = &got, *f;

	for (; k && n > 0 && !hop_known_down(k); k = k->batch, n--) {
		int rc;

		f = xcalloc(1, sizeof(*f));
		f->fd = -1;
		rc = bay_claim_group(&f->c, k->bay, k->id, k->from, &g);
		if (rc != 0 && k->from != Q_OUTGOING)
			rc = bay_claim_group(&f->c, k->bay, k->id, Q_OUTGOING, &g);
		if (rc != 0) {
			if (rc < 0)
				msg_warnx("order %s: %s", k->id, err_get());
			free(f);
			continue;
		}
		*tail = f;
		tail = &f->next;
	}
	if (bay_group_sync(&g) < 0) {
		/* not durable: each stays in active/, unlocked, for the sweep */
		msg_warnx("claiming orders: %s", err_get());
		while ((f = got) != NULL) {
			got = f->next;
			flight_end(f, 1);
		}
		return k;
	}
	*ready_tail = got;
	if (got)
		ready_tail = tail;
	return k;
}

/* Start a claimed order on its way. */
static void
start(struct flight *f)
{
	const char *self = S->cf->node, *bay = f->c.bay, *id = f->c.id;
	struct order *o = &f->o;

	/* the claim's lock tells recovery and the sweep a live worker has it */
	if (bay_load_claimed(&f->c, o) < 0) {
		bay_corrupt(bay, id, Q_ACTIVE, err_get());
		flight_end(f, 65);
		return;
	}
	if (!o->returning && order_expired(o, time(NULL))) {
		return_order(bay, o, Q_ACTIVE, "expired before delivery");
		flight_end(f, 0);
		return;
	}
	if (o->returning) {
		send_home(f);
		return;
	}
	if (control_held(bay, o) < 0) {	/* revoked since it was taken: refused here */
		char why[700];

		snprintf(why, sizeof(why), "refused, not sent on: %s", err_get());
		bay_corrupt(bay, o->id, Q_ACTIVE, why);
		flight_end(f, 65);
		return;
	}
	if (strv_has(&o->dests, self)) {
		int r = deliver_local(bay, o, &f->kind);

		if (r == BAY_LATER)	/* full disk: ours stays in dests, deferred below */
			join_errors(&f->errs, err_get());
		else if (r < 0) {	/* refused packet: deliver_local moved it to corrupt/ */
			flight_end(f, 65);
			return;
		} else if (r == 0) {
			strv_remove(&o->dests, self);
			if (!strv_has(&o->delivered, self))
				strv_add(&o->delivered, self);
			/* recorded, unless the order ends here anyway (finish): a
			 * crash before it delivers again, which the receipt makes
			 * "delivered before"; its own receipt goes first, as
			 * nothing delivers it again after the rewrite */
			if (o->dests.n > 0) {
				history_flush();
				if (bay_rewrite(bay, o, Q_ACTIVE, Q_ACTIVE, 0, &f->c) < 0)
					msg_warnx("order %s: %s", o->id, err_get());
			}
		} else
			f->waiting = 1;
	}
	step(f);
}

/* Act on every answer that came. */
static void
answers(void)
{
	while (answered) {
		struct flight *f = answered;

		answered = f->next;
		if (answered == NULL)
			answered_tail = &answered;
		f->next = NULL;
		answer(f);
	}
}

/*
 * Every order from k on (none: only what is open) into the window as it
 * has room, and every answer acted upon, until nothing is open.
 */
static void
run(const struct job *k)
{
	int room;

	for (;;) {
		answers();
		if (busy_waiting()) {
			/* the busy connection's window is answered first */
			if (cur && cur_busy && !xsend_broken(xs) && xsend_open(xs) > 0)
				xsend_pump(xs, 1000);
			else
				retry_busy();
			continue;
		}
		if (ready == NULL && k && hop_known_down(k)) {
			sender_status("S %s", k->id);	/* counted by the master, not here */
			k = k->batch;
			continue;
		}
		room = cur == NULL || xsend_broken(xs) ? CLAIM_AHEAD : xsend_room(xs);
		if (ready == NULL && k && room > 0) {
			done_flush();	/* before claiming more */
			/* a poll pass claims one at a time: what is left for a
			 * hop found down is handed back unclaimed (hop_known_down) */
			k = claim_ahead(k, S->sched.one_pass ? 1 : room < CLAIM_AHEAD ? room :
					CLAIM_AHEAD);
			continue;
		}
		if (ready && room > 0) {
			struct flight *f = ready;

			if ((ready = f->next) == NULL)
				ready_tail = &ready;
			f->next = NULL;
			start(f);
			continue;
		}
		done_flush();	/* before waiting for more answers, or leaving */
		if (in_window == 0) {
			if (k == NULL && ready == NULL)
				break;
			continue;
		}
		if (cur == NULL || xsend_open(xs) == 0)
			msg_panic("sender: %d orders in the window, none open", in_window);
		xsend_pump(xs, 1000);	/* a break answers every open order XS_LOST */
	}
}

/*
 * The worker's batch, in order, with a window of orders in flight; 1 if
 * any order was deferred. What it learnt of unreachable or busy next hops
 * is the batch's own (the master hands a worker that lives on the next
 * hops' state with each batch). With keep, a TCP connection that still
 * works stays open afterwards; the window is empty by then (every order
 * of the batch answered and acted upon).
 */
int
sender_run(const struct job *batch, int keep)
{
	sender_worker_rc = 0;
	strv_free(&failed_here);
	strv_free(&busy_here);
	run(batch);
	/* every order is answered and acted upon: nothing is open on cur;
	 * a TCP connection that still works waits for the next batch */
	if (!keep || in_window > 0 || !cur_usable() || xsend_open(xs) > 0 ||
	    !hop_reusable(cur))
		hop_drop(1);
	else {
		cur_kept = 1;
		if (cur_sent) {
			/* kept open: `shipctl peers` learns what went so far */
			peer_note(&S->sched, cur_nh, PE_SENT, hop_proto(cur), NULL, cur_sent,
				  cur_bytes);
			cur_sent = 0;
			cur_bytes = 0;
		}
	}
	return sender_worker_rc;
}

/* The connection kept after a batch, if any: its next hop, or NULL. */
const char *
sender_hop(void)
{
	return cur ? cur_nh : NULL;
}

/* Close the kept connection (idle too long, or the worker's end); what
 * were still open on it is answered and acted upon first. */
void
sender_hangup(void)
{
	run(NULL);
	hop_drop(1);
}
