/*
 * keys.h - a node's identity: an Ed25519 signing key (packets, hop
 * handshakes) and an X25519 key-agreement key (packet key wrapping).
 *
 * The secret key file is text, mode 0600, written once by `shipctl keygen`
 * (its form: keys.c); loading refuses a file readable by group or others
 * (like ssh). The public
 * half travels as one token, "shipd1:" + base64(sign_pub || kx_pub), that
 * goes on a PEER line in other nodes' shipping.conf.
 *
 * Secret halves are kept in libgcrypt secure memory and never logged.
 */
#ifndef SHIPD_KEYS_H
#define SHIPD_KEYS_H

#include <stdint.h>
#include "crypto.h"

#define PUBKEY_PREFIX	"shipd1:"
#define PUBKEY_STRLEN	(7 + 88 + 1)

struct pubkey {
	uint8_t sign[ED25519_PUB_LEN];
	uint8_t kx[X25519_LEN];
};

struct keys {
	struct pubkey pub;
	uint8_t *sign_sec;		/* ED25519_SEC_LEN, secure memory */
	uint8_t *kx_sec;		/* X25519_LEN, secure memory */
	/*
	 * A node's identity may carry more (src/trust/ fills them): its
	 * certificate (encoded, or NULL), and the other key of a rotation,
	 * kept only to open packets still sealed to it.
	 */
	uint8_t *cert;
	size_t certlen;
	struct keys *prev;
	/*
	 * Where the secret halves are not in this process (shipd's workers
	 * after keys_forget), the one that holds them is asked instead.
	 */
	const struct key_agent *agent;
};

/*
 * What may be asked of the holder of a node's secret keys. Each request
 * names what it is, and the holder checks it is that (a handshake
 * transcript naming this node, a header of this node's own packet) before
 * it signs: it never signs bytes it is merely handed.
 *   HOP_SERVER  a = HELLO, b = REPLY up to its signature   -> sig_s (64)
 *   HOP_CLIENT  a = HELLO, b = the whole REPLY              -> sig_c (64)
 *   HEADER      a = a packet header up to "end\n"           -> sig (64)
 *   TRAILER     a = the signed header with its sig line,
 *               b = SHA-256 of the body                      -> sig (64)
 *   UNWRAP      a = wrapped key (48), b = ephemeral (32),
 *               s1 = group, s2 = destination                -> packet key (32)
 *   ENVELOPE    a = a directory hop's envelope or receipt up to
 *               its signature line, from this node          -> sig (64)
 */
enum keyop { KEYOP_HOP_SERVER = 1, KEYOP_HOP_CLIENT, KEYOP_HEADER, KEYOP_TRAILER,
	     KEYOP_UNWRAP, KEYOP_ENVELOPE, KEYOP_MAX };
struct keyreq {
	enum keyop op;
	const uint8_t *a, *b;
	size_t alen, blen;
	const char *s1, *s2;
};
struct key_agent {
	/* 0 and outlen bytes at out, or -1 with err_set */
	int (*ask)(void *ctx, const struct keyreq *rq, void *out, size_t outlen);
	void *ctx;
};

/* Create a new key file (O_EXCL: refuses to overwrite). */
int keys_generate(const char *path, struct keys **out);
/*
 * Load; checks mode (no group/other access) and form. The public halves
 * are the stored ones when the file's check line (an HMAC keyed by the
 * secret halves) matches them: no curve operation. A file of the old
 * form (no check line) has them derived. keys_load_form also says which
 * form it read (*current = 1: the current one).
 */
int keys_load(const char *path, struct keys **out);
int keys_load_form(const char *path, struct keys **out, int *current);
/*
 * Derive the public halves of k (and of k->prev) from the secret ones and
 * compare: 0, or -1 with err_set naming path. Two curve operations a key:
 * for where a key is published or starts a long life (shipd's start,
 * `shipctl pubkey`), not for every load.
 */
int keys_verify(const struct keys *k, const char *path);
/* Rewrite an old-form key file at path in the current form, same secrets,
 * same owner, mode 0600: 1 rewritten, 0 already current, -1 with err_set. */
int keys_upgrade(const char *path);
void keys_free(struct keys *k);
/* Wipe the secret halves (and those of k->prev) from this process; from
 * now on agent is asked. */
void keys_forget(struct keys *k, const struct key_agent *agent);
int keys_local(const struct keys *k);	/* 1: the secret halves are here */
/* Ask k's agent; -1 with err_set when there is none or it refuses. */
int keys_ask(const struct keys *k, const struct keyreq *rq, void *out, size_t outlen);

void pubkey_format(const struct pubkey *pk, char out[PUBKEY_STRLEN]);
int pubkey_parse(const char *s, struct pubkey *pk);

#endif
