/*
 * cert.c - certificates and revocation lists (cert.h; the formats are
 * documented in shipd-cert(5)).
 *
 * Certificate, big-endian binary:
 *
 *   "SHDC" version(1) role(1) namelen(1) name sign(32) kx(32)
 *   not-before(8) not-after(8) serial(8) authority-id(8) sig(64)
 *
 * sig = Ed25519 by the authority over "shipd-cert 1\n" || every byte
 * before sig. Revocation list, text:
 *
 *   shipd-revocations 1
 *   authority: HEX16
 *   serial: N
 *   created: SECONDS
 *   revoke: node NAME SERIAL | key BASE64 | serial N     (0 or more)
 *   end
 *   sig: BASE64
 *
 * sig = Ed25519 by the authority over "shipd-revocations-sig 1\n" ||
 * SHA-256(every byte from the first line through "end\n").
 *
 * Parsers never guess: unknown or missing fields, non-canonical numbers
 * or base64, trailing bytes are errors. Nothing here reads a clock, a
 * file or the configuration.
 */
#include "cert.h"
#include "../util/decimal.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
put64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

void
cert_authority_id(const uint8_t sign_pub[ED25519_PUB_LEN], uint8_t id[AUTH_ID_LEN])
{
	uint8_t h[SHA256_LEN];

	sha256(sign_pub, ED25519_PUB_LEN, h);
	memcpy(id, h, AUTH_ID_LEN);
}

void
cert_id_hex(const uint8_t id[AUTH_ID_LEN], char out[AUTH_ID_HEX])
{
	hex_encode(id, AUTH_ID_LEN, out);
}

const char *
cert_role_name(int role)
{
	switch (role) {
	case CERT_NODE:
		return "node";
	case CERT_RELAY:
		return "relay";
	default:
		return "?";
	}
}

int
cert_role_parse(const char *s)
{
	if (strcmp(s, "node") == 0)
		return CERT_NODE;
	if (strcmp(s, "relay") == 0)
		return CERT_RELAY;
	return -1;
}

int
cert_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CERT_NAME_MAX || s[0] == '-')
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The signed message of an encoding of len bytes (sig excluded). */
static size_t
cert_msg(const uint8_t *raw, size_t len, uint8_t *msg)
{
	size_t c = strlen(CERT_SIG_CTX);

	memcpy(msg, CERT_SIG_CTX, c);
	memcpy(msg + c, raw, len - ED25519_SIG_LEN);
	return c + len - ED25519_SIG_LEN;
}

int
cert_sign(struct cert *c, const struct keys *authority)
{
	uint8_t msg[sizeof(CERT_SIG_CTX) + CERT_MAX_LEN], *b = c->raw;
	size_t n = strlen(c->name), mlen;

	if (!cert_name_ok(c->name)) {
		err_set("certificate: bad node name \"%.80s\"", c->name);
		return -1;
	}
	if (c->role != CERT_NODE && c->role != CERT_RELAY) {
		err_set("certificate: bad role %d", c->role);
		return -1;
	}
	if (c->not_after <= c->not_before) {
		err_set("certificate: not-after is not after not-before");
		return -1;
	}
	cert_authority_id(authority->pub.sign, c->authority);
	memcpy(b, CERT_MAGIC, 4);
	b[4] = CERT_VERSION;
	b[5] = (uint8_t)c->role;
	b[6] = (uint8_t)n;
	memcpy(b + 7, c->name, n);
	b += 7 + n;
	memcpy(b, c->key.sign, 32);
	memcpy(b + 32, c->key.kx, 32);
	put64(b + 64, c->not_before);
	put64(b + 72, c->not_after);
	put64(b + 80, c->serial);
	memcpy(b + 88, c->authority, AUTH_ID_LEN);
	c->rawlen = CERT_FIXED_LEN + n;
	mlen = cert_msg(c->raw, c->rawlen, msg);
	if (ed25519_sign(authority->sign_sec, authority->pub.sign, msg, mlen, c->sig) < 0)
		return -1;
	memcpy(c->raw + c->rawlen - ED25519_SIG_LEN, c->sig, ED25519_SIG_LEN);
	return 0;
}

int
cert_decode(const uint8_t *buf, size_t len, struct cert *c)
{
	const uint8_t *b;
	size_t n;

	memset(c, 0, sizeof(*c));
	if (len < 7 || memcmp(buf, CERT_MAGIC, 4) != 0) {
		err_set("not a shipd certificate");
		return -1;
	}
	if (buf[4] != CERT_VERSION) {
		err_set("unsupported certificate version %u (this shipd reads %u)", buf[4],
			CERT_VERSION);
		return -1;
	}
	n = buf[6];
	if (len != CERT_FIXED_LEN + n) {
		err_set("certificate of %zu bytes, want %zu", len, (size_t)CERT_FIXED_LEN + n);
		return -1;
	}
	if (buf[5] != CERT_NODE && buf[5] != CERT_RELAY) {
		err_set("certificate with unknown role %u", buf[5]);
		return -1;
	}
	c->role = buf[5];
	if (n == 0 || n > CERT_NAME_MAX) {
		err_set("certificate with a bad node name");
		return -1;
	}
	memcpy(c->name, buf + 7, n);
	c->name[n] = 0;
	if (!cert_name_ok(c->name) || strlen(c->name) != n) {
		err_set("certificate with a bad node name");
		return -1;
	}
	b = buf + 7 + n;
	memcpy(c->key.sign, b, 32);
	memcpy(c->key.kx, b + 32, 32);
	c->not_before = get64(b + 64);
	c->not_after = get64(b + 72);
	c->serial = get64(b + 80);
	memcpy(c->authority, b + 88, AUTH_ID_LEN);
	memcpy(c->sig, b + 88 + AUTH_ID_LEN, ED25519_SIG_LEN);
	if (c->not_after <= c->not_before || c->not_after > (uint64_t)INT64_MAX / 2) {
		err_set("certificate of %s with a bad validity period", c->name);
		return -1;
	}
	memcpy(c->raw, buf, len);
	c->rawlen = len;
	return 0;
}

int
cert_verify(const struct cert *c, const uint8_t authority_sign[ED25519_PUB_LEN])
{
	uint8_t msg[sizeof(CERT_SIG_CTX) + CERT_MAX_LEN], id[AUTH_ID_LEN];
	size_t mlen;

	cert_authority_id(authority_sign, id);
	if (c->rawlen < CERT_FIXED_LEN || !crypto_memeq(id, c->authority, AUTH_ID_LEN)) {
		err_set("certificate of %s is not from this authority", c->name);
		return -1;
	}
	mlen = cert_msg(c->raw, c->rawlen, msg);
	if (ed25519_verify(authority_sign, msg, mlen, c->sig) < 0) {
		err_set("certificate of %s: bad authority signature (forged or altered)", c->name);
		return -1;
	}
	return 0;
}

void
cert_token(const struct cert *c, char out[CERT_TOKEN_MAX])
{
	strcpy(out, CERT_TOKEN_PREFIX);
	b64_encode(c->raw, c->rawlen, out + strlen(CERT_TOKEN_PREFIX),
		   CERT_TOKEN_MAX - strlen(CERT_TOKEN_PREFIX));
}

/* Canonical base64 of at most max bytes into out. */
static int
b64_canon(const char *s, uint8_t *out, size_t max, size_t *n)
{
	char again[CERT_TOKEN_MAX + 8];

	if (strlen(s) >= sizeof(again) || b64_decode(s, out, max, n) < 0 ||
	    b64_encode(out, *n, again, sizeof(again)) == 0 || strcmp(again, s) != 0)
		return -1;
	return 0;
}

int
cert_token_parse(const char *s, struct cert *c)
{
	uint8_t raw[CERT_MAX_LEN + 3];
	size_t n;

	memset(c, 0, sizeof(*c));
	if (strncmp(s, CERT_TOKEN_PREFIX, strlen(CERT_TOKEN_PREFIX)) != 0 ||
	    b64_canon(s + strlen(CERT_TOKEN_PREFIX), raw, sizeof(raw), &n) < 0) {
		err_set("not a certificate token (want %s followed by base64)", CERT_TOKEN_PREFIX);
		return -1;
	}
	return cert_decode(raw, n, c);
}

void
cert_time_str(uint64_t t, char out[24])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > (uint64_t)INT32_MAX * 64 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, 24, "@%" PRIu64, t);
	else
		strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *
cert_file_text(const struct cert *c)
{
	char tok[CERT_TOKEN_MAX], a[24], b[24], id[AUTH_ID_HEX], pk[PUBKEY_STRLEN];

	cert_token(c, tok);
	cert_time_str(c->not_before, a);
	cert_time_str(c->not_after, b);
	cert_id_hex(c->authority, id);
	pubkey_format(&c->key, pk);
	return xasprintf("# shipd certificate of %s: role %s, serial %" PRIu64 "\n"
			 "# valid from %s until %s, signed by authority %s\n"
			 "# key %s\n%s\n", c->name, cert_role_name(c->role), c->serial, a, b,
			 id, pk, tok);
}

int
cert_file_parse(const char *text, size_t len, struct cert *c)
{
	const char *p = text, *end = text + len;
	char line[CERT_TOKEN_MAX + 64];
	int found = 0, ln = 0;

	memset(c, 0, sizeof(*c));
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		ln++;
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 || p[0] == '#')
			goto next;
		if (n >= sizeof(line) || memchr(p, 0, n) != NULL) {
			err_set("line %d: not a certificate", ln);
			return -1;
		}
		if (found) {
			err_set("line %d: a second certificate (one per file)", ln);
			return -1;
		}
		memcpy(line, p, n);
		line[n] = 0;
		if (cert_token_parse(line, c) < 0) {
			char e[256];

			snprintf(e, sizeof(e), "%s", err_get());
			err_set("line %d: %s", ln, e);
			return -1;
		}
		found = 1;
next:
		p = nl ? nl + 1 : end;
	}
	if (!found) {
		err_set("no certificate in the file");
		return -1;
	}
	return 0;
}

/* Revocation lists ---------------------------------------------------- */

void
revlist_init(struct revlist *rl)
{
	memset(rl, 0, sizeof(*rl));
}

void
revlist_free(struct revlist *rl)
{
	free(rl->v);
	memset(rl, 0, sizeof(*rl));
}

void
revlist_add(struct revlist *rl, const struct rev_entry *e)
{
	if ((rl->n & (rl->n - 1)) == 0)		/* 0, 1, 2, 4, ...: grow */
		rl->v = xrealloc(rl->v, (rl->n ? 2 * rl->n : 1) * sizeof(*rl->v));
	rl->v[rl->n++] = *e;
}

static int PRINTF(2, 3)
rerr(int line, const char *fmt, ...)
{
	char m[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	err_set("revocation list line %d: %s", line, m);
	return -1;
}

static int
parse_entry(int ln, char *v, struct rev_entry *e)
{
	char *a = v, *b = strchr(v, ' '), *c2;
	size_t n;

	memset(e, 0, sizeof(*e));
	if (b == NULL)
		return rerr(ln, "want \"revoke: node NAME SERIAL\", \"revoke: key BASE64\" or "
			    "\"revoke: serial N\"");
	*b++ = 0;
	if (strcmp(a, "node") == 0) {
		if ((c2 = strchr(b, ' ')) == NULL)
			return rerr(ln, "want \"revoke: node NAME SERIAL\"");
		*c2++ = 0;
		if (!cert_name_ok(b) || decimal_parse_canonical(c2, UINT64_MAX, &e->serial) < 0)
			return rerr(ln, "bad node entry \"%.80s %.20s\"", b, c2);
		e->kind = REV_NODE;
		snprintf(e->name, sizeof(e->name), "%s", b);
		return 0;
	}
	if (strcmp(a, "key") == 0) {
		uint8_t k[ED25519_PUB_LEN + 3];

		if (b64_canon(b, k, sizeof(k), &n) < 0 || n != ED25519_PUB_LEN)
			return rerr(ln, "bad key \"%.60s\"", b);
		e->kind = REV_KEY;
		memcpy(e->key, k, ED25519_PUB_LEN);
		return 0;
	}
	if (strcmp(a, "serial") == 0) {
		if (decimal_parse_canonical(b, UINT64_MAX, &e->serial) < 0)
			return rerr(ln, "bad serial \"%.20s\"", b);
		e->kind = REV_SERIAL;
		return 0;
	}
	return rerr(ln, "unknown entry kind \"%.20s\"", a);
}

int
revlist_parse(const char *buf, size_t len, struct revlist *rl)
{
	static const char *const keys[] = {"authority", "serial", "created"};
	const char *p = buf, *end = buf + len;
	char line[512];
	int ln = 0, state = 0;		/* 0 magic, 1..3 keys[], 4 entries, 5 sig, 6 done */

	revlist_init(rl);
	if (len > REV_MAX_SIZE) {
		err_set("revocation list of %zu bytes (at most %d)", len, REV_MAX_SIZE);
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n;
		char *v;

		ln++;
		if (nl == NULL) {
			rerr(ln, "truncated (no end of line)");
			goto bad;
		}
		n = (size_t)(nl - p);
		if (n >= sizeof(line)) {
			rerr(ln, "longer than %zu bytes", sizeof(line) - 1);
			goto bad;
		}
		memcpy(line, p, n);
		line[n] = 0;
		p = nl + 1;
		for (size_t i = 0; i < n; i++)
			if (line[i] < 0x20 || line[i] > 0x7e) {
				rerr(ln, "control or non-ASCII character");
				goto bad;
			}
		if (state == 0) {
			if (strcmp(line, REV_MAGIC) != 0) {
				rerr(ln, "not a shipd revocation list (want \"%s\")", REV_MAGIC);
				goto bad;
			}
			state = 1;
			continue;
		}
		if (state == 5) {
			size_t got;
			uint8_t sig[ED25519_SIG_LEN + 3];

			if (strncmp(line, "sig: ", 5) != 0 ||
			    b64_canon(line + 5, sig, sizeof(sig), &got) < 0 ||
			    got != ED25519_SIG_LEN) {
				rerr(ln, "want the signature \"sig: BASE64\"");
				goto bad;
			}
			memcpy(rl->sig, sig, ED25519_SIG_LEN);
			state = 6;
			continue;
		}
		if (state == 6) {
			rerr(ln, "data after the signature");
			goto bad;
		}
		if (strcmp(line, "end") == 0) {
			if (state != 4) {
				rerr(ln, "missing %s before end", keys[state - 1]);
				goto bad;
			}
			rl->signed_len = (size_t)(p - buf);
			state = 5;
			continue;
		}
		if ((v = strstr(line, ": ")) == NULL) {
			rerr(ln, "want \"key: value\"");
			goto bad;
		}
		*v = 0;
		v += 2;
		if (state <= 3) {
			uint64_t x;

			if (strcmp(line, keys[state - 1]) != 0) {
				rerr(ln, "want %s, not \"%.32s\"", keys[state - 1], line);
				goto bad;
			}
			if (state == 1) {
				if (hex_decode(v, rl->authority, AUTH_ID_LEN) < 0) {
					rerr(ln, "bad authority id \"%.40s\"", v);
					goto bad;
				}
			} else if (decimal_parse_canonical(v, UINT64_MAX, &x) < 0 || (state == 2 && x == 0)) {
				rerr(ln, "bad %s \"%.32s\"", keys[state - 1], v);
				goto bad;
			} else if (state == 2)
				rl->serial = x;
			else
				rl->created = x;
			state++;
			continue;
		}
		if (strcmp(line, "revoke") != 0) {
			rerr(ln, "unknown key \"%.32s\"", line);
			goto bad;
		}
		if (rl->n >= REV_MAX_ENTRIES) {
			rerr(ln, "more than %d entries", REV_MAX_ENTRIES);
			goto bad;
		}
		{
			struct rev_entry e;

			if (parse_entry(ln, v, &e) < 0)
				goto bad;
			revlist_add(rl, &e);
		}
	}
	if (state != 6) {
		err_set("revocation list truncated (%s)", state == 5 ? "no signature" :
			state == 0 ? "empty" : "no end");
		goto bad;
	}
	return 0;
bad:
	revlist_free(rl);
	return -1;
}

static void
rev_msg(const char *buf, size_t len, uint8_t *msg, size_t *mlen)
{
	size_t c = strlen(REV_SIG_CTX);

	memcpy(msg, REV_SIG_CTX, c);
	sha256(buf, len, msg + c);
	*mlen = c + SHA256_LEN;
}

int
revlist_verify(const struct revlist *rl, const char *buf,
	       const uint8_t authority_sign[ED25519_PUB_LEN])
{
	uint8_t msg[sizeof(REV_SIG_CTX) + SHA256_LEN], id[AUTH_ID_LEN];
	size_t mlen;

	cert_authority_id(authority_sign, id);
	if (!crypto_memeq(id, rl->authority, AUTH_ID_LEN)) {
		err_set("revocation list is not from this authority");
		return -1;
	}
	rev_msg(buf, rl->signed_len, msg, &mlen);
	if (ed25519_verify(authority_sign, msg, mlen, rl->sig) < 0) {
		err_set("revocation list serial %" PRIu64 ": bad authority signature", rl->serial);
		return -1;
	}
	return 0;
}

char *
revlist_sign(struct revlist *rl, const struct keys *authority, size_t *len)
{
	uint8_t msg[sizeof(REV_SIG_CTX) + SHA256_LEN];
	char hex[AUTH_ID_HEX], b64[128];
	struct sbuf b;
	size_t mlen;

	cert_authority_id(authority->pub.sign, rl->authority);
	cert_id_hex(rl->authority, hex);
	sbuf_init(&b);
	sbuf_printf(&b, "%s\nauthority: %s\nserial: %" PRIu64 "\ncreated: %" PRIu64 "\n",
		    REV_MAGIC, hex, rl->serial, rl->created);
	for (int i = 0; i < rl->n; i++) {
		const struct rev_entry *e = &rl->v[i];

		switch (e->kind) {
		case REV_NODE:
			sbuf_printf(&b, "revoke: node %s %" PRIu64 "\n", e->name, e->serial);
			break;
		case REV_KEY:
			b64_encode(e->key, ED25519_PUB_LEN, b64, sizeof(b64));
			sbuf_printf(&b, "revoke: key %s\n", b64);
			break;
		case REV_SERIAL:
			sbuf_printf(&b, "revoke: serial %" PRIu64 "\n", e->serial);
			break;
		default:
			msg_panic("revlist_sign: entry kind %d", e->kind);
		}
	}
	sbuf_puts(&b, "end\n");
	rl->signed_len = b.len;
	rev_msg(b.s, b.len, msg, &mlen);
	if (ed25519_sign(authority->sign_sec, authority->pub.sign, msg, mlen, rl->sig) < 0) {
		sbuf_free(&b);
		return NULL;
	}
	b64_encode(rl->sig, ED25519_SIG_LEN, b64, sizeof(b64));
	sbuf_printf(&b, "sig: %s\n", b64);
	*len = b.len;
	return b.s;
}

const struct rev_entry *
revlist_match_key(const struct revlist *rl, const uint8_t sign[ED25519_PUB_LEN])
{
	for (int i = 0; i < rl->n; i++)
		if (rl->v[i].kind == REV_KEY && memcmp(rl->v[i].key, sign, ED25519_PUB_LEN) == 0)
			return &rl->v[i];
	return NULL;
}

const struct rev_entry *
revlist_match(const struct revlist *rl, const struct cert *c)
{
	if (memcmp(rl->authority, c->authority, AUTH_ID_LEN) != 0)
		return revlist_match_key(rl, c->key.sign);
	for (int i = 0; i < rl->n; i++) {
		const struct rev_entry *e = &rl->v[i];

		if ((e->kind == REV_NODE && strcmp(e->name, c->name) == 0 && c->serial <= e->serial) ||
		    (e->kind == REV_SERIAL && e->serial == c->serial) ||
		    (e->kind == REV_KEY && memcmp(e->key, c->key.sign, ED25519_PUB_LEN) == 0))
			return e;
	}
	return NULL;
}

void
rev_entry_str(const struct rev_entry *e, char *out, size_t size)
{
	char b64[64];

	switch (e->kind) {
	case REV_NODE:
		snprintf(out, size, "node %s, certificates up to serial %" PRIu64, e->name, e->serial);
		break;
	case REV_KEY:
		b64_encode(e->key, ED25519_PUB_LEN, b64, sizeof(b64));
		snprintf(out, size, "key %.16s...", b64);
		break;
	case REV_SERIAL:
		snprintf(out, size, "certificate serial %" PRIu64, e->serial);
		break;
	default:
		snprintf(out, size, "entry of kind %d", e->kind);
	}
}
