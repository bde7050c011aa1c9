/*
 * htab.c - string hash table (FNV-1a, power-of-two buckets, grows at load 1).
 */
#include "htab.h"
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hent {
	struct hent *next;
	void *value;
	char key[];
};

struct htab {
	struct hent **b;
	size_t nb, n;
};

static uint32_t
fnv(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct htab *
htab_new(void)
{
	struct htab *h = xmalloc(sizeof(*h));

	h->nb = 64;
	h->n = 0;
	h->b = xcalloc(h->nb, sizeof(*h->b));
	return h;
}

static void
grow(struct htab *h)
{
	size_t nb = h->nb * 2;
	struct hent **b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < h->nb; i++)
		for (struct hent *e = h->b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[fnv(e->key) & (nb - 1)];
			b[fnv(e->key) & (nb - 1)] = e;
		}
	free(h->b);
	h->b = b;
	h->nb = nb;
}

void *
htab_put(struct htab *h, const char *key, void *value)
{
	struct hent **pp = &h->b[fnv(key) & (h->nb - 1)], *e;
	size_t len;

	for (e = *pp; e; e = e->next)
		if (strcmp(e->key, key) == 0) {
			void *old = e->value;

			e->value = value;
			return old;
		}
	len = strlen(key);
	e = xmalloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->value = value;
	e->next = *pp;
	*pp = e;
	if (++h->n > h->nb)
		grow(h);
	return NULL;
}

void *
htab_get(const struct htab *h, const char *key)
{
	for (struct hent *e = h->b[fnv(key) & (h->nb - 1)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e->value;
	return NULL;
}

void *
htab_del(struct htab *h, const char *key)
{
	for (struct hent **pp = &h->b[fnv(key) & (h->nb - 1)], *e; (e = *pp); pp = &e->next)
		if (strcmp(e->key, key) == 0) {
			void *v = e->value;

			*pp = e->next;
			free(e);
			h->n--;
			return v;
		}
	return NULL;
}

size_t
htab_count(const struct htab *h)
{
	return h->n;
}

void
htab_walk(const struct htab *h, void (*fn)(void *, const char *, void *), void *arg)
{
	for (size_t i = 0; i < h->nb; i++)
		for (struct hent *e = h->b[i]; e; e = e->next)
			fn(arg, e->key, e->value);
}

void
htab_free(struct htab *h, void (*free_value)(void *))
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->nb; i++)
		for (struct hent *e = h->b[i], *next; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
	free(h->b);
	free(h);
}
