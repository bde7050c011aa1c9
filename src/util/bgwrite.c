/*
 * bgwrite.c - a stream written to an fd by a second thread (bgwrite.h).
 *
 * The caller fills buffer `head` and queues it; the thread writes buffer
 * `tail` and gives it back. The caller waits only when every buffer is
 * queued, the thread only when none is. After a failed write the thread
 * keeps draining without writing, so the caller never blocks on it, and
 * the next bgw_write or bgw_finish returns the error.
 *
 * The thread and its buffers are made only when the stream outgrows one
 * buffer: the first BGW_BUF bytes are written inline, so a small file (the
 * common delivery) costs no thread, no 2 MiB of buffers and no copy.
 */
#include "bgwrite.h"
#include "mem.h"
#include "safefile.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bgwrite {
	int fd;
	int threaded;
	int may_start;			/* no thread yet, and none failed to start */
	size_t inline_n;		/* bytes written inline before the thread */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *buf[BGW_BUFS];
	size_t len[BGW_BUFS];
	int head, tail, queued;		/* the caller fills head; the thread drains tail */
	size_t fill;			/* bytes in buf[head] */
	int stop, drop, err;
	int main_waits, th_waits;
	off_t written, wb;		/* the thread's: bytes written, writeback started */
};

static void *
writer(void *arg)
{
	struct bgwrite *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		int t, err;

		while (w->queued == 0 && !w->stop) {
			w->th_waits = 1;
			pthread_cond_wait(&w->cv, &w->mu);
			w->th_waits = 0;
		}
		if (w->queued == 0 || w->drop)
			break;
		t = w->tail;
		err = w->err;
		pthread_mutex_unlock(&w->mu);
		if (err == 0 && write_all(w->fd, w->buf[t], w->len[t]) < 0)
			err = errno ? errno : EIO;
		if (err == 0) {
			w->written += (off_t)w->len[t];
			writeback_start(w->fd, &w->wb, w->written);
		}
		pthread_mutex_lock(&w->mu);
		if (w->err == 0)
			w->err = err;
		w->tail = (w->tail + 1) % BGW_BUFS;
		w->queued--;
		if (w->main_waits)
			pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct bgwrite *
bgw_new(int fd)
{
	struct bgwrite *w = xcalloc(1, sizeof(*w));

	w->fd = fd;
	w->may_start = 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	return w;
}

/* The stream outgrew the inline start: the thread and its buffers (when it
 * cannot start, every write stays inline). */
static void
start(struct bgwrite *w)
{
	w->may_start = 0;
	if ((w->written = lseek(w->fd, 0, SEEK_CUR)) < 0)
		w->written = 0;
	w->wb = w->written;
	for (int i = 0; i < BGW_BUFS; i++)
		w->buf[i] = xmalloc(BGW_BUF);
	w->threaded = pthread_create(&w->th, NULL, writer, w) == 0;
}

/* Queue buf[head] (fill bytes) and wait for a free one. */
static int
submit(struct bgwrite *w)
{
	int err;

	pthread_mutex_lock(&w->mu);
	w->len[w->head] = w->fill;
	w->head = (w->head + 1) % BGW_BUFS;
	w->queued++;
	w->fill = 0;
	if (w->th_waits)
		pthread_cond_signal(&w->cv);
	while (w->queued >= BGW_BUFS) {
		w->main_waits = 1;
		pthread_cond_wait(&w->cv, &w->mu);
		w->main_waits = 0;
	}
	err = w->err;
	pthread_mutex_unlock(&w->mu);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int
bgw_write(struct bgwrite *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (w->may_start && w->err == 0 && w->inline_n + n > BGW_BUF)
		start(w);
	if (!w->threaded) {
		w->inline_n += n;
		if (w->err == 0 && write_all(w->fd, p, n) < 0)
			w->err = errno ? errno : EIO;
		errno = w->err;
		return w->err ? -1 : 0;
	}
	while (n > 0) {
		size_t k = BGW_BUF - w->fill < n ? BGW_BUF - w->fill : n;

		memcpy(w->buf[w->head] + w->fill, b, k);
		w->fill += k;
		b += k;
		n -= k;
		if (w->fill == BGW_BUF && submit(w) < 0)
			return -1;
	}
	return 0;
}

static void
stop(struct bgwrite *w, int drop)
{
	if (!w->threaded)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	w->drop = drop;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	w->threaded = 0;
}

int
bgw_finish(struct bgwrite *w)
{
	if (w->threaded && w->fill > 0 && submit(w) < 0) {
		stop(w, 1);
		return -1;
	}
	stop(w, 0);
	errno = w->err;
	return w->err ? -1 : 0;
}

void
bgw_free(struct bgwrite *w)
{
	if (w == NULL)
		return;
	stop(w, 1);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	for (int i = 0; i < BGW_BUFS; i++)
		free(w->buf[i]);
	free(w);
}
