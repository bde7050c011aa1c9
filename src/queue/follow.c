/*
 * follow.c - reading a packet while a receiver still writes it: a relay's
 * cut-through (shipd/cutthrough.c) sends partial/ID on to the next hop as
 * its bytes land.
 *
 * Offers bay_partial_follow (the file, read-only, wherever it is now:
 * partial/ID, or data/ID once the receiver committed it; both are one
 * inode, so the descriptor stays good across that rename) and
 * bay_partial_receiving (does a receiver still hold the transfer's lock).
 *
 * The same for an origin that sends while it seals (shipd/cutthrough.c,
 * global/submit.c): bay_early_* (commit.h), tmp/NAME in place of
 * partial/ID, the sealer's flock in place of the receiver's, and a
 * notice tmp/ID.early so that the daemon hears of it (pickup.c).
 *
 * Never writes, renames or locks for longer than a probe: the receiver's
 * lock (bay_partial_open's flock) is only tested, and a reader never
 * makes a transfer wait.
 */
#include "bay_int.h"
#include "commit.h"
#include "../util/log.h"

#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define EARLY_MAX	(64 * 1024)	/* a notice: a name and an order */

/*
 * path read-only, or data/ID when path is gone: committed meanwhile, the
 * same file (for an origin's, bay_early_committed says whether it is).
 */
static int
follow_open(char *path, const char *bay, const char *id)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
		return fd;
	if (errno == ENOENT && bay_data_path(path, PATH_MAX, bay, id) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
		return fd;
	err_set("open %s: %s", path, strerror(errno));
	return -1;
}

int
bay_partial_follow(const char *bay, const char *id)
{
	char path[PATH_MAX];

	if (!order_id_valid(id)) {
		err_set("bad packet id \"%.64s\"", id);
		return -1;
	}
	if (bay_path(path, sizeof(path), bay, Q_PARTIAL, id) < 0)
		return -1;
	return follow_open(path, bay, id);
}

int
bay_partial_receiving(int fd)
{
	/* a shared lock is refused while the receiver holds its exclusive one;
	 * granted, it is dropped at once, so a resuming receiver is not kept
	 * out for more than this probe */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK;
	flock(fd, LOCK_UN);
	return 0;
}

/* A sealer's file name in tmp/: safe_create's, one component. */
static int
early_name_ok(const char *name)
{
	return name[0] == '.' && strchr(name, '/') == NULL && strchr(name, '\n') == NULL &&
	       strlen(name) < NAME_MAX && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int
bay_early_announce(const char *bay, const char *id, const char *name, const char *order)
{
	char dir[PATH_MAX], notice[ORDER_ID_MAX + sizeof(BAY_EARLY_SUFFIX)];
	struct sbuf b = {0};
	int rc;

	if (!order_id_valid(id) || !early_name_ok(name)) {
		err_set("sealing while sending: bad id or file name");
		return -1;
	}
	if (bay_path(dir, sizeof(dir), bay, Q_TMP, NULL) < 0)
		return -1;
	snprintf(notice, sizeof(notice), "%s%s", id, BAY_EARLY_SUFFIX);
	sbuf_printf(&b, "%s\n%s", name, order);
	/* a hint, not a commitment: nothing is lost with it in a crash */
	rc = safe_write_nosync(dir, notice, b.s, b.len, 0600);
	sbuf_free(&b);
	return rc;
}

void
bay_early_withdraw(const char *bay, const char *id)
{
	char path[PATH_MAX], dir[PATH_MAX];

	if (order_id_valid(id) && bay_path(dir, sizeof(dir), bay, Q_TMP, NULL) == 0 &&
	    path_fmt(path, sizeof(path), "%s/%s%s", dir, id, BAY_EARLY_SUFFIX) == 0)
		unlink(path);
}

int
bay_early_read(const char *bay, const char *notice, char **id, char **name, char **order)
{
	char dir[PATH_MAX], path[PATH_MAX], *text, *nl;
	size_t len, sl = strlen(BAY_EARLY_SUFFIX), nlen = strlen(notice);

	*id = *name = *order = NULL;
	if (nlen <= sl || strcmp(notice + nlen - sl, BAY_EARLY_SUFFIX) != 0)
		return 0;	/* not a notice */
	*id = xstrdup(notice);
	(*id)[nlen - sl] = 0;
	if (!order_id_valid(*id) || bay_path(dir, sizeof(dir), bay, Q_TMP, NULL) < 0 ||
	    path_fmt(path, sizeof(path), "%s/%s", dir, notice) < 0) {
		err_set("tmp/%.100s: not a notice of this bay", notice);
		goto fail;
	}
	text = read_file(path, EARLY_MAX, &len);
	unlink(path);		/* read once: the sealer's lock says the rest */
	if (text == NULL)
		goto fail;
	if ((nl = memchr(text, '\n', len)) == NULL || memchr(text, 0, len) != NULL) {
		err_set("%s: malformed", path);
		free(text);
		goto fail;
	}
	*nl = 0;
	if (!early_name_ok(text)) {
		err_set("%s: a bad file name", path);
		free(text);
		goto fail;
	}
	*name = xstrdup(text);
	*order = xstrdup(nl + 1);
	free(text);
	return 1;
fail:
	free(*id);
	*id = NULL;
	return -1;
}

int
bay_early_follow(const char *bay, const char *name, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if (!order_id_valid(id) || !early_name_ok(name)) {
		err_set("sealing while sending: bad id or file name");
		return -1;
	}
	if (bay_path(dir, sizeof(dir), bay, Q_TMP, NULL) < 0 ||
	    path_fmt(path, sizeof(path), "%s/%s", dir, name) < 0)
		return -1;
	return follow_open(path, bay, id);
}

int
bay_early_committed(const char *bay, const char *id, int fd)
{
	char path[PATH_MAX];
	struct stat mine, st;

	if (fstat(fd, &mine) < 0 || bay_path(path, sizeof(path), bay, Q_OUTGOING, id) < 0) {
		err_set("sealing while sending: %s", strerror(errno));
		return -1;
	}
	if (access(path, F_OK) < 0)
		return 0;
	if (bay_data_path(path, sizeof(path), bay, id) < 0 || stat(path, &st) < 0 ||
	    st.st_ino != mine.st_ino || st.st_dev != mine.st_dev) {
		err_set("order %s was committed with another file than the one sent", id);
		return -1;
	}
	return 1;
}
