/*
 * wait.c - `shipctl submit --wait` (wait.h): poll each order's state and
 * its sender's progress record until it is done here, deferred or turned
 * around; then (unless --hop) its done/ record until every destination's
 * delivery receipt is in. On a terminal a one-line bar (bytes, percent,
 * rate, ETA, where the packet is) is redrawn in place on stderr;
 * otherwise only the outcome is printed, one line. The daemon does the
 * sending: with none running this just waits (bounded by --timeout).
 * Never changes a bay.
 */
#include "shipctl.h"
#include "queue.h"
#include "wait.h"
#include "../queue/history.h"
#include "../queue/progress.h"
#include "../util/clock.h"
#include "../util/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_TTY_MS	100
#define POLL_MS		250
#define VANISH_POLLS	5	/* misses in a row before "gone" (renames race scans) */
#define HIST_POLLS	40	/* done here, and no done/ record after this many polls */
#define BAR_WIDTH	24

struct follow {
	const char *id;
	int done;			/* finished here (and confirmed, unless --hop) */
	int here;			/* finished here, waiting for receipts */
	int misses;
	struct strv dests;		/* its destinations, as first seen queued */
	int nwant, ngot;		/* destinations, and receipts in */
	char where[300];		/* where it is, while receipts are awaited */
	uint64_t size, sent;		/* sealed bytes; bytes the sender has sent */
	double rate;			/* bytes/s of the current or last transfer */
	double t0, t1;			/* first and last time seen in flight */
	enum qstate st;
	int located;
	char peer[128];
};

static int
seen_anywhere(const struct config *cf, const char *id)
{
	struct strv bays = {0};
	int seen = 0;

	bay_all(cf, &bays);
	for (int i = 0; i < bays.n && !seen; i++)
		seen = bay_seen(bays.v[i], id);
	strv_free(&bays);
	return seen;
}

/* Turned around (here, or by a hop after it left: ID.ret comes home):
 * EX_DATAERR with *msg, else 0. */
static int
turned(const struct config *cf, const struct follow *f, char **msg)
{
	char bay[PATH_MAX], ret[ORDER_ID_MAX + 8];
	struct order o;
	enum qstate st;
	int loaded;

	if (snprintf(ret, sizeof(ret), "%s.ret", f->id) >= (int)sizeof(ret) ||
	    bay_locate(cf, ret, bay, sizeof(bay), &st) < 0)
		return 0;
	loaded = bay_load(bay, ret, st, &o) == 0;
	*msg = xasprintf("%s: turned around (now %s): %s", f->id, ret,
			 loaded && o.return_reason ? o.return_reason : "expired or refused");
	if (loaded)
		order_free(&o);
	return EX_DATAERR;
}

/*
 * Done here: are the destinations' receipts in (its done/ record)? 0 not
 * yet (f->where says where it is), 1 all in, or an exit status with *msg.
 */
static int
poll_receipts(const struct config *cf, struct follow *f, char **msg)
{
	char bay[PATH_MAX];
	struct history h;
	struct strv want = {0};
	int rc;

	if ((rc = turned(cf, f, msg)) != 0)
		return rc;
	if (hist_locate(cf, f->id, bay, sizeof(bay)) < 0 || hist_load(bay, f->id, &h) != 0) {
		if (++f->misses >= HIST_POLLS) {
			*msg = xasprintf("%s: done here, but no history record to follow its "
					 "receipts (shipctl show %s)", f->id, f->id);
			return EX_TEMPFAIL;
		}
		return 0;
	}
	f->misses = 0;
	for (int i = 0; i < f->dests.n; i++)
		strv_add(&want, f->dests.v[i]);
	for (int i = 0; i < h.nto && f->dests.n == 0; i++)
		strv_add(&want, h.to[i].dest);
	for (int i = 0; i < h.nrcpt && f->dests.n == 0; i++)
		if (!strv_has(&want, h.rcpt[i].dest))
			strv_add(&want, h.rcpt[i].dest);
	f->nwant = want.n;
	f->ngot = 0;
	f->where[0] = 0;
	for (int i = 0; i < want.n; i++) {
		const struct hist_to *t;

		if (hist_receipt_of(&h, want.v[i])) {
			f->ngot++;
			continue;
		}
		if (f->where[0])
			continue;
		if ((t = hist_to_of(&h, want.v[i])) != NULL && strcmp(t->via, want.v[i]) != 0)
			snprintf(f->where, sizeof(f->where), "handed to %s, waiting for %s's receipt",
				 t->via, want.v[i]);
		else
			snprintf(f->where, sizeof(f->where), "waiting for %s's receipt", want.v[i]);
	}
	rc = want.n > 0 && f->ngot == want.n;
	strv_free(&want);
	hist_free(&h);
	return rc;
}

/*
 * Look at one order once: 0 still under way, 1 done here, or an exit
 * status with *msg set (malloc'd) for the outcome.
 */
static int
poll_one(const struct config *cf, struct follow *f, double now, char **msg)
{
	char bay[PATH_MAX], d[32];
	struct progress_rec pr;
	struct order o;
	enum qstate st;
	int rc;

	if (bay_locate(cf, f->id, bay, sizeof(bay), &st) < 0) {
		/* finishing a turned-around order queues ID.ret first */
		if ((rc = turned(cf, f, msg)) != 0)
			return rc;
		if (seen_anywhere(cf, f->id))
			return 1;
		if (++f->misses >= VANISH_POLLS) {
			*msg = xasprintf("%s: no longer queued and not done here (removed?)", f->id);
			return EX_DATAERR;
		}
		return 0;
	}
	f->misses = 0;
	f->st = st;
	f->located = 1;
	switch (st) {
	case Q_DEFERRED:
		if (bay_load(bay, f->id, st, &o) < 0) {
			*msg = xasprintf("%s: deferred", f->id);
			return EX_TEMPFAIL;
		}
		*msg = xasprintf("%s: deferred after attempt %d: %s (next attempt in %s)", f->id,
				 o.attempts, o.last_error ? o.last_error : "unknown error",
				 fmt_dur(o.next_attempt > now ? (long long)(o.next_attempt - now) : 0,
					 d, sizeof(d)));
		order_free(&o);
		return EX_TEMPFAIL;
	case Q_RETURN:
		*msg = xasprintf("%s: turned around (in return/)", f->id);
		return EX_DATAERR;
	case Q_CORRUPT:
		*msg = xasprintf("%s: moved to corrupt/ (see shipctl show %s)", f->id, f->id);
		return EX_DATAERR;
	default:
		break;
	}
	if (f->size == 0 && bay_load(bay, f->id, st, &o) == 0) {
		f->size = o.size;
		for (int i = 0; i < o.dests.n; i++)
			strv_add(&f->dests, o.dests.v[i]);
		for (int i = 0; i < o.delivered.n; i++)
			if (!strv_has(&f->dests, o.delivered.v[i]))
				strv_add(&f->dests, o.delivered.v[i]);
		order_free(&o);
	}
	if ((st == Q_ACTIVE || st == Q_OUTGOING) && progress_read(bay, f->id, &pr) == 0) {
		double el = now - pr.started;

		if (f->t0 == 0)
			f->t0 = pr.started;
		f->t1 = now;
		f->sent = pr.done;
		if (pr.total)
			f->size = pr.total;
		if (el > 0.05)
			f->rate = pr.done / el;
		snprintf(f->peer, sizeof(f->peer), "%s", pr.peer);
	}
	return 0;
}

/* The bar line, or the final line (final = 1). */
static void
draw(FILE *out, const struct follow *v, int n, double started, double now, int final,
     const char *status)
{
	uint64_t size = 0, sent = 0;
	double rate = 0;
	char a[32], b[32], r[32], e[32], bar[BAR_WIDTH + 1], who[140] = "";
	int pct, fill, inflight = 0;

	for (int i = 0; i < n; i++) {
		size += v[i].size;
		sent += v[i].done || v[i].here ? v[i].size : v[i].sent;
		if (!v[i].done && v[i].t1 > 0 && now - v[i].t1 < 1.0) {
			rate += v[i].rate;
			inflight++;
			snprintf(who, sizeof(who), " to %s", v[i].peer);
		}
	}
	if (final) {	/* the whole wait, from first byte seen to the end */
		double t0 = 0;

		for (int i = 0; i < n; i++)
			if (v[i].t0 > 0 && (t0 == 0 || v[i].t0 < t0))
				t0 = v[i].t0;
		rate = now - (t0 ? t0 : started) > 0.01 ? sent / (now - (t0 ? t0 : started)) : 0;
	}
	if (sent > size)
		sent = size;
	pct = size ? (int)(100.0 * sent / size) : (final ? 100 : 0);
	fill = pct * BAR_WIDTH / 100;
	memset(bar, '#', fill);
	memset(bar + fill, '-', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = 0;
	if (rate > 0 && !final)
		fmt_dur((long long)((size - sent) / rate + 0.5), e, sizeof(e));
	else
		snprintf(e, sizeof(e), final ? "0s" : "-");
	fmt_size((uint64_t)rate, r, sizeof(r));
	fprintf(out, "\r[%s] %3d%% %s/%s %s/s ETA %s  %s%s\033[K%s", bar, pct,
		fmt_size(sent, a, sizeof(a)), fmt_size(size, b, sizeof(b)), r, e, status,
		inflight ? who : "", final ? "\n" : "");
	fflush(out);
}

int
submit_wait(const struct config *cf, const struct strv *ids, double timeout, int hop)
{
	struct follow *v = xcalloc(ids->n ? ids->n : 1, sizeof(*v));
	int tty = isatty(STDERR_FILENO), left = ids->n, rc = EX_OK;
	double started = now_real(), now = started;
	char *msg = NULL, d[32];

	for (int i = 0; i < ids->n; i++)
		v[i].id = ids->v[i];
	while (left > 0) {
		const char *status = "queued";

		now = now_real();
		for (int i = 0; i < ids->n && rc == EX_OK; i++) {
			int r;

			if (v[i].done)
				continue;
			r = v[i].here ? poll_receipts(cf, &v[i], &msg) : poll_one(cf, &v[i], now, &msg);
			if (r == 1 && !hop && !v[i].here) {
				v[i].here = 1;		/* now its receipts */
				v[i].misses = 0;
				status = "sent";
			} else if (r == 1) {
				v[i].done = 1;
				left--;
			} else if (r != 0)
				rc = r;
			else if (v[i].here)
				status = v[i].where[0] ? v[i].where : "sent";
			else if (v[i].located)
				status = v[i].t1 > 0 && now - v[i].t1 < 1.0 ? "sending" :
					 qstate_name(v[i].st);
		}
		if (rc != EX_OK || left == 0)
			break;
		if (timeout > 0 && now - started >= timeout) {
			for (int i = 0; i < ids->n; i++)
				if (!v[i].done) {
					msg = xasprintf("%s: still %s after --timeout %s", v[i].id,
							v[i].here ? (v[i].where[0] ? v[i].where :
								     "waiting for receipts") :
							v[i].located ? qstate_name(v[i].st) : "queued",
							fmt_dur((long long)(timeout + 0.5), d, sizeof(d)));
					break;
				}
			rc = EX_TEMPFAIL;
			break;
		}
		if (tty)
			draw(stderr, v, ids->n, started, now, 0, status);
		usleep((tty ? POLL_TTY_MS : POLL_MS) * 1000);
	}
	now = now_real();
	if (rc == EX_OK) {
		int want = 0;
		char conf[80] = "";

		for (int i = 0; i < ids->n; i++)
			want = v[i].nwant > want ? v[i].nwant : want;
		if (!hop)
			snprintf(conf, sizeof(conf), "; delivery confirmed by %d destination%s", want,
				 want == 1 ? "" : "s");
		if (tty)
			draw(stderr, v, ids->n, started, now, 1, hop ? "done" : "done, delivered");
		else {
			uint64_t size = 0;
			char a[32], r[32];
			double t0 = 0;

			for (int i = 0; i < ids->n; i++) {
				size += v[i].size;
				if (v[i].t0 > 0 && (t0 == 0 || v[i].t0 < t0))
					t0 = v[i].t0;
			}
			t0 = t0 ? t0 : started;
			fprintf(stderr, "shipctl: submit: %d order%s done here: %s in %.1fs (%s/s)%s\n",
				ids->n, ids->n == 1 ? "" : "s", fmt_size(size, a, sizeof(a)),
				now - t0, fmt_size(now - t0 > 0.01 ? (uint64_t)(size / (now - t0)) : size,
						   r, sizeof(r)), conf);
		}
	} else {
		if (tty)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "shipctl: submit: %s\n", msg ? msg : "failed");
	}
	free(msg);
	for (int i = 0; i < ids->n; i++)
		strv_free(&v[i].dests);
	free(v);
	return rc;
}
