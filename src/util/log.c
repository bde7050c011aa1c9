/*
 * log.c - logging to stderr, syslog or a file, and the returned-error buffer.
 * Never allocates on the logging path, so it is safe to call when memory is
 * short; never exits except in msg_fatal/msg_panic.
 */
#include "log.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "shipd";
static int to_stderr = 1, to_syslog, file_fd = -1;
static _Thread_local char errbuf[1024];	/* per thread: a helper thread's
						 * failure never garbles the caller's */

void
log_open(const char *progname, const char *dest)
{
	char buf[1024], *tok, *save;

	prog = progname;
	if (dest == NULL || *dest == 0)
		return;
	to_stderr = 0;
	snprintf(buf, sizeof(buf), "%s", dest);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "stderr") == 0)
			to_stderr = 1;
		else if (strcmp(tok, "syslog") == 0) {
			to_syslog = 1;
			openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		} else if (strncmp(tok, "file:", 5) == 0) {
			if (file_fd >= 0)
				close(file_fd);
			file_fd = open(tok + 5, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
			if (file_fd < 0) {
				to_stderr = 1;
				msg_warn("cannot open log file %s", tok + 5);
			}
		}
	}
	if (!to_syslog && file_fd < 0)
		to_stderr = 1;
}

int
log_to_stderr(void)
{
	return to_stderr;
}

void
msg_vlog(int prio, const char *fmt, va_list ap)
{
	char line[2048], stamp[64];
	const char *lvl = prio <= LOG_ERR ? "fatal: " : prio == LOG_WARNING ? "warning: " : "";
	int n, saved = errno;
	struct timespec ts;
	struct tm tm;

	vsnprintf(line, sizeof(line), fmt, ap);
	for (char *p = line; *p; p++)	/* one event, one line */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (to_syslog)
		syslog(prio, "%s%s", lvl, line);
	/* a fatal error says why on stderr too, wherever LOG points: an
	 * administrator at a terminal (or cron's mail) sees why it exited */
	if (prio <= LOG_ERR && !to_stderr) {
		char out[2200];

		n = snprintf(out, sizeof(out), "%s: %s%s\n", prog, lvl, line);
		if (n > (int)sizeof(out) - 1)
			n = sizeof(out) - 1;
		if (write(2, out, n) < 0) {
		}
	}
	if (to_stderr || file_fd >= 0) {
		char out[2200];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(out, sizeof(out), "%s.%03ld %s[%ld]: %s%s\n", stamp,
			     ts.tv_nsec / 1000000, prog, (long)self_pid(), lvl, line);
		if (n > (int)sizeof(out) - 1)
			n = sizeof(out) - 1;
		if (to_stderr && write(2, out, n) < 0) {
			/* nowhere left to complain */
		}
		if (file_fd >= 0 && write(file_fd, out, n) < 0) {
		}
	}
	errno = saved;
}

#define LOGFN(name, prio) \
void name(const char *fmt, ...) { va_list ap; va_start(ap, fmt); msg_vlog(prio, fmt, ap); va_end(ap); }
LOGFN(msg_info, LOG_INFO)
LOGFN(msg_warnx, LOG_WARNING)

void
msg_warn(const char *fmt, ...)
{
	char buf[1536];
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg_warnx("%s: %s", buf, strerror(e));
}

void
msg_fatal_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}

void
msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(75);		/* EX_TEMPFAIL: an exhausted resource */
}

void
msg_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	abort();
}

void
err_set(const char *fmt, ...)
{
	va_list ap;
	int e = errno;		/* callers still look at it after setting the text */

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	errno = e;
}

const char *
err_get(void)
{
	return errbuf[0] ? errbuf : "unknown error";
}
