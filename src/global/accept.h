/*
 * accept.h - the checks a packet passes before this node takes custody of
 * it, whichever way it came: over the network (shipd/receiver.c, after the
 * hop's handshake) or through a directory (dirhop.c, after the hop
 * envelope's signature). One set of rules, so a medium is never an easier
 * way in than a socket.
 *
 * Layer src/global/. Reads the configuration and the bays; changes a bay only
 * through commit.h (accept_commit).
 */
#ifndef SHIPD_ACCEPT_H
#define SHIPD_ACCEPT_H

#include "../conf/config.h"
#include "../packet/packet.h"
#include "../queue/order.h"

enum accept_verdict {
	ACC_OK,				/* take it, into *bayp */
	ACC_HAVE,			/* accepted here before: acknowledge, store nothing */
	ACC_REFUSE,			/* never (why says which rule) */
	ACC_LATER			/* not now (a full bay): why says so */
};

/* Was this order id accepted here before (or is it queued here now)?
 * bay_known per bay: a new id costs three lookups a bay, not eight. */
int accept_known(const struct config *cf, const char *id);

/*
 * The hop order o (as the previous hop sent it) and the packet's outer
 * header, already checked by packet_check_header into *pi: do they agree,
 * is the packet routable here, new, within the size limits and is there
 * room? peer names the previous hop in logs; once(key) says whether a note
 * is logged for the first time (NULL: always). May replace o->notify by
 * the signed one. Returns the verdict; why gets the reason.
 */
enum accept_verdict accept_check(const struct config *cf, const char *peer, struct order *o,
				 const struct pkt_info *pi, const char **bayp,
				 int (*once)(const char *key), struct sbuf *why);

/*
 * After accept_check said ACC_OK and partial/ID is open as fd with off
 * bytes already there: reserve the rest of the packet on disk, then look
 * at the room again. Two receivers that both passed accept_check before
 * either wrote a byte cannot both count the same free space: the second
 * look sees the first one's reservation. ACC_OK or ACC_LATER (why says
 * "busy, no room: bay full: ...", as accept_check would).
 */
enum accept_verdict accept_reserve(const struct config *cf, const char *bay, int fd,
				   uint64_t off, const struct order *o,
				   const struct pkt_info *pi, struct sbuf *why);

/*
 * Take custody of a received packet whose bytes are in bay's partial/ID,
 * verified into *pi: o becomes this node's order (the packet digest the
 * verifier yielded, this node added to its hops, fresh counters) and is
 * committed with bay_accept. 0 accepted; -1 not (err_set; partial/ID kept).
 * No seen/ marker here: while the order exists in any state accept_known()
 * finds it, and bay_finish() writes the marker before it removes the order.
 */
int accept_commit(const struct config *cf, const char *bay, struct order *o,
		  const struct pkt_info *pi);
/* The order part of accept_commit alone, for a caller that commits a group
 * of received packets with one bay_accept (the hop receiver's window). */
void accept_take(const struct config *cf, struct order *o, const struct pkt_info *pi);

#endif
