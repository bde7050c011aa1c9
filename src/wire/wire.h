/*
 * wire.h - the hop channel between two shipd nodes: mutually authenticated
 * (each side signs the handshake with its configured Ed25519 key),
 * encrypted and integrity-protected (X25519 ephemeral keys, HKDF,
 * ChaCha20-Poly1305 with per-direction counters), carried over TCP or,
 * when TCP cannot connect, over a reliable windowed UDP transfer to the
 * same port. Every socket is bound inside the configured port range when
 * one is set (walking up from CLEARCASE_MIN_PORT, sleeping and retrying
 * when none is free, never outside it).
 *
 * The channel moves whole messages of at most HOP_MAX_MSG bytes; the
 * transfer protocol on top (offers, data, acks) is the caller's.
 *
 * Layer src/wire/: handshakes, the hop channel over TCP and UDP, port
 * binding, transfer framing. May call the layers below it (it uses
 * src/util/, src/crypto/, src/conf/); never commits into a bay and never
 * parses a packet.
 */
#ifndef SHIPD_WIRE_H
#define SHIPD_WIRE_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "../conf/config.h"
#include "../crypto/cert.h"
#include "../crypto/keys.h"

#define HOP_MAX_MSG	(256 * 1024)

struct hop;

/* The listening sockets: TCP and UDP on cf->listen_addr:listen_port. */
int wire_listen_tcp(const struct config *cf);
int wire_listen_udp(const struct config *cf);

/* Client: connect to peer p (TCP first, then UDP), authenticate both ways. */
struct hop *hop_connect(const struct config *cf, const struct keys *me,
			const struct peer *p, int timeout_s);
/*
 * The same with flags: HOP_UDP_FIRST tries UDP first (then TCP), for a
 * peer whose TCP a firewall is known to drop (sched/peers.c remembers
 * it). HOP_EARLY returns a TCP hop as soon as our AUTH is sent, without
 * waiting for the server's confirmation: messages may follow at once, so
 * the handshake costs one round trip after the TCP connect instead of
 * two (the server has already proved itself by then; what we send is
 * sealed with the new keys). A refusal then shows at the first receive
 * ("NAME refused us ..."), and hop_refused() says so.
 */
#define HOP_UDP_FIRST	0x01
#define HOP_EARLY	0x02
struct hop *hop_connect_via(const struct config *cf, const struct keys *me,
			    const struct peer *p, int timeout_s, int flags);
/* 1 when the server refused a HOP_EARLY hop after its handshake. */
int hop_refused(const struct hop *h);
/* 1 when this hop is UDP because a TCP connect to the peer timed out
 * (silently dropped, not refused) just before. */
int hop_tcp_timed_out(const struct hop *h);

/* Server, TCP: run the handshake on an accepted socket. The caller has
 * already checked the address against the allow list. The hop owns fd from
 * here on: it is closed on failure too. */
/*
 * The key process's side of hop signing (keys.h KEYOP_HOP_*): checks m1 is
 * a HELLO and m2 a REPLY (up to its signature for the server, whole for
 * the client), the signer's message naming node, then signs with me's
 * secret key (which must be here). 0, or -1 with err_set.
 */
int wire_hs_sign(const struct keys *me, const char *node, int server, const uint8_t *m1,
		 size_t m1len, const uint8_t *m2, size_t m2len, uint8_t sig[ED25519_SIG_LEN]);
struct hop *hop_accept_tcp(const struct config *cf, const struct keys *me, int fd,
			   int timeout_s);
/*
 * Server, TCP, before hop_accept_tcp: wait up to timeout_ms for the
 * client's whole HELLO to be in the socket, without taking it, and copy
 * the node name it claims (unproved: for ranking connections at the door
 * only). 1 seen, 0 not (closed, not a HELLO, or not complete in time).
 */
int hop_peek_hello(int fd, int timeout_ms, char *name, size_t size);
/* Server, UDP: given the first datagram from `from` on the listening UDP
 * socket, open a session socket in the port range and run the handshake. */
struct hop *hop_accept_udp(const struct config *cf, const struct keys *me,
			   const void *dgram, size_t len, const struct sockaddr *from,
			   socklen_t fromlen, int timeout_s);
/*
 * For the master, before it forks for a datagram: 1 if it looks like a
 * HELLO (size and magic; hop_accept_udp judges the rest and logs why it
 * refuses). A client repeats its HELLO
 * until answered, so while a child serves a source address, further HELLOs
 * from that address should be dropped rather than given a second child.
 */
#define HOP_UDP_HELLO_LEN	1200
int hop_udp_is_hello(const void *dgram, size_t len);
/*
 * What tells one UDP session from another: a short hex string taken from
 * the HELLO's ephemeral key, fresh for each connection and the same in its
 * repeats (never the source port: a port range reuses ports at once).
 * 0, or -1 if dgram is not a HELLO or out (>= 17 bytes) is too small.
 */
int hop_udp_hello_id(const void *dgram, size_t len, char *out, size_t outsz);

int hop_send(struct hop *h, const void *msg, size_t len);
/*
 * The same for a message whose tail is end-to-end encrypted already (a
 * packet's bytes): its first hlen bytes (the head) are encrypted as any
 * message's, the other len - hlen (the body) are only authenticated, under
 * the same tag, bound to the head and to the frame's place in the stream
 * (TCP: wire_body.c; UDP: body packets, wire_udp.c). Never pass as body
 * anything but bytes already end-to-end encrypted: they cross as they
 * are. When fd >= 0 the body is also the bytes of file fd at off (the
 * caller just read them into msg), and over TCP the kernel may send it
 * from the file. hop_recv returns the
 * whole message, as for hop_send.
 */
int hop_send_body(struct hop *h, const void *msg, size_t len, size_t hlen, int fd, off_t off);
/*
 * Wait up to timeout_ms (0: just look) for input: 1 when hop_recv has
 * something to return without a long wait (a message, or the close, or an
 * error), 0 when nothing came. Lets one end write while it reads.
 */
int hop_readable(struct hop *h, int timeout_ms);
/* One whole message into buf, all of it within timeout_s (a deadline per
 * message, not per read: a trickling peer times out all the same); -1 on
 * error/timeout (err_set), 0 on clean EOF. */
ssize_t hop_recv(struct hop *h, void *buf, size_t size, int timeout_s);
/* After hop_recv returned 0: 1 if that was the peer's close, 0 if it was an
 * empty message. */
int hop_eof(const struct hop *h);
void hop_close(struct hop *h);
/* A connection kept open between batches may carry more: TCP, no error,
 * and nothing (no close, no data) arrived from the peer meanwhile. */
int hop_reusable(const struct hop *h);
/* Is the peer still trusted (its certificate or pinned key not revoked
 * since the handshake)? 0, or -1 with err_set naming it. */
int hop_still_trusted(const struct hop *h, const struct config *cf);

const struct peer *hop_peer(const struct hop *h);
/* The certificate the peer proved itself with, or NULL (a pinned key). */
const struct cert *hop_cert(const struct hop *h);
const char *hop_proto(const struct hop *h);		/* "tcp" or "udp" */
int hop_local_port(const struct hop *h);
const char *hop_remote(const struct hop *h);		/* "addr:port" */

#endif
