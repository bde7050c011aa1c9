/*
 * peers.c - what the master remembers of each next hop, so that a dead
 * peer costs one connection attempt per back-off period, not one per
 * order (Postfix's "dead destination"). A failed connection (refused,
 * unreachable, timed out, handshake refused) marks the peer down until
 * RETRY-MIN doubled per consecutive failure, clamped at RETRY-MAX; orders
 * for a down peer that were created before its last failed attempt are
 * still claimed and deferred one by one, each with the peer's last error,
 * but without a connection attempt. An order created after that attempt
 * gets one of its own (so that a peer brought back up is used for what is
 * submitted next, without waiting out the back-off; a failure moves the
 * mark forward again). Both times are in seconds, and an order of the same
 * second as the failure counts as newer; in a `shipd --poll` pass
 * (sc->one_pass) none is newer: nothing is submitted during the pass, so a
 * next hop is tried once per pass. A connection that works clears it. While a peer is
 * not known to be up (at start, or when its back-off ran out) only one
 * worker at a time may try it: the probe. peer_note() publishes what the
 * workers learn to SPOOL/peers/ (queue/peerfile.h) for `shipctl peers`.
 *
 * The table lives in the master and is inherited by every worker at fork;
 * a worker's own failures update its copy (so the rest of its batch is not
 * tried) and are reported to the master over the status pipe. Memory only:
 * a restart, or the next `shipd --poll`, starts afresh. Never touches the
 * queue itself. In a --poll pass the master parks ready orders of a down
 * peer in its entry (batch.c); the jobs themselves belong to the busy set.
 *
 * One thing is remembered in SPOOL/peers/ instead, across workers, polls
 * and restarts: a peer whose TCP connect timed out (a firewall dropping
 * it silently) while UDP then worked. Connections to it try UDP first
 * for TCP_BLOCKED_SECS (logged once, when it starts); the first one after
 * that tries TCP first again (the probe: one connect timeout per period
 * at most, instead of one per connection), and a connection over TCP
 * forgets it at once (logged).
 *
 * Times are given by the caller (the module tests play with them).
 */
#include "sched.h"
#include "../queue/peerfile.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct peerstate *
peer_state(struct sched *sc, const char *name)
{
	return sc->peers ? htab_get(sc->peers, name) : NULL;
}

static struct peerstate *
peer_make(struct sched *sc, const char *name)
{
	struct peerstate *p = peer_state(sc, name);

	if (p == NULL) {
		if (sc->peers == NULL)
			sc->peers = htab_new();
		p = xcalloc(1, sizeof(*p));
		htab_put(sc->peers, name, p);
	}
	return p;
}

int
peer_down(struct sched *sc, const char *name, time_t now, time_t created)
{
	struct peerstate *p = peer_state(sc, name);

	return p && p->down_until && now < p->down_until &&
	       (created < p->failed_at || sc->one_pass);
}

void
peer_failed(struct sched *sc, const char *name, const char *why, time_t now)
{
	struct peerstate *p = peer_make(sc, name);
	int secs;

	p->failed_at = now;
	free(p->why);
	p->why = xstrdup(why);
	if (p->down_until && now < p->down_until)
		return;	/* known already, this back-off period */
	p->failures++;
	p->up = 0;
	if (p->down_since == 0)
		p->down_since = now;
	secs = bay_backoff(sc->cf, p->failures);
	p->down_until = now + secs;
	if (!sc->quiet)
		msg_info("next hop %s down: %s; its orders are deferred without a connection "
			 "attempt for %ds", name, why, secs);
}

void
peer_connected(struct sched *sc, const char *name, time_t now)
{
	struct peerstate *p = peer_make(sc, name);

	if (!sc->quiet && p->failures)
		msg_info("next hop %s up again after %ld s", name, (long)(now - p->down_since));
	p->failures = 0;
	p->down_until = p->down_since = p->failed_at = 0;
	p->up = 1;
	free(p->why);
	p->why = NULL;
}

/*
 * A peer known to be up takes as many workers as the pool has; a down one
 * too (they only defer); one that was never tried, or whose back-off ran
 * out, one worker at a time until that one connects or fails.
 */
int
peer_may_start(struct sched *sc, const char *name, time_t now)
{
	struct peerstate *p = peer_state(sc, name);

	if (p == NULL)
		return 1;	/* never tried: the caller counts it in as a probe */
	if (p->up || (p->down_until && now < p->down_until))
		return 1;
	return p->running == 0;
}

static void
retry_one(void *arg, const char *name, void *v)
{
	struct peerstate *p = v;

	p->down_until = 0;	/* failures stay: a new failure backs off longer */
}

/*
 * An administrator's poll (`shipd --poll` beside a running daemon): what
 * is known down is tried again now, by one worker per next hop, and the
 * rest of its orders follow if it connects (like Postfix's flush, which
 * forgets dead destinations).
 */
void
peer_retry_all(struct sched *sc)
{
	if (sc->peers)
		htab_walk(sc->peers, retry_one, NULL);
}

/*
 * A worker that lives on takes the master's view of a next hop with each
 * batch (shipd/pool.c), not the one it had when it was forked.
 */
void
peer_adopt(struct sched *sc, const char *name, time_t down_until, time_t failed_at,
	   const char *why)
{
	struct peerstate *p = peer_make(sc, name);

	p->down_until = down_until;
	p->failed_at = failed_at;
	free(p->why);
	p->why = why && *why ? xstrdup(why) : NULL;
}

void
peer_started(struct sched *sc, const char *name)
{
	peer_make(sc, name)->running++;
}

void
peer_stopped(struct sched *sc, const char *name)
{
	struct peerstate *p = peer_state(sc, name);

	if (p && p->running > 0)
		p->running--;
}

/*
 * Publish what a worker learnt of a next hop (queue/peerfile.h) for
 * `shipctl peers` and metrics: monitoring only, so a failure is logged
 * and forgotten. A failure carries the back-off this table just set.
 */
void
peer_note(struct sched *sc, const char *name, enum peer_event_kind kind,
	  const char *transport, const char *why, int orders, uint64_t bytes)
{
	struct peerstate *p = peer_state(sc, name);
	struct peer_event ev = {.peer = name, .kind = kind, .transport = transport,
				.error = why, .orders = orders, .bytes = bytes,
				.down_until = p ? p->down_until : 0};

	if (peerfile_note(sc->cf->spool, &ev) < 0)
		msg_warnx("next hop %s: %s", name, err_get());
}

static time_t
tcp_blocked_until(struct sched *sc, const char *name)
{
	struct peerfile pf;
	time_t t = 0;

	if (peerfile_read(sc->cf->spool, name, &pf) == 0)
		t = pf.tcp_blocked_until;
	peerfile_free(&pf);
	return t;
}

int
peer_udp_first(struct sched *sc, const char *name, time_t now)
{
	return tcp_blocked_until(sc, name) > now;
}

/* A connection to name was made over proto (after a TCP connect timeout?). */
void
peer_transport(struct sched *sc, const char *name, const char *proto, int tcp_timed_out,
	       time_t now)
{
	time_t until = tcp_blocked_until(sc, name);
	struct peer_event ev = {.peer = name, .kind = PE_TCP};

	if (strcmp(proto, "udp") == 0 && tcp_timed_out) {
		ev.down_until = now + TCP_BLOCKED_SECS;
		if (until <= now)
			msg_info("next hop %s: tcp connect timed out but udp works: udp first for "
				 "%d s, then tcp is tried again", name, TCP_BLOCKED_SECS);
	} else if (strcmp(proto, "tcp") == 0 && until) {
		ev.down_until = 0;
		msg_info("next hop %s: tcp works again: tcp first", name);
	} else
		return;
	if (peerfile_note(sc->cf->spool, &ev) < 0)
		msg_warnx("next hop %s: %s", name, err_get());
}
