/*
 * listen.c - the master's doors: the TCP listener and the UDP socket. A
 * connection from an address outside ALLOW is closed at once; one that is
 * allowed waits in the lobby (door.c) until it has something to say, and
 * only then gets a receive worker (forked here, with its socketpair to the
 * master and its pair to the key process). A UDP datagram costs a fork
 * only when it is a shipd HELLO not seen before. Every refusal is logged,
 * at a bounded rate per kind, so a flood cannot fill the disk.
 *
 * Called from the master's event loop (master.c); never reads or writes a
 * packet byte, never touches a bay.
 */
#include "shipd.h"
#include "keyproto.h"
#include "../wire/wire.h"
#include "../util/addr.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define UDP_HELLO_MEMORY	10	/* seconds a UDP session's HELLO is remembered */

enum refusal_kind { R_ALLOW, R_BUSY, R_UDP_ALLOW, R_UDP_NOISE, R_UDP_AGAIN, R_EVICT, R_NKINDS };

/*
 * Refusals at the door are logged, but a flood must not fill the disk with
 * them: at most REFUSAL_LOG_RATE lines a second for each kind of refusal
 * (so a flood of one kind never hides another), then one line saying how
 * many were not logged.
 */
#define REFUSAL_LOG_RATE 20

static void __attribute__((format(printf, 2, 3)))
refusal(enum refusal_kind k, const char *fmt, ...)
{
	static time_t second[R_NKINDS];
	static int logged[R_NKINDS], dropped[R_NKINDS];
	time_t now = time(NULL);
	va_list ap;

	if (now != second[k]) {
		if (dropped[k])
			msg_warnx("%d more refusals of this kind in the last second not logged",
				  dropped[k]);
		second[k] = now;
		logged[k] = dropped[k] = 0;
	}
	if (++logged[k] > REFUSAL_LOG_RATE) {
		dropped[k]++;
		return;
	}
	va_start(ap, fmt);
	msg_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

static int
allowed(const struct sockaddr *sa)
{
	for (int i = 0; i < S->cf->nallow; i++)
		if (cidr_match(&S->cf->allow[i], sa))
			return 1;
	return 0;
}

/*
 * A receive worker for a connection from who (address src), with a
 * socketpair to the master (door.c), after making room at the door.
 */
static pid_t
fork_receiver(const char *who, const char *src)
{
	struct job *j;
	char key[32], why[256];
	int sp[2];
	pid_t pid;
	int kp[2];

	if (door_make_room(S->door, S->cf, src, why, sizeof(why)))
		refusal(R_EVICT, "dropped connection from %s to make room for %s", why, who);
	if (keyproc_pair(kp) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		msg_warn("socketpair for a receive worker");
		keyproc_parent(kp, -1, KP_RECEIVER);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		msg_warn("fork receiver");
		keyproc_parent(kp, -1, KP_RECEIVER);
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		master_child_setup();
		prctl(PR_SET_NAME, "shipd-door");	/* shipd-recv once it holds a slot */
		keyproc_child(kp);
		close(sp[0]);
		S->statfd = sp[1];
		return 0;
	}
	keyproc_parent(kp, pid, KP_RECEIVER);
	close(sp[1]);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	if (door_open(S->door, pid, sp[0], src, who) < 0)
		close(sp[0]);
	j = xcalloc(1, sizeof(*j));
	j->kind = J_RECEIVE;
	j->id = xstrdup(who);
	j->pid = pid;
	j->started = time(NULL);
	snprintf(key, sizeof(key), "%ld", (long)pid);
	htab_put(S->kids, key, j);
	S->nreceivers++;
	return pid;
}

/*
 * A few connections per turn of the event loop, so that a flood cannot
 * keep the master from reaping children and answering its workers (the
 * listener is level-triggered: what is left comes back at once).
 */
#define ACCEPT_BURST	8

void
listen_tcp_ready(void)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char who[128], src[64];
	int fd, burst = 0;

	while (burst++ < ACCEPT_BURST &&
	       (fd = accept4(S->tcpfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC)) >= 0) {
		addr_str((struct sockaddr *)&ss, who, sizeof(who));
		door_source((struct sockaddr *)&ss, src, sizeof(src));
		if (!allowed((struct sockaddr *)&ss)) {
			refusal(R_ALLOW, "refused connection from %s: address not in the allow list", who);
			close(fd);
		} else {
			char why[256];

			/* to the lobby: no worker until it has something to say */
			if (door_make_room(S->door, S->cf, src, why, sizeof(why)))
				refusal(R_EVICT, "dropped connection from %s to make room for %s",
					why, who);
			if (door_wait(S->door, fd, (struct sockaddr *)&ss, sl, src, who) < 0)
				close(fd);
		}
		sl = sizeof(ss);
	}
}

/* A connection in the lobby has something to say: a worker for it. */
void
listen_lobby_ready(struct door_event *e)
{
	pid_t pid = fork_receiver(e->who, e->src);

	if (pid == 0) {
		close(S->tcpfd);
		if (S->udpfd >= 0)
			close(S->udpfd);
		_exit(receiver_tcp(e->sock, (struct sockaddr *)&e->ss));
	}
	close(e->sock);
}

static void
forget_udp(void *arg, const char *key, void *value)
{
	struct strv *old = arg;

	if ((time_t)(long)value + UDP_HELLO_MEMORY < time(NULL))
		strv_add(old, key);
}

void
listen_udp_ready(void)
{
	static uint8_t buf[65536];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct strv old = {0};
	char who[128], key[160], id[32], src[64];
	ssize_t n;

	while ((n = recvfrom(S->udpfd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&ss, &sl)) >= 0) {
		addr_str((struct sockaddr *)&ss, who, sizeof(who));
		sl = sizeof(ss);
		if (!allowed((struct sockaddr *)&ss)) {
			refusal(R_UDP_ALLOW, "refused UDP datagram from %s: address not in the allow list", who);
			continue;
		}
		/* noise never costs a fork */
		if (hop_udp_hello_id(buf, n, id, sizeof(id)) < 0) {
			refusal(R_UDP_NOISE, "refused UDP datagram from %s: not a shipd HELLO (%zd bytes)", who, n);
			continue;
		}
		/* a session is its HELLO (a fresh key each time), not its source
		 * port: with a port range the next connection reuses the port */
		snprintf(key, sizeof(key), "%s %s", who, id);
		if (htab_get(S->udp_recent, key)) {
			refusal(R_UDP_AGAIN, "dropped UDP HELLO from %s: a repeat for session %s, already being served",
				who, id);
			continue;
		}
		htab_put(S->udp_recent, key, (void *)(long)time(NULL));
		door_source((struct sockaddr *)&ss, src, sizeof(src));
		if (fork_receiver(who, src) == 0) {
			close(S->tcpfd);
			_exit(receiver_udp(buf, n, (struct sockaddr *)&ss, sizeof(ss)));
		}
	}
	htab_walk(S->udp_recent, forget_udp, &old);
	for (int i = 0; i < old.n; i++)
		htab_del(S->udp_recent, old.v[i]);
	strv_free(&old);
}

/* Every receiver slot is taken: the worker at the door refuses for now. */
void
listen_busy(const struct door_event *e)
{
	refusal(R_BUSY, "inbound hop from %s: all %d receivers busy; its offers are "
		"refused for now (try again later)", e->who, S->cf->max_receivers);
}
