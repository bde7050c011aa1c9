/*
 * confirm.c - delivery receipts (confirm.h): the text, and queueing one
 * for the origin through submit_file, the one path every packet takes.
 * Never opens a connection; never decides what a refused receipt means
 * (the daemon's control.c does).
 */
#include "confirm.h"
#include "flood.h"
#include "submit.h"
#include "../queue/history.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIRM_MAGIC	"shipd-receipt 1"	/* one order */
#define CONFIRM_MAGIC2	"shipd-receipt 2"	/* 2 to CONFIRM_ORDERS */

void
confirm_of(struct confirm *c, const struct order *o, const char *self, time_t at,
	   const char *name)
{
	struct sbuf r;

	memset(c, 0, sizeof(*c));
	snprintf(c->order, sizeof(c->order), "%s", o->id);
	snprintf(c->origin, sizeof(c->origin), "%s", o->origin);
	snprintf(c->dest, sizeof(c->dest), "%s", self);
	c->delivered = at;
	sbuf_init(&r);
	for (int i = 0; i < o->hops.n; i++)
		sbuf_printf(&r, "%s%s", i ? "," : "", o->hops.v[i]);
	if (o->hops.n == 0 || strcmp(o->hops.v[o->hops.n - 1], self) != 0)
		sbuf_printf(&r, "%s%s", r.len ? "," : "", self);
	/* a route too long to tell is told as unknown, never cut */
	snprintf(c->route, sizeof(c->route), "%s", r.len < sizeof(c->route) ? r.s : "-");
	sbuf_free(&r);
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
}

/* One order's lines: those of its block in version 2. */
static void
entry_format(const struct confirm *c, struct sbuf *out)
{
	sbuf_printf(out, "order: %s\ndelivered: %lld\nroute: %s\n", c->order,
		    (long long)c->delivered, c->route);
	if (c->name[0]) {
		sbuf_puts(out, "name: ");
		order_text_escape(out, c->name);
		sbuf_puts(out, "\n");
	}
}

static void
head_format(const struct confirm *c, int n, struct sbuf *out)
{
	sbuf_printf(out, "%s\norigin: %s\ndest: %s\n", n == 1 ? CONFIRM_MAGIC : CONFIRM_MAGIC2,
		    c->origin, c->dest);
}

void
confirm_format(const struct confirm *v, int n, struct sbuf *out)
{
	head_format(&v[0], n, out);
	for (int i = 0; i < n; i++)
		entry_format(&v[i], out);
	sbuf_puts(out, "end\n");
}

int
confirm_fit(const struct confirm *v, int n)
{
	struct sbuf b;
	int k = 0;

	sbuf_init(&b);
	head_format(&v[0], 2, &b);
	sbuf_puts(&b, "end\n");
	/* the longest entry (a route of 2047 bytes, a name escaped to 4 bytes
	 * a byte) is far below CONFIRM_MAX: the first one always fits */
	while (k < n && k < CONFIRM_ORDERS) {
		entry_format(&v[k], &b);
		if (k > 0 && b.len > CONFIRM_MAX)
			break;
		k++;
	}
	sbuf_free(&b);
	return k;
}

/* Copy the value v (vl bytes) of key k into buf; -1 when it does not fit. */
static int
field(char *buf, size_t size, const char *k, const char *v, size_t vl)
{
	if (buf[0]) {
		err_set("repeated \"%s\"", k);
		return -1;
	}
	if (vl == 0 || vl >= size) {
		err_set("bad \"%s\"", k);
		return -1;
	}
	memcpy(buf, v, vl);
	buf[vl] = 0;
	return 0;
}

struct parsing {
	struct confirm *v;		/* CONFIRM_ORDERS entries */
	int version;			/* 1 or 2, from line 1 */
	int n;				/* entries begun */
	int at[CONFIRM_ORDERS];		/* the line each one began on */
	char origin[256], dest[256];	/* version 2's, for every entry */
};

/* Is entry i whole? -1 with err_set naming the line it began on. */
static int
entry_whole(const struct parsing *x, int i)
{
	const struct confirm *c = &x->v[i];
	const char *no = c->delivered == 0 ? "delivered" :
			 x->version == 2 && c->route[0] == 0 ? "route" : NULL;

	if (no == NULL)
		return 0;
	err_set("line %d: order %s has no \"%s\"", x->at[i], c->order, no);
	return -1;
}

/* Version 2's "order" line: the block of a new entry. */
static int
entry_begin(struct parsing *x, int line, const char *v, size_t vl)
{
	struct confirm *c;

	if (x->origin[0] == 0 || x->dest[0] == 0) {
		err_set("\"order\" before \"origin\" and \"dest\"");
		return -1;
	}
	if (x->n > 0 && entry_whole(x, x->n - 1) < 0)
		return -1;
	if (x->n == CONFIRM_ORDERS) {
		err_set("more than %d orders", CONFIRM_ORDERS);
		return -1;
	}
	c = &x->v[x->n];
	if (field(c->order, sizeof(c->order), "order", v, vl) < 0)
		return -1;
	if (!order_id_valid(c->order)) {
		err_set("bad \"order\"");
		return -1;
	}
	for (int i = 0; i < x->n; i++)
		if (strcmp(x->v[i].order, c->order) == 0) {
			err_set("order %s listed twice (line %d)", c->order, x->at[i]);
			return -1;
		}
	x->at[x->n++] = line;
	return 0;
}

/* One "key: value" of a receipt into c (version 1: the one entry; version
 * 2: the entry being read), or a version 2 header's. */
static int
entry_key(struct parsing *x, int line, const char *p, size_t kl, const char *v, size_t vl)
{
	struct confirm *c = x->version == 1 ? &x->v[0] : x->n ? &x->v[x->n - 1] : NULL;
	char *name;
	int rc;

#define KEY(s)	(kl == sizeof(s) - 1 && memcmp(p, s, kl) == 0)
	if (KEY("origin") || KEY("dest")) {
		int o = KEY("origin");

		if (x->version == 2 && x->n) {
			err_set("\"%s\" after the first order", o ? "origin" : "dest");
			return -1;
		}
		return field(o ? x->origin : x->dest, sizeof(x->origin), o ? "origin" : "dest", v, vl);
	}
	if (KEY("order") && x->version == 2)
		return entry_begin(x, line, v, vl);
	if (c == NULL && (KEY("order") || KEY("route") || KEY("delivered") || KEY("name"))) {
		err_set("\"%.*s\" before the first \"order\"", (int)kl, p);
		return -1;
	}
	if (KEY("order"))
		return field(c->order, sizeof(c->order), "order", v, vl);
	if (KEY("route"))
		return field(c->route, sizeof(c->route), "route", v, vl);
	if (KEY("delivered")) {
		char t[32] = "", *end;

		if (c->delivered) {
			err_set("repeated \"delivered\"");
			return -1;
		}
		if (field(t, sizeof(t), "delivered", v, vl) < 0)
			return -1;
		errno = 0;
		c->delivered = (time_t)strtoll(t, &end, 10);
		if (errno || *end || c->delivered <= 0) {
			err_set("bad \"delivered\"");
			return -1;
		}
		return 0;
	}
	if (KEY("name")) {
		if ((name = order_text_unescape(v, vl)) == NULL || strchr(name, '/'))
			rc = (err_set("bad \"name\""), -1);
		else
			rc = field(c->name, sizeof(c->name), "name", name, strlen(name));
		free(name);
		return rc;
	}
#undef KEY
	err_set("unknown key \"%.*s\"", (int)(kl > 40 ? 40 : kl), p);
	return -1;
}

/* record_line_fn: one line of a receipt. */
static int
confirm_line(void *arg, int line, const char *p, size_t ll)
{
	struct parsing *x = arg;
	const char *eol = p + ll, *v;
	char e[300];

	if (line == 1) {
		if (ll == strlen(CONFIRM_MAGIC) && memcmp(p, CONFIRM_MAGIC, ll) == 0)
			x->version = 1;
		else if (ll == strlen(CONFIRM_MAGIC2) && memcmp(p, CONFIRM_MAGIC2, ll) == 0)
			x->version = 2;
		else {
			err_set("line 1: not a receipt (want \"%s\" or \"%s\" first)", CONFIRM_MAGIC,
				CONFIRM_MAGIC2);
			return -1;
		}
		return 0;
	}
	if ((v = memchr(p, ':', ll)) == NULL || v + 1 >= eol || v[1] != ' ') {
		err_set("line %d: not \"key: value\"", line);
		return -1;
	}
	if (entry_key(x, line, p, v - p, v + 2, eol - (v + 2)) == 0)
		return 0;
	snprintf(e, sizeof(e), "%s", err_get());
	err_set("line %d: %s", line, e);
	return -1;
}

int
confirm_parse(const char *text, size_t len, struct confirm *v)
{
	struct parsing *x = xcalloc(1, sizeof(*x));
	char e[300];
	int n, rc = -1;

	x->v = v;
	memset(v, 0, CONFIRM_ORDERS * sizeof(*v));
	if (len > CONFIRM_MAX)
		err_set("receipt larger than %d bytes", CONFIRM_MAX);
	else if (memchr(text, 0, len))
		err_set("receipt: a NUL byte");
	else if ((n = record_walk(text, len, confirm_line, x)) < 0) {
		snprintf(e, sizeof(e), "%s", err_get());
		err_set("receipt %s", e);
	} else if (x->version == 1) {
		struct confirm *c = &v[0];

		snprintf(c->origin, sizeof(c->origin), "%s", x->origin);
		snprintf(c->dest, sizeof(c->dest), "%s", x->dest);
		if (n == 0 || !order_id_valid(c->order) || !order_name_valid(c->origin) ||
		    !order_name_valid(c->dest) || c->delivered == 0 ||
		    !hist_route_ok(c->route[0] ? c->route : "-"))
			err_set("receipt incomplete or malformed (order, origin, dest, delivered, "
				"route, end)");
		else
			rc = 1;
	} else if (x->version == 2 && x->n < 2)
		err_set("receipt line 1: version 2 with %d order%s (want 2 to %d)", x->n,
			x->n == 1 ? "" : "s", CONFIRM_ORDERS);
	else if (x->version == 2 && entry_whole(x, x->n - 1) < 0) {
		snprintf(e, sizeof(e), "%s", err_get());
		err_set("receipt %s", e);
	} else if (x->version == 2 && (!order_name_valid(x->origin) || !order_name_valid(x->dest)))
		err_set("receipt lines 2-3: bad \"origin\" or \"dest\"");
	else if (x->version == 2) {
		rc = x->n;
		for (int i = 0; i < x->n && rc > 0; i++) {
			snprintf(v[i].origin, sizeof(v[i].origin), "%s", x->origin);
			snprintf(v[i].dest, sizeof(v[i].dest), "%s", x->dest);
			if (!hist_route_ok(v[i].route)) {
				err_set("receipt line %d: order %s: bad \"route\"", x->at[i], v[i].order);
				rc = -1;
			}
		}
	} else
		err_set("receipt: empty");
	if (rc == 1 && v[0].route[0] == 0)
		snprintf(v[0].route, sizeof(v[0].route), "-");
	free(x);
	return rc;
}

int
confirm_send(const struct config *cf, const struct keys *me, const struct confirm *v, int n,
	     char *id, size_t size, int *tempfailp)
{
	struct submit_req r = {0};
	struct strv ids = {0};
	struct sbuf body;
	char tmp[PATH_MAX];
	int tempfail = 1, rc;

	if (tempfailp)
		*tempfailp = 1;	/* our side (the temporary file): later */
	sbuf_init(&body);
	confirm_format(v, n, &body);
	rc = flood_body(cf, body.s, body.len, tmp, sizeof(tmp));
	sbuf_free(&body);
	if (rc < 0)
		return -1;
	r.path = tmp;
	r.name = CONFIRM_KIND;
	r.copy = 1;
	r.kind = CONFIRM_KIND;
	strv_add(&r.dests, v[0].origin);
	if ((rc = submit_file(cf, me, &r, &ids, &tempfail)) == 0)
		snprintf(id, size, "%s", ids.n ? ids.v[0] : "?");
	else if (tempfailp)
		*tempfailp = tempfail;
	unlink(tmp);
	strv_free(&ids);
	strv_free(&r.dests);
	return rc;
}
