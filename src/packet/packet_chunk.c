/*
 * packet_chunk.c - the packet's cryptographic units: one AEAD chunk of the
 * body, one wrapped packet key, and the geometry of a chunk stream.
 *
 * A chunk's nonce is its index (the packet key is fresh per logical
 * packet, so an index never repeats under one key); its associated data
 * binds the group id, the index and whether it is the stream's last chunk,
 * so reordering, splicing chunks across packets and cutting the stream
 * short are all tag failures. Everything is libgcrypt via crypto.h; key
 * material lives in secure memory and is wiped. Never logs.
 */
#include "packet_int.h"
#include "../util/log.h"

#include <inttypes.h>
#include <string.h>

#define CHUNK_CTX	"shipd-chunk 1"
#define WRAP_INFO	"shipd wrap v1"
#define AD_MAX		(sizeof(CHUNK_CTX) + 1 + ORDER_ID_MAX + 8 + 1)

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static size_t
chunk_ad(const char *group, uint64_t idx, int final, uint8_t nonce[AEAD_NONCE_LEN],
	 uint8_t ad[AD_MAX])
{
	size_t c = strlen(CHUNK_CTX), g = strnlen(group, ORDER_ID_MAX - 1), n = 0;

	memset(nonce, 0, AEAD_NONCE_LEN);
	put64(nonce + 4, idx);
	memcpy(ad, CHUNK_CTX, c);
	n = c;
	ad[n++] = (uint8_t)g;
	memcpy(ad + n, group, g);
	n += g;
	put64(ad + n, idx);
	n += 8;
	ad[n++] = final ? 1 : 0;
	return n;
}

int
pkt_chunk_seal(struct aead *a, const char *group, uint64_t idx, int final, uint8_t *buf,
	       size_t len)
{
	uint8_t nonce[AEAD_NONCE_LEN], ad[AD_MAX];
	size_t adlen = chunk_ad(group, idx, final, nonce, ad);

	if (len > PKT_CHUNK) {
		err_set("chunk %" PRIu64 " of %zu bytes is over the chunk size", idx, len);
		return -1;
	}
	return aead_seal(a, nonce, ad, adlen, buf, len, buf, buf + len);
}

ssize_t
pkt_chunk_open(struct aead *a, const char *group, uint64_t idx, int final, uint8_t *buf,
	       size_t clen)
{
	uint8_t nonce[AEAD_NONCE_LEN], ad[AD_MAX];
	size_t adlen = chunk_ad(group, idx, final, nonce, ad), len;

	if (clen < AEAD_TAG_LEN || clen > PKT_CCHUNK) {
		err_set("tampered chunk %" PRIu64 " (%zu bytes)", idx, clen);
		return -1;
	}
	len = clen - AEAD_TAG_LEN;
	if (aead_open(a, nonce, ad, adlen, buf, len, buf, buf + len) < 0) {
		crypto_wipe(buf, len);	/* never hand out unauthenticated bytes */
		err_set("tampered chunk %" PRIu64, idx);
		return -1;
	}
	return (ssize_t)len;
}

int
pkt_stream_chunks(uint64_t total, uint64_t *nchunks)
{
	uint64_t full = total / PKT_CCHUNK, rem = total % PKT_CCHUNK;

	if (rem == 0 && full > 0)
		*nchunks = full;
	else if (rem >= AEAD_TAG_LEN)
		*nchunks = full + 1;
	else
		return -1;
	return 0;
}

/* The key-encryption key for (ephemeral, destination). */
static int
wrap_kek(const uint8_t *shared, const uint8_t eph_pub[X25519_LEN],
	 const uint8_t dest_kx[X25519_LEN], const char *group, uint8_t *kek)
{
	uint8_t salt[2 * X25519_LEN], info[sizeof(WRAP_INFO) + ORDER_ID_MAX];
	size_t il = strlen(WRAP_INFO), gl = strnlen(group, ORDER_ID_MAX - 1);

	memcpy(salt, eph_pub, X25519_LEN);
	memcpy(salt + X25519_LEN, dest_kx, X25519_LEN);
	memcpy(info, WRAP_INFO, il);
	memcpy(info + il, group, gl);
	return hkdf_sha256(salt, sizeof(salt), shared, X25519_LEN, info, il + gl, kek,
			   AEAD_KEY_LEN);
}

/* Seal or open one wrapped key under kek. */
static int
wrap_aead(const uint8_t *kek, const char *dest, int seal, const uint8_t *in, uint8_t *out)
{
	static const uint8_t nonce[AEAD_NONCE_LEN];
	struct aead *a = aead_new(kek);
	int rc;

	if (seal)
		rc = aead_seal(a, nonce, dest, strlen(dest), in, AEAD_KEY_LEN, out,
			       out + AEAD_KEY_LEN);
	else
		rc = aead_open(a, nonce, dest, strlen(dest), in, AEAD_KEY_LEN, out,
			       in + AEAD_KEY_LEN);
	aead_free(a);
	return rc;
}

int
pkt_wrap(const uint8_t *eph_sec, const uint8_t eph_pub[X25519_LEN],
	 const uint8_t dest_kx[X25519_LEN], const char *group, const char *dest,
	 const uint8_t *key, uint8_t out[PKT_WRAP_LEN])
{
	uint8_t *shared = crypto_secure_alloc(X25519_LEN);
	uint8_t *kek = crypto_secure_alloc(AEAD_KEY_LEN);
	int rc = -1;

	if (x25519_shared(eph_sec, dest_kx, shared) < 0)
		err_set("destination %s: unusable key-agreement key", dest);
	else if (wrap_kek(shared, eph_pub, dest_kx, group, kek) == 0 &&
		 wrap_aead(kek, dest, 1, key, out) == 0)
		rc = 0;
	crypto_secure_free(shared, X25519_LEN);
	crypto_secure_free(kek, AEAD_KEY_LEN);
	return rc;
}

int
pkt_unwrap(const struct keys *me, const uint8_t eph_pub[X25519_LEN], const char *group,
	   const char *dest, const uint8_t in[PKT_WRAP_LEN], uint8_t *key)
{
	struct keyreq rq = {.op = KEYOP_UNWRAP, .a = in, .alen = PKT_WRAP_LEN, .b = eph_pub,
			    .blen = X25519_LEN, .s1 = group, .s2 = dest};
	uint8_t *shared, *kek, *plain;
	int rc = -1;

	if (!keys_local(me))	/* the key process (keys.h) */
		return keys_ask(me, &rq, key, AEAD_KEY_LEN);
	shared = crypto_secure_alloc(X25519_LEN);
	kek = crypto_secure_alloc(AEAD_KEY_LEN);
	plain = crypto_secure_alloc(PKT_WRAP_LEN);
	/* this node's key, then the one kept from a rotation (keys.h) */
	for (const struct keys *k = me; k && rc < 0; k = k == me ? me->prev : NULL) {
		memcpy(plain, in, PKT_WRAP_LEN);
		if (x25519_shared(k->kx_sec, eph_pub, shared) == 0 &&
		    wrap_kek(shared, eph_pub, k->pub.kx, group, kek) == 0 &&
		    wrap_aead(kek, dest, 0, plain, key) == 0)
			rc = 0;
	}
	if (rc < 0)
		err_set("cannot unwrap the packet key for %s (sealed for another key?)", dest);
	crypto_secure_free(shared, X25519_LEN);
	crypto_secure_free(kek, AEAD_KEY_LEN);
	crypto_secure_free(plain, PKT_WRAP_LEN);
	return rc;
}
