/*
 * udp_cc.h - the arithmetic of the UDP transport's loss recovery and
 * congestion control, apart from any socket so the module tests can feed
 * it synthetic events:
 *   - RTT estimation and the probe timeout, RFC 9002 section 5 and 6.2;
 *   - the congestion controller: CUBIC (RFC 9438, the default, as in the
 *     Linux TCP it shares paths with) or NewReno (RFC 9002 section 7),
 *     with slow start left early by HyStart++ (RFC 9406) when the RTT
 *     rises, recovery periods, persistent congestion (7.6) and no growth
 *     while the sender does not use its window (7.8);
 *   - pacing (RFC 9002 section 7.7): rate = N x cwnd / smoothed_rtt.
 * Times are microseconds, windows bytes. Never allocates, never fails.
 */
#ifndef SHIPD_UDP_CC_H
#define SHIPD_UDP_CC_H

#include <stdint.h>

/* RFC 9002's constants */
#define CC_INITIAL_RTT_US	333000		/* kInitialRtt */
#define CC_GRANULARITY_US	1000		/* kGranularity */
#define CC_MAX_ACK_DELAY_US	25000		/* max_ack_delay, both sides */
#define CC_PACKET_THRESHOLD	3		/* kPacketThreshold */
#define CC_PERSISTENT_THRESHOLD	3		/* kPersistentCongestionThreshold */
#define CC_PTO_MAX_US		2000000		/* our cap on one backed-off PTO */

struct cc_rtt {
	int64_t latest, min, smoothed, var;	/* 0 smoothed: no sample yet */
	int has_sample;
};

void rtt_init(struct cc_rtt *r);
/* One sample (RFC 9002 5.3): latest is now - send time of the largest newly
 * acknowledged packet, ack_delay what the peer said it held the ACK. */
void rtt_update(struct cc_rtt *r, int64_t latest, int64_t ack_delay);
/* The loss-detection delay, 9/8 x max(smoothed, latest), >= kGranularity. */
int64_t rtt_loss_delay(const struct cc_rtt *r);
/* One PTO period before back-off: smoothed + max(4 var, granularity) + max_ack_delay. */
int64_t rtt_pto(const struct cc_rtt *r);

enum cc_algo { CC_CUBIC, CC_NEWRENO };

struct cc {
	enum cc_algo algo;
	uint64_t mds;				/* max datagram size (the path MTU's payload) */
	uint64_t cwnd, ssthresh, max_cwnd;
	uint64_t in_flight;			/* bytes_in_flight */
	int64_t recovery_start;			/* -1: never; packets sent before are in recovery */
	int64_t pacer_next;			/* earliest time the next paced packet may leave */
	int had_loss;
	int pacing_limited;			/* the pacer, not the window, held the last send */
	double frac;				/* growth below one byte, carried */
	/* HyStart++ (RFC 9406): rounds, their minimum RTTs, conservative slow start */
	int64_t hs_round_start, hs_last_min, hs_cur_min, hs_css_base;
	int hs_samples, hs_css_rounds, hs_css;		/* hs_css: in CSS */
	/* CUBIC (RFC 9438 4.2-4.6) */
	double w_max, k, w_est, cwnd_prior;
	int64_t t_epoch;			/* -1: no congestion-avoidance epoch */
	/* counters for tests and logs */
	unsigned long congestion_events, persistent_events, hystart_exits;
};

/* Initial window (RFC 9002 7.2): min(10 mds, max(14720, 2 mds)). */
uint64_t cc_initial_window(uint64_t mds);
uint64_t cc_min_window(uint64_t mds);		/* kMinimumWindow: 2 mds */
void cc_init(struct cc *c, enum cc_algo algo, uint64_t mds, uint64_t max_cwnd);
/* The path's datagram size changed (PMTU search): windows follow. */
void cc_set_mds(struct cc *c, uint64_t mds);
/* Room for a packet of size bytes under the window? */
int cc_can_send(const struct cc *c, uint64_t size);
void cc_on_sent(struct cc *c, uint64_t size, int64_t now, const struct cc_rtt *r);
/* An ack-eliciting packet of size bytes sent at sent_time was acknowledged.
 * in_flight_before: bytes in flight when this ACK arrived (window use). */
void cc_on_acked(struct cc *c, uint64_t size, int64_t sent_time, int64_t now,
		 const struct cc_rtt *r, uint64_t in_flight_before);
/* An RTT sample (HyStart++ watches them in slow start). */
void cc_on_rtt(struct cc *c, int64_t latest);
/* Packets left the flight without an ack (lost, or abandoned). */
void cc_remove(struct cc *c, uint64_t size);
/* A congestion event: the newest lost packet was sent at sent_time. */
void cc_on_congestion(struct cc *c, int64_t sent_time, int64_t now);
/* RFC 9002 7.6: the window collapses to the minimum. */
void cc_on_persistent_congestion(struct cc *c);
/* In slow start proper (not in HyStart++'s conservative slow start). */
int cc_in_slow_start(const struct cc *c);
/* Pacing rate in bytes per second: N cwnd / smoothed_rtt, N = 2 in slow
 * start and 1.25 after (as Linux TCP's pacing). 0: unlimited. */
double cc_pacing_rate(const struct cc *c, const struct cc_rtt *r);
/* When a packet may leave (<= now: at once). */
int64_t cc_pacer_time(const struct cc *c);

#endif
