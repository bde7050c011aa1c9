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

#define CONFIRM_MAGIC	"shipd-receipt 1"

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

void
confirm_format(const struct confirm *c, struct sbuf *out)
{
	sbuf_printf(out, "%s\norder: %s\norigin: %s\ndest: %s\ndelivered: %lld\nroute: %s\n",
		    CONFIRM_MAGIC, c->order, c->origin, c->dest, (long long)c->delivered, c->route);
	if (c->name[0]) {
		sbuf_puts(out, "name: ");
		order_text_escape(out, c->name);
		sbuf_puts(out, "\n");
	}
	sbuf_puts(out, "end\n");
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
	struct confirm *c;
	int have_time;
};

/* record_line_fn: one line of a receipt. */
static int
confirm_line(void *arg, int line, const char *p, size_t ll)
{
	struct parsing *x = arg;
	struct confirm *c = x->c;
	const char *eol = p + ll, *v;
	char *name, e[200];
	size_t kl, vl;
	int rc = 0;

	if (line == 1) {
		if (ll == strlen(CONFIRM_MAGIC) && memcmp(p, CONFIRM_MAGIC, ll) == 0)
			return 0;
		err_set("line 1: not a receipt (want \"%s\" first)", CONFIRM_MAGIC);
		return -1;
	}
	if ((v = memchr(p, ':', ll)) == NULL || v + 1 >= eol || v[1] != ' ') {
		err_set("line %d: not \"key: value\"", line);
		return -1;
	}
	kl = v - p;
	v += 2;
	vl = eol - v;
#define KEY(s)	(kl == sizeof(s) - 1 && memcmp(p, s, kl) == 0)
	if (KEY("order"))
		rc = field(c->order, sizeof(c->order), "order", v, vl);
	else if (KEY("origin"))
		rc = field(c->origin, sizeof(c->origin), "origin", v, vl);
	else if (KEY("dest"))
		rc = field(c->dest, sizeof(c->dest), "dest", v, vl);
	else if (KEY("route"))
		rc = field(c->route, sizeof(c->route), "route", v, vl);
	else if (KEY("delivered")) {
		char t[32] = "", *end;

		rc = x->have_time ? (err_set("repeated \"delivered\""), -1) :
		     field(t, sizeof(t), "delivered", v, vl);
		if (rc == 0) {
			errno = 0;
			c->delivered = (time_t)strtoll(t, &end, 10);
			if (errno || *end || c->delivered <= 0)
				rc = (err_set("bad \"delivered\""), -1);
			x->have_time = 1;
		}
	} else if (KEY("name")) {
		if ((name = order_text_unescape(v, vl)) == NULL || strchr(name, '/'))
			rc = (err_set("bad \"name\""), -1);
		else
			rc = field(c->name, sizeof(c->name), "name", name, strlen(name));
		free(name);
	} else
		rc = (err_set("unknown key \"%.*s\"", (int)(kl > 40 ? 40 : kl), p), -1);
#undef KEY
	if (rc < 0) {
		snprintf(e, sizeof(e), "%s", err_get());
		err_set("line %d: %s", line, e);
	}
	return rc;
}

int
confirm_parse(const char *text, size_t len, struct confirm *c)
{
	struct parsing x = {c, 0};
	char e[300];
	int n;

	memset(c, 0, sizeof(*c));
	if (len > CONFIRM_MAX) {
		err_set("receipt larger than %d bytes", CONFIRM_MAX);
		return -1;
	}
	if (memchr(text, 0, len)) {
		err_set("receipt: a NUL byte");
		return -1;
	}
	if ((n = record_walk(text, len, confirm_line, &x)) < 0) {
		snprintf(e, sizeof(e), "%s", err_get());
		err_set("receipt %s", e);
		return -1;
	}
	if (n == 0 || !order_id_valid(c->order) || !order_name_valid(c->origin) ||
	    !order_name_valid(c->dest) || !x.have_time || !hist_route_ok(c->route[0] ? c->route : "-")) {
		err_set("receipt incomplete or malformed (order, origin, dest, delivered, route, end)");
		return -1;
	}
	if (c->route[0] == 0)
		snprintf(c->route, sizeof(c->route), "-");
	return 0;
}

int
confirm_send(const struct config *cf, const struct keys *me, const struct confirm *c,
	     char *id, size_t size)
{
	struct submit_req r = {0};
	struct strv ids = {0};
	struct sbuf body;
	char tmp[PATH_MAX];
	int tempfail, rc;

	sbuf_init(&body);
	confirm_format(c, &body);
	rc = flood_body(cf, body.s, body.len, tmp, sizeof(tmp));
	sbuf_free(&body);
	if (rc < 0)
		return -1;
	r.path = tmp;
	r.name = CONFIRM_KIND;
	r.copy = 1;
	r.kind = CONFIRM_KIND;
	strv_add(&r.dests, c->origin);
	if ((rc = submit_file(cf, me, &r, &ids, &tempfail)) == 0)
		snprintf(id, size, "%s", ids.n ? ids.v[0] : "?");
	unlink(tmp);
	strv_free(&ids);
	strv_free(&r.dests);
	return rc;
}
