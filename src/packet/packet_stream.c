/*
 * packet_stream.c - check a packet file from its bytes as they arrive: the
 * header's origin signature as soon as the header is complete, the body's
 * hash on the way, the trailer signature at the end; the result is the
 * verified header and the packet digest (packet.h).
 *
 * Offers packet_verifier_* (packet.h), pkt_verifier_* and
 * pkt_check_trailer (packet_int.h). It is what a receiver runs on the
 * bytes it writes to partial/ and what packet_verify_file runs over a
 * file, so both refuse exactly the same. Holds one header and a hash
 * state, never the body; needs no secret; never touches a file.
 */
#include "packet_int.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pkt_verifier {
	const struct config *cf;
	const struct keys *self;
	char what[256];			/* for errors before the header is known */
	uint8_t *hbuf;			/* the header as it arrives */
	size_t hlen;
	int have_hdr;
	struct pkt_hdr h;
	uint8_t hd[PKT_DIGEST_LEN];
	struct hash *hs;		/* over the body */
	uint64_t pos;			/* bytes fed */
	char tl[PKT_TRAILER_LEN];
	char *err;			/* sticky failure */
	uint8_t offered[PKT_DIGEST_LEN];	/* H(header) checked by _offer */
	int have_offered;
};

int
pkt_check_trailer(const struct config *cf, const struct keys *self, const struct pkt_hdr *h,
		  const uint8_t hd[PKT_DIGEST_LEN], const uint8_t bd[PKT_DIGEST_LEN],
		  const char *tl, char *why, size_t whylen)
{
	struct pubkey kbuf;
	const struct pubkey *k = h->have_okey ? &h->okey :
		pkt_node_key(cf, self, h->info.origin, &kbuf) == 0 ? &kbuf : NULL;
	uint8_t sig[ED25519_SIG_LEN + 4], msg[PKT_TRAILER_MSG_MAX];
	char b64[PKT_SIG_B64 + 1], again[PKT_SIG_B64 + 8];
	size_t n, mlen;

	if (memcmp(tl, "trailer: ", 9) != 0 || tl[PKT_TRAILER_LEN - 1] != '\n') {
		snprintf(why, whylen, "packet %s: malformed trailer", h->info.id);
		return -1;
	}
	memcpy(b64, tl + 9, PKT_SIG_B64);
	b64[PKT_SIG_B64] = 0;
	if (b64_decode(b64, sig, sizeof(sig), &n) < 0 || n != ED25519_SIG_LEN ||
	    b64_encode(sig, n, again, sizeof(again)) == 0 || strcmp(again, b64) != 0) {
		snprintf(why, whylen, "packet %s: malformed trailer", h->info.id);
		return -1;
	}
	if (k == NULL) {
		snprintf(why, whylen, "packet %s: unknown origin %s", h->info.id, h->info.origin);
		return -1;
	}
	pkt_trailer_msg(hd, bd, msg, &mlen);
	if (ed25519_verify(k->sign, msg, mlen, sig) < 0) {
		snprintf(why, whylen, "packet %s: bad trailer signature (body or header altered)",
			 h->info.id);
		return -1;
	}
	return 0;
}

struct pkt_verifier *
pkt_verifier_new(const struct config *cf, const struct keys *self, const char *what)
{
	struct pkt_verifier *v = xcalloc(1, sizeof(*v));

	v->cf = cf;
	v->self = self;
	snprintf(v->what, sizeof(v->what), "%s", what ? what : "");
	v->hbuf = xmalloc(PKT_MAX_HEADER);
	return v;
}

struct pkt_verifier *
packet_verifier_new(const struct config *cf, const char *what)
{
	return pkt_verifier_new(cf, NULL, what);
}

const struct pkt_hdr *
pkt_verifier_hdr(const struct pkt_verifier *v)
{
	return v->have_hdr && v->err == NULL ? &v->h : NULL;
}

/* Fail for good with the current err_get(). */
static int
fail(struct pkt_verifier *v)
{
	if (v->err == NULL)
		v->err = xstrdup(err_get());
	return -1;
}

/* Bytes past the header: body into the hash, then the trailer. */
static int
take(struct pkt_verifier *v, const uint8_t *p, size_t n)
{
	uint64_t hl = v->h.info.header_len, bend = hl + v->h.body_len;

	if (n > v->h.info.file_size - v->pos) {
		err_set("packet %s: trailing data (more than the header's %" PRIu64 " bytes)",
			v->h.info.id, v->h.info.file_size);
		return fail(v);
	}
	if (v->pos < bend) {
		size_t k = bend - v->pos < n ? bend - v->pos : n;

		hash_update(v->hs, p, k);
		v->pos += k;
		p += k;
		n -= k;
	}
	if (n) {
		memcpy(v->tl + (v->pos - bend), p, n);
		v->pos += n;
	}
	return 0;
}

int
packet_verifier_feed(struct pkt_verifier *v, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t k;
	int r;

	if (v->err) {
		err_set("%s", v->err);
		return -1;
	}
	if (v->have_hdr)
		return take(v, b, n);
	/* the header: gather, parse again whenever a line may have ended */
	k = PKT_MAX_HEADER - v->hlen < n ? PKT_MAX_HEADER - v->hlen : n;
	memcpy(v->hbuf + v->hlen, b, k);
	v->hlen += k;
	if (k && memchr(b, '\n', k) == NULL && v->hlen < PKT_MAX_HEADER)
		return 0;
	if ((r = pkt_hdr_parse(v->hbuf, v->hlen, &v->h)) < 0)
		return fail(v);
	if (r == 0) {
		if (v->hlen < PKT_MAX_HEADER)
			return 0;
		err_set("packet header longer than %d bytes", PKT_MAX_HEADER);	/* parse says so */
		return fail(v);
	}
	sha256(v->hbuf, v->h.info.header_len, v->hd);
	/* the header the offer showed, byte for byte: its signature verified
	 * there (packet_verifier_offer), not a second time */
	if ((v->have_offered && memcmp(v->hd, v->offered, PKT_DIGEST_LEN) == 0 ?
	     pkt_hdr_origin(v->cf, v->self, &v->h) :
	     pkt_hdr_verify(v->cf, v->self, v->hbuf, &v->h)) < 0)
		return fail(v);
	v->have_hdr = 1;
	v->hs = hash_new_sha256();
	v->pos = v->h.info.header_len;
	/* what came after the header in this feed and earlier ones */
	if (take(v, v->hbuf + v->pos, v->hlen - v->pos) < 0)
		return -1;
	return take(v, b + k, n - k);
}

ssize_t
packet_verifier_offer(struct pkt_verifier *v, const void *hdr, size_t len, struct pkt_info *pi)
{
	ssize_t r = packet_check_header(v->cf, hdr, len, pi);

	if (r > 0) {
		sha256(hdr, (size_t)r, v->offered);
		v->have_offered = 1;
	}
	return r;
}

int
pkt_verifier_end_hdr(struct pkt_verifier *v, struct pkt_hdr *h)
{
	uint8_t bd[PKT_DIGEST_LEN];
	char why[512];

	memset(h, 0, sizeof(*h));
	if (v->err) {
		err_set("%s", v->err);
		return -1;
	}
	if (!v->have_hdr) {
		if (pkt_hdr_parse(v->hbuf, v->hlen, &v->h) < 0)	/* its reason */
			return fail(v);
		pkt_hdr_free(&v->h);
		if (v->what[0])
			err_set("packet file %s: truncated (%zu bytes, header incomplete)", v->what,
				v->hlen);
		else
			err_set("packet truncated (%zu bytes, header incomplete)", v->hlen);
		return fail(v);
	}
	if (v->pos != v->h.info.file_size) {
		err_set("packet %s: truncated (%" PRIu64 " bytes, the header says %" PRIu64 ")",
			v->h.info.id, v->pos, v->h.info.file_size);
		return fail(v);
	}
	hash_final(v->hs, bd);
	v->hs = NULL;
	if (pkt_check_trailer(v->cf, v->self, &v->h, v->hd, bd, v->tl, why, sizeof(why)) < 0) {
		err_set("%s", why);
		return fail(v);
	}
	pkt_packet_digest(v->hd, bd, v->h.info.digest);
	*h = v->h;			/* dests and wraps move to the caller */
	memset(&v->h, 0, sizeof(v->h));
	v->have_hdr = 0;
	v->err = xstrdup("packet verifier: already ended");
	return 0;
}

int
packet_verifier_end(struct pkt_verifier *v, struct pkt_info *pi)
{
	struct pkt_hdr h;

	memset(pi, 0, sizeof(*pi));
	if (pkt_verifier_end_hdr(v, &h) < 0)
		return -1;
	*pi = h.info;			/* the dests move to the caller */
	memset(&h.info, 0, sizeof(h.info));
	pkt_hdr_free(&h);
	return 0;
}

ssize_t
packet_verifier_whole(struct pkt_verifier *v, const void *hdr, size_t hdrlen, const void *rest,
		      size_t restlen, struct pkt_info *pi, struct pkt_info *out)
{
	struct pkt_hdr h;
	int r = pkt_hdr_parse(hdr, hdrlen, &h);

	memset(pi, 0, sizeof(*pi));
	memset(out, 0, sizeof(*out));
	if (r == 0)
		err_set("packet header incomplete (%zu bytes so far)", hdrlen);
	if (r <= 0) {
		pkt_hdr_free(&h);
		return -1;
	}
	/* taken as offered: when these bytes begin the stream only the
	 * origin's key is looked up, and the trailer is checked with it */
	sha256(hdr, h.info.header_len, v->offered);
	v->have_offered = 1;
	if (packet_verifier_feed(v, hdr, hdrlen) < 0 || packet_verifier_feed(v, rest, restlen) < 0 ||
	    packet_verifier_end(v, out) < 0) {
		pkt_hdr_free(&h);
		return -1;
	}
	*pi = h.info;			/* the dests move to the caller */
	memset(&h.info, 0, sizeof(h.info));
	pkt_hdr_free(&h);
	return pi->header_len;
}

void
packet_verifier_free(struct pkt_verifier *v)
{
	uint8_t junk[PKT_DIGEST_LEN];

	if (v == NULL)
		return;
	if (v->hs)
		hash_final(v->hs, junk);
	pkt_hdr_free(&v->h);
	free(v->hbuf);
	free(v->err);
	free(v);
}
