/*
 * retry.c - "shipctl retry ID... | --all": deferred orders are due now:
 * rewritten with the next attempt cleared (attempt count kept), then
 * renamed to outgoing/ for the daemon to pick up (bay_rewrite). The loop,
 * its options and the act shared with release are idverb.c's.
 */
#include "queue.h"

IDVERB(retry, QBIT(Q_DEFERRED), QBIT(Q_DEFERRED), "not deferred", 1,
       "%d deferred order%s due now", idverb_due_now)
