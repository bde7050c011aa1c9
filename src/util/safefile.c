/*
 * safefile.c - crash-safe file creation and state changes (see safefile.h).
 * Every error path unlinks the temporary and sets err_set() with the path.
 * Every durable step passes step() first: the test-only fault hook.
 */
#include "safefile.h"
#include "proc.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

void
writeback_start(int fd, off_t *mark, off_t end)
{
	if (end - *mark < WRITEBACK_CHUNK)
		return;
	(void)sync_file_range(fd, *mark, end - *mark, SYNC_FILE_RANGE_WRITE);
	*mark = end;
}

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

static long steps, fault_at, dir_fsyncs;
static int fault_err;

void
safe_fault(long nth, int err)
{
	fault_at = nth > 0 ? steps + nth : 0;
	fault_err = err;
}

long
safe_steps(void)
{
	return steps;
}

long
safe_dir_fsyncs(void)
{
	return dir_fsyncs;
}

/* Before each durable step: 0 to go on, -1 with errno set when the test
 * hook says this one fails (or never returns, for SAFE_FAULT_KILL). */
static int
step(void)
{
	if (++steps != fault_at)
		return 0;
	fault_at = 0;
	if (fault_err == SAFE_FAULT_KILL)
		raise(SIGKILL);
	errno = fault_err;
	return -1;
}

int
safe_fsync(int fd, const char *name)
{
	if (step() < 0 || fsync(fd) < 0) {
		err_set("fsync %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		err_set("open %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fsync_dirfd(fd, dir) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
fsync_dirfd(int fd, const char *dir)
{
	if (step() < 0 || (fsync(fd) < 0 && errno != EINVAL)) {
		err_set("fsync %s: %s", dir, strerror(errno));
		return -1;
	}
	dir_fsyncs++;
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

/* An O_EXCL temporary in dir; counted as a durable step when durable. */
static int
tmp_create(const char *dir, char *tmp, size_t tmpsz, mode_t mode, int durable)
{
	static unsigned long seq;
	struct timespec ts;
	int fd;

	for (int tries = 0; tries < 100; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (path_fmt(tmp, tmpsz, "%s/.tmp.%ld.%ld.%lu", dir, (long)self_pid(),
			     (long)ts.tv_nsec, ++seq) < 0)
			return -1;
		if (durable && step() < 0)
			fd = -1;
		else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) >= 0)
			return fd;
		if (errno != EEXIST) {
			err_set("create %s: %s", tmp, strerror(errno));
			return -1;
		}
	}
	err_set("create temporary in %s: too many collisions", dir);
	return -1;
}

int
safe_create(const char *dir, char *tmp, size_t tmpsz, mode_t mode)
{
	return tmp_create(dir, tmp, tmpsz, mode, 1);
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
safe_finish(int fd, const char *tmp)
{
	if (safe_fsync(fd, tmp) < 0) {
		safe_abort(fd, tmp);
		return -1;
	}
	if (close(fd) < 0) {
		err_set("close %s: %s", tmp, strerror(errno));
		safe_abort(-1, tmp);
		return -1;
	}
	return 0;
}

/* safe_commit without the directory fsync (safe_write_nosync's end). */
static int
commit_nosync(int fd, const char *tmp, const char *dir, const char *name)
{
	char final[PATH_MAX];

	if (path_fmt(final, sizeof(final), "%s/%s", dir, name) < 0) {
		safe_abort(fd, tmp);
		return -1;
	}
	if (safe_finish(fd, tmp) < 0)
		return -1;
	if (safe_rename_nosync(tmp, final) < 0) {
		safe_abort(-1, tmp);
		return -1;
	}
	return 0;
}

int
safe_commit(int fd, const char *tmp, const char *dir, const char *name)
{
	return commit_nosync(fd, tmp, dir, name) < 0 ? -1 : fsync_dir(dir);
}

int
safe_write(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
{
	return safe_write_nosync(dir, name, buf, len, mode) < 0 ? -1 : fsync_dir(dir);
}

int
safe_write_nosync(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
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
	return commit_nosync(fd, tmp, dir, name);
}

/* rename(2) that never replaces (EEXIST), also where the file system
 * lacks RENAME_NOREPLACE (then: look, then rename); errno on failure. */
static int
rename_noreplace(const char *from, const char *to)
{
	struct stat sb;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (lstat(to, &sb) == 0) {
		errno = EEXIST;
		return -1;
	}
	return errno == ENOENT ? rename(from, to) : -1;
}

/* The last step of a volatile write that keeps what is there: 1 kept
 * (tmp removed), 0 renamed, -1 error. */
static int
rename_keep(const char *tmp, const char *path)
{
	if (rename_noreplace(tmp, path) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	unlink(tmp);
	return 1;
}

static int
write_volatile(const char *dir, const char *name, const void *buf, size_t len, mode_t mode,
	       int keep)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd = tmp_create(dir, tmp, sizeof(tmp), mode, 0), rc;

	if (fd < 0)
		return -1;
	if (write_all(fd, buf, len) < 0) {
		err_set("write %s: %s", tmp, strerror(errno));
		safe_abort(fd, tmp);
		return -1;
	}
	if (close(fd) < 0) {
		err_set("write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (path_fmt(path, sizeof(path), "%s/%s", dir, name) < 0 ||
	    (rc = keep ? rename_keep(tmp, path) : rename(tmp, path)) < 0) {
		err_set("rename %s to %s/%s: %s", tmp, dir, name, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return rc;
}

int
safe_write_volatile(const char *dir, const char *name, const void *buf, size_t len,
		    mode_t mode)
{
	return write_volatile(dir, name, buf, len, mode, 0);
}

int
safe_write_volatile_keep(const char *dir, const char *name, const void *buf, size_t len,
			 mode_t mode)
{
	return write_volatile(dir, name, buf, len, mode, 1);
}

int
safe_rename_nosync(const char *from, const char *to)
{
	if (step() < 0 || rename(from, to) < 0) {
		err_set("rename %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	return 0;
}

/* Falls back to check-then-rename where the file system lacks
 * RENAME_NOREPLACE (a lost race there replaces: never used for orders). */
int
safe_rename_noreplace(const char *from, const char *to)
{
	if (step() < 0 || rename_noreplace(from, to) < 0) {
		err_set("rename %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	return 0;
}

/* Exchange, then remove what was `to` (now at from): never creates `to`.
 * Where the file system lacks RENAME_EXCHANGE: check, then rename. */
int
safe_rename_replace(const char *from, const char *to)
{
	struct stat sb;

	if (step() < 0)
		goto fail;
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE) == 0) {
		if (unlink(from) < 0 && errno != ENOENT)
			goto fail;
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		goto fail;
	if (lstat(to, &sb) < 0 || rename(from, to) < 0)
		goto fail;
	return 0;
fail:
	err_set("rename %s to %s: %s", from, to, strerror(errno));
	return -1;
}

int
safe_rename(const char *from, const char *to)
{
	if (safe_rename_nosync(from, to) < 0 || fsync_parent(to) < 0)
		return -1;
	/* the source directory lost an entry: make that durable too */
	return fsync_parent(from);
}

int
safe_unlink_nosync(const char *path)
{
	if (step() < 0 || unlink(path) < 0) {
		err_set("unlink %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
safe_unlink(const char *path)
{
	if (safe_unlink_nosync(path) < 0)
		return -1;
	return fsync_parent(path);
}

int
safe_link(const char *from, const char *to)
{
	if (step() < 0 || link(from, to) < 0) {
		err_set("link %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	return fsync_parent(to);
}

char *
read_file(const char *path, size_t max, size_t *lenp)
{
	return read_file_if(path, max, lenp, NULL);
}

char *
read_file_if(const char *path, size_t max, size_t *lenp, int *missing)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	if (missing)
		*missing = fd < 0 && errno == ENOENT;
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
	/* nearly always there already: one stat, not a mkdir per component */
	{
		struct stat st;

		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	/* else nearly always only its last component is missing (unpack/KEY):
	 * one mkdir; the parents are walked only when one of them is missing */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT) {
		err_set("mkdir %s: %s", path, strerror(errno));
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
