/*
 * udp_cc.c - RTT estimation (RFC 9002 5), the probe timeout (6.2), the
 * congestion controllers CUBIC (RFC 9438) and NewReno (RFC 9002 7) and the
 * pacer (7.7) of the UDP transport; udp_cc.h says what each entry does.
 * Pure arithmetic on the state it is given: no clock, no socket, no
 * allocation.
 *
 * Choices where the RFCs leave room, and why:
 *   - CUBIC is the default: it is what Linux TCP runs, so a UDP hop shares
 *     a bottleneck with TCP flows on equal terms (RFC 9438's Reno-friendly
 *     region keeps it no more aggressive than Reno at small windows).
 *   - C = 0.4, beta = 0.7, fast convergence on (RFC 9438 4.6-4.7); the
 *     window grows only while the sender uses it (RFC 9002 7.8: in flight
 *     within 3 datagrams of cwnd, or over half of it in slow start).
 *   - Pacing at 2 x cwnd/srtt in slow start and 1.25 x after. A sender
 *     woken late may catch up by at most 4 ms of the rate (2 to 64
 *     datagrams) at once: on a loaded machine a process is often woken
 *     milliseconds late, and without the credit the pacer, not the path,
 *     set the rate (measured: 77 instead of 96 Mbit/s on a 100 Mbit/s,
 *     100 ms path); an on-time sender never bursts.
 *   - HyStart++ (RFC 9406) with its constants; a paced sender, so no
 *     per-ack growth limit (L = infinity). Rounds are told by send times:
 *     a round ends when a packet sent after it began is acknowledged.
 *   - No spurious-loss undo, no ECN: losses and (in slow start) a rising
 *     RTT are the only congestion signals.
 */
#include "udp_cc.h"


#define CUBIC_C		0.4
#define CUBIC_BETA	0.7
#define NEWRENO_BETA	0.5
#define PACE_N_SS	2.0
#define PACE_N_CA	1.25
#define PACE_QUANTUM_US	4000
#define PACE_BURST_MIN	2
#define PACE_BURST_MAX	64
#define HS_MIN_RTT_THRESH	4000	/* RFC 9406 constants */
#define HS_MAX_RTT_THRESH	16000
#define HS_MIN_RTT_DIVISOR	8
#define HS_N_RTT_SAMPLE		8
#define HS_CSS_GROWTH_DIVISOR	4
#define HS_CSS_ROUNDS		5

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t
abs64(int64_t a)
{
	return a < 0 ? -a : a;
}

/* x^(1/3) by Newton's method (no libm for one function) */
static double
cube_root(double x)
{
	double y = x > 1 ? x / 3 : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 200; i++) {
		double n = y - (y * y * y - x) / (3 * y * y);

		if (n == y || (n > y ? n - y : y - n) < 1e-9 * y) {
			y = n;
			break;
		}
		y = n;
	}
	return y;
}

/* Add a fractional increase; whole bytes go to cwnd, the rest waits. */
static void
grow(struct cc *c, double bytes)
{
	uint64_t whole;

	if (bytes <= 0)
		return;
	c->frac += bytes;
	whole = (uint64_t)c->frac;
	c->cwnd += whole;
	c->frac -= (double)whole;
}

/* ---- RTT (RFC 9002 5) ---- */

void
rtt_init(struct cc_rtt *r)
{
	r->latest = r->min = 0;
	r->smoothed = CC_INITIAL_RTT_US;
	r->var = CC_INITIAL_RTT_US / 2;
	r->has_sample = 0;
}

void
rtt_update(struct cc_rtt *r, int64_t latest, int64_t ack_delay)
{
	int64_t adjusted = latest;

	if (latest < 1)
		latest = adjusted = 1;
	if (ack_delay < 0)
		ack_delay = 0;
	if (ack_delay > CC_MAX_ACK_DELAY_US)	/* 5.3: min(ack_delay, max_ack_delay) */
		ack_delay = CC_MAX_ACK_DELAY_US;
	r->latest = latest;
	if (!r->has_sample) {
		r->has_sample = 1;
		r->min = latest;
		r->smoothed = latest;
		r->var = latest / 2;
		return;
	}
	if (latest < r->min)
		r->min = latest;
	if (latest >= r->min + ack_delay)
		adjusted = latest - ack_delay;
	r->var = (3 * r->var + abs64(r->smoothed - adjusted)) / 4;
	r->smoothed = (7 * r->smoothed + adjusted) / 8;
}

int64_t
rtt_loss_delay(const struct cc_rtt *r)
{
	int64_t d = max64(r->latest, r->smoothed);

	return max64(d * 9 / 8, CC_GRANULARITY_US);
}

int64_t
rtt_pto(const struct cc_rtt *r)
{
	return r->smoothed + max64(4 * r->var, CC_GRANULARITY_US) + CC_MAX_ACK_DELAY_US;
}

/* ---- windows (RFC 9002 7.2) ---- */

uint64_t
cc_initial_window(uint64_t mds)
{
	uint64_t a = 10 * mds, b = 14720 > 2 * mds ? 14720 : 2 * mds;

	return a < b ? a : b;
}

uint64_t
cc_min_window(uint64_t mds)
{
	return 2 * mds;
}

void
cc_init(struct cc *c, enum cc_algo algo, uint64_t mds, uint64_t max_cwnd)
{
	*c = (struct cc){ 0 };
	c->algo = algo;
	c->mds = mds;
	c->max_cwnd = max_cwnd;
	c->cwnd = cc_initial_window(mds);
	c->ssthresh = UINT64_MAX;
	c->recovery_start = -1;
	c->t_epoch = -1;
	c->hs_round_start = -1;
	c->hs_last_min = c->hs_cur_min = INT64_MAX;
}

void
cc_set_mds(struct cc *c, uint64_t mds)
{
	c->mds = mds;
	if (!c->had_loss && c->cwnd < cc_initial_window(mds))
		c->cwnd = cc_initial_window(mds);
	if (c->cwnd < cc_min_window(mds))
		c->cwnd = cc_min_window(mds);
}

int
cc_in_slow_start(const struct cc *c)
{
	return c->cwnd < c->ssthresh && !c->hs_css;
}

/* ---- HyStart++ (RFC 9406) ---- */

/* A packet sent at sent_time was acknowledged at now: a new round? */
static void
hs_round(struct cc *c, int64_t sent_time, int64_t now)
{
	if (c->hs_round_start >= 0 && sent_time < c->hs_round_start)
		return;
	c->hs_round_start = now;
	c->hs_last_min = c->hs_cur_min;
	c->hs_cur_min = INT64_MAX;
	c->hs_samples = 0;
	if (c->hs_css && ++c->hs_css_rounds >= HS_CSS_ROUNDS) {
		c->hs_css = 0;			/* 4.3: on to congestion avoidance */
		c->ssthresh = c->cwnd;
		c->hystart_exits++;
	}
}

void
cc_on_rtt(struct cc *c, int64_t latest)
{
	int64_t thresh;

	if (c->cwnd >= c->ssthresh)
		return;				/* only in slow start and CSS */
	if (latest < c->hs_cur_min)
		c->hs_cur_min = latest;
	c->hs_samples++;
	if (c->hs_samples < HS_N_RTT_SAMPLE || c->hs_cur_min == INT64_MAX ||
	    c->hs_last_min == INT64_MAX)
		return;
	if (c->hs_css) {			/* the RTT fell back: the rise was noise */
		if (c->hs_cur_min < c->hs_css_base)
			c->hs_css = 0;
		return;
	}
	thresh = c->hs_last_min / HS_MIN_RTT_DIVISOR;
	if (thresh < HS_MIN_RTT_THRESH)
		thresh = HS_MIN_RTT_THRESH;
	if (thresh > HS_MAX_RTT_THRESH)
		thresh = HS_MAX_RTT_THRESH;
	if (c->hs_cur_min >= c->hs_last_min + thresh) {
		c->hs_css = 1;			/* the queue is filling: slow down */
		c->hs_css_base = c->hs_cur_min;
		c->hs_css_rounds = 0;
	}
}

int
cc_can_send(const struct cc *c, uint64_t size)
{
	return c->in_flight + size <= c->cwnd;
}

/* ---- pacing (RFC 9002 7.7) ---- */

double
cc_pacing_rate(const struct cc *c, const struct cc_rtt *r)
{
	double n = cc_in_slow_start(c) ? PACE_N_SS : PACE_N_CA;
	int64_t srtt = r->smoothed > 0 ? r->smoothed : CC_INITIAL_RTT_US;

	return n * (double)c->cwnd * 1e6 / (double)srtt;
}

int64_t
cc_pacer_time(const struct cc *c)
{
	return c->pacer_next;
}

void
cc_on_sent(struct cc *c, uint64_t size, int64_t now, const struct cc_rtt *r)
{
	double rate = cc_pacing_rate(c, r), burst = rate * PACE_QUANTUM_US / 1e6;
	int64_t burst_us;

	c->in_flight += size;
	if (burst < PACE_BURST_MIN * (double)c->mds)
		burst = PACE_BURST_MIN * (double)c->mds;
	if (burst > PACE_BURST_MAX * (double)c->mds)
		burst = PACE_BURST_MAX * (double)c->mds;
	burst_us = (int64_t)(burst / rate * 1e6);
	/* credit for idle time is at most one burst */
	c->pacer_next = max64(c->pacer_next, now - burst_us) + (int64_t)((double)size / rate * 1e6);
}

/* ---- congestion control ---- */

void
cc_remove(struct cc *c, uint64_t size)
{
	c->in_flight = c->in_flight > size ? c->in_flight - size : 0;
}

/* RFC 9002 7.8: grow only a window that limits the sender; a sender held
 * back by the pacer uses its window too. */
static int
cwnd_limited(const struct cc *c, uint64_t in_flight)
{
	if (c->pacing_limited)
		return 1;
	if (cc_in_slow_start(c) && in_flight > c->cwnd / 2)
		return 1;
	return in_flight + 3 * c->mds >= c->cwnd;
}

static double
cubic_w(const struct cc *c, double t)
{
	double d = t - c->k;

	return CUBIC_C * d * d * d * (double)c->mds + c->w_max;
}

/* RFC 9438 4.2-4.3, in bytes (its segments times mds). */
static void
cubic_acked(struct cc *c, uint64_t size, int64_t now, const struct cc_rtt *r)
{
	double cwnd = (double)c->cwnd, t, target, wc;
	double alpha = 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);

	if (c->t_epoch < 0) {			/* congestion avoidance without a loss yet */
		c->t_epoch = now;
		c->w_max = cwnd;
		c->k = 0;
		c->w_est = cwnd;
		c->cwnd_prior = cwnd;
	}
	t = (double)(now - c->t_epoch) / 1e6;
	if (c->w_est >= c->cwnd_prior)
		alpha = 1;
	c->w_est += alpha * (double)size * (double)c->mds / cwnd;
	wc = cubic_w(c, t);
	if (wc < c->w_est) {			/* Reno-friendly region */
		if (c->w_est > cwnd)
			grow(c, c->w_est - cwnd);
		return;
	}
	target = cubic_w(c, t + (double)r->smoothed / 1e6);
	if (target < cwnd)
		target = cwnd;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	grow(c, (target - cwnd) * (double)size / cwnd);
}

void
cc_on_acked(struct cc *c, uint64_t size, int64_t sent_time, int64_t now,
	    const struct cc_rtt *r, uint64_t in_flight_before)
{
	if (c->recovery_start >= 0 && sent_time <= c->recovery_start)
		return;				/* still in the recovery period */
	if (c->cwnd < c->ssthresh)
		hs_round(c, sent_time, now);
	if (!cwnd_limited(c, in_flight_before))
		return;
	if (c->hs_css && c->cwnd < c->ssthresh) {
		grow(c, (double)size / HS_CSS_GROWTH_DIVISOR);
	} else if (cc_in_slow_start(c)) {
		c->cwnd += size;
	} else if (c->algo == CC_CUBIC) {
		cubic_acked(c, size, now, r);
	} else {
		grow(c, (double)c->mds * (double)size / (double)c->cwnd);
	}
	if (c->cwnd > c->max_cwnd)
		c->cwnd = c->max_cwnd;
}

void
cc_on_congestion(struct cc *c, int64_t sent_time, int64_t now)
{
	double cwnd = (double)c->cwnd;

	if (c->recovery_start >= 0 && sent_time <= c->recovery_start)
		return;				/* one reduction per round trip */
	c->recovery_start = now;
	c->had_loss = 1;
	c->hs_css = 0;
	c->congestion_events++;
	if (c->algo == CC_CUBIC) {
		/* fast convergence (RFC 9438 4.7) */
		c->w_max = cwnd < c->w_max ? cwnd * (1 + CUBIC_BETA) / 2 : cwnd;
		c->cwnd_prior = cwnd;
		c->ssthresh = (uint64_t)(cwnd * CUBIC_BETA);
	} else {
		c->ssthresh = (uint64_t)(cwnd * NEWRENO_BETA);
	}
	if (c->ssthresh < cc_min_window(c->mds))
		c->ssthresh = cc_min_window(c->mds);
	c->cwnd = c->ssthresh;
	c->frac = 0;
	if (c->algo == CC_CUBIC) {
		double d = (c->w_max - (double)c->cwnd) / (CUBIC_C * (double)c->mds);

		c->k = cube_root(d);
		c->t_epoch = now;
		c->w_est = (double)c->cwnd;
	}
}

void
cc_on_persistent_congestion(struct cc *c)
{
	c->persistent_events++;
	c->cwnd = cc_min_window(c->mds);
	c->recovery_start = -1;
	c->t_epoch = -1;			/* CUBIC starts a new epoch after slow start */
}
