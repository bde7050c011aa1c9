/*
 * queue.h - what the queue verbs (ls, show, hold, release, retry, rm,
 * resubmit) share: every order of every bay as entries, locating one id,
 * the one loop of the ID verbs, human and JSON renderings (of orders and
 * of the history of ended ones), and the operator audit line.
 *
 * Read-only: every change to a bay is a verb of queue/commit.h.
 */
#ifndef SHIPD_SHIPCTL_QUEUE_H
#define SHIPD_SHIPCTL_QUEUE_H

#include <stdio.h>
#include "shipctl.h"
#include "../queue/commit.h"
#include "../queue/peerfile.h"
#include "../util/mem.h"

/* One order file found in a bay; ok = 0 when it did not parse. */
struct qentry {
	const struct config *cf;	/* where it was found (for views that need it) */
	char *bay;
	enum qstate st;
	char id[ORDER_ID_MAX];
	time_t mtime;
	int ok;
	struct order o;
	char *error;			/* parse error when !ok */
	char *why;			/* corrupt/: the reason from ID.why, or NULL */
	/*
	 * In outgoing/, but a live sender is sending it right now (its
	 * BAY/inflight/ID): a large file sent while it was sealed, or a
	 * relay's cut-through, which the daemon does not claim into active/.
	 * Shown, counted and refused as active (qe_st).
	 */
	int sending;
};

/* Every order in every bay, oldest first; entries freed with q_free. */
void q_collect(const struct config *cf, struct qentry **out, int *n);
void q_free(struct qentry *e, int n);
/* Find and load id; -1 when no bay holds it. Free with qe_free. */
int q_locate(const struct config *cf, const char *id, struct qentry *e);
void qe_free(struct qentry *e);
/* "outgoing", ..., or QSTATE_UNPARSED for an order that does not parse
 * (outside corrupt/: what is in corrupt/ is "corrupt", parsed or not). */
const char *qe_state(const struct qentry *e);
/* The state it is in for people: e->st, or Q_ACTIVE when it is sending. */
enum qstate qe_st(const struct qentry *e);
/* What went wrong with it, in full: corrupt/'s reason, the parse error, or
 * the order's last error; NULL when nothing did. */
const char *qe_error(const struct qentry *e);

/*
 * Which of cf's bays a path lies in (the path need not exist, its
 * directory must): the bay as configured into bay, and the first
 * component below it ("deferred", "incoming", "data"...; "" for the bay
 * itself) into sub, the rest after it into rest ("" when none). -1 when
 * it is in none of them.
 */
int q_path_bay(const struct config *cf, const char *path, char *bay, size_t bsize,
	       char *sub, size_t ssize, char *rest, size_t rsize);

/*
 * The ID verbs (hold, release, retry, rm, resubmit) are one loop:
 *   shipctl VERB ID...
 *   shipctl VERB --all [--state STATE] [--class CLASS]
 * An id not found is 1, an order being sent (active/) is busy (75), an
 * order in a state the verb does not take is 65; --all takes every order
 * in the verb's states (narrowed by --state and --class) and prints how
 * many it changed. act() makes the one change and logs it with audit().
 */
#define QBIT(st)	(1u << (st))
struct idverb {
	const char *name;
	unsigned takes;			/* QBIT()s of the states it acts on */
	unsigned all;			/* those --all takes (a subset) */
	const char *not_taken;		/* "not held": said of an order elsewhere */
	int parsed;			/* refuses an order that does not parse */
	const char *done;		/* --all's summary: "%d order%s held" */
	/* the one change, logged with audit(): an EX_ status */
	int (*act)(const struct idverb *v, const struct config *cf, struct qentry *e);
};
int idverb_run(struct ctl *c, const struct idverb *v, int argc, char **argv);
/* A verb's entry point: its idverb, run. */
#define IDVERB(verb, ...) VERB(verb) { \
	static const struct idverb v = {#verb, __VA_ARGS__}; \
	return idverb_run(c, &v, argc, argv); }
/* The act of release and retry: due now (next attempt cleared, the count
 * kept), rewritten in place and moved to outgoing/. */
int idverb_due_now(const struct idverb *v, const struct config *cf, struct qentry *e);

/* fmt_size() (1.5M) is in util/mem.h */
const char *fmt_dur(long long secs, char *buf, size_t size);	/* 3d, 5h, 12m, 40s */
/* Copy s for a terminal: control characters become '?', cut at max. */
const char *fmt_safe(const char *s, size_t max, char *buf, size_t size);
/* The same, but a long s loses its middle ("head ... tail"), never its end,
 * where an error says its cause. */
const char *fmt_elide(const char *s, size_t max, char *buf, size_t size);

/* Every field of an order as "key: value" lines (show, ls --long). */
void print_long(FILE *f, const struct qentry *e, time_t now);
/* A JSON string literal (null for NULL); invalid UTF-8 becomes U+FFFD. */
void json_str(struct sbuf *b, const char *s);
void json_entry(struct sbuf *b, const struct qentry *e, time_t now);

/* Every next hop (peers.c): the daemon's published state (queue/peerfile.h)
 * and what waits for it in the queue. */
struct peerrow {
	const char *name;		/* the config's */
	struct peerfile pf;
	long waiting;			/* orders with a destination behind it */
	uint64_t waiting_bytes;
	struct peer_minute hour;	/* sent and received in the last hour */
};
void peers_collect(const struct config *cf, const struct qentry *v, int n, time_t now,
		   struct peerrow **rows, int *nrows);
void peers_free(struct peerrow *rows, int n);

/* The done/ records (history.c): one in full, as JSON, found over every
 * bay (0, 1 none, -1 unreadable: said on stderr), and ls --done. */
struct history;
void print_history(FILE *f, const char *bay, const struct history *h, time_t now);
void json_history(struct sbuf *b, const struct history *h);
int find_history(const struct config *cf, const char *id, char *bay, size_t size,
		 struct history *h);
int ls_done(const struct config *cf, int json, int shortf);

/* Log who did what to syslog and stderr: "rm: ID ... by USER". */
void audit(const char *fmt, ...) PRINTF(1, 2);

#endif
