/*
 * shipctl.h - the operator CLI: one source file per verb, this table of
 * them, and the exit-status contract shared by every verb:
 *
 *   0   done
 *   1   done, but something asked about was not found (e.g. ls of an empty id)
 *   2   configuration error ("file:line: message")
 *   64  usage error
 *   65  permanent failure: bad input that will never work (unknown class,
 *       destination with neither a route nor a peer, malformed argument)
 *   66  cannot read an input file
 *   75  temporary failure: try again later (bay full, disk floor, busy)
 *
 * Verbs never touch the network; they change bays only through bay.h.
 */
#ifndef SHIPD_SHIPCTL_H
#define SHIPD_SHIPCTL_H

#include "../conf/config.h"

#define EX_OK		0
#define EX_NOTFOUND	1
#define EX_CONFIG	2
#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_NOINPUT	66
#define EX_TEMPFAIL	75

struct ctl {
	const char *conf_path;
	struct config *cf;	/* loaded on first ctl_config() */
	int keep_root;		/* the verb calls ctl_drop() itself (after reading the key) */
};

/*
 * Load the configuration or exit 2 with its file:line error. Run as root
 * with USER set, it then becomes USER (unless keep_root), so that every
 * file a verb writes in a bay is the daemon's, as the daemon's own are.
 */
struct config *ctl_config(struct ctl *c);
void ctl_drop(struct ctl *c);

#define VERB(name) int cmd_##name(struct ctl *c, int argc, char **argv)
/* Weak while the verbs are written in parallel: a missing one says so. */
#define VERB_DECL(name) __attribute__((weak)) VERB(name)
VERB_DECL(checkconf);
VERB_DECL(keygen);
VERB_DECL(pubkey);
VERB_DECL(submit);
VERB_DECL(ls);
VERB_DECL(show);
VERB_DECL(hold);
VERB_DECL(release);
VERB_DECL(retry);
VERB_DECL(rm);
VERB_DECL(resubmit);
VERB_DECL(routes);
VERB_DECL(firewall);
VERB_DECL(stats);
VERB_DECL(top);
VERB_DECL(authority);
VERB_DECL(certify);

#endif
