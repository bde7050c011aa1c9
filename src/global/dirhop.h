/*
 * dirhop.h - shipping without a network: a directory as a next hop
 * (NNCP's nncp-xfer, MultiSite's "File-Based Methods").
 *
 * The medium (a shared disk, an FTP drop, a USB drive, a tape's staging
 * area) holds, per packet handed over:
 *
 *   ID.pkt    the sealed packet, byte for byte as the bay holds it
 *   ID.env    its hop envelope: this hop (from), the next hop (to), the
 *             order as the next hop gets it, the packet's size and
 *             SHA-256; signed with this node's Ed25519 key. Written last:
 *             an envelope names a complete packet.
 *   ID.rcpt   a receipt, written back by the importer (from = importer,
 *             to = exporter): the destinations it took custody of.
 *             Signed the same way. The exporter imports it to close the
 *             order.
 *   refused/  what an import refused: NAME with NAME.why.
 *
 * Every file is written under a ".tmp." name, fsynced, renamed, and the
 * directory fsynced; names starting with '.' are never read. The size
 * limit (PEER ... dir:PATH LIMIT) bounds the medium: what does not fit
 * waits (a temporary failure naming the limit).
 *
 * Import takes an envelope addressed to this node only when it verifies
 * (its signer must be a PEER), and its packet only when it is complete
 * (the size and digest the envelope states) and passes every check the
 * network receiver applies (accept.h, the packet verifier); it commits
 * with bay_accept, so a packet is stored here once however often it is
 * imported. A packet still being copied is left for later; anything
 * tampered with, unknown, a symlink or FIFO is moved to refused/ with a
 * .why. Files addressed to other nodes are left alone.
 *
 * Layer src/global/: shared by the daemon (sender.c, the IMPORT-DIR
 * watch) and shipctl (export, import). Changes a bay only through
 * commit.h; never touches the network.
 */
#ifndef SHIPD_DIRHOP_H
#define SHIPD_DIRHOP_H

#include <stdint.h>
#include <time.h>
#include "../conf/config.h"
#include "../crypto/keys.h"
#include "../queue/order.h"

#define DIRHOP_PKT	".pkt"
#define DIRHOP_ENV	".env"
#define DIRHOP_RCPT	".rcpt"
#define DIRHOP_REFUSED	"refused"
#define DIRHOP_ENV_MAX	(1024 * 1024)	/* a larger envelope is refused */

/*
 * The order as handed to the next hop: only its destinations, fresh
 * counters, and nothing about what is inside (the file's name, comment,
 * source and export records stay in the origin's own order). Allocated.
 */
char *dirhop_hop_order_text(const struct order *o, const struct strv *dests);

/*
 * Write order o's packet (data/ID of bay) and its signed envelope for next
 * hop `to` into dir, crash-safe. limit (0: none) bounds the bytes the
 * directory may hold. A packet whose envelope is there already with the
 * same digest is not written again. Returns 0 on the medium, -1 when not
 * now (*why allocated: medium full, not mounted, I/O error).
 */
int dirhop_export(const struct config *cf, const struct keys *me, const char *bay,
		  const struct order *o, const struct strv *dests, const char *to,
		  const char *dir, uint64_t limit, char **why);

/* Record in o that dests went to `to` now (custody stays here). */
void dirhop_mark_exported(struct order *o, const struct strv *dests, const char *to, time_t now);
/* Are all of o's remaining destinations exported (waiting for receipts)? */
int dirhop_all_exported(const struct order *o);

/*
 * Remove what writers that crashed left in dir: ".tmp.*" files not
 * modified for DIRHOP_TMP_AGE seconds (a live writer keeps its temporary
 * fresh; the writer may be another host sharing the medium, so its PID
 * tells nothing). Export and import both call it.
 */
#define DIRHOP_TMP_AGE	60
void dirhop_sweep_tmp(const char *dir);

struct import_stats {
	int taken;			/* packets accepted into a bay */
	int had;			/* packets accepted before: acknowledged, removed */
	int receipts;			/* receipts that closed (part of) an order */
	int refused;			/* files moved to refused/ */
	int waiting;			/* incomplete, busy or no room: left for later */
};

/*
 * Import everything in dir addressed to this node: packets (then a receipt
 * is written back into dir) and receipts for orders exported from here.
 * once(key) as in accept.h (may be NULL). Returns 0 (see st), -1 when the
 * directory cannot be read.
 */
int dirhop_import(const struct config *cf, const struct keys *me, const char *dir,
		  int (*once)(const char *key), struct import_stats *st);

#endif
