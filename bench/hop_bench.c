/*
 * hop_bench.c - what one hop costs alone: one file sent as a packet body
 * over one TCP hop (or, with `udp`, one UDP hop) on loopback, by the real sender engine (xsend) to a
 * receiver that reads every message (xmsg_recv) and throws the bytes
 * away; no sealing, no disk on the far side, no delivery. Prints the wall
 * time and the CPU seconds of each side, for comparing hop protocols
 * (bench/README.md, hop protocol 5). The file should be in the page
 * cache (read it once before).
 *
 *   cc -O2 -D_GNU_SOURCE -Isrc -o build/bench/hop_bench bench/hop_bench.c \
 *      build/libshipd.a $(pkg-config --libs libgcrypt libarchive)
 *   unshare -n sh -c 'ip link set lo up; build/bench/hop_bench FILE'
 *   unshare -n sh -c 'ip link set lo up; build/bench/hop_bench udp FILE'
 *
 * SHIPD_TEST_SENDFILE=1 makes the sender use sendfile(2) on loopback too.
 * A bench tool: never part of the daemon; keys go to a fresh directory
 * under /tmp, removed at the end.
 */
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"
#include "wire/wire.h"
#include "wire/xfer.h"
#include "wire/xfer_engine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct config *
mkconf(const char *node, int port)
{
	struct config *cf = xcalloc(1, sizeof(*cf));

	cf->node = xstrdup(node);
	if (port) {
		cf->listen_addr = xstrdup("127.0.0.1");
		cf->listen_port = port;
	}
	cf->io_timeout = 30;
	return cf;
}

static void
addpeer(struct config *cf, const char *name, int port, const struct keys *k)
{
	struct peer *p;

	cf->peers = xrealloc(cf->peers, (cf->npeers + 1) * sizeof(*cf->peers));
	p = &cf->peers[cf->npeers++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->host = xstrdup("127.0.0.1");
	p->port = port;
	p->key = k->pub;
	p->has_key = 1;
}

static int answer_type;

static void
answer(void *arg, void *ctx, int type, const char *why)
{
	answer_type = type;
}

static double
cpu_s(const struct rusage *r)
{
	return r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + r->ru_stime.tv_sec +
	       r->ru_stime.tv_usec / 1e6;
}

/* The receiving side, in a child: 0 when every byte came. */
static int
receive(int lfd, int udp, const struct config *cf, const struct keys *k, uint64_t size)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	uint64_t got = 0;
	struct hop *h;
	struct xmsg m;

	poll(&(struct pollfd){ lfd, POLLIN, 0 }, 1, 10000);
	if (udp) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(lfd, buf, HOP_MAX_MSG, 0, (struct sockaddr *)&from, &fl);

		h = n > 0 ? hop_accept_udp(cf, k, buf, n, (struct sockaddr *)&from, fl, 30) : NULL;
	} else {
		h = hop_accept_tcp(cf, k, accept(lfd, NULL, NULL), 30);
	}
	if (h == NULL)
		return 1;
	while (xmsg_recv(h, buf, &m, 30) == 1) {
		if (m.type == XF_OFFER) {
			xmsg_send_accept(h, m.slot, 0);
		} else if (m.type == XF_DATA) {
			if ((got += m.datalen) == size)
				xmsg_send_ack(h, &m.slot, 1);
		} else if (m.type == XF_BYE) {
			break;
		}
	}
	hop_close(h);
	return got == size ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const struct xs_ops ops = { answer, NULL, NULL };
	char dir[] = "/tmp/hop_bench.XXXXXX", path[128];
	int port = 40000 + getpid() % 1000, fd, lfd, st, udp = argc == 3 && strcmp(argv[1], "udp") == 0;
	struct config *cfA = mkconf("A", 0), *cfB;
	struct keys *kA, *kB;
	struct rusage ru, rc;
	uint8_t hdr[64];
	uint64_t size;
	int64_t t0;
	pid_t pid;

	if (argc != 2 + udp || (fd = open(argv[1 + udp], O_RDONLY)) < 0) {
		fprintf(stderr, "usage: hop_bench [udp] FILE (of at least 64 bytes)\n");
		return 2;
	}
	size = (uint64_t)lseek(fd, 0, SEEK_END);
	signal(SIGPIPE, SIG_IGN);
	crypto_init();
	log_open("hop_bench", "stderr");
	if (size < sizeof(hdr) || pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/A.key", dir);
	if (keys_generate(path, &kA) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/B.key", dir);
	if (keys_generate(path, &kB) < 0)
		return 2;
	cfB = mkconf("B", port);
	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", port, kB);
	if ((lfd = udp ? wire_listen_udp(cfB) : wire_listen_tcp(cfB)) < 0)
		return 2;
	if ((pid = fork()) == 0)
		_exit(receive(lfd, udp, cfB, kB, size));
	close(lfd);
	t0 = (int64_t)(now_mono() * 1e6);
	{
		struct hop *h = hop_connect_via(cfA, kA, config_peer(cfA, "B"), 30,
						udp ? HOP_UDP_FIRST : 0);
		struct xs_item it = { NULL, "bench", fd, size, hdr, sizeof(hdr), "order", 5 };
		struct xsend *s;

		if (h == NULL) {
			fprintf(stderr, "hop_bench: %s\n", err_get());
			return 1;
		}
		s = xsend_new(h, &ops, NULL);
		xsend_offer(s, &it);
		while (xsend_open(s))
			if (xsend_pump(s, 100) < 0)
				break;
		xsend_bye(s);
		xsend_free(s);
		hop_close(h);
	}
	wait4(pid, &st, 0, &rc);
	getrusage(RUSAGE_SELF, &ru);
	printf("%s wall %.3f sender_cpu %.3f receiver_cpu %.3f delivered %s\n",
	       udp ? "udp" : "tcp", ((int64_t)(now_mono() * 1e6) - t0) / 1e6, cpu_s(&ru), cpu_s(&rc),
	       answer_type == XF_ACK && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "NO");
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0) {
	}
	return 0;
}
