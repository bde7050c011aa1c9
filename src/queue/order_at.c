/*
 * order_at.c - save an order into a state directory with a chosen mtime,
 * in one atomic step (order.h: order_save_at). The mtime is queue state
 * (deferred/'s next attempt; BAY_NEXT_POLL for an order held for the next
 * poll), so it is set on the temporary before the rename: no crash can
 * leave the order under its name with the wrong time.
 */
#include "order.h"
#include "../util/log.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
order_save_at(const char *dir, const struct order *o, time_t mtime)
{
	char tmp[PATH_MAX];
	struct timespec ts[2] = {{0, UTIME_OMIT}, {mtime, 0}};
	size_t len;
	char *buf;
	int fd;

	if (!order_id_valid(o->id)) {
		err_set("order_save_at: bad id \"%.64s\"", o->id);
		return -1;
	}
	if ((fd = safe_create(dir, tmp, sizeof(tmp), 0600)) < 0)
		return -1;
	buf = order_format(o, &len);
	if (write_all(fd, buf, len) < 0 || futimens(fd, ts) < 0) {
		err_set("write %s: %s", tmp, strerror(errno));
		free(buf);
		safe_abort(fd, tmp);
		return -1;
	}
	free(buf);
	return safe_commit(fd, tmp, dir, o->id);
}
