/*
 * wanprobe.c - the probes that check bench/delayproxy before the bench
 * trusts it, and the competing flow of the fairness run.
 *
 *   wanprobe serve PORT             127.0.0.1:PORT, TCP and UDP: a datagram
 *                                   is echoed; a TCP connection's first byte
 *                                   picks E (echo), S (sink) or G (generate)
 *   wanprobe rtt tcp|udp PORT N     N ping-pongs of 64 bytes: median RTT
 *   wanprobe tput tcp PORT SECS     read from a G connection: Mbit/s
 *   wanprobe tput udp PORT SECS MBIT  send 1200-byte datagrams at MBIT, count
 *                                   the echoes: Mbit/s and the loss
 *   wanprobe bulk PORT [SECS]       write to an S connection for SECS (0 or
 *                                   none: until killed)
 *   wanprobe selftest --proxy PATH [--delay-ms D] [--rate-mbit R] [--loss P]
 *                     [--queue-kb N]
 *       starts serve and the proxy on free ports, measures RTT over UDP and
 *       TCP, throughput against the rate cap and the loss, prints one
 *       "selftest ..." line and exits 0 when the RTTs are within 20% or
 *       3 ms (whichever is larger) of 2 x delay and TCP holds a rate cap
 *       within -25%/+10%, 1 otherwise. The UDP rate is reported, not
 *       judged: TCP and UDP share the proxy's shaping code, and on a busy
 *       two-core VM the echo loop of this probe (four sockets at some
 *       10,000 datagrams/s each) falls behind before the proxy does.
 *
 * Only ever talks to 127.0.0.1; never a part of shipd.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DGRAM	1200
#define PING	64

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "wanprobe: %s: %s\n", what, strerror(errno));
	exit(2);
}

static struct sockaddr_in
lo(int port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	return a;
}

static int
sock_to(int type, int port)
{
	struct sockaddr_in a = lo(port);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket");
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
sock_at(int type, int port)
{
	struct sockaddr_in a = lo(port);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket");
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
full_write(int fd, const void *b, size_t n)
{
	const char *p = b;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool
full_read(int fd, void *b, size_t n)
{
	char *p = b;
	ssize_t r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- serve ---------------------------------------------------------------- */

static void
serve_conn(int fd)
{
	static char b[65536];
	char mode;
	ssize_t n;

	if (!full_read(fd, &mode, 1))
		_exit(0);
	if (mode == 'G') {
		memset(b, 0, sizeof(b));
		while (full_write(fd, b, sizeof(b)))
			;
	} else {
		while ((n = read(fd, b, sizeof(b))) > 0)
			if (mode == 'E' && !full_write(fd, b, (size_t)n))
				break;
	}
	_exit(0);
}

static void
serve_fds(int tl, int us)
{
	struct pollfd pf[2] = { { tl, POLLIN, 0 }, { us, POLLIN, 0 } };
	struct sockaddr_in from;
	socklen_t fl;
	char b[65536];
	ssize_t n;
	int fd;

	int big = 4 << 20;

	/* the echo must not be what drops datagrams when this VM is busy */
	(void)setsockopt(us, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	(void)setsockopt(us, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pf[1].revents & POLLIN) {
			fl = sizeof(from);
			n = recvfrom(us, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (n > 0)
				(void)sendto(us, b, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
		}
		if (pf[0].revents & POLLIN) {
			fd = accept4(tl, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			if (fork() == 0) {
				close(tl);
				close(us);
				serve_conn(fd);
			}
			close(fd);
		}
	}
}

/* ---- probes ----------------------------------------------------------------- */

/* median RTT of n ping-pongs, ms; *lost: UDP pings that got no answer */
static double
rtt(bool tcp, int port, int n, int *lost, double *first_ms)
{
	double *v = calloc((size_t)n, sizeof(double)), t0, med;
	char b[PING];
	int fd, i, got = 0;

	*lost = 0;
	if (!v)
		die("calloc");
	t0 = now_s();
	fd = sock_to(tcp ? SOCK_STREAM : SOCK_DGRAM, port);
	if (fd < 0) {
		free(v);
		return -1;
	}
	if (tcp && !full_write(fd, "E", 1)) {
		close(fd);
		free(v);
		return -1;
	}
	for (i = 0; i < n; i++) {
		double t = now_s();

		memset(b, 0, sizeof(b));
		memcpy(b, &i, sizeof(i));
		if (tcp) {
			if (!full_write(fd, b, sizeof(b)) || !full_read(fd, b, sizeof(b)))
				break;
		} else {
			struct pollfd pf = { fd, POLLIN, 0 };
			int j = -1;

			(void)send(fd, b, sizeof(b), 0);
			/* the answer to this ping, or none within a second */
			while (j != i && poll(&pf, 1, 1000) > 0) {
				if (recv(fd, b, sizeof(b), 0) < (ssize_t)sizeof(j))
					break;
				memcpy(&j, b, sizeof(j));
			}
			if (j != i) {
				(*lost)++;
				continue;
			}
		}
		v[got++] = (now_s() - t) * 1000;
		if (got == 1 && first_ms)
			*first_ms = (now_s() - t0) * 1000;
	}
	close(fd);
	if (!got) {
		free(v);
		return -1;
	}
	qsort(v, (size_t)got, sizeof(double), cmp_d);
	med = got % 2 ? v[got / 2] : (v[got / 2 - 1] + v[got / 2]) / 2;
	free(v);
	return med;
}

/* TCP: Mbit/s read from a G connection, the first 30% of the time left out */
static double
tput_tcp(int port, double secs)
{
	static char b[65536];
	double t0 = 0, t, tw = 0, end;
	uint64_t bytes = 0;
	ssize_t n;
	int fd = sock_to(SOCK_STREAM, port);

	if (fd < 0 || !full_write(fd, "G", 1))
		return -1;
	end = now_s() + secs;
	while ((t = now_s()) < end) {
		n = read(fd, b, sizeof(b));
		if (n <= 0)
			break;
		if (!t0) {
			t0 = t;
			tw = t0 + (end - t0) * 0.3;
			end = t0 + secs;
		}
		if (t >= tw)
			bytes += (uint64_t)n;
	}
	close(fd);
	t = now_s();
	return t > tw && tw > 0 ? bytes * 8 / (t - tw) / 1e6 : -1;
}

/*
 * UDP: offer mbit for secs in 1200-byte datagrams, paced each millisecond;
 * returns the echoed Mbit/s (from the first echo + 30% of the time on) and
 * sets *loss to the share of datagrams that never came back.
 */
static double
tput_udp(int port, double secs, double mbit, double *loss)
{
	char b[DGRAM];
	double t0 = now_s(), t, tw = t0 + secs * 0.3, tlast = 0;
	double pps = mbit * 1e6 / 8 / DGRAM;
	uint64_t sent = 0, got = 0, win = 0;
	int fd = sock_to(SOCK_DGRAM, port), n = 4 << 20;
	struct pollfd pf;
	ssize_t r;

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
	memset(b, 0, sizeof(b));
	pf.fd = fd;
	pf.events = POLLIN;
	for (;;) {
		t = now_s();
		if (t < t0 + secs) {
			while (sent < (t - t0) * pps) {
				(void)send(fd, b, sizeof(b), MSG_DONTWAIT);
				sent++;
			}
		} else if (t > (tlast > 0 ? tlast : t0 + secs) + 1.0) {
			break;	/* a second without an echo after the end */
		}
		while (poll(&pf, 1, 1) > 0) {
			r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
			if (r <= 0)
				break;
			tlast = now_s();
			got++;
			if (tlast >= tw && tlast <= t0 + secs)
				win += (uint64_t)r;
			if (now_s() - t >= 0.001)
				break;
		}
	}
	close(fd);
	*loss = sent ? 1 - (double)got / sent : 1;
	return win ? win * 8 / (t0 + secs - tw) / 1e6 : -1;
}

static void
bulk(int port, double secs)
{
	static char b[65536];
	double end = now_s() + secs;
	int fd = sock_to(SOCK_STREAM, port);

	if (fd < 0 || !full_write(fd, "S", 1))
		die("bulk: connect");
	while (secs <= 0 || now_s() < end)
		if (!full_write(fd, b, sizeof(b)))
			break;
	close(fd);
}

/* ---- selftest ------------------------------------------------------------------ */

static int
free_port(void)
{
	int p, a, b;

	for (p = 29000 + getpid() % 1000; p < 65000; p += 7) {
		a = sock_at(SOCK_STREAM, p);
		b = sock_at(SOCK_DGRAM, p);
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
		if (a >= 0 && b >= 0)
			return p;
	}
	errno = EADDRINUSE;
	die("no free port");
	return -1;
}

static int
selftest(int argc, char **argv)
{
	const char *proxy = NULL;
	double delay = 0, rate = 0, loss = 0, want, tol, ur, tr, tcp_first = 0;
	double tm = -1, um = -1, uloss = 0, ploss = -1;
	char *av[32], lbuf[16], tbuf[16];
	int i, j = 0, sport, pport, tl, us, ulost, tlost, fd, ok = 1;
	pid_t srv, px;
	char why[128] = "";

	av[j++] = "delayproxy";
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--proxy") == 0 && i + 1 < argc) {
			proxy = argv[++i];
			continue;
		}
		if (i + 1 >= argc || j > 24) {
			fprintf(stderr, "wanprobe selftest: bad option %s\n", argv[i]);
			return 2;
		}
		if (strcmp(argv[i], "--delay-ms") == 0)
			delay = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--rate-mbit") == 0)
			rate = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--loss") == 0)
			loss = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--queue-kb") != 0) {
			fprintf(stderr, "wanprobe selftest: unknown option %s\n", argv[i]);
			return 2;
		}
		av[j++] = argv[i++];
		av[j++] = argv[i];
	}
	if (!proxy) {
		fprintf(stderr, "wanprobe selftest: --proxy PATH is needed\n");
		return 2;
	}
	sport = free_port();
	if ((tl = sock_at(SOCK_STREAM, sport)) < 0 || (us = sock_at(SOCK_DGRAM, sport)) < 0)
		die("serve");
	if ((srv = fork()) == 0)
		serve_fds(tl, us);
	close(tl);
	close(us);
	pport = free_port();
	snprintf(lbuf, sizeof(lbuf), "%d", pport);
	snprintf(tbuf, sizeof(tbuf), "%d", sport);
	av[j++] = "--listen";
	av[j++] = lbuf;
	av[j++] = "--target";
	av[j++] = tbuf;
	av[j] = NULL;
	if ((px = fork()) == 0) {
		execv(proxy, av);
		die(proxy);
	}
	for (i = 0; i < 200; i++) {	/* until the proxy listens */
		usleep(10000);
		if ((fd = sock_to(SOCK_STREAM, pport)) >= 0) {
			close(fd);
			break;
		}
	}
	want = 2 * delay;
	tol = want * 0.2 > 3 ? want * 0.2 : 3;
	ur = rtt(false, pport, 40, &ulost, NULL);
	tr = rtt(true, pport, 40, &tlost, &tcp_first);
	if (ur < 0 || ur - want > tol || want - ur > tol) {
		ok = 0;
		snprintf(why, sizeof(why), "UDP RTT %.2f ms, want %.1f +- %.1f", ur, want, tol);
	}
	if (tr < 0 || tr - want > tol || want - tr > tol) {
		ok = 0;
		snprintf(why, sizeof(why), "TCP RTT %.2f ms, want %.1f +- %.1f", tr, want, tol);
	}
	if (rate > 0) {
		double secs = 2 + want / 250;	/* a few RTTs past the queue filling */

		tm = tput_tcp(pport, secs);
		um = tput_udp(pport, secs, rate * 1.2, &uloss);
		if (tm < rate * 0.75 || tm > rate * 1.1) {
			ok = 0;
			snprintf(why, sizeof(why), "TCP %.1f Mbit/s through a %.1f Mbit/s cap", tm, rate);
		}
	}
	if (loss > 0) {		/* echoed: lost going or coming, 1-(1-p)^2 */
		double l2 = 0;

		if (tput_udp(pport, 2, 8, &l2) >= 0 && l2 < 1)
			ploss = 1 - sqrt(1 - l2);
	}
	kill(px, SIGTERM);
	waitpid(px, NULL, 0);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	printf("selftest delay_ms=%.1f want_rtt_ms=%.1f udp_rtt_ms=%.2f tcp_rtt_ms=%.2f "
	       "tcp_first_ms=%.1f udp_ping_lost=%d rate_mbit=%.1f tcp_mbit=%.1f udp_mbit=%.1f "
	       "loss=%.3f loss_measured=%.3f verdict=%s%s%s\n",
	       delay, want, ur, tr, tcp_first, ulost, rate, tm, um, loss, ploss,
	       ok ? "ok" : "bad", ok ? "" : " # ", why);
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	int lost = 0;
	double v, loss = 0;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "serve") == 0) {
		int p = atoi(argv[2]), tl = sock_at(SOCK_STREAM, p), us = sock_at(SOCK_DGRAM, p);

		if (tl < 0 || us < 0)
			die("serve: bind");
		serve_fds(tl, us);
	}
	if (argc >= 5 && strcmp(argv[1], "rtt") == 0) {
		v = rtt(strcmp(argv[2], "tcp") == 0, atoi(argv[3]), atoi(argv[4]), &lost, NULL);
		printf("rtt %s %.3f ms lost %d\n", argv[2], v, lost);
		return v < 0;
	}
	if (argc >= 5 && strcmp(argv[1], "tput") == 0 && strcmp(argv[2], "tcp") == 0) {
		v = tput_tcp(atoi(argv[3]), atof(argv[4]));
		printf("tput tcp %.1f Mbit/s\n", v);
		return v < 0;
	}
	if (argc >= 6 && strcmp(argv[1], "tput") == 0 && strcmp(argv[2], "udp") == 0) {
		v = tput_udp(atoi(argv[3]), atof(argv[4]), atof(argv[5]), &loss);
		printf("tput udp %.1f Mbit/s loss %.3f\n", v, loss);
		return v < 0;
	}
	if (argc >= 3 && strcmp(argv[1], "bulk") == 0) {
		bulk(atoi(argv[2]), argc >= 4 ? atof(argv[3]) : 0);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "selftest") == 0)
		return selftest(argc, argv);
	fputs("usage: wanprobe serve PORT | rtt tcp|udp PORT N | tput tcp PORT SECS |\n"
	      "       tput udp PORT SECS MBIT | bulk PORT [SECS] |\n"
	      "       selftest --proxy PATH [--delay-ms D] [--rate-mbit R] [--loss P] [--queue-kb N]\n",
	      stderr);
	return 2;
}
