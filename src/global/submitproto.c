/*
 * submitproto.c - the submission socket's request codec (submitproto.h).
 */
#include "submitproto.h"
#include "../util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
put(struct sbuf *out, const char *key, const char *val)
{
	if (val == NULL)
		return 0;
	if (strchr(val, '\n')) {
		err_set("%s holds a newline", key);
		return -1;
	}
	sbuf_printf(out, "%s: %s\n", key, val);
	return 0;
}

int
submitproto_encode(const struct submit_req *r, struct sbuf *out)
{
	char t[32];

	sbuf_puts(out, "shipd-submit 1\n");
	if (put(out, "path", r->path) < 0 || put(out, "name", r->name) < 0 ||
	    put(out, "class", r->sclass) < 0 || put(out, "notify", r->notify) < 0 ||
	    put(out, "comment", r->comment) < 0)
		return -1;
	for (int i = 0; i < r->dests.n; i++)
		if (put(out, "to", r->dests.v[i]) < 0)
			return -1;
	if (r->expires) {
		snprintf(t, sizeof(t), "%lld", (long long)r->expires);
		put(out, "expires", t);
	}
	if (r->until_poll)
		sbuf_puts(out, "hold: 1\n");
	sbuf_puts(out, "end\n");
	if (out->len > SUBMIT_MSG_MAX) {
		err_set("request of %zu bytes is too long", out->len);
		return -1;
	}
	return 0;
}

int
submitproto_decode(char *text, size_t len, struct submit_req *r)
{
	char *p = text, *end = text + len, *nl;
	int first = 1;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (len == 0 || memchr(text, 0, len) || text[len - 1] != '\n') {
		err_set("malformed request");
		return -1;
	}
	for (; p < end; p = nl + 1) {
		char *colon, *val;

		nl = memchr(p, '\n', end - p);
		*nl = 0;
		if (first) {
			if (strcmp(p, "shipd-submit 1") != 0) {
				err_set("not a version 1 submission request");
				return -1;
			}
			first = 0;
			continue;
		}
		if (strcmp(p, "end") == 0)
			return nl + 1 == end && r->path && r->dests.n ? 0 :
			       (err_set("request without path or destination, or bytes after end"), -1);
		if ((colon = strstr(p, ": ")) == NULL) {
			err_set("malformed request line \"%.40s\"", p);
			return -1;
		}
		*colon = 0;
		val = colon + 2;
		if (strcmp(p, "to") == 0)
			strv_add(&r->dests, val);
		else if (strcmp(p, "path") == 0 && !r->path)
			r->path = val;
		else if (strcmp(p, "name") == 0 && !r->name)
			r->name = val;
		else if (strcmp(p, "class") == 0 && !r->sclass)
			r->sclass = val;
		else if (strcmp(p, "notify") == 0 && !r->notify)
			r->notify = val;
		else if (strcmp(p, "comment") == 0 && !r->comment)
			r->comment = val;
		else if (strcmp(p, "hold") == 0 && strcmp(val, "1") == 0)
			r->until_poll = 1;
		else if (strcmp(p, "expires") == 0 && !r->expires) {
			char *e;

			errno = 0;
			r->expires = strtoll(val, &e, 10);
			if (errno || *e || r->expires <= 0) {
				err_set("bad expires \"%.20s\"", val);
				return -1;
			}
		} else {
			err_set("unknown or repeated request line \"%.40s\"", p);
			return -1;
		}
	}
	err_set("request without end");
	return -1;
}
