/*
 * deliver.c - opening packets addressed to this node.
 *
 * Exactly once: a packet (or a joined group of parts) KEY is verified and
 * extracted into unpack/KEY/, then the order is written to receipts/KEY:
 * that is the commit point. Only then are the files renamed into
 * incoming/ (bay_unpack_finish: never overwriting, a clash becomes NAME_1,
 * NAME_2 ...). Start-up recovery (bay_recover) finishes a committed
 * unpack/KEY and removes an uncommitted one; a worker that finds
 * receipts/KEY does not extract again.
 *
 * A delivered data packet is recorded in done/ and confirmed to its
 * origin with a signed receipt (history.c): deliver_local leaves the
 * receipt owed, and its caller calls history_flush before it finishes
 * the order (several orders' receipts then travel as one packet).
 *
 * After delivery the class's receipt handler runs as
 *   HANDLER -data FILE -actual ORDER -sclass CLASS -origin HOST
 * A failure leaves receipts/KEY.pending, retried by the next poll.
 */
#include "shipd.h"
#include "../global/program.h"
#include "../packet/packet.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HANDLER_TIMEOUT	600

static const char *
key_of(const struct order *o)
{
	return o->nparts > 1 && o->group ? o->group : o->id;
}

static int
run_handler(const char *bay, const char *key, const char *file, const struct order *o)
{
	const struct sclass *c = config_class_or_default(S->cf, o->sclass);
	char orderpath[PATH_MAX];
	int st;

	if (c->receipt_handler == NULL)
		return 0;
	if (bay_path(orderpath, sizeof(orderpath), bay, Q_RECEIPTS, key) < 0)
		return -1;
	{
		char *argv[] = {c->receipt_handler, "-data", (char *)file, "-actual", orderpath,
				"-sclass", o->sclass, "-origin", o->origin, NULL};

		st = run_program(argv, HANDLER_TIMEOUT);
	}
	if (st == 0) {
		bay_pending_clear(bay, key);
		msg_info("receipt handler %s ran for %s (%s)", c->receipt_handler, o->id, file);
		return 0;
	}
	msg_warnx("receipt handler %s failed for %s (%s): %s %d; the next poll retries it",
		  c->receipt_handler, o->id, file, st < 0 ? "timed out or could not run, status" :
		  "exit status", st);
	if (bay_pending_set(bay, key, file) < 0)
		msg_warnx("receipt handler for %s: cannot record it for the next poll: %s", o->id,
			  err_get());
	return -1;
}

/*
 * Wording only: does the error text say the disk is full? (Whether a
 * failure is temporary is decided by its class, never by its text.)
 */
static int
out_of_space(const char *why)
{
	return strstr(why, strerror(ENOSPC)) != NULL || strstr(why, strerror(EDQUOT)) != NULL;
}

/* Log the current error as temporary ("bay full: ..." when the disk is
 * full); returns BAY_LATER. */
static int
later(const char *id)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", err_get());
	err_set("%s%s", out_of_space(why) ? "bay full: " : "", why);
	msg_warnx("deliver %s: %s; will retry", id, err_get());
	return BAY_LATER;
}

/* One delivery: the order as it came, and the receipt bay_deliver writes
 * once the packet is open (+ the name and comment from inside). */
struct opening {
	const struct order *o;
	struct order receipt;		/* a shallow copy of *o, with these: */
	char *name, *comment;
	int kind;			/* DELIVER_KIND_*: from the header opened */
};

static void
opening_init(struct opening *op, const struct order *o)
{
	memset(op, 0, sizeof(*op));
	op->o = o;
	op->receipt = *o;
}

static void
opening_free(struct opening *op)
{
	free(op->name);
	free(op->comment);
}

/* bay_extract_fn: open the packet (its parts, in order) into dir. */
static int
extract(void *arg, const char *const *paths, int n, const char *dir, struct strv *names)
{
	struct opening *op = arg;
	/* a packet of one part: its order's digest, recorded when this node
	 * verified it on the way in (or sealed it), spares verifying its two
	 * signatures again; the parts of a split packet are verified */
	const char *digest[1] = {op->o->digest};
	/* every extracted file gets the class's DELIVER-MODE, whatever mode it
	 * had at the origin, before its one fsync and before the commit point:
	 * what moves into incoming/ is never more open than the class says */
	int mode = config_class_or_default(S->cf, op->o->sclass)->deliver_mode;
	struct pkt_said said;
	int rc = packet_open_said(S->cf, S->keys, paths, n == 1 ? digest : NULL, n, mode, dir,
				  names, &op->comment, &said);

	if (said.kind[0])	/* the header was read and checked: its kind holds */
		op->kind = strcmp(said.kind, PKT_KIND_DATA) == 0 ? DELIVER_KIND_DATA :
			   DELIVER_KIND_OTHER;
	if (rc == PKT_LOCAL)	/* our disk, not the packet: deferred */
		return BAY_LATER;
	if (rc < 0) {
		msg_warnx("refused packet %s from %s: %s", op->o->id, op->o->origin, err_get());
		return BAY_REFUSED;
	}
	/* a packet of another kind than data is consumed here, not delivered:
	 * its receipt still says it was taken, so it is taken once */
	if ((rc = control_deliver(op->o, said.kind, said.origin, dir, names)) != CONTROL_DATA) {
		if (rc < 0)
			return rc == BAY_LATER ? BAY_LATER : BAY_REFUSED;
		for (int i = 0; i < names->n; i++) {
			char path[PATH_MAX];

			if (path_fmt(path, sizeof(path), "%s/%s", dir, names->v[i]) < 0 ||
			    unlink(path) < 0) {
				err_set("packet %s: remove %s from %s: %s", op->o->id, names->v[i],
					dir, strerror(errno));
				return BAY_LATER;
			}
		}
		strv_free(names);
		return 0;
	}
	/* what relays never saw: the file's name and the comment, from inside */
	if (names->n)
		op->receipt.name = op->name = xstrdup(names->v[0]);
	if (op->comment)
		op->receipt.comment = op->comment;
	return 0;
}

/*
 * Recorded and confirmed to the origin (history.c), a data packet only:
 * also when it was delivered before (a crash after the commit point), so
 * a receipt lost with the crash is sent again; the origin takes a second
 * one as known already. The name is the final one, or the receipt's.
 */
static void
confirm(const char *bay, const struct order *o, const struct strv *finals, int marked)
{
	struct order r;
	char path[PATH_MAX];

	if (finals->n) {
		history_delivered(bay, o, finals->v[0], marked);
		return;
	}
	order_init(&r);
	if (bay_path(path, sizeof(path), bay, Q_RECEIPTS, key_of(o)) == 0 &&
	    order_load(path, &r) == 0)
		history_delivered(bay, o, r.name, marked);
	else
		history_delivered(bay, o, NULL, marked);
	order_free(&r);
}

/* What bay_deliver or bay_join said, logged: 0 done, -1 refused, BAY_LATER.
 * is_data: confirm it (not for a receipt or another control packet). */
static int
delivered(const char *bay, const struct order *o, int rc, const struct strv *finals,
	  int is_data, int marked)
{
	char full[PATH_MAX];
	struct stat st;

	if (rc == BAY_LATER)
		return later(o->id);
	if (rc == BAY_REFUSED)
		return -1;
	for (int i = 0; i < finals->n; i++) {
		if (bay_path(full, sizeof(full), bay, Q_INCOMING, finals->v[i]) < 0)
			continue;
		if (stat(full, &st) < 0)
			st.st_size = 0;
		msg_info("delivered %s from %s: %s (%lld bytes)", o->id, o->origin, full,
			 (long long)st.st_size);
		run_handler(bay, key_of(o), full, o);
	}
	if (is_data)
		confirm(bay, o, finals, marked);
	return 0;
}

/* A data packet delivered by another way (rstream.c: while it was
 * received): logged, its handler run, confirmed to its origin. */
void
deliver_done(const char *bay, const struct order *o, const struct strv *finals, int marked)
{
	delivered(bay, o, 0, finals, 1, marked);
}

/* The kind of the packet data/ID when the opening did not say (it was
 * delivered before, or its header could not be read): from the file. */
static int
kind_from_file(const char *bay, const char *id)
{
	return history_is_data(bay, id) ? DELIVER_KIND_DATA : DELIVER_KIND_OTHER;
}

int
deliver_local(const char *bay, struct order *o, int *kind)
{
	struct strv finals = {0};
	struct opening op;
	char data[PATH_MAX];
	const char *pp[1];
	int rc;

	opening_init(&op, o);
	if (o->nparts > 1 && o->group) {
		/* read before the join (which may take the parts' data) */
		op.kind = kind_from_file(bay, o->id);
		rc = bay_join(bay, o->group, o->nparts, o, &op.receipt, extract, &op, &finals);
		if (rc != 1)
			rc = delivered(bay, o, rc, &finals, op.kind == DELIVER_KIND_DATA, 0);
	} else if (bay_data_path(data, sizeof(data), bay, o->id) < 0)
		rc = -1;
	else {
		/* the opening reads the header, and says its kind: data/ID is
		 * read once, not once more for the kind (it stays until the
		 * order is finished) */
		pp[0] = data;
		rc = bay_deliver(bay, o->id, &op.receipt, pp, 1, extract, &op, &finals);
		if (op.kind == DELIVER_KIND_UNKNOWN && rc != BAY_REFUSED)
			op.kind = kind_from_file(bay, o->id);
		rc = delivered(bay, o, rc == 1 ? 0 : rc, &finals, op.kind == DELIVER_KIND_DATA, 0);
	}
	*kind = op.kind;
	opening_free(&op);
	strv_free(&finals);
	if (rc == -1)
		bay_corrupt(bay, o->id, Q_ACTIVE, err_get());
	return rc;
}

int
deliver_join(const char *bay, const char *group)
{
	char dir[PATH_MAX];
	struct dirent *d;
	int m = 0;
	DIR *dp;

	char path[PATH_MAX];
	struct strv finals = {0};
	struct opening op;
	struct order first;
	int rc, best = 0, is_data;

	if (bay_path(dir, sizeof(dir), bay, Q_JOINING, NULL) < 0 || (dp = opendir(dir)) == NULL)
		return 0;
	order_init(&first);
	/* the receipt holds part 1's order (any part's when it is not here) */
	while (best != 1 && (d = readdir(dp)) != NULL) {
		char g[ORDER_ID_MAX];
		int n, mm;

		if (order_part_of(d->d_name, g, sizeof(g), &n, &mm) < 0 || strcmp(g, group) != 0 ||
		    bay_path(path, sizeof(path), bay, Q_JOINING, d->d_name) < 0)
			continue;
		order_free(&first);
		if (order_load(path, &first) == 0) {
			m = mm;
			best = n;
		}
	}
	closedir(dp);
	if (m < 2) {
		order_free(&first);
		return 0;
	}
	opening_init(&op, &first);
	is_data = history_is_data(bay, first.id);
	rc = bay_join(bay, group, m, NULL, &op.receipt, extract, &op, &finals);
	rc = rc == 1 ? 0 : delivered(bay, &first, rc, &finals, is_data, 0);
	history_flush();	/* the job's end: its receipt goes now */
	opening_free(&op);
	strv_free(&finals);
	order_free(&first);
	switch (rc) {
	case -1:
		return 65;
	case BAY_LATER:
		return 75;
	default:
		return 0;
	}
}

/* --poll: run receipt handlers that failed before. */
static void
retry_one(void *arg, const char *key, const char *file)
{
	const char *bay = arg;
	char op[PATH_MAX];
	struct order o;

	order_init(&o);
	if (bay_path(op, sizeof(op), bay, Q_RECEIPTS, key) == 0 && order_load(op, &o) == 0 &&
	    run_handler(bay, key, file, &o) < 0)
		S->failures++;
	order_free(&o);
}

void
deliver_retry_handlers(const char *bay)
{
	bay_pending_scan(bay, retry_one, (void *)bay);
}
