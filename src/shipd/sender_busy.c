/*
 * sender_busy.c - next hops that answer "busy" (the send worker, sender.c).
 *
 * A next hop that answers "busy" (xfer.h: all its MAX-RECEIVERS taken; it
 * answers every slot of that connection so) is up: the worker lets the
 * window drain, says BYE, waits a short jittered pause (growing from
 * 0.125-0.25 s to 2-BUSY_PAUSE_MAX s) and offers every order told busy
 * again, in their order, over one new connection (retry_busy); a "busy"
 * for one packet on a connection that took others (another transfer of
 * it still running there) is retried so on the same connection. An order
 * told busy BUSY_TRIES times is put back in deferred/ for
 * BUSY_DEFER..2*BUSY_DEFER seconds, not counted as a failed attempt (no
 * RETRY-MIN back-off), and so is every order of the batch for that hop
 * after it, without a connection; the hop is never marked down for it.
 *
 * Never marks a busy next hop down, and never counts "busy" as a failed
 * attempt.
 */
#include "sender_int.h"
#include "../wire/xfer.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_PAUSE_MAX	4.0	/* seconds, the longest pause between two tries */
#define BUSY_DEFER	10	/* seconds: put back for 1 to 2 times this */

/* A number in [lo, 2*lo), different in every worker (they fork from one seed). */
static double
jitter(double lo)
{
	static unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)(now_mono() * 1e6);
	return lo + lo * (rand_r(&seed) / ((double)RAND_MAX + 1));
}

static struct flight *busy_q;		/* told busy, to offer again (retry_busy) */
static struct flight **busy_tail = &busy_q;

void
busy_add(struct flight *f)
{
	f->busy++;
	f->next = NULL;
	*busy_tail = f;
	busy_tail = &f->next;
}

int
busy_waiting(void)
{
	return busy_q != NULL;
}

/*
 * Only "busy" next hops are left: back to deferred/ for a short, jittered
 * while, without counting an attempt (bay_defer's back-off is for
 * failures, and busy is not one).
 */
void
put_back_busy(struct flight *f, const char *why)
{
	struct order *o = &f->o;
	int secs = (int)jitter(BUSY_DEFER);

	free(o->last_error);
	o->last_error = xstrdup(why);
	o->next_attempt = time(NULL) + secs;
	if (bay_rewrite(f->c.bay, o, Q_ACTIVE, Q_DEFERRED, o->next_attempt, &f->c) < 0)
		msg_warnx("order %s: put back: %s", o->id, err_get());
	else
		msg_info("order %s: put back for %ds: %s (a busy next hop: not a failed attempt)",
			 o->id, secs, why);
}

/* A "busy:" reason without its tag: what the receiver says after it. */
static const char *
busy_text(const char *why)
{
	why += strlen(XF_BUSY_REASON);
	while (*why == ' ')
		why++;
	return why;
}

/*
 * The orders told "busy", once a connection that was busy as a whole is
 * answered and closed with BYE: one short jittered pause, then each is
 * offered again in its order (one new connection takes them all); an
 * order told busy BUSY_TRIES times makes its next hop busy for the rest
 * of the batch (busy_here), and it and the others for that hop are put
 * back.
 */
void
retry_busy(void)
{
	struct flight *q = busy_q, *f;
	char others[32] = "";
	double pause;
	int more = -1;

	busy_q = NULL;
	busy_tail = &busy_q;
	if (cur && cur_busy)
		hop_drop(1);	/* answered: retry_busy runs once nothing is open on it */
	for (f = q; f; f = f->next)
		more++;
	if (more > 0)
		snprintf(others, sizeof(others), " and %d more", more);
	pause = 0.125 * (1 << (q->busy - 1 < 5 ? q->busy - 1 : 5));
	pause = jitter(pause < BUSY_PAUSE_MAX / 2 ? pause : BUSY_PAUSE_MAX / 2);
	if (q->busy < BUSY_TRIES && !strv_has(&busy_here, q->nh)) {
		msg_info("order %s%s: %s busy (%s); trying again in %.1f s %s", q->o.id, others,
			 q->nh, busy_text(q->why), pause, cur && strcmp(cur_nh, q->nh) == 0 ?
			 "on the same connection" : "over a new connection");
		usleep(pause * 1e6);
	}
	while ((f = q) != NULL) {
		char *why = NULL;
		int rc;

		q = f->next;
		f->next = NULL;
		if (f->busy >= BUSY_TRIES && !strv_has(&busy_here, f->nh))
			strv_add(&busy_here, f->nh);
		if (strv_has(&busy_here, f->nh)) {
			why = xasprintf("%s busy: %s (%d tries)", f->nh, busy_text(f->why), f->busy);
			rc = HOP_BUSY;
		} else if ((rc = send_offer(f, &why)) == 0)
			continue;	/* in the window again */
		send_ended(f, rc, why);
	}
}

