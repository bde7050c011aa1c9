/*
 * shipd.h - what the daemon's parts share: the master's state and the
 * entry points of each role.
 *
 *   shipd.c     options, start-up recovery, --poll, the run loop's set-up
 *   master.c    the event loop: signals, inotify, listeners, timers, children
 *   pickup.c    inotify watches on drop/ and outgoing/, drop-a-file pickup
 *   qmgr.c      the queue manager: what is ready, due, expired or joinable
 *   batch.c     which ready orders go together to one send worker
 *   peers.c     what the master remembers of each next hop (down, back-off)
 *   sender.c    worker: a batch of orders -> local delivery and one send per
 *               next hop each, over one connection per next hop
 *   receiver.c  worker: one inbound hop -> packets accepted into a bay
 *   deliver.c   opening packets here, receipts, the receipt handler
 *   returns.c   expiry, turning orders around, notifications
 *   once.c      notes logged once per daemon run across children
 */
#ifndef SHIPD_SHIPD_H
#define SHIPD_SHIPD_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include "../queue/bay.h"
#include "../queue/drop.h"
#include "../conf/config.h"
#include "../crypto/keys.h"
#include "../queue/order.h"
#include "../util/htab.h"

enum job_kind { J_SEND, J_PICKUP, J_JOIN, J_RECEIVE };

struct job {
	enum job_kind kind;
	char *bay;			/* storage or return bay */
	char *id;			/* order id, group id (J_JOIN) or dropped path (J_PICKUP) */
	char *key;			/* bay/id: the busy-set key */
	pid_t pid;
	time_t started;
	struct job *next, *prev;	/* ready queue links */
	enum qstate from;		/* J_SEND: where the worker claims it (outgoing, deferred) */
	/* J_SEND: where it goes, read from the order when first needed */
	char *hop;			/* single next hop, BATCH_LOCAL, or "" (alone) */
	uint64_t size;
	struct job *batch;		/* more orders the same worker sends, in order */
	int statfd;			/* read end of the worker's status pipe, or -1 */
	struct sbuf status;		/* partial status line */
	int nfailed;			/* orders the worker deferred */
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

/* What the master remembers of a next hop (peers.c). */
struct peerstate {
	time_t down_until;		/* 0: not known to be down */
	time_t down_since;
	time_t failed_at;		/* the last failed connection */
	int failures;			/* consecutive failed connections */
	int up;				/* a connection worked since the last failure */
	int running;			/* workers with a batch for it */
	char *why;			/* the last connection failure */
};

struct shipd {
	struct config *cf;
	struct keys *keys;
	const char *conf_path;
	int poll_mode;
	const char *only_class;		/* shipping_server -sclass */
	int epfd, sigfd, inofd, tcpfd, udpfd, timerfd;
	int nsenders, nreceivers;
	struct job *rq_head, *rq_tail;	/* ready queue */
	struct htab *busy;		/* key -> job: queued or running */
	struct htab *kids;		/* pid -> job */
	struct htab *watches;		/* wd -> watched directory */
	struct htab *udp_recent;	/* client address -> time of its HELLO */
	struct htab *peers;		/* next hop name -> struct peerstate */
	struct htab *statfds;		/* status pipe fd -> job */
	int statfd;			/* in a send worker: its status pipe, else -1 */
	int stopping;
	int failures;			/* attempts that failed (for --poll's status) */
	time_t next_due;		/* earliest deferred retry, 0 = none */
	time_t last_full_scan;
	time_t sweep_at;		/* start-up's second look at dead writers' leftovers */
	struct drop_table *drops;	/* what pickup saw in drop/ (queue/drop.h) */
};

extern struct shipd *S;

/* shipd.c: make and recover a new configuration's bays (reload) */
int reload_bays(const struct config *cf);

/* master.c */
int master_run(void);
void master_dispatch(void);
pid_t master_fork(struct job *j);

/* qmgr.c */
void qmgr_enqueue(enum job_kind kind, const char *bay, const char *id);
void qmgr_enqueue_from(enum job_kind kind, const char *bay, const char *id, enum qstate from);
void qmgr_scan_all(int include_deferred_not_due);
void qmgr_scan_bay_outgoing(const char *bay);
void qmgr_scan_joining(const char *bay);
void qmgr_scan_drops(const char *bay);
void qmgr_due(void);
void qmgr_purge(void);
void job_free(struct job *j);

/* batch.c */
struct job *batch_next(void);		/* the next job to start, or NULL */
const char *job_hop(struct job *j);
int batch_is_peer(const char *hop);	/* a next hop, not local or alone */
void rq_remove(struct job *j);

/* peers.c */
struct peerstate *peer_state(const char *name);	/* NULL if never seen */
/* 1 if an order created at `created` is not to try it now (see peers.c) */
int peer_down(const char *name, time_t now, time_t created);
void peer_failed(const char *name, const char *why);
void peer_connected(const char *name);
int peer_may_start(const char *name, time_t now);	/* may a worker start for it */
void peer_started(const char *name);	/* a worker took a batch for it */
void peer_stopped(const char *name);	/* that worker exited */

/* pickup.c */
int pickup_init(void);
void pickup_event(void);
void pickup_scan(const char *bay);	/* every drop of a bay, judged */
int pickup_file(const char *bay, const char *path);	/* in a child */
/* pickup_file's exits besides 0, 65 and 75: the master judges the drop again */
#define PICKUP_CHANGED	3	/* not the file judged complete any more */
#define PICKUP_WRITING	4	/* open for writing by some process */
void pickup_exited(const struct job *j, int code);
const struct sclass *bay_class(const struct config *cf, const char *bay);

/* sender.c */
int sender_run(const struct job *batch);	/* in a child; exit status */
void sender_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* master.c: a line from a send worker's status pipe */
void master_status_line(struct job *j, const char *line);

/* receiver.c */
int receiver_tcp(int fd, const struct sockaddr *from);	/* in a child */
int receiver_udp(const void *dgram, size_t len, const struct sockaddr *from,
		 socklen_t fromlen);

/* deliver.c */
/* 0 done, 1 waiting for parts, -1 refused (moved to corrupt/), DELIVER_LATER
 * temporary (a full disk: nothing delivered, the order stays in active/) */
#define DELIVER_LATER	(-2)
int deliver_local(const char *bay, struct order *o);
int deliver_join(const char *bay, const char *group);	/* in a child */
void deliver_retry_handlers(const char *bay);

/* once.c: a note logged once per daemon run, whichever child meets it */
int once_init(void);		/* master, before the first fork */
int once_first(const char *key);	/* 1 the first time key is seen */

/* returns.c */
int order_save_state(const char *bay, const struct order *o, enum qstate st);
int order_expired(const struct order *o, time_t now);
int return_order(const char *bay, struct order *o, enum qstate from, const char *why);
void notify_admin(const struct order *o, const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int arrive_home(const char *bay, struct order *o, enum qstate from);

#endif
