/*
 * packet_writer.c - the sealer's back end: writes sealed chunks to their
 * part files and hashes each part's body, sharing that work between the
 * sealing thread and one helper thread.
 *
 * Offers pkt_writer_new/slot/submit/sync/finish/free (packet_int.h).
 * Memory is at most PKT_WSLOTS chunk buffers, each allocated when first
 * handed out (a small packet uses one or two) and wiped when freed. A
 * queued chunk needs two things done before its buffer is free again: its
 * SHA-256 (in order, by the helper only: one running hash per part) and
 * its pwrite(2) at its own offset (by either thread, in any order). The
 * helper hashes; when it has nothing to hash it takes the oldest write
 * nobody has taken. The sealing thread, when it finds every buffer busy,
 * does the same instead of sleeping. So neither core idles while the
 * other has work, whatever the ratio of ChaCha20, SHA-256 and page-cache
 * copy costs on the machine (on random data the kernel's copy into the
 * part file costs about as much as SHA-256). Wake-ups are batched: each
 * costs more than a chunk's work on a busy VM.
 *
 * Ordered (pkt_writer_ordered, for sealing while sending): one write at
 * a time, oldest first, so the file's size never runs ahead of bytes
 * still being copied in; a reader following the growing file may send
 * everything below its size. Hashing still overlaps. Each write then
 * also starts the kernel's writeback of what came before it
 * (writeback_start), so the seal's closing fsync finds little left dirty
 * and the order is committed, and its trailer sent, sooner.
 *
 * The thread is started with the second chunk (a one-chunk packet, the
 * common small file, is hashed and written inline: a thread costs more
 * than that work) and lives until pkt_writer_finish/free (never across a
 * return to the daemon, so never across a fork); when it cannot be
 * started the same work is done inline. It never calls err_set
 * (not thread-safe): a failed write is kept as an errno and the part's
 * number, and reported by submit/sync/finish on the caller's thread. The
 * caller owns the file descriptors: sync() before closing one.
 */
#include "packet_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH	(PKT_WSLOTS / 4)	/* wake the helper for this many chunks */

struct wslot {
	uint8_t *buf;			/* PKT_CCHUNK bytes */
	size_t len;
	int fd, part;			/* part: 1-based, for the digest and errors */
	off_t off;
	int hashed, written;
};

/*
 * The ring: slots [tail, head) are queued, oldest first; hnext and wnext
 * are the next slot to hash and the next write not yet taken. A slot is
 * free again once it is both hashed and written; tail then moves on.
 * Counters are absolute (slot = counter % PKT_WSLOTS).
 */
struct pkt_writer {
	pthread_t th;
	int threaded, tried;		/* tried: pthread_create was called */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wslot s[PKT_WSLOTS];
	uint64_t head, tail, hnext, wnext;
	int writing;			/* writes taken and not yet done */
	int stop, cancel;		/* cancel: skip the writes still queued */
	int ordered;			/* one write at a time, oldest first */
	off_t wb;			/* ordered: written back from here on (writeback_start) */
	int main_waits, helper_waits;
	int err, err_part;		/* the first failed write */
	/* the helper's own until it is joined */
	int cur_part;
	struct hash *hs;
	uint8_t (*dig)[PKT_DIGEST_LEN];
	int ndig, capdig;
};

#define SLOT(w, i)	(&(w)->s[(i) % PKT_WSLOTS])

/* Is there a write to take now? The caller holds the lock. */
static int
write_waiting(const struct pkt_writer *w)
{
	return w->wnext < w->head && !(w->ordered && w->writing);
}

static int
pwrite_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0) {
			errno = EIO;
			return -1;
		}
		p += k;
		n -= k;
		off += k;
	}
	return 0;
}

static void
finish_digest(struct pkt_writer *w)
{
	if (w->hs == NULL)
		return;
	if (w->ndig == w->capdig) {
		w->capdig = w->capdig ? 2 * w->capdig : 4;
		w->dig = xrealloc(w->dig, w->capdig * sizeof(*w->dig));
	}
	hash_final(w->hs, w->dig[w->ndig++]);
	w->hs = NULL;
}

static void
hash_slot(struct pkt_writer *w, const struct wslot *sl)
{
	if (sl->part != w->cur_part) {
		finish_digest(w);
		w->hs = hash_new_sha256();
		w->cur_part = sl->part;
	}
	hash_update(w->hs, sl->buf, sl->len);
}

/* Free the slots at the tail that are done; the caller holds the lock. */
static void
retire(struct pkt_writer *w)
{
	while (w->tail < w->hnext && w->tail < w->wnext && SLOT(w, w->tail)->hashed &&
	       SLOT(w, w->tail)->written)
		w->tail++;
	if (w->main_waits && (PKT_WSLOTS - (w->head - w->tail) >= BATCH ||
			      (w->wnext == w->head && w->writing == 0)))
		pthread_cond_broadcast(&w->cv);
}

/*
 * Take the oldest write nobody has taken and do it outside the lock;
 * the caller holds the lock, which is held again on return. After a
 * failure writes are only counted: the seal is lost anyway.
 */
static void
take_write(struct pkt_writer *w)
{
	struct wslot *sl = SLOT(w, w->wnext++);
	int failed = w->err != 0 || w->cancel, e = 0;

	w->writing++;
	pthread_mutex_unlock(&w->mu);
	if (!failed && pwrite_all(sl->fd, sl->buf, sl->len, sl->off) < 0)
		e = errno;
	else if (!failed && w->ordered)	/* alone: the writes before it are done */
		writeback_start(sl->fd, &w->wb, sl->off + (off_t)sl->len);
	pthread_mutex_lock(&w->mu);
	if (e && w->err == 0) {
		w->err = e;
		w->err_part = sl->part;
	}
	sl->written = 1;
	w->writing--;
	retire(w);
	/* ordered: the next write may be taken now, by either thread */
	if (w->ordered && w->wnext < w->head && (w->helper_waits || w->main_waits))
		pthread_cond_broadcast(&w->cv);
}

static void *
run(void *arg)
{
	struct pkt_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->hnext < w->head) {
			struct wslot *sl = SLOT(w, w->hnext++);

			pthread_mutex_unlock(&w->mu);
			hash_slot(w, sl);
			pthread_mutex_lock(&w->mu);
			sl->hashed = 1;
			retire(w);
		} else if (write_waiting(w)) {
			take_write(w);
		} else if (w->stop && w->wnext == w->head) {
			break;
		} else {
			w->helper_waits = 1;
			pthread_cond_wait(&w->cv, &w->mu);
			w->helper_waits = 0;
		}
	}
	pthread_mutex_unlock(&w->mu);
	finish_digest(w);
	return NULL;
}

struct pkt_writer *
pkt_writer_new(void)
{
	struct pkt_writer *w = xcalloc(1, sizeof(*w));

	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	return w;
}

/* Wait, writing meanwhile, until done(w); the caller holds the lock. */
static void
help_until(struct pkt_writer *w, int (*done)(const struct pkt_writer *))
{
	while (!done(w)) {
		if (write_waiting(w)) {
			take_write(w);
			continue;
		}
		if (w->helper_waits)
			pthread_cond_broadcast(&w->cv);
		w->main_waits = 1;
		pthread_cond_wait(&w->cv, &w->mu);
		w->main_waits = 0;
	}
}

static int
slot_free(const struct pkt_writer *w)
{
	return w->head - w->tail < PKT_WSLOTS;
}

static int
all_written(const struct pkt_writer *w)
{
	return w->wnext == w->head && w->writing == 0;
}

uint8_t *
pkt_writer_slot(struct pkt_writer *w)
{
	struct wslot *sl;

	pthread_mutex_lock(&w->mu);
	help_until(w, slot_free);
	sl = SLOT(w, w->head);
	if (sl->buf == NULL)	/* on first use: a small packet touches one or two */
		sl->buf = xmalloc(PKT_CCHUNK);
	pthread_mutex_unlock(&w->mu);
	return sl->buf;
}

int
pkt_writer_submit(struct pkt_writer *w, int fd, int part, off_t off, size_t len)
{
	struct wslot *sl;
	int failed;

	pthread_mutex_lock(&w->mu);
	sl = SLOT(w, w->head);
	sl->len = len;
	sl->fd = fd;
	sl->part = part;
	sl->off = off;
	sl->hashed = sl->written = 0;
	w->head++;
	if (!w->tried && w->head > 1) {	/* a second chunk: worth a helper */
		w->tried = 1;
		w->threaded = pthread_create(&w->th, NULL, run, w) == 0;
	}
	if (!w->threaded) {
		hash_slot(w, SLOT(w, w->hnext++));
		sl->hashed = 1;
		take_write(w);
	} else if (w->helper_waits && w->head - w->hnext >= BATCH)
		pthread_cond_broadcast(&w->cv);
	failed = w->err != 0;		/* seen a little late: finish reports it */
	pthread_mutex_unlock(&w->mu);
	return failed ? -1 : 0;
}

void
pkt_writer_ordered(struct pkt_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->ordered = 1;
	pthread_mutex_unlock(&w->mu);
}

/* The first failed write as an error; 0 when there was none. */
static int
report(const struct pkt_writer *w)
{
	if (w->err == 0)
		return 0;
	err_set("write part %d: %s", w->err_part, strerror(w->err));
	return -1;
}

int
pkt_writer_sync(struct pkt_writer *w)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	help_until(w, all_written);
	rc = report(w);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Write what is queued, let the helper hash the rest, stop it. */
static void
stop(struct pkt_writer *w)
{
	pthread_mutex_lock(&w->mu);
	help_until(w, all_written);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->threaded) {
		pthread_join(w->th, NULL);
		w->threaded = 0;
	} else
		finish_digest(w);
}

int
pkt_writer_finish(struct pkt_writer *w, uint8_t (*dig)[PKT_DIGEST_LEN], int nparts)
{
	stop(w);
	if (report(w) < 0)
		return -1;
	if (w->ndig != nparts) {
		err_set("writer finished %d parts, not %d", w->ndig, nparts);
		return -1;
	}
	memcpy(dig, w->dig, nparts * sizeof(*dig));
	return 0;
}

void
pkt_writer_free(struct pkt_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->cancel = 1;
	pthread_mutex_unlock(&w->mu);
	stop(w);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	for (int i = 0; i < PKT_WSLOTS; i++) {
		if (w->s[i].buf == NULL)	/* never handed out: never held plaintext */
			continue;
		crypto_wipe(w->s[i].buf, PKT_CCHUNK);
		free(w->s[i].buf);
	}
	free(w->dig);
	free(w);
}
