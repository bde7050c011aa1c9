/*
 * sched.h - the daemon's scheduling as a library, its state passed
 * explicitly (the master owns one struct sched; a send worker inherits a
 * copy at fork): the ready queue and busy set fed by scans of the bays
 * (qmgr.c), which ready orders go together to one send worker (batch.c),
 * and what is remembered of each next hop (peers.c).
 *
 * Layer src/sched/: may call every layer below it (util, crypto, conf,
 * queue, packet, wire, global); src/shipd/ sits above it. Forks nothing,
 * sends nothing, never claims an order (a worker does); changes a bay only
 * through commit.h (the purge of old returns).
 */
#ifndef SHIPD_SCHED_H
#define SHIPD_SCHED_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "../conf/config.h"
#include "../queue/peerfile.h"
#include "../queue/bay.h"
#include "../util/htab.h"
#include "../util/mem.h"

enum job_kind { J_SEND, J_PICKUP, J_JOIN, J_RECEIVE, J_TRUST, J_IMPORT, J_SUBMIT,
		J_NKINDS };	/* J_IMPORT: bay and id are the directory */

struct job {
	enum job_kind kind;
	char *bay;			/* storage or return bay */
	char *id;			/* order id, group id (J_JOIN) or dropped path (J_PICKUP) */
	char *key;			/* kind:bay/id: the busy-set key */
	pid_t pid;
	time_t started;
	struct job *next, *prev;	/* ready queue (or parked list) links */
	enum qstate from;		/* J_SEND: where the worker claims it (outgoing, deferred) */
	/* J_SEND: where it goes, read from the order when first needed */
	char *hop;			/* single next hop, BATCH_LOCAL, or "" (alone) */
	uint64_t size;
	time_t created;			/* the order's creation (peer_down) */
	struct job *batch;		/* more orders the same worker sends, in order */
	int statfd;			/* read end of the worker's status pipe, or -1 */
	int connfd;			/* J_SUBMIT: the submitter's connection */
	struct sbuf status;		/* partial status line */
	int nfailed;			/* orders the worker deferred */
	int skipped;			/* the worker left it unclaimed: its hop is down */
	int gone;			/* the worker finished it: in no state any more */
	/* J_SEND, a worker that lives on (shipd/pool.c): the head job of its
	 * batch is the worker's record, handed from batch to batch */
	int done;			/* its "D RC" line arrived: 1 + RC */
	int idle;			/* done with its batch, waiting for the next */
	int retire;			/* take no further batch (reload, max use) */
	int uses;			/* batches it has run */
	double idle_since;		/* now_mono() when it went idle */
	char *cut;			/* J_SEND: the upstream order of a packet sent on
					 * while it is received (shipd/cutthrough.c) */
};

/*
 * A send worker takes at most BATCH_MAX orders (and BATCH_BYTES once
 * exceeded) for one next hop, over one connection; fewer when the queue is
 * short, so that a handful of orders still spreads over the pool.
 */
#define BATCH_MAX	64
#define BATCH_BYTES	(64ULL << 20)
#define BATCH_WINDOW	1024		/* ready jobs looked at per dispatch */
#define BATCH_LOCAL	"@local"	/* hop key of orders delivered here only */

/* A list of jobs: a ready queue, or the orders parked for a down hop. */
struct jobq {
	struct job *head, *tail;
	int n;
};

/* What is remembered of a next hop (peers.c). */
struct peerstate {
	time_t down_until;		/* 0: not known to be down */
	time_t down_since;
	time_t failed_at;		/* the last failed connection */
	int failures;			/* consecutive failed connections */
	int up;				/* a connection worked since the last failure */
	int running;			/* workers with a batch for it */
	char *why;			/* the last connection failure */
	struct jobq parked;		/* ready orders held back while it is down */
};

struct sched {
	const struct config *cf;	/* the running configuration (reload replaces it) */
	const char *only_class;		/* shipping_server -sclass, or NULL for all */
	int quiet;			/* a worker's copy: the master logs next hops */
	struct jobq rq[J_NKINDS];	/* a ready queue per job kind, taken in turn */
	int rq_turn;			/* the kind batch_next looks at first */
	int one_pass;			/* shipd --poll: every order predates a failure,
					 * and a down hop's orders are parked */
	int free_workers;		/* workers that may take a batch now (the
					 * master's count); 0: the whole pool */
	struct htab *busy;		/* key -> job: queued or running */
	struct htab *peers;		/* next hop name -> struct peerstate */
	time_t next_due;		/* earliest deferred retry, 0 = none */
	time_t last_full_scan;
	/* called for each bay qmgr_scan_all looked at (may be NULL) */
	void (*scanned)(struct sched *sc, const char *bay);
	/* how drop/ is looked at (the daemon's pickup); NULL: drops wait */
	void (*scan_drops)(struct sched *sc, const char *bay);
};

void sched_init(struct sched *sc, const struct config *cf);
/* Every job, queued or not, and the peer table. */
void sched_free(struct sched *sc);

/* qmgr.c: the ready queue, fed by scans; one job per order at a time. */
void qmgr_enqueue(struct sched *sc, enum job_kind kind, const char *bay, const char *id);
/*
 * A new order in outgoing/ (the daemon's watch): its next hop is read now,
 * and one only for here goes ahead of every send waiting for a next hop
 * (after those for here already waiting), so that a backlog to a peer
 * never holds back what came for this node: a receipt, a packet to
 * deliver. Other orders are queued last, as qmgr_enqueue does.
 */
void qmgr_enqueue_new(struct sched *sc, const char *bay, const char *id);
void qmgr_enqueue_from(struct sched *sc, enum job_kind kind, const char *bay, const char *id,
		       enum qstate from);
/* Is a job for bay/id queued or running? */
int qmgr_busy(struct sched *sc, enum job_kind kind, const char *bay, const char *id);
/* Everything: outgoing, due deferred (all of them with
 * include_deferred_not_due, shipd --poll), joinable groups, drops. */
void qmgr_scan_all(struct sched *sc, int include_deferred_not_due);
void qmgr_scan_bay_outgoing(struct sched *sc, const char *bay);
void qmgr_scan_joining(struct sched *sc, const char *bay);
void qmgr_scan_drops(struct sched *sc, const char *bay);
/* Deferred orders now due and new drops; recomputes next_due. */
void qmgr_due(struct sched *sc);
/* Old returns, idle partial transfers and old seen markers. */
void qmgr_purge(struct sched *sc);
void job_free(struct job *j);

/*
 * batch.c: the next job to start (its batch gathered), or NULL; the kinds
 * that have ready jobs take turns. In a --poll pass (one_pass), orders
 * for a next hop known down are parked with it (not started) until its
 * back-off ends or it connects.
 */
struct job *batch_next(struct sched *sc, time_t now);
const char *job_hop(struct sched *sc, struct job *j);
int batch_is_peer(const char *hop);	/* a next hop, not local or alone */
void jobq_add(struct jobq *q, struct job *j);
/* j into q before at (last when at is NULL) */
void jobq_add_before(struct jobq *q, struct job *at, struct job *j);
void jobq_del(struct jobq *q, struct job *j);
int sched_ready(const struct sched *sc);	/* jobs in the ready queues */
/* The earliest end of a back-off that holds parked orders, 0 = none. */
time_t sched_parked_until(struct sched *sc);
/* Parked orders per next hop, for fn; returns their total. */
int sched_parked(struct sched *sc, void (*fn)(void *arg, const char *hop,
					       const struct peerstate *p), void *arg);

/* peers.c: the memory of next hops (see there). */
struct peerstate *peer_state(struct sched *sc, const char *name);	/* NULL if never seen */
/* 1 if an order created at `created` is not to try it at now */
int peer_down(struct sched *sc, const char *name, time_t now, time_t created);
void peer_failed(struct sched *sc, const char *name, const char *why, time_t now);
void peer_connected(struct sched *sc, const char *name, time_t now);
int peer_may_start(struct sched *sc, const char *name, time_t now);	/* may a worker start */
/* A poll request: every next hop known down may be tried again (one probe). */
void peer_retry_all(struct sched *sc);
void peer_adopt(struct sched *sc, const char *name, time_t down_until, time_t failed_at,
		const char *why);
void peer_started(struct sched *sc, const char *name);	/* a worker took a batch for it */
void peer_stopped(struct sched *sc, const char *name);	/* that worker exited */
/* TCP that a firewall drops: UDP first until a probe (peers.c, TCP_BLOCKED_SECS). */
#define TCP_BLOCKED_SECS	600
int peer_udp_first(struct sched *sc, const char *name, time_t now);
void peer_transport(struct sched *sc, const char *name, const char *proto, int tcp_timed_out,
		    time_t now);
/* Publish what a worker learnt of a next hop to SPOOL/peers/ (monitoring). */
void peer_note(struct sched *sc, const char *name, enum peer_event_kind kind,
	       const char *transport, const char *why, int orders, uint64_t bytes);

#endif
