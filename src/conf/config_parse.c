/*
 * config_parse.c - the one shipping.conf parser. Every directive is a row
 * of directives[] below (name, kind, default, field or handler); defaults
 * go through the same value parsers as the file, so a default can never be
 * something the file could not say.
 *
 * Offers config_load(), config_load_buf() and config_parse_size(); the
 * handlers of directives with several values are in config_directives.c,
 * sharing config_int.h. The first bad line stops the parse: err_set("file:line: DIRECTIVE:
 * message") naming the bad value, and NULL. Never exits, never touches the
 * network or the spool; the only things read are the file, the environment
 * (CLEARCASE_MIN_PORT/MAX_PORT) and the host name.
 */
#include "config_int.h"
#include "../util/mailaddr.h"
#include "../util/safefile.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define F(field)	offsetof(struct config, field)
#define NOFIELD		((size_t)-1)

static const struct directive directives[] = {
	/* MultiSite's own */
	{"ADMINISTRATOR", K_STR, "root", F(administrator), 0, 0, NULL, "ADMINISTRATOR address"},
	{"NOTIFICATION-PROGRAM", K_PATH, NULL, F(notify_program), 0, 0, NULL, "NOTIFICATION-PROGRAM path"},
	{"ROUTE", K_STR, NULL, NOFIELD, 0, 0, cfd_route, "ROUTE next-hop dest... [ROUTE next-hop dest...]"},
	{"MAX-DATA-SIZE", K_SIZE, "0", F(max_data_size), 0, 0, NULL, "MAX-DATA-SIZE n[k|m|g]"},
	{"EXPIRATION", K_INT, "14", F(expiration_days), 1, MAX_EXPIRATION_DAYS, cfd_expiration,
	 "EXPIRATION days | EXPIRATION class days"},
	{"CLASS", K_STR, NULL, NOFIELD, 0, 0, cfd_class,
	 "CLASS name bay-dir [bay-dir...] [-return dir] [-expiration days] [-receipt-handler path]"},
	{"STORAGE-CLASS", K_STR, NULL, NOFIELD, 0, 0, cfd_class,
	 "STORAGE-CLASS name bay-dir [bay-dir...] [-return dir] [-expiration days] [-receipt-handler path]"},
	{"RETURN-BAY", K_STR, NULL, NOFIELD, 0, 0, cfd_return_bay, "RETURN-BAY class dir"},
	{"RECEIPT-HANDLER", K_STR, NULL, NOFIELD, 0, 0, cfd_receipt_handler, "RECEIPT-HANDLER class path"},
	{"DELIVER-MODE", K_MODE, "0640", F(deliver_mode), 0, 0, cfd_deliver_mode,
	 "DELIVER-MODE mode | DELIVER-MODE class mode"},
	{"CLEARCASE_MIN_PORT", K_INT, NULL, F(min_port), 1024, 65534, NULL, "CLEARCASE_MIN_PORT n"},
	{"CLEARCASE_MAX_PORT", K_INT, NULL, F(max_port), 1025, 65535, NULL, "CLEARCASE_MAX_PORT n"},
	/* shipd's */
	{"NODE", K_NAME, NULL, F(node), 0, 0, NULL, "NODE name"},
	{"LISTEN", K_STR, NULL, NOFIELD, 0, 0, cfd_listen, "LISTEN address [port]"},
	{"SPOOL", K_PATH, "/var/spool/shipd", F(spool), 0, 0, NULL, "SPOOL dir"},
	{"KEY-FILE", K_PATH, "shipd.key", F(key_file), 0, 0, NULL, "KEY-FILE path"},
	{"KEYS-DIR", K_PATH, NULL, F(keys_dir), 0, 0, NULL, "KEYS-DIR dir"},
	{"AUTHORITY", K_STR, NULL, NOFIELD, 0, 0, cfd_authority, "AUTHORITY shipd1:KEY"},
	{"CERT-FILE", K_PATH, NULL, F(cert_file), 0, 0, NULL, "CERT-FILE path"},
	{"TRUST-DIR", K_PATH, NULL, F(trust_dir), 0, 0, NULL, "TRUST-DIR dir"},
	{"PEER", K_STR, NULL, NOFIELD, 0, 0, cfd_peer,
	 "PEER name|pattern host port [shipd1:KEY] | PEER name dir:PATH [limit] [shipd1:KEY]"},
	{"IMPORT-DIR", K_STR, NULL, NOFIELD, 0, 0, cfd_import_dir, "IMPORT-DIR dir..."},
	{"KEY", K_STR, NULL, NOFIELD, 0, 0, cfd_key, "KEY name shipd1:KEY"},
	{"ALLOW", K_STR, NULL, NOFIELD, 0, 0, cfd_allow, "ALLOW cidr..."},
	{"BAY-SIZE-LIMIT", K_SIZE, "0", F(bay_size_limit), 0, 0, NULL, "BAY-SIZE-LIMIT n[k|m|g]"},
	{"MIN-FREE-DISK", K_SIZE, "64m", F(min_free_disk), 0, 0, NULL, "MIN-FREE-DISK n[k|m|g]"},
	{"DROP-QUIET-TIME", K_DUR, "5s", F(drop_quiet), 0, DAY, NULL, "DROP-QUIET-TIME n[s|m|h|d]"},
	{"MAX-CHILDREN", K_INT, "10", F(max_children), 1, 64, NULL, "MAX-CHILDREN n"},
	{"MAX-RECEIVERS", K_INT, "10", F(max_receivers), 1, 1024, NULL, "MAX-RECEIVERS n"},
	{"RETRY-MIN", K_DUR, "60s", F(retry_min), 1, 30 * DAY, NULL, "RETRY-MIN n[s|m|h|d]"},
	{"RETRY-MAX", K_DUR, "1h", F(retry_max), 1, 30 * DAY, NULL, "RETRY-MAX n[s|m|h|d]"},
	{"MAX-HANDSHAKES", K_INT, "32", F(max_handshakes), 1, 1024, NULL, "MAX-HANDSHAKES n"},
	{"MAX-HANDSHAKES-PER-SOURCE", K_INT, "10", F(max_handshakes_per_source), 1, 1024, NULL,
	 "MAX-HANDSHAKES-PER-SOURCE n"},
	{"HANDSHAKE-TIMEOUT", K_DUR, "5s", F(handshake_timeout), 1, 3600, NULL,
	 "HANDSHAKE-TIMEOUT n[s|m|h]"},
	{"IO-TIMEOUT", K_DUR, "60s", F(io_timeout), 1, DAY, NULL, "IO-TIMEOUT n[s|m|h|d]"},
	{"CONNECT-TIMEOUT", K_DUR, "5s", F(connect_timeout), 1, 3600, NULL, "CONNECT-TIMEOUT n[s|m|h]"},
	{"HISTORY-DAYS", K_INT, "30", F(history_days), 1, 3650, NULL, "HISTORY-DAYS days"},
	{"LOG", K_STR, "syslog", F(log_dest), 0, 0, cfd_log, "LOG stderr|syslog|file:PATH[,...]"},
	{"USER", K_NAME, NULL, F(spool_user), 0, 0, NULL, "USER name"},
	{"SUBMIT-SOCKET", K_PATH, NULL, F(submit_socket), 0, 0, NULL, "SUBMIT-SOCKET path"},
	{"SUBMIT-GROUP", K_NAME, NULL, F(submit_group), 0, 0, NULL, "SUBMIT-GROUP group"},
};
#define NDIRECTIVES	((int)(sizeof(directives) / sizeof(directives[0])))

/* "file:line: message", or "file: message" outside any line. */
int
cfp_err(struct parse *p, const char *fmt, ...)
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
const char *
cfp_err_copy(char *buf, size_t size)
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

int
cfp_valid_name(const char *s, int dash_first_ok)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || (s[0] == '-' && !dash_first_ok))
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int
cfp_check_name(struct parse *p, const char *what, const char *s)
{
	if (cfp_valid_name(s, 0))
		return 0;
	return cfp_err(p, "%s: bad %s name \"%.80s\" (want 1-%d of A-Z a-z 0-9 . _ -, not starting with -)",
		       what, strcmp(what, "USER") == 0 ? "user" : strcmp(what, "SUBMIT-GROUP") == 0 ? "group" :
		       "node", s, NAME_MAX_LEN);
}

int
cfp_parse_mode(const char *s, int *out)
{
	size_t n = strlen(s);
	int v = 0;

	if (n < 3 || n > 4 || strspn(s, "01234567") != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 8 + (s[i] - '0');
	if (v > 0777 || !(v & 0400))
		return -1;
	*out = v;
	return 0;
}

/* A node name, or a pattern of them: '*' and '?' may stand among the letters. */
int
cfp_check_pattern(struct parse *p, const char *what, const char *s)
{
	size_t n = strlen(s);

	if (!config_is_pattern(s))
		return cfp_check_name(p, what, s);
	if (n <= NAME_MAX_LEN && s[0] != '-' &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-*?") == n)
		return 0;
	return cfp_err(p, "%s: bad node pattern \"%.80s\" (want 1-%d of A-Z a-z 0-9 . _ - * ?, not starting with -)",
		       what, s, NAME_MAX_LEN);
}

/* Digits only, within [min, max]. */
int
cfp_parse_long(const char *s, long min, long max, long *out)
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
char *
cfp_path(struct parse *p, const char *what, const char *val)
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
		cfp_err(p, "%s: path \"%.80s...\" is too long", what, val);
		return NULL;
	}
	return out;
}

int *
cfp_seen(struct parse *p, const struct directive *d)
{
	return &p->seen[d - directives];
}

/* Store one value of directive d, parsed by its kind; checks repetition. */
int
cfp_set_value(struct parse *p, const struct directive *d, const char *val)
{
	int idx = (int)(d - directives);
	char *s;
	uint64_t u;
	long l;

	if (p->line > 0) {
		if (p->seen[idx])
			return cfp_err(p, "%s: already set at line %d", d->name, p->seen[idx]);
		p->seen[idx] = p->line;
	}
	switch (d->kind) {
	case K_NAME:
	case K_STR:
	case K_PATH:
		if (d->kind == K_NAME && cfp_check_name(p, d->name, val) < 0)
			return -1;
		if (d->kind != K_PATH)
			s = xstrdup(val);
		else if ((s = cfp_path(p, d->name, val)) == NULL)
			return -1;
		free(*(char **)field(p, d));
		*(char **)field(p, d) = s;
		return 0;
	case K_SIZE:
		if (config_parse_size(val, 1, &u) < 0) {
			char e[512];
			return cfp_err(p, "%s: %s", d->name, cfp_err_copy(e, sizeof(e)));
		}
		*(uint64_t *)field(p, d) = u;
		return 0;
	case K_DUR:
		if (parse_duration(val, d->min, d->max, &l) < 0)
			return cfp_err(p, "%s: bad duration \"%.80s\" (want %lds..%ldd; suffix s, m, h or d, bare = seconds)",
				       d->name, val, d->min, d->max / DAY);
		*(int *)field(p, d) = (int)l;
		return 0;
	case K_INT:
		if (cfp_parse_long(val, d->min, d->max, &l) < 0)
			return cfp_err(p, "%s: bad number \"%.80s\" (want %ld..%ld)",
				       d->name, val, d->min, d->max);
		*(int *)field(p, d) = (int)l;
		return 0;
	case K_MODE:
		if (cfp_parse_mode(val, (int *)field(p, d)) < 0)
			return cfp_err(p, "%s: bad mode \"%.80s\" (want octal 0400..0777 with the "
				       "owner's read bit, e.g. 0640)", d->name, val);
		return 0;
	}
	return cfp_err(p, "%s: unhandled kind", d->name);
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
			cfp_err(p, "unknown directive \"%.80s\" (directives are case-sensitive: %s)",
				name, directives[i].name);
			return NULL;
		}
	cfp_err(p, "unknown directive \"%.80s\"", name);
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
				return cfp_err(p, "control character 0x%02x in \"%.40s\"",
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
		return cfp_err(p, "%s: want one value, got %d (usage: %s)", d->name, ac, d->usage);
	return cfp_set_value(p, d, av[0]);
}

static int
apply_defaults(struct parse *p)
{
	struct config *cf = p->cf;

	cf->classes[0].name = xstrdup(DEFAULT_CLASS);
	cf->nclasses = 1;
	for (int i = 0; i < NDIRECTIVES; i++)
		if (directives[i].dflt && cfp_set_value(p, &directives[i], directives[i].dflt) < 0)
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
	if (cfp_parse_long(v, d->min, d->max, &l) < 0) {
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
			return cfp_err(p, "no NODE and cannot get the host name: %s", strerror(errno));
		host[sizeof(host) - 1] = 0;
		if (!cfp_valid_name(host, 0))
			return cfp_err(p, "no NODE, and the host name \"%.80s\" is not a valid node name; set NODE",
				       host);
		cf->node = xstrdup(host);
	}
	if (cf->max_data_size == 0)
		cf->max_data_size = DEFAULT_MAX_DATA_KB * 1024;
	for (int i = 0; i < NDIRECTIVES; i++) {
		const char *why;

		/* it is handed to NOTIFICATION-PROGRAM as an argument */
		if (directives[i].off == F(administrator) && cf->administrator &&
		    (why = mailaddr_bad(cf->administrator)) != NULL) {
			p->line = p->seen[i];
			return cfp_err(p, "ADMINISTRATOR: bad address \"%.80s\": %s (want user or "
				       "user@domain)", cf->administrator, why);
		}
		if (directives[i].off == F(retry_min))
			rmin = p->seen[i];
		if (directives[i].off == F(retry_max))
			rmax = p->seen[i];
	}
	if (cf->retry_max < cf->retry_min) {
		p->line = rmax > rmin ? rmax : rmin;
		return cfp_err(p, "%s: RETRY-MAX %ds is below RETRY-MIN %ds",
			       rmax > rmin ? "RETRY-MAX" : "RETRY-MIN", cf->retry_max, cf->retry_min);
	}
	for (int i = 0; i < cf->nclasses; i++) {
		struct sclass *cl = &cf->classes[i];

		p->line = p->class_line[i];
		if (cl->bays.n == 0) {
			if (i > 0)
				return cfp_err(p, "class %s has no storage bay (add: CLASS %s bay-dir)",
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
		if (cl->deliver_mode == 0)
			cl->deliver_mode = cf->deliver_mode;
	}
	p->line = 0;
	if (cf->trust_dir == NULL)
		cf->trust_dir = xasprintf("%s/trust", cf->spool);
	if (check_ports(p) < 0 || cfp_resolve_keys(p) < 0)
		return -1;
	/* A PEER's own literal address may always connect. */
	for (int i = 0; i < cf->npeers; i++)
		if (cf->peers[i].host && cfp_is_ip(cf->peers[i].host) &&
		    cidr_parse(cf->peers[i].host, &c) == 0)
			cfp_allow_add(p, &c);
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
			cfp_err(&p, "NUL byte in the line: not a text file");
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
