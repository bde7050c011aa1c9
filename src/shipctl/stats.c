/*
 * stats.c - "shipctl stats": queue totals per storage class and state, as
 * a table or JSON (--json): how many orders, their bytes (the sealed
 * packets, as `ls --json` reports "size"), the oldest one's age, the
 * earliest next retry of the deferred ones, and failures in the last hour.
 *
 * "Failures in the last hour" counts orders, in any state, whose last
 * failed attempt lies within the past 3600 seconds. The last failure time
 * is not stored; it is recovered from what bay_defer() wrote:
 * next_attempt - bay_backoff(attempts), with the back-off of the current
 * configuration (after a RETRY-MIN/MAX change the estimate shifts by the
 * difference). Orders with no attempts never failed.
 *
 * Orders that do not parse are counted under class "?" (null in JSON) and
 * state "corrupt?". --prometheus prints the same, and per next hop its
 * state and transfer counters (peers.c), in Prometheus' text format;
 * --textfile DIR writes it to DIR/shipd.prom for node_exporter's textfile
 * collector. Read-only: never changes a bay.
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"
#include "../queue/spoollock.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_WINDOW	3600
#define ST_UNPARSED	Q_NSTATES	/* the corrupt? pseudo-state */

struct srow {
	const char *cls;		/* NULL: unparseable */
	int st;				/* enum qstate, or ST_UNPARSED */
	long count;
	uint64_t bytes;
	time_t oldest;			/* creation (mtime when unparseable) */
	time_t next;			/* earliest next attempt (deferred), 0: none */
	long failed;			/* failures within FAIL_WINDOW */
};

static int
usage(void)
{
	fprintf(stderr, "usage: shipctl stats [--class C] [--json] | --prometheus | --textfile DIR\n");
	return EX_USAGE;
}

static const char *
st_name(int st)
{
	return st == ST_UNPARSED ? QSTATE_UNPARSED : qstate_name((enum qstate)st);
}

/* The row for (cls, st), appended if new. */
static struct srow *
row_get(struct srow **v, int *n, const char *cls, int st)
{
	for (int i = 0; i < *n; i++)
		if ((*v)[i].st == st && ((*v)[i].cls == NULL ? cls == NULL :
					 cls != NULL && strcmp((*v)[i].cls, cls) == 0))
			return &(*v)[i];
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].cls = cls;
	(*v)[*n].st = st;
	return &(*v)[(*n)++];
}

static int
row_cmp(const void *a, const void *b)
{
	const struct srow *x = a, *y = b;
	int c;

	if (x->cls == NULL || y->cls == NULL)
		c = (x->cls == NULL) - (y->cls == NULL);
	else
		c = strcmp(x->cls, y->cls);
	return c ? c : x->st - y->st;
}

/* When the last attempt of e failed, or 0 when it never did. */
static time_t
last_failure(const struct config *cf, const struct qentry *e)
{
	if (!e->ok || e->o.attempts <= 0 || e->o.next_attempt <= 0)
		return 0;
	return e->o.next_attempt - bay_backoff(cf, e->o.attempts);
}

static void
add(const struct config *cf, struct srow *r, const struct qentry *e, time_t now)
{
	time_t born = e->ok ? e->o.created : e->mtime, lf;

	if (r->count == 0 || born < r->oldest)
		r->oldest = born;
	r->count++;
	if (!e->ok)
		return;
	r->bytes += e->o.size;
	if (e->st == Q_DEFERRED && e->o.next_attempt != BAY_NEXT_POLL) {
		time_t next = e->o.next_attempt ? e->o.next_attempt : e->mtime;

		if (r->next == 0 || next < r->next)
			r->next = next;
	}
	lf = last_failure(cf, e);
	if (lf > 0 && lf <= now && now - lf < FAIL_WINDOW)
		r->failed++;
}

static void
print_json(const struct config *cf, const struct srow *v, int n, time_t now)
{
	struct sbuf b;
	long tcount[ST_UNPARSED + 1] = {0}, count = 0, failed = 0;
	uint64_t tbytes[ST_UNPARSED + 1] = {0}, bytes = 0;

	json_begin(&b, "stats", cf, now);
	sbuf_printf(&b, ",\"failure_window_seconds\":%d,\"rows\":[", FAIL_WINDOW);
	for (int i = 0; i < n; i++) {
		sbuf_puts(&b, i ? ",\n  {\"class\":" : "\n  {\"class\":");
		json_str(&b, v[i].cls);
		sbuf_puts(&b, ",\"state\":");
		json_str(&b, st_name(v[i].st));
		sbuf_printf(&b, ",\"count\":%ld,\"bytes\":%llu,\"oldest\":%lld,\"oldest_age_seconds\":%lld",
			    v[i].count, (unsigned long long)v[i].bytes, (long long)v[i].oldest,
			    (long long)(now - v[i].oldest));
		if (v[i].next)
			sbuf_printf(&b, ",\"next_retry\":%lld,\"next_retry_in_seconds\":%lld",
				    (long long)v[i].next,
				    (long long)(v[i].next > now ? v[i].next - now : 0));
		else
			sbuf_puts(&b, ",\"next_retry\":null,\"next_retry_in_seconds\":null");
		sbuf_printf(&b, ",\"failures_last_hour\":%ld}", v[i].failed);
		tcount[v[i].st] += v[i].count;
		tbytes[v[i].st] += v[i].bytes;
		count += v[i].count;
		bytes += v[i].bytes;
		failed += v[i].failed;
	}
	sbuf_puts(&b, n ? "\n],\"states\":{" : "],\"states\":{");
	for (int s = 0; s <= ST_UNPARSED; s++) {
		sbuf_puts(&b, s ? "," : "");
		json_str(&b, st_name(s));
		sbuf_printf(&b, ":{\"count\":%ld,\"bytes\":%llu}", tcount[s],
			    (unsigned long long)tbytes[s]);
	}
	sbuf_printf(&b, "},\"total\":{\"count\":%ld,\"bytes\":%llu,\"failures_last_hour\":%ld}",
		    count, (unsigned long long)bytes, failed);
	json_end(&b);
}

static void
print_table(const struct srow *v, int n, time_t now)
{
	char sz[32], age[32], nx[48], d[32], cls[72];
	long count = 0, failed = 0;
	uint64_t bytes = 0;

	printf("%-20s %-9s %7s %8s %7s %-10s %s\n", "CLASS", "STATE", "COUNT", "BYTES", "OLDEST",
	       "NEXT RETRY", "FAILED/1H");
	for (int i = 0; i < n; i++) {
		if (v[i].next == 0)
			snprintf(nx, sizeof(nx), "-");
		else if (v[i].next <= now)
			snprintf(nx, sizeof(nx), "now");
		else
			snprintf(nx, sizeof(nx), "in %s", fmt_dur(v[i].next - now, d, sizeof(d)));
		printf("%-20s %-9s %7ld %8s %7s %-10s %ld\n",
		       fmt_safe(v[i].cls ? v[i].cls : "?", 20, cls, sizeof(cls)), st_name(v[i].st),
		       v[i].count, fmt_size(v[i].bytes, sz, sizeof(sz)),
		       fmt_dur(now - v[i].oldest, age, sizeof(age)), nx, v[i].failed);
		count += v[i].count;
		bytes += v[i].bytes;
		failed += v[i].failed;
	}
	printf("%-20s %-9s %7ld %8s %7s %-10s %ld\n", "TOTAL", "", count,
	       fmt_size(bytes, sz, sizeof(sz)), "", "", failed);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void
prom_label(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			sbuf_puts(b, "\\n");
		else
			sbuf_add(b, v, 1);
	}
}

static void
prom_head(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{key="value"[,key2="value2"]} value */
static void
prom_sample(struct sbuf *b, const char *name, const char *k1, const char *v1, const char *k2,
	    const char *v2, double value)
{
	sbuf_printf(b, "%s{%s=\"", name, k1);
	prom_label(b, v1);
	if (k2) {
		sbuf_printf(b, "\",%s=\"", k2);
		prom_label(b, v2);
	}
	sbuf_printf(b, "\"} %.17g\n", value);
}

/*
 * The text exposition format (--prometheus, --textfile): queue depth,
 * bytes, oldest age and failures by class and state (every state of every
 * class, zeros included, so series never vanish), whether a daemon runs,
 * and per next hop its state, failures, what waits for it and the
 * transfer counters the daemon publishes.
 */
static void
prometheus(const struct config *cf, const struct qentry *e, int n, time_t now, struct sbuf *b)
{
	static const struct {
		const char *name, *help;
	} qm[] = {
		{"shipd_queue_orders", "Orders in the queue, by storage class and state."},
		{"shipd_queue_bytes", "Bytes of the sealed packets of those orders."},
		{"shipd_queue_oldest_age_seconds", "Age of the oldest of those orders (0: none)."},
		{"shipd_queue_failures_last_hour", "Those orders whose last attempt failed within the hour."},
	};
	struct peerrow *rows;
	int nrows, ncls = cf->nclasses;
	struct srow *v = NULL;
	int nv = 0;
	pid_t pid = spool_lock_holder(cf);

	sbuf_init(b);
	prom_head(b, "shipd_up", "gauge", "Whether a shipd daemon works this spool (its lock is held).");
	prom_sample(b, "shipd_up", "node", cf->node ? cf->node : "", NULL, NULL, pid > 0);
	for (int i = 0; i < n; i++)
		add(cf, row_get(&v, &nv, e[i].ok ? e[i].o.sclass : "?", e[i].ok ? (int)qe_st(&e[i])
									   : ST_UNPARSED),
		    &e[i], now);
	for (size_t m = 0; m < sizeof(qm) / sizeof(qm[0]); m++) {
		prom_head(b, qm[m].name, "gauge", qm[m].help);
		for (int c = 0; c <= ncls; c++) {
			const char *cls = c < ncls ? cf->classes[c].name : "?";

			for (int st = 0; st <= ST_UNPARSED; st++) {
				const struct srow *r = NULL;
				double val = 0;

				for (int k = 0; k < nv; k++)
					if (v[k].st == st && strcmp(v[k].cls, cls) == 0)
						r = &v[k];
				if (c == ncls && r == NULL)
					continue;	/* orders of unknown classes: only when there are */
				if (r)
					val = m == 0 ? r->count : m == 1 ? (double)r->bytes
					    : m == 2 ? (double)(now - r->oldest) : r->failed;
				prom_sample(b, qm[m].name, "class", cls, "state", st_name(st), val);
			}
		}
	}
	free(v);
	peers_collect(cf, e, n, now, &rows, &nrows);
	{
		static const struct {
			const char *name, *type, *help;
		} pm[] = {
			{"shipd_peer_up", "gauge", "1 when the last connection to the next hop worked."},
			{"shipd_peer_tried", "gauge", "1 once this node has tried the next hop."},
			{"shipd_peer_down_until_timestamp_seconds", "gauge",
			 "While down: when it is tried again (Unix time), else 0."},
			{"shipd_peer_last_success_timestamp_seconds", "gauge",
			 "The last connection that worked (Unix time, 0: never)."},
			{"shipd_peer_failures_in_a_row", "gauge", "Failed connections since the last that worked."},
			{"shipd_peer_failures_total", "counter", "Failed connections to the next hop."},
			{"shipd_peer_waiting_orders", "gauge", "Orders waiting for the next hop."},
			{"shipd_peer_waiting_bytes", "gauge", "Bytes of the orders waiting for it."},
			{"shipd_peer_sent_orders_total", "counter", "Orders sent to the next hop."},
			{"shipd_peer_sent_bytes_total", "counter", "Bytes sent to the next hop."},
			{"shipd_peer_received_orders_total", "counter", "Orders received from the peer."},
			{"shipd_peer_received_bytes_total", "counter", "Bytes received from the peer."},
		};

		for (size_t m = 0; m < sizeof(pm) / sizeof(pm[0]); m++) {
			prom_head(b, pm[m].name, pm[m].type, pm[m].help);
			for (int i = 0; i < nrows; i++) {
				const struct peerfile *pf = &rows[i].pf;
				double vals[] = {pf->state == 1, pf->state >= 0,
						 pf->state == 0 ? (double)pf->down_until : 0,
						 (double)pf->last_success, pf->failures,
						 (double)pf->failures_total, rows[i].waiting,
						 (double)rows[i].waiting_bytes, (double)pf->sent_orders,
						 (double)pf->sent_bytes, (double)pf->recv_orders,
						 (double)pf->recv_bytes};

				prom_sample(b, pm[m].name, "peer", rows[i].name, NULL, NULL, vals[m]);
			}
		}
	}
	peers_free(rows, nrows);
}

/* --textfile DIR: DIR/shipd.prom, replaced atomically (node_exporter reads *.prom). */
static int
textfile(const char *dir, const struct sbuf *b)
{
	if (safe_write(dir, "shipd.prom", b->s, b->len, 0644) < 0) {
		fprintf(stderr, "shipctl: stats: --textfile %s: %s\n", dir, err_get());
		return EX_CANTCREAT;
	}
	return EX_OK;
}

VERB(stats)
{
	struct config *cf;
	const char *cls = NULL;
	struct qentry *e;
	struct srow *v = NULL;
	int json = 0, prom = 0, n, nrows = 0;
	const char *tdir = NULL;
	time_t now = time(NULL);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--prometheus") == 0)
			prom = 1;
		else if (strcmp(argv[i], "--textfile") == 0 && i + 1 < argc)
			tdir = argv[++i];
		else if (strcmp(argv[i], "--class") == 0 && i + 1 < argc)
			cls = argv[++i];
		else
			return usage();
	}
	if (json + prom + (tdir != NULL) > 1 || (cls && (prom || tdir)))
		return usage();
	cf = ctl_config(c);
	if (cls && config_class(cf, cls) == NULL) {
		fprintf(stderr, "shipctl: stats: unknown class \"%s\"\n", cls);
		return EX_DATAERR;
	}
	q_collect(cf, &e, &n);
	if (prom || tdir) {
		struct sbuf b;
		int rc = EX_OK;

		prometheus(cf, e, n, now, &b);
		if (tdir)
			rc = textfile(tdir, &b);
		else if (fwrite(b.s, 1, b.len, stdout) != b.len || fflush(stdout) != 0)
			rc = EX_TEMPFAIL;
		sbuf_free(&b);
		q_free(e, n);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		if (cls && (!e[i].ok || strcmp(e[i].o.sclass, cls) != 0))
			continue;
		add(cf, row_get(&v, &nrows, e[i].ok ? e[i].o.sclass : NULL,
				e[i].ok ? (int)qe_st(&e[i]) : ST_UNPARSED), &e[i], now);
	}
	if (nrows)
		qsort(v, nrows, sizeof(*v), row_cmp);
	if (json)
		print_json(cf, v, nrows, now);
	else
		print_table(v, nrows, now);
	free(v);
	q_free(e, n);	/* after printing: rows point at the entries' class names */
	return fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
}
