/*
 * submit.h - turn a file into queued shipping orders: the one step shared
 * by `shipctl submit` and the daemon's pickup of files dropped in
 * BAY/drop/DEST/.
 *
 * Checks (class, readable regular file, every destination routable,
 * expiry in the future, space in the chosen bay), seals the file with
 * packet_seal() into BAY/tmp/, and queues each part with bay_enqueue()
 * (data first, order second, so a crash in between leaves only an orphan
 * data file that recovery removes). Never exits; never touches the
 * network.
 *
 * Layer src/global/: the little shipping policy both programs share
 * (submission, expiry, running a helper program). May call every layer
 * below; src/shipd/ and src/shipctl/ sit above it.
 */
#ifndef SHIPD_SUBMIT_H
#define SHIPD_SUBMIT_H

#include <sys/stat.h>
#include <time.h>
#include "../conf/config.h"
#include "../crypto/keys.h"
#include "../util/mem.h"

struct submit_req {
	const char *path;		/* the file to ship */
	const char *name;		/* name at the destination; NULL: basename(path) */
	struct strv dests;		/* final destinations (this node allowed) */
	const char *sclass;		/* NULL: -default */
	time_t expires;			/* 0: now + the class's expiration */
	const char *notify;		/* or NULL */
	const char *comment;		/* or NULL */
	int copy;			/* keep the source file (else unlinked once queued) */
	int until_poll;			/* queue it held for the next poll (mkorder -ship):
					 * deferred/, mtime BAY_NEXT_POLL */
	const char *kind;		/* the packet's kind; NULL: data (packet.h) */
	/*
	 * A drop (the daemon's pickup): path was opened as fd without
	 * following a link or blocking, and judged complete as *expect
	 * (queue/drop.h). It is sealed from fd, and refused with *tempfail =
	 * SUBMIT_CHANGED, nothing queued, when fd's inode, size, mtime or
	 * ctime differ from *expect before sealing or once sealing read it.
	 * The caller removes the drop: submit_file never unlinks it.
	 */
	const struct stat *expect;
	int fd;				/* with expect only */
	const char *submitter;		/* recorded in the order (the submission socket), or NULL */
	/*
	 * Seal while sending: a large file stored without zstd (packet.h,
	 * pkt_extra.early) is announced to a running daemon while it is
	 * sealed (tmp/ID.early, queue/commit.h), which may start sending it
	 * at once; its last bytes go only once the order is committed here.
	 * Nothing of the announcement counts: the order is accepted, as
	 * always, when its data and order are durable.
	 */
	int early;
};

/* *tempfail when r->expect no longer describes the file: look again later */
#define SUBMIT_CHANGED	2

/*
 * Queue r->path; the new order ids (one per part) are added to ids_out.
 * Returns -1 with err_set() on failure, *tempfail = 1 when it may work
 * later (bay full, disk floor, I/O error) and 0 when it never will
 * (unknown class, unroutable destination, unreadable file, past expiry).
 * On failure nothing stays queued, except parts a running daemon already
 * claimed for sending (logged).
 */
int submit_file(const struct config *cf, const struct keys *me, const struct submit_req *r,
		struct strv *ids_out, int *tempfail);

/*
 * Many files with one round of directory fsyncs (shipctl submit FILE...):
 * submit_batch_add checks and seals r's file at once and stages its
 * orders; submit_batch_flush queues everything staged with two directory
 * fsyncs in all (bay_enqueue_all), removes each queued source (unless
 * copy), and calls done once per file, in the order added: ids on
 * success, or err (one line, without the file name) with tempfail as
 * submit_file's. Nothing is queued, nor reported, before the flush's
 * fsyncs returned. add flushes by itself when the batch holds
 * SUBMIT_BATCH_ORDERS orders, its first was sealed SUBMIT_BATCH_SECONDS
 * ago (well inside BAY_ORPHAN_AGE: the sweep leaves staged packets
 * alone), or the next file goes to another bay or state; a file over
 * SUBMIT_BATCH_FILE_MAX is queued alone, at once; and when r's file
 * fails (so the files before it are reported first). add and flush return -1 once done was told of a failure: the
 * caller stops adding, and still flushes. submit_batch_free drops what
 * was never flushed (nothing of it is queued).
 */
#define SUBMIT_BATCH_ORDERS	64
#define SUBMIT_BATCH_SECONDS	5
#define SUBMIT_BATCH_FILE_MAX	(1 << 20)
struct submit_batch;
typedef void (*submit_done_fn)(void *arg, const char *path, const struct strv *ids,
			       const char *err, int tempfail);
struct submit_batch *submit_batch_new(const struct config *cf, const struct keys *me,
				      submit_done_fn done, void *arg);
int submit_batch_add(struct submit_batch *b, const struct submit_req *r);
int submit_batch_flush(struct submit_batch *b);
void submit_batch_free(struct submit_batch *b);

/* Only the permanent checks of submit_file (class, file, destinations and
 * their keys, expiry): -1 with err_set() when the request can never work. */
int submit_check(const struct config *cf, const struct submit_req *r);

/*
 * An expiry date-time (datetime.c): ClearCase's date-time grammar (now,
 * d-mmm[-yy[yy]][.time], today, yesterday, a weekday, h:mm[:ss][UTC...])
 * or "YYYY-MM-DDTHH:MM[:SS]", in local time, what is left out resolved
 * forward to the soonest such moment still ahead, a date alone meaning the
 * end of that day. -1 with err_set() when malformed ("bad date-time") or
 * not a real date. datetime_expiry() takes "now" as an argument (tests).
 */
int submit_parse_date(const char *s, time_t *out);
int datetime_expiry(const char *s, time_t now, time_t *out);

#endif
