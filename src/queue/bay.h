/*
 * bay.h - a shipping bay is the queue, and the queue is the file system.
 *
 * The state of an order is the directory its order file sits in; a state
 * change is one rename(2) of that file within the bay. The sealed packet
 * never moves: it stays in data/ID from acceptance to the end. Every
 * change is made by one of the verbs in commit.h, with its fsyncs inside.
 *
 * "Start-up" is bay_recover() when shipd starts; "sweep" is bay_sweep(),
 * which the running daemon also does every BAY_SWEEP_INTERVAL seconds.
 *
 *   BAY/tmp/         files being written. Start-up and sweep: removed once
 *                    their writer is gone or BAY_ORPHAN_AGE old.
 *   BAY/drop/DEST/   files operators drop for DEST. Start-up: picked up.
 *   BAY/data/ID      sealed packet of order ID. Start-up and sweep: removed
 *                    when no order names it and it is BAY_ORPHAN_AGE old (a
 *                    crash before acceptance), or at once when seen/ID says
 *                    the order was finished (a crash inside bay_finish).
 *   BAY/outgoing/ID  ready to send (or to deliver here). Start-up: kept.
 *   BAY/active/ID    claimed by a worker, which holds an flock on it for as
 *                    long as it works on it. Start-up and sweep: back to
 *                    outgoing/ when no live process holds that lock.
 *   BAY/deferred/ID  failed attempt, waiting; mtime = next attempt.
 *                    Start-up: kept (the queue manager retries when due).
 *                    mtime BAY_NEXT_POLL: held for the next poll (mkorder
 *                    -ship): only a poll (or shipctl retry) sends it.
 *   BAY/hold/ID      held by the operator (shipctl hold). Start-up: kept.
 *   BAY/joining/ID   a part addressed here, waiting for its siblings.
 *                    Start-up: kept; a part whose group has a receipt
 *                    (delivered already) is finished by the next join.
 *   BAY/partial/ID   a transfer being received, kept when the connection
 *                    drops so the next attempt resumes; counts toward
 *                    BAY-SIZE-LIMIT; purged after PARTIAL_MAX_IDLE idle.
 *                    Start-up: kept.
 *   BAY/inflight/ID  progress of a transfer being sent (volatile).
 *                    Start-up and sweep: records of dead processes removed.
 *   BAY/unpack/ID/   files of packet ID being extracted. Start-up: removed,
 *                    unless receipts/ID exists (then its moves finish).
 *   BAY/incoming/    delivered files, plaintext, names never overwritten.
 *   BAY/receipts/ID  the order of a packet delivered here (handler's
 *                    -actual): the commit point of a delivery, so a packet
 *                    (or a split packet's group) is opened here once.
 *                    receipts/ID.pending: its receipt handler must run again.
 *                    receipts/ID.owed: a second name of receipts/ID, whose
 *                    receipt to the origin is not queued yet (a packet a
 *                    receiver delivered itself). Start-up: queued then.
 *   BAY/return/ID    an expired order that came home (return bay). Purged
 *                    after RETURN_PURGE_DAYS. Start-up: kept.
 *   BAY/corrupt/ID   malformed orders and refused packets, with ID.why.
 *   BAY/seen/ID      packet ids accepted here: a second copy is acked, not
 *                    stored (exactly once). Purged after expiry + 14 days.
 *   BAY/done/ID      the history of an order that ended here (history.h):
 *                    when, how, by which route, and the destinations'
 *                    delivery receipts. Purged HISTORY-DAYS after its
 *                    last change. Start-up: kept.
 *
 * In every state directory, a ".tmp.PID.*" file is a write that has not
 * been committed: start-up and sweep remove it once PID is gone (or it is
 * BAY_ORPHAN_AGE old). So after a crash every leftover is gone within one
 * BAY_SWEEP_INTERVAL of the daemon running again.
 *
 * Nothing here knows about the network or the packet format.
 *
 * Layer src/queue/: bays, orders, recovery, progress records and the
 * commit verbs (commit.h) - the only code that names a spool directory or
 * commits a file into one. May call src/util/, src/crypto/ and src/conf/;
 * knows nothing of packets or the network.
 */
#ifndef SHIPD_BAY_H
#define SHIPD_BAY_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "../conf/config.h"
#include "order.h"

/* deferred/'s mtime for "at the next poll": 9999-12-31T23:59:59Z, a time
 * the daemon's own retries never reach; a poll tries every deferred order. */
#define BAY_NEXT_POLL	((time_t)253402300799LL)

/* Every directory of a bay: first the states an order can be in (an order
 * file sits in exactly one), then the others. */
enum qstate {
	Q_OUTGOING,
	Q_ACTIVE,
	Q_DEFERRED,
	Q_HOLD,
	Q_JOINING,
	Q_RETURN,
	Q_CORRUPT,
	Q_NSTATES,			/* the count of order states */
	Q_TMP = Q_NSTATES,
	Q_DROP,
	Q_DATA,
	Q_PARTIAL,
	Q_INFLIGHT,
	Q_UNPACK,
	Q_INCOMING,
	Q_RECEIPTS,
	Q_SEEN,
	Q_DONE,
	Q_NDIRS				/* the count of directories */
};

/* How views name an order whose file does not parse (not a directory). */
#define QSTATE_UNPARSED	"corrupt?"

/* The directory's name (every one), and the order state a name means. */
const char *qstate_name(enum qstate st);
int qstate_parse(const char *name, enum qstate *st);

/* Create every directory of a bay (mode 0700); an existing one that is
 * more open is tightened (BAY and incoming/ to at most 0750, drop/ to
 * 0770, the rest to 0700), logged with its path. -1 with err_set naming
 * the path. */
int bay_init(const char *bay);

/* bay_init once per process and bay: what a per-order path calls (a
 * receipt, a submission). A directory removed while the process runs is
 * made again only by a bay_init (start-up, reload, recovery), never here. */
int bay_ready(const char *bay);

/* BAY/DIR/NAME for any directory (name may be NULL for the directory). */
int bay_path(char *buf, size_t size, const char *bay, enum qstate st, const char *name);
int bay_data_path(char *buf, size_t size, const char *bay, const char *id);

/* Which state holds ID (-1 if none). */
int bay_find(const char *bay, const char *id, enum qstate *st);
/* Load BAY/STATE/ID; refuses an order whose id is not its file name. */
int bay_load(const char *bay, const char *id, enum qstate st, struct order *o);

/* Exactly-once bookkeeping: was ID accepted and finished here? */
int bay_seen(const char *bay, const char *id);
/* Is ID an order in any state here, or seen here (bay_find || bay_seen),
 * in three lookups when it is neither. */
int bay_known(const char *bay, const char *id);
/* Remove seen markers RETURN_PURGE_DAYS past their expiry (or past their
 * mtime + EXPIRATION when unknown); returns how many, -1 on error. */
int bay_purge_seen(const char *bay, time_t now);

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
/* Remove interrupted transfers (partial/) not touched since older_than. */
#define PARTIAL_MAX_IDLE	86400
int bay_purge_partial(const char *bay, time_t older_than);
/* The storage bay of a class with the most free space (its only one
 * without looking). */
const char *bay_choose(const struct sclass *cls);

/* Call fn for each order in a state (readdir order); stops if fn returns <0.
 * A state directory that does not exist holds nothing (returns 0). */
typedef int (*bay_scan_fn)(void *arg, const char *bay, enum qstate st,
			   const char *id, time_t mtime);
int bay_scan(const char *bay, enum qstate st, bay_scan_fn fn, void *arg);


/* What start-up recovery and the sweep did. */
struct recovery {
	int tmp_removed, active_requeued, data_orphans, unpack_removed, unpack_finished;
	int corrupted;			/* unparseable orders moved to corrupt/ */
};
/* Files in tmp/ and data/ are left alone until BAY_ORPHAN_AGE seconds
 * after their last change, so a concurrent `shipctl submit` is not raced. */
#define BAY_ORPHAN_AGE	60
/* Start-up recovery of every leftover state (see the table above). */
int bay_recover(const char *bay, struct recovery *r);
/*
 * The running daemon's sweep, every BAY_SWEEP_INTERVAL seconds: the
 * leftovers of writers that are gone (temporaries, tmp/ files), data/ of
 * finished or never-accepted orders, progress records of dead processes,
 * and active/ orders no live worker holds (its flock) go back to outgoing/
 * - unless busy(arg, bay, id) says the caller still has the order in hand
 * (busy may be NULL). Requeued ids are added to requeued (may be NULL).
 * Safe while workers run: it never touches what a live process holds.
 */
#define BAY_SWEEP_INTERVAL	30
typedef int (*bay_busy_fn)(void *arg, const char *bay, const char *id);
int bay_sweep(const char *bay, bay_busy_fn busy, void *arg, struct strv *requeued,
	      struct recovery *r);

/* Every distinct bay directory of the configuration (storage and return). */
void bay_all(const struct config *cf, struct strv *out);
/* Which bay (copied to bay) and state holds ID, over every bay of cf. */
int bay_locate(const struct config *cf, const char *id, char *bay, size_t size,
	       enum qstate *st);

/* Back-off for the nth attempt: RETRY-MIN doubled per attempt, clamped to
 * [retry_min, retry_max]. */
int bay_backoff(const struct config *cf, int attempts);

#endif
