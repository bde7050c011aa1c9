/*
 * trust.h - who is who. Answers, for every other layer, "which key is
 * NAME's, and may it be believed now?": a key pinned in shipping.conf
 * (PEER ... key, KEY, KEYS-DIR/NAME.pub), or a certificate signed by a
 * trusted AUTHORITY, for that name, valid now and not revoked. A pinned
 * key wins: a certificate for any other key is refused.
 *
 * Also this node's own identity (its key, the key kept from a rotation,
 * its certificate) and what it learns while it runs, kept in TRUST-DIR
 * so that every process of the daemon and shipctl share it:
 *
 *   TRUST-DIR/certs/NAME.cert   the newest good certificate seen for NAME
 *                               (a handshake, a packet header, the network)
 *   TRUST-DIR/revoked/AUTHID    the newest revocation list of an authority
 *
 * Both are written atomically under TRUST-DIR/.lock, newest wins, and
 * checked again when read. Every refusal is one line (err_set) naming the
 * certificate: node, serial and authority.
 *
 * Layer src/trust/: may call src/util/, src/crypto/ and src/conf/. Never
 * touches a bay, a packet or the network.
 */
#ifndef SHIPD_TRUST_H
#define SHIPD_TRUST_H

#include <time.h>
#include "../conf/config.h"
#include "../crypto/cert.h"
#include "../crypto/keys.h"

/*
 * Keep a per-process cache of revocation lists on cf (freed with it).
 * Optional: without it every check reads TRUST-DIR again.
 */
void trust_attach(struct config *cf);

/*
 * This node's identity: KEY-FILE, KEY-FILE.old (kept by `shipctl keygen
 * --rotate`) and CERT-FILE. The key that CERT-FILE certifies signs (the
 * old one until the new certificate is installed); the other only opens
 * packets still sealed to it. Fails (err_set) on a missing or bad key, a
 * certificate for another node or key, or one that is not valid now.
 */
int trust_identity(const struct config *cf, struct keys **out);
/* "KEY-FILE.old" for a key file path (out: PATH_MAX). */
int trust_old_key_path(const char *key_file, char *out, size_t size);

/*
 * May c be believed for name at now? Checks the authority (an AUTHORITY
 * of cf), its signature, the name, the validity period, the revocation
 * lists and a pinned key for name. 0, or -1 with err_set the reason.
 */
int trust_check_cert(const struct config *cf, const struct cert *c, const char *name,
		     time_t now);
/* The same from received bytes; *out holds the decoded certificate. */
int trust_check_raw(const struct config *cf, const uint8_t *raw, size_t len, const char *name,
		    time_t now, struct cert *out);
/* Only the revocation lists' verdict on c: 0, or -1 with err_set why. */
int trust_check_revoked(const struct config *cf, const struct cert *c);
/* A pinned key (a PEER, KEY or KEYS-DIR entry): -1 if a revocation list names it. */
int trust_check_pinned(const struct config *cf, const char *name,
		       const uint8_t sign[ED25519_PUB_LEN]);

/*
 * The key of name for sealing to it or checking it without a certificate
 * at hand: pinned, this node's own (self), else a learned certificate
 * (TRUST-DIR/certs) or one an administrator put in KEYS-DIR/NAME.cert,
 * whichever is newer, if good now. Returns where it came from, or
 * TK_NONE with err_set saying what is missing.
 */
enum { TK_NONE = 0, TK_PINNED, TK_SELF, TK_CERT };
int trust_node_key(const struct config *cf, const struct keys *self, const char *name,
		   struct pubkey *out);

/* The newest good certificate known for name (learned, or KEYS-DIR/NAME.cert): 0 or -1. */
int trust_node_cert(const struct config *cf, const char *name, struct cert *out);

/*
 * Remember a certificate the caller checked (trust_check_cert): 1 when it
 * is newer than what was known for its name (written), 0 when not, -1 on
 * a write error.
 */
int trust_learn(const struct config *cf, const struct cert *c);
/* Every learned certificate that is good now, newest per name. */
typedef int (*trust_cert_fn)(void *arg, const struct cert *c);
int trust_learned(const struct config *cf, trust_cert_fn fn, void *arg);

/*
 * Revocation lists. _check parses text, finds its AUTHORITY and checks the
 * signature (-1, err_set: malformed, truncated, unknown authority, forged).
 * _apply stores a checked list if it is newer than the stored one of its
 * authority: 1 applied, 0 older or equal (nothing changed; *have = the
 * stored serial), -1 on a write error. _stored calls fn for each list
 * held (the text as stored).
 */
int trust_revlist_check(const struct config *cf, const char *text, size_t len,
			struct revlist *out);
int trust_revlist_newer(const struct config *cf, const struct revlist *rl, uint64_t *have);
int trust_revlist_apply(const struct config *cf, const struct revlist *rl, const char *text,
			size_t len, uint64_t *have);
typedef int (*trust_rev_fn)(void *arg, const char *text, size_t len);
int trust_revlists(const struct config *cf, trust_rev_fn fn, void *arg);

/* "SiteA_host1 (certificate serial 7 of authority 0a1b2c3d4e5f6071)" */
void trust_cert_str(const struct cert *c, char *out, size_t size);

#endif
