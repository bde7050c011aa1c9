/*
 * bgwrite.h - write a byte stream to a file descriptor on a second thread,
 * so that producing the bytes (decompressing) and the kernel's copy into
 * the page cache overlap on two cores.
 *
 * Memory: BGW_BUFS buffers of BGW_BUF bytes, whatever the stream's length.
 * bgw_write copies the bytes (the caller's buffer is free on return). The
 * thread lives only between bgw_new and bgw_finish/bgw_free (never across
 * a return to the daemon, so never across a fork); when it cannot start,
 * writes are made inline. Never closes, syncs or seeks the fd; never logs
 * or calls err_set: a failure comes back as -1 with errno.
 */
#ifndef SHIPD_BGWRITE_H
#define SHIPD_BGWRITE_H

#include <stddef.h>

#define BGW_BUFS	8
#define BGW_BUF		(256 * 1024)

struct bgwrite;
struct bgwrite *bgw_new(int fd);
/* Queue n bytes; -1 (errno) once any earlier write failed. */
int bgw_write(struct bgwrite *w, const void *p, size_t n);
/* Write what is queued and stop the thread: 0, or -1 with the first errno. */
int bgw_finish(struct bgwrite *w);
/* Stop (dropping what is not written yet, unless finished) and free. */
void bgw_free(struct bgwrite *w);

#endif
