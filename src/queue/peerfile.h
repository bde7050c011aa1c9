/*
 * peerfile.h - what the daemon knows of each next hop, published for
 * `shipctl peers` and `stats --prometheus`: one small file per peer,
 * SPOOL/peers/NAME, rewritten whole (safe_write_volatile: atomic, never
 * fsynced, at every connection's end) under SPOOL/peers/.lock
 * by whichever worker learns something: a connection that worked (and its
 * transport), one that failed (the error in full, down until when), and
 * at the end of a connection what went through it (orders, bytes), sent
 * or received. Per-minute counts of the last hour are kept, older minutes
 * dropped. Monitoring state, and one hint to senders (tcp-blocked-until:
 * try UDP first, sched/peers.c): losing it loses no packet, at most one
 * TCP connect timeout; the queue never depends on it.
 *
 *   version: 1
 *   peer: NAME
 *   state: up | down | never
 *   ... "key: value" lines (peerfile.c), "minute: M SO SB RO RB" repeated
 *   end
 */
#ifndef SHIPD_PEERFILE_H
#define SHIPD_PEERFILE_H

#include <stdint.h>
#include <time.h>
#include "../conf/config.h"

#define PEERFILE_DIR	"peers"
#define PEERFILE_MINUTES 60

/* PE_TCP: a sender learnt whether TCP to it is blocked: down_until is when
 * to try TCP first again (0: it works) */
enum peer_event_kind { PE_UP, PE_DOWN, PE_SENT, PE_RECEIVED, PE_TCP };

struct peer_event {
	const char *peer;
	enum peer_event_kind kind;
	const char *transport;		/* "tcp", "udp", or NULL */
	const char *error;		/* PE_DOWN: why */
	time_t down_until;		/* PE_DOWN: not tried again before */
	int orders;			/* PE_SENT, PE_RECEIVED */
	uint64_t bytes;
};

struct peer_minute {
	long minute;			/* Unix time / 60 */
	uint64_t sent_orders, sent_bytes, recv_orders, recv_bytes;
};

struct peerfile {
	char peer[256];
	int state;			/* 1 up, 0 down, -1 never reached yet */
	time_t updated, down_until, down_since, last_success, last_failure;
	time_t tcp_blocked_until;	/* UDP first until then (0: TCP first) */
	int failures;			/* in a row */
	uint64_t failures_total;
	char transport[8];
	char *last_error;		/* malloc'd, or NULL */
	uint64_t sent_orders, sent_bytes, recv_orders, recv_bytes;	/* since the file began */
	struct peer_minute min[PEERFILE_MINUTES];
	int nmin;
};

/* Apply one event to SPOOL/peers/PEER; -1 with err_set() (callers log and go on). */
int peerfile_note(const char *spool, const struct peer_event *ev);
/* Read SPOOL/peers/PEER; -1 when there is none (never tried) or it is unreadable. */
int peerfile_read(const char *spool, const char *peer, struct peerfile *pf);
void peerfile_free(struct peerfile *pf);
/* Sums over the minutes within the last hour before now. */
void peerfile_last_hour(const struct peerfile *pf, time_t now, struct peer_minute *sum);

#endif
