/*
 * config_parse.c - the one shipping.conf parser. Every directive is a row
 * of directives[] below (name, kind, default, field or handler); defaults
 * go through the same value parsers as the file, so a default can never be
 * something the file could not say.
 *
 * Offers config_load(), config_load_buf() and config_parse_size().
 * The first bad line stops the parse: err_set("file:line: DIRECTIVE:
 * message") naming the bad value, and NULL. Never exits, never touches the
 * network or the spool; the only things read are the file, the environment
 * (CLEARCASE_MIN_PORT/MAX_PORT) and the host name.
 */
#include "config.h"
#include "../util/safefile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG_MAX_SIZE		(1024 * 1024)	/* larger is not a config */
#define NAME_MAX_LEN		64		/* node and class names */
#define MAX_EXPIRATION_DAYS	3650
#define DAY			86400

enum kind {
	K_STR,		/* one token, kept as is */
	K_NAME,		/* [A-Za-z0-9._-]+, not starting with '-' */
	K_PATH,		/* resolved against the file's directory */
	K_SIZE,		/* uint64_t bytes; k/m/g suffix, bare = KB */
	K_DUR,		/* int seconds; s/m/h/d suffix, bare = seconds */
	K_INT,		/* int in [min, max] */
};

struct parse;
struct directive;
typedef int (*handler_fn)(struct parse *, const struct directive *, char **, int);

struct directive {
	const char *name;
	enum kind kind;		/* how a single value is parsed into off */
	const char *dflt;	/* applied before the file is read; NULL: none */
	size_t off;		/* field of struct config; (size_t)-1: handler only */
	long min, max;		/* K_INT, K_DUR */
	handler_fn fn;		/* NULL: exactly one value, parsed by kind */
	const char *usage;
};

struct parse {
	struct config *cf;
	const char *file;		/* cf->path, for messages */
	char *dir;			/* absolute, symlink-free directory of the file */
	int line;			/* 0: a default, the environment, or after the file */
	int *seen;			/* line each single-value directive was set on */
	int class_line[MAX_CLASSES];	/* where each class was first named */
	int class_defined[MAX_CLASSES];	/* line of its CLASS / STORAGE-CLASS */
	int return_line[MAX_CLASSES], handler_line[MAX_CLASSES], exp_line[MAX_CLASSES];
	int routes_cap, peers_cap, allow_cap;
	char **av;			/* tokens of the current line */
	int ac, av_cap;
};

static int d_listen(struct parse *, const struct directive *, char **, int);
static int d_expiration(struct parse *, const struct directive *, char **, int);
static int d_log(struct parse *, const struct directive *, char **, int);
static int d_route(struct parse *, const struct directive *, char **, int);
static int d_peer(struct parse *, const struct directive *, char **, int);
static int d_key(struct parse *, const struct directive *, char **, int);
static int d_allow(struct parse *, const struct directive *, char **, int);
static int d_class(struct parse *, const struct directive *, char **, int);
static int d_return_bay(struct parse *, const struct directive *, char **, int);
static int d_receipt_handler(struct parse *, const struct directive *, char **, int);

#define F(field)	offsetof(struct config, field)
#define NOFIELD		((size_t)-1)

static const struct directive directives[] = {
	/* MultiSite's own */
	{"ADMINISTRATOR", K_STR, "root", F(administrator), 0, 0, NULL, "ADMINISTRATOR address"},
	{"NOTIFICATION-PROGRAM", K_PATH, NULL, F(notify_program), 0, 0, NULL, "NOTIFICATION-PROGRAM path"},
	{"ROUTE", K_STR, NULL, NOFIELD, 0, 0, d_route, "ROUTE next-hop dest... [ROUTE next-hop dest...]"},
	{"MAX-DATA-SIZE", K_SIZE, "0", F(max_data_size), 0, 0, NULL, "MAX-DATA-SIZE n[k|m|g]"},
	{"EXPIRATION", K_INT, "14", F(expiration_days), 1, MAX_EXPIRATION_DAYS, d_expiration,
	 "EXPIRATION days | EXPIRATION class days"},
	{"CLASS", K_STR, NULL, NOFIELD, 0, 0, d_class,
	 "CLASS name bay-dir [bay-dir...] [-return dir] [-expiration days] [-receipt-handler path]"},
	{"STORAGE-CLASS", K_STR, NULL, NOFIELD, 0, 0, d_class,
	 "STORAGE-CLASS name bay-dir [bay-dir...] [-return dir] [-expiration days] [-receipt-handler path]"},
	{"RETURN-BAY", K_STR, NULL, NOFIELD, 0, 0, d_return_bay, "RETURN-BAY class dir"},
	{"RECEIPT-HANDLER", K_STR, NULL, NOFIELD, 0, 0, d_receipt_handler, "RECEIPT-HANDLER class path"},
	{"CLEARCASE_MIN_PORT", K_INT, NULL, F(min_port), 1024, 65534, NULL, "CLEARCASE_MIN_PORT n"},
	{"CLEARCASE_MAX_PORT", K_INT, NULL, F(max_port), 1025, 65535, NULL, "CLEARCASE_MAX_PORT n"},
	/* shipd's */
	{"NODE", K_NAME, NULL, F(node), 0, 0, NULL, "NODE name"},
	{"LISTEN", K_STR, NULL, NOFIELD, 0, 0, d_listen, "LISTEN address [port]"},
	{"SPOOL", K_PATH, "/var/spool/shipd", F(spool), 0, 0, NULL, "SPOOL dir"},
	{"KEY-FILE", K_PATH, "shipd.key", F(key_file), 0, 0, NULL, "KEY-FILE path"},
	{"PEER", K_STR, NULL, NOFIELD, 0, 0, d_peer, "PEER name host port shipd1:KEY"},
	{"KEY", K_STR, NULL, NOFIELD, 0, 0, d_key, "KEY name shipd1:KEY"},
	{"ALLOW", K_STR, NULL, NOFIELD, 0, 0, d_allow, "ALLOW cidr..."},
	{"BAY-SIZE-LIMIT", K_SIZE, "0", F(bay_size_limit), 0, 0, NULL, "BAY-SIZE-LIMIT n[k|m|g]"},
	{"MIN-FREE-DISK", K_SIZE, "64m", F(min_free_disk), 0, 0, NULL, "MIN-FREE-DISK n[k|m|g]"},
	{"MAX-CHILDREN", K_INT, "10", F(max_children), 1, 64, NULL, "MAX-CHILDREN n"},
	{"MAX-RECEIVERS", K_INT, "10", F(max_receivers), 1, 1024, NULL, "MAX-RECEIVERS n"},
	{"RETRY-MIN", K_DUR, "60s", F(retry_min), 1, 30 * DAY, NULL, "RETRY-MIN n[s|m|h|d]"},
	{"RETRY-MAX", K_DUR, "1h", F(retry_max), 1, 30 * DAY, NULL, "RETRY-MAX n[s|m|h|d]"},
	{"IO-TIMEOUT", K_DUR, "60s", F(io_timeout), 1, DAY, NULL, "IO-TIMEOUT n[s|m|h|d]"},
	{"LOG", K_STR, "syslog", F(log_dest), 0, 0, d_log, "LOG stderr|syslog|file:PATH[,...]"},
	{"USER", K_NAME, NULL, F(spool_user), 0, 0, NULL, "USER name"},
};
#define NDIRECTIVES	((int)(sizeof(directives) / sizeof(directives[0])))

/* "file:line: message", or "file: message" outside any line. */
static int PRINTF(2, 3)
perr(struct parse *p, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		err_set("%s:%d: %s", p->file, p->line, msg);
	else
		err_set("%s: %s", p->file, msg);
	return -1;
}

/* The message a helper left in err_get(), copied before err_set reuses it. */
static const char *
err_copy(char *buf, size_t size)
{
	snprintf(buf, size, "%s", err_get());
	return buf;
}

static void *
field(struct parse *p, const struct directive *d)
{
	return (char *)p->cf + d->off;
}

/* Values ------------------------------------------------------------ */

static int
valid_name(const char *s, int dash_first_ok)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || (s[0] == '-' && !dash_first_ok))
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int
check_node_name(struct parse *p, const char *what, const char *s)
{
	if (valid_name(s, 0))
		return 0;
	return perr(p, "%s: bad node name \"%.80s\" (want 1-%d of A-Z a-z 0-9 . _ -, not starting with -)",
		    what, s, NAME_MAX_LEN);
}

/* Digits only, within [min, max]. */
static int
parse_long(const char *s, long min, long max, long *out)
{
	long long v = 0;

	if (*s == 0)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

int
config_parse_size(const char *s, int bare_is_kb, uint64_t *out)
{
	uint64_t v = 0, mult = bare_is_kb ? 1024 : 1;
	const char *c = s;

	for (; *c >= '0' && *c <= '9'; c++) {
		if (v > (UINT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (c == s)
		goto bad;
	switch (*c) {
	case 0:
		break;
	case 'k': case 'K':
		mult = 1024;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		goto bad;
	}
	if (*c && c[1] != 0)
		goto bad;
	if (v > UINT64_MAX / mult) {
		err_set("size \"%.80s\" is too large", s);
		return -1;
	}
	*out = v * mult;
	return 0;
bad:
	err_set("bad size \"%.80s\" (want a number with an optional k, m or g suffix%s)",
		s, bare_is_kb ? "; a bare number is KB" : "");
	return -1;
}

/* Seconds with an optional s/m/h/d suffix (bare = seconds), in [min, max]. */
static int
parse_duration(const char *s, long min, long max, long *out)
{
	long long v = 0, mult = 1;
	const char *c = s;

	for (; *c >= '0' && *c <= '9'; c++) {
		v = v * 10 + (*c - '0');
		if (v > max)
			return -1;
	}
	if (c == s)
		return -1;
	if (*c) {
		switch (*c) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = DAY; break;
		default: return -1;
		}
		if (c[1] != 0)
			return -1;
	}
	v *= mult;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Resolve a path from the file against the file's directory. The
 * directory is symlink-free (realpath), so leading "../" can be taken off
 * it lexically, which keeps the effective paths short and readable.
 */
static char *
resolve_path(struct parse *p, const char *what, const char *val)
{
	char base[PATH_MAX], *slash, *out;
	const char *rel = val;

	if (val[0] == '/') {
		out = xstrdup(val);
		goto tidy;
	}
	snprintf(base, sizeof(base), "%s", p->dir);
	for (;;) {
		if (strcmp(rel, ".") == 0)
			rel += 1;
		else if (strncmp(rel, "./", 2) == 0)
			rel += 2;
		else if (strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0) {
			rel += rel[2] ? 3 : 2;
			if ((slash = strrchr(base, '/')) != NULL)
				slash[slash == base] = 0;	/* "/a" -> "/", "/" stays */
		} else
			break;
		while (*rel == '/')
			rel++;
	}
	if (*rel == 0)
		out = xstrdup(base);
	else
		out = xasprintf("%s%s%s", base, strcmp(base, "/") == 0 ? "" : "/", rel);
tidy:
	for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
		out[n - 1] = 0;
	if (strlen(out) >= PATH_MAX) {
		free(out);
		perr(p, "%s: path \"%.80s...\" is too long", what, val);
		return NULL;
	}
	return out;
}

/* Store one value of directive d, parsed by its kind; checks repetition. */
static int
set_value(struct parse *p, const struct directive *d, const char *val)
{
	int idx = (int)(d - directives);
	char *s;
	uint64_t u;
	long l;

	if (p->line > 0) {
		if (p->seen[idx])
			return perr(p, "%s: already set at line %d", d->name, p->seen[idx]);
		p->seen[idx] = p->line;
	}
	switch (d->kind) {
	case K_NAME:
	case K_STR:
	case K_PATH:
		if (d->kind == K_NAME && check_node_name(p, d->name, val) < 0)
			return -1;
		if (d->kind != K_PATH)
			s = xstrdup(val);
		else if ((s = resolve_path(p, d->name, val)) == NULL)
			return -1;
		free(*(char **)field(p, d));
		*(char **)field(p, d) = s;
		return 0;
	case K_SIZE:
		if (config_parse_size(val, 1, &u) < 0) {
			char e[512];
			return perr(p, "%s: %s", d->name, err_copy(e, sizeof(e)));
		}
		*(uint64_t *)field(p, d) = u;
		return 0;
	case K_DUR:
		if (parse_duration(val, d->min, d->max, &l) < 0)
			return perr(p, "%s: bad duration \"%.80s\" (want %lds..%ldd; suffix s, m, h or d, bare = seconds)",
				    d->name, val, d->min, d->max / DAY);
		*(int *)field(p, d) = (int)l;
		return 0;
	case K_INT:
		if (parse_long(val, d->min, d->max, &l) < 0)
			return perr(p, "%s: bad number \"%.80s\" (want %ld..%ld)",
				    d->name, val, d->min, d->max);
		*(int *)field(p, d) = (int)l;
		return 0;
	}
	return perr(p, "%s: unhandled kind", d->name);
}

/* Storage classes ---------------------------------------------------- */

/* The class called name, created (remembering this line) if new. */
static int
class_get(struct parse *p, const char *what, const char *name)
{
	struct config *cf = p->cf;

	for (int i = 0; i < cf->nclasses; i++)
		if (strcmp(cf->classes[i].name, name) == 0)
			return i;
	if (!valid_name(name, 1))
		return perr(p, "%s: bad class name \"%.80s\" (want 1-%d of A-Z a-z 0-9 . _ -)",
			    what, name, NAME_MAX_LEN);
	if (cf->nclasses >= MAX_CLASSES)
		return perr(p, "%s: class \"%s\" would be class %d; at most %d storage classes",
			    what, name, MAX_CLASSES + 1, MAX_CLASSES);
	memset(&cf->classes[cf->nclasses], 0, sizeof(cf->classes[0]));
	cf->classes[cf->nclasses].name = xstrdup(name);
	p->class_line[cf->nclasses] = p->line;
	return cf->nclasses++;
}

static int
class_set_return(struct parse *p, const char *what, int ci, const char *dir)
{
	struct sclass *c = &p->cf->classes[ci];

	if (p->return_line[ci])
		return perr(p, "%s: return bay of class %s already set at line %d",
			    what, c->name, p->return_line[ci]);
	if ((c->return_bay = resolve_path(p, what, dir)) == NULL)
		return -1;
	p->return_line[ci] = p->line;
	return 0;
}

static int
class_set_handler(struct parse *p, const char *what, int ci, const char *path)
{
	struct sclass *c = &p->cf->classes[ci];

	if (p->handler_line[ci])
		return perr(p, "%s: receipt handler of class %s already set at line %d",
			    what, c->name, p->handler_line[ci]);
	if ((c->receipt_handler = resolve_path(p, what, path)) == NULL)
		return -1;
	p->handler_line[ci] = p->line;
	return 0;
}

static int
class_set_expiration(struct parse *p, const char *what, int ci, const char *days)
{
	struct sclass *c = &p->cf->classes[ci];
	long l;

	if (p->exp_line[ci])
		return perr(p, "%s: expiration of class %s already set at line %d",
			    what, c->name, p->exp_line[ci]);
	if (parse_long(days, 1, MAX_EXPIRATION_DAYS, &l) < 0)
		return perr(p, "%s: bad expiration \"%.80s\" for class %s (want 1..%d days)",
			    what, days, c->name, MAX_EXPIRATION_DAYS);
	c->expiration_days = (int)l;
	p->exp_line[ci] = p->line;
	return 0;
}

/* CLASS name bay-dir [bay-dir...] [-return dir] [-expiration days] [-receipt-handler path] */
static int
d_class(struct parse *p, const struct directive *d, char **av, int ac)
{
	struct sclass *c;
	char *bay;
	int ci;

	if (ac < 2)
		return perr(p, "%s: want a class name and at least one bay (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	c = &p->cf->classes[ci];
	if (p->class_defined[ci])
		return perr(p, "%s: class %s already defined at line %d", d->name, c->name,
			    p->class_defined[ci]);
	p->class_defined[ci] = p->line;
	for (int i = 1; i < ac; i++) {
		const char *opt = av[i];

		if (opt[0] != '-') {
			if ((bay = resolve_path(p, d->name, opt)) == NULL)
				return -1;
			if (strv_has(&c->bays, bay)) {
				free(bay);
				return perr(p, "%s: class %s lists bay %.200s twice", d->name, c->name, opt);
			}
			strv_add(&c->bays, bay);
			free(bay);
			continue;
		}
		if (i + 1 >= ac)
			return perr(p, "%s: option %.40s wants a value", d->name, opt);
		if (strcmp(opt, "-return") == 0) {
			if (class_set_return(p, d->name, ci, av[++i]) < 0)
				return -1;
		} else if (strcmp(opt, "-expiration") == 0) {
			if (class_set_expiration(p, d->name, ci, av[++i]) < 0)
				return -1;
		} else if (strcmp(opt, "-receipt-handler") == 0) {
			if (class_set_handler(p, d->name, ci, av[++i]) < 0)
				return -1;
		} else
			return perr(p, "%s: unknown option \"%.40s\" (want -return, -expiration or -receipt-handler)",
				    d->name, opt);
	}
	if (c->bays.n == 0)
		return perr(p, "%s: class %s has no storage bay (usage: %s)", d->name, c->name, d->usage);
	return 0;
}

static int
d_return_bay(struct parse *p, const struct directive *d, char **av, int ac)
{
	int ci;

	if (ac != 2)
		return perr(p, "%s: want a class and a directory (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	return class_set_return(p, d->name, ci, av[1]);
}

static int
d_receipt_handler(struct parse *p, const struct directive *d, char **av, int ac)
{
	int ci;

	if (ac != 2)
		return perr(p, "%s: want a class and a program (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	return class_set_handler(p, d->name, ci, av[1]);
}

/* EXPIRATION days (the global default) or EXPIRATION class days. */
static int
d_expiration(struct parse *p, const struct directive *d, char **av, int ac)
{
	int ci;

	if (ac == 1)
		return set_value(p, d, av[0]);
	if (ac != 2)
		return perr(p, "%s: want days, or a class and days (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	return class_set_expiration(p, d->name, ci, av[1]);
}

/* Nodes, routes, addresses -------------------------------------------- */

static int
parse_port(struct parse *p, const char *what, const char *s, int *port)
{
	long l;

	if (parse_long(s, 1, 65535, &l) < 0)
		return perr(p, "%s: bad port \"%.80s\" (want 1..65535)", what, s);
	*port = (int)l;
	return 0;
}

static int
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* An IP literal, or a DNS name: labels of letters, digits and '-'. */
static int
valid_host(const char *s)
{
	size_t n = strlen(s);

	if (is_ip_literal(s))
		return 1;
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || strstr(s, "..") != NULL)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static int
d_listen(struct parse *p, const struct directive *d, char **av, int ac)
{
	int idx = (int)(d - directives), port = DEFAULT_PORT;

	if (ac < 1 || ac > 2)
		return perr(p, "%s: want an address and an optional port (usage: %s)", d->name, d->usage);
	if (p->seen[idx])
		return perr(p, "%s: already set at line %d", d->name, p->seen[idx]);
	if (!is_ip_literal(av[0]))
		return perr(p, "%s: \"%.80s\" is not an IP address (use 0.0.0.0 or :: for all)",
			    d->name, av[0]);
	if (ac == 2 && parse_port(p, d->name, av[1], &port) < 0)
		return -1;
	p->seen[idx] = p->line;
	p->cf->listen_addr = xstrdup(av[0]);
	p->cf->listen_port = port;
	return 0;
}

/* LOG stderr|syslog|file:PATH[,...]; file paths resolved like any path. */
static int
d_log(struct parse *p, const struct directive *d, char **av, int ac)
{
	struct sbuf out = {0};
	char *copy, *tok, *save, *path;
	int rc = 0;

	if (ac != 1)
		return perr(p, "%s: want one value (usage: %s)", d->name, d->usage);
	copy = xstrdup(av[0]);
	sbuf_init(&out);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (out.len)
			sbuf_puts(&out, ",");
		if (strcmp(tok, "stderr") == 0 || strcmp(tok, "syslog") == 0)
			sbuf_puts(&out, tok);
		else if (strncmp(tok, "file:", 5) == 0 && tok[5]) {
			if ((path = resolve_path(p, d->name, tok + 5)) == NULL) {
				rc = -1;
				break;
			}
			sbuf_printf(&out, "file:%s", path);
			free(path);
		} else {
			rc = perr(p, "%s: bad destination \"%.80s\" (want stderr, syslog or file:PATH)",
				  d->name, tok);
			break;
		}
	}
	if (rc == 0 && out.len == 0)
		rc = perr(p, "%s: no destination (usage: %s)", d->name, d->usage);
	if (rc == 0)
		rc = set_value(p, d, out.s);
	free(copy);
	sbuf_free(&out);
	return rc;
}

static int
add_route(struct parse *p, const struct directive *d, char **av, int ac)
{
	struct config *cf = p->cf;
	struct route *r;

	if (ac < 2)
		return perr(p, "%s: want a next hop and at least one destination (usage: %s)",
			    d->name, d->usage);
	for (int i = 0; i < ac; i++)
		if (check_node_name(p, d->name, av[i]) < 0)
			return -1;
	if (cf->nroutes == p->routes_cap) {
		p->routes_cap = p->routes_cap ? p->routes_cap * 2 : 8;
		cf->routes = xrealloc(cf->routes, p->routes_cap * sizeof(*cf->routes));
	}
	r = &cf->routes[cf->nroutes++];
	memset(r, 0, sizeof(*r));
	r->next_hop = xstrdup(av[0]);
	for (int i = 1; i < ac; i++)
		strv_add(&r->dests, av[i]);
	r->file = cf->path;
	r->line = p->line;
	return 0;
}

/* A ROUTE token later on the same line starts another route. */
static int
d_route(struct parse *p, const struct directive *d, char **av, int ac)
{
	int start = 0;

	for (int i = 0; i <= ac; i++)
		if (i == ac || strcmp(av[i], d->name) == 0) {
			if (add_route(p, d, av + start, i - start) < 0)
				return -1;
			start = i + 1;
		}
	return 0;
}

static int
add_peer(struct parse *p, const char *what, const char *name, const char *host,
	 int port, const char *key)
{
	struct config *cf = p->cf;
	struct peer *pe;
	struct pubkey pk;

	if (check_node_name(p, what, name) < 0)
		return -1;
	for (int i = 0; i < cf->npeers; i++)
		if (strcmp(cf->peers[i].name, name) == 0)
			return perr(p, "%s: node %s already defined at line %d (%s)", what, name,
				    cf->peers[i].line, cf->peers[i].host ? "PEER" : "KEY");
	if (pubkey_parse(key, &pk) < 0) {
		char e[512];
		return perr(p, "%s %s: %s", what, name, err_copy(e, sizeof(e)));
	}
	if (cf->npeers == p->peers_cap) {
		p->peers_cap = p->peers_cap ? p->peers_cap * 2 : 8;
		cf->peers = xrealloc(cf->peers, p->peers_cap * sizeof(*cf->peers));
	}
	pe = &cf->peers[cf->npeers++];
	memset(pe, 0, sizeof(*pe));
	pe->name = xstrdup(name);
	pe->host = host ? xstrdup(host) : NULL;
	pe->port = port;
	pe->key = pk;
	pe->has_key = 1;
	pe->file = cf->path;
	pe->line = p->line;
	return 0;
}

static int
d_peer(struct parse *p, const struct directive *d, char **av, int ac)
{
	int port = 0;

	if (ac != 4)
		return perr(p, "%s: want 4 values, got %d (usage: %s)", d->name, ac, d->usage);
	if (!valid_host(av[1]))
		return perr(p, "%s %s: bad host \"%.80s\" (want an IP address or a host name)",
			    d->name, av[0], av[1]);
	if (parse_port(p, d->name, av[2], &port) < 0)
		return -1;
	return add_peer(p, d->name, av[0], av[1], port, av[3]);
}

static int
d_key(struct parse *p, const struct directive *d, char **av, int ac)
{
	if (ac != 2)
		return perr(p, "%s: want 2 values, got %d (usage: %s)", d->name, ac, d->usage);
	return add_peer(p, d->name, av[0], NULL, 0, av[1]);
}

static void
allow_add(struct parse *p, const struct cidr *c)
{
	struct config *cf = p->cf;

	if (cf->nallow == p->allow_cap) {
		p->allow_cap = p->allow_cap ? p->allow_cap * 2 : 8;
		cf->allow = xrealloc(cf->allow, p->allow_cap * sizeof(*cf->allow));
	}
	cf->allow[cf->nallow++] = *c;
}

static int
d_allow(struct parse *p, const struct directive *d, char **av, int ac)
{
	struct cidr c;
	char e[512];

	if (ac < 1)
		return perr(p, "%s: want at least one address or CIDR (usage: %s)", d->name, d->usage);
	for (int i = 0; i < ac; i++) {
		if (cidr_parse(av[i], &c) < 0)
			return perr(p, "%s: %s", d->name, err_copy(e, sizeof(e)));
		allow_add(p, &c);
	}
	return 0;
}

/* The file ----------------------------------------------------------- */

static const struct directive *
directive_find(struct parse *p, const char *name)
{
	for (int i = 0; i < NDIRECTIVES; i++)
		if (strcmp(directives[i].name, name) == 0)
			return &directives[i];
	for (int i = 0; i < NDIRECTIVES; i++)
		if (strcasecmp(directives[i].name, name) == 0) {
			perr(p, "unknown directive \"%.80s\" (directives are case-sensitive: %s)",
			     name, directives[i].name);
			return NULL;
		}
	perr(p, "unknown directive \"%.80s\"", name);
	return NULL;
}

static void
av_push(struct parse *p, char *tok)
{
	if (p->ac + 2 > p->av_cap) {
		p->av_cap = p->av_cap ? p->av_cap * 2 : 16;
		p->av = xrealloc(p->av, p->av_cap * sizeof(char *));
	}
	p->av[p->ac++] = tok;
	p->av[p->ac] = NULL;
}

/* Split a line at blanks; a token starting with '#' starts a comment. */
static int
tokenize(struct parse *p, char *s)
{
	static const char blanks[] = " \t\r\f\v";

	p->ac = 0;
	for (;;) {
		s += strspn(s, blanks);
		if (*s == 0 || *s == '#')
			return 0;
		av_push(p, s);
		s += strcspn(s, blanks);
		if (*s)
			*s++ = 0;
		for (char *c = p->av[p->ac - 1]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return perr(p, "control character 0x%02x in \"%.40s\"",
					    (unsigned char)*c, p->av[0]);
	}
}

static int
parse_line(struct parse *p, char *line)
{
	const struct directive *d;
	char **av, *eq;
	int ac;

	if (tokenize(p, line) < 0)
		return -1;
	if (p->ac == 0)
		return 0;
	/* NAME=value (the shell form of the port variables) is NAME value. */
	if ((eq = strchr(p->av[0], '=')) != NULL && eq != p->av[0]) {
		*eq++ = 0;
		if (*eq) {
			av_push(p, NULL);
			memmove(p->av + 2, p->av + 1, (p->ac - 2) * sizeof(char *));
			p->av[1] = eq;
		}
	} else if (p->ac >= 2 && strcmp(p->av[1], "=") == 0) {
		memmove(p->av + 1, p->av + 2, (p->ac - 1) * sizeof(char *));
		p->ac--;
	}
	if ((d = directive_find(p, p->av[0])) == NULL)
		return -1;
	av = p->av + 1;
	ac = p->ac - 1;
	if (d->fn)
		return d->fn(p, d, av, ac);
	if (ac != 1)
		return perr(p, "%s: want one value, got %d (usage: %s)", d->name, ac, d->usage);
	return set_value(p, d, av[0]);
}

static int
apply_defaults(struct parse *p)
{
	struct config *cf = p->cf;

	cf->classes[0].name = xstrdup(DEFAULT_CLASS);
	cf->nclasses = 1;
	for (int i = 0; i < NDIRECTIVES; i++)
		if (directives[i].dflt && set_value(p, &directives[i], directives[i].dflt) < 0)
			return -1;
	return 0;
}

/* CLEARCASE_MIN_PORT / MAX_PORT from the environment win over the file. */
static int
ports_from_env(struct parse *p, const char *name, int *field_, int *from_env)
{
	const struct directive *d = NULL;
	const char *v = getenv(name);
	long l;

	if (v == NULL || *v == 0)
		return 0;
	for (int i = 0; i < NDIRECTIVES; i++)
		if (strcmp(directives[i].name, name) == 0)
			d = &directives[i];
	if (parse_long(v, d->min, d->max, &l) < 0) {
		err_set("environment variable %s=\"%.80s\": bad port (want %ld..%ld)",
			name, v, d->min, d->max);
		return -1;
	}
	*field_ = (int)l;
	*from_env = 1;
	return 0;
}

/* Where a port setting came from, for messages. */
static void
port_origin(struct parse *p, char *buf, size_t size, const char *name, int env, int line)
{
	if (env)
		snprintf(buf, size, "%s (environment)", name);
	else
		snprintf(buf, size, "%s:%d: %s", p->file, line, name);
}

static int
check_ports(struct parse *p)
{
	struct config *cf = p->cf;
	int min_env = 0, max_env = 0, min_line = 0, max_line = 0;
	char a[PATH_MAX + 64], b[PATH_MAX + 64];

	for (int i = 0; i < NDIRECTIVES; i++) {
		if (directives[i].off == F(min_port))
			min_line = p->seen[i];
		if (directives[i].off == F(max_port))
			max_line = p->seen[i];
	}
	if (ports_from_env(p, "CLEARCASE_MIN_PORT", &cf->min_port, &min_env) < 0 ||
	    ports_from_env(p, "CLEARCASE_MAX_PORT", &cf->max_port, &max_env) < 0)
		return -1;
	port_origin(p, a, sizeof(a), "CLEARCASE_MIN_PORT", min_env, min_line);
	port_origin(p, b, sizeof(b), "CLEARCASE_MAX_PORT", max_env, max_line);
	if (cf->min_port && !cf->max_port) {
		err_set("%s: set without CLEARCASE_MAX_PORT (set both or neither)", a);
		return -1;
	}
	if (cf->max_port && !cf->min_port) {
		err_set("%s: set without CLEARCASE_MIN_PORT (set both or neither)", b);
		return -1;
	}
	if (cf->min_port && cf->max_port <= cf->min_port) {
		err_set("%s: %d is not greater than CLEARCASE_MIN_PORT %d", b, cf->max_port,
			cf->min_port);
		return -1;
	}
	return 0;
}

/* Everything that depends on the whole file. */
static int
finish(struct parse *p)
{
	struct config *cf = p->cf;
	struct cidr c;
	char host[256];
	int rmin = 0, rmax = 0;

	p->line = 0;
	if (cf->node == NULL) {
		if (gethostname(host, sizeof(host)) < 0)
			return perr(p, "no NODE and cannot get the host name: %s", strerror(errno));
		host[sizeof(host) - 1] = 0;
		if (!valid_name(host, 0))
			return perr(p, "no NODE, and the host name \"%.80s\" is not a valid node name; set NODE",
				    host);
		cf->node = xstrdup(host);
	}
	if (cf->max_data_size == 0)
		cf->max_data_size = DEFAULT_MAX_DATA_KB * 1024;
	for (int i = 0; i < NDIRECTIVES; i++) {
		if (directives[i].off == F(retry_min))
			rmin = p->seen[i];
		if (directives[i].off == F(retry_max))
			rmax = p->seen[i];
	}
	if (cf->retry_max < cf->retry_min) {
		p->line = rmax > rmin ? rmax : rmin;
		return perr(p, "%s: RETRY-MAX %ds is below RETRY-MIN %ds",
			    rmax > rmin ? "RETRY-MAX" : "RETRY-MIN", cf->retry_max, cf->retry_min);
	}
	for (int i = 0; i < cf->nclasses; i++) {
		struct sclass *cl = &cf->classes[i];

		p->line = p->class_line[i];
		if (cl->bays.n == 0) {
			if (i > 0)
				return perr(p, "class %s has no storage bay (add: CLASS %s bay-dir)",
					    cl->name, cl->name);
			char *bay = xasprintf("%s/ms_ship", cf->spool);
			strv_add(&cl->bays, bay);
			free(bay);
		}
		if (cl->return_bay == NULL)
			cl->return_bay = i == 0 ? xasprintf("%s/ms_rtn", cf->spool)
						: xstrdup(cl->bays.v[0]);
		if (cl->expiration_days == 0)
			cl->expiration_days = cf->expiration_days;
	}
	p->line = 0;
	if (check_ports(p) < 0)
		return -1;
	/* A PEER's own literal address may always connect. */
	for (int i = 0; i < cf->npeers; i++)
		if (cf->peers[i].host && is_ip_literal(cf->peers[i].host) &&
		    cidr_parse(cf->peers[i].host, &c) == 0)
			allow_add(p, &c);
	return 0;
}

/* The directory of path, absolute and without symlinks. */
static char *
file_dir(const char *path)
{
	char *copy = xstrdup(path), *slash, *dir;

	if ((slash = strrchr(copy, '/')) == NULL)
		strcpy(copy, ".");
	else if (slash == copy)
		slash[1] = 0;
	else
		*slash = 0;
	dir = realpath(copy, NULL);
	if (dir == NULL)
		err_set("%s: cannot resolve directory %s: %s", path, copy, strerror(errno));
	free(copy);
	return dir;
}

/* buf is the file's text, NUL-terminated at len, and is cut up in place. */
static struct config *
parse_text(const char *path, char *buf, size_t len)
{
	struct parse p;
	struct config *cf = xcalloc(1, sizeof(*cf));
	char *line, *end, *nl;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	cf->path = xstrdup(path);
	p.cf = cf;
	p.file = cf->path;
	p.seen = xcalloc(NDIRECTIVES, sizeof(int));
	if ((p.dir = file_dir(path)) == NULL)
		goto out;
	if (apply_defaults(&p) < 0)
		goto out;
	end = buf + len;
	for (line = buf; line < end; line = nl + 1) {
		p.line++;
		if ((nl = memchr(line, '\n', end - line)) == NULL)
			nl = end;
		*nl = 0;
		if (strlen(line) != (size_t)(nl - line)) {
			perr(&p, "NUL byte in the line: not a text file");
			goto out;
		}
		if (parse_line(&p, line) < 0)
			goto out;
	}
	rc = finish(&p);
out:
	free(p.seen);
	free(p.av);
	free(p.dir);
	if (rc < 0) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

struct config *
config_load_buf(const char *path, const char *text, size_t len)
{
	char *buf;
	struct config *cf;

	if (len > CONFIG_MAX_SIZE) {
		err_set("%s: larger than %d bytes: not a configuration", path, CONFIG_MAX_SIZE);
		return NULL;
	}
	buf = xmalloc(len + 1);
	memcpy(buf, text, len);
	buf[len] = 0;
	cf = parse_text(path, buf, len);
	free(buf);
	return cf;
}

struct config *
config_load(const char *path)
{
	struct config *cf;
	size_t len;
	char *buf;

	if ((buf = read_file(path, CONFIG_MAX_SIZE, &len)) == NULL)
		return NULL;
	cf = parse_text(path, buf, len);
	free(buf);
	return cf;
}
