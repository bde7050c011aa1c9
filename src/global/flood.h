/*
 * flood.h - spreading what every node that trusts an authority must know
 * through the shipping network itself: revocation lists and
 * certificates travel as small control packets of their own kind (the
 * signed header's "kind:"), one per neighbour, queued like any order and
 * sealed again by each node that passes them on. A node passes on only
 * what was news to it (a newer list, a certificate it did not have), so a
 * flood ends after one pass over every link, whatever the topology.
 *
 * Shared by the daemon (src/shipd/control.c: dispatch at the destination,
 * what a handshake or a header taught) and shipctl (authority install).
 *
 * Layer src/global/: may call every layer below; never opens a connection
 * (a flood goes out through the queue like every packet).
 */
#ifndef SHIPD_FLOOD_H
#define SHIPD_FLOOD_H

#include "../conf/config.h"
#include "../crypto/cert.h"
#include "../crypto/keys.h"
#include "../util/mem.h"

#define FLOOD_REVOCATION	"revocation"	/* body: one revocation list */
#define FLOOD_CERTS		"certs"		/* body: certificate tokens, one a line */
#define FLOOD_CERTS_MAX		(1024 * 1024)	/* a larger certs body is refused */

/*
 * The neighbours to tell: every PEER with an address, and every node a
 * pattern PEER stands for that this node holds a certificate of; never
 * this node, never `except` (the one it came from; NULL: none).
 */
void flood_targets(const struct config *cf, const char *except, struct strv *out);

/* Leave out of to the neighbours whose certificate or pinned key rl revokes. */
void flood_drop_revoked(const struct config *cf, const struct revlist *rl, struct strv *to);

/*
 * Queue one packet of `kind` holding data (len bytes, named `name` inside)
 * for each node in `to`; returns how many were queued. A neighbour whose
 * key is not known yet is skipped with a log line: it gets the news with
 * the directory when it next shakes hands (flood_directory).
 */
int flood_queue(const struct config *cf, const struct keys *me, const char *kind,
		const char *name, const void *data, size_t len, const struct strv *to);

/* A control packet's body: data written to a new file in the -default
 * class's bay tmp/ (its path in tmp; not fsynced: only the sealer reads
 * it), for submit_file with copy set; the caller unlinks it. -1 with
 * err_set. */
int flood_body(const struct config *cf, const void *data, size_t len, char *tmp, size_t size);

/*
 * Tell one neighbour everything this node holds: every good certificate
 * (its own and the learned ones) in one certs packet, and each revocation
 * list in a packet of its own. Returns packets queued.
 */
int flood_directory(const struct config *cf, const struct keys *me, const char *to);

/* Append c's token and a newline (a certs body is such lines). */
void flood_cert_line(const struct cert *c, struct sbuf *out);

#endif
