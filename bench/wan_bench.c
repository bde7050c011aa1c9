/*
 * wan_bench.c - the hop channel alone (handshake, TCP or the UDP
 * transport, AEAD) moving bytes across an emulated WAN (tests/tools/wanlink,
 * driven by bench/wan.sh): no spool, no packet format, no disk.
 *
 *   wan_bench server DIR ADDR PORT
 *       listen on ADDR:PORT (TCP and UDP), one forked child per hop; keys
 *       DIR/A.key and DIR/B.key are created when missing
 *   wan_bench client DIR ADDR PORT tcp|udp MIB [SECONDS]
 *       send MIB MiB in 256 KiB messages (or as much as fits in SECONDS),
 *       then wait for the server's count; prints one line:
 *       "proto P bytes N wall S cpu_client C cpu_server C mbit M ..."
 *       WAN_TCP_CC=cubic|reno|bbr: the sending TCP socket's congestion
 *       control, set right after the handshake (the machine's default
 *       otherwise; setting one not in tcp_allowed_congestion_control
 *       needs CAP_NET_ADMIN)
 *
 * A benchmark: never for production; every failure exits non-zero with a
 * line on stderr.
 */
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "util/log.h"
#include "util/mem.h"
#include "wire/wire.h"
#include "wire/wire_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEEN	16

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static struct keys *
key(const char *dir, const char *name, int create)
{
	struct keys *k = NULL;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if (keys_load(path, &k) == 0)
		return k;
	if (create && keys_generate(path, &k) == 0)
		return k;
	fprintf(stderr, "wan_bench: %s: %s\n", path, err_get());
	exit(1);
}

static struct config *
conf(const char *node, const char *addr, int port, const char *peer, const struct keys *pk)
{
	struct config *cf = xcalloc(1, sizeof(*cf));
	struct peer *p = xcalloc(1, sizeof(*p));

	cf->node = xstrdup(node);
	if (port) {
		cf->listen_addr = xstrdup(addr);
		cf->listen_port = port;
	}
	cf->io_timeout = 30;
	p->name = xstrdup(peer);
	p->host = xstrdup(addr);
	p->key = pk->pub;
	p->has_key = 1;
	cf->peers = p;
	cf->npeers = 1;
	return cf;
}

static void
sink(struct hop *h)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	unsigned long long total = 0;
	char out[128];
	ssize_t n;

	while ((n = hop_recv(h, buf, HOP_MAX_MSG, 60)) > 0) {
		if (n == 1 && buf[0] == 'E')
			break;
		total += n;
	}
	if (n < 0) {
		fprintf(stderr, "wan_bench server: %s\n", err_get());
		_exit(1);
	}
	snprintf(out, sizeof(out), "%llu %.3f", total, cpu_s());
	if (hop_send(h, out, strlen(out)) < 0)
		fprintf(stderr, "wan_bench server: %s\n", err_get());
	/* wait for the client's close, so our answer is surely acknowledged */
	while ((n = hop_recv(h, buf, HOP_MAX_MSG, 10)) > 0)
		;
	hop_close(h);
	_exit(0);
}

static int
server(const char *dir, const char *addr, int port)
{
	struct keys *kA = key(dir, "A", 1), *kB = key(dir, "B", 1);
	struct config *cf = conf("B", addr, port, "A", kA);
	int tfd = wire_listen_tcp(cf), ufd = wire_listen_udp(cf), nseen = 0;
	static uint8_t seen[SEEN][HS_HELLO_MAX];

	if (tfd < 0 || ufd < 0) {
		fprintf(stderr, "wan_bench server: %s\n", err_get());
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct pollfd pf[2] = { { tfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		uint8_t d[2048];
		ssize_t n = 0;
		int fd = -1;

		if (poll(pf, 2, -1) <= 0)
			continue;
		if (pf[0].revents) {
			fd = accept(tfd, NULL, NULL);
		} else {
			int again = 0;

			n = recvfrom(ufd, d, sizeof(d), 0, (struct sockaddr *)&from, &fl);
			if (n <= 0 || !hop_udp_is_hello(d, n))
				continue;
			/* a client repeats its HELLO until answered: one child each */
			for (int i = 0; i < SEEN; i++)
				again |= memcmp(seen[i], d, sizeof(seen[i])) == 0;
			if (again)
				continue;
			memcpy(seen[nseen++ % SEEN], d, sizeof(seen[0]));
		}
		if (fork() == 0) {
			struct hop *h;

			close(tfd);
			close(ufd);
			h = fd >= 0 ? hop_accept_tcp(cf, kB, fd, 10) :
				      hop_accept_udp(cf, kB, d, n, (struct sockaddr *)&from, fl, 10);
			if (h == NULL) {
				fprintf(stderr, "wan_bench server: %s\n", err_get());
				_exit(1);
			}
			sink(h);
		}
		if (fd >= 0)
			close(fd);
	}
}

static int
client(const char *dir, const char *addr, int port, const char *proto, long mib, double secs)
{
	struct keys *kA = key(dir, "A", 0), *kB = key(dir, "B", 0);
	struct config *cf = conf("A", addr, 0, "B", kB);
	struct hop *h = NULL;
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	unsigned long long sent = 0, want = (unsigned long long)mib << 20, got = 0;
	double t0, wall, c0, scpu = 0;
	char ans[128], tcpcc[32] = "-";
	ssize_t n;

	cf->peers[0].port = port;
	crypto_random(buf, HOP_MAX_MSG);
	t0 = wire_now_us() / 1e6;
	c0 = cpu_s();
	if (strcmp(proto, "udp") == 0) {
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST }, *ai;
		char ps[16];

		snprintf(ps, sizeof(ps), "%d", port);
		if (getaddrinfo(addr, ps, &hints, &ai) != 0) {
			fprintf(stderr, "wan_bench: bad address %s\n", addr);
			return 1;
		}
		h = udp_hop_connect(cf, kA, &cf->peers[0], ai->ai_addr, ai->ai_addrlen, 10);
		freeaddrinfo(ai);
	} else {
		h = hop_connect(cf, kA, &cf->peers[0], 10);
	}
	if (h == NULL) {
		fprintf(stderr, "wan_bench client: %s\n", err_get());
		return 1;
	}
	if (h->proto == HOP_TCP) {
		const char *cc = getenv("WAN_TCP_CC");
		char now[32] = "?";
		socklen_t nl = sizeof(now);

		if (cc && setsockopt(h->fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) < 0) {
			fprintf(stderr, "wan_bench client: TCP_CONGESTION %s: %s\n", cc, strerror(errno));
			return 1;
		}
		getsockopt(h->fd, IPPROTO_TCP, TCP_CONGESTION, now, &nl);
		snprintf(tcpcc, sizeof(tcpcc), "%.*s", (int)strnlen(now, nl), now);
	}
	while (sent < want && (secs <= 0 || wire_now_us() / 1e6 - t0 < secs)) {
		size_t m = want - sent < HOP_MAX_MSG ? want - sent : HOP_MAX_MSG;

		if (hop_send(h, buf, m) < 0) {
			fprintf(stderr, "wan_bench client: %s\n", err_get());
			return 1;
		}
		sent += m;
	}
	if (hop_send(h, "E", 1) < 0 || (n = hop_recv(h, ans, sizeof(ans) - 1, 120)) <= 0) {
		fprintf(stderr, "wan_bench client: %s\n", err_get());
		return 1;
	}
	wall = wire_now_us() / 1e6 - t0;
	ans[n] = 0;
	if (sscanf(ans, "%llu %lf", &got, &scpu) != 2 || got != sent) {
		fprintf(stderr, "wan_bench client: server counted %s, sent %llu\n", ans, sent);
		return 1;
	}
	{
		struct hop_udp_stats st;

		hop_udp_stats(h, &st);
		printf("proto %s bytes %llu wall %.3f cpu_client %.3f cpu_server %.3f mbit %.2f"
		       " sent %lu rexmit %lu lost %lu timeouts %lu pmtu %lu tcpcc %s\n", proto, sent,
		       wall, cpu_s() - c0, scpu, sent * 8 / wall / 1e6, st.sent, st.rexmit, st.lost,
		       st.timeouts, st.pmtu, tcpcc);
	}
	hop_close(h);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	crypto_init();
	log_open("wan_bench", "stderr");
	if (argc == 5 && strcmp(argv[1], "server") == 0)
		return server(argv[2], argv[3], atoi(argv[4]));
	if ((argc == 7 || argc == 8) && strcmp(argv[1], "client") == 0)
		return client(argv[2], argv[3], atoi(argv[4]), argv[5], atol(argv[6]),
			      argc == 8 ? atof(argv[7]) : 0);
	fprintf(stderr, "usage: wan_bench server DIR ADDR PORT | client DIR ADDR PORT tcp|udp MIB [SECONDS]\n");
	return 2;
}
