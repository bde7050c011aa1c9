/*
 * config_directives.c - the shipping.conf directives that take several
 * values or build lists: storage classes (CLASS/STORAGE-CLASS, RETURN-BAY,
 * RECEIPT-HANDLER, EXPIRATION class days, DELIVER-MODE class mode), ROUTE (several on one line),
 * PEER, KEY, ALLOW, LISTEN and LOG. Each is a handler named in
 * config_parse.c's directives[] table.
 *
 * Handlers check their values and name the bad one through cfp_err();
 * they never exit, and never look at the network or the spool.
 */
#include "config_int.h"
#include "../crypto/cert.h"
#include "../util/safefile.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <dirent.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* Storage classes ---------------------------------------------------- */

/* The class called name, created (remembering this line) if new. */
static int
class_get(struct parse *p, const char *what, const char *name)
{
	struct config *cf = p->cf;

	for (int i = 0; i < cf->nclasses; i++)
		if (strcmp(cf->classes[i].name, name) == 0)
			return i;
	if (!cfp_valid_name(name, 1))
		return cfp_err(p, "%s: bad class name \"%.80s\" (want 1-%d of A-Z a-z 0-9 . _ -)",
			       what, name, NAME_MAX_LEN);
	if (cf->nclasses >= MAX_CLASSES)
		return cfp_err(p, "%s: class \"%s\" would be class %d; at most %d storage classes",
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
		return cfp_err(p, "%s: return bay of class %s already set at line %d",
			       what, c->name, p->return_line[ci]);
	if ((c->return_bay = cfp_path(p, what, dir)) == NULL)
		return -1;
	p->return_line[ci] = p->line;
	return 0;
}

static int
class_set_handler(struct parse *p, const char *what, int ci, const char *path)
{
	struct sclass *c = &p->cf->classes[ci];

	if (p->handler_line[ci])
		return cfp_err(p, "%s: receipt handler of class %s already set at line %d",
			       what, c->name, p->handler_line[ci]);
	if ((c->receipt_handler = cfp_path(p, what, path)) == NULL)
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
		return cfp_err(p, "%s: expiration of class %s already set at line %d",
			       what, c->name, p->exp_line[ci]);
	if (cfp_parse_long(days, 1, MAX_EXPIRATION_DAYS, &l) < 0)
		return cfp_err(p, "%s: bad expiration \"%.80s\" for class %s (want 1..%d days)",
			       what, days, c->name, MAX_EXPIRATION_DAYS);
	c->expiration_days = (int)l;
	p->exp_line[ci] = p->line;
	return 0;
}

static int
class_set_mode(struct parse *p, const char *what, int ci, const char *mode)
{
	struct sclass *c = &p->cf->classes[ci];

	if (p->mode_line[ci])
		return cfp_err(p, "%s: deliver mode of class %s already set at line %d",
			       what, c->name, p->mode_line[ci]);
	if (cfp_parse_mode(mode, &c->deliver_mode) < 0)
		return cfp_err(p, "%s: bad mode \"%.80s\" for class %s (want octal 0400..0777 "
			       "with the owner's read bit, e.g. 0640)", what, mode, c->name);
	p->mode_line[ci] = p->line;
	return 0;
}

/* CLASS name bay-dir [bay-dir...] [-return dir] [-expiration days] [-receipt-handler path]
 * [-deliver-mode mode] */
int
cfd_class(struct parse *p, const struct directive *d, char **av, int ac)
{
	struct sclass *c;
	char *bay;
	int ci;

	if (ac < 2)
		return cfp_err(p, "%s: want a class name and at least one bay (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	c = &p->cf->classes[ci];
	if (p->class_defined[ci])
		return cfp_err(p, "%s: class %s already defined at line %d", d->name, c->name,
			       p->class_defined[ci]);
	p->class_defined[ci] = p->line;
	for (int i = 1; i < ac; i++) {
		const char *opt = av[i];

		if (opt[0] != '-') {
			if (c->bays.n >= MAX_CLASS_BAYS)
				return cfp_err(p, "%s: class %s has more than %d storage bays",
					       d->name, c->name, MAX_CLASS_BAYS);
			if ((bay = cfp_path(p, d->name, opt)) == NULL)
				return -1;
			if (strv_has(&c->bays, bay)) {
				free(bay);
				return cfp_err(p, "%s: class %s lists bay %.200s twice", d->name, c->name, opt);
			}
			strv_add(&c->bays, bay);
			free(bay);
			continue;
		}
		if (i + 1 >= ac)
			return cfp_err(p, "%s: option %.40s wants a value", d->name, opt);
		if (strcmp(opt, "-return") == 0) {
			if (class_set_return(p, d->name, ci, av[++i]) < 0)
				return -1;
		} else if (strcmp(opt, "-expiration") == 0) {
			if (class_set_expiration(p, d->name, ci, av[++i]) < 0)
				return -1;
		} else if (strcmp(opt, "-receipt-handler") == 0) {
			if (class_set_handler(p, d->name, ci, av[++i]) < 0)
				return -1;
		} else if (strcmp(opt, "-deliver-mode") == 0) {
			if (class_set_mode(p, d->name, ci, av[++i]) < 0)
				return -1;
		} else
			return cfp_err(p, "%s: unknown option \"%.40s\" (want -return, -expiration, "
				       "-receipt-handler or -deliver-mode)", d->name, opt);
	}
	if (c->bays.n == 0)
		return cfp_err(p, "%s: class %s has no storage bay (usage: %s)", d->name, c->name, d->usage);
	return 0;
}

int
cfd_return_bay(struct parse *p, const struct directive *d, char **av, int ac)
{
	int ci;

	if (ac != 2)
		return cfp_err(p, "%s: want a class and a directory (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	return class_set_return(p, d->name, ci, av[1]);
}

int
cfd_receipt_handler(struct parse *p, const struct directive *d, char **av, int ac)
{
	int ci;

	if (ac != 2)
		return cfp_err(p, "%s: want a class and a program (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	return class_set_handler(p, d->name, ci, av[1]);
}

/* EXPIRATION days (the global default) or EXPIRATION class days. */
int
cfd_expiration(struct parse *p, const struct directive *d, char **av, int ac)
{
	int ci;

	if (ac == 1)
		return cfp_set_value(p, d, av[0]);
	if (ac != 2)
		return cfp_err(p, "%s: want days, or a class and days (usage: %s)", d->name, d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	return class_set_expiration(p, d->name, ci, av[1]);
}

/* DELIVER-MODE mode (the default of every class) or DELIVER-MODE class mode. */
int
cfd_deliver_mode(struct parse *p, const struct directive *d, char **av, int ac)
{
	int ci;

	if (ac == 1)
		return cfp_set_value(p, d, av[0]);
	if (ac != 2)
		return cfp_err(p, "%s: want a mode, or a class and a mode (usage: %s)", d->name,
			       d->usage);
	if ((ci = class_get(p, d->name, av[0])) < 0)
		return -1;
	return class_set_mode(p, d->name, ci, av[1]);
}

/* Nodes, routes, addresses -------------------------------------------- */

static int
parse_port(struct parse *p, const char *what, const char *s, int *port)
{
	long l;

	if (cfp_parse_long(s, 1, 65535, &l) < 0)
		return cfp_err(p, "%s: bad port \"%.80s\" (want 1..65535)", what, s);
	*port = (int)l;
	return 0;
}

int
cfp_is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* An IP literal, or a DNS name: labels of letters, digits and '-'. */
static int
valid_host(const char *s)
{
	size_t n = strlen(s);

	if (cfp_is_ip(s))
		return 1;
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || strstr(s, "..") != NULL)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

/* A host in which "%n" stands for the node's name (checked with a stand-in). */
static int
valid_host_template(const char *s)
{
	struct sbuf b;
	int ok;

	if (strchr(s, '%') == NULL)
		return valid_host(s);
	sbuf_init(&b);
	for (; *s; s++) {
		if (s[0] == '%' && (s[1] == 'n' || s[1] == '%')) {
			sbuf_puts(&b, s[1] == 'n' ? "node" : "");
			s++;
		} else if (s[0] == '%')
			break;
		else
			sbuf_add(&b, s, 1);
	}
	ok = *s == 0 && valid_host(b.s);
	sbuf_free(&b);
	return ok;
}

int
cfd_listen(struct parse *p, const struct directive *d, char **av, int ac)
{
	int *seen = cfp_seen(p, d), port = DEFAULT_PORT;

	if (ac < 1 || ac > 2)
		return cfp_err(p, "%s: want an address and an optional port (usage: %s)", d->name, d->usage);
	if (*seen)
		return cfp_err(p, "%s: already set at line %d", d->name, *seen);
	if (!cfp_is_ip(av[0]))
		return cfp_err(p, "%s: \"%.80s\" is not an IP address (use 0.0.0.0 or :: for all)",
			       d->name, av[0]);
	if (ac == 2 && parse_port(p, d->name, av[1], &port) < 0)
		return -1;
	*seen = p->line;
	p->cf->listen_addr = xstrdup(av[0]);
	p->cf->listen_port = port;
	return 0;
}

/* LOG stderr|syslog|file:PATH[,...]; file paths resolved like any path. */
int
cfd_log(struct parse *p, const struct directive *d, char **av, int ac)
{
	struct sbuf out = {0};
	char *copy, *tok, *save, *path;
	int rc = 0;

	if (ac != 1)
		return cfp_err(p, "%s: want one value (usage: %s)", d->name, d->usage);
	copy = xstrdup(av[0]);
	sbuf_init(&out);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (out.len)
			sbuf_puts(&out, ",");
		if (strcmp(tok, "stderr") == 0 || strcmp(tok, "syslog") == 0)
			sbuf_puts(&out, tok);
		else if (strncmp(tok, "file:", 5) == 0 && tok[5]) {
			if ((path = cfp_path(p, d->name, tok + 5)) == NULL) {
				rc = -1;
				break;
			}
			sbuf_printf(&out, "file:%s", path);
			free(path);
		} else {
			rc = cfp_err(p, "%s: bad destination \"%.80s\" (want stderr, syslog or file:PATH)",
				     d->name, tok);
			break;
		}
	}
	if (rc == 0 && out.len == 0)
		rc = cfp_err(p, "%s: no destination (usage: %s)", d->name, d->usage);
	if (rc == 0)
		rc = cfp_set_value(p, d, out.s);
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
		return cfp_err(p, "%s: want a next hop and at least one destination (usage: %s)",
			       d->name, d->usage);
	/* the next hop is one node; destinations may be patterns ("SiteB_*") */
	for (int i = 0; i < ac; i++)
		if ((i == 0 ? cfp_check_name(p, d->name, av[i])
			    : cfp_check_pattern(p, d->name, av[i])) < 0)
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
int
cfd_route(struct parse *p, const struct directive *d, char **av, int ac)
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
	 int port, const char *key, char *dir, uint64_t dir_limit)
{
	struct config *cf = p->cf;
	struct peer *pe;
	struct pubkey pk;

	if ((host ? cfp_check_pattern(p, what, name) : cfp_check_name(p, what, name)) < 0) {
		free(dir);
		return -1;
	}
	for (int i = 0; i < cf->npeers; i++)
		if (strcmp(cf->peers[i].name, name) == 0) {
			free(dir);
			return cfp_err(p, "%s: node %s already defined at line %d (%s)", what, name,
				       cf->peers[i].line, PEER_REACHABLE(&cf->peers[i]) ? "PEER" : "KEY");
		}
	if (key && config_is_pattern(name)) {
		free(dir);
		return cfp_err(p, "%s %s: a pattern cannot pin a key (its nodes prove their names "
			       "with certificates of an AUTHORITY)", what, name);
	}
	if (key && pubkey_parse(key, &pk) < 0) {
		char e[512];

		free(dir);
		return cfp_err(p, "%s %s: %s", what, name, cfp_err_copy(e, sizeof(e)));
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
	pe->dir = dir;
	pe->dir_limit = dir_limit;
	pe->pattern = config_is_pattern(name);
	if (key) {
		pe->key = pk;
		pe->has_key = 1;
	}
	pe->file = cf->path;
	pe->line = p->line;
	return 0;
}

/*
 * PEER name dir:PATH [limit] [shipd1:KEY]: a neighbour reached through a
 * directory (global/dirhop.h). limit bounds what the medium holds.
 */
static int
dir_peer(struct parse *p, const struct directive *d, char **av, int ac)
{
	uint64_t limit = 0;
	const char *key = NULL;
	char *dir;

	if (ac > 4)
		return cfp_err(p, "%s %s: want at most a size limit and a key after %s (usage: %s)",
			       d->name, av[0], av[1], d->usage);
	for (int i = 2; i < ac; i++) {
		if (strncmp(av[i], PUBKEY_PREFIX, strlen(PUBKEY_PREFIX)) == 0 && key == NULL)
			key = av[i];
		else if (i == 2 && config_parse_size(av[i], 0, &limit) == 0 && limit > 0)
			continue;
		else
			return cfp_err(p, "%s %s: bad value \"%.80s\" (want a size limit such as 4g, "
				       "then a %s key)", d->name, av[0], av[i], PUBKEY_PREFIX);
	}
	if (av[1][4] == 0)
		return cfp_err(p, "%s %s: dir: wants a directory (dir:/mnt/transfer/to-%s)",
			       d->name, av[0], av[0]);
	if ((dir = cfp_path(p, d->name, av[1] + 4)) == NULL)
		return -1;
	return add_peer(p, d->name, av[0], NULL, 0, key, dir, limit);
}

int
cfd_import_dir(struct parse *p, const struct directive *d, char **av, int ac)
{
	if (ac < 1)
		return cfp_err(p, "%s: want one or more directories (usage: %s)", d->name, d->usage);
	for (int i = 0; i < ac; i++) {
		char *dir = cfp_path(p, d->name, av[i]);

		if (dir == NULL)
			return -1;
		if (strv_has(&p->cf->import_dirs, dir)) {
			free(dir);
			return cfp_err(p, "%s: %s named twice", d->name, av[i]);
		}
		strv_add(&p->cf->import_dirs, dir);
		free(dir);
	}
	return 0;
}

int
cfd_peer(struct parse *p, const struct directive *d, char **av, int ac)
{
	int port = 0;

	if (ac >= 2 && strncmp(av[1], "dir:", 4) == 0)
		return dir_peer(p, d, av, ac);
	if (ac != 3 && ac != 4)
		return cfp_err(p, "%s: want 3 or 4 values, got %d (usage: %s)", d->name, ac, d->usage);
	if (!valid_host_template(av[1]))
		return cfp_err(p, "%s %s: bad host \"%.80s\" (want an IP address or a host name; "
			       "%%n stands for the node's name)", d->name, av[0], av[1]);
	if (parse_port(p, d->name, av[2], &port) < 0)
		return -1;
	return add_peer(p, d->name, av[0], av[1], port, ac == 4 ? av[3] : NULL, NULL, 0);
}

/*
 * Like ssh's StrictModes: a key anyone else may write is no key. -1 (err_set
 * naming the path) when path is writable by group or others.
 */
static int
not_writable_by_others(const char *path, const char *what)
{
	struct stat st;

	if (stat(path, &st) < 0 || (st.st_mode & 022) == 0)
		return 0;
	err_set("%s%s: writable by group or others (mode %04o): anyone could %s a key; "
		"chmod go-w it", what, path, (unsigned)(st.st_mode & 07777),
		S_ISDIR(st.st_mode) ? "add" : "replace");
	return -1;
}

static int
add_authority(struct parse *p, const char *what, const char *tok)
{
	struct config *cf = p->cf;
	struct authority a;
	char e[512];

	memset(&a, 0, sizeof(a));
	if (pubkey_parse(tok, &a.key) < 0)
		return cfp_err(p, "%s: %s (the line `shipctl authority init` prints)", what,
			       cfp_err_copy(e, sizeof(e)));
	cert_authority_id(a.key.sign, a.id);
	a.line = p->line;
	for (int i = 0; i < cf->nauth; i++)
		if (memcmp(cf->auth[i].id, a.id, sizeof(a.id)) == 0) {
			if (p->line == 0)
				return 0;	/* KEYS-DIR repeats a line: fine */
			return cfp_err(p, "%s: authority already trusted at line %d", what,
				       cf->auth[i].line);
		}
	if (cf->nauth == p->auth_cap) {
		p->auth_cap = p->auth_cap ? p->auth_cap * 2 : 4;
		cf->auth = xrealloc(cf->auth, p->auth_cap * sizeof(*cf->auth));
	}
	cf->auth[cf->nauth++] = a;
	return 0;
}

/* KEYS-DIR/NAME.pub: 1 loaded, 0 no such file, -1 malformed (err_set). */
static int
load_pub(const char *dir, const char *name, struct pubkey *pk)
{
	char path[PATH_MAX], *text;
	size_t len;

	if (path_fmt(path, sizeof(path), "%s/%s.pub", dir, name) < 0)
		return -1;
	if (access(path, F_OK) < 0)
		return 0;
	if (not_writable_by_others(path, "") < 0)
		return -1;
	if ((text = read_file(path, 4096, &len)) == NULL)
		return -1;
	text[strcspn(text, " \t\r\n")] = 0;	/* the key is the first word */
	if (pubkey_parse(text, pk) < 0) {
		err_set("%s: %s", path, err_get());
		free(text);
		return -1;
	}
	free(text);
	return 1;
}

int
cfp_resolve_keys(struct parse *p)
{
	struct config *cf = p->cf;
	struct dirent *de;
	char e[512];
	DIR *d;

	if (cf->keys_dir && not_writable_by_others(cf->keys_dir, "KEYS-DIR ") < 0)
		return cfp_err(p, "%s", cfp_err_copy(e, sizeof(e)));
	if (cf->keys_dir && (d = opendir(cf->keys_dir)) != NULL) {
		/* authorities first: whether a PEER may lack a key depends on them */
		while ((de = readdir(d)) != NULL) {
			size_t n = strlen(de->d_name);
			char name[NAME_MAX + 1], *text, path[PATH_MAX];

			if (n < 11 || strcmp(de->d_name + n - 10, ".authority") != 0 ||
			    de->d_name[0] == '.')
				continue;
			snprintf(name, sizeof(name), "%s", de->d_name);
			if (path_fmt(path, sizeof(path), "%s/%s", cf->keys_dir, name) < 0 ||
			    not_writable_by_others(path, "") < 0 ||
			    (text = read_file(path, 4096, NULL)) == NULL) {
				closedir(d);
				return cfp_err(p, "KEYS-DIR %s: %s", cf->keys_dir,
					       cfp_err_copy(e, sizeof(e)));
			}
			text[strcspn(text, " \t\r\n")] = 0;
			if (add_authority(p, path, text) < 0) {
				free(text);
				closedir(d);
				return -1;
			}
			free(text);
		}
		closedir(d);
	}
	for (int i = 0; i < cf->npeers; i++) {
		struct peer *pe = &cf->peers[i];
		int r;

		if (pe->has_key)
			continue;
		p->line = pe->line;
		if (pe->pattern) {
			if (cf->nauth == 0)
				return cfp_err(p, "PEER %s: a pattern names nodes that prove their "
					       "names with certificates: add an AUTHORITY line", pe->name);
			continue;
		}
		if (cf->keys_dir == NULL) {
			if (cf->nauth)
				continue;	/* its certificate will say */
			return cfp_err(p, "PEER %s: no key: give it on the line, set KEYS-DIR or "
				       "trust an AUTHORITY", pe->name);
		}
		if ((r = load_pub(cf->keys_dir, pe->name, &pe->key)) < 0)
			return cfp_err(p, "PEER %s: %s", pe->name, cfp_err_copy(e, sizeof(e)));
		pe->has_key = r;	/* 0: not made yet (or certified); checkconf reports it */
	}
	p->line = 0;
	if (cf->keys_dir == NULL || (d = opendir(cf->keys_dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char name[NAME_MAX + 1];
		struct pubkey pk;
		char pkstr[PUBKEY_STRLEN];
		int known = 0;

		if (n < 5 || strcmp(de->d_name + n - 4, ".pub") != 0 || de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 4), de->d_name);
		/* named on a line of its own (PEER or KEY): done above or pinned there */
		for (int i = 0; i < cf->npeers; i++)
			known |= !cf->peers[i].pattern && strcmp(cf->peers[i].name, name) == 0;
		if (!cfp_valid_name(name, 0) || known || (cf->node && strcmp(name, cf->node) == 0))
			continue;
		if (load_pub(cf->keys_dir, name, &pk) <= 0) {
			closedir(d);
			return cfp_err(p, "KEYS-DIR %s: %s", cf->keys_dir, cfp_err_copy(e, sizeof(e)));
		}
		pubkey_format(&pk, pkstr);
		if (add_peer(p, "KEYS-DIR", name, NULL, 0, pkstr, NULL, 0) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* AUTHORITY shipd1:KEY [shipd1:KEY...]: several lines (or tokens) trust several. */
int
cfd_authority(struct parse *p, const struct directive *d, char **av, int ac)
{
	if (ac < 1)
		return cfp_err(p, "%s: want an authority key (usage: %s)", d->name, d->usage);
	for (int i = 0; i < ac; i++)
		if (add_authority(p, d->name, av[i]) < 0)
			return -1;
	return 0;
}

int
cfd_key(struct parse *p, const struct directive *d, char **av, int ac)
{
	if (ac != 2)
		return cfp_err(p, "%s: want 2 values, got %d (usage: %s)", d->name, ac, d->usage);
	return add_peer(p, d->name, av[0], NULL, 0, av[1], NULL, 0);
}

void
cfp_allow_add(struct parse *p, const struct cidr *c)
{
	struct config *cf = p->cf;

	if (cf->nallow == p->allow_cap) {
		p->allow_cap = p->allow_cap ? p->allow_cap * 2 : 8;
		cf->allow = xrealloc(cf->allow, p->allow_cap * sizeof(*cf->allow));
	}
	cf->allow[cf->nallow++] = *c;
}

int
cfd_allow(struct parse *p, const struct directive *d, char **av, int ac)
{
	struct cidr c;
	char e[512];

	if (ac < 1)
		return cfp_err(p, "%s: want at least one address or CIDR (usage: %s)", d->name, d->usage);
	for (int i = 0; i < ac; i++) {
		if (cidr_parse(av[i], &c) < 0)
			return cfp_err(p, "%s: %s", d->name, cfp_err_copy(e, sizeof(e)));
		cfp_allow_add(p, &c);
	}
	return 0;
}
