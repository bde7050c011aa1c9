/*
 * test_hopbody.c - hop protocol 5's body frames as an observer on the wire
 * sees them: a packet's bytes (already end-to-end encrypted) cross the hop
 * as they are, authenticated but not encrypted again, while the message
 * heads (type, slot, offset) and an OFFER's header and order stay
 * encrypted; one byte changed anywhere in a body frame (body, sealed head,
 * head length) makes the receiver fail the frame and never hand it on.
 *
 * A sender (the real xsend engine over hop_connect) talks to a receiver
 * in a child through a relay in another child (hop_mitm) that records
 * the sender's frames and can change one byte of the first body frame. Ports come from 10000-11999, chosen by pid.
 */
#include "t.h"
#include "hop_t.h"
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "wire/wire.h"
#include "wire/wire_int.h"
#include "wire/xfer.h"
#include "wire/xfer_engine.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";	/* libgcrypt's key pool, not ours */
}

static char dir[64];
static struct keys *kA, *kB;
static int next_port;

#define ORDER_MARK	"ORDER-MARKER-7f3a"
#define HDRLEN		64
#define BLOCK		32

enum { M_NONE, M_BODY, M_HEAD, M_HLEN };

/* The file's bytes: 32-byte text blocks naming their own offset. */
static void
block(int tag, uint64_t blk, char out[BLOCK + 1])
{
	snprintf(out, BLOCK + 1, "<<body block %c%07llx of shipd>>", tag,
		 (unsigned long long)(blk & 0xfffffff));
}

static void
fill(int tag, uint8_t *p, uint64_t off, size_t n)
{
	char b[BLOCK + 1];

	for (size_t i = 0; i < n; i++) {
		if (i == 0 || (off + i) % BLOCK == 0)
			block(tag, (off + i) / BLOCK, b);
		p[i] = (uint8_t)b[(off + i) % BLOCK];
	}
}

static int
same(int tag, const uint8_t *p, uint64_t off, size_t n)
{
	uint8_t *want = xmalloc(n ? n : 1);
	int r;

	fill(tag, want, off, n);
	r = memcmp(want, p, n) == 0;
	free(want);
	return r;
}

/*
 * The receiver: ACCEPT at 0 (slot 1, 'L') or ACK an inline offer (slot 2,
 * 'S'), check every DATA against the pattern, ACK a body once complete.
 */
static void
receiver(int lfd, const struct config *cf, uint64_t size, int out)
{
	uint8_t *buf = xmalloc(HOP_MAX_MSG);
	struct hop *h;
	struct xmsg m;
	uint64_t got = 0;
	int r;

	poll(&(struct pollfd){ lfd, POLLIN, 0 }, 1, 10000);
	if ((h = hop_accept_tcp(cf, kB, accept(lfd, NULL, NULL), 5)) == NULL) {
		say(out, "ERR %s\n", err_get());
		_exit(0);
	}
	while ((r = xmsg_recv(h, buf, &m, 5)) == 1) {
		if (m.type == XF_OFFER) {
			int ok = m.orderlen == strlen(ORDER_MARK) &&
				 memcmp(m.order, ORDER_MARK, m.orderlen) == 0 &&
				 same(m.slot == 1 ? 'L' : 'S', m.hdr, 0, m.hdrlen) &&
				 same(m.slot == 1 ? 'L' : 'S', m.data, HDRLEN, m.datalen);

			say(out, "OFFER %u %zu %s\n", m.slot, m.datalen, ok ? "ok" : "BAD");
			if (m.flags & XF_INLINE)
				xmsg_send_ack(h, &m.slot, 1);
			else
				xmsg_send_accept(h, m.slot, 0);
		} else if (m.type == XF_DATA) {
			int ok = m.slot == 1 && m.offset == got && same('L', m.data, m.offset,
									m.datalen);

			say(out, "DATA %llu %zu %s\n", (unsigned long long)m.offset, m.datalen,
			    ok ? "ok" : "BAD");
			got += m.datalen;
			if (got == size)
				xmsg_send_ack(h, &m.slot, 1);
		} else if (m.type == XF_BYE) {
			say(out, "BYE\n");
			break;
		} else {
			say(out, "UNEXPECTED %s\n", xmsg_type_name(m.type));
		}
	}
	if (r < 0)
		say(out, "ERR %s\n", err_get());
	hop_close(h);
	free(buf);
	_exit(0);
}

/* What the relay does: in the first body frame, change one byte as
 * mode says; every frame, as passed on, goes to the record. */
struct tamper {
	int mode, done, rfd;
};

static int
tamper(uint8_t *f, size_t n, int i, void *arg)
{
	struct tamper *t = arg;

	if ((get32(f) & FRAME_BODY) && !t->done && t->mode != M_NONE) {
		size_t hl = get32(f + 4);

		if (t->mode == M_BODY)
			f[8 + hl + (n - 8 - hl - 16) / 2] ^= 0x04;
		else if (t->mode == M_HEAD)
			f[8 + 1] ^= 0x01;
		else
			f[7] ^= 0x01;
		t->done = 1;
	}
	if (write(t->rfd, f, n) != (ssize_t)n)
		return 0;
	return 1;
}

struct result {
	int answers[3];		/* by slot: the answer type, or 0 */
};

static void
answer(void *arg, void *ctx, int type, const char *why)
{
	((struct result *)arg)->answers[(intptr_t)ctx] = type;
}

/* What the receiver said; rec: what crossed the wire from the sender. */
static char *
transfer(int mode, uint64_t big, int small, const char *rec)
{
	int port = next_port++, pport = next_port++, lfd, pfd, out[2], fdL, fdS = -1;
	struct config *cfB = mkconf("B", port, 0, 0), *cfA = mkconf("A", 0, 0, 0);
	struct config *cfP = mkconf("P", pport, 0, 0);
	static const struct xs_ops ops = { answer, NULL, NULL };
	struct result res = { { 0 } };
	uint8_t hdrL[HDRLEN], hdrS[HDRLEN], *data;
	char path[128], *said = NULL;
	size_t cap = 0, len = 0;
	pid_t rpid, ppid;
	struct xsend *s;
	struct hop *h;

	addpeer(cfB, "A", 0, kA);
	addpeer(cfA, "B", pport, kB);	/* A dials the relay */
	/* the packet files: header, then body */
	snprintf(path, sizeof(path), "%s/L", dir);
	fdL = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	data = xmalloc(big);
	fill('L', data, 0, big);
	CHECK(write(fdL, data, big) == (ssize_t)big);
	memcpy(hdrL, data, HDRLEN);
	if (small) {
		snprintf(path, sizeof(path), "%s/S", dir);
		fdS = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		fill('S', data, 0, small);
		CHECK(write(fdS, data, small) == small);
		memcpy(hdrS, data, HDRLEN);
	}
	free(data);

	lfd = wire_listen_tcp(cfB);
	pfd = wire_listen_tcp(cfP);
	CHECK(lfd >= 0 && pfd >= 0 && pipe(out) == 0);
	fflush(stdout);
	if ((rpid = fork()) == 0) {
		close(out[0]);
		receiver(lfd, cfB, big, out[1]);
	}
	if ((ppid = fork()) == 0) {
		struct tamper t = { mode, 0, open(rec, O_WRONLY | O_CREAT | O_TRUNC, 0600) };

		/* after the client's HELLO (for "A") and AUTH */
		hop_mitm(pfd, port, HS_HEAD_LEN + 1 + X25519_LEN + ED25519_SIG_LEN + 2, tamper, &t);
	}
	close(out[1]);
	close(lfd);
	close(pfd);

	if ((h = hop_connect(cfA, kA, config_peer(cfA, "B"), 5)) != NULL) {
		struct xs_item L = { (void *)1, "L", fdL, big, hdrL, HDRLEN, ORDER_MARK,
				     strlen(ORDER_MARK), NULL };
		struct xs_item S = { (void *)2, "S", fdS, small, hdrS, HDRLEN, ORDER_MARK,
				     strlen(ORDER_MARK), NULL };
		int64_t end = wire_now_us() + 20000000;

		/* on loopback too: the body from the file by the kernel */
		h->kernel_send = 1;
		s = xsend_new(h, &ops, &res);
		CHECK(xsend_offer(s, &L) == 0);
		if (small)
			CHECK(xsend_offer(s, &S) == 0);
		while (xsend_open(s) && wire_now_us() < end)
			if (xsend_pump(s, 100) < 0)
				break;
		if (!xsend_broken(s))
			xsend_bye(s);
		xsend_free(s);
		hop_close(h);
	} else {
		printf("#   connect: %s\n", err_get());
		CHECK(0);
	}
	for (;;) {
		char chunk[1024];
		ssize_t n = read(out[0], chunk, sizeof(chunk));

		if (n <= 0)
			break;
		if (len + n + 1 > cap)
			said = xrealloc(said, cap = 2 * (len + n + 1));
		memcpy(said + len, chunk, n);
		len += n;
	}
	if (said == NULL)
		said = xstrdup("");
	said[len] = 0;
	close(out[0]);
	waitpid(rpid, NULL, 0);
	kill(ppid, SIGKILL);
	waitpid(ppid, NULL, 0);
	close(fdL);
	if (fdS >= 0)
		close(fdS);
	/* the sender's view: ACK when delivered, LOST when the hop broke */
	if (mode == M_NONE)
		CHECK(res.answers[1] == XF_ACK && (!small || res.answers[2] == XF_ACK));
	else
		CHECK(res.answers[1] == XS_LOST);
	freeconf(cfA);
	freeconf(cfB);
	freeconf(cfP);
	return said;
}

/* The whole recorded stream, and whether needle (n bytes) is in it. */
static int
on_wire(const char *rec, const void *needle, size_t n)
{
	int fd = open(rec, O_RDONLY);
	size_t cap = 1 << 20, len = 0;
	uint8_t *b = xmalloc(cap);
	ssize_t r;
	int found;

	while (fd >= 0 && (r = read(fd, b + len, cap - len)) > 0)
		if ((len += r) == cap)
			b = xrealloc(b, cap *= 2);
	if (fd >= 0)
		close(fd);
	found = memmem(b, len, needle, n) != NULL;
	free(b);
	return found;
}

static void
body_clear_head_sealed_with(int sendfile_ok)
{
	uint64_t big = 3 * XF_DATA_MAX + 1000;
	char rec[128], b[BLOCK + 1], *out;

	/* the kernel sends from the file only where SIGPIPE is ignored */
	signal(SIGPIPE, sendfile_ok ? SIG_IGN : SIG_DFL);
	snprintf(rec, sizeof(rec), "%s/wire", dir);
	out = transfer(M_NONE, big, 2000, rec);
	signal(SIGPIPE, SIG_IGN);
	CHECK_HAS(out, "OFFER 1 0 ok\n");
	CHECK_HAS(out, "OFFER 2 1936 ok\n");	/* inline: the file after its header */
	/* the header first, sealed in a DATA of its own; then the body */
	CHECK_HAS(out, "DATA 0 64 ok\nDATA 64 262131 ok\nDATA 262195 262131 ok\n"
		  "DATA 524326 262131 ok\nDATA 786457 936 ok\nBYE\n");
	CHECK(strstr(out, "BAD") == NULL && strstr(out, "ERR") == NULL);
	/* a DATA body and an inline file cross as they are ... */
	block('L', 12345, b);
	if (!on_wire(rec, b, BLOCK))
		printf("#   a DATA body block is not on the wire as it is\n");
	CHECK(on_wire(rec, b, BLOCK));
	block('S', 40, b);
	CHECK(on_wire(rec, b, BLOCK));
	/* ... while heads, orders and headers do not */
	CHECK(!on_wire(rec, ORDER_MARK, strlen(ORDER_MARK)));
	block('L', 1, b);	/* in the OFFER's header, and at 0..63 in DATA: sealed there too */
	if (on_wire(rec, b, BLOCK))
		printf("#   the packet's header crossed in the clear in a DATA frame\n");
	CHECK(!on_wire(rec, b, BLOCK));
	block('S', 1, b);	/* only in the inline OFFER's header */
	CHECK(!on_wire(rec, b, BLOCK));
	free(out);
}

static void
body_clear_head_sealed(void)
{
	body_clear_head_sealed_with(1);
}

static void
body_clear_head_sealed_no_sendfile(void)
{
	body_clear_head_sealed_with(0);
}

/* One changed byte: the frame fails, nothing of it is handed on. */
static void
tampered(int mode)
{
	char rec[128], *out;

	snprintf(rec, sizeof(rec), "%s/wire", dir);
	out = transfer(mode, 2 * XF_DATA_MAX, 0, rec);
	CHECK_HAS(out, "OFFER 1 0 ok\n");
	CHECK_HAS(out, "ERR hop from");
	/* frame 1 is the header's DATA, sealed; the changed one the first body */
	CHECK_HAS(out, "frame 2 failed authentication");
	CHECK_HAS(out, "DATA 0 64 ok\n");
	CHECK(strstr(out, "DATA 64") == NULL);	/* nothing of the changed frame */
	CHECK(strstr(out, "BAD") == NULL);
	free(out);
}

static void
body_byte_flipped(void)
{
	tampered(M_BODY);
}

static void
head_byte_flipped(void)
{
	tampered(M_HEAD);
}

static void
head_length_flipped(void)
{
	tampered(M_HLEN);
}

/* The adapter: associated data in pieces is the same as in one. */
static void
aead_pieces(void)
{
	uint8_t key[AEAD_KEY_LEN] = { 1, 2, 3 }, nonce[AEAD_NONCE_LEN] = { 9 };
	uint8_t ad[100], head[20], c1[20], c2[20], t1[16], t2[16];
	struct aead *a = aead_new(key);
	struct aead_ad two[2] = { { ad, 37 }, { ad + 37, 63 } };

	for (int i = 0; i < 100; i++)
		ad[i] = (uint8_t)(i * 13);
	memset(head, 'h', sizeof(head));
	CHECK(aead_seal(a, nonce, ad, 100, head, 20, c1, t1) == 0);
	CHECK(aead_seal_ad(a, nonce, two, 2, head, 20, c2, t2) == 0);
	CHECK(memcmp(c1, c2, 20) == 0 && memcmp(t1, t2, 16) == 0);
	CHECK(aead_open_ad(a, nonce, two, 2, c2, 20, c2, t2) == 0 && memcmp(c2, head, 20) == 0);
	ad[70] ^= 1;
	CHECK(aead_open_ad(a, nonce, two, 2, c1, 20, c2, t1) < 0);
	aead_free(a);
}

int
main(void)
{
	char path[128];

	signal(SIGPIPE, SIG_IGN);
	crypto_init();
	log_open("test_hopbody", "stderr");
	next_port = 10000 + (getpid() % 100) * 20;	/* a run uses 12: below the others, and below ephemeral ports */
	snprintf(dir, sizeof(dir), "/tmp/test_hopbody.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/A.key", dir);
	if (keys_generate(path, &kA) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/B.key", dir);
	keys_generate(path, &kB);

	TEST(aead_pieces);
	TEST(body_clear_head_sealed);
	TEST(body_clear_head_sealed_no_sendfile);
	TEST(body_byte_flipped);
	TEST(head_byte_flipped);
	TEST(head_length_flipped);

	keys_free(kA);
	keys_free(kB);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0) {
		}
	}
	T_DONE();
}
