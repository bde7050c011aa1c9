/*
 * portbind.c - where every socket shipd opens gets its local port, and
 * the two listening sockets.
 *
 * With CLEARCASE_MIN_PORT/MAX_PORT set, a socket is bound to the first
 * free port walking up from MIN to MAX; when the whole range is busy it
 * logs once, sleeps and walks again until wait_s has passed, then fails.
 * Without a range the kernel picks (port 0).
 *
 * SO_REUSEADDR is set on TCP sockets only: there it lets a client reuse a
 * range port whose old connection lingers in TIME_WAIT (a clash of the
 * whole address pair then shows at connect(), and wire.c moves on to the
 * next port). On UDP, Linux would let two SO_REUSEADDR sockets share one
 * port and split its datagrams between them, so UDP ports stay exclusive.
 *
 * Never binds outside a configured range, never exits.
 */
#include "wire.h"
#include "wire_int.h"
#include "../util/log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_SLEEP_US	250000

static void
set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static socklen_t
sa_len(int family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int
port_bind_from(const struct config *cf, int fd, const struct sockaddr *local, int family,
	       int first, int wait_s)
{
	struct sockaddr_storage ss;
	int type = 0, one = 1, lo = cf->min_port, hi = cf->max_port, logged = 0;
	socklen_t tl = sizeof(type);
	int64_t end;

	memset(&ss, 0, sizeof(ss));
	if (local)
		memcpy(&ss, local, sa_len(local->sa_family));
	else
		ss.ss_family = family;
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
		err_set("cannot bind: address family %d", ss.ss_family);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) {
		err_set("cannot bind: %s", strerror(errno));
		return -1;
	}
	if (type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		err_set("SO_REUSEADDR: %s", strerror(errno));
		return -1;
	}
	if (lo <= 0 || hi < lo) {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);

		set_port(&ss, 0);
		if (bind(fd, (struct sockaddr *)&ss, sa_len(ss.ss_family)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&got, &gl) < 0) {
			err_set("bind: %s", strerror(errno));
			return -1;
		}
		return addr_port((struct sockaddr *)&got);
	}
	if (first < lo || first > hi)
		first = lo;
	end = wire_now_us() + (int64_t)(wait_s > 0 ? wait_s : 0) * 1000000;
	for (;;) {
		int64_t left;

		for (int i = 0; i <= hi - lo; i++) {
			int port = lo + (first - lo + i) % (hi - lo + 1);

			set_port(&ss, port);
			if (bind(fd, (struct sockaddr *)&ss, sa_len(ss.ss_family)) == 0)
				return port;
			if (errno != EADDRINUSE) {
				err_set("bind to port %d: %s", port, strerror(errno));
				return -1;
			}
		}
		left = end - wire_now_us();
		if (left <= 0) {
			err_set("port range %d-%d busy: no free %s port after %d s",
				lo, hi, type == SOCK_STREAM ? "TCP" : "UDP", wait_s);
			return -1;
		}
		if (!logged++)
			msg_warnx("port range %d-%d busy, waiting", lo, hi);
		if (left > BUSY_SLEEP_US)
			left = BUSY_SLEEP_US;
		usleep((useconds_t)left);
		first = lo;
	}
}

int
port_bind(const struct config *cf, int fd, int family, int wait_s)
{
	int port = port_bind_from(cf, fd, NULL, family, cf->min_port, wait_s);

	return port < 0 ? -1 : 0;
}

static int
listen_socket(const struct config *cf, int type)
{
	const char *what = type == SOCK_STREAM ? "TCP" : "UDP";
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd = -1, e, one = 1, saved = 0;

	if (cf->listen_addr == NULL) {
		err_set("no LISTEN address configured");
		return -1;
	}
	snprintf(port, sizeof(port), "%d", cf->listen_port > 0 ? cf->listen_port : DEFAULT_PORT);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(cf->listen_addr, port, &hints, &res)) != 0) {
		err_set("listen address %s: %s", cf->listen_addr, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if ((type == SOCK_STREAM &&
		     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
			saved = errno;
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		err_set("cannot listen on %s port %s (%s): %s", cf->listen_addr, port, what,
			strerror(saved));
	return fd;
}

int
wire_listen_tcp(const struct config *cf)
{
	return listen_socket(cf, SOCK_STREAM);
}

int
wire_listen_udp(const struct config *cf)
{
	return listen_socket(cf, SOCK_DGRAM);
}
