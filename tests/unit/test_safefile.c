/*
 * test_safefile.c - util/safefile.c's helpers that the per-order paths
 * lean on: mkdirs (a missing leaf, missing parents, something in the
 * way); and util/proc.c's self_pid, which they name temporaries and log
 * lines with, right in a forked child.
 */
#include "t.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char top[64];

static int
is_dir(const char *path, mode_t *mode)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (mode)
		*mode = st.st_mode & 07777;
	return 1;
}

/* the common case: the parent is there, the leaf is not */
static void
mkdirs_leaf(void)
{
	char p[PATH_MAX];
	mode_t m;

	snprintf(p, sizeof(p), "%s/leaf", top);
	CHECK_INT(mkdirs(p, 0700), 0);
	CHECK(is_dir(p, &m));
	CHECK_INT(m, 0700);
	/* there already: still fine */
	CHECK_INT(mkdirs(p, 0700), 0);
}

/* a leaf several levels below what exists: every parent made */
static void
mkdirs_parents(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	mode_t m;

	snprintf(p, sizeof(p), "%s/a/b/c/d", top);
	CHECK_INT(mkdirs(p, 0750), 0);
	CHECK(is_dir(p, &m));
	CHECK_INT(m, 0750);
	snprintf(q, sizeof(q), "%s/a/b", top);
	CHECK(is_dir(q, NULL));
	/* a trailing slash names the same directory */
	snprintf(p, sizeof(p), "%s/e/f/", top);
	CHECK_INT(mkdirs(p, 0700), 0);
	snprintf(q, sizeof(q), "%s/e/f", top);
	CHECK(is_dir(q, NULL));
}

/* a file where a parent should be: an error that names the path */
static void
mkdirs_blocked(void)
{
	char f[128], p[PATH_MAX];
	int fd;

	snprintf(f, sizeof(f), "%s/plain", top);
	fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/x/y", f);
	CHECK_INT(mkdirs(p, 0700), -1);
	CHECK(strstr(err_get(), f) != NULL);
	snprintf(p, sizeof(p), "%s/none/", f);
	CHECK_INT(mkdirs(p, 0700), -1);
}

/* a child's temporaries carry its own PID, not its parent's: two
 * processes never race for one name */
static void
self_pid_fork(void)
{
	char tmp[PATH_MAX], want[64];
	pid_t pid, parent = self_pid();
	int st, fd;

	CHECK_INT(parent, getpid());
	CHECK_INT(self_pid(), getpid());	/* remembered: the same */
	if ((pid = fork()) == 0) {
		int ok = self_pid() == getpid() && self_pid() != parent;

		fd = safe_create(top, tmp, sizeof(tmp), 0600);
		snprintf(want, sizeof(want), "/.tmp.%ld.", (long)getpid());
		ok = ok && fd >= 0 && strstr(tmp, want) != NULL;
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_INT(self_pid(), getpid());	/* the parent's is still its own */
}

/* read_file_if tells a missing file from one it cannot read */
static void
read_file_missing(void)
{
	char p[PATH_MAX], *buf;
	size_t len;
	int missing = -1;

	snprintf(p, sizeof(p), "%s/none", top);
	CHECK(read_file_if(p, 100, &len, &missing) == NULL);
	CHECK_INT(missing, 1);
	snprintf(p, sizeof(p), "%s/leaf", top);	/* a directory: there, not readable as a file */
	CHECK(read_file_if(p, 100, &len, &missing) == NULL);
	CHECK_INT(missing, 0);
	snprintf(p, sizeof(p), "%s/some", top);
	CHECK_INT(safe_write(top, "some", "abc", 3, 0600), 0);
	buf = read_file_if(p, 100, &len, &missing);
	CHECK_STR(buf, "abc");
	CHECK_INT(len, 3);
	CHECK_INT(missing, 0);
	free(buf);
}

int
main(void)
{
	snprintf(top, sizeof(top), "/tmp/shipd-tests.safefile.%ld", (long)getpid());
	if (mkdir(top, 0700) < 0) {
		perror(top);
		return 1;
	}
	TEST(mkdirs_leaf);
	TEST(mkdirs_parents);
	TEST(mkdirs_blocked);
	TEST(self_pid_fork);
	TEST(read_file_missing);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
		if (system(cmd) != 0)
			return 1;
	}
	T_DONE();
}
