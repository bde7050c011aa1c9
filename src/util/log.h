/*
 * log.h - the handful of log calls every shipd program uses.
 *
 * msg_info/msg_warnx/msg_warn (adds strerror(errno))/msg_fatal (exit 75 or
 * the code given)/msg_panic (broken invariant, abort); the last three also
 * write their line to stderr when it is not a log destination. Output goes to stderr,
 * syslog or a file, chosen once by log_open(). Lines are one event each,
 * prefixed with the program name, so they stay grep-able.
 *
 * Layer src/util/ (the lowest): generic helpers - logging, allocation,
 * strings, atomic files, clock, addresses, hash table. Calls libc only;
 * knows nothing of shipping.
 */
#ifndef SHIPD_LOG_H
#define SHIPD_LOG_H

#include <stdarg.h>

#define PRINTF(a, b) __attribute__((format(printf, a, b)))

/* dest: "stderr", "syslog", "file:/path", or a comma list like "stderr,syslog". */
void log_open(const char *progname, const char *dest);
/* 1 when stderr is one of the log destinations (a fatal error always
 * goes to stderr as well, whatever they are). */
int log_to_stderr(void);
void msg_info(const char *fmt, ...) PRINTF(1, 2);
void msg_warnx(const char *fmt, ...) PRINTF(1, 2);
void msg_warn(const char *fmt, ...) PRINTF(1, 2);
void msg_fatal(const char *fmt, ...) PRINTF(1, 2) __attribute__((noreturn));
void msg_fatal_status(int status, const char *fmt, ...) PRINTF(2, 3) __attribute__((noreturn));
void msg_panic(const char *fmt, ...) PRINTF(1, 2) __attribute__((noreturn));
void msg_vlog(int prio, const char *fmt, va_list ap);

/*
 * A returned error: functions that fail on bad input set one line here and
 * return -1; the caller adds context and logs or prints it.
 */
/* The last error, one per thread (a helper thread reports its own). */
void err_set(const char *fmt, ...) PRINTF(1, 2);
const char *err_get(void);

#endif
