/*
 * keyproto.h - the messages between the daemon's workers and its key
 * process (keyproc.c), over one SOCK_SEQPACKET socketpair per worker:
 *
 *   request   struct kp_req, then a (alen), b (blen), s1 (s1len), s2 (s2len)
 *   answer    struct kp_ans, then len bytes: the result, or a one-line
 *             reason when status is KP_REFUSED
 *
 * and, master to key process, struct kp_new with the worker's end of its
 * socketpair (SCM_RIGHTS). Every request is checked against its op's
 * limits (kp_req_decode) before anything looks at its bytes: sizes exact
 * or bounded, strings without NUL, nothing left over. Offers the codec
 * and the worker's side (the struct key_agent of keys.h); must never
 * carry a secret key, only what is signed or unwrapped with it.
 */
#ifndef SHIPD_KEYPROTO_H
#define SHIPD_KEYPROTO_H

#include <stdint.h>
#include <sys/types.h>
#include "../crypto/keys.h"

#define KP_VERSION	1
#define KP_MAX_MSG	(64 * 1024 + 256)	/* a packet header and the fixed part */
#define KP_STR_MAX	255

struct kp_req {
	uint32_t version, op;
	uint32_t alen, blen;
	uint16_t s1len, s2len;
};

enum kp_status { KP_OK = 0, KP_REFUSED = 1 };
struct kp_ans {
	uint32_t status, len;
};

/* What a worker is: what it may ask (keyproc.c keeps the table). */
enum kp_role { KP_RECEIVER = 1, KP_SENDER, KP_WORKER, KP_NROLES };
struct kp_new {
	uint32_t role;
	int32_t pid;
};

/* Encode rq into buf (KP_MAX_MSG bytes); its length, or -1 (too long). */
ssize_t kp_req_encode(const struct keyreq *rq, uint8_t *buf);
/*
 * Decode n bytes at buf into rq (pointing into buf; strings copied into
 * s1/s2) and check them against the op's limits; *outlen is the size of
 * the answer the op gives. 0, or -1 with err_set.
 */
int kp_req_decode(const uint8_t *buf, size_t n, struct keyreq *rq, char s1[KP_STR_MAX + 1],
		  char s2[KP_STR_MAX + 1], size_t *outlen);
const char *kp_op_name(int op);

/* A worker's line to the key process: the agent keys_forget installs. */
struct key_agent *kp_agent(int fd);
/* A process forked from a worker that asks nothing: close k's line. */
void kp_agent_close(struct keys *k);

#endif
