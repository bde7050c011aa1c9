/*
 * packet_reader.c - the parts of one logical packet in, its decrypted
 * plaintext stream out, one chunk at a time, reading each file once.
 *
 * Offers pkt_reader_new/new_stream/next/local/group/digest/free and
 * pkt_errno_local (packet_int.h). A stream (new_stream: the header given,
 * the rest read from a pipe as a receiver gets it) is read the same way
 * as a file, by the same thread, with the same checks, and must end
 * exactly at its trailer. _new checks every part's header signature and length,
 * that the parts are 1..M of one sealing (same group, ephemeral key and
 * wrapped keys, chunk ranges that join; given in any order, read in part
 * order) and opens our wrapped key. Then a second thread reads each body
 * once: it hashes each chunk and hands it over, and at each part's end
 * checks the trailer signature over H(header) || H(body). Checking each
 * chunk's tag and decrypting it in place is shared: the thread does it
 * while the caller is behind (busy decompressing and writing), the caller
 * while it would otherwise wait, so both cores stay busy. The stream must end with the chunk flagged
 * final, and next() says "end" (0) only once every trailer verified.
 *
 * The guarantee: only bytes that passed their chunk's AEAD tag under the
 * packet key (which only the origin and the recipients hold) are handed
 * out, and the origin's signature over every part is checked before the
 * end is reported; packet_open keeps nothing before that.
 *
 * Memory: at most RSLOTS chunk buffers (each allocated on first use, wiped
 * when freed) and a header per part, whatever the size.
 * The packet key exists only inside the AEAD handle (libgcrypt secure
 * memory). The thread lives only between _new and _free (never across a
 * return to the daemon, so never across a fork); its errors (err_set is
 * per thread) reach the caller through the slots.
 *
 * A small packet in files (at most INLINE_CHUNKS chunks: every slot it
 * needs is free) has no thread: _new runs the thread's reading to its end
 * before it returns, and next() hands out what it left in the slots. A
 * thread (an mmap'ed stack, clone, futexes, a join) costs more than the
 * two cores win on so few bytes. So has a small stream whose digest is
 * known (it was verified whole: every byte is in the pipe already, or
 * comes from another thread); any other stream has its thread, its bytes
 * coming while the caller reads.
 */
#include "packet_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RSLOTS	16
#define INLINE_CHUNKS	4	/* < RSLOTS: the reading never waits for a slot */

enum { S_CHUNK, S_END, S_ERROR };

struct rslot {
	uint8_t *buf;			/* PKT_CCHUNK bytes: one chunk */
	size_t len;			/* S_CHUNK: plaintext bytes (> 0), or the
					 * sealed chunk's bytes when still sealed */
	int kind;
	int sealed;			/* S_CHUNK: left for the caller to open */
	int final, part;		/* S_CHUNK */
	uint64_t idx;			/* S_CHUNK: its index in the stream */
	int local;			/* S_ERROR: our side's failure (why: r->why) */
};

struct rpart {
	const char *path;
	int fd;				/* >= 0: a stream (a pipe) holding the
					 * bytes after the header; not ours */
	const uint8_t *mem;		/* or those bytes in memory (not ours) */
	size_t memlen;
	struct pkt_hdr h;
	uint8_t hd[PKT_DIGEST_LEN];	/* H(header) */
	int known;			/* verified on the way in: digest holds */
	uint8_t digest[PKT_DIGEST_LEN];	/* the packet digest recorded then */
};

struct pkt_reader {
	const struct config *cf;
	const struct keys *me;
	struct rpart *p;
	int n;
	char group[ORDER_ID_MAX];
	struct aead *aead, *th_aead;	/* the caller's, the thread's */
	uint64_t nchunks;		/* chunks in the stream */
	int done;			/* the thread's: the final chunk was read */
	int verified, local, failed;	/* the caller's */
	uint8_t digest[PKT_DIGEST_LEN];	/* the packet digest of a one-part
					 * stream, once its trailer verified */
	char why[512];			/* the thread's error, read after S_ERROR */
	char mwhy[512];			/* the caller's copy, or its own error */
	/* the hand-over: the thread fills head, the caller drains tail */
	pthread_t th;
	int started;			/* the thread runs (joined at _free) */
	int inlined;			/* no thread: the reading is done */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rslot s[RSLOTS];
	int head, tail, filled, held;	/* held: the slot the caller still reads */
	int stop;
	int main_waits, th_waits;
};

int
pkt_errno_local(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EIO || e == EROFS || e == ENOMEM ||
	       e == EMFILE || e == ENFILE || e == EFBIG;
}

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

/* Order, completeness and consistency of the parts. */
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

/* One part's header: parsed, signed by its origin, the file as long as it
 * says. errno is set to the local error, or EBADMSG. */
static int
read_header(struct pkt_reader *r, struct rpart *p, uint8_t *buf)
{
	struct stat st;
	ssize_t n;
	int fd, k, e;

	if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		e = errno;
		err_set("packet file %s: %s", p->path, strerror(e));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("packet file %s: not a regular file", p->path);
		goto bad;
	}
	n = read_full(fd, buf, st.st_size < PKT_MAX_HEADER ? st.st_size : PKT_MAX_HEADER);
	if (n < 0) {
		e = errno;
		err_set("packet file %s: %s", p->path, strerror(e));
		goto fail;
	}
	if ((k = pkt_hdr_parse(buf, n, &p->h)) <= 0) {
		if (k == 0)
			err_set("packet file %s: truncated (%zd bytes, header incomplete)",
				p->path, n);
		goto bad;
	}
	/* a part this node verified on the way in: its digest, checked at the
	 * end of the part, covers these bytes (H(header) is in it) */
	if ((p->known ? pkt_hdr_origin(r->cf, r->me, &p->h) :
	     pkt_hdr_verify(r->cf, r->me, buf, &p->h)) < 0)
		goto bad;
	if ((uint64_t)st.st_size != p->h.info.file_size) {
		err_set("packet %s: %s (%llu bytes, the header says %" PRIu64 ")", p->h.info.id,
			(uint64_t)st.st_size < p->h.info.file_size ? "truncated" : "trailing data",
			(unsigned long long)st.st_size, p->h.info.file_size);
		goto bad;
	}
	sha256(buf, p->h.info.header_len, p->hd);
	close(fd);
	return 0;
bad:
	e = EBADMSG;
fail:
	if (fd >= 0)
		close(fd);
	errno = pkt_errno_local(e) ? e : EBADMSG;
	return -1;
}

static void *reader_main(void *arg);
static struct pkt_reader *start(struct pkt_reader *r, int files);

static struct pkt_reader *
reader_alloc(const struct config *cf, const struct keys *me, int nparts)
{
	struct pkt_reader *r = xcalloc(1, sizeof(*r));

	r->cf = cf;
	r->me = me;
	r->held = -1;
	r->p = xcalloc(nparts, sizeof(*r->p));
	for (int i = 0; i < nparts; i++)
		r->p[i].fd = -1;
	return r;
}

struct pkt_reader *
pkt_reader_new(const struct config *cf, const struct keys *me, const char *const *parts,
	       int nparts)
{
	return pkt_reader_new_known(cf, me, parts, NULL, nparts);
}

struct pkt_reader *
pkt_reader_new_known(const struct config *cf, const struct keys *me, const char *const *parts,
		     const char *const *digests, int nparts)
{
	struct pkt_reader *r;
	uint8_t *buf;
	int e = EBADMSG;

	if (nparts < 1 || nparts > PKT_MAX_PARTS) {
		err_set("packet: %d part files given (want 1 to %d)", nparts, PKT_MAX_PARTS);
		errno = EBADMSG;
		return NULL;
	}
	r = reader_alloc(cf, me, nparts);
	buf = xmalloc(PKT_MAX_HEADER);
	for (int i = 0; i < nparts; i++) {
		r->p[i].path = parts[i];
		r->p[i].known = digests && digests[i] && digests[i][0] &&
			hex_decode(digests[i], r->p[i].digest, PKT_DIGEST_LEN) == 0;
		r->n = i + 1;
		if (read_header(r, &r->p[i], buf) < 0) {
			e = errno;
			free(buf);
			goto fail;
		}
	}
	free(buf);
	return start(r, 1);
fail:
	pkt_reader_free(r);
	errno = e;
	return NULL;
}

/* pkt_reader_new_stream and _new_mem: the rest from fd, or from mem */
static struct pkt_reader *
new_stream(const struct config *cf, const struct keys *me, const void *hdr, size_t hdrlen,
	   int fd, const void *mem, size_t memlen, const uint8_t *known)
{
	struct pkt_reader *r = reader_alloc(cf, me, 1);
	struct rpart *p = &r->p[0];
	int k;

	p->path = "(stream)";
	p->fd = fd;
	p->mem = mem;
	p->memlen = memlen;
	r->n = 1;
	if ((k = pkt_hdr_parse(hdr, hdrlen, &p->h)) <= 0 || (size_t)p->h.info.header_len != hdrlen) {
		if (k >= 0)
			err_set("packet stream: the header given is not one whole header");
		goto fail;
	}
	if ((p->known = known != NULL))
		memcpy(p->digest, known, PKT_DIGEST_LEN);
	/* bytes verified already: the digest, checked at the end, covers
	 * these (as for a part in a file, read_header) */
	if ((known ? pkt_hdr_origin(cf, me, &p->h) : pkt_hdr_verify(cf, me, hdr, &p->h)) < 0)
		goto fail;
	sha256(hdr, hdrlen, p->hd);
	/* in memory, every byte is at hand: read here, no thread */
	return start(r, known != NULL || mem != NULL);
fail:
	pkt_reader_free(r);
	errno = EBADMSG;
	return NULL;
}

struct pkt_reader *
pkt_reader_new_stream(const struct config *cf, const struct keys *me, const void *hdr,
		      size_t hdrlen, int fd, const uint8_t *known)
{
	return new_stream(cf, me, hdr, hdrlen, fd, NULL, 0, known);
}

struct pkt_reader *
pkt_reader_new_mem(const struct config *cf, const struct keys *me, const void *hdr,
		   size_t hdrlen, const void *rest, size_t restlen, const uint8_t *known)
{
	static const uint8_t none[1];

	return new_stream(cf, me, hdr, hdrlen, -1, restlen ? rest : none, restlen, known);
}

/* The parts' headers are read: check them as a set, open our wrapped
 * key and start the thread (here: all the bytes are at hand, so a small
 * packet is read here instead). NULL (r freed, errno set) on failure. */
static struct pkt_reader *
start(struct pkt_reader *r, int here)
{
	const struct config *cf = r->cf;
	const struct keys *me = r->me;
	const struct pkt_info *pi;
	uint8_t *key;
	int me_at, e = EBADMSG;

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
	r->th_aead = aead_new(key);	/* a cipher handle serves one thread */
	crypto_secure_free(key, AEAD_KEY_LEN);
	if (pkt_stream_chunks(pi->total_size, &r->nchunks) < 0) {
		err_set("packet %s: bad total-size", r->group);	/* parse checked it */
		goto fail;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (here && r->nchunks <= INLINE_CHUNKS) {
		/* every chunk and the end (or the failure) fit in the free
		 * slots: th_slot never waits, nothing signals a waiter */
		r->inlined = 1;
		reader_main(r);
		return r;
	}
	if ((e = pthread_create(&r->th, NULL, reader_main, r)) != 0) {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		err_set("packet %s: cannot start the reading thread: %s", r->group, strerror(e));
		e = ENOMEM;		/* ours, not the packet's */
		goto fail;
	}
	r->started = 1;
	return r;
fail:
	pkt_reader_free(r);
	errno = e;
	return NULL;
}

/* ---- the reading thread ---- */

/* Wait for a free slot; NULL when told to stop. *ahead: the slots
 * filled and not yet taken, when the wait ended. */
static struct rslot *
th_slot(struct pkt_reader *r, int *ahead)
{
	struct rslot *s = NULL;

	pthread_mutex_lock(&r->mu);
	while (!r->stop && r->filled + (r->held >= 0) >= RSLOTS) {
		r->th_waits = 1;
		pthread_cond_wait(&r->cv, &r->mu);
		r->th_waits = 0;
	}
	if (!r->stop) {
		s = &r->s[r->head];
		if (s->buf == NULL)	/* on first use: a small packet fills one */
			s->buf = xmalloc(PKT_CCHUNK);
	}
	*ahead = r->filled;
	pthread_mutex_unlock(&r->mu);
	return s;
}

static void
th_post(struct pkt_reader *r)
{
	pthread_mutex_lock(&r->mu);
	r->head = (r->head + 1) % RSLOTS;
	r->filled++;
	if (r->main_waits)
		pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Post slot s as the thread's failure: the current err_get() (this
 * thread's own), local when errno e was our side's. */
static void
th_fail(struct pkt_reader *r, struct rslot *s, int e)
{
	s->kind = S_ERROR;
	s->local = pkt_errno_local(e);
	snprintf(r->why, sizeof(r->why), "%s", err_get());
	th_post(r);
}

/* Where a part's bytes after its header come from: a file or a pipe
 * (fd), or memory (mem, len bytes, off read so far). */
struct src {
	int fd;
	const uint8_t *mem;
	size_t len, off;
};

/* read_full from s: fewer than n bytes only at its end */
static ssize_t
src_read(struct src *s, void *buf, size_t n)
{
	if (s->mem == NULL)
		return read_full(s->fd, buf, n);
	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(buf, s->mem + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

/* Read n bytes at the source's position, or err_set why not. */
static int
th_read(struct src *src, uint8_t *buf, size_t n, const struct rpart *p, const char *what,
	uint64_t idx, int *e)
{
	ssize_t k = src_read(src, buf, n);

	*e = 0;
	if (k == (ssize_t)n)
		return 0;
	if (k < 0) {
		*e = errno;
		err_set("packet %s: read %s: %s", p->h.info.id, p->path, strerror(*e));
	} else if (idx != UINT64_MAX)
		err_set("packet %s: truncated (chunk %" PRIu64 " short: end of file)", p->h.info.id,
			idx);
	else
		err_set("packet %s: truncated (%s short: end of file)", p->h.info.id, what);
	return -1;
}

/* One part: its body's chunks, checked and decrypted, then its trailer.
 * 0 done, 1 stopped, -1 failed (posted). */
static int
th_part(struct pkt_reader *r, int i, uint64_t *idx)
{
	const struct rpart *p = &r->p[i];
	uint64_t left = p->h.body_len;
	uint8_t bd[PKT_DIGEST_LEN];
	char tl[PKT_TRAILER_LEN];
	struct rslot *s;
	struct hash *hs = NULL;
	ssize_t n;
	struct src src = { -1, p->mem, p->memlen, 0 };
	int fd = -1, e = 0, rc = -1, ahead;

	if ((s = th_slot(r, &ahead)) == NULL)
		return 1;
	if (p->mem)
		;		/* in memory: the bytes after the header */
	else if (p->fd >= 0)
		fd = p->fd;	/* a stream: already past the header */
	else if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0 ||
		 lseek(fd, (off_t)p->h.info.header_len, SEEK_SET) < 0) {
		e = errno;
		err_set("packet %s: %s: %s", p->h.info.id, p->path, strerror(e));
		goto fail;
	}
	src.fd = fd;
	hs = hash_new_sha256();
	while (left > 0) {
		size_t clen = left < PKT_CCHUNK ? left : PKT_CCHUNK;
		int final = *idx + 1 == r->nchunks;

		if (th_read(&src, s->buf, clen, p, "chunk", *idx, &e) < 0)
			goto fail;
		hash_update(hs, s->buf, clen);
		left -= clen;
		if (final && (left != 0 || i + 1 != r->n)) {
			err_set("packet %s: data after the final chunk", p->h.info.id);
			goto fail;
		}
		/*
		 * Share the decrypting: while the caller has little queued it is
		 * waiting for us, so it opens the chunk itself; once it falls
		 * behind (decompressing, writing) we open it here.
		 */
		s->kind = S_CHUNK;
		s->idx = *idx;
		s->final = final;
		s->part = i;
		s->sealed = ahead < RSLOTS / 2;
		s->len = clen;
		if (!s->sealed) {
			if ((n = pkt_chunk_open(r->th_aead, r->group, *idx, final, s->buf,
						clen)) < 0) {
				err_set("packet %s: tampered chunk %" PRIu64, p->h.info.id, *idx);
				goto fail;
			}
			s->len = n;
		}
		(*idx)++;
		r->done |= final;
		if (s->sealed || s->len > 0) {
			th_post(r);
			if ((s = th_slot(r, &ahead)) == NULL) {
				rc = 1;
				goto out;
			}
		}
	}
	hash_final(hs, bd);
	hs = NULL;
	if (th_read(&src, (uint8_t *)tl, PKT_TRAILER_LEN, p, "trailer", UINT64_MAX, &e) < 0)
		goto fail;
	{
		char why[512];

		uint8_t got[PKT_DIGEST_LEN];

		if (p->known) {
			/* the bytes this node verified before, or not */
			pkt_packet_digest(p->hd, bd, got);
			if (memcmp(got, p->digest, PKT_DIGEST_LEN) != 0) {
				err_set("packet %s: %s is not the packet this node verified when "
					"it took it (changed on disk)", p->h.info.id, p->path);
				goto fail;
			}
		} else if (pkt_check_trailer(r->cf, r->me, &p->h, p->hd, bd, tl, why,
					     sizeof(why)) < 0) {
			err_set("%s", why);
			goto fail;
		}
		pkt_packet_digest(p->hd, bd, r->digest);
	}
	/* a stream ends with the trailer, as a file ends at its size */
	if ((p->fd >= 0 || p->mem) && (n = src_read(&src, tl, 1)) != 0) {
		e = n < 0 ? errno : 0;
		if (n < 0)
			err_set("packet %s: read %s: %s", p->h.info.id, p->path, strerror(e));
		else
			err_set("packet %s: trailing data (more than the header's %" PRIu64
				" bytes)", p->h.info.id, p->h.info.file_size);
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	th_fail(r, s, e);
out:
	if (hs)
		hash_final(hs, bd);
	if (fd >= 0 && p->fd < 0)
		close(fd);
	return rc;
}

static void *
reader_main(void *arg)
{
	struct pkt_reader *r = arg;
	struct rslot *s;
	uint64_t idx = 0;
	int ahead;

	for (int i = 0; i < r->n; i++)
		if (th_part(r, i, &idx) != 0)
			return NULL;
	if ((s = th_slot(r, &ahead)) == NULL)
		return NULL;
	if (!r->done) {
		err_set("packet %s: truncated (no final chunk after chunk %" PRIu64 ")", r->group,
			idx);
		th_fail(r, s, 0);
		return NULL;
	}
	s->kind = S_END;	/* every chunk and every trailer checked */
	th_post(r);
	return NULL;
}

/* ---- the caller's side ---- */

/* Give back the slot handed out last time. */
static void
release(struct pkt_reader *r)
{
	if (r->held < 0)
		return;
	pthread_mutex_lock(&r->mu);
	r->held = -1;
	if (r->th_waits)
		pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* The next slot from the thread, held until the next call. */
static struct rslot *
take(struct pkt_reader *r)
{
	struct rslot *s;

	pthread_mutex_lock(&r->mu);
	while (r->filled == 0) {
		r->main_waits = 1;
		pthread_cond_wait(&r->cv, &r->mu);
		r->main_waits = 0;
	}
	s = &r->s[r->tail];
	r->held = r->tail;
	r->tail = (r->tail + 1) % RSLOTS;
	r->filled--;
	pthread_mutex_unlock(&r->mu);
	return s;
}

ssize_t
pkt_reader_next(struct pkt_reader *r, const void **out)
{
	struct rslot *s;

	*out = NULL;
	if (r->failed) {
		err_set("%s", r->mwhy);
		return -1;
	}
	if (r->verified)
		return 0;
again:
	release(r);
	s = take(r);
	switch (s->kind) {
	case S_CHUNK:
		if (s->sealed) {
			ssize_t n = pkt_chunk_open(r->aead, r->group, s->idx, s->final, s->buf,
						   s->len);

			if (n < 0) {
				/* r->why is the thread's, which may still be running */
				snprintf(r->mwhy, sizeof(r->mwhy), "packet %s: tampered chunk %" PRIu64,
					 r->p[s->part].h.info.id, s->idx);
				r->failed = 1;
				err_set("%s", r->mwhy);
				return -1;
			}
			if (n == 0)
				goto again;	/* an empty final chunk */
			s->len = n;
		}
		*out = s->buf;
		return (ssize_t)s->len;
	case S_END:
		r->verified = 1;
		return 0;
	case S_ERROR:		/* the thread wrote why, posted and ended */
		snprintf(r->mwhy, sizeof(r->mwhy), "%s", r->why);
		r->failed = 1;
		r->local = s->local;
		err_set("%s", r->mwhy);
		return -1;
	default:
		msg_panic("packet reader: slot kind %d", s->kind);
	}
}

int
pkt_reader_local(const struct pkt_reader *r)
{
	return r->local;
}

const uint8_t *
pkt_reader_digest(const struct pkt_reader *r)
{
	return r->verified ? r->digest : NULL;
}

const char *
pkt_reader_group(const struct pkt_reader *r)
{
	return r->group;
}

const struct pkt_info *
pkt_reader_info(const struct pkt_reader *r)
{
	return &r->p[0].h.info;	/* check_set sorted the parts: part 1 */
}

void
pkt_reader_free(struct pkt_reader *r)
{
	if (r == NULL)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->th, NULL);
	}
	if (r->started || r->inlined) {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
	}
	for (int i = 0; i < r->n; i++)
		pkt_hdr_free(&r->p[i].h);
	free(r->p);
	aead_free(r->aead);
	aead_free(r->th_aead);
	for (int i = 0; i < RSLOTS; i++)
		if (r->s[i].buf) {
			crypto_wipe(r->s[i].buf, PKT_CCHUNK);
			free(r->s[i].buf);
		}
	free(r);
}
