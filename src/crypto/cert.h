/*
 * cert.h - what a shipd authority signs: node certificates and revocation
 * lists. The formats are documented in shipd-cert(5); this header is their
 * contract in C.
 *
 * A certificate binds a node name to its public keys (the Ed25519 signing
 * key and the X25519 key packets are sealed to) for a time, with a role
 * (node or relay) and a serial, signed by an authority's Ed25519 key. It is
 * compact binary (at most CERT_MAX_LEN bytes) so that it fits one line of
 * a packet header and one handshake message; on disk and in shipping.conf
 * it is the token "shipd-cert1:" + base64.
 *
 * A revocation list is a small signed text file: the authority, a serial
 * (the newest list wins), and entries revoking a node's certificates up to
 * a serial, a key, or one certificate by serial.
 *
 * Everything here is a pure function over buffers: no file, no clock, no
 * configuration. Decoders take untrusted bytes (they are fuzzed) and never
 * read past len; "decode" checks form only, never trust: whether a
 * certificate is good here (which authority, when, revoked or not) is the
 * trust layer's question (src/trust/).
 */
#ifndef SHIPD_CERT_H
#define SHIPD_CERT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "keys.h"

#define CERT_MAGIC		"SHDC"
#define CERT_VERSION		1
#define CERT_NAME_MAX		64
#define AUTH_ID_LEN		8	/* first bytes of SHA-256(authority signing key) */
#define AUTH_ID_HEX		(2 * AUTH_ID_LEN + 1)
/* magic, version, role, name length, name, sign, kx, 3 times, serial, id, sig */
#define CERT_FIXED_LEN		(4 + 1 + 1 + 1 + 32 + 32 + 8 + 8 + 8 + AUTH_ID_LEN + 64)
#define CERT_MAX_LEN		(CERT_FIXED_LEN + CERT_NAME_MAX)
#define CERT_TOKEN_PREFIX	"shipd-cert1:"
#define CERT_TOKEN_MAX		(12 + 4 * ((CERT_MAX_LEN + 2) / 3) + 1)
#define CERT_SIG_CTX		"shipd-cert 1\n"

enum cert_role { CERT_NODE = 1, CERT_RELAY = 2 };

struct cert {
	int role;			/* CERT_NODE or CERT_RELAY */
	char name[CERT_NAME_MAX + 1];
	struct pubkey key;		/* the node's signing and key-agreement keys */
	uint64_t not_before, not_after;	/* Unix seconds: valid in [not_before, not_after) */
	uint64_t serial;		/* per authority, from 1 */
	uint8_t authority[AUTH_ID_LEN];
	uint8_t sig[ED25519_SIG_LEN];
	uint8_t raw[CERT_MAX_LEN];	/* the encoded certificate */
	size_t rawlen;
};

/* The short id of an authority key, and its hex form (16 digits). */
void cert_authority_id(const uint8_t sign_pub[ED25519_PUB_LEN], uint8_t id[AUTH_ID_LEN]);
void cert_id_hex(const uint8_t id[AUTH_ID_LEN], char out[AUTH_ID_HEX]);

const char *cert_role_name(int role);		/* "node", "relay" */
int cert_role_parse(const char *s);		/* CERT_NODE, CERT_RELAY or -1 */
int cert_name_ok(const char *s);		/* [A-Za-z0-9._-]{1,64}, not "-..." */

/*
 * Encode c's fields (role, name, key, times, serial) and sign them with the
 * authority key: fills c->authority, c->sig, c->raw and c->rawlen.
 */
int cert_sign(struct cert *c, const struct keys *authority);
/* Decode len bytes (form only: lengths, names, the version); err_set why. */
int cert_decode(const uint8_t *buf, size_t len, struct cert *c);
/* 0 when c's signature verifies under the authority's signing key. */
int cert_verify(const struct cert *c, const uint8_t authority_sign[ED25519_PUB_LEN]);

/* "shipd-cert1:BASE64" (out holds CERT_TOKEN_MAX). */
void cert_token(const struct cert *c, char out[CERT_TOKEN_MAX]);
int cert_token_parse(const char *s, struct cert *c);
/*
 * The NODE.cert file: comment lines ("# ...") saying what the certificate
 * is, then its token. Parsing skips comments and blank lines and wants
 * exactly one token. cert_file_text returns allocated text.
 */
char *cert_file_text(const struct cert *c);
int cert_file_parse(const char *text, size_t len, struct cert *c);
/* UTC "YYYY-MM-DDTHH:MM:SSZ" (out: 21 bytes). */
void cert_time_str(uint64_t t, char out[24]);

/* Revocation lists ------------------------------------------------------ */

#define REV_MAGIC		"shipd-revocations 1"
#define REV_SIG_CTX		"shipd-revocations-sig 1\n"
#define REV_MAX_SIZE		(512 * 1024)
#define REV_MAX_ENTRIES		8192

enum rev_kind { REV_NODE = 1, REV_KEY = 2, REV_SERIAL = 3 };

struct rev_entry {
	int kind;
	char name[CERT_NAME_MAX + 1];	/* REV_NODE: whose certificates */
	uint64_t serial;		/* REV_NODE: those up to this serial; REV_SERIAL: that one */
	uint8_t key[ED25519_PUB_LEN];	/* REV_KEY: every certificate (and pin) of this key */
};

struct revlist {
	uint8_t authority[AUTH_ID_LEN];
	uint64_t serial;		/* the newest list wins */
	uint64_t created;
	struct rev_entry *v;
	int n;
	size_t signed_len;		/* bytes the signature covers (through "end\n") */
	uint8_t sig[ED25519_SIG_LEN];
};

void revlist_init(struct revlist *rl);
void revlist_free(struct revlist *rl);
void revlist_add(struct revlist *rl, const struct rev_entry *e);
/* Parse (form only; err_set "revocation list line N: ..."); *rl is always freeable. */
int revlist_parse(const char *buf, size_t len, struct revlist *rl);
/* 0 when the list parsed from buf is signed by the authority key. */
int revlist_verify(const struct revlist *rl, const char *buf,
		   const uint8_t authority_sign[ED25519_PUB_LEN]);
/* Format and sign rl (its authority id is set from the key); allocated text. */
char *revlist_sign(struct revlist *rl, const struct keys *authority, size_t *len);
/*
 * Does rl revoke c (same authority as the list) or, for key, that signing
 * key? Returns the matching entry or NULL.
 */
const struct rev_entry *revlist_match(const struct revlist *rl, const struct cert *c);
const struct rev_entry *revlist_match_key(const struct revlist *rl,
					  const uint8_t sign[ED25519_PUB_LEN]);
/* One line describing an entry ("node X up to serial N", "key ...", "serial N"). */
void rev_entry_str(const struct rev_entry *e, char *out, size_t size);

#endif
