/*
 * packet_writer.c - the sealer's back end: writes sealed chunks to their
 * part files and hashes each part's body, on a second thread, so that
 * compressing and encrypting the next chunks overlaps with the kernel copy
 * and SHA-256 of the last ones (together about half of sealing's work).
 *
 * Offers pkt_writer_new/slot/submit/finish/free (packet_int.h). Memory is
 * PKT_WSLOTS chunk buffers, whatever the stream's length. The thread lives
 * only between pkt_writer_new and pkt_writer_finish/free (never across a
 * return to the daemon, so never across a fork); when it cannot be
 * started the same work is done inline. It never calls err_set (not
 * thread-safe): failures are kept as an errno and reported by finish.
 * It owns the part file descriptors it is given and closes every one.
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

struct wslot {
	uint8_t *buf;			/* PKT_CCHUNK bytes */
	size_t len;
	int fd;				/* >= 0: the first chunk of a new part in fd */
};

struct pkt_writer {
	pthread_t th;
	int threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wslot s[PKT_WSLOTS];
	int head, tail, queued;		/* main fills head; the writer drains tail */
	int stop;
	int main_waits, writer_waits;	/* wake a side only when it sleeps: batches */
	/* below: the writer's own until it is joined */
	int err, err_part;
	const char *err_what;
	int fd;
	struct hash *hs;
	uint8_t (*dig)[PKT_DIGEST_LEN];
	int ndig, capdig;
};

struct werr {
	int err, part;
	const char *what;
};

static void
set_err(struct werr *e, int err, const char *what, int part)
{
	if (e->err == 0) {
		e->err = err;
		e->what = what;
		e->part = part;
	}
}

static void
finish_part(struct pkt_writer *w, struct werr *e)
{
	if (w->fd < 0)
		return;
	if (w->ndig == w->capdig) {
		w->capdig = w->capdig ? 2 * w->capdig : 4;
		w->dig = xrealloc(w->dig, w->capdig * sizeof(*w->dig));
	}
	hash_final(w->hs, w->dig[w->ndig++]);
	w->hs = NULL;
	if (close(w->fd) < 0)
		set_err(e, errno, "close", w->ndig);
	w->fd = -1;
}

/* Write and hash one chunk (after the first error, only keep accounts). */
static void
process(struct pkt_writer *w, const struct wslot *sl, int failed, struct werr *e)
{
	if (sl->fd >= 0) {
		finish_part(w, e);
		w->fd = sl->fd;
		w->hs = hash_new_sha256();
	}
	if (failed || e->err)
		return;
	if (write_all(w->fd, sl->buf, sl->len) < 0) {
		set_err(e, errno, "write", w->ndig + 1);
		return;
	}
	hash_update(w->hs, sl->buf, sl->len);
}

/* Publish a failure; the caller holds the lock (or there is no thread). */
static void
publish(struct pkt_writer *w, const struct werr *e)
{
	if (e->err && w->err == 0) {
		w->err = e->err;
		w->err_what = e->what;
		w->err_part = e->part;
	}
}

static void *
run(void *arg)
{
	struct pkt_writer *w = arg;
	struct werr e = {0};

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct wslot sl;
		int failed;

		while (w->queued == 0 && !w->stop) {
			w->writer_waits = 1;
			pthread_cond_wait(&w->cv, &w->mu);
			w->writer_waits = 0;
		}
		if (w->queued == 0)
			break;
		sl = w->s[w->tail];
		failed = w->err != 0;
		pthread_mutex_unlock(&w->mu);
		process(w, &sl, failed, &e);
		pthread_mutex_lock(&w->mu);
		publish(w, &e);
		w->tail = (w->tail + 1) % PKT_WSLOTS;
		w->queued--;
		if (w->main_waits && w->queued <= PKT_WSLOTS / 2)
			pthread_cond_broadcast(&w->cv);
	}
	finish_part(w, &e);
	publish(w, &e);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct pkt_writer *
pkt_writer_new(void)
{
	struct pkt_writer *w = xcalloc(1, sizeof(*w));

	for (int i = 0; i < PKT_WSLOTS; i++)
		w->s[i].buf = xmalloc(PKT_CCHUNK);
	w->fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->threaded = pthread_create(&w->th, NULL, run, w) == 0;
	return w;
}

uint8_t *
pkt_writer_slot(struct pkt_writer *w)
{
	uint8_t *b;

	pthread_mutex_lock(&w->mu);
	while (w->queued == PKT_WSLOTS) {
		w->main_waits = 1;
		pthread_cond_wait(&w->cv, &w->mu);
		w->main_waits = 0;
	}
	b = w->s[w->head].buf;
	pthread_mutex_unlock(&w->mu);
	return b;
}

int
pkt_writer_submit(struct pkt_writer *w, int fd, size_t len)
{
	struct wslot *sl;
	int failed;

	pthread_mutex_lock(&w->mu);
	sl = &w->s[w->head];
	sl->len = len;
	sl->fd = fd;
	if (w->threaded) {
		w->head = (w->head + 1) % PKT_WSLOTS;
		w->queued++;
		if (w->writer_waits && w->queued >= PKT_WSLOTS / 2)
			pthread_cond_broadcast(&w->cv);
	}
	failed = w->err != 0;		/* seen a little late: finish reports it */
	pthread_mutex_unlock(&w->mu);
	if (!w->threaded) {
		struct werr e = {0};

		process(w, sl, failed, &e);
		publish(w, &e);
		failed = w->err != 0;
	}
	return failed ? -1 : 0;
}

/* Stop the thread once everything queued is written. */
static void
stop(struct pkt_writer *w)
{
	if (w->threaded) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
		w->threaded = 0;
	} else {
		struct werr e = {0};

		finish_part(w, &e);
		publish(w, &e);
	}
}

int
pkt_writer_finish(struct pkt_writer *w, uint8_t (*dig)[PKT_DIGEST_LEN], int nparts)
{
	stop(w);
	if (w->err) {
		err_set("%s part %d: %s", w->err_what, w->err_part, strerror(w->err));
		return -1;
	}
	if (dig == NULL) {
		err_set("writer stopped");
		return -1;
	}
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
	stop(w);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	for (int i = 0; i < PKT_WSLOTS; i++) {
		crypto_wipe(w->s[i].buf, PKT_CCHUNK);
		free(w->s[i].buf);
	}
	free(w->dig);
	free(w);
}
