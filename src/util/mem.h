/*
 * mem.h - checked allocation (never returns NULL: exhausted memory is fatal)
 * and a growable string. Every path is built with a length check via
 * path_fmt(), which fails instead of truncating.
 */
#ifndef SHIPD_MEM_H
#define SHIPD_MEM_H

#include <stddef.h>
#include <stdint.h>
#include "log.h"

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);

/* A growable string. s is always NUL-terminated. */
struct sbuf {
	char *s;
	size_t len, cap;
};
void sbuf_init(struct sbuf *b);
void sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) PRINTF(2, 3);
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);

/* A size for people: 512B, 4.0K, 1.5M, 12G. */
const char *fmt_size(uint64_t n, char *buf, size_t size);

/* snprintf into buf; returns -1 with err_set() when the result would not fit. */
int path_fmt(char *buf, size_t size, const char *fmt, ...) PRINTF(3, 4);

/* A growable list of strings (argv-style, NULL-terminated). */
struct strv {
	char **v;
	int n, cap;
};
void strv_add(struct strv *l, const char *s);
int strv_has(const struct strv *l, const char *s);
void strv_remove(struct strv *l, const char *s);
void strv_free(struct strv *l);

#endif
