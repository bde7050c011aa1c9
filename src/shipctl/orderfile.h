/*
 * orderfile.h - MultiSite's shipping order file, as `mkorder` writes it
 * without -ship/-fship (beside the data file, sh_o_NAME) or with -out
 * ORDER, and as `shipping_server ORDER` (shipctl ship) consumes it. It is a
 * request, not queue state: nothing is in a bay, nothing is sealed, the
 * data file stays where it is until the order is shipped.
 *
 *   shipd-order-file: 1
 *   data: /abs/path/of/the/file
 *   name: name at the destinations
 *   class: -default
 *   dest: SiteB
 *   expires: 1796000000        (optional: Unix seconds)
 *   notify: ...                (optional, escaped as in orders)
 *   comment: ...               (optional, escaped)
 *   copy: 0 | 1
 *   end
 *
 * Strict like orders: an unknown or repeated key, a bad value or a missing
 * "end" is refused, never guessed at. Written atomically (safe_write).
 */
#ifndef SHIPD_SHIPCTL_ORDERFILE_H
#define SHIPD_SHIPCTL_ORDERFILE_H

#include <time.h>
#include "../util/mem.h"

#define OFILE_MAGIC	"shipd-order-file: 1\n"
#define OFILE_PREFIX	"sh_o_"		/* MultiSite's name for an order file */
#define OFILE_MAX	(64 * 1024)

struct ofile {
	char *data;			/* absolute path of the file to ship */
	char *name;			/* name at the destinations */
	char *sclass;
	struct strv dests;
	time_t expires;			/* 0: the class's expiration when shipped */
	char *notify, *comment;		/* or NULL */
	int copy;			/* keep the data file once shipped */
};

void ofile_free(struct ofile *f);
/* Write f to path (replacing it atomically); -1 with err_set(). */
int ofile_write(const char *path, const struct ofile *f);
/* 1 when path starts like an order file, 0 when it does not (or cannot be read). */
int ofile_is(const char *path);
/* Read and check; -1 with err_set("line N: ...") on anything wrong. */
int ofile_read(const char *path, struct ofile *f);

#endif
