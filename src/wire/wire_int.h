/*
 * wire_int.h - private to the hop channel: portbind.c, wire_hs.c (the
 * handshake messages), wire.c (TCP and the hop_* API), wire_udp_hs.c (the
 * handshake over UDP) and wire_udp.c (the datagram transport), plus their
 * unit test and fuzz target. Nothing else may include it; the
 * contract for the rest of shipd is wire.h.
 *
 * It holds the hop structure, the handshake messages (parsers take
 * buffers, so the fuzzer can feed them directly) and the entry points the
 * TCP and UDP halves share.
 */
#ifndef SHIPD_WIRE_INT_H
#define SHIPD_WIRE_INT_H

#include <stdint.h>
#include <sys/types.h>
#include "../util/clock.h"
#include "../util/log.h"
#include "../crypto/cert.h"
#include "../crypto/crypto.h"
#include "wire.h"

#define HOP_MAGIC	"SHIPD-HOP"
#define HOP_MAGIC_LEN	9
/* Big-endian 32-bit fields of frames and messages (wire.c, xfer.c). */
static inline uint32_t
get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline void
put32(uint8_t *b, uint32_t v)
{
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

#define HOP_VERSION	6		/* 2: UDP datagrams changed; 3: REPLY and AUTH carry a
					 * certificate block; 4: a window of orders in flight
					 * (xfer.h), refusals at the door; 5: body frames over
					 * TCP (a packet's bytes authenticated, not encrypted
					 * again: wire_body.c); 6: the same over UDP (body
					 * packets, wire_udp.c) */
#define HOP_NAME_MAX	255
/* magic, version, name length: enough to tell a shipd from anything else */
#define HS_HEAD_LEN	(HOP_MAGIC_LEN + 2)
#define HS_HELLO_MAX	(HS_HEAD_LEN + HOP_NAME_MAX + X25519_LEN)
/* a certificate block: its length (2 bytes, big-endian; 0: none), the certificate */
#define HS_CERT_BLOCK_MAX	(2 + CERT_MAX_LEN)
#define HS_REPLY_MAX	(HS_HELLO_MAX + ED25519_SIG_LEN + HS_CERT_BLOCK_MAX)
#define HS_AUTH_MAX	(ED25519_SIG_LEN + HS_CERT_BLOCK_MAX)

enum { HOP_TCP, HOP_UDP };

/* The first byte of every sealed TCP frame. */
#define FR_DATA		0
#define FR_CLOSE	1
#define FR_HSOK		2
/* The top bit of a TCP frame's length word: a body frame (wire_body.c). */
#define FRAME_BODY	0x80000000u

/* How long hop_close waits for the peer's FIN or for its last acks. */
#define HOP_CLOSE_WAIT_US	2000000

/*
 * One handshake in progress. m1 = HELLO, m2 = REPLY (with the server's
 * signature and certificate block); the transcript is m1 | m2. m3 = AUTH:
 * the client's signature and certificate block.
 */
struct wire_hs {
	const struct config *cf;		/* whose AUTHORITY lines judge certificates */
	int server;
	uint8_t *eph_sec;			/* secure memory, wiped by wire_hs_end */
	uint8_t eph_pub[X25519_LEN];
	uint8_t peer_eph[X25519_LEN];
	char peer_name[HOP_NAME_MAX + 1];
	uint8_t m1[HS_HELLO_MAX];
	size_t m1len;
	uint8_t m2[HS_REPLY_MAX];
	size_t m2len;
	uint8_t m3[HS_AUTH_MAX];		/* the client's signature and certificate */
	size_t m3len;
	struct cert peer_cert;			/* the certificate the peer proved itself with */
	int peer_has_cert;
};

struct udp;

struct hop {
	int fd;
	int proto;				/* HOP_TCP or HOP_UDP */
	int server;				/* 1 on the accepting side */
	int timeout_s;				/* silence allowed while sending */
	const struct peer *peer;
	char remote[80];			/* "addr:port" */
	int local_port;
	struct aead *tx, *rx;
	uint64_t tx_ctr, rx_ctr;		/* TCP frame counters = nonces */
	int peer_closed;			/* its CLOSE arrived */
	int eof;				/* hop_recv has reported that close */
	int dead;				/* an error broke the stream */
	uint8_t *fbuf;				/* TCP: one whole frame */
	struct udp *u;				/* UDP: transport state */
	struct cert cert;			/* the peer's certificate, if it showed one */
	int has_cert;
	int tcp_timed_out;			/* client, UDP: its TCP connect timed out */
	int hsok_due;				/* TCP client, HOP_EARLY: the server's HSOK
						 * is still to be read */
	int refused;				/* ... and the server closed instead */
	char *hs_err;				/* why the late HSOK failed, until hop_recv
						 * reports it */
	const char *self;			/* our node name, for that message */
	int kernel_send;			/* TCP to another host: bodies by sendfile */
};

/* What the UDP transport counted (tests, bench and the close log lines). */
struct hop_udp_stats {
	unsigned long sent, rexmit, test_dropped;	/* datagrams out; rexmit: with bytes sent before */
	unsigned long timeouts;				/* probe timeouts (PTO) */
	unsigned long lost, congestion;			/* declared lost; window reductions */
	unsigned long received, bad, dup, oow;		/* datagrams in; dropped ones */
	unsigned long pmtu, cwnd, srtt_us;		/* now: datagram size, window, smoothed RTT */
};

/* The monotonic clock (util/clock.c) in microseconds, as deadlines here count. */
static inline int64_t
wire_now_us(void)
{
	return (int64_t)(now_mono() * 1e6);
}

/* portbind.c: bind fd (a new socket) to a port in cf's range, or any port
 * when unset; waits and retries while the range is busy, up to wait_s
 * seconds. */
int port_bind(const struct config *cf, int fd, int family, int wait_s);

/* wire.c: helpers shared by both transports */
/* All n bytes by deadline: 1, 0 at EOF before the first, -1 (*got: how far). */
int wire_read_full(int fd, void *buf, size_t n, int64_t deadline, const char *what,
		   size_t *got);
/* All of iov (n pieces, shortened as they go) by deadline: 0, or -1 (err_set). */
struct iovec;
int wire_writev_full(int fd, struct iovec *iov, int n, int flags, int64_t deadline,
		     const char *what);
/* After a write that did not go (errno): 0 try again, -1 (err_set). */
int wire_write_wait(int fd, int64_t deadline, const char *what);
/* wire_body.c: a body frame out (fd >= 0: the body is also file fd's bytes
 * at off), and in after its word (n: the bytes after it) into dst. */
int wire_send_body(struct hop *h, const uint8_t *head, size_t hlen, const uint8_t *body,
		   size_t blen, int fd, off_t off, int64_t us);
ssize_t wire_read_body(struct hop *h, const uint8_t word[4], uint32_t n, int64_t deadline,
		       const char *what, uint8_t *dst, size_t size);
int wire_wait(int fd, short events, int64_t deadline_us);	/* 1 ready, 0 timeout, -1 */
void wire_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint8_t space, uint64_t ctr);
void wire_err_prefix(const char *fmt, ...) PRINTF(1, 2);
int wire_timeout(const struct config *cf, int timeout_s);	/* <= 0: IO-TIMEOUT */
void wire_put64(uint8_t *b, uint64_t v);
uint64_t wire_get64(const uint8_t *b);
struct hop *wire_hop_new(int fd, int proto, int server, int timeout_s,
			 const struct peer *p, struct aead *tx, struct aead *rx,
			 const char *remote);

/* wire_hs.c: the handshake messages, transport-independent */
int wire_name_ok(const char *s, size_t n);	/* [A-Za-z0-9._-]{1,255} */
int wire_hs_begin(struct wire_hs *hs, const struct config *cf, int server);
void wire_hs_end(struct wire_hs *hs);
/* A failed handshake: wipe hs, free the keys not yet handed to a hop, and
 * close the hop h if one was made (no CLOSE sent), else the socket fd. */
void wire_hs_abort(struct wire_hs *hs, struct aead *tx, struct aead *rx, struct hop *h, int fd);
int wire_hs_hello_make(struct wire_hs *hs, const char *node);
/* Checks magic and version of a message's first HS_HEAD_LEN bytes; returns
 * the whole message's length (reply: with the signature), or -1. */
ssize_t wire_hs_head(const uint8_t *b, size_t len, int reply);
/* Server: parse HELLO (pad_ok: zero padding may follow, as over UDP). */
int wire_hs_hello_parse(struct wire_hs *hs, const uint8_t *b, size_t len, int pad_ok);
/*
 * Server: may a client of this name connect? Only a PEER (by name, or by a
 * pattern PEER) may be a direct hop; a node known by its key alone (KEY,
 * KEYS-DIR) may not. It proves itself with its pinned key or a certificate.
 */
const struct peer *wire_hs_known(const struct config *cf, const char *name);
int wire_hs_reply_make(struct wire_hs *hs, const char *node, const struct keys *me);
/*
 * The length of the certificate block whose first 2 bytes are at b (what
 * follows a REPLY's signature, or an AUTH's), or -1 when it is too long.
 */
ssize_t wire_hs_cert_block(const uint8_t b[2]);
/* Client: parse and verify REPLY (certificate block included) from the peer p it dialled. */
int wire_hs_reply_parse(struct wire_hs *hs, const uint8_t *b, size_t len,
			const struct peer *p);
/* m3 = the client's signature and certificate block. */
int wire_hs_auth_make(struct wire_hs *hs, const struct keys *me);
/* Server: check AUTH (len bytes: signature, certificate block) from p. */
int wire_hs_auth_check(struct wire_hs *hs, const uint8_t *b, size_t len,
		       const struct peer *p);
/* The new hop keeps the certificate its peer proved itself with. */
void wire_hs_hop(const struct wire_hs *hs, struct hop *h);
int wire_hs_keys(struct wire_hs *hs, struct aead **tx, struct aead **rx);

/* portbind.c: bind to local (NULL: the wildcard address of family), trying
 * the range from port `first`, wrapping; returns the port bound or -1. */
int port_bind_from(const struct config *cf, int fd, const struct sockaddr *local,
		   int family, int first, int wait_s);

/* UDP: what the handshake half (wire_udp_hs.c) and the transport share */
#define UDP_DGRAM_MAX	HOP_UDP_HELLO_LEN	/* a handshake datagram's limit */
#define UDP_CID_LEN	8			/* REPLY echoes this much of the HELLO's key */
#define UDP_T_REPLY	0x01
#define UDP_T_AUTH	0x02
#define UDP_AUTH_LEN	(1 + ED25519_SIG_LEN + 2)	/* the shortest: no certificate */
#define UDP_AUTH_MAX	(1 + HS_AUTH_MAX)
#define UDP_RTO_INIT_US	250000
#define UDP_RTO_MAX_US	2000000

/* The test hook SHIPD_TEST_UDP_LOSS=N: drop one outgoing datagram in N. */
struct wire_lossy {
	unsigned n;
	uint64_t s;
};
void wire_lossy_init(struct wire_lossy *l);
int wire_lossy_drop(struct wire_lossy *l);

/* wire_udp_hs.c */
struct hop *udp_hop_connect(const struct config *cf, const struct keys *me,
			    const struct peer *p, const struct sockaddr *sa,
			    socklen_t salen, int timeout_s);
/* wire_udp.c */
void udp_hop_attach(struct hop *h);
/* Keys agreed: keep the AUTH datagram (len bytes), seed the RTT; the server sends HSOK. */
void udp_hop_start(struct hop *h, const uint8_t *auth, size_t len, int64_t rtt_us);
/* Client: repeat AUTH until the server's first sealed datagram, by deadline. */
int udp_hop_confirm(struct hop *h, int64_t deadline, const char *me);
int udp_hop_send(struct hop *h, const void *msg, size_t len);
/* The same with bytes [hlen, len) of msg a packet's: they cross in the clear. */
int udp_hop_send_body(struct hop *h, const void *msg, size_t len, size_t hlen);
ssize_t udp_hop_recv(struct hop *h, void *buf, size_t size, int timeout_s);
void udp_hop_close(struct hop *h);
/* One received datagram into the transport (as the receive path does). */
void udp_hop_input(struct hop *h, const uint8_t *dg, size_t len);
/* Process what has arrived and what timers are due, without waiting. */
int udp_hop_poll(struct hop *h);
/* 1 when hop_recv would return at once (a message or the close is there). */
int udp_hop_pending(const struct hop *h);
/* Until deadline: 1 as soon as udp_hop_pending, else 0. */
int udp_hop_wait(struct hop *h, int64_t deadline);
void hop_udp_stats(const struct hop *h, struct hop_udp_stats *st);

#endif
