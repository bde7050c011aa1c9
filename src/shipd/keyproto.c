/*
 * keyproto.c - the key process's messages (keyproto.h): their codec, the
 * limits of each request, and a worker's side of the conversation.
 */
#include "keyproto.h"
#include "../global/envelope.h"
#include "../packet/packet.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HOP_MSG_MAX	(8 + 2 + 255 + 32 + 64 + 2 + CERT_MAX_LEN)	/* wire_int.h's REPLY, widest */
#define KP_ANSWER_WAIT	60	/* seconds; the key process answers at once or is gone */

/* Each op: exact or bounded sizes of a and b, whether strings come, the answer. */
static const struct {
	const char *name;
	size_t amin, amax, bmin, bmax;
	int strings;
	size_t out;
} ops[KEYOP_MAX] = {
	[KEYOP_HOP_SERVER] = {"hop-server", 1, HOP_MSG_MAX, 1, HOP_MSG_MAX, 0, ED25519_SIG_LEN},
	[KEYOP_HOP_CLIENT] = {"hop-client", 1, HOP_MSG_MAX, 1, HOP_MSG_MAX, 0, ED25519_SIG_LEN},
	[KEYOP_HEADER] = {"header", 1, PKT_MAX_HEADER, 0, 0, 0, ED25519_SIG_LEN},
	[KEYOP_TRAILER] = {"trailer", 1, PKT_MAX_HEADER, PKT_DIGEST_LEN, PKT_DIGEST_LEN, 0,
			   ED25519_SIG_LEN},
	[KEYOP_UNWRAP] = {"unwrap", PKT_WRAPPED_KEY_LEN, PKT_WRAPPED_KEY_LEN, X25519_LEN,
			  X25519_LEN, 1, AEAD_KEY_LEN},
	[KEYOP_ENVELOPE] = {"envelope", 1, ENV_SIGN_MAX, 0, 0, 0, ED25519_SIG_LEN},
};

const char *
kp_op_name(int op)
{
	return op > 0 && op < KEYOP_MAX ? ops[op].name : "unknown";
}

ssize_t
kp_req_encode(const struct keyreq *rq, uint8_t *buf)
{
	size_t l1 = rq->s1 ? strlen(rq->s1) : 0, l2 = rq->s2 ? strlen(rq->s2) : 0;
	struct kp_req h = {KP_VERSION, rq->op, rq->alen, rq->blen, l1, l2};
	size_t n = sizeof(h) + rq->alen + rq->blen + l1 + l2;

	if (rq->alen > KP_MAX_MSG || rq->blen > KP_MAX_MSG || n > KP_MAX_MSG ||
	    l1 > KP_STR_MAX || l2 > KP_STR_MAX) {
		err_set("key request %s of %zu bytes is too long", kp_op_name(rq->op), n);
		return -1;
	}
	memcpy(buf, &h, sizeof(h));
	n = sizeof(h);
	if (rq->alen)
		memcpy(buf + n, rq->a, rq->alen);
	n += rq->alen;
	if (rq->blen)
		memcpy(buf + n, rq->b, rq->blen);
	n += rq->blen;
	memcpy(buf + n, rq->s1 ? rq->s1 : "", l1);
	n += l1;
	memcpy(buf + n, rq->s2 ? rq->s2 : "", l2);
	return (ssize_t)(n + l2);
}

static int
str_ok(const uint8_t *p, size_t n, char out[KP_STR_MAX + 1])
{
	if (n == 0 || n > KP_STR_MAX || memchr(p, 0, n))
		return 0;
	memcpy(out, p, n);
	out[n] = 0;
	return 1;
}

int
kp_req_decode(const uint8_t *buf, size_t n, struct keyreq *rq, char s1[KP_STR_MAX + 1],
	      char s2[KP_STR_MAX + 1], size_t *outlen)
{
	struct kp_req h;
	const uint8_t *p = buf + sizeof(h);

	memset(rq, 0, sizeof(*rq));
	if (n < sizeof(h)) {
		err_set("key request of %zu bytes is shorter than its header", n);
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.version != KP_VERSION) {
		err_set("key request of version %u (want %d)", h.version, KP_VERSION);
		return -1;
	}
	if (h.op == 0 || h.op >= KEYOP_MAX) {
		err_set("key request of unknown kind %u", h.op);
		return -1;
	}
	if (h.alen < ops[h.op].amin || h.alen > ops[h.op].amax ||
	    h.blen < ops[h.op].bmin || h.blen > ops[h.op].bmax ||
	    (!ops[h.op].strings && (h.s1len || h.s2len)) ||
	    (size_t)h.alen + h.blen + h.s1len + h.s2len != n - sizeof(h)) {
		err_set("key request %s: sizes %u/%u/%u/%u do not fit it (%zu bytes)", ops[h.op].name,
			h.alen, h.blen, h.s1len, h.s2len, n);
		return -1;
	}
	rq->op = h.op;
	rq->a = p;
	rq->alen = h.alen;
	p += h.alen;
	rq->b = h.blen ? p : NULL;
	rq->blen = h.blen;
	p += h.blen;
	if (ops[h.op].strings) {
		if (!str_ok(p, h.s1len, s1) || !str_ok(p + h.s1len, h.s2len, s2)) {
			err_set("key request %s: a name that is empty, too long or holds NUL",
				ops[h.op].name);
			return -1;
		}
		rq->s1 = s1;
		rq->s2 = s2;
	}
	*outlen = ops[h.op].out;
	return 0;
}

/* The worker's side: one request, one answer, on its own socketpair;
 * one at a time (a receiver's opening thread asks too: rstream.c). */
struct kp_line {
	struct key_agent agent;
	int fd;
	pthread_mutex_t mu;
	uint8_t buf[KP_MAX_MSG];
};

static int ask_locked(struct kp_line *l, const struct keyreq *rq, void *out, size_t outlen);

static int
kp_ask(void *ctx, const struct keyreq *rq, void *out, size_t outlen)
{
	struct kp_line *l = ctx;
	int rc;

	pthread_mutex_lock(&l->mu);
	rc = ask_locked(l, rq, out, outlen);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

static int
ask_locked(struct kp_line *l, const struct keyreq *rq, void *out, size_t outlen)
{
	struct kp_ans a;
	ssize_t n = kp_req_encode(rq, l->buf);

	if (n < 0)
		return -1;
	if (send(l->fd, l->buf, n, MSG_NOSIGNAL) != n) {
		err_set("key process: %s", errno ? strerror(errno) : "short write");
		return -1;
	}
	do
		n = recv(l->fd, l->buf, sizeof(l->buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < (ssize_t)sizeof(a)) {
		err_set("key process: %s", n < 0 ? strerror(errno) : "gone (no answer)");
		return -1;
	}
	memcpy(&a, l->buf, sizeof(a));
	if (a.len != (size_t)n - sizeof(a) || (a.status == KP_OK && a.len != outlen)) {
		err_set("key process: an answer of %zd bytes that does not fit", n);
		return -1;
	}
	if (a.status != KP_OK) {
		err_set("key process refused: %.*s", (int)a.len, (const char *)l->buf + sizeof(a));
		return -1;
	}
	memcpy(out, l->buf + sizeof(a), outlen);
	memset(l->buf, 0, n);	/* an unwrapped packet key goes no further */
	return 0;
}

struct key_agent *
kp_agent(int fd)
{
	struct kp_line *l = xcalloc(1, sizeof(*l));
	struct timeval tv = {KP_ANSWER_WAIT, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	l->fd = fd;
	pthread_mutex_init(&l->mu, NULL);
	l->agent.ask = kp_ask;
	l->agent.ctx = l;
	return &l->agent;
}

void
kp_agent_close(struct keys *k)
{
	struct kp_line *l = k->agent ? k->agent->ctx : NULL;

	if (l && l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
}
