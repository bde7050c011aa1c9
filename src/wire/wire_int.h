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
#include "../util/log.h"
#include "../crypto/crypto.h"
#include "wire.h"

#define HOP_MAGIC	"SHIPD-HOP"
#define HOP_MAGIC_LEN	9
#define HOP_VERSION	2
#define HOP_NAME_MAX	255
/* magic, version, name length: enough to tell a shipd from anything else */
#define HS_HEAD_LEN	(HOP_MAGIC_LEN + 2)
#define HS_HELLO_MAX	(HS_HEAD_LEN + HOP_NAME_MAX + X25519_LEN)
#define HS_REPLY_MAX	(HS_HELLO_MAX + ED25519_SIG_LEN)

enum { HOP_TCP, HOP_UDP };

/* The first byte of every sealed TCP frame. */
#define FR_DATA		0
#define FR_CLOSE	1
#define FR_HSOK		2

/* How long hop_close waits for the peer's FIN or for its last acks. */
#define HOP_CLOSE_WAIT_US	2000000

/*
 * One handshake in progress. m1 = HELLO, m2 = REPLY (with the server's
 * signature); the transcript is m1 | m2.
 */
struct wire_hs {
	int server;
	uint8_t *eph_sec;			/* secure memory, wiped by wire_hs_end */
	uint8_t eph_pub[X25519_LEN];
	uint8_t peer_eph[X25519_LEN];
	char peer_name[HOP_NAME_MAX + 1];
	uint8_t m1[HS_HELLO_MAX];
	size_t m1len;
	uint8_t m2[HS_REPLY_MAX];
	size_t m2len;
	uint8_t m3[ED25519_SIG_LEN];		/* the client's signature */
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
};

/* What the UDP transport counted (tests, bench and the close log lines). */
struct hop_udp_stats {
	unsigned long sent, rexmit, test_dropped;	/* datagrams out; rexmit: with bytes sent before */
	unsigned long timeouts;				/* probe timeouts (PTO) */
	unsigned long lost, congestion;			/* declared lost; window reductions */
	unsigned long received, bad, dup, oow;		/* datagrams in; dropped ones */
	unsigned long pmtu, cwnd, srtt_us;		/* now: datagram size, window, smoothed RTT */
};

/* wire.c: helpers shared by both transports */
int64_t wire_now_us(void);
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
int wire_hs_begin(struct wire_hs *hs, int server);
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
const struct peer *wire_hs_known(const struct config *cf, const char *name);
int wire_hs_reply_make(struct wire_hs *hs, const char *node, const struct keys *me);
/* Client: parse and verify REPLY from the peer p it dialled. */
int wire_hs_reply_parse(struct wire_hs *hs, const uint8_t *b, size_t len,
			const struct peer *p);
int wire_hs_auth_make(struct wire_hs *hs, const struct keys *me);
int wire_hs_auth_check(struct wire_hs *hs, const uint8_t sig[ED25519_SIG_LEN],
		       const struct peer *p);
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
#define UDP_AUTH_LEN	(1 + ED25519_SIG_LEN)
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
/* Keys agreed: keep the AUTH datagram, seed the RTT; the server sends HSOK. */
void udp_hop_start(struct hop *h, const uint8_t auth[UDP_AUTH_LEN], int64_t rtt_us);
/* Client: repeat AUTH until the server's first sealed datagram, by deadline. */
int udp_hop_confirm(struct hop *h, int64_t deadline, const char *me);
int udp_hop_send(struct hop *h, const void *msg, size_t len);
ssize_t udp_hop_recv(struct hop *h, void *buf, size_t size, int timeout_s);
void udp_hop_close(struct hop *h);
/* One received datagram into the transport (as the receive path does). */
void udp_hop_input(struct hop *h, const uint8_t *dg, size_t len);
/* Process what has arrived and what timers are due, without waiting. */
int udp_hop_poll(struct hop *h);
/* 1 when hop_recv would return at once (a message or the close is there). */
int udp_hop_pending(const struct hop *h);
void hop_udp_stats(const struct hop *h, struct hop_udp_stats *st);

#endif
