/*
 * submitc.c - shipctl submit's side of the submission socket
 * (SUBMIT-SOCKET; shipd's submitd.c): each file is opened here, with the
 * caller's rights, and its descriptor handed to the daemon, which seals
 * it. The caller needs no access to the key or the spool. Offers
 * submit_via_socket(); never falls back on its own: the caller decides
 * (no daemon listening: seal in process, when the key is readable).
 */
#include "shipctl.h"
#include "../global/submitproto.h"
#include "../util/fdpass.h"
#include "../util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ANSWER_MAX	65536

int
submit_socket_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	if (path == NULL || strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENOENT;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* One file over connection s (closed here); EX_OK or shipctl's exit status. */
int
submit_via_socket(int s, struct submit_req *r, const char *file, struct strv *queued)
{
	static char ans[ANSWER_MAX + 1];
	struct submit_req q = *r;
	struct sbuf req = {0};
	char real[PATH_MAX];
	int fd, rc = EX_TEMPFAIL;
	ssize_t n = -1;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		fprintf(stderr, "shipctl: submit: %s: %s\n", file, strerror(errno));
		close(s);
		return EX_NOINPUT;
	}
	q.path = realpath(file, real) ? real : file;
	if (q.name == NULL) {	/* the name it has here, whatever realpath made of it */
		const char *slash = strrchr(file, '/');

		q.name = slash ? slash + 1 : file;
	}
	if (submitproto_encode(&q, &req) < 0) {
		fprintf(stderr, "shipctl: submit: %s: %s\n", file, err_get());
		rc = EX_USAGE;
	} else if ((n = fd_recv(s, ans, ANSWER_MAX, NULL)) <= 0 ||
		   /* the greeting: "ready", or why the caller may not submit */
		   (n == 6 && memcmp(ans, "ready\n", 6) == 0 &&
		    (fd_send(s, fd, req.s, req.len) < 0 ||
		     (n = fd_recv(s, ans, ANSWER_MAX, NULL)) <= 0)))
		fprintf(stderr, "shipctl: submit: %s: the daemon did not answer (%s)\n", file,
			n == 0 ? "it closed the connection" : err_get());
	else {
		char *line, *save;

		ans[n] = 0;
		rc = EX_OK;
		for (line = strtok_r(ans, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "ok ", 3) == 0) {
				printf("%s\n", line + 3);
				strv_add(queued, line + 3);
			} else if (strncmp(line, "error ", 6) == 0) {
				char *msg;
				long st = strtol(line + 6, &msg, 10);

				fprintf(stderr, "shipctl: submit: %s: %s\n", file,
					*msg == ' ' ? msg + 1 : line);
				rc = st > 0 && st < 256 ? (int)st : EX_SOFTWARE;
				break;
			}
		}
		fflush(stdout);
		if (rc == EX_OK && !r->copy && unlink(file) < 0)
			fprintf(stderr, "shipctl: submit: %s: queued, but cannot remove it: %s\n", file,
				strerror(errno));
	}
	sbuf_free(&req);
	close(fd);
	close(s);
	return rc;
}
