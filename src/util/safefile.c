/*
 * safefile.c - crash-safe file creation and state changes (see safefile.h).
 * Every error path unlinks the temporary and sets err_set() with the path.
 */
#include "safefile.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

int
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

ssize_t
read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		err_set("open %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		err_set("fsync %s: %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return fsync_dir(".");
	if ((size_t)(slash - path) >= sizeof(dir)) {
		err_set("path too long: %s", path);
		return -1;
	}
	memcpy(dir, path, slash - path);
	dir[slash - path] = 0;
	return fsync_dir(slash == path ? "/" : dir);
}

int
safe_create(const char *dir, char *tmp, size_t tmpsz, mode_t mode)
{
	static unsigned long seq;
	struct timespec ts;
	int fd;

	for (int tries = 0; tries < 100; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (path_fmt(tmp, tmpsz, "%s/.tmp.%ld.%ld.%lu", dir, (long)getpid(),
			     (long)ts.tv_nsec, ++seq) < 0)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST) {
			err_set("create %s: %s", tmp, strerror(errno));
			return -1;
		}
	}
	err_set("create temporary in %s: too many collisions", dir);
	return -1;
}

void
safe_abort(int fd, const char *tmp)
{
	int e = errno;

	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
}

int
safe_commit(int fd, const char *tmp, const char *dir, const char *name)
{
	char final[PATH_MAX];

	if (path_fmt(final, sizeof(final), "%s/%s", dir, name) < 0) {
		safe_abort(fd, tmp);
		return -1;
	}
	if (fsync(fd) < 0) {
		err_set("fsync %s: %s", tmp, strerror(errno));
		safe_abort(fd, tmp);
		return -1;
	}
	if (close(fd) < 0) {
		err_set("close %s: %s", tmp, strerror(errno));
		safe_abort(-1, tmp);
		return -1;
	}
	if (rename(tmp, final) < 0) {
		err_set("rename %s to %s: %s", tmp, final, strerror(errno));
		safe_abort(-1, tmp);
		return -1;
	}
	return fsync_dir(dir);
}

int
safe_write(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd = safe_create(dir, tmp, sizeof(tmp), mode);

	if (fd < 0)
		return -1;
	if (write_all(fd, buf, len) < 0) {
		err_set("write %s: %s", tmp, strerror(errno));
		safe_abort(fd, tmp);
		return -1;
	}
	return safe_commit(fd, tmp, dir, name);
}

int
safe_rename(const char *from, const char *to)
{
	if (rename(from, to) < 0) {
		err_set("rename %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	if (fsync_parent(to) < 0)
		return -1;
	/* the source directory lost an entry: make that durable too */
	return fsync_parent(from);
}

char *
read_file(const char *path, size_t max, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0) {
		err_set("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size > max) {
		err_set("%s: larger than %zu bytes", path, max);
		close(fd);
		return NULL;
	}
	buf = xmalloc(st.st_size + 1);
	n = read_full(fd, buf, st.st_size);
	close(fd);
	if (n < 0) {
		err_set("%s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (lenp)
		*lenp = n;
	return buf;
}

int
mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf)) {
		err_set("path too long: %s", path);
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;

			*p = 0;
			if (mkdir(buf, mode) < 0 && errno != EEXIST) {
				err_set("mkdir %s: %s", buf, strerror(errno));
				return -1;
			}
			*p = c;
			if (c == 0)
				break;
		}
	}
	return 0;
}
