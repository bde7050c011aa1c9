/*
 * wire_udp.c - the hop channel's reliable, ordered message stream over UDP,
 * once wire_udp_hs.c has run the handshake: the API half (udp_hop_send,
 * _recv, _poll, _close), the sockets and the receiving side. udp_send.c
 * sends, acknowledges and recovers; udp_cc.c holds the arithmetic;
 * udp_frame.c the frames.
 *
 * Why our own transport. Compared for issue 17:
 *   - QUIC through libngtcp2 (Debian 12: 0.12.1, before its 1.0 API
 *     freeze; Debian 13 ships 1.x with incompatible calls): mature loss
 *     recovery and congestion control, but it needs a TLS 1.3 stack
 *     (libngtcp2-crypto-gnutls) for its handshake. Our hop authentication
 *     (each node signs the handshake with its Ed25519 node key, checked
 *     against the PEER line) would have to become TLS raw public keys
 *     (RFC 7250) or certificates minted from node keys, a second crypto
 *     library and key format beside libgcrypt, and a rewrite when Debian
 *     moves to the 1.x API.
 *   - SCTP over UDP through libusrsctp (Debian 12: 0.9.5): a full stack in
 *     userspace with its own timer and receive threads and callbacks from
 *     them (or a threadless mode the application must drive), one UDP
 *     encapsulation port per process, no encryption (our AEAD would wrap
 *     every SCTP packet, as WebRTC does with DTLS), and a record of
 *     memory-safety fixes found by fuzzing; threads in every forked child.
 *   - Our own: RFC 9002's loss detection (packet and time thresholds, PTO,
 *     RTT per section 5), CUBIC (RFC 9438, NewReno selectable) with
 *     pacing, QUIC-style frames (RFC 9000) with a flow-control window that
 *     grows, DPLPMTUD (RFC 8899), sendmmsg/recvmmsg. No new dependency, no
 *     thread, the handshake and keys unchanged, every datagram sealed
 *     with the session's ChaCha20-Poly1305 as before. Chosen.
 *
 * Datagrams after the handshake (wire_udp_hs.c has HELLO, REPLY, AUTH):
 *   05 pn[8] sealed(frames)   nonce = 05 | pn; the header is authenticated
 *   06 pn[8] slen[2] sealed(frames)[slen] body tag[16]
 *                             a body packet (hop protocol 6): nonce = 06 | pn;
 *                             one tag over the header, the body and the
 *                             sealed frames, whose one BODY frame gives the
 *                             body's stream offset (and with it the message
 *                             whose head, encrypted, names the order, slot
 *                             and offset it belongs to)
 * Packet numbers rise by one per packet and are never reused; udp_frame.h
 * lists the frames. The body of a body packet is a packet's bytes
 * (end-to-end encrypted already: hop_send_body's tail), sent as they are;
 * every other byte of the stream (lengths, message heads, an OFFER's
 * header and order, every control message) is sealed. The body is bound
 * to its packet number, its offset and the frames by the tag: a byte
 * flipped, a body spliced in from another packet or offset, a packet
 * replayed or its header altered fails authentication and is dropped, and
 * the sender's loss recovery sends the bytes again. Messages travel on one byte stream per direction,
 * each as length[4] | bytes. A bad tag, a packet number seen before (or
 * too old to tell), stream bytes beyond the window granted are dropped and
 * counted, never delivered. A reader that stops reading stops granting
 * window: memory stays bounded on both sides (udp_int.h has the bounds).
 *
 * The transport advances only inside hop_* calls (there are no threads):
 * a caller that stays away longer than its peer's timeout looks dead.
 *
 * Test hook, never for production: SHIPD_TEST_UDP_LOSS=N drops one in N
 * outgoing datagrams at random (handshake included) and says so in the log.
 */
#include "wire.h"
#include "udp_int.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_BATCHES	16
#define FRAMES_MAX	16			/* frames one packet may carry */

/* ---- the test hook ---- */

void
wire_lossy_init(struct wire_lossy *l)
{
	static int warned;
	const char *e = getenv("SHIPD_TEST_UDP_LOSS");
	long n = e ? strtol(e, NULL, 10) : 0;

	l->n = n > 0 && n < 1000000 ? (unsigned)n : 0;
	l->s = ((uint64_t)getpid() << 32) ^ (uint64_t)wire_now_us() ^ (uintptr_t)l;
	if (l->s == 0)
		l->s = 1;
	if (l->n && !warned++)
		msg_warnx("SHIPD_TEST_UDP_LOSS=%u: dropping 1 in %u outgoing UDP datagrams (test only)",
			  l->n, l->n);
}

int
wire_lossy_drop(struct wire_lossy *l)
{
	if (!l->n)
		return 0;
	l->s ^= l->s << 13;
	l->s ^= l->s >> 7;
	l->s ^= l->s << 17;
	return l->s % l->n == 0;
}

/* ---- sockets ---- */

void
udp_sock_setup(int fd, int family)
{
	int n = UDP_SOCKBUF, probe = IP_PMTUDISC_PROBE, probe6 = IPV6_PMTUDISC_PROBE;

	/* the kernel caps these at net.core.rmem_max / wmem_max (shipd(8)) */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
	/* DF set, the kernel's PMTU cache ignored: udp_send.c finds the size */
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof(probe6));
	else
		(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe));
}

/* Wait until fd is ready or deadline (microseconds): 1, 0 timeout, -1. */
static int
udp_wait(struct hop *h, int64_t deadline)
{
	for (;;) {
		struct pollfd pf = { .fd = h->fd, .events = POLLIN | (h->u->tx_blocked ? POLLOUT : 0) };
		int64_t left = deadline - wire_now_us();
		struct timespec ts;
		int r;

		if (left <= 0)
			return 0;
		if (left > 3600 * 1000000LL)
			left = 3600 * 1000000LL;
		ts.tv_sec = left / 1000000;
		ts.tv_nsec = (left % 1000000) * 1000;
		r = ppoll(&pf, 1, &ts, NULL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set("poll: %s", strerror(errno));
			return -1;
		}
		return r > 0;
	}
}

/* ---- datagrams in ---- */

void
udp_kill(struct hop *h, const char *why)
{
	if (!h->dead)
		snprintf(h->u->why, sizeof(h->u->why), "%s", why);
	h->dead = 1;
}

/* The ring holds the whole window (all of the old ring moves: bytes past
 * a gap are kept too). */
static void
window_grow_ring(struct udp *u)
{
	if (u->rcv_win <= u->rcap)
		return;
	if (u->rcv_read + u->rcap > u->rcv_touch)
		u->rcv_touch = u->rcv_read + u->rcap;
	u->rbuf = ring_regrow(u->rbuf, u->rcap, u->rcv_win, u->rcv_read, u->rcap);
	u->rcap = u->rcv_win;
}

/* A new MAX_DATA: the window from what was read, doubled first if grow. */
static void
window_grant(struct udp *u, int64_t now, int grow)
{
	if (grow && u->rcv_win < UDP_WINDOW_MAX) {
		u->rcv_win *= 2;
		window_grow_ring(u);
	}
	u->rcv_win_t = now;
	u->rcv_max = u->rcv_read + u->rcv_win;
	u->need_max_data = 1;
}

/* Stream bytes into the receive ring; the window was checked. */
static void
stream_in(struct udp *u, const struct uframe *f, int64_t now)
{
	uint64_t lo = f->off, hi = f->off + f->len;

	if (f->fin)
		u->rcv_fin = hi;
	if (hi <= u->rcv_contig)
		return;				/* had it */
	if (lo < u->rcv_contig)
		lo = u->rcv_contig;
	ring_in(u->rbuf, u->rcap, lo, f->data + (lo - f->off), hi - lo);
	if (hi > u->rcv_high)
		u->rcv_high = hi;
	if (hi > u->rcv_touch)
		u->rcv_touch = hi;
	(void)rset_add(&u->r_have, lo, hi);	/* room was checked */
	while (u->r_have.n && u->r_have.r[0].lo <= u->rcv_contig) {
		if (u->r_have.r[0].hi > u->rcv_contig)
			u->rcv_contig = u->r_have.r[0].hi;
		rset_remove(&u->r_have, u->r_have.r[0].lo, u->r_have.r[0].hi);
	}
	u->last_data_in = now;
}

/* Remember packet number pn (forgetting the oldest ranges if need be). */
static void
pn_note(struct udp *u, uint64_t pn)
{
	while (rset_add(&u->pn_seen, pn, pn + 1) < 0) {
		u->pn_floor = u->pn_seen.r[0].hi;
		rset_remove(&u->pn_seen, u->pn_seen.r[0].lo, u->pn_floor);
	}
}

static void
ack_later(struct udp *u, int64_t now)
{
	if (!u->ack_pending++)
		u->ack_deadline = now + CC_MAX_ACK_DELAY_US;
	u->ack_any = 1;
	if (u->ack_pending >= 2)
		u->ack_now = 1;
}

/*
 * The sender waits at our limit. While our reader keeps up (little data
 * waits to be read), what holds the window is the path: bytes past a
 * loss waiting for its retransmission. Grow it then, as for a fast reader;
 * a slow reader keeps its window (that is the back-pressure).
 */
static void
window_blocked(struct udp *u, uint64_t limit, int64_t now)
{
	if (limit == u->rcv_max && u->rcv_contig - u->rcv_read <= u->rcv_win / 2)
		window_grant(u, now, 1);
}

static void
pkt_in(struct hop *h, const uint8_t *dg, size_t len, int64_t now)
{
	struct udp *u = h->u;
	struct uframe fr[FRAMES_MAX];
	uint8_t nonce[AEAD_NONCE_LEN];
	const uint8_t *p = u->pbuf, *end, *body = NULL;
	size_t slen, blen = 0;
	uint64_t pn;
	int nf = 0, r, elicit = 0, nstream = 0, reordered, now_please = 0;

	if (len < UDP_OVERHEAD + 1) {
		u->st.bad++;
		return;
	}
	slen = len - UDP_OVERHEAD;
	if (dg[0] == UDP_T_BODY) {
		if (len < UDP_BODY_HDR + 1 + AEAD_TAG_LEN ||
		    (slen = (size_t)dg[UDP_HDR] << 8 | dg[UDP_HDR + 1]) < 1 ||
		    slen > len - UDP_BODY_HDR - AEAD_TAG_LEN) {
			u->st.bad++;
			return;
		}
		body = dg + UDP_BODY_HDR + slen;
		blen = len - UDP_BODY_HDR - slen - AEAD_TAG_LEN;
	}
	pn = wire_get64(dg + 1);
	if (pn < u->pn_floor || rset_has(&u->pn_seen, pn)) {
		/* replayed, duplicated, or our ACK was lost: ACK again, but in
		 * max_ack_delay, so a flood of replays draws few answers */
		u->st.dup++;
		if (!u->ack_pending++)
			u->ack_deadline = now + CC_MAX_ACK_DELAY_US;
		u->ack_any = 1;
		return;
	}
	wire_nonce(nonce, dg[0], pn);
	if (body) {
		struct aead_ad ad[2] = { { dg, UDP_BODY_HDR }, { body, blen } };

		r = aead_open_ad(h->rx, nonce, ad, 2, dg + UDP_BODY_HDR, slen, u->pbuf,
				 dg + len - AEAD_TAG_LEN);
	} else {
		r = aead_open(h->rx, nonce, dg, UDP_HDR, dg + UDP_HDR, slen, u->pbuf,
			      dg + len - AEAD_TAG_LEN);
	}
	if (r < 0) {
		u->st.bad++;
		return;
	}
	end = u->pbuf + slen;
	while (nf < FRAMES_MAX && (r = uf_parse(&p, end, &fr[nf])) == 1)
		nf++;
	if (nf == FRAMES_MAX && p < end && *p != UF_PADDING)
		r = -1;
	/* a body packet's body is all of its one BODY frame's data; BODY
	 * frames nowhere else */
	for (int i = 0; i < nf && r >= 0; i++) {
		if (fr[i].type != UF_STREAM || !fr[i].body)
			continue;
		if (!body || fr[i].len != blen)
			r = -1;
		fr[i].data = body;
		body = NULL;
	}
	if (body)
		r = -1;
	if (r < 0) {
		udp_kill(h, "peer sent a malformed packet");
		return;
	}
	/* every stream frame must fit the window granted, or the packet waits */
	for (int i = 0; i < nf; i++) {
		uint64_t e = fr[i].off + fr[i].len;

		if (fr[i].type != UF_STREAM)
			continue;
		if (e > u->rcv_max) {
			u->st.oow++;
			return;
		}
		if ((u->rcv_fin != UINT64_MAX && (e > u->rcv_fin || (fr[i].fin && e != u->rcv_fin))) ||
		    (fr[i].fin && (e < u->rcv_contig || e < u->rcv_high))) {
			udp_kill(h, "peer moved the end of its stream");
			return;
		}
		nstream++;
	}
	if (u->r_have.n + nstream > u->r_have.cap) {
		u->st.oow++;		/* too scattered to remember now: it comes again */
		return;
	}
	pn_note(u, pn);
	u->confirmed = 1;
	reordered = u->have_rcvd && pn != u->largest_rcvd + 1;
	if (!u->have_rcvd || pn > u->largest_rcvd) {
		u->largest_rcvd = pn;
		u->largest_rcvd_t = now;
		u->have_rcvd = 1;
	}
	for (int i = 0; i < nf && !h->dead; i++) {
		switch (fr[i].type) {
		case UF_ACK:
			udp_on_ack(h, &fr[i], now);
			break;
		case UF_MAX_DATA:
			if (fr[i].max > u->peer_max)
				u->peer_max = fr[i].max;
			elicit = 1;
			break;
		case UF_PING:
			elicit = 1;
			break;
		case UF_ACK_NOW:
			elicit = now_please = 1;
			break;
		case UF_BLOCKED:
			window_blocked(u, fr[i].max, now);
			elicit = now_please = 1;
			break;
		case UF_STREAM:
			stream_in(u, &fr[i], now);
			elicit = 1;
			break;
		default:
			msg_panic("UDP hop: frame type %d parsed but not handled", fr[i].type);
		}
	}
	if (elicit) {			/* packets of ACKs alone are never acknowledged */
		ack_later(u, now);
		if (reordered || now_please)
			u->ack_now = 1;		/* a gap to report, or the end of a flight */
	}
}

void
udp_hop_input(struct hop *h, const uint8_t *dg, size_t len)
{
	struct udp *u = h->u;

	u->st.received++;
	if (len < 1 || len > UDP_DGRAM_CAP) {
		u->st.bad++;
		return;
	}
	switch (dg[0]) {
	case UDP_T_PKT:
	case UDP_T_BODY:
		pkt_in(h, dg, len, wire_now_us());
		break;
	case UDP_T_AUTH:			/* the client missed our HSOK */
		if (h->server && len == u->authlen && crypto_memeq(dg, u->auth, len))
			u->need_ping = 1;
		else
			u->st.bad++;
		break;
	case UDP_T_REPLY:			/* the server missed our AUTH */
		if (!h->server && !u->confirmed)
			(void)send(h->fd, u->auth, u->authlen, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			u->st.dup++;
		break;
	default:
		u->st.bad++;
		break;
	}
}

/* Take what has arrived, in recvmmsg batches; answer each batch. */
static void
udp_drain(struct hop *h)
{
	struct udp *u = h->u;
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];

	for (int b = 0; b < DRAIN_BATCHES && !h->dead; b++) {
		int n;

		for (int i = 0; i < UDP_BATCH; i++) {
			iov[i].iov_base = u->rxb + (size_t)i * UDP_DGRAM_CAP;
			iov[i].iov_len = UDP_DGRAM_CAP;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(h->fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == ECONNREFUSED)
				u->refused = 1;
			break;
		}
		for (int i = 0; i < n && !h->dead; i++) {
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				u->st.received++;
				u->st.bad++;
				continue;
			}
			udp_hop_input(h, u->rxb + (size_t)i * UDP_DGRAM_CAP, mm[i].msg_len);
		}
		udp_flush(h, wire_now_us());	/* acknowledge, and send what acks allow */
		if (n < UDP_BATCH)
			break;
	}
}

/* ---- timers and the pump ---- */

static int64_t
udp_next_wake(const struct hop *h, int64_t now)
{
	const struct udp *u = h->u;
	int64_t t = udp_send_wake(h, now);

	if (u->ack_now && u->ack_any)
		return now;
	if (u->ack_pending && u->ack_deadline < t)
		t = u->ack_deadline;
	return t;
}

static void
udp_timers(struct hop *h, int64_t now)
{
	udp_send_timers(h, now);
	udp_flush(h, now);
}

/* -1 (err_set; the hop is dead) once the peer is known to be gone. */
static int
udp_check(struct hop *h)
{
	struct udp *u = h->u;
	char why[200];

	if (!h->dead && u->refused)
		udp_kill(h, "the peer's session port is closed (port unreachable)");
	if (!h->dead && u->elicit_out &&
	    wire_now_us() - u->last_progress > (int64_t)h->timeout_s * 1000000) {
		snprintf(why, sizeof(why), "no acknowledgement for %d s", h->timeout_s);
		udp_kill(h, why);
	}
	if (h->dead) {
		err_set("%s", u->why);
		return -1;
	}
	return 0;
}

/* Wait for a datagram or the next timer (not past deadline), then process. */
static int
udp_pump(struct hop *h, int64_t deadline)
{
	int64_t now = wire_now_us(), wake = udp_next_wake(h, now);

	if (wake > deadline)
		wake = deadline;
	if (wake > now && udp_wait(h, wake) < 0)
		udp_kill(h, err_get());
	if (!h->dead) {
		udp_drain(h);
		udp_timers(h, wire_now_us());
	}
	return udp_check(h);
}

int
udp_hop_poll(struct hop *h)
{
	udp_drain(h);
	udp_timers(h, wire_now_us());
	return udp_check(h);
}

/* ---- messages ---- */

/* RFC 9000-style auto-tuning: a window half used within two round trips
 * of the last grant is too small for the path; double it. */
static void
window_update(struct udp *u, int64_t now)
{
	if (u->rcv_max - u->rcv_read < u->rcv_win / 2)
		window_grant(u, now, now - u->rcv_win_t < 2 * u->rtt.smoothed);
}

/* The next whole message into buf: its length, -2 none yet, -1 error. */
static ssize_t
take_message(struct hop *h, void *buf, size_t size)
{
	struct udp *u = h->u;
	uint64_t avail = u->rcv_contig - u->rcv_read;
	uint8_t b[4];
	size_t len;

	if (avail < 4) {
		if (avail && u->rcv_fin == u->rcv_contig)
			goto cut;
		return -2;
	}
	ring_out(u->rbuf, u->rcap, u->rcv_read, b, 4);
	len = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
	if (len > HOP_MAX_MSG) {
		udp_kill(h, "peer sent a message over the hop limit");
		err_set("%s", u->why);
		return -1;
	}
	if (avail < 4 + len) {
		if (u->rcv_fin == u->rcv_contig)
			goto cut;
		return -2;
	}
	if (len > size) {
		err_set("message of %zu bytes does not fit a %zu-byte buffer", len, size);
		udp_kill(h, err_get());
		return -1;
	}
	ring_out(u->rbuf, u->rcap, u->rcv_read + 4, buf, len);
	u->rcv_read += 4 + len;
	window_update(u, wire_now_us());
	return len;
cut:
	udp_kill(h, "peer closed its stream in the middle of a message");
	err_set("%s", u->why);
	return -1;
}

int
udp_hop_pending(const struct hop *h)
{
	const struct udp *u = h->u;
	uint64_t avail = u->rcv_contig - u->rcv_read;
	uint8_t b[4];

	if (h->dead || u->rcv_fin == u->rcv_read)
		return 1;
	if (avail < 4)
		return 0;
	ring_out(u->rbuf, u->rcap, u->rcv_read, b, 4);
	return avail >= 4 + ((uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3]);
}

int
udp_hop_wait(struct hop *h, int64_t deadline)
{
	for (;;) {
		if (udp_hop_poll(h) < 0 || udp_hop_pending(h))
			return 1;
		if (wire_now_us() >= deadline)
			return 0;
		if (udp_pump(h, deadline) < 0)
			return 1;
	}
}

/* ---- the API's UDP half ---- */

void
udp_hop_attach(struct hop *h)
{
	struct udp *u = xcalloc(1, sizeof(*u));
	int64_t t = wire_now_us();

	udp_send_init(u);
	u->rcap = u->rcv_win = u->rcv_max = UDP_RCV_INIT;
	u->rbuf = xmalloc(u->rcap);
	u->rcv_fin = UINT64_MAX;
	rset_init(&u->r_have, UDP_HAVE_RANGES);
	rset_init(&u->pn_seen, UDP_PN_RANGES);
	u->rxb = xmalloc((size_t)UDP_BATCH * UDP_DGRAM_CAP);
	u->pbuf = xmalloc(UDP_DGRAM_CAP);
	u->ack_deadline = INT64_MAX;
	u->keepalive_us = (int64_t)(h->timeout_s > 3 ? h->timeout_s / 3 : 1) * 1000000;
	u->last_progress = u->last_sent = u->last_data_in = u->rcv_win_t = t;
	wire_lossy_init(&u->loss);
	h->u = u;
}

int
udp_hop_send(struct hop *h, const void *msg, size_t len)
{
	return udp_hop_send_body(h, msg, len, len);
}

int
udp_hop_send_body(struct hop *h, const void *msg, size_t len, size_t hlen)
{
	struct udp *u = h->u;
	uint8_t b[4] = { len >> 24, len >> 16, len >> 8, len };

	while (!udp_snd_room(u, len))
		if (udp_pump(h, INT64_MAX) < 0)
			goto fail;
	/* the packet's bytes go in the clear (no room to note them: sealed) */
	if (hlen < len)
		(void)rset_add(&u->s_body, u->snd_end + 4 + hlen, u->snd_end + 4 + len);
	ring_in(u->sbuf, u->scap, u->snd_end, b, 4);
	ring_in(u->sbuf, u->scap, u->snd_end + 4, msg, len);
	u->snd_end += 4 + len;
	udp_flush(h, wire_now_us());
	if (udp_hop_poll(h) < 0)
		goto fail;
	return 0;
fail:
	wire_err_prefix("hop %s %s", h->server ? "from" : "to", h->remote);
	return -1;
}

ssize_t
udp_hop_recv(struct hop *h, void *buf, size_t size, int timeout_s)
{
	struct udp *u = h->u;
	int64_t idle = (int64_t)timeout_s * 1000000, start = wire_now_us();

	for (;;) {
		ssize_t n;

		if (h->dead) {
			err_set("%s", u->why);
			goto fail;
		}
		if ((n = take_message(h, buf, size)) >= 0) {
			udp_flush(h, wire_now_us());	/* a window update, maybe */
			return n;
		}
		if (n == -1)
			goto fail;
		if (u->rcv_fin == u->rcv_read) {
			h->peer_closed = h->eof = 1;
			return 0;
		}
		/* the whole message within timeout_s, as over TCP: datagrams
		 * that trickle in do not move the deadline */
		if (wire_now_us() >= start + idle) {
			err_set("timeout waiting for a message (%d s)", timeout_s);
			goto fail;
		}
		if (udp_pump(h, start + idle) < 0)
			goto fail;
	}
fail:
	wire_err_prefix("hop %s %s", h->server ? "from" : "to", h->remote);
	return -1;
}

void
udp_hop_close(struct hop *h)
{
	struct udp *u = h->u;

	if (u == NULL)
		return;
	if (!h->dead && !u->refused && h->fd >= 0 && u->rcv_fin == UINT64_MAX) {
		int64_t wait = (int64_t)h->timeout_s * 1000000;
		int64_t end = wire_now_us() + (wait < HOP_CLOSE_WAIT_US ? wait : HOP_CLOSE_WAIT_US);

		/* FIN, then wait until all is acknowledged or the peer closes too */
		u->fin_queued = u->fin_send = 1;
		udp_flush(h, wire_now_us());
		while (!(u->fin_acked && u->snd_base == u->snd_end) && u->rcv_fin == UINT64_MAX &&
		       wire_now_us() < end && udp_pump(h, end) == 0)
			;
	}
	if (!h->dead && !u->refused && u->ack_any && h->fd >= 0) {
		u->ack_now = 1;
		udp_flush(h, wire_now_us());
	}
	if (u->st.bad || u->st.oow || u->st.dup)
		msg_info("hop %s %s: dropped %lu datagrams failing authentication, %lu out of window, "
			 "%lu duplicate or replayed", h->server ? "from" : "to", h->remote,
			 u->st.bad, u->st.oow, u->st.dup);
	if (u->st.sent > 1)
		msg_info("hop %s %s: udp: %lu datagrams out (%lu resent, %lu lost, %lu timeouts), "
			 "%lu in; datagrams of %zu bytes, srtt %.1f ms, cwnd %llu KiB, window %llu KiB",
			 h->server ? "from" : "to", h->remote, u->st.sent, u->st.rexmit, u->st.lost,
			 u->st.timeouts, u->st.received, u->plpmtu, u->rtt.smoothed / 1000.0,
			 (unsigned long long)u->cc.cwnd / 1024, (unsigned long long)u->rcv_win / 1024);
	/* what ever held stream bytes (pages never touched stay so) */
	crypto_wipe(u->rbuf, u->rcv_touch < u->rcap ? u->rcv_touch : u->rcap);
	crypto_wipe(u->sbuf, u->snd_end < u->scap ? u->snd_end : u->scap);
	crypto_wipe(u->pbuf, UDP_DGRAM_CAP);
	free(u->rbuf);
	free(u->rxb);
	free(u->pbuf);
	rset_free(&u->r_have);
	rset_free(&u->pn_seen);
	udp_send_free(u);
	free(u);
	h->u = NULL;
}

void
hop_udp_stats(const struct hop *h, struct hop_udp_stats *st)
{
	if (h->u == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = h->u->st;
	st->pmtu = h->u->plpmtu;
	st->cwnd = h->u->cc.cwnd;
	st->srtt_us = h->u->rtt.smoothed;
	st->congestion = h->u->cc.congestion_events;
}

/* ---- where the handshake (wire_udp_hs.c) hands over ---- */

void
udp_hop_start(struct hop *h, const uint8_t *auth, size_t len, int64_t rtt_us)
{
	struct udp *u = h->u;
	int64_t now = wire_now_us();

	if (len > sizeof(u->auth))
		len = sizeof(u->auth);	/* the handshake checked it */
	memcpy(u->auth, auth, len);
	u->authlen = len;
	if (rtt_us >= 0) {
		rtt_update(&u->rtt, rtt_us, 0);
		u->first_rtt_t = now;
	}
	if (h->server) {
		u->need_ping = 1;	/* HSOK: our first sealed packet */
		udp_pmtu_start(h, now);
		udp_flush(h, now);
	}
}

int
udp_hop_confirm(struct hop *h, int64_t deadline, const char *me)
{
	struct udp *u = h->u;
	int64_t t, next = 0, rto = UDP_RTO_INIT_US;

	while (!u->confirmed) {
		t = wire_now_us();
		if (t >= deadline) {
			err_set("timeout in handshake (no confirmation from %s)", h->peer->name);
			return -1;
		}
		if (t >= next) {
			if (!wire_lossy_drop(&u->loss))
				(void)send(h->fd, u->auth, u->authlen, MSG_DONTWAIT | MSG_NOSIGNAL);
			next = t + rto;
			rto = 2 * rto < UDP_RTO_MAX_US ? 2 * rto : UDP_RTO_MAX_US;
		}
		if (udp_wait(h, next < deadline ? next : deadline) < 0)
			return -1;
		udp_drain(h);
		if (u->refused) {
			err_set("%s refused us (is our key on its PEER line for %s?)", h->peer->name, me);
			return -1;
		}
		if (h->dead) {
			err_set("%s", u->why);
			return -1;
		}
	}
	t = wire_now_us();
	udp_pmtu_start(h, t);
	udp_flush(h, t);	/* acknowledge the confirmation and what came with it */
	return 0;
}
