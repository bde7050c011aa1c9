/*
 * bay.h - a shipping bay is the queue, and the queue is the file system.
 *
 * The state of an order is the directory its order file sits in; a state
 * change is one rename(2) of that file within the bay (safe_rename). The
 * sealed packet never moves: it stays in data/ID from acceptance to the end.
 *
 *   BAY/tmp/         files being written. Start-up: removed.
 *   BAY/drop/DEST/   files operators drop for DEST. Start-up: picked up.
 *   BAY/data/ID      sealed packet of order ID. Start-up: removed if no order
 *                    names it (a crash before acceptance).
 *   BAY/outgoing/ID  ready to send (or to deliver here). Start-up: kept.
 *   BAY/active/ID    claimed by a worker. Start-up: back to outgoing/.
 *   BAY/deferred/ID  failed attempt, waiting; mtime = next attempt.
 *                    Start-up: kept (the queue manager retries when due).
 *   BAY/hold/ID      held by the operator (shipctl hold). Start-up: kept.
 *   BAY/joining/ID   a part addressed here, waiting for its siblings.
 *                    Start-up: kept.
 *   BAY/partial/ID   a transfer being received, kept when the connection
 *                    drops so the next attempt resumes; counts toward
 *                    BAY-SIZE-LIMIT; purged after PARTIAL_MAX_IDLE idle.
 *                    Start-up: kept.
 *   BAY/inflight/ID  progress of a transfer being sent (volatile).
 *                    Start-up: records of dead processes removed.
 *   BAY/unpack/ID/   files of packet ID being extracted. Start-up: removed,
 *                    unless receipts/ID exists (then its moves finish).
 *   BAY/incoming/    delivered files, plaintext, names never overwritten.
 *   BAY/receipts/ID  the order of a packet delivered here (handler's -actual).
 *   BAY/return/ID    an expired order that came home (return bay). Purged
 *                    after RETURN_PURGE_DAYS. Start-up: kept.
 *   BAY/corrupt/ID   malformed orders and refused packets, with ID.why.
 *   BAY/seen/ID      packet ids accepted here: a second copy is acked, not
 *                    stored (exactly once). Purged after expiry + 14 days.
 *
 * Nothing here knows about the network or the packet format.
 *
 * Layer src/queue/: bays, orders, recovery, progress records - the only
 * code that names a spool directory or commits a file into one. May call
 * src/util/, src/crypto/ and src/conf/; knows nothing of packets or the
 * network.
 */
#ifndef SHIPD_BAY_H
#define SHIPD_BAY_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "../conf/config.h"
#include "order.h"

enum qstate {
	Q_OUTGOING,
	Q_ACTIVE,
	Q_DEFERRED,
	Q_HOLD,
	Q_JOINING,
	Q_RETURN,
	Q_CORRUPT,
	Q_NSTATES
};

const char *qstate_name(enum qstate st);
int qstate_parse(const char *name, enum qstate *st);

/* Create every state directory of a bay (mode 0700); an existing one that
 * is more open is tightened (BAY and incoming/ to at most 0750, drop/ to
 * 0770, the rest to 0700), logged with its path. -1 with err_set naming the path. */
int bay_init(const char *bay);

/* BAY/STATE/ID (id may be NULL for the directory itself). */
int bay_path(char *buf, size_t size, const char *bay, enum qstate st, const char *id);
int bay_data_path(char *buf, size_t size, const char *bay, const char *id);

/* Move order ID from one state to another: one durable rename. */
int bay_move(const char *bay, const char *id, enum qstate from, enum qstate to);
/* Which state holds ID (-1 if none). */
int bay_find(const char *bay, const char *id, enum qstate *st);
/* BAY/SUB/ID for the directories that are not states (tmp, drop, data,
 * unpack, incoming, receipts, seen); id may be NULL. */
int bay_subpath(char *buf, size_t size, const char *bay, const char *sub, const char *id);
/* Load BAY/STATE/ID; refuses an order whose id is not its file name. */
int bay_load(const char *bay, const char *id, enum qstate st, struct order *o);
/* Move to corrupt/ and write ID.why with the reason; logs one line. */
void bay_corrupt(const char *bay, const char *id, enum qstate from, const char *why);

/* Exactly-once bookkeeping. */
int bay_seen(const char *bay, const char *id);
int bay_mark_seen(const char *bay, const char *id);		/* expiry unknown */
int bay_mark_seen_until(const char *bay, const char *id, time_t expires);
/* Remove seen markers RETURN_PURGE_DAYS past their expiry (or past their
 * mtime + EXPIRATION when unknown); returns how many, -1 on error. */
int bay_purge_seen(const char *bay, time_t now);
/* All work on ID is done: mark seen, remove data/ID and the order file. */
int bay_finish(const char *bay, const char *id, enum qstate from);
/* Drop an order and its data without marking it seen (shipctl rm). */
int bay_remove(const char *bay, const char *id, enum qstate from);
/* Make data/ID exist in to_bay too (link, or copy + fsync across file
 * systems); the caller unlinks the source once the new order is saved. */
int bay_link_data(const char *from_bay, const char *to_bay, const char *id);
/* The same, giving the data a new order id in to_bay (returns, resubmits). */
int bay_link_data_as(const char *from_bay, const char *from_id, const char *to_bay,
		     const char *to_id);

/*
 * Space: 0 if a packet of size bytes fits under the bay size limit and the
 * free-disk floor, else -1 with err_set("bay full: ...").
 */
int bay_space_ok(const struct config *cf, const char *bay, uint64_t size);
/*
 * The same for a packet that is also opened here: the free-disk floor must
 * hold size plus unpacked bytes for its contents (the unpacked files live
 * in unpack/ and incoming/, outside BAY-SIZE-LIMIT, which counts size only).
 */
int bay_room_ok(const struct config *cf, const char *bay, uint64_t size, uint64_t unpacked);
/* Bytes under data/, tmp/ and partial/ (what BAY-SIZE-LIMIT bounds). */
int bay_usage(const char *bay, uint64_t *bytes);
/* Remove interrupted transfers (partial/) not touched since older_than. */
#define PARTIAL_MAX_IDLE	86400
int bay_purge_partial(const char *bay, time_t older_than);
/* The storage bay of a class with the most free space. */
const char *bay_choose(const struct sclass *cls);

/* Call fn for each order in a state (readdir order); stops if fn returns <0.
 * A state directory that does not exist holds nothing (returns 0). */
typedef int (*bay_scan_fn)(void *arg, const char *bay, enum qstate st,
			   const char *id, time_t mtime);
int bay_scan(const char *bay, enum qstate st, bay_scan_fn fn, void *arg);

/* Start-up recovery of every leftover state (see the table above). */
struct recovery {
	int tmp_removed, active_requeued, data_orphans, unpack_removed, unpack_finished;
	int corrupted;			/* unparseable orders moved to corrupt/ */
};
/* Files in tmp/ and data/ are left alone until BAY_ORPHAN_AGE seconds
 * after their last change, so a concurrent `shipctl submit` is not raced. */
#define BAY_ORPHAN_AGE	60
int bay_recover(const char *bay, struct recovery *r);
/* While running: remove the safe_write temporaries of dead writers (and
 * any older than BAY_ORPHAN_AGE) in the state directories; returns how many. */
int bay_sweep_temporaries(const char *bay);
/*
 * Delivery's last step (and recovery's, when receipts/ID exists): move
 * every entry of unpack/ID/ into incoming/, never overwriting (a clash
 * becomes NAME_1, NAME_2, ...), then remove unpack/ID. Final names are
 * added to names (may be NULL). Idempotent: safe to rerun after a crash.
 */
int bay_unpack_finish(const char *bay, const char *id, struct strv *names);

/* Every distinct bay directory of the configuration (storage and return). */
void bay_all(const struct config *cf, struct strv *out);
/* Which bay (copied to bay) and state holds ID, over every bay of cf. */
int bay_locate(const struct config *cf, const char *id, char *bay, size_t size,
	       enum qstate *st);

/* Defer: set attempts/last_error/next_attempt, save, move to deferred/ with mtime. */
int bay_defer(const struct config *cf, const char *bay, struct order *o,
	      enum qstate from, const char *why);
/* Back-off for the nth attempt, clamped to [retry_min, retry_max]. */
int bay_backoff(const struct config *cf, int attempts);

#endif
