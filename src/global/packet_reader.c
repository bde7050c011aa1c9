/*
 * packet_reader.c - the parts of one logical packet in, its decrypted
 * plaintext stream out, one chunk at a time.
 *
 * Offers pkt_reader_new/next/group/free (packet_int.h). Before the first
 * chunk is decrypted every part is verified whole (header and trailer
 * signatures: only bytes the origin signed reach the decompressor), the
 * parts are checked to be 1..M of one sealing (same group, ephemeral key
 * and wrapped keys, chunk ranges that join), and our wrapped key is
 * opened. Parts may be given in any order; they are read in part order.
 * Then each chunk's tag is checked as it is read, and the stream must
 * end with the chunk flagged final.
 *
 * Memory: one chunk buffer and a header per part. The packet key exists
 * only inside the AEAD handle (libgcrypt secure memory).
 */
#include "packet_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rpart {
	const char *path;
	struct pkt_hdr h;
};

struct pkt_reader {
	struct rpart *p;
	int n;
	char group[ORDER_ID_MAX];
	struct aead *aead;
	uint64_t nchunks, next;		/* chunks in the stream; next to read */
	int cur, fd;			/* part being read */
	uint64_t left;			/* its body bytes not yet read */
	uint8_t *buf;
	int done;
};

static int
by_part(const void *a, const void *b)
{
	const struct rpart *x = a, *y = b;

	return (x->h.info.part > y->h.info.part) - (x->h.info.part < y->h.info.part);
}

/* Does part q belong to the same sealing as part p? NULL if so. */
static const char *
disagrees(const struct pkt_hdr *p, const struct pkt_hdr *q)
{
	const struct pkt_info *a = &p->info, *b = &q->info;

	if (strcmp(a->origin, b->origin) != 0)
		return "origin";
	if (a->dests.n != b->dests.n)
		return "destinations";
	for (int i = 0; i < a->dests.n; i++)
		if (strcmp(a->dests.v[i], b->dests.v[i]) != 0)
			return "destinations";
	if (strcmp(a->sclass, b->sclass) != 0)
		return "class";
	if (a->created != b->created || a->expires != b->expires)
		return "created/expires";
	if (a->total_size != b->total_size)
		return "total-size";
	if (memcmp(p->eph, q->eph, sizeof(p->eph)) != 0 ||
	    memcmp(p->wraps, q->wraps, a->dests.n * sizeof(*p->wraps)) != 0)
		return "packet keys";
	return NULL;
}

/* Order, completeness and consistency of the verified parts. */
static int
check_set(struct pkt_reader *r)
{
	const char *g = r->p[0].h.info.group, *why;
	int m = r->p[0].h.info.nparts;

	for (int i = 1; i < r->n; i++)
		if (strcmp(r->p[i].h.info.group, g) != 0) {
			err_set("packet %s: belongs to group %s, not %s (a foreign part)",
				r->p[i].h.info.id, r->p[i].h.info.group, g);
			return -1;
		}
	snprintf(r->group, sizeof(r->group), "%s", g);
	qsort(r->p, r->n, sizeof(*r->p), by_part);
	for (int i = 0; i < r->n; i++) {
		const struct pkt_hdr *h = &r->p[i].h;

		if (h->info.nparts != m) {
			err_set("packet %s: part of %d, but part %d says %d (a foreign part)",
				h->info.id, h->info.nparts, r->p[0].h.info.part, m);
			return -1;
		}
		if (i > 0 && h->info.part == r->p[i - 1].h.info.part) {
			err_set("packet %s: duplicate part %d (%s and %s)", g, h->info.part,
				r->p[i - 1].path, r->p[i].path);
			return -1;
		}
		if (h->info.part != i + 1) {
			err_set("packet %s: missing part %d of %d", g, i + 1, m);
			return -1;
		}
		if ((why = disagrees(&r->p[0].h, h)) != NULL) {
			err_set("packet %s: %s differ from part 1's (a replayed or foreign part)",
				h->info.id, why);
			return -1;
		}
		if (i > 0 && h->first_chunk != r->p[i - 1].h.first_chunk +
						   r->p[i - 1].h.body_len / PKT_CCHUNK) {
			err_set("packet %s: chunk range does not follow part %d's", h->info.id, i);
			return -1;
		}
	}
	if (r->n != m) {
		err_set("packet %s: missing part %d of %d", g, r->n + 1, m);
		return -1;
	}
	return 0;
}

struct pkt_reader *
pkt_reader_new(const struct config *cf, const struct keys *me, const char *const *parts,
	       int nparts)
{
	struct pkt_reader *r;
	const struct pkt_info *pi;
	uint8_t *key;
	int me_at;

	if (nparts < 1 || nparts > PKT_MAX_PARTS) {
		err_set("packet: %d part files given (want 1 to %d)", nparts, PKT_MAX_PARTS);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->fd = -1;
	r->cur = -1;
	r->p = xcalloc(nparts, sizeof(*r->p));
	for (int i = 0; i < nparts; i++) {
		int fd = open(parts[i], O_RDONLY | O_CLOEXEC), rc;

		r->p[i].path = parts[i];
		if (fd < 0) {
			err_set("packet file %s: %s", parts[i], strerror(errno));
			goto fail;
		}
		rc = pkt_verify_fd(cf, me, fd, parts[i], &r->p[i].h);
		close(fd);
		r->n = i + 1;
		if (rc < 0)
			goto fail;
	}
	if (check_set(r) < 0)
		goto fail;
	pi = &r->p[0].h.info;
	for (me_at = 0; me_at < pi->dests.n; me_at++)
		if (cf->node && strcmp(pi->dests.v[me_at], cf->node) == 0)
			break;
	if (me_at == pi->dests.n) {
		err_set("packet %s: not addressed to us (%s)", r->group,
			cf->node ? cf->node : "no NODE");
		goto fail;
	}
	key = crypto_secure_alloc(AEAD_KEY_LEN);
	if (pkt_unwrap(me, r->p[0].h.eph, r->group, cf->node, r->p[0].h.wraps[me_at], key) < 0) {
		char why[400];

		snprintf(why, sizeof(why), "%s", err_get());
		err_set("packet %s: %s", r->group, why);
		crypto_secure_free(key, AEAD_KEY_LEN);
		goto fail;
	}
	r->aead = aead_new(key);
	crypto_secure_free(key, AEAD_KEY_LEN);
	if (pkt_stream_chunks(pi->total_size, &r->nchunks) < 0) {
		err_set("packet %s: bad total-size", r->group);	/* parse checked it */
		goto fail;
	}
	r->buf = xmalloc(PKT_CCHUNK);
	return r;
fail:
	pkt_reader_free(r);
	return NULL;
}

/* Move to the next part's body; 0 when there is none. */
static int
next_part(struct pkt_reader *r)
{
	const struct rpart *p;

	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (++r->cur >= r->n)
		return 0;
	p = &r->p[r->cur];
	if ((r->fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    lseek(r->fd, (off_t)p->h.info.header_len, SEEK_SET) < 0) {
		err_set("packet %s: %s: %s", p->h.info.id, p->path, strerror(errno));
		return -1;
	}
	r->left = p->h.body_len;
	return 1;
}

ssize_t
pkt_reader_next(struct pkt_reader *r, const void **out)
{
	const char *id;
	size_t clen;
	ssize_t n;
	int final, k;

	*out = r->buf;
	if (r->done)
		return 0;
	while (r->left == 0) {
		if ((k = next_part(r)) < 0)
			return -1;
		if (k == 0) {
			err_set("packet %s: truncated (no final chunk after chunk %" PRIu64 ")",
				r->group, r->next);
			return -1;
		}
	}
	id = r->p[r->cur].h.info.id;
	clen = r->left < PKT_CCHUNK ? r->left : PKT_CCHUNK;
	if ((n = read_full(r->fd, r->buf, clen)) != (ssize_t)clen) {
		err_set("packet %s: truncated (chunk %" PRIu64 " short: %s)", id, r->next,
			n < 0 ? strerror(errno) : "end of file");
		return -1;
	}
	final = r->next + 1 == r->nchunks;
	if ((n = pkt_chunk_open(r->aead, r->group, r->next, final, r->buf, clen)) < 0) {
		err_set("packet %s: tampered chunk %" PRIu64, id, r->next);
		return -1;
	}
	r->left -= clen;
	r->next++;
	if (final) {
		if (r->left != 0 || r->cur + 1 != r->n) {
			err_set("packet %s: data after the final chunk", id);
			return -1;
		}
		r->done = 1;
	}
	return n;
}

const char *
pkt_reader_group(const struct pkt_reader *r)
{
	return r->group;
}

void
pkt_reader_free(struct pkt_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	for (int i = 0; i < r->n; i++)
		pkt_hdr_free(&r->p[i].h);
	free(r->p);
	aead_free(r->aead);
	if (r->buf)
		crypto_wipe(r->buf, PKT_CCHUNK);
	free(r->buf);
	free(r);
}
