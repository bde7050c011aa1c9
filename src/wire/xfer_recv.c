/*
 * xfer_recv.c - the receiving end of hop protocol 4's window
 * (xfer_engine.h): one connection's open slots, the body bytes routed to
 * each in order, and group commits acknowledged in one ACK.
 *
 * Offers xrecv_serve. The protocol's rules are enforced here, so the
 * caller's callbacks only ever see well-formed, in-window, in-order input:
 * an OFFER for a new slot (numbers only grow) within XF_WINDOW; DATA only
 * for a slot being received, at its next offset and within its size (DATA
 * for a slot just closed is dropped: it was in flight when our answer
 * left); END before the last byte is a truncated transfer, refused; ABORT
 * closes a slot; BYE with nothing open ends the connection. Anything else
 * breaks the connection with the reason, and every open slot is released.
 *
 * Group commit: complete orders wait in the group; they are committed
 * together when the input runs dry (no message to read without waiting),
 * or XR_GROUP_MAX orders or XR_GROUP_BYTES are waiting, or the oldest has
 * waited XR_GROUP_WAIT_US; then one ACK names every committed order.
 * Memory: the slot table and the group; no body byte is kept beyond the
 * message in hand.
 */
#include "xfer_engine.h"
#include "wire_int.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SL_FREE, SL_DATA, SL_DONE };

struct rslot {
	uint32_t id;
	int state;
	void *ctx;
	uint64_t next, size;
};

struct xr {
	struct hop *h;
	const struct xr_ops *ops;
	void *arg;
	struct xr_stats *st;
	struct rslot s[XF_WINDOW];
	unsigned open;
	uint32_t max_id;		/* the highest slot offered (0: none yet) */
	/* the group waiting for a commit */
	void *gctx[XR_GROUP_MAX];
	uint32_t gid[XR_GROUP_MAX];
	int gn;
	uint64_t gbytes;
	int64_t gsince;
	char why[XF_REASON_MAX + 1];
};

static struct rslot *
find(struct xr *r, uint32_t id)
{
	for (unsigned i = 0; i < XF_WINDOW; i++)
		if (r->s[i].state != SL_FREE && r->s[i].id == id)
			return &r->s[i];
	return NULL;
}

static void
slot_close(struct xr *r, struct rslot *sl, int how, const char *why)
{
	r->ops->release(r->arg, sl->ctx, how, why);
	sl->state = SL_FREE;
	sl->ctx = NULL;
	r->open--;
}

/* A final answer that is not an ACK (r->why says why); closes the slot.
 * how: XR_ANSWERED (the callback's answer) or XR_REFUSED (the engine's). */
static int
answer_how(struct xr *r, struct rslot *sl, int type, int how)
{
	uint32_t id = sl->id;
	int rc;

	switch (type) {
	case XF_HAVE:
		r->st->have++;
		rc = xmsg_send_have(r->h, id);
		break;
	case XF_TEMPFAIL:
		r->st->tempfail++;
		rc = xmsg_send_reason(r->h, XF_TEMPFAIL, id, r->why);
		break;
	case XF_REFUSE:
		r->st->refused++;
		rc = xmsg_send_reason(r->h, XF_REFUSE, id, r->why);
		break;
	default:
		msg_panic("xrecv: answer type %d", type);
	}
	slot_close(r, sl, how, r->why);
	return rc;
}

static int
answer(struct xr *r, struct rslot *sl, int type)
{
	return answer_how(r, sl, type, XR_ANSWERED);
}

/* Commit the waiting group and acknowledge it. */
static int
commit(struct xr *r)
{
	int ok[XR_GROUP_MAX], n = r->gn, rc = 0, nack = 0;
	uint32_t acks[XR_GROUP_MAX];
	char (*why)[XF_REASON_MAX + 1];

	if (n == 0)
		return 0;
	why = xcalloc(XR_GROUP_MAX, sizeof(*why));
	for (int i = 0; i < n; i++)
		ok[i] = 0;
	r->ops->commit(r->arg, r->gctx, n, ok, why);
	r->st->commits++;
	for (int i = 0; i < n; i++) {
		struct rslot *sl = find(r, r->gid[i]);

		if (sl == NULL)
			msg_panic("xrecv: slot %u of the group is gone", r->gid[i]);
		if (ok[i]) {
			acks[nack++] = r->gid[i];
			slot_close(r, sl, XR_COMMITTED, NULL);
		} else {
			snprintf(r->why, sizeof(r->why), "%s", why[i][0] ? why[i] : "cannot commit");
			if (answer(r, sl, XF_TEMPFAIL) < 0)
				rc = -1;
		}
	}
	r->st->acked += nack;
	if (rc == 0 && nack && xmsg_send_ack(r->h, acks, nack) < 0)
		rc = -1;
	r->gn = 0;
	r->gbytes = 0;
	free(why);
	return rc;
}

static void
group_add(struct xr *r, struct rslot *sl)
{
	sl->state = SL_DONE;
	if (r->gn == 0)
		r->gsince = wire_now_us();
	r->gctx[r->gn] = sl->ctx;
	r->gid[r->gn] = sl->id;
	r->gn++;
	r->gbytes += sl->size;
}

static int
protocol(struct xr *r, const char *fmt, uint32_t id)
{
	char what[160];

	snprintf(what, sizeof(what), fmt, (unsigned)id);
	err_set("hop from %s: protocol error: %s", hop_remote(r->h), what);
	return -1;
}

/* The body callback's verdict on sl. */
static int
after_body(struct xr *r, struct rslot *sl, int d)
{
	switch (d) {
	case 0:
		if (sl->next == sl->size)
			msg_panic("xrecv: every byte in, but the body callback did not say so");
		return 0;
	case XR_COMPLETE:
		group_add(r, sl);
		return 0;
	case XF_TEMPFAIL:
	case XF_REFUSE:
		return answer(r, sl, d);
	default:
		msg_panic("xrecv: body callback returned %d", d);
	}
}

static int
on_offer(struct xr *r, const struct xmsg *m)
{
	struct rslot *sl = NULL;
	uint64_t off = 0, size = 0;
	int d;

	if (m->slot <= r->max_id)
		return protocol(r, "slot %u offered again or out of order", m->slot);
	if (r->open >= XF_WINDOW)
		return protocol(r, "offer of slot %u beyond the window", m->slot);
	r->max_id = m->slot;
	for (unsigned i = 0; i < XF_WINDOW && sl == NULL; i++)
		if (r->s[i].state == SL_FREE)
			sl = &r->s[i];
	sl->id = m->slot;
	sl->ctx = NULL;
	sl->state = SL_DATA;
	sl->next = sl->size = 0;
	r->open++;
	r->st->offers++;
	if (m->flags & XF_INLINE)
		r->st->inline_offers++;
	r->why[0] = 0;
	d = r->ops->offer(r->arg, m, &sl->ctx, &off, &size, r->why, sizeof(r->why));
	switch (d) {
	case XF_ACCEPT:
		if (off > size)
			msg_panic("xrecv: resume offset %llu beyond %llu", (unsigned long long)off,
				  (unsigned long long)size);
		sl->next = off;
		sl->size = size;
		if (off == size) {	/* an earlier attempt left it complete */
			group_add(r, sl);
			return 0;
		}
		return xmsg_send_accept(r->h, m->slot, off);
	case XR_COMPLETE:
		sl->next = sl->size = size;
		group_add(r, sl);
		return 0;
	case XF_HAVE:
	case XF_TEMPFAIL:
	case XF_REFUSE:
		return answer(r, sl, d);
	case XR_ABORT:
		err_set("%s", r->why);
		return -1;
	default:
		msg_panic("xrecv: offer callback returned %d", d);
	}
}

static int
on_data(struct xr *r, const struct xmsg *m)
{
	struct rslot *sl = find(r, m->slot);
	int d;

	if (sl == NULL) {
		if (m->slot <= r->max_id)
			return 0;	/* closed while this was in flight */
		return protocol(r, "data for slot %u never offered", m->slot);
	}
	if (sl->state != SL_DATA || m->offset != sl->next)
		return protocol(r, "data for slot %u out of order", m->slot);
	if (m->datalen > sl->size - sl->next) {
		snprintf(r->why, sizeof(r->why), "more data than announced");
		return answer_how(r, sl, XF_REFUSE, XR_REFUSED);
	}
	r->why[0] = 0;
	d = r->ops->body(r->arg, sl->ctx, m->offset, m->data, m->datalen, r->why, sizeof(r->why));
	sl->next += m->datalen;
	r->st->bytes += m->datalen;
	return after_body(r, sl, d);
}

/* END: the sender's file ended; short of the size it is refused. */
static int
on_end(struct xr *r, const struct xmsg *m)
{
	struct rslot *sl = find(r, m->slot);

	if (sl == NULL || sl->state != SL_DATA)
		return sl || m->slot <= r->max_id ? 0 : protocol(r, "END for slot %u never offered",
								   m->slot);
	snprintf(r->why, sizeof(r->why), "truncated: %llu of %llu bytes",
		 (unsigned long long)sl->next, (unsigned long long)sl->size);
	return answer_how(r, sl, XF_REFUSE, XR_REFUSED);
}

static void
release_all(struct xr *r, const char *why)
{
	for (unsigned i = 0; i < XF_WINDOW; i++)
		if (r->s[i].state != SL_FREE)
			slot_close(r, &r->s[i], XR_CUT, why);
	r->gn = 0;
}

int
xrecv_serve(struct hop *h, const struct xr_ops *ops, void *arg, int io_s,
	    struct xr_stats *st)
{
	struct xr *r = xcalloc(1, sizeof(*r));
	struct xr_stats junk;
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	struct xmsg m;
	char why[600];
	int rc = -1;

	r->h = h;
	r->ops = ops;
	r->arg = arg;
	r->st = st ? st : &junk;
	memset(r->st, 0, sizeof(*r->st));
	for (;;) {
		int n;

		/* commit when the input runs dry or the group is full or old */
		if (r->gn && (r->gn == XR_GROUP_MAX || r->gbytes >= XR_GROUP_BYTES ||
			      wire_now_us() - r->gsince >= XR_GROUP_WAIT_US ||
			      !hop_readable(h, 0))) {
			if (commit(r) < 0)
				goto out;
		}
		n = xmsg_recv(h, buf, &m, io_s);
		if (n == 0) {
			err_set("hop from %s: closed by the peer%s", hop_remote(h),
				r->open ? " with transfers open" : "");
			if (r->open == 0)
				rc = 0;
			goto out;
		}
		if (n < 0)
			goto out;
		switch (m.type) {
		case XF_OFFER:
			if (on_offer(r, &m) < 0)
				goto out;
			break;
		case XF_DATA:
			if (on_data(r, &m) < 0)
				goto out;
			break;
		case XF_END:
			if (on_end(r, &m) < 0)
				goto out;
			break;
		case XF_ABORT: {
			struct rslot *sl = find(r, m.slot);

			if (sl && sl->state == SL_DATA) {
				r->st->aborted++;
				snprintf(r->why, sizeof(r->why), "aborted by the sender: %.*s",
					 (int)m.reasonlen, m.reason);
				slot_close(r, sl, XR_CUT, r->why);
			} else if (sl == NULL && m.slot > r->max_id) {
				protocol(r, "abort of slot %u never offered", m.slot);
				goto out;
			}	/* complete already: the commit answers it */
			break;
		}
		case XF_BYE:
			if (commit(r) < 0)
				goto out;
			if (r->open) {
				protocol(r, "BYE with %u orders open", r->open);
				goto out;
			}
			rc = 0;
			goto out;
		default:
			err_set("hop from %s: protocol error: unexpected %s from a sender",
				hop_remote(h), xmsg_type_name(m.type));
			goto out;
		}
	}
out:
	/*
	 * A group not committed is released: the caller keeps it to resume
	 * (committing it unacknowledged would only make the next offer HAVE).
	 */
	snprintf(why, sizeof(why), "%s", rc == 0 ? "connection closed" : err_get());
	release_all(r, why);
	free(buf);
	free(r);
	if (rc < 0)
		err_set("%s", why);
	return rc;
}
