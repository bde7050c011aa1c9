/*
 * cutthrough.c - a relay sends a large packet on while it receives it.
 *
 * When this node's receiver begins to take in the body of a packet of at
 * least RSTREAM_MIN bytes whose destinations all go through one next hop
 * that is a peer (not this node, not a directory hop), it tells the master
 * (cut_offer: "C BAY\nORDER" on its line, door.c): at the first bytes,
 * not at the offer, so that a window of offers does not hold a worker per
 * packet waiting for bodies that come one after the other. The master (cut_request)
 * hands a send job for it to an idle send worker, or forks one when the
 * pool has room; none free, the hop known down, or the order busy: it does
 * nothing, and the order goes the ordinary way once committed. The job
 * holds the order's busy key, so the master schedules nothing else for
 * the order while it runs; when it ends the master takes up what is still
 * queued (master_send_finished).
 *
 * The send worker (cut_run) opens partial/ID read-only through the queue
 * (bay_partial_follow), formats the order this node will commit (the
 * receiver's accept_take: this node on its route; then the hop's view of
 * it, dirhop_hop_order_text, as every send does), connects to the next
 * hop on a connection of its own, offers, and streams the body as its
 * bytes land (ready: a short bounded poll of the file's size, never
 * beyond the size the order announces; given up after IO-TIMEOUT without
 * growth, or at once when the receiver let go of the transfer before the
 * last byte: the upstream transfer broke).
 *
 * Custody never moves early: this node ACKs upstream only once its own
 * copy is fsynced and committed (receiver.c, unchanged). The order is
 * finished here (done/) only when the next hop answered ACK or HAVE and
 * the order is committed here: the worker then claims it from outgoing/
 * (waiting for the commit while the receiver still holds the transfer,
 * at most IO-TIMEOUT after it let go) and finishes it with the queue's
 * verbs. Any other answer, or no commit in time, and it leaves the order
 * alone: committed (now or later) it goes the ordinary way, and the next
 * hop answers HAVE if it already has it (its seen/ID). A kill -9 of any
 * process leaves the order queued (in partial/ for the upstream to
 * resume, or outgoing/, or active/ for the sweep) or finished.
 *
 * An origin sends while it seals the same way (early_request): `shipctl
 * submit` seals a large file stored without zstd with its signed header
 * first, flocks it, and announces it as tmp/ID.early (global/submit.c,
 * queue/commit.h); pickup.c sees the notice and the master makes the
 * same kind of job, its cut text "early NAME" and the order to be
 * committed. The worker follows tmp/NAME (bay_early_follow), stops short
 * of the trailer, the bytes that let the next hop commit, until the
 * order is committed here with exactly that file (bay_early_committed),
 * and gives up (the next hop is told ABORT, keeps nothing it could
 * deliver) when the sealer let go of its lock without a commit. Settled
 * as above: the order is finished only after the commit and the next
 * hop's ACK; any other end and it goes the ordinary way once committed.
 *
 * Never: more than one cut-through per send worker (the job is the
 * worker's whole batch), a byte past the announced size, an order finished
 * before both the commit here and the next hop's answer.
 */
#include "shipd.h"
#include "../crypto/crypto.h"
#include "../global/accept.h"
#include "../global/dirhop.h"
#include "../packet/packet.h"
#include "../queue/progress.h"
#include "../wire/wire.h"
#include "../wire/xfer_engine.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CUT_POLL_US	5000	/* between two looks at a file that has not grown */
#define CUT_WAIT_S	0.2	/* the longest one look for growth blocks the window */
#define CUT_GONE_S	0.5	/* no growth this long: is the receiver still there? */
#define CUT_SETTLE_MAX	4	/* IO-TIMEOUTs to wait for the commit, at most */

/* The next hop of every destination of o, when o may be sent on while it
 * is received here (destinations added to mine, may be NULL); else NULL. */
static const char *
cut_next_hop(const struct order *o, struct strv *mine)
{
	const char *nh = NULL, *h;
	const struct peer *p;

	if (o->size < RSTREAM_MIN || o->returning || o->dests.n == 0 || S->cf->node == NULL)
		return NULL;
	for (int i = 0; i < o->dests.n; i++) {
		if (strcmp(o->dests.v[i], S->cf->node) == 0 ||
		    (h = config_next_hop(S->cf, o->dests.v[i])) == NULL ||
		    (nh && strcmp(nh, h) != 0))
			return NULL;
		nh = h;
	}
	if ((p = config_peer(S->cf, nh)) == NULL || p->host == NULL || p->dir ||
	    strv_has(&o->hops, nh))
		return NULL;
	for (int i = 0; mine && i < o->dests.n; i++)
		strv_add(mine, o->dests.v[i]);
	return nh;
}

/* ---- in the receive worker ---- */

void
cut_offer(const char *bay, const struct order *o)
{
	struct sbuf b = {0};
	char *text;

	if (S->statfd < 0 || strchr(bay, '\n') || cut_next_hop(o, NULL) == NULL ||
	    (text = order_format(o, NULL)) == NULL)
		return;
	sbuf_printf(&b, "C %s\n%s", bay, text);
	/* longer than the master reads of one line (door.c): the ordinary way */
	if (strlen(text) <= CUT_ORDER_MAX && b.len < CUT_MSG_MAX)
		door_tell(S->statfd, b.s);
	free(text);
	sbuf_free(&b);
}

/* ---- in the master ---- */

/*
 * A send job for the order text (in bay, said by who): sent while it is
 * received (cut = text) or sealed (cut = "early NAME\n" text).
 */
static void
cut_job(const char *bay, const char *text, char *cut, const char *who)
{
	struct strv bays = {0};
	struct order o;
	struct job *j;
	const char *nh;
	int known;

	if (S->stopping || S->sched.one_pass) {
		free(cut);
		return;
	}
	bay_all(S->cf, &bays);
	known = strv_has(&bays, bay);
	strv_free(&bays);
	order_init(&o);
	if (!known || order_parse(text, strlen(text), &o) < 0) {
		msg_warnx("%s: a request to send on while it comes for bay %.100s that is not one",
			  who, bay);
		goto out;
	}
	/* the word is checked again: a route of ours, a hop up */
	if ((nh = cut_next_hop(&o, NULL)) == NULL || peer_down(&S->sched, nh, time(NULL),
								  o.created) ||
	    qmgr_busy(&S->sched, J_SEND, bay, o.id))
		goto out;
	/* a job of its own, holding the order's busy key, not in the ready queue */
	qmgr_enqueue(&S->sched, J_SEND, bay, o.id);
	if ((j = S->sched.rq[J_SEND].tail) == NULL || strcmp(j->id, o.id) != 0 ||
	    strcmp(j->bay, bay) != 0)
		goto out;
	jobq_del(&S->sched.rq[J_SEND], j);
	j->hop = xstrdup(nh);
	j->created = o.created;
	j->size = o.size;
	j->cut = cut;
	cut = NULL;
	if (pool_take(j) || (S->nsenders < S->cf->max_children && master_fork(j) > 0))
		peer_started(&S->sched, nh);
	else {		/* no worker free: the ordinary way, once committed */
		htab_del(S->sched.busy, j->key);
		job_free(j);
	}
out:
	free(cut);
	order_free(&o);
}

void
cut_request(char *msg)
{
	char *text = strchr(msg, '\n');

	if (text == NULL) {
		msg_warnx("receive worker: a cut-through request without its order");
		return;
	}
	*text++ = 0;
	cut_job(msg, text, xstrdup(text), "receive worker");
}

void
early_request(const char *bay, const char *notice)
{
	char *id, *name, *text;
	struct sbuf cut = {0};

	switch (bay_early_read(bay, notice, &id, &name, &text)) {
	case 0:
		return;		/* not a notice */
	case -1:
		msg_warnx("%s", err_get());
		return;
	}
	sbuf_printf(&cut, "early %s\n%s", name, text);
	cut_job(bay, text, cut.s, "shipctl submit");
	free(id);
	free(name);
	free(text);
}

/* ---- between the master and the worker (pool.c) ---- */

int
cut_message(struct sbuf *b, const struct job *j)
{
	if (strpbrk(j->bay, "\t\n") || strpbrk(j->id, "\t\n") || strpbrk(j->hop, "\t\n"))
		return -1;
	sbuf_printf(b, "C %s\t%s\t%s\t%lld\n%s", j->bay, j->id, j->hop, (long long)j->created,
		    j->cut);
	return 0;
}

struct job *
cut_parse(char *msg)
{
	char *text = strchr(msg, '\n'), *f[4];
	struct job *k;
	int n = 0;

	if (text == NULL)
		return NULL;
	*text++ = 0;
	for (char *p = msg; p && n < 4; n++) {
		f[n] = p;
		if ((p = strchr(p, '\t')) != NULL)
			*p++ = 0;
	}
	if (n != 4)
		return NULL;
	k = xcalloc(1, sizeof(*k));
	k->kind = J_SEND;
	k->bay = xstrdup(f[0]);
	k->id = xstrdup(f[1]);
	k->hop = xstrdup(f[2]);
	k->created = strtoll(f[3], NULL, 10);
	k->from = Q_OUTGOING;
	k->statfd = -1;
	k->cut = xstrdup(text);
	return k;
}

/* ---- in the send worker ---- */

struct cut {
	const char *id;
	const char *bay;
	int early;			/* sealed here while sent: tmp/NAME */
	int committed;			/* early: the order is committed with this file */
	double done_at;			/* early: when the whole file was first there */
	double t0;			/* when the offer went */
	int fd;				/* partial/ID (early: tmp/NAME), read-only */
	uint64_t size;			/* what the order announces */
	uint64_t seen;			/* the file's size at the last look */
	double grew;			/* when it last grew */
	struct progress *pr;
	int answered, answer;
	char why[XF_REASON_MAX + 1];
};

/*
 * Early: the bytes that may go. All but the trailer until the order is
 * committed here with this very file; -1 when another was.
 */
static int64_t
early_limit(struct cut *c)
{
	int rc;

	if (c->committed || c->seen + PKT_TRAILER_BYTES < c->size)
		return c->committed ? (int64_t)c->size : (int64_t)(c->size - PKT_TRAILER_BYTES);
	if ((rc = bay_early_committed(c->bay, c->id, c->fd)) < 0)
		return -1;
	c->committed = rc;
	return c->committed ? (int64_t)c->size : (int64_t)(c->size - PKT_TRAILER_BYTES);
}

/* xs_item.ready: the bytes there from off on (see xfer_engine.h). */
static int64_t
ready(void *ctx, uint64_t off)
{
	struct cut *c = ctx;
	double start = now_mono(), now;
	struct stat st;

	for (;;) {
		int64_t lim = (int64_t)c->size;

		if (fstat(c->fd, &st) < 0) {
			err_set("fstat: %s", strerror(errno));
			return -1;
		}
		now = now_mono();
		if ((uint64_t)st.st_size < c->seen) {
			err_set("the file here shrank (its transfer started afresh)");
			return -1;
		}
		if ((uint64_t)st.st_size > c->seen) {
			c->seen = st.st_size;
			c->grew = now;
		}
		if (c->early && (lim = early_limit(c)) < 0)
			return -1;
		if (c->seen > off && (int64_t)off < lim)
			return (int64_t)(((int64_t)c->seen < lim ? (int64_t)c->seen : lim) - (int64_t)off);
		if (c->early && c->seen >= c->size && bay_partial_receiving(c->fd)) {
			/* sealed: the sealer syncs and commits; bounded all the same */
			if (c->done_at == 0)
				c->done_at = now;
			if (now - c->done_at < CUT_SETTLE_MAX * S->cf->io_timeout)
				c->grew = now;
		}
		if (now - c->grew > S->cf->io_timeout) {
			err_set("no byte from %s in %d s (IO-TIMEOUT)",
				c->early ? "the sealer" : "upstream", S->cf->io_timeout);
			return -1;
		}
		if (now - c->grew > CUT_GONE_S && !bay_partial_receiving(c->fd)) {
			/* its last bytes may have landed just before it let go */
			if (fstat(c->fd, &st) == 0 && (uint64_t)st.st_size > c->seen)
				continue;
			if (c->early && !c->committed && c->seen >= c->size) {
				/* one more look: committed just as it let go? */
				if (early_limit(c) < 0)
					return -1;
				if (c->committed)
					continue;
			}
			if (c->early)
				err_set("sealing here ended at byte %llu of %llu without a commit",
					(unsigned long long)c->seen, (unsigned long long)c->size);
			else
				err_set("the transfer from upstream ended at byte %llu of %llu",
					(unsigned long long)c->seen, (unsigned long long)c->size);
			return -1;
		}
		if (now - start > CUT_WAIT_S)
			return 0;
		usleep(CUT_POLL_US);
	}
}

static void
on_answer(void *arg, void *ctx, int type, const char *why)
{
	struct cut *c = ctx;

	(void)arg;
	c->answered = 1;
	c->answer = type;
	snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
}

static void
on_progress(void *arg, void *ctx, uint64_t off, uint64_t size)
{
	struct cut *c = ctx;

	(void)arg;
	(void)size;
	progress_update(c->pr, off);
	/* an origin's send is slowed as sender.c's are (tests only) */
	if (c->early)
		clock_throttle("SHIPD_TEST_RATE", off, c->t0);
}

/*
 * The next hop has it: once the order is committed here, claim it and
 * finish it (custody moved). Not committed while the receiver holds the
 * transfer and IO-TIMEOUT after it let go: left alone (the ordinary way).
 */
static void
settle(const char *bay, const char *id, int fd, const struct strv *mine, int early)
{
	double now = now_mono(), deadline = now + S->cf->io_timeout,
	       give_up = now + CUT_SETTLE_MAX * S->cf->io_timeout;
	struct claim cl;
	struct order o;
	int rc;

	while ((rc = bay_claim(&cl, bay, id, Q_OUTGOING)) == 1) {
		now = now_mono();
		if (bay_partial_receiving(fd))
			deadline = now + S->cf->io_timeout;	/* still committing */
		if (now > deadline || now > give_up) {
			msg_warnx("order %s: not committed here in time; it goes the ordinary way "
				  "once it is (the next hop has it already)", id);
			return;
		}
		usleep(10000);
	}
	if (rc < 0) {
		msg_warnx("order %s: %s", id, err_get());
		return;
	}
	order_init(&o);
	if (bay_load(bay, id, Q_ACTIVE, &o) < 0) {
		bay_corrupt(bay, id, Q_ACTIVE, err_get());
		bay_release(&cl);
		return;
	}
	for (int k = 0; k < mine->n; k++) {
		if (!strv_has(&o.delivered, mine->v[k]))
			strv_add(&o.delivered, mine->v[k]);
		strv_remove(&o.dests, mine->v[k]);
	}
	if (o.dests.n > 0) {	/* not the order offered: the rest the ordinary way */
		if (bay_rewrite(bay, &o, Q_ACTIVE, Q_OUTGOING, 0, &cl) < 0)
			msg_warnx("order %s: %s", id, err_get());
	} else {
		/* its history ends before the finish, as sender_end.c's: a
		 * receipt taken in between would find the order nowhere */
		if (history_is_data(bay, id))	/* read before data/ID goes */
			history_end(bay, &o, NULL, NULL);
		if (bay_finish(bay, id, Q_ACTIVE) < 0)
			msg_warnx("order %s: finish: %s", id, err_get());
		else {
			struct sbuf to = {0};

			for (int k = 0; k < mine->n; k++)
				sbuf_printf(&to, "%s%s", k ? ", " : "", mine->v[k]);
			msg_info("order %s: done (%s to %s while it was %s)", id,
				 early ? "sent" : "forwarded", to.s, early ? "sealed" : "received");
			sbuf_free(&to);
		}
	}
	bay_release(&cl);
	order_free(&o);
}

/* The offer and the body, on a connection of its own; c->answer says how
 * it ended. */
static void
forward(const struct job *j, struct cut *c, const char *text, const uint8_t *hdr,
	size_t hdrlen)
{
	static const struct xs_ops ops = { on_answer, on_progress, NULL };
	const struct peer *p = config_peer(S->cf, j->hop);
	struct xs_item it = { c, c->id, c->fd, c->size, hdr, hdrlen, text, strlen(text), ready };
	struct hop *h;
	struct xsend *xs;
	double t0 = now_mono();

	c->answer = XS_LOST;
	c->t0 = t0;
	if (p == NULL || (h = hop_connect_via(S->cf, S->keys, p, S->cf->io_timeout, HOP_EARLY))
	    == NULL) {
		snprintf(c->why, sizeof(c->why), "%s unreachable: %s", j->hop, err_get());
		return;
	}
	sender_status("U %s", j->hop);
	control_hop(h);
	xs = xsend_new(h, &ops, NULL);
	c->pr = progress_start(j->bay, c->id, j->hop, hop_proto(h), hop_local_port(h), c->size);
	if (xsend_offer(xs, &it) == 0)
		while (!c->answered && xsend_pump(xs, 1000) == 0)
			;
	if (!c->answered)	/* broken before an answer: the engine gives XS_LOST */
		xsend_abandon(xs, err_get());
	if (c->answer == XF_ACK || c->answer == XF_HAVE) {
		double secs = now_mono() - t0;

		msg_info("sent %s to %s (%s) via %s while %s it: %llu bytes in %.3fs "
			 "(%.1f MB/s)%s", c->id, j->hop, hop_remote(h), hop_proto(h),
			 c->early ? "sealing" : "receiving",
			 (unsigned long long)c->size, secs, secs > 0 ? c->size / secs / 1e6 : 0.0,
			 c->answer == XF_HAVE ? ", which had it already" : "");
		peer_note(&S->sched, j->hop, PE_SENT, hop_proto(h), NULL, 1, c->size);
	}
	if (xsend_open(xs) == 0)
		xsend_bye(xs);
	progress_end(c->pr);
	c->pr = NULL;
	xsend_free(xs);
	hop_close(h);
}

int
cut_run(const struct job *j)
{
	struct strv mine = {0};
	struct pkt_info pi;
	struct order o;
	struct cut c;
	uint8_t *hdr = NULL;
	size_t hdrlen;
	char *text = NULL, *early = NULL;
	const char *otext = j->cut;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	order_init(&o);
	memset(&pi, 0, sizeof(pi));
	if (strncmp(otext, "early ", 6) == 0 && (otext = strchr(otext, '\n')) != NULL) {
		early = xstrndup(j->cut + 6, otext - (j->cut + 6));
		otext++;
	}
	if (otext == NULL || order_parse(otext, strlen(otext), &o) < 0 ||
	    strcmp(o.id, j->id) != 0 || cut_next_hop(&o, &mine) == NULL ||
	    strcmp(cut_next_hop(&o, NULL), j->hop) != 0) {
		msg_warnx("order %s: not a cut-through job", j->id);
		goto out;
	}
	if (early == NULL) {
		/* the order as this node commits it (receiver.c: accept_take,
		 * with the digest the verifier will find in a packet that is
		 * the one offered), as the next hop is to see it */
		if (o.digest[0])
			hex_decode(o.digest, pi.digest, sizeof(pi.digest));
		accept_take(S->cf, &o, &pi);
	}
	/* early: the order as shipctl submit commits it, digest to come */
	text = dirhop_hop_order_text(&o, &mine);
	c.id = o.id;
	c.bay = j->bay;
	c.early = early != NULL;
	c.size = o.size;
	c.grew = now_mono();
	c.fd = early ? bay_early_follow(j->bay, early, o.id) : bay_partial_follow(j->bay, o.id);
	if (c.fd < 0) {
		msg_info("order %s: not sent on while %s: %s", o.id,
			 early ? "sealed" : "received", err_get());
		goto out;
	}
	/* the signed header travels in the offer: wait for it to land */
	hdrlen = o.size < PKT_MAX_HEADER ? o.size : PKT_MAX_HEADER;
	hdr = xmalloc(hdrlen);
	for (int64_t r = 0; r == 0;)
		if ((r = ready(&c, hdrlen - 1)) < 0) {
			msg_info("order %s: not sent on while %s: %s", o.id,
				 early ? "sealed" : "received", err_get());
			goto out;
		}
	if (pread(c.fd, hdr, hdrlen, 0) != (ssize_t)hdrlen) {
		msg_warnx("order %s: reading its header: %s", o.id, strerror(errno));
		goto out;
	}
	if (early) {
		/* the sealer's own word: its signed header names this order */
		struct pkt_info hi;

		memset(&hi, 0, sizeof(hi));
		if (packet_check_header(S->cf, hdr, hdrlen, &hi) <= 0 ||
		    strcmp(hi.id, o.id) != 0 || hi.file_size != o.size) {
			msg_warnx("order %s: the file sealed in tmp/%s is not the one announced", o.id,
				  early);
			pkt_info_free(&hi);
			goto out;
		}
		pkt_info_free(&hi);
	}
	forward(j, &c, text, hdr, hdrlen);
	if (c.answer == XF_ACK || c.answer == XF_HAVE)
		settle(j->bay, o.id, c.fd, &mine, c.early);
	else
		msg_info("order %s: not sent on to %s while %s: %s; it goes the ordinary "
			 "way once committed here", o.id, j->hop, early ? "sealed" : "received",
			 c.why);
out:
	if (c.fd >= 0)
		close(c.fd);
	free(hdr);
	free(text);
	free(early);
	strv_free(&mine);
	order_free(&o);
	return 0;
}
