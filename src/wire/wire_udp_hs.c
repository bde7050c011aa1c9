/*
 * wire_udp_hs.c - the hop handshake (wire_hs.c's messages) carried in
 * datagrams, for when TCP cannot reach the peer; wire_udp.c takes over
 * once the keys are agreed.
 *
 * Like TFTP, the server answers a HELLO that reached its listening port
 * from a new socket bound in the port range and connect()ed to the client;
 * the client connect()s to wherever the first good REPLY came from:
 *   "SHIPD-HOP"...  HELLO, zero-padded to 1200 bytes (client -> listening
 *                   port; the padding means a REPLY, ~120 bytes however
 *                   often repeated, never amplifies a forged HELLO)
 *   01 cid[8] REPLY server session -> client, repeated until an AUTH;
 *                   cid is the first 8 bytes of the HELLO's ephemeral key
 *   02 sig_c        AUTH, client -> session, repeated until the server's
 *                   first sealed datagram (HSOK) arrives
 * Retransmissions back off from 250 ms to 2 s; the whole handshake has
 * timeout_s. A server that refuses stays silent, so the client learns it
 * from the port-unreachable its next AUTH provokes, or from the timeout.
 *
 * Sessions are told apart by the HELLO's ephemeral key, fresh for every
 * connection, never by the source port: with a port range the next
 * connection binds the same port again (hop_udp_hello_id gives the
 * master that key; a REPLY whose cid is not ours is a late answer to an
 * earlier connection from the same port and is ignored).
 *
 * Never answers a datagram that is not a HELLO from a known node, never
 * returns a hop whose peer has not proved its key.
 */
#include "wire.h"
#include "udp_int.h"
#include "../util/addr.h"
#include "../util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* A lost send is a lost datagram: the caller's retransmission covers it. */
static void
lossy_send(int fd, const void *b, size_t n, const struct sockaddr *to, socklen_t tl,
	   struct wire_lossy *l)
{
	if (!wire_lossy_drop(l))
		(void)sendto(fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL, to, tl);
}

/* One handshake message repeated with back-off until its answer comes. */
struct resend {
	int64_t next, rto, t_sent;
	int nsent;
};

/*
 * Send m again if its time has come, then wait for a datagram until the
 * next resend or the deadline. -1 (error set) once the deadline passed.
 */
static int
resend_wait(struct resend *r, int fd, const void *m, size_t n, const struct sockaddr *to,
	    socklen_t tl, struct wire_lossy *loss, int64_t deadline, const char *what)
{
	int64_t t = wire_now_us();

	if (t >= deadline) {
		err_set("timeout in handshake%s", what);
		return -1;
	}
	if (r->rto == 0)
		r->rto = UDP_RTO_INIT_US;
	if (t >= r->next) {
		lossy_send(fd, m, n, to, tl, loss);
		r->t_sent = t;
		r->nsent++;
		r->next = t + r->rto;
		r->rto = min64(2 * r->rto, UDP_RTO_MAX_US);
	}
	return wire_wait(fd, POLLIN, min64(r->next, deadline));
}

/* The round trip, when the answer came to the first send. */
static int64_t
resend_rtt(const struct resend *r)
{
	return r->nsent == 1 ? wire_now_us() - r->t_sent : -1;
}

struct hop *
udp_hop_connect(const struct config *cf, const struct keys *me, const struct peer *p,
		const struct sockaddr *sa, socklen_t salen, int timeout_s)
{
	int64_t deadline = wire_now_us() + (int64_t)timeout_s * 1000000, rtt = -1;
	struct resend rs = {0};
	struct aead *tx = NULL, *rx = NULL;
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	struct wire_hs hs;
	struct wire_lossy loss;
	struct hop *h = NULL;
	uint8_t hello[UDP_DGRAM_MAX], b[UDP_DGRAM_MAX], auth[UDP_AUTH_MAX];
	char remote[80], what[64];
	int fd;
	ssize_t n;

	memset(&hs, 0, sizeof(hs));
	fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set("socket: %s", strerror(errno));
		return NULL;
	}
	if (port_bind_from(cf, fd, NULL, sa->sa_family, cf->min_port, timeout_s) < 0)
		goto fail;
	udp_sock_setup(fd, sa->sa_family);
	/*
	 * Hear ICMP port-unreachable on this unconnected socket: a host that
	 * answers "nobody listens here" fails the attempt at once, while a
	 * firewall that drops silently still gets the whole timeout.
	 */
	{
		int on = 1;

		if (sa->sa_family == AF_INET6)
			setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof(on));
		else
			setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof(on));
	}
	wire_lossy_init(&loss);
	if (wire_hs_begin(&hs, cf, 0) < 0 || wire_hs_hello_make(&hs, cf->node) < 0)
		goto fail;
	memset(hello, 0, sizeof(hello));
	memcpy(hello, hs.m1, hs.m1len);
	snprintf(what, sizeof(what), " (no UDP answer in %d s)", timeout_s);
	for (;;) {		/* HELLO until a REPLY */
		if (resend_wait(&rs, fd, hello, sizeof(hello), sa, salen, &loss, deadline, what) < 0)
			goto fail;
		fl = sizeof(from);
		n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &fl);
		if (n < 0 && errno == ECONNREFUSED) {
			/* only our HELLOs leave this socket, all to sa */
			err_set("port unreachable: nothing listens on UDP there");
			goto fail;
		}
		if (n < 1 + UDP_CID_LEN || (size_t)n > sizeof(b) || b[0] != UDP_T_REPLY ||
		    memcmp(b + 1, hs.eph_pub, UDP_CID_LEN) != 0)
			continue;	/* nothing, or not for this connection */
		if (wire_hs_reply_parse(&hs, b + 1 + UDP_CID_LEN, n - 1 - UDP_CID_LEN, p) < 0)
			goto fail;
		rtt = resend_rtt(&rs);
		break;
	}
	if (connect(fd, (struct sockaddr *)&from, fl) < 0) {
		err_set("connect: %s", strerror(errno));
		goto fail;
	}
	addr_str((struct sockaddr *)&from, remote, sizeof(remote));
	if (wire_hs_auth_make(&hs, me) < 0 || wire_hs_keys(&hs, &tx, &rx) < 0)
		goto fail;
	auth[0] = UDP_T_AUTH;
	memcpy(auth + 1, hs.m3, hs.m3len);
	h = wire_hop_new(fd, HOP_UDP, 0, timeout_s, p, tx, rx, remote);
	wire_hs_hop(&hs, h);
	tx = rx = NULL;
	udp_hop_start(h, auth, 1 + hs.m3len, rtt);
	if (udp_hop_confirm(h, deadline, cf->node) < 0)	/* AUTH until accepted */
		goto fail;
	wire_hs_end(&hs);
	return h;
fail:
	wire_hs_abort(&hs, tx, rx, h, fd);
	return NULL;
}

/* The session socket's local address: LISTEN's when it names one. */
static const struct sockaddr *
session_local(const struct config *cf, int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (cf->listen_addr == NULL)
		return NULL;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, cf->listen_addr, &in->sin_addr) == 1) {
			in->sin_family = AF_INET;
			return (struct sockaddr *)ss;
		}
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, cf->listen_addr, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			return (struct sockaddr *)ss;
		}
	}
	return NULL;
}

struct hop *
hop_accept_udp(const struct config *cf, const struct keys *me, const void *dgram, size_t len,
	       const struct sockaddr *from, socklen_t fromlen, int timeout_s)
{
	int64_t deadline, rtt = -1;
	struct resend rs = {0};
	struct aead *tx = NULL, *rx = NULL;
	struct sockaddr_storage local;
	const struct peer *p;
	struct wire_hs hs;
	struct wire_lossy loss;
	struct hop *h;
	uint8_t reply[1 + UDP_CID_LEN + HS_REPLY_MAX], b[UDP_DGRAM_MAX];
	char remote[80];
	int fd = -1;
	ssize_t n;

	addr_str(from, remote, sizeof(remote));
	timeout_s = wire_timeout(cf, timeout_s);
	deadline = wire_now_us() + (int64_t)timeout_s * 1000000;
	if (wire_hs_begin(&hs, cf, 1) < 0)
		goto fail;
	if (len > UDP_DGRAM_MAX) {
		err_set("oversized hello (%zu bytes)", len);
		goto fail;
	}
	if (wire_hs_hello_parse(&hs, dgram, len, 1) < 0 ||
	    (p = wire_hs_known(cf, hs.peer_name)) == NULL)
		goto fail;
	fd = socket(from->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set("socket: %s", strerror(errno));
		goto fail;
	}
	if (port_bind_from(cf, fd, session_local(cf, from->sa_family, &local), from->sa_family,
			   cf->min_port, timeout_s) < 0)
		goto fail;
	if (connect(fd, from, fromlen) < 0) {
		err_set("connect: %s", strerror(errno));
		goto fail;
	}
	udp_sock_setup(fd, from->sa_family);
	wire_lossy_init(&loss);
	if (wire_hs_reply_make(&hs, cf->node, me) < 0)
		goto fail;
	reply[0] = UDP_T_REPLY;
	memcpy(reply + 1, hs.peer_eph, UDP_CID_LEN);
	memcpy(reply + 1 + UDP_CID_LEN, hs.m2, hs.m2len);
	for (;;) {		/* REPLY until an AUTH */
		if (resend_wait(&rs, fd, reply, 1 + UDP_CID_LEN + hs.m2len, NULL, 0, &loss, deadline,
				"") < 0)
			goto fail;
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == ECONNREFUSED) {
			err_set("client left the handshake (port unreachable)");
			goto fail;
		}
		if (n < UDP_AUTH_LEN || n > UDP_AUTH_MAX || b[0] != UDP_T_AUTH)
			continue;
		if (wire_hs_auth_check(&hs, b + 1, n - 1, p) < 0)
			goto fail;
		rtt = resend_rtt(&rs);
		break;
	}
	if (wire_hs_keys(&hs, &tx, &rx) < 0)
		goto fail;
	h = wire_hop_new(fd, HOP_UDP, 1, timeout_s, p, tx, rx, remote);
	wire_hs_hop(&hs, h);
	wire_hs_end(&hs);
	udp_hop_start(h, b, n, rtt);	/* sends HSOK */
	return h;
fail:
	wire_hs_abort(&hs, tx, rx, NULL, fd);
	wire_err_prefix("hop from %s", remote);
	return NULL;
}

int
hop_udp_hello_id(const void *dgram, size_t len, char *out, size_t outsz)
{
	const uint8_t *b = dgram;
	size_t at;

	if (!hop_udp_is_hello(dgram, len) || outsz < 2 * UDP_CID_LEN + 1)
		return -1;
	at = HS_HEAD_LEN + b[HOP_MAGIC_LEN + 1];	/* the ephemeral key, after the name */
	for (int i = 0; i < UDP_CID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", b[at + i]);
	return 0;
}
