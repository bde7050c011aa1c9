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
 * Never writes, renames or locks for longer than a probe: the receiver's
 * lock (bay_partial_open's flock) is only tested, and a reader never
 * makes a transfer wait.
 */
#include "bay_int.h"
#include "commit.h"
#include "../util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int
bay_partial_follow(const char *bay, const char *id)
{
	char path[PATH_MAX];
	int fd;

	if (!order_id_valid(id)) {
		err_set("bad packet id \"%.64s\"", id);
		return -1;
	}
	if (bay_path(path, sizeof(path), bay, Q_PARTIAL, id) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
		return fd;
	/* committed meanwhile: the same file under data/ */
	if (errno == ENOENT && bay_data_path(path, sizeof(path), bay, id) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
		return fd;
	err_set("open %s: %s", path, strerror(errno));
	return -1;
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
