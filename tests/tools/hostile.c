/*
 * hostile.c - a scripted hostile peer for tests/scenario/hostile.sh. It
 * attacks a running shipd and prints one "result:" line saying what the
 * daemon did, so the script can assert the refusal and then check the
 * daemon's log, bays and children.
 *
 * Raw modes speak no protocol (no configuration needed):
 *   hostile [-b SRC] garbage HOST PORT BYTES   random bytes over TCP
 *   hostile [-b SRC] silent HOST PORT [MAX_S]  connect and never speak
 *   hostile [-b SRC] flood HOST PORT N HOLD_S [SPREAD_S]
 *                                              N silent connections, opened
 *                                              at once or evenly over SPREAD_S
 *   hostile [-b SRC] slow HOST PORT [MAX_S]    a HELLO begun, one byte a second
 *   hostile [-b SRC] udp-garbage HOST PORT N   N random datagrams
 * Hop modes run the real handshake as the node of -c CONF (its own key)
 * and offer a packet for DEST, sealed from FILE, spoiled as MODE says:
 *   hostile -c CONF [-t TMPDIR] [-k KIND] MODE PEER FILE DEST [ORIGIN]
 * (-k: a packet of that kind, e.g. a receipt that lies about its signer)
 *   hostile -c CONF hold PEER SECONDS  (authenticate, then sit silent)
 *   good | replay (the same packet twice on one hop) | tamper-body |
 *   tamper-header | truncate | extra-data | forge-origin (header claims
 *   ORIGIN, signed with our key) | unknown-origin | resign (header edited
 *   and re-signed, trailer left) | lie-size (order announces more than
 *   the signed header) | frame-replay (a hop frame sent again under an old
 *   counter) | udp-bad (a UDP hop with bad-tag, out-of-window and replayed
 *   datagrams injected before a good packet) | offer-file (no connection: write the
 *   OFFER payload to the file named by the fifth argument, a fuzz seed)
 *
 * It is a test tool: it links build/libshipd.a and reaches into the wire
 * and packet internals to forge; nothing in shipd may depend on it.
 */
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "queue/order.h"
#include "packet/packet.h"
#include "packet/packet_int.h"
#include "wire/wire.h"
#include "wire/udp_int.h"
#include "wire/xfer.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/safefile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *src_addr;		/* -b: bind the client socket here */
static const char *kind;		/* -k: the packet's signed kind (NULL: data) */
static uint8_t *msg;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
sock_to(const char *host, const char *port, int type, struct sockaddr_storage *ss,
	socklen_t *sl)
{
	struct addrinfo hints = {0}, *ai;
	int fd, e;

	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICHOST;
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0) {
		fprintf(stderr, "hostile: %s:%s: %s\n", host, port, gai_strerror(e));
		exit(2);
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	if ((fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0)) < 0) {
		perror("hostile: socket");
		exit(2);
	}
	if (src_addr) {
		struct addrinfo *b;

		if (getaddrinfo(src_addr, NULL, &hints, &b) != 0 ||
		    bind(fd, b->ai_addr, b->ai_addrlen) < 0) {
			fprintf(stderr, "hostile: bind %s: %s\n", src_addr, strerror(errno));
			exit(2);
		}
		freeaddrinfo(b);
	}
	freeaddrinfo(ai);
	return fd;
}

static int
tcp_open(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = sock_to(host, port, SOCK_STREAM, &ss, &sl);

	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Seconds until the server closes fd (read EOF or reset), -1 if not by max_s. */
static double
wait_closed(int fd, double max_s)
{
	double t0 = now_s();
	char buf[4096];

	for (;;) {
		double left = max_s - (now_s() - t0);
		struct pollfd pf = {fd, POLLIN, 0};

		if (left <= 0)
			return -1;
		if (poll(&pf, 1, (int)(left * 1000) + 1) > 0) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n <= 0)
				return now_s() - t0;
		}
	}
}

static int
mode_garbage(const char *host, const char *port, long n)
{
	int fd = tcp_open(host, port);
	uint8_t buf[4096];
	long sent = 0;
	double t;

	if (fd < 0) {
		printf("result: connect failed: %s\n", strerror(errno));
		return 1;
	}
	while (sent < n) {
		size_t want = n - sent < (long)sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);
		ssize_t w;

		crypto_random(buf, want);
		if ((w = write(fd, buf, want)) <= 0)
			break;
		sent += w;
	}
	t = wait_closed(fd, 60);
	printf("result: %ld random bytes sent; %s after %.1f s\n", sent,
	       t < 0 ? "still open" : "closed by the server", t < 0 ? 60.0 : t);
	close(fd);
	return t < 0;
}

static int
mode_silent(const char *host, const char *port, double max_s)
{
	int fd = tcp_open(host, port);
	double t;

	if (fd < 0) {
		printf("result: connect failed: %s\n", strerror(errno));
		return 1;
	}
	t = wait_closed(fd, max_s);
	if (t < 0)
		printf("result: still open after %.1f s\n", max_s);
	else
		printf("result: closed by the server after %.1f s\n", t);
	close(fd);
	return t < 0;
}

/* A non-blocking connect: the flood must not wait on a full accept queue. */
static int
tcp_open_nb(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = sock_to(host, port, SOCK_STREAM, &ss, &sl);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * N silent connections, opened evenly over SPREAD_S seconds (0: at once),
 * each held until the server closes it or HOLD_S seconds have passed since
 * the start. Connections never say a word.
 */
static int
mode_flood(const char *host, const char *port, int n, double hold, double spread)
{
	struct pollfd *pf = xcalloc(n, sizeof(*pf));
	int opened = 0, failed = 0, closed = 0, k = 0, tried = 0, maxopen = 0;
	double t0 = now_s(), last = 0;

	while (now_s() - t0 < hold && (tried < n || k > 0)) {
		double t = now_s() - t0;
		int due = spread > 0 && t < spread ? (int)(n * t / spread) + 1 : n;

		for (; tried < n && tried < due; tried++) {
			int fd = tcp_open_nb(host, port);

			if (fd < 0) {
				failed++;
				continue;
			}
			opened++;
			pf[k].fd = fd;
			pf[k].events = POLLIN;
			pf[k++].revents = 0;
		}
		if (k > maxopen)
			maxopen = k;
		if (poll(pf, k, 20) <= 0)
			continue;
		for (int j = 0; j < k; j++) {
			char b[512];
			ssize_t r;

			if (!pf[j].revents)
				continue;
			pf[j].revents = 0;
			if ((r = read(pf[j].fd, b, sizeof(b))) > 0 || (r < 0 && errno == EAGAIN))
				continue;
			close(pf[j].fd);
			pf[j--] = pf[--k];
			closed++;
			last = now_s() - t0;
		}
	}
	printf("result: %d of %d connections opened (%d failed) over %.1f s, at most %d open "
	       "at once; %d closed by the server (the last after %.1f s), %d still open after "
	       "%.1f s\n", opened, n, failed, spread, maxopen, closed, last, k, now_s() - t0);
	for (int j = 0; j < k; j++)
		close(pf[j].fd);
	free(pf);
	return 0;
}

/*
 * Slow loris: the first bytes of a HELLO, one a second, never finished
 * (a name of 255 bytes announced). Prints how many bytes went out before
 * the server closed the connection, and after how long.
 */
static int
mode_slow(const char *host, const char *port, double max_s)
{
	uint8_t hello[HS_HELLO_MAX];
	int fd = tcp_open(host, port);
	double t0 = now_s(), t;
	size_t sent = 0;

	if (fd < 0) {
		printf("result: connect failed: %s\n", strerror(errno));
		return 1;
	}
	memcpy(hello, HOP_MAGIC, HOP_MAGIC_LEN);
	hello[HOP_MAGIC_LEN] = HOP_VERSION;
	hello[HOP_MAGIC_LEN + 1] = HOP_NAME_MAX;
	memset(hello + HS_HEAD_LEN, 'a', sizeof(hello) - HS_HEAD_LEN);
	for (;;) {
		if (now_s() - t0 >= max_s) {
			printf("result: still open after %.1f s and %zu bytes\n", max_s, sent);
			close(fd);
			return 1;
		}
		if (sent < sizeof(hello) - 1) {
			if (send(fd, hello + sent, 1, MSG_NOSIGNAL) != 1)
				break;
			sent++;
		}
		if ((t = wait_closed(fd, 1.0)) >= 0)
			break;
	}
	printf("result: closed by the server after %.1f s and %zu bytes, one a second\n",
	       now_s() - t0, sent);
	close(fd);
	return 0;
}

static int
mode_udp_garbage(const char *host, const char *port, int n)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = sock_to(host, port, SOCK_DGRAM, &ss, &sl), sent = 0;
	uint8_t buf[1400];

	for (int i = 0; i < n; i++) {
		/* every third one has a HELLO's size, so only its content is wrong */
		size_t len = i % 3 == 0 ? HOP_UDP_HELLO_LEN : 1 + (size_t)(rand() % sizeof(buf));

		crypto_random(buf, len);
		if (sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl) == (ssize_t)len)
			sent++;
		usleep(2000);
	}
	printf("result: %d random datagrams sent\n", sent);
	close(fd);
	return 0;
}

/* ---- hop modes ---- */

struct sealed {
	char path[PATH_MAX];
	char tmpdir[PATH_MAX];
	struct pkt_info pi;
	int n;
};

static int
keep_part(void *arg, const char *path, const struct pkt_info *pi)
{
	struct sealed *s = arg;

	if (s->n++)
		return err_set("hostile: more than one part"), -1;
	if (path_fmt(s->path, sizeof(s->path), "%s/hostile-%s.pkt", s->tmpdir, pi->id) < 0 ||
	    rename(path, s->path) < 0)
		return err_set("hostile: keep %s: %s", path, strerror(errno)), -1;
	s->pi = *pi;
	memset(&s->pi.dests, 0, sizeof(s->pi.dests));
	return 0;
}

static int
flip_byte(const char *path, off_t at, int b64)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	if (fd < 0 || pread(fd, &c, 1, at) != 1)
		return -1;
	c = b64 ? (c == 'A' ? 'B' : 'A') : c ^ 0x40;
	if (pwrite(fd, &c, 1, at) != 1)
		return -1;
	return close(fd);
}

/* Edit the signed header (a day more before it expires) and sign it again
 * with our key: the header checks out, the trailer no longer does. */
static int
resign(const struct keys *me, const struct sealed *s)
{
	size_t len, hl = s->pi.header_len;
	char *buf = read_file(s->path, 64 << 20, &len);
	struct pkt_hdr h;
	struct sbuf out = {0};
	int fd, rc = -1;

	memset(&h, 0, sizeof(h));
	if (buf == NULL || pkt_hdr_parse(buf, hl, &h) != 1)
		goto done;
	h.info.expires += 86400;
	if (pkt_hdr_format(&h, me, hl, &out) < 0 || out.len != hl)
		goto done;
	if ((fd = open(s->path, O_WRONLY)) < 0 || pwrite(fd, out.s, hl, 0) != (ssize_t)hl)
		goto done;
	rc = close(fd);
done:
	if (rc < 0)
		fprintf(stderr, "hostile: resign: %s\n", err_get());
	pkt_hdr_free(&h);
	sbuf_free(&out);
	free(buf);
	return rc;
}

static char *
order_text(const char *origin, const struct sealed *s, const char *name, const char *dest,
	   uint64_t extra)
{
	struct order o;
	uint8_t d[SHA256_LEN];
	size_t len;
	char *buf = read_file(s->path, 64 << 20, &len), *text;

	order_init(&o);
	snprintf(o.id, sizeof(o.id), "%s", s->pi.id);
	o.origin = xstrdup(origin);
	o.sclass = xstrdup("-default");
	strv_add(&o.dests, dest);
	strv_add(&o.hops, origin);
	o.created = s->pi.created;
	o.expires = s->pi.expires;
	o.size = s->pi.file_size + extra;
	sha256(buf, len, d);
	hex_encode(d, sizeof(d), o.digest);
	o.part = o.nparts = 1;
	o.group = xstrdup(s->pi.group);
	o.name = xstrdup(name);
	text = order_format(&o, NULL);
	order_free(&o);
	free(buf);
	return text;
}

/* A frame under the counter already used: what a replayed frame looks like. */
static int
send_replayed_frame(struct hop *h)
{
	uint8_t frame[4 + 1 + 8 + AEAD_TAG_LEN], nonce[AEAD_NONCE_LEN], body[9] = {0};
	uint32_t n = 1 + 8 + AEAD_TAG_LEN;

	frame[0] = n >> 24, frame[1] = n >> 16, frame[2] = n >> 8, frame[3] = n;
	body[0] = FR_DATA;	/* a message frame's kind, as tcp_send_kind writes it */
	wire_nonce(nonce, 0, h->tx_ctr - 1);
	aead_seal(h->tx, nonce, frame, 4, body, sizeof(body), frame + 4, frame + 4 + 9);
	return write_all(h->fd, frame, sizeof(frame));
}

/* Datagrams a UDP session must drop: bad tags, stream bytes far beyond the
 * window (validly sealed), and replays of a packet it already took. */
static void
udp_inject(struct hop *h)
{
	uint8_t dg[UDP_DGRAM_CAP], f[64];
	int bad = 0, oow = 0, rep = 0;
	size_t n;

	for (int i = 0; i < 20; i++) {
		crypto_random(dg, 200);
		dg[0] = UDP_T_PKT;
		bad += send(h->fd, dg, 200, 0) > 0;
	}
	for (int i = 0; i < 10; i++) {
		n = uf_put_stream_hdr(f, 1000000000ULL + 100 * i, 32, 0);
		memset(f + n, 'x', 32);
		oow += udp_send_raw(h, f, n + 32, dg) > 0;
	}
	f[0] = UF_PING;
	if ((n = udp_send_raw(h, f, 1, dg)) > 0)
		for (int i = 0; i < 5; i++)
			rep += send(h->fd, dg, n, 0) > 0;
	printf("# injected %d bad-tag, %d out-of-window and %d replayed datagrams\n", bad, oow, rep);
}

/* The final answer for slot (messages for other slots are skipped):
 * its type, the reason in *m; -1 when the hop broke. */
static int
answer_for(struct hop *h, uint32_t slot, struct xmsg *m, int timeout_s)
{
	for (;;) {
		if (xmsg_recv(h, msg, m, timeout_s) != 1)
			return -1;
		if (m->type == XF_ACK) {
			for (unsigned i = 0; i < m->nslots; i++)
				if (xmsg_ack_slot(m, i) == slot)
					return XF_ACK;
			continue;
		}
		if (m->slot == slot)
			return m->type;
	}
}

/* Offer the packet and stream it as mode says; print the daemon's answer. */
static int
offer(struct hop *h, const char *mode, const struct sealed *s, const char *text)
{
	static uint32_t slot;
	static uint8_t *out;
	int fd = open(s->path, O_RDONLY), type;
	uint64_t size = s->pi.file_size, off, stop = size;
	uint8_t *hdr = xmalloc(s->pi.header_len);
	struct xmsg m;
	ssize_t n;

	if (out == NULL)
		out = xmalloc(HOP_MAX_MSG);
	if (fd < 0 || read_full(fd, hdr, s->pi.header_len) != (ssize_t)s->pi.header_len) {
		printf("result: error: cannot read %s\n", s->path);
		return 1;
	}
	slot++;
	if (xmsg_send_offer(h, out, slot, 0, hdr, s->pi.header_len, text, strlen(text), NULL,
			    0) < 0 || (type = answer_for(h, slot, &m, 20)) < 0)
		goto broken;
	free(hdr);
	if (type != XF_ACCEPT) {
		printf("result: %s %.*s\n", xmsg_type_name(type), (int)m.reasonlen, m.reason);
		close(fd);
		return 0;
	}
	off = m.offset;
	if (strcmp(mode, "truncate") == 0)
		stop = size / 2;
	if (strcmp(mode, "frame-replay") == 0) {
		send_replayed_frame(h);
		n = xmsg_recv(h, msg, &m, 20);
		printf("result: %s\n", n <= 0 ? "hop closed by the server" : "server still talking");
		close(fd);
		return n > 0;
	}
	while (off < stop) {
		size_t want = stop - off < XF_DATA_MAX - 4096 ? stop - off : XF_DATA_MAX - 4096;

		if ((n = pread(fd, out + 1 + XF_DATA_HEAD, want, off)) <= 0)
			goto broken;
		/* more than announced: the last message carries 4 KiB too many */
		if (off + n == stop && strcmp(mode, "extra-data") == 0) {
			crypto_random(out + 1 + XF_DATA_HEAD + n, 4096);
			n += 4096;
		}
		if (xmsg_send_data(h, out, slot, off, n, -1) < 0)
			goto broken;
		off += n;
	}
	close(fd);
	fd = -1;
	if ((stop < size && xmsg_send_end(h, slot) < 0) || (type = answer_for(h, slot, &m, 30)) < 0)
		goto broken;
	printf("result: %s %.*s\n", xmsg_type_name(type), (int)m.reasonlen, m.reason);
	return 0;
broken:
	printf("result: error: %s\n", err_get());
	if (fd >= 0)
		close(fd);
	return 1;
}

/* The OFFER payload (hdrlen(4) header order) as a file: a fuzz seed. */
static int
write_offer(const struct sealed *s, const char *text, const char *out)
{
	size_t hl = s->pi.header_len, len;
	char *buf = read_file(s->path, 64 << 20, &len);
	struct sbuf o = {0};
	uint8_t be[4] = {hl >> 24, hl >> 16, hl >> 8, hl};
	int fd, rc = 1;

	if (buf == NULL)
		return 1;
	sbuf_add(&o, be, 4);
	sbuf_add(&o, buf, hl);
	sbuf_puts(&o, text);
	if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0 &&
	    write_all(fd, o.s, o.len) == 0 && close(fd) == 0)
		rc = 0;
	printf("result: %s offer of %zu bytes written to %s\n", rc ? "no" : "an", o.len, out);
	sbuf_free(&o);
	free(buf);
	return rc;
}

static struct hop *
connect_udp(const struct config *cf, const struct keys *me, const struct peer *p)
{
	struct addrinfo hints = {0}, *ai;
	char port[16];
	struct hop *h;

	hints.ai_socktype = SOCK_DGRAM;
	snprintf(port, sizeof(port), "%d", p->port);
	if (getaddrinfo(p->host, port, &hints, &ai) != 0)
		return NULL;
	h = udp_hop_connect(cf, me, p, ai->ai_addr, ai->ai_addrlen, 10);
	freeaddrinfo(ai);
	return h;
}

/* The node of confpath (its configuration and keys) and its PEER peer. */
static int
load_as(const char *confpath, const char *peer, struct config **cf, struct keys **me,
	const struct peer **p)
{
	*me = NULL;
	if ((*cf = config_load(confpath)) == NULL || keys_load((*cf)->key_file, me) < 0) {
		fprintf(stderr, "hostile: %s\n", err_get());
		return -1;
	}
	if ((*p = config_peer(*cf, peer)) == NULL || (*p)->host == NULL) {
		fprintf(stderr, "hostile: %s is not a PEER in %s\n", peer, confpath);
		return -1;
	}
	return 0;
}

static int
mode_hop(const char *confpath, const char *tmpdir, char **av, int ac)
{
	const char *mode = av[0], *peer = av[1], *file = av[2], *dest = av[3];
	const char *origin, *base;
	struct config *cf;
	struct keys *me;
	const struct peer *p;
	struct sealed s;
	struct strv dests = {0};
	struct hop *h;
	char *text;
	int rc;

	if (load_as(confpath, peer, &cf, &me, &p) < 0)
		return 2;
	origin = cf->node;
	if (strcmp(mode, "forge-origin") == 0)
		origin = ac > 4 ? av[4] : peer;
	else if (strcmp(mode, "unknown-origin") == 0)
		origin = "nobody-knows-me";
	memset(&s, 0, sizeof(s));
	snprintf(s.tmpdir, sizeof(s.tmpdir), "%s", tmpdir);
	base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	strv_add(&dests, dest);
	{
		char group[ORDER_ID_MAX];
		time_t now = time(NULL);

		order_new_id(group, sizeof(group), origin);
		struct pkt_extra x = {NULL, NULL, kind, 0, -1, NULL};

		if (packet_seal_extra(cf, me, origin, file, base, &dests, "-default", group, now,
				      now + 14 * 86400, 0, tmpdir, &x, keep_part, &s) < 0) {
			fprintf(stderr, "hostile: seal: %s\n", err_get());
			return 2;
		}
	}
	strv_free(&dests);
	if (strcmp(mode, "tamper-body") == 0)
		flip_byte(s.path, s.pi.header_len + 100, 0);
	else if (strcmp(mode, "tamper-header") == 0)
		flip_byte(s.path, s.pi.header_len - 10, 1);	/* inside "sig: B64" */
	else if (strcmp(mode, "resign") == 0 && resign(me, &s) < 0)
		return 2;
	text = order_text(origin, &s, base, dest, strcmp(mode, "lie-size") == 0 ? 1000 : 0);

	if (strcmp(mode, "offer-file") == 0) {
		rc = write_offer(&s, text, ac > 4 ? av[4] : "offer.bin");
		goto out;
	}
	h = strcmp(mode, "udp-bad") == 0 ? connect_udp(cf, me, p) : hop_connect(cf, me, p, 10);
	if (h == NULL) {
		printf("result: error: handshake: %s\n", err_get());
		rc = 1;
		goto out;
	}
	printf("# hop to %s via %s from port %d\n", hop_remote(h), hop_proto(h),
	       hop_local_port(h));
	if (strcmp(mode, "udp-bad") == 0)
		udp_inject(h);
	rc = offer(h, mode, &s, text);
	if (rc == 0 && strcmp(mode, "replay") == 0)
		rc = offer(h, mode, &s, text);
	if (strcmp(mode, "frame-replay") != 0)
		xmsg_send_bye(h);
	hop_close(h);
out:
	unlink(s.path);
	free(text);
	keys_free(me);
	config_free(cf);
	return rc;
}

/*
 * hold: authenticate to PEER as the node of CONF and keep the hop open,
 * silent, for SECONDS (a receiver slot taken by a real peer), then BYE.
 */
static int
mode_hold(const char *confpath, const char *peer, double secs)
{
	struct config *cf;
	struct keys *me;
	const struct peer *p;
	struct hop *h;

	if (load_as(confpath, peer, &cf, &me, &p) < 0)
		return 2;
	if ((h = hop_connect(cf, me, p, 10)) == NULL) {
		printf("result: connect failed: %s\n", err_get());
		return 1;
	}
	printf("result: connected\n");
	fflush(stdout);		/* the test waits for this line before the next holder */
	usleep((useconds_t)(secs * 1e6));
	xmsg_send_bye(h);
	hop_close(h);
	keys_free(me);
	config_free(cf);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: hostile [-b SRC] garbage|silent|flood|slow|udp-garbage HOST PORT ...\n"
		"       hostile -c CONF [-t TMPDIR] [-k KIND] MODE PEER FILE DEST [ORIGIN]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char *confpath = NULL, *tmpdir = "/tmp";
	int c;

	while ((c = getopt(argc, argv, "b:c:k:t:")) != -1)
		switch (c) {
		case 'k': kind = optarg; break;
		case 'b': src_addr = optarg; break;
		case 'c': confpath = optarg; break;
		case 't': tmpdir = optarg; break;
		default: usage();
		}
	argv += optind;
	argc -= optind;
	if (argc < 3)
		usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_open("hostile", "stderr");
	crypto_init();
	srand(getpid());
	msg = xmalloc(HOP_MAX_MSG);
	if (confpath && strcmp(argv[0], "hold") == 0)
		return mode_hold(confpath, argv[1], atof(argv[2]));
	if (confpath)
		return argc < 4 ? (usage(), 64) : mode_hop(confpath, tmpdir, argv, argc);
	if (strcmp(argv[0], "garbage") == 0 && argc == 4)
		return mode_garbage(argv[1], argv[2], atol(argv[3]));
	if (strcmp(argv[0], "silent") == 0)
		return mode_silent(argv[1], argv[2], argc > 3 ? atof(argv[3]) : 120);
	if (strcmp(argv[0], "flood") == 0 && (argc == 5 || argc == 6))
		return mode_flood(argv[1], argv[2], atoi(argv[3]), atof(argv[4]),
				  argc == 6 ? atof(argv[5]) : 0);
	if (strcmp(argv[0], "slow") == 0)
		return mode_slow(argv[1], argv[2], argc > 3 ? atof(argv[3]) : 120);
	if (strcmp(argv[0], "udp-garbage") == 0 && argc == 4)
		return mode_udp_garbage(argv[1], argv[2], atoi(argv[3]));
	usage();
	return 64;
}
