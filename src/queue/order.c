/*
 * order.c - the shipping order file: parse, format, load, save (order.h).
 *
 * Format: one "key: value" per line, "version: 1" first, "end" last, with
 * nothing after it. Scalar keys appear at most once; dest, delivered and
 * hop repeat. Times are integer Unix seconds. Names (id, group, origin,
 * class, dest, delivered, hop) are [A-Za-z0-9._-]+ and are written as is.
 *
 * notify is an address (util/mailaddr.h's grammar, checked here: an order
 * that names an option or a shell word is malformed) written as is.
 * Free text (comment, name, source, last-error, return-reason) is
 * escaped so it can never inject a line or a control character: backslash
 * as "\\", newline "\n", carriage return "\r", tab "\t", any other byte
 * below 0x20 and DEL as "\xHH". Bytes >= 0x80 (UTF-8) pass as they are.
 * The parser undoes exactly that, so format/parse round-trip exactly; a raw
 * control character anywhere in the file, or an unknown escape, is an
 * error. The value is everything after ": " (leading and trailing blanks
 * kept), so nothing is trimmed or guessed.
 *
 * This file never touches bay state directories except through order_save
 * and order_write_tmp (the commit verbs of commit.c call them), and never
 * exits on bad input.
 */
#include "order.h"
#include "../crypto/crypto.h"
#include "../util/decimal.h"
#include "../util/log.h"
#include "../util/mailaddr.h"
#include "../util/safefile.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PART_MAX	1000000		/* more parts than this is not a real order */

void
order_init(struct order *o)
{
	memset(o, 0, sizeof(*o));
	o->part = o->nparts = 1;
}

void
order_free(struct order *o)
{
	free(o->origin);
	free(o->sclass);
	strv_free(&o->dests);
	strv_free(&o->delivered);
	strv_free(&o->hops);
	free(o->notify);
	free(o->comment);
	free(o->name);
	free(o->last_error);
	free(o->group);
	free(o->return_reason);
	free(o->source);
	free(o->submitter);
	strv_free(&o->exported);
	order_init(o);
}

/* Names: [A-Za-z0-9._-]+, bounded. Ids also may not start with '.' (so
 * they never collide with safe_write temporaries or "." and "..") and may
 * not end in ".why" (corrupt/ID.why holds the reason). */
static int
name_valid(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++) {
		unsigned char c = s[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
		if (n >= max)
			return 0;
	}
	return n > 0;
}

int
order_id_valid(const char *id)
{
	size_t n;

	if (id == NULL || !name_valid(id, ORDER_ID_MAX - 1) || id[0] == '.')
		return 0;
	n = strlen(id);
	return !(n >= 4 && strcmp(id + n - 4, ".why") == 0);
}

int
order_name_valid(const char *name)
{
	return name != NULL && name_valid(name, 255);
}

void
order_new_id(char *buf, size_t size, const char *node)
{
	uint8_t rnd[4];
	char hex[9];
	struct tm tm;
	time_t now = time(NULL);

	crypto_random(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), hex);
	gmtime_r(&now, &tm);
	/* the node part is capped at 64 so parts' ".pNofM" suffixes still fit */
	snprintf(buf, size, "%04d%02d%02dT%02d%02d%02dZ-%.64s-%s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, node, hex);
}

/* ---- escaping of free text ---- */

static void
put_escaped(struct sbuf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\\':
			sbuf_puts(b, "\\\\");
			break;
		case '\n':
			sbuf_puts(b, "\\n");
			break;
		case '\r':
			sbuf_puts(b, "\\r");
			break;
		case '\t':
			sbuf_puts(b, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				sbuf_printf(b, "\\x%02x", *p);
			else
				sbuf_add(b, p, 1);
		}
	}
}

/* Undo put_escaped; NULL with err_set on a bad escape (or an escaped NUL). */
static char *
unescape(const char *s, size_t len, int line)
{
	char *out = xmalloc(len + 1), *q = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			*q++ = s[i];
			continue;
		}
		if (++i >= len) {
			err_set("line %d: backslash at end of value", line);
			free(out);
			return NULL;
		}
		switch (s[i]) {
		case '\\':
			*q++ = '\\';
			break;
		case 'n':
			*q++ = '\n';
			break;
		case 'r':
			*q++ = '\r';
			break;
		case 't':
			*q++ = '\t';
			break;
		case 'x': {
			int hi = i + 1 < len ? hex_value((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_value((unsigned char)s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				err_set("line %d: bad \\x escape", line);
				free(out);
				return NULL;
			}
			*q++ = (char)(hi << 4 | lo);
			i += 2;
			break;
		}
		default:
			err_set("line %d: unknown escape \\%c", line, s[i]);
			free(out);
			return NULL;
		}
	}
	*q = 0;
	return out;
}

/* ---- the key table ---- */

enum ktype { K_VERSION, K_ID, K_NAME, K_LIST, K_TEXT, K_ADDR, K_TIME, K_INT, K_SIZE,
	     K_DIGEST, K_PART, K_BOOL, K_EXPORT };

enum kfield { F_VERSION, F_ID, F_GROUP, F_PART, F_ORIGIN, F_CLASS, F_DEST,
	      F_DELIVERED, F_HOP, F_CREATED, F_EXPIRES, F_SIZE, F_DIGEST, F_NAME,
	      F_SOURCE, F_KEEP, F_NOTIFY, F_COMMENT, F_ATTEMPTS, F_NEXT,
	      F_LASTERR, F_RETURNING, F_RETREASON, F_SUBMITTER, F_EXPORTED, F_NFIELDS };

static const struct key {
	const char *name;
	enum kfield field;
	enum ktype type;
	int required;
} keys[] = {
	{"version", F_VERSION, K_VERSION, 1},
	{"id", F_ID, K_ID, 1},
	{"group", F_GROUP, K_ID, 0},
	{"part", F_PART, K_PART, 1},
	{"origin", F_ORIGIN, K_NAME, 1},
	{"class", F_CLASS, K_NAME, 1},
	{"dest", F_DEST, K_LIST, 0},
	{"delivered", F_DELIVERED, K_LIST, 0},
	{"hop", F_HOP, K_LIST, 0},
	{"created", F_CREATED, K_TIME, 1},
	{"expires", F_EXPIRES, K_TIME, 1},
	{"size", F_SIZE, K_SIZE, 1},
	{"digest", F_DIGEST, K_DIGEST, 1},
	{"name", F_NAME, K_TEXT, 0},
	{"source", F_SOURCE, K_TEXT, 0},
	{"keep-data", F_KEEP, K_BOOL, 0},
	{"notify", F_NOTIFY, K_ADDR, 0},
	{"comment", F_COMMENT, K_TEXT, 0},
	{"attempts", F_ATTEMPTS, K_INT, 0},
	{"next-attempt", F_NEXT, K_TIME, 0},
	{"last-error", F_LASTERR, K_TEXT, 0},
	{"returning", F_RETURNING, K_BOOL, 0},
	{"return-reason", F_RETREASON, K_TEXT, 0},
	{"submitter", F_SUBMITTER, K_TEXT, 0},
	{"exported", F_EXPORTED, K_EXPORT, 0},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *
key_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

static char **
text_slot(struct order *o, enum kfield f)
{
	switch (f) {
	case F_NAME: return &o->name;
	case F_SOURCE: return &o->source;
	case F_NOTIFY: return &o->notify;
	case F_COMMENT: return &o->comment;
	case F_LASTERR: return &o->last_error;
	case F_RETREASON: return &o->return_reason;
	case F_SUBMITTER: return &o->submitter;
	case F_ORIGIN: return &o->origin;
	case F_CLASS: return &o->sclass;
	case F_GROUP: return &o->group;
	default: return NULL;
	}
}

static struct strv *
list_slot(struct order *o, enum kfield f)
{
	return f == F_DEST ? &o->dests : f == F_DELIVERED ? &o->delivered : &o->hops;
}

/* One "key: value" line (val NUL-terminated, no control characters). */
static int
parse_field(struct order *o, const struct key *k, const char *val, size_t vlen, int line)
{
	uint64_t u;
	char **slot;

	switch (k->type) {
	case K_VERSION:
		if (decimal_parse(val, INT_MAX, &u) < 0) {
			err_set("line %d: bad version \"%s\"", line, val);
			return -1;
		}
		if (u != ORDER_VERSION) {
			err_set("line %d: version %llu, this shipd reads version %d", line,
				(unsigned long long)u, ORDER_VERSION);
			return -1;
		}
		return 0;
	case K_ID:
		if (!order_id_valid(val)) {
			err_set("line %d: bad %s \"%.64s\"", line, k->name, val);
			return -1;
		}
		if (k->field == F_ID)
			memcpy(o->id, val, vlen + 1);
		else
			o->group = xstrdup(val);
		return 0;
	case K_NAME:
		if (!name_valid(val, 255)) {
			err_set("line %d: bad %s name \"%.64s\"", line, k->name, val);
			return -1;
		}
		slot = text_slot(o, k->field);
		*slot = xstrdup(val);
		return 0;
	case K_LIST: {
		struct strv *l = list_slot(o, k->field);

		if (!name_valid(val, 255)) {
			err_set("line %d: bad %s name \"%.64s\"", line, k->name, val);
			return -1;
		}
		if (k->field != F_HOP && strv_has(l, val)) {	/* a path may revisit, a set may not */
			err_set("line %d: duplicate %s \"%s\"", line, k->name, val);
			return -1;
		}
		if (l->n >= 4096) {
			err_set("line %d: too many %s lines", line, k->name);
			return -1;
		}
		strv_add(l, val);
		return 0;
	}
	case K_TEXT:
		slot = text_slot(o, k->field);
		if ((*slot = unescape(val, vlen, line)) == NULL)
			return -1;
		return 0;
	case K_ADDR: {
		const char *why = mailaddr_bad(val);

		if (why) {
			err_set("line %d: bad %s address \"%.64s\": %s", line, k->name, val, why);
			return -1;
		}
		slot = text_slot(o, k->field);
		*slot = xstrdup(val);
		return 0;
	}
	case K_TIME:
		if (decimal_parse(val, INT64_MAX, &u) < 0) {
			err_set("line %d: bad %s time \"%.32s\" (want Unix seconds)", line, k->name, val);
			return -1;
		}
		if (k->field == F_CREATED)
			o->created = (time_t)u;
		else if (k->field == F_EXPIRES)
			o->expires = (time_t)u;
		else
			o->next_attempt = (time_t)u;
		return 0;
	case K_INT:
		if (decimal_parse(val, INT_MAX, &u) < 0) {
			err_set("line %d: bad %s \"%.32s\"", line, k->name, val);
			return -1;
		}
		o->attempts = (int)u;
		return 0;
	case K_SIZE:
		if (decimal_parse(val, UINT64_MAX, &u) < 0) {
			err_set("line %d: bad size \"%.32s\"", line, val);
			return -1;
		}
		o->size = u;
		return 0;
	case K_DIGEST:
		if (vlen != 64 || strspn(val, "0123456789abcdef") != 64) {
			err_set("line %d: bad digest (want 64 lowercase hex digits)", line);
			return -1;
		}
		memcpy(o->digest, val, 65);
		return 0;
	case K_PART: {
		const char *slash = strchr(val, '/');
		char num[16];
		uint64_t n, m;

		if (slash == NULL || (size_t)(slash - val) >= sizeof(num))
			goto badpart;
		memcpy(num, val, slash - val);
		num[slash - val] = 0;
		if (decimal_parse(num, PART_MAX, &n) < 0 || decimal_parse(slash + 1, PART_MAX, &m) < 0 ||
		    n < 1 || n > m)
			goto badpart;
		o->part = (int)n;
		o->nparts = (int)m;
		return 0;
badpart:
		err_set("line %d: bad part \"%.32s\" (want N/M, 1 <= N <= M)", line, val);
		return -1;
	}
	case K_EXPORT: {
		char dest[256], hop[256];
		const char *sp = strchr(val, ' ');
		time_t when;

		if (sp == NULL || (size_t)(sp - val) >= sizeof(dest) ||
		    strchr(sp + 1, ' ') != strrchr(val, ' ') ||
		    order_export_parse(sp + 1, hop, sizeof(hop), &when) < 0)
			goto badexport;
		memcpy(dest, val, sp - val);
		dest[sp - val] = 0;
		if (!name_valid(dest, 255))
			goto badexport;
		if (order_exported(o, dest)) {
			err_set("line %d: duplicate exported \"%s\"", line, dest);
			return -1;
		}
		strv_add(&o->exported, val);
		return 0;
badexport:
		err_set("line %d: bad exported \"%.64s\" (want DEST NEXTHOP TIME)", line, val);
		return -1;
	}
	case K_BOOL:
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
			err_set("line %d: bad %s \"%.32s\" (want 0 or 1)", line, k->name, val);
			return -1;
		}
		if (k->field == F_KEEP)
			o->keep_data = val[0] == '1';
		else
			o->returning = val[0] == '1';
		return 0;
	}
	err_set("line %d: internal error: key type %d", line, (int)k->type);
	return -1;
}

int
record_walk(const char *buf, size_t len, record_line_fn fn, void *arg)
{
	const char *p = buf, *end = buf + len;
	int line = 0, ended = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *eol = nl ? nl : end;
		size_t llen = eol - p;

		line++;
		if (ended) {
			err_set("line %d: data after \"end\"", line);
			return -1;
		}
		for (size_t i = 0; i < llen; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
				err_set("line %d: control character 0x%02x", line, (unsigned char)p[i]);
				return -1;
			}
		if (llen == 3 && memcmp(p, "end", 3) == 0)
			ended = 1;
		else if (fn(arg, line, p, llen) < 0)
			return -1;
		p = nl ? nl + 1 : end;
	}
	if (line > 0 && !ended) {
		err_set("line %d: missing \"end\" (truncated?)", line);
		return -1;
	}
	return line;
}

struct order_parse {
	struct order *o;
	unsigned char seen[F_NFIELDS];
};

static int
order_line(void *arg, int line, const char *p, size_t llen)
{
	struct order_parse *x = arg;
	const char *eol = p + llen, *colon = memchr(p, ':', llen);
	const struct key *k;
	size_t klen;
	char *val;
	int rc;

	if (colon == NULL) {
		err_set(llen ? "line %d: not \"key: value\"" : "line %d: empty line", line);
		return -1;
	}
	klen = colon - p;
	if ((k = key_find(p, klen)) == NULL) {
		err_set("line %d: unknown key \"%.*s\"", line, (int)(klen > 40 ? 40 : klen), p);
		return -1;
	}
	if (line == 1 && k->field != F_VERSION) {
		err_set("line 1: \"version\" must come first");
		return -1;
	}
	if (k->type != K_LIST && k->type != K_EXPORT && x->seen[k->field]) {
		err_set("line %d: repeated key \"%s\"", line, k->name);
		return -1;
	}
	x->seen[k->field] = 1;
	if (colon + 1 < eol && colon[1] != ' ') {
		err_set("line %d: want \"%s: value\"", line, k->name);
		return -1;
	}
	{
		const char *v = colon + 1 < eol ? colon + 2 : eol;
		size_t vlen = eol - v;

		val = xstrndup(v, vlen);
		rc = parse_field(x->o, k, val, vlen, line);
		free(val);
	}
	return rc;
}

int
order_parse(const char *buf, size_t len, struct order *o)
{
	struct order_parse x = {o, {0}};
	int lines;

	order_init(o);
	if (len > ORDER_MAX_SIZE) {
		err_set("order larger than %d bytes", ORDER_MAX_SIZE);
		return -1;
	}
	if ((lines = record_walk(buf, len, order_line, &x)) < 0)
		goto bad;
	if (lines == 0) {
		err_set("empty order");
		goto bad;
	}
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].required && !x.seen[keys[i].field]) {
			err_set("line %d: missing required key \"%s\"", lines, keys[i].name);
			goto bad;
		}
	return 0;
bad:
	order_free(o);
	return -1;
}

static void
put_text(struct sbuf *b, const char *key, const char *val)
{
	if (val == NULL)
		return;
	sbuf_printf(b, "%s: ", key);
	put_escaped(b, val);
	sbuf_puts(b, "\n");
}

char *
order_format(const struct order *o, size_t *len)
{
	struct sbuf b;

	sbuf_init(&b);
	sbuf_printf(&b, "version: %d\n", ORDER_VERSION);
	sbuf_printf(&b, "id: %s\n", o->id);
	if (o->group)
		sbuf_printf(&b, "group: %s\n", o->group);
	sbuf_printf(&b, "part: %d/%d\n", o->part, o->nparts);
	sbuf_printf(&b, "origin: %s\n", o->origin ? o->origin : "");
	sbuf_printf(&b, "class: %s\n", o->sclass ? o->sclass : "");
	for (int i = 0; i < o->dests.n; i++)
		sbuf_printf(&b, "dest: %s\n", o->dests.v[i]);
	for (int i = 0; i < o->delivered.n; i++)
		sbuf_printf(&b, "delivered: %s\n", o->delivered.v[i]);
	for (int i = 0; i < o->hops.n; i++)
		sbuf_printf(&b, "hop: %s\n", o->hops.v[i]);
	sbuf_printf(&b, "created: %lld\n", (long long)o->created);
	sbuf_printf(&b, "expires: %lld\n", (long long)o->expires);
	sbuf_printf(&b, "size: %llu\n", (unsigned long long)o->size);
	sbuf_printf(&b, "digest: %s\n", o->digest);
	put_text(&b, "name", o->name);
	put_text(&b, "source", o->source);
	if (o->keep_data)
		sbuf_puts(&b, "keep-data: 1\n");
	put_text(&b, "notify", o->notify);
	put_text(&b, "comment", o->comment);
	if (o->attempts)
		sbuf_printf(&b, "attempts: %d\n", o->attempts);
	if (o->next_attempt)
		sbuf_printf(&b, "next-attempt: %lld\n", (long long)o->next_attempt);
	put_text(&b, "last-error", o->last_error);
	if (o->returning)
		sbuf_puts(&b, "returning: 1\n");
	put_text(&b, "return-reason", o->return_reason);
	put_text(&b, "submitter", o->submitter);
	for (int i = 0; i < o->exported.n; i++)
		sbuf_printf(&b, "exported: %s\n", o->exported.v[i]);
	sbuf_puts(&b, "end\n");
	if (len)
		*len = b.len;
	return b.s;
}

const char *
order_exported(const struct order *o, const char *dest)
{
	size_t n = strlen(dest);

	for (int i = 0; i < o->exported.n; i++)
		if (strncmp(o->exported.v[i], dest, n) == 0 && o->exported.v[i][n] == ' ')
			return o->exported.v[i];
	return NULL;
}

/* "NEXTHOP TIME" (or a whole "DEST NEXTHOP TIME" line: the last two). */
int
order_export_parse(const char *line, char *hop, size_t hopsz, time_t *when)
{
	const char *t = strrchr(line, ' '), *h;
	uint64_t u;

	if (t == NULL || decimal_parse(t + 1, INT64_MAX, &u) < 0)
		return -1;
	for (h = t; h > line && h[-1] != ' '; h--)
		;
	if ((size_t)(t - h) >= hopsz || t == h)
		return -1;
	memcpy(hop, h, t - h);
	hop[t - h] = 0;
	if (!name_valid(hop, 255))
		return -1;
	*when = (time_t)u;
	return 0;
}

int
order_load(const char *path, struct order *o)
{
	size_t len;
	char *buf = read_file(path, ORDER_MAX_SIZE, &len);
	int rc;

	if (buf == NULL) {
		order_init(o);
		return -1;
	}
	rc = order_parse(buf, len, o);
	free(buf);
	if (rc < 0) {
		char why[900];

		snprintf(why, sizeof(why), "%s", err_get());
		err_set("%s: %s", path, why);
	}
	return rc;
}

int
order_write_tmp(const char *dir, const struct order *o, time_t mtime, char *tmp, size_t tmpsz)
{
	struct timespec ts[2];
	size_t len;
	char *buf;
	int fd;

	if (!order_id_valid(o->id)) {
		err_set("order_save: bad id \"%.64s\"", o->id);
		return -1;
	}
	if ((fd = safe_create(dir, tmp, tmpsz, 0600)) < 0)
		return -1;
	buf = order_format(o, &len);
	if (write_all(fd, buf, len) < 0) {
		err_set("write %s: %s", tmp, strerror(errno));
		free(buf);
		safe_abort(fd, tmp);
		return -1;
	}
	free(buf);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = mtime;
	ts[1].tv_nsec = 0;
	if (mtime && futimens(fd, ts) < 0) {
		err_set("futimens %s: %s", tmp, strerror(errno));
		safe_abort(fd, tmp);
		return -1;
	}
	return safe_finish(fd, tmp);
}

int
order_save(const char *dir, const struct order *o)
{
	char tmp[PATH_MAX], path[PATH_MAX];

	if (order_write_tmp(dir, o, 0, tmp, sizeof(tmp)) < 0)
		return -1;
	if (path_fmt(path, sizeof(path), "%s/%s", dir, o->id) < 0 ||
	    safe_rename_nosync(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return fsync_dir(dir);
}

int
order_expired(const struct order *o, time_t now)
{
	return o->expires > 0 && now >= o->expires;
}

/* Length of id without a trailing ".ret" and ".rN" (N digits). */
static size_t
packet_id_len(const char *id, int *gen)
{
	size_t n = strlen(id);

	*gen = 0;
	if (n > 4 && strcmp(id + n - 4, ".ret") == 0)
		n -= 4;
	for (size_t k = n; k > 0; k--) {
		if (id[k - 1] >= '0' && id[k - 1] <= '9')
			continue;
		if (k >= 3 && k < n && id[k - 1] == 'r' && id[k - 2] == '.') {
			*gen = atoi(id + k);
			n = k - 2;
		}
		break;
	}
	return n;
}

int
order_packet_id(const char *id, char *out, size_t size)
{
	int gen;
	size_t n = packet_id_len(id, &gen);

	if (n + 1 > size)
		return -1;
	memcpy(out, id, n);
	out[n] = 0;
	return 0;
}

int
order_part_of(const char *id, char *group, size_t gsize, int *n, int *m)
{
	char pid[ORDER_ID_MAX];
	const char *p;
	int end = 0;

	if (order_packet_id(id, pid, sizeof(pid)) < 0 || (p = strrchr(pid, '.')) == NULL ||
	    sscanf(p, ".p%dof%d%n", n, m, &end) != 2 || p[end] != 0 || *m < 2 || *n < 1 ||
	    *n > *m || (size_t)(p - pid) + 1 > gsize)
		return -1;
	memcpy(group, pid, p - pid);
	group[p - pid] = 0;
	return 0;
}

int
order_id_resubmit(const char *id, char *out, size_t size)
{
	int gen, w;
	size_t n = packet_id_len(id, &gen);

	w = snprintf(out, size, "%.*s.r%d", (int)n, id, gen + 1);
	return w < 0 || (size_t)w >= size ? -1 : 0;
}

/* The free-text escaping of orders, for other small versioned files
 * (shipctl's mkorder order files): see the top of this file. */
void
order_text_escape(struct sbuf *b, const char *s)
{
	put_escaped(b, s);
}

char *
order_text_unescape(const char *s, size_t len)
{
	return unescape(s, len, 0);
}
