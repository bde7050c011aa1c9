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
 *   69  a program needed is missing
 *   73  cannot create an output file
 *   75  temporary failure: try again later (bay full, disk floor, busy)
 *
 * Verbs never touch the network; they change bays only through bay.h.
 */
#ifndef SHIPD_SHIPCTL_H
#define SHIPD_SHIPCTL_H

#include <sys/types.h>
#include "../conf/config.h"

#define EX_OK		0
#define EX_NOTFOUND	1
#define EX_CONFIG	2
#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_NOINPUT	66
#define EX_UNAVAILABLE	69
#define EX_CANTCREAT	73
#define EX_TEMPFAIL	75
#define EX_NOPERM	77
#define EX_SOFTWARE	70

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

/*
 * Whether a daemon works this spool (its lock, queue/spoollock.h): its pid,
 * 0 when none runs, -1 when this user cannot tell. ctl_daemon_note() prints
 * one line on stderr saying nothing moves when none runs.
 */
pid_t ctl_daemon(struct ctl *c);
void ctl_daemon_note(struct ctl *c, const char *verb);

/* Each verb's entry point, defined in its own file. */
#define VERB(name) int cmd_##name(struct ctl *c, int argc, char **argv)
VERB(checkconf);
VERB(keygen);
VERB(pubkey);
VERB(submit);
VERB(ls);
VERB(show);
VERB(hold);
VERB(release);
VERB(retry);
VERB(rm);
VERB(resubmit);
VERB(routes);
VERB(firewall);
VERB(stats);
VERB(top);
VERB(peers);
VERB(ship);
VERB(lspacket);
VERB(export);
VERB(import);
VERB(authority);
VERB(certify);

/* submitc.c: the submission socket (SUBMIT-SOCKET) */
struct submit_req;
int submit_socket_open(const char *path);	/* connected, or -1 with errno */
int submit_via_socket(int s, struct submit_req *r, const char *file, struct strv *queued);

#endif
