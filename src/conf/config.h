/*
 * config.h - shipping.conf: the MultiSite directives our users know plus
 * shipd's own settings, parsed by one parser into one struct.
 *
 * Errors are "file:line: message" (via err_get()); callers exit 2 on them.
 * Relative paths in the file are resolved against the file's directory, so
 * an in-tree conf/ works from any working directory. CLEARCASE_MIN_PORT and
 * CLEARCASE_MAX_PORT in the environment override the file.
 *
 * The parser never exits and never touches the network or the spool.
 *
 * Layer src/conf/: parsing and checking shipping.conf. May call
 * src/util/ and src/crypto/ (key tokens); never touches a spool.
 */
#ifndef SHIPD_CONFIG_H
#define SHIPD_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include "../util/addr.h"
#include "../util/mem.h"
#include "../crypto/keys.h"

#define MAX_CLASSES		64
#define DEFAULT_CLASS		"-default"
#define DEFAULT_MAX_DATA_KB	2097151ULL
#define DEFAULT_EXPIRATION	14
#define DEFAULT_PORT		4590
#define RETURN_PURGE_DAYS	14

struct sclass {
	char *name;			/* "-default" or the class name */
	struct strv bays;		/* one or more storage bay directories */
	char *return_bay;		/* default: the first storage bay; -default's: SPOOL/ms_rtn */
	int expiration_days;		/* defaults to the global EXPIRATION */
	char *receipt_handler;		/* NULL: none */
	int deliver_mode;		/* mode of files delivered here; defaults to DELIVER-MODE */
};

/*
 * A node this one knows: PEER name host port key (a direct neighbour), or
 * PEER name dir:PATH [limit] key (a neighbour reached through a directory:
 * a shared disk, an FTP drop, a USB drive; host is NULL, dir is set), or
 * KEY name key (a far node: its key seals packets for it and checks its
 * signatures, but it is reached only through ROUTEs; host and dir NULL).
 *
 * With an AUTHORITY, a PEER may come without a key (the node proves its
 * name with a certificate) and its name may be a pattern ("SiteA_*": every
 * certified node of that name, host "%n" standing for the node's name);
 * config_peer() then answers for a matching name with an entry of its own.
 */
struct peer {
	char *name;			/* node name, as used in ROUTE and destinations */
	char *host;			/* address or host name; NULL for a KEY-only node */
	int port;
	char *dir;			/* PEER name dir:PATH: the medium, or NULL */
	uint64_t dir_limit;		/* bytes the medium may hold (0 = until it is full) */
	struct pubkey key;
	int has_key;			/* a pinned key (PEER ... key, KEY, KEYS-DIR) */
	int pattern;			/* name is a pattern: a family of nodes */
	const char *file;		/* where it was defined */
	int line;
};

/* AUTHORITY shipd1:...: a certificate signed by it proves a node's name and keys. */
struct authority {
	struct pubkey key;		/* the signing half is the one that counts */
	uint8_t id[8];			/* its short id (cert.h: AUTH_ID_LEN) */
	int line;			/* 0: from KEYS-DIR */
};

struct trust;				/* src/trust/: learned state hung on the config */

struct route {
	char *next_hop;
	struct strv dests;
	const char *file;
	int line;
};

struct config {
	char *path;			/* the file read */
	char *node;			/* NODE: this node's name (default: hostname) */
	char *listen_addr;		/* LISTEN addr [port]; NULL: do not listen */
	int listen_port;
	char *key_file;			/* KEY-FILE (default: shipd.key beside the conf) */
	char *administrator;		/* ADMINISTRATOR (default root) */
	char *notify_program;		/* NOTIFICATION-PROGRAM (default: none, log only) */
	uint64_t max_data_size;		/* MAX-DATA-SIZE in bytes */
	int expiration_days;		/* EXPIRATION */
	int deliver_mode;		/* DELIVER-MODE: delivered files' mode (default 0640) */
	int min_port, max_port;		/* CLEARCASE_MIN_PORT/MAX_PORT; 0,0 = unset */
	struct sclass classes[MAX_CLASSES];
	int nclasses;			/* classes[0] is always -default */
	struct peer *peers;
	int npeers;
	struct route *routes;
	int nroutes;
	struct cidr *allow;		/* ALLOW entries, then every PEER's literal address */
	int nallow;
	uint64_t bay_size_limit;	/* BAY-SIZE-LIMIT bytes per bay (0 = none) */
	uint64_t min_free_disk;		/* MIN-FREE-DISK bytes kept free */
	int drop_quiet;			/* DROP-QUIET-TIME: a drop written in place is
					 * taken once closed and unchanged this long */
	int max_children;		/* MAX-CHILDREN senders (default 10) */
	int max_receivers;		/* MAX-RECEIVERS authenticated inbound hops (10) */
	int max_handshakes;		/* MAX-HANDSHAKES connections not yet authenticated (32) */
	int max_handshakes_per_source;	/* MAX-HANDSHAKES-PER-SOURCE of those from one address (10) */
	int handshake_timeout;		/* HANDSHAKE-TIMEOUT: a connection's whole handshake (5 s) */
	int retry_min, retry_max;	/* RETRY-MIN / RETRY-MAX seconds */
	int io_timeout;			/* IO-TIMEOUT seconds for one whole frame */
	int connect_timeout;		/* CONNECT-TIMEOUT: TCP connect before the UDP fallback */
	int history_days;		/* HISTORY-DAYS: how long done/ records are kept */
	char *log_dest;			/* LOG stderr|syslog|file:PATH[,..] */
	char *spool_user;		/* USER: unprivileged account (optional) */
	char *submit_socket;		/* SUBMIT-SOCKET: shipctl submit hands files here, or NULL */
	char *submit_group;		/* SUBMIT-GROUP: who may (besides root and USER), or NULL */
	char *keys_dir;			/* KEYS-DIR: NODE.pub files of known nodes, or NULL */
	char *spool;			/* SPOOL (default /var/spool/shipd): -default's bays */
	struct strv import_dirs;	/* IMPORT-DIR: media the daemon imports from */
	char *cert_file;		/* CERT-FILE: this node's certificate, or NULL */
	char *trust_dir;		/* TRUST-DIR (default SPOOL/trust): learned certificates,
					 * revocation lists; written by shipd only */
	struct authority *auth;		/* AUTHORITY lines, then KEYS-DIR/NAME.authority */
	int nauth;
	struct peer **dyn;		/* what pattern PEERs answered for, made on lookup */
	int ndyn;
	/* the trust layer's state for this configuration (trust_attach), freed with it */
	struct trust *trust;
	void (*trust_free)(struct trust *);
};

/* A neighbour shipd can hand packets to (a PEER with an address or a directory). */
#define PEER_REACHABLE(p)	((p)->host != NULL || (p)->dir != NULL)

/* Parse path; NULL with err_get() = "file:line: message" on any error. */
struct config *config_load(const char *path);
/*
 * The same for text already in memory (tests, fuzzing): path names the
 * text in errors and its directory anchors relative paths.
 */
struct config *config_load_buf(const char *path, const char *buf, size_t len);
void config_free(struct config *cf);

/* The default config path: $SHIPD_CONF, else /etc/shipd/shipping.conf. */
const char *config_default_path(void);

const struct sclass *config_class(const struct config *cf, const char *name);
/* The class a bay directory belongs to (storage or return bay), or NULL. */
const struct sclass *config_bay_class(const struct config *cf, const char *bay);
/*
 * The class a received packet of class `name` is kept in: that class, or
 * -default when this node does not define it (a relay or destination set
 * up with -default only still takes it; shipping.conf(5)).
 */
const struct sclass *config_class_or_default(const struct config *cf, const char *name);
/*
 * Any known node by name; NULL if unknown. A PEER line of that name wins,
 * then a pattern PEER matching it (an entry for the name itself, with the
 * pinned key of a KEY line of that name if there is one), then a KEY line.
 */
const struct peer *config_peer(const struct config *cf, const char *name);
/* 1 if s holds a wildcard ('*' or '?'): a pattern, not a node name. */
int config_is_pattern(const char *s);
/* The AUTHORITY with this short id, or NULL. */
const struct authority *config_authority(const struct config *cf, const uint8_t id[8]);
/* Add this node's own key as a KEY entry (if it has none). */
void config_add_self(struct config *cf, const struct pubkey *pk);

/*
 * The next hop for a destination: the ROUTE next hop naming it, else the
 * destination itself when it is a PEER with an address, else the first
 * ROUTE whose destination pattern matches it, else the destination itself
 * when a pattern PEER matches it, else NULL (unroutable).
 * The local node routes to itself.
 */
const char *config_next_hop(const struct config *cf, const char *dest);

/*
 * Print the effective configuration (classes, bays, port range, peers,
 * every known destination with its next hop) and report problems a parse
 * cannot see: ROUTE loops, next hops that are not peers. Returns the number
 * of problems, each printed as "file:line: message".
 */
int config_check(const struct config *cf, FILE *out);

#endif
