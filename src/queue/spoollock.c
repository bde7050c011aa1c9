/*
 * spoollock.c - the daemon's lock on its spool (spoollock.h).
 *
 * fcntl open-file-description locks (F_OFD_SETLK), not flock(2): the
 * question "is it held?" can then be asked with F_OFD_GETLK, which takes
 * nothing, so a `shipctl top` polling every second can never make a
 * daemon that starts at that instant believe another one runs.
 */
#include "spoollock.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* how long a restart waits for a killed daemon's workers: 5 s */
#define LOCK_WAIT_USEC	20000
#define LOCK_WAIT_TRIES	250

static int
lock_path(const struct config *cf, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s/%s", cf->spool, SPOOL_LOCK_NAME) >= size) {
		err_set("spool path too long: %s", cf->spool);
		return -1;
	}
	return 0;
}

/* The pid written in the file, 0 when it holds none. */
static pid_t
read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	pid = strtol(buf, NULL, 10);
	return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

/*
 * The lock, or -1 with *holder and err_set(). Held, but the pid in the
 * file is dead: the master was killed (-9) and the lock is held by its
 * workers on their way out (one forked just before the kill holds the
 * lock's description until its exit), so wait for them a moment rather
 * than refuse the restart. A pid that lives, or none written yet, is a
 * daemon running or starting: refused at once.
 */
static int
take(int fd, const char *path, pid_t *holder)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int tries;

	for (tries = 0;; tries++) {
		int e;

		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if ((e = errno) != EAGAIN && e != EACCES) {
			err_set("lock %s: %s", path, strerror(e));
			return -1;
		}
		*holder = read_pid(fd);
		if (*holder == 0 || kill(*holder, 0) == 0 || errno != ESRCH ||
		    tries == LOCK_WAIT_TRIES) {
			err_set("%s is locked by a running shipd (pid %ld)", path, (long)*holder);
			return -1;
		}
		if (tries == 0)
			msg_info("shipd (pid %ld) is gone, but %s is still held "
				 "(its workers exiting): waiting for it", (long)*holder, path);
		usleep(LOCK_WAIT_USEC);
	}
}

int
spool_lock(const struct config *cf, pid_t *holder)
{
	char path[PATH_MAX], line[32];
	int fd, n;

	*holder = 0;
	if (lock_path(cf, path, sizeof(path)) < 0)
		return -1;
	if (mkdirs(cf->spool, 0700) < 0)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
		err_set("%s: %s", path, strerror(errno));
		return -1;
	}
	if (take(fd, path, holder) < 0) {
		close(fd);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, n, 0) != n || fsync(fd) < 0) {
		err_set("write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

pid_t
spool_lock_holder(const struct config *cf)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char path[PATH_MAX];
	pid_t pid;
	int fd;

	if (lock_path(cf, path, sizeof(path)) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0;	/* no daemon ever ran on this spool */
		err_set("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
		err_set("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fl.l_type == F_UNLCK)
		pid = 0;
	else if ((pid = read_pid(fd)) == 0)
		pid = 1;	/* held, by a daemon that has not written its pid yet */
	close(fd);
	return pid;
}
