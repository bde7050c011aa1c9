/*
 * ls.c - "shipctl ls": every order in every bay (storage and return), as
 * an aligned table, ids only (--short), a block per order (--long, like
 * lspacket -long) or a JSON array (--json, stable snake_case fields).
 * An order that does not parse is listed as "corrupt?" with its error,
 * never skipped; what is in corrupt/ shows the reason its ID.why gives
 * (a refused drop's real cause). The error column is never cut on a pipe;
 * on a terminal it loses its middle, not its cause. A note on stderr says
 * when orders wait and no daemon runs. --done lists the history instead:
 * every order that ended here (or was delivered here) in the last
 * HISTORY-DAYS, its role, result and destinations (history.c). Read-only.
 */
#include "shipctl.h"
#include "queue.h"
#include "../queue/peerfile.h"
#include "../util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum { COL_ID, COL_STATE, COL_CLASS, COL_SIZE, COL_AGE, COL_DEST, COL_TRIES, COL_NEXT,
       COL_ERR, NCOLS };
static const char *const heads[NCOLS] = {"ID", "STATE", "CLASS", "SIZE", "AGE", "DEST",
					 "TRIES", "NEXT", "LAST ERROR"};

static int
usage(void)
{
	fprintf(stderr, "usage: shipctl ls [--class C] [--state S] [--json] [--long|--short]\n"
		"       shipctl ls --done [--json|--short]\n");
	return EX_USAGE;
}

/*
 * A --poll pass leaves the orders of a next hop known down as they are
 * (sched/batch.c): one that carries no error of its own says why it waits,
 * from SPOOL/peers/ (peerfile.h). Each peer's file is read once per listing.
 */
#define HOPS_SEEN	32
static char *
hop_down_why(const struct qentry *e, time_t now)
{
	static struct { char name[256]; int down; time_t until; char *why; } seen[HOPS_SEEN];
	static int nseen;
	const char *nh = NULL;
	struct peerfile pf;
	char at[16];
	struct tm tm;
	int i;

	if (!e->ok || (qe_st(e) != Q_OUTGOING && qe_st(e) != Q_DEFERRED) || e->o.dests.n == 0)
		return NULL;
	for (int k = 0; k < e->o.dests.n; k++) {
		const char *h = config_next_hop(e->cf, e->o.dests.v[k]);

		if (strcmp(e->o.dests.v[k], e->cf->node) == 0 || h == NULL || (nh && strcmp(nh, h) != 0))
			return NULL;	/* here, several hops, or no route: the worker says */
		nh = h;
	}
	for (i = 0; i < nseen && strcmp(seen[i].name, nh) != 0; i++)
		;
	if (i == nseen) {
		if (nseen == HOPS_SEEN)
			return NULL;
		snprintf(seen[i].name, sizeof(seen[i].name), "%s", nh);
		if (peerfile_read(e->cf->spool, nh, &pf) == 0) {
			seen[i].down = pf.state == 0;
			seen[i].until = pf.down_until;
			seen[i].why = pf.last_error ? xstrdup(pf.last_error) : NULL;
			peerfile_free(&pf);
		}
		nseen++;
	}
	if (!seen[i].down || seen[i].until <= now)
		return NULL;
	strftime(at, sizeof(at), "%H:%M:%S", localtime_r(&seen[i].until, &tm));
	return xasprintf("waiting: next hop %s down until %s: %s", nh, at,
			 seen[i].why ? seen[i].why : "unreachable");
}

/* The row's cells (each malloc'd). */
static void
row(const struct qentry *e, time_t now, char *cell[NCOLS])
{
	char buf[512], d[32];
	const struct order *o = &e->o;

	cell[COL_ID] = xstrdup(e->id);
	cell[COL_STATE] = xstrdup(qe_state(e));
	if (!e->ok) {
		cell[COL_CLASS] = xstrdup("-");
		cell[COL_SIZE] = xstrdup("-");
		cell[COL_AGE] = xstrdup(fmt_dur(now - e->mtime, d, sizeof(d)));
		cell[COL_DEST] = xstrdup("-");
		cell[COL_TRIES] = xstrdup("-");
		cell[COL_NEXT] = xstrdup("-");
		cell[COL_ERR] = xstrdup(fmt_safe(qe_error(e), sizeof(buf) - 1, buf, sizeof(buf)));
		return;
	}
	cell[COL_CLASS] = xstrdup(o->sclass);
	cell[COL_SIZE] = xstrdup(fmt_size(o->size, buf, sizeof(buf)));
	cell[COL_AGE] = xstrdup(fmt_dur(now - o->created, d, sizeof(d)));
	{
		struct sbuf b = {0};

		sbuf_init(&b);
		for (int i = 0; i < o->dests.n; i++)
			sbuf_printf(&b, "%s%s", i ? "," : "", o->dests.v[i]);
		if (o->dests.n == 0)
			sbuf_puts(&b, "-");
		if (o->delivered.n)
			sbuf_printf(&b, " (+%d done)", o->delivered.n);
		if (o->returning)
			sbuf_printf(&b, " (returning to %s)", o->origin);
		cell[COL_DEST] = b.s;
	}
	snprintf(buf, sizeof(buf), "%d", o->attempts);
	cell[COL_TRIES] = xstrdup(buf);
	if (e->st == Q_DEFERRED) {
		time_t next = o->next_attempt ? o->next_attempt : e->mtime;

		if (next == BAY_NEXT_POLL)
			cell[COL_NEXT] = xstrdup("next poll");
		else if (next <= now)
			cell[COL_NEXT] = xstrdup("now");
		else
			cell[COL_NEXT] = xasprintf("in %s", fmt_dur(next - now, d, sizeof(d)));
	} else
		cell[COL_NEXT] = xstrdup("-");
	if (qe_error(e))
		cell[COL_ERR] = xstrdup(fmt_safe(qe_error(e), sizeof(buf) - 1, buf, sizeof(buf)));
	else {
		char *w = hop_down_why(e, now);

		cell[COL_ERR] = xstrdup(w ? fmt_safe(w, sizeof(buf) - 1, buf, sizeof(buf)) : "-");
		free(w);
	}
}

static void
print_cells(char *const cell[NCOLS], const size_t w[NCOLS])
{
	for (int c = 0; c < NCOLS - 1; c++)
		printf("%-*s  ", (int)w[c], cell[c]);
	printf("%s\n", cell[NCOLS - 1]);
}

/*
 * The table. On a terminal of `width` columns the last column (the error)
 * gets what is left, at least ERR_MIN, and a longer error loses its middle,
 * never its cause at the end; piped (width 0) nothing is cut. Returns 1
 * when an error was cut.
 */
#define ERR_MIN	50
static int
print_table(struct qentry *v, int n, const int *keep, time_t now, int width)
{
	size_t w[NCOLS], used = 0, room;
	char *(*cells)[NCOLS] = xcalloc(n ? n : 1, sizeof(*cells));
	char buf[4096];
	int cut = 0;

	for (int c = 0; c < NCOLS; c++)
		w[c] = strlen(heads[c]);
	for (int i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		row(&v[i], now, cells[i]);
		for (int c = 0; c < NCOLS - 1; c++)
			if (strlen(cells[i][c]) > w[c])
				w[c] = strlen(cells[i][c]);
	}
	for (int c = 0; c < NCOLS - 1; c++)
		used += w[c] + 2;
	room = width > 0 && (size_t)width > used + ERR_MIN ? (size_t)width - used : ERR_MIN;
	print_cells((char *const *)heads, w);
	for (int i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		if (width > 0 && strlen(cells[i][COL_ERR]) > room) {
			fmt_elide(cells[i][COL_ERR], room, buf, sizeof(buf));
			free(cells[i][COL_ERR]);
			cells[i][COL_ERR] = xstrdup(buf);
			cut = 1;
		}
		print_cells(cells[i], w);
		for (int c = 0; c < NCOLS; c++)
			free(cells[i][c]);
	}
	free(cells);
	return cut;
}

VERB(ls)
{
	struct config *cf;
	const char *cls = NULL, *state = NULL;
	int json = 0, longf = 0, shortf = 0, done = 0, n, shown = 0;
	enum qstate st = Q_OUTGOING;
	struct qentry *v;
	int *keep;
	time_t now = time(NULL);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--class") == 0 && i + 1 < argc)
			cls = argv[++i];
		else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--long") == 0 || strcmp(argv[i], "-long") == 0)
			longf = 1;
		else if (strcmp(argv[i], "--short") == 0 || strcmp(argv[i], "-short") == 0)
			shortf = 1;
		else if (strcmp(argv[i], "--done") == 0)
			done = 1;
		else
			return usage();
	}
	if (json + longf + shortf > 1 || (done && (cls || state || longf)))
		return usage();
	if (done)
		return ls_done(ctl_config(c), json, shortf);
	if (state && strcmp(state, QSTATE_UNPARSED) != 0 && qstate_parse(state, &st) < 0) {
		fprintf(stderr, "shipctl: ls: %s\n", err_get());
		return EX_USAGE;
	}
	cf = ctl_config(c);
	if (cls && config_class(cf, cls) == NULL) {
		fprintf(stderr, "shipctl: ls: unknown class \"%s\"\n", cls);
		return EX_DATAERR;
	}
	q_collect(cf, &v, &n);
	keep = xcalloc(n ? n : 1, sizeof(*keep));
	for (int i = 0; i < n; i++) {
		keep[i] = 1;
		if (cls && (!v[i].ok || strcmp(v[i].o.sclass, cls) != 0))
			keep[i] = 0;
		/* "--state corrupt" also lists what does not parse */
		if (state && strcmp(state, qe_state(&v[i])) != 0 &&
		    !(st == Q_CORRUPT && !v[i].ok) && !(strcmp(state, QSTATE_UNPARSED) == 0 && !v[i].ok))
			keep[i] = 0;
		shown += keep[i];
	}
	if (json) {
		struct sbuf b;

		sbuf_init(&b);
		sbuf_puts(&b, "[");
		for (int i = 0, first = 1; i < n; i++) {
			if (!keep[i])
				continue;
			sbuf_puts(&b, first ? "\n  " : ",\n  ");
			first = 0;
			json_entry(&b, &v[i], now);
		}
		sbuf_puts(&b, shown ? "\n]\n" : "]\n");
		fputs(b.s, stdout);
		sbuf_free(&b);
	} else if (shortf) {
		for (int i = 0; i < n; i++)
			if (keep[i])
				printf("%s\n", v[i].id);
	} else if (longf) {
		for (int i = 0, first = 1; i < n; i++) {
			if (!keep[i])
				continue;
			if (!first)
				putchar('\n');
			first = 0;
			print_long(stdout, &v[i], now);
		}
	} else {
		struct winsize ws;
		int width = 0;

		if (isatty(STDOUT_FILENO))
			width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col
											     : 80;
		if (print_table(v, n, keep, now, width))
			fprintf(stderr, "shipctl: ls: errors shortened to fit the terminal "
				"(shipctl ls --long shows them whole)\n");
	}
	for (int i = 0; i < n; i++)
		if (v[i].st == Q_OUTGOING || v[i].st == Q_DEFERRED || v[i].st == Q_ACTIVE) {
			if (!json && !shortf)
				ctl_daemon_note(c, "ls");
			break;
		}
	free(keep);
	q_free(v, n);
	return fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
}
