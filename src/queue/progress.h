/*
 * progress.h - what a sender is doing right now, for `shipctl top` and
 * `shipctl submit --wait`: one small record per transfer in
 * BAY/inflight/ID, rewritten in place at most every 200 ms and removed
 * when the transfer ends. Volatile by design (never fsynced): losing it in
 * a crash loses nothing but a progress bar. A record names its process by
 * PID and start time (util/proc.h): one whose process is gone, a zombie or
 * a PID used again since, is skipped by readers and removed by start-up,
 * the master's sweep and the master when it reaps a killed sender.
 */
#ifndef SHIPD_PROGRESS_H
#define SHIPD_PROGRESS_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct progress_rec {
	char id[128];
	char peer[128];
	char proto[8];			/* tcp | udp | local */
	int port;			/* local port */
	uint64_t done, total;		/* bytes */
	double started;			/* Unix time, with fractions */
	pid_t pid;
	unsigned long long pid_start;	/* the process's start time */
};

struct progress;

struct progress *progress_start(const char *bay, const char *id, const char *peer,
				const char *proto, int port, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_end(struct progress *p);

/* Read BAY/inflight/ID; -1 if there is none (or its process is gone). */
int progress_read(const char *bay, const char *id, struct progress_rec *r);
/* Every live record of a bay; fn gets each. */
void progress_scan(const char *bay, void (*fn)(void *arg, const struct progress_rec *r),
		   void *arg);
/* Remove records of processes that are gone (start-up). */
void progress_clean(const char *bay);

#endif
