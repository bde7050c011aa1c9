/*
 * master.c - the master process: one epoll loop over signals (signalfd),
 * inotify, the TCP and UDP listeners and a timer, plus a bounded pool of
 * forked children (senders up to MAX-CHILDREN; receive workers, one per
 * inbound connection, bounded by door.c: MAX-HANDSHAKES not yet
 * authenticated, MAX-RECEIVERS that are). A send worker gets a batch of
 * orders (batch.c) and a status line on which it says which next hop it
 * reached or could not reach, which orders it deferred, and when it is
 * done and waits for the next batch (pool.c: workers live on). A child that
 * dies abnormally is reaped, logged, and the order it held goes back to
 * outgoing/; the orders of its batch it never got to are queued again.
 * The listeners and the forking of receive workers are listen.c's.
 * Never sends or receives packet bytes itself.
 */
#include "shipd.h"
#include "keyproto.h"
#include "../queue/progress.h"
#include "../trust/trust.h"
#include "../wire/wire.h"
#include "../util/addr.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define FULL_SCAN_INTERVAL	300	/* safety net behind inotify */

static sigset_t blocked;

static void
ep_add(int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (fd >= 0 && epoll_ctl(S->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		msg_fatal("epoll_ctl: %s", strerror(errno));
}

static void
ep_del(int fd)
{
	if (fd >= 0)
		epoll_ctl(S->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/*
 * In a new child: die with the master (no orphan may keep working on a
 * claimed order), default signals, and none of the master's descriptors
 * but the listeners (the caller closes those it does not need).
 */
static void
close_statfd(void *arg, const char *key, void *v)
{
	close(((struct job *)v)->statfd);
}

void
master_child_setup(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(75);	/* the master died before the line above took hold */
	S->sched.quiet = 1;	/* next hops are the master's to log */
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);	/* a poll request is the master's */
	/* the spool lock is the master's alone: a worker still finishing an
	 * fsync after a kill -9 of its master must not keep the next one out */
	if (S->lockfd >= 0) {
		close(S->lockfd);
		S->lockfd = -1;
	}
	close(S->epfd);
	close(S->sigfd);
	if (S->inofd >= 0)
		close(S->inofd);
	if (S->timerfd >= 0)
		close(S->timerfd);
	if (S->subfd >= 0)
		close(S->subfd);
	/* other workers' status pipes are none of this child's business */
	htab_walk(S->statfds, close_statfd, NULL);
	door_child(S->door);
}

/*
 * What ps(1) and top(1) call each child (at most 15 bytes): an operator
 * tells senders from receivers and the key process at a glance, as with
 * Postfix's smtp/smtpd/cleanup, and the tests count each role apart.
 */
static const char *const proc_name[] = {
	[J_SEND] = "shipd-send", [J_PICKUP] = "shipd-pickup", [J_JOIN] = "shipd-join",
	[J_RECEIVE] = "shipd-recv", [J_TRUST] = "shipd-trust", [J_IMPORT] = "shipd-import",
	[J_SUBMIT] = "shipd-submit",
};

const char *
master_proc_name(enum job_kind k)
{
	return k >= 0 && k < J_NKINDS && proc_name[k] ? proc_name[k] : "shipd-worker";
}

/* The kind in a log line: "send", "pickup", ... */
const char *
master_kind_name(enum job_kind k)
{
	return master_proc_name(k) + strlen("shipd-");
}

/* Fork a child for job j; the child never returns. */
pid_t
master_fork(struct job *j)
{
	int st[2] = {-1, -1}, kp[2];
	char key[32];
	pid_t pid;

	if (keyproc_pair(kp) < 0)
		return -1;
	/* a worker's line: its status to the master, jobs back (pool.c) */
	if (pool_kind(j->kind) && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, st) < 0) {
		msg_warn("status line");
		keyproc_parent(kp, -1, KP_WORKER);
		return -1;
	}
	if ((pid = fork()) < 0) {
		msg_warn("fork");
		keyproc_parent(kp, -1, KP_WORKER);
		if (st[0] >= 0) {
			close(st[0]);
			close(st[1]);
		}
		return -1;
	}
	if (pid == 0) {
		int rc = 0;

		master_child_setup();
		prctl(PR_SET_NAME, proc_name[j->kind]);
		keyproc_child(kp);
		if (S->tcpfd >= 0)
			close(S->tcpfd);
		if (S->udpfd >= 0)
			close(S->udpfd);
		switch (j->kind) {
		case J_SEND:
		case J_PICKUP:
		case J_JOIN:
		case J_SUBMIT:
			close(st[0]);
			S->statfd = st[1];
			rc = pool_worker(j);
			break;
		case J_IMPORT:
			rc = import_run(j->id);
			break;
		case J_TRUST:
			rc = control_announce();
			break;
		case J_RECEIVE:
			msg_panic("master_fork: receive jobs are forked by the listener");
		default:
			msg_panic("master_fork: unknown job kind %d", j->kind);
		}
		_exit(rc);
	}
	keyproc_parent(kp, pid, j->kind == J_SEND ? KP_SENDER : KP_WORKER);
	j->pid = pid;
	j->started = time(NULL);
	snprintf(key, sizeof(key), "%ld", (long)pid);
	htab_put(S->kids, key, j);
	S->nsenders++;
	if (st[0] >= 0) {
		close(st[1]);
		fcntl(st[0], F_SETFL, O_NONBLOCK);
		j->statfd = st[0];
		snprintf(key, sizeof(key), "%d", st[0]);
		htab_put(S->statfds, key, j);
		ep_add(st[0]);
	}
	return pid;
}

/*
 * A send worker's status lines (sender.c writes them):
 *   U HOP      it connected to next hop HOP
 *   X HOP WHY  it could not connect to HOP
 *   F ID       it deferred ID (a failed attempt, for --poll's status)
 *   S ID       it left ID unclaimed, its next hop down: queued again (parked)
 *   G ID...    it finished these: in no state any more, nothing to look up
 *              (held by the worker and written with its next line, "D RC")
 *   D RC       it is done with its batch (exit status RC) and waits for
 *              the next one (pool.c)
 */
void
master_status_line(struct job *j, const char *line)
{
	const char *arg = line[0] && line[1] == ' ' ? line + 2 : "";
	char *sp;

	switch (line[0]) {
	case 'U':
		peer_connected(&S->sched, arg, time(NULL));
		break;
	case 'X':
		if ((sp = strchr(arg, ' ')) != NULL) {
			char *name = xstrndup(arg, sp - arg);

			peer_failed(&S->sched, name, sp + 1, time(NULL));
			free(name);
		}
		break;
	case 'F':
		j->nfailed++;
		break;
	case 'S':
		for (struct job *k = j; k; k = k->batch)
			if (strcmp(k->id, arg) == 0)
				k->skipped = 1;
		break;
	case 'G':
		for (const char *p = arg; *p; p += strspn(p, " ")) {
			size_t n = strcspn(p, " ");

			for (struct job *k = j; k; k = k->batch)
				if (strlen(k->id) == n && memcmp(k->id, p, n) == 0)
					k->gone = 1;
			p += n;
		}
		break;
	case 'D':
		j->done = 1 + atoi(arg);
		break;
	default:
		msg_warnx("send worker %ld: unknown status line \"%.40s\"", (long)j->pid, line);
	}
}

/* Read what the worker wrote; whole lines are acted on. */
static void
status_read(struct job *j)
{
	char buf[4096], *nl;
	ssize_t n;
	size_t used = 0;

	if (j->status.s == NULL)
		sbuf_init(&j->status);
	while ((n = read(j->statfd, buf, sizeof(buf))) > 0)
		sbuf_add(&j->status, buf, n);
	if (n == 0)
		ep_del(j->statfd);	/* the worker is gone; its exit is reaped apart */
	while ((nl = memchr(j->status.s + used, '\n', j->status.len - used)) != NULL) {
		*nl = 0;
		master_status_line(j, j->status.s + used);
		used = nl + 1 - j->status.s;
	}
	if (used) {
		memmove(j->status.s, j->status.s + used, j->status.len - used + 1);
		j->status.len -= used;
	}
}

static void
status_event(int fd)
{
	char key[16];
	struct door_event e;
	struct job *j;
	int r = door_input(S->door, S->cf, fd, &e);

	if (r == 1)
		listen_busy(&e);
	if (r == 2)
		listen_lobby_ready(&e);
	if (r >= 0)
		return;

	snprintf(key, sizeof(key), "%d", fd);
	if ((j = htab_get(S->statfds, key)) != NULL) {
		status_read(j);
		if (j->done && !j->idle)
			pool_done(j);
	} else
		ep_del(fd);
}

/*
 * A burst of thousands of orders leaves malloc holding the peak of the
 * ready queue and busy set long after they are freed; give it back to the
 * system each time the queue drains, so the master's RSS returns to its
 * idle size (glibc's malloc_trim; once per drain, not per event).
 */
static void
idle_trim(void)
{
	static int busy;

	/* idle send workers (pool.c) wait for work; they do not keep it busy */
	if (sched_ready(&S->sched) || htab_count(S->kids) > (size_t)pool_idle() ||
	    htab_count(S->sched.busy)) {
		busy = 1;
		return;
	}
	if (busy)
		malloc_trim(0);
	busy = 0;
}

/* Workers that may take a batch now: the pool less those at work (an
 * idle one takes it, or is retired to make room). */
static int
free_workers(void)
{
	int busy = S->nsenders - pool_idle();

	return busy < S->cf->max_children ? S->cf->max_children - busy : 1;
}

/*
 * Start ready jobs while the pool has room (batch_next also gives back
 * the orders parked for a next hop whose back-off ended). A batch is the
 * queue's share of the workers free now (batch.c).
 */
void
master_dispatch(void)
{
	struct job *j, *k;

	while (!S->stopping && (S->nsenders < S->cf->max_children || pool_idle()) &&
	       (S->sched.free_workers = free_workers()) > 0 &&
	       (j = batch_next(&S->sched, time(NULL))) != NULL) {
		if (pool_take(j))
			continue;
		if (!pool_make_room() || master_fork(j) < 0) {
			if (batch_is_peer(j->hop))
				peer_stopped(&S->sched, j->hop);
			while (j) {
				k = j->batch;
				htab_del(S->sched.busy, j->key);
				job_free(j);
				j = k;
			}
			break;
		}
	}
}

/* A worker is gone: its line to the master goes with it. */
static void
statfd_close(struct job *j)
{
	char key[16];

	if (j->statfd >= 0) {
		status_read(j);
		snprintf(key, sizeof(key), "%d", j->statfd);
		htab_del(S->statfds, key);
		close(j->statfd);
		j->statfd = -1;
	}
}

/*
 * A send worker's batch ended (status: as from waitpid; a worker that
 * lives on says "D RC", pool.c): the order it held goes back if it was
 * killed, the orders of its batch leave the busy set, those it never got
 * to are queued again, and deferred ones set the next wake-up.
 */
void
master_send_finished(struct job *j, int status)
{
	struct strv again = {0};
	struct job *k, *next;
	char p[PATH_MAX];
	struct stat st;
	int n = 0;

	for (k = j->batch; k; k = k->batch)
		n++;
	if (WIFSIGNALED(status)) {
		char more[32] = "";

		if (n)
			snprintf(more, sizeof(more), " and %d more", n);
		msg_warnx("send worker %ld for %s%s killed by signal %d", (long)j->pid, j->id,
			  more, WTERMSIG(status));
		/* the order it held: in active/, and its lock died with it */
		for (k = j; k; k = k->batch)
			if (bay_requeue(k->bay, k->id) == 0)
				msg_info("order %s: back to outgoing after worker died", k->id);
		/* its progress record would stay until the next start-up */
		progress_clean(j->bay);
	} else if (j->nfailed)
		S->failures += j->nfailed;
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		S->failures++;
	if (batch_is_peer(j->hop))
		peer_stopped(&S->sched, j->hop);
	for (k = j; k; k = next) {
		next = k->batch;
		if (!S->stopping && !k->skipped && !k->gone) {
			/* deferred by the worker: its mtime is the next attempt */
			if (bay_path(p, sizeof(p), k->bay, Q_DEFERRED, k->id) == 0 &&
			    stat(p, &st) == 0) {
				if (S->sched.next_due == 0 || st.st_mtime < S->sched.next_due)
					S->sched.next_due = st.st_mtime;
			} else if (bay_path(p, sizeof(p), k->bay, Q_OUTGOING, k->id) == 0 &&
				   access(p, F_OK) == 0)
				strv_add(&again, k->id);	/* not reached */
		}
		htab_del(S->sched.busy, k->key);
		/* left as it was, its next hop down: parked with it (batch.c) */
		if (k->skipped && !S->stopping)
			qmgr_enqueue_from(&S->sched, J_SEND, k->bay, k->id, k->from);
		if (k != j)
			job_free(k);
	}
	j->batch = NULL;
	if (!S->stopping) {
		/* a finished part may complete a group waiting here */
		qmgr_scan_joining(&S->sched, j->bay);
		for (int i = 0; i < again.n; i++)
			qmgr_enqueue(&S->sched, J_SEND, j->bay, again.v[i]);
	}
	strv_free(&again);
}

void
master_child_exited(pid_t pid, int status)
{
	char key[32];
	struct job *j;

	snprintf(key, sizeof(key), "%ld", (long)pid);
	if ((j = htab_del(S->kids, key)) == NULL)
		return;
	if (j->kind == J_RECEIVE) {
		S->nreceivers--;
		if (door_gone(S->door, pid))
			status = 0;	/* killed to make room: logged then */
	} else
		S->nsenders--;
	if (pool_kind(j->kind))
		statfd_close(j);
	if (j->idle) {
		/* between jobs it held nothing; retired by us, or it died */
		if (WIFSIGNALED(status) && j->retire < 2 && !S->stopping)
			msg_warnx("idle %s worker %ld killed by signal %d",
				  master_kind_name(j->kind), (long)pid, WTERMSIG(status));
		job_free(j);
		return;
	}
	master_job_ended(j, status);
	job_free(j);
}

/*
 * Job j ended (status: as from waitpid): its worker exited, or said "D RC"
 * and lives on (pool.c). j stays the caller's.
 */
void
master_job_ended(struct job *j, int status)
{
	if (j->kind == J_SEND)
		master_send_finished(j, status);
	else if (j->kind == J_TRUST)
		control_exited(status);
	else if (WIFSIGNALED(status) && !(S->stopping && WTERMSIG(status) == SIGTERM))
		msg_warnx("%s worker %ld for %s killed by signal %d",
			  j->kind == J_RECEIVE ? "receive" : j->kind == J_IMPORT ? "import" :
			  "pickup/join", (long)j->pid,
			  j->id ? j->id : "(hop)", WTERMSIG(status));
	else if (WIFEXITED(status) && j->kind == J_PICKUP)
		pickup_exited(j, WEXITSTATUS(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && j->kind != J_RECEIVE)
		S->failures++;
	if (j->key && j->kind != J_SEND)
		htab_del(S->sched.busy, j->key);
	if (j->kind == J_IMPORT && !S->stopping)
		import_exited(j->id);
	/* the parts a join worker claimed go back now, not at the next sweep */
	if (j->kind == J_JOIN && WIFSIGNALED(status) && !S->stopping)
		S->sweep_at = time(NULL);
}

static void
reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		master_child_exited(pid, status);
}

static void
arm_timer(void)
{
	struct itimerspec its = {0};
	time_t now = time(NULL), when = S->sched.last_full_scan + FULL_SCAN_INTERVAL;
	time_t pool_at = pool_due();

	if (S->sched.next_due && S->sched.next_due < when)
		when = S->sched.next_due;
	/* past: released by the next dispatch (a worker's exit, if the pool is full) */
	if (sched_parked_until(&S->sched) > now && sched_parked_until(&S->sched) < when)
		when = sched_parked_until(&S->sched);
	if (S->sweep_at && S->sweep_at < when)
		when = S->sweep_at;
	if (door_due(S->door, S->cf) >= 0 && now + door_due(S->door, S->cf) < when)
		when = now + door_due(S->door, S->cf);
	if (S->trust_due && S->trust_due < when)
		when = S->trust_due;
	if (pool_at && pool_at < when)
		when = pool_at;
	if (history_owed_due() && history_owed_due() < when)
		when = history_owed_due();
	its.it_value.tv_sec = when > now ? when - now : 0;
	its.it_value.tv_nsec = when > now ? 0 : 1000000;
	timerfd_settime(S->timerfd, 0, &its, NULL);
}

/*
 * Every BAY_SWEEP_INTERVAL (bay.h) each bay is swept: the leftovers of
 * writers that are gone, data of finished orders, and orders in active/
 * that no live worker holds (a worker that died, or could not write the
 * order's next state on a full disk) go back to outgoing/ and are queued.
 * The first sweep comes SWEEP_DELAY after start-up: workers of a master
 * killed with -9 die with it, but one in the middle of an fsync dies only
 * when the call returns, which can be after start-up recovery looked.
 */
#define SWEEP_DELAY	5

/* An order a job of ours has in hand is not the sweep's. */
static int
held_here(void *arg, const char *bay, const char *id)
{
	return qmgr_busy(&S->sched, J_SEND, bay, id);
}

static void
sweep(void)
{
	struct strv bays = {0};
	int n = 0;

	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n; i++) {
		struct strv requeued = {0};
		struct recovery r;

		if (bay_sweep(bays.v[i], held_here, NULL, &requeued, &r) < 0)
			msg_warnx("sweep of bay %s: %s", bays.v[i], err_get());
		/* receipts a receiver marked owed and did not live to send
		 * (it sends its own within seconds) */
		history_owed_recover(bays.v[i], time(NULL) - OWED_ORPHAN_AGE);
		n += r.tmp_removed + r.data_orphans;
		for (int k = 0; k < requeued.n; k++) {
			msg_info("order %s: back to outgoing, no live worker held it", requeued.v[k]);
			qmgr_enqueue(&S->sched, J_SEND, bays.v[i], requeued.v[k]);
		}
		strv_free(&requeued);
	}
	strv_free(&bays);
	import_scan();		/* what a missed event (NFS, a full inotify queue) left */
	if (n)
		msg_info("swept %d leftover file%s of writers that are gone", n, n == 1 ? "" : "s");
	S->sweep_at = time(NULL) + BAY_SWEEP_INTERVAL;
}

static void
reload(void)
{
	struct config *cf = config_load(S->conf_path);
	struct keys *k = NULL;

	/* every bay of the new configuration ready before it takes over, or
	 * none of it: a new class's bays are made, recovered, then watched */
	if (cf == NULL || reload_bays(cf) < 0) {
		msg_warnx("reload refused, keeping the running configuration: %s", err_get());
		config_free(cf);
		return;
	}
	if (trust_identity(cf, &k) < 0) {
		if (geteuid() == 0 || strcmp(cf->key_file, S->cf->key_file) != 0) {
			msg_warnx("reload refused, keeping the running configuration: %s", err_get());
			config_free(cf);
			return;
		}
		/* unprivileged after the split: keep the key already in memory */
		k = S->keys;
		S->keys = NULL;
	}
	if ((cf->listen_addr == NULL) != (S->cf->listen_addr == NULL) ||
	    (cf->listen_addr && (strcmp(cf->listen_addr, S->cf->listen_addr) != 0 ||
				 cf->listen_port != S->cf->listen_port)))
		msg_warnx("reload: LISTEN changed; restart shipd to move the listener");
	config_add_self(cf, &k->pub);
	trust_attach(cf);
	config_free(S->cf);
	keys_free(S->keys);
	S->cf = cf;
	S->sched.cf = cf;
	S->keys = k;
	S->kpfd = keyproc_start(master_child_setup);	/* the new keys; the old one finishes */
	ep_add(S->kpfd);
	door_reloaded(S->door);	/* receivers asking the old one (door.c) */
	if (pickup_init() == 0)
		ep_add(S->inofd);
	pool_reload();	/* workers that live on hold the old configuration */
	msg_info("reloaded %s", S->conf_path);
	qmgr_scan_all(&S->sched, 0);
	control_start();
}

static void
add_pid(void *arg, const char *key, void *v)
{
	strv_add(arg, key);
}

/* Busy children; an idle worker is asked to leave by pool_reload. */
static void
add_busy_pid(void *arg, const char *key, void *v)
{
	const struct job *j = v;

	if (!j->idle)
		strv_add(arg, key);
}

static void
stop_children(void)
{
	pool_reload();	/* idle workers leave (senders say BYE on their connections) */
	for (int tries = 0; htab_count(S->kids) > 0 && tries < 100; tries++) {
		if (tries == 0 || tries == 50) {
			/* first ask, then insist: a killed sender's order is requeued */
			struct strv pids = {0};

			htab_walk(S->kids, tries ? add_pid : add_busy_pid, &pids);
			for (int i = 0; i < pids.n; i++)
				kill(atol(pids.v[i]), tries ? SIGKILL : SIGTERM);
			strv_free(&pids);
		}
		usleep(100000);
		reap();
	}
}

static void
handle_signal(void)
{
	struct signalfd_siginfo si;

	while (read(S->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap();
			break;
		case SIGHUP:
			reload();
			break;
		case SIGUSR1:	/* `shipd --poll` while we run (lock.c) */
			msg_info("poll requested: trying everything in every bay now");
			peer_retry_all(&S->sched);	/* next hops known down too, once */
			qmgr_scan_all(&S->sched, 1);
			qmgr_purge(&S->sched);
			break;
		case SIGTERM:
		case SIGINT:
			if (!S->stopping)
				msg_info("stopping on signal %d", si.ssi_signo);
			S->stopping = 1;
			break;
		default:
			msg_warnx("unexpected signal %d", si.ssi_signo);
		}
	}
}

static void
setup(void)
{
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGUSR1);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	S->sigfd = signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC);
	S->epfd = epoll_create1(EPOLL_CLOEXEC);
	S->timerfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (S->sigfd < 0 || S->epfd < 0 || S->timerfd < 0)
		msg_fatal("event loop set-up: %s", strerror(errno));
	S->kids = htab_new();
	S->watches = htab_new();
	S->udp_recent = htab_new();
	S->statfds = htab_new();
	S->door = door_new(S->epfd);
	S->tcpfd = S->udpfd = S->inofd = S->kpfd = S->subfd = -1;
	ep_add(S->sigfd);
	ep_add(S->timerfd);
	if (!S->poll_mode) {
		if (pickup_init() < 0)
			msg_fatal("inotify: %s", err_get());
		ep_add(S->inofd);
		if (S->cf->listen_addr) {
			if ((S->tcpfd = wire_listen_tcp(S->cf)) < 0 ||
			    (S->udpfd = wire_listen_udp(S->cf)) < 0)
				msg_fatal_status(75, "listen on %s port %d: %s", S->cf->listen_addr,
						 S->cf->listen_port, err_get());
			fcntl(S->tcpfd, F_SETFL, O_NONBLOCK);
			ep_add(S->tcpfd);
			ep_add(S->udpfd);
		}
		ep_add(S->subfd = submitd_listen());
	}
}

/*
 * The end of a --poll pass: orders for a next hop that failed in it were
 * not tried again (one connection attempt per hop and pass); they stay
 * queued as they were, and count as failed attempts for the exit status.
 */
static void
poll_parked(void *arg, const char *hop, const struct peerstate *p)
{
	msg_warnx("next hop %s down: %d order%s for it not tried in this pass, left queued: %s",
		  hop, p->parked.n, p->parked.n == 1 ? "" : "s", p->why ? p->why : "unreachable");
}

int
master_run(void)
{
	struct epoll_event ev[16];
	char range[32] = "ephemeral";

	setup();
	S->sched.one_pass = S->poll_mode;	/* a hop is tried once per pass */
	S->kpfd = keyproc_start(master_child_setup);	/* before any worker: they ask it */
	ep_add(S->kpfd);
	if (S->cf->min_port)
		snprintf(range, sizeof(range), "%d-%d", S->cf->min_port, S->cf->max_port);
	if (!S->poll_mode)
		msg_info("shipd %s started: listening on %s port %d, ports %s, %d senders, "
			 "%d receivers", S->cf->node, S->cf->listen_addr ? S->cf->listen_addr : "(none)",
			 S->cf->listen_port, range, S->cf->max_children, S->cf->max_receivers);
	qmgr_scan_all(&S->sched, S->poll_mode);
	control_start();
	if (S->poll_mode)
		qmgr_purge(&S->sched);
	else
		S->sweep_at = time(NULL) + SWEEP_DELAY;
	master_dispatch();
	arm_timer();
	for (;;) {
		int n;

		if (S->poll_mode && sched_ready(&S->sched) == 0 && htab_count(S->kids) == 0)
			break;
		if (S->stopping)
			break;
		n = epoll_wait(S->epfd, ev, 16, -1);
		if (n < 0 && errno != EINTR)
			msg_fatal("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == S->sigfd)
				handle_signal();
			else if (fd == S->inofd)
				pickup_event();
			else if (fd == S->tcpfd)
				listen_tcp_ready();
			else if (fd == S->udpfd)
				listen_udp_ready();
			else if (fd == S->subfd)
				submitd_accept();
			else if (fd == S->kpfd) {
				int kp = keyproc_event(master_child_setup);

				if (kp >= 0)
					ep_add(S->kpfd = kp);
			}
			else if (fd != S->timerfd)
				status_event(fd);
			else {
				uint64_t x;

				if (read(S->timerfd, &x, sizeof(x)) < 0) {
				}
				door_expire(S->door, S->cf);
				pool_tick();
				history_owed_tick(0);
				if (S->sweep_at && time(NULL) >= S->sweep_at)
					sweep();
				control_tick();
				if (time(NULL) >= S->sched.last_full_scan + FULL_SCAN_INTERVAL) {
					qmgr_scan_all(&S->sched, 0);
					qmgr_purge(&S->sched);
				}
				else
					qmgr_due(&S->sched);
			}
		}
		master_dispatch();
		if (!S->poll_mode)
			arm_timer();
		idle_trim();
	}
	ep_del(S->tcpfd);
	stop_children();
	history_owed_tick(1);	/* what receivers said they delivered: its receipts */
	if (S->poll_mode) {
		int left = sched_parked(&S->sched, poll_parked, NULL);
		char more[64] = "";

		if (left)
			snprintf(more, sizeof(more), ", %d order%s left for a next hop down", left,
				 left == 1 ? "" : "s");
		msg_info("poll done: %d attempt%s failed%s", S->failures,
			 S->failures == 1 ? "" : "s", more);
		if ((S->failures || left) && !log_to_stderr())
			fprintf(stderr, "shipd: poll done: %d attempt%s failed%s; exit 75, "
				"try again later (see the log)\n", S->failures,
				S->failures == 1 ? "" : "s", more);
		return S->failures || left ? 75 : 0;
	}
	msg_info("stopped");
	return 0;
}
