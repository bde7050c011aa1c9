/*
 * packet_header.c - the packet's signed text header: parse, format, sign,
 * check. This comment is the format's documentation.
 *
 * Offers pkt_hdr_parse/format/reserve/verify (packet_int.h) and
 * packet_check_header/pkt_info_free (packet.h). Never guesses: an unknown,
 * repeated, missing or out-of-order field, an over-long line or header,
 * a non-canonical number or base64 value is an error, before any
 * signature check (the parser sees untrusted bytes; it is fuzzed).
 *
 * A packet file (one part of a logical packet) is
 *
 *   header    text, at most PKT_MAX_HEADER bytes, lines of printable ASCII
 *             of at most 512 bytes ending in "\n", in exactly this order:
 *
 *     shipd-packet 1              magic and format version
 *     id: GROUP | GROUP.pNofM     this part's id
 *     group: GROUP                the logical packet
 *     part: N/M                   1 <= N <= M <= 99999
 *     origin: NODE                who sealed and signed it
 *     cert: B64                   optional: the origin's certificate
 *                                 (shipd-cert(5)); without it the origin's
 *                                 key must be known where it is checked
 *     dest: NODE                  one line per final destination (1..256)
 *     class: CLASS                storage class
 *     kind: KIND                  optional: what the packet is for,
 *                                 [a-z][a-z0-9-]*, at most 32; absent =
 *                                 "data" (a file to deliver), never
 *                                 written as "data"
 *     created: SECONDS            Unix time
 *     expires: SECONDS            Unix time, >= created
 *     notify: ADDRESS             optional: who the origin wants told when
 *                                 the packet expires or comes home
 *                                 (util/mailaddr.h's grammar); every hop
 *                                 takes it from here, never from the order
 *     total-size: BYTES           ciphertext bytes of all parts' bodies
 *     body-length: BYTES          ciphertext bytes of this part's body
 *     first-chunk: INDEX          this body's first chunk in the stream
 *     chunk-size: 65536           plaintext bytes per full chunk
 *     ephemeral: B64              X25519 public key, 32 bytes
 *     wrap: NODE B64              one per dest, in dest order: the 32-byte
 *                                 packet key sealed for NODE (48 bytes)
 *     pad: ....                   optional: dots, so the header can be
 *                                 written after the body into a fixed
 *                                 reserved space (see packet_sealer.c)
 *     end
 *     sig: B64                    Ed25519 by origin over
 *                                 "shipd-packet-header 1\n" || SHA-256(every
 *                                 byte above, "shipd-packet" through "end\n")
 *
 *   body      body-length bytes: chunks first-chunk, first-chunk+1, ...
 *             of the logical ciphertext stream, each a full chunk of
 *             65536+16 bytes except the stream's last (final) chunk,
 *             which holds 0..65536 plaintext bytes + 16. See
 *             packet_chunk.c for nonces and associated data.
 *
 *   trailer   "trailer: B64\n" (98 bytes): Ed25519 by origin over
 *             "shipd-packet-trailer 1\n" || SHA-256(header, including its
 *             sig line) || SHA-256(body). Relays check the whole file with
 *             the origin's public key alone; a recipient that knows the
 *             packet key still cannot forge chunks for another.
 *
 * Numbers are decimal without sign or leading zeros; base64 is standard,
 * padded and canonical (re-encoding gives the same text). The logical
 * plaintext stream is a pax archive holding exactly one regular file,
 * zstd-compressed or (for data that does not shrink) plain; the reader
 * tells them apart by the zstd magic. The packet key is random per logical packet; each wrap's
 * key-encryption key is HKDF-SHA256(salt = ephemeral || dest X25519 key,
 * ikm = X25519(ephemeral secret, dest X25519 key), info = "shipd wrap v1"
 * || group).
 */
#include "packet_int.h"
#include "../trust/trust.h"
#include "../util/decimal.h"
#include "../util/log.h"
#include "../util/mailaddr.h"
#include "../util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields after the magic line, in their required order. */
enum { K_ID, K_GROUP, K_PART, K_ORIGIN, K_CERT, K_DEST, K_CLASS, K_KIND, K_CREATED,
       K_EXPIRES, K_NOTIFY, K_TOTAL, K_BODY, K_FIRST, K_CHUNK, K_EPH, K_WRAP, K_PAD, K_NKEYS };
static const char *const keyname[K_NKEYS] = {
	"id", "group", "part", "origin", "cert", "dest", "class", "kind", "created", "expires",
	"notify",
	"total-size", "body-length", "first-chunk", "chunk-size", "ephemeral", "wrap", "pad",
};

/* Fields that may be left out (pad is handled where end is). */
static int
optional(int k)
{
	return k == K_CERT || k == K_KIND || k == K_NOTIFY;
}

/* The first field after cur that must be there. */
static int
next_required(int cur)
{
	int k = cur + 1;

	while (k < K_NKEYS && optional(k))
		k++;
	return k;
}

int
packet_kind_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PKT_KIND_MAX || s[0] < 'a' || s[0] > 'z')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int
pkt_name_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_' || s[n] == '-'))
			return 0;
	return n > 0 && n <= max;
}

void
pkt_info_free(struct pkt_info *pi)
{
	if (pi)
		strv_free(&pi->dests);
}

void
pkt_hdr_free(struct pkt_hdr *h)
{
	pkt_info_free(&h->info);
	free(h->wraps);
	h->wraps = NULL;
}

static int
parse_time(const char *s, time_t *out)
{
	uint64_t v;

	if (decimal_parse_canonical(s, UINT64_MAX, &v) < 0 || v > (uint64_t)INT64_MAX / 2)
		return -1;
	*out = (time_t)v;
	return 0;
}

/* Canonical base64 of exactly n bytes. */
static int
b64_exact(const char *s, uint8_t *out, size_t n)
{
	uint8_t buf[128];
	char again[200];
	size_t got;

	if (n > sizeof(buf) - 3 || b64_decode(s, buf, sizeof(buf), &got) < 0 || got != n ||
	    b64_encode(buf, n, again, sizeof(again)) == 0 || strcmp(again, s) != 0)
		return -1;
	memcpy(out, buf, n);
	return 0;
}

struct parse {
	struct pkt_hdr *h;
	int line;
	int have_id;
};

static int PRINTF(2, 3)
perr(const struct parse *ps, const char *fmt, ...)
{
	char m[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (ps->have_id)
		err_set("packet %s: header line %d: %s", ps->h->info.id, ps->line, m);
	else
		err_set("packet header line %d: %s", ps->line, m);
	return -1;
}

/* One "key: value" field, k already placed in order. */
static int
parse_field(struct parse *ps, int k, char *v, int *nwraps)
{
	struct pkt_hdr *h = ps->h;
	struct pkt_info *pi = &h->info;
	uint64_t n;
	char *sp;

	switch (k) {
	case K_ID:
	case K_GROUP:
		if (!pkt_name_ok(v, ORDER_ID_MAX - 1))
			return perr(ps, "bad %s \"%.64s\"", keyname[k], v);
		strcpy(k == K_ID ? pi->id : pi->group, v);
		ps->have_id |= k == K_ID;
		return 0;
	case K_PART: {
		unsigned long a, b;
		char tail;

		if (sscanf(v, "%5lu/%5lu%c", &a, &b, &tail) != 2 || a < 1 || a > b ||
		    b > PKT_MAX_PARTS) {
			return perr(ps, "bad part \"%.32s\" (want N/M, 1 <= N <= M <= %d)", v,
				    PKT_MAX_PARTS);
		}
		char canon[32];

		snprintf(canon, sizeof(canon), "%lu/%lu", a, b);
		if (strcmp(canon, v) != 0)
			return perr(ps, "bad part \"%.32s\"", v);
		pi->part = a;
		pi->nparts = b;
		return 0;
	}
	case K_ORIGIN:
	case K_CLASS:
		if (!pkt_name_ok(v, PKT_NAME_MAX))
			return perr(ps, "bad %s name \"%.64s\"", keyname[k], v);
		strcpy(k == K_ORIGIN ? pi->origin : pi->sclass, v);
		return 0;
	case K_DEST:
		if (!pkt_name_ok(v, PKT_NAME_MAX))
			return perr(ps, "bad destination name \"%.64s\"", v);
		if (pi->dests.n >= PKT_MAX_DESTS)
			return perr(ps, "more than %d destinations", PKT_MAX_DESTS);
		if (strv_has(&pi->dests, v))
			return perr(ps, "destination %s repeated", v);
		strv_add(&pi->dests, v);
		return 0;
	case K_CREATED:
	case K_EXPIRES:
		if (parse_time(v, k == K_CREATED ? &pi->created : &pi->expires) < 0)
			return perr(ps, "bad %s time \"%.32s\"", keyname[k], v);
		return 0;
	case K_TOTAL:
	case K_BODY:
	case K_FIRST:
	case K_CHUNK:
		if (decimal_parse_canonical(v, UINT64_MAX, &n) < 0)
			return perr(ps, "bad %s \"%.32s\"", keyname[k], v);
		if (k == K_TOTAL)
			pi->total_size = n;
		else if (k == K_BODY)
			h->body_len = n;
		else if (k == K_FIRST)
			h->first_chunk = n;
		else if (n != PKT_CHUNK)
			return perr(ps, "unsupported chunk-size %" PRIu64, n);
		else
			h->chunk_size = n;
		return 0;
	case K_CERT: {
		uint8_t raw[CERT_MAX_LEN + 3];
		char again[CERT_TOKEN_MAX];
		size_t got;

		if (strlen(v) >= sizeof(again) || b64_decode(v, raw, sizeof(raw), &got) < 0 ||
		    b64_encode(raw, got, again, sizeof(again)) == 0 || strcmp(again, v) != 0)
			return perr(ps, "bad certificate (want base64)");
		if (cert_decode(raw, got, &pi->cert) < 0) {
			char e[200];

			snprintf(e, sizeof(e), "%s", err_get());
			return perr(ps, "bad certificate: %s", e);
		}
		pi->has_cert = 1;
		return 0;
	}
	case K_KIND:
		if (!packet_kind_ok(v) || strcmp(v, PKT_KIND_DATA) == 0)
			return perr(ps, "bad kind \"%.40s\" (want [a-z][a-z0-9-]*, not \"%s\")", v,
				    PKT_KIND_DATA);
		snprintf(pi->kind, sizeof(pi->kind), "%s", v);
		return 0;
	case K_EPH:
		if (b64_exact(v, h->eph, sizeof(h->eph)) < 0)
			return perr(ps, "bad ephemeral key");
		return 0;
	case K_WRAP:
		if ((sp = strchr(v, ' ')) == NULL)
			return perr(ps, "bad wrap (want NODE KEY)");
		*sp++ = 0;
		if (*nwraps >= pi->dests.n || strcmp(v, pi->dests.v[*nwraps]) != 0)
			return perr(ps, "wrap for %.64s out of destination order", v);
		if (h->wraps == NULL)
			h->wraps = xcalloc(pi->dests.n, sizeof(*h->wraps));
		if (b64_exact(sp, h->wraps[*nwraps], PKT_WRAP_LEN) < 0)
			return perr(ps, "bad wrapped key for %s", v);
		(*nwraps)++;
		return 0;
	case K_PAD:
		if (strspn(v, ".") != strlen(v))
			return perr(ps, "bad pad");
		return 0;
	case K_NOTIFY: {
		const char *why = mailaddr_bad(v);

		if (why)
			return perr(ps, "bad notify address: %s", why);
		snprintf(pi->notify, sizeof(pi->notify), "%s", v);
		return 0;
	}
	}
	return perr(ps, "internal: field %d", k);
}

static int
cross_check(struct pkt_hdr *h)
{
	struct pkt_info *pi = &h->info;
	char want[ORDER_ID_MAX + 32];
	uint64_t nch, start, x;

	if (pi->nparts == 1)
		snprintf(want, sizeof(want), "%s", pi->group);
	else
		snprintf(want, sizeof(want), "%s.p%dof%d", pi->group, pi->part, pi->nparts);
	if (strcmp(want, pi->id) != 0) {
		err_set("packet %s: header: id does not match group %s part %d/%d", pi->id,
			pi->group, pi->part, pi->nparts);
		return -1;
	}
	if (pi->expires < pi->created) {
		err_set("packet %s: header: expires before it was created", pi->id);
		return -1;
	}
	if (pkt_stream_chunks(pi->total_size, &nch) < 0) {
		err_set("packet %s: header: total-size %" PRIu64 " is no whole chunk stream",
			pi->id, pi->total_size);
		return -1;
	}
	/* this body: [first-chunk, ...) within the stream, whole chunks unless last */
	if (h->first_chunk >= nch || (pi->part == 1) != (h->first_chunk == 0) ||
	    h->body_len == 0 || h->body_len > pi->total_size) {
		err_set("packet %s: header: body-length/first-chunk outside the stream", pi->id);
		return -1;
	}
	start = h->first_chunk * (uint64_t)PKT_CCHUNK;	/* < total, no overflow */
	if (pi->total_size - start < h->body_len ||
	    (pi->part == pi->nparts) != (pi->total_size - start == h->body_len) ||
	    (pi->part < pi->nparts && h->body_len % PKT_CCHUNK != 0)) {
		err_set("packet %s: header: body-length %" PRIu64 " does not fit part %d/%d",
			pi->id, h->body_len, pi->part, pi->nparts);
		return -1;
	}
	x = pi->header_len + h->body_len;
	if (x < h->body_len || x + PKT_TRAILER_LEN < x) {
		err_set("packet %s: header: sizes overflow", pi->id);
		return -1;
	}
	pi->file_size = x + PKT_TRAILER_LEN;
	return 0;
}

int
pkt_hdr_parse(const void *buf, size_t len, struct pkt_hdr *h)
{
	const char *b = buf;
	struct parse ps = { h, 0, 0 };
	char line[PKT_MAX_LINE + 1];
	size_t pos = 0;
	int cur = -1, nwraps = 0, ended = 0;

	memset(h, 0, sizeof(*h));
	strcpy(h->info.kind, PKT_KIND_DATA);
	for (;;) {
		size_t avail = len - pos, ll;
		const char *nl;

		ps.line++;
		if (avail > PKT_MAX_LINE + 1)
			avail = PKT_MAX_LINE + 1;
		nl = memchr(b + pos, '\n', avail);
		ll = nl ? (size_t)(nl - (b + pos)) : avail;
		for (size_t i = 0; i < ll; i++)
			if (b[pos + i] < 0x20 || b[pos + i] > 0x7e) {
				perr(&ps, "%s", ps.line == 1 ? "not a shipd packet"
					  : "control or non-ASCII character");
				goto bad;
			}
		if (nl == NULL) {
			if (ll > PKT_MAX_LINE) {
				perr(&ps, "longer than %d bytes", PKT_MAX_LINE);
				goto bad;
			}
			if (ps.line == 1 && strncmp(b, PKT_MAGIC_PREFIX, ll < 13 ? ll : 13) != 0) {
				perr(&ps, "not a shipd packet");
				goto bad;
			}
			if (pos + ll >= PKT_MAX_HEADER)
				goto toolong;
			pkt_hdr_free(h);
			memset(h, 0, sizeof(*h));
			strcpy(h->info.kind, PKT_KIND_DATA);
			return 0;
		}
		if (pos + ll + 1 > PKT_MAX_HEADER)
			goto toolong;
		memcpy(line, b + pos, ll);
		line[ll] = 0;
		pos += ll + 1;

		if (ps.line == 1) {
			if (strcmp(line, PKT_MAGIC) == 0)
				continue;
			if (strncmp(line, PKT_MAGIC_PREFIX, strlen(PKT_MAGIC_PREFIX)) == 0)
				perr(&ps, "unsupported packet format version \"%.16s\"",
				     line + strlen(PKT_MAGIC_PREFIX));
			else
				perr(&ps, "not a shipd packet");
			goto bad;
		}
		if (ended) {
			if (strncmp(line, "sig: ", 5) != 0 ||
			    b64_exact(line + 5, h->sig, sizeof(h->sig)) < 0) {
				perr(&ps, "want the header signature \"sig: BASE64\"");
				goto bad;
			}
			h->info.header_len = pos;
			if (cross_check(h) < 0)
				goto bad;
			return 1;
		}
		if (strcmp(line, "end") == 0) {
			if (cur < K_WRAP || nwraps != h->info.dests.n) {
				perr(&ps, "missing %s before end", keyname[cur < K_WRAP ? next_required(cur) : K_WRAP]);
				goto bad;
			}
			ended = 1;
			h->signed_len = pos;
			continue;
		}
		char *colon = strstr(line, ": ");
		int k;

		if (colon == NULL || colon[2] == 0 || colon[2] == ' ') {
			perr(&ps, "want \"key: value\"");
			goto bad;
		}
		*colon = 0;
		for (k = 0; k < K_NKEYS; k++)
			if (strcmp(line, keyname[k]) == 0)
				break;
		if (k == K_NKEYS && strcmp(line, "sig") == 0) {
			perr(&ps, "missing end before the signature");
			goto bad;
		}
		if (k == K_NKEYS) {
			perr(&ps, "unknown key \"%.32s\"", line);
			goto bad;
		}
		if (k < cur || (k == cur && k != K_DEST && k != K_WRAP)) {
			perr(&ps, "%s repeated or out of order", keyname[k]);
			goto bad;
		}
		if (k > next_required(cur)) {
			perr(&ps, "missing %s before %s", keyname[next_required(cur)], keyname[k]);
			goto bad;
		}
		if (cur == K_WRAP && k != K_WRAP && nwraps != h->info.dests.n) {
			perr(&ps, "missing wrap for %s", h->info.dests.v[nwraps]);
			goto bad;
		}
		cur = k;
		if (parse_field(&ps, k, colon + 2, &nwraps) < 0)
			goto bad;
	}
toolong:
	perr(&ps, "header longer than %d bytes", PKT_MAX_HEADER);
bad:
	pkt_hdr_free(h);
	memset(h, 0, sizeof(*h));
	return -1;
}

/* The header text without pad, end and sig; worst = widest numbers. */
static void
hdr_text(const struct pkt_hdr *h, int worst, struct sbuf *out)
{
	const struct pkt_info *pi = &h->info;
	char b64[128];

	sbuf_reset(out);
	sbuf_printf(out, "%s\n", PKT_MAGIC);
	if (worst)
		sbuf_printf(out, "id: %s.p%dof%d\n", pi->group, PKT_MAX_PARTS, PKT_MAX_PARTS);
	else
		sbuf_printf(out, "id: %s\n", pi->id);
	sbuf_printf(out, "group: %s\n", pi->group);
	sbuf_printf(out, "part: %d/%d\n", worst ? PKT_MAX_PARTS : pi->part,
		    worst ? PKT_MAX_PARTS : pi->nparts);
	sbuf_printf(out, "origin: %s\n", pi->origin);
	if (pi->has_cert) {
		char tok[CERT_TOKEN_MAX];

		b64_encode(pi->cert.raw, pi->cert.rawlen, tok, sizeof(tok));
		sbuf_printf(out, "cert: %s\n", tok);
	}
	for (int i = 0; i < pi->dests.n; i++)
		sbuf_printf(out, "dest: %s\n", pi->dests.v[i]);
	sbuf_printf(out, "class: %s\n", pi->sclass);
	if (pi->kind[0] && strcmp(pi->kind, PKT_KIND_DATA) != 0)
		sbuf_printf(out, "kind: %s\n", pi->kind);
	sbuf_printf(out, "created: %lld\n", (long long)pi->created);
	sbuf_printf(out, "expires: %lld\n", (long long)pi->expires);
	if (pi->notify[0])
		sbuf_printf(out, "notify: %s\n", pi->notify);
	sbuf_printf(out, "total-size: %" PRIu64 "\n", worst ? UINT64_MAX : pi->total_size);
	sbuf_printf(out, "body-length: %" PRIu64 "\n", worst ? UINT64_MAX : h->body_len);
	sbuf_printf(out, "first-chunk: %" PRIu64 "\n", worst ? UINT64_MAX : h->first_chunk);
	sbuf_printf(out, "chunk-size: %d\n", PKT_CHUNK);
	b64_encode(h->eph, sizeof(h->eph), b64, sizeof(b64));
	sbuf_printf(out, "ephemeral: %s\n", b64);
	for (int i = 0; i < pi->dests.n; i++) {
		b64_encode(h->wraps[i], PKT_WRAP_LEN, b64, sizeof(b64));
		sbuf_printf(out, "wrap: %s %s\n", pi->dests.v[i], b64);
	}
}

#define PAD_MIN	7	/* "pad: .\n" */

size_t
pkt_hdr_reserve(const struct pkt_hdr *h)
{
	struct sbuf t = {0};
	size_t n;

	hdr_text(h, 1, &t);
	n = t.len + PAD_MIN + 4 + PKT_SIGLINE_LEN;
	sbuf_free(&t);
	return n;
}

int
pkt_hdr_format(struct pkt_hdr *h, const struct keys *me, size_t size, struct sbuf *out)
{
	uint8_t sig[ED25519_SIG_LEN];
	char b64[128];
	size_t pad;

	if (size == 0)
		size = pkt_hdr_reserve(h);
	hdr_text(h, 0, out);
	if (size < out->len + PAD_MIN + 4 + PKT_SIGLINE_LEN ||
	    (pad = size - out->len - 4 - PKT_SIGLINE_LEN) > PKT_MAX_LINE + 1) {
		err_set("packet %s: header does not fit its reserved %zu bytes", h->info.id, size);
		return -1;
	}
	sbuf_puts(out, "pad: ");
	for (size_t i = 0; i < pad - 6; i++)
		sbuf_add(out, ".", 1);
	sbuf_puts(out, "\nend\n");
	if (out->len > PKT_MAX_HEADER - PKT_SIGLINE_LEN) {
		err_set("packet %s: header of %zu bytes is over the %d-byte limit (too many "
			"or too long destination names)", h->info.id, out->len, PKT_MAX_HEADER);
		return -1;
	}
	h->signed_len = out->len;
	if (pkt_sign_header(me, NULL, out->s, out->len, sig) < 0)
		return -1;
	memcpy(h->sig, sig, sizeof(sig));
	b64_encode(sig, sizeof(sig), b64, sizeof(b64));
	sbuf_printf(out, "sig: %s\n", b64);
	h->info.header_len = out->len;
	return 0;
}

int
pkt_node_key(const struct config *cf, const struct keys *self, const char *name,
	     struct pubkey *out)
{
	return trust_node_key(cf, self, name, out) == TK_NONE ? -1 : 0;
}

/*
 * The key the origin signed with: the certificate in the header, checked
 * by the trust layer (a pinned key for that name must be the same), else
 * the key known here for that name.
 */
static int
origin_key(const struct config *cf, const struct keys *self, const struct pkt_hdr *h,
	   struct pubkey *out)
{
	const struct pkt_info *pi = &h->info;
	char why[512];

	if (pi->has_cert) {
		if (trust_check_cert(cf, &pi->cert, pi->origin, time(NULL)) < 0) {
			snprintf(why, sizeof(why), "%s", err_get());
			err_set("packet %s: origin %s", pi->id, why);
			return -1;
		}
		*out = pi->cert.key;
		return 0;
	}
	if (pkt_node_key(cf, self, pi->origin, out) < 0) {
		snprintf(why, sizeof(why), "%s", err_get());
		err_set("packet %s: unknown origin %s: %s", pi->id, pi->origin, why);
		return -1;
	}
	return 0;
}

/* Parse a signed header (len bytes, its sig line in place or missing),
 * and check it is this node's own. */
static int
own_header(const char *node, const void *hdr, size_t len, int with_sig, struct pkt_hdr *h)
{
	static const char fake[] = "sig: "
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n";
	struct sbuf b = {0};
	int r, parsed;

	_Static_assert(sizeof(fake) - 1 == PKT_SIGLINE_LEN, "a signature line");
	if (len > PKT_MAX_HEADER) {
		err_set("header signature refused: %zu bytes is over the limit", len);
		return -1;
	}
	sbuf_add(&b, hdr, len);
	if (!with_sig)
		sbuf_add(&b, fake, sizeof(fake) - 1);
	r = pkt_hdr_parse(b.s, b.len, h);
	parsed = r == 1;
	if (r == 1 && h->info.header_len != b.len) {
		err_set("header signature refused: %zu bytes after the header", b.len - h->info.header_len);
		r = -1;
	} else if (r == 0)
		err_set("header signature refused: an incomplete header");
	else if (r == 1 && (node == NULL || strcmp(h->info.origin, node) != 0)) {
		err_set("header signature refused: packet %s is from %s, not this node",
			h->info.id, h->info.origin);
		r = -1;
	}
	sbuf_free(&b);
	if (parsed && r != 1)
		pkt_hdr_free(h);	/* refused: the caller frees only what it gets */
	return r == 1 ? 0 : -1;
}

/*
 * The key process's memory of the headers it signed lately: the hash of
 * the signed bytes and the signature (Ed25519 is deterministic). A trailer
 * asked for one of them needs no verification of that header's signature;
 * one it forgot (more sealings at once than the ring holds) is verified.
 */
#define SIGNED_RING	64
static struct {
	uint8_t hash[PKT_DIGEST_LEN];
	uint8_t sig[ED25519_SIG_LEN];
	int used;
} signed_ring[SIGNED_RING];
static unsigned signed_next;

static const uint8_t *
msg_hash(const uint8_t *msg)
{
	return msg + strlen(PKT_HEADER_CTX);	/* pkt_header_msg: context || hash */
}

static int
signed_here(const uint8_t *msg, const uint8_t sig[ED25519_SIG_LEN])
{
	for (int i = 0; i < SIGNED_RING; i++)
		if (signed_ring[i].used &&
		    memcmp(signed_ring[i].hash, msg_hash(msg), PKT_DIGEST_LEN) == 0 &&
		    memcmp(signed_ring[i].sig, sig, ED25519_SIG_LEN) == 0)
			return 1;
	return 0;
}

int
pkt_sign_header(const struct keys *me, const char *node, const void *hdr, size_t len,
		uint8_t sig[ED25519_SIG_LEN])
{
	struct keyreq rq = {.op = KEYOP_HEADER, .a = hdr, .alen = len};
	uint8_t msg[PKT_HEADER_MSG_MAX];
	struct pkt_hdr h;
	size_t mlen;

	if (!keys_local(me))
		return keys_ask(me, &rq, sig, ED25519_SIG_LEN);
	if (node) {		/* asked by another process: only our own packets */
		if (own_header(node, hdr, len, 0, &h) < 0)
			return -1;
		pkt_hdr_free(&h);
	}
	pkt_header_msg(hdr, len, msg, &mlen);
	if (ed25519_sign(me->sign_sec, me->pub.sign, msg, mlen, sig) < 0)
		return -1;
	if (node) {
		unsigned i = signed_next++ % SIGNED_RING;

		memcpy(signed_ring[i].hash, msg_hash(msg), PKT_DIGEST_LEN);
		memcpy(signed_ring[i].sig, sig, ED25519_SIG_LEN);
		signed_ring[i].used = 1;
	}
	return 0;
}

int
pkt_sign_trailer(const struct keys *me, const char *node, const void *hdr, size_t len,
		 const uint8_t bd[PKT_DIGEST_LEN], uint8_t sig[ED25519_SIG_LEN])
{
	struct keyreq rq = {.op = KEYOP_TRAILER, .a = hdr, .alen = len, .b = bd,
			    .blen = PKT_DIGEST_LEN};
	uint8_t hd[PKT_DIGEST_LEN], msg[PKT_TRAILER_MSG_MAX];
	struct pkt_hdr h;
	size_t mlen;

	if (!keys_local(me))
		return keys_ask(me, &rq, sig, ED25519_SIG_LEN);
	if (node) {
		/* our own packet, and a header we signed ourselves */
		if (own_header(node, hdr, len, 1, &h) < 0)
			return -1;
		int bad;

		pkt_header_msg(hdr, h.signed_len, msg, &mlen);
		if ((bad = !signed_here(msg, h.sig) &&
			   ed25519_verify(me->pub.sign, msg, mlen, h.sig) < 0))
			err_set("trailer signature refused: packet %s's header is not signed "
				"by this node", h.info.id);
		pkt_hdr_free(&h);
		if (bad)
			return -1;
	}
	sha256(hdr, len, hd);
	pkt_trailer_msg(hd, bd, msg, &mlen);
	return ed25519_sign(me->sign_sec, me->pub.sign, msg, mlen, sig);
}

int
pkt_hdr_verify(const struct config *cf, const struct keys *self, const void *buf,
	       struct pkt_hdr *h)
{
	struct pubkey k;
	uint8_t msg[PKT_HEADER_MSG_MAX];
	size_t mlen;

	h->have_okey = 0;
	if (origin_key(cf, self, h, &k) < 0)
		return -1;
	pkt_header_msg(buf, h->signed_len, msg, &mlen);
	if (ed25519_verify(k.sign, msg, mlen, h->sig) < 0) {
		err_set("packet %s: bad header signature (not signed by %s's key)", h->info.id,
			h->info.origin);
		return -1;
	}
	h->okey = k;
	h->have_okey = 1;
	return 0;
}

int
pkt_hdr_origin(const struct config *cf, const struct keys *self, struct pkt_hdr *h)
{
	struct pubkey k;

	h->have_okey = 0;
	if (origin_key(cf, self, h, &k) < 0)
		return -1;
	h->okey = k;
	h->have_okey = 1;
	return 0;
}

void
pkt_header_msg(const void *hdr, size_t len, uint8_t *msg, size_t *mlen)
{
	size_t c = strlen(PKT_HEADER_CTX);

	memcpy(msg, PKT_HEADER_CTX, c);
	sha256(hdr, len, msg + c);
	*mlen = c + PKT_DIGEST_LEN;
}

void
pkt_trailer_msg(const uint8_t hd[PKT_DIGEST_LEN], const uint8_t bd[PKT_DIGEST_LEN],
		uint8_t *msg, size_t *len)
{
	size_t c = strlen(PKT_TRAILER_CTX);

	memcpy(msg, PKT_TRAILER_CTX, c);
	memcpy(msg + c, hd, PKT_DIGEST_LEN);
	memcpy(msg + c + PKT_DIGEST_LEN, bd, PKT_DIGEST_LEN);
	*len = c + 2 * PKT_DIGEST_LEN;
}

ssize_t
packet_check_header(const struct config *cf, const void *buf, size_t len, struct pkt_info *pi)
{
	struct pkt_hdr h;
	int r = pkt_hdr_parse(buf, len, &h);

	memset(pi, 0, sizeof(*pi));
	if (r == 0)
		err_set("packet header incomplete (%zu bytes so far)", len);
	if (r <= 0)
		return r;
	if (pkt_hdr_verify(cf, NULL, buf, &h) < 0) {
		pkt_hdr_free(&h);
		return -1;
	}
	*pi = h.info;			/* the dests move to the caller */
	memset(&h.info, 0, sizeof(h.info));
	pkt_hdr_free(&h);
	return pi->header_len;
}

void
pkt_packet_digest(const uint8_t hd[PKT_DIGEST_LEN], const uint8_t bd[PKT_DIGEST_LEN],
		  uint8_t out[PKT_DIGEST_LEN])
{
	uint8_t msg[PKT_TRAILER_MSG_MAX];
	size_t mlen;

	pkt_trailer_msg(hd, bd, msg, &mlen);
	sha256(msg, mlen, out);
}
