/*
 * history.c - the done/ records (history.h): parse, format, the locked
 * read-change-write, listing and the purge. Never renames an order and
 * never reads packet bytes; a record that does not parse is reported,
 * never rewritten from a guess.
 */
#include "history.h"
#include "bay_int.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void
hist_init(struct history *h, const char *id)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->id, sizeof(h->id), "%s", id ? id : "");
	h->nparts = 1;
}

void
hist_free(struct history *h)
{
	free(h->group);
	free(h->origin);
	free(h->sclass);
	free(h->name);
	free(h->role);
	free(h->from);
	free(h->result);
	free(h->why);
	for (int i = 0; i < h->nto; i++) {
		free(h->to[i].dest);
		free(h->to[i].via);
	}
	free(h->to);
	for (int i = 0; i < h->nrcpt; i++) {
		free(h->rcpt[i].dest);
		free(h->rcpt[i].route);
		free(h->rcpt[i].name);
	}
	free(h->rcpt);
	memset(h, 0, sizeof(*h));
}

const struct hist_to *
hist_to_of(const struct history *h, const char *dest)
{
	for (int i = 0; i < h->nto; i++)
		if (strcmp(h->to[i].dest, dest) == 0)
			return &h->to[i];
	return NULL;
}

const struct hist_receipt *
hist_receipt_of(const struct history *h, const char *dest)
{
	for (int i = 0; i < h->nrcpt; i++)
		if (strcmp(h->rcpt[i].dest, dest) == 0)
			return &h->rcpt[i];
	return NULL;
}

void
hist_set_to(struct history *h, const char *dest, const char *via, time_t at)
{
	struct hist_to *t = (struct hist_to *)hist_to_of(h, dest);

	if (t == NULL) {
		if (h->nto >= HIST_MAX_LINES)
			return;
		h->to = xrealloc(h->to, (h->nto + 1) * sizeof(*h->to));
		t = &h->to[h->nto++];
		t->dest = xstrdup(dest);
	} else
		free(t->via);
	t->via = xstrdup(via);
	t->at = at;
}

int
hist_add_receipt(struct history *h, const char *dest, time_t at, const char *route,
		 const char *name)
{
	struct hist_receipt *r;

	if (hist_receipt_of(h, dest) || h->nrcpt >= HIST_MAX_LINES)
		return 0;
	h->rcpt = xrealloc(h->rcpt, (h->nrcpt + 1) * sizeof(*h->rcpt));
	r = &h->rcpt[h->nrcpt++];
	r->dest = xstrdup(dest);
	r->at = at;
	r->route = xstrdup(route && *route ? route : "-");
	r->name = name && *name ? xstrdup(name) : NULL;
	return 1;
}

static void
set_once(char **field, const char *v)
{
	if (*field == NULL && v && *v)
		*field = xstrdup(v);
}

void
hist_from_order(struct history *h, const struct order *o, const char *self)
{
	const char *role;

	set_once(&h->group, o->group ? o->group : o->id);
	if (h->nparts <= 1 && o->nparts > 1)
		h->nparts = o->nparts;
	set_once(&h->origin, o->origin);
	set_once(&h->sclass, o->sclass);
	set_once(&h->name, o->name);
	if (h->size == 0)
		h->size = o->size;
	if (h->created == 0)
		h->created = o->created;
	if (strcmp(o->origin, self) == 0)
		role = "origin";
	else if (strv_has(&o->dests, self) || strv_has(&o->delivered, self))
		role = "destination";
	else
		role = "relay";
	set_once(&h->role, role);
	/* hops: the origin first, this node last once received here */
	if (h->from == NULL && o->hops.n >= 2 && strcmp(o->hops.v[o->hops.n - 1], self) == 0)
		h->from = xstrdup(o->hops.v[o->hops.n - 2]);
}

void
hist_ids(const char *id, struct strv *ids)
{
	char group[ORDER_ID_MAX], pid[ORDER_ID_MAX], one[ORDER_ID_MAX];
	int n, m;

	if (order_part_of(id, group, sizeof(group), &n, &m) < 0 ||
	    order_packet_id(id, pid, sizeof(pid)) < 0) {
		strv_add(ids, id);
		return;
	}
	for (int k = 1; k <= m; k++)
		if (snprintf(one, sizeof(one), "%s.p%dof%d%s", group, k, m, id + strlen(pid)) <
		    (int)sizeof(one))
			strv_add(ids, one);
}

/* ---- the text ---- */

static int
is_name(const char *s, size_t n)
{
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '.' || s[i] == '_' || s[i] == '-' ||
		      (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

int
hist_route_ok(const char *s)
{
	const char *p = s;

	if (strcmp(s, "-") == 0)
		return 1;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (!is_name(p, n))
			return 0;
		p += n;
		if (*p == ',' && *++p == 0)
			return 0;
	}
	return p != s;
}

/* The next space-separated word of *p (before end), as a new string. */
static char *
word(const char **p, const char *end)
{
	const char *s = *p, *e;

	while (s < end && *s == ' ')
		s++;
	for (e = s; e < end && *e != ' '; e++)
		;
	*p = e < end ? e + 1 : e;
	return e > s ? xstrndup(s, e - s) : NULL;
}

static int
num(const char *s, long long *out)
{
	char *e;

	if (s == NULL || *s == 0)
		return -1;
	errno = 0;
	*out = strtoll(s, &e, 10);
	return errno || *e || *out < 0 ? -1 : 0;
}

/* One "key: value" line of a record; -1 with err_set. */
static int
parse_line(struct history *h, const char *k, size_t kl, const char *v, size_t vl)
{
	const char *end = v + vl;
	char *w1 = NULL, *w2 = NULL, *w3 = NULL, *s = NULL;
	long long n;
	int rc = -1;

#define KEY(name)	(kl == sizeof(name) - 1 && memcmp(k, name, kl) == 0)
	if (KEY("version")) {
		s = xstrndup(v, vl);
		if (num(s, &n) < 0 || n != HIST_VERSION) {
			err_set("unknown version \"%.20s\"", s);
			goto out;
		}
	} else if (KEY("id")) {
		if (vl >= sizeof(h->id) || (memcpy(h->id, v, vl), h->id[vl] = 0, !order_id_valid(h->id))) {
			err_set("bad id");
			goto out;
		}
	} else if (KEY("group") || KEY("origin") || KEY("class") || KEY("role") || KEY("from") ||
		   KEY("result")) {
		char **f = KEY("group") ? &h->group : KEY("origin") ? &h->origin :
			   KEY("class") ? &h->sclass : KEY("role") ? &h->role :
			   KEY("from") ? &h->from : &h->result;

		if (!is_name(v, vl) || *f) {
			err_set(*f ? "repeated key \"%.*s\"" : "bad value for \"%.*s\"", (int)kl, k);
			goto out;
		}
		*f = xstrndup(v, vl);
	} else if (KEY("name") || KEY("why")) {
		char **f = KEY("name") ? &h->name : &h->why;

		if (*f || (*f = order_text_unescape(v, vl)) == NULL) {
			err_set("bad or repeated \"%.*s\"", (int)kl, k);
			goto out;
		}
	} else if (KEY("parts") || KEY("size") || KEY("created") || KEY("ended")) {
		s = xstrndup(v, vl);
		if (num(s, &n) < 0) {
			err_set("bad number \"%.20s\"", s);
			goto out;
		}
		if (KEY("parts"))
			h->nparts = n > 0 && n <= BAY_JOIN_MAX ? (int)n : 1;
		else if (KEY("size"))
			h->size = (uint64_t)n;
		else if (KEY("created"))
			h->created = (time_t)n;
		else
			h->ended = (time_t)n;
	} else if (KEY("to")) {
		w1 = word(&v, end), w2 = word(&v, end), w3 = word(&v, end);
		if (w1 == NULL || w2 == NULL || num(w3, &n) < 0 || v != end ||
		    !is_name(w1, strlen(w1)) || !is_name(w2, strlen(w2))) {
			err_set("bad \"to: DEST VIA TIME\"");
			goto out;
		}
		hist_set_to(h, w1, w2, (time_t)n);
	} else if (KEY("receipt")) {
		w1 = word(&v, end), w2 = word(&v, end), w3 = word(&v, end);
		if (w1 == NULL || num(w2, &n) < 0 || w3 == NULL || !is_name(w1, strlen(w1)) ||
		    !hist_route_ok(w3) ||
		    (v < end && (s = order_text_unescape(v, end - v)) == NULL)) {
			err_set("bad \"receipt: DEST TIME ROUTE [NAME]\"");
			goto out;
		}
		hist_add_receipt(h, w1, (time_t)n, w3, s);
	} else {
		err_set("unknown key \"%.*s\"", (int)(kl > 40 ? 40 : kl), k);
		goto out;
	}
#undef KEY
	rc = 0;
out:
	free(w1);
	free(w2);
	free(w3);
	free(s);
	return rc;
}

static int
hist_line(void *arg, int line, const char *p, size_t llen)
{
	const char *colon = memchr(p, ':', llen), *eol = p + llen;

	if (colon == NULL || colon + 1 >= eol || colon[1] != ' ' ||
	    (line == 1 && (colon - p != 7 || memcmp(p, "version", 7) != 0))) {
		err_set(line == 1 ? "line 1: want \"version: %d\"" : "line %d: not \"key: value\"",
			line == 1 ? HIST_VERSION : line);
		return -1;
	}
	if (parse_line(arg, p, colon - p, colon + 2, eol - colon - 2) < 0) {
		char e[300];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("line %d: %s", line, e);
		return -1;
	}
	return 0;
}

int
hist_parse(const char *buf, size_t len, struct history *h)
{
	int n;

	hist_init(h, NULL);
	if (len > ORDER_MAX_SIZE) {
		err_set("record larger than %d bytes", ORDER_MAX_SIZE);
		return -1;
	}
	if ((n = record_walk(buf, len, hist_line, h)) <= 0 || h->id[0] == 0) {
		if (n >= 0)
			err_set(n == 0 ? "empty record" : "no id");
		hist_free(h);
		return -1;
	}
	return 0;
}

char *
hist_format(const struct history *h, size_t *len)
{
	struct sbuf b;

	sbuf_init(&b);
	sbuf_printf(&b, "version: %d\nid: %s\n", HIST_VERSION, h->id);
	if (h->group)
		sbuf_printf(&b, "group: %s\n", h->group);
	sbuf_printf(&b, "parts: %d\n", h->nparts > 0 ? h->nparts : 1);
	if (h->origin)
		sbuf_printf(&b, "origin: %s\n", h->origin);
	if (h->sclass)
		sbuf_printf(&b, "class: %s\n", h->sclass);
	if (h->name) {
		sbuf_puts(&b, "name: ");
		order_text_escape(&b, h->name);
		sbuf_puts(&b, "\n");
	}
	sbuf_printf(&b, "size: %" PRIu64 "\ncreated: %lld\n", h->size, (long long)h->created);
	if (h->role)
		sbuf_printf(&b, "role: %s\n", h->role);
	if (h->from)
		sbuf_printf(&b, "from: %s\n", h->from);
	if (h->ended)
		sbuf_printf(&b, "ended: %lld\n", (long long)h->ended);
	if (h->result)
		sbuf_printf(&b, "result: %s\n", h->result);
	if (h->why) {
		sbuf_puts(&b, "why: ");
		order_text_escape(&b, h->why);
		sbuf_puts(&b, "\n");
	}
	for (int i = 0; i < h->nto; i++)
		sbuf_printf(&b, "to: %s %s %lld\n", h->to[i].dest, h->to[i].via,
			    (long long)h->to[i].at);
	for (int i = 0; i < h->nrcpt; i++) {
		sbuf_printf(&b, "receipt: %s %lld %s", h->rcpt[i].dest, (long long)h->rcpt[i].at,
			    h->rcpt[i].route);
		if (h->rcpt[i].name) {
			sbuf_puts(&b, " ");
			order_text_escape(&b, h->rcpt[i].name);
		}
		sbuf_puts(&b, "\n");
	}
	sbuf_puts(&b, "end\n");
	if (len)
		*len = b.len;
	return b.s;
}

/* ---- the records ---- */

struct ending {
	const struct config *cf;
	const struct order *o;
	const char *result, *why;
};

static int
note_end(void *arg, struct history *h, int exists)
{
	struct ending *e = arg;
	const char *self = e->cf->node;
	const struct order *o = e->o;
	time_t now = time(NULL);

	hist_from_order(h, o, self);
	for (int i = 0; i < o->delivered.n; i++) {
		const char *d = o->delivered.v[i], *nh;

		if (strcmp(d, self) == 0 || hist_to_of(h, d))
			continue;
		nh = config_next_hop(e->cf, d);
		hist_set_to(h, d, nh ? nh : d, now);
	}
	h->ended = now;
	free(h->result);
	free(h->why);
	h->why = e->why ? xstrdup(e->why) : NULL;
	if (e->result)
		h->result = xstrdup(e->result);
	else if (strcmp(h->role, "relay") == 0)
		h->result = xstrdup("forwarded");
	else if (strcmp(h->role, "destination") == 0 || h->nto == 0)
		h->result = xstrdup("delivered");
	else
		h->result = xstrdup("sent");
	return 0;
}

int
hist_end(const struct config *cf, const char *bay, const struct order *o, const char *result,
	 const char *why, struct bay_group *g)
{
	struct ending e = {cf, o, result, why};

	return hist_update_group(bay, o->id, note_end, &e, g);
}

int
hist_load(const char *bay, const char *id, struct history *h)
{
	char path[PATH_MAX], *buf;
	size_t len;
	int missing;

	hist_init(h, id);
	if (!order_id_valid(id)) {
		err_set("history: bad id \"%.64s\"", id);
		return -1;
	}
	if (bay_path(path, sizeof(path), bay, Q_DONE, id) < 0)
		return -1;
	/* no record yet is the open's ENOENT: no access() before it */
	if ((buf = read_file_if(path, ORDER_MAX_SIZE, &len, &missing)) == NULL)
		return missing ? 1 : -1;
	if (hist_parse(buf, len, h) < 0 || strcmp(h->id, id) != 0) {
		char e[300];

		snprintf(e, sizeof(e), "%s", h->id[0] && strcmp(h->id, id) != 0 ?
			 "names another order" : err_get());
		hist_free(h);
		hist_init(h, id);
		err_set("%s: %s", path, e);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

int
hist_update(const char *bay, const char *id, hist_fn fn, void *arg)
{
	return hist_update_group(bay, id, fn, arg, NULL);
}

int
hist_update_group(const char *bay, const char *id, hist_fn fn, void *arg, struct bay_group *g)
{
	char dir[PATH_MAX], *text = NULL;
	struct history h;
	size_t len;
	int lock, rc, ex;

	if (bay_path(dir, sizeof(dir), bay, Q_DONE, NULL) < 0)
		return -1;
	if ((lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_set("history: open %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((rc = flock(lock, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		err_set("history: lock %s: %s", dir, strerror(errno));
		close(lock);
		return -1;
	}
	if ((ex = hist_load(bay, id, &h)) < 0) {
		close(lock);
		return -1;
	}
	if ((rc = fn(arg, &h, ex == 0)) == 0) {
		text = hist_format(&h, &len);
		rc = g == NULL ? safe_write(dir, id, text, len, 0600) :
		     safe_write_nosync(dir, id, text, len, 0600) < 0 ? -1 : bay_group_add(g, dir);
	} else if (rc > 0)
		rc = 0;
	free(text);
	hist_free(&h);
	close(lock);		/* the lock goes with it */
	return rc;
}

int
hist_locate(const struct config *cf, const char *id, char *bay, size_t size)
{
	struct strv bays = {0};
	char path[PATH_MAX];
	int rc = -1;

	if (!order_id_valid(id))
		return -1;
	bay_all(cf, &bays);
	for (int i = 0; i < bays.n && rc < 0; i++)
		if (bay_path(path, sizeof(path), bays.v[i], Q_DONE, id) == 0 &&
		    access(path, F_OK) == 0 && snprintf(bay, size, "%s", bays.v[i]) < (int)size)
			rc = 0;
	strv_free(&bays);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
hist_list(const char *bay, struct strv *ids)
{
	char dir[PATH_MAX];
	struct strv names = {0};

	if (bay_path(dir, sizeof(dir), bay, Q_DONE, NULL) < 0)
		return -1;
	if (bay_list_dir(dir, &names) < 0)
		return errno == ENOENT ? 0 : -1;
	qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (int i = 0; i < names.n; i++)
		if (order_id_valid(names.v[i]) && strncmp(names.v[i], ".tmp.", 5) != 0)
			strv_add(ids, names.v[i]);
	strv_free(&names);
	return 0;
}

int
bay_purge_history(const char *bay, time_t older_than)
{
	char dir[PATH_MAX];
	struct strv names = {0};
	struct stat sb;
	int n = 0, dfd;

	if (bay_path(dir, sizeof(dir), bay, Q_DONE, NULL) < 0)
		return -1;
	if (bay_list_dir(dir, &names) < 0)
		return errno == ENOENT ? 0 : -1;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		strv_free(&names);
		err_set("history: open %s: %s", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < names.n; i++)
		if (order_id_valid(names.v[i]) &&
		    fstatat(dfd, names.v[i], &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode) && sb.st_mtime < older_than &&
		    unlinkat(dfd, names.v[i], 0) == 0)
			n++;
	if (n)
		fsync(dfd);
	close(dfd);
	strv_free(&names);
	return n;
}
