/*
 * crypto.h - every cryptographic primitive shipd uses, all from libgcrypt:
 * X25519 key agreement, Ed25519 signatures, ChaCha20-Poly1305 AEAD,
 * HKDF-SHA-256 (RFC 5869, built from libgcrypt's HMAC), SHA-256/512,
 * strong random bytes, and base64 for keys in text files.
 *
 * No primitive is implemented here; this file only adapts libgcrypt's API.
 * Secrets live in gcry_malloc_secure() memory where the caller asks for it
 * and are wiped with crypto_wipe() after use.
 *
 * Layer src/crypto/: primitives and the node's keys. May call src/util/
 * only; never reads configuration, bays, packets or the network.
 */
#ifndef SHIPD_CRYPTO_H
#define SHIPD_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define X25519_LEN	32
#define ED25519_PUB_LEN	32
#define ED25519_SEC_LEN	32		/* the seed */
#define ED25519_SIG_LEN	64
#define AEAD_KEY_LEN	32
#define AEAD_NONCE_LEN	12
#define AEAD_TAG_LEN	16
#define SHA256_LEN	32

/* Initialise libgcrypt with secure memory; call once, first, in every program. */
void crypto_init(void);

void crypto_random(void *buf, size_t n);
void crypto_wipe(void *buf, size_t n);
void *crypto_secure_alloc(size_t n);	/* never NULL; free with crypto_secure_free */
void crypto_secure_free(void *p, size_t n);
int crypto_memeq(const void *a, const void *b, size_t n);	/* constant time, 1 if equal */

/* X25519: pub = sec * base; shared = sec * peer_pub (fails on an all-zero result). */
int x25519_keypair(uint8_t sec[X25519_LEN], uint8_t pub[X25519_LEN]);
int x25519_public(const uint8_t sec[X25519_LEN], uint8_t pub[X25519_LEN]);
int x25519_shared(const uint8_t sec[X25519_LEN], const uint8_t peer[X25519_LEN],
		  uint8_t out[X25519_LEN]);

/* Ed25519 over arbitrary messages (pure EdDSA). */
int ed25519_keypair(uint8_t sec[ED25519_SEC_LEN], uint8_t pub[ED25519_PUB_LEN]);
/* pub = the public half of seed sec (no copy of sec outside secure memory). */
int ed25519_public(const uint8_t sec[ED25519_SEC_LEN], uint8_t pub[ED25519_PUB_LEN]);
int ed25519_sign(const uint8_t sec[ED25519_SEC_LEN], const uint8_t pub[ED25519_PUB_LEN],
		 const void *msg, size_t len, uint8_t sig[ED25519_SIG_LEN]);
int ed25519_verify(const uint8_t pub[ED25519_PUB_LEN], const void *msg, size_t len,
		   const uint8_t sig[ED25519_SIG_LEN]);	/* 0 = good */
/* How many ed25519_verify calls this process made (tests, statistics). */
unsigned long ed25519_verifies(void);

/* HMAC-SHA-256 of msg under key (a secret key: libgcrypt keeps it in secure memory). */
int crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t len,
		       uint8_t out[SHA256_LEN]);

/* HKDF-SHA-256: extract with salt, expand with info, into out (<= 255*32 bytes). */
int hkdf_sha256(const void *salt, size_t saltlen, const void *ikm, size_t ikmlen,
		const void *info, size_t infolen, void *out, size_t outlen);

/*
 * ChaCha20-Poly1305. An aead handle keeps its key; each call sets the nonce.
 * seal writes len bytes of ciphertext to out (may equal in) and the tag.
 * open returns -1 (and err_set) when the tag does not verify; out is then
 * undefined and must not be used.
 */
struct aead;
struct aead *aead_new(const uint8_t key[AEAD_KEY_LEN]);
void aead_free(struct aead *a);
int aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
	      const void *ad, size_t adlen, const void *in, size_t len, void *out,
	      uint8_t tag[AEAD_TAG_LEN]);
int aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
	      const void *ad, size_t adlen, const void *in, size_t len, void *out,
	      const uint8_t tag[AEAD_TAG_LEN]);
/*
 * The same with the associated data in nad pieces, authenticated in that
 * order as one (the hop channel's body frames: a clear header and a body
 * that is authenticated, not encrypted, under the tag of a sealed head).
 */
struct aead_ad {
	const void *p;
	size_t n;
};
int aead_seal_ad(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
		 const struct aead_ad *ad, int nad, const void *in, size_t len, void *out,
		 uint8_t tag[AEAD_TAG_LEN]);
int aead_open_ad(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
		 const struct aead_ad *ad, int nad, const void *in, size_t len, void *out,
		 const uint8_t tag[AEAD_TAG_LEN]);

/* Streaming hashes. */
struct hash;
struct hash *hash_new_sha256(void);
struct hash *hash_new_sha512(void);
void hash_update(struct hash *h, const void *p, size_t n);
void hash_final(struct hash *h, uint8_t *out);	/* 32 or 64 bytes; frees h */
void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
void hex_encode(const uint8_t *in, size_t n, char *out);	/* out: 2n+1 */
int hex_value(int c);					/* 0..15, or -1 */
int hex_decode(const char *in, uint8_t *out, size_t n);	/* exactly 2n hex digits */

/* base64 (standard alphabet, padded). */
size_t b64_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
int b64_decode(const char *in, uint8_t *out, size_t outsz, size_t *outlen);

#endif
