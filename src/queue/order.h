/*
 * order.h - the shipping order: a small versioned text file that says what
 * is to be done with one packet (its data lives in the bay's data/ID).
 *
 *   version: 1
 *   id: 20261124T034500Z-SiteA_host1-9f3a1c2e
 *   origin: SiteA_host1
 *   class: -default
 *   ...one "key: value" per field, list fields repeated...
 *   end
 *
 * An order missing "end", with an unknown version, an unknown or repeated
 * scalar key, or a bad value is rejected (the caller moves it to corrupt/):
 * never guessed at.
 */
#ifndef SHIPD_ORDER_H
#define SHIPD_ORDER_H

#include <stdint.h>
#include <time.h>
#include "../util/mem.h"

#define ORDER_VERSION	1
#define ORDER_ID_MAX	128
#define ORDER_MAX_SIZE	(256 * 1024)

struct order {
	char id[ORDER_ID_MAX];		/* [A-Za-z0-9._-], unique across hosts */
	char *origin;			/* node that submitted it */
	char *sclass;			/* storage class */
	struct strv dests;		/* remaining destinations (dest:) */
	struct strv delivered;		/* destinations done (delivered:) */
	struct strv hops;		/* nodes it has passed through, origin first (hop:) */
	time_t created, expires;
	char *notify;			/* notify address, or NULL */
	char *comment;			/* or NULL */
	char *name;			/* original file name (for lspacket-style views) */
	int attempts;
	char *last_error;		/* or NULL */
	time_t next_attempt;		/* 0: now */
	uint64_t size;			/* bytes of the sealed packet file data/ID */
	char digest[65];		/* hex packet digest of data/ID (packet.h):
					 * SHA-256 of the message its trailer signs,
					 * "shipd-packet-trailer 1\n" || SHA-256(header)
					 * || SHA-256(body); every verifier computes it
					 * on the way, so it costs no extra read */
	int part, nparts;		/* 1/1 unless split by MAX-DATA-SIZE */
	char *group;			/* logical packet id shared by the parts */
	int returning;			/* travelling back to origin; dests keep the
					 * undelivered destinations, so that
					 * `shipctl resubmit` can restore them */
	char *return_reason;		/* why it was turned around */
	int keep_data;			/* -copy: keep the submitted source file */
	char *source;			/* submitted file path (with --copy unset: removed after sealing) */
	char *submitter;		/* "uid N (name)": who handed it to the submission socket */
	struct strv exported;		/* "DEST NEXTHOP TIME": written to NEXTHOP's
					 * directory at TIME (global/dirhop.h); DEST
					 * stays in dests, ours, until the receipt */
};

/* The exported: line of dest, if any (a pointer into o->exported). */
const char *order_exported(const struct order *o, const char *dest);
/* Split such a line: next hop (into hop), time; -1 when malformed. */
int order_export_parse(const char *line, char *hop, size_t hopsz, time_t *when);

void order_init(struct order *o);
void order_free(struct order *o);
/* New id: UTC time + node + 8 random hex digits. */
void order_new_id(char *buf, size_t size, const char *node);
int order_id_valid(const char *id);

/*
 * Order ids on the wire are the packet id plus generation suffixes: ".rN"
 * for the Nth resubmission, ".ret" for the trip back to the origin. Each
 * journey has its own id, so seen/ markers left by an earlier journey
 * never swallow a later one, while the signed packet id stays the same.
 * order_packet_id() strips the suffixes; order_id_resubmit() makes the
 * id of the next resubmission. Both return -1 when the result won't fit.
 */
int order_packet_id(const char *id, char *out, size_t size);
int order_id_resubmit(const char *id, char *out, size_t size);
/*
 * A split packet's parts have packet ids GROUP.pNofM; order_part_of() reads
 * GROUP, N and M from an order id, whatever journey suffix it carries
 * (".ret", ".rN"). 0 when id names part N of M (1 <= N <= M, M >= 2).
 */
int order_part_of(const char *id, char *group, size_t gsize, int *n, int *m);
/* Node and class names: [A-Za-z0-9._-]+, at most 255 bytes. */
int order_name_valid(const char *name);

/* Parse/format; parse returns -1 with err_set("line N: ...") on malformation. */
int order_parse(const char *buf, size_t len, struct order *o);
char *order_format(const struct order *o, size_t *len);
/*
 * The text grammar orders share with the queue's other small records
 * (history.h): lines without control characters, closed by a line "end"
 * with nothing after it. fn gets each line before "end" (without its
 * newline) and returns -1 with err_set("line N: ...") when it is bad.
 * Returns the number of lines, or -1 with err_set("line N: ...").
 */
typedef int (*record_line_fn)(void *arg, int line, const char *s, size_t len);
int record_walk(const char *buf, size_t len, record_line_fn fn, void *arg);

/* Load from a path (bounded read + parse); save atomically to dir/ID. */
int order_load(const char *path, struct order *o);
int order_save(const char *dir, const struct order *o);
/* The first half of a save: o written to an O_EXCL temporary in dir (name
 * in tmp), with mtime (0: now), fsynced and closed; the caller renames it
 * (commit.c) or unlinks it. */
int order_write_tmp(const char *dir, const struct order *o, time_t mtime, char *tmp,
		    size_t tmpsz);
/* Past its expiry at now? (0 expiry: never.) */
int order_expired(const struct order *o, time_t now);
/* Free text as orders write it (no control character survives) and back;
 * unescape returns NULL with err_set() on a bad escape. */
void order_text_escape(struct sbuf *b, const char *s);
char *order_text_unescape(const char *s, size_t len);

#endif
