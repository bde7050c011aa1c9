/*
 * test_engine.c - hop protocol 4's window (xfer_engine.h) with callbacks
 * that keep everything in memory: a window of orders, small (inline) and
 * large (streamed), over TCP and over the UDP hop, every one acknowledged
 * once and received byte for byte; group commits (fewer commits than
 * orders); refusals answered per order without disturbing the others; and
 * a receiver that dies in the middle of a window: each order is either
 * acknowledged (and was committed there) or lost (and was not): nothing
 * lost, nothing twice. The receiver runs in a forked child that reports
 * what it committed through a pipe.
 */
#include "t.h"
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "wire/wire.h"
#include "wire/xfer_engine.h"
#include "util/log.h"
#include "util/mem.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";
}

#define NORD	300		/* more than two windows */

static char dir[64];
static struct keys *kA, *kB;
static int next_port;

static struct config *
mkconf(const char *node, int listen_port, const char *peer, int peer_port,
       const struct keys *pk)
{
	struct config *cf = xcalloc(1, sizeof(*cf));
	struct peer *p;

	cf->node = xstrdup(node);
	if (listen_port) {
		cf->listen_addr = xstrdup("127.0.0.1");
		cf->listen_port = listen_port;
	}
	cf->io_timeout = 10;
	cf->peers = xcalloc(1, sizeof(*cf->peers));
	p = &cf->peers[cf->npeers++];
	p->name = xstrdup(peer);
	p->host = xstrdup("127.0.0.1");
	p->port = peer_port;
	p->key = pk->pub;
	p->has_key = 1;
	return cf;
}

static void
freeconf(struct config *cf)
{
	free(cf->peers[0].name);
	free(cf->peers[0].host);
	free(cf->peers);
	free(cf->listen_addr);
	free(cf->node);
	free(cf);
}

/* ---- the receiving child ---- */

struct rx {
	int out;		/* the pipe: "C slot" per committed order */
	int die_after;		/* commits before the child dies (0: never) */
	int commits;
	uint32_t refuse_mod;	/* refuse every order whose size % this == 1 */
	uint32_t abort_at;	/* the offer of this slot closes the connection */
};

struct rord {
	uint64_t size, got;
	uint32_t sum, slot;
};

static uint32_t
sum_bytes(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

static uint64_t
order_size(const char *text, size_t n, uint32_t *slot)
{
	unsigned long long size = 0;
	unsigned sl = 0;
	char b[64];

	snprintf(b, sizeof(b), "%.*s", (int)(n < 63 ? n : 63), text);
	sscanf(b, "slot %u size %llu", &sl, &size);
	*slot = sl;
	return size;
}

static int
rx_offer(void *arg, const struct xmsg *m, void **ctx, uint64_t *offset, uint64_t *size,
	 char *why, size_t whylen)
{
	struct rx *x = arg;
	struct rord *r = xcalloc(1, sizeof(*r));

	*ctx = r;
	r->size = order_size(m->order, m->orderlen, &r->slot);
	if (x->abort_at && r->slot == x->abort_at) {
		snprintf(why, whylen, "peer revoked since its handshake");
		free(r);
		*ctx = NULL;
		return XR_ABORT;
	}
	if (x->refuse_mod && r->size % x->refuse_mod == 1) {
		snprintf(why, whylen, "refused: size %llu", (unsigned long long)r->size);
		return XF_REFUSE;
	}
	r->sum = sum_bytes(0, m->hdr, m->hdrlen);
	r->got = m->hdrlen;
	*size = r->size;
	if (m->flags & XF_INLINE) {
		r->sum = sum_bytes(r->sum, m->data, m->datalen);
		r->got += m->datalen;
		return XR_COMPLETE;
	}
	*offset = r->got;
	return XF_ACCEPT;
}

static int
rx_body(void *arg, void *ctx, uint64_t off, const uint8_t *p, size_t n, char *why,
	size_t whylen)
{
	struct rord *r = ctx;

	r->sum = sum_bytes(r->sum, p, n);
	r->got += n;
	return r->got == r->size ? XR_COMPLETE : 0;
}

static void
rx_commit(void *arg, void **ctx, int n, int *ok, char (*why)[XF_REASON_MAX + 1])
{
	struct rx *x = arg;
	char line[64];

	if (x->die_after && x->commits >= x->die_after)
		_exit(9);	/* the receiver dies with a window in flight */
	for (int i = 0; i < n; i++) {
		struct rord *r = ctx[i];
		int len = snprintf(line, sizeof(line), "C %u %u\n", r->slot, r->sum);

		ok[i] = 1;
		if (write(x->out, line, len) != len)
			_exit(3);
	}
	x->commits++;
}

static void
rx_release(void *arg, void *ctx, int how, const char *why)
{
	free(ctx);
}

/* Serve one hop in a child; what it committed comes through *rd. */
static pid_t
receiver(int port, int udp, struct rx x, int *rd)
{
	static const struct xr_ops ops = { rx_offer, rx_body, rx_commit, rx_release };
	struct config *cf = mkconf("B", port, "A", 0, kA);
	int lfd = udp ? wire_listen_udp(cf) : wire_listen_tcp(cf), pfd[2];
	pid_t pid;

	if (lfd < 0 || pipe(pfd) < 0) {
		freeconf(cf);
		return -1;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct pollfd pf = { lfd, POLLIN, 0 };
		struct xr_stats st;
		struct hop *h;
		char line[200];

		close(pfd[0]);
		x.out = pfd[1];
		if (poll(&pf, 1, 30000) <= 0)
			_exit(2);
		if (udp) {
			uint8_t d[2048];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(lfd, d, sizeof(d), 0, (struct sockaddr *)&from, &fl);

			h = hop_accept_udp(cf, kB, d, n, (struct sockaddr *)&from, fl, 10);
		} else
			h = hop_accept_tcp(cf, kB, accept(lfd, NULL, NULL), 10);
		if (h == NULL)
			_exit(2);
		int rc = xrecv_serve(h, &ops, &x, 10, &st);

		snprintf(line, sizeof(line), "S %lu %lu %lu %d\n", st.offers, st.commits, st.refused,
			 rc);
		if (write(x.out, line, strlen(line)) < 0)
			_exit(3);
		hop_close(h);
		_exit(0);
	}
	close(pfd[1]);
	close(lfd);
	freeconf(cf);		/* the child's copy is its own */
	*rd = pfd[0];
	return pid;
}

/* ---- the sending side ---- */

struct order_t {
	uint32_t slot;		/* the slot it went out on (= its index + 1 here) */
	uint64_t size;
	uint32_t sum;
	int fd;
	uint8_t hdr[64];
	char text[64];
	int answer, answers;
};

struct tx {
	struct order_t o[NORD];
};

static void
tx_answer(void *arg, void *ctx, int type, const char *why)
{
	struct order_t *o = ctx;

	o->answer = type;
	o->answers++;
}

/* Order i: a file of a size that mixes inline offers and streamed bodies. */
static void
make_order(struct order_t *o, int i)
{
	char path[128];
	uint8_t *b;

	o->size = i % 10 == 9 ? 300000 + (uint64_t)i : 100 + (uint64_t)i * 37;
	b = xmalloc(o->size);
	for (uint64_t k = 0; k < o->size; k++)
		b[k] = (uint8_t)(k * 7 + i);
	snprintf(path, sizeof(path), "%s/f%d", dir, i);
	o->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (write(o->fd, b, o->size) != (ssize_t)o->size)
		exit(2);
	memcpy(o->hdr, b, sizeof(o->hdr));
	o->sum = sum_bytes(0, b, o->size);
	o->slot = i + 1;
	snprintf(o->text, sizeof(o->text), "slot %u size %llu", o->slot,
		 (unsigned long long)o->size);
	o->answer = o->answers = 0;
	free(b);
}

/* What the receiver committed (its lines), once it has ended. */
static char *
receiver_report(int rd, pid_t pid)
{
	struct sbuf b = {0};
	char chunk[4096];
	ssize_t n;

	while ((n = read(rd, chunk, sizeof(chunk))) > 0)
		sbuf_add(&b, chunk, n);
	close(rd);
	waitpid(pid, NULL, 0);
	return b.s ? b.s : xstrdup("");
}

/*
 * Send NORD orders over one connection with the window kept full; then
 * read what the receiver committed. Returns the number ACKed.
 */
static int
run(int udp, struct rx x, struct tx *t, char **report)
{
	static const struct xs_ops ops = { tx_answer, NULL, NULL };
	int port = next_port++, rd = -1, next = 0, acked = 0;
	struct config *cf = mkconf("A", 0, "B", port, kB);
	struct xsend *s;
	struct hop *h;
	pid_t pid;

	for (int i = 0; i < NORD; i++)
		make_order(&t->o[i], i);
	pid = receiver(port, udp, x, &rd);
	CHECK(pid > 0);
	h = hop_connect(cf, kA, &cf->peers[0], 10);
	CHECK(h != NULL);
	if (h == NULL) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 0;
	}
	s = xsend_new(h, &ops, NULL);
	while (!xsend_broken(s) && (next < NORD || xsend_open(s) > 0)) {
		if (next < NORD && xsend_room(s) > 0) {
			struct order_t *o = &t->o[next++];
			struct xs_item it = { o, o->text, o->fd, o->size, o->hdr, sizeof(o->hdr),
					      o->text, strlen(o->text), NULL };

			xsend_offer(s, &it);
			continue;
		}
		xsend_pump(s, 1000);
	}
	if (!xsend_broken(s))
		xsend_bye(s);
	xsend_free(s);
	hop_close(h);
	*report = receiver_report(rd, pid);
	for (int i = 0; i < NORD; i++) {
		acked += t->o[i].answer == XF_ACK;
		close(t->o[i].fd);
	}
	freeconf(cf);
	return acked;
}

/* Was slot committed by the receiver, with the bytes we sent? */
static int
committed(const char *report, const struct order_t *o)
{
	char want[64];

	snprintf(want, sizeof(want), "C %u %u\n", o->slot, o->sum);
	return strstr(report, want) != NULL;
}

static void
window_over(int udp)
{
	struct tx *t = xcalloc(1, sizeof(*t));
	struct rx x = { 0 };
	unsigned long offers = 0, commits = 0;
	char *rep;
	int acked = run(udp, x, t, &rep);

	CHECK_INT(acked, NORD);
	for (int i = 0; i < NORD; i++) {
		CHECK_INT(t->o[i].answers, 1);
		CHECK(committed(rep, &t->o[i]));
	}
	CHECK(sscanf(strstr(rep, "S ") ? strstr(rep, "S ") : "", "S %lu %lu", &offers,
		     &commits) == 2);
	CHECK_INT(offers, NORD);
	/* group commit: several orders per round of fsyncs */
	CHECK(commits > 0 && commits < NORD);
	printf("# %s: %d orders, %lu group commits\n", udp ? "udp" : "tcp", NORD, commits);
	free(rep);
	free(t);
}

static void
window_tcp(void)
{
	window_over(0);
}

static void
window_udp(void)
{
	window_over(1);
}

/* Refusals close their own slot only; the others go on. */
static void
refusals_per_order(void)
{
	struct tx *t = xcalloc(1, sizeof(*t));
	struct rx x = { .refuse_mod = 3 };
	int refused = 0, acked;
	char *rep;

	acked = run(0, x, t, &rep);
	for (int i = 0; i < NORD; i++) {
		int want = t->o[i].size % 3 == 1 ? XF_REFUSE : XF_ACK;

		CHECK_INT(t->o[i].answer, want);
		CHECK_INT(t->o[i].answers, 1);
		refused += want == XF_REFUSE;
	}
	CHECK_INT(acked + refused, NORD);
	CHECK(refused > 0);
	free(rep);
	free(t);
}

/*
 * The receiver dies after a few group commits, with a window in flight:
 * every order is answered exactly once; those ACKed are exactly those it
 * committed; the rest are lost, the sender's to offer again.
 */
static void
cut_mid_window(void)
{
	for (int udp = 0; udp <= 1; udp++) {
		struct tx *t = xcalloc(1, sizeof(*t));
		struct rx x = { .die_after = 3 };
		int lost = 0, acked;
		char *rep;

		acked = run(udp, x, t, &rep);
		for (int i = 0; i < NORD; i++) {
			CHECK_INT(t->o[i].answers <= 1, 1);
			if (t->o[i].answer == XF_ACK)
				CHECK(committed(rep, &t->o[i]));	/* nothing ACKed unless committed */
			else {
				CHECK(!committed(rep, &t->o[i]) || t->o[i].answers == 1);
				lost += t->o[i].answers == 0 || t->o[i].answer == XS_LOST;
			}
		}
		/* the receiver did commit some (their ACKs may die with it) and not all */
		CHECK(strstr(rep, "C ") != NULL);
		CHECK(lost > 0);
		CHECK_INT(acked + lost, NORD);
		/* every order committed there was ACKed here, or its ACK was lost with the
		 * connection (then the next offer meets HAVE): never committed unknown twice */
		printf("# %s cut: %d acked, %d lost of %d\n", udp ? "udp" : "tcp", acked, lost,
		       NORD);
		free(rep);
		free(t);
	}
}

/*
 * An offer callback that cuts the connection (XR_ABORT: a peer revoked
 * since its handshake): the receiver ends at once with an error; nothing
 * from that offer on is committed or ACKed; every order is answered at
 * most once, the unanswered ones the sender's to offer again.
 */
static void
abort_mid_window(void)
{
	struct tx *t = xcalloc(1, sizeof(*t));
	struct rx x = { .abort_at = NORD / 2 };
	unsigned long offers = 0, commits = 0, refused = 0;
	int acked, lost = 0, rc = 0;
	char *rep, *sl;

	acked = run(0, x, t, &rep);
	for (int i = 0; i < NORD; i++) {
		CHECK_INT(t->o[i].answers <= 1, 1);
		if (t->o[i].slot >= x.abort_at) {
			CHECK(!committed(rep, &t->o[i]));
			CHECK(t->o[i].answer != XF_ACK);
		}
		if (t->o[i].answer == XF_ACK)
			CHECK(committed(rep, &t->o[i]));
		else
			lost += t->o[i].answers == 0 || t->o[i].answer == XS_LOST;
	}
	CHECK_INT(acked + lost, NORD);
	CHECK(lost >= NORD - (int)x.abort_at + 1);
	sl = strstr(rep, "S ");
	CHECK(sl && sscanf(sl, "S %lu %lu %lu %d", &offers, &commits, &refused, &rc) == 4);
	CHECK_INT(rc, -1);
	CHECK_INT((int)refused, 0);
	printf("# abort at slot %u: %d acked, %d lost of %d\n", x.abort_at, acked, lost, NORD);
	free(rep);
	free(t);
}

/*
 * A file still being written (a relay's cut-through, xs_item.ready): its
 * bytes go as they land, never past its size, and the receiver commits the
 * whole file; given up halfway (ready -1), the order is aborted and lost,
 * nothing of it committed, and the connection carries the next order.
 */
struct grow {
	struct order_t o;		/* first: tx_answer takes ctx as one */
	uint8_t *content;
	uint64_t stop;			/* the writer stops here */
	int looks;
};

static int64_t
grow_ready(void *ctx, uint64_t off)
{
	struct grow *g = ctx;
	struct stat st;

	if (fstat(g->o.fd, &st) < 0)
		return -1;
	/* every other look, the writer has added a piece (past the end sometimes,
	 * as a receiver whose file ends with more than the order says) */
	if (++g->looks % 2 && (uint64_t)st.st_size < g->stop) {
		uint64_t k = g->stop - st.st_size < 40000 ? g->stop - st.st_size : 40000;

		if (pwrite(g->o.fd, g->content + st.st_size, k, st.st_size) != (ssize_t)k)
			return -1;
		return 0;
	}
	if ((uint64_t)st.st_size > off)
		return (int64_t)(((uint64_t)st.st_size < g->o.size ? (uint64_t)st.st_size :
				  g->o.size) - off);
	if ((uint64_t)st.st_size >= g->stop) {
		err_set("the writer stopped");
		return -1;
	}
	return 0;
}

static void
growing_file(void)
{
	static const struct xs_ops ops = { tx_answer, NULL, NULL };
	int port = next_port++, rd = -1;
	struct config *cf = mkconf("A", 0, "B", port, kB);
	struct grow g[2];
	struct rx x = { 0 };
	struct xsend *s;
	struct hop *h;
	char path[128], *rep;
	pid_t pid;

	for (int i = 0; i < 2; i++) {
		struct order_t *o = &g[i].o;

		memset(&g[i], 0, sizeof(g[i]));
		o->size = 500000 + i;
		g[i].content = xmalloc(o->size + 1000);
		for (uint64_t k = 0; k < o->size + 1000; k++)
			g[i].content[k] = (uint8_t)(k * 13 + i);
		/* the first file grows past its size, the second stops halfway */
		g[i].stop = i == 0 ? o->size + 1000 : o->size / 2;
		snprintf(path, sizeof(path), "%s/g%d", dir, i);
		o->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		CHECK(write(o->fd, g[i].content, sizeof(o->hdr)) == (ssize_t)sizeof(o->hdr));
		memcpy(o->hdr, g[i].content, sizeof(o->hdr));
		o->sum = sum_bytes(0, g[i].content, o->size);
		o->slot = 2 - i;	/* the half one goes first */
		snprintf(o->text, sizeof(o->text), "slot %u size %llu", o->slot,
			 (unsigned long long)o->size);
	}
	pid = receiver(port, 0, x, &rd);
	h = hop_connect(cf, kA, &cf->peers[0], 10);
	CHECK(pid > 0 && h != NULL);
	if (h == NULL) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		freeconf(cf);
		return;
	}
	s = xsend_new(h, &ops, NULL);
	for (int i = 1; i >= 0; i--) {
		struct order_t *o = &g[i].o;
		struct xs_item it = { &g[i], o->text, o->fd, o->size, o->hdr, sizeof(o->hdr),
				      o->text, strlen(o->text), grow_ready };

		xsend_offer(s, &it);
		while (!xsend_broken(s) && o->answers == 0)
			xsend_pump(s, 1000);
	}
	CHECK(!xsend_broken(s) && xsend_bye(s) == 0);
	xsend_free(s);
	hop_close(h);
	rep = receiver_report(rd, pid);
	CHECK_INT(g[1].o.answer, XS_LOST);
	CHECK(!strstr(rep, "C 1 "));
	CHECK_INT(g[0].o.answer, XF_ACK);
	CHECK(committed(rep, &g[0].o));
	CHECK(g[0].looks > 10);		/* it did wait for the bytes */
	for (int i = 0; i < 2; i++) {
		close(g[i].o.fd);
		free(g[i].content);
	}
	free(rep);
	freeconf(cf);
}

int
main(void)
{
	char path[128];

	signal(SIGPIPE, SIG_IGN);
	crypto_init();
	log_open("test_engine", "stderr");
	next_port = 30000 + (getpid() % 100) * 50;
	snprintf(dir, sizeof(dir), "/tmp/test_engine.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/A.key", dir);
	if (keys_generate(path, &kA) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/B.key", dir);
	keys_generate(path, &kB);

	TEST(window_tcp);
	TEST(window_udp);
	TEST(refusals_per_order);
	TEST(cut_mid_window);
	TEST(abort_mid_window);
	TEST(growing_file);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 2;
	}
	T_DONE();
}
