/*
 * submitd.c - the submission socket (SUBMIT-SOCKET): how users who may
 * neither read the node's key nor write its spool ship a file, as
 * Postfix's postdrop does. `shipctl submit` opens the file with its own
 * rights and hands the descriptor over (SCM_RIGHTS) with a request
 * (global/submitproto.h); the daemon seals it.
 *
 * The master accepts and judges the caller by the kernel's word
 * (SO_PEERCRED): root, the daemon's own user, or a member of SUBMIT-GROUP
 * (primary or supplementary group). Anyone else gets one line saying so,
 * and the connection is closed before a byte is read. An accepted caller
 * gets a worker (an idle one that lives on, pool.c, else a new one,
 * bounded by MAX-CHILDREN like every worker) that reads the one request,
 * seals from the descriptor with submit_file (the key process signs),
 * records "uid N (name)" as the order's submitter, and answers with the
 * order ids. The socket is mode 0666: the peer
 * credential is the check, not the file's mode. Never follows the
 * submitter's path (only the descriptor is read), never removes the
 * submitter's file (shipctl does, as the submitter, unless --copy).
 */
#include "shipd.h"
#include "../global/submitproto.h"
#include "../util/fdpass.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define SUBMIT_WAIT	30	/* seconds a connected submitter has to send its request */
#define GROUPS_MAX	256

int
submitd_listen(void)
{
	const char *path = S->cf->submit_socket;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (path == NULL)
		return -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		msg_fatal_status(2, "SUBMIT-SOCKET %s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* a socket left by a daemon that is gone (the spool lock says none runs) */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, 16) < 0)
		msg_fatal_status(75, "SUBMIT-SOCKET %s: %s", path, strerror(errno));
	msg_info("submission socket %s: for root, %s%s%s", path,
		 S->cf->spool_user ? S->cf->spool_user : "this user",
		 S->cf->submit_group ? " and group " : "",
		 S->cf->submit_group ? S->cf->submit_group : "");
	return fd;
}

/* May uid (with gid at connect time) submit? who gets "uid N (name)". */
static int
may_submit(uid_t uid, gid_t gid, char *who, size_t n, const char **why)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr;
	gid_t groups[GROUPS_MAX];
	int ng = GROUPS_MAX;

	snprintf(who, n, "uid %u (%s)", (unsigned)uid, pw ? pw->pw_name : "no such user");
	if (uid == 0 || uid == geteuid())
		return 1;
	if (S->cf->submit_group == NULL) {
		*why = "no SUBMIT-GROUP is set: only root and the daemon's user may submit";
		return 0;
	}
	if ((gr = getgrnam(S->cf->submit_group)) == NULL) {
		*why = "SUBMIT-GROUP names no group on this host";
		return 0;
	}
	if (gid == gr->gr_gid)
		return 1;
	if (pw && getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) >= 0)
		for (int i = 0; i < ng; i++)
			if (groups[i] == gr->gr_gid)
				return 1;
	*why = "not in SUBMIT-GROUP";
	return 0;
}

static void
answer(int fd, const char *text)
{
	if (send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		msg_warn("submission socket: answer");
}

void
submitd_accept(void)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	char who[128], line[512];
	const char *why = NULL;
	struct job *j;
	int fd;

	while ((fd = accept4(S->subfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0) {
			msg_warn("submission socket: SO_PEERCRED");
			close(fd);
			continue;
		}
		if (!may_submit(cr.uid, cr.gid, who, sizeof(who), &why)) {
			msg_warnx("submission refused: %s: %s%s%s", who, why,
				  S->cf->submit_group ? " " : "",
				  S->cf->submit_group ? S->cf->submit_group : "");
			snprintf(line, sizeof(line), "error 77 %s may not submit: %s%s%s\n", who, why,
				 S->cf->submit_group ? " " : "",
				 S->cf->submit_group ? S->cf->submit_group : "");
			answer(fd, line);
			close(fd);
			continue;
		}
		j = xcalloc(1, sizeof(*j));
		j->kind = J_SUBMIT;
		j->statfd = -1;
		j->connfd = fd;
		j->id = xstrdup(who);
		/* a worker that lives on (pool.c), else a new one if there is room */
		if (!pool_take(j) && !pool_make_room()) {
			answer(fd, "error 75 the daemon is busy (MAX-CHILDREN workers); try again\n");
			job_free(j);
		} else if (j->pid == 0 && master_fork(j) < 0) {
			answer(fd, "error 75 the daemon cannot start a worker; try again\n");
			job_free(j);
		} else
			answer(fd, "ready\n");	/* the caller sends only now */
		close(fd);
	}
}

/* The worker: one request, sealed from the descriptor that came with it. */
int
submitd_serve(const struct job *j)
{
	static char buf[SUBMIT_MSG_MAX + 1];
	struct timeval tv = {SUBMIT_WAIT, 0};
	struct submit_req r;
	struct strv ids = {0};
	struct sbuf out = {0};
	struct stat st;
	int fd = -1, tempfail = 0, rc = 0;
	ssize_t n;

	setsockopt(j->connfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if ((n = fd_recv(j->connfd, buf, SUBMIT_MSG_MAX, &fd)) <= 0) {
		msg_warnx("submission from %s: %s", j->id, n < 0 ? err_get() : "no request");
		return 0;
	}
	if (submitproto_decode(buf, n, &r) < 0)
		sbuf_printf(&out, "error 64 %s\n", err_get());
	else if (fd < 0)
		sbuf_puts(&out, "error 66 no file came with the request\n");
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		sbuf_printf(&out, "error 66 %s: not a regular file\n", r.path);
	else {
		r.fd = fd;
		r.expect = &st;		/* sealed from the descriptor, never by name */
		r.copy = 1;		/* the submitter's file is the submitter's to remove */
		r.submitter = j->id;
		if (submit_file(S->cf, S->keys, &r, &ids, &tempfail) < 0) {
			sbuf_printf(&out, "error %d %s\n", tempfail ? 75 : 65, err_get());
			msg_warnx("submission from %s: %s: %s", j->id, r.path, err_get());
		} else {
			for (int i = 0; i < ids.n; i++)
				sbuf_printf(&out, "ok %s\n", ids.v[i]);
			sbuf_puts(&out, "end\n");
			msg_info("submission from %s: %s: %d order%s", j->id, r.path, ids.n,
				 ids.n == 1 ? "" : "s");
		}
	}
	if (send(j->connfd, out.s, out.len, MSG_NOSIGNAL) != (ssize_t)out.len) {
		msg_warn("submission from %s: answer", j->id);
		rc = 75;
	}
	if (fd >= 0)
		close(fd);
	strv_free(&ids);
	strv_free(&r.dests);
	sbuf_free(&out);
	return rc;
}
