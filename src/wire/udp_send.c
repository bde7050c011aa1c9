/*
 * udp_send.c - the sending half of the UDP transport: packets built from
 * the send ring (lost bytes first, then new ones) with the ACK, MAX_DATA
 * and PING frames due, sealed, and put out in sendmmsg batches as the
 * congestion window and the pacer allow; acknowledgements; loss detection
 * (RFC 9002 6: packet and time thresholds, the probe timeout); path MTU
 * discovery (RFC 8899 DPLPMTUD: padded probes, a black hole sends us back
 * to 1200 bytes). The arithmetic is udp_cc.c's.
 *
 * Every packet gets a new number; a lost packet's bytes go out again in a
 * new packet, so an RTT sample is never ambiguous and a number is never
 * sealed twice (it is the nonce). Stream bytes that are a packet's (the
 * ranges udp_hop_send_body noted in s_body) go out in body packets, in the
 * clear under the packet's tag; a chunk never straddles such a range's
 * edge, so no other byte is ever sent in the clear. Never sends more than the peer's
 * MAX_DATA allows, never keeps more than UDP_SENT_MAX packet records.
 */
#include "udp_int.h"
#include "../util/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

static struct sent *
rec(const struct udp *u, uint64_t pn)
{
	return &u->sent[pn & (u->sent_cap - 1)];
}

void
udp_send_init(struct udp *u)
{
	u->sent_cap = 1024;
	u->sent = xcalloc(u->sent_cap, sizeof(*u->sent));
	u->scap = UDP_SND_INIT;
	u->sbuf = xmalloc(u->scap);
	rset_init(&u->s_acked, UDP_LOST_RANGES);
	rset_init(&u->s_lost, UDP_LOST_RANGES);
	rset_init(&u->s_body, UDP_BODY_RANGES);
	u->peer_max = UDP_RCV_INIT;		/* every peer starts with this window */
	u->plpmtu = u->pmtu_max = UDP_BASE_MTU;
	u->pmtu_fail = UDP_BASE_MTU + 1;
	cc_init(&u->cc, CC_CUBIC, UDP_BASE_MTU, UDP_WINDOW_MAX);
	rtt_init(&u->rtt);
	u->first_rtt_t = -1;
	u->txb = xmalloc((size_t)UDP_BATCH * UDP_DGRAM_CAP);
}

void
udp_send_free(struct udp *u)
{
	free(u->sent);
	free(u->sbuf);
	free(u->txb);
	rset_free(&u->s_acked);
	rset_free(&u->s_lost);
	rset_free(&u->s_body);
}

/* Forget the records below the oldest outstanding packet; make room for one more. */
static int
sent_room(struct udp *u)
{
	struct sent *n;
	size_t cap;

	while (u->sent_lo < u->next_pn && rec(u, u->sent_lo)->state != PS_OUT)
		u->sent_lo++;
	if (u->next_pn - u->sent_lo < u->sent_cap)
		return 1;
	if (u->sent_cap >= UDP_SENT_MAX)
		return 0;
	cap = 2 * u->sent_cap;
	n = xcalloc(cap, sizeof(*n));
	for (uint64_t pn = u->sent_lo; pn < u->next_pn; pn++)
		n[pn & (cap - 1)] = *rec(u, pn);
	free(u->sent);
	u->sent = n;
	u->sent_cap = cap;
	return 1;
}

int
udp_snd_room(struct udp *u, size_t len)
{
	size_t used = u->snd_end - u->snd_base, need = used + 4 + len, limit, cap = u->scap;

	if (need <= u->scap)
		return 1;
	limit = 2 * u->cc.cwnd + 2 * (HOP_MAX_MSG + 4);
	if (limit > UDP_SND_MAX)
		limit = UDP_SND_MAX;
	while (cap < need && 2 * cap <= limit)
		cap *= 2;
	if (cap < need)
		return 0;
	u->sbuf = ring_regrow(u->sbuf, u->scap, cap, u->snd_base, used);
	u->scap = cap;
	return 1;
}

/* ---- path MTU (RFC 8899) ---- */

void
udp_pmtu_start(struct hop *h, int64_t now)
{
	struct udp *u = h->u;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int mtu = 0, over = 28;
	socklen_t ml = sizeof(mtu);

	if (getsockname(h->fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		over = 48;
		if (getsockopt(h->fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &ml) < 0)
			return;
	} else if (ss.ss_family != AF_INET || getsockopt(h->fd, IPPROTO_IP, IP_MTU, &mtu, &ml) < 0) {
		return;			/* not IP (the tests' socketpairs): stay at the base */
	}
	mtu -= over;
	if (mtu > UDP_DGRAM_CAP)
		mtu = UDP_DGRAM_CAP;
	if (mtu <= UDP_BASE_MTU)
		return;
	u->pmtu_max = mtu;
	u->pmtu_fail = mtu + 1;
	u->probe_at = now;
}

/* The next size to probe; 0 when the search is over. */
static size_t
pmtu_next(const struct udp *u)
{
	if (u->plpmtu >= u->pmtu_max || u->pmtu_fail <= u->plpmtu + UDP_PMTU_STEP)
		return 0;
	if (u->pmtu_fail == u->pmtu_max + 1)
		return u->pmtu_max;		/* the interface's MTU first: usually right */
	return (u->plpmtu + u->pmtu_fail) / 2;
}

static int
pmtu_due(struct udp *u, int64_t now)
{
	if (u->probe_size || !u->probe_at || now < u->probe_at)
		return 0;
	if (pmtu_next(u) == 0) {		/* searched: look up again much later */
		u->probe_at = now + UDP_PMTU_RAISE_US;
		if (u->plpmtu < u->pmtu_max)
			u->pmtu_fail = u->pmtu_max + 1;
		return 0;
	}
	return 1;
}

static void
pmtu_probe_done(struct hop *h, size_t size, int ok, int64_t now)
{
	struct udp *u = h->u;

	u->probe_size = 0;
	u->probe_at = now;
	if (ok) {
		u->probe_fails = 0;
		if (size > u->plpmtu) {
			u->plpmtu = size;
			cc_set_mds(&u->cc, size);
		}
	} else if (++u->probe_fails >= UDP_PMTU_PROBES) {
		u->probe_fails = 0;
		if (size < u->pmtu_fail)
			u->pmtu_fail = size;
	}
}

/* RFC 8899 4.3: full-sized packets no longer get through: back to the base. */
static void
pmtu_black_hole(struct hop *h, int64_t now)
{
	struct udp *u = h->u;

	if (u->plpmtu <= UDP_BASE_MTU)
		return;
	msg_info("hop %s %s: datagrams of %zu bytes no longer get through; back to %d",
		 h->server ? "from" : "to", h->remote, u->plpmtu, UDP_BASE_MTU);
	u->pmtu_fail = u->plpmtu;
	u->plpmtu = UDP_BASE_MTU;
	u->probe_fails = 0;
	u->probe_at = now;
	cc_set_mds(&u->cc, UDP_BASE_MTU);
}

/* ---- acknowledgements and losses ---- */

static void
lost(struct hop *h, struct sent *s, int64_t now)
{
	struct udp *u = h->u;

	s->state = PS_LOST;
	u->st.lost++;
	if (s->flags & SF_ELICIT) {
		u->elicit_out--;
		cc_remove(&u->cc, s->size);
	}
	if ((s->flags & SF_STREAM) && s->len)
		rset_add_cover(&u->s_lost, s->off, s->off + s->len);
	if (s->flags & SF_FIN)
		u->fin_send = 1;
	if (s->flags & SF_MAXDATA)
		u->need_max_data = 1;
	if (s->flags & SF_BLOCKED)
		u->blocked_at = 0;		/* say it again if still so */
	if (s->flags & SF_PROBE)
		pmtu_probe_done(h, s->size, 0, now);
}

/*
 * RFC 9002 6.1: a packet older than one acknowledged is lost once
 * kPacketThreshold newer ones are acknowledged, or once it is loss_delay
 * old; the first one not yet lost sets the loss timer. A run of lost
 * ack-eliciting packets spanning more than 3 PTOs with none acknowledged
 * in between is persistent congestion (7.6).
 */
static void
detect_lost(struct hop *h, int64_t now)
{
	struct udp *u = h->u;
	int64_t delay = rtt_loss_delay(&u->rtt), pc_start = -1, newest = -1;
	int64_t span = rtt_pto(&u->rtt) * CC_PERSISTENT_THRESHOLD;
	int persistent = 0;

	u->loss_time = 0;
	if (!u->have_acked)
		return;
	for (uint64_t pn = u->sent_lo; pn <= u->largest_acked && pn < u->next_pn; pn++) {
		struct sent *s = rec(u, pn);

		if (s->state == PS_ACKED) {
			pc_start = -1;
			continue;
		}
		if (s->state == PS_NONE)
			continue;
		if (s->state == PS_OUT) {
			if (pn + CC_PACKET_THRESHOLD > u->largest_acked && s->t > now - delay) {
				if (!u->loss_time || s->t + delay < u->loss_time)
					u->loss_time = s->t + delay;
				continue;
			}
			lost(h, s, now);
			if (!(s->flags & SF_PROBE) && s->t > newest)
				newest = s->t;
		}
		if ((s->flags & SF_PROBE) || !(s->flags & SF_ELICIT))
			continue;		/* a lost probe says nothing about congestion */
		if (pc_start < 0)
			pc_start = s->t;
		if (s->t - pc_start > span && u->first_rtt_t >= 0 && u->first_rtt_t < pc_start)
			persistent = 1;
	}
	if (newest < 0)
		return;
	cc_on_congestion(&u->cc, newest, now);
	if (persistent) {
		cc_on_persistent_congestion(&u->cc);
		pmtu_black_hole(h, now);
	}
}

static void
acked(struct hop *h, struct sent *s, int64_t now, uint64_t in_flight_before)
{
	struct udp *u = h->u;

	s->state = PS_ACKED;
	if (s->flags & SF_ELICIT) {
		u->elicit_out--;
		cc_remove(&u->cc, s->size);
		cc_on_acked(&u->cc, s->size, s->t, now, &u->rtt, in_flight_before);
	}
	if ((s->flags & SF_STREAM) && s->len) {
		/* no room to remember it as acknowledged: send it again instead */
		if (rset_add(&u->s_acked, s->off, s->off + s->len) < 0)
			rset_add_cover(&u->s_lost, s->off, s->off + s->len);
		else
			(void)rset_remove(&u->s_lost, s->off, s->off + s->len);
		while (u->s_acked.n && u->s_acked.r[0].lo <= u->snd_base) {
			if (u->s_acked.r[0].hi > u->snd_base)
				u->snd_base = u->s_acked.r[0].hi;
			rset_remove(&u->s_acked, u->s_acked.r[0].lo, u->s_acked.r[0].hi);
		}
		if (u->s_body.n && u->s_body.r[0].hi <= u->snd_base)
			rset_drop_below(&u->s_body, u->snd_base);
	}
	if (s->flags & SF_FIN)
		u->fin_acked = 1;
	if (s->flags & SF_PROBE)
		pmtu_probe_done(h, s->size, 1, now);
}

void
udp_on_ack(struct hop *h, const struct uframe *f, int64_t now)
{
	struct udp *u = h->u;
	uint64_t before = u->cc.in_flight;
	int64_t largest_t = -1;
	int newly = 0;

	if (f->largest >= u->next_pn) {
		udp_kill(h, "peer acknowledged a packet never sent");
		return;
	}
	if (!u->have_acked || f->largest > u->largest_acked) {
		u->largest_acked = f->largest;
		u->have_acked = 1;
	}
	for (int i = 0; i < f->nranges; i++) {
		uint64_t lo = f->ranges[i].lo < u->sent_lo ? u->sent_lo : f->ranges[i].lo;

		for (uint64_t pn = lo; pn < f->ranges[i].hi; pn++) {
			struct sent *s = rec(u, pn);

			if (s->state == PS_NONE) {
				s->state = PS_ACKED;
			} else if (s->state == PS_OUT) {
				if (pn == f->largest && (s->flags & SF_ELICIT))
					largest_t = s->t;
				acked(h, s, now, before);
				newly++;
			}
		}
	}
	if (!newly)
		return;
	if (largest_t >= 0) {		/* RFC 9002 5.1: a sample from the largest, if new */
		rtt_update(&u->rtt, now - largest_t, (int64_t)f->delay);
		cc_on_rtt(&u->cc, now - largest_t);
		if (u->first_rtt_t < 0)
			u->first_rtt_t = now;
	}
	u->pto_count = 0;
	u->last_progress = now;
	detect_lost(h, now);
}

/* ---- timers ---- */

static int64_t
loss_timer(const struct udp *u)
{
	int64_t pto;

	if (u->loss_time)
		return u->loss_time;
	if (!u->elicit_out)
		return INT64_MAX;
	pto = rtt_pto(&u->rtt);
	if (u->last_acknow)		/* not delayed by the peer (cf. RFC 9002 6.2.1) */
		pto -= CC_MAX_ACK_DELAY_US;
	pto <<= u->pto_count < 16 ? u->pto_count : 16;
	if (pto > CC_PTO_MAX_US)
		pto = CC_PTO_MAX_US;
	return u->last_elicit_t + pto;
}

static uint64_t
send_limit(const struct udp *u)
{
	return u->snd_end < u->peer_max ? u->snd_end : u->peer_max;
}

/* RFC 9002 6.2.4: two ack-eliciting probes, new data if there is some,
 * else the oldest bytes still out, else a PING. */
static void
on_pto(struct hop *h)
{
	struct udp *u = h->u;

	u->st.timeouts++;
	if (u->pto_count < 16)
		u->pto_count++;
	u->probes = 2;
	if (u->snd_next < send_limit(u) || u->s_lost.n)
		return;
	for (uint64_t pn = u->sent_lo; pn < u->next_pn; pn++) {
		struct sent *s = rec(u, pn);

		if (s->state == PS_OUT && (s->flags & SF_STREAM)) {
			if (s->len)
				rset_add_cover(&u->s_lost, s->off, s->off + s->len);
			if (s->flags & SF_FIN)
				u->fin_send = 1;
			return;
		}
	}
	u->need_ping = 1;
}

void
udp_send_timers(struct hop *h, int64_t now)
{
	struct udp *u = h->u;

	if (now >= loss_timer(u)) {
		if (u->loss_time)
			detect_lost(h, now);
		else
			on_pto(h);
	}
	if (!u->elicit_out && now - u->last_sent >= u->keepalive_us)
		u->need_ping = 1;
}

/* Bytes wait at the peer's limit and it has not been told so. */
static int
blocked_news(const struct udp *u)
{
	return u->snd_end > u->peer_max && u->snd_next >= u->peer_max && u->blocked_at != u->peer_max;
}

static int
have_elicit(const struct udp *u)
{
	return u->probes || u->need_ping || u->need_max_data || u->s_lost.n || blocked_news(u) ||
	       (u->fin_send && u->snd_next == u->snd_end) || u->snd_next < send_limit(u);
}

int64_t
udp_send_wake(const struct hop *h, int64_t now)
{
	const struct udp *u = h->u;
	int64_t t = loss_timer(u);

	if (u->ntx && !u->tx_blocked)
		return now;
	if (have_elicit(u)) {
		if (u->probes)
			return now;
		if (cc_can_send(&u->cc, u->plpmtu) && cc_pacer_time(&u->cc) < t)
			t = cc_pacer_time(&u->cc);
	}
	if (!u->elicit_out && u->last_sent + u->keepalive_us < t)
		t = u->last_sent + u->keepalive_us;
	if (u->probe_at && !u->probe_size && u->probe_at < t) {
		size_t next = pmtu_next(u);

		if (next == 0)		/* the search is over: pmtu_due re-arms it */
			t = u->probe_at;
		else if (cc_can_send(&u->cc, next))
			t = u->probe_at > cc_pacer_time(&u->cc) ? u->probe_at : cc_pacer_time(&u->cc);
	}
	return t;
}

/* ---- packets out ---- */

/*
 * At most n stream bytes from off, all of them a packet's (*body = 1) or
 * none of them (*body = 0): the chunk ends where a body range begins or ends.
 */
static size_t
body_clip(const struct udp *u, uint64_t off, size_t n, int *body)
{
	const struct rset *b = &u->s_body;
	int lo = 0, hi = b->n;

	*body = 0;
	while (lo < hi) {			/* the first range ending past off */
		int mid = (lo + hi) / 2;

		if (b->r[mid].hi <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == b->n)
		return n;
	if (b->r[lo].lo <= off) {
		*body = 1;
		return b->r[lo].hi - off < n ? b->r[lo].hi - off : n;
	}
	return b->r[lo].lo - off < n ? b->r[lo].lo - off : n;
}

/* The stream bytes to send next, at most room: lost ones first (minus
 * what was acknowledged meanwhile), then new ones; *body as body_clip.
 * 0: none. */
static size_t
next_chunk(struct udp *u, size_t room, uint64_t *off, int *rexmit, int *body)
{
	uint64_t lim = send_limit(u);

	while (u->s_lost.n) {
		uint64_t lo0 = u->s_lost.r[0].lo, lo = lo0 < u->snd_base ? u->snd_base : lo0;
		uint64_t hi = u->s_lost.r[0].hi;
		size_t n;

		for (int i = 0; i < u->s_acked.n && lo < hi; i++) {
			const struct range *a = &u->s_acked.r[i];

			if (a->hi <= lo)
				continue;
			if (a->lo <= lo) {
				lo = a->hi;
				continue;
			}
			if (a->lo < hi)
				hi = a->lo;
			break;
		}
		if (lo >= hi) {
			rset_remove(&u->s_lost, lo0, u->s_lost.r[0].hi);
			continue;
		}
		n = body_clip(u, lo, hi - lo < room ? hi - lo : room, body);
		rset_remove(&u->s_lost, lo0, lo + n);
		*off = lo;
		*rexmit = 1;
		return n;
	}
	if (u->snd_next >= lim)
		return 0;
	*off = u->snd_next;
	*rexmit = 0;
	room = body_clip(u, u->snd_next, lim - u->snd_next < room ? lim - u->snd_next : room, body);
	u->snd_next += room;
	return room;
}

size_t
udp_seal(struct aead *a, uint64_t pn, uint8_t *dg, size_t len)
{
	uint8_t nonce[AEAD_NONCE_LEN];

	dg[0] = UDP_T_PKT;
	wire_put64(dg + 1, pn);
	wire_nonce(nonce, UDP_T_PKT, pn);
	if (aead_seal(a, nonce, dg, UDP_HDR, dg + UDP_HDR, len, dg + UDP_HDR,
		      dg + UDP_HDR + len) < 0)
		msg_panic("UDP hop: %s", err_get());
	return UDP_HDR + len + AEAD_TAG_LEN;
}

size_t
udp_seal_body(struct aead *a, uint64_t pn, uint8_t *dg, size_t slen, size_t blen)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	uint8_t *body = dg + UDP_BODY_HDR + slen;
	struct aead_ad ad[2] = { { dg, UDP_BODY_HDR }, { body, blen } };

	dg[0] = UDP_T_BODY;
	wire_put64(dg + 1, pn);
	dg[UDP_HDR] = (uint8_t)(slen >> 8);
	dg[UDP_HDR + 1] = (uint8_t)slen;
	wire_nonce(nonce, UDP_T_BODY, pn);
	if (aead_seal_ad(a, nonce, ad, 2, dg + UDP_BODY_HDR, slen, dg + UDP_BODY_HDR,
			 body + blen) < 0)
		msg_panic("UDP hop: %s", err_get());
	return UDP_BODY_HDR + slen + blen + AEAD_TAG_LEN;
}

/* Record packet pn, account for it, queue it in the batch (test hook permitting). */
static void
commit(struct hop *h, size_t dglen, const struct sent *proto, int64_t now)
{
	struct udp *u = h->u;
	struct sent *s = rec(u, u->next_pn);

	*s = *proto;
	s->t = now;
	s->size = dglen;
	s->state = (s->flags & SF_ELICIT) ? PS_OUT : PS_NONE;
	if (s->flags & SF_ELICIT) {
		if (!u->elicit_out)
			u->last_progress = now;	/* the no-acknowledgement clock starts */
		u->elicit_out++;
		u->last_elicit_t = now;
		u->last_acknow = (s->flags & SF_ACKNOW) != 0;
		cc_on_sent(&u->cc, dglen, now, &u->rtt);
		if (u->probes)
			u->probes--;
	}
	if (s->flags & SF_REXMIT)
		u->st.rexmit++;
	u->next_pn++;
	u->last_sent = now;
	u->st.sent++;
	if (wire_lossy_drop(&u->loss))
		u->st.test_dropped++;
	else
		u->txlen[u->ntx++] = dglen;
}

/* Build the next packet into the batch: 1 if one was built. */
static int
build(struct hop *h, int64_t now)
{
	struct udp *u = h->u;
	uint8_t *dg = u->txb + (size_t)u->ntx * UDP_DGRAM_CAP, *p = dg + UDP_HDR, *end;
	struct sent s = { 0 };
	size_t size = u->plpmtu, blen = 0, dglen;
	int elicit, ack_due;
	uint64_t boff = 0;

	if (!sent_room(u))
		return 0;
	elicit = have_elicit(u) && (u->probes || (cc_can_send(&u->cc, size) &&
						   cc_pacer_time(&u->cc) <= now));
	ack_due = u->ack_any && (u->ack_now || (u->ack_pending && now >= u->ack_deadline));
	if (u->probes == 0 && pmtu_due(u, now) && cc_can_send(&u->cc, pmtu_next(u)) &&
	    cc_pacer_time(&u->cc) <= now) {
		size = pmtu_next(u);		/* a probe: PING, padded to the size tried */
		elicit = 0;
		s.flags = SF_PROBE | SF_ELICIT;
		u->probe_size = size;
	} else if (!elicit && !ack_due) {
		return 0;
	}
	end = dg + size - AEAD_TAG_LEN;
	if (u->ack_any) {
		p += uf_put_ack(p, end - p, &u->pn_seen, (uint64_t)(now - u->largest_rcvd_t));
		u->ack_any = u->ack_now = u->ack_pending = 0;
		u->ack_deadline = INT64_MAX;
	}
	if (s.flags & SF_PROBE) {
		*p++ = UF_PING;
		memset(p, UF_PADDING, end - p);
		p = end;
	} else if (elicit) {
		if (u->need_max_data) {
			p += uf_put_max_data(p, u->rcv_max);
			u->need_max_data = 0;
			s.flags |= SF_MAXDATA | SF_ELICIT;
		}
		if (u->need_ping || u->probes) {
			*p++ = UF_PING;
			u->need_ping = 0;
			s.flags |= SF_ELICIT;
		}
		if (blocked_news(u)) {
			p += uf_put_blocked(p, u->peer_max);
			u->blocked_at = u->peer_max;
			s.flags |= SF_BLOCKED | SF_ELICIT;
		}
		/*
		 * Stream bytes: a chunk, then (new bytes only) the chunks right
		 * after it while they fit, so a message's sealed head and the
		 * first of its body, the end of one body and the next head, or
		 * several small messages share a packet; at most one chunk of
		 * body bytes goes in the clear, at the end (a second one is
		 * sealed like the rest: never less protected). Room is kept
		 * for a body packet's 2 more header bytes, whichever this one
		 * becomes.
		 */
		for (int k = 0; k < 8; k++) {
			size_t n, room;
			uint64_t o = 0;
			int rx = 0, b = 0, fin;

			if (end - p <= (ptrdiff_t)(blen + UF_STREAM_HDR + 3))
				break;
			room = end - p - blen - UF_STREAM_HDR - 3;
			if (k > 0) {
				int nb;

				if ((s.flags & (SF_FIN | SF_REXMIT)) || u->s_lost.n ||
				    u->snd_next != s.off + s.len || u->snd_next >= send_limit(u))
					break;
				/* a second body: sealed if all the rest of it fits (a
				 * small file's), else it starts the next packet */
				if (body_clip(u, u->snd_next, room, &nb) == room && nb && blen)
					break;
			}
			n = next_chunk(u, room, &o, &rx, &b);
			if (b && blen)
				b = 0;
			if (n == 0 && !(k == 0 && u->fin_send && u->snd_next == u->snd_end))
				break;
			if (n == 0)
				o = u->snd_end;
			fin = u->fin_queued && u->fin_send && o + n == u->snd_end;
			if (b && n > 0) {		/* the bytes follow the sealed frames */
				p += uf_put_body_hdr(p, o, n, fin);
				blen = n;
				boff = o;
			} else {
				p += uf_put_stream_hdr(p, o, n, fin);
				ring_out(u->sbuf, u->scap, o, p, n);
				p += n;
			}
			if (k == 0) {
				s.flags |= SF_STREAM | SF_ELICIT | (rx ? SF_REXMIT : 0);
				s.off = o;
				s.len = n;
			} else {
				s.len += n;
			}
			if (fin) {
				s.flags |= SF_FIN;
				u->fin_send = 0;
			}
		}
	}
	if (p == dg + UDP_HDR)
		return 0;
	/* the last packet we can send for now: have it acknowledged at once,
	 * so a loss at the tail is found in a round trip, not a delayed ACK */
	if ((s.flags & SF_ELICIT) && p + (blen ? 2 + blen : 0) < end &&
	    !(have_elicit(u) && cc_can_send(&u->cc, (p - dg) + (blen ? 2 + blen : 0) + AEAD_TAG_LEN +
							  u->plpmtu))) {
		*p++ = UF_ACK_NOW;
		s.flags |= SF_ACKNOW;
	}
	if (blen) {
		/* a body packet: the frames move up past the frames' length,
		 * the packet's bytes follow them as they are */
		size_t slen = p - (dg + UDP_HDR);

		memmove(dg + UDP_BODY_HDR, dg + UDP_HDR, slen);
		ring_out(u->sbuf, u->scap, boff, dg + UDP_BODY_HDR + slen, blen);
		dglen = udp_seal_body(h->tx, u->next_pn, dg, slen, blen);
	} else {
		dglen = udp_seal(h->tx, u->next_pn, dg, p - (dg + UDP_HDR));
	}
	commit(h, dglen, &s, now);
	return 1;
}

void
udp_tx_batch(struct hop *h)
{
	struct udp *u = h->u;
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int done = 0;

	while (done < u->ntx) {
		int n = u->ntx - done, r;

		for (int i = 0; i < n; i++) {
			iov[i].iov_base = u->txb + (size_t)(done + i) * UDP_DGRAM_CAP;
			iov[i].iov_len = u->txlen[done + i];
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		if ((r = sendmmsg(h->fd, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
			done += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			u->tx_blocked = 1;
			break;
		}
		if (r < 0 && errno == ECONNREFUSED)
			u->refused = 1;
		if (r < 0 && errno == EMSGSIZE && u->txlen[done] < u->pmtu_fail &&
		    u->txlen[done] > u->plpmtu)
			u->pmtu_fail = u->txlen[done];	/* larger than the interface: a failed probe */
		done++;			/* any other error: as if lost on the way */
	}
	if (done < u->ntx) {
		memmove(u->txb, u->txb + (size_t)done * UDP_DGRAM_CAP,
			(size_t)(u->ntx - done) * UDP_DGRAM_CAP);
		memmove(u->txlen, u->txlen + done, (u->ntx - done) * sizeof(*u->txlen));
		u->ntx -= done;
	} else {
		u->ntx = 0;
		u->tx_blocked = 0;
	}
}

void
udp_flush(struct hop *h, int64_t now)
{
	struct udp *u = h->u;

	if (h->dead || h->fd < 0)
		return;
	if (u->ntx) {
		udp_tx_batch(h);
		if (u->ntx)
			return;
	}
	while (build(h, now)) {
		if (u->ntx == UDP_BATCH) {
			udp_tx_batch(h);
			if (u->ntx)
				return;
		}
	}
	udp_tx_batch(h);
	/* why sending stopped: data waits, the window has room, the pacer said no */
	u->cc.pacing_limited = have_elicit(u) && cc_can_send(&u->cc, u->plpmtu) &&
			       cc_pacer_time(&u->cc) > now;
}

size_t
udp_send_raw(struct hop *h, const uint8_t *frames, size_t len, uint8_t *dg)
{
	struct udp *u = h->u;
	struct sent s = { 0 };
	size_t n;

	if (u->ntx == UDP_BATCH)
		udp_tx_batch(h);
	if (len > UDP_DGRAM_CAP - UDP_OVERHEAD || !sent_room(u) || u->ntx == UDP_BATCH)
		return 0;
	memcpy(dg + UDP_HDR, frames, len);
	n = udp_seal(h->tx, u->next_pn, dg, len);
	memcpy(u->txb + (size_t)u->ntx * UDP_DGRAM_CAP, dg, n);
	commit(h, n, &s, wire_now_us());
	udp_tx_batch(h);
	return n;
}
