/*
 * xfer.c - framing of transfer-protocol messages over a hop (see xfer.h).
 * Parsing is bounded by the message length; nothing here allocates per
 * message beyond the caller's buffer except one staging buffer for sends.
 */
#include "xfer.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>

int
xfer_send(struct hop *h, int type, const void *p, size_t n)
{
	static uint8_t *buf;

	if (n > XF_DATA_MAX) {
		err_set("message too long (%zu bytes)", n);
		return -1;
	}
	if (buf == NULL)
		buf = xmalloc(HOP_MAX_MSG);
	buf[0] = type;
	if (n)
		memcpy(buf + 1, p, n);
	return hop_send(h, buf, n + 1);
}

int
xfer_send_str(struct hop *h, int type, const char *s)
{
	return xfer_send(h, type, s, strlen(s));
}

int
xfer_send_offer(struct hop *h, const void *hdr, size_t hdrlen, const char *order)
{
	size_t olen = strlen(order), n = 4 + hdrlen + olen;
	uint8_t *p;
	int rc;

	if (n > XF_DATA_MAX) {
		err_set("offer too long (%zu bytes)", n);
		return -1;
	}
	p = xmalloc(n);
	p[0] = hdrlen >> 24;
	p[1] = hdrlen >> 16;
	p[2] = hdrlen >> 8;
	p[3] = hdrlen;
	memcpy(p + 4, hdr, hdrlen);
	memcpy(p + 4 + hdrlen, order, olen);
	rc = xfer_send(h, XF_OFFER, p, n);
	free(p);
	return rc;
}

int
xfer_send_offset(struct hop *h, uint64_t off)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = off >> (56 - 8 * i);
	return xfer_send(h, XF_ACCEPT, b, 8);
}

ssize_t
xfer_recv(struct hop *h, int *type, uint8_t *buf, size_t size, int timeout_s)
{
	ssize_t n = hop_recv(h, buf, size, timeout_s);

	if (n == 0)
		err_set("connection closed by %s", hop_remote(h));
	if (n <= 0)
		return -1;
	*type = buf[0];
	memmove(buf, buf + 1, n - 1);
	return n - 1;
}

int
xfer_parse_offer(const uint8_t *p, size_t n, const uint8_t **hdr, size_t *hdrlen,
		 const char **order, size_t *orderlen)
{
	size_t hl;

	if (n < 4)
		return -1;
	hl = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (hl > n - 4)
		return -1;
	*hdr = p + 4;
	*hdrlen = hl;
	*order = (const char *)p + 4 + hl;
	*orderlen = n - 4 - hl;
	return 0;
}

const char *
xfer_type_name(int type)
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
	case XF_BYE: return "BYE";
	default: return "UNKNOWN";
	}
}

int
xfer_is_busy(const uint8_t *reason, size_t n)
{
	size_t k = strlen(XF_BUSY_REASON);

	return n >= k && memcmp(reason, XF_BUSY_REASON, k) == 0;
}
