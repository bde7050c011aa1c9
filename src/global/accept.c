/*
 * accept.c - the custody checks shared by the network receiver and the
 * directory import (accept.h). Moved here from shipd/receiver.c so that
 * both apply the same rules and commit the same way; it changes a bay only
 * through commit.h.
 */
#include "accept.h"
#include "../crypto/crypto.h"
#include "../queue/commit.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
accept_known(const struct config *cf, const char *id)
{
	struct strv bays = {0};
	int found = 0;

	bay_all(cf, &bays);
	for (int i = 0; i < bays.n && !found; i++)
		found = bay_known(bays.v[i], id);
	strv_free(&bays);
	return found;
}

/* room a destination needs to open the packet, beside the packet itself */
static uint64_t
unpacked_here(const struct config *cf, const struct order *o, const struct pkt_info *pi)
{
	return o->returning || !strv_has(&o->dests, cf->node) ? 0 : pi->total_size;
}

enum accept_verdict
accept_check(const struct config *cf, const char *peer, struct order *o,
	     const struct pkt_info *pi, const char **bayp, int (*once)(const char *key),
	     struct sbuf *why)
{
	const struct sclass *cls;
	char base[ORDER_ID_MAX];

	if (order_packet_id(o->id, base, sizeof(base)) < 0)
		base[0] = 0;
	if (strcmp(base, pi->id) != 0 || strcmp(o->origin, pi->origin) != 0 ||
	    o->size != pi->file_size) {
		sbuf_printf(why, "order does not match the signed packet header "
			    "(id %s/%s, origin %s/%s, size %llu/%llu)", o->id, pi->id, o->origin,
			    pi->origin, (unsigned long long)o->size,
			    (unsigned long long)pi->file_size);
		return ACC_REFUSE;
	}
	/* notify is the origin's, signed in the header: never a hop's word */
	if (o->notify ? strcmp(o->notify, pi->notify) != 0 : pi->notify[0] != 0) {
		msg_warnx("packet %s from %s: the order's notify \"%s\" is not the one the origin "
			  "signed (\"%s\"): using the signed one", o->id, peer,
			  o->notify ? o->notify : "", pi->notify);
		free(o->notify);
		o->notify = pi->notify[0] ? xstrdup(pi->notify) : NULL;
	}
	/* a class not defined here is kept in -default (shipping.conf(5)) */
	if ((cls = config_class(cf, o->sclass)) == NULL) {
		char key[160];

		cls = config_class_or_default(cf, o->sclass);
		snprintf(key, sizeof(key), "class %s", o->sclass);
		if (once == NULL || once(key))
			msg_info("class %s is not defined here: its packets are stored in class %s "
				 "(logged once)", o->sclass, cls->name);
	}
	if (o->dests.n == 0) {
		sbuf_puts(why, "no destinations");
		return ACC_REFUSE;
	}
	for (int i = 0; i < o->dests.n; i++) {
		const char *d = o->dests.v[i];

		if (!strv_has(&pi->dests, d)) {
			sbuf_printf(why, "destination %s is not among the packet's signed "
				    "destinations", d);
			return ACC_REFUSE;
		}
	}
	if (accept_known(cf, o->id))
		return ACC_HAVE;
	if (strv_has(&o->hops, cf->node)) {
		sbuf_printf(why, "cyclic delivery route: %s already passed through %s",
			    o->id, cf->node);
		return ACC_REFUSE;
	}
	if (o->size > cf->max_data_size) {
		sbuf_printf(why, "packet of %llu bytes exceeds MAX-DATA-SIZE %llu",
			    (unsigned long long)o->size, (unsigned long long)cf->max_data_size);
		return ACC_REFUSE;
	}
	if (cf->bay_size_limit && o->size > cf->bay_size_limit) {
		sbuf_printf(why, "packet of %llu bytes exceeds BAY-SIZE-LIMIT %llu",
			    (unsigned long long)o->size, (unsigned long long)cf->bay_size_limit);
		return ACC_REFUSE;
	}
	*bayp = o->returning ? cls->return_bay : bay_choose(cls);
	/* "busy": temporary, about room, never about reaching us (the sender
	 * defers the order and keeps the hop up); a destination needs room to
	 * unpack too (shipping.conf(5), MIN-FREE-DISK) */
	if (bay_room_ok(cf, *bayp, o->size, unpacked_here(cf, o, pi)) < 0) {
		sbuf_printf(why, "busy, no room: %s", err_get());
		return ACC_LATER;
	}
	return ACC_OK;
}

enum accept_verdict
accept_reserve(const struct config *cf, const char *bay, int fd, uint64_t off,
	       const struct order *o, const struct pkt_info *pi, struct sbuf *why)
{
	/* the packet's own bytes are reserved: only the floor and the room to
	 * unpack are left to look at */
	if (bay_partial_reserve(bay, o->id, fd, off, o->size) < 0 ||
	    bay_room_ok(cf, bay, 0, unpacked_here(cf, o, pi)) < 0) {
		sbuf_printf(why, "busy, no room: %s", err_get());
		return ACC_LATER;
	}
	return ACC_OK;
}

void
accept_take(const struct config *cf, struct order *o, const struct pkt_info *pi)
{
	hex_encode(pi->digest, sizeof(pi->digest), o->digest);
	strv_add(&o->hops, cf->node);
	o->attempts = 0;
	o->next_attempt = 0;
	free(o->last_error);
	o->last_error = NULL;
}

int
accept_commit(const struct config *cf, const char *bay, struct order *o,
	      const struct pkt_info *pi)
{
	const struct order *acc[1] = {o};

	accept_take(cf, o, pi);
	return bay_accept(bay, acc, 1);
}
