/*
 * spoollock.h - one daemon per spool: SPOOL/shipd.pid, holding the
 * daemon's pid, write-locked (an open-file-description lock, inherited by
 * its workers, never by programs they exec) for as long as the daemon
 * lives. A second daemon on the same spool refuses to start naming the
 * first one's pid; shipctl asks whether the lock is held, without taking
 * it (so that asking never makes a starting daemon fail).
 *
 * The lock goes away with the last process holding it: a daemon killed
 * with -9 leaves a pid file that no longer means anything, never a stale
 * lock (a worker it forked an instant before holds it until that worker
 * exits: a restart waits for that, up to 5 s, when the pid in the file is
 * dead). Nothing here reads or changes a bay.
 */
#ifndef SHIPD_SPOOLLOCK_H
#define SHIPD_SPOOLLOCK_H

#include <sys/types.h>
#include "../conf/config.h"

#define SPOOL_LOCK_NAME	"shipd.pid"

/*
 * Take the lock and write our pid into it: the open descriptor (keep it
 * open for the life of the daemon), or -1 with err_set(). When another
 * process holds it, *holder is its pid (0 when the file does not say).
 * Held under a dead pid: waits up to 5 s for the holders to exit.
 */
int spool_lock(const struct config *cf, pid_t *holder);

/*
 * Who holds the lock: the daemon's pid, 0 when no daemon runs, -1 with
 * err_set() when this process cannot tell (e.g. the spool is not
 * readable by this user).
 */
pid_t spool_lock_holder(const struct config *cf);

#endif
