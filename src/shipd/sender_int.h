/*
 * sender_int.h - what the send worker's files share (sender.c, the window;
 * sender_end.c, the orders' ends; sender_busy.c, next hops that answer
 * "busy"; sender_export.c, directory hops). Nothing else includes it.
 */
#ifndef SHIPD_SENDER_INT_H
#define SHIPD_SENDER_INT_H

#include "shipd.h"
#include "../queue/progress.h"
#include "../wire/wire.h"
#include "../wire/xfer_engine.h"

enum { HOP_OK = 0, HOP_TEMP = 1, HOP_PERM = 2, HOP_BUSY = 3 };

/*
 * One order in the worker's hands, from its claim to its end, and the one
 * send to a next hop it may have open in the window.
 */
struct flight {
	struct claim c;
	struct order o;
	struct strv hops_done, turned, forwarded;
	struct sbuf errs, turn_why, busy_why;
	int waiting;			/* our own copy waits for sibling parts */
	int home;			/* a returning order on its way to the origin */
	/* the send in the window */
	char *nh;
	struct strv mine;		/* the destinations it hands over */
	int fd;
	uint8_t *hdr;
	size_t hdrlen;
	char *text;
	uint64_t size;
	double t0;
	uint64_t base;			/* where the body started (a resume) */
	uint64_t thr_off;		/* SHIPD_TEST_LINK_RATE: counted up to here */
	struct progress *pr;
	int answered, answer;		/* the answer came: XF_ACK ... or XS_LOST */
	char *why;
	int busy;			/* "busy" answers to this send so far */
	int is_data;			/* finishing: a data order (its history ends) */
	int kind;			/* DELIVER_KIND_*: what the packet said it is,
					 * when it was read for a delivery or an offer */
	struct flight *next;		/* the list of answered ones, or of busy ones */
};

/* sender.c: the connection kept open from one order to the next */
extern struct hop *cur;
extern struct xsend *xs;
extern char *cur_nh;
extern int cur_busy;			/* cur answered "busy": offer nothing more on it */
extern struct strv busy_here;		/* next hops still busy after BUSY_TRIES */

void hop_drop(int bye);			/* close cur (with BYE when bye and idle) */
/* Offer f to f->nh: 0 in the window, else HOP_TEMP or HOP_BUSY with *why. */
int send_offer(struct flight *f, char **why);
void send_close(struct flight *f);	/* the send's resources, not the order */
void send_ended(struct flight *f, int r, char *why);	/* go on with f; frees why */

/* sender_end.c */
extern int sender_worker_rc;		/* sender_run's exit status */
void join_errors(struct sbuf *b, const char *why);
void flight_end(struct flight *f, int rc);	/* 0 done, 1 deferred, else failed */
void finish(struct flight *f);		/* no next hop left to try */
void done_flush(void);			/* finish what ended, together */
void send_home(struct flight *f);	/* a returning order, towards its origin */
void home_done(struct flight *f, int r, const char *why);

/* sender_busy.c */
#define BUSY_TRIES	8	/* busy answers per order before it is put back */
void busy_add(struct flight *f);	/* told busy: offered again by retry_busy */
int busy_waiting(void);			/* any told busy, waiting for retry_busy */
void retry_busy(void);
void put_back_busy(struct flight *f, const char *why);

/* sender_export.c */
void export_hop(const char *bay, struct order *o, const char *nh, const struct strv *mine,
		struct claim *c, struct sbuf *errs);

#endif
