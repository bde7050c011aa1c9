/*
 * packet_sealer.c - turns a plaintext stream into sealed part files, in
 * one pass and in memory independent of the stream's length.
 *
 * Offers pkt_sealer_new/write/finish/free (packet_int.h). The stream is
 * cut into PKT_CHUNK-byte chunks, each encrypted in place as soon as the
 * next byte shows it is not the last; chunks go straight to the current
 * part file, which is cut at a chunk boundary when the next chunk would
 * push it over max_part.
 *
 * Splitting without knowing the total in advance: the header (which names
 * the part count M, this body's length and the stream's total size) is
 * written last, into space reserved at the start of every part file. The
 * reservation is the header with every variable number at its widest;
 * the real header is padded up to it with a "pad:" line. Each body is
 * hashed as it is written, and the trailer signs H(header) || H(body),
 * so nothing is read back: one write per byte, one extra pwrite per part.
 *
 * Each sealed chunk is handed to packet_writer.c, which hashes it on its
 * helper thread and writes it (pwrite at the chunk's offset) on
 * whichever thread is free, a few chunks behind the compressing and
 * encrypting done here. The sealer owns the part file descriptors and
 * closes one only after the writer has synced.
 *
 * Sealing while sending (pkt_sealer_early): when the caller knows the
 * plaintext stream's length before the first byte, and the packet is one
 * part, the body's length is known too, so the real header is signed and
 * written first, at offset 0, and the writer is told to write in order:
 * the part file then grows from its start, header, body, trailer, and a
 * reader of a growing copy (the daemon's send worker) may trust its size.
 * At the end the body must be exactly the length the header announced,
 * else the seal fails (PKT_SEAL_MISPREDICTED) and nothing wrong is kept.
 *
 * Never leaves a part file behind on failure (pkt_sealer_free unlinks
 * every one not handed to the caller), never holds the packet key
 * outside libgcrypt's secure memory, never writes outside tmpdir.
 */
#include "packet_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct part {
	char *path;
	uint64_t body_len, first_chunk;
	uint8_t digest[PKT_DIGEST_LEN];		/* the body's */
	uint8_t packet_digest[PKT_DIGEST_LEN];	/* packet.h's, set by part_finish */
};

struct pkt_sealer {
	const struct keys *me;
	struct pkt_hdr proto;		/* fields shared by every part */
	struct aead *aead;
	char *tmpdir;
	size_t reserve;			/* header bytes at the start of each part */
	uint64_t per_part;		/* chunks per part (UINT64_MAX: no split) */
	struct pkt_writer *w;		/* writes and hashes the sealed chunks */
	int fd;				/* the last part's, until finish */
	uint8_t *buf;			/* the writer's slot being filled: chunk + tag */
	size_t buflen;
	uint64_t next_chunk;
	struct part *parts;
	int nparts, cap, handed;
	uint64_t cur_chunks;		/* in the last part */
	int failed;
	int early;			/* the header was written first (pkt_sealer_early) */
	int mispredicted;		/* ...and the body did not match it */
	uint64_t early_body;		/* the body length it announces */
	struct sbuf early_hdr;		/* its bytes, as written at offset 0 */
};

static int PRINTF(2, 3)
serr(struct pkt_sealer *s, const char *fmt, ...)
{
	char m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	err_set("packet %s: %s", s->proto.info.group, m);
	s->failed = 1;
	return -1;
}

static int
check_params(const struct pkt_seal_params *sp)
{
	const char *g = sp->group ? sp->group : "(null)", *why;

	if (sp->group == NULL || !pkt_name_ok(sp->group, ORDER_ID_MAX - 1 - 14)) {
		err_set("packet %s: bad group id (want [A-Za-z0-9._-], at most %d bytes)", g,
			ORDER_ID_MAX - 1 - 14);
		return -1;
	}
	if (sp->origin == NULL || !pkt_name_ok(sp->origin, PKT_NAME_MAX)) {
		err_set("packet %s: bad origin name", g);
		return -1;
	}
	if (sp->sclass == NULL || !pkt_name_ok(sp->sclass, PKT_NAME_MAX)) {
		err_set("packet %s: bad storage class name", g);
		return -1;
	}
	if (sp->dests == NULL || sp->dests->n < 1 || sp->dests->n > PKT_MAX_DESTS) {
		err_set("packet %s: want 1 to %d destinations", g, PKT_MAX_DESTS);
		return -1;
	}
	for (int i = 0; i < sp->dests->n; i++) {
		if (!pkt_name_ok(sp->dests->v[i], PKT_NAME_MAX)) {
			err_set("packet %s: bad destination name \"%.64s\"", g, sp->dests->v[i]);
			return -1;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(sp->dests->v[i], sp->dests->v[j]) == 0) {
				err_set("packet %s: destination %s repeated", g, sp->dests->v[i]);
				return -1;
			}
	}
	if (sp->created < 0 || sp->expires < sp->created) {
		err_set("packet %s: expires before it is created", g);
		return -1;
	}
	if (sp->tmpdir == NULL) {
		err_set("packet %s: no temporary directory", g);
		return -1;
	}
	if (sp->notify && (why = mailaddr_bad(sp->notify)) != NULL) {
		err_set("packet %s: bad notify address \"%.64s\": %s", g, sp->notify, why);
		return -1;
	}
	if (sp->kind && !packet_kind_ok(sp->kind)) {
		err_set("packet %s: bad kind \"%.40s\"", g, sp->kind);
		return -1;
	}
	return 0;
}

struct pkt_sealer *
pkt_sealer_new(const struct config *cf, const struct keys *me, const struct pkt_seal_params *sp)
{
	struct pkt_sealer *s;
	struct pkt_info *pi;
	uint8_t *key, *eph_sec;
	int rc = 0;

	if (check_params(sp) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->me = me;
	s->fd = -1;
	pi = &s->proto.info;
	snprintf(pi->id, sizeof(pi->id), "%s", sp->group);
	snprintf(pi->group, sizeof(pi->group), "%s", sp->group);
	snprintf(pi->origin, sizeof(pi->origin), "%s", sp->origin);
	snprintf(pi->sclass, sizeof(pi->sclass), "%s", sp->sclass);
	pi->part = pi->nparts = 1;
	pi->created = sp->created;
	pi->expires = sp->expires;
	snprintf(pi->notify, sizeof(pi->notify), "%s", sp->notify ? sp->notify : "");
	for (int i = 0; i < sp->dests->n; i++)
		strv_add(&pi->dests, sp->dests->v[i]);
	snprintf(pi->kind, sizeof(pi->kind), "%s", sp->kind ? sp->kind : PKT_KIND_DATA);
	/* the origin's certificate travels in every header it signs */
	if (me->cert && cert_decode(me->cert, me->certlen, &pi->cert) == 0)
		pi->has_cert = 1;
	else if (me->cert) {
		serr(s, "this node's certificate: %s", err_get());
		goto fail;
	}
	s->proto.chunk_size = PKT_CHUNK;
	s->tmpdir = xstrdup(sp->tmpdir);

	/* the packet key, wrapped for every destination under one ephemeral key */
	key = crypto_secure_alloc(AEAD_KEY_LEN);
	eph_sec = crypto_secure_alloc(X25519_LEN);
	crypto_random(key, AEAD_KEY_LEN);
	s->proto.wraps = xcalloc(pi->dests.n, sizeof(*s->proto.wraps));
	if (x25519_keypair(eph_sec, s->proto.eph) < 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < pi->dests.n; i++) {
		struct pubkey pk;

		if (pkt_node_key(cf, me, pi->dests.v[i], &pk) < 0)
			rc = serr(s, "destination %s: %s", pi->dests.v[i], err_get());
		else if (pkt_wrap(eph_sec, s->proto.eph, pk.kx, pi->group, pi->dests.v[i], key,
				  s->proto.wraps[i]) < 0)
			rc = serr(s, "%s", err_get());
	}
	if (rc == 0)
		s->aead = aead_new(key);
	crypto_secure_free(key, AEAD_KEY_LEN);
	crypto_secure_free(eph_sec, X25519_LEN);
	if (rc < 0)
		goto fail;

	s->reserve = pkt_hdr_reserve(&s->proto);
	if (s->reserve > PKT_MAX_HEADER) {
		serr(s, "header of %zu bytes is over the %d-byte limit (too many or too long "
		     "destination names)", s->reserve, PKT_MAX_HEADER);
		goto fail;
	}
	s->per_part = UINT64_MAX;
	if (sp->max_part) {
		uint64_t need = s->reserve + PKT_CCHUNK + PKT_TRAILER_LEN;

		if (sp->max_part < need) {
			serr(s, "a part of at most %llu bytes cannot hold a header and one chunk "
			     "(need %llu)", (unsigned long long)sp->max_part,
			     (unsigned long long)need);
			goto fail;
		}
		s->per_part = (sp->max_part - s->reserve - PKT_TRAILER_LEN) / PKT_CCHUNK;
	}
	s->w = pkt_writer_new();
	s->buf = pkt_writer_slot(s->w);
	return s;
fail:
	pkt_sealer_free(s);
	return NULL;
}

/* Close the current part file once every chunk queued for it is written. */
static int
part_close(struct pkt_sealer *s)
{
	int fd = s->fd;

	if (fd < 0)
		return 0;
	if (pkt_writer_sync(s->w) < 0)
		return serr(s, "%s", err_get());
	s->fd = -1;
	if (close(fd) < 0)
		return serr(s, "close %s: %s", s->parts[s->nparts - 1].path, strerror(errno));
	return 0;
}

/* A new part file; its body starts after the header's reserved space. */
static int
part_open(struct pkt_sealer *s)
{
	char tmp[PATH_MAX];
	struct part *p;
	int fd;

	if (s->nparts >= PKT_MAX_PARTS)
		return serr(s, "more than %d parts: raise the part size", PKT_MAX_PARTS);
	if (part_close(s) < 0)
		return -1;
	if ((fd = safe_create(s->tmpdir, tmp, sizeof(tmp), 0600)) < 0)
		return serr(s, "%s", err_get());
	if (s->nparts == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->parts = xrealloc(s->parts, s->cap * sizeof(*s->parts));
	}
	p = &s->parts[s->nparts++];
	memset(p, 0, sizeof(*p));
	p->path = xstrdup(tmp);
	p->first_chunk = s->next_chunk;
	s->cur_chunks = 0;
	s->fd = fd;
	return 0;
}

/* Seal the filled chunk and queue it for its part file. */
static int
emit(struct pkt_sealer *s, int final)
{
	size_t clen = s->buflen + AEAD_TAG_LEN;
	struct part *p;

	if (pkt_chunk_seal(s->aead, s->proto.info.group, s->next_chunk, final, s->buf,
			   s->buflen) < 0)
		return serr(s, "%s", err_get());
	if ((s->nparts == 0 || s->cur_chunks == s->per_part) && part_open(s) < 0)
		return -1;
	p = &s->parts[s->nparts - 1];
	if (pkt_writer_submit(s->w, s->fd, s->nparts, (off_t)(s->reserve + p->body_len),
			      clen) < 0) {
		pkt_writer_sync(s->w);		/* sets the error */
		return serr(s, "%s", err_get());
	}
	p->body_len += clen;
	s->cur_chunks++;
	s->next_chunk++;
	s->buflen = 0;
	s->buf = final ? NULL : pkt_writer_slot(s->w);
	return 0;
}

int
pkt_sealer_write(struct pkt_sealer *s, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (s->failed)
		return -1;
	while (n > 0) {
		size_t take;

		if (s->buflen == PKT_CHUNK && emit(s, 0) < 0)
			return -1;
		take = PKT_CHUNK - s->buflen < n ? PKT_CHUNK - s->buflen : n;
		memcpy(s->buf + s->buflen, p, take);
		s->buflen += take;
		p += take;
		n -= take;
	}
	return 0;
}

/* Part i's header fields, once the part count and total are known. */
static void
part_hdr(const struct pkt_sealer *s, int i, uint64_t total, struct pkt_hdr *h)
{
	const struct part *p = &s->parts[i];

	*h = s->proto;			/* shallow: dests and wraps stay s->proto's */
	h->info.part = i + 1;
	h->info.nparts = s->nparts;
	if (s->nparts > 1) {
		/* fits: the group was checked to leave room for ".p99999of99999" */
		char id[ORDER_ID_MAX + 32];

		snprintf(id, sizeof(id), "%s.p%dof%d", h->info.group, i + 1, s->nparts);
		memcpy(h->info.id, id, sizeof(h->info.id) - 1);
		h->info.id[sizeof(h->info.id) - 1] = 0;
	}
	h->info.total_size = total;
	h->info.header_len = s->reserve;
	h->info.file_size = s->reserve + p->body_len + PKT_TRAILER_LEN;
	h->body_len = p->body_len;
	h->first_chunk = p->first_chunk;
}

/* Write part i's header and trailer (its body is on disk already). */
static int
part_finish(struct pkt_sealer *s, int i, uint64_t total)
{
	struct part *p = &s->parts[i];
	struct pkt_hdr h;
	struct sbuf hb = {0};
	uint8_t hd[PKT_DIGEST_LEN], sig[ED25519_SIG_LEN];
	char tl[PKT_TRAILER_LEN + 8];
	int fd = -1, rc = -1;

	part_hdr(s, i, total, &h);
	if (s->early)		/* signed and written before the body: the same bytes */
		sbuf_add(&hb, s->early_hdr.s, s->early_hdr.len);
	else if (pkt_hdr_format(&h, s->me, s->reserve, &hb) < 0) {
		s->failed = 1;
		goto out;
	}
	if (pkt_sign_trailer(s->me, NULL, hb.s, hb.len, p->digest, sig) < 0) {
		s->failed = 1;
		goto out;
	}
	sha256(hb.s, hb.len, hd);
	pkt_packet_digest(hd, p->digest, p->packet_digest);
	memcpy(tl, "trailer: ", 9);
	b64_encode(sig, sizeof(sig), tl + 9, sizeof(tl) - 9);
	tl[PKT_TRAILER_LEN - 1] = '\n';
	errno = 0;
	if ((fd = open(p->path, O_WRONLY | O_CLOEXEC)) < 0 ||
	    (!s->early && pwrite(fd, hb.s, hb.len, 0) != (ssize_t)hb.len) ||
	    pwrite(fd, tl, PKT_TRAILER_LEN, (off_t)(hb.len + p->body_len)) != PKT_TRAILER_LEN ||
	    fsync(fd) < 0) {
		serr(s, "write %s: %s", p->path, errno ? strerror(errno) : "short write");
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = serr(s, "close %s: %s", p->path, strerror(errno));
	sbuf_free(&hb);
	return rc;
}

int
pkt_sealer_finish(struct pkt_sealer *s, packet_part_fn fn, void *arg)
{
	struct pkt_hdr h;
	uint64_t total = 0;
	uint8_t (*dig)[PKT_DIGEST_LEN];

	if (s->failed || emit(s, 1) < 0)
		return -1;
	dig = xcalloc(s->nparts, sizeof(*dig));
	if (pkt_writer_finish(s->w, dig, s->nparts) < 0) {
		free(dig);
		return serr(s, "%s", err_get());
	}
	if (part_close(s) < 0) {
		free(dig);
		return -1;
	}
	for (int i = 0; i < s->nparts; i++)
		memcpy(s->parts[i].digest, dig[i], PKT_DIGEST_LEN);
	free(dig);
	for (int i = 0; i < s->nparts; i++)
		total += s->parts[i].body_len;
	if (s->early && (s->nparts != 1 || total != s->early_body)) {
		s->mispredicted = 1;
		return serr(s, "sealed a body of %llu bytes, not the %llu its header, written "
			    "first, announced", (unsigned long long)total,
			    (unsigned long long)s->early_body);
	}
	for (int i = 0; i < s->nparts; i++)
		if (part_finish(s, i, total) < 0)
			return -1;
	for (int i = 0; i < s->nparts; i++) {
		part_hdr(s, i, total, &h);
		memcpy(h.info.digest, s->parts[i].packet_digest, PKT_DIGEST_LEN);
		s->handed = i;		/* a failing callback's part is still ours */
		if (fn(arg, s->parts[i].path, &h.info) < 0) {
			s->failed = 1;
			return -1;
		}
		s->handed = i + 1;
	}
	return 0;
}

int
pkt_sealer_early(struct pkt_sealer *s, uint64_t plain_len, packet_part_fn fn, void *arg)
{
	uint64_t nchunks = plain_len == 0 ? 1 : (plain_len + PKT_CHUNK - 1) / PKT_CHUNK;
	struct part *p;
	struct pkt_hdr h;
	int rc;

	/* the final chunk holds 0..PKT_CHUNK bytes: a stream of k full
	 * chunks ends with a full one (pkt_sealer_write emits a full chunk
	 * only when another byte follows) */
	if (s->failed || s->nparts != 0 || s->next_chunk != 0 || s->buflen != 0)
		return serr(s, "sealing while sending: too late, the body has begun");
	if (nchunks > s->per_part)
		return 0;		/* more than one part: the ordinary way */
	if (part_open(s) < 0)
		return -1;
	p = &s->parts[0];
	s->early_body = plain_len + nchunks * AEAD_TAG_LEN;
	p->body_len = s->early_body;		/* for the header's fields only */
	part_hdr(s, 0, s->early_body, &h);
	p->body_len = 0;
	if (pkt_hdr_format(&h, s->me, s->reserve, &s->early_hdr) < 0)
		return serr(s, "%s", err_get());
	if (pwrite(s->fd, s->early_hdr.s, s->early_hdr.len, 0) != (ssize_t)s->early_hdr.len)
		return serr(s, "write %s: %s", p->path, strerror(errno));
	s->early = 1;
	pkt_writer_ordered(s->w);
	h.info.file_size = s->reserve + s->early_body + PKT_TRAILER_LEN;
	rc = fn(arg, p->path, &h.info);
	if (rc < 0) {
		s->failed = 1;
		return -1;
	}
	return 1;
}

int
pkt_sealer_mispredicted(const struct pkt_sealer *s)
{
	return s->mispredicted;
}

void
pkt_sealer_free(struct pkt_sealer *s)
{
	if (s == NULL)
		return;
	pkt_writer_free(s->w);		/* joins the thread */
	if (s->fd >= 0)
		close(s->fd);
	for (int i = 0; i < s->nparts; i++) {
		if (i >= s->handed)
			unlink(s->parts[i].path);
		free(s->parts[i].path);
	}
	free(s->parts);
	aead_free(s->aead);
	free(s->tmpdir);
	sbuf_free(&s->early_hdr);
	pkt_hdr_free(&s->proto);
	free(s);
}
