/*
 * envelope.c - the signed hop envelope and receipt of a directory hop
 * (envelope.h): format, parse, sign, verify. Knows nothing of files.
 */
#include "envelope.h"
#include "../crypto/crypto.h"
#include "../util/log.h"
#include "../util/decimal.h"
#include "../util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_MAGIC	"shipd-envelope: 1\n"
#define ENV_DOMAIN	"shipd-dirhop-envelope 1\n"	/* signed before the text */
#define ENV_SIGKEY	"signature: "

void
envelope_free(struct envelope *e)
{
	free(e->order);
	strv_free(&e->dests);
	memset(e, 0, sizeof(*e));
}

static void
sig_message(struct sbuf *m, const char *text, size_t len)
{
	sbuf_puts(m, ENV_DOMAIN);
	sbuf_add(m, text, len);
}

char *
envelope_format(const struct envelope *e, const struct keys *me, size_t *len)
{
	struct sbuf b = {0};
	uint8_t sig[ED25519_SIG_LEN];
	char sig64[2 * ED25519_SIG_LEN];

	sbuf_puts(&b, ENV_MAGIC);
	sbuf_printf(&b, "kind: %s\nfrom: %s\nto: %s\nid: %s\ncreated: %lld\n", e->kind, e->from,
		    e->to, e->id, (long long)e->created);
	if (strcmp(e->kind, ENV_PACKET) == 0) {
		size_t n = strlen(e->order), cap = 4 * ((n + 2) / 3) + 1;
		char *o64 = xmalloc(cap);

		b64_encode((const uint8_t *)e->order, n, o64, cap);
		sbuf_printf(&b, "size: %" PRIu64 "\nsha256: %s\norder: %s\n", e->size, e->sha256,
			    o64);
		free(o64);
	} else {
		for (int i = 0; i < e->dests.n; i++)
			sbuf_printf(&b, "dest: %s\n", e->dests.v[i]);
		sbuf_printf(&b, "status: %s\n", e->status);
	}
	if (envelope_sign(me, NULL, b.s, b.len, sig) < 0) {
		sbuf_free(&b);
		return NULL;
	}
	b64_encode(sig, sizeof(sig), sig64, sizeof(sig64));
	sbuf_printf(&b, "%s%s\n", ENV_SIGKEY, sig64);
	*len = b.len;
	return b.s;
}

static int
copy_field(char *dst, size_t size, const char *val, const char *key)
{
	if (strlen(val) >= size || val[0] == 0) {
		err_set("bad %s", key);
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

/* One "key: value" line into e. */
static int
parse_line(struct envelope *e, const char *key, const char *val)
{
	uint64_t u;

	if (strcmp(key, "kind") == 0) {
		if (strcmp(val, ENV_PACKET) != 0 && strcmp(val, ENV_RECEIPT) != 0) {
			err_set("unknown kind \"%.32s\"", val);
			return -1;
		}
		return copy_field(e->kind, sizeof(e->kind), val, key);
	}
	if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
		if (!order_name_valid(val)) {
			err_set("bad %s node \"%.64s\"", key, val);
			return -1;
		}
		return copy_field(key[0] == 'f' ? e->from : e->to, sizeof(e->from), val, key);
	}
	if (strcmp(key, "id") == 0) {
		if (!order_id_valid(val)) {
			err_set("bad id \"%.64s\"", val);
			return -1;
		}
		return copy_field(e->id, sizeof(e->id), val, key);
	}
	if (strcmp(key, "created") == 0 || strcmp(key, "size") == 0) {
		if (decimal_parse(val, INT64_MAX, &u) < 0) {
			err_set("bad %s \"%.32s\"", key, val);
			return -1;
		}
		if (key[0] == 'c')
			e->created = (time_t)u;
		else
			e->size = u;
		return 0;
	}
	if (strcmp(key, "sha256") == 0) {
		if (strlen(val) != 64 || strspn(val, "0123456789abcdef") != 64) {
			err_set("bad sha256");
			return -1;
		}
		return copy_field(e->sha256, sizeof(e->sha256), val, key);
	}
	if (strcmp(key, "order") == 0) {
		size_t cap = strlen(val), n;

		if (e->order || cap > 4 * (ORDER_MAX_SIZE / 3 + 1)) {
			err_set("bad order");
			return -1;
		}
		e->order = xmalloc(cap + 1);
		if (b64_decode(val, (uint8_t *)e->order, cap, &n) < 0) {
			err_set("bad order encoding");
			return -1;
		}
		e->order[n] = 0;
		if (strlen(e->order) != n) {
			err_set("order holds a NUL byte");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "dest") == 0) {
		if (!order_name_valid(val) || strv_has(&e->dests, val) || e->dests.n >= 4096) {
			err_set("bad dest \"%.64s\"", val);
			return -1;
		}
		strv_add(&e->dests, val);
		return 0;
	}
	if (strcmp(key, "status") == 0) {
		if (strcmp(val, "accepted") != 0 && strcmp(val, "had") != 0) {
			err_set("bad status \"%.32s\"", val);
			return -1;
		}
		return copy_field(e->status, sizeof(e->status), val, key);
	}
	err_set("unknown key \"%.40s\"", key);
	return -1;
}

/*
 * The lines of buf before any signature line into e (zeroed first): 1 all
 * read up to a signature line (*sigline set) or the end, 0 incomplete (a
 * copy in progress), -1 bad (err_set; e freed by the caller).
 */
static int
parse_fields(const char *buf, size_t len, struct envelope *e, const char **sigline)
{
	const char *p, *end = buf + len;

	memset(e, 0, sizeof(e[0]));
	*sigline = NULL;
	if (len < strlen(ENV_MAGIC) || memcmp(buf, ENV_MAGIC, strlen(ENV_MAGIC)) != 0) {
		if (len < strlen(ENV_MAGIC) && memcmp(buf, ENV_MAGIC, len) == 0)
			return 0;	/* being written */
		err_set("not a shipd envelope");
		return -1;
	}
	if (memchr(buf, 0, len)) {
		err_set("NUL byte in the envelope");
		return -1;
	}
	for (p = buf + strlen(ENV_MAGIC); p < end;) {
		const char *nl = memchr(p, '\n', end - p), *colon;
		char *key, *val;
		int rc;

		if (nl == NULL)
			return 0;	/* a last line not yet complete */
		if ((size_t)(end - p) > strlen(ENV_SIGKEY) &&
		    memcmp(p, ENV_SIGKEY, strlen(ENV_SIGKEY)) == 0) {
			if (nl + 1 != end) {
				err_set("data after the signature");
				return -1;
			}
			*sigline = p;
			return 1;
		}
		if ((colon = memchr(p, ':', nl - p)) == NULL || colon + 1 >= nl || colon[1] != ' ') {
			err_set("not \"key: value\"");
			return -1;
		}
		key = xstrndup(p, colon - p);
		val = xstrndup(colon + 2, nl - colon - 2);
		rc = parse_line(e, key, val);
		free(key);
		free(val);
		if (rc < 0)
			return -1;
		p = nl + 1;
	}
	return 1;
}

static int
fields_complete(const struct envelope *e)
{
	if (!e->kind[0] || !e->from[0] || !e->to[0] || !e->id[0] || !e->created ||
	    (strcmp(e->kind, ENV_PACKET) == 0 ? !e->sha256[0] || !e->order || !e->size :
	     !e->status[0] || e->dests.n == 0)) {
		err_set("a required field is missing");
		return -1;
	}
	return 0;
}

/* e's message is freed and err kept */
static int
parse_failed(struct envelope *e)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", err_get());
	envelope_free(e);
	err_set("%s", why);
	return -1;
}

int
envelope_sign(const struct keys *me, const char *node, const char *text, size_t len,
	      uint8_t sig[ED25519_SIG_LEN])
{
	struct keyreq rq = {.op = KEYOP_ENVELOPE, .a = (const uint8_t *)text, .alen = len};
	struct sbuf m = {0};
	int rc;

	if (len > ENV_SIGN_MAX) {
		err_set("an envelope of %zu bytes is more than the %d allowed", len, ENV_SIGN_MAX);
		return -1;
	}
	if (!keys_local(me))
		return keys_ask(me, &rq, sig, ED25519_SIG_LEN);
	if (node) {		/* asked by another process: only this node's own */
		struct envelope e;
		const char *sigline;

		if ((rc = parse_fields(text, len, &e, &sigline)) < 0)
			return parse_failed(&e);
		if (rc == 0 || sigline || len == 0 || text[len - 1] != '\n') {
			envelope_free(&e);
			err_set("envelope signature refused: not a whole unsigned envelope");
			return -1;
		}
		if (fields_complete(&e) < 0)
			return parse_failed(&e);
		if (strcmp(e.from, node) != 0) {
			err_set("envelope signature refused: envelope %s is from %s, not this node",
				e.id, e.from);
			envelope_free(&e);
			return -1;
		}
		envelope_free(&e);
	}
	sig_message(&m, text, len);
	rc = ed25519_sign(me->sign_sec, me->pub.sign, m.s, m.len, sig);
	sbuf_free(&m);
	return rc;
}

int
envelope_parse(const struct config *cf, const char *buf, size_t len, struct envelope *e)
{
	const char *sigline;
	const struct peer *peer;
	uint8_t sig[ED25519_SIG_LEN];
	struct sbuf m = {0};
	size_t siglen;
	int rc;

	if ((rc = parse_fields(buf, len, e, &sigline)) < 0)
		return parse_failed(e);
	if (rc == 0 || sigline == NULL) {
		envelope_free(e);
		return 0;
	}
	if (fields_complete(e) < 0)
		return parse_failed(e);
	/* the signer: a neighbour this node knows, by its configured key */
	if ((peer = config_peer(cf, e->from)) == NULL || !PEER_REACHABLE(peer) || !peer->has_key) {
		err_set("from %s, which is not a PEER of %s with a key", e->from, cf->node);
		return parse_failed(e);
	}
	{
		char s64[2 * ED25519_SIG_LEN];
		size_t n = buf + len - 1 - (sigline + strlen(ENV_SIGKEY));

		if (n >= sizeof(s64)) {
			err_set("bad signature");
			return parse_failed(e);
		}
		memcpy(s64, sigline + strlen(ENV_SIGKEY), n);
		s64[n] = 0;
		if (b64_decode(s64, sig, sizeof(sig), &siglen) < 0 || siglen != sizeof(sig)) {
			err_set("bad signature encoding");
			return parse_failed(e);
		}
	}
	sig_message(&m, buf, sigline - buf);
	rc = ed25519_verify(peer->key.sign, m.s, m.len, sig);
	sbuf_free(&m);
	if (rc != 0) {
		err_set("signature does not verify with %s's key (tampered?)", e->from);
		return parse_failed(e);
	}
	return 1;
}
