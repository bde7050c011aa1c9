/*
 * xfer.c - hop protocol 5's transfer messages (xfer.h): parse one message
 * into a struct xmsg, and build each message in a caller's staging buffer
 * (or a small stack one) for hop_send.
 *
 * Offers xmsg_*. Every length is checked against the message before it is
 * used; a reason must be printable one-line text; unknown types and flags
 * are refused. Never allocates, never keeps a pointer past the message it
 * was given, never sends a message it could not parse.
 */
#include "xfer.h"
#include "wire_int.h"
#include "../util/log.h"

#include <stdio.h>
#include <string.h>

const char *
xmsg_type_name(int type)
{
	switch (type) {
	case XF_OFFER: return "OFFER";
	case XF_ACCEPT: return "ACCEPT";
	case XF_HAVE: return "HAVE";
	case XF_TEMPFAIL: return "TEMPFAIL";
	case XF_REFUSE: return "REFUSE";
	case XF_DATA: return "DATA";
	case XF_END: return "END";
	case XF_ACK: return "ACK";
	case XF_ABORT: return "ABORT";
	case XF_BYE: return "BYE";
	default: return "unknown";
	}
}

static int
bad(int type, const char *why)
{
	if (type >= 0x20 && type < 0x7f)
		err_set("malformed %s message (type '%c'): %s", xmsg_type_name(type), type, why);
	else
		err_set("malformed message (type 0x%02x): %s", type & 0xff, why);
	return -1;
}

static int
printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int
xmsg_parse(const uint8_t *b, size_t len, struct xmsg *m)
{
	const uint8_t *p = b + 1;
	size_t n = len - 1;
	int type;

	memset(m, 0, sizeof(*m));
	if (len < 1)
		return bad(0, "empty");
	type = m->type = b[0];
	switch (type) {
	case XF_OFFER: {
		uint32_t hl, ol;

		if (n < XF_OFFER_HEAD)
			return bad(type, "too short");
		m->slot = get32(p);
		m->flags = p[4];
		hl = get32(p + 5);
		ol = get32(p + 9);
		if (m->flags & ~XF_INLINE)
			return bad(type, "unknown flags");
		if (hl > n - XF_OFFER_HEAD || ol > n - XF_OFFER_HEAD - hl)
			return bad(type, "lengths beyond the message");
		if (hl == 0 || ol == 0)
			return bad(type, "no header or no order");
		m->hdr = p + XF_OFFER_HEAD;
		m->hdrlen = hl;
		m->order = (const char *)m->hdr + hl;
		m->orderlen = ol;
		m->data = (const uint8_t *)m->order + ol;
		m->datalen = n - XF_OFFER_HEAD - hl - ol;
		if (!(m->flags & XF_INLINE) && m->datalen)
			return bad(type, "data after the order without the inline flag");
		break;
	}
	case XF_ACCEPT:
		if (n != 12)
			return bad(type, "wrong length");
		m->slot = get32(p);
		m->offset = wire_get64(p + 4);
		break;
	case XF_DATA:
		if (n <= XF_DATA_HEAD)
			return bad(type, "no bytes");
		m->slot = get32(p);
		m->offset = wire_get64(p + 4);
		m->data = p + XF_DATA_HEAD;
		m->datalen = n - XF_DATA_HEAD;
		break;
	case XF_HAVE:
	case XF_END:
		if (n != 4)
			return bad(type, "wrong length");
		m->slot = get32(p);
		break;
	case XF_ACK:
		if (n < 2)
			return bad(type, "too short");
		m->nslots = p[0] << 8 | p[1];
		if (m->nslots == 0 || m->nslots > XF_ACK_MAX || n != 2 + 4 * (size_t)m->nslots)
			return bad(type, "slot count does not match");
		m->slots = p + 2;
		m->slot = get32(m->slots);
		break;
	case XF_TEMPFAIL:
	case XF_REFUSE:
	case XF_ABORT:
		if (n < 4)
			return bad(type, "too short");
		m->slot = get32(p);
		m->reason = (const char *)p + 4;
		m->reasonlen = n - 4;
		if (m->reasonlen > XF_REASON_MAX)
			return bad(type, "reason too long");
		if (!printable(m->reason, m->reasonlen))
			return bad(type, "reason not printable");
		break;
	case XF_BYE:
		if (n != 0)
			return bad(type, "wrong length");
		break;
	default:
		return bad(type, "unknown type");
	}
	return 0;
}

int
xmsg_recv(struct hop *h, uint8_t *buf, struct xmsg *m, int timeout_s)
{
	ssize_t n = hop_recv(h, buf, HOP_MAX_MSG, timeout_s);

	if (n == 0 && hop_eof(h))
		return 0;
	if (n < 0)
		return -1;
	if (xmsg_parse(buf, n, m) < 0) {
		char why[300];

		snprintf(why, sizeof(why), "%s", err_get());
		err_set("hop %s: %s", hop_remote(h), why);
		return -1;
	}
	return 1;
}

uint32_t
xmsg_ack_slot(const struct xmsg *m, unsigned i)
{
	return i < m->nslots ? get32(m->slots + 4 * (size_t)i) : 0;
}

int
xmsg_offer_fits(size_t hdrlen, size_t orderlen, size_t restlen)
{
	return 1 + XF_OFFER_HEAD + hdrlen + orderlen + restlen <= HOP_MAX_MSG;
}

int
xmsg_send_offer(struct hop *h, uint8_t *buf, uint32_t slot, unsigned flags, const void *hdr,
		size_t hdrlen, const char *order, size_t orderlen, const void *rest,
		size_t restlen)
{
	uint8_t *p = buf;

	if (!xmsg_offer_fits(hdrlen, orderlen, restlen)) {
		err_set("offer of %zu bytes does not fit a hop message",
			XF_OFFER_HEAD + hdrlen + orderlen + restlen);
		return -1;
	}
	*p++ = XF_OFFER;
	put32(p, slot);
	p[4] = (uint8_t)flags;
	put32(p + 5, (uint32_t)hdrlen);
	put32(p + 9, (uint32_t)orderlen);
	p += XF_OFFER_HEAD;
	memcpy(p, hdr, hdrlen);
	memcpy(p + hdrlen, order, orderlen);
	if (restlen && rest != p + hdrlen + orderlen)
		memmove(p + hdrlen + orderlen, rest, restlen);
	/* the file's bytes are the body: header and order stay encrypted */
	return hop_send_body(h, buf, 1 + XF_OFFER_HEAD + hdrlen + orderlen + restlen,
			     1 + XF_OFFER_HEAD + hdrlen + orderlen, -1, 0);
}

int
xmsg_send_accept(struct hop *h, uint32_t slot, uint64_t offset)
{
	uint8_t b[13] = { XF_ACCEPT };

	put32(b + 1, slot);
	wire_put64(b + 5, offset);
	return hop_send(h, b, sizeof(b));
}

static int
send_slot(struct hop *h, int type, uint32_t slot)
{
	uint8_t b[5] = { (uint8_t)type };

	put32(b + 1, slot);
	return hop_send(h, b, sizeof(b));
}

int
xmsg_send_have(struct hop *h, uint32_t slot)
{
	return send_slot(h, XF_HAVE, slot);
}

int
xmsg_send_end(struct hop *h, uint32_t slot)
{
	return send_slot(h, XF_END, slot);
}

int
xmsg_send_ack(struct hop *h, const uint32_t *slots, unsigned n)
{
	uint8_t b[3 + 4 * XF_ACK_MAX];

	while (n > 0) {
		unsigned k = n < XF_ACK_MAX ? n : XF_ACK_MAX;

		b[0] = XF_ACK;
		b[1] = k >> 8;
		b[2] = k;
		for (unsigned i = 0; i < k; i++)
			put32(b + 3 + 4 * i, slots[i]);
		if (hop_send(h, b, 3 + 4 * k) < 0)
			return -1;
		slots += k;
		n -= k;
	}
	return 0;
}

int
xmsg_send_reason(struct hop *h, int type, uint32_t slot, const char *reason)
{
	uint8_t b[5 + XF_REASON_MAX];
	size_t n = 0;

	if (type != XF_TEMPFAIL && type != XF_REFUSE && type != XF_ABORT)
		msg_panic("xmsg_send_reason: type %d has no reason", type);
	b[0] = (uint8_t)type;
	put32(b + 1, slot);
	for (; reason && reason[n] && n < XF_REASON_MAX; n++)
		b[5 + n] = (unsigned char)reason[n] >= 0x20 && (unsigned char)reason[n] < 0x7f ?
			   reason[n] : '?';
	return hop_send(h, b, 5 + n);
}

int
xmsg_send_bye(struct hop *h)
{
	uint8_t b = XF_BYE;

	return hop_send(h, &b, 1);
}

static void
data_head(uint8_t *buf, uint32_t slot, uint64_t offset, size_t n)
{
	if (n == 0 || n > XF_DATA_MAX)
		msg_panic("xmsg_send_data: %zu bytes", n);
	buf[0] = XF_DATA;
	put32(buf + 1, slot);
	wire_put64(buf + 5, offset);
}

int
xmsg_send_data(struct hop *h, uint8_t *buf, uint32_t slot, uint64_t offset, size_t n, int fd)
{
	data_head(buf, slot, offset, n);
	/* type, slot and offset encrypted; the bytes authenticated with them */
	return hop_send_body(h, buf, 1 + XF_DATA_HEAD + n, 1 + XF_DATA_HEAD, fd, (off_t)offset);
}

int
xmsg_send_data_sealed(struct hop *h, uint8_t *buf, uint32_t slot, uint64_t offset, size_t n)
{
	data_head(buf, slot, offset, n);
	return hop_send(h, buf, 1 + XF_DATA_HEAD + n);
}

int
xfer_is_busy(const uint8_t *reason, size_t n)
{
	size_t k = strlen(XF_BUSY_REASON);

	return n >= k && memcmp(reason, XF_BUSY_REASON, k) == 0;
}
