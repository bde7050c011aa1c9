/*
 * shipd.h - what the daemon's parts share: the master's state and the
 * entry points of each role. The scheduling (queue manager, batches,
 * next-hop memory) is the library src/sched/, fed the master's struct
 * sched.
 *
 *   shipd.c     options, start-up recovery, --poll, the run loop's set-up
 *   lock.c      one daemon per spool; what --poll does when one runs
 *   master.c    the event loop: signals, inotify, listeners, timers, children
 *   pickup.c    inotify watches on drop/ and outgoing/, drop-a-file pickup
 *   import.c    directory hops: IMPORT-DIR and receipts (global/dirhop.h)
 *   sender.c    worker: a batch of orders -> local delivery and one send per
 *               next hop each, over one connection per next hop
 *   receiver.c  worker: one inbound hop -> packets accepted into a bay
 *   door.c      inbound connections not yet authenticated: limits, eviction,
 *               the receiver slots (MAX-RECEIVERS) handed to those that are
 *   deliver.c   opening packets here, receipts, the receipt handler
 *   returns.c   expiry, turning orders around, notifications
 *   once.c      notes logged once per daemon run across children
 *   submitd.c   the submission socket: shipctl submit's files, by descriptor
 *   keyproc.c   the key process: the only holder of the secret keys
 *   keyproto.c  what workers ask it, and how (keyproto.h)
 *   sandbox.c   seccomp allow lists for the key process and the workers
 *   control.c   packets of other kinds (revocation lists, certificates,
 *               receipts), what handshakes and headers teach, announcing
 *               this node
 *   history.c   done/ records of what ended here; delivery receipts sent
 *               to the origin and taken there
 */
#ifndef SHIPD_SHIPD_H
#define SHIPD_SHIPD_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include "../queue/drop.h"
#include "../conf/config.h"
#include "../crypto/keys.h"
#include "../queue/commit.h"
#include "../queue/order.h"
#include "../sched/sched.h"
#include "../queue/peerfile.h"
#include "../util/htab.h"

struct door;

struct shipd {
	struct config *cf;
	struct keys *keys;
	const char *conf_path;
	int poll_mode;
	int epfd, sigfd, inofd, tcpfd, udpfd, timerfd;
	int kpfd;			/* the master's line to the key process (keyproc.c) */
	int subfd;			/* the submission socket (submitd.c), or -1 */
	int nsenders, nreceivers;
	struct sched sched;		/* ready queue, busy set, next hops, timers */
	struct htab *kids;		/* pid -> job */
	struct htab *watches;		/* wd -> watched directory */
	struct htab *udp_recent;	/* client address -> time of its HELLO */
	struct htab *statfds;		/* status pipe fd -> job */
	int statfd;			/* in a worker: its line to the master, else -1 */
	struct door *door;		/* inbound connections (door.c) */
	int stopping;
	int failures;			/* attempts that failed (for --poll's status) */
	time_t sweep_at;		/* the next bay_sweep of every bay */
	int lockfd;			/* SPOOL/shipd.pid, locked while we live (lock.c) */
	time_t trust_due;		/* control.c: announce again (a neighbour was not reached) */
	int trust_tries;
	struct drop_table *drops;	/* what pickup saw in drop/ (queue/drop.h) */
};

extern struct shipd *S;

/* shipd.c: make and recover a new configuration's bays (reload) */
int reload_bays(const struct config *cf);
/* lock.c: -1 go on (the lock is ours, or a poll with no daemon), else exit status */
int spool_claim(void);

/* master.c */
int master_run(void);
void master_dispatch(void);
pid_t master_fork(struct job *j);
void master_child_exited(pid_t pid, int status);
void master_send_finished(struct job *j, int status);
void master_job_ended(struct job *j, int status);	/* exited, or "D" (pool.c) */
const char *master_proc_name(enum job_kind k);	/* "shipd-send", ... (ps) */
const char *master_kind_name(enum job_kind k);	/* "send", ... (logs) */
void master_child_setup(void);	/* in a new child, first */

/* pool.c: workers (send, pickup, join, submit) that live on from job to job */
int pool_kind(enum job_kind k);		/* 1 if workers of kind k live on */
int pool_worker(struct job *first);	/* in the child: its exit status */
int pool_take(struct job *batch);	/* master: 1 if an idle worker took it */
void pool_done(struct job *j);		/* master: its worker said "D" */
int pool_idle(void);			/* idle workers (each can make room) */
int pool_make_room(void);		/* master: 1 if the pool has room now */
void pool_tick(void);			/* master: retire workers idle too long */
time_t pool_due(void);			/* when pool_tick has work, or 0 */
void pool_reload(void);			/* master: every worker is retired */

/* keyproc.c: the process that holds the secret keys (keyproto.h) */
enum kp_role;
int keyproc_start(void (*setup)(void));	/* master: fork it (again); its line */
int keyproc_event(void (*setup)(void));	/* its line woke: gone? the new line, or -1 */
int keyproc_pair(int sv[2]);			/* master, before forking a worker */
void keyproc_child(int sv[2]);			/* the worker: wipe the keys, ask */
void keyproc_parent(int sv[2], pid_t pid, enum kp_role role);

/* sandbox.c: seccomp allow lists per role */
enum sandbox_role { SANDBOX_KEYS, SANDBOX_RECEIVER, SANDBOX_SENDER };
void sandbox_enter(enum sandbox_role r);	/* fatal when it cannot */
void sandbox_test_hook(const char *where);	/* test builds only: a forbidden call */

/* submitd.c: the submission socket (SUBMIT-SOCKET) */
int submitd_listen(void);		/* master: the socket, or -1 (none configured) */
void submitd_accept(void);		/* master: a submitter connected */
int submitd_serve(const struct job *j);	/* in a child: seal what it handed over */

/* runner.c: a sandboxed sender's helper that runs configured programs */
void runner_start(void);

/* pickup.c */
int pickup_init(void);
void pickup_event(void);
void pickup_scan(struct sched *sc, const char *bay);	/* every drop of a bay, judged (sched.scan_drops) */
int pickup_file(const char *bay, const char *path);	/* in a child */
void pickup_watch_import(const char *dir);	/* import.c's directories */
/* import.c: the directories the daemon imports from (IMPORT-DIR, and each
 * directory PEER's for receipts): watched, and looked at every sweep */
void import_watch(void);
void import_scan(void);			/* queue an import job per directory */
void import_event(const char *dir);	/* a file landed in dir */
void import_exited(const char *dir);	/* its job ended: again if files came meanwhile */
int import_run(const char *dir);	/* in a child; exit status */
/* pickup_file's exits besides 0, 65 and 75: the master judges the drop again */
#define PICKUP_CHANGED	3	/* not the file judged complete any more */
#define PICKUP_WRITING	4	/* open for writing by some process */
void pickup_exited(const struct job *j, int code);

/* sender.c: in a send worker */
int sender_run(const struct job *batch, int keep);	/* 1: an order was deferred */
const char *sender_hop(void);		/* next hop of the connection kept open */
void sender_hangup(void);		/* close it */
void sender_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sender_gone(const char *id);	/* finished: told with the next status line */
/* master.c: a line from a send worker's status pipe */
void master_status_line(struct job *j, const char *line);

/* receiver.c */
int receiver_tcp(int fd, const struct sockaddr *from);	/* in a child */
int receiver_udp(const void *dgram, size_t len, const struct sockaddr *from,
		 socklen_t fromlen);

/* door.c: in the master */
struct door *door_new(int epfd);
void door_source(const struct sockaddr *sa, char *buf, size_t size);	/* address, no port */
/* Before a new connection from src gets a worker: evict one at the door if
 * a limit is reached; 1 (why says whom and which limit) or 0. */
int door_make_room(struct door *d, const struct config *cf, const char *src, char *why,
		   size_t whysize);
int door_open(struct door *d, pid_t pid, int fd, const char *src, const char *who);
/* An accepted connection into the lobby: held unread until it is readable. */
int door_wait(struct door *d, int sock, const struct sockaddr *sa, socklen_t salen,
	      const char *src, const char *who);
int door_expire(struct door *d, const struct config *cf);	/* lobby past HANDSHAKE-TIMEOUT */
int door_due(const struct door *d, const struct config *cf);	/* seconds to that, -1 none */
struct door_event {
	int sock;			/* 2: the connection, now the caller's */
	struct sockaddr_storage ss;
	char src[64], who[200];		/* 1: who names the peer told busy */
};
/* fd readable: -1 not one of ours, 0 handled, 1 a worker was told busy,
 * 2 a lobby connection has something to say: fork a worker for e->sock. */
int door_input(struct door *d, const struct config *cf, int fd, struct door_event *e);

/* listen.c: the master's listeners */
void listen_tcp_ready(void);		/* accept what is waiting */
void listen_udp_ready(void);		/* read what datagrams are waiting */
void listen_lobby_ready(struct door_event *e);	/* fork its receive worker */
void listen_busy(const struct door_event *e);	/* log "all receivers busy" */
int door_gone(struct door *d, pid_t pid);	/* 1: it had been evicted */
void door_child(struct door *d);		/* in a new child: close the master's ends */
int door_receivers(const struct door *d);	/* authenticated hops now */
/* A reload: every receive worker is told "R" (its key process is the old one) */
void door_reloaded(struct door *d);
/* door.c: in the receive worker, on S->statfd */
void door_tell(int fd, const char *line);
int door_ask(int fd, const char *peer, int timeout_s);	/* 1 go, 0 busy, -1 */
/* Has the master said "R" (a reload since this worker was forked)? */
int door_reload_seen(int fd);

/* deliver.c */
/* 0 done, 1 waiting for parts, -1 refused (moved to corrupt/), BAY_LATER
 * temporary (a full disk: nothing delivered, the order stays in active/).
 * A delivery's receipt is owed until history_flush: call it before the
 * order is finished (so are deliver_done's) */
int deliver_local(const char *bay, struct order *o, int *kind);
/* deliver_local's *kind: what the packet said it is, when it read it */
#define DELIVER_KIND_UNKNOWN	0
#define DELIVER_KIND_DATA	1
#define DELIVER_KIND_OTHER	2
void deliver_done(const char *bay, const struct order *o, const struct strv *finals, int marked);
/* rstream.c: a packet delivered while it is received (receiver.c): a
 * large one as its bytes arrive, a small one that came whole in its offer
 * at once (whole: what verifying it whole said, its digest included; it
 * is opened in the receiver's own thread without verifying a signature
 * again, its receipt marked owed on disk and sent with the ones that
 * follow, history.c).
 * rstream_here: this node is the packet's last stop and may open it in a
 * receiver; rstream_wanted: so, and large. rstream_again: 1 not delivered
 * here before; 0 it was (confirmed again, its receipt marked owed and the
 * master told: answer HAVE); BAY_LATER. */
#define RSTREAM_MIN	(1 << 20)	/* smaller packets: stored, then delivered */
struct rstream;
struct pkt_info;
int rstream_here(const struct order *o, const struct pkt_info *pi);
int rstream_wanted(const struct order *o, const struct pkt_info *pi);
int rstream_again(const char *bay, const struct order *o);
struct rstream *rstream_start(const char *bay, struct order *o, const struct pkt_info *pi,
			      const void *hdr, size_t hdrlen, const struct pkt_info *whole);
int rstream_feed(struct rstream *s, const void *p, size_t n, char *why, size_t whylen);
int rstream_end(struct rstream *s, char *why, size_t whylen);
/* rstream_commit: small streams of bay, each ended (held), committed
 * together; got[i] 0 not committed (why says it; the next offer finishes
 * it), 1 committed with its receipt queued, 2 committed with its receipt
 * owed (tell the master). Returns how many were committed. */
int rstream_commit(const char *bay, struct rstream **v, int n, int *got, char *why,
		   size_t whylen);
void rstream_free(struct rstream *s);
/* cutthrough.c: a relay sends a large packet on while it receives it */
#define CUT_ORDER_MAX	4000	/* a longer order goes the ordinary way */
#define CUT_MSG_MAX	(CUT_ORDER_MAX + 600)	/* "C BAY\nORDER" on a receiver's line */
void cut_offer(const char *bay, const struct order *o);	/* receiver: a body begins */
void cut_request(char *msg);			/* master: a receiver's "C" */
void early_request(const char *bay, const char *notice);	/* master: tmp/ID.early */
int cut_message(struct sbuf *b, const struct job *j);	/* master -> worker (pool.c) */
struct job *cut_parse(char *msg);
int cut_run(const struct job *j);		/* in a send worker */
int deliver_join(const char *bay, const char *group);	/* in a child */
void deliver_retry_handlers(const char *bay);

/* once.c: a note logged once per daemon run, whichever child meets it */
int once_init(void);		/* master, before the first fork */
int once_first(const char *key);	/* 1 the first time key is seen */
/* control.c */
struct hop;
struct pkt_info;
#define CONTROL_DATA	1	/* control_deliver: an ordinary packet, deliver the file */
/* kind and signer: what the packet's signed header says (packet_open_said) */
int control_deliver(const struct order *o, const char *kind, const char *signer,
		    const char *dir, const struct strv *names);
void control_hop(struct hop *h);
int control_offer(struct hop *h, const struct pkt_info *pi, struct sbuf *why);
/* A packet held here whose origin was revoked since: -1 (err_set why). */
int control_held(const char *bay, const struct order *o);
int control_announce(void);	/* in a child: 0, or 75 if a neighbour was not reached */
void control_start(void);	/* master: fork the announcing child */
void control_exited(int status);	/* master: it ended; maybe try again later */
void control_tick(void);	/* master, on the timer: start it again when due */

/* history.c */
/* The kind of ID's packet in bay (its data/ID header): 0, or -1. */
int history_kind(const char *bay, const char *id, char *kind, size_t size);
int history_is_data(const char *bay, const char *id);	/* kind "data" */
/* o ended here (result NULL: what its role did, "sent", "forwarded",
 * "delivered"); call after bay_finish, for data packets only */
void history_end(const char *bay, const struct order *o, const char *result, const char *why);
/* the same with done/'s fsync left to g (the send worker's finished batch) */
void history_end_group(const char *bay, const struct order *o, const char *result,
		       const char *why, struct bay_group *g);
/* o was delivered here as name: recorded, and a receipt owed to its
 * origin; marked: receipts/ID.owed holds it on disk too (bay_owed_set),
 * cleared once it is queued */
void history_delivered(const char *bay, const struct order *o, const char *name, int marked);
/* A receiver: the receipts of keys, delivered here and marked owed
 * (durable), are for the master to send (or sent now without one) */
void history_owed_tell(const char *bay, const struct strv *keys);
/* A receiver answering HAVE for id: a receipt a dead receiver left marked
 * owed for it is told to the master now, not at the sweep */
void history_owed_again(const char *id);
/* The master: a receiver's "O" line; when the notes are due (0: none),
 * and sending them once due (or now: stopping) */
void history_owed_note(const char *msg);
time_t history_owed_due(void);
void history_owed_tick(int now);
#define OWED_WAIT	1	/* seconds a receipt owed waits for others */
/* The owed marks of bay at or before `older` (commit.h): queued now, in
 * as few packets as they fit (start-up, the sweep: marks a receiver that
 * died left) */
void history_owed_recover(const char *bay, time_t older);
#define OWED_ORPHAN_AGE	60	/* seconds: a mark no receiver will send */
/* Every receipt owed queued (one packet per origin for up to
 * CONFIRM_ORDERS orders) and the records durable: called by whoever
 * delivered, before it finishes or acknowledges the orders delivered */
void history_flush(void);
/* The records history_delivered wrote made durable, nothing sent (a
 * receiver's group of marked orders) */
void history_sync(void);
/* At the origin: return journey o (ID.ret) came home; ID's record says so */
void history_returned(const struct order *o);
/* At the origin: receipt packet o (signed by signer) holding text. 0 taken
 * (or dropped as unknown), -1 refused whole (err_set, logged), BAY_LATER
 * when its records could not be written (logged; opened again later). */
int history_receipt(const struct order *o, const char *signer, const char *text, size_t len);

/* returns.c */
int return_order(const char *bay, struct order *o, enum qstate from, const char *why);
void notify_admin(const struct order *o, const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int arrive_home(const char *bay, struct order *o, enum qstate from);

#endif
