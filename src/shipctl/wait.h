/*
 * wait.h - follow queued orders until their destinations confirm delivery
 * (or, with --hop, until they leave this node): `shipctl submit --wait`. Read-only: watches bays and progress records, never
 * changes them.
 */
#ifndef SHIPD_SHIPCTL_WAIT_H
#define SHIPD_SHIPCTL_WAIT_H

#include "../conf/config.h"
#include "../util/mem.h"

/*
 * Wait until every order in ids is done at this node (its seen/ marker
 * exists and no state holds it) and, unless hop, every destination's
 * delivery receipt is in its done/ record (queue/history.h): EX_OK.
 * Turned around later (ID.ret came home): EX_DATAERR. EX_TEMPFAIL as soon as one is
 * deferred (its last error printed) or when timeout seconds pass (0:
 * never); EX_DATAERR when one is turned around (ID.ret or return/),
 * moved to corrupt/, or vanished without being done (removed). Progress
 * goes to stderr: a bar redrawn in place on a terminal, else one line.
 */
int submit_wait(const struct config *cf, const struct strv *ids, double timeout, int hop);

#endif
