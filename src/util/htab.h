/*
 * htab.h - a string-keyed hash table with open chaining. Keys are copied;
 * values are the caller's. Knows nothing of shipping.
 */
#ifndef SHIPD_HTAB_H
#define SHIPD_HTAB_H

#include <stddef.h>

struct htab;

struct htab *htab_new(void);
void htab_free(struct htab *h, void (*free_value)(void *));
/* Insert or replace; returns the previous value or NULL. */
void *htab_put(struct htab *h, const char *key, void *value);
void *htab_get(const struct htab *h, const char *key);
/* Remove; returns the value or NULL. */
void *htab_del(struct htab *h, const char *key);
size_t htab_count(const struct htab *h);
/* Visit every entry; fn may not modify the table. */
void htab_walk(const struct htab *h, void (*fn)(void *arg, const char *key, void *value), void *arg);

#endif
