/*
 * test_udpbody.c - hop protocol 6's body packets over UDP as an observer
 * on the path sees them: a packet's bytes (end-to-end encrypted already)
 * cross as they are, authenticated but not encrypted again, while message
 * heads (type, slot, offset), an OFFER's header and order and every
 * control message stay sealed; a datagram with a body byte, a sealed
 * byte, its frames' length or its packet number changed, or with the body
 * of another datagram (another offset) spliced in, fails authentication,
 * is dropped and its bytes are sent again; a replayed datagram is dropped
 * as a duplicate; datagrams out of order land where their authenticated
 * offsets say. Each time the receiver gets the messages exactly as sent,
 * once.
 *
 * A real transport pair over a socketpair (as test_udp's), the real
 * message layer (xmsg_send_offer, xmsg_send_data, xmsg_recv); the test
 * carries each datagram from one end to the other and may change it.
 */
#include "t.h"
#include "crypto/crypto.h"
#include "util/log.h"
#include "util/mem.h"
#include "wire/udp_int.h"
#include "udp_pair.h"
#include "wire/xfer.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";
}

#define MS		1000
#define BLOCK		32
#define DATA_LEN	20000
#define REST_LEN	3000
#define HDR_MARK	"HEADER-MARKER-1c9e-signed-header-of-the-packet-stays-sealed...."
#define ORDER_MARK	"ORDER-MARKER-7f3a"
#define CTL_MARK	"CONTROL-MARKER-55d2"

/* The file's bytes: 32-byte text blocks naming their own offset, so a
 * piece of at least 32 bytes is found in one place only. */
static void
fill(int tag, uint8_t *p, uint64_t off, size_t n)
{
	char b[BLOCK + 1];

	for (size_t i = 0; i < n; i++) {
		if (i == 0 || (off + i) % BLOCK == 0)
			snprintf(b, sizeof(b), "<<body block %c%07llx of shipd>>", tag,
				 (unsigned long long)((off + i) / BLOCK & 0xfffffff));
		p[i] = (uint8_t)b[(off + i) % BLOCK];
	}
}

static uint8_t file_l[DATA_LEN], file_s[REST_LEN];

/* Datagrams a sent, taken off b's socket, waiting up to 300 ms for one. */
static int
take(struct pair *x, uint8_t dg[][UDP_DGRAM_CAP], size_t *len, int max)
{
	int64_t end = wire_now_us() + 300 * MS;
	int n = 0;
	ssize_t r;

	for (;;) {
		while (n < max && (r = recv(x->sv[1], dg[n], UDP_DGRAM_CAP, MSG_DONTWAIT)) > 0)
			len[n++] = r;
		if (n > 0 || wire_now_us() >= end)
			return n;
		usleep(MS);
		udp_hop_poll(x->a);
	}
}

/* b's acknowledgements back to a. */
static void
ack_back(struct pair *x)
{
	x->b->u->ack_now = 1;
	udp_flush(x->b, wire_now_us());
	udp_hop_poll(x->a);
}

/* A body packet's body: where it starts, how long (0: not a body packet). */
static size_t
body_of(const uint8_t *dg, size_t len, const uint8_t **body)
{
	size_t slen;

	if (len < UDP_BODY_HDR + AEAD_TAG_LEN || dg[0] != UDP_T_BODY)
		return 0;
	slen = (size_t)dg[UDP_HDR] << 8 | dg[UDP_HDR + 1];
	if (slen > len - UDP_BODY_HDR - AEAD_TAG_LEN)
		return 0;
	*body = dg + UDP_BODY_HDR + slen;
	return len - UDP_BODY_HDR - slen - AEAD_TAG_LEN;
}

static int
has(const uint8_t *hay, size_t n, const char *s)
{
	return memmem(hay, n, s, strlen(s)) != NULL;
}

static uint8_t dgs[64][UDP_DGRAM_CAP];
static size_t lens[64];
static uint8_t msgbuf[HOP_MAX_MSG];

/* Send the OFFER (inline, slot 2), a control message, the DATA (slot 1). */
static void
send_all(struct pair *x, int offer)
{
	if (offer) {
		CHECK_INT(xmsg_send_offer(x->a, msgbuf, 2, XF_INLINE, HDR_MARK, strlen(HDR_MARK),
					  ORDER_MARK, strlen(ORDER_MARK), file_s, REST_LEN), 0);
		CHECK_INT(hop_send(x->a, CTL_MARK, strlen(CTL_MARK)), 0);
	}
	memcpy(msgbuf + 1 + XF_DATA_HEAD, file_l, DATA_LEN);
	CHECK_INT(xmsg_send_data(x->a, msgbuf, 1, 0, DATA_LEN, -1), 0);
}

/* b's messages, checked against what send_all sent; then nothing more. */
static void
check_received(struct pair *x, int offer)
{
	struct xmsg m;

	if (offer) {
		CHECK_INT(xmsg_recv(x->b, msgbuf, &m, 2), 1);
		CHECK_INT(m.type, XF_OFFER);
		CHECK_INT(m.slot, 2);
		CHECK(m.hdrlen == strlen(HDR_MARK) && memcmp(m.hdr, HDR_MARK, m.hdrlen) == 0);
		CHECK(m.orderlen == strlen(ORDER_MARK) &&
		      memcmp(m.order, ORDER_MARK, m.orderlen) == 0);
		CHECK(m.datalen == REST_LEN && memcmp(m.data, file_s, REST_LEN) == 0);
		CHECK_INT(hop_recv(x->b, msgbuf, HOP_MAX_MSG, 2), strlen(CTL_MARK));
		CHECK(memcmp(msgbuf, CTL_MARK, strlen(CTL_MARK)) == 0);
	}
	CHECK_INT(xmsg_recv(x->b, msgbuf, &m, 2), 1);
	CHECK_INT(m.type, XF_DATA);
	CHECK_INT(m.slot, 1);
	CHECK_INT(m.offset, 0);
	CHECK(m.datalen == DATA_LEN && memcmp(m.data, file_l, DATA_LEN) == 0);
	CHECK(!udp_hop_pending(x->b));		/* once, nothing else */
}

/*
 * What crosses: each body packet's body is a piece of the file as it is,
 * and all of them together are exactly the files' bytes (no other byte
 * crosses in the clear); no marker of a header, an order or a control
 * message is anywhere on the wire.
 */
static void
observer(void)
{
	struct pair x;
	size_t clear = 0, found = 0, bodies = 0;
	int rounds = 0;

	pair_open(&x);
	send_all(&x, 1);
	while (!udp_hop_pending(x.b) || x.a->u->snd_base < x.a->u->snd_end) {
		int n = take(&x, dgs, lens, 64);

		if (n == 0 && ++rounds > 50)
			break;
		for (int i = 0; i < n; i++) {
			const uint8_t *body;
			size_t bl = body_of(dgs[i], lens[i], &body);

			CHECK(!has(dgs[i], lens[i], HDR_MARK));
			CHECK(!has(dgs[i], lens[i], ORDER_MARK));
			CHECK(!has(dgs[i], lens[i], CTL_MARK));
			CHECK(!has(dgs[i], lens[i], "HEADER-MARKER"));
			if (bl) {
				bodies++;
				clear += bl;
				if ((bl >= BLOCK && (memmem(file_l, DATA_LEN, body, bl) ||
						     memmem(file_s, REST_LEN, body, bl))))
					found += bl;
			}
			udp_hop_input(x.b, dgs[i], lens[i]);
		}
		ack_back(&x);
	}
	CHECK(bodies >= DATA_LEN / 1200);
	CHECK_INT(clear, DATA_LEN + REST_LEN);	/* no loss here: each body byte once */
	CHECK_INT(found, clear);
	CHECK_INT(x.a->u->st.rexmit, 0);
	CHECK_INT(x.b->u->st.bad, 0);
	check_received(&x, 1);
	pair_close(&x);
}

enum { T_BODY, T_SEALED, T_SLEN, T_PN, T_SPLICE, T_REPLAY, T_REORDER };

/*
 * One transfer with the first body packet (for T_SPLICE: the first with
 * the length of the one before, given that one's body) changed on the way
 * as mode says; the original is not delivered (T_REPLAY: both are).
 */
static void
tampered(int mode)
{
	static uint8_t first[UDP_DGRAM_CAP];
	struct pair x;
	size_t first_len = 0;
	int done = 0, rounds = 0;

	pair_open(&x);
	send_all(&x, 0);
	while (!udp_hop_pending(x.b)) {
		int n = take(&x, dgs, lens, 64);

		if (n == 0 && ++rounds > 100)
			break;
		if (mode == T_REORDER && !done && n > 2) {	/* the first batch, backwards */
			for (int i = n - 1; i >= 0; i--)
				udp_hop_input(x.b, dgs[i], lens[i]);
			done = 1;
			ack_back(&x);
			continue;
		}
		for (int i = 0; i < n; i++) {
			const uint8_t *body, *b0;
			size_t bl = body_of(dgs[i], lens[i], &body);

			if (done || bl == 0 || mode == T_REORDER) {
				udp_hop_input(x.b, dgs[i], lens[i]);
				continue;
			}
			if (first_len == 0) {
				memcpy(first, dgs[i], lens[i]);
				first_len = lens[i];
			}
			switch (mode) {
			case T_BODY:
				dgs[i][lens[i] - AEAD_TAG_LEN - bl / 2] ^= 0x01;
				break;
			case T_SEALED:
				dgs[i][UDP_BODY_HDR] ^= 0x80;
				break;
			case T_SLEN:
				dgs[i][UDP_HDR + 1] ^= 0x01;
				break;
			case T_PN:	/* a number never used: not a duplicate */
				wire_put64(dgs[i] + 1, 1000000);
				break;
			case T_SPLICE:	/* from the last body of the same length */
				if (memcmp(first, dgs[i], lens[i]) == 0 ||
				    body_of(first, first_len, &b0) != bl) {
					memcpy(first, dgs[i], lens[i]);
					first_len = lens[i];
					udp_hop_input(x.b, dgs[i], lens[i]);
					continue;
				}
				memcpy((uint8_t *)body, b0, bl);	/* another offset's body */
				break;
			case T_REPLAY:
				udp_hop_input(x.b, dgs[i], lens[i]);
				break;
			}
			udp_hop_input(x.b, dgs[i], lens[i]);
			done = 1;
		}
		ack_back(&x);
	}
	CHECK(done);
	if (mode == T_REPLAY || mode == T_REORDER) {
		CHECK_INT(x.b->u->st.bad, 0);
		CHECK_INT(x.b->u->st.dup, mode == T_REPLAY ? 1 : 0);
	} else {
		CHECK_INT(x.b->u->st.bad, 1);		/* the changed one, dropped */
		CHECK(x.a->u->st.rexmit >= 1);		/* its bytes sent again */
	}
	CHECK(!x.b->dead && !x.a->dead);
	check_received(&x, 0);
	pair_close(&x);
}

static void flipped_body_byte(void) { tampered(T_BODY); }
static void flipped_sealed_byte(void) { tampered(T_SEALED); }
static void flipped_frames_length(void) { tampered(T_SLEN); }
static void moved_to_another_number(void) { tampered(T_PN); }
static void spliced_body_from_another_offset(void) { tampered(T_SPLICE); }
static void replayed_datagram(void) { tampered(T_REPLAY); }
static void reordered_datagrams(void) { tampered(T_REORDER); }

/* A message sent with hop_send (no body) never crosses in the clear. */
static void
plain_messages_stay_sealed(void)
{
	struct pair x;
	int n;

	pair_open(&x);
	memcpy(msgbuf, file_l, 5000);
	CHECK_INT(hop_send(x.a, msgbuf, 5000), 0);
	n = take(&x, dgs, lens, 64);
	CHECK(n >= 1);
	for (int i = 0; i < n; i++) {
		const uint8_t *body;

		CHECK_INT(body_of(dgs[i], lens[i], &body), 0);
		CHECK(!has(dgs[i], lens[i], "<<body block"));
	}
	pair_close(&x);
}

int
main(void)
{
	crypto_init();
	log_open("test_udpbody", "stderr");
	fill('L', file_l, 0, DATA_LEN);
	fill('S', file_s, strlen(HDR_MARK), REST_LEN);
	TEST(observer);
	TEST(plain_messages_stay_sealed);
	TEST(flipped_body_byte);
	TEST(flipped_sealed_byte);
	TEST(flipped_frames_length);
	TEST(moved_to_another_number);
	TEST(spliced_body_from_another_offset);
	TEST(replayed_datagram);
	TEST(reordered_datagrams);
	T_DONE();
}
