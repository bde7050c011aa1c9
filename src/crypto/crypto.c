/*
 * crypto.c - thin adapters over libgcrypt (see crypto.h). Nothing here is a
 * primitive of its own: curve arithmetic, signatures, AEAD, HMAC and hashes
 * are libgcrypt's; HKDF is the two-step RFC 5869 composition of HMAC.
 */
#include "crypto.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <gcrypt.h>
#include <string.h>

#define NEED_GCRYPT "1.9.0"

void
crypto_init(void)
{
	static int done;

	if (done++)
		return;
	/*
	 * The system RNG: every request is a getrandom(2) from the kernel's
	 * CSPRNG. libgcrypt's default (its own pool, seeded from the same
	 * getrandom) costs 320 k instructions and some 26 getrandom calls to
	 * fill at the first request, most of what a `shipctl submit` spends
	 * outside its curve operations, and must notice forks to reseed;
	 * ours are every worker. Set before the library initialises.
	 */
	gcry_control(GCRYCTL_SET_PREFERRED_RNG_TYPE, GCRY_RNG_TYPE_SYSTEM);
	if (!gcry_check_version(NEED_GCRYPT))
		msg_fatal("libgcrypt %s or later is required", NEED_GCRYPT);
	gcry_control(GCRYCTL_SUSPEND_SECMEM_WARN);
	gcry_control(GCRYCTL_INIT_SECMEM, 65536, 0);
	gcry_control(GCRYCTL_RESUME_SECMEM_WARN);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

void
crypto_random(void *buf, size_t n)
{
	gcry_randomize(buf, n, GCRY_STRONG_RANDOM);
}

void
crypto_wipe(void *buf, size_t n)
{
	explicit_bzero(buf, n);		/* glibc's memset the compiler may not drop */
}

void *
crypto_secure_alloc(size_t n)
{
	void *p = gcry_calloc_secure(1, n);

	if (p == NULL)
		msg_fatal("out of secure memory (%zu bytes)", n);
	return p;
}

void
crypto_secure_free(void *p, size_t n)
{
	if (p) {
		crypto_wipe(p, n);
		gcry_free(p);
	}
}

int
crypto_memeq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int
x25519_public(const uint8_t sec[X25519_LEN], uint8_t pub[X25519_LEN])
{
	gpg_error_t e = gcry_ecc_mul_point(GCRY_ECC_CURVE25519, pub, sec, NULL);

	if (e) {
		err_set("X25519: %s", gcry_strerror(e));
		return -1;
	}
	return 0;
}

int
x25519_keypair(uint8_t sec[X25519_LEN], uint8_t pub[X25519_LEN])
{
	crypto_random(sec, X25519_LEN);
	return x25519_public(sec, pub);
}

int
x25519_shared(const uint8_t sec[X25519_LEN], const uint8_t peer[X25519_LEN],
	      uint8_t out[X25519_LEN])
{
	static const uint8_t zero[X25519_LEN];
	gpg_error_t e = gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out, sec, peer);

	if (e) {
		err_set("X25519: %s", gcry_strerror(e));
		return -1;
	}
	if (crypto_memeq(out, zero, X25519_LEN)) {
		err_set("X25519: low-order peer key");
		return -1;
	}
	return 0;
}

/* Copy a named MPI/opaque value of exactly len bytes out of an S-expression. */
static int
sexp_bytes(gcry_sexp_t s, const char *name, uint8_t *out, size_t len)
{
	gcry_sexp_t t = gcry_sexp_find_token(s, name, 0);
	const char *d;
	size_t n;

	if (t == NULL)
		return -1;
	d = gcry_sexp_nth_data(t, 1, &n);
	if (d == NULL || n != len) {
		/* Ed25519 public points may carry a 0x40 prefix */
		if (d && n == len + 1 && (unsigned char)d[0] == 0x40) {
			memcpy(out, d + 1, len);
			gcry_sexp_release(t);
			return 0;
		}
		gcry_sexp_release(t);
		return -1;
	}
	memcpy(out, d, len);
	gcry_sexp_release(t);
	return 0;
}

int
ed25519_keypair(uint8_t sec[ED25519_SEC_LEN], uint8_t pub[ED25519_PUB_LEN])
{
	gcry_sexp_t parms = NULL, key = NULL;
	gpg_error_t e;
	int rc = -1;

	e = gcry_sexp_build(&parms, NULL, "(genkey (ecc (curve Ed25519) (flags eddsa)))");
	if (!e)
		e = gcry_pk_genkey(&key, parms);
	if (e)
		err_set("Ed25519 key generation: %s", gcry_strerror(e));
	else if (sexp_bytes(key, "q", pub, ED25519_PUB_LEN) < 0 ||
		 sexp_bytes(key, "d", sec, ED25519_SEC_LEN) < 0)
		err_set("Ed25519 key generation: unexpected key form");
	else
		rc = 0;
	gcry_sexp_release(parms);
	gcry_sexp_release(key);
	return rc;
}

/*
 * The public half of an Ed25519 seed, computed by libgcrypt from the
 * secret alone: an EC context holds the seed as "d" and is asked for
 * "q@eddsa". The seed goes in as an opaque MPI whose bytes are in secure
 * memory, so libgcrypt's copies of it and of its SHA-512 are secure too
 * and wiped when freed; no S-expression ever holds it (signing's do,
 * and leave copies in the ordinary heap). One scalar multiplication:
 * a fraction of a sign and verify.
 */
int
ed25519_public(const uint8_t sec[ED25519_SEC_LEN], uint8_t pub[ED25519_PUB_LEN])
{
	gcry_sexp_t curve = NULL;
	gcry_ctx_t ctx = NULL;
	gcry_mpi_t d, q = NULL;
	uint8_t *seed = crypto_secure_alloc(ED25519_SEC_LEN);
	const uint8_t *raw = NULL;
	unsigned int nbits = 0;
	gpg_error_t e;
	int rc = -1;

	memcpy(seed, sec, ED25519_SEC_LEN);
	d = gcry_mpi_set_opaque(NULL, seed, ED25519_SEC_LEN * 8);	/* owns seed now */
	e = gcry_sexp_new(&curve, "(ecc (curve Ed25519) (flags eddsa))", 0, 1);
	if (!e)
		e = gcry_mpi_ec_new(&ctx, curve, NULL);
	if (!e)
		e = gcry_mpi_ec_set_mpi("d", d, ctx);
	if (!e && (q = gcry_mpi_ec_get_mpi("q@eddsa", ctx, 1)) != NULL)
		raw = gcry_mpi_get_opaque(q, &nbits);
	if (e)
		err_set("Ed25519 public key: %s", gcry_strerror(e));
	else if (raw && nbits == 8 * (ED25519_PUB_LEN + 1) && raw[0] == 0x40) {
		memcpy(pub, raw + 1, ED25519_PUB_LEN);
		rc = 0;
	} else if (raw && nbits == 8 * ED25519_PUB_LEN) {
		memcpy(pub, raw, ED25519_PUB_LEN);
		rc = 0;
	} else
		err_set("Ed25519 public key: unexpected form");
	gcry_mpi_release(q);
	gcry_mpi_release(d);		/* secure: wiped */
	gcry_ctx_release(ctx);
	gcry_sexp_release(curve);
	return rc;
}

int
ed25519_sign(const uint8_t sec[ED25519_SEC_LEN], const uint8_t pub[ED25519_PUB_LEN],
	     const void *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	gcry_sexp_t skey = NULL, data = NULL, s = NULL;
	gpg_error_t e;
	int rc = -1;

	e = gcry_sexp_build(&skey, NULL,
			    "(private-key (ecc (curve Ed25519) (flags eddsa) (q %b) (d %b)))",
			    ED25519_PUB_LEN, pub, ED25519_SEC_LEN, sec);
	if (!e)
		e = gcry_sexp_build(&data, NULL,
				    "(data (flags eddsa) (hash-algo sha512) (value %b))",
				    (int)len, msg);
	if (!e)
		e = gcry_pk_sign(&s, data, skey);
	if (e)
		err_set("Ed25519 sign: %s", gcry_strerror(e));
	else if (sexp_bytes(s, "r", sig, 32) < 0 || sexp_bytes(s, "s", sig + 32, 32) < 0)
		err_set("Ed25519 sign: unexpected signature form");
	else
		rc = 0;
	gcry_sexp_release(skey);
	gcry_sexp_release(data);
	gcry_sexp_release(s);
	return rc;
}

static unsigned long nverifies;	/* threads verify too: atomic */

unsigned long
ed25519_verifies(void)
{
	return __atomic_load_n(&nverifies, __ATOMIC_RELAXED);
}

int
ed25519_verify(const uint8_t pub[ED25519_PUB_LEN], const void *msg, size_t len,
	       const uint8_t sig[ED25519_SIG_LEN])
{
	gcry_sexp_t pkey = NULL, data = NULL, s = NULL;
	gpg_error_t e;

	__atomic_fetch_add(&nverifies, 1, __ATOMIC_RELAXED);

	e = gcry_sexp_build(&pkey, NULL, "(public-key (ecc (curve Ed25519) (flags eddsa) (q %b)))",
			    ED25519_PUB_LEN, pub);
	if (!e)
		e = gcry_sexp_build(&data, NULL,
				    "(data (flags eddsa) (hash-algo sha512) (value %b))",
				    (int)len, msg);
	if (!e)
		e = gcry_sexp_build(&s, NULL, "(sig-val (eddsa (r %b) (s %b)))",
				    32, sig, 32, sig + 32);
	if (!e)
		e = gcry_pk_verify(s, data, pkey);
	gcry_sexp_release(pkey);
	gcry_sexp_release(data);
	gcry_sexp_release(s);
	if (e) {
		err_set("bad signature");
		return -1;
	}
	return 0;
}

int
crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t len, uint8_t out[32])
{
	gcry_mac_hd_t h;
	size_t outlen = 32;

	if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, GCRY_MAC_FLAG_SECURE, NULL))
		return -1;
	if (gcry_mac_setkey(h, key, klen) || gcry_mac_write(h, msg, len) ||
	    gcry_mac_read(h, out, &outlen)) {
		gcry_mac_close(h);
		err_set("HMAC-SHA-256: libgcrypt failed");
		return -1;
	}
	gcry_mac_close(h);
	return 0;
}

static int
hmac_sha256(const void *key, size_t klen, const void *a, size_t alen,
	    const void *b, size_t blen, uint8_t c, int use_c, uint8_t out[32])
{
	gcry_mac_hd_t h;
	size_t outlen = 32;

	if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, GCRY_MAC_FLAG_SECURE, NULL))
		return -1;
	if (gcry_mac_setkey(h, key, klen)) {
		gcry_mac_close(h);
		return -1;
	}
	if (alen)
		gcry_mac_write(h, a, alen);
	if (blen)
		gcry_mac_write(h, b, blen);
	if (use_c)
		gcry_mac_write(h, &c, 1);
	gcry_mac_read(h, out, &outlen);
	gcry_mac_close(h);
	return 0;
}

int
hkdf_sha256(const void *salt, size_t saltlen, const void *ikm, size_t ikmlen,
	    const void *info, size_t infolen, void *out, size_t outlen)
{
	static const uint8_t zeros[32];
	uint8_t prk[32], t[32];
	size_t done = 0, tlen = 0;
	uint8_t ctr = 1;

	if (outlen > 255 * 32) {
		err_set("HKDF: output too long");
		return -1;
	}
	if (saltlen == 0) {
		salt = zeros;
		saltlen = sizeof(zeros);
	}
	if (hmac_sha256(salt, saltlen, ikm, ikmlen, NULL, 0, 0, 0, prk) < 0)
		goto fail;
	while (done < outlen) {
		/* T(i) = HMAC(PRK, T(i-1) | info | i) */
		gcry_mac_hd_t h;
		size_t n = 32;

		if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, GCRY_MAC_FLAG_SECURE, NULL) ||
		    gcry_mac_setkey(h, prk, sizeof(prk)))
			goto fail;
		gcry_mac_write(h, t, tlen);
		gcry_mac_write(h, info, infolen);
		gcry_mac_write(h, &ctr, 1);
		gcry_mac_read(h, t, &n);
		gcry_mac_close(h);
		tlen = 32;
		n = outlen - done < 32 ? outlen - done : 32;
		memcpy((uint8_t *)out + done, t, n);
		done += n;
		ctr++;
	}
	crypto_wipe(prk, sizeof(prk));
	crypto_wipe(t, sizeof(t));
	return 0;
fail:
	crypto_wipe(prk, sizeof(prk));
	err_set("HKDF: libgcrypt HMAC failed");
	return -1;
}

struct aead {
	gcry_cipher_hd_t h;
};

struct aead *
aead_new(const uint8_t key[AEAD_KEY_LEN])
{
	struct aead *a = xmalloc(sizeof(*a));
	gpg_error_t e;

	e = gcry_cipher_open(&a->h, GCRY_CIPHER_CHACHA20, GCRY_CIPHER_MODE_POLY1305,
			     GCRY_CIPHER_SECURE);
	if (!e)
		e = gcry_cipher_setkey(a->h, key, AEAD_KEY_LEN);
	if (e)
		msg_fatal("ChaCha20-Poly1305 unavailable in libgcrypt: %s", gcry_strerror(e));
	return a;
}

void
aead_free(struct aead *a)
{
	if (a) {
		gcry_cipher_close(a->h);
		free(a);
	}
}

/* IV, then every piece of associated data, then the text: one AEAD pass. */
static gpg_error_t
aead_start(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const struct aead_ad *ad,
	   int nad)
{
	gpg_error_t e = gcry_cipher_setiv(a->h, nonce, AEAD_NONCE_LEN);

	for (int i = 0; !e && i < nad; i++)
		if (ad[i].n)
			e = gcry_cipher_authenticate(a->h, ad[i].p, ad[i].n);
	if (!e)
		gcry_cipher_final(a->h);
	return e;
}

int
aead_seal_ad(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const struct aead_ad *ad,
	     int nad, const void *in, size_t len, void *out, uint8_t tag[AEAD_TAG_LEN])
{
	gpg_error_t e = aead_start(a, nonce, ad, nad);

	if (!e)
		e = in == out ? gcry_cipher_encrypt(a->h, out, len, NULL, 0)
			      : gcry_cipher_encrypt(a->h, out, len, in, len);
	if (!e)
		e = gcry_cipher_gettag(a->h, tag, AEAD_TAG_LEN);
	if (e) {
		err_set("AEAD seal: %s", gcry_strerror(e));
		return -1;
	}
	return 0;
}

int
aead_open_ad(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const struct aead_ad *ad,
	     int nad, const void *in, size_t len, void *out, const uint8_t tag[AEAD_TAG_LEN])
{
	gpg_error_t e = aead_start(a, nonce, ad, nad);

	if (!e)
		e = in == out ? gcry_cipher_decrypt(a->h, out, len, NULL, 0)
			      : gcry_cipher_decrypt(a->h, out, len, in, len);
	if (!e)
		e = gcry_cipher_checktag(a->h, tag, AEAD_TAG_LEN);
	if (e) {
		err_set("authentication tag mismatch");
		return -1;
	}
	return 0;
}

int
aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	  size_t adlen, const void *in, size_t len, void *out, uint8_t tag[AEAD_TAG_LEN])
{
	struct aead_ad one = { ad, adlen };

	return aead_seal_ad(a, nonce, &one, 1, in, len, out, tag);
}

int
aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	  size_t adlen, const void *in, size_t len, void *out, const uint8_t tag[AEAD_TAG_LEN])
{
	struct aead_ad one = { ad, adlen };

	return aead_open_ad(a, nonce, &one, 1, in, len, out, tag);
}

struct hash {
	gcry_md_hd_t h;
	int algo;
};

static struct hash *
hash_new(int algo)
{
	struct hash *h = xmalloc(sizeof(*h));

	if (gcry_md_open(&h->h, algo, 0))
		msg_fatal("libgcrypt: cannot open hash %d", algo);
	h->algo = algo;
	return h;
}

struct hash *hash_new_sha256(void) { return hash_new(GCRY_MD_SHA256); }
struct hash *hash_new_sha512(void) { return hash_new(GCRY_MD_SHA512); }

void
hash_update(struct hash *h, const void *p, size_t n)
{
	gcry_md_write(h->h, p, n);
}

void
hash_final(struct hash *h, uint8_t *out)
{
	memcpy(out, gcry_md_read(h->h, h->algo), gcry_md_get_algo_dlen(h->algo));
	gcry_md_close(h->h);
	free(h);
}

void
sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	gcry_md_hash_buffer(GCRY_MD_SHA256, out, p, n);
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}


int
hex_decode(const char *in, uint8_t *out, size_t n)
{
	if (strlen(in) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = hi << 4 | lo;
	}
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
b64_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	size_t need = 4 * ((n + 2) / 3) + 1, o = 0;

	if (outsz < need)
		return 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

int
b64_decode(const char *in, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t len = strlen(in), o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		int pad = 0;

		for (int j = 0; j < 4; j++) {
			const char *p;
			int c = in[i + j];

			if (c == '=' && i + 4 == len && j >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (pad || c == 0 || (p = strchr(b64, c)) == NULL)
				return -1;
			v = v << 6 | (uint32_t)(p - b64);
		}
		if (o + 3 - pad > outsz)
			return -1;
		out[o++] = v >> 16;
		if (pad < 2)
			out[o++] = v >> 8 & 0xff;
		if (pad < 1)
			out[o++] = v & 0xff;
	}
	*outlen = o;
	return 0;
}
