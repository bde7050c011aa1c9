/*
 * wire_hs.c - the hop handshake's messages, the same over TCP and UDP
 * (wire.c and wire_udp_hs.c move them):
 *   client -> server  HELLO  "SHIPD-HOP" version namelen name eph_c
 *   server -> client  REPLY  "SHIPD-HOP" version namelen name eph_s sig_s CERT_s
 *   client -> server  AUTH   sig_c CERT_c
 *   server -> client  HSOK   the first sealed message: "you are accepted"
 * with
 *   CERT = length (2 bytes, big-endian; 0: none) || the node's certificate
 *   sig_s = Ed25519(server node key, SHA256("shipd hop v1 server" | HELLO | REPLY
 *                   up to sig_s))
 *   sig_c = Ed25519(client node key, SHA256("shipd hop v1 client" | HELLO | REPLY))
 *   keys  = HKDF-SHA256(X25519(eph_c, eph_s), salt = SHA256(HELLO | REPLY),
 *                       info "shipd hop v1") -> client-to-server | server-to-client
 * The server takes a client only if its name is a PEER here (by name or
 * pattern; a node known by its key alone is not a direct hop) and sig_c
 * verifies with its pinned key or with the key of the certificate it
 * showed, which src/trust/ must accept for that name (authority,
 * validity, revocation; a pinned key wins). The client takes the server
 * the same way, and only if it is the peer dialled. A certificate needs
 * no signature of its own here: it binds the name to a key, and the
 * transcript signature proves the key. Ephemeral secrets live in secure
 * memory and are wiped with the handshake.
 *
 * Parsers take buffers and touch no socket, so the fuzzer feeds them
 * directly. Never reads past len, never trusts a name it has not checked.
 */
#include "wire.h"
#include "wire_int.h"
#include "../trust/trust.h"
#include "../util/log.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define LABEL_SERVER	"shipd hop v1 server"
#define LABEL_CLIENT	"shipd hop v1 client"
#define HKDF_INFO	"shipd hop v1"

int
wire_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > HOP_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
wire_hs_begin(struct wire_hs *hs, const struct config *cf, int server)
{
	memset(hs, 0, sizeof(*hs));
	hs->cf = cf;
	hs->server = server;
	hs->eph_sec = crypto_secure_alloc(X25519_LEN);
	return x25519_keypair(hs->eph_sec, hs->eph_pub);
}

void
wire_hs_end(struct wire_hs *hs)
{
	crypto_secure_free(hs->eph_sec, X25519_LEN);
	crypto_wipe(hs, sizeof(*hs));
}

void
wire_hs_abort(struct wire_hs *hs, struct aead *tx, struct aead *rx, struct hop *h, int fd)
{
	wire_hs_end(hs);
	aead_free(tx);
	aead_free(rx);
	if (h) {
		h->dead = 1;		/* no CLOSE: closes the socket at once */
		hop_close(h);
	} else if (fd >= 0)
		close(fd);
}

static size_t
put_head(uint8_t *b, const char *name, const uint8_t eph[X25519_LEN])
{
	size_t n = strlen(name);

	memcpy(b, HOP_MAGIC, HOP_MAGIC_LEN);
	b[HOP_MAGIC_LEN] = HOP_VERSION;
	b[HOP_MAGIC_LEN + 1] = (uint8_t)n;
	memcpy(b + HS_HEAD_LEN, name, n);
	memcpy(b + HS_HEAD_LEN + n, eph, X25519_LEN);
	return HS_HEAD_LEN + n + X25519_LEN;
}

ssize_t
wire_hs_head(const uint8_t *b, size_t len, int reply)
{
	if (len < HOP_MAGIC_LEN || memcmp(b, HOP_MAGIC, HOP_MAGIC_LEN) != 0) {
		err_set("not a shipd peer: bad magic");
		return -1;
	}
	if (len < HS_HEAD_LEN) {
		err_set("truncated %s", reply ? "reply" : "hello");
		return -1;
	}
	if (b[HOP_MAGIC_LEN] != HOP_VERSION) {
		err_set("unsupported hop protocol version %u (this shipd speaks %u)",
			b[HOP_MAGIC_LEN], HOP_VERSION);
		return -1;
	}
	return HS_HEAD_LEN + b[HOP_MAGIC_LEN + 1] + X25519_LEN + (reply ? ED25519_SIG_LEN : 0);
}

/* Parse the part HELLO and REPLY share; returns its length or -1. */
static ssize_t
get_head(const uint8_t *b, size_t len, char *name, uint8_t eph[X25519_LEN], int reply)
{
	ssize_t need = wire_hs_head(b, len, reply);
	size_t n;

	if (need < 0)
		return -1;
	if (len < (size_t)need) {
		err_set("truncated %s", reply ? "reply" : "hello");
		return -1;
	}
	n = b[HOP_MAGIC_LEN + 1];
	if (!wire_name_ok((const char *)b + HS_HEAD_LEN, n)) {
		err_set("bad node name in %s", reply ? "reply" : "hello");
		return -1;
	}
	memcpy(name, b + HS_HEAD_LEN, n);
	name[n] = 0;
	memcpy(eph, b + HS_HEAD_LEN + n, X25519_LEN);
	return HS_HEAD_LEN + n + X25519_LEN;
}

int
wire_hs_hello_make(struct wire_hs *hs, const char *node)
{
	if (node == NULL || !wire_name_ok(node, strlen(node))) {
		err_set("this node's name is not usable (NODE must be [A-Za-z0-9._-], 1-255 characters)");
		return -1;
	}
	hs->m1len = put_head(hs->m1, node, hs->eph_pub);
	return 0;
}

int
wire_hs_hello_parse(struct wire_hs *hs, const uint8_t *b, size_t len, int pad_ok)
{
	ssize_t n = get_head(b, len, hs->peer_name, hs->peer_eph, 0);

	if (n < 0)
		return -1;
	for (size_t i = n; i < len; i++)
		if (!pad_ok || b[i] != 0) {
			err_set("hello followed by %zu unexpected bytes", len - n);
			return -1;
		}
	memcpy(hs->m1, b, n);
	hs->m1len = n;
	return 0;
}

const struct peer *
wire_hs_known(const struct config *cf, const char *name)
{
	const struct peer *p = config_peer(cf, name);

	if (p == NULL) {
		err_set("unknown peer %s (no PEER line names it here)", name);
		return NULL;
	}
	if (p->host == NULL) {
		err_set("%s is known here by its key only (%s), not as a PEER: only a PEER may "
			"be a direct hop", name, p->file ? "a KEY line or KEYS-DIR" : "this node");
		return NULL;
	}
	if (!p->has_key && cf->nauth == 0) {
		err_set("peer %s has no key configured", name);
		return NULL;
	}
	return p;
}

/* Put this node's certificate block at b; returns its length. */
static size_t
put_cert(uint8_t *b, const struct keys *me)
{
	size_t n = me->cert && me->certlen <= CERT_MAX_LEN ? me->certlen : 0;

	b[0] = (uint8_t)(n >> 8);
	b[1] = (uint8_t)n;
	if (n)
		memcpy(b + 2, me->cert, n);
	return 2 + n;
}

ssize_t
wire_hs_cert_block(const uint8_t b[2])
{
	size_t n = (size_t)b[0] << 8 | b[1];

	if (n > CERT_MAX_LEN) {
		err_set("certificate block of %zu bytes (at most %d)", n, CERT_MAX_LEN);
		return -1;
	}
	return (ssize_t)n;
}

/*
 * The key p proves itself with: the certificate it showed (cert, n bytes),
 * judged by the trust layer for p's name, else the key pinned for it.
 */
static int
peer_key(struct wire_hs *hs, const struct peer *p, const uint8_t *cert, size_t n,
	 struct pubkey *out)
{
	if (n > 0) {
		if (trust_check_raw(hs->cf, cert, n, p->name, time(NULL), &hs->peer_cert) < 0)
			return -1;
		hs->peer_has_cert = 1;
		*out = hs->peer_cert.key;
		return 0;
	}
	if (!p->has_key) {
		err_set("%s showed no certificate, and no key is pinned for it here", p->name);
		return -1;
	}
	if (p->file && trust_check_pinned(hs->cf, p->name, p->key.sign) < 0)
		return -1;
	*out = p->key;
	return 0;
}

static void
digest(const uint8_t *m1, size_t m1len, const uint8_t *m2, size_t m2len, const char *label,
       uint8_t out[SHA256_LEN])
{
	struct hash *h = hash_new_sha256();

	if (label)
		hash_update(h, label, strlen(label));
	hash_update(h, m1, m1len);
	hash_update(h, m2, m2len);
	hash_final(h, out);
}

/*
 * The holder of the secret key signs only a transcript that is one: a
 * HELLO, and a REPLY up to its signature (server) or whole (client), the
 * signer's own message naming this node.
 */
int
wire_hs_sign(const struct keys *me, const char *node, int server, const uint8_t *m1,
	     size_t m1len, const uint8_t *m2, size_t m2len, uint8_t sig[ED25519_SIG_LEN])
{
	char n1[HOP_NAME_MAX + 1], n2[HOP_NAME_MAX + 1];
	uint8_t e[X25519_LEN], d[SHA256_LEN];
	ssize_t n, c;

	if (get_head(m1, m1len, n1, e, 0) != (ssize_t)m1len) {
		err_set("hop signature refused: not a HELLO");
		return -1;
	}
	if (server)
		n = get_head(m2, m2len, n2, e, 0) == (ssize_t)m2len ? 0 : -1;
	else if ((n = get_head(m2, m2len, n2, e, 1)) >= 0 &&
		 (m2len < (size_t)n + ED25519_SIG_LEN + 2 ||
		  (c = wire_hs_cert_block(m2 + n + ED25519_SIG_LEN)) < 0 ||
		  m2len != (size_t)n + ED25519_SIG_LEN + 2 + (size_t)c))
		n = -1;
	if (n < 0) {
		err_set("hop signature refused: not a %sREPLY", server ? "signable " : "whole ");
		return -1;
	}
	if (node == NULL || strcmp(server ? n2 : n1, node) != 0) {
		err_set("hop signature refused: the %s names %s, not this node",
			server ? "REPLY" : "HELLO", server ? n2 : n1);
		return -1;
	}
	if (!keys_local(me)) {
		err_set("hop signature: no secret key here");
		return -1;
	}
	digest(m1, m1len, m2, m2len, server ? LABEL_SERVER : LABEL_CLIENT, d);
	return ed25519_sign(me->sign_sec, me->pub.sign, d, sizeof(d), sig);
}

/* Sign here, or ask the key process (keys.h) */
static int
hs_sign(const struct wire_hs *hs, const struct keys *me, int server, size_t m2len, uint8_t *sig)
{
	struct keyreq rq = {.op = server ? KEYOP_HOP_SERVER : KEYOP_HOP_CLIENT,
			    .a = hs->m1, .alen = hs->m1len, .b = hs->m2, .blen = m2len};

	if (keys_local(me))
		return wire_hs_sign(me, hs->cf->node, server, hs->m1, hs->m1len, hs->m2, m2len, sig);
	return keys_ask(me, &rq, sig, ED25519_SIG_LEN);
}

int
wire_hs_reply_make(struct wire_hs *hs, const char *node, const struct keys *me)
{
	if (node == NULL || !wire_name_ok(node, strlen(node))) {
		err_set("this node's name is not usable (NODE must be [A-Za-z0-9._-], 1-255 characters)");
		return -1;
	}
	hs->m2len = put_head(hs->m2, node, hs->eph_pub);
	if (hs_sign(hs, me, 1, hs->m2len, hs->m2 + hs->m2len) < 0)
		return -1;
	hs->m2len += ED25519_SIG_LEN;
	hs->m2len += put_cert(hs->m2 + hs->m2len, me);
	return 0;
}

int
wire_hs_reply_parse(struct wire_hs *hs, const uint8_t *b, size_t len, const struct peer *p)
{
	uint8_t d[SHA256_LEN];
	ssize_t n = get_head(b, len, hs->peer_name, hs->peer_eph, 1), c;
	struct pubkey k;

	if (n < 0)
		return -1;
	if (len < (size_t)n + ED25519_SIG_LEN + 2 ||
	    (c = wire_hs_cert_block(b + n + ED25519_SIG_LEN)) < 0 ||
	    len != (size_t)n + ED25519_SIG_LEN + 2 + (size_t)c) {
		err_set("reply of %zu bytes does not hold its signature and certificate block", len);
		return -1;
	}
	if (strcmp(hs->peer_name, p->name) != 0) {
		err_set("server calls itself %s, not %s", hs->peer_name, p->name);
		return -1;
	}
	if (len > sizeof(hs->m2)) {
		err_set("reply of %zu bytes is too long", len);
		return -1;
	}
	if (peer_key(hs, p, b + n + ED25519_SIG_LEN + 2, (size_t)c, &k) < 0)
		return -1;
	memcpy(hs->m2, b, len);
	hs->m2len = len;
	digest(hs->m1, hs->m1len, hs->m2, n, LABEL_SERVER, d);
	if (ed25519_verify(k.sign, d, sizeof(d), b + n) < 0) {
		err_set("bad handshake signature from %s (%s)", p->name, hs->peer_has_cert ?
			"not made with the key of its certificate" :
			"does its key match our PEER line?");
		return -1;
	}
	return 0;
}

int
wire_hs_auth_make(struct wire_hs *hs, const struct keys *me)
{
	if (hs_sign(hs, me, 0, hs->m2len, hs->m3) < 0)
		return -1;
	hs->m3len = ED25519_SIG_LEN + put_cert(hs->m3 + ED25519_SIG_LEN, me);
	return 0;
}

int
wire_hs_auth_check(struct wire_hs *hs, const uint8_t *b, size_t len, const struct peer *p)
{
	uint8_t d[SHA256_LEN];
	struct pubkey k;
	ssize_t c;

	if (len < ED25519_SIG_LEN + 2 || (c = wire_hs_cert_block(b + ED25519_SIG_LEN)) < 0 ||
	    len != ED25519_SIG_LEN + 2 + (size_t)c) {
		err_set("auth of %zu bytes does not hold a signature and certificate block", len);
		return -1;
	}
	if (peer_key(hs, p, b + ED25519_SIG_LEN + 2, (size_t)c, &k) < 0)
		return -1;
	digest(hs->m1, hs->m1len, hs->m2, hs->m2len, LABEL_CLIENT, d);
	if (ed25519_verify(k.sign, d, sizeof(d), b) < 0) {
		err_set("bad handshake signature from %s%s", p->name, hs->peer_has_cert ?
			" (not made with the key of its certificate)" : "");
		return -1;
	}
	memcpy(hs->m3, b, len);
	hs->m3len = len;
	return 0;
}

void
wire_hs_hop(const struct wire_hs *hs, struct hop *h)
{
	if (h && hs->peer_has_cert) {
		h->cert = hs->peer_cert;
		h->has_cert = 1;
	}
}

int
wire_hs_keys(struct wire_hs *hs, struct aead **tx, struct aead **rx)
{
	uint8_t shared[X25519_LEN], salt[SHA256_LEN], okm[2 * AEAD_KEY_LEN];
	const uint8_t *c2s = okm, *s2c = okm + AEAD_KEY_LEN;
	int rc = -1;

	if (x25519_shared(hs->eph_sec, hs->peer_eph, shared) < 0)
		goto out;
	digest(hs->m1, hs->m1len, hs->m2, hs->m2len, NULL, salt);
	if (hkdf_sha256(salt, sizeof(salt), shared, sizeof(shared), HKDF_INFO,
			strlen(HKDF_INFO), okm, sizeof(okm)) < 0)
		goto out;
	*tx = aead_new(hs->server ? s2c : c2s);
	*rx = aead_new(hs->server ? c2s : s2c);
	rc = 0;
out:
	crypto_wipe(shared, sizeof(shared));
	crypto_wipe(okm, sizeof(okm));
	return rc;
}

int
hop_still_trusted(const struct hop *h, const struct config *cf)
{
	const struct cert *c = hop_cert(h);

	if (c)
		return trust_check_revoked(cf, c);
	if (h->peer && h->peer->has_key)
		return trust_check_pinned(cf, h->peer->name, h->peer->key.sign);
	return 0;
}
