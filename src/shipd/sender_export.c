/*
 * sender_export.c - the send worker's directory hops (global/dirhop.h):
 * an order's packet written to a next hop's directory (a medium carried
 * over), custody staying here until the next hop's receipt comes back.
 * Never removes the order: only marks its destinations exported.
 */
#include "sender_int.h"
#include "../global/dirhop.h"
#include "../util/log.h"

#include <stdlib.h>
#include <time.h>

/*
 * A directory hop (global/dirhop.h): write the packet and its envelope to
 * the next hop's directory, once per destination; the destinations stay
 * in the order, marked exported, until the next hop's receipt comes back.
 * A full or missing medium is a temporary failure joined to errs.
 */
void
export_hop(const char *bay, struct order *o, const char *nh, const struct strv *mine,
	   struct claim *c, struct sbuf *errs)
{
	const struct peer *p = config_peer(S->cf, nh);
	struct strv todo = {0};
	char *why = NULL;

	for (int k = 0; k < mine->n; k++)
		if (order_exported(o, mine->v[k]) == NULL)
			strv_add(&todo, mine->v[k]);
	if (todo.n == 0)
		goto out;
	if (dirhop_export(S->cf, S->keys, bay, o, &todo, nh, p->dir, p->dir_limit, &why) < 0) {
		msg_warnx("order %s: export to %s (directory %s) failed: %s", o->id, nh, p->dir, why);
		join_errors(errs, why);
		free(why);
		goto out;
	}
	dirhop_mark_exported(o, &todo, nh, time(NULL));
	if (bay_rewrite(bay, o, Q_ACTIVE, Q_ACTIVE, 0, c) < 0)
		msg_warnx("order %s: %s", o->id, err_get());
	msg_info("order %s: exported to %s in directory %s; custody stays here until its "
		 "receipt", o->id, nh, p->dir);
	sender_status("U %s", nh);
out:
	strv_free(&todo);
}

