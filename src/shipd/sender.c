/*
 * sender.c - the send worker. It is given a batch of orders (batch.c) and
 * takes them one after another: claim by renaming into active/ (an order
 * someone else claimed first is skipped), deliver here if this node is a
 * destination, then make one send per next hop. The connection to a next
 * hop stays open from one order to the next, and ends with BYE when the
 * batch is done or another next hop is needed. Custody of a destination
 * moves only on the receiver's ACK (sent after its copy is fsynced) or HAVE
 * (it had it already); each is recorded in the order before the next hop
 * is tried. Temporary failures defer the order with back-off; permanent
 * ones (no route, cyclic route, refused) turn those destinations around to
 * the origin. Expired orders are not sent: they are turned around.
 *
 * A next hop that could not be reached is down (peers.c) for the rest of
 * the batch and, once the master hears it on the status pipe, for every
 * worker until its back-off ends: its orders are deferred with its last
 * error and no new connection attempt (in a --poll pass what is left of
 * the batch for it is not claimed at all but handed back: sender_run).
 * A connection that broke mid-order, or that the peer closed meanwhile,
 * is not reused; the next order opens a new one. A worker that lives on
 * (pool.c) keeps a TCP connection open after its batch, for the next
 * batch to the same next hop.
 *
 * A next hop that answers "busy" (xfer.h: all its MAX-RECEIVERS taken) is
 * up: the worker says BYE, waits a short jittered pause (BUSY_TRIES of
 * them, growing from 0.125-0.25 s to 2-BUSY_PAUSE_MAX s) and offers the
 * same order again over a new connection. Still busy after that, the
 * order is put back in deferred/ for BUSY_DEFER..2*BUSY_DEFER seconds,
 * not counted as a failed attempt (no RETRY-MIN back-off), and the rest
 * of the batch for that hop follows it without a connection; the hop is
 * never marked down for it.
 */
#include "shipd.h"
#include "../global/dirhop.h"
#include "../packet/packet.h"
#include "../queue/progress.h"
#include "../wire/wire.h"
#include "../wire/xfer.h"
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

enum { HOP_OK = 0, HOP_TEMP = 1, HOP_PERM = 2, HOP_BUSY = 3 };

#define BUSY_TRIES	8	/* busy answers per order before it is put back */
#define BUSY_PAUSE_MAX	4.0	/* seconds, the longest pause between two tries */
#define BUSY_DEFER	10	/* seconds: put back for 1 to 2 times this */

static struct strv busy_here;		/* next hops still busy after BUSY_TRIES */

/* A number in [lo, 2*lo), different in every worker (they fork from one seed). */
static double
jitter(double lo)
{
	static unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)(now_mono() * 1e6);
	return lo + lo * (rand_r(&seed) / ((double)RAND_MAX + 1));
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
	/* one write, under PIPE_BUF: whole lines; never blocks (O_NONBLOCK) */
	if (write(S->statfd, line, n) != n)
		msg_warnx("status pipe to the master: %s", strerror(errno));
}

/* The connection kept open from one order of the batch to the next. */
static struct hop *cur;
static char *cur_nh;
static int cur_offers;
static struct strv failed_here;		/* next hops this worker could not reach */
static uint64_t cur_bytes;		/* sent over cur (for queue/peerfile.h) */
static int cur_sent;

/* One line per connection, so that an operator sees how orders share them. */
static void
hop_drop(int bye)
{
	if (cur) {
		if (bye)
			xfer_send(cur, XF_BYE, NULL, 0);
		msg_info("connection to %s (%s) via %s from port %d closed%s: %d order%s offered",
			 cur_nh, hop_remote(cur), hop_proto(cur), hop_local_port(cur),
			 bye ? "" : " after an error", cur_offers, cur_offers == 1 ? "" : "s");
		peer_note(&S->sched, cur_nh, PE_SENT, hop_proto(cur), NULL, cur_sent, cur_bytes);
		hop_close(cur);
	}
	cur = NULL;
	cur_offers = cur_sent = 0;
	cur_bytes = 0;
	free(cur_nh);
	cur_nh = NULL;
}

static struct hop *
hop_get(const struct peer *p, const char *nh, time_t created, char **why)
{
	struct peerstate *ps;
	char until[32];

	if (cur && strcmp(cur_nh, nh) == 0) {
		if (hop_reusable(cur))
			return cur;
		hop_drop(0);	/* closed by the peer while we were idle */
	}
	hop_drop(1);
	if ((strv_has(&failed_here, nh) || peer_down(&S->sched, nh, time(NULL), created)) &&
	    (ps = peer_state(&S->sched, nh)) != NULL) {
		struct tm tm;

		strftime(until, sizeof(until), "%H:%M:%S", localtime_r(&ps->down_until, &tm));
		*why = xasprintf("%s (next hop down: not tried again before %s)", ps->why, until);
		return NULL;
	}
	if ((cur = hop_connect_via(S->cf, S->keys, p, S->cf->io_timeout,
				   peer_udp_first(&S->sched, nh, time(NULL)))) == NULL) {
		*why = xasprintf("%s (%s port %d) unreachable: %s", nh, p->host, p->port, err_get());
		peer_failed(&S->sched, nh, *why, time(NULL));
		strv_add(&failed_here, nh);
		sender_status("X %s %s", nh, *why);
		peer_note(&S->sched, nh, PE_DOWN, NULL, *why, 0, 0);
		return NULL;
	}
	peer_connected(&S->sched, nh, time(NULL));
	peer_transport(&S->sched, nh, hop_proto(cur), hop_tcp_timed_out(cur), time(NULL));
	sender_status("U %s", nh);
	peer_note(&S->sched, nh, PE_UP, hop_proto(cur), NULL, 0, 0);
	control_hop(cur);	/* a certificate it showed may be news here */
	cur_nh = xstrdup(nh);
	return cur;
}

/*
 * SHIPD_TEST_RATE=BYTES_PER_SECOND slows every send down, so that tests
 * can interrupt a transfer in the middle. Test-only; logged when set.
 */
static void
test_throttle(uint64_t sent, double t0)
{
	static double rate = -1;

	if (rate < 0) {
		const char *e = getenv("SHIPD_TEST_RATE");

		rate = e ? atof(e) : 0;
		if (rate > 0)
			msg_warnx("SHIPD_TEST_RATE=%.0f: sends are throttled (test only)", rate);
	}
	if (rate > 0) {
		double ahead = sent / rate - (now_mono() - t0);

		if (ahead > 0)
			usleep(ahead * 1e6);
	}
}

static int
stream_body(struct hop *h, int fd, uint64_t off, uint64_t size, const char *id,
	    struct progress *pr)
{
	static uint8_t buf[XF_DATA_MAX];
	uint64_t start = off;
	double t0 = now_mono();

	if (lseek(fd, off, SEEK_SET) < 0) {
		err_set("packet %s: seek: %s", id, strerror(errno));
		return -1;
	}
	while (off < size) {
		size_t want = size - off < sizeof(buf) ? size - off : sizeof(buf);
		ssize_t n = read_full(fd, buf, want);

		if (n <= 0) {
			err_set("packet %s: read: %s", id, n < 0 ? strerror(errno) : "short file");
			return -1;
		}
		if (xfer_send(h, XF_DATA, buf, n) < 0)
			return -1;
		off += n;
		progress_update(pr, off);
		test_throttle(off - start, t0);
	}
	return xfer_send(h, XF_END, NULL, 0);
}

/* One hop: returns HOP_OK, HOP_TEMP or HOP_PERM with *why set. */
static int
send_hop(const char *bay, const struct order *o, const char *nh, const struct strv *dests,
	 char **why)
{
	const struct peer *p = config_peer(S->cf, nh);
	static uint8_t msg[HOP_MAX_MSG];
	char data[PATH_MAX], *text = NULL;
	uint8_t *hdr = NULL;
	struct hop *h = NULL;
	struct stat st;
	ssize_t hn, n;
	double t0 = now_mono();
	int fd = -1, type, rc = HOP_TEMP, keep = 0, busy = 0;
	uint64_t off = 0;
	struct progress *pr = NULL;

	*why = NULL;
	if (p == NULL || p->host == NULL) {
		*why = xasprintf("next hop %s is not a PEER with an address", nh);
		return HOP_TEMP;
	}
	if (bay_data_path(data, sizeof(data), bay, o->id) < 0 ||
	    (fd = open(data, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		*why = xasprintf("packet data %s: %s", data, strerror(errno));
		if (fd >= 0)
			close(fd);
		return HOP_TEMP;
	}
	/* the signed outer header travels in the offer, so the receiver can
	 * refuse a forged or unroutable packet before it costs disk */
	hdr = xmalloc(PKT_MAX_HEADER);
	hn = read_full(fd, hdr, (size_t)st.st_size < PKT_MAX_HEADER ? (size_t)st.st_size : PKT_MAX_HEADER);
	if (hn < 0) {
		*why = xasprintf("packet data %s: %s", data, strerror(errno));
		goto out;
	}
	text = dirhop_hop_order_text(o, dests);
	if (strv_has(&busy_here, nh)) {
		*why = xasprintf("%s busy: no receiver free after %d tries", nh, BUSY_TRIES);
		rc = HOP_BUSY;
		goto out;
	}
again:
	for (int fresh = 0;; fresh = 1) {
		int reused;

		if ((h = hop_get(p, nh, o->created, why)) == NULL)
			goto out;
		reused = cur_offers++ > 0;
		if (xfer_send_offer(h, hdr, hn, text) == 0 &&
		    (n = xfer_recv(h, &type, msg, sizeof(msg), S->cf->io_timeout)) >= 0)
			break;
		if (!reused || fresh) {
			*why = xasprintf("%s: offer: %s", nh, err_get());
			goto out;
		}
		/* the peer closed a connection kept idle between two orders of
		 * the batch (its IO-TIMEOUT): one new connection, not a deferral */
		msg_info("order %s: kept connection to %s gone (%s); connecting again", o->id, nh,
			 err_get());
		hop_drop(0);
		h = NULL;
	}
	if (type == XF_TEMPFAIL && xfer_is_busy(msg, n)) {
		const char *r = (const char *)msg + strlen(XF_BUSY_REASON);
		int rn = (int)(n - strlen(XF_BUSY_REASON));
		double pause = 0.125 * (1 << busy);

		pause = jitter(pause < BUSY_PAUSE_MAX / 2 ? pause : BUSY_PAUSE_MAX / 2);
		for (; rn > 0 && *r == ' '; r++, rn--)
			;
		hop_drop(1);	/* BYE: the receiver's busy worker leaves at once */
		h = NULL;
		if (++busy >= BUSY_TRIES) {
			*why = xasprintf("%s busy: %.*s (%d tries)", nh, rn, r, busy);
			strv_add(&busy_here, nh);
			rc = HOP_BUSY;
			goto out;
		}
		msg_info("order %s: %s busy (%.*s); trying again in %.1f s over a new connection",
			 o->id, nh, rn, r, pause);
		usleep(pause * 1e6);
		goto again;
	}
	/* an answer to the offer leaves both sides ready for the next one */
	keep = type == XF_HAVE || type == XF_TEMPFAIL || type == XF_REFUSE;
	switch (type) {
	case XF_HAVE:
		msg_info("order %s: %s already has it (custody moved earlier)", o->id, nh);
		rc = HOP_OK;
		goto out;
	case XF_ACCEPT:
		if (n != 8) {
			*why = xasprintf("%s: malformed ACCEPT", nh);
			goto out;
		}
		for (int i = 0; i < 8; i++)
			off = off << 8 | msg[i];
		if (off > (uint64_t)st.st_size) {
			*why = xasprintf("%s: resume offset %llu beyond the packet", nh,
					 (unsigned long long)off);
			goto out;
		}
		break;
	case XF_TEMPFAIL:
		*why = xasprintf("%s: %.*s", nh, (int)n, msg);
		goto out;
	case XF_REFUSE:
		*why = xasprintf("refused by %s: %.*s", nh, (int)n, msg);
		rc = HOP_PERM;
		goto out;
	default:
		*why = xasprintf("%s: unexpected %s after OFFER", nh, xfer_type_name(type));
		goto out;
	}
	if (off)
		msg_info("order %s: resuming at byte %llu of %lld for %s", o->id,
			 (unsigned long long)off, (long long)st.st_size, nh);
	pr = progress_start(bay, o->id, nh, hop_proto(h), hop_local_port(h), st.st_size);
	progress_update(pr, off);
	if (stream_body(h, fd, off, st.st_size, o->id, pr) < 0) {
		*why = xasprintf("%s: sending: %s", nh, err_get());
		goto out;
	}
	/* the receiver verifies signatures and fsyncs before it answers */
	n = xfer_recv(h, &type, msg, sizeof(msg), S->cf->io_timeout + st.st_size / (20 << 20));
	if (n < 0) {
		*why = xasprintf("%s: waiting for acknowledgement: %s", nh, err_get());
		goto out;
	}
	/*
	 * a refusal after data may come from the middle of the stream: the
	 * receiver may have read our remaining DATA as a bad OFFER, so the
	 * connection is not reused after it
	 */
	if (type == XF_TEMPFAIL) {
		*why = xasprintf("%s: %.*s", nh, (int)n, msg);
		goto out;
	}
	if (type == XF_REFUSE) {
		*why = xasprintf("refused by %s: %.*s", nh, (int)n, msg);
		rc = HOP_PERM;
		goto out;
	}
	if (type != XF_ACK) {
		*why = xasprintf("%s: unexpected %s after data", nh, xfer_type_name(type));
		goto out;
	}
	{
		double secs = now_mono() - t0;
		uint64_t sent = st.st_size - off;

		msg_info("sent %s to %s (%s) via %s from port %d: %llu bytes in %.3fs (%.1f MB/s)",
			 o->id, nh, hop_remote(h), hop_proto(h), hop_local_port(h),
			 (unsigned long long)sent, secs, secs > 0 ? sent / secs / 1e6 : 0.0);
		cur_sent++;
		cur_bytes += sent;
	}
	rc = HOP_OK;
	keep = 1;
out:
	progress_end(pr);
	if (h && !keep)
		hop_drop(0);
	free(text);
	free(hdr);
	close(fd);
	return rc;
}

/*
 * A returning order keeps its undelivered destinations (for resubmit) and
 * travels to its origin; it is never turned around again, only retried.
 */
static int
send_home(const char *bay, struct order *o)
{
	const char *nh;
	char *why = NULL;
	int r;

	if (strcmp(o->origin, S->cf->node) == 0)
		return arrive_home(bay, o, Q_ACTIVE) < 0;
	if ((nh = config_next_hop(S->cf, o->origin)) == NULL)
		why = xasprintf("no route back to origin %s", o->origin);
	else if ((r = send_hop(bay, o, nh, &o->dests, &why)) == HOP_OK) {
		if (bay_finish(bay, o->id, Q_ACTIVE) < 0)
			msg_warnx("order %s: finish: %s", o->id, err_get());
		else
			msg_info("order %s: on its way back to %s via %s", o->id, o->origin, nh);
		return 0;
	}
	if (bay_defer(S->cf, bay, o, Q_ACTIVE, why) < 0)
		msg_warnx("order %s: defer: %s", o->id, err_get());
	else
		msg_info("order %s: returning to %s deferred: %s", o->id, o->origin, why);
	free(why);
	return 1;
}

static void
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

/*
 * A directory hop (global/dirhop.h): write the packet and its envelope to
 * the next hop's directory, once per destination; the destinations stay
 * in the order, marked exported, until the next hop's receipt comes back.
 * A full or missing medium is a temporary failure joined to errs.
 */
static void
export_hop(const char *bay, struct order *o, const char *nh, const struct strv *mine,
	   struct claim *c, struct sbuf *errs)
{
	const struct peer *p = config_peer(S->cf, nh);
	struct strv todo = {0};
	char *why = NULL;

	for (int k = 0; k < mine->n; k++)
		if (order_exported(o, mine->v[k]) == NULL)
			strv_add(&todo, mine->v[k]);
	if (todo.n == 0)
		goto out;
	if (dirhop_export(S->cf, S->keys, bay, o, &todo, nh, p->dir, p->dir_limit, &why) < 0) {
		msg_warnx("order %s: export to %s (directory %s) failed: %s", o->id, nh, p->dir, why);
		join_errors(errs, why);
		free(why);
		goto out;
	}
	dirhop_mark_exported(o, &todo, nh, time(NULL));
	if (bay_rewrite(bay, o, Q_ACTIVE, Q_ACTIVE, 0, c) < 0)
		msg_warnx("order %s: %s", o->id, err_get());
	msg_info("order %s: exported to %s in directory %s; custody stays here until its "
		 "receipt", o->id, nh, p->dir);
	sender_status("U %s", nh);
out:
	strv_free(&todo);
}

/*
 * Only "busy" next hops are left: back to deferred/ for a short, jittered
 * while, without counting an attempt (bay_defer's back-off is for
 * failures, and busy is not one).
 */
static void
put_back_busy(const char *bay, struct order *o, struct claim *c, const char *why)
{
	int secs = (int)jitter(BUSY_DEFER);

	free(o->last_error);
	o->last_error = xstrdup(why);
	o->next_attempt = time(NULL) + secs;
	if (bay_rewrite(bay, o, Q_ACTIVE, Q_DEFERRED, o->next_attempt, c) < 0)
		msg_warnx("order %s: put back: %s", o->id, err_get());
	else
		msg_info("order %s: put back for %ds: %s (a busy next hop: not a failed attempt)",
			 o->id, secs, why);
}

/* One claimed order: 0 done, 1 deferred, else an exit status. */
static int
send_claimed(struct claim *c)
{
	const char *self = S->cf->node, *bay = c->bay, *id = c->id;
	struct order o;
	struct strv hops_done = {0}, turned = {0}, forwarded = {0};
	struct sbuf errs = {0}, turn_why = {0}, busy = {0};
	int waiting = 0, rc = 0;

	if (bay_load(bay, id, Q_ACTIVE, &o) < 0) {
		bay_corrupt(bay, id, Q_ACTIVE, err_get());
		order_free(&o);
		return 65;
	}
	if (!o.returning && order_expired(&o, time(NULL))) {
		return_order(bay, &o, Q_ACTIVE, "expired before delivery");
		order_free(&o);
		return 0;
	}
	if (o.returning) {
		rc = send_home(bay, &o);
		order_free(&o);
		return rc;
	}
	if (control_held(bay, &o) < 0) {	/* revoked since it was taken: refused here */
		char why[700];

		snprintf(why, sizeof(why), "refused, not sent on: %s", err_get());
		bay_corrupt(bay, o.id, Q_ACTIVE, why);
		order_free(&o);
		return 65;
	}
	if (strv_has(&o.dests, self)) {
		int r = deliver_local(bay, &o);

		if (r == BAY_LATER)	/* full disk: ours stays in dests, deferred below */
			join_errors(&errs, err_get());
		else if (r < 0) {	/* refused packet: deliver_local moved it to corrupt/ */
			order_free(&o);
			return 65;
		} else if (r == 0) {
			strv_remove(&o.dests, self);
			if (!strv_has(&o.delivered, self))
				strv_add(&o.delivered, self);
			if (bay_rewrite(bay, &o, Q_ACTIVE, Q_ACTIVE, 0, c) < 0)
				msg_warnx("order %s: %s", o.id, err_get());
		} else
			waiting = 1;
	}
	/* one send per next hop */
	for (int i = 0; i < o.dests.n; i++) {
		const char *d = o.dests.v[i], *nh;
		struct strv mine = {0};
		char *why = NULL;
		int r;

		if (strcmp(d, self) == 0)
			continue;
		nh = config_next_hop(S->cf, d);
		if (nh == NULL) {
			strv_add(&turned, d);
			join_errors(&turn_why, "no route and no peer for ");
			sbuf_puts(&turn_why, d);
			continue;
		}
		if (strv_has(&hops_done, nh))
			continue;
		strv_add(&hops_done, nh);
		for (int k = 0; k < o.dests.n; k++) {
			const char *knh = config_next_hop(S->cf, o.dests.v[k]);

			if (strcmp(o.dests.v[k], self) != 0 && knh && strcmp(knh, nh) == 0)
				strv_add(&mine, o.dests.v[k]);
		}
		if (strv_has(&o.hops, nh)) {
			for (int k = 0; k < mine.n; k++)
				strv_add(&turned, mine.v[k]);
			join_errors(&turn_why, "cyclic delivery route: already passed through ");
			sbuf_puts(&turn_why, nh);
			strv_free(&mine);
			continue;
		}
		if (config_peer(S->cf, nh) && config_peer(S->cf, nh)->dir) {
			/* a directory hop: custody stays here until its receipt */
			export_hop(bay, &o, nh, &mine, c, &errs);
			strv_free(&mine);
			continue;
		}
		r = send_hop(bay, &o, nh, &mine, &why);
		if (r == HOP_OK) {
			for (int k = 0; k < mine.n; k++) {
				if (!strv_has(&o.delivered, mine.v[k]))
					strv_add(&o.delivered, mine.v[k]);
				strv_add(&forwarded, mine.v[k]);
			}
			for (int k = 0; k < mine.n; k++)
				strv_remove(&o.dests, mine.v[k]);
			i = -1;		/* the list changed: start over, skipping done hops */
			if (bay_rewrite(bay, &o, Q_ACTIVE, Q_ACTIVE, 0, c) < 0)
				msg_warnx("order %s: %s", o.id, err_get());
		} else if (r == HOP_BUSY) {
			join_errors(&busy, why);
		} else if (r == HOP_PERM) {
			for (int k = 0; k < mine.n; k++)
				strv_add(&turned, mine.v[k]);
			join_errors(&turn_why, why);
		} else {
			msg_warnx("order %s: attempt to %s failed: %s", o.id, nh, why);
			join_errors(&errs, why);
		}
		free(why);
		strv_free(&mine);
	}
	if (turned.n > 0) {
		/* those destinations go back to the origin; the rest carries on */
		struct order back = o;

		back.dests = turned;
		if (return_order(bay, &back, -1, turn_why.s) == 0)
			for (int k = 0; k < turned.n; k++)
				strv_remove(&o.dests, turned.v[k]);
		else
			join_errors(&errs, err_get());
	}
	if (o.dests.n == 0) {
		int is_data = history_is_data(bay, o.id);	/* read before data/ID goes */

		if (bay_finish(bay, o.id, Q_ACTIVE) < 0)
			msg_warnx("order %s: finish: %s", o.id, err_get());
		else {
			log_done(&o, self, &forwarded);
			if (is_data)
				history_end(bay, &o, NULL, NULL);
		}
	} else if (errs.len == 0 && busy.len) {
		put_back_busy(bay, &o, c, busy.s);
		rc = 1;
	} else if (errs.len == 0 && !waiting && dirhop_all_exported(&o)) {
		/* only exported destinations are left: wait for their receipts, or
		 * expire (the queue manager takes it up again at its expiry) */
		free(o.last_error);
		o.last_error = xstrdup("exported; waiting for the next hop's receipt");
		if (bay_rewrite(bay, &o, Q_ACTIVE, Q_DEFERRED, o.expires ? o.expires : BAY_NEXT_POLL,
				c) < 0)
			msg_warnx("order %s: %s", o.id, err_get());
	} else if (errs.len == 0 && waiting && o.dests.n == 1) {
		/* only our own copy is left, and it waits for sibling parts */
		if (bay_rewrite(bay, &o, Q_ACTIVE, Q_JOINING, 0, c) < 0)
			msg_warnx("order %s: to joining: %s", o.id, err_get());
		else
			msg_info("order %s: part %d of %d waiting for the others", o.id, o.part,
				 o.nparts);
	} else {
		if (busy.len)
			join_errors(&errs, busy.s);
		if (bay_defer(S->cf, bay, &o, Q_ACTIVE, errs.len ? errs.s : "waiting") < 0)
			msg_warnx("order %s: defer: %s", o.id, err_get());
		else
			msg_info("order %s: deferred: %s; next try in %ds", o.id,
				 errs.len ? errs.s : "waiting", bay_backoff(S->cf, o.attempts));
		rc = 1;
	}
	strv_free(&hops_done);
	strv_free(&turned);
	strv_free(&forwarded);
	sbuf_free(&errs);
	sbuf_free(&turn_why);
	sbuf_free(&busy);
	order_free(&o);
	return rc;
}

/*
 * Claim from where the queue manager saw it (outgoing/, or deferred/ when
 * due), or from outgoing/ if an operator's `shipctl retry` moved it there
 * since; claimed by someone else, or gone: nothing to do.
 */
static int
send_order(const char *bay, const char *id, enum qstate from)
{
	struct claim c;
	int rc = bay_claim(&c, bay, id, from);

	if (rc != 0 && from != Q_OUTGOING)
		rc = bay_claim(&c, bay, id, Q_OUTGOING);
	if (rc != 0) {
		if (rc < 0)
			msg_warnx("order %s: %s", id, err_get());
		return 0;
	}
	/* the claim's lock tells recovery and the sweep a live worker has it */
	rc = send_claimed(&c);
	bay_release(&c);
	if (rc == 1)
		sender_status("F %s", id);
	return rc;
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
 * The worker's batch, in order; 1 if any order was deferred. What it
 * learnt of unreachable or busy next hops is the batch's own (the master
 * hands a worker that lives on the next hops' state with each batch).
 * With keep, a TCP connection that still works stays open afterwards.
 */
int
sender_run(const struct job *batch, int keep)
{
	int rc = 0;

	strv_free(&failed_here);
	strv_free(&busy_here);
	for (const struct job *k = batch; k; k = k->batch) {
		int r;

		if (hop_known_down(k)) {
			sender_status("S %s", k->id);	/* counted by the master, not here */
			continue;
		}
		r = send_order(k->bay, k->id, k->from);

		if (r != 0 && rc != 1)
			rc = r;
	}
	if (!keep || (cur && !hop_reusable(cur)))
		hop_drop(1);
	else if (cur && cur_sent) {
		/* kept open: `shipctl peers` learns what went so far */
		peer_note(&S->sched, cur_nh, PE_SENT, hop_proto(cur), NULL, cur_sent, cur_bytes);
		cur_sent = 0;
		cur_bytes = 0;
	}
	return rc;
}

/* The connection kept after a batch, if any: its next hop, or NULL. */
const char *
sender_hop(void)
{
	return cur ? cur_nh : NULL;
}

/* Close the kept connection (idle too long, or the worker's end). */
void
sender_hangup(void)
{
	hop_drop(1);
}
