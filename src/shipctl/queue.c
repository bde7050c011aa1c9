/*
 * queue.c - the queue verbs' shared view (queue.h): collect and locate
 * orders across bays, render them for people and for JSON, audit lines.
 * Never changes a bay.
 */
#include "queue.h"
#include "../global/dirhop.h"
#include "../queue/progress.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct collect {
	const struct config *cf;
	struct qentry *v;
	int n, cap;
};

/* corrupt/ID.why, one line, or NULL. */
static char *
read_why(const char *bay, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX];
	size_t len;
	char *text;

	if (bay_path(dir, sizeof(dir), bay, Q_CORRUPT, NULL) < 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s.why", dir, id) >= sizeof(path) ||
	    (text = read_file(path, 64 * 1024, &len)) == NULL)
		return NULL;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = 0;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			text[i] = ' ';
	if (len == 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void
entry_load(struct qentry *e)
{
	char path[PATH_MAX];
	const char *why;
	size_t n;

	if (e->st == Q_CORRUPT)
		e->why = read_why(e->bay, e->id);
	if (bay_load(e->bay, e->id, e->st, &e->o) == 0) {
		e->ok = 1;
		return;
	}
	/* the path is shown beside it: keep just the reason */
	why = err_get();
	if (bay_path(path, sizeof(path), e->bay, e->st, e->id) == 0 &&
	    strncmp(why, path, n = strlen(path)) == 0 && strncmp(why + n, ": ", 2) == 0)
		why += n + 2;
	e->error = xstrdup(why);
}

static int
collect_fn(void *arg, const char *bay, enum qstate st, const char *id, time_t mtime)
{
	struct collect *c = arg;
	struct qentry *e;

	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	e = &c->v[c->n++];
	memset(e, 0, sizeof(*e));
	e->bay = xstrdup(bay);
	e->cf = c->cf;
	e->st = st;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->mtime = mtime;
	entry_load(e);
	return 0;
}

/* A live sender's record (BAY/inflight/ID): its order in outgoing/ of
 * this bay's entries, v[0..n), is being sent (queue.h's sending). */
struct sending {
	struct qentry *v;
	int n;
};

static void
sending_fn(void *arg, const struct progress_rec *r)
{
	struct sending *s = arg;

	for (int i = 0; i < s->n; i++)
		if (s->v[i].st == Q_OUTGOING && strcmp(s->v[i].id, r->id) == 0)
			s->v[i].sending = 1;
}

static time_t
entry_time(const struct qentry *e)
{
	return e->ok ? e->o.created : e->mtime;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct qentry *x = a, *y = b;
	time_t tx = entry_time(x), ty = entry_time(y);

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return strcmp(x->id, y->id);
}

void
q_collect(const struct config *cf, struct qentry **out, int *n)
{
	struct collect c = {0};
	struct strv bays = {0};

	c.cf = cf;
	bay_all(cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		int first = c.n;

		if (access(bays.v[i], F_OK) < 0 && errno == ENOENT)
			continue;	/* nothing was ever queued there */
		for (int st = 0; st < Q_NSTATES; st++)
			if (bay_scan(bays.v[i], (enum qstate)st, collect_fn, &c) < 0)
				fprintf(stderr, "shipctl: %s\n", err_get());
		/* one listing of inflight/ a bay, not a look per outgoing order */
		if (c.n > first) {
			struct sending sd = { c.v + first, c.n - first };

			progress_scan(bays.v[i], sending_fn, &sd);
		}
	}
	strv_free(&bays);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), entry_cmp);
	*out = c.v;
	*n = c.n;
}

void
qe_free(struct qentry *e)
{
	free(e->bay);
	free(e->error);
	free(e->why);
	if (e->ok)
		order_free(&e->o);
	memset(e, 0, sizeof(*e));
}

void
q_free(struct qentry *e, int n)
{
	for (int i = 0; i < n; i++)
		qe_free(&e[i]);
	free(e);
}

int
q_locate(const struct config *cf, const char *id, struct qentry *e)
{
	char bay[PATH_MAX], path[PATH_MAX];
	struct stat sb;

	memset(e, 0, sizeof(*e));
	if (!order_id_valid(id) || bay_locate(cf, id, bay, sizeof(bay), &e->st) < 0) {
		err_set("no order %s", id);
		return -1;
	}
	e->bay = xstrdup(bay);
	e->cf = cf;
	snprintf(e->id, sizeof(e->id), "%s", id);
	if (bay_path(path, sizeof(path), bay, e->st, id) == 0 && stat(path, &sb) == 0)
		e->mtime = sb.st_mtime;
	entry_load(e);
	if (e->st == Q_OUTGOING) {
		struct progress_rec r;

		e->sending = progress_read(bay, id, &r) == 0;
	}
	return 0;
}

int
q_path_bay(const struct config *cf, const char *path, char *bay, size_t bsize,
	   char *sub, size_t ssize, char *rest, size_t rsize)
{
	char real[PATH_MAX], bayreal[PATH_MAX], dir[PATH_MAX];
	const char *slash, *below = NULL, *cut;
	struct strv bays = {0};
	int found = -1;

	/* a file that may not exist: resolve its directory */
	if (realpath(path, real) == NULL) {
		if ((slash = strrchr(path, '/')) == NULL || (size_t)(slash - path) >= sizeof(dir))
			return -1;
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
		if (realpath(dir, real) == NULL ||
		    strlen(real) + strlen(slash) >= sizeof(real))
			return -1;
		strcat(real, slash);
	}
	bay_all(cf, &bays);
	for (int i = 0; i < bays.n && found < 0; i++) {
		size_t n;

		if (realpath(bays.v[i], bayreal) == NULL)
			continue;
		n = strlen(bayreal);
		if (strncmp(real, bayreal, n) != 0 || (real[n] != '/' && real[n] != 0))
			continue;
		below = real[n] ? real + n + 1 : real + n;
		snprintf(bay, bsize, "%s", bays.v[i]);
		found = 0;
	}
	strv_free(&bays);
	if (found < 0)
		return -1;
	cut = strchr(below, '/');
	snprintf(sub, ssize, "%.*s", cut ? (int)(cut - below) : (int)strlen(below), below);
	snprintf(rest, rsize, "%s", cut ? cut + 1 : "");
	return 0;
}

/* Waiting for the receipts of a directory hop (global/dirhop.h): "exported". */
static int
qe_exported(const struct qentry *e)
{
	return e->ok && e->st == Q_DEFERRED && dirhop_all_exported(&e->o);
}

enum qstate
qe_st(const struct qentry *e)
{
	return e->sending ? Q_ACTIVE : e->st;
}

const char *
qe_state(const struct qentry *e)
{
	if (qe_exported(e))
		return "exported";
	return e->ok || e->st == Q_CORRUPT ? qstate_name(qe_st(e)) : QSTATE_UNPARSED;
}

/* "exported to B (DIR) at TIME, ..." for an exported order (static buffer). */
static const char *
exported_where(const struct qentry *e)
{
	static struct sbuf b;
	char hop[256], when[32];
	time_t t;
	struct tm tm;

	sbuf_reset(&b);
	for (int i = 0; i < e->o.exported.n; i++) {
		const struct peer *p;

		if (order_export_parse(e->o.exported.v[i], hop, sizeof(hop), &t) < 0)
			continue;
		p = e->cf ? config_peer(e->cf, hop) : NULL;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
		sbuf_printf(&b, "%s%.*s exported to %s (%s) at %s", i ? "; " : "",
			    (int)strcspn(e->o.exported.v[i], " "), e->o.exported.v[i], hop,
			    p && p->dir ? p->dir : "carried by hand", when);
	}
	sbuf_puts(&b, "; waiting for the receipt");
	return b.s;
}

const char *
qe_error(const struct qentry *e)
{
	if (e->why)
		return e->why;
	if (!e->ok)
		return e->error;
	if (qe_exported(e))
		return exported_where(e);
	return e->o.last_error;
}

const char *
fmt_dur(long long s, char *buf, size_t size)
{
	const char *sign = s < 0 ? "-" : "";

	if (s < 0)
		s = -s;
	if (s < 120)
		snprintf(buf, size, "%s%llds", sign, s);
	else if (s < 7200)
		snprintf(buf, size, "%s%lldm", sign, s / 60);
	else if (s < 3 * 86400)
		snprintf(buf, size, "%s%lldh", sign, s / 3600);
	else
		snprintf(buf, size, "%s%lldd", sign, s / 86400);
	return buf;
}

const char *
fmt_safe(const char *s, size_t max, char *buf, size_t size)
{
	size_t i = 0;

	if (s == NULL)
		s = "";
	if (max >= size)
		max = size - 1;
	for (; s[i] && i < max; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i] && max > 3) {
		memcpy(buf + max - 3, "...", 3);
		i = max;
	}
	buf[i] = 0;
	return buf;
}

const char *
fmt_elide(const char *s, size_t max, char *buf, size_t size)
{
	char *whole;
	size_t len, head, tail;

	if (s == NULL)
		s = "";
	if (max >= size)
		max = size - 1;
	len = strlen(s);
	if (len <= max || max < 16)
		return fmt_safe(s, max, buf, size);
	/* the end names the cause: keep the longest run of whole clauses
	 * ("...: cause", "...; cause") that leaves the head 8 characters,
	 * else the last two thirds of the room */
	tail = (max - 5) * 2 / 3;
	for (size_t i = len - (max - 5 - 8); i + 2 < len; i++)
		if ((s[i] == ':' || s[i] == ';') && s[i + 1] == ' ') {
			tail = len - (i + 2);
			break;
		}
	head = max - 5 - tail;
	whole = xmalloc(head + 5 + tail + 1);
	memcpy(whole, s, head);
	memcpy(whole + head, " ... ", 5);
	memcpy(whole + head + 5, s + len - tail, tail + 1);
	fmt_safe(whole, max, buf, size);
	free(whole);
	return buf;
}

static void
print_list(FILE *f, const char *key, const struct strv *l)
{
	fprintf(f, "%-14s", key);
	for (int i = 0; i < l->n; i++)
		fprintf(f, "%s%s", i ? " " : "", l->v[i]);
	fputs(l->n ? "\n" : "-\n", f);
}

static void
print_time(FILE *f, const char *key, time_t t, time_t now)
{
	char stamp[64], d[32];
	struct tm tm;

	if (t == 0) {
		fprintf(f, "%-14s-\n", key);
		return;
	}
	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S %Z", &tm);
	fmt_dur(t <= now ? now - t : t - now, d, sizeof(d));
	fprintf(f, "%-14s%s (%s%s%s)\n", key, stamp, t <= now ? "" : "in ", d,
		t <= now ? " ago" : "");
}

void
print_long(FILE *f, const struct qentry *e, time_t now)
{
	char path[PATH_MAX], buf[4096], sz[32];
	const struct order *o = &e->o;
	struct stat sb;

	bay_path(path, sizeof(path), e->bay, e->st, e->id);
	fprintf(f, "%-14s%s\n", "id:", e->id);
	fprintf(f, "%-14s%s\n", "state:", qe_state(e));
	fprintf(f, "%-14s%s\n", "bay:", e->bay);
	fprintf(f, "%-14s%s\n", "order:", path);
	if (e->why)
		fprintf(f, "%-14s%s\n", "reason:", fmt_safe(e->why, 4000, buf, sizeof(buf)));
	if (!e->ok) {
		fprintf(f, "%-14s%s\n", "error:", fmt_safe(e->error, 4000, buf, sizeof(buf)));
		return;
	}
	bay_data_path(path, sizeof(path), e->bay, e->id);
	if (stat(path, &sb) == 0)
		fprintf(f, "%-14s%s (%llu bytes)\n", "data:", path, (unsigned long long)sb.st_size);
	else
		fprintf(f, "%-14s%s (missing: %s)\n", "data:", path, strerror(errno));
	fprintf(f, "%-14s%s\n", "class:", o->sclass);
	fprintf(f, "%-14s%s\n", "origin:", o->origin);
	print_list(f, "remaining:", &o->dests);
	print_list(f, "delivered:", &o->delivered);
	print_list(f, "hops:", &o->hops);
	for (int i = 0; i < o->exported.n; i++)
		fprintf(f, "%-14s%s\n", "exported:", o->exported.v[i]);
	fprintf(f, "%-14s%s\n", "group:", o->group ? o->group : e->id);
	fprintf(f, "%-14s%d of %d\n", "part:", o->part, o->nparts);
	fprintf(f, "%-14s%llu (%s)\n", "size:", (unsigned long long)o->size,
		fmt_size(o->size, sz, sizeof(sz)));
	fprintf(f, "%-14s%s\n", "digest:", o->digest);
	print_time(f, "created:", o->created, now);
	print_time(f, "expires:", o->expires, now);
	fprintf(f, "%-14s%s\n", "name:", fmt_safe(o->name ? o->name : "-", 4000, buf, sizeof(buf)));
	fprintf(f, "%-14s%s%s\n", "source:", fmt_safe(o->source ? o->source : "-", 4000, buf, sizeof(buf)),
		o->keep_data ? " (kept: --copy)" : "");
	fprintf(f, "%-14s%s\n", "notify:", fmt_safe(o->notify ? o->notify : "-", 4000, buf, sizeof(buf)));
	fprintf(f, "%-14s%s\n", "comment:", fmt_safe(o->comment ? o->comment : "-", 4000, buf, sizeof(buf)));
	fprintf(f, "%-14s%d\n", "attempts:", o->attempts);
	if (o->next_attempt == BAY_NEXT_POLL)
		fprintf(f, "%-14s%s\n", "next attempt:", "at the next poll (shipping_server -poll)");
	else
		print_time(f, "next attempt:", o->next_attempt, now);
	fprintf(f, "%-14s%s\n", "last error:",
		fmt_safe(o->last_error ? o->last_error : "-", 4000, buf, sizeof(buf)));
	if (o->returning)
		fprintf(f, "%-14syes: %s\n", "returning:",
			fmt_safe(o->return_reason ? o->return_reason : "-", 4000, buf, sizeof(buf)));
	else
		fprintf(f, "%-14sno\n", "returning:");
}

/* Length of a valid UTF-8 sequence at p (1..4), or 0. */
static int
utf8_len(const unsigned char *p)
{
	int n;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void
json_str(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL) {
		sbuf_puts(b, "null");
		return;
	}
	sbuf_puts(b, "\"");
	while (*p) {
		int n;

		if (*p == '"' || *p == '\\') {
			sbuf_printf(b, "\\%c", *p++);
		} else if (*p == '\n') {
			sbuf_puts(b, "\\n");
			p++;
		} else if (*p == '\t') {
			sbuf_puts(b, "\\t");
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			sbuf_printf(b, "\\u%04x", *p++);
		} else if ((n = utf8_len(p)) == 0) {
			sbuf_puts(b, "\\ufffd");
			p++;
		} else {
			sbuf_add(b, p, n);
			p += n;
		}
	}
	sbuf_puts(b, "\"");
}

static void
json_list(struct sbuf *b, const char *key, const struct strv *l)
{
	sbuf_printf(b, "\"%s\":[", key);
	for (int i = 0; i < l->n; i++) {
		if (i)
			sbuf_puts(b, ",");
		json_str(b, l->v[i]);
	}
	sbuf_puts(b, "]");
}

void
json_entry(struct sbuf *b, const struct qentry *e, time_t now)
{
	const struct order *o = &e->o;
	static const struct strv none;

	sbuf_puts(b, "{\"id\":");
	json_str(b, e->id);
	sbuf_puts(b, ",\"state\":");
	json_str(b, qe_state(e));
	sbuf_puts(b, ",\"class\":");
	json_str(b, e->ok ? o->sclass : NULL);
	sbuf_puts(b, ",\"bay\":");
	json_str(b, e->bay);
	if (e->ok) {
		sbuf_printf(b, ",\"size\":%llu,\"created\":%lld,\"expires\":%lld,\"age_seconds\":%lld",
			    (unsigned long long)o->size, (long long)o->created,
			    (long long)o->expires, (long long)(now - o->created));
	} else
		sbuf_puts(b, ",\"size\":null,\"created\":null,\"expires\":null,\"age_seconds\":null");
	sbuf_puts(b, ",\"origin\":");
	json_str(b, e->ok ? o->origin : NULL);
	sbuf_puts(b, ",");
	json_list(b, "remaining", e->ok ? &o->dests : &none);
	sbuf_puts(b, ",");
	json_list(b, "delivered", e->ok ? &o->delivered : &none);
	sbuf_puts(b, ",");
	json_list(b, "hops", e->ok ? &o->hops : &none);
	sbuf_printf(b, ",\"attempts\":%d,\"next_attempt\":%lld", e->ok ? o->attempts : 0,
		    e->ok ? (long long)o->next_attempt : 0LL);
	sbuf_puts(b, ",\"last_error\":");
	json_str(b, e->ok ? o->last_error : e->error);
	sbuf_puts(b, ",\"name\":");
	json_str(b, e->ok ? o->name : NULL);
	sbuf_puts(b, ",\"comment\":");
	json_str(b, e->ok ? o->comment : NULL);
	sbuf_puts(b, ",\"notify\":");
	json_str(b, e->ok ? o->notify : NULL);
	sbuf_printf(b, ",\"part\":%d,\"nparts\":%d", e->ok ? o->part : 1, e->ok ? o->nparts : 1);
	sbuf_puts(b, ",\"group\":");
	json_str(b, e->ok ? (o->group ? o->group : e->id) : NULL);
	sbuf_printf(b, ",\"returning\":%s", e->ok && o->returning ? "true" : "false");
	sbuf_puts(b, ",\"error\":");
	json_str(b, e->ok ? NULL : e->error);
	sbuf_puts(b, ",\"reason\":");
	json_str(b, e->why);
	sbuf_puts(b, "}");
}

void
audit(const char *fmt, ...)
{
	static int opened;
	char line[1024];
	struct passwd *pw = getpwuid(getuid());
	va_list ap;

	if (!opened) {		/* operator actions also go to syslog */
		log_open("shipctl", "stderr,syslog");
		opened = 1;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	msg_info("%s by %s (uid %ld)", line, pw ? pw->pw_name : "?", (long)getuid());
}
