/*
 * runner.c - the program runner of a sandboxed sender. A sender may not
 * exec (sandbox.c), yet local delivery runs a class's receipt handler and
 * a return runs the notification program. So before it enters its
 * sandbox a sender forks this small helper, which holds no key (it is
 * forked after keys_forget) and no connection, and runs on request only
 * a program the configuration names (NOTIFICATION-PROGRAM, a class's
 * RECEIPT-HANDLER), with run_program's bounds. Anything else is refused
 * and logged. It ends when the sender closes its line.
 *
 * Request: timeout (int32), then argv as NUL-terminated strings; answer:
 * the status (int32). Never runs a shell, never runs what it was not
 * configured to run.
 */
#include "shipd.h"
#include "keyproto.h"
#include "../global/program.h"
#include "../util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define RUNNER_MSG	16384
#define RUNNER_ARGS	32

static int
configured(const char *prog)
{
	if (S->cf->notify_program && strcmp(prog, S->cf->notify_program) == 0)
		return 1;
	for (int i = 0; i < S->cf->nclasses; i++)
		if (S->cf->classes[i].receipt_handler &&
		    strcmp(prog, S->cf->classes[i].receipt_handler) == 0)
			return 1;
	return 0;
}

static void
serve(int fd)
{
	static char buf[RUNNER_MSG + 1];
	char *argv[RUNNER_ARGS + 1];
	ssize_t n;

	while ((n = recv(fd, buf, RUNNER_MSG, 0)) > 0) {
		int32_t timeout, st = -1;
		int argc = 0;

		buf[n] = 0;
		if ((size_t)n > sizeof(timeout) && buf[n - 1] == 0) {
			memcpy(&timeout, buf, sizeof(timeout));
			for (char *p = buf + sizeof(timeout); p < buf + n && argc < RUNNER_ARGS;
			     p += strlen(p) + 1)
				argv[argc++] = p;
			argv[argc] = NULL;
			if (argc == 0 || !configured(argv[0]))
				msg_warnx("runner: refused to run %s: not a program the configuration names",
					  argc ? argv[0] : "(nothing)");
			else
				st = run_program(argv, timeout);
		} else
			msg_warnx("runner: a malformed request of %zd bytes", n);
		if (send(fd, &st, sizeof(st), MSG_NOSIGNAL) != sizeof(st))
			break;
	}
}

static int
ask(void *ctx, char *const argv[], int timeout_s)
{
	static char buf[RUNNER_MSG];
	int fd = *(int *)ctx;
	int32_t t = timeout_s, st;
	size_t len = sizeof(t);

	memcpy(buf, &t, sizeof(t));
	for (int i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (i == RUNNER_ARGS || len + l > sizeof(buf))
			return -1;
		memcpy(buf + len, argv[i], l);
		len += l;
	}
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    recv(fd, &st, sizeof(st), 0) != sizeof(st))
		return -1;
	return st;
}

void
runner_start(void)
{
	static int line = -1;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || (pid = fork()) < 0) {
		msg_warn("runner: cannot start it; programs will not run in this worker");
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		kp_agent_close(S->keys);	/* it asks the key process nothing */
		program_set_runner(NULL, NULL);
		serve(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	line = sv[0];
	program_set_runner(ask, &line);
}
