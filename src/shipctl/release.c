/*
 * release.c - "shipctl release ID... | --all": a held order goes back to
 * outgoing/, due now. The order is rewritten in hold/ (next attempt
 * cleared) and then renamed (bay_rewrite), so a crash leaves it held or
 * released, never both. The loop, its options and the act shared with
 * retry are idverb.c's.
 */
#include "queue.h"

IDVERB(release, QBIT(Q_HOLD), QBIT(Q_HOLD), "not held", 1, "%d held order%s released",
       idverb_due_now)
