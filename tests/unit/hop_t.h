/*
 * hop_t.h - what the hop channel's module tests (test_wire.c,
 * test_hopbody.c) share: configurations of two nodes on 127.0.0.1, lines
 * from a child through a pipe, raw sockets. Static functions: include it
 * once, in a test program only.
 */
#ifndef SHIPD_HOP_T_H
#define SHIPD_HOP_T_H

#include "conf/config.h"
#include "crypto/keys.h"
#include "util/mem.h"
#include "wire/wire_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct config *
mkconf(const char *node, int listen_port, int minp, int maxp)
{
	struct config *cf = xcalloc(1, sizeof(*cf));

	cf->node = xstrdup(node);
	if (listen_port) {
		cf->listen_addr = xstrdup("127.0.0.1");
		cf->listen_port = listen_port;
	}
	cf->min_port = minp;
	cf->max_port = maxp;
	cf->io_timeout = 10;
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
	if (k) {
		p->key = k->pub;
		p->has_key = 1;
	}
}

static void
freeconf(struct config *cf)
{
	for (int i = 0; i < cf->npeers; i++) {
		free(cf->peers[i].name);
		free(cf->peers[i].host);
	}
	free(cf->peers);
	free(cf->node);
	free(cf->listen_addr);
	free(cf);
}

static void
say(int fd, const char *fmt, ...)
{
	char line[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (write(fd, line, n) < 0) {
	}
}

static int
raw_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
write_all(int fd, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t r = send(fd, b, n, MSG_NOSIGNAL);

		if (r <= 0)
			return -1;
		b += r;
		n -= r;
	}
	return 0;
}

/*
 * A man in the middle on TCP, in a child: one client (accepted on lfd)
 * relayed to server_port. After `skip` bytes of handshake from the
 * client, each whole frame it sends (of either kind) goes to fn with its
 * index, which may change it and returns how many times to pass it on
 * (0: drop it, 2: replay it). Exits when either side closes.
 */
typedef int (*hop_mitm_fn)(uint8_t *f, size_t n, int i, void *arg);

static void
hop_mitm(int lfd, int server_port, size_t skip, hop_mitm_fn fn, void *arg)
{
	static uint8_t cb[2 * (8 + 1 + HOP_MAX_MSG + 16)];
	size_t clen = 0, passed = 0;
	int frames = 0, c, sv;
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
			if ((n = read(sv, b, sizeof(b))) <= 0 || write_all(c, b, n) < 0)
				break;
		}
		if (!pf[0].revents)
			continue;
		if ((n = read(c, cb + clen, sizeof(cb) - clen)) <= 0)
			break;
		clen += n;
		for (;;) {
			size_t k;

			if (passed < skip) {
				k = skip - passed < clen ? skip - passed : clen;
				if (k == 0 || write_all(sv, cb, k) < 0)
					break;
				passed += k;
			} else {
				int times;

				if (clen < 4 || clen < (k = 4 + (get32(cb) & ~FRAME_BODY)))
					break;
				for (times = fn(cb, k, frames++, arg); times > 0; times--)
					write_all(sv, cb, k);
			}
			memmove(cb, cb + k, clen - k);
			clen -= k;
		}
	}
	_exit(0);
}

#define CHECK_HAS(text, needle) do { const char *_t = (text); \
	if (_t == NULL || strstr(_t, (needle)) == NULL) { \
	printf("#   %s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, _t ? _t : "(null)", (needle)); \
	t_case_failed = 1; } } while (0)

#endif
