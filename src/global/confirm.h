/*
 * confirm.h - delivery receipts that travel: a destination tells the
 * origin, through the routes, that it delivered an order. A receipt is a
 * small packet of kind "receipt", sealed for the origin and signed by the
 * destination like every packet, so a relay can neither read nor forge
 * it. Its one file is this text:
 *
 *   shipd-receipt 1
 *   order: ID          the order id the destination delivered (part 1's
 *                      for a split packet: it stands for every part)
 *   origin: A          the node it is for
 *   dest: C            the node that delivered (must be the signer)
 *   delivered: T       when (seconds since the epoch)
 *   route: A,R,C       the nodes the order passed through
 *   name: FILE         delivered as (escaped as in orders)
 *   end
 *
 * Never a receipt for a receipt (or for any packet of another kind than
 * data); a receipt that cannot be queued or routed is dropped with a log
 * line, never turned around.
 *
 * Layer src/global/: may call every layer below; never opens a connection.
 */
#ifndef SHIPD_CONFIRM_H
#define SHIPD_CONFIRM_H

#include <limits.h>
#include <time.h>
#include "../conf/config.h"
#include "../crypto/keys.h"
#include "../queue/order.h"
#include "../util/mem.h"

#define CONFIRM_KIND	"receipt"
#define CONFIRM_MAX	8192		/* a larger receipt body is refused */

struct confirm {
	char order[ORDER_ID_MAX];
	char origin[256];
	char dest[256];
	time_t delivered;
	char route[2048];
	char name[NAME_MAX + 1];	/* "" when unknown */
};

/* The receipt for order o delivered at node self at `at` as name. */
void confirm_of(struct confirm *c, const struct order *o, const char *self, time_t at,
		const char *name);
void confirm_format(const struct confirm *c, struct sbuf *out);
/* -1 with err_set (naming the line) when text is not a receipt. */
int confirm_parse(const char *text, size_t len, struct confirm *c);

/*
 * Queue c for its origin, sealed and signed by me: 0 and the packet id in
 * id (size bytes), or -1 with err_set (the caller logs it and drops the
 * receipt: no route back, no key for the origin, a full bay).
 */
int confirm_send(const struct config *cf, const struct keys *me, const struct confirm *c,
		 char *id, size_t size);

#endif
