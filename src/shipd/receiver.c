/*
 * receiver.c - the receive worker, one inbound hop per child. For each
 * OFFER it checks, before accepting a byte of body: the order parses, the
 * packet's outer header is signed by a known origin and agrees with the
 * order, the class exists, the id was not accepted before (else HAVE),
 * this node is not already on the route (cyclic), the size fits the
 * packet and bay limits and the disk floor (else temporary "bay full").
 * The body goes to the bay's partial transfer (bay_partial_open: kept
 * across a dropped connection so the next attempt resumes) and through the
 * streaming verifier on the way (packet_verifier_*: header signature, body
 * hash, trailer signature; a resumed transfer first feeds it what the last
 * attempt left), so the file is never read back; a header that fails is
 * refused at once, and the whole file must verify, and be the packet
 * offered, before it is committed with bay_accept (its data, then its
 * order with the packet digest the verifier yields), and only then ACKed.
 * What fails verification is kept in corrupt/ with a .why. Anything
 * refused is logged with the peer and the reason. A packet whose last
 * stop is here is delivered while it is received instead (rstream.c): a
 * large one as its bytes arrive, a small one that came whole in its offer
 * at once; the small ones of a group are committed together, per bay
 * (small_commit), before the group's ACK.
 *
 * Before that, the worker is at the door (door.c): its handshake must end
 * within HANDSHAKE-TIMEOUT, then it asks the master for one of the
 * MAX-RECEIVERS slots; when none is free it answers the peer's offers
 * with a temporary "busy" refusal (busy() below), and takes nothing.
 */
#include "shipd.h"
#include "../global/accept.h"
#include "../crypto/crypto.h"
#include "../packet/packet.h"
#include "../wire/wire.h"
#include "../wire/xfer_engine.h"
#include "../util/addr.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <unistd.h>


static int recv_orders;			/* accepted over this hop (queue/peerfile.h) */
static uint64_t recv_bytes;

/* Check an OFFER (its header through v, which then verifies the data;
 * or, verified, *pi already says what a whole packet's verified header
 * does); on success *bayp is the bay to receive into. */
static int
check_offer(struct hop *h, struct pkt_verifier *v, struct order *o, struct pkt_info *pi,
	    int verified, const uint8_t *hdr, size_t hdrlen, const char **bayp, int *reply,
	    struct sbuf *why)
{
	*reply = XF_REFUSE;
	/* the header's signature, verified once: v knows it when it comes
	 * again at the start of the data */
	if (!verified && packet_verifier_offer(v, hdr, hdrlen, pi) <= 0) {
		sbuf_puts(why, err_get());
		return -1;
	}
	if (control_offer(h, pi, why) < 0)	/* a hop's role; learns the origin's certificate */
		return -1;
	/* the custody rules shared with the directory import */
	switch (accept_check(S->cf, hop_peer(h) ? hop_peer(h)->name : "?", o, pi, bayp,
			     once_first, why)) {
	case ACC_OK:
		return 0;
	case ACC_HAVE:
		*reply = XF_HAVE;
		return -1;
	case ACC_LATER:
		*reply = XF_TEMPFAIL;
		return -1;
	case ACC_REFUSE:
		return -1;
	default:
		msg_panic("accept_check: unknown verdict");
	}
}

/* Feed the verifier what a previous attempt left, so it sees the whole
 * file; -1 if that cannot be read or is already bad (start afresh). */
static int
rehash(int fd, struct pkt_verifier *v, uint64_t len)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	uint64_t done = 0;
	int rc = 0;

	while (done < len && rc == 0) {
		size_t want = len - done < HOP_MAX_MSG ? len - done : HOP_MAX_MSG;
		ssize_t n = pread(fd, buf, want, done);

		if (n <= 0 || packet_verifier_feed(v, buf, n) < 0)
			rc = -1;
		else
			done += n;
	}
	free(buf);
	return rc;
}

/* One connection's state, for the engine's callbacks (xfer_engine.h). */
struct rconn {
	struct hop *h;
	const char *peer;
	time_t trusted_at;	/* the peer's trust last checked (on_offer) */
	int streaming;		/* an order is being delivered while received */
	time_t noted_at;	/* what came last written to peers/ (peer_note) */
	int stale;		/* forked before a reload: offers go to a new one */
};

/* One order being received. */
struct rorder {
	struct order o;
	struct pkt_info pi;
	const char *bay;
	int fd;
	struct pkt_verifier *v;
	int whole;			/* an inline offer verified in memory: */
	struct pkt_info wpi;		/* what the verifier's end said of it */
	struct rstream *s;		/* delivered while received (rstream.c), or NULL */
	int small;			/* s: a whole inline offer, delivered at once */
	uint64_t off, got;		/* where this attempt started; bytes in */
	off_t wb;			/* where writeback was last started */
};

static int
refused(struct rconn *rc, int type, const char *id, const char *why, char *out, size_t outsz)
{
	msg_warnx("refused packet %s from %s (%s) via %s: %s", id ? id : "(unknown)", rc->peer,
		  hop_remote(rc->h), hop_proto(rc->h), why);
	snprintf(out, outsz, "%s", why);
	return type;
}

static void
rorder_free(struct rorder *r)
{
	if (r == NULL)
		return;
	rstream_free(r->s);
	packet_verifier_free(r->v);
	if (r->fd >= 0)
		close(r->fd);
	pkt_info_free(&r->wpi);
	pkt_info_free(&r->pi);
	order_free(&r->o);
	free(r);
}

/* Every byte is in: durable, and the whole file verified as the packet
 * offered; else refused (kept in corrupt/ with the reason) or TEMPFAIL. */
static int
complete(struct rconn *rc, struct rorder *r, char *why, size_t whylen)
{
	char offered[ORDER_ID_MAX], reason[700];
	struct pkt_info pi;

	if (fsync(r->fd) < 0) {
		snprintf(reason, sizeof(reason), "bay full: fsync: %s", strerror(errno));
		return refused(rc, XF_TEMPFAIL, r->o.id, reason, why, whylen);
	}
	snprintf(offered, sizeof(offered), "%s", r->pi.id);
	memset(&pi, 0, sizeof(pi));
	if (r->whole) {		/* every byte checked before it was stored */
		pi = r->wpi;
		memset(&r->wpi, 0, sizeof(r->wpi));
	} else if (packet_verifier_end(r->v, &pi) < 0)
		pi.id[0] = 0;
	if (pi.id[0] == 0 || strcmp(pi.id, offered) != 0) {
		if (pi.id[0] && strcmp(pi.id, offered) != 0)
			snprintf(reason, sizeof(reason), "packet %s: the file is packet %s, not the "
				 "one offered", offered, pi.id);
		else
			snprintf(reason, sizeof(reason), "%s", err_get());
		pkt_info_free(&pi);
		/* keep the refused file for the administrator, with the reason */
		if (bay_partial_corrupt(r->bay, r->o.id, reason) < 0) {
			msg_warnx("packet %s: cannot keep it in corrupt/: %s", r->o.id, err_get());
			bay_partial_drop(r->bay, r->o.id);
		}
		return refused(rc, XF_REFUSE, r->o.id, reason, why, whylen);
	}
	accept_take(S->cf, &r->o, &pi);	/* committed with its group (on_commit) */
	pkt_info_free(&pi);
	return XR_COMPLETE;
}

/* A streamed order's bytes: into the opener; after the last one, every
 * step up to seen/ID is done before the engine commits (and ACKs) it. */
static int
stream_body(struct rconn *rc, struct rorder *r, const uint8_t *p, size_t n, char *why,
	    size_t whylen)
{
	char reason[700];
	int d;

	if ((d = rstream_feed(r->s, p, n, reason, sizeof(reason))) == 0) {
		r->got += n;
		sandbox_test_hook("receiver-data");	/* test builds: a forbidden call */
		if (r->got < r->o.size)
			return 0;
		d = rstream_end(r->s, reason, sizeof(reason));
	}
	switch (d) {
	case 0:
		return XR_COMPLETE;
	case BAY_LATER:
		return refused(rc, XF_TEMPFAIL, r->o.id, reason, why, whylen);
	case BAY_REFUSED:
		/* a reload since this worker was forked may have brought a key
		 * (a rotation) its key process does not hold: a receiver forked
		 * since opens it, or refuses it for good */
		if (door_reload_seen(S->statfd)) {
			rc->stale = 1;
			snprintf(why, whylen, "not opened by a receiver older than this node's "
				 "reload (%s): offer it again on a new connection", reason);
			msg_info("packet %s from %s: %s", r->o.id, rc->peer, why);
			return XF_TEMPFAIL;
		}
		return refused(rc, XF_REFUSE, r->o.id, reason, why, whylen);
	default:
		msg_panic("rstream: unknown verdict %d", d);
	}
}

/* An offer this node delivers while it receives it (rstream.c): ACCEPT
 * from byte 0 (what a dropped connection left is not kept), or HAVE when
 * a receiver died after its receipt. */
static int
stream_begin(struct rconn *rc, struct rorder *r, const struct xmsg *m, int small, char *why,
	     size_t whylen)
{
	switch (rstream_again(r->bay, &r->o)) {
	case 0:
		return XF_HAVE;
	case 1:
		break;
	default:
		return refused(rc, XF_TEMPFAIL, r->o.id, err_get(), why, whylen);
	}
	if ((r->s = rstream_start(r->bay, &r->o, &r->pi, m->hdr, m->hdrlen,
				  small ? &r->wpi : NULL)) == NULL)
		return refused(rc, XF_TEMPFAIL, r->o.id, err_get(), why, whylen);
	r->small = small;
	return 0;
}

static int
stream_offer(struct rconn *rc, struct rorder *r, const struct xmsg *m, uint64_t *offset,
	     uint64_t *size, char *why, size_t whylen)
{
	int d = stream_begin(rc, r, m, 0, why, whylen);

	if (d != 0)
		return d;
	rc->streaming = 1;
	*offset = 0;
	*size = r->o.size;
	return XF_ACCEPT;
}

/* A small packet addressed here that came whole in its offer, verified:
 * opened now, never stored as ciphertext (rstream.c), its receipt owed on
 * disk; committed (XR_COMPLETE) and acknowledged with its group once
 * on_commit made the mark durable. HAVE when it was delivered before. */
static int
small_offer(struct rconn *rc, struct rorder *r, const struct xmsg *m, char *why, size_t whylen)
{
	int d = stream_begin(rc, r, m, 1, why, whylen);

	if (d == 0 && (d = stream_body(rc, r, m->hdr, m->hdrlen, why, whylen)) == 0)
		d = stream_body(rc, r, m->data, m->datalen, why, whylen);
	return d;
}

/* Body bytes in order: verified on the way, written to partial/ID. */
static int
on_body(void *arg, void *ctx, uint64_t off, const uint8_t *p, size_t n, char *why,
	size_t whylen)
{
	struct rconn *rc = arg;
	struct rorder *r = ctx;
	char reason[700];

	if (r->s)
		return stream_body(rc, r, p, n, why, whylen);

	/* what fails before the end (a header that does not verify) is
	 * refused at once: it costs no more disk than what came so far */
	if (!r->whole && packet_verifier_feed(r->v, p, n) < 0) {
		snprintf(reason, sizeof(reason), "%s", err_get());
		bay_partial_drop(r->bay, r->o.id);
		return refused(rc, XF_REFUSE, r->o.id, reason, why, whylen);
	}
	if (r->got == r->off)	/* its first bytes: a relay sends them on as they land */
		cut_offer(r->bay, &r->o);
	if (write_all(r->fd, p, n) < 0) {
		int e = errno;

		snprintf(reason, sizeof(reason), "%s: %s", e == ENOSPC || e == EDQUOT ?
			 "bay full" : "write error", strerror(e));
		if (ftruncate(r->fd, r->got) < 0)
			bay_partial_drop(r->bay, r->o.id);
		return refused(rc, XF_TEMPFAIL, r->o.id, reason, why, whylen);
	}
	r->got += n;
	writeback_start(r->fd, &r->wb, (off_t)r->got);
	sandbox_test_hook("receiver-data");	/* test builds: a forbidden call */
	return r->got == r->o.size ? complete(rc, r, why, whylen) : 0;
}

/* r's inline offer m verified whole, in memory: 1 (r->pi and r->wpi
 * filled), else 0 and nothing kept (the ordinary checks say why). */
static int
inline_verified(struct rorder *r, const struct xmsg *m)
{
	struct pkt_verifier *w = packet_verifier_new(S->cf, r->o.id);
	int ok = packet_verifier_whole(w, m->hdr, m->hdrlen, m->data, m->datalen, &r->pi,
				       &r->wpi) > 0 && strcmp(r->pi.id, r->o.id) == 0;

	packet_verifier_free(w);
	if (!ok) {
		pkt_info_free(&r->pi);
		pkt_info_free(&r->wpi);
		memset(&r->pi, 0, sizeof(r->pi));
		memset(&r->wpi, 0, sizeof(r->wpi));
	}
	return ok;
}

static int
on_offer(void *arg, const struct xmsg *m, void **ctx, uint64_t *offset, uint64_t *size,
	 char *why, size_t whylen)
{
	struct rconn *rc = arg;
	struct rorder *r;
	struct sbuf reason = {0};
	char *otext;
	int reply, d;

	/* a receiver older than a reload left a packet to a newer one
	 * (stream_body): the sender offers its open orders again on a new
	 * connection, which a receiver forked since takes */
	if (rc->stale) {
		snprintf(why, whylen, "this receiver is older than the node's reload");
		*ctx = NULL;
		return XR_ABORT;
	}
	/* a connection lives across batches (shipd/pool.c): a peer revoked
	 * since its handshake is cut off here, at most a second later */
	if (rc->trusted_at != time(NULL)) {
		if (hop_still_trusted(rc->h, S->cf) < 0) {
			snprintf(why, whylen, "%s", err_get());
			msg_warnx("refused hop from %s via %s: %s", hop_remote(rc->h),
				  hop_proto(rc->h), why);
			*ctx = NULL;
			return XR_ABORT;
		}
		rc->trusted_at = time(NULL);
	}
	r = xcalloc(1, sizeof(*r));
	r->fd = -1;
	order_init(&r->o);
	*ctx = r;
	otext = xstrndup(m->order, m->orderlen);
	if (order_parse(otext, m->orderlen, &r->o) < 0) {
		sbuf_printf(&reason, "malformed order: %s", err_get());
		free(otext);
		d = refused(rc, XF_REFUSE, NULL, reason.s, why, whylen);
		goto out;
	}
	free(otext);
	/* an inline offer holds the whole packet: checked in memory first, with
	 * one signature (the trailer's covers the header). What fails there
	 * goes the way below, which says why and keeps what it must. */
	if ((m->flags & XF_INLINE) && m->hdrlen + m->datalen == r->o.size)
		r->whole = inline_verified(r, m);
	/* the verifier first: it checks the offered header, once (check_offer) */
	r->v = packet_verifier_new(S->cf, r->o.id);
	if (check_offer(rc->h, r->v, &r->o, &r->pi, r->whole, m->hdr, m->hdrlen, &r->bay, &reply,
			&reason) < 0) {
		if (reply == XF_HAVE) {
			msg_info("packet %s from %s: already accepted here; acknowledged again",
				 r->o.id, rc->peer);
			history_owed_again(r->o.id);	/* delivered by a receiver that died */
			d = XF_HAVE;
		} else
			d = refused(rc, reply, r->o.id, reason.s, why, whylen);
		goto out;
	}
	/* the last hop of a large packet: delivered while it arrives */
	if (!(m->flags & XF_INLINE) && !rc->streaming && rstream_wanted(&r->o, &r->pi)) {
		d = stream_offer(rc, r, m, offset, size, why, whylen);
		goto out;
	}
	/* a small one for here, whole and verified: delivered at once */
	if (r->whole && rstream_here(&r->o, &r->pi)) {
		d = small_offer(rc, r, m, why, whylen);
		goto out;
	}
	/* resume what an interrupted transfer of this packet left */
	if ((r->fd = bay_partial_open(r->bay, r->o.id, r->o.size, &r->off)) < 0) {
		if (r->fd == BAY_BUSY)
			d = refused(rc, XF_TEMPFAIL, r->o.id, err_get(), why, whylen);
		else {
			msg_warnx("packet %s: partial file in %s: %s", r->o.id, r->bay, err_get());
			d = refused(rc, XF_TEMPFAIL, r->o.id, "cannot create a temporary file", why,
				    whylen);
		}
		r->fd = -1;
		goto out;
	}
	/* an inline offer carries every byte: start afresh with those */
	if (r->off && r->whole)
		r->off = 0;
	else if (r->off && ((m->flags & XF_INLINE) || rehash(r->fd, r->v, r->off) < 0)) {
		struct pkt_info again;

		if (!(m->flags & XF_INLINE))
			msg_info("packet %s from %s: the last attempt's %llu bytes do not verify; "
				 "starting afresh", r->o.id, rc->peer, (unsigned long long)r->off);
		r->off = 0;
		packet_verifier_free(r->v);
		/* a new verifier is shown the header again, or it would verify
		 * the signature a second time when the data begins */
		r->v = packet_verifier_new(S->cf, r->o.id);
		memset(&again, 0, sizeof(again));
		if (packet_verifier_offer(r->v, m->hdr, m->hdrlen, &again) <= 0) {
			/* it verified a moment ago: not the packet's fault, try later */
			sbuf_puts(&reason, err_get());
			pkt_info_free(&again);
			d = refused(rc, XF_TEMPFAIL, r->o.id, reason.s, why, whylen);
			goto out;
		}
		pkt_info_free(&again);
	}
	if (r->off == 0 && ftruncate(r->fd, 0) < 0) {
		d = refused(rc, XF_TEMPFAIL, r->o.id, "cannot write a temporary file", why, whylen);
		goto out;
	}
	/* the disk's room for the rest, taken now: concurrent receivers that
	 * all passed the first look must not all count the same free bytes */
	if (accept_reserve(S->cf, r->bay, r->fd, r->off, &r->o, &r->pi, &reason) != ACC_OK) {
		if (r->off == 0)
			bay_partial_drop(r->bay, r->o.id);
		d = refused(rc, XF_TEMPFAIL, r->o.id, reason.s, why, whylen);
		goto out;
	}
	if (lseek(r->fd, r->off, SEEK_SET) < 0) {
		d = refused(rc, XF_TEMPFAIL, r->o.id, "cannot write a temporary file", why, whylen);
		goto out;
	}
	r->got = r->off;
	r->wb = (off_t)r->off;
	*offset = r->off;
	*size = r->o.size;
	if (m->flags & XF_INLINE) {
		if (m->hdrlen + m->datalen != r->o.size) {
			bay_partial_drop(r->bay, r->o.id);
			d = refused(rc, XF_REFUSE, r->o.id, m->hdrlen + m->datalen > r->o.size ?
				    "more data than announced" : "truncated inline offer", why, whylen);
			goto out;
		}
		if ((d = on_body(arg, r, 0, m->hdr, m->hdrlen, why, whylen)) == 0)
			d = on_body(arg, r, m->hdrlen, m->data, m->datalen, why, whylen);
		goto out;
	}
	if (r->off == r->o.size)	/* the last attempt got it all */
		d = complete(rc, r, why, whylen) == XR_COMPLETE ? XF_ACCEPT : XF_REFUSE;
	else
		d = XF_ACCEPT;
	if (r->off)
		msg_info("packet %s from %s: resuming at byte %llu of %llu", r->o.id, rc->peer,
			 (unsigned long long)r->off, (unsigned long long)r->o.size);
out:
	sbuf_free(&reason);
	return d;
}

static void
log_received(struct rconn *rc, const struct rorder *r, int group)
{
	struct sbuf d = {0};
	char grp[32] = "";

	if (r->small)
		snprintf(grp, sizeof(grp), " (group of %d)", group);
	for (int i = 0; i < r->o.dests.n; i++)
		sbuf_printf(&d, "%s%s", i ? "," : "", r->o.dests.v[i]);
	if (r->s) {
		msg_info("received %s from %s (%s) via %s: %llu bytes for %s, delivered into %s "
			 "while received%s", r->o.id, rc->peer, hop_remote(rc->h), hop_proto(rc->h),
			 (unsigned long long)r->got, d.s, r->bay, grp);
		/* its end here, as a delivery worker's finish says it */
		msg_info("order %s: done (delivered here)", r->o.id);
	} else
		msg_info("received %s from %s (%s) via %s: %llu bytes%s for %s into %s (group of "
			 "%d)", r->o.id, rc->peer, hop_remote(rc->h), hop_proto(rc->h),
			 (unsigned long long)(r->got - r->off), r->off ? " (resumed)" : "", d.s,
			 r->bay, group);
	recv_orders++;
	recv_bytes += r->got - r->off;
	sbuf_free(&d);
}

/*
 * The small packets delivered at once (rstream.c), held: committed per
 * bay, one round of fsyncs for each bay's (rstream_commit); then their
 * done/ records made durable (history_sync), and the master told of the
 * receipts they owe, one line per bay. done[i] set for each handled.
 */
static void
small_commit(struct rconn *rc, void **ctx, int n, int *ok, int *done,
	     char (*why)[XF_REASON_MAX + 1])
{
	struct rstream **v = xcalloc(n, sizeof(*v));
	int *at = xcalloc(n, sizeof(*at)), *got = xcalloc(n, sizeof(*got));
	struct strv *keys = xcalloc(n, sizeof(*keys));
	const char **bays = xcalloc(n, sizeof(*bays));
	char reason[XF_REASON_MAX + 1];
	int nb = 0;

	for (int i = 0; i < n; i++) {
		const char *bay = ((struct rorder *)ctx[i])->bay;
		int k = 0;

		if (!((struct rorder *)ctx[i])->small || done[i])
			continue;
		for (int j = i; j < n; j++) {	/* every small one of this bay */
			struct rorder *r = ctx[j];

			if (r->small && !done[j] && strcmp(r->bay, bay) == 0) {
				v[k] = r->s;
				at[k++] = j;
				done[j] = 1;
			}
		}
		rstream_commit(bay, v, k, got, reason, sizeof(reason));
		bays[nb] = bay;
		for (int m = 0; m < k; m++) {
			struct rorder *r = ctx[at[m]];

			if (got[m] == 0) {
				snprintf(why[at[m]], XF_REASON_MAX + 1, "%s", reason);
				msg_warnx("packet %s from %s: %s", r->o.id, rc->peer, reason);
				continue;
			}
			ok[at[m]] = 1;
			log_received(rc, r, k);
			if (got[m] == 2)
				strv_add(&keys[nb], r->o.id);
		}
		nb++;
	}
	/* the receipts: the master sends them, many to a packet (history.c);
	 * their done/ records are durable first */
	if (nb)
		history_sync();
	for (int b = 0; b < nb; b++) {
		history_owed_tell(bays[b], &keys[b]);
		strv_free(&keys[b]);
	}
	free(v);
	free(at);
	free(got);
	free(keys);
	free(bays);
}

/*
 * Commit a group: the small ones delivered at once (small_commit); per
 * bay, every other order's data, then the orders (one round of fsyncs,
 * bay_accept); only then is it ACKed (by the engine).
 */
static void
on_commit(void *arg, void **ctx, int n, int *ok, char (*why)[XF_REASON_MAX + 1])
{
	struct rconn *rc = arg;
	const struct order **batch = xcalloc(n, sizeof(*batch));
	int *done = xcalloc(n, sizeof(*done));

	small_commit(rc, ctx, n, ok, done, why);
	/* No seen/ marker here: while the order exists in any state
	 * accept_known() finds it, and bay_finish() writes the marker before it
	 * removes the order (accept.h). */
	for (int i = 0; i < n; i++) {
		const char *bay = ((struct rorder *)ctx[i])->bay;
		int k = 0, res;

		if (done[i])
			continue;
		if (((struct rorder *)ctx[i])->s) {	/* delivered already (rstream_end) */
			done[i] = ok[i] = 1;
			log_received(rc, ctx[i], 1);
			continue;
		}
		for (int j = i; j < n; j++)
			if (!done[j] && !((struct rorder *)ctx[j])->s &&
			    strcmp(((struct rorder *)ctx[j])->bay, bay) == 0)
				batch[k++] = &((struct rorder *)ctx[j])->o;
		res = bay_accept(bay, batch, k);
		for (int j = i; j < n; j++) {
			struct rorder *r = ctx[j];

			if (done[j] || r->s || strcmp(r->bay, bay) != 0)
				continue;
			done[j] = 1;
			if (res < 0) {
				/* not accepted: the bytes stay in partial/ to resume */
				snprintf(why[j], XF_REASON_MAX + 1, "bay full: cannot commit: %s",
					 err_get());
				msg_warnx("packet %s from %s: %s", r->o.id, rc->peer, why[j]);
				continue;
			}
			ok[j] = 1;
			log_received(rc, r, k);
		}
	}
	free(batch);
	free(done);
#ifdef SHIPD_TEST_HOOKS
	{	/* test builds: lines a receiver gone bad might send the master,
		 * tab-separated (tests/scenario/receipts_batch.sh) */
		const char *t = getenv("SHIPD_TEST_OWED_LINES");
		char *copy, *line, *save;

		if (t && S->statfd >= 0) {
			copy = xstrdup(t);
			for (line = strtok_r(copy, "\t", &save); line; line = strtok_r(NULL, "\t", &save))
				door_tell(S->statfd, line);
			free(copy);
		}
	}
#endif
	/* `shipctl peers` learns what came so far at most once a second (a
	 * note rewrites peers/PEER: a commit of two small packets would pay
	 * for it again and again), and at the connection's end: the sender
	 * may keep it open long after (shipd/pool.c) */
	if (recv_orders && hop_reusable(rc->h) && rc->noted_at != time(NULL)) {
		rc->noted_at = time(NULL);
		peer_note(&S->sched, rc->peer, PE_RECEIVED, hop_proto(rc->h), NULL, recv_orders,
			  recv_bytes);
		recv_orders = 0;
		recv_bytes = 0;
	}
}

static void
on_release(void *arg, void *ctx, int how, const char *why)
{
	struct rconn *rc = arg;
	struct rorder *r = ctx;

	if (r && r->s && r->small) {
		if (how == XR_CUT)
			msg_warnx("packet %s from %s: delivered here, not acknowledged: %s; the next "
				  "offer is answered HAVE", r->o.id, rc->peer, why);
	} else if (r && r->s) {
		rc->streaming = 0;
		if (how == XR_CUT)
			msg_warnx("packet %s from %s: transfer interrupted at byte %llu of %llu: %s; "
				  "nothing kept, the next offer starts afresh", r->o.id, rc->peer,
				  (unsigned long long)r->got, (unsigned long long)r->o.size, why);
		else if (how == XR_REFUSED) {
			char line[XF_REASON_MAX + 1];

			refused(rc, XF_REFUSE, r->o.id, why, line, sizeof(line));
		}
	} else if (r && how == XR_REFUSED) {	/* the engine refused it: nothing worth keeping */
		char line[XF_REASON_MAX + 1];

		refused(rc, XF_REFUSE, r->o.id, why, line, sizeof(line));
		bay_partial_drop(r->bay, r->o.id);
	} else if (r && how == XR_CUT && r->fd >= 0) {
		msg_warnx("packet %s from %s: transfer interrupted at byte %llu of %llu: %s", r->o.id,
			  rc->peer, (unsigned long long)r->got, (unsigned long long)r->o.size, why);
		fsync(r->fd);	/* keep it for the resume */
	}
	rorder_free(r);
}

static int
serve(struct hop *h)
{
	static const struct xr_ops ops = { on_offer, on_body, on_commit, on_release };
	struct rconn rc = { h, hop_peer(h)->name, time(NULL), 0, 0, 0 };	/* trusted: it just shook hands */
	struct xr_stats st;

	/* ps(1) tells receivers that hold a MAX-RECEIVERS slot from those at
	 * the door (shipd-door) and those closing (shipd-closing) */
	prctl(PR_SET_NAME, "shipd-recv");
	control_hop(h);		/* a certificate it showed may be news here */
	if (xrecv_serve(h, &ops, &rc, S->cf->io_timeout, &st) < 0)
		msg_info("hop from %s (%s) closed: %s", rc.peer, hop_remote(h), err_get());
	if (st.offers > 1)
		msg_info("hop from %s (%s) via %s: %lu offers (%lu inline), %lu accepted in %lu "
			 "group commits, %lu already here, %lu refused, %lu told to retry later",
			 rc.peer, hop_remote(h), hop_proto(h), st.offers, st.inline_offers,
			 st.acked, st.commits, st.have, st.refused, st.tempfail);
	/* everything it took is committed and answered: the slot is free for
	 * the next hop now, not when this process has been reaped (door.c) */
	door_tell(S->statfd, "D");
	prctl(PR_SET_NAME, "shipd-closing");
	if (recv_orders)
		peer_note(&S->sched, rc.peer, PE_RECEIVED, hop_proto(h), NULL, recv_orders,
			  recv_bytes);
	hop_close(h);
	return 0;
}

/*
 * No receiver slot: every offer is refused for now (the sender defers it,
 * the next hop stays up) until the peer says BYE or is silent for
 * HANDSHAKE-TIMEOUT; meanwhile the worker is still at the door, where a
 * newcomer may evict it.
 */
static int
busy(struct hop *h)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	struct xmsg m;
	char why[128];

	snprintf(why, sizeof(why), XF_BUSY_REASON " all %d receivers are taken; try again later",
		 S->cf->max_receivers);
	while (xmsg_recv(h, buf, &m, S->cf->handshake_timeout) == 1 && m.type == XF_OFFER)
		if (xmsg_send_reason(h, XF_TEMPFAIL, m.slot, why) < 0)
			break;
	free(buf);
	hop_close(h);
	return 0;
}

/* An authenticated hop: serve it if the master gives us a slot. */
static int
admitted(struct hop *h)
{
	switch (door_ask(S->statfd, hop_peer(h)->name, S->cf->handshake_timeout)) {
	case 1:
		return serve(h);
	case 0:
		return busy(h);
	default:
		msg_warnx("hop from %s (%s): %s", hop_peer(h)->name, hop_remote(h), err_get());
		hop_close(h);
		return 1;
	}
}

int
receiver_tcp(int fd, const struct sockaddr *from)
{
	char who[128], name[256];
	time_t t0;
	int left;
	struct hop *h;
	const struct peer *p;

	sandbox_enter(SANDBOX_RECEIVER);	/* before a byte from the network */
	t0 = time(NULL);
	/* a HELLO naming a peer of ours ranks this connection above silent
	 * ones at the door (door.c); the handshake proves it or not */
	if (hop_peek_hello(fd, S->cf->handshake_timeout * 1000, name, sizeof(name)) &&
	    (p = config_peer(S->cf, name)) != NULL && p->host && (p->has_key || S->cf->nauth))
		door_tell(S->statfd, "H");
	if ((left = S->cf->handshake_timeout - (int)(time(NULL) - t0)) <= 0) {
		msg_warnx("refused hop from %s via tcp: timeout in handshake (HANDSHAKE-TIMEOUT %ds)",
			  addr_str(from, who, sizeof(who)), S->cf->handshake_timeout);
		close(fd);
		return 1;
	}
	h = hop_accept_tcp(S->cf, S->keys, fd, left);
	if (h == NULL) {
		msg_warnx("refused hop from %s via tcp: %s", addr_str(from, who, sizeof(who)),
			  err_get());
		return 1;
	}
	return admitted(h);
}

int
receiver_udp(const void *dgram, size_t len, const struct sockaddr *from, socklen_t fromlen)
{
	char who[128];
	struct hop *h;

	sandbox_enter(SANDBOX_RECEIVER);
	h = hop_accept_udp(S->cf, S->keys, dgram, len, from, fromlen, S->cf->handshake_timeout);
	if (h == NULL) {
		msg_warnx("refused hop from %s via udp: %s", addr_str(from, who, sizeof(who)),
			  err_get());
		return 1;
	}
	return admitted(h);
}
