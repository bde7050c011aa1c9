/*
 * confirm.h - delivery receipts that travel: a destination tells the
 * origin, through the routes, that it delivered an order (or several:
 * the receipts one worker owes one origin travel together). A receipt is
 * a small packet of kind "receipt", sealed for the origin and signed by
 * the destination like every packet, so a relay can neither read nor
 * forge it. Its one file is this text, for one order:
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
 * or, for 2 to CONFIRM_ORDERS orders, version 2: origin and dest once,
 * then one block per order, each opened by its order line:
 *
 *   shipd-receipt 2
 *   origin: A
 *   dest: C
 *   order: ID1         delivered, route (each once) and name (at most
 *   delivered: T       once) follow, in any order, until the next
 *   route: A,R,C       order line or the end
 *   name: FILE
 *   order: ID2
 *   ...
 *   end
 *
 * Both are parsed; one order is always written as version 1, which
 * every release reads. The parser is strict: an unknown or repeated key,
 * an order listed twice, a block without its delivered or route, more
 * than CONFIRM_ORDERS orders or more than CONFIRM_MAX bytes, anything
 * after "end" or no "end" refuses the whole text, naming the line.
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
#define CONFIRM_ORDERS	64		/* orders in one receipt at most */
#define CONFIRM_MAX	65536		/* a larger receipt body is refused */

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
/* The text of the receipts v[0..n-1] (1 <= n <= CONFIRM_ORDERS), which
 * share one origin and one dest: version 1 for one, version 2 for more. */
void confirm_format(const struct confirm *v, int n, struct sbuf *out);
/* How many of v[0..n-1] (at least 1) one receipt of at most CONFIRM_MAX
 * bytes and CONFIRM_ORDERS orders holds. */
int confirm_fit(const struct confirm *v, int n);
/* The receipts text holds, into v (room for CONFIRM_ORDERS, each with
 * the origin and dest): how many (>= 1), or -1 with err_set naming the
 * line when text is not a well-formed receipt. */
int confirm_parse(const char *text, size_t len, struct confirm *v);

/*
 * Queue receipts v[0..n-1] (one origin, one dest; n <= confirm_fit) as
 * one packet for their origin, sealed and signed by me: 0 and the packet
 * id in id (size bytes), or -1 with err_set: *tempfail (may be NULL)
 * then says whether trying again later may work (a full bay) or not (no
 * route back, no key for the origin: the caller logs it and drops them).
 */
int confirm_send(const struct config *cf, const struct keys *me, const struct confirm *v, int n,
		 char *id, size_t size, int *tempfail);

#endif
