/*
 * lock.c - one daemon per spool. The daemon takes SPOOL/shipd.pid
 * (queue/spoollock.h) before it recovers a bay, so a second `shipd -c
 * same.conf` refuses with one line naming the running one's pid and never
 * touches the bays the first one works.
 *
 * `shipd --poll` (cron's shipping_server -poll) with a daemon running does
 * not work the bays beside it: it asks the daemon for the same pass
 * (SIGUSR1: everything deferred is tried now, orders held for the next
 * poll included, then expiry and purges) and exits 0. Without a daemon it
 * makes the pass itself, without the lock: a daemon started meanwhile
 * works beside it as claims by rename allow (neither sends an order twice).
 */
#include "shipd.h"
#include "../queue/spoollock.h"
#include "../util/log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

int
spool_claim(void)
{
	pid_t holder;

	if (S->poll_mode) {
		if ((holder = spool_lock_holder(S->cf)) <= 0)
			return -1;	/* no daemon (or cannot tell): poll ourselves */
		if (kill(holder, SIGUSR1) < 0) {
			msg_warnx("a shipd (pid %ld) runs on %s, but it cannot be asked to poll: %s",
				  (long)holder, S->cf->spool, strerror(errno));
			return 75;
		}
		msg_info("a shipd (pid %ld) runs on %s: asked it to make the poll's pass "
			 "(its log says what it sent)", (long)holder, S->cf->spool);
		return 0;
	}
	if ((S->lockfd = spool_lock(S->cf, &holder)) < 0) {
		if (holder)
			msg_fatal_status(75, "another shipd (pid %ld) is running on spool %s "
					 "(%s/%s is locked); not starting", (long)holder,
					 S->cf->spool, S->cf->spool, SPOOL_LOCK_NAME);
		msg_fatal_status(75, "%s", err_get());
	}
	return -1;
}
