/*
 * shipd.h - what the daemon's parts share: the master's state and the
 * entry points of each role.
 *
 *   shipd.c     options, start-up recovery, --poll, the run loop's set-up
 *   master.c    the event loop: signals, inotify, listeners, timers, children
 *   pickup.c    inotify watches on drop/ and outgoing/, drop-a-file pickup
 *   qmgr.c      the queue manager: what is ready, due, expired or joinable
 *   sender.c    worker: one order -> local delivery and one send per next hop
 *   receiver.c  worker: one inbound hop -> packets accepted into a bay
 *   deliver.c   opening packets here, receipts, the receipt handler
 *   returns.c   expiry, turning orders around, notifications
 */
#ifndef SHIPD_SHIPD_H
#define SHIPD_SHIPD_H

#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include "../global/bay.h"
#include "../global/config.h"
#include "../global/keys.h"
#include "../global/order.h"
#include "../util/htab.h"

enum job_kind { J_SEND, J_PICKUP, J_JOIN, J_RECEIVE };

struct job {
	enum job_kind kind;
	char *bay;			/* storage or return bay */
	char *id;			/* order id, group id (J_JOIN) or dropped path (J_PICKUP) */
	char *key;			/* bay/id: the busy-set key */
	pid_t pid;
	time_t started;
	struct job *next;		/* ready queue link */
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
	int stopping;
	int failures;			/* attempts that failed (for --poll's status) */
	time_t next_due;		/* earliest deferred retry, 0 = none */
	time_t last_full_scan;
};

extern struct shipd *S;

/* master.c */
int master_run(void);
void master_dispatch(void);
pid_t master_fork(struct job *j);

/* qmgr.c */
void qmgr_enqueue(enum job_kind kind, const char *bay, const char *id);
void qmgr_scan_all(int include_deferred_not_due);
void qmgr_scan_bay_outgoing(const char *bay);
void qmgr_scan_joining(const char *bay);
void qmgr_scan_drops(const char *bay);
void qmgr_due(void);
void qmgr_purge(void);
void job_free(struct job *j);

/* pickup.c */
int pickup_init(void);
void pickup_event(void);
int pickup_file(const char *bay, const char *path);	/* in a child */
const struct sclass *bay_class(const struct config *cf, const char *bay);

/* sender.c */
int sender_run(const char *bay, const char *id);	/* in a child; exit status */

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

/* returns.c */
int order_save_state(const char *bay, const struct order *o, enum qstate st);
int order_expired(const struct order *o, time_t now);
int return_order(const char *bay, struct order *o, enum qstate from, const char *why);
void notify_admin(const struct order *o, const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int arrive_home(const char *bay, struct order *o, enum qstate from);

#endif
