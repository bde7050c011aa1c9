/*
 * test_udp.c - the UDP transport's parts checked against the RFCs'
 * arithmetic with synthetic events: RTT estimation and PTO (RFC 9002 5,
 * 6.2), the congestion controllers (slow start, app-limited, NewReno's
 * halving, CUBIC's beta = 0.7, K and the cubic curve, fast convergence,
 * recovery periods, persistent congestion), the pacer; the frames (varints,
 * ACK ranges both ways, malformed input) and range sets; then loss
 * detection in a real transport pair over a socketpair, the test deciding
 * which datagram arrives: packet threshold, time threshold, PTO,
 * persistent congestion, a lost path-MTU probe that is no congestion.
 */
#include "t.h"
#include "crypto/crypto.h"
#include "util/log.h"
#include "wire/udp_int.h"
#include "udp_pair.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";
}

#define MDS	1200
#define MS	1000

static double
dabs(double x)
{
	return x < 0 ? -x : x;
}

static int
near(double a, double b, double tol)
{
	return dabs(a - b) <= tol * dabs(b);
}

/* The cube root, by bisection (the test needs no libm). */
static double
cbrt_(double x)
{
	double lo = 0, hi = x > 1 ? x : 1;

	for (int i = 0; i < 200; i++) {
		double m = (lo + hi) / 2;

		if (m * m * m < x)
			lo = m;
		else
			hi = m;
	}
	return lo;
}

/* ---- RTT (RFC 9002 5.3) and PTO (6.2.1) ---- */

static void
rtt_estimator(void)
{
	struct cc_rtt r;

	rtt_init(&r);
	CHECK_INT(r.smoothed, 333 * MS);		/* kInitialRtt before a sample */
	rtt_update(&r, 100 * MS, 10 * MS);		/* first: ack_delay ignored */
	CHECK_INT(r.smoothed, 100 * MS);
	CHECK_INT(r.var, 50 * MS);
	CHECK_INT(r.min, 100 * MS);
	rtt_update(&r, 140 * MS, 20 * MS);		/* adjusted = 120 */
	CHECK_INT(r.smoothed, (7 * 100 * MS + 120 * MS) / 8);
	CHECK_INT(r.var, (3 * 50 * MS + 20 * MS) / 4);
	rtt_update(&r, 105 * MS, 20 * MS);		/* 105 < min + delay: not adjusted */
	CHECK_INT(r.min, 100 * MS);
	CHECK_INT(r.latest, 105 * MS);
	rtt_update(&r, 200 * MS, 90 * MS);		/* delay capped at max_ack_delay 25 */
	CHECK_INT(r.latest, 200 * MS);
	{
		struct cc_rtt q = r;
		int64_t s = q.smoothed;

		rtt_update(&q, 300 * MS, 25 * MS);
		rtt_update(&r, 300 * MS, 1000 * MS);
		CHECK_INT(r.smoothed, q.smoothed);
		CHECK(r.smoothed > s);
	}
	/* loss delay: 9/8 max(smoothed, latest), at least 1 ms */
	CHECK_INT(rtt_loss_delay(&r), (r.latest > r.smoothed ? r.latest : r.smoothed) * 9 / 8);
	rtt_init(&r);
	rtt_update(&r, 100, 0);
	CHECK_INT(rtt_loss_delay(&r), CC_GRANULARITY_US);
	/* PTO = smoothed + max(4 var, granularity) + max_ack_delay */
	rtt_init(&r);
	rtt_update(&r, 80 * MS, 0);
	CHECK_INT(rtt_pto(&r), 80 * MS + 4 * 40 * MS + 25 * MS);
}

/* ---- congestion control ---- */

static void
windows(void)
{
	struct cc c;

	CHECK_INT(cc_initial_window(1200), 12000);	/* min(10 mds, max(14720, 2 mds)) */
	CHECK_INT(cc_initial_window(1472), 14720);
	CHECK_INT(cc_initial_window(9000), 18000);
	CHECK_INT(cc_min_window(1200), 2400);
	cc_init(&c, CC_CUBIC, MDS, 1 << 24);
	CHECK(cc_in_slow_start(&c));
	CHECK(cc_can_send(&c, 12000));
	c.in_flight = 11000;
	CHECK(!cc_can_send(&c, MDS));
	/* a larger datagram found by the PMTU search: the windows follow */
	cc_set_mds(&c, 1472);
	CHECK_INT(c.cwnd, 14720);
}

static void
slow_start_and_app_limited(void)
{
	struct cc c;
	struct cc_rtt r;
	uint64_t w;

	rtt_init(&r);
	rtt_update(&r, 50 * MS, 0);
	cc_init(&c, CC_NEWRENO, MDS, 1 << 24);
	/* acks while the window is in use: it grows by the bytes acked */
	for (int i = 0; i < 10; i++)
		cc_on_acked(&c, MDS, 1000 + i, 2000 + i, &r, c.cwnd);
	CHECK_INT(c.cwnd, 24000);
	/* acks while the sender used under half the window: no growth (7.8) */
	w = c.cwnd;
	for (int i = 0; i < 10; i++)
		cc_on_acked(&c, MDS, 3000, 4000, &r, 2 * MDS);
	CHECK_INT(c.cwnd, w);
	/* ... unless the pacer held it back: a paced sender uses its window */
	c.pacing_limited = 1;
	cc_on_acked(&c, MDS, 3000, 4000, &r, 2 * MDS);
	CHECK_INT(c.cwnd, w + MDS);
	c.pacing_limited = 0;
	/* the window never passes its ceiling */
	cc_init(&c, CC_NEWRENO, MDS, 20000);
	for (int i = 0; i < 20; i++)
		cc_on_acked(&c, MDS, 1, 2, &r, c.cwnd);
	CHECK_INT(c.cwnd, 20000);
}

static void
newreno(void)
{
	struct cc c;
	struct cc_rtt r;
	uint64_t w;

	rtt_init(&r);
	rtt_update(&r, 50 * MS, 0);
	cc_init(&c, CC_NEWRENO, MDS, 1 << 24);
	c.cwnd = 100 * MDS;
	cc_on_congestion(&c, 5 * MS, 10 * MS);		/* a loss halves the window */
	CHECK_INT(c.cwnd, 50 * MDS);
	CHECK_INT(c.ssthresh, 50 * MDS);
	CHECK(!cc_in_slow_start(&c));
	/* a loss of a packet sent before recovery began: no second cut */
	cc_on_congestion(&c, 9 * MS, 11 * MS);
	CHECK_INT(c.cwnd, 50 * MDS);
	/* an ack of a packet sent before recovery began: no growth */
	cc_on_acked(&c, MDS, 9 * MS, 12 * MS, &r, c.cwnd);
	CHECK_INT(c.cwnd, 50 * MDS);
	/* congestion avoidance: one mds per window of bytes acked */
	w = c.cwnd;
	for (int i = 0; i < 50; i++)
		cc_on_acked(&c, MDS, 20 * MS, 70 * MS, &r, c.cwnd);
	CHECK(c.cwnd >= w + MDS - 50 && c.cwnd <= w + MDS + 1);
	/* a loss after recovery: halved again; never below the minimum */
	cc_on_congestion(&c, 80 * MS, 90 * MS);
	CHECK(near(c.cwnd, (w + MDS) / 2.0, 0.02));
	c.cwnd = 3 * MDS;
	cc_on_congestion(&c, 100 * MS, 110 * MS);
	CHECK_INT(c.cwnd, 2 * MDS);
	CHECK_INT(c.congestion_events, 3);
}

/* CUBIC's window, in datagrams, t seconds into the epoch (RFC 9438 4.2). */
static double
w_cubic(double wmax, double k, double t)
{
	return 0.4 * (t - k) * (t - k) * (t - k) + wmax;
}

static void
cubic(void)
{
	struct cc c;
	struct cc_rtt r;
	double k, wmax = 100;
	int64_t t0 = 1000000, t;

	rtt_init(&r);
	rtt_update(&r, 100 * MS, 0);
	cc_init(&c, CC_CUBIC, MDS, 1 << 26);
	c.cwnd = 100 * MDS;
	cc_on_congestion(&c, t0 - 1, t0);		/* beta = 0.7 */
	CHECK_INT(c.cwnd, 70 * MDS);
	CHECK_INT(c.ssthresh, 70 * MDS);
	k = cbrt_(wmax * (1 - 0.7) / 0.4);		/* K = cbrt(W_max (1 - beta) / C) */
	CHECK(near(c.k, k, 1e-6));
	CHECK(near(c.w_max, wmax * MDS, 1e-9));
	/* acks all along the epoch, one window per RTT: the window follows
	 * W_cubic(t) (never faster than 1.5x per RTT, never the Reno estimate
	 * here: W_cubic is above it) */
	for (t = t0 + 100 * MS; t <= t0 + (int64_t)(2 * k * 1e6); t += 100 * MS) {
		uint64_t n = c.cwnd / MDS;
		double want;

		for (uint64_t i = 0; i < n; i++)
			cc_on_acked(&c, MDS, t - 50 * MS, t, &r, c.cwnd);
		/* the target is W_cubic(t + RTT), reached over the RTT's acks */
		want = w_cubic(wmax, k, (t - t0) / 1e6 + 0.1);
		if (dabs((t - t0) / 1e6 - k) < 0.05)
			CHECK(near(c.cwnd / (double)MDS, wmax, 0.03));	/* plateau at W_max */
		if ((t - t0) / 1e6 < k - 1)
			CHECK(c.cwnd < wmax * MDS);		/* concave below W_max */
		if ((t - t0) / 1e6 > k + 1)
			CHECK(c.cwnd > wmax * MDS);		/* convex above it */
		CHECK(near(c.cwnd / (double)MDS, want, 0.05));
	}
	/* fast convergence: a loss below the last W_max lowers W_max further */
	cc_init(&c, CC_CUBIC, MDS, 1 << 26);
	c.cwnd = 100 * MDS;
	cc_on_congestion(&c, 1, 2);
	c.cwnd = 80 * MDS;
	cc_on_congestion(&c, 3, 4);
	CHECK(near(c.w_max, 80 * MDS * (1 + 0.7) / 2, 1e-9));
	CHECK_INT(c.cwnd, 56 * MDS);
}

static void
cubic_reno_friendly(void)
{
	struct cc c;
	struct cc_rtt r;
	int64_t t0 = 1000000, t;
	double west;

	/* a short RTT and a small window: Reno's estimate leads (RFC 9438 4.3),
	 * growing by alpha = 3(1-beta)/(1+beta) datagrams per RTT */
	rtt_init(&r);
	rtt_update(&r, 1 * MS, 0);
	cc_init(&c, CC_CUBIC, MDS, 1 << 26);
	c.cwnd = 20 * MDS;
	cc_on_congestion(&c, t0 - 1, t0);
	CHECK_INT(c.cwnd, 14 * MDS);
	west = 14;
	for (t = t0 + MS; t < t0 + 11 * MS; t += MS) {	/* W_est stays below cwnd_prior */
		uint64_t n = c.cwnd / MDS;

		for (uint64_t i = 0; i < n; i++)
			cc_on_acked(&c, MDS, t - 1, t, &r, c.cwnd);
		west += 3 * 0.3 / 1.7;
	}
	CHECK(near(c.cwnd / (double)MDS, west, 0.05));
}

/* One round of n acks, all for packets sent in it, RTT rtt. */
static void
one_round(struct cc *c, struct cc_rtt *r, int64_t *t, int64_t rtt, int n)
{
	for (int i = 0; i < n; i++) {
		cc_on_acked(c, MDS, *t + i, *t + rtt + i, r, c->cwnd);
		cc_on_rtt(c, rtt);
	}
	*t += rtt;
}

static void
hystart(void)
{
	struct cc c;
	struct cc_rtt r;
	int64_t t = 1000000;
	uint64_t w;

	rtt_init(&r);
	rtt_update(&r, 100 * MS, 0);
	cc_init(&c, CC_CUBIC, MDS, 1 << 26);
	one_round(&c, &r, &t, 100 * MS, 10);
	one_round(&c, &r, &t, 100 * MS, 10);
	CHECK(!c.hs_css && cc_in_slow_start(&c));
	/* the RTT rose by 1/8 (12.5 ms, between 4 and 16): conservative slow start */
	one_round(&c, &r, &t, 112 * MS, 10);
	CHECK(!c.hs_css);
	one_round(&c, &r, &t, 126 * MS, 10);
	CHECK(c.hs_css);
	CHECK(!cc_in_slow_start(&c));
	/* CSS grows by a quarter of what is acked */
	w = c.cwnd;
	one_round(&c, &r, &t, 126 * MS, 8);
	CHECK_INT(c.cwnd, w + 8 * MDS / 4);
	/* five CSS rounds: congestion avoidance, ssthresh = cwnd */
	one_round(&c, &r, &t, 126 * MS, 8);
	one_round(&c, &r, &t, 126 * MS, 8);
	one_round(&c, &r, &t, 126 * MS, 8);
	CHECK(c.hs_css && c.ssthresh == UINT64_MAX);
	one_round(&c, &r, &t, 126 * MS, 8);
	CHECK(!c.hs_css);
	CHECK_INT(c.hystart_exits, 1);
	CHECK(c.ssthresh != UINT64_MAX && c.cwnd >= c.ssthresh);
	CHECK_INT(c.congestion_events, 0);

	/* a rise that goes away again: back to slow start */
	cc_init(&c, CC_CUBIC, MDS, 1 << 26);
	one_round(&c, &r, &t, 100 * MS, 10);
	one_round(&c, &r, &t, 100 * MS, 10);
	one_round(&c, &r, &t, 130 * MS, 10);
	CHECK(c.hs_css);
	one_round(&c, &r, &t, 100 * MS, 10);
	CHECK(!c.hs_css && cc_in_slow_start(&c));
	/* a loss in CSS ends it like any loss in slow start */
	one_round(&c, &r, &t, 100 * MS, 10);
	one_round(&c, &r, &t, 130 * MS, 10);
	CHECK(c.hs_css);
	cc_on_congestion(&c, t, t + 1);
	CHECK(!c.hs_css && c.ssthresh == c.cwnd);
}

static void
persistent_congestion(void)
{
	struct cc c;

	cc_init(&c, CC_CUBIC, MDS, 1 << 24);
	c.cwnd = 300 * MDS;
	cc_on_congestion(&c, 1, 2);
	cc_on_persistent_congestion(&c);
	CHECK_INT(c.cwnd, 2 * MDS);			/* kMinimumWindow */
	CHECK(cc_in_slow_start(&c));			/* back to slow start below ssthresh */
	CHECK_INT(c.persistent_events, 1);
}

static void
pacing(void)
{
	struct cc c;
	struct cc_rtt r;
	int64_t now = 5000000;
	int sent = 0;

	rtt_init(&r);
	rtt_update(&r, 100 * MS, 0);
	cc_init(&c, CC_CUBIC, MDS, 1 << 26);
	c.cwnd = 1000 * MDS;
	CHECK(near(cc_pacing_rate(&c, &r), 2.0 * 1000 * MDS / 0.1, 1e-9));	/* slow start: 2x */
	c.ssthresh = c.cwnd;
	CHECK(near(cc_pacing_rate(&c, &r), 1.25 * 1000 * MDS / 0.1, 1e-9));	/* after: 1.25x */
	/* rate 15 MB/s: at once at most 4 ms of it (50 datagrams), then spaced */
	while (cc_pacer_time(&c) <= now && sent < 200) {
		cc_on_sent(&c, MDS, now, &r);
		sent++;
	}
	CHECK(sent >= 50 && sent <= 52);
	{
		int64_t gap = cc_pacer_time(&c) - now;

		CHECK(gap > 0 && gap <= 100);		/* the next one in 80 us */
	}
	/* on time: one datagram per 80 us, no burst */
	now = cc_pacer_time(&c);
	cc_on_sent(&c, MDS, now, &r);
	CHECK_INT(cc_pacer_time(&c) - now, 80);
	/* idle for a second: credit for one burst only */
	now += 1000000;
	sent = 0;
	while (cc_pacer_time(&c) <= now && sent < 200) {
		cc_on_sent(&c, MDS, now, &r);
		sent++;
	}
	CHECK(sent >= 50 && sent <= 52);
	/* a slow path: at least 2 datagrams of credit */
	c.cwnd = 10 * MDS;
	rtt_update(&r, 1000 * MS, 0);
	now += 10000000;
	sent = 0;
	while (cc_pacer_time(&c) <= now && sent < 200) {
		cc_on_sent(&c, MDS, now, &r);
		sent++;
	}
	CHECK(sent >= 2 && sent <= 3);
}

/* ---- frames and range sets ---- */

static void
varints(void)
{
	uint64_t vals[] = { 0, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, VI_MAX };
	uint8_t b[16];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		const uint8_t *p = b;
		uint64_t v;
		uint8_t *e = vi_put(b, vals[i]);

		CHECK_INT(e - b, vi_len(vals[i]));
		CHECK(vi_get(&p, e, &v) == 0 && v == vals[i] && p == e);
		p = b;
		CHECK(vi_get(&p, e - 1, &v) < 0);	/* one byte short */
	}
	CHECK_INT(vi_len(16383), 2);
	CHECK_INT(vi_len(16384), 4);
}

static void
range_sets(void)
{
	struct rset s;

	rset_init(&s, 3);
	CHECK_INT(rset_add(&s, 10, 20), 0);
	CHECK_INT(rset_add(&s, 30, 40), 0);
	CHECK_INT(rset_add(&s, 20, 25), 0);		/* touches: merges */
	CHECK_INT(s.n, 2);
	CHECK(s.r[0].lo == 10 && s.r[0].hi == 25);
	CHECK_INT(rset_add(&s, 50, 60), 0);
	CHECK_INT(rset_add(&s, 70, 80), -1);		/* a fourth range: refused */
	CHECK_INT(s.n, 3);
	CHECK(rset_has(&s, 10) && rset_has(&s, 24) && !rset_has(&s, 25) && !rset_has(&s, 45));
	CHECK_INT(rset_add(&s, 0, 100), 0);		/* swallows all */
	CHECK(s.n == 1 && s.r[0].lo == 0 && s.r[0].hi == 100);
	CHECK_INT(rset_remove(&s, 40, 50), 0);		/* split */
	CHECK(s.n == 2 && s.r[0].hi == 40 && s.r[1].lo == 50);
	CHECK_INT(rset_remove(&s, 30, 60), 0);
	CHECK(s.n == 2 && s.r[0].hi == 30 && s.r[1].lo == 60);
	rset_drop_below(&s, 65);
	CHECK(s.n == 1 && s.r[0].lo == 65 && s.r[0].hi == 100);
	rset_add(&s, 200, 210);
	rset_add(&s, 300, 310);
	rset_add_cover(&s, 215, 220);			/* full: the nearer range grows over it */
	CHECK_INT(s.n, 3);
	CHECK(rset_has(&s, 215) && rset_has(&s, 219) && s.r[1].lo == 200 && s.r[1].hi == 220);
	rset_free(&s);
}

static void
ack_frames(void)
{
	struct rset pns;
	struct uframe f;
	uint8_t b[2048];
	const uint8_t *p;
	size_t n;

	rset_init(&pns, 256);
	/* received: 0-9, 12, 15-19, 100 */
	rset_add(&pns, 0, 10);
	rset_add(&pns, 12, 13);
	rset_add(&pns, 15, 20);
	rset_add(&pns, 100, 101);
	n = uf_put_ack(b, sizeof(b), &pns, 1234);
	p = b;
	CHECK_INT(uf_parse(&p, b + n, &f), 1);
	CHECK(p == b + n);
	CHECK_INT(f.type, UF_ACK);
	CHECK_INT(f.largest, 100);
	CHECK_INT(f.delay, 1234);
	CHECK_INT(f.nranges, 4);
	CHECK(f.ranges[0].lo == 100 && f.ranges[0].hi == 101);
	CHECK(f.ranges[1].lo == 15 && f.ranges[1].hi == 20);
	CHECK(f.ranges[2].lo == 12 && f.ranges[2].hi == 13);
	CHECK(f.ranges[3].lo == 0 && f.ranges[3].hi == 10);
	/* little room: the newest ranges only */
	n = uf_put_ack(b, 9, &pns, 0);
	p = b;
	CHECK(n > 0 && n <= 9 && uf_parse(&p, b + n, &f) == 1);
	CHECK(f.nranges < 4 && f.ranges[0].lo == 100);
	/* many ranges: at most UF_ACK_RANGES of them, newest first */
	for (uint64_t i = 0; i < 200; i++)
		rset_add(&pns, 1000 + 3 * i, 1001 + 3 * i);
	n = uf_put_ack(b, sizeof(b), &pns, 0);
	p = b;
	CHECK(uf_parse(&p, b + n, &f) == 1 && f.nranges == UF_ACK_RANGES);
	CHECK_INT(f.largest, 1000 + 3 * 199);
	/* malformed: a range below zero, a count too large, truncated */
	{
		uint8_t bad[] = { UF_ACK, 5, 0, 1, 2, 9, 0 };	/* gap 9 below 3 */
		uint8_t many[] = { UF_ACK, 5, 0, 0x40 | 0, 200, 0 };
		uint8_t first[] = { UF_ACK, 5, 0, 0, 6 };		/* first range 6 > largest 5 */

		p = bad;
		CHECK_INT(uf_parse(&p, bad + sizeof(bad), &f), -1);
		p = many;
		CHECK_INT(uf_parse(&p, many + sizeof(many), &f), -1);
		p = first;
		CHECK_INT(uf_parse(&p, first + sizeof(first), &f), -1);
		p = first;
		CHECK_INT(uf_parse(&p, first + 3, &f), -1);
	}
	rset_free(&pns);
}

static void
stream_frames(void)
{
	uint8_t b[64];
	const uint8_t *p;
	struct uframe f;
	size_t n = uf_put_stream_hdr(b, 123456, 5, 1);

	memcpy(b + n, "hello", 5);
	p = b;
	CHECK_INT(uf_parse(&p, b + n + 5, &f), 1);
	CHECK(f.type == UF_STREAM && f.fin && f.off == 123456 && f.len == 5 &&
	      memcmp(f.data, "hello", 5) == 0);
	p = b;
	CHECK_INT(uf_parse(&p, b + n + 4, &f), -1);	/* longer than the packet */
	b[n + 5] = UF_PADDING;
	p = b + n + 5;
	CHECK_INT(uf_parse(&p, b + n + 6, &f), 0);	/* padding ends the packet */
	b[0] = 0x3f;					/* unknown frame type */
	p = b;
	CHECK_INT(uf_parse(&p, b + 10, &f), -1);
}

/* ---- loss detection in a transport pair ---- */

/* Datagrams a sent, taken off b's socket (b never sees them by itself). */
static int
take(struct pair *x, uint8_t dg[][UDP_DGRAM_CAP], size_t *len, int max)
{
	int n = 0;
	ssize_t r;

	while (n < max && (r = recv(x->sv[1], dg[n], UDP_DGRAM_CAP, MSG_DONTWAIT)) > 0)
		len[n++] = r;
	return n;
}

/* Wait (pacing) until a has sent at least want datagrams; how many. */
static int
take_wait(struct pair *x, uint8_t dg[][UDP_DGRAM_CAP], size_t *len, int want)
{
	int64_t end = wire_now_us() + 1000 * MS;
	int n = take(x, dg, len, 64);

	while (n < want && wire_now_us() < end) {
		usleep(MS);
		udp_hop_poll(x->a);
		n += take(x, dg + n, len + n, 64 - n);
	}
	return n;
}

/* b takes the chosen datagrams and acknowledges at once; a reads the acks. */
static void
deliver(struct pair *x, uint8_t dg[][UDP_DGRAM_CAP], size_t *len, int from, int to)
{
	for (int i = from; i < to; i++)
		udp_hop_input(x->b, dg[i], len[i]);
	x->b->u->ack_now = 1;
	udp_flush(x->b, wire_now_us());
	udp_hop_poll(x->a);
}

static uint8_t dgs[64][UDP_DGRAM_CAP];
static size_t lens[64];

static void
packet_threshold(void)
{
	struct pair x;
	uint8_t msg[8000];
	int n;

	pair_open(&x);
	memset(msg, 'x', sizeof(msg));
	CHECK_INT(hop_send(x.a, msg, sizeof(msg)), 0);	/* 7 datagrams of 1200 */
	n = take_wait(&x, dgs, lens, 7);
	CHECK_INT(n, 7);
	/* the first is lost; the next two arrive: not yet (kPacketThreshold 3) */
	deliver(&x, dgs, lens, 1, 3);
	CHECK_INT(x.a->u->st.lost, 0);
	/* a third newer one arrives: the first is lost, its bytes go again,
	 * the window is cut by beta (CUBIC) */
	deliver(&x, dgs, lens, 3, 4);
	CHECK_INT(x.a->u->st.lost, 1);
	CHECK_INT(x.a->u->cc.congestion_events, 1);
	CHECK_INT(x.a->u->cc.cwnd, (uint64_t)(x.a->u->cc.cwnd_prior * 0.7));
	CHECK_INT(x.a->u->cc.ssthresh, x.a->u->cc.cwnd);
	/* the resent bytes and the rest arrive: the message, exactly once */
	deliver(&x, dgs, lens, 4, 7);
	for (int i = 0; i < 5 && !udp_hop_pending(x.b); i++) {
		n = take_wait(&x, dgs, lens, 1);
		deliver(&x, dgs, lens, 0, n);
	}
	CHECK(x.a->u->st.rexmit >= 1);
	{
		uint8_t got[9000];

		CHECK(udp_hop_pending(x.b));
		CHECK_INT(hop_recv(x.b, got, sizeof(got), 1), sizeof(msg));
		CHECK(memcmp(got, msg, sizeof(msg)) == 0);
		CHECK(!udp_hop_pending(x.b));
	}
	pair_close(&x);
}

static void
time_threshold_and_pto(void)
{
	struct pair x;
	uint8_t msg[3000];
	int n;

	pair_open(&x);
	memset(msg, 'y', sizeof(msg));
	CHECK_INT(hop_send(x.a, msg, sizeof(msg)), 0);	/* 3 datagrams */
	n = take_wait(&x, dgs, lens, 3);
	CHECK_INT(n, 3);
	/* the first two arrive, the last is lost: only time tells (9/8 RTT) */
	deliver(&x, dgs, lens, 0, 1);
	deliver(&x, dgs, lens, 1, 2);
	CHECK_INT(x.a->u->st.lost, 0);
	CHECK(x.a->u->loss_time == 0);		/* it is the newest: the PTO covers it */
	/* nothing comes back: the probe timeout fires and sends probes */
	usleep(200 * MS);
	udp_hop_poll(x.a);
	CHECK(x.a->u->st.timeouts >= 1);
	n = take(&x, dgs, lens, 64);
	CHECK(n >= 1);
	/* a probe arrives: the old packet is older than 9/8 RTT: lost */
	deliver(&x, dgs, lens, 0, n);
	CHECK_INT(x.a->u->st.lost, 1);
	CHECK_INT(x.a->u->pto_count, 0);	/* an ack resets the back-off */
	pair_close(&x);
}

static void
persistent_congestion_pair(void)
{
	struct pair x;
	uint8_t msg[20000];
	int64_t end;
	int n;

	pair_open(&x);
	memset(msg, 'z', sizeof(msg));
	CHECK_INT(hop_send(x.a, msg, sizeof(msg)), 0);
	n = take_wait(&x, dgs, lens, 2);
	CHECK(n >= 2);
	/* an outage: nothing arrives for well over 3 PTOs (3 x 105 ms) while
	 * the sender keeps probing */
	end = wire_now_us() + 600 * MS;
	while (wire_now_us() < end) {
		udp_hop_poll(x.a);
		take(&x, dgs, lens, 64);
		usleep(10 * MS);
	}
	CHECK(x.a->u->st.timeouts >= 2);
	udp_hop_poll(x.a);
	n = take(&x, dgs, lens, 64);
	while (n == 0 && wire_now_us() < end + 2000 * MS) {
		usleep(20 * MS);
		udp_hop_poll(x.a);
		n = take(&x, dgs, lens, 64);
	}
	/* the path is back: the newest probe arrives, everything before it is
	 * lost, spanning more than 3 PTOs: the window collapses */
	deliver(&x, dgs, lens, n - 1, n);
	CHECK_INT(x.a->u->cc.persistent_events, 1);
	CHECK(x.a->u->cc.cwnd <= 2 * 1200 + 2 * 1200);	/* minimum window, plus the ack's growth */
	pair_close(&x);
}

static void
lost_probe_is_no_congestion(void)
{
	struct pair x;
	uint8_t msg[100];
	int n;

	pair_open(&x);
	/* pretend the path offers 1500 bytes: a probe of that size goes out */
	x.a->u->pmtu_max = 1500;
	x.a->u->pmtu_fail = 1501;
	x.a->u->probe_at = 1;
	CHECK_INT(hop_send(x.a, msg, sizeof(msg)), 0);
	n = take(&x, dgs, lens, 64);
	CHECK(n >= 2);
	CHECK_INT(lens[0], 1500);			/* the probe first, padded */
	/* the probe is lost, the data and 3 pings after it arrive */
	for (int i = 0; i < 3; i++) {
		x.a->u->need_ping = 1;
		udp_flush(x.a, wire_now_us());
	}
	n += take(&x, dgs + n, lens + n, 64 - n);
	deliver(&x, dgs, lens, 1, n);
	CHECK_INT(x.a->u->st.lost, 1);
	CHECK_INT(x.a->u->cc.congestion_events, 0);	/* RFC 8899: not congestion */
	CHECK_INT(x.a->u->plpmtu, 1200);
	CHECK_INT(x.a->u->probe_fails, 1);
	/* the next probe of that size is acknowledged: the path takes 1500 */
	udp_flush(x.a, wire_now_us());
	n = take(&x, dgs, lens, 64);
	CHECK(n >= 1 && lens[0] == 1500);
	deliver(&x, dgs, lens, 0, n);
	CHECK_INT(x.a->u->plpmtu, 1500);
	CHECK_INT(x.a->u->cc.mds, 1500);
	pair_close(&x);
}

/* Packet pn carrying frames f, as a peer holding key k would send it. */
static size_t
seal_as_peer(struct aead *k, uint64_t pn, const uint8_t *f, size_t n, uint8_t *dg)
{
	memcpy(dg + UDP_HDR, f, n);
	return udp_seal(k, pn, dg, n);
}

/* Stream bytes [from, to) (zeros: a run of empty messages' bytes do not
 * matter here) in packets numbered from *pn. */
static void
feed(struct hop *b, struct aead *k, uint64_t *pn, uint64_t from, uint64_t to)
{
	static uint8_t f[UDP_DGRAM_CAP], dg[UDP_DGRAM_CAP];

	while (from < to) {
		size_t n = to - from < 12000 ? to - from : 12000, h = uf_put_stream_hdr(f, from, n, 0);

		memset(f + h, 0, n);
		udp_hop_input(b, dg, seal_as_peer(k, (*pn)++, f, h + n, dg));
		from += n;
	}
}

static void
window_grows_for_the_path_not_a_slow_reader(void)
{
	uint8_t k1[AEAD_KEY_LEN], k2[AEAD_KEY_LEN], f[16], dg[256];
	struct peer pa = { .name = "A" };
	struct aead *k;
	struct hop *b;
	uint64_t pn = 0, win;
	int sv[2];

	crypto_random(k1, sizeof(k1));
	crypto_random(k2, sizeof(k2));
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	b = wire_hop_new(sv[1], HOP_UDP, 1, 5, &pa, aead_new(k2), aead_new(k1), "b");
	k = aead_new(k1);
	win = b->u->rcv_win;
	CHECK_INT(win, UDP_RCV_INIT);
	/* the first 1000 bytes lost, everything after them up to the limit here:
	 * the reader cannot take anything; the sender says it is blocked */
	feed(b, k, &pn, 1000, b->u->rcv_max);
	CHECK_INT(b->u->rcv_contig, 0);
	udp_hop_input(b, dg, seal_as_peer(k, pn++, f, uf_put_blocked(f, b->u->rcv_max), dg));
	CHECK_INT(b->u->rcv_win, 2 * win);		/* the path needs more: doubled */
	CHECK_INT(b->u->rcv_max, 2 * win);
	CHECK(b->u->need_max_data && b->u->ack_now);
	/* bytes beyond the old ring survived the move to the new one */
	feed(b, k, &pn, 0, 1000);
	CHECK_INT(b->u->rcv_contig, win);
	/* now a slow reader: all of it arrived, none read; blocked again */
	feed(b, k, &pn, win, b->u->rcv_max);
	CHECK_INT(b->u->rcv_contig, 2 * win);
	udp_hop_input(b, dg, seal_as_peer(k, pn++, f, uf_put_blocked(f, b->u->rcv_max), dg));
	CHECK_INT(b->u->rcv_win, 2 * win);		/* back-pressure: no growth */
	CHECK_INT(b->u->rcv_max, 2 * win);
	/* and nothing past the window is taken */
	feed(b, k, &pn, 2 * win, 2 * win + 100);
	CHECK_INT(b->u->rcv_contig, 2 * win);
	CHECK(b->u->st.oow >= 1);
	aead_free(k);
	b->dead = 1;
	hop_close(b);
	close(sv[0]);
}

int
main(void)
{
	crypto_init();
	log_open("test_udp", "stderr");
	TEST(rtt_estimator);
	TEST(windows);
	TEST(slow_start_and_app_limited);
	TEST(newreno);
	TEST(cubic);
	TEST(cubic_reno_friendly);
	TEST(hystart);
	TEST(persistent_congestion);
	TEST(pacing);
	TEST(varints);
	TEST(range_sets);
	TEST(ack_frames);
	TEST(stream_frames);
	TEST(packet_threshold);
	TEST(time_threshold_and_pto);
	TEST(persistent_congestion_pair);
	TEST(lost_probe_is_no_congestion);
	TEST(window_grows_for_the_path_not_a_slow_reader);
	T_DONE();
}
