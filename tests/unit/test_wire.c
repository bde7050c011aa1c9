/*
 * test_wire.c - the hop channel as a user of shipd would meet it: the
 * handshake over TCP and over the UDP fallback, messages of every size in
 * both directions, 20 MB over UDP with 1 datagram in 5 lost, port ranges
 * honoured (and waited for when busy), and each refusal with the line the
 * log would show. Servers run in forked children on 127.0.0.1; ports come
 * from 20000-29999, chosen by pid so parallel runs do not collide.
 */
#include "t.h"
#include "hop_t.h"
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "wire/wire.h"
#include "wire/udp_int.h"
#include "wire/wire_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * libgcrypt keeps the pool its key generation draws from for the life of
 * the process; LeakSanitizer (ASan build) reports it at exit. Not ours.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";
}

static char dir[64];
static struct keys *kA, *kB, *kC, *kX;
static int next_port;

static int
ports(int n)
{
	int p = next_port;

	next_port += n;
	return p;
}

static double
now_s(void)
{
	return wire_now_us() / 1e6;
}

/* ---- a server in a child process, reporting lines through a pipe ---- */

typedef void (*serve_fn)(struct hop *h, int out);

struct srv {
	pid_t pid;
	int rd;
};

static struct srv
serve(const struct config *cf, const struct keys *k, int tcp, int udp, int timeout_s,
      serve_fn fn)
{
	struct srv s = { -1, -1 };
	int tfd = tcp ? wire_listen_tcp(cf) : -1, ufd = udp ? wire_listen_udp(cf) : -1;
	int pfd[2];

	if ((tcp && tfd < 0) || (udp && ufd < 0) || pipe(pfd) < 0) {
		printf("#   cannot listen: %s\n", err_get());
		return s;
	}
	fflush(stdout);
	fflush(stderr);
	if ((s.pid = fork()) == 0) {
		struct pollfd pf[2] = { { tfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };
		struct hop *h = NULL;

		close(pfd[0]);
		if (poll(pf, 2, 30000) <= 0) {
			say(pfd[1], "ERR nobody came\n");
			_exit(1);
		}
		if (tfd >= 0 && pf[0].revents) {
			h = hop_accept_tcp(cf, k, accept(tfd, NULL, NULL), timeout_s);
		} else {
			uint8_t d[2048];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(ufd, d, sizeof(d), 0, (struct sockaddr *)&from, &fl);

			h = hop_accept_udp(cf, k, d, n, (struct sockaddr *)&from, fl, timeout_s);
		}
		if (h == NULL) {
			say(pfd[1], "ERR %s\n", err_get());
			_exit(0);
		}
		say(pfd[1], "OK %s %s %d\n", hop_peer(h)->name, hop_proto(h), hop_local_port(h));
		if (fn)
			fn(h, pfd[1]);
		hop_close(h);
		say(pfd[1], "END\n");
		_exit(0);
	}
	close(pfd[1]);
	if (tfd >= 0)
		close(tfd);
	if (ufd >= 0)
		close(ufd);
	s.rd = pfd[0];
	return s;
}

/* Everything the server said, once it has exited; *t_end = when it did. */
static char *
server_wait(struct srv *s, double *t_end)
{
	struct sbuf b;
	char chunk[1024];
	int64_t end = wire_now_us() + 120 * 1000000LL;

	sbuf_init(&b);
	if (s->pid < 0)
		return b.s;
	for (;;) {
		ssize_t n;

		if (wire_wait(s->rd, POLLIN, end) <= 0) {
			kill(s->pid, SIGKILL);
			sbuf_puts(&b, "TIMEOUT waiting for the server\n");
			break;
		}
		if ((n = read(s->rd, chunk, sizeof(chunk))) <= 0)
			break;
		sbuf_add(&b, chunk, n);
	}
	if (t_end)
		*t_end = now_s();
	close(s->rd);
	waitpid(s->pid, NULL, 0);
	return b.s;
}

static void
echo(struct hop *h, int out)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG);

	for (;;) {
		ssize_t n = hop_recv(h, buf, HOP_MAX_MSG, 10);

		if (n < 0) {
			say(out, "RECVERR %s\n", err_get());
			break;
		}
		if (n == 0 && hop_eof(h)) {
			say(out, "CLOSED\n");
			break;
		}
		say(out, "GOT %zd\n", n);
		if (hop_send(h, buf, n) < 0) {
			say(out, "SENDERR %s\n", err_get());
			break;
		}
	}
	free(buf);
}

static void
greet_echo(struct hop *h, int out)
{
	static const char hi[] = "greetings from the server";

	if (hop_send(h, hi, sizeof(hi)) < 0)
		say(out, "SENDERR %s\n", err_get());
	echo(h, out);
}

/* Receive until "END", then send back the SHA-256 of everything. */
static void
sink(struct hop *h, int out)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG), d[SHA256_LEN];
	struct hash *sh = hash_new_sha256();
	size_t total = 0;

	for (;;) {
		ssize_t n = hop_recv(h, buf, HOP_MAX_MSG, 20);

		if (n < 0 || (n == 0 && hop_eof(h))) {
			say(out, "RECVERR %s\n", n < 0 ? err_get() : "closed early");
			return;
		}
		if (n == 3 && memcmp(buf, "END", 3) == 0)
			break;
		hash_update(sh, buf, n);
		total += n;
	}
	hash_final(sh, d);
	say(out, "TOTAL %zu\n", total);
	if (hop_send(h, d, sizeof(d)) < 0)
		say(out, "SENDERR %s\n", err_get());
	if (hop_recv(h, buf, HOP_MAX_MSG, 10) == 0 && hop_eof(h))
		say(out, "CLOSED\n");
	free(buf);
}

/* Handshake, then say nothing until the client gives up. */
static void
mute(struct hop *h, int out)
{
	sleep(4);
}

/* ---- the client side ---- */

/* Messages of 0, 1, 1000 and HOP_MAX_MSG bytes, echoed back intact. */
static void
exchange(struct hop *h)
{
	static const size_t sizes[] = { 0, 1, 1000, HOP_MAX_MSG };
	uint8_t *out = xmalloc(HOP_MAX_MSG), *in = xmalloc(HOP_MAX_MSG);
	char greet[64];

	CHECK_INT(hop_recv(h, greet, sizeof(greet), 10), 26);
	CHECK_STR(greet, "greetings from the server");
	/* pipelined: all four out before any comes back */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			out[j] = (uint8_t)(j * 7 + i);
		CHECK_INT(hop_send(h, out, sizes[i]), 0);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			out[j] = (uint8_t)(j * 7 + i);
		memset(in, 0xee, HOP_MAX_MSG);
		CHECK_INT(hop_recv(h, in, HOP_MAX_MSG, 10), sizes[i]);
		CHECK(memcmp(in, out, sizes[i]) == 0);
		CHECK(!hop_eof(h));
	}
	CHECK_INT(hop_send(h, out, HOP_MAX_MSG + 1), -1);
	CHECK_HAS(err_get(), "exceeds the hop limit");
	free(out);
	free(in);
}

static void
messages_over(int udp)
{
	int port = ports(1);
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
	struct srv s;
	struct hop *h;
	double t0;
	char *out;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	s = serve(cfB, kB, !udp, udp, 10, greet_echo);
	h = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
	CHECK(h != NULL);
	if (h) {
		CHECK_STR(hop_proto(h), udp ? "udp" : "tcp");
		CHECK_STR(hop_peer(h)->name, "B");
		CHECK(hop_local_port(h) > 0);
		CHECK_HAS(hop_remote(h), "127.0.0.1:");
		exchange(h);
		t0 = now_s();
		hop_close(h);
		CHECK(now_s() - t0 < 1.0);	/* the server closes at once */
	} else
		printf("#   %s\n", err_get());
	out = server_wait(&s, NULL);
	CHECK_HAS(out, udp ? "OK A udp" : "OK A tcp");
	CHECK_HAS(out, "GOT 0\nGOT 1\nGOT 1000\nGOT 262144\nCLOSED\nEND\n");
	free(out);
	freeconf(cfA);
	freeconf(cfB);
}

static void
tcp_messages(void)
{
	messages_over(0);
}

static void
udp_fallback_messages(void)
{
	messages_over(1);
}

/*
 * hop_connect_via with udp_first: UDP even when TCP listens too (a peer
 * whose TCP is known dropped); and a TCP that is refused (no listener) is
 * not a "timed out" one, which is what a sender remembers.
 */
static void
udp_first_connect(void)
{
	int port = ports(1);
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
	struct srv s;
	struct hop *h;
	char *out;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	s = serve(cfB, kB, 1, 1, 10, greet_echo);
	h = hop_connect_via(cfA, kA, config_peer(cfA, "B"), 10, 1);
	CHECK(h != NULL);
	if (h) {
		CHECK_STR(hop_proto(h), "udp");
		CHECK(!hop_tcp_timed_out(h));
		exchange(h);
		hop_close(h);
	} else
		printf("#   %s\n", err_get());
	out = server_wait(&s, NULL);
	CHECK_HAS(out, "OK A udp");
	free(out);
	/* UDP only: TCP refused at once, then UDP; not remembered as blocked */
	s = serve(cfB, kB, 0, 1, 10, greet_echo);
	h = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
	CHECK(h != NULL);
	if (h) {
		CHECK_STR(hop_proto(h), "udp");
		CHECK(!hop_tcp_timed_out(h));
		exchange(h);
		hop_close(h);
	}
	out = server_wait(&s, NULL);
	free(out);
	freeconf(cfA);
	freeconf(cfB);
}

static void
xorshift_fill(uint64_t *st, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t x = *st;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*st = x;
		memcpy(b + i, &x, n - i < 8 ? n - i : 8);
	}
}

/* Send mb MB in HOP_MAX_MSG messages; the server returns the checksum. */
static void
bulk(int udp, int mb, const char *loss)
{
	int port = ports(1), nmsg = mb * 4;
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
	uint8_t *buf = xmalloc(HOP_MAX_MSG), want[SHA256_LEN], got[64];
	struct hash *sh = hash_new_sha256();
	struct hop_udp_stats st;
	uint64_t x = 0x1234567887654321ULL;
	struct srv s;
	struct hop *h;
	double t0 = now_s(), dt;
	char *out;

	if (loss)
		setenv("SHIPD_TEST_UDP_LOSS", loss, 1);
	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	s = serve(cfB, kB, !udp, udp, 20, sink);
	h = hop_connect(cfA, kA, config_peer(cfA, "B"), 20);
	CHECK(h != NULL);
	if (h) {
		CHECK_STR(hop_proto(h), udp ? "udp" : "tcp");
		for (int i = 0; i < nmsg; i++) {
			xorshift_fill(&x, buf, HOP_MAX_MSG);
			hash_update(sh, buf, HOP_MAX_MSG);
			if (hop_send(h, buf, HOP_MAX_MSG) < 0) {
				printf("#   send %d: %s\n", i, err_get());
				CHECK(0);
				break;
			}
		}
		CHECK_INT(hop_send(h, "END", 3), 0);
		hash_final(sh, want);
		sh = NULL;
		CHECK_INT(hop_recv(h, got, sizeof(got), 30), SHA256_LEN);
		CHECK(memcmp(got, want, SHA256_LEN) == 0);
		dt = now_s() - t0;
		hop_udp_stats(h, &st);
		printf("# %s %d MB%s%s: %.2f s, %.1f MB/s", udp ? "udp" : "tcp", mb,
		       loss ? " with 1 datagram in " : "", loss ? loss : "", dt, mb / dt);
		if (udp)
			printf(", %lu datagrams sent, %lu resent (%lu timer expiries), %lu dropped by the test hook",
			       st.sent, st.rexmit, st.timeouts, st.test_dropped);
		printf("\n");
		if (loss) {
			CHECK(st.test_dropped > 0);
			CHECK(st.rexmit > 0);
		}
		hop_close(h);
	} else
		printf("#   %s\n", err_get());
	if (sh)
		hash_final(sh, want);
	if (loss)
		unsetenv("SHIPD_TEST_UDP_LOSS");
	out = server_wait(&s, NULL);
	{
		char want_total[64];

		snprintf(want_total, sizeof(want_total), "TOTAL %d\n", nmsg * HOP_MAX_MSG);
		CHECK_HAS(out, want_total);
	}
	CHECK_HAS(out, "CLOSED\nEND\n");
	free(out);
	free(buf);
	freeconf(cfA);
	freeconf(cfB);
}

static void
udp_20mb_with_loss(void)
{
	bulk(1, 20, "5");
}

static void
udp_20mb_throughput(void)
{
	bulk(1, 20, NULL);
}

static void
tcp_20mb_throughput(void)
{
	bulk(0, 20, NULL);
}

/* ---- port ranges ---- */

static void
port_range_honoured(void)
{
	int port = ports(1), a = ports(5), b = ports(5);
	struct config *cfB = mkconf("B", port, b, b + 4), *cfA = mkconf("A", 0, a, a + 4);

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	for (int udp = 0; udp <= 1; udp++) {
		struct srv s = serve(cfB, kB, !udp, udp, 10, echo);
		struct hop *h = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
		char *out;
		int sport = -1;

		CHECK(h != NULL);
		if (h) {
			CHECK_STR(hop_proto(h), udp ? "udp" : "tcp");
			CHECK(hop_local_port(h) >= a && hop_local_port(h) <= a + 4);
			hop_close(h);
		}
		out = server_wait(&s, NULL);
		if (udp) {	/* the server's session socket is in its range too */
			CHECK(out && sscanf(out, "OK A udp %d", &sport) == 1);
			CHECK(sport >= b && sport <= b + 4);
		}
		free(out);
	}
	freeconf(cfA);
	freeconf(cfB);
}

/* Two hops at once from one range to one server: two different ports. */
static void
port_range_two_hops(void)
{
	int port = ports(1), a = ports(3);
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, a, a + 2);
	int tfd, pfd[2];
	pid_t pid;
	struct hop *h1, *h2;
	char *out;
	struct srv s;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	tfd = wire_listen_tcp(cfB);
	CHECK(tfd >= 0 && pipe(pfd) == 0);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct hop *s1, *s2;
		struct pollfd pf = { tfd, POLLIN, 0 };
		char b[16];

		close(pfd[0]);
		poll(&pf, 1, 10000);
		s1 = hop_accept_tcp(cfB, kB, accept(tfd, NULL, NULL), 10);
		poll(&pf, 1, 10000);
		s2 = hop_accept_tcp(cfB, kB, accept(tfd, NULL, NULL), 10);
		say(pfd[1], "%s %s\n", s1 ? "OK1" : err_get(), s2 ? "OK2" : err_get());
		if (s1 && hop_recv(s1, b, sizeof(b), 10) == 0 && hop_eof(s1))
			say(pfd[1], "CLOSED1\n");
		if (s2 && hop_recv(s2, b, sizeof(b), 10) == 0 && hop_eof(s2))
			say(pfd[1], "CLOSED2\n");
		hop_close(s1);
		hop_close(s2);
		_exit(0);
	}
	close(pfd[1]);
	close(tfd);
	s.pid = pid;
	s.rd = pfd[0];
	h1 = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
	h2 = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
	CHECK(h1 && h2);
	if (h1 && h2) {
		CHECK(hop_local_port(h1) >= a && hop_local_port(h1) <= a + 2);
		CHECK(hop_local_port(h2) >= a && hop_local_port(h2) <= a + 2);
		CHECK(hop_local_port(h1) != hop_local_port(h2));
	}
	hop_close(h1);
	hop_close(h2);
	out = server_wait(&s, NULL);
	CHECK_HAS(out, "OK1 OK2\nCLOSED1\nCLOSED2\n");
	free(out);
	freeconf(cfA);
	freeconf(cfB);
}

/*
 * Ten UDP hops open at once through ranges of ten ports on each side: one
 * port per hop, all in range; an eleventh finds the range busy.
 */
static void
port_range_ten_udp_hops(void)
{
	enum { N = 10 };
	int port = ports(1), a = ports(N), b = ports(N), ufd, pfd[2];
	struct config *cfB = mkconf("B", port, b, b + N - 1), *cfA = mkconf("A", 0, a, a + N - 1);
	struct hop *h[N], *extra;
	int seen[N] = { 0 }, ok = 1;
	struct srv s;
	char *out, *line, want[96];
	pid_t pid;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	ufd = wire_listen_udp(cfB);
	CHECK(ufd >= 0 && pipe(pfd) == 0);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct hop *sh[N];
		char buf[16];

		close(pfd[0]);
		for (int i = 0; i < N; i++) {
			struct pollfd pf = { ufd, POLLIN, 0 };
			uint8_t d[2048];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n;

			poll(&pf, 1, 10000);
			n = recvfrom(ufd, d, sizeof(d), 0, (struct sockaddr *)&from, &fl);
			sh[i] = hop_accept_udp(cfB, kB, d, n, (struct sockaddr *)&from, fl, 10);
			if (sh[i] == NULL) {
				say(pfd[1], "ERR %s\n", err_get());
				_exit(1);
			}
			say(pfd[1], "PORT %d\n", hop_local_port(sh[i]));
		}
		for (int i = 0; i < N; i++) {
			if (hop_recv(sh[i], buf, sizeof(buf), 10) == 0 && hop_eof(sh[i]))
				say(pfd[1], "CLOSED\n");
			hop_close(sh[i]);
		}
		_exit(0);
	}
	close(pfd[1]);
	close(ufd);
	s.pid = pid;
	s.rd = pfd[0];
	for (int i = 0; i < N; i++) {
		h[i] = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
		CHECK(h[i] != NULL && strcmp(hop_proto(h[i]), "udp") == 0);
		if (h[i] == NULL)
			continue;
		CHECK(hop_local_port(h[i]) >= a && hop_local_port(h[i]) < a + N);
		for (int j = 0; j < i; j++)
			CHECK(h[j] == NULL || hop_local_port(h[j]) != hop_local_port(h[i]));
	}
	extra = hop_connect(cfA, kA, config_peer(cfA, "B"), 1);
	CHECK(extra == NULL);
	snprintf(want, sizeof(want), "udp: port range %d-%d busy: no free UDP port after 1 s",
		 a, a + N - 1);
	CHECK_HAS(err_get(), want);
	hop_close(extra);
	for (int i = 0; i < N; i++)
		hop_close(h[i]);
	out = server_wait(&s, NULL);
	for (line = out; (line = strstr(line, "PORT ")) != NULL; line++) {
		int p = atoi(line + 5);

		if (p < b || p >= b + N || seen[p - b]++)
			ok = 0;
	}
	for (int i = 0; i < N; i++)
		ok &= seen[i] == 1;
	CHECK(ok);
	CHECK_HAS(out, "CLOSED\nCLOSED\nCLOSED\nCLOSED\nCLOSED\nCLOSED\nCLOSED\nCLOSED\nCLOSED\nCLOSED\n");
	free(out);
	freeconf(cfA);
	freeconf(cfB);
}

static int
bind_udp(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
port_range_busy(void)
{
	int r = ports(3), held[3], fd, rc, pfd[2];
	struct config *cf = mkconf("A", 0, r, r + 2);
	char want[80], c;
	double t0, dt;
	pid_t pid;

	/* every port taken: wait wait_s, then a clear failure, never a port outside */
	for (int i = 0; i < 3; i++)
		CHECK((held[i] = bind_udp(r + i)) >= 0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	t0 = now_s();
	rc = port_bind(cf, fd, AF_INET, 2);
	dt = now_s() - t0;
	CHECK_INT(rc, -1);
	CHECK(dt >= 1.9 && dt < 3.0);
	snprintf(want, sizeof(want), "port range %d-%d busy", r, r + 2);
	CHECK_HAS(err_get(), want);
	close(fd);
	for (int i = 0; i < 3; i++)
		close(held[i]);

	/* TCP: a listener holds its port even against SO_REUSEADDR */
	for (int i = 0; i < 3; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(r + i) };

		held[i] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(bind(held[i], (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		      listen(held[i], 1) == 0);
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_INT(port_bind(cf, fd, AF_INET, 0), -1);
	CHECK_HAS(err_get(), want);
	close(fd);
	for (int i = 0; i < 3; i++)
		close(held[i]);

	/* a port freed while waiting is taken */
	CHECK(pipe(pfd) == 0);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		for (int i = 0; i < 3; i++)
			held[i] = bind_udp(r + i);
		if (write(pfd[1], "x", 1) < 0) {
		}
		usleep(1000000);
		_exit(0);
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &c, 1) == 1);
	close(pfd[0]);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	t0 = now_s();
	CHECK_INT(port_bind(cf, fd, AF_INET, 10), 0);
	dt = now_s() - t0;
	CHECK(dt >= 0.8 && dt < 3.0);
	{
		struct sockaddr_in sin;
		socklen_t sl = sizeof(sin);

		getsockname(fd, (struct sockaddr *)&sin, &sl);
		CHECK(ntohs(sin.sin_port) >= r && ntohs(sin.sin_port) <= r + 2);
	}
	close(fd);
	waitpid(pid, NULL, 0);

	/* no range: any port */
	cf->min_port = cf->max_port = 0;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK_INT(port_bind(cf, fd, AF_INET, 0), 0);
	close(fd);
	freeconf(cf);
}

/* ---- refusals ---- */

/*
 * Client `cname` (signing with ck; its idea of B's key is bk) dials server
 * B, which knows A (key kA) and C (key kC). Returns the client's error (or
 * "" when it got in) in cerr, the server's report in *sout.
 */
static void
refusal(int udp, const char *cname, struct keys *ck, struct keys *bk, char *cerr,
	size_t cerrsz, char **sout)
{
	int port = ports(1);
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf(cname, 0, 0, 0);
	struct srv s;
	struct hop *h;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfB, "C", 0, kC);
	addpeer(cfB, "K", 0, kX);	/* made a KEY node below: known by key only */
	free(cfB->peers[cfB->npeers - 1].host);
	cfB->peers[cfB->npeers - 1].host = NULL;
	cfB->peers[cfB->npeers - 1].file = "keys/K.pub";
	addpeer(cfA, "B", port, bk);
	s = serve(cfB, kB, !udp, udp, 3, echo);
	h = hop_connect(cfA, ck, config_peer(cfA, "B"), 3);
	snprintf(cerr, cerrsz, "%s", h ? "" : err_get());
	hop_close(h);
	*sout = server_wait(&s, NULL);
	if (getenv("VERBOSE"))
		printf("#   client: %s\n#   server: %s", cerr, *sout);
	freeconf(cfA);
	freeconf(cfB);
}

static void
refuse_unknown_node(void)
{
	char cerr[1024], *sout;

	refusal(0, "X", kX, kB, cerr, sizeof(cerr), &sout);
	CHECK_HAS(sout, "ERR hop from 127.0.0.1:");
	CHECK_HAS(sout, "unknown peer X");
	CHECK_HAS(cerr, "hop to B (127.0.0.1:");
	CHECK_HAS(cerr, "B closed the connection in handshake (does it know X");
	free(sout);
}

/*
 * Issue 14: a node B knows only by its key (a KEY line, or KEYS-DIR/K.pub)
 * is not a PEER, and shipping.conf(5) says only PEERs may connect. It used
 * to be accepted as a direct hop from an allowed address.
 */
static void
refuse_key_only_node(void)
{
	char cerr[1024], *sout;

	for (int udp = 0; udp <= 1; udp++) {
		refusal(udp, "K", kX, kB, cerr, sizeof(cerr), &sout);
		CHECK_HAS(sout, "ERR hop from 127.0.0.1:");
		CHECK_HAS(sout, "K is known here by its key only");
		CHECK_HAS(sout, "only a PEER may be a direct hop");
		CHECK(cerr[0] != 0);
		free(sout);
	}
}

static void
refuse_stolen_name(void)
{
	char cerr[1024], *sout;

	for (int udp = 0; udp <= 1; udp++) {	/* X says it is A, without A's key */
		refusal(udp, "A", kX, kB, cerr, sizeof(cerr), &sout);
		CHECK_HAS(sout, "bad handshake signature from A");
		CHECK_HAS(cerr, "B refused us");
		free(sout);
	}
}

static void
refuse_other_peers_name(void)
{
	char cerr[1024], *sout;

	refusal(0, "C", kA, kB, cerr, sizeof(cerr), &sout);	/* A says it is C */
	CHECK_HAS(sout, "bad handshake signature from C");
	CHECK(cerr[0] != 0);
	free(sout);
}

static void
refuse_wrong_server_key(void)
{
	char cerr[1024], *sout;

	for (int udp = 0; udp <= 1; udp++) {	/* our PEER line for B has C's key */
		refusal(udp, "A", kA, kC, cerr, sizeof(cerr), &sout);
		CHECK_HAS(cerr, "bad handshake signature from B");
		CHECK_HAS(sout, "ERR hop from");
		free(sout);
	}
}

static void
refuse_garbage(void)
{
	static const uint8_t v7[] = "SHIPD-HOP\007\001A";
	int port = ports(1), fd;
	struct config *cfB = mkconf("B", port, 0, 0);
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct srv s;
	double t0, t1;
	char *out;

	addpeer(cfB, "A", 0, kA);
	s = serve(cfB, kB, 1, 0, 5, echo);
	t0 = now_s();
	fd = raw_connect(port);
	CHECK(fd >= 0);
	CHECK(send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
	out = server_wait(&s, &t1);
	CHECK_HAS(out, "not a shipd peer: bad magic");
	CHECK(t1 - t0 < 1.0);
	free(out);
	close(fd);

	/* the same through the UDP door, and a version from the future */
	from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(hop_accept_udp(cfB, kB, "hello world", 11, (struct sockaddr *)&from,
			     sizeof(from), 1) == NULL);
	CHECK_HAS(err_get(), "hop from 127.0.0.1:9: not a shipd peer: bad magic");
	CHECK(hop_accept_udp(cfB, kB, v7, sizeof(v7) - 1, (struct sockaddr *)&from,
			     sizeof(from), 1) == NULL);
	CHECK_HAS(err_get(), "unsupported hop protocol version 7");

	/* what the master lets through to a child */
	{
		struct wire_hs hs;
		uint8_t dg[HOP_UDP_HELLO_LEN] = { 0 };

		CHECK(wire_hs_begin(&hs, cfB, 0) == 0 && wire_hs_hello_make(&hs, "A") == 0);
		memcpy(dg, hs.m1, hs.m1len);
		CHECK(hop_udp_is_hello(dg, sizeof(dg)));
		CHECK(!hop_udp_is_hello(dg, hs.m1len));
		CHECK(!hop_udp_is_hello("hello world", 11));
		wire_hs_end(&hs);
	}
	freeconf(cfB);
}

static void
silent_client_dropped(void)
{
	int port = ports(1), fd;
	struct config *cfB = mkconf("B", port, 0, 0);
	struct srv s;
	double t0, t1;
	char *out;

	addpeer(cfB, "A", 0, kA);
	for (int half = 0; half <= 1; half++) {
		s = serve(cfB, kB, 1, 0, 2, echo);
		t0 = now_s();
		fd = raw_connect(port);
		CHECK(fd >= 0);
		if (half) {	/* a half hello, then nothing */
			uint8_t hh[12] = "SHIPD-HOP\000\001A";

			hh[HOP_MAGIC_LEN] = HOP_VERSION;
			CHECK(send(fd, hh, sizeof(hh), MSG_NOSIGNAL) == 12);
		}
		out = server_wait(&s, &t1);
		CHECK_HAS(out, "timeout in handshake");
		CHECK(t1 - t0 >= 1.9 && t1 - t0 <= 3.0);
		free(out);
		close(fd);
	}
	freeconf(cfB);
}

/*
 * Nodes of the previous releases (hop protocol 4: no body frames; 3: no
 * window) meet this one: the server logs both versions, and answers with
 * its own version head, so that the old client's existing check logs
 * both versions too.
 */
static void
refuse_old_version(void)
{
	for (int v = 5; v >= 3; v--) {
		int port = ports(1), fd;
		struct config *cfB = mkconf("B", port, 0, 0);
		uint8_t head[64], hello[12] = "SHIPD-HOP\000\001A";
		char want[100];
		struct srv s;
		char *out;
		ssize_t n;

		addpeer(cfB, "A", 0, kA);
		s = serve(cfB, kB, 1, 0, 2, echo);
		fd = raw_connect(port);
		CHECK(fd >= 0);
		hello[HOP_MAGIC_LEN] = (uint8_t)v;
		CHECK(send(fd, hello, sizeof(hello), MSG_NOSIGNAL) == 12);
		out = server_wait(&s, NULL);
		snprintf(want, sizeof(want),
			 "unsupported hop protocol version %d (this shipd speaks 6)", v);
		CHECK_HAS(out, want);
		n = recv(fd, head, sizeof(head), MSG_WAITALL);
		CHECK(n >= 11);
		/* what an older client reads first: it refuses with both numbers */
		CHECK(n >= 11 && memcmp(head, "SHIPD-HOP", 9) == 0 && head[9] == 6 &&
		      head[10] == 0);
		CHECK(wire_hs_head(head, 11, 1) > 0);	/* and this version reads it as a refusal */
		free(out);
		close(fd);
		freeconf(cfB);
	}
}

/* A web server where a shipd should be; peers we cannot dial at all. */
static void
connect_errors(void)
{
	int port = ports(1), lfd, c;
	struct config *cfA = mkconf("A", 0, 0, 0), *cfW = mkconf("W", port, 0, 0);
	pid_t pid;

	addpeer(cfA, "B", port, kB);
	lfd = wire_listen_tcp(cfW);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		poll(&(struct pollfd){ lfd, POLLIN, 0 }, 1, 10000);
		c = accept(lfd, NULL, NULL);
		if (write(c, "HTTP/1.1 400 Bad Request\r\n\r\n", 28) < 0) {
		}
		sleep(2);
		_exit(0);
	}
	close(lfd);
	CHECK(hop_connect(cfA, kA, config_peer(cfA, "B"), 5) == NULL);
	CHECK_HAS(err_get(), "over tcp: not a shipd peer: bad magic");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	addpeer(cfA, "K", 0, kC);		/* a KEY line: no address */
	free(cfA->peers[1].host);
	cfA->peers[1].host = NULL;
	CHECK(hop_connect(cfA, kA, config_peer(cfA, "K"), 5) == NULL);
	CHECK_HAS(err_get(), "hop to K (-:0): it has no address");
	addpeer(cfA, "N", port, NULL);		/* a PEER without a key */
	CHECK(hop_connect(cfA, kA, config_peer(cfA, "N"), 5) == NULL);
	CHECK_HAS(err_get(), "no key configured for it");
	addpeer(cfA, "D", port, kC);
	free(cfA->peers[3].host);
	cfA->peers[3].host = xstrdup("no-such-host.invalid");
	CHECK(hop_connect(cfA, kA, config_peer(cfA, "D"), 5) == NULL);
	CHECK_HAS(err_get(), "hop to D (no-such-host.invalid:");
	CHECK_HAS(err_get(), "cannot resolve no-such-host.invalid");
	freeconf(cfA);
	freeconf(cfW);
}

/* Nobody at all: TCP refused, UDP unanswered: fails in about timeout_s. */
static void
silent_server_udp(void)
{
	int port = ports(1);
	struct config *cfA = mkconf("A", 0, 0, 0);
	struct hop *h;
	double t0 = now_s(), dt;

	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int mute_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* a UDP socket that never answers: no ICMP, so the whole timeout */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(mute_fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	addpeer(cfA, "B", port, kB);
	h = hop_connect(cfA, kA, config_peer(cfA, "B"), 2);
	dt = now_s() - t0;
	CHECK(h == NULL);
	CHECK_HAS(err_get(), "tcp: Connection refused; udp: timeout in handshake");
	CHECK(dt >= 1.9 && dt <= 3.0);
	close(mute_fd);
	freeconf(cfA);
}

/* Nothing at all on the port: ICMP port unreachable ends the attempt at once. */
static void
nobody_listening_udp(void)
{
	int port = ports(1);
	struct config *cfA = mkconf("A", 0, 0, 0);
	struct hop *h;
	double t0 = now_s(), dt;

	addpeer(cfA, "B", port, kB);
	h = hop_connect(cfA, kA, config_peer(cfA, "B"), 5);
	dt = now_s() - t0;
	CHECK(h == NULL);
	CHECK_HAS(err_get(), "tcp: Connection refused; udp: port unreachable");
	CHECK(dt < 1.0);
	freeconf(cfA);
}

/* A peer that goes quiet after the handshake: hop_recv gives up in time. */
static void
silent_peer_timeout(void)
{
	for (int udp = 0; udp <= 1; udp++) {
		int port = ports(1);
		struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
		struct srv s;
		struct hop *h;
		char buf[16], *out;
		double t0, dt;

		addpeer(cfB, "A", 0, kA);
		addpeer(cfA, "B", port, kB);
		s = serve(cfB, kB, !udp, udp, 10, mute);
		h = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
		CHECK(h != NULL);
		if (h) {
			t0 = now_s();
			CHECK_INT(hop_recv(h, buf, sizeof(buf), 1), -1);
			dt = now_s() - t0;
			CHECK_HAS(err_get(), "timeout waiting for a message");
			CHECK(dt >= 0.9 && dt <= 2.0);
			hop_close(h);
		}
		out = server_wait(&s, NULL);
		free(out);
		freeconf(cfA);
		freeconf(cfB);
	}
}

/* The server's side of slow_frame_dropped: one message within 2 s. */
static void
recv_one_2s(struct hop *h, int out)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	ssize_t n = hop_recv(h, buf, HOP_MAX_MSG, 2);

	if (n < 0)
		say(out, "RECVERR %s\n", err_get());
	else
		say(out, "GOT %zd\n", n);
	free(buf);
}

/*
 * An authenticated peer that sends a frame one byte every 100 ms: the
 * whole frame must arrive within the timeout (2 s here), not each byte,
 * so the 61-byte frame (6 s at that pace) is given up after 2 s.
 */
static void
slow_frame_dropped(void)
{
	int port = ports(1), sv[2];
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
	uint8_t frame[256], msg40[40] = {0};
	struct srv s;
	struct hop *h;
	char *out;
	ssize_t flen = 0, n;
	double t0, dt, t_end = 0;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	s = serve(cfB, kB, 1, 0, 10, recv_one_2s);
	h = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
	CHECK(h != NULL);
	if (h == NULL) {
		free(server_wait(&s, NULL));
		return;
	}
	/* seal one frame into a socketpair, then trickle it to the server */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	{
		int real = h->fd;

		h->fd = sv[0];
		CHECK_INT(hop_send(h, msg40, sizeof(msg40)), 0);
		h->fd = real;
		while (flen < (ssize_t)sizeof(frame) &&
		       (n = recv(sv[1], frame + flen, sizeof(frame) - flen, MSG_DONTWAIT)) > 0)
			flen += n;
		close(sv[0]);
		close(sv[1]);
	}
	CHECK_INT(flen, 4 + 1 + 40 + AEAD_TAG_LEN);
	/* the server's "OK" line of the handshake, so what comes next is news */
	if (wire_wait(s.rd, POLLIN, wire_now_us() + 10000000) == 1 &&
	    (n = read(s.rd, frame + flen, sizeof(frame) - flen - 1)) > 0) {
		frame[flen + n] = 0;
		CHECK_HAS((char *)frame + flen, "OK A tcp");
	}
	t0 = now_s();
	for (ssize_t i = 0; i < flen; i++) {
		if (send(h->fd, frame + i, 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(100000);
		if (wire_wait(s.rd, POLLIN, wire_now_us()) == 1)
			break;		/* the server has spoken: given up, or got it */
	}
	out = server_wait(&s, &t_end);
	dt = t_end - t0;
	printf("#   server after %.1f s: %s", dt, out);
	CHECK_HAS(out, "RECVERR");
	CHECK_HAS(out, "timeout waiting for a message");
	CHECK(strstr(out, "GOT") == NULL);
	h->dead = 1;
	hop_close(h);
	free(out);
	freeconf(cfA);
	freeconf(cfB);
}

/* ---- a man in the middle on TCP ---- */

enum { MITM_FLIP, MITM_DROP, MITM_REPLAY };

/* Do mode to the client's first sealed frame. */
static int
mitm_first(uint8_t *f, size_t n, int i, void *arg)
{
	int mode = *(int *)arg;

	if (i > 0)
		return 1;
	if (mode == MITM_FLIP)
		f[4 + 2] ^= 0x01;
	return mode == MITM_DROP ? 0 : mode == MITM_REPLAY ? 2 : 1;
}

/*
 * Relay client <-> server, holding back what the server sends after its
 * REPLY (`reply` bytes: the HSOK and all after it) until the client has
 * sent more than `hs` bytes (HELLO and AUTH): a client that waits for the
 * HSOK before it sends waits for ever here.
 */
static void
hold_proxy(int lfd, int server_port, size_t reply, size_t hs)
{
	static uint8_t held[65536];
	size_t from_c = 0, from_s = 0, nheld = 0;
	int c, sv;
	struct pollfd pf[2];

	poll(&(struct pollfd){ lfd, POLLIN, 0 }, 1, 10000);
	c = accept(lfd, NULL, NULL);
	sv = raw_connect(server_port);
	pf[0] = (struct pollfd){ c, POLLIN, 0 };
	pf[1] = (struct pollfd){ sv, POLLIN, 0 };
	while (poll(pf, 2, 10000) > 0) {
		uint8_t b[65536];
		ssize_t n;

		if (pf[1].revents) {
			size_t now;

			if ((n = read(sv, b, sizeof(b))) <= 0)
				break;
			now = from_s < reply ? reply - from_s : 0;
			if (now > (size_t)n)
				now = n;
			if (from_c > hs)
				now = n;
			if (write_all(c, b, now) < 0 || nheld + (n - now) > sizeof(held))
				break;
			memcpy(held + nheld, b + now, n - now);
			nheld += n - now;
			from_s += n;
		}
		if (pf[0].revents) {
			if ((n = read(c, b, sizeof(b))) <= 0 || write_all(sv, b, n) < 0)
				break;
			from_c += n;
		}
		if (from_c > hs && nheld) {
			if (write_all(c, held, nheld) < 0)
				break;
			nheld = 0;
		}
	}
	_exit(0);
}

/*
 * Issue 15: a sender's handshake costs one round trip after the TCP
 * connect. With HOP_EARLY the client sends its first message right after
 * AUTH, before the server's HSOK (which a proxy here holds back until
 * that message passes); without it, the same connect waits for the HSOK
 * and times out. A refusal after an early start is the first receive's
 * error, and hop_refused says so.
 */
static void
early_messages(void)
{
	int port = ports(1), pport = ports(1), lfd;
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
	struct config *cfP = mkconf("P", pport, 0, 0);
	size_t hs = HS_HEAD_LEN + 1 + X25519_LEN + ED25519_SIG_LEN + 2;	/* HELLO + AUTH */
	size_t reply = HS_HEAD_LEN + 1 + X25519_LEN + ED25519_SIG_LEN + 2;
	char buf[16], *out;
	struct srv s;
	struct hop *h;
	pid_t pid;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", pport, kB);	/* A dials the proxy */
	for (int early = 0; early <= 1; early++) {
		s = serve(cfB, kB, 1, 0, 5, echo);
		lfd = wire_listen_tcp(cfP);
		fflush(stdout);
		if ((pid = fork()) == 0)
			hold_proxy(lfd, port, reply, hs);
		close(lfd);
		h = hop_connect_via(cfA, kA, config_peer(cfA, "B"), 2, early ? HOP_EARLY : 0);
		if (!early) {
			CHECK(h == NULL);	/* waited for the HSOK the proxy holds */
			CHECK_HAS(err_get(), "timeout in handshake");
		} else {
			CHECK(h != NULL);
			if (h) {
				CHECK_INT(hop_send(h, "one", 3), 0);
				CHECK_INT(hop_recv(h, buf, sizeof(buf), 5), 3);
				CHECK(memcmp(buf, "one", 3) == 0);
				CHECK_INT(hop_refused(h), 0);
			} else
				printf("#   %s\n", err_get());
		}
		hop_close(h);
		out = server_wait(&s, NULL);
		if (early)
			CHECK_HAS(out, "GOT 3\n");
		free(out);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}

	/* X says it is A: B refuses it after AUTH; the early client learns it
	 * at its first receive */
	s = serve(cfB, kB, 1, 0, 5, echo);
	cfA->peers[0].port = port;	/* straight to B now */
	h = hop_connect_via(cfA, kX, config_peer(cfA, "B"), 5, HOP_EARLY);
	CHECK(h != NULL);
	if (h) {
		hop_send(h, "one", 3);		/* may fail already: the refusal */
		CHECK_INT(hop_recv(h, buf, sizeof(buf), 5), -1);
		CHECK_HAS(err_get(), "refused us");
		CHECK_INT(hop_refused(h), 1);
		CHECK_INT(hop_send(h, "two", 3), -1);
		CHECK_HAS(err_get(), "refused us");
		hop_close(h);
	}
	out = server_wait(&s, NULL);
	CHECK_HAS(out, "bad handshake signature from A");
	free(out);
	freeconf(cfA);
	freeconf(cfB);
	freeconf(cfP);
}

static void
tampered_tcp_frames(void)
{
	static const char *names[] = { "flipped", "dropped", "replayed" };
	static const char *want[] = {
		"frame 0 failed authentication", "frame 0 failed authentication",
		"frame 1 failed authentication",
	};

	for (int mode = MITM_FLIP; mode <= MITM_REPLAY; mode++) {
		int port = ports(1), pport = ports(1), lfd;
		struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
		struct config *cfP = mkconf("P", pport, 0, 0);
		struct srv s;
		struct hop *h;
		pid_t pid;
		char *out;

		addpeer(cfB, "A", 0, kA);
		addpeer(cfA, "B", pport, kB);	/* A dials the proxy */
		s = serve(cfB, kB, 1, 0, 5, echo);
		lfd = wire_listen_tcp(cfP);
		fflush(stdout);
		if ((pid = fork()) == 0)	/* HELLO (44 bytes for "A") + AUTH (64) */
			hop_mitm(lfd, port, HS_HEAD_LEN + 1 + X25519_LEN + ED25519_SIG_LEN + 2,
				 mitm_first, &mode);
		close(lfd);
		h = hop_connect(cfA, kA, config_peer(cfA, "B"), 5);
		CHECK(h != NULL);
		if (h) {
			hop_send(h, "one", 3);
			hop_send(h, "two", 3);
			hop_close(h);
		}
		out = server_wait(&s, NULL);
		if (!strstr(out, want[mode]))
			printf("#   %s frame not caught\n", names[mode]);
		CHECK_HAS(out, want[mode]);
		CHECK(strstr(out, "GOT 3\nGOT 3") == NULL);
		free(out);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		freeconf(cfA);
		freeconf(cfB);
		freeconf(cfP);
	}
}

/*
 * A late REPLY to an earlier connection from the same port (a port range
 * hands the next connection that port at once) must not spoil the new
 * connection: a REPLY that does not echo this HELLO's key is ignored.
 */
static void
udp_stale_reply_ignored(void)
{
	int port = ports(1), a = ports(1);
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, a, a);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(a) };
	struct srv s;
	struct hop *h;
	pid_t pid;
	char *out;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fflush(stdout);
	if ((pid = fork()) == 0) {	/* the earlier session's server, still answering */
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		int64_t end = wire_now_us() + 1500000;
		uint8_t r[200];

		memset(r, 0x5a, sizeof(r));
		r[0] = UDP_T_REPLY;
		while (wire_now_us() < end) {
			(void)sendto(fd, r, sizeof(r), 0, (struct sockaddr *)&to, sizeof(to));
			usleep(2000);
		}
		_exit(0);
	}
	usleep(100000);
	s = serve(cfB, kB, 0, 1, 10, echo);
	h = hop_connect(cfA, kA, config_peer(cfA, "B"), 10);
	CHECK(h != NULL);
	if (h) {
		CHECK_STR(hop_proto(h), "udp");
		CHECK_INT(hop_local_port(h), a);
		CHECK_INT(hop_send(h, "x", 1), 0);
		hop_close(h);
	} else {
		printf("#   %s\n", err_get());
	}
	out = server_wait(&s, NULL);
	CHECK_HAS(out, "GOT 1");
	free(out);
	waitpid(pid, NULL, 0);
	freeconf(cfA);
	freeconf(cfB);
}

/* ---- the UDP receive path, fed datagrams by hand ---- */

/* A packet as a peer holding key a would send it: number pn, frames f. */
static size_t
seal_pkt(struct aead *a, uint64_t pn, const uint8_t *f, size_t n, uint8_t *dg)
{
	memcpy(dg + UDP_HDR, f, n);
	return udp_seal(a, pn, dg, n);
}

/* One message as stream bytes at off: its STREAM frame into f. */
static size_t
stream_msg(uint64_t off, const char *m, uint8_t *f)
{
	size_t len = strlen(m), h = uf_put_stream_hdr(f, off, 4 + len, 0);

	f[h] = f[h + 1] = f[h + 2] = 0;
	f[h + 3] = (uint8_t)len;
	memcpy(f + h + 4, m, len);
	return h + 4 + len;
}

static void
udp_drops_bad_datagrams(void)
{
	uint8_t k1[AEAD_KEY_LEN], k2[AEAD_KEY_LEN], dg[UDP_DGRAM_CAP], bad[UDP_DGRAM_CAP];
	uint8_t buf[64], f[256];
	struct peer pa = { .name = "A" }, pb = { .name = "B" };
	struct aead *seal = NULL;
	struct hop_udp_stats st;
	struct hop *a, *b;
	int sv[2];
	ssize_t n;

	crypto_random(k1, sizeof(k1));
	crypto_random(k2, sizeof(k2));
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	a = wire_hop_new(sv[0], HOP_UDP, 0, 2, &pb, aead_new(k1), aead_new(k2), "a");
	b = wire_hop_new(sv[1], HOP_UDP, 1, 2, &pa, aead_new(k2), aead_new(k1), "b");

	CHECK_INT(hop_send(a, "hello", 5), 0);
	n = recv(sv[1], dg, sizeof(dg), 0);	/* take it off the wire */
	CHECK(n > 0);
	memcpy(bad, dg, n);
	bad[12] ^= 0x40;			/* altered */
	udp_hop_input(b, bad, n);
	hop_udp_stats(b, &st);
	CHECK_INT(st.bad, 1);
	CHECK(!udp_hop_pending(b));
	udp_hop_input(b, dg, n);		/* the real one */
	CHECK(udp_hop_pending(b));
	CHECK_INT(hop_recv(b, buf, sizeof(buf), 1), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	udp_hop_input(b, dg, n);		/* replayed */
	hop_udp_stats(b, &st);
	CHECK_INT(st.dup, 1);
	CHECK(!udp_hop_pending(b));

	/* sealed with the right key, but stream bytes far beyond the window */
	seal = aead_new(k1);
	n = seal_pkt(seal, 100, f, stream_msg(100000000, "late", f), dg);
	udp_hop_input(b, dg, n);
	hop_udp_stats(b, &st);
	CHECK_INT(st.oow, 1);
	CHECK(!udp_hop_pending(b));
	udp_hop_input(b, dg, 3);		/* runt */
	udp_hop_input(b, (const uint8_t *)"\x09garbage-garbage", 16);
	hop_udp_stats(b, &st);
	CHECK_INT(st.bad, 3);

	/* out of order: the third message, then the second, delivered in order
	 * ("hello" took stream bytes 0-8) */
	n = seal_pkt(seal, 2, f, stream_msg(9 + 4 + 6, "third", f), dg);
	udp_hop_input(b, dg, n);
	CHECK(!udp_hop_pending(b));
	n = seal_pkt(seal, 1, f, stream_msg(9, "second", f), dg);
	udp_hop_input(b, dg, n);
	CHECK_INT(hop_recv(b, buf, sizeof(buf), 1), 6);
	CHECK(memcmp(buf, "second", 6) == 0);
	CHECK_INT(hop_recv(b, buf, sizeof(buf), 1), 5);
	CHECK(memcmp(buf, "third", 5) == 0);
	/* the same bytes again in a new packet (a retransmission): nothing new */
	n = seal_pkt(seal, 3, f, stream_msg(9, "second", f), dg);
	udp_hop_input(b, dg, n);
	CHECK(!udp_hop_pending(b));
	/* a number already used, with other contents: dropped unopened */
	n = seal_pkt(seal, 0, f, stream_msg(9, "second", f), dg);
	udp_hop_input(b, dg, n);
	hop_udp_stats(b, &st);
	CHECK_INT(st.dup, 2);
	/* an authenticated but malformed packet: the hop is broken, loudly */
	f[0] = 0x3f;
	n = seal_pkt(seal, 4, f, 1, dg);
	udp_hop_input(b, dg, n);
	CHECK(b->dead);
	CHECK_INT(hop_recv(b, buf, sizeof(buf), 1), -1);
	CHECK_HAS(err_get(), "malformed packet");
	aead_free(seal);

	a->dead = b->dead = 1;			/* no closing handshake here */
	hop_close(a);
	hop_close(b);
}

int
main(void)
{
	char path[128];

	signal(SIGPIPE, SIG_IGN);
	crypto_init();
	log_open("test_wire", "stderr");
	next_port = 20000 + (getpid() % 100) * 100;	/* a test uses about 70 */
	snprintf(dir, sizeof(dir), "/tmp/test_wire.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/A.key", dir);
	if (keys_generate(path, &kA) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/B.key", dir);
	keys_generate(path, &kB);
	snprintf(path, sizeof(path), "%s/C.key", dir);
	keys_generate(path, &kC);
	snprintf(path, sizeof(path), "%s/X.key", dir);
	keys_generate(path, &kX);

	TEST(tcp_messages);
	TEST(udp_fallback_messages);
	TEST(udp_first_connect);
	TEST(udp_20mb_with_loss);
	TEST(udp_20mb_throughput);
	TEST(tcp_20mb_throughput);
	TEST(port_range_honoured);
	TEST(port_range_two_hops);
	TEST(port_range_ten_udp_hops);
	TEST(port_range_busy);
	TEST(refuse_unknown_node);
	TEST(refuse_key_only_node);
	TEST(refuse_stolen_name);
	TEST(refuse_other_peers_name);
	TEST(refuse_wrong_server_key);
	TEST(refuse_garbage);
	TEST(silent_client_dropped);
	TEST(refuse_old_version);
	TEST(connect_errors);
	TEST(silent_server_udp);
	TEST(nobody_listening_udp);
	TEST(silent_peer_timeout);
	TEST(slow_frame_dropped);
	TEST(tampered_tcp_frames);
	TEST(early_messages);
	TEST(udp_drops_bad_datagrams);
	TEST(udp_stale_reply_ignored);

	keys_free(kA);
	keys_free(kB);
	keys_free(kC);
	keys_free(kX);
	for (const char *n = "ABCX"; *n; n++) {
		snprintf(path, sizeof(path), "%s/%c.key", dir, *n);
		unlink(path);
	}
	rmdir(dir);
	T_DONE();
}
