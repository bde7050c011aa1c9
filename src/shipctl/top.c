/*
 * top.c - "shipctl top": a live view of the queue, redrawn every second
 * until `q` or Ctrl-C: each bay's orders by state, and the senders in
 * flight (progress.h records: peer, protocol, local port, bytes done and
 * total, rate, ETA). `--once` prints one frame without escapes and exits,
 * for scripts and tests; `--once --json` the same frame in json.h's
 * envelope. The header says whether a daemon runs (its spool lock).
 *
 * Plain ANSI escapes (alternate screen, cursor home, erase line), not
 * ncurses: a frame is a few dozen lines and needs no new dependency. The
 * terminal (termios, cursor, screen) is restored on every way out: q,
 * Ctrl-C, SIGTERM, SIGHUP, end of input. Read-only: never changes a bay.
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"
#include "../queue/progress.h"
#include "../queue/spoollock.h"
#include "../util/clock.h"
#include "../util/log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define MAX_SENDERS	64		/* rows of in-flight transfers shown */

static volatile sig_atomic_t stop_sig, resized;

static int
usage(void)
{
	fprintf(stderr, "usage: shipctl top [--once [--json]] [--interval SECONDS]\n");
	return EX_USAGE;
}

static int
count_fn(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	((long *)arg)[st]++;
	return 0;
}

struct senders {
	struct progress_rec r[MAX_SENDERS];
	int n, more;
};

static void
sender_fn(void *arg, const struct progress_rec *r)
{
	struct senders *s = arg;

	if (s->n < MAX_SENDERS)
		s->r[s->n++] = *r;
	else
		s->more++;
}

/* One frame into b; every line ends in eol ("\n", or erase-line + "\n"). */
static void
frame(const struct config *cf, struct sbuf *b, const char *eol, int width)
{
	static const char *const heads[Q_NSTATES] = {"OUTGOING", "ACTIVE", "DEFERRED", "HOLD",
						     "JOINING", "RETURN", "CORRUPT"};
	struct strv bays = {0};
	struct senders *s = xcalloc(1, sizeof(*s));
	char stamp[64], line[1024], row[1024], safe[256], a[32], t[32], r[32], eta[32];
	double now = now_real();
	time_t tnow = (time_t)now;
	struct tm tm;
	long total[Q_NSTATES] = {0};
	size_t w = 4;

#define LINE(...) do { \
		snprintf(line, sizeof(line), __VA_ARGS__); \
		if (width > 0 && (int)strlen(line) > width) \
			line[width] = 0; \
		sbuf_printf(b, "%s%s", line, eol); \
	} while (0)

	localtime_r(&tnow, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	{
		pid_t pid = spool_lock_holder(cf);
		char daemon[64];

		if (pid > 0)
			snprintf(daemon, sizeof(daemon), "shipd running (pid %ld)", (long)pid);
		else
			snprintf(daemon, sizeof(daemon), "%s", pid == 0 ? "SHIPD NOT RUNNING"
							       : "shipd: cannot tell");
		LINE("shipd top - node %s - %s - %s%s", fmt_safe(cf->node, 64, safe, sizeof(safe)),
		     stamp, daemon, *eol == '\n' ? "" : "   (q quits)");
	}
	LINE("%s", "");
	bay_all(cf, &bays);
	for (int i = 0; i < bays.n; i++)
		if (strlen(bays.v[i]) > w)
			w = strlen(bays.v[i]) > 60 ? 60 : strlen(bays.v[i]);
	{
		int o = snprintf(row, sizeof(row), "%-*s", (int)w, "BAY");

		for (int st = 0; st < Q_NSTATES; st++)
			o += snprintf(row + o, sizeof(row) - o, " %8s", heads[st]);
		LINE("%s", row);
	}
	for (int i = 0; i < bays.n; i++) {
		long n[Q_NSTATES] = {0};
		int o;

		for (int st = 0; st < Q_NSTATES; st++)
			bay_scan(bays.v[i], (enum qstate)st, count_fn, n);
		progress_scan(bays.v[i], sender_fn, s);
		o = snprintf(row, sizeof(row), "%-*s", (int)w,
			     fmt_safe(bays.v[i], w, safe, sizeof(safe)));
		for (int st = 0; st < Q_NSTATES; st++) {
			o += snprintf(row + o, sizeof(row) - o, " %8ld", n[st]);
			total[st] += n[st];
		}
		LINE("%s", row);
	}
	if (bays.n > 1) {
		int o = snprintf(row, sizeof(row), "%-*s", (int)w, "TOTAL");

		for (int st = 0; st < Q_NSTATES; st++)
			o += snprintf(row + o, sizeof(row) - o, " %8ld", total[st]);
		LINE("%s", row);
	}
	strv_free(&bays);

	LINE("%s", "");
	LINE("SENDERS IN FLIGHT: %d", s->n + s->more);
	if (s->n)
		LINE("%-40s %-16s %-5s %5s %17s %4s %9s %6s", "ID", "PEER", "PROTO", "PORT",
		     "DONE/TOTAL", "%", "RATE", "ETA");
	for (int i = 0; i < s->n; i++) {
		const struct progress_rec *p = &s->r[i];
		double el = now - p->started, rate = el > 0.05 ? p->done / el : 0;
		char done_tot[64], peer[64];

		snprintf(done_tot, sizeof(done_tot), "%s/%s", fmt_size(p->done, a, sizeof(a)),
			 fmt_size(p->total, t, sizeof(t)));
		if (rate > 0 && p->total >= p->done)
			fmt_dur((long long)((p->total - p->done) / rate + 0.5), eta, sizeof(eta));
		else
			snprintf(eta, sizeof(eta), "-");
		snprintf(r, sizeof(r), "%s/s", fmt_size((uint64_t)rate, a, sizeof(a)));
		LINE("%-40s %-16s %-5s %5d %17s %3d%% %9s %6s",
		     fmt_safe(p->id, 40, safe, sizeof(safe)), fmt_safe(p->peer, 16, peer, sizeof(peer)),
		     p->proto, p->port, done_tot,
		     p->total ? (int)(100.0 * p->done / p->total) : 100, r, eta);
	}
	if (s->more)
		LINE("... and %d more", s->more);
	free(s);
#undef LINE
}

/* One frame as json.h's envelope: "daemon_pid", "bays", "totals", "senders". */
static int
frame_json(const struct config *cf)
{
	struct strv bays = {0};
	struct senders *s = xcalloc(1, sizeof(*s));
	long total[Q_NSTATES] = {0};
	double now = now_real();
	pid_t pid = spool_lock_holder(cf);
	struct sbuf b;

	json_begin(&b, "top", cf, (time_t)now);
	if (pid >= 0)
		sbuf_printf(&b, ",\"daemon_running\":%s,\"daemon_pid\":", pid > 0 ? "true" : "false");
	else
		sbuf_puts(&b, ",\"daemon_running\":null,\"daemon_pid\":");
	if (pid > 0)
		sbuf_printf(&b, "%ld", (long)pid);
	else
		sbuf_puts(&b, "null");
	sbuf_puts(&b, ",\"bays\":[");
	bay_all(cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		long n[Q_NSTATES] = {0};

		for (int st = 0; st < Q_NSTATES; st++)
			bay_scan(bays.v[i], (enum qstate)st, count_fn, n);
		progress_scan(bays.v[i], sender_fn, s);
		sbuf_puts(&b, i ? ",{\"bay\":" : "{\"bay\":");
		json_str(&b, bays.v[i]);
		sbuf_puts(&b, ",\"states\":{");
		for (int st = 0; st < Q_NSTATES; st++) {
			sbuf_printf(&b, "%s\"%s\":%ld", st ? "," : "", qstate_name((enum qstate)st), n[st]);
			total[st] += n[st];
		}
		sbuf_puts(&b, "}}");
	}
	strv_free(&bays);
	sbuf_puts(&b, "],\"totals\":{");
	for (int st = 0; st < Q_NSTATES; st++)
		sbuf_printf(&b, "%s\"%s\":%ld", st ? "," : "", qstate_name((enum qstate)st), total[st]);
	sbuf_printf(&b, "},\"senders_in_flight\":%d,\"senders\":[", s->n + s->more);
	for (int i = 0; i < s->n; i++) {
		const struct progress_rec *p = &s->r[i];
		double el = now - p->started, rate = el > 0.05 ? p->done / el : 0;

		sbuf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
		json_str(&b, p->id);
		sbuf_puts(&b, ",\"peer\":");
		json_str(&b, p->peer);
		sbuf_puts(&b, ",\"transport\":");
		json_str(&b, p->proto);
		sbuf_printf(&b, ",\"local_port\":%d,\"bytes_done\":%llu,\"bytes_total\":%llu,"
			    "\"started\":%.3f,\"bytes_per_second\":%.0f,\"pid\":%ld}", p->port,
			    (unsigned long long)p->done, (unsigned long long)p->total, p->started, rate,
			    (long)p->pid);
	}
	sbuf_puts(&b, "]");
	free(s);
	return json_end(&b) == 0 ? EX_OK : EX_TEMPFAIL;
}

static void
on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else
		stop_sig = sig;
}

static struct termios saved;
static int saved_ok;

static void
term_restore(void)
{
	if (saved_ok)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	saved_ok = 0;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
}

static int
live(const struct config *cf, int interval_ms)
{
	struct sigaction sa;
	struct termios raw;
	struct sbuf b;
	int rc = EX_OK;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "shipctl: top: not a terminal (use --once for one frame)\n");
		return EX_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() wakes up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (tcgetattr(STDIN_FILENO, &saved) < 0) {
		fprintf(stderr, "shipctl: top: tcgetattr: %s\n", strerror(errno));
		return EX_USAGE;
	}
	saved_ok = 1;
	raw = saved;
	raw.c_lflag &= ~(ICANON | ECHO);	/* keys one by one; ISIG keeps Ctrl-C */
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	fputs("\033[?1049h\033[?25l", stdout);

	sbuf_init(&b);
	while (!stop_sig) {
		struct winsize ws;
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		int width = 0, n;

		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			width = ws.ws_col;
		sbuf_reset(&b);
		sbuf_puts(&b, "\033[H");
		frame(cf, &b, "\033[K\r\n", width);
		sbuf_puts(&b, "\033[J");
		fputs(b.s, stdout);
		fflush(stdout);
		resized = 0;
		n = poll(&pfd, 1, interval_ms);
		if (n > 0) {
			char ch;
			ssize_t got = read(STDIN_FILENO, &ch, 1);

			if (got <= 0 || ch == 'q' || ch == 'Q')
				break;		/* q, or the terminal went away */
		} else if (n < 0 && errno != EINTR) {
			rc = EX_TEMPFAIL;
			break;
		}
	}
	sbuf_free(&b);
	term_restore();
	return stop_sig == SIGINT ? EX_OK : rc;
}

VERB(top)
{
	struct config *cf;
	int once = 0, json = 0, interval_ms = 1000;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			char *end;
			double s = strtod(argv[++i], &end);

			if (*end || end == argv[i] || !(s >= 0.1 && s <= 3600))
				return usage();
			interval_ms = (int)(s * 1000);
		} else
			return usage();
	}
	if (json && !once)
		return usage();
	cf = ctl_config(c);
	if (json)
		return frame_json(cf);
	if (once) {
		struct sbuf b;

		sbuf_init(&b);
		frame(cf, &b, "\n", 0);
		fputs(b.s, stdout);
		sbuf_free(&b);
		return fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
	}
	return live(cf, interval_ms);
}
