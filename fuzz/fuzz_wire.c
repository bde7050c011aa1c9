/*
 * fuzz_wire.c - libFuzzer target for every byte the hop channel takes from
 * the network, before and after authentication. The first input byte
 * picks the door:
 *   0  the handshake parsers, straight on the buffer (HELLO, REPLY)
 *   1  the server side of a TCP handshake, fed through a socketpair
 *   2  raw bytes where sealed TCP frames are expected
 *   3  records the harness seals with the session keys as TCP frames
 *      (kind, length, payload; some corrupted or out of order; a kind
 *      with its top bit set makes a body frame of protocol 5)
 *   4  UDP datagrams into the transport: raw, or packets sealed by the
 *      harness with the session keys (a packet number, then frames as the
 *      fuzzer writes them) so the frame parser, the ACK processing, loss
 *      detection, the stream reassembly and the window are reached; with
 *      how's top bit, a body packet of protocol 6 (the record's second
 *      byte says how many of the bytes after it are sealed frames, the
 *      rest is the clear body)
 * Nothing may crash, leak, hang or deliver an altered message.
 */
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "wire/wire.h"
#include "wire/udp_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* libgcrypt keeps its key-generation pool for the process's life. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";
}

static struct keys *kA, *kB;
static struct config cfB;
static struct peer peerA;
static uint8_t *msgbuf;
static const uint8_t key_c2s[AEAD_KEY_LEN] = { 1, 2, 3 }, key_s2c[AEAD_KEY_LEN] = { 4, 5, 6 };

static void
setup(void)
{
	char dir[] = "/tmp/fuzz_wire.XXXXXX", path[64];

	crypto_init();
	log_open("fuzz_wire", "file:/dev/null");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/A", dir);
	if (keys_generate(path, &kA) < 0)
		abort();
	unlink(path);
	snprintf(path, sizeof(path), "%s/B", dir);
	if (keys_generate(path, &kB) < 0)
		abort();
	unlink(path);
	rmdir(dir);
	peerA.name = "A";
	peerA.host = "127.0.0.1";
	peerA.port = 4590;
	peerA.key = kA->pub;
	peerA.has_key = 1;
	cfB.node = "B";
	cfB.peers = &peerA;
	cfB.npeers = 1;
	msgbuf = xmalloc(HOP_MAX_MSG);
}

/* Write what fits without blocking, then end the stream. */
static void
feed_stream(int fd, const uint8_t *p, size_t n)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			break;
		p += w;
		n -= w;
	}
	shutdown(fd, SHUT_WR);
}

static void
recv_all(struct hop *h)
{
	for (int i = 0; i < 256; i++) {
		ssize_t n = hop_recv(h, msgbuf, HOP_MAX_MSG, 1);

		if (n < 0 || (n == 0 && hop_eof(h)))
			break;
	}
}

static void
parsers(const uint8_t *p, size_t n)
{
	struct wire_hs hs;

	memset(&hs, 0, sizeof(hs));
	(void)wire_hs_head(p, n, 0);
	(void)wire_hs_hello_parse(&hs, p, n, n & 1);
	memset(&hs, 0, sizeof(hs));
	hs.cf = &cfB;	/* whose AUTHORITY lines judge a certificate block */
	(void)wire_hs_reply_parse(&hs, p, n, &peerA);
	(void)hop_udp_is_hello(p, n);
}

static void
tcp_handshake(const uint8_t *p, size_t n)
{
	struct hop *h;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	feed_stream(sv[0], p, n);
	if ((h = hop_accept_tcp(&cfB, kB, sv[1], 1)) != NULL)
		abort();	/* nobody here holds A's key */
	close(sv[0]);
}

static struct hop *
session(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type, 0, sv) < 0)
		return NULL;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	return wire_hop_new(sv[1], type == SOCK_STREAM ? HOP_TCP : HOP_UDP, 1, 1, &peerA,
			    aead_new(key_s2c), aead_new(key_c2s), "fuzz");
}

/* A body frame (wire_body.c) of kind, the first split bytes of p its
 * head, the rest its body; mangle as for sealed frames. */
static void
body_frame(struct sbuf *out, uint8_t kind, const uint8_t *p, size_t len, uint8_t mangle,
	   struct aead *a, uint64_t ctr)
{
	size_t split = (mangle >> 2) % (len + 1), sl = 1 + split, blen = len - split;
	size_t flen = 8 + sl + blen + AEAD_TAG_LEN;
	uint8_t nonce[AEAD_NONCE_LEN], *f = xmalloc(flen);
	struct aead_ad ad[2] = { { f, 8 }, { f + 8 + sl, blen } };

	put32(f, FRAME_BODY | (uint32_t)(flen - 4));
	put32(f + 4, (uint32_t)sl);
	f[8] = kind;
	memcpy(f + 9, p, split);
	memcpy(f + 8 + sl, p + split, blen);
	wire_nonce(nonce, 0, mangle & 2 ? ctr + 1 : ctr);
	aead_seal_ad(a, nonce, ad, 2, f + 8, sl, f + 8, f + 8 + sl + blen);
	if (mangle & 1)
		f[(mangle >> 2) % flen] ^= 0x20;
	sbuf_add(out, f, flen);
	free(f);
}

static void
tcp_frames(const uint8_t *p, size_t n, int sealed)
{
	struct sbuf out;
	struct aead *a;
	uint64_t ctr = 0;
	struct hop *h;
	int sv[2];

	if ((h = session(SOCK_STREAM, sv)) == NULL)
		return;
	sbuf_init(&out);
	if (!sealed) {
		sbuf_add(&out, p, n);
	} else {
		/* records: kind, len (2 bytes), mangle, payload */
		a = aead_new(key_c2s);
		while (n >= 4 && out.len < 150000) {
			size_t len = (size_t)p[1] << 8 | p[2], flen;
			uint8_t kind = p[0], mangle = p[3], nonce[AEAD_NONCE_LEN], *f;

			p += 4;
			n -= 4;
			if (len > n)
				len = n;
			if (kind & 0x80) {	/* a body frame: head sealed, body as it is */
				body_frame(&out, kind & 0x7f, p, len, mangle, a, ctr++);
				p += len;
				n -= len;
				continue;
			}
			flen = 1 + len + AEAD_TAG_LEN;
			f = xmalloc(4 + flen);
			f[0] = flen >> 24;
			f[1] = flen >> 16;
			f[2] = flen >> 8;
			f[3] = flen;
			f[4] = kind;
			memcpy(f + 5, p, len);
			wire_nonce(nonce, 0, mangle & 2 ? ctr + 1 : ctr);
			aead_seal(a, nonce, f, 4, f + 4, 1 + len, f + 4, f + 5 + len);
			if (mangle & 1)
				f[4 + (mangle >> 2) % flen] ^= 0x20;
			sbuf_add(&out, f, 4 + flen);
			free(f);
			ctr++;
			p += len;
			n -= len;
		}
		aead_free(a);
	}
	feed_stream(sv[0], (const uint8_t *)out.s, out.len);
	recv_all(h);
	hop_close(h);
	close(sv[0]);
	sbuf_free(&out);
}

static void
udp_datagrams(const uint8_t *p, size_t n)
{
	uint8_t dg[UDP_DGRAM_CAP], junk[UDP_DGRAM_CAP];
	struct aead *a = aead_new(key_c2s);
	uint64_t pn = 0;
	struct hop *h;
	int sv[2];

	if ((h = session(SOCK_DGRAM, sv)) == NULL) {
		aead_free(a);
		return;
	}
	hop_send(h, p, n < 5000 ? n : 5000);	/* something in flight, for acks to act on */
	/* records: len (2 bytes), how, bytes */
	while (n >= 3 && !h->dead) {
		size_t len = (size_t)p[0] << 8 | p[1];
		uint8_t how = p[2];

		p += 3;
		n -= 3;
		if (len > n)
			len = n;
		if (len > UDP_DGRAM_CAP - UDP_OVERHEAD)
			len = UDP_DGRAM_CAP - UDP_OVERHEAD;
		if ((how & 1) && (how & 0x80) && len >= 3 && len <= UDP_DGRAM_CAP - UDP_OVERHEAD) {
			/* a body packet: after the number's byte and p[1], the
			 * next p[1] % (len - 2) + 1 bytes are frames, sealed; the
			 * rest is the clear body */
			uint64_t num = (how & 2) ? p[0] : pn++;
			size_t slen = p[1] % (len - 2) + 1, dl;

			memcpy(dg + UDP_BODY_HDR, p + 2, len - 2);
			dl = udp_seal_body(a, num, dg, slen, len - 2 - slen);
			if (how & 4)
				dg[((how >> 3) & 0x0f) * 97 % dl] ^= 0x01;
			udp_hop_input(h, dg, dl);
		} else if (how & 1) {
			/* a packet as the peer would seal it: the next number, or
			 * (how & 2) one the fuzzer picks from the record's first byte */
			uint64_t num = (how & 2) && len ? p[0] : pn++;

			memcpy(dg + UDP_HDR, p, len);
			udp_seal(a, num, dg, len);
			if (how & 4)
				dg[(how >> 3) % (UDP_OVERHEAD + len)] ^= 0x01;
			udp_hop_input(h, dg, UDP_OVERHEAD + len);
		} else {
			udp_hop_input(h, p, len);
		}
		while (udp_hop_pending(h) && !h->dead && !hop_eof(h)) {
			ssize_t r = hop_recv(h, msgbuf, HOP_MAX_MSG, 1);

			if (r < 0)
				break;
			if (r == 0 && hop_eof(h))
				break;
		}
		(void)udp_hop_poll(h);
		while (recv(sv[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
		p += len;
		n -= len;
	}
	h->dead = 1;		/* no closing exchange: nobody is there */
	hop_close(h);
	close(sv[0]);
	aead_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready++)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		parsers(data + 1, size - 1);
		break;
	case 1:
		tcp_handshake(data + 1, size - 1);
		break;
	case 2:
		tcp_frames(data + 1, size - 1, 0);
		break;
	case 3:
		tcp_frames(data + 1, size - 1, 1);
		break;
	default:
		udp_datagrams(data + 1, size - 1);
		break;
	}
	return 0;
}
