/*
 * once.c - "say it once per daemon run" across the master's children: a
 * small table of keys in shared memory, made by the master before its
 * first fork, so that a receiver (one child per connection) logs a note
 * the first time any child meets it and never again until a restart.
 *
 * Offers once_init() (master, before forking) and once_first() (any
 * process). Bounded: ONCE_MAX keys of ONCE_KEY bytes; past that, or
 * without the table (--poll, a failed mmap), every call says "first", so
 * a note is repeated rather than lost. Never exits.
 */
#include "shipd.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define ONCE_MAX	256
#define ONCE_KEY	96

struct once_tab {
	pthread_mutex_t mu;		/* process-shared */
	int n;
	char key[ONCE_MAX][ONCE_KEY];
};

static struct once_tab *T;

int
once_init(void)
{
	pthread_mutexattr_t a;
	void *p = mmap(NULL, sizeof(*T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return -1;
	T = p;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&T->mu, &a);
	pthread_mutexattr_destroy(&a);
	return 0;
}

int
once_first(const char *key)
{
	char k[ONCE_KEY];
	int first = 1;

	if (T == NULL)
		return 1;
	snprintf(k, sizeof(k), "%s", key);
	pthread_mutex_lock(&T->mu);
	for (int i = 0; i < T->n && first; i++)
		if (strcmp(T->key[i], k) == 0)
			first = 0;
	if (first && T->n < ONCE_MAX)
		memcpy(T->key[T->n++], k, sizeof(k));
	pthread_mutex_unlock(&T->mu);
	return first;
}
