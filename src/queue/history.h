/*
 * history.h - what a node remembers of an order after it ended here: a
 * small versioned text record in BAY/done/ID, kept HISTORY-DAYS after
 * its last change and purged by the daemon's sweep.
 *
 *   version: 1
 *   id: 20261206T061500Z-A-1a2b3c4d
 *   group: ...            parts: N          the logical packet
 *   origin: A             class: -default   size: BYTES   created: T
 *   name: FILE            (the origin and the destinations know it)
 *   role: origin | relay | destination
 *   from: R               the hop it came from (not at the origin)
 *   ended: T              result: sent | forwarded | delivered | returned
 *   why: TEXT             (returned: the reason)
 *   to: DEST VIA T        handed over for DEST to next hop VIA at T
 *   receipt: DEST T ROUTE NAME
 *                         DEST delivered it at T (its signed receipt, or
 *                         this node itself), having come by ROUTE
 *                         (nodes joined by ","), as NAME
 *   end
 *
 * A record is changed only by hist_update: read, changed, written whole
 * with safe_write (O_EXCL temporary, fsync, rename, directory fsync),
 * under an flock of done/ so that two processes (the end of an order and
 * a receipt arriving) never lose each other's change. Anything that does
 * not parse is refused, never guessed at.
 *
 * Layer src/queue/: names the done/ directory; knows nothing of packets
 * or the network.
 */
#ifndef SHIPD_HISTORY_H
#define SHIPD_HISTORY_H

#include <stdint.h>
#include <time.h>
#include "../conf/config.h"
#include "order.h"

#define HIST_VERSION	1
#define HIST_MAX_LINES	256	/* to: and receipt: lines each (PKT_MAX_DESTS) */

struct hist_to {
	char *dest, *via;
	time_t at;
};

struct hist_receipt {
	char *dest;
	time_t at;
	char *route;			/* "A,R,C" or "-" when unknown */
	char *name;			/* delivered as; NULL when unknown */
};

struct history {
	char id[ORDER_ID_MAX];
	char *group;
	int nparts;
	char *origin, *sclass, *name;
	uint64_t size;
	time_t created;
	char *role;			/* "origin", "relay", "destination"; NULL: unknown */
	char *from;			/* the hop it came from, or NULL */
	time_t ended;			/* 0: has not ended here (yet) */
	char *result;			/* with ended */
	char *why;			/* or NULL */
	struct hist_to *to;
	int nto;
	struct hist_receipt *rcpt;
	int nrcpt;
};

void hist_init(struct history *h, const char *id);
void hist_free(struct history *h);
/* Parse and format; parse returns -1 with err_set("line N: ...") on malformation. */
int hist_parse(const char *buf, size_t len, struct history *h);
char *hist_format(const struct history *h, size_t *len);

/* Fill what o says (group, origin, class, name, size, created, role and
 * the hop it came from, as seen by node self) where h has nothing yet. */
void hist_from_order(struct history *h, const struct order *o, const char *self);
/* Set DEST's to: line (replacing an older one). */
void hist_set_to(struct history *h, const char *dest, const char *via, time_t at);
/* Add DEST's receipt: 1 added, 0 DEST had one already (the first stays). */
int hist_add_receipt(struct history *h, const char *dest, time_t at, const char *route,
		     const char *name);
const struct hist_receipt *hist_receipt_of(const struct history *h, const char *dest);
const struct hist_to *hist_to_of(const struct history *h, const char *dest);

/* A route: node names joined by ",", or "-" for unknown. */
int hist_route_ok(const char *s);

/* The order ids one delivery of order id stands for: id itself, or every
 * part's id of a split packet (GROUP.pKofM with id's journey suffix). */
void hist_ids(const char *id, struct strv *ids);

/* Load BAY/done/ID: 0, 1 when there is none, -1 (err_set naming the path). */
int hist_load(const char *bay, const char *id, struct history *h);
/*
 * Change BAY/done/ID under the lock: fn gets the record (a new one, with
 * only its id, when there is none; exists says which) and returns 0 to
 * write it, 1 to leave it as it was, -1 to fail (err_set). -1 also when
 * the record does not parse or cannot be written; nothing half-written
 * is ever left under the final name.
 */
typedef int (*hist_fn)(void *arg, struct history *h, int exists);
int hist_update(const char *bay, const char *id, hist_fn fn, void *arg);
/* The same with done/'s fsync left to g (commit.h), for a batch of
 * records that one bay_group_sync makes durable; g NULL: at once. */
struct bay_group;
int hist_update_group(const char *bay, const char *id, hist_fn fn, void *arg,
		      struct bay_group *g);

/* o ended here, at node cf->node: its record gets when, the result (NULL:
 * what its role did: "sent", "forwarded", "delivered") and why, and a
 * to: line for each destination in o->delivered, by cf's next hop. With
 * g, done/'s fsync is left to it (hist_update_group). */
int hist_end(const struct config *cf, const char *bay, const struct order *o, const char *result,
	     const char *why, struct bay_group *g);

/* Which of cf's bays holds done/ID (copied to bay): 0, or -1. */
int hist_locate(const struct config *cf, const char *id, char *bay, size_t size);
/* The ids recorded in bay's done/, sorted. */
int hist_list(const char *bay, struct strv *ids);
/* Remove records not changed since older_than; returns how many, -1 on error. */
int bay_purge_history(const char *bay, time_t older_than);

#endif
