/*
 * config_int.h - private to the shipping.conf parser (config_parse.c, the
 * table and the file; config_directives.c, the handlers of directives
 * with several values). Nothing outside config_*.c and the module tests
 * includes this.
 */
#ifndef SHIPD_CONFIG_INT_H
#define SHIPD_CONFIG_INT_H

#include <stddef.h>
#include "config.h"

#define CONFIG_MAX_SIZE		(1024 * 1024)	/* larger is not a config */
#define NAME_MAX_LEN		64		/* node and class names */
#define MAX_CLASS_BAYS		64		/* storage bays in one class */
#define MAX_EXPIRATION_DAYS	3650
#define DAY			86400

enum kind {
	K_STR,		/* one token, kept as is */
	K_NAME,		/* [A-Za-z0-9._-]+, not starting with '-' */
	K_PATH,		/* resolved against the file's directory */
	K_SIZE,		/* uint64_t bytes; k/m/g suffix, bare = KB */
	K_DUR,		/* int seconds; s/m/h/d suffix, bare = seconds */
	K_INT,		/* int in [min, max] */
	K_MODE,		/* file mode: 3 or 4 octal digits, permission bits only */
};

struct parse;
struct directive;
typedef int handler_fn(struct parse *, const struct directive *, char **, int);

struct directive {
	const char *name;
	enum kind kind;		/* how a single value is parsed into off */
	const char *dflt;	/* applied before the file is read; NULL: none */
	size_t off;		/* field of struct config; (size_t)-1: handler only */
	long min, max;		/* K_INT, K_DUR */
	handler_fn *fn;		/* NULL: exactly one value, parsed by kind */
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
	int mode_line[MAX_CLASSES];
	int routes_cap, peers_cap, allow_cap, auth_cap;
	char **av;			/* tokens of the current line */
	int ac, av_cap;
};

/* config_parse.c: messages, values, the table's bookkeeping. */
int cfp_err(struct parse *p, const char *fmt, ...) PRINTF(2, 3);	/* "file:line: msg", -1 */
const char *cfp_err_copy(char *buf, size_t size);	/* err_get(), before err_set reuses it */
int cfp_valid_name(const char *s, int dash_first_ok);
int cfp_check_name(struct parse *p, const char *what, const char *s);
int cfp_check_pattern(struct parse *p, const char *what, const char *s);
int cfp_parse_long(const char *s, long min, long max, long *out);
/* A delivered file's mode: 3 or 4 octal digits, at most 0777, owner-readable. */
int cfp_parse_mode(const char *s, int *out);
char *cfp_path(struct parse *p, const char *what, const char *val);	/* resolved, or NULL */
int cfp_set_value(struct parse *p, const struct directive *d, const char *val);
int *cfp_seen(struct parse *p, const struct directive *d);	/* line d was set on, 0 if not */

/* config_directives.c: the handlers of directives[] and what finish() shares. */
handler_fn cfd_listen, cfd_expiration, cfd_log, cfd_route, cfd_peer, cfd_key, cfd_allow,
	   cfd_class, cfd_return_bay, cfd_receipt_handler, cfd_deliver_mode, cfd_authority,
	   cfd_import_dir;
void cfp_allow_add(struct parse *p, const struct cidr *c);
int cfp_is_ip(const char *s);

/* PEERs without an inline key take KEYS-DIR/NAME.pub; every other
 * NAME.pub there becomes a KEY node, every NAME.authority an AUTHORITY.
 * A PEER that still has no key needs an AUTHORITY (its certificate will
 * say); a pattern PEER always does. */
int cfp_resolve_keys(struct parse *p);

/* Size with k/m/g suffix; bare = KB (MultiSite MAX-DATA-SIZE convention). */
int config_parse_size(const char *s, int bare_is_kb, uint64_t *out);
/* The known node whose signing key is sign_pub, or NULL. */
const struct peer *config_peer_by_key(const struct config *cf, const uint8_t *sign_pub);

#endif
