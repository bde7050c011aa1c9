/*
 * wire.c - the hop channel over TCP and the hop_* API of wire.h. The
 * handshake messages are wire_hs.c's, the UDP transport wire_udp.c's.
 *
 * hop_connect tries TCP first (connect timeout min(timeout_s, CONNECT-TIMEOUT)) and
 * falls back to UDP to the same address and port when TCP is refused,
 * times out or is filtered; a handshake failure over TCP is final.
 * hop_connect_via can try UDP first and TCP only when UDP fails, for a
 * peer whose TCP is known to be dropped (the caller remembers that).
 *
 * Over TCP the handshake messages go as they are, then every message is a
 * frame: 4-byte big-endian length, then the ChaCha20-Poly1305 ciphertext
 * of (kind | message) and its tag. The nonce is the frame's 64-bit counter
 * in its direction and the length is authenticated too, so a replayed,
 * dropped, reordered or altered frame fails. kind is DATA, CLOSE, or HSOK
 * (the server's "you are accepted", its first frame). A HOP_EARLY client
 * sends its first messages right after AUTH and reads the HSOK in front of
 * the first answer (like TLS 1.3's client data after its Finished): the
 * server proved its key in REPLY, so what goes early is sealed for it
 * alone; if it refuses us, its close is what the first read finds.
 *
 * A body frame (hop_send_body, protocol 5) encrypts only a message's head
 * and authenticates its body, a packet's bytes, as they are: wire_body.c;
 * over UDP, body packets do the same (protocol 6, wire_udp.c).
 *
 * Closing: the client never sends the first FIN. Its hop_close sends a
 * sealed CLOSE and waits (at most 2 s) for the server's FIN; the server,
 * on that CLOSE or its own hop_close, closes at once. So TIME_WAIT lands on
 * the server's well-known port, never on a port of the client's range.
 * (A client shutdown(SHUT_WR) would make the client the active closer.)
 *
 * Deadlines are per handshake and per frame, never per read or write: the
 * handshake as a whole within its timeout, each frame as a whole within
 * the hop's (hop_recv: from the call to the frame's last byte), so a peer
 * that trickles a byte now and then is dropped all the same.
 *
 * Never allocates from a length before bounding it, never reads without a
 * deadline, never returns a hop whose peer has not proved its key.
 */
#include "wire.h"
#include "wire_int.h"
#include "../util/addr.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX	(4 + 1 + HOP_MAX_MSG + AEAD_TAG_LEN)

/* ---- small shared helpers ---- */

int
wire_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - wire_now_us();
		struct pollfd pfd = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return 0;
		if (left > (int64_t)INT_MAX * 1000)
			left = (int64_t)INT_MAX * 1000;
		r = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set("poll: %s", strerror(errno));
			return -1;
		}
		if (r > 0)
			return 1;
	}
}

void
wire_put64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

uint64_t
wire_get64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

void
wire_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint8_t space, uint64_t ctr)
{
	memset(nonce, 0, AEAD_NONCE_LEN);
	nonce[0] = space;
	wire_put64(nonce + 4, ctr);
}

/* Put "prefix: " in front of the current returned error. */
void
wire_err_prefix(const char *fmt, ...)
{
	char pre[512], why[1024];
	va_list ap;

	snprintf(why, sizeof(why), "%s", err_get());
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	err_set("%s: %s", pre, why);
}

/* Is this peer on this host (127.0.0.0/8, ::1, or ::ffff:127.x)? */
static int
on_this_host(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

struct hop *
wire_hop_new(int fd, int proto, int server, int timeout_s, const struct peer *p,
	     struct aead *tx, struct aead *rx, const char *remote)
{
	struct hop *h = xcalloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	h->fd = fd;
	h->proto = proto;
	h->server = server;
	h->timeout_s = timeout_s > 0 ? timeout_s : 60;
	h->peer = p;
	h->tx = tx;
	h->rx = rx;
	snprintf(h->remote, sizeof(h->remote), "%s", remote);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		h->local_port = addr_port((struct sockaddr *)&ss);
	sl = sizeof(ss);
	/* the test hook SHIPD_TEST_SENDFILE=1: sendfile on loopback too */
	if (proto == HOP_TCP)
		h->kernel_send = (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
				  !on_this_host((struct sockaddr *)&ss)) ||
				 getenv("SHIPD_TEST_SENDFILE") != NULL;
	if (proto == HOP_TCP)
		h->fbuf = xmalloc(FRAME_MAX);
	else
		udp_hop_attach(h);
	return h;
}

/* ---- TCP byte moving, always against a clock ---- */

/*
 * Read exactly n bytes before deadline: a whole frame or handshake
 * message has one deadline, so a peer that trickles a byte now and then
 * cannot keep the reader for ever (a per-read timeout would let it).
 * 1 done, 0 EOF before the first byte, -1 error (*got tells how far it came).
 */
int
wire_read_full(int fd, void *buf, size_t n, int64_t deadline, const char *what, size_t *got_out)
{
	size_t got = 0;
	int rc = 1;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		int w;

		if (r > 0) {
			got += r;
			continue;
		}
		if (r == 0) {
			if (got == 0) {
				rc = 0;
				break;
			}
			err_set("connection closed %s", what);
			rc = -1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			int e = errno;	/* kept for the caller (a reset) */

			err_set("read %s: %s", what, strerror(e));
			errno = e;
			rc = -1;
			break;
		}
		if ((w = wire_wait(fd, POLLIN, deadline)) <= 0) {
			if (w == 0)
				err_set("timeout %s", what);
			rc = -1;
			break;
		}
	}
	if (got_out)
		*got_out = got;
	return rc;
}

/*
 * After a write that did not go (errno): 0 to try again (interrupted, or
 * the socket has room again), -1 (err_set) on an error or at deadline.
 */
int
wire_write_wait(int fd, int64_t deadline, const char *what)
{
	int w;

	if (errno == EINTR)
		return 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		err_set("write %s: %s", what, strerror(errno));
		return -1;
	}
	if ((w = wire_wait(fd, POLLOUT, deadline)) <= 0) {
		if (w == 0)
			err_set("timeout %s", what);
		return -1;
	}
	return 0;
}

int
wire_writev_full(int fd, struct iovec *iov, int n, int flags, int64_t deadline,
		 const char *what)
{
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
		ssize_t r = sendmsg(fd, &mh, flags | MSG_NOSIGNAL);

		if (r < 0) {
			if (wire_write_wait(fd, deadline, what) < 0)
				return -1;
			continue;
		}
		for (; n > 0 && (size_t)r >= iov->iov_len; iov++, n--)
			r -= iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

/* Write all n bytes before deadline (one deadline per frame, as reads). */
static int
write_full(int fd, const void *buf, size_t n, int64_t deadline, const char *what)
{
	struct iovec v = { (void *)buf, n };

	return wire_writev_full(fd, &v, 1, 0, deadline, what);
}

/* The deadline of something that may take `us` microseconds from now. */
static int64_t
within(int64_t us)
{
	return wire_now_us() + us;
}

/* One sealed frame, all of it written within us microseconds. */
static int
tcp_send_kind(struct hop *h, int kind, const void *msg, size_t len, int64_t us)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	uint32_t n = 1 + len + AEAD_TAG_LEN;

	put32(h->fbuf, n);
	h->fbuf[4] = kind;
	if (len)
		memcpy(h->fbuf + 5, msg, len);
	wire_nonce(nonce, 0, h->tx_ctr);
	if (aead_seal(h->tx, nonce, h->fbuf, 4, h->fbuf + 4, 1 + len, h->fbuf + 4,
		      h->fbuf + 5 + len) < 0)
		return -1;
	h->tx_ctr++;
	if (write_full(h->fd, h->fbuf, 4 + n, within(us), "sending") < 0) {
		h->dead = 1;
		return -1;
	}
	return 0;
}

/*
 * One frame into h->fbuf, opened in place: returns the plaintext length
 * (kind byte included), 0 for EOF at a frame boundary, -1 on error. A
 * body frame goes to dst (size bytes; NULL: refused) as the message it
 * carries: then *in_dst is set and the length returned is the message's
 * plus one (its kind, FR_DATA, in h->fbuf[0]). The whole frame must be in
 * by deadline; a timeout before its first byte leaves the stream usable.
 */
static ssize_t
tcp_read_frame(struct hop *h, int64_t deadline, const char *what, uint8_t *dst, size_t size,
	       int *in_dst)
{
	uint8_t lenb[4], nonce[AEAD_NONCE_LEN];
	size_t got;
	uint32_t n;
	ssize_t m;
	int r;

	if (in_dst)
		*in_dst = 0;
	r = wire_read_full(h->fd, lenb, 4, deadline, what, &got);
	if (r <= 0) {
		if (r < 0 && got > 0)
			h->dead = 1;
		return r;
	}
	n = get32(lenb);
	if (n & FRAME_BODY) {
		if ((m = wire_read_body(h, lenb, n & ~FRAME_BODY, deadline, what,
				       in_dst ? dst : NULL, size)) < 0) {
			h->dead = 1;
			return -1;
		}
		*in_dst = 1;	/* (a handshake, with no dst, has failed above) */
		return m + 1;
	}
	if (n < 1 + AEAD_TAG_LEN || n > 1 + HOP_MAX_MSG + AEAD_TAG_LEN) {
		err_set("bad frame length %u", n);
		h->dead = 1;
		return -1;
	}
	r = wire_read_full(h->fd, h->fbuf, n, deadline, what, &got);
	if (r <= 0) {
		if (r == 0)
			err_set("connection closed in mid-frame");
		h->dead = 1;
		return -1;
	}
	wire_nonce(nonce, 0, h->rx_ctr);
	if (aead_open(h->rx, nonce, lenb, 4, h->fbuf, n - AEAD_TAG_LEN, h->fbuf,
		      h->fbuf + n - AEAD_TAG_LEN) < 0) {
		err_set("frame %llu failed authentication (altered, replayed, reordered or lost)",
			(unsigned long long)h->rx_ctr);
		h->dead = 1;
		return -1;
	}
	h->rx_ctr++;
	return n - AEAD_TAG_LEN;
}

static void
set_tcp_opts(int fd)
{
	int one = 1, fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- TCP handshake ---- */

/*
 * A refusal at the door: our magic and version, a zero name length, then
 * one line of reason, and the close. A client of this version logs the
 * line; one of another version logs both versions (wire_hs_head).
 */
#define REFUSAL_MAX	200

static void
refusal_send(int fd, const char *why)
{
	uint8_t b[HS_HEAD_LEN + REFUSAL_MAX];
	size_t n = strlen(why) < REFUSAL_MAX ? strlen(why) : REFUSAL_MAX;

	memcpy(b, HOP_MAGIC, HOP_MAGIC_LEN);
	b[HOP_MAGIC_LEN] = HOP_VERSION;
	b[HOP_MAGIC_LEN + 1] = 0;
	memcpy(b + HS_HEAD_LEN, why, n);
	if (send(fd, b, HS_HEAD_LEN + n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* nothing to do: the close says the rest */
	}
	shutdown(fd, SHUT_WR);
}

/* Client: the reason after a refusal head, up to the close. */
static void
refusal_read(int fd, int64_t deadline, const char *who)
{
	char line[REFUSAL_MAX + 1];
	size_t got = 0;

	while (got < REFUSAL_MAX && wire_wait(fd, POLLIN, deadline) == 1) {
		ssize_t r = read(fd, line + got, REFUSAL_MAX - got);

		if (r <= 0 && !(r < 0 && (errno == EINTR || errno == EAGAIN)))
			break;
		if (r > 0)
			got += r;
	}
	line[got] = 0;
	for (size_t i = 0; i < got; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			line[i] = '?';
	err_set("%s refused the connection: %s", who, got ? line : "(no reason given)");
}

/*
 * Client, after AUTH: the server's HSOK (its first sealed frame) or its
 * close, within deadline. A close (or a reset: what we sent early may
 * still be unread there) before it is a refusal.
 */
static int
tcp_read_hsok(struct hop *h, int64_t deadline)
{
	ssize_t n = tcp_read_frame(h, deadline, "in handshake", NULL, 0, NULL);

	h->hsok_due = 0;
	if (n == 1 && h->fbuf[0] == FR_HSOK)
		return 0;
	h->dead = 1;
	if (n == 0 || (n < 0 && errno == ECONNRESET)) {
		err_set("%s refused us (is our key on its PEER line for %s?)", h->peer->name,
			h->self);
		h->refused = 1;
	} else if (n > 0)
		err_set("no handshake confirmation from %s", h->peer->name);
	return -1;		/* n < 0: the read's own error */
}

/* A HOP_EARLY hop: the HSOK, if it is due, before anything else is read. */
static int
tcp_hsok_first(struct hop *h, int64_t deadline)
{
	if (h->hs_err) {
		err_set("%s", h->hs_err);
		return -1;
	}
	if (!h->hsok_due)
		return 0;
	if (tcp_read_hsok(h, deadline) == 0)
		return 0;
	h->hs_err = xstrdup(err_get());
	return -1;
}

static struct hop *
tcp_client_handshake(const struct config *cf, const struct keys *me, const struct peer *p,
		     int fd, int timeout_s, const char *remote, int early)
{
	int64_t deadline = wire_now_us() + (int64_t)timeout_s * 1000000;
	struct aead *tx = NULL, *rx = NULL;
	struct wire_hs hs;
	struct hop *h = NULL;
	uint8_t b[HS_REPLY_MAX];
	ssize_t total, c;
	int r;

	if (wire_hs_begin(&hs, cf, 0) < 0 || wire_hs_hello_make(&hs, cf->node) < 0)
		goto fail;
	if (write_full(fd, hs.m1, hs.m1len, deadline, "in handshake") < 0)
		goto fail;
	if ((r = wire_read_full(fd, b, HS_HEAD_LEN, deadline, "in handshake", NULL)) <= 0) {
		if (r == 0)
			err_set("%s closed the connection in handshake (does it know %s, with our key?)",
				p->name, cf->node);
		goto fail;
	}
	if ((total = wire_hs_head(b, HS_HEAD_LEN, 1)) < 0)
		goto fail;
	if (b[HOP_MAGIC_LEN + 1] == 0) {	/* no name: a refusal at the door */
		refusal_read(fd, deadline, p->name);
		goto fail;
	}
	/* the reply through its signature, then its certificate block */
	if (wire_read_full(fd, b + HS_HEAD_LEN, total + 2 - HS_HEAD_LEN, deadline, "in handshake",
		      NULL) != 1 || (c = wire_hs_cert_block(b + total)) < 0 ||
	    (c && wire_read_full(fd, b + total + 2, c, deadline, "in handshake", NULL) != 1))
		goto fail;
	if (wire_hs_reply_parse(&hs, b, total + 2 + c, p) < 0 || wire_hs_auth_make(&hs, me) < 0)
		goto fail;
	if (write_full(fd, hs.m3, hs.m3len, deadline, "in handshake") < 0)
		goto fail;
	if (wire_hs_keys(&hs, &tx, &rx) < 0)
		goto fail;
	h = wire_hop_new(fd, HOP_TCP, 0, timeout_s, p, tx, rx, remote);
	wire_hs_hop(&hs, h);
	tx = rx = NULL;
	h->self = cf->node;
	h->hsok_due = 1;
	if (!early && tcp_read_hsok(h, deadline) < 0)
		goto fail;
	wire_hs_end(&hs);
	return h;
fail:
	wire_hs_abort(&hs, tx, rx, h, fd);
	return NULL;
}

int
wire_timeout(const struct config *cf, int timeout_s)
{
	if (timeout_s > 0)
		return timeout_s;
	return cf->io_timeout > 0 ? cf->io_timeout : 60;
}

struct hop *
hop_accept_tcp(const struct config *cf, const struct keys *me, int fd, int timeout_s)
{
	int64_t deadline = wire_now_us() + (int64_t)(timeout_s = wire_timeout(cf, timeout_s)) * 1000000;
	struct aead *tx = NULL, *rx = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const struct peer *p;
	char remote[80] = "(unknown)";
	struct wire_hs hs;
	struct hop *h;
	uint8_t b[HS_HELLO_MAX], auth[HS_AUTH_MAX];
	ssize_t total, c;
	int r;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		addr_str((struct sockaddr *)&ss, remote, sizeof(remote));
	set_tcp_opts(fd);
	if (wire_hs_begin(&hs, cf, 1) < 0)
		goto fail;
	if ((r = wire_read_full(fd, b, HS_HEAD_LEN, deadline, "in handshake", NULL)) <= 0) {
		if (r == 0)
			err_set("connection closed before hello");
		goto fail;
	}
	if ((total = wire_hs_head(b, HS_HEAD_LEN, 0)) < 0) {
		/* another version: say ours, so its log names both */
		if (memcmp(b, HOP_MAGIC, HOP_MAGIC_LEN) == 0)
			refusal_send(fd, "this shipd speaks another hop protocol version");
		goto fail;
	}
	if (wire_read_full(fd, b + HS_HEAD_LEN, total - HS_HEAD_LEN, deadline, "in handshake",
		      NULL) != 1)
		goto fail;
	if (wire_hs_hello_parse(&hs, b, total, 0) < 0)
		goto fail;
	if ((p = wire_hs_known(cf, hs.peer_name)) == NULL)
		goto fail;
	if (wire_hs_reply_make(&hs, cf->node, me) < 0 ||
	    write_full(fd, hs.m2, hs.m2len, deadline, "in handshake") < 0)
		goto fail;
	/* AUTH: the signature and the certificate block */
	if ((r = wire_read_full(fd, auth, ED25519_SIG_LEN + 2, deadline, "in handshake",
			   NULL)) <= 0) {
		if (r == 0)
			err_set("%s closed the connection in handshake (does it have our key?)",
				p->name);
		goto fail;
	}
	if ((c = wire_hs_cert_block(auth + ED25519_SIG_LEN)) < 0 ||
	    (c && wire_read_full(fd, auth + ED25519_SIG_LEN + 2, c, deadline, "in handshake",
			    NULL) != 1))
		goto fail;
	if (wire_hs_auth_check(&hs, auth, ED25519_SIG_LEN + 2 + c, p) < 0 ||
	    wire_hs_keys(&hs, &tx, &rx) < 0)
		goto fail;
	h = wire_hop_new(fd, HOP_TCP, 1, timeout_s, p, tx, rx, remote);
	wire_hs_hop(&hs, h);
	wire_hs_end(&hs);
	if (tcp_send_kind(h, FR_HSOK, NULL, 0, deadline - wire_now_us()) < 0) {
		wire_err_prefix("hop from %s", remote);
		h->dead = 1;
		hop_close(h);
		return NULL;
	}
	return h;
fail:
	wire_hs_abort(&hs, tx, rx, NULL, fd);
	wire_err_prefix("hop from %s", remote);
	return NULL;
}

int
hop_peek_hello(int fd, int timeout_ms, char *name, size_t size)
{
	int64_t deadline = within((int64_t)timeout_ms * 1000);
	uint8_t b[HS_HELLO_MAX];

	for (;;) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT), total;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 0;
		if (n >= HS_HEAD_LEN) {
			if ((total = wire_hs_head(b, n, 0)) < 0)
				return 0;
			if (n >= total) {
				size_t len = b[HOP_MAGIC_LEN + 1];

				if (!wire_name_ok((const char *)b + HS_HEAD_LEN, len) || len >= size)
					return 0;
				memcpy(name, b + HS_HEAD_LEN, len);
				name[len] = 0;
				return 1;
			}
		}
		/* part of it: what is there stays readable, so wait a little */
		if (n > 0 && wire_now_us() + 20000 < deadline)
			usleep(20000);
		else if (wire_wait(fd, POLLIN, deadline) <= 0)
			return 0;
		if (wire_now_us() >= deadline)
			return 0;
	}
}

/* ---- client: TCP first, then UDP ---- */

/*
 * Connect a TCP socket to ai from a port in the range; the next port is
 * tried when this address pair is still in use. Returns the fd, -1 when
 * the peer cannot be reached over TCP (why says how), -2 on a local error.
 */
static int
tcp_dial(const struct config *cf, const struct addrinfo *ai, int timeout_s, char *why,
	 size_t whysz, int *timed_out)
{
	int ctimeout = timeout_s < cf->connect_timeout || cf->connect_timeout <= 0 ? timeout_s
									      : cf->connect_timeout;
	int range = cf->min_port > 0 && cf->max_port >= cf->min_port;
	int tries = range ? cf->max_port - cf->min_port + 1 : 1;
	int first = cf->min_port;

	for (int attempt = 0; attempt < tries; attempt++) {
		int fd, port, e, w;
		socklen_t el = sizeof(e);

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err_set("socket: %s", strerror(errno));
			return -2;
		}
		if ((port = port_bind_from(cf, fd, NULL, ai->ai_family, first, timeout_s)) < 0) {
			close(fd);
			return -2;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			set_tcp_opts(fd);
			return fd;
		}
		e = errno;
		if (e == EINPROGRESS) {
			w = wire_wait(fd, POLLOUT, wire_now_us() + (int64_t)ctimeout * 1000000);
			if (w == 0) {
				snprintf(why, whysz, "connect timed out after %d s", ctimeout);
				*timed_out = 1;
				close(fd);
				return -1;
			}
			if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
			if (e == 0) {
				set_tcp_opts(fd);
				return fd;
			}
		}
		close(fd);
		if (range && (e == EADDRNOTAVAIL || e == EADDRINUSE)) {
			first = port + 1;
			continue;
		}
		snprintf(why, whysz, "%s", strerror(e));
		return -1;
	}
	snprintf(why, whysz, "every port of %d-%d is already connected to it",
		 cf->min_port, cf->max_port);
	return -1;
}

/* UDP to each address of res in turn; why says what the last one did. */
static struct hop *
udp_dial(const struct config *cf, const struct keys *me, const struct peer *p,
	 const struct addrinfo *res, int timeout_s, char *why, size_t whysz)
{
	int naddr = 0;
	struct hop *h;

	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		naddr++;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int share = naddr > 1 ? timeout_s / naddr : timeout_s;

		if ((h = udp_hop_connect(cf, me, p, ai->ai_addr, ai->ai_addrlen,
					 share < 1 ? 1 : share)) != NULL)
			return h;
		snprintf(why, whysz, "%s", err_get());
	}
	return NULL;
}

struct hop *
hop_connect(const struct config *cf, const struct keys *me, const struct peer *p, int timeout_s)
{
	return hop_connect_via(cf, me, p, timeout_s, 0);
}

int
hop_refused(const struct hop *h)
{
	return h->refused;
}

int
hop_tcp_timed_out(const struct hop *h)
{
	return h->tcp_timed_out;
}

struct hop *
hop_connect_via(const struct config *cf, const struct keys *me, const struct peer *p,
		int timeout_s, int flags)
{
	int udp_first = flags & HOP_UDP_FIRST;
	struct addrinfo hints, *res = NULL, *ai;
	char who[400], port[16], tcp_why[256] = "no address", udp_why[512] = "";
	struct hop *h = NULL;
	int e, timed_out = 0;

	snprintf(who, sizeof(who), "hop to %s (%s:%d)", p->name, p->host ? p->host : "-", p->port);
	timeout_s = wire_timeout(cf, timeout_s);
	/* without a pinned key, the peer proves itself with a certificate */
	if (p->host == NULL || (!p->has_key && cf->nauth == 0)) {
		err_set("%s: %s", who, p->host ? "no key configured for it" :
			"it has no address (a KEY-only node is reached through a ROUTE)");
		return NULL;
	}
	snprintf(port, sizeof(port), "%d", p->port > 0 ? p->port : DEFAULT_PORT);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;	/* no AI_ADDRCONFIG: a namespace may have only lo */
	if ((e = getaddrinfo(p->host, port, &hints, &res)) != 0) {
		err_set("%s: cannot resolve %s: %s", who, p->host, gai_strerror(e));
		return NULL;
	}
	if (udp_first) {
		if ((h = udp_dial(cf, me, p, res, timeout_s, udp_why, sizeof(udp_why))) != NULL)
			goto out;
		msg_info("%s: udp: %s; trying tcp", who, udp_why);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		char addr[80];
		int fd;

		fd = tcp_dial(cf, ai, timeout_s, tcp_why, sizeof(tcp_why), &timed_out);
		if (fd == -2) {
			wire_err_prefix("%s", who);
			goto out;
		}
		if (fd >= 0) {
			addr_str(ai->ai_addr, addr, sizeof(addr));
			if ((h = tcp_client_handshake(cf, me, p, fd, timeout_s, addr,
						      flags & HOP_EARLY)) == NULL)
				wire_err_prefix("%s over tcp", who);
			goto out;
		}
	}
	if (!udp_first) {
		/* TCP cannot reach it: the same address and port over UDP */
		msg_info("%s: tcp: %s; trying udp", who, tcp_why);
		if ((h = udp_dial(cf, me, p, res, timeout_s, udp_why, sizeof(udp_why))) != NULL) {
			h->tcp_timed_out = timed_out;
			goto out;
		}
	}
	err_set("%s: tcp: %s; udp: %s", who, tcp_why, udp_why);
out:
	freeaddrinfo(res);
	return h;
}

/* ---- the hop API ---- */

/* A TCP send failed: if it went early into a refusal, the server's close
 * says why (and hop_refused says so). Always -1. */
static int
tcp_send_failed(struct hop *h)
{
	if (h->hsok_due && tcp_hsok_first(h, within(HOP_CLOSE_WAIT_US)) == 0)
		err_set("sending: the connection broke");
	wire_err_prefix("hop %s %s", h->server ? "from" : "to", h->remote);
	return -1;
}

int
hop_send(struct hop *h, const void *msg, size_t len)
{
	if (h->hs_err) {		/* refused after an early start */
		err_set("hop to %s: %s", h->remote, h->hs_err);
		return -1;
	}
	if (h->dead || h->peer_closed) {
		err_set("hop %s %s: %s", h->server ? "from" : "to", h->remote,
			h->dead ? "broken by an earlier error" : "peer has closed");
		return -1;
	}
	if (len > HOP_MAX_MSG) {
		err_set("message of %zu bytes exceeds the hop limit of %d", len, HOP_MAX_MSG);
		return -1;
	}
	if (h->proto == HOP_UDP)
		return udp_hop_send(h, msg, len);
	if (tcp_send_kind(h, FR_DATA, msg, len, (int64_t)h->timeout_s * 1000000) < 0)
		return tcp_send_failed(h);
	return 0;
}

int
hop_send_body(struct hop *h, const void *msg, size_t len, size_t hlen, int fd, off_t off)
{
	if (hlen >= len || h->hs_err || h->dead || h->peer_closed || len > HOP_MAX_MSG)
		return hop_send(h, msg, len);	/* no body, or says why not */
	if (h->proto == HOP_UDP)		/* body packets (wire_udp.c) */
		return udp_hop_send_body(h, msg, len, hlen);
	if (wire_send_body(h, msg, hlen, (const uint8_t *)msg + hlen, len - hlen, fd, off,
			  (int64_t)h->timeout_s * 1000000) < 0)
		return tcp_send_failed(h);
	return 0;
}

int
hop_readable(struct hop *h, int timeout_ms)
{
	if (h->dead || h->peer_closed)
		return 1;
	if (h->proto == HOP_UDP)
		return udp_hop_wait(h, wire_now_us() + (int64_t)timeout_ms * 1000);
	for (;;) {
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !h->hsok_due)
			return r != 0;	/* an error: hop_recv reports it */
		/* the late HSOK is no message: read it, then look again */
		if (tcp_hsok_first(h, within((int64_t)h->timeout_s * 1000000)) < 0)
			return 1;	/* hop_recv reports it */
	}
}

ssize_t
hop_recv(struct hop *h, void *buf, size_t size, int timeout_s)
{
	ssize_t n;
	int in_buf;

	if (timeout_s <= 0)
		timeout_s = h->timeout_s;
	if (h->proto == HOP_UDP)	/* messages may wait in front of a CLOSE */
		return udp_hop_recv(h, buf, size, timeout_s);
	if (h->peer_closed) {
		h->eof = 1;
		return 0;
	}
	if (tcp_hsok_first(h, within((int64_t)timeout_s * 1000000)) < 0) {
		wire_err_prefix("hop to %s", h->remote);
		return -1;
	}
	if (h->dead) {
		err_set("hop %s %s: broken by an earlier error", h->server ? "from" : "to",
			h->remote);
		return -1;
	}
	n = tcp_read_frame(h, within((int64_t)timeout_s * 1000000), "waiting for a message",
			   buf, size, &in_buf);
	if (n == 0) {
		err_set("connection closed without a close message");
		h->dead = 1;
	} else if (n > 0) {
		switch (h->fbuf[0]) {
		case FR_DATA:
			if (in_buf)
				return n - 1;
			if ((size_t)n - 1 > size) {
				err_set("message of %zd bytes does not fit a %zu-byte buffer",
					n - 1, size);
				h->dead = 1;
				break;
			}
			memcpy(buf, h->fbuf + 1, n - 1);
			return n - 1;
		case FR_CLOSE:
			h->peer_closed = h->eof = 1;
			return 0;
		default:
			err_set("unexpected frame kind %u", h->fbuf[0]);
			h->dead = 1;
			break;
		}
	}
	wire_err_prefix("hop %s %s", h->server ? "from" : "to", h->remote);
	return -1;
}

void
hop_close(struct hop *h)
{
	if (h == NULL)
		return;
	if (h->proto == HOP_UDP) {
		udp_hop_close(h);
	} else if (h->fd >= 0 && !h->dead && !h->peer_closed &&
		   tcp_send_kind(h, FR_CLOSE, NULL, 0, HOP_CLOSE_WAIT_US) == 0) {
		/*
		 * The server half-closes at once; the client waits for that
		 * FIN. Both read until EOF, so no unread byte turns the
		 * close into a reset that could destroy what is in flight.
		 */
		int64_t end = wire_now_us() + HOP_CLOSE_WAIT_US;
		char junk[4096];

		if (h->server)
			shutdown(h->fd, SHUT_WR);
		while (wire_wait(h->fd, POLLIN, end) == 1) {
			ssize_t r = read(h->fd, junk, sizeof(junk));

			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
				break;
		}
	}
	if (h->fd >= 0)
		close(h->fd);
	aead_free(h->tx);
	aead_free(h->rx);
	if (h->fbuf) {
		crypto_wipe(h->fbuf, FRAME_MAX);
		free(h->fbuf);
	}
	free(h->hs_err);
	free(h);
}

int
hop_udp_is_hello(const void *dgram, size_t len)
{
	return len == HOP_UDP_HELLO_LEN && memcmp(dgram, HOP_MAGIC, HOP_MAGIC_LEN) == 0;
}

int
hop_eof(const struct hop *h)
{
	return h->eof;
}

int
hop_reusable(const struct hop *h)
{
	struct pollfd p = {.fd = h->fd, .events = POLLIN};

	if (h->proto != HOP_TCP || h->dead || h->peer_closed || h->eof)
		return 0;
	return poll(&p, 1, 0) == 0;
}

const struct peer *
hop_peer(const struct hop *h)
{
	return h->peer;
}

const struct cert *
hop_cert(const struct hop *h)
{
	return h->has_cert ? &h->cert : NULL;
}

const char *
hop_proto(const struct hop *h)
{
	return h->proto == HOP_UDP ? "udp" : "tcp";
}

int
hop_local_port(const struct hop *h)
{
	return h->local_port;
}

const char *
hop_remote(const struct hop *h)
{
	return h->remote;
}
