/*
 * keys.h - a node's identity: an Ed25519 signing key (packets, hop
 * handshakes) and an X25519 key-agreement key (packet key wrapping).
 *
 * The secret key file is text, mode 0600, written once by `shipctl keygen`;
 * loading refuses a file readable by group or others (like ssh). The public
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
};

/* Create a new key file (O_EXCL: refuses to overwrite). */
int keys_generate(const char *path, struct keys **out);
/* Load; checks mode (no group/other access) and form. */
int keys_load(const char *path, struct keys **out);
void keys_free(struct keys *k);

void pubkey_format(const struct pubkey *pk, char out[PUBKEY_STRLEN]);
int pubkey_parse(const char *s, struct pubkey *pk);

#endif
