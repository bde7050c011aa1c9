/*
 * udp_frame.h - what travels inside a sealed UDP packet, and the range sets
 * the transport keeps (packet numbers received, stream bytes acknowledged,
 * received, or to be sent again). Frames, after QUIC's (RFC 9000 19), with
 * its variable-length integers (RFC 9000 16):
 *   00            PADDING   the rest of the packet is padding
 *   01            PING      ack-eliciting, nothing else
 *   02 largest delay count first (gap len)*count
 *                 ACK       packet numbers received, newest range first;
 *                           delay in microseconds
 *   03 max        MAX_DATA  the peer may send stream bytes below max
 *   04            ACK_NOW   ack-eliciting: acknowledge this packet at once
 *                           (the last of a flight: no delayed ACK for it;
 *                           QUIC's IMMEDIATE_ACK)
 *   05 limit      BLOCKED   the sender has bytes waiting at the peer's
 *                           MAX_DATA limit (QUIC's DATA_BLOCKED)
 *   08|fin off len data
 *                 STREAM    stream bytes [off, off+len); fin: the stream
 *                           ends at off+len
 *   0a|fin off len
 *                 BODY      the same, its data not here but in the clear
 *                           part of a body packet (wire_udp.c): packet
 *                           bytes, end-to-end encrypted already; at most
 *                           one per packet, and only in a body packet
 * Parsers take a buffer and never read past its end; every length is
 * checked before use. No socket, no clock.
 */
#ifndef SHIPD_UDP_FRAME_H
#define SHIPD_UDP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define UF_PADDING	0x00
#define UF_PING		0x01
#define UF_ACK		0x02
#define UF_MAX_DATA	0x03
#define UF_ACK_NOW	0x04
#define UF_BLOCKED	0x05
#define UF_STREAM	0x08
#define UF_BODY		0x0a
#define UF_FIN		0x01

#define VI_MAX		((1ULL << 62) - 1)
#define UF_ACK_RANGES	64		/* most ranges one ACK frame carries */
#define UF_STREAM_HDR	(1 + 8 + 4)	/* type, offset, length: the most they take */

/* Variable-length integers: 1, 2, 4 or 8 bytes for values below 2^62. */
size_t vi_len(uint64_t v);
uint8_t *vi_put(uint8_t *p, uint64_t v);
int vi_get(const uint8_t **p, const uint8_t *end, uint64_t *v);	/* 0, -1 short */

/* A set of disjoint, non-adjacent half-open ranges [lo, hi), ascending,
 * at most cap of them. */
struct range {
	uint64_t lo, hi;
};
struct rset {
	int n, cap;
	struct range *r;
};

void rset_init(struct rset *s, int cap);
void rset_free(struct rset *s);
/* Add [lo, hi): 0, or -1 when it would need more than cap ranges (the set
 * is then unchanged). */
int rset_add(struct rset *s, uint64_t lo, uint64_t hi);
/* Add [lo, hi) whatever it takes: when no range is left for it, the
 * nearest range grows over it (the set then covers more than was added). */
void rset_add_cover(struct rset *s, uint64_t lo, uint64_t hi);
/* Take [lo, hi) out: 0, or -1 when a split would need more than cap (unchanged). */
int rset_remove(struct rset *s, uint64_t lo, uint64_t hi);
int rset_has(const struct rset *s, uint64_t x);
/* Forget every number below x. */
void rset_drop_below(struct rset *s, uint64_t x);

struct uframe {
	int type;
	uint64_t largest, delay, max, off;	/* ACK, MAX_DATA and BLOCKED, STREAM */
	int nranges, fin;
	int body;				/* STREAM from a BODY frame: data is
						 * NULL until the packet's clear part
						 * is assigned to it */
	struct range ranges[UF_ACK_RANGES];	/* ACK: newest first */
	const uint8_t *data;			/* STREAM */
	size_t len;
};

/* The next frame from *p: 1 (f filled, *p moved on), 0 at the end of the
 * packet (or its padding), -1 malformed. */
int uf_parse(const uint8_t **p, const uint8_t *end, struct uframe *f);
/* An ACK frame of the newest ranges of pns that fit in room bytes (at
 * most UF_ACK_RANGES); returns its length, 0 if none fits or pns is empty. */
size_t uf_put_ack(uint8_t *p, size_t room, const struct rset *pns, uint64_t delay_us);
size_t uf_put_max_data(uint8_t *p, uint64_t max);
size_t uf_put_blocked(uint8_t *p, uint64_t limit);
/* A STREAM frame's header for len bytes at off; the data follows it. */
size_t uf_put_stream_hdr(uint8_t *p, uint64_t off, size_t len, int fin);
/* A BODY frame for len bytes at off; the data goes in the clear part. */
size_t uf_put_body_hdr(uint8_t *p, uint64_t off, size_t len, int fin);

#endif
