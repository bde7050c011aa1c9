/*
 * wire_udp.c - the hop channel's reliable, ordered message stream over UDP,
 * once wire_udp_hs.c has run the handshake. Every datagram is at most
 * UDP_DGRAM_MAX (1200) bytes, so it fits any path MTU:
 *   01 REPLY, 02 AUTH  handshake leftovers (a lost HSOK or AUTH is repeated)
 *   03 seq[8] sealed(flags | chunk)         DATA: nonce = 03|seq
 *   04 ctr[8] sealed(kind | cum[8] | sack)  CONTROL (ack, ping, hsok): nonce = 04|ctr
 * The 9-byte header is authenticated with its payload.
 *
 * Reliability: a message is cut into chunks, one DATA datagram each, with
 * consecutive sequence numbers. The receiver holds a reorder window of
 * UDP_RWIN datagrams and acknowledges cumulatively plus a bitmap of what
 * it holds beyond. The sender keeps at most UDP_FLIGHT unacknowledged
 * datagrams in flight and resends one as soon as DUPTHRESH datagrams sent
 * after it have arrived, or when its timer (smoothed RTT, backed off)
 * expires. A bad tag, a duplicate, a stale control counter or a sequence
 * outside the window is dropped and counted, never delivered. A receiver
 * whose caller does not read stops consuming, which closes the sender's
 * window: memory stays bounded on both sides.
 *
 * The transport advances only inside hop_* calls (there are no threads):
 * a caller that stays away longer than its peer's timeout looks dead.
 *
 * Test hook, never for production: SHIPD_TEST_UDP_LOSS=N drops one in N
 * outgoing datagrams at random (handshake included) and says so in the log.
 */
#include "wire.h"
#include "wire_int.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UDP_HDR		9			/* type, 64-bit number */
#define UDP_CHUNK	(UDP_DGRAM_MAX - UDP_HDR - 1 - AEAD_TAG_LEN)
#define UDP_RWIN	256			/* reorder window, datagrams */
#define UDP_FLIGHT	64			/* unacknowledged datagrams in flight */
#define SACK_BYTES	(UDP_RWIN / 8)
#define CTL_BODY	(8 + SACK_BYTES)
#define CTL_LEN		(UDP_HDR + 1 + CTL_BODY + AEAD_TAG_LEN)
#define RECV_QUEUE_MAX	(1024 * 1024)		/* received, not yet read */
#define ACK_EVERY	16
#define DUPTHRESH	3
#define RTO_MIN_US	10000
#define DRAIN_MAX	256

#define T_DATA		0x03
#define T_CTL		0x04

#define DF_EOM		0x01			/* last chunk of a message */
#define DF_CLOSE	0x02			/* no more messages */

#define CK_ACK		1
#define CK_PING		2			/* answer with an ack */
#define CK_HSOK		3			/* server: you are accepted */

enum { TX_FREE, TX_OUT, TX_SACKED };

struct txslot {
	uint64_t xid;				/* transmission order of its last send */
	int64_t sent_us;
	uint16_t len;
	uint8_t state, rexmits;
	uint8_t dg[UDP_DGRAM_MAX];		/* sealed, resent byte for byte */
};

struct rxslot {
	uint8_t have, flags;
	uint16_t len;
	uint8_t data[UDP_CHUNK];
};

struct rmsg {
	struct rmsg *next;
	size_t len;
	uint8_t data[];
};

struct udp {
	/* sending: seq in [snd_una, snd_nxt) lives in tx[seq % UDP_RWIN] */
	uint64_t snd_una, snd_nxt, xid, rack_xid, ctl_tx;
	unsigned inflight;			/* TX_OUT slots */
	struct txslot *tx;
	/* receiving: seq in [rcv_nxt, rcv_nxt + UDP_RWIN) lives in rx[seq % UDP_RWIN] */
	uint64_t rcv_nxt, ctl_rx;
	unsigned held;				/* rx slots with have set */
	struct rxslot *rx;
	uint8_t *asm_buf;			/* the message being reassembled */
	size_t asm_len;
	struct rmsg *qh, *qt;			/* whole messages not yet read */
	size_t qbytes;
	unsigned unacked;
	int need_ack, need_hsok, confirmed, refused;
	/* clocks */
	int64_t srtt, rttvar, rto, keepalive_us;
	int backoff;
	int64_t last_progress, last_sent, last_data_in;
	uint8_t auth[UDP_AUTH_LEN];			/* the AUTH datagram of this session */
	char why[200];				/* what killed the hop */
	struct wire_lossy loss;
	struct hop_udp_stats st;
	uint8_t rbuf[UDP_DGRAM_MAX], dbuf[UDP_DGRAM_MAX];
};

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

/* ---- clocks ---- */

static int64_t
rto_now(const struct udp *u)
{
	int64_t r = u->rto << u->backoff;

	return r > UDP_RTO_MAX_US ? UDP_RTO_MAX_US : r;
}

static void
rtt_sample(struct udp *u, int64_t r)
{
	if (r < 1)
		r = 1;
	if (u->srtt == 0) {
		u->srtt = r;
		u->rttvar = r / 2;
	} else {
		int64_t d = u->srtt > r ? u->srtt - r : r - u->srtt;

		u->rttvar = (3 * u->rttvar + d) / 4;
		u->srtt = (7 * u->srtt + r) / 8;
	}
	u->rto = u->srtt + 4 * u->rttvar;
	if (u->rto < RTO_MIN_US)
		u->rto = RTO_MIN_US;
	if (u->rto > UDP_RTO_MAX_US)
		u->rto = UDP_RTO_MAX_US;
}

/* ---- datagrams out ---- */

static void
udp_xmit(struct hop *h, const uint8_t *dg, size_t len)
{
	struct udp *u = h->u;

	u->last_sent = wire_now_us();
	u->st.sent++;
	if (wire_lossy_drop(&u->loss)) {
		u->st.test_dropped++;
		return;
	}
	while (send(h->fd, dg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == ECONNREFUSED)
			u->refused = 1;
		break;		/* EAGAIN, ENOBUFS: as if lost on the way */
	}
}

static size_t
udp_seal(struct hop *h, uint8_t type, uint64_t num, uint8_t first, const void *body,
	 size_t blen, uint8_t *dg)
{
	uint8_t nonce[AEAD_NONCE_LEN];

	dg[0] = type;
	wire_put64(dg + 1, num);
	dg[UDP_HDR] = first;
	if (blen)
		memcpy(dg + UDP_HDR + 1, body, blen);
	wire_nonce(nonce, type, num);
	if (aead_seal(h->tx, nonce, dg, UDP_HDR, dg + UDP_HDR, 1 + blen, dg + UDP_HDR,
		      dg + UDP_HDR + 1 + blen) < 0)
		msg_panic("UDP hop: %s", err_get());
	return UDP_HDR + 1 + blen + AEAD_TAG_LEN;
}

static void
udp_send_ctl(struct hop *h, int kind)
{
	struct udp *u = h->u;
	uint8_t body[CTL_BODY], dg[CTL_LEN];

	wire_put64(body, u->rcv_nxt);
	memset(body + 8, 0, SACK_BYTES);
	for (int i = 0; u->held && i < UDP_RWIN; i++)
		if (u->rx[(u->rcv_nxt + i) % UDP_RWIN].have)
			body[8 + i / 8] |= 1 << (i % 8);
	udp_xmit(h, dg, udp_seal(h, T_CTL, u->ctl_tx++, kind, body, sizeof(body), dg));
	u->need_ack = 0;
	u->unacked = 0;
}

static int
window_open(const struct udp *u)
{
	return u->snd_nxt - u->snd_una < UDP_RWIN && u->inflight < UDP_FLIGHT;
}

static void
udp_queue(struct hop *h, uint8_t flags, const uint8_t *p, size_t n)
{
	struct udp *u = h->u;
	struct txslot *s = &u->tx[u->snd_nxt % UDP_RWIN];
	int64_t t = wire_now_us();

	if (u->snd_una == u->snd_nxt)
		u->last_progress = t;		/* the no-progress clock starts now */
	s->len = udp_seal(h, T_DATA, u->snd_nxt, flags, p, n, s->dg);
	s->state = TX_OUT;
	s->rexmits = 0;
	s->xid = ++u->xid;
	s->sent_us = t;
	u->inflight++;
	u->snd_nxt++;
	udp_xmit(h, s->dg, s->len);
}

static void
resend(struct hop *h, struct txslot *s)
{
	struct udp *u = h->u;

	s->xid = ++u->xid;
	s->sent_us = wire_now_us();
	if (s->rexmits < 255)
		s->rexmits++;
	u->st.rexmit++;
	udp_xmit(h, s->dg, s->len);
}

/* ---- datagrams in ---- */

static void
udp_kill(struct hop *h, const char *why)
{
	if (!h->dead)
		snprintf(h->u->why, sizeof(h->u->why), "%s", why);
	h->dead = 1;
}

/* Move in-order chunks into whole messages while there is room for them. */
static void
udp_deliver(struct hop *h)
{
	struct udp *u = h->u;

	while (!h->dead && !h->peer_closed) {
		struct rxslot *s = &u->rx[u->rcv_nxt % UDP_RWIN];

		if (!s->have || u->qbytes + u->asm_len >= RECV_QUEUE_MAX)
			break;
		if (s->flags & DF_CLOSE) {
			h->peer_closed = 1;
		} else if (u->asm_len + s->len > HOP_MAX_MSG) {
			udp_kill(h, "peer sent a message over the hop limit");
			break;
		} else {
			if (u->asm_buf == NULL)
				u->asm_buf = xmalloc(HOP_MAX_MSG);
			memcpy(u->asm_buf + u->asm_len, s->data, s->len);
			u->asm_len += s->len;
			if (s->flags & DF_EOM) {
				struct rmsg *m = xmalloc(sizeof(*m) + u->asm_len);

				m->next = NULL;
				m->len = u->asm_len;
				memcpy(m->data, u->asm_buf, u->asm_len);
				if (u->qt)
					u->qt->next = m;
				else
					u->qh = m;
				u->qt = m;
				u->qbytes += sizeof(*m) + m->len;
				u->asm_len = 0;
			}
		}
		s->have = 0;
		u->held--;
		u->rcv_nxt++;
	}
}

static void
udp_data_in(struct hop *h, const uint8_t *dg, size_t len)
{
	struct udp *u = h->u;
	uint64_t seq = wire_get64(dg + 1);
	uint8_t nonce[AEAD_NONCE_LEN];
	struct rxslot *s;

	if (len < UDP_HDR + 1 + AEAD_TAG_LEN) {
		u->st.bad++;
		return;
	}
	wire_nonce(nonce, T_DATA, seq);
	if (aead_open(h->rx, nonce, dg, UDP_HDR, dg + UDP_HDR, len - UDP_HDR - AEAD_TAG_LEN,
		      u->dbuf, dg + len - AEAD_TAG_LEN) < 0) {
		u->st.bad++;
		return;
	}
	u->confirmed = 1;
	if (seq < u->rcv_nxt) {
		u->st.dup++;
		u->need_ack = 1;	/* our ack was lost: say it again */
		return;
	}
	if (seq - u->rcv_nxt >= UDP_RWIN) {
		u->st.oow++;
		return;
	}
	s = &u->rx[seq % UDP_RWIN];
	if (s->have) {
		u->st.dup++;
		u->need_ack = 1;
		return;
	}
	s->have = 1;
	s->flags = u->dbuf[0];
	s->len = len - UDP_HDR - 1 - AEAD_TAG_LEN;
	memcpy(s->data, u->dbuf + 1, s->len);
	u->held++;
	u->unacked++;
	u->need_ack = 1;
	u->last_data_in = wire_now_us();
	udp_deliver(h);
}

static void
note_delivered(struct udp *u, struct txslot *s, int64_t t, uint64_t *newest, int64_t *rtt)
{
	if (s->xid > u->rack_xid)
		u->rack_xid = s->xid;
	if (!s->rexmits && s->xid > *newest) {	/* Karn: never time a resent datagram */
		*newest = s->xid;
		*rtt = t - s->sent_us;
	}
}

static void
udp_ack_in(struct hop *h, uint64_t cum, const uint8_t *sack)
{
	struct udp *u = h->u;
	int64_t t = wire_now_us(), rtt = -1;
	uint64_t newest = 0;
	int progress = 0;

	if (cum > u->snd_nxt) {
		u->st.oow++;
		return;
	}
	for (; u->snd_una < cum; u->snd_una++) {
		struct txslot *s = &u->tx[u->snd_una % UDP_RWIN];

		if (s->state == TX_OUT) {
			u->inflight--;
			note_delivered(u, s, t, &newest, &rtt);
		}
		s->state = TX_FREE;
		progress = 1;
	}
	for (int i = 0; i < UDP_RWIN && cum + i < u->snd_nxt; i++) {
		struct txslot *s = &u->tx[(cum + i) % UDP_RWIN];

		if (cum + i >= u->snd_una && (sack[i / 8] >> (i % 8) & 1) && s->state == TX_OUT) {
			s->state = TX_SACKED;
			u->inflight--;
			note_delivered(u, s, t, &newest, &rtt);
			progress = 1;
		}
	}
	if (rtt >= 0)
		rtt_sample(u, rtt);
	if (progress) {
		u->last_progress = t;
		u->backoff = 0;
	}
	/* sent DUPTHRESH transmissions before something that arrived: lost */
	for (uint64_t seq = u->snd_una; seq < u->snd_nxt; seq++) {
		struct txslot *s = &u->tx[seq % UDP_RWIN];

		if (s->state == TX_OUT && s->xid + DUPTHRESH <= u->rack_xid)
			resend(h, s);
	}
}

static void
udp_ctl_in(struct hop *h, const uint8_t *dg, size_t len)
{
	struct udp *u = h->u;
	uint64_t ctr = wire_get64(dg + 1);
	uint8_t nonce[AEAD_NONCE_LEN];

	if (len != CTL_LEN) {
		u->st.bad++;
		return;
	}
	if (ctr < u->ctl_rx) {		/* replayed, or overtaken by a newer one */
		u->st.oow++;
		return;
	}
	wire_nonce(nonce, T_CTL, ctr);
	if (aead_open(h->rx, nonce, dg, UDP_HDR, dg + UDP_HDR, 1 + CTL_BODY, u->dbuf,
		      dg + len - AEAD_TAG_LEN) < 0) {
		u->st.bad++;
		return;
	}
	u->ctl_rx = ctr + 1;
	u->confirmed = 1;
	if (u->dbuf[0] == CK_PING)
		u->need_ack = 1;
	udp_ack_in(h, wire_get64(u->dbuf + 1), u->dbuf + 9);
}

void
udp_hop_input(struct hop *h, const uint8_t *dg, size_t len)
{
	struct udp *u = h->u;

	u->st.received++;
	if (len < UDP_HDR || len > UDP_DGRAM_MAX) {
		u->st.bad++;
		return;
	}
	switch (dg[0]) {
	case T_DATA:
		udp_data_in(h, dg, len);
		break;
	case T_CTL:
		udp_ctl_in(h, dg, len);
		break;
	case UDP_T_AUTH:			/* the client missed our HSOK */
		if (h->server && len == UDP_AUTH_LEN && crypto_memeq(dg, u->auth, UDP_AUTH_LEN))
			u->need_hsok = 1;
		else
			u->st.bad++;
		break;
	case UDP_T_REPLY:			/* the server missed our AUTH */
		if (!h->server && !u->confirmed)
			udp_xmit(h, u->auth, UDP_AUTH_LEN);
		else
			u->st.dup++;
		break;
	default:
		u->st.bad++;
		break;
	}
}

static void
udp_drain(struct hop *h)
{
	struct udp *u = h->u;

	for (int i = 0; i < DRAIN_MAX; i++) {
		ssize_t n = recv(h->fd, u->rbuf, sizeof(u->rbuf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED)
				u->refused = 1;
			break;
		}
		if ((size_t)n > sizeof(u->rbuf)) {
			u->st.received++;
			u->st.bad++;
			continue;
		}
		udp_hop_input(h, u->rbuf, n);
		if (u->unacked >= ACK_EVERY)
			udp_send_ctl(h, CK_ACK);
	}
}

/* ---- timers and the pump ---- */

static int64_t
udp_next_timer(const struct udp *u)
{
	int64_t t = INT64_MAX, r = rto_now(u);

	if (u->need_ack || u->need_hsok)
		return 0;
	if (u->inflight == 0)
		return u->last_sent + u->keepalive_us;
	for (uint64_t seq = u->snd_una; seq < u->snd_nxt; seq++) {
		const struct txslot *s = &u->tx[seq % UDP_RWIN];

		if (s->state == TX_OUT && s->sent_us + r < t)
			t = s->sent_us + r;
	}
	return t;
}

static void
udp_timers(struct hop *h)
{
	struct udp *u = h->u;
	int64_t t = wire_now_us(), r = rto_now(u);
	int fired = 0;

	for (uint64_t seq = u->snd_una; u->inflight && seq < u->snd_nxt; seq++) {
		struct txslot *s = &u->tx[seq % UDP_RWIN];

		if (s->state == TX_OUT && t - s->sent_us >= r) {
			resend(h, s);
			fired = 1;
		}
	}
	if (fired) {
		u->st.timeouts++;
		if (u->backoff < 8)
			u->backoff++;
	}
	if (u->need_hsok) {
		u->need_hsok = 0;
		udp_send_ctl(h, CK_HSOK);
	}
	if (u->need_ack)
		udp_send_ctl(h, CK_ACK);
	else if (u->inflight == 0 && t - u->last_sent >= u->keepalive_us)
		udp_send_ctl(h, CK_PING);
}

/* -1 (err_set; the hop is dead) once the peer is known to be gone. */
static int
udp_check(struct hop *h)
{
	struct udp *u = h->u;
	char why[200];

	if (!h->dead && u->refused)
		udp_kill(h, "the peer's session port is closed (port unreachable)");
	if (!h->dead && u->snd_una < u->snd_nxt &&
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
	int64_t wake = udp_next_timer(h->u);

	if (wake > deadline)
		wake = deadline;
	if (wake > wire_now_us() && wire_wait(h->fd, POLLIN, wake) < 0)
		udp_kill(h, err_get());
	if (!h->dead) {
		udp_drain(h);
		udp_timers(h);
	}
	return udp_check(h);
}

int
udp_hop_poll(struct hop *h)
{
	udp_drain(h);
	udp_timers(h);
	return udp_check(h);
}

int
udp_hop_pending(const struct hop *h)
{
	return h->u->qh != NULL || h->peer_closed || h->dead;
}

/* ---- the API's UDP half ---- */

void
udp_hop_attach(struct hop *h)
{
	struct udp *u = xcalloc(1, sizeof(*u));
	int64_t t = wire_now_us();

	u->tx = xcalloc(UDP_RWIN, sizeof(*u->tx));
	u->rx = xcalloc(UDP_RWIN, sizeof(*u->rx));
	u->rto = UDP_RTO_INIT_US;
	u->keepalive_us = (int64_t)(h->timeout_s > 3 ? h->timeout_s / 3 : 1) * 1000000;
	u->last_progress = u->last_sent = u->last_data_in = t;
	wire_lossy_init(&u->loss);
	h->u = u;
}

int
udp_hop_send(struct hop *h, const void *msg, size_t len)
{
	struct udp *u = h->u;
	const uint8_t *p = msg;
	size_t off = 0;
	int k = 0;

	do {
		size_t n = len - off > UDP_CHUNK ? UDP_CHUNK : len - off;

		while (!window_open(u))
			if (udp_pump(h, INT64_MAX) < 0)
				goto fail;
		udp_queue(h, off + n == len ? DF_EOM : 0, p + off, n);
		off += n;
		if (++k % ACK_EVERY == 0)
			udp_drain(h);		/* take acks as they come */
	} while (off < len);
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
		if (h->dead) {
			err_set("%s", u->why);
			goto fail;
		}
		if (u->qh) {
			struct rmsg *m = u->qh;
			uint64_t before = u->rcv_nxt;
			ssize_t n = m->len;

			if (m->len > size) {
				err_set("message of %zu bytes does not fit a %zu-byte buffer",
					m->len, size);
				udp_kill(h, err_get());
				goto fail;
			}
			memcpy(buf, m->data, m->len);
			u->qh = m->next;
			if (u->qh == NULL)
				u->qt = NULL;
			u->qbytes -= sizeof(*m) + m->len;
			free(m);
			udp_deliver(h);
			if (u->rcv_nxt != before)	/* room again: reopen the window */
				udp_send_ctl(h, CK_ACK);
			return n;
		}
		if (h->peer_closed) {
			h->eof = 1;
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
	if (!h->dead && !u->refused && !h->peer_closed && h->fd >= 0) {
		int64_t wait = (int64_t)h->timeout_s * 1000000;
		int64_t end = wire_now_us() + (wait < HOP_CLOSE_WAIT_US ? wait : HOP_CLOSE_WAIT_US);

		while (!window_open(u) && wire_now_us() < end && udp_pump(h, end) == 0)
			;
		if (!h->dead && window_open(u)) {
			udp_queue(h, DF_CLOSE, NULL, 0);
			while (u->snd_una < u->snd_nxt && !h->peer_closed && wire_now_us() < end &&
			       udp_pump(h, end) == 0)
				;
		}
	}
	if (!h->dead && !u->refused && u->need_ack && h->fd >= 0)
		udp_send_ctl(h, CK_ACK);
	if (u->st.bad || u->st.oow)
		msg_info("hop %s %s: dropped %lu datagrams failing authentication, %lu out of window",
			 h->server ? "from" : "to", h->remote, u->st.bad, u->st.oow);
	while (u->qh) {
		struct rmsg *m = u->qh;

		u->qh = m->next;
		crypto_wipe(m->data, m->len);
		free(m);
	}
	if (u->asm_buf)
		crypto_wipe(u->asm_buf, HOP_MAX_MSG);
	free(u->asm_buf);
	crypto_wipe(u->rx, UDP_RWIN * sizeof(*u->rx));
	free(u->rx);
	free(u->tx);
	crypto_wipe(u->dbuf, sizeof(u->dbuf));
	free(u);
	h->u = NULL;
}

void
hop_udp_stats(const struct hop *h, struct hop_udp_stats *st)
{
	if (h->u)
		*st = h->u->st;
	else
		memset(st, 0, sizeof(*st));
}

/* ---- where the handshake (wire_udp_hs.c) hands over ---- */

void
udp_hop_start(struct hop *h, const uint8_t auth[UDP_AUTH_LEN], int64_t rtt_us)
{
	memcpy(h->u->auth, auth, UDP_AUTH_LEN);
	if (rtt_us >= 0)
		rtt_sample(h->u, rtt_us);
	if (h->server)
		udp_send_ctl(h, CK_HSOK);
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
			udp_xmit(h, u->auth, UDP_AUTH_LEN);
			next = t + rto;
			rto = 2 * rto < UDP_RTO_MAX_US ? 2 * rto : UDP_RTO_MAX_US;
		}
		if (wire_wait(h->fd, POLLIN, next < deadline ? next : deadline) < 0)
			return -1;
		udp_drain(h);
		if (u->refused) {
			err_set("%s refused us (is our key on its PEER line for %s?)", h->peer->name, me);
			return -1;
		}
	}
	if (u->need_ack)	/* data may have come with the confirmation */
		udp_send_ctl(h, CK_ACK);
	return 0;
}
