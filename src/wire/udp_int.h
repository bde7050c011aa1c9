/*
 * udp_int.h - private to the UDP transport (wire_udp.c: the API, sockets
 * and the receive side; udp_send.c: packets out, loss recovery, path MTU),
 * its module tests, the fuzz target and the hostile test peer. wire.c and
 * the rest of shipd see only the udp_hop_* entry points of wire_int.h.
 *
 * Memory per hop, all of it bounded: the send ring (stream bytes written
 * and not yet acknowledged) starts at UDP_SND_INIT and grows to at most
 * 2 x cwnd + two messages, never past UDP_SND_MAX; the receive ring
 * (bytes arrived and not yet read) is the flow-control window, starting at
 * UDP_RCV_INIT and doubling (RFC 9000-style auto-tuning) while the reader
 * keeps up with the path, never past UDP_WINDOW_MAX; one record per
 * packet in flight; UDP_BATCH datagram buffers each way.
 */
#ifndef SHIPD_UDP_INT_H
#define SHIPD_UDP_INT_H

#include "wire_int.h"
#include "udp_cc.h"
#include "udp_frame.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>

#define UDP_T_PKT	0x05			/* 05 pn[8] sealed(frames) */
#define UDP_T_BODY	0x06			/* 06 pn[8] slen[2] sealed(frames)[slen] body */
#define UDP_HDR		9
#define UDP_BODY_HDR	(UDP_HDR + 2)
#define UDP_OVERHEAD	(UDP_HDR + AEAD_TAG_LEN)
#define UDP_BASE_MTU	1200			/* every path carries this (RFC 8899 BASE_PLPMTU) */
#define UDP_DGRAM_CAP	16384			/* our largest datagram (loopback, jumbo frames) */
#define UDP_BATCH	32			/* datagrams per sendmmsg/recvmmsg */
#define UDP_WINDOW_MAX	(16u << 20)		/* flow-control window and cwnd ceiling */
#define UDP_RCV_INIT	(1u << 20)
#define UDP_SND_INIT	(1u << 20)
#define UDP_SND_MAX	(2 * UDP_WINDOW_MAX + 2 * (HOP_MAX_MSG + 4))
#define UDP_SENT_MAX	(1u << 17)		/* packet records: more than the largest window */
#define UDP_LOST_RANGES	1024
#define UDP_HAVE_RANGES	512
#define UDP_PN_RANGES	256
#define UDP_BODY_RANGES	4096			/* bodies in the send ring (more: sealed) */
#define UDP_PMTU_PROBES	3			/* MAX_PROBES of RFC 8899 */
#define UDP_PMTU_STEP	32			/* search ends when within this */
#define UDP_PMTU_RAISE_US (600 * 1000000LL)	/* PMTU_RAISE_TIMER of RFC 8899 */
#define UDP_SOCKBUF	(4 << 20)		/* SO_RCVBUF/SO_SNDBUF wanted */

/* sent-packet record flags */
#define SF_ELICIT	0x01			/* ack-eliciting, counted in flight */
#define SF_STREAM	0x02
#define SF_FIN		0x04
#define SF_MAXDATA	0x08
#define SF_PROBE	0x10			/* a path MTU probe */
#define SF_REXMIT	0x20
#define SF_ACKNOW	0x40			/* asked for an immediate ACK */
#define SF_BLOCKED	0x80			/* told the peer we wait for window */

enum { PS_NONE, PS_OUT, PS_ACKED, PS_LOST };

struct sent {
	int64_t t;
	uint64_t off;				/* stream bytes [off, off + len) */
	uint32_t len;
	uint16_t size;				/* the datagram's size */
	uint8_t flags, state;
};

struct udp {
	/* congestion control and RTT */
	struct cc cc;
	struct cc_rtt rtt;
	int64_t first_rtt_t;			/* when the first RTT sample was taken */
	/* packets out: records for pn in [sent_lo, next_pn) at sent[pn & (sent_cap - 1)] */
	uint64_t next_pn, sent_lo, largest_acked;
	int have_acked;
	struct sent *sent;
	size_t sent_cap;
	unsigned elicit_out;			/* ack-eliciting packets outstanding */
	int64_t loss_time, last_elicit_t, last_progress;
	int pto_count, probes;			/* probes: PTO probe packets still to send */
	int last_acknow;			/* the newest ack-eliciting packet asked for an ACK */
	int64_t pc_start, pc_end;		/* run of losses (persistent congestion) */
	/* the stream out: bytes [snd_base, snd_end) at sbuf[off & (scap - 1)] */
	uint8_t *sbuf;
	size_t scap;
	uint64_t snd_base, snd_next, snd_end, peer_max, blocked_at;
	struct rset s_acked, s_lost;		/* above snd_base */
	struct rset s_body;			/* packet bytes: sent in the clear, authenticated */
	int fin_queued, fin_send, fin_acked;
	/* the stream in: bytes [rcv_read, rcv_read + rcap) at rbuf[off & (rcap - 1)] */
	uint8_t *rbuf;
	size_t rcap;
	uint64_t rcv_read, rcv_contig, rcv_win, rcv_max, rcv_fin;
	uint64_t rcv_high, rcv_touch;		/* highest byte held; ring positions written */
	struct rset r_have;			/* above rcv_contig */
	int64_t rcv_win_t;
	int need_max_data;
	/* packets in, and acknowledging them */
	struct rset pn_seen;
	uint64_t pn_floor, largest_rcvd;
	int64_t largest_rcvd_t, ack_deadline;
	int have_rcvd, ack_pending, ack_now, ack_any;
	/* path MTU (DPLPMTUD, RFC 8899) */
	size_t plpmtu, pmtu_max, pmtu_fail, probe_size;
	int probe_fails;
	int64_t probe_at;
	/* the session */
	int need_ping, confirmed, refused, started, tx_blocked;
	int64_t keepalive_us, last_sent, last_data_in;
	uint8_t auth[UDP_AUTH_MAX];		/* the AUTH datagram of this session */
	size_t authlen;
	char why[200];
	struct wire_lossy loss;
	struct hop_udp_stats st;
	/* datagram batches */
	uint8_t *txb, *rxb, *pbuf;		/* UDP_BATCH x UDP_DGRAM_CAP each; pbuf: one plaintext */
	size_t txlen[UDP_BATCH];
	int ntx;
};

/* Stream bytes in rings of power-of-two size: offset off lives at off & (cap - 1). */
static inline void
ring_in(uint8_t *ring, size_t cap, uint64_t off, const uint8_t *src, size_t n)
{
	size_t at = off & (cap - 1), first = cap - at < n ? cap - at : n;

	memcpy(ring + at, src, first);
	memcpy(ring, src + first, n - first);
}

static inline void
ring_out(const uint8_t *ring, size_t cap, uint64_t off, uint8_t *dst, size_t n)
{
	size_t at = off & (cap - 1), first = cap - at < n ? cap - at : n;

	memcpy(dst, ring + at, first);
	memcpy(dst + first, ring, n - first);
}

/* A ring of newcap bytes holding the n bytes from off of the old one (freed). */
static inline uint8_t *
ring_regrow(uint8_t *old, size_t oldcap, size_t newcap, uint64_t off, size_t n)
{
	uint8_t *r = xmalloc(newcap);

	for (size_t done = 0; done < n;) {
		size_t at = (off + done) & (oldcap - 1), k = oldcap - at < n - done ? oldcap - at : n - done;

		ring_in(r, newcap, off + done, old + at, k);
		done += k;
	}
	free(old);
	return r;
}

/* wire_udp.c */
void udp_kill(struct hop *h, const char *why);
/* A new session socket: buffers, and DF with our own path MTU search. */
void udp_sock_setup(int fd, int family);
/* udp_send.c */
void udp_send_init(struct udp *u);
void udp_send_free(struct udp *u);
/* Build and send what the window, the pacer and the acknowledgements allow. */
void udp_flush(struct hop *h, int64_t now);
/* Put out the datagrams built but not yet sent (after EAGAIN). */
void udp_tx_batch(struct hop *h);
void udp_on_ack(struct hop *h, const struct uframe *f, int64_t now);
/* Loss-detection timer, PTO, PMTU probe timer, keepalive. */
void udp_send_timers(struct hop *h, int64_t now);
/* When udp_send_timers or udp_flush next has work; INT64_MAX: none. */
int64_t udp_send_wake(const struct hop *h, int64_t now);
/* Start the path MTU search (the session is confirmed). */
void udp_pmtu_start(struct hop *h, int64_t now);
/* Room for a message of len bytes in the send ring (grows it if allowed). */
int udp_snd_room(struct udp *u, size_t len);
/* Seal the frames at dg + UDP_HDR (len bytes) as packet pn with key a;
 * the datagram's length. (Also how the tests play a peer.) */
size_t udp_seal(struct aead *a, uint64_t pn, uint8_t *dg, size_t len);
/* A body packet: the frames at dg + UDP_BODY_HDR (slen bytes) sealed, the
 * blen bytes after them (packet bytes) only authenticated, under one tag;
 * the datagram's length. */
size_t udp_seal_body(struct aead *a, uint64_t pn, uint8_t *dg, size_t slen, size_t blen);
/* Test hook (tests, the hostile peer): seal frames as our next packet,
 * send it and copy the datagram to dg (UDP_DGRAM_CAP); its length. */
size_t udp_send_raw(struct hop *h, const uint8_t *frames, size_t len, uint8_t *dg);

#endif
