/*
 * xfer_send.c - the sending end of hop protocol 4's window
 * (xfer_engine.h): offers go out as the caller hands orders over, small
 * files inside their OFFER, accepted bodies are streamed one after the
 * other, and every answer is handed back naming the order it closes.
 *
 * Offers xsend_*. Slot numbers start at 1 and only grow. A body goes in
 * DATA messages of at most XF_DATA_MAX bytes, read straight into the
 * staging buffer; between two of them the answers that have arrived are
 * read, so an ACK never waits behind a large body, and the receiver's
 * answers (bounded by the window) can never fill the socket while we
 * write.
 *
 * A file still being written (xs_item.ready: a relay forwarding what it
 * receives) is sent as its bytes land, never beyond its size.
 *
 * Never sends a body byte the receiver did not ask for (ACCEPT offset),
 * never answers an order twice, never keeps an order after its answer.
 */
#include "xfer_engine.h"
#include "wire_int.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SS_FREE, SS_OFFERED, SS_STREAM };

struct sslot {
	uint32_t id;
	int state;
	struct xs_item it;
	uint64_t off;			/* SS_STREAM: the next byte to send */
	struct sslot *qnext;		/* the stream queue */
};

struct xsend {
	struct hop *h;
	const struct xs_ops *ops;
	void *arg;
	struct sslot s[XF_WINDOW];
	unsigned open;
	uint32_t next_id;
	unsigned long answers;
	struct sslot *qhead, *qtail;	/* accepted, streaming in this order */
	uint8_t *buf;			/* staging: one message out */
	uint8_t *rbuf;			/* one message in */
	int64_t last;			/* when the receiver last said something */
	int dead;
};

struct xsend *
xsend_new(struct hop *h, const struct xs_ops *ops, void *arg)
{
	struct xsend *s = xcalloc(1, sizeof(*s));

	s->h = h;
	s->ops = ops;
	s->arg = arg;
	s->next_id = 1;
	s->buf = xmalloc(HOP_MAX_MSG);
	s->rbuf = xmalloc(HOP_MAX_MSG);
	s->last = wire_now_us();
	return s;
}

int
xsend_room(const struct xsend *s)
{
	return s->dead ? 0 : (int)(XF_WINDOW - s->open);
}

int
xsend_open(const struct xsend *s)
{
	return (int)s->open;
}

int
xsend_broken(const struct xsend *s)
{
	return s->dead;
}

unsigned long
xsend_answers(const struct xsend *s)
{
	return s->answers;
}

static struct sslot *
find(struct xsend *s, uint32_t id)
{
	for (unsigned i = 0; i < XF_WINDOW; i++)
		if (s->s[i].state != SS_FREE && s->s[i].id == id)
			return &s->s[i];
	return NULL;
}

static void
dequeue(struct xsend *s, struct sslot *sl)
{
	struct sslot **pp = &s->qhead, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->qnext)
		if (*pp == sl) {
			*pp = sl->qnext;
			if (s->qtail == sl)
				s->qtail = prev;
			break;
		}
	sl->qnext = NULL;
}

/* The order's answer; frees its slot. */
static void
close_slot(struct xsend *s, struct sslot *sl, int type, const char *why)
{
	void *ctx = sl->it.ctx;

	if (sl->state == SS_STREAM)
		dequeue(s, sl);
	sl->state = SS_FREE;
	s->open--;
	if (type != XS_LOST)
		s->answers++;
	s->ops->answer(s->arg, ctx, type, why);
}

void
xsend_abandon(struct xsend *s, const char *why)
{
	s->dead = 1;
	for (unsigned i = 0; i < XF_WINDOW; i++)
		if (s->s[i].state != SS_FREE)
			close_slot(s, &s->s[i], XS_LOST, why);
}

static int
broke(struct xsend *s)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", err_get());
	xsend_abandon(s, why);
	err_set("%s", why);
	return -1;
}

int
xsend_offer(struct xsend *s, const struct xs_item *it)
{
	struct sslot *sl = NULL;
	uint8_t *rest;
	size_t restlen = 0;
	unsigned flags = 0;

	if (s->dead) {
		err_set("connection already broken");
		return -1;
	}
	if (xsend_room(s) <= 0)
		msg_panic("xsend_offer: no room in the window");
	for (unsigned i = 0; i < XF_WINDOW && sl == NULL; i++)
		if (s->s[i].state == SS_FREE)
			sl = &s->s[i];
	sl->id = s->next_id++;
	sl->it = *it;
	sl->off = 0;
	sl->state = SS_OFFERED;
	sl->qnext = NULL;
	s->open++;
	/* a small file travels in its offer: the rest after the header is read
	 * straight to where the message wants it */
	rest = s->buf + 1 + XF_OFFER_HEAD + it->hdrlen + it->orderlen;
	if (it->size <= XF_INLINE_MAX && it->size >= it->hdrlen &&
	    xmsg_offer_fits(it->hdrlen, it->orderlen, it->size - it->hdrlen)) {
		ssize_t n;

		restlen = it->size - it->hdrlen;
		n = restlen ? pread(it->fd, rest, restlen, (off_t)it->hdrlen) : 0;
		if (n != (ssize_t)restlen) {
			char why[300];

			snprintf(why, sizeof(why), "packet %s: read: %s", it->id,
				 n < 0 ? strerror(errno) : "short file");
			close_slot(s, sl, XS_LOST, why);
			return 0;
		}
		flags = XF_INLINE;
	}
	if (xmsg_send_offer(s->h, s->buf, sl->id, flags, it->hdr, it->hdrlen, it->order,
			    it->orderlen, rest, restlen) < 0)
		return broke(s);
	return 0;
}

/* One DATA message of the slot at the head of the queue. */
static int
stream_one(struct xsend *s)
{
	struct sslot *sl = s->qhead;
	uint64_t left = sl->it.size - sl->off;
	size_t want = left < XF_DATA_MAX ? left : XF_DATA_MAX;
	int64_t there = sl->it.ready ? sl->it.ready(sl->it.ctx, sl->off) : (int64_t)want;
	ssize_t n;

	if (there == 0)		/* a growing file: nothing new yet */
		return 0;
	if (there < 0) {
		char why[300];

		snprintf(why, sizeof(why), "packet %s: given up at byte %llu: %s", sl->it.id,
			 (unsigned long long)sl->off, err_get());
		if (xmsg_send_reason(s->h, XF_ABORT, sl->id, why) < 0)
			return broke(s);
		close_slot(s, sl, XS_LOST, why);
		return 0;
	}
	if ((uint64_t)there < want)
		want = there;
	/* the signed header is readable text (destinations, notify address):
	 * sent from offset 0, it goes in a DATA message of its own, sealed */
	if (sl->off < sl->it.hdrlen && want > sl->it.hdrlen - sl->off)
		want = sl->it.hdrlen - sl->off;
	n = pread(sl->it.fd, s->buf + 1 + XF_DATA_HEAD, want, (off_t)sl->off);
	if (n <= 0) {
		char why[300];
		int rc;

		/* a file shorter than its order says is cut short (END: the
		 * receiver refuses it); one we cannot read is given up */
		snprintf(why, sizeof(why), "packet %s: read at byte %llu: %s", sl->it.id,
			 (unsigned long long)sl->off, n < 0 ? strerror(errno) : "short file");
		rc = n == 0 ? xmsg_send_end(s->h, sl->id) :
		     xmsg_send_reason(s->h, XF_ABORT, sl->id, why);
		if (rc < 0)
			return broke(s);
		close_slot(s, sl, XS_LOST, why);
		return 0;
	}
	if ((sl->off < sl->it.hdrlen ?
	     xmsg_send_data_sealed(s->h, s->buf, sl->id, sl->off, n) :
	     xmsg_send_data(s->h, s->buf, sl->id, sl->off, n, sl->it.fd)) < 0)
		return broke(s);
	sl->off += n;
	if (s->ops->progress)
		s->ops->progress(s->arg, sl->it.ctx, sl->off, sl->it.size);
	if (sl->off == sl->it.size) {	/* all sent: the answer comes after the commit */
		dequeue(s, sl);
		sl->state = SS_OFFERED;
		s->last = wire_now_us();	/* the receiver's time to commit starts */
	}
	return 0;
}

static int
protocol(struct xsend *s, const char *what, uint32_t id)
{
	err_set("hop to %s: protocol error: %s (slot %u)", hop_remote(s->h), what, (unsigned)id);
	return broke(s);
}

static int
on_message(struct xsend *s, const struct xmsg *m)
{
	struct sslot *sl;

	if (m->type == XF_ACK) {
		for (unsigned i = 0; i < m->nslots; i++) {
			if ((sl = find(s, xmsg_ack_slot(m, i))) == NULL)
				return protocol(s, "ACK for no open order", xmsg_ack_slot(m, i));
			close_slot(s, sl, XF_ACK, NULL);
		}
		return 0;
	}
	if (m->type == XF_BYE)
		return protocol(s, "BYE from the receiver", 0);
	if ((sl = find(s, m->slot)) == NULL)
		return protocol(s, "an answer for no open order", m->slot);
	switch (m->type) {
	case XF_ACCEPT:
		if (sl->state != SS_OFFERED || sl->off != 0 || m->offset > sl->it.size)
			return protocol(s, "ACCEPT out of place or beyond the file", m->slot);
		sl->off = m->offset;
		if (s->ops->accepted)
			s->ops->accepted(s->arg, sl->it.ctx, sl->off, sl->it.size);
		if (sl->off < sl->it.size) {
			sl->state = SS_STREAM;
			if (s->qtail)
				s->qtail->qnext = sl;
			else
				s->qhead = sl;
			s->qtail = sl;
		}
		return 0;
	case XF_HAVE:
		close_slot(s, sl, XF_HAVE, NULL);
		return 0;
	case XF_TEMPFAIL:
	case XF_REFUSE: {
		char why[XF_REASON_MAX + 1];

		snprintf(why, sizeof(why), "%.*s", (int)m->reasonlen, m->reason);
		close_slot(s, sl, m->type, why);
		return 0;
	}
	default:
		return protocol(s, "a message only a sender sends", m->slot);
	}
}

/* Read every answer already there; wait up to timeout_ms for the first. */
static int
drain(struct xsend *s, int timeout_ms)
{
	struct xmsg m;
	int r;

	while (!s->dead && hop_readable(s->h, timeout_ms)) {
		timeout_ms = 0;
		if ((r = xmsg_recv(s->h, s->rbuf, &m, 0)) == 0) {
			err_set("hop to %s: closed by the receiver", hop_remote(s->h));
			return broke(s);
		}
		if (r < 0)
			return broke(s);
		s->last = wire_now_us();
		if (on_message(s, &m) < 0)
			return -1;
	}
	return s->dead ? -1 : 0;
}

int
xsend_pump(struct xsend *s, int timeout_ms)
{
	if (s->dead)
		return -1;
	if (drain(s, 0) < 0)
		return -1;
	if (s->qhead)
		return stream_one(s);
	if (s->open == 0)
		return 0;
	if (drain(s, timeout_ms) < 0)
		return -1;
	/* everything sent, answers owed: the receiver has IO-TIMEOUT to speak */
	if (s->open && s->qhead == NULL &&
	    wire_now_us() - s->last > (int64_t)s->h->timeout_s * 1000000) {
		err_set("hop to %s: no answer for %d s with %u orders open", hop_remote(s->h),
			s->h->timeout_s, s->open);
		return broke(s);
	}
	return 0;
}

int
xsend_bye(struct xsend *s)
{
	if (s->dead || s->open)
		return -1;
	if (xmsg_send_bye(s->h) < 0)
		return broke(s);
	return 0;
}

void
xsend_free(struct xsend *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	free(s->rbuf);
	free(s);
}
