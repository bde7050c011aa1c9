/*
 * commit.h - the queue's verbs: every change to what a bay holds is one of
 * these, with its fsyncs inside (the state table is in bay.h). The daemon
 * and shipctl never rename, link or unlink in a bay themselves.
 *
 *   enqueue          a new order and its packet (submit, resubmit, returns)
 *   claim            a worker takes an order into active/, locked
 *   rewrite, move    an order changes content and/or state (hold, release,
 *                    retry, waiting in joining/)
 *   defer            a failed attempt: deferred/ with the next try as mtime
 *   partial, accept  receive a packet into partial/, then commit a batch of
 *                    them into data/ + outgoing/ under one round of fsyncs
 *   deliver, join    open a packet (or a split packet's parts) here: the
 *                    receipt is the commit point, exactly once
 *   corrupt          keep a bad order or file in corrupt/ with its .why
 *   finish, remove   the end of an order (seen marker or not)
 *
 * A worker that handles a batch of orders groups their claims and their
 * finishes in a commit group (bay_group): every rename first, then one
 * fsync of each directory touched, so one round of fsyncs covers the batch.
 *
 * Each returns 0 on success and -1 with err_set() when a step failed.
 * Whatever a failure (or a crash) leaves is something bay_recover() or the
 * next bay_sweep() takes up again: never an order without its data, never
 * two copies of one order, never a half-written file under a final name.
 */
#ifndef SHIPD_COMMIT_H
#define SHIPD_COMMIT_H

#include "bay.h"

/* Temporary failure (full disk, I/O): nothing was lost, try again later. */
#define BAY_LATER	(-2)
/* Another process holds it right now. */
#define BAY_BUSY	(-3)

/*
 * Enqueue order o in state st (outgoing/, return/, hold/, or deferred/ with
 * o->next_attempt as its mtime: BAY_NEXT_POLL holds it for a poll) of bay with its
 * sealed packet: tmp is the sealed file in the bay (renamed to data/ID
 * first), or NULL when data/ID is already there. On failure nothing is
 * queued and tmp is removed.
 */
int bay_enqueue(const char *bay, const struct order *o, enum qstate st, const char *tmp);
/*
 * bay_enqueue of n orders with their sealed packets tmp[i] (in the bay),
 * under one round of directory fsyncs: data/ once for every packet, then
 * st/ once for every order (a multi-file submission: two directory fsyncs
 * for the group, not two per file). ok[i] is set to 1 for each order
 * queued. 0 when all are; -1 with err_set() when any is not: those have
 * neither their tmp[i] nor data/ID left. A failure stops the steps at
 * that order, so the orders queued are usually a prefix; only a failed
 * fsync of st/ can leave others (claimed by a worker meanwhile).
 */
int bay_enqueue_all(const char *bay, const struct order *const *o, const char *const *tmp, int n,
		    enum qstate st, char *ok);
/*
 * The same with the packet of from_bay's order from_id: data/ID is linked
 * (or copied with fsync across file systems) first. The source is left to
 * the caller, who finishes or removes it once this returned 0.
 */
int bay_enqueue_from(const char *from_bay, const char *from_id, const char *bay,
		     const struct order *o, enum qstate st);

/*
 * An order a worker holds: in active/ with an flock on its file, so that
 * recovery and the sweep leave it alone for as long as the lock lives
 * (until bay_release, or the process's death).
 */
struct claim {
	const char *bay;
	char id[ORDER_ID_MAX];
	int lock;			/* fd holding the flock, -1 when none */
};
/* Claim ID from state from: 0 claimed, 1 gone or held by someone else
 * (nothing to do), -1 on error. The lock is taken before the rename, so a
 * claimed order is never in active/ unlocked. */
int bay_claim(struct claim *c, const char *bay, const char *id, enum qstate from);

/*
 * A commit group: the directories some verbs renamed in, not yet fsynced.
 * bay_group_sync fsyncs each of them once (and forgets them); until it
 * returned 0 a crash may undo any of those verbs (each one whole, never
 * half). So the caller syncs before it tells anyone what they did, and
 * before any other verb on the same orders (a rewrite or finish made
 * durable before the claim it follows could leave an order in two
 * states). Zeroed ({0}) is empty. -1 when a fsync failed (every directory
 * is still tried, and forgotten).
 */
#define BAY_GROUP_DIRS	8
struct bay_group {
	int n;
	char *dir[BAY_GROUP_DIRS];
};
int bay_group_sync(struct bay_group *g);
/* bay_claim with its renames left to g: nothing is durable before
 * bay_group_sync(g); a failed sync leaves claimed orders for the sweep. */
int bay_claim_group(struct claim *c, const char *bay, const char *id, enum qstate from,
		    struct bay_group *g);
/* bay_load of the claimed order in active/, read through the claim's lock
 * (the file locked is the file claimed): no path walked, nothing opened.
 * Without a lock, bay_load. Errors name active/ID. */
int bay_load_claimed(const struct claim *c, struct order *o);
/* Drop the lock; the order stays where it is (in active/ the sweep takes it). */
void bay_release(struct claim *c);
/* An order in active/ that no live process holds (its worker died) goes
 * back to outgoing/: 0 moved, 1 still held or not there, -1 on error. */
int bay_requeue(const char *bay, const char *id);

/*
 * Write o over its file in state from (mtime = mtime, or now when 0), then
 * move it to `to` (may be from). A crash leaves one order, old or new. With
 * c, the claim's lock moves to the new file: it is never unlocked. Without
 * c (an operator's verb) it fails when the order left `from` meanwhile (the
 * daemon claimed it): never an order put back without its data.
 */
int bay_rewrite(const char *bay, const struct order *o, enum qstate from, enum qstate to,
		time_t mtime, struct claim *c);
/* Move order ID from one state to another: one durable rename. */
int bay_move(const char *bay, const char *id, enum qstate from, enum qstate to);
/*
 * A failed attempt: count it, record why, and move the order to deferred/
 * with its next attempt (bay_backoff) as mtime. When the new record cannot
 * be written (a full disk), the old one is deferred as it is; when not even
 * that works, -1 and the order stays in `from` for the sweep.
 */
int bay_defer(const struct config *cf, const char *bay, struct order *o,
	      enum qstate from, const char *why);

/*
 * Receiving: open (or resume) partial/ID for a packet of size bytes, locked
 * against a second transfer of the same packet. Returns the fd, positioned
 * nowhere in particular, with *off the bytes already there (0: start
 * afresh, truncated); BAY_BUSY when another transfer holds it, -1 on error.
 */
int bay_partial_open(const char *bay, const char *id, uint64_t size, uint64_t *off);
/*
 * Reserve on disk the bytes still to come, off up to size (fallocate; the
 * file's size does not change): the free space others see shrinks at once,
 * not as the bytes arrive. 0 (also where the file system cannot reserve);
 * -1 with err_set "bay full: ..." when the disk has no room for them.
 */
int bay_partial_reserve(const char *bay, const char *id, int fd, uint64_t off, uint64_t size);
/*
 * A relay's cut-through reads partial/ID while it is received (follow.c):
 * bay_partial_follow opens it read-only (or data/ID, once committed: the
 * same file), or -1; bay_partial_receiving(fd) is 1 while a receiver holds
 * the transfer's lock, 0 once none does (it ended: committed or broken).
 */
int bay_partial_follow(const char *bay, const char *id);
int bay_partial_receiving(int fd);
/*
 * Sealing while sending (follow.c): an origin that seals packet ID into
 * tmp/NAME (its header written first, the file growing in order) holds
 * an exclusive flock on it until the order is committed (or the seal
 * failed), and announces it with tmp/ID.early, which says NAME and the
 * order it is to commit (bay_early_announce; bay_early_withdraw removes
 * it, the sweep too once BAY_ORPHAN_AGE old). The daemon reads the
 * notice (bay_early_read: *name and the order text, malloc'd), follows
 * the file (bay_early_follow: tmp/NAME, or data/ID once committed: one
 * inode), sees whether the sealer still works (bay_partial_receiving on
 * that fd) and whether the order is committed with exactly that file
 * (bay_early_committed: 1 outgoing/ID exists and data/ID is fd's file;
 * 0 not yet; -1 another file was committed, or fd is unusable).
 */
#define BAY_EARLY_SUFFIX	".early"
int bay_early_announce(const char *bay, const char *id, const char *name, const char *order);
void bay_early_withdraw(const char *bay, const char *id);
int bay_early_read(const char *bay, const char *notice, char **id, char **name, char **order);
int bay_early_follow(const char *bay, const char *name, const char *id);
int bay_early_committed(const char *bay, const char *id, int fd);
/* Forget what was received of ID (not worth resuming). */
void bay_partial_drop(const char *bay, const char *id);
/* Keep a refused transfer as corrupt/ID.pkt with ID.pkt.why. */
int bay_partial_corrupt(const char *bay, const char *id, const char *why);
/*
 * Accept n received packets (each order's partial/ID, fsynced by the
 * caller) as one group commit: every partial/ID becomes data/ID, data/
 * made durable, then every order is written into outgoing/, outgoing/ made
 * durable: three directory fsyncs for the batch. 0 when all are accepted;
 * -1 when none is (each partial/ID kept to resume, except an order a
 * running daemon already claimed, which lives on with its data).
 */
int bay_accept(const char *bay, const struct order *const *o, int n);

/*
 * Deliver here, exactly once. key names the delivery (the packet id, or a
 * split packet's group); o is what receipts/KEY will hold, read once
 * extract has run (which may fill in what only the opened packet says,
 * through arg). Unless
 * receipts/KEY exists (delivered before a crash: only the moves are left),
 * unpack/KEY/ is emptied and extract(arg, paths, n, dir, names) writes the
 * packet's files into it (0, BAY_REFUSED for a bad packet, BAY_LATER for a
 * local failure); then receipts/KEY is written (the commit point) and every
 * file moves into incoming/ (bay_unpack_finish). The final names are added
 * to finals (may be NULL).
 *
 * Returns 0 delivered now, 1 delivered before, BAY_REFUSED (nothing kept),
 * BAY_LATER (nothing delivered, or committed with the moves still to do:
 * either way the caller keeps the order and tries again).
 */
#define BAY_REFUSED	(-1)
typedef int (*bay_extract_fn)(void *arg, const char *const *paths, int n, const char *dir,
			      struct strv *names);
int bay_deliver(const char *bay, const char *key, const struct order *o,
		const char *const *paths, int n, bay_extract_fn extract, void *arg,
		struct strv *finals);
/*
 * Many deliveries committed together (shipd/rstream.c: the small packets
 * a receiver's window brought), one fsync of each directory for the
 * group instead of one per delivery. bay_deliver_held is bay_deliver (no
 * paths: extract reads its own input) up to the receipt, which is
 * written and fsynced but not made durable in receipts/, and nothing
 * moves; it returns as bay_deliver, and on 0 leaves *lock (unpack/KEY's,
 * see below) to the caller, with the names extracted added to names; the
 * caller keeps both, and every other delivery of KEY away (its partial/
 * lock), until the group is committed:
 *   1. bay_dir_sync of unpack/, then of receipts/: the group's commit
 *      point (before it, a crash leaves unpack/KEY without its receipt,
 *      thrown away, and nothing was acknowledged);
 *   2. bay_unpack_move of each KEY: bay_unpack_finish of the names
 *      extracted (NULL: listed), without its fsyncs, its lock closed;
 *      then bay_dir_sync of incoming/ (before it, a crash leaves the
 *      receipt: recovery moves the files again);
 *   3. bay_deliver_seen(..., 0) of each, then bay_dir_sync of seen/.
 * bay_dir_sync: fsync BAY's directory of state st, 0 or -1.
 */
int bay_deliver_held(const char *bay, const char *key, const struct order *o,
		     bay_extract_fn extract, void *arg, int *lock, struct strv *names);
int bay_unpack_move(const char *bay, const char *key, const struct strv *names,
		    struct strv *finals);
int bay_dir_sync(const char *bay, enum qstate st);
/*
 * A packet delivered while it was received (shipd/rstream.c) has no order
 * here to finish: once its receipt is committed, this writes its seen/ID
 * marker (expiring with the packet), so that another offer of ID is
 * answered HAVE; sync: seen/ fsynced (else the caller's, bay_dir_sync).
 * Idempotent; the receipt must exist (else -1), unless sync has
 * BAY_SEEN_RECEIPTED: the caller committed it itself, nothing looks.
 */
#define BAY_SEEN_RECEIPTED	2
int bay_deliver_seen(const char *bay, const char *id, time_t expires, int sync);
/* Was KEY delivered here (receipts/KEY)? */
int bay_delivered(const char *bay, const char *key);
/* Does a live delivery hold unpack/KEY (its lock: bay_deliver_held's
 * until its group is committed)? 1 yes, 0 no (or no such directory). */
int bay_unpack_busy(const char *bay, const char *key);
/*
 * The last step of a delivery (and recovery's, when receipts/KEY exists):
 * move every entry of unpack/KEY/ into incoming/, never overwriting (a
 * clash becomes NAME_1, NAME_2 ...; a name too long for that is shortened
 * first, so it fits NAME_MAX), then remove unpack/KEY. Any entry it cannot
 * place is a failure (-1), never a silent success. Idempotent.
 */
int bay_unpack_finish(const char *bay, const char *key, struct strv *names);

/*
 * Join split packet GROUP of m parts addressed here. self is the caller's
 * own part, already claimed (or NULL for a join worker). The other parts
 * are claimed from joining/ (each locked while held); all there: delivered
 * as one (bay_deliver, paths in part order, receipts/GROUP holding
 * receipt), then every claimed part is finished. When GROUP was
 * delivered before (a crash after its commit point), the parts found are
 * only finished. Returns 0 delivered (now or before), 1 not all parts here
 * (nothing changed), BAY_REFUSED (the claimed parts go to corrupt/),
 * BAY_LATER (the claimed parts go back to joining/).
 */
#define BAY_JOIN_MAX	99999	/* parts of one split packet (the packet format's bound) */
int bay_join(const char *bay, const char *group, int m, const struct order *self,
	     const struct order *receipt, bay_extract_fn extract, void *arg,
	     struct strv *finals);

/* The receipt handler of KEY must run again (pending) or has run (clear);
 * bay_pending_scan calls fn for each pending one with the delivered file. */
int bay_pending_set(const char *bay, const char *key, const char *file);
void bay_pending_clear(const char *bay, const char *key);
void bay_pending_scan(const char *bay, void (*fn)(void *arg, const char *key,
						  const char *file), void *arg);

/*
 * A receipt owed to KEY's origin, kept on disk until it is queued (a
 * receiver delivers without an order that could owe it again): set marks
 * receipts/KEY (delivered) as owed, durable once bay_owed_sync fsynced
 * receipts/ (before the delivery is acknowledged); clear once the receipt
 * is queued. bay_owed_scan calls fn for every mark whose mtime is at or
 * before `older` with the receipt's order and that time; returns how
 * many, or -1. A mark that does not hold a receipt is removed (logged).
 */
int bay_owed_set(const char *bay, const char *key);
/* The receipt a mark holds, and when it was marked: 0, or -1 (gone) */
int bay_owed_load(const char *bay, const char *key, struct order *o, time_t *at);
int bay_owed_sync(const char *bay);
void bay_owed_clear(const char *bay, const char *key);
int bay_owed_scan(const char *bay, time_t older,
		  void (*fn)(void *arg, const char *key, const struct order *o, time_t at),
		  void *arg);

/* Move to corrupt/ and write ID.why with the reason; logs one line. */
void bay_corrupt(const char *bay, const char *id, enum qstate from, const char *why);
/* A file that is not an order (a refused drop, a refused transfer): moved
 * to corrupt/NAME with NAME.why, both directories fsynced. */
int bay_corrupt_file(const char *bay, const char *path, const char *name, const char *why);

/*
 * All work on ID is done: seen/ID written (with its expiry), the order
 * file removed, then data/ID. Idempotent: safe to rerun after a crash.
 */
int bay_finish(const char *bay, const char *id, enum qstate from);
/*
 * bay_finish of n orders, all in state from, under one round of fsyncs:
 * every seen/ID, seen/ fsynced; every order unlinked, from's directory
 * fsynced; every data/ID unlinked. 0 when all are finished; -1 when any
 * is not (what it left is queued still, or finished: rerun is safe).
 */
int bay_finish_all(const char *bay, const char *const *ids, int n, enum qstate from);
/*
 * bay_finish_all of orders whose expiry the caller holds (it loaded them):
 * expires[i] is ids[i]'s, written into its seen marker without reading
 * the order file again.
 */
int bay_finish_known(const char *bay, const char *const *ids, const time_t *expires, int n,
		     enum qstate from);
/* Drop an order and its data without marking it seen (shipctl rm). */
int bay_remove(const char *bay, const char *id, enum qstate from);

#endif
