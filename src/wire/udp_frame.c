/*
 * udp_frame.c - frames inside the UDP transport's sealed packets, their
 * variable-length integers and the range sets; udp_frame.h has the
 * formats. Fed by the fuzzer through the transport: a parser never reads
 * past its buffer and rejects anything that does not add up (an ACK range
 * below zero, a STREAM frame longer than the packet, an offset past 2^62).
 */
#include "udp_frame.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- variable-length integers (RFC 9000 16) ---- */

size_t
vi_len(uint64_t v)
{
	return v < 64 ? 1 : v < 16384 ? 2 : v < (1ULL << 30) ? 4 : 8;
}

uint8_t *
vi_put(uint8_t *p, uint64_t v)
{
	size_t n = vi_len(v);
	uint8_t tag = n == 1 ? 0 : n == 2 ? 0x40 : n == 4 ? 0x80 : 0xc0;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	p[0] |= tag;
	return p + n;
}

int
vi_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	size_t n;

	if (p >= end)
		return -1;
	n = (size_t)1 << (p[0] >> 6);
	if ((size_t)(end - p) < n)
		return -1;
	*v = p[0] & 0x3f;
	for (size_t i = 1; i < n; i++)
		*v = *v << 8 | p[i];
	*pp = p + n;
	return 0;
}

/* ---- range sets ---- */

void
rset_init(struct rset *s, int cap)
{
	s->n = 0;
	s->cap = cap;
	s->r = xcalloc(cap, sizeof(*s->r));
}

void
rset_free(struct rset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = s->cap = 0;
}

/* Index of the first range whose hi >= x (ranges touching x included). */
static int
first_reaching(const struct rset *s, uint64_t x)
{
	int lo = 0, hi = s->n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (s->r[mid].hi < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
rset_add(struct rset *s, uint64_t lo, uint64_t hi)
{
	int i, j;

	if (lo >= hi)
		return 0;
	i = first_reaching(s, lo);
	/* ranges i..j-1 overlap or touch [lo, hi) */
	for (j = i; j < s->n && s->r[j].lo <= hi; j++) {
		if (s->r[j].lo < lo)
			lo = s->r[j].lo;
		if (s->r[j].hi > hi)
			hi = s->r[j].hi;
	}
	if (j == i) {				/* a new range at i */
		if (s->n == s->cap)
			return -1;
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
		s->n++;
	} else if (j > i + 1) {			/* several merge into i */
		memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(*s->r));
		s->n -= j - i - 1;
	}
	s->r[i].lo = lo;
	s->r[i].hi = hi;
	return 0;
}

void
rset_add_cover(struct rset *s, uint64_t lo, uint64_t hi)
{
	uint64_t a, b;
	int i;

	if (lo >= hi || rset_add(s, lo, hi) == 0 || s->n == 0)
		return;
	/* full, and [lo, hi) touches no range: the nearer neighbour takes it in */
	i = first_reaching(s, lo);
	if (i == s->n || (i > 0 && lo - s->r[i - 1].hi < s->r[i].lo - hi))
		i--;
	a = s->r[i].lo < lo ? s->r[i].lo : lo;
	b = s->r[i].hi > hi ? s->r[i].hi : hi;
	rset_remove(s, s->r[i].lo, s->r[i].hi);	/* a whole range: never splits */
	(void)rset_add(s, a, b);		/* a slot is free: cannot fail */
}

int
rset_remove(struct rset *s, uint64_t lo, uint64_t hi)
{
	int i = first_reaching(s, lo + 1);

	if (lo >= hi)
		return 0;
	if (i < s->n && s->r[i].lo < lo && s->r[i].hi > hi) {	/* split in two */
		if (s->n == s->cap)
			return -1;
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
		s->n++;
		s->r[i].hi = lo;
		s->r[i + 1].lo = hi;
		return 0;
	}
	while (i < s->n && s->r[i].lo < hi) {
		if (s->r[i].lo < lo) {			/* keep its head */
			s->r[i].hi = lo;
			i++;
		} else if (s->r[i].hi > hi) {		/* keep its tail */
			s->r[i].lo = hi;
			break;
		} else {				/* all of it goes */
			memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof(*s->r));
			s->n--;
		}
	}
	return 0;
}

int
rset_has(const struct rset *s, uint64_t x)
{
	int i = first_reaching(s, x + 1);

	return i < s->n && s->r[i].lo <= x;
}

void
rset_drop_below(struct rset *s, uint64_t x)
{
	if (x > 0)
		rset_remove(s, 0, x);	/* never splits: nothing lies below 0 */
}

/* ---- frames ---- */

static int
parse_ack(const uint8_t **p, const uint8_t *end, struct uframe *f)
{
	uint64_t count, first, smallest;

	if (vi_get(p, end, &f->largest) < 0 || vi_get(p, end, &f->delay) < 0 ||
	    vi_get(p, end, &count) < 0 || vi_get(p, end, &first) < 0)
		return -1;
	if (first > f->largest || count >= UF_ACK_RANGES)
		return -1;
	smallest = f->largest - first;
	f->ranges[0].lo = smallest;
	f->ranges[0].hi = f->largest + 1;
	f->nranges = 1;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t gap, len, top;

		if (vi_get(p, end, &gap) < 0 || vi_get(p, end, &len) < 0)
			return -1;
		if (smallest < gap + 2)
			return -1;
		top = smallest - gap - 2;
		if (len > top)
			return -1;
		smallest = top - len;
		f->ranges[f->nranges].lo = smallest;
		f->ranges[f->nranges].hi = top + 1;
		f->nranges++;
	}
	return 1;
}

int
uf_parse(const uint8_t **p, const uint8_t *end, struct uframe *f)
{
	uint64_t len;

	if (*p >= end || **p == UF_PADDING)
		return 0;
	f->type = *(*p)++;
	switch (f->type) {
	case UF_PING:
	case UF_ACK_NOW:
		return 1;
	case UF_ACK:
		return parse_ack(p, end, f);
	case UF_MAX_DATA:
	case UF_BLOCKED:
		return vi_get(p, end, &f->max) < 0 ? -1 : 1;
	case UF_STREAM:
	case UF_STREAM | UF_FIN:
	case UF_BODY:
	case UF_BODY | UF_FIN:
		f->fin = f->type & UF_FIN;
		f->body = (f->type & ~UF_FIN) == UF_BODY;
		f->type = UF_STREAM;
		if (vi_get(p, end, &f->off) < 0 || vi_get(p, end, &len) < 0)
			return -1;
		if (f->off > VI_MAX - len)
			return -1;
		f->len = len;
		f->data = NULL;
		if (f->body)		/* the caller finds its data in the clear part */
			return 1;
		if (len > (uint64_t)(end - *p))
			return -1;
		f->data = *p;
		*p += len;
		return 1;
	default:
		return -1;
	}
}

size_t
uf_put_ack(uint8_t *p, size_t room, const struct rset *pns, uint64_t delay_us)
{
	uint8_t *q = p;
	const struct range *top;
	uint64_t count = 0, largest;
	int i;

	if (pns->n == 0)
		return 0;
	top = &pns->r[pns->n - 1];
	largest = top->hi - 1;
	/* how many older ranges fit: each takes at most 16 bytes, but count
	 * what they really take */
	{
		size_t need = 1 + vi_len(largest) + vi_len(delay_us) + 1 + vi_len(largest - top->lo);

		if (need > room)
			return 0;
		for (i = pns->n - 2; i >= 0 && count + 1 < UF_ACK_RANGES; i--) {
			uint64_t gap = pns->r[i + 1].lo - pns->r[i].hi - 1;
			uint64_t len = pns->r[i].hi - 1 - pns->r[i].lo;
			size_t more = vi_len(gap) + vi_len(len);

			if (need + more + (vi_len(count + 1) - 1) > room)
				break;
			need += more;
			count++;
		}
	}
	*q++ = UF_ACK;
	q = vi_put(q, largest);
	q = vi_put(q, delay_us);
	q = vi_put(q, count);
	q = vi_put(q, largest - top->lo);
	for (i = pns->n - 2; count > 0; i--, count--) {
		q = vi_put(q, pns->r[i + 1].lo - pns->r[i].hi - 1);
		q = vi_put(q, pns->r[i].hi - 1 - pns->r[i].lo);
	}
	return q - p;
}

size_t
uf_put_max_data(uint8_t *p, uint64_t max)
{
	p[0] = UF_MAX_DATA;
	return vi_put(p + 1, max) - p;
}

size_t
uf_put_blocked(uint8_t *p, uint64_t limit)
{
	p[0] = UF_BLOCKED;
	return vi_put(p + 1, limit) - p;
}

size_t
uf_put_stream_hdr(uint8_t *p, uint64_t off, size_t len, int fin)
{
	uint8_t *q = p;

	*q++ = UF_STREAM | (fin ? UF_FIN : 0);
	q = vi_put(q, off);
	q = vi_put(q, len);
	return q - p;
}

size_t
uf_put_body_hdr(uint8_t *p, uint64_t off, size_t len, int fin)
{
	size_t n = uf_put_stream_hdr(p, off, len, fin);

	p[0] = UF_BODY | (fin ? UF_FIN : 0);
	return n;
}
