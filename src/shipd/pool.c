/*
 * pool.c - workers that live on from job to job (like Postfix's smtp(8)
 * and cleanup(8) processes under max_idle and max_use, with smtp's
 * connection cache), instead of a fork (and, for a sender, a sandbox and
 * a handshake) per job. Four kinds live on: send workers (a batch of
 * orders; local delivery of single packets is a batch too), pickup
 * workers (one dropped file each, pickup.c), join workers (one group of
 * parts opened and delivered, deliver.c) and submission workers (one
 * shipctl submit each, submitd.c; the submitter's connection comes with
 * the job line, SCM_RIGHTS).
 *
 * A worker that is done with its job says "D RC" on its line to the
 * master (a SOCK_SEQPACKET pair: status lines up, jobs down) and waits.
 * The master marks it idle; the next ready job of its kind goes to an
 * idle worker of that kind (for a batch, one that still holds a
 * connection to the batch's next hop first) before a new one is forked,
 * as one message:
 *
 *   P HOP<TAB>DOWN-UNTIL<TAB>FAILED-AT<TAB>WHY     the master's view of each
 *                                                  next hop known down
 *   O BAY<TAB>ID<TAB>FROM<TAB>HOP<TAB>CREATED      each order, in order
 *   C BAY<TAB>ID<TAB>HOP<TAB>CREATED<NL>ORDER      alone: a packet to send on
 *                    while it is received (cutthrough.c), the upstream's order
 *   J KIND<TAB>BAY<TAB>ID[<TAB>SNAPSHOT]           one job of another kind;
 *                    a pickup's SNAPSHOT is the lstat the drop was judged
 *                    complete as (queue/drop.h): DEV INO MODE SIZE MTIME
 *                    MTIME-NS CTIME CTIME-NS, space-separated
 *
 * or "H" alone: close the connection kept open. Kinds never mix: a worker
 * keeps the sandbox and key-process role it was forked with (a send
 * worker's seccomp filter; the others as forked before), so an idle
 * worker takes only jobs of its own kind. An idle worker is named
 * shipd-idle in ps(1), a busy one by its kind (shipd-send, shipd-pickup,
 * shipd-join, shipd-submit). A send worker keeps a TCP connection that still works open
 * for CONN_CACHE seconds after a batch (as Postfix's
 * smtp_connection_cache_time_limit), then says BYE; at most one idle
 * worker per next hop keeps one, so that idle connections hold few of the
 * peer's MAX-RECEIVERS. Idle workers count in MAX-CHILDREN: one is retired
 * (SIGKILL: it holds nothing) when the pool is full and another job needs
 * a process, and each leaves after POOL_IDLE idle seconds, POOL_MAX_USE
 * jobs, or a reload.
 *
 * Never: hands a job to a worker that has not said "D" (custody of the
 * orders and files of its job is the master's until then: a worker that
 * dies mid-job is reaped as a forked one was, and its job runs again);
 * hands a job to a worker of another kind; keeps a worker of an older
 * configuration; lets a worker live on in a --poll pass (the pass ends
 * when its workers have exited).
 */
#include "shipd.h"
#include "../util/clock.h"
#include "../util/fdpass.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../queue/drop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONN_CACHE	2	/* seconds a worker keeps an unused connection */
#define POOL_IDLE	60	/* seconds an idle worker waits for a batch */
#define POOL_MAX_USE	100	/* batches per worker (bounds what it may leak) */
#define POOL_MSG_MAX	(128 * 1024)	/* one batch message */

/* ---- in the worker ---- */

static void
batch_free(struct job *b)
{
	while (b) {
		struct job *next = b->batch;

		job_free(b);
		b = next;
	}
}

/* Fields of one line, split at tabs in place; the number found. */
static int
fields(char *line, char **f, int max)
{
	int n = 0;

	while (n < max && line) {
		f[n++] = line;
		if ((line = strchr(line, '\t')) != NULL)
			*line++ = 0;
	}
	return n;
}

int
pool_kind(enum job_kind k)
{
	return k == J_SEND || k == J_PICKUP || k == J_JOIN || k == J_SUBMIT;
}

/* A pickup's snapshot (pool.c's header), into the worker's drop table. */
static int
snapshot_parse(const char *path, const char *s)
{
	struct stat st;
	unsigned long long dev, ino, mode;
	long long size, ms, mns, cs, cns;

	if (sscanf(s, "%llu %llu %llo %lld %lld %lld %lld %lld", &dev, &ino, &mode, &size, &ms,
		   &mns, &cs, &cns) != 8)
		return -1;
	memset(&st, 0, sizeof(st));
	st.st_dev = dev;
	st.st_ino = ino;
	st.st_mode = mode;
	st.st_size = size;
	st.st_mtim.tv_sec = ms;
	st.st_mtim.tv_nsec = mns;
	st.st_ctim.tv_sec = cs;
	st.st_ctim.tv_nsec = cns;
	if (S->drops == NULL)
		S->drops = drop_table_new();
	drop_set_taken(S->drops, path, &st);
	return 0;
}

/* A job of kind, not a batch: one "J" line. */
static struct job *
job_parse(enum job_kind kind, char *line)
{
	char *f[4];
	int n = fields(line, f, 4);
	struct job *k;

	if (n < 3 || atoi(f[0]) != (int)kind || (kind == J_PICKUP) != (n == 4) ||
	    (n == 4 && snapshot_parse(f[2], f[3]) < 0))
		return NULL;
	k = xcalloc(1, sizeof(*k));
	k->kind = kind;
	k->bay = xstrdup(f[1]);
	k->id = xstrdup(f[2]);
	k->statfd = -1;
	return k;
}

/* A job message for a worker of kind, or NULL (logged) if it is not one. */
static struct job *
batch_parse(enum job_kind kind, char *msg)
{
	struct job *head = NULL, **tail = &head;
	char *line, *save = NULL, *f[5];

	if (kind == J_SEND && strncmp(msg, "C ", 2) == 0)
		return cut_parse(msg + 2);	/* a cut-through (cutthrough.c) */
	if (kind != J_SEND) {
		if (strncmp(msg, "J ", 2) == 0 && strchr(msg, '\n') == msg + strlen(msg) - 1) {
			msg[strlen(msg) - 1] = 0;
			if ((head = job_parse(kind, msg + 2)) != NULL)
				return head;
		}
		msg_warnx("%s worker: not a job from the master: \"%.40s\"",
			  master_proc_name(kind), msg);
		return NULL;
	}
	peer_retry_all(&S->sched);	/* what the master says below, nothing older */
	for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == 'P' && line[1] == ' ' && fields(line + 2, f, 4) == 4)
			peer_adopt(&S->sched, f[0], strtoll(f[1], NULL, 10),
				   strtoll(f[2], NULL, 10), f[3]);
		else if (line[0] == 'O' && line[1] == ' ' && fields(line + 2, f, 5) == 5) {
			struct job *k = xcalloc(1, sizeof(*k));

			k->kind = J_SEND;
			k->bay = xstrdup(f[0]);
			k->id = xstrdup(f[1]);
			k->from = atoi(f[2]);
			k->hop = xstrdup(f[3]);
			k->created = strtoll(f[4], NULL, 10);
			k->statfd = -1;
			*tail = k;
			tail = &k->batch;
		} else {
			msg_warnx("send worker: not a batch line from the master: \"%.40s\"", line);
			batch_free(head);
			return NULL;
		}
	}
	return head;
}

/*
 * Wait for the next job of kind: a send worker's kept connection is closed
 * once it has been unused for CONN_CACHE seconds. NULL when the master
 * retires us.
 */
static struct job *
batch_wait(enum job_kind kind)
{
	static char msg[POOL_MSG_MAX + 1];
	struct pollfd p = {.fd = S->statfd, .events = POLLIN};
	struct job *k;
	int fd = -1;

	prctl(PR_SET_NAME, "shipd-idle");	/* ps(1) tells it from a busy one */
	for (;;) {
		int r = poll(&p, 1, kind == J_SEND && sender_hop() ? CONN_CACHE * 1000 : -1);
		ssize_t n;

		if (r == 0) {
			sender_hangup();
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return NULL;
		/* a submission comes with the submitter's connection */
		n = kind == J_SUBMIT ? fd_recv(S->statfd, msg, POOL_MSG_MAX, &fd) :
				       read(S->statfd, msg, POOL_MSG_MAX);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return NULL;	/* retired (or the master is gone) */
		msg[n] = 0;
		if (kind == J_SUBMIT) {
			if (fd < 0 || (k = batch_parse(kind, msg)) == NULL) {
				msg_warnx("submit worker: a job without its connection");
				if (fd >= 0)
					close(fd);
				return NULL;
			}
			prctl(PR_SET_NAME, master_proc_name(kind));
			k->connfd = fd;
			return k;
		}
		if (strcmp(msg, "H\n") == 0) {
			sender_hangup();
			continue;
		}
		prctl(PR_SET_NAME, master_proc_name(kind));
		return batch_parse(kind, msg);
	}
}

/* One job in the worker: its exit status, as a forked worker's. */
static int
job_run(struct job *j, int keep)
{
	int rc;

	switch (j->kind) {
	case J_SEND:
		return j->cut ? cut_run(j) : sender_run(j, keep);
	case J_PICKUP:
		rc = pickup_file(j->bay, j->id);
		if (S->drops)
			drop_forget(S->drops, j->id);	/* the master judges it again */
		return rc;
	case J_JOIN:
		return deliver_join(j->bay, j->id);
	case J_SUBMIT:
		rc = submitd_serve(j);
		close(j->connfd);	/* the submitter sees the end of its answer */
		return rc;
	default:
		msg_panic("job_run: kind %d does not live on", j->kind);
	}
}

/* A worker of first's kind: its first job, then those the master hands it. */
int
pool_worker(struct job *first)
{
	enum job_kind kind = first->kind;
	int rc, reuse = !S->sched.one_pass;
	struct job *b;

	if (kind == J_SEND) {
		runner_start();	/* the programs it may run, before it may not exec */
		sandbox_enter(SANDBOX_SENDER);
	}
	rc = job_run(first, reuse);
	while (reuse) {
		sender_status("D %d", rc);
		if ((b = batch_wait(kind)) == NULL)
			break;
		rc = job_run(b, 1);
		batch_free(b);
	}
	if (kind == J_SEND)
		sender_hangup();
	return rc;
}

/* ---- in the master ---- */

struct pick {
	enum job_kind kind;	/* the job's */
	const char *hop;	/* the batch's next hop */
	double now;
	struct job *best;	/* an idle worker with a connection to hop, else any */
	int n;			/* idle workers */
};

static void
pick_one(void *arg, const char *key, void *v)
{
	struct pick *p = arg;
	struct job *w = v;

	(void)key;
	if (!w->idle)
		return;
	p->n++;
	if (w->kind != p->kind)
		return;
	if (p->hop == NULL || w->retire)
		return;
	if (p->best == NULL || (w->hop && strcmp(w->hop, p->hop) == 0 &&
				p->now - w->idle_since < CONN_CACHE))
		p->best = w;
}

int
pool_idle(void)
{
	struct pick p = {0};

	htab_walk(S->kids, pick_one, &p);
	return p.n;
}

/* A field for a batch line: no tab, no newline. */
static int
clean(const char *s)
{
	return s && strpbrk(s, "\t\n") == NULL;
}

static void
add_down(void *arg, const char *name, void *v)
{
	struct sbuf *b = arg;
	struct peerstate *ps = v;

	if (ps->down_until > time(NULL) && clean(name))
		sbuf_printf(b, "P %s\t%lld\t%lld\t%.200s\n", name, (long long)ps->down_until,
			    (long long)ps->failed_at,
			    clean(ps->why) ? ps->why : "unreachable");
}

/* A job of another kind than J_SEND as one message (pool.c's header). */
static int
job_message(struct sbuf *b, const struct job *j)
{
	const char *bay = j->bay ? j->bay : "-";	/* a submission has none */
	struct stat st;

	if (!clean(bay) || !clean(j->id))
		return -1;
	sbuf_printf(b, "J %d\t%s\t%s", (int)j->kind, bay, j->id);
	if (j->kind == J_PICKUP) {
		/* never judged complete (or forgotten): the worker finds nothing to do */
		if (S->drops == NULL || drop_taken(S->drops, j->id, &st) < 0)
			memset(&st, 0, sizeof(st));
		sbuf_printf(b, "\t%llu %llu %llo %lld %lld %lld %lld %lld",
			    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			    (unsigned long long)st.st_mode, (long long)st.st_size,
			    (long long)st.st_mtim.tv_sec, (long long)st.st_mtim.tv_nsec,
			    (long long)st.st_ctim.tv_sec, (long long)st.st_ctim.tv_nsec);
	}
	sbuf_puts(b, "\n");
	return b->len <= POOL_MSG_MAX ? 0 : -1;
}

/* The batch as one message, or -1 if it does not make one. */
static int
batch_message(struct sbuf *b, const struct job *batch)
{
	if (batch->kind != J_SEND)
		return job_message(b, batch);
	if (batch->cut)
		return cut_message(b, batch) < 0 || b->len > POOL_MSG_MAX ? -1 : 0;
	if (S->sched.peers)
		htab_walk(S->sched.peers, add_down, b);
	for (const struct job *k = batch; k; k = k->batch) {
		if (!clean(k->bay) || !clean(k->id) || !clean(k->hop))
			return -1;
		sbuf_printf(b, "O %s\t%s\t%d\t%s\t%lld\n", k->bay, k->id, (int)k->from, k->hop,
			    (long long)k->created);
	}
	return b->len <= POOL_MSG_MAX ? 0 : -1;
}

/* Stop w now, and account for it as the master's reap would. */
static void
retire_now(struct job *w)
{
	pid_t pid = w->pid;
	int status;

	w->retire = 2;		/* by us: no warning */
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	master_child_exited(pid, status);
}

/* Ask w to leave once it has closed its connection (it reads EOF). */
static void
retire_soon(struct job *w)
{
	w->retire = 1;
	shutdown(w->statfd, SHUT_WR);
}

int
pool_take(struct job *batch)
{
	struct pick p = {.kind = batch->kind, .hop = batch->hop ? batch->hop : "",
			 .now = now_mono()};
	struct sbuf b;
	char key[32];
	struct job *w;

	if (S->sched.one_pass || !pool_kind(batch->kind))
		return 0;
	htab_walk(S->kids, pick_one, &p);
	if ((w = p.best) == NULL)
		return 0;
	sbuf_init(&b);
	if (batch_message(&b, batch) < 0) {
		sbuf_free(&b);
		return 0;	/* a new worker gets it as forked */
	}
	if (batch->kind == J_SUBMIT ? fd_send(w->statfd, batch->connfd, b.s, b.len) < 0 :
	    send(w->statfd, b.s, b.len, MSG_NOSIGNAL) != (ssize_t)b.len) {
		msg_warnx("%s worker %ld: cannot hand it a job: %s", master_kind_name(w->kind),
			  (long)w->pid, strerror(errno));
		sbuf_free(&b);
		retire_now(w);
		return pool_take(batch);	/* one idle worker fewer */
	}
	sbuf_free(&b);
	/* the batch's head job is the worker's record from now on */
	batch->pid = w->pid;
	batch->statfd = w->statfd;
	batch->status = w->status;
	batch->uses = w->uses;
	batch->started = time(NULL);
	memset(&w->status, 0, sizeof(w->status));
	snprintf(key, sizeof(key), "%ld", (long)w->pid);
	htab_put(S->kids, key, batch);
	snprintf(key, sizeof(key), "%d", w->statfd);
	htab_put(S->statfds, key, batch);
	job_free(w);
	return 1;
}

/* Idle workers that kept a connection to j's next hop close it. */
static void
hangup_same(void *arg, const char *key, void *v)
{
	struct job *j = arg, *w = v;

	(void)key;
	if (w != j && w->kind == J_SEND && w->idle && !w->retire && w->hop &&
	    strcmp(w->hop, j->hop) == 0 &&
	    j->idle_since - w->idle_since < CONN_CACHE) {
		if (send(w->statfd, "H\n", 2, MSG_NOSIGNAL) != 2)
			retire_soon(w);
		free(w->hop);
		w->hop = xstrdup("");	/* holds none now */
	}
}

void
pool_done(struct job *j)
{
	int rc = j->done - 1;

	j->done = 0;
	master_job_ended(j, W_EXITCODE(rc, 0));
	j->idle = 1;
	j->idle_since = now_mono();
	if (++j->uses >= POOL_MAX_USE || j->retire || S->stopping)
		retire_soon(j);
	else if (j->hop && *j->hop)
		htab_walk(S->kids, hangup_same, j);
}

/*
 * Which idle worker makes room: the oldest of a kind with more than one
 * idle, so that each kind keeps one worker ready while another can go;
 * else the oldest.
 */
struct victim {
	int idle[J_NKINDS];	/* idle workers per kind */
	struct job *spare;	/* the oldest of a kind with more than one */
	struct job *oldest;
};

static void
count_idle(void *arg, const char *key, void *v)
{
	struct victim *o = arg;
	struct job *w = v;

	(void)key;
	if (w->idle)
		o->idle[w->kind]++;
}

static void
oldest_idle(void *arg, const char *key, void *v)
{
	struct victim *o = arg;
	struct job *w = v;

	(void)key;
	if (!w->idle)
		return;
	if (o->oldest == NULL || w->idle_since < o->oldest->idle_since)
		o->oldest = w;
	if (o->idle[w->kind] > 1 && (o->spare == NULL || w->idle_since < o->spare->idle_since))
		o->spare = w;
}

int
pool_make_room(void)
{
	struct victim o;
	struct job *w;

	if (S->nsenders < S->cf->max_children)
		return 1;
	memset(&o, 0, sizeof(o));
	htab_walk(S->kids, count_idle, &o);
	htab_walk(S->kids, oldest_idle, &o);
	if ((w = o.spare ? o.spare : o.oldest) == NULL)
		return 0;
	retire_now(w);
	return S->nsenders < S->cf->max_children;
}

struct expiry {
	double now;
	double due;		/* the earliest idle end, 0 = none */
	int retire;		/* retire those past it */
};

static void
expire_one(void *arg, const char *key, void *v)
{
	struct expiry *e = arg;
	struct job *w = v;
	double end;

	(void)key;
	if (!w->idle || w->retire)
		return;
	end = w->idle_since + POOL_IDLE;
	if (e->retire && end <= e->now)
		retire_soon(w);
	else if (e->due == 0 || end < e->due)
		e->due = end;
}

void
pool_tick(void)
{
	struct expiry e = {.now = now_mono(), .retire = 1};

	htab_walk(S->kids, expire_one, &e);
}

time_t
pool_due(void)
{
	struct expiry e = {.now = now_mono()};

	htab_walk(S->kids, expire_one, &e);
	if (e.due == 0)
		return 0;
	return time(NULL) + (e.due > e.now ? (time_t)(e.due - e.now) + 1 : 0);
}

static void
retire_all(void *arg, const char *key, void *v)
{
	struct job *w = v;

	(void)arg;
	(void)key;
	if (!pool_kind(w->kind))
		return;
	if (w->idle && !w->retire)
		retire_soon(w);
	w->retire = w->retire ? w->retire : 1;
}

void
pool_reload(void)
{
	htab_walk(S->kids, retire_all, NULL);
}
