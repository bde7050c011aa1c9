/*
 * keyproc.c - the key process: the one process of a running daemon that
 * holds the node's secret keys (and those kept from a rotation). Forked by
 * the master before any worker; every worker forked after it wipes its
 * copy of the secret halves (keys_forget) and asks here instead, over its
 * own socketpair that the master hands over (keyproto.h).
 *
 * It does only what needs the keys, and only what the asking worker's role
 * may ask: a receiver may sign its side of a hop handshake and this node's
 * own packets (the certificates it passes on), and unwrap packet keys
 * sealed to this node (a packet delivered while received); a sender or another worker
 * may sign the client side, the header and trailer of this node's own
 * packets, and unwrap packet keys sealed to this node. What is
 * to be signed is checked for what it claims to be (wire_hs_sign,
 * pkt_sign_header, pkt_sign_trailer) first. Never reads the network or a
 * bay; runs under its own seccomp filter (sandbox.c).
 *
 * Offers keyproc_start (master: fork it, again after a reload or a
 * crash), keyproc_exited, and the fork-side helpers keyproc_pair /
 * keyproc_child / keyproc_parent.
 */
#include "shipd.h"
#include "keyproto.h"
#include "../global/envelope.h"
#include "../packet/packet.h"
#include "../util/fdpass.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../wire/wire.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct client {
	int fd;
	enum kp_role role;
	long pid;
};

static const char *role_name[KP_NROLES] = {
	[KP_RECEIVER] = "receiver", [KP_SENDER] = "sender", [KP_WORKER] = "worker",
};

/* Which role may ask what. */
static const unsigned char may[KP_NROLES][KEYOP_MAX] = {
	/* a receiver seals too: a certificate its peer showed is passed on
	 * (control_hop), in a packet of this node's own; and it opens a
	 * packet addressed here while receiving it (rstream.c) */
	[KP_RECEIVER] = {[KEYOP_HOP_SERVER] = 1, [KEYOP_HEADER] = 1, [KEYOP_TRAILER] = 1,
			 [KEYOP_UNWRAP] = 1},
	[KP_SENDER] = {[KEYOP_HOP_CLIENT] = 1, [KEYOP_HEADER] = 1, [KEYOP_TRAILER] = 1,
		       [KEYOP_UNWRAP] = 1, [KEYOP_ENVELOPE] = 1},
	/* an import worker signs its receipts for a directory hop */
	[KP_WORKER] = {[KEYOP_HOP_CLIENT] = 1, [KEYOP_HEADER] = 1, [KEYOP_TRAILER] = 1,
		       [KEYOP_UNWRAP] = 1, [KEYOP_ENVELOPE] = 1},
};

static int
serve(const struct keyreq *rq, uint8_t *out)
{
	const char *node = S->cf->node;

	switch (rq->op) {
	case KEYOP_HOP_SERVER:
	case KEYOP_HOP_CLIENT:
		return wire_hs_sign(S->keys, node, rq->op == KEYOP_HOP_SERVER, rq->a, rq->alen,
				    rq->b, rq->blen, out);
	case KEYOP_HEADER:
		return pkt_sign_header(S->keys, node, rq->a, rq->alen, out);
	case KEYOP_TRAILER:
		return pkt_sign_trailer(S->keys, node, rq->a, rq->alen, rq->b, out);
	case KEYOP_UNWRAP:
		/* sealed to this node: the destination is our own name */
		if (strcmp(rq->s2, node) != 0) {
			err_set("unwrap refused: the key is wrapped for %s, not this node", rq->s2);
			return -1;
		}
		return pkt_unwrap(S->keys, rq->b, rq->s1, rq->s2, rq->a, out);
	case KEYOP_ENVELOPE:
		return envelope_sign(S->keys, node, (const char *)rq->a, rq->alen, out);
	default:
		msg_panic("key process: op %d passed decoding", rq->op);
	}
}

/* One request from c; 0 answered, -1 drop the client. */
static int
one_request(struct client *c, uint8_t *buf)
{
	char s1[KP_STR_MAX + 1], s2[KP_STR_MAX + 1];
	uint8_t out[sizeof(struct kp_ans) + 256];
	struct kp_ans a = {KP_OK, 0};
	struct keyreq rq;
	size_t outlen;
	ssize_t n = fd_recv(c->fd, buf, KP_MAX_MSG, NULL);
	int rc;

	if (n <= 0) {
		if (n < 0)
			msg_warnx("key process: %s worker %ld: %s", role_name[c->role], c->pid, err_get());
		return -1;
	}
	if (kp_req_decode(buf, n, &rq, s1, s2, &outlen) < 0)
		rc = -1;
	else if (!may[c->role][rq.op]) {
		err_set("a %s may not ask for a %s signature or key", role_name[c->role],
			kp_op_name(rq.op));
		rc = -1;
	} else
		rc = serve(&rq, out + sizeof(a));
	if (rc < 0) {
		const char *why = err_get();

		msg_warnx("key process: refused %s worker %ld: %s", role_name[c->role], c->pid, why);
		a.status = KP_REFUSED;
		a.len = strlen(why) > 200 ? 200 : strlen(why);
		memcpy(out + sizeof(a), why, a.len);
	} else
		a.len = outlen;
	memcpy(out, &a, sizeof(a));
	rc = send(c->fd, out, sizeof(a) + a.len, MSG_NOSIGNAL) == (ssize_t)(sizeof(a) + a.len) ? 0 : -1;
	explicit_bzero(out, sizeof(out));
	return rc;
}

/* The key process's loop: its master line, and one line per worker. */
static int
keyproc_main(int ctl)
{
	int max = S->cf->max_children + S->cf->max_receivers + 16, n = 0;
	struct pollfd *pf = xcalloc(max + 1, sizeof(*pf));
	struct client *cl = xcalloc(max + 1, sizeof(*cl));
	uint8_t *buf = xmalloc(KP_MAX_MSG);

	pf[0].fd = ctl;
	pf[0].events = POLLIN;
	while (pf[0].fd >= 0 || n > 0) {
		if (poll(pf, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("key process: poll: %s", strerror(errno));
		}
		if (pf[0].revents) {
			struct kp_new nw;
			int fd;
			ssize_t r = fd_recv(ctl, &nw, sizeof(nw), &fd);

			if (r <= 0) {	/* the master is gone, or started another */
				if (fd >= 0)
					close(fd);
				close(ctl);
				pf[0].fd = -1;
			} else if (r != sizeof(nw) || fd < 0 || nw.role == 0 || nw.role >= KP_NROLES) {
				msg_warnx("key process: a malformed message from the master");
				if (fd >= 0)
					close(fd);
			} else if (n == max) {
				msg_warnx("key process: %d workers already; worker %ld not served",
					  n, (long)nw.pid);
				close(fd);
			} else {
				cl[n + 1] = (struct client){fd, nw.role, nw.pid};
				pf[n + 1] = (struct pollfd){.fd = fd, .events = POLLIN};
				n++;
			}
		}
		for (int i = 1; i <= n; i++) {
			if (pf[i].revents == 0 || one_request(&cl[i], buf) == 0)
				continue;
			close(pf[i].fd);
			pf[i] = pf[n];
			cl[i] = cl[n];
			n--;
			i--;
		}
	}
	free(pf);
	free(cl);
	free(buf);
	return 0;
}

static pid_t kp_pid = -1;
static int kp_ctl = -1;

/*
 * Fork it twice, so that it is no child of the master: the master's
 * children are its workers (and what counts them, a test or an operator's
 * pgrep -P, sees only those). The master learns its end from its line:
 * the key process's pid first, then end of file when it is gone. It ends
 * itself when the master's line closes and its last worker is done.
 */
int
keyproc_start(void (*setup)(void))
{
	int sv[2], status;
	pid_t pid;

	if (kp_ctl >= 0) {	/* the one before finishes its workers, then exits */
		close(kp_ctl);
		kp_ctl = -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		msg_fatal("key process: socketpair: %s", strerror(errno));
	if ((pid = fork()) < 0)
		msg_fatal("key process: fork: %s", strerror(errno));
	if (pid == 0) {
		int32_t me;

		close(sv[0]);
		setup();
		prctl(PR_SET_PDEATHSIG, 0);	/* it outlives its parent, by design */
		if (S->tcpfd >= 0)
			close(S->tcpfd);
		if (S->udpfd >= 0)
			close(S->udpfd);
		if ((pid = fork()) != 0)
			_exit(pid < 0 ? 75 : 0);
		signal(SIGTERM, SIG_IGN);	/* it ends with the master's line */
		signal(SIGINT, SIG_IGN);
		prctl(PR_SET_NAME, "shipd-keys");
		me = getpid();
		if (send(sv[1], &me, sizeof(me), MSG_NOSIGNAL) != sizeof(me))
			_exit(75);
		sandbox_enter(SANDBOX_KEYS);
		_exit(keyproc_main(sv[1]));
	}
	close(sv[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	{
		int32_t kp;

		if (recv(sv[0], &kp, sizeof(kp), 0) != sizeof(kp))
			msg_fatal("key process: it did not start");
		kp_pid = kp;
	}
	kp_ctl = sv[0];
	msg_info("key process %ld holds the secret keys", (long)kp_pid);
	return kp_ctl;
}

int
keyproc_event(void (*setup)(void))
{
	char c;

	if (recv(kp_ctl, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN)
		return -1;	/* nothing happened */
	msg_warnx("key process %ld ended%s", (long)kp_pid,
		  S->stopping ? "" : "; starting another (its workers will try again)");
	close(kp_ctl);
	kp_ctl = -1;
	return S->stopping ? -1 : keyproc_start(setup);
}

int
keyproc_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		msg_warn("key process line: socketpair");
		return -1;
	}
	return 0;
}

void
keyproc_child(int sv[2])
{
	close(sv[1]);
	if (kp_ctl >= 0) {	/* a worker never hands the key process a line */
		close(kp_ctl);
		kp_ctl = -1;
	}
	keys_forget(S->keys, kp_agent(sv[0]));
}

void
keyproc_parent(int sv[2], pid_t pid, enum kp_role role)
{
	struct kp_new nw = {role, pid};

	if (pid > 0 && fd_send(kp_ctl, sv[1], &nw, sizeof(nw)) < 0)
		msg_warnx("key process: cannot hand over worker %ld's line: %s", (long)pid, err_get());
	close(sv[0]);
	close(sv[1]);
}
