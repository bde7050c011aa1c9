/*
 * delayproxy.c - the bench's wide-area link. This kernel has no netem, so
 * bench/wan.sh puts this program between two nodes on loopback: it
 * forwards TCP and UDP from 127.0.0.1:LISTEN to 127.0.0.1:TARGET through
 * an emulated link.
 *
 * The link. Each direction (up: client to target, down: target to client)
 * is one link that every flow of every mapping shares. A packet waits its
 * turn in the link's bottleneck queue, is serialised at --rate-mbit, then
 * travels --delay-ms; so RTT = 2 x delay. The queue holds --queue-kb
 * (default: one bandwidth-delay product, at least 64 KiB). Service is
 * FIFO at a fixed rate and a fixed delay, so a packet's delivery time is
 * known when it enters, and each link's in-flight list is already in
 * delivery order: the timer (a timerfd) is armed at the earlier of the two
 * heads. Memory is bounded by the queue, rate x delay, the per-connection
 * window and MEM_MAX.
 *
 * UDP: a datagram is lost with probability --loss, dropped when the queue
 * is full (drop-tail), else sent on at its delivery time. Each client
 * address gets its own upstream socket (a NAT mapping, expired after
 * --udp-idle-s), so the target sees distinct flows; a reply from another
 * target port (shipd, like TFTP, answers a HELLO from a session socket)
 * gets a client-facing socket of its own, so the client's later datagrams
 * to that socket reach the session port through the same link.
 *
 * TCP is terminated here on both sides (split TCP, as a performance-
 * enhancing proxy does): the byte stream is read in segments that take the
 * same path as datagrams. Reading stops while the queue is full or a
 * connection holds --tcp-window-kb in flight, so the sender's own flow
 * control backs off; there is no loss on TCP (random loss has no meaning
 * for a byte stream; TCP's reaction to it is not modelled). A new
 * connection's target side is connected one delay after accept (the SYN's
 * trip) and the client's bytes are read only one delay after that (the
 * SYN-ACK's), so a connection costs its round trip as on a real path; EOF
 * and resets follow the data through the link.
 *
 *   delayproxy --listen PORT --target PORT [--delay-ms D] [--loss P]
 *              [--rate-mbit R] [--queue-kb N] [--tcp-only | --udp-only]
 *              [--map LISTEN:TARGET[:tcp|:udp]]... [--tcp-window-kb N]
 *              [--udp-idle-s N] [--stats-ms N] [--seed N]
 *   delayproxy --selftest [--delay-ms D] [--rate-mbit R] [--loss P]
 *              (runs wanprobe selftest, from the same directory, on it)
 *
 * --udp-only leaves the mapping's TCP port closed (a connect is refused at
 * once), --tcp-only its UDP port. --map adds further mappings through the
 * same two links (a competing flow shares the bottleneck). --stats-ms
 * prints "stats T map0 UP DOWN map1 UP DOWN ..." every N ms: payload bytes
 * delivered in that interval. SIGTERM or SIGINT: stop, print one line of
 * totals on stderr, exit 0; SIGUSR1: print that line now.
 *
 * Single-threaded: one epoll loop, a timerfd, a signalfd. Never binds or
 * connects anywhere but 127.0.0.1, never grows past its bounds, and is
 * never part of shipd: it exists to measure it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS		1000000000LL
#define MAX_MAPS	8
#define MAX_CONNS	4096		/* TCP connections at once */
#define MAX_FLOWS	4096		/* UDP client mappings at once */
#define MAX_SIDES	8		/* reply ports per UDP flow */
#define FLOW_BUCKETS	1024
#define MEM_MAX		(256u << 20)	/* bytes held in links and queues */
#define TCP_SEG		16384		/* one TCP segment through the link */
#define TCP_READ	65536
#define UDP_BUDGET	64		/* datagrams read per socket per wake */
#define SOCKBUF		(4 << 20)

enum { UP, DOWN };
enum { K_UDP, K_DATA, K_EOF, K_RST, K_SYN, K_SYNACK };
enum { E_TIMER, E_SIGNAL, E_TLISTEN, E_ULISTEN, E_TCP, E_UFLOW, E_USIDE };

typedef int64_t ns_t;

struct ep {			/* what an epoll event points at */
	int type, idx;
	void *obj;
};

struct map {
	int lport, tport, tcp, udp;
	int tfd, ufd;
	struct sockaddr_in target;
	struct ep ept, epu;
	uint64_t bytes[2], last[2];	/* payload delivered; at the last stats */
};

struct tconn;
struct uflow;
struct uside;

struct pkt {
	struct pkt *next;
	ns_t due;
	struct tconn *tc;	/* TCP, or NULL */
	struct uflow *uf;	/* UDP */
	struct uside *us;	/* UDP: the reply port it came by / leaves by */
	uint32_t len, off;
	uint8_t kind, dir;
	unsigned char data[];
};

struct link {
	ns_t busy;		/* when the bottleneck has sent what it holds */
	struct pkt *head, *tail;
	uint64_t pkts, bytes, lost, qdrop, memdrop, sendfail;
	uint64_t peakq;
	bool roomwait;		/* a TCP half waits for room in the queue */
};

struct half {			/* one direction of a TCP connection */
	size_t held;		/* read, not yet written on */
	struct pkt *oq, *oqt;	/* due, waiting for the far socket */
	bool open;		/* handshake done: may read */
	bool eof;		/* nothing more to read (EOF, error, far side gone) */
	bool shut;		/* EOF passed on to the far socket */
	bool rst;		/* a reset is on its way to the far socket */
};

struct tconn {
	struct tconn *prev, *next;
	struct map *m;
	int fd[2];		/* [UP] the client's side, [DOWN] the target's */
	uint32_t ev[2];
	bool reg[2], connecting, reaped;
	struct ep ep[2];
	struct half h[2];	/* h[d] reads fd[d], writes fd[!d] */
	int refs;
};

struct uside {
	int fd;
	struct sockaddr_in peer;	/* the target port it stands for */
	struct ep ep;
	struct uflow *f;
};

struct uflow {
	struct uflow *prev, *next, *hnext;
	struct map *m;
	struct sockaddr_in client;
	int fd;			/* upstream, unconnected: hears every target port */
	struct ep ep;
	struct uside side[MAX_SIDES];
	int nside, refs;
	ns_t last;
	bool dead;
};

static struct {
	ns_t delay;
	uint64_t rate;		/* bit/s, 0 = unlimited */
	uint64_t qlimit;
	double loss;
	size_t window;
	ns_t idle, stats_every;
	uint64_t seed;
} cf = { .window = 4u << 20, .idle = 30 * NS };

static struct map maps[MAX_MAPS];
static int nmaps;
static struct link links[2];
static struct tconn *conns, *graveyard;	/* freed after each batch of events */
static struct uflow *flows, *bucket[FLOW_BUCKETS];
static int nconns, nflows, epfd, tfd;
static uint64_t totconns, totflows, conns_refused;
static size_t held_total;
static bool memwait, stop;
static ns_t t_start, armed = -1, next_house, next_stats;
static unsigned char rbuf[TCP_READ];

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("delayproxy: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static ns_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ns_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		die("out of memory");
	return p;
}

/* xorshift64*: the loss draw; seeded by --seed for a repeatable run */
static double
rnd(void)
{
	cf.seed ^= cf.seed >> 12;
	cf.seed ^= cf.seed << 25;
	cf.seed ^= cf.seed >> 27;
	return (double)((cf.seed * 2685821657736338717ULL) >> 11) / (double)(1ULL << 53);
}

/* ---- the link --------------------------------------------------------- */

/* bytes the bottleneck still has to serialise at time t */
static uint64_t
backlog(const struct link *l, ns_t t)
{
	if (!cf.rate || l->busy <= t)
		return 0;
	return (uint64_t)((__int128)(l->busy - t) * cf.rate / 8 / NS);
}

static uint64_t
room(const struct link *l, ns_t t)
{
	uint64_t b = backlog(l, t);

	if (!cf.rate)
		return UINT64_MAX;
	return b >= cf.qlimit ? 0 : cf.qlimit - b;
}

/* the smallest room worth reading TCP for; the time there will be that much */
static uint64_t
tcp_min_room(void)
{
	return cf.qlimit / 2 < TCP_SEG ? cf.qlimit / 2 : TCP_SEG;
}

static ns_t
room_time(const struct link *l)
{
	uint64_t want = cf.qlimit - tcp_min_room();

	return l->busy - (ns_t)((__int128)want * 8 * NS / cf.rate);
}

static void
link_put(struct link *l, struct pkt *p, ns_t t)
{
	ns_t start = l->busy > t ? l->busy : t;
	uint64_t q;

	if (cf.rate) {
		l->busy = start + (ns_t)((__int128)p->len * 8 * NS / cf.rate);
		p->due = l->busy + cf.delay;
		q = backlog(l, t);
		if (q > l->peakq)
			l->peakq = q;
	} else {
		p->due = t + cf.delay;
	}
	p->next = NULL;
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
	held_total += p->len;
}

static struct pkt *
pkt_new(size_t len, int kind, int dir)
{
	struct pkt *p = xmalloc(sizeof(*p) + len);

	memset(p, 0, sizeof(*p));
	p->len = (uint32_t)len;
	p->kind = (uint8_t)kind;
	p->dir = (uint8_t)dir;
	return p;
}

static void
pkt_done(struct pkt *p)
{
	held_total -= p->len;
	free(p);
}

/* ---- epoll ------------------------------------------------------------ */

static void
ep_add(int fd, uint32_t ev, struct ep *e)
{
	struct epoll_event ee = { .events = ev, .data.ptr = e };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void
tune(int fd, bool tcp)
{
	int n = SOCKBUF, one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
	if (tcp)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	return a;
}

static int
sock_bound(int type, int port)
{
	struct sockaddr_in a = loopback(port);
	int fd, one = 1;

	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- TCP -------------------------------------------------------------- */

static bool
may_read(struct tconn *c, int d, ns_t t)
{
	struct half *h = &c->h[d];

	if (!h->open || h->eof || c->fd[d] < 0 || c->fd[!d] < 0 || h->held >= cf.window)
		return false;
	if (held_total >= MEM_MAX) {
		memwait = true;
		return false;
	}
	if (room(&links[d], t) < tcp_min_room()) {
		links[d].roomwait = true;
		return false;
	}
	return true;
}

static void
rearm(struct tconn *c, int i, ns_t t)
{
	uint32_t ev = 0;
	struct epoll_event ee;

	if (c->fd[i] < 0)
		return;
	if (may_read(c, i, t))
		ev |= EPOLLIN;
	if (c->h[!i].oq || (i == DOWN && c->connecting))
		ev |= EPOLLOUT;
	if (c->reg[i] && ev == c->ev[i])
		return;
	ee.events = ev;
	ee.data.ptr = &c->ep[i];
	/* an fd with nothing wanted is taken out, so a HUP cannot spin */
	if (!ev) {
		if (c->reg[i])
			(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd[i], NULL);
		c->reg[i] = false;
	} else if (epoll_ctl(epfd, c->reg[i] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd[i], &ee) < 0) {
		die("epoll_ctl: %s", strerror(errno));
	} else {
		c->reg[i] = true;
	}
	c->ev[i] = ev;
}

static void
rearm_all(ns_t t)
{
	struct tconn *c;

	for (c = conns; c; c = c->next) {
		rearm(c, UP, t);
		rearm(c, DOWN, t);
	}
}

static void
fd_close(struct tconn *c, int i, bool reset)
{
	struct linger lg = { 1, 0 };

	if (c->fd[i] < 0)
		return;
	if (reset)
		(void)setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd[i]);	/* also leaves the epoll set */
	c->fd[i] = -1;
	c->reg[i] = false;
}

static void
drop_oq(struct half *h)
{
	struct pkt *p;

	while ((p = h->oq)) {
		h->oq = p->next;
		if (p->kind == K_DATA)
			h->held -= p->len - p->off;
		p->tc->refs--;
		pkt_done(p);
	}
	h->oqt = NULL;
}

/*
 * Retire a connection once both sockets are closed and no packet refers to
 * it. It is freed after the current batch of events, which may still name it.
 */
static void
conn_reap(struct tconn *c)
{
	if (c->reaped || c->fd[UP] >= 0 || c->fd[DOWN] >= 0 || c->refs > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	nconns--;
	c->reaped = true;
	c->next = graveyard;
	graveyard = c;
}

static void
send_ctl(struct tconn *c, int kind, int dir, ns_t t)
{
	struct pkt *p = pkt_new(0, kind, dir);

	p->tc = c;
	c->refs++;
	link_put(&links[dir], p, t);
}

/* send a reset in direction d, after the data already on its way */
static void
send_rst(struct tconn *c, int d, ns_t t)
{
	c->h[d].eof = true;
	if (c->fd[!d] < 0 || c->h[d].rst)
		return;
	c->h[d].rst = true;
	send_ctl(c, K_RST, d, t);
}

/* socket i failed: close it, stop carrying bytes toward it or from the
 * other side, and reset the other side one delay later */
static void
conn_fail(struct tconn *c, int i, ns_t t)
{
	if (c->fd[i] < 0)
		return;
	fd_close(c, i, true);
	drop_oq(&c->h[!i]);
	c->h[!i].eof = true;
	send_rst(c, i, t);
	rearm(c, !i, t);
	conn_reap(c);
}

/* write what is due toward socket fd[!d]; EOF and RST follow the data */
static void
flush(struct tconn *c, int d, ns_t t)
{
	struct half *h = &c->h[d];
	int fd = c->fd[!d];
	struct pkt *p;
	ssize_t n;

	if (fd < 0) {
		drop_oq(h);
		conn_reap(c);
		return;
	}
	while ((p = h->oq)) {
		if (p->kind == K_DATA) {
			n = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			if (n < 0) {
				conn_fail(c, !d, t);
				return;
			}
			p->off += (uint32_t)n;
			h->held -= (size_t)n;
			c->m->bytes[d] += (uint64_t)n;
			if (p->off < p->len)
				break;
		} else if (p->kind == K_EOF) {
			(void)shutdown(fd, SHUT_WR);
			h->shut = true;
		} else {	/* K_RST */
			h->oq = p->next;
			c->refs--;
			pkt_done(p);
			drop_oq(h);
			fd_close(c, !d, true);
			drop_oq(&c->h[!d]);
			c->h[!d].eof = true;
			rearm(c, d, t);
			conn_reap(c);
			return;
		}
		h->oq = p->next;
		c->refs--;
		pkt_done(p);
	}
	if (!h->oq)
		h->oqt = NULL;
	if (c->h[UP].shut && c->h[DOWN].shut) {	/* both ways closed cleanly */
		fd_close(c, UP, false);
		fd_close(c, DOWN, false);
		conn_reap(c);
		return;
	}
	rearm(c, !d, t);
	rearm(c, d, t);
}

static void
tcp_read(struct tconn *c, int d, ns_t t)
{
	struct half *h = &c->h[d];
	uint64_t r = room(&links[d], t);
	size_t want = TCP_READ, off;
	ssize_t n;

	if (!may_read(c, d, t)) {
		rearm(c, d, t);
		return;
	}
	if (r < want)
		want = (size_t)r;
	if (cf.window - h->held < want)
		want = cf.window - h->held;
	n = recv(c->fd[d], rbuf, want, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		conn_fail(c, d, t);
		return;
	}
	if (n == 0) {
		h->eof = true;
		send_ctl(c, K_EOF, d, t);
		rearm(c, d, t);
		return;
	}
	for (off = 0; off < (size_t)n; off += TCP_SEG) {
		size_t len = (size_t)n - off < TCP_SEG ? (size_t)n - off : TCP_SEG;
		struct pkt *p = pkt_new(len, K_DATA, d);

		memcpy(p->data, rbuf + off, len);
		p->tc = c;
		c->refs++;
		link_put(&links[d], p, t);
		links[d].pkts++;
	}
	h->held += (size_t)n;
	links[d].bytes += (uint64_t)n;
	rearm(c, d, t);
}

static void
tcp_accept(struct map *m, ns_t t)
{
	struct tconn *c;
	int fd, i;

	for (i = 0; i < 16; i++) {
		fd = accept4(m->tfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (nconns >= MAX_CONNS) {
			conns_refused++;
			close(fd);
			continue;
		}
		tune(fd, true);
		c = xmalloc(sizeof(*c));
		memset(c, 0, sizeof(*c));
		c->m = m;
		c->fd[UP] = fd;
		c->fd[DOWN] = -1;
		c->ep[UP] = (struct ep){ E_TCP, UP, c };
		c->ep[DOWN] = (struct ep){ E_TCP, DOWN, c };
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		nconns++;
		totconns++;
		send_ctl(c, K_SYN, UP, t);	/* the target is connected one delay later */
	}
}

/* the SYN reached the target's side: connect there */
static void
tcp_syn(struct tconn *c, ns_t t)
{
	int fd;

	if (c->fd[UP] < 0)
		return;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->h[UP].eof = true;
		send_rst(c, DOWN, t);
		return;
	}
	tune(fd, true);
	if (connect(fd, (struct sockaddr *)&c->m->target, sizeof(c->m->target)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		c->h[UP].eof = true;
		send_rst(c, DOWN, t);
		return;
	}
	c->fd[DOWN] = fd;
	c->connecting = true;
	rearm(c, DOWN, t);
}

static void
tcp_connected(struct tconn *c, ns_t t)
{
	int err = 0;
	socklen_t el = sizeof(err);

	c->connecting = false;
	if (getsockopt(c->fd[DOWN], SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		fd_close(c, DOWN, false);
		c->h[UP].eof = true;
		send_rst(c, DOWN, t);	/* refused: the client hears it one delay on */
		return;
	}
	c->h[DOWN].open = true;
	send_ctl(c, K_SYNACK, DOWN, t);
	rearm(c, DOWN, t);
}

static void
tcp_event(struct tconn *c, int i, uint32_t ev, ns_t t)
{
	if (c->fd[i] < 0)
		return;
	if (i == DOWN && c->connecting) {
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			tcp_connected(c, t);
		return;
	}
	if (ev & EPOLLERR) {	/* a reset or other error, whatever we wait for */
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(c->fd[i], SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			conn_fail(c, i, t);
			return;
		}
	}
	if ((ev & EPOLLOUT) && c->h[!i].oq)
		flush(c, !i, t);
	if (c->fd[i] >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		tcp_read(c, i, t);
	else if (c->fd[i] >= 0)
		rearm(c, i, t);
}

/* a TCP packet is due at the far end of its link */
static void
tcp_due(struct pkt *p, ns_t t)
{
	struct tconn *c = p->tc;
	struct half *h = &c->h[p->dir];

	switch (p->kind) {
	case K_SYN:
		c->refs--;
		pkt_done(p);
		tcp_syn(c, t);
		break;
	case K_SYNACK:
		c->refs--;
		pkt_done(p);
		c->h[UP].open = true;
		rearm(c, UP, t);
		break;
	default:
		p->next = NULL;
		if (h->oqt)
			h->oqt->next = p;
		else
			h->oq = p;
		h->oqt = p;
		flush(c, p->dir, t);
		return;
	}
	conn_reap(c);
}

/* ---- UDP -------------------------------------------------------------- */

static unsigned
flow_hash(const struct sockaddr_in *a)
{
	return (ntohl(a->sin_addr.s_addr) * 2654435761u ^ ntohs(a->sin_port)) % FLOW_BUCKETS;
}

static bool
same(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static void
flow_reap(struct uflow *f)
{
	if (!f->dead || f->refs > 0)
		return;
	if (f->prev)
		f->prev->next = f->next;
	else
		flows = f->next;
	if (f->next)
		f->next->prev = f->prev;
	free(f);
}

static void
flow_kill(struct uflow *f)
{
	struct uflow **pp;
	int i;

	for (pp = &bucket[flow_hash(&f->client)]; *pp; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			break;
		}
	close(f->fd);
	for (i = 0; i < f->nside; i++)
		close(f->side[i].fd);
	f->dead = true;
	nflows--;
	flow_reap(f);
}

static struct uflow *
flow_get(struct map *m, const struct sockaddr_in *from, ns_t t)
{
	unsigned b = flow_hash(from);
	struct uflow *f;
	int fd;

	for (f = bucket[b]; f; f = f->hnext)
		if (f->m == m && same(&f->client, from))
			return f;
	if (nflows >= MAX_FLOWS || (fd = sock_bound(SOCK_DGRAM, 0)) < 0)
		return NULL;
	tune(fd, false);
	f = xmalloc(sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->m = m;
	f->client = *from;
	f->fd = fd;
	f->last = t;
	f->ep = (struct ep){ E_UFLOW, 0, f };
	ep_add(fd, EPOLLIN, &f->ep);
	f->hnext = bucket[b];
	bucket[b] = f;
	f->next = flows;
	if (flows)
		flows->prev = f;
	flows = f;
	nflows++;
	totflows++;
	return f;
}

/* the client-facing socket standing for target address peer */
static struct uside *
side_get(struct uflow *f, const struct sockaddr_in *peer)
{
	struct uside *s;
	int i, fd;

	for (i = 0; i < f->nside; i++)
		if (same(&f->side[i].peer, peer))
			return &f->side[i];
	if (f->nside >= MAX_SIDES || (fd = sock_bound(SOCK_DGRAM, 0)) < 0)
		return NULL;
	tune(fd, false);
	s = &f->side[f->nside++];
	s->fd = fd;
	s->peer = *peer;
	s->f = f;
	s->ep = (struct ep){ E_USIDE, 0, s };
	ep_add(fd, EPOLLIN, &s->ep);
	return s;
}

static void
udp_put(struct uflow *f, struct uside *s, int dir, const void *b, size_t n, ns_t t)
{
	struct link *l = &links[dir];
	struct pkt *p;

	f->last = t;
	l->pkts++;
	l->bytes += n;
	if (cf.loss > 0 && rnd() < cf.loss) {
		l->lost++;
		return;
	}
	if (held_total + n > MEM_MAX) {
		l->memdrop++;
		return;
	}
	if (cf.rate && backlog(l, t) + n > cf.qlimit) {
		l->qdrop++;
		return;
	}
	p = pkt_new(n, K_UDP, dir);
	memcpy(p->data, b, n);
	p->uf = f;
	p->us = s;
	f->refs++;
	link_put(l, p, t);
}

/* datagrams on socket fd: a mapping's listening port (m), a flow's upstream
 * socket (f) or one of its reply ports (s) */
static void
udp_read(int fd, struct map *m, struct uflow *f, struct uside *s, ns_t t)
{
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;
	int i;

	for (i = 0; i < UDP_BUDGET; i++) {
		fl = sizeof(from);
		n = recvfrom(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (fl != sizeof(from) || from.sin_family != AF_INET)
			continue;
		if (m) {		/* a client, to the target's port */
			struct uflow *nf = flow_get(m, &from, t);

			if (nf)
				udp_put(nf, NULL, UP, rbuf, (size_t)n, t);
		} else if (s) {		/* the client, to a session port */
			if (same(&from, &s->f->client))
				udp_put(s->f, s, UP, rbuf, (size_t)n, t);
		} else if (same(&from, &f->m->target)) {
			udp_put(f, NULL, DOWN, rbuf, (size_t)n, t);
		} else {		/* a reply from another target port */
			struct uside *ns = side_get(f, &from);

			if (ns)
				udp_put(f, ns, DOWN, rbuf, (size_t)n, t);
		}
	}
}

static void
udp_due(struct pkt *p)
{
	struct uflow *f = p->uf;
	const struct sockaddr_in *to;
	int fd;

	if (!f->dead) {
		if (p->dir == UP) {
			fd = f->fd;
			to = p->us ? &p->us->peer : &f->m->target;
		} else {
			fd = p->us ? p->us->fd : f->m->ufd;
			to = &f->client;
		}
		if (sendto(fd, p->data, p->len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)to, sizeof(*to)) < 0)
			links[p->dir].sendfail++;
		else
			f->m->bytes[p->dir] += p->len;
	}
	f->refs--;
	pkt_done(p);
	flow_reap(f);
}

/* ---- the loop ----------------------------------------------------------- */

static void
run_due(ns_t t)
{
	int d;
	struct pkt *p;

	for (d = 0; d < 2; d++) {
		struct link *l = &links[d];

		while ((p = l->head) && p->due <= t) {
			l->head = p->next;
			if (!l->head)
				l->tail = NULL;
			if (p->kind == K_UDP)
				udp_due(p);
			else
				tcp_due(p, t);
		}
	}
}

static void
arm_timer(void)
{
	ns_t next = next_house;
	struct itimerspec it;
	int d;

	if (cf.stats_every && next_stats < next)
		next = next_stats;
	for (d = 0; d < 2; d++) {
		if (links[d].head && links[d].head->due < next)
			next = links[d].head->due;
		if (links[d].roomwait && cf.rate && room_time(&links[d]) < next)
			next = room_time(&links[d]);
	}
	if (next == armed)
		return;
	memset(&it, 0, sizeof(it));
	if (next < 1)
		next = 1;
	it.it_value.tv_sec = next / NS;
	it.it_value.tv_nsec = next % NS;
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL) < 0)
		die("timerfd_settime: %s", strerror(errno));
	armed = next;
}

static void
house(ns_t t)
{
	struct uflow *f, *nx;

	for (f = flows; f; f = nx) {
		nx = f->next;
		if (!f->dead && t - f->last > cf.idle)
			flow_kill(f);
	}
}

static void
stats_line(ns_t t)
{
	int i;

	printf("stats %.3f", (double)(t - t_start) / NS);
	for (i = 0; i < nmaps; i++) {
		printf(" map%d %llu %llu", i,
		       (unsigned long long)(maps[i].bytes[UP] - maps[i].last[UP]),
		       (unsigned long long)(maps[i].bytes[DOWN] - maps[i].last[DOWN]));
		maps[i].last[UP] = maps[i].bytes[UP];
		maps[i].last[DOWN] = maps[i].bytes[DOWN];
	}
	putchar('\n');
	fflush(stdout);
}

static void
totals(ns_t t)
{
	struct rusage ru;
	int d;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "delayproxy: %.1f s, delay %.1f ms, rate %.1f Mbit/s, queue %llu KiB, loss %.3f;",
		(double)(t - t_start) / NS, (double)cf.delay / 1e6, (double)cf.rate / 1e6,
		(unsigned long long)(cf.qlimit >> 10), cf.loss);
	for (d = 0; d < 2; d++)
		fprintf(stderr, " %s %llu pkts %llu B lost %llu qdrop %llu memdrop %llu sendfail %llu peakq %llu KiB;",
			d == UP ? "up" : "down", (unsigned long long)links[d].pkts,
			(unsigned long long)links[d].bytes, (unsigned long long)links[d].lost,
			(unsigned long long)links[d].qdrop, (unsigned long long)links[d].memdrop,
			(unsigned long long)links[d].sendfail, (unsigned long long)(links[d].peakq >> 10));
	fprintf(stderr, " tcp %llu conns (%llu refused), udp %llu flows; cpu %.2f s\n",
		(unsigned long long)totconns, (unsigned long long)conns_refused,
		(unsigned long long)totflows,
		(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

static void
on_signal(int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			totals(now_ns());
		else
			stop = true;
	}
}

static void
loop(void)
{
	struct epoll_event evs[64];
	struct ep e_timer = { E_TIMER, 0, NULL }, e_sig = { E_SIGNAL, 0, NULL };
	sigset_t ss;
	int sfd, n, i, d;
	ns_t t;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if ((sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		die("signalfd: %s", strerror(errno));
	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
		die("timerfd_create: %s", strerror(errno));
	ep_add(sfd, EPOLLIN, &e_sig);
	ep_add(tfd, EPOLLIN, &e_timer);
	next_house = t_start + NS;
	next_stats = t_start + cf.stats_every;
	while (!stop) {
		arm_timer();
		n = epoll_wait(epfd, evs, 64, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		t = now_ns();
		for (i = 0; i < n; i++) {
			struct ep *e = evs[i].data.ptr;
			uint64_t x;

			switch (e->type) {
			case E_TIMER:
				(void)!read(tfd, &x, sizeof(x));
				armed = -1;
				break;
			case E_SIGNAL:
				on_signal(sfd);
				break;
			case E_TLISTEN:
				tcp_accept(e->obj, t);
				break;
			case E_ULISTEN:
				udp_read(((struct map *)e->obj)->ufd, e->obj, NULL, NULL, t);
				break;
			case E_UFLOW:
				udp_read(((struct uflow *)e->obj)->fd, NULL, e->obj, NULL, t);
				break;
			case E_USIDE:
				udp_read(((struct uside *)e->obj)->fd, NULL, NULL, e->obj, t);
				break;
			case E_TCP:
				tcp_event(e->obj, e->idx, evs[i].events, t);
				break;
			}
		}
		t = now_ns();
		run_due(t);
		if (t >= next_house) {
			house(t);
			next_house = t + NS;
		}
		if (cf.stats_every && t >= next_stats) {
			stats_line(t);
			next_stats += cf.stats_every;
			if (next_stats <= t)
				next_stats = t + cf.stats_every;
		}
		/* TCP halves that stopped for room, or for memory, may go on */
		for (d = 0; d < 2; d++)
			if (links[d].roomwait && room(&links[d], t) >= tcp_min_room()) {
				links[0].roomwait = links[1].roomwait = false;
				rearm_all(t);
				break;
			}
		if (memwait && held_total < MEM_MAX / 2) {
			memwait = false;
			rearm_all(t);
		}
		while (graveyard) {
			struct tconn *c = graveyard;

			graveyard = c->next;
			free(c);
		}
	}
	totals(now_ns());
}

/* ---- options ------------------------------------------------------------ */

static double
num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		die("%s: bad value \"%s\" (%g..%g)", opt, s, lo, hi);
	return v;
}

static void
usage(void)
{
	fputs("usage: delayproxy --listen PORT --target PORT [--delay-ms D] [--loss P]\n"
	      "         [--rate-mbit R] [--queue-kb N] [--tcp-only | --udp-only]\n"
	      "         [--map LISTEN:TARGET[:tcp|:udp]]... [--tcp-window-kb N]\n"
	      "         [--udp-idle-s N] [--stats-ms N] [--seed N]\n"
	      "       delayproxy --selftest [--delay-ms D] [--rate-mbit R] [--loss P]\n", stderr);
	exit(2);
}

static void
map_add(int l, int t, int tcp, int udp)
{
	if (nmaps >= MAX_MAPS)
		die("at most %d mappings", MAX_MAPS);
	maps[nmaps++] = (struct map){ .lport = l, .tport = t, .tcp = tcp, .udp = udp };
}

/* --selftest: wanprobe (beside this binary) drives this binary */
static void
selftest(int argc, char **argv)
{
	char path[PATH_MAX], self[PATH_MAX], *slash;
	char **av = xmalloc(sizeof(char *) * ((size_t)argc + 4));
	ssize_t n;
	int i, j = 0;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		die("/proc/self/exe: %s", strerror(errno));
	self[n] = 0;
	snprintf(path, sizeof(path), "%s", self);
	if ((slash = strrchr(path, '/')))
		slash[1] = 0;
	strncat(path, "wanprobe", sizeof(path) - strlen(path) - 1);
	av[j++] = path;
	av[j++] = "selftest";
	av[j++] = "--proxy";
	av[j++] = self;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--selftest") != 0)
			av[j++] = argv[i];
	av[j] = NULL;
	execv(path, av);
	die("%s: %s (build it: bench/wan.sh builds both)", path, strerror(errno));
}

int
main(int argc, char **argv)
{
	int i, lport = 0, tport = 0, tcp = 1, udp = 1;
	double qkb = 0;
	struct rlimit rl;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--selftest") == 0)
			selftest(argc, argv);
	cf.seed = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--tcp-only") == 0) {
			udp = 0;
			continue;
		}
		if (strcmp(o, "--udp-only") == 0) {
			tcp = 0;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(o, "--listen") == 0)
			lport = (int)num(o, v, 1, 65535);
		else if (strcmp(o, "--target") == 0)
			tport = (int)num(o, v, 1, 65535);
		else if (strcmp(o, "--delay-ms") == 0)
			cf.delay = (ns_t)(num(o, v, 0, 10000) * 1e6);
		else if (strcmp(o, "--loss") == 0)
			cf.loss = num(o, v, 0, 1);
		else if (strcmp(o, "--rate-mbit") == 0)
			cf.rate = (uint64_t)(num(o, v, 0, 100000) * 1e6);
		else if (strcmp(o, "--queue-kb") == 0)
			qkb = num(o, v, 16, 1 << 20);
		else if (strcmp(o, "--tcp-window-kb") == 0)
			cf.window = (size_t)num(o, v, 16, 1 << 20) * 1024;
		else if (strcmp(o, "--udp-idle-s") == 0)
			cf.idle = (ns_t)(num(o, v, 1, 86400) * NS);
		else if (strcmp(o, "--stats-ms") == 0)
			cf.stats_every = (ns_t)(num(o, v, 10, 3600000) * 1e6);
		else if (strcmp(o, "--seed") == 0)
			cf.seed = (uint64_t)num(o, v, 1, 1e15);
		else if (strcmp(o, "--map") == 0) {
			int l, t;
			char proto[8] = "";

			if (sscanf(v, "%d:%d:%7s", &l, &t, proto) < 2 ||
			    l < 1 || l > 65535 || t < 1 || t > 65535 ||
			    (*proto && strcmp(proto, "tcp") && strcmp(proto, "udp")))
				die("--map: want LISTEN:TARGET[:tcp|:udp], not \"%s\"", v);
			map_add(l, t, !*proto || !strcmp(proto, "tcp"), !*proto || !strcmp(proto, "udp"));
		} else
			usage();
	}
	if (!lport || !tport)
		usage();
	/* the primary mapping first: its flags, --tcp-only / --udp-only */
	if (nmaps >= MAX_MAPS)
		die("at most %d mappings", MAX_MAPS);
	memmove(&maps[1], &maps[0], sizeof(maps[0]) * (size_t)nmaps);
	nmaps++;
	maps[0] = (struct map){ .lport = lport, .tport = tport, .tcp = tcp, .udp = udp };
	if (cf.rate) {
		uint64_t bdp = (uint64_t)((__int128)cf.rate * 2 * cf.delay / 8 / NS);

		cf.qlimit = qkb > 0 ? (uint64_t)(qkb * 1024) : (bdp > 65536 ? bdp : 65536);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < nmaps; i++) {
		struct map *m = &maps[i];

		m->target = loopback(m->tport);
		m->tfd = m->ufd = -1;
		if (m->tcp) {
			if ((m->tfd = sock_bound(SOCK_STREAM, m->lport)) < 0 || listen(m->tfd, 512) < 0)
				die("TCP 127.0.0.1:%d: %s", m->lport, strerror(errno));
			m->ept = (struct ep){ E_TLISTEN, i, m };
			ep_add(m->tfd, EPOLLIN, &m->ept);
		}
		if (m->udp) {
			if ((m->ufd = sock_bound(SOCK_DGRAM, m->lport)) < 0)
				die("UDP 127.0.0.1:%d: %s", m->lport, strerror(errno));
			tune(m->ufd, false);
			m->epu = (struct ep){ E_ULISTEN, i, m };
			ep_add(m->ufd, EPOLLIN, &m->epu);
		}
	}
	t_start = now_ns();
	fprintf(stderr, "delayproxy: ready, %d mapping(s), first 127.0.0.1:%d -> %d%s\n", nmaps,
		lport, tport, !tcp ? " (UDP only)" : !udp ? " (TCP only)" : "");
	loop();
	return 0;
}
