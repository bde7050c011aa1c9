/*
 * door.c - who may hold a receiver. An accepted TCP connection first waits
 * in the lobby: the master holds its socket, unread, until it has
 * something to say, so an idle connection costs no process at all (the
 * master never reads it: it only learns that it is readable). Then, as a
 * UDP HELLO at once, it gets a receive worker, but until its peer has
 * proved its key the worker is only "at the door", counted apart from
 * the MAX-RECEIVERS authenticated hops: at most MAX-HANDSHAKES at the door
 * in all and MAX-HANDSHAKES-PER-SOURCE from one address, each with
 * HANDSHAKE-TIMEOUT to finish (the worker's own deadline). A connection
 * that needs room evicts the oldest one at the door, of its own address
 * first, preferring those that have not even sent a HELLO naming a peer
 * of ours: a flood of idle connections churns only itself and never keeps
 * a real peer out (OpenSSH's MaxStartups and PerSourceMaxStartups, with
 * the oldest dropped rather than the newest).
 *
 * A worker talks to the master over a socketpair of its own, one line at
 * a time: "H" (a HELLO named a peer of ours; no answer), then "A NAME"
 * (authenticated) answered 'G' (a receiver slot is yours) or 'B' (all
 * MAX-RECEIVERS are taken: answer the peer's offers with a temporary
 * "busy" refusal, so it tries again shortly without marking this node
 * down), and, when a slot holder's peer has said BYE, "D" (done: its
 * slot is free at once; the process, which only closes, is not counted
 * at the door either, so that a sender's next connection does not find
 * its own last one still holding the slot). A slot holder that begins
 * the body of a large packet for a next hop also says "C BAY\nORDER":
 * send it on while it is received (cutthrough.c); no answer. A receiver
 * that delivered small packets itself says "O BAY\nID ID...": their
 * receipts, marked owed, are the master's to send (history.c); no
 * answer. The "O" and "D" lines a worker leaves unread when it exits are
 * read when it is reaped. At a reload the master tells every worker "R",
 * unasked: it was forked with the old key process, which cannot open a
 * packet sealed to a key the reload brought (a rotation); what such a
 * worker would refuse, it leaves to one forked since (receiver.c).
 *
 * door_* run in the master, door_tell/door_ask in the worker. Never reads
 * a network byte; never evicts a worker that holds a slot (it may be in
 * the middle of committing a packet): only workers at the door, which
 * have written nothing, are killed.
 */
#include "shipd.h"
#include "../util/clock.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum stage {
	DS_LOBBY,	/* no worker yet: the master holds the socket, unread */
	DS_DOOR,	/* nothing proved yet */
	DS_BUSY,	/* authenticated, told busy: refusing offers until it leaves */
	DS_KNOWN,	/* its HELLO named a peer of ours */
	DS_IN,		/* authenticated, holds one of MAX-RECEIVERS */
	DS_DONE,	/* was DS_IN, its peer said BYE: closing, holds nothing */
};

struct conn {
	pid_t pid;		/* 0 in the lobby */
	int fd;			/* the master's end of the worker's socketpair,
				 * or in the lobby the connection itself */
	struct sockaddr_storage ss;	/* in the lobby: its peer */
	char src[64];		/* the source address, without port */
	char who[80];		/* "addr:port" */
	double started;		/* now_mono() */
	enum stage stage;
	int evicted;		/* killed to make room; not counted any more */
};

struct door {
	int epfd;
	struct conn *c;
	int n, cap;
	int nin;		/* connections at DS_IN */
};

struct door *
door_new(int epfd)
{
	struct door *d = xcalloc(1, sizeof(*d));

	d->epfd = epfd;
	return d;
}

void
door_source(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *a = sa->sa_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    inet_ntop(sa->sa_family, a, buf, size) == NULL)
		snprintf(buf, size, "?");
}

static int
at_door(const struct conn *c)
{
	return !c->evicted && c->stage != DS_IN && c->stage != DS_DONE;
}

/*
 * The one to evict among those at the door (from src, or from anywhere
 * when src is NULL): the lowest stage first, the oldest within it.
 */
static struct conn *
victim(struct door *d, const char *src)
{
	struct conn *best = NULL;

	for (int i = 0; i < d->n; i++) {
		struct conn *c = &d->c[i];

		if (!at_door(c) || (src && strcmp(c->src, src) != 0))
			continue;
		if (best == NULL || c->stage < best->stage ||
		    (c->stage == best->stage && c->started < best->started))
			best = c;
	}
	return best;
}

/* Out of the table; a lobby connection's socket closed if close_it. */
static void
forget(struct door *d, struct conn *c, int close_it)
{
	if (c->fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		if (close_it)
			close(c->fd);
	}
	*c = d->c[--d->n];
}

int
door_make_room(struct door *d, const struct config *cf, const char *src, char *why,
	       size_t whysize)
{
	int all = 0, mine = 0;
	struct conn *v = NULL;
	const char *limit;

	for (int i = 0; i < d->n; i++)
		if (at_door(&d->c[i])) {
			all++;
			mine += strcmp(d->c[i].src, src) == 0;
		}
	if (mine >= cf->max_handshakes_per_source) {
		v = victim(d, src);
		limit = "MAX-HANDSHAKES-PER-SOURCE";
	} else if (all >= cf->max_handshakes) {
		v = victim(d, NULL);
		limit = "MAX-HANDSHAKES";
	}
	if (v == NULL)
		return 0;
	snprintf(why, whysize, "%s, the oldest %s of %s %d, %.1f s in handshake",
		 v->who, v->stage <= DS_DOOR ? "silent one" : v->stage == DS_BUSY ?
		 "busy one" : "one", limit, strcmp(limit, "MAX-HANDSHAKES") == 0 ?
		 cf->max_handshakes : cf->max_handshakes_per_source, now_mono() - v->started);
	if (v->stage == DS_LOBBY)
		forget(d, v, 1);
	else {
		kill(v->pid, SIGKILL);
		v->evicted = 1;
	}
	return 1;
}

static struct conn *
add(struct door *d, pid_t pid, int fd, const char *src, const char *who)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	struct conn *c;

	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		msg_warn("epoll_ctl");
		return NULL;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->c = xrealloc(d->c, d->cap * sizeof(*d->c));
	}
	c = &d->c[d->n++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->fd = fd;
	c->started = now_mono();
	c->stage = pid ? DS_DOOR : DS_LOBBY;
	snprintf(c->src, sizeof(c->src), "%s", src);
	snprintf(c->who, sizeof(c->who), "%s", who);
	return c;
}

int
door_open(struct door *d, pid_t pid, int fd, const char *src, const char *who)
{
	return add(d, pid, fd, src, who) ? 0 : -1;
}

int
door_wait(struct door *d, int sock, const struct sockaddr *sa, socklen_t salen,
	  const char *src, const char *who)
{
	struct conn *c = add(d, 0, sock, src, who);

	if (c == NULL)
		return -1;
	memcpy(&c->ss, sa, salen < sizeof(c->ss) ? salen : sizeof(c->ss));
	return 0;
}

int
door_expire(struct door *d, const struct config *cf)
{
	double now = now_mono();
	int n = 0;

	for (int i = 0; i < d->n; i++)
		if (d->c[i].stage == DS_LOBBY && now - d->c[i].started >= cf->handshake_timeout) {
			/* at most MAX-HANDSHAKES lines per HANDSHAKE-TIMEOUT */
			msg_warnx("refused hop from %s via tcp: timeout in handshake (silent for "
				  "HANDSHAKE-TIMEOUT %ds)", d->c[i].who, cf->handshake_timeout);
			forget(d, &d->c[i--], 1);
			n++;
		}
	return n;
}

int
door_due(const struct door *d, const struct config *cf)
{
	double first = 0;

	for (int i = 0; i < d->n; i++)
		if (d->c[i].stage == DS_LOBBY && (first == 0 || d->c[i].started < first))
			first = d->c[i].started;
	if (first == 0)
		return -1;
	first += cf->handshake_timeout - now_mono();
	return first > 0 ? (int)first + 1 : 0;
}

static struct conn *
by_fd(struct door *d, int fd)
{
	for (int i = 0; i < d->n; i++)
		if (d->c[i].fd == fd)
			return &d->c[i];
	return NULL;
}

static void
drop_fd(struct door *d, struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

static int take_line(struct door *, const struct config *, struct conn *, char *,
		     struct door_event *);

int
door_input(struct door *d, const struct config *cf, int fd, struct door_event *e)
{
	struct conn *c = by_fd(d, fd);
	char line[CUT_MSG_MAX];
	ssize_t n;

	if (c == NULL)
		return -1;
	if (c->stage == DS_LOBBY) {
		/* it has something to say (or hung up): a worker reads it */
		e->sock = c->fd;
		e->ss = c->ss;
		snprintf(e->src, sizeof(e->src), "%s", c->src);
		snprintf(e->who, sizeof(e->who), "%s", c->who);
		forget(d, c, 0);
		return 2;
	}
	if ((n = read(fd, line, sizeof(line) - 1)) <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			drop_fd(d, c);	/* the worker is gone; its exit is reaped apart */
		return 0;
	}
	line[n] = 0;
	return take_line(d, cf, c, line, e);
}

/* One line of worker c's (door_input's return) */
static int
take_line(struct door *d, const struct config *cf, struct conn *c, char *line,
	  struct door_event *e)
{
	switch (line[0]) {
	case 'H':
		if (c->stage == DS_DOOR)
			c->stage = DS_KNOWN;
		return 0;
	case 'C':	/* send this one on while it is received (cutthrough.c) */
		if (c->stage == DS_IN && line[1] == ' ')
			cut_request(line + 2);
		return 0;
	case 'O':	/* receipts it marked owed, for us to send (history.c) */
		if (c->stage >= DS_IN && line[1] == ' ')
			history_owed_note(line + 2);
		return 0;
	case 'D':
		if (c->stage == DS_IN) {
			c->stage = DS_DONE;
			d->nin--;
		}
		return 0;
	case 'A':
		if (c->evicted || c->stage >= DS_IN || c->stage == DS_BUSY)
			return 0;
		if (d->nin < cf->max_receivers) {
			c->stage = DS_IN;
			d->nin++;
			if (write(c->fd, "G", 1) != 1)
				msg_warn("door: answer to receive worker %ld", (long)c->pid);
			return 0;
		}
		c->stage = DS_BUSY;
		if (write(c->fd, "B", 1) != 1)
			msg_warn("door: answer to receive worker %ld", (long)c->pid);
		snprintf(e->who, sizeof(e->who), "%.100s (%s)", line[1] == ' ' ? line + 2 : "?",
			 c->who);
		return 1;
	default:
		msg_warnx("receive worker %ld: unknown line \"%.40s\"", (long)c->pid, line);
		return 0;
	}
}

/*
 * The lines a worker that has exited left unread. The master reads one
 * line per wakeup, and a receiver says "O" after each group commit, then
 * "D", then exits: on a busy master its exit was often reaped before its
 * last lines were read, and the receipts they named waited for the sweep
 * (OWED_ORPHAN_AGE and more). So "O" and "D" are taken now; the others
 * ask for something on behalf of a live worker ("A" wants an answer, "C"
 * sends on a body still arriving) and are moot once it is gone.
 */
static void
drain(struct door *d, struct conn *c)
{
	char line[CUT_MSG_MAX];
	ssize_t n;

	if (c->fd < 0 || c->stage == DS_LOBBY)	/* the lobby's fd is the network's */
		return;
	while ((n = recv(c->fd, line, sizeof(line) - 1, MSG_DONTWAIT)) > 0) {
		line[n] = 0;
		if (line[0] == 'O' || line[0] == 'D')
			take_line(d, NULL, c, line, NULL);
	}
}

int
door_gone(struct door *d, pid_t pid)
{
	for (int i = 0; i < d->n; i++) {
		struct conn *c = &d->c[i];
		int evicted;

		if (c->pid != pid)
			continue;
		drain(d, c);
		evicted = c->evicted;
		if (c->stage == DS_IN)
			d->nin--;
		drop_fd(d, c);
		d->c[i] = d->c[--d->n];
		return evicted;
	}
	return 0;
}

void
door_child(struct door *d)
{
	for (int i = 0; d && i < d->n; i++)
		if (d->c[i].fd >= 0)
			close(d->c[i].fd);
}

int
door_receivers(const struct door *d)
{
	return d->nin;
}

/* ---- in the receive worker ---- */

void
door_tell(int fd, const char *line)
{
	size_t n = strlen(line);

	if (fd >= 0 && write(fd, line, n) != (ssize_t)n)
		msg_warn("line to the master");
}

static int reload_seen;

int
door_ask(int fd, const char *peer, int timeout_s)
{
	char line[300], r = 'R';
	struct pollfd pf = {fd, POLLIN, 0};

	if (fd < 0)
		return 1;	/* no master to ask (tests) */
	snprintf(line, sizeof(line), "A %s", peer);
	door_tell(fd, line);
	while (r == 'R') {	/* a reload's word may come first */
		if (poll(&pf, 1, timeout_s * 1000) != 1 || read(fd, &r, 1) != 1) {
			err_set("the master did not answer");
			return -1;
		}
		reload_seen |= r == 'R';
	}
	return r == 'G';
}

int
door_reload_seen(int fd)
{
	char r;

	while (!reload_seen && fd >= 0 && recv(fd, &r, 1, MSG_DONTWAIT) == 1)
		reload_seen = r == 'R';
	return reload_seen;
}

void
door_reloaded(struct door *d)
{
	for (int i = 0; i < d->n; i++)
		if (d->c[i].pid > 0 && !d->c[i].evicted)
			send(d->c[i].fd, "R", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}
