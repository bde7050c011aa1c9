/*
 * rstream.c - deliver while receiving: a large packet whose only
 * remaining destination is this node is opened as its bytes arrive, never
 * stored as ciphertext nor read back. So is a small one that came whole
 * in its offer, already verified (receiver.c): all of it is in memory,
 * so the opener runs afterwards in the receiver's own thread on those
 * bytes (packet_open_mem: no pipe, no thread, unpack/ID written through
 * the fd of its lock), and its
 * receipt is marked owed on disk (receipts/ID.owed) instead of queued at
 * once: the receiver tells the master, which sends the receipts of many
 * such orders in one packet (history.c). Queueing, claiming and a
 * delivery worker, and the ciphertext's data/ and outgoing/ commits, are
 * skipped for them. And they are committed together: rstream_end leaves
 * a small one held (its receipt written, not durable, nothing moved, its
 * unpack/ID lock kept), and rstream_commit makes the group durable with
 * one fsync of unpack/, receipts/, incoming/ and seen/ each
 * (queue/commit.h: bay_deliver_held), before the receiver ACKs any.
 * Until then another offer of one of them is answered "later", never
 * HAVE: its unpack/ID lock is busy.
 *
 * Offers rstream_* (shipd.h) to the receiver (receiver.c). The receiver
 * hands each body byte to rstream_feed, which writes it into a pipe; an
 * opener thread runs the queue's deliver verb (bay_deliver) whose extract
 * step is packet_open_stream on that pipe: the same reader and checks as
 * a delivery from data/ (every chunk's tag before the decompressor, the
 * trailer signature over the whole stream, the stream's end), extracting
 * into unpack/ID with DELIVER-MODE and one fsync per file. Only when all
 * that passed is receipts/ID written (the commit point) and the file moved
 * into incoming/; then rstream_end, back on the receiver's thread, confirms
 * it to the origin (history.c) and writes seen/ID, and only then may the
 * receiver ACK. A broken connection ends the pipe early: the stream is
 * truncated, unpack/ID removed, and the next offer starts at byte 0.
 * A kill -9 leaves unpack/ID without a receipt (removed at start-up or by
 * the next attempt) or a receipt without seen/ID: the next offer of ID
 * then finds the receipt (rstream_again), confirms again (the origin
 * takes a second receipt as known) and is answered HAVE.
 *
 * For a large one, partial/ID serves only as the lock that keeps two
 * connections from receiving one packet at once (as for a stored
 * transfer); it holds no byte and is removed when the stream ends. A
 * small one has none (no file made and removed per packet): unpack/ID's
 * lock, taken before its first byte is written, does that.
 *
 * Memory: the reader's slots, a pipe (a small one: a copy of its bytes,
 * at most an offer's), libarchive's buffers; two threads
 * besides the opener's (reading, writing) for as long as one packet
 * streams, and the receiver streams one packet at a time per connection.
 * Never writes anything outside unpack/, receipts/, incoming/, seen/ and
 * what the receipt back to the origin queues.
 */
#include "shipd.h"
#include "../global/accept.h"
#include "../packet/packet.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIPE_BYTES	(1 << 20)	/* what the receiver may be ahead of the opener */

struct rstream {
	const char *bay;
	const struct order *o;		/* the receiver's order for it */
	struct order receipt;		/* a shallow copy of *o, with these: */
	char *name, *comment;
	uint8_t *hdr;			/* the header the offer showed */
	size_t hdrlen;
	uint64_t got;			/* bytes of the stream fed */
	int wfd, rfd;			/* the pipe's ends */
	int lock;			/* partial/ID, held while it streams */
	int ulock;			/* unpack/ID's, while held (small) */
	int owe;			/* held: its receipt marked owed */
	pthread_t th;
	int started;			/* the opening thread runs */
	int small;			/* an inline offer's (rstream_start), */
	uint8_t known[PKT_DIGEST_LEN];	/* verified whole: its digest */
	uint8_t *rest;			/* and its bytes after the header, */
	size_t restlen, restmax;	/* in memory (no pipe, no thread) */
	int ran;			/* the opener ran (in this thread) */
	int rc;				/* bay_deliver's, once the thread ended */
	char why[700];			/* the thread's error */
	struct strv finals;
	struct strv made;		/* held: the names in unpack/ID */
};

int
rstream_here(const struct order *o, const struct pkt_info *pi)
{
	const struct sclass *c = config_class_or_default(S->cf, o->sclass);

	/* only the last hop, for one whole data packet: a relay stores (it
	 * holds no key), a split packet joins its parts from data/, a control
	 * packet is consumed by the delivery worker, and a receipt handler is
	 * a program the receiver's sandbox does not run */
	return !o->returning && o->nparts <= 1 && pi->nparts == 1 &&
	       o->dests.n == 1 && S->cf->node && strcmp(o->dests.v[0], S->cf->node) == 0 &&
	       strcmp(pi->kind, PKT_KIND_DATA) == 0 && c->receipt_handler == NULL;
}

int
rstream_wanted(const struct order *o, const struct pkt_info *pi)
{
	return o->size >= RSTREAM_MIN && rstream_here(o, pi);
}

/* The steps after the commit point: confirmed to the origin, seen/ID.
 * owe: the receipt may wait, marked owed on disk (history.c), for the
 * ones that follow; else it is queued now, before seen/ID and the ACK. */
static int
finish(const char *bay, const struct order *o, const struct strv *finals, int owe)
{
	if (owe && bay_owed_set(bay, o->id) < 0) {
		msg_warnx("packet %s: %s; its receipt goes now", o->id, err_get());
		owe = 0;
	}
	deliver_done(bay, o, finals, owe);
	if (!owe)
		history_flush();
	if (bay_deliver_seen(bay, o->id, o->expires, 1) < 0) {
		msg_warnx("packet %s: delivered, but not marked seen: %s", o->id, err_get());
		return BAY_LATER;
	}
	return 0;
}

int
rstream_again(const char *bay, const struct order *o)
{
	struct strv finals = {0};
	uint64_t off;
	int rc, lock;

	if (!bay_delivered(bay, o->id))
		return 1;
	msg_info("packet %s: delivered here before (a receiver died after its receipt); "
		 "confirming it again", o->id);
	/* a live receiver holds unpack/ID (a small one, until its group is
	 * durable: rstream_commit) or partial/ID (a large one, until its
	 * receipt is): not HAVE before that; a dead one's lock file goes */
	if (bay_unpack_busy(bay, o->id) ||
	    (lock = bay_partial_open(bay, o->id, o->size, &off)) == BAY_BUSY) {
		err_set("packet %s: being committed by another connection", o->id);
		return BAY_LATER;
	}
	if (lock >= 0) {
		bay_partial_drop(bay, o->id);
		close(lock);
	}
	/* its receipt marked owed (again: a dead receiver's mark may be
	 * there) and durable before the HAVE, then the master's to send */
	rc = bay_unpack_finish(bay, o->id, &finals) < 0 ? BAY_LATER : finish(bay, o, &finals, 1);
	strv_free(&finals);
	if (rc == 0 && bay_owed_sync(bay) < 0) {
		msg_warnx("packet %s: its receipt not made durable: %s", o->id, err_get());
		rc = BAY_LATER;
	}
	if (rc == 0) {
		struct strv keys = {0};

		history_sync();
		strv_add(&keys, o->id);
		history_owed_tell(bay, &keys);
		strv_free(&keys);
	}
	return rc;
}

/* bay_extract_fn: the packet from the pipe (a small one: from memory)
 * into dir. */
static int
extract(void *arg, const char *const *paths, int n, const char *dir, struct strv *names)
{
	struct rstream *s = arg;
	uint8_t digest[PKT_DIGEST_LEN];
	int mode = config_class_or_default(S->cf, s->o->sclass)->deliver_mode;
	/* a small one: from memory, into unpack/ID through the lock's fd
	 * (bay_deliver_held sets s->ulock before it calls this) */
	int rc = s->small ?
		packet_open_mem(S->cf, S->keys, s->hdr, s->hdrlen, s->rest, s->restlen, s->known,
				mode, s->ulock, dir, names, &s->comment, digest) :
		packet_open_stream(S->cf, S->keys, s->hdr, s->hdrlen, s->rfd, NULL, mode, dir,
				   names, &s->comment, digest);

	(void)paths;
	(void)n;
	if (s->rfd >= 0)
		close(s->rfd);	/* the receiver's next write sees EPIPE */
	s->rfd = -1;
	if (rc == PKT_LOCAL)
		return BAY_LATER;
	if (rc < 0)
		return BAY_REFUSED;
	if (names->n)
		s->receipt.name = s->name = xstrdup(names->v[0]);
	if (s->comment)
		s->receipt.comment = s->comment;
	hex_encode(digest, sizeof(digest), s->receipt.digest);
	return 0;
}

static void *
opener(void *arg)
{
	struct rstream *s = arg;

	/* a small one is committed with its group (rstream_commit) */
	s->rc = s->small ? bay_deliver_held(s->bay, s->o->id, &s->receipt, extract, s, &s->ulock,
					    &s->made) :
		bay_deliver(s->bay, s->o->id, &s->receipt, NULL, 0, extract, s, &s->finals);
	if (s->rc != 0)
		snprintf(s->why, sizeof(s->why), "%s", err_get());
	if (s->rfd >= 0) {	/* bay_deliver failed before extract */
		close(s->rfd);
		s->rfd = -1;
	}
	return NULL;
}

static int
start_opener(struct rstream *s)
{
	int e;

	if ((e = pthread_create(&s->th, NULL, opener, s)) != 0) {
		err_set("cannot start the opening thread: %s", strerror(e));
		return -1;
	}
	s->started = 1;
	return 0;
}

struct rstream *
rstream_start(const char *bay, struct order *o, const struct pkt_info *pi, const void *hdr,
	      size_t hdrlen, const struct pkt_info *whole)
{
	int small = whole != NULL;
	struct rstream *s = xcalloc(1, sizeof(*s));
	struct sbuf room = {0};
	int p[2];
	uint64_t off;

	s->bay = bay;
	s->o = o;
	s->wfd = s->rfd = -1;
	s->lock = s->ulock = -1;
	/* the offer shows the file's first bytes: the header and maybe more */
	if (hdrlen < pi->header_len) {
		err_set("packet %s: the offer shows %zu header bytes, the header says %llu", o->id,
			hdrlen, (unsigned long long)pi->header_len);
		goto fail;
	}
	hdrlen = pi->header_len;
	/* a small one needs no partial/ID: its lock is unpack/ID's, taken
	 * before anything is written there (bay_deliver_held), and the room
	 * it takes (a few KiB, at most XF_INLINE_MAX) was looked at a moment
	 * ago (accept_check), not reserved */
	if (!small && (s->lock = bay_partial_open(bay, o->id, o->size, &off)) < 0) {
		if (s->lock != BAY_BUSY)
			err_set("packet %s: partial file in %s: %s", o->id, bay, err_get());
		s->lock = -1;
		goto fail;
	}
	if (!small && off && ftruncate(s->lock, 0) < 0) {	/* a stored attempt's: afresh */
		err_set("packet %s: partial file in %s: %s", o->id, bay, strerror(errno));
		goto fail;
	}
	/* the room it takes, reserved before the first byte as for a stored
	 * packet (its size on the lock, held until the stream ends, then the
	 * room to unpack looked at): receivers that all passed the first look
	 * do not all count the same free bytes, and the same disk is asked of
	 * a streamed packet as of a stored one */
	if (!small && accept_reserve(S->cf, bay, s->lock, 0, o, pi, &room) != ACC_OK) {
		err_set("%s", room.s);
		goto fail;
	}
	/* a small one stays in memory: all of it is at hand (the offer held
	 * it, at most HOP_MAX_MSG bytes); a large one goes through a pipe */
	if (small) {
		if (o->size < hdrlen) {
			err_set("packet %s: %llu bytes, its header alone %zu", o->id,
				(unsigned long long)o->size, hdrlen);
			goto fail;
		}
		s->restmax = o->size - hdrlen;
		s->rest = xmalloc(s->restmax ? s->restmax : 1);
	} else if (pipe2(p, O_CLOEXEC) < 0) {
		err_set("packet %s: pipe: %s", o->id, strerror(errno));
		goto fail;
	} else {
		s->rfd = p[0];
		s->wfd = p[1];
		(void)fcntl(s->wfd, F_SETPIPE_SZ, PIPE_BYTES);	/* a smaller one only costs switches */
	}
	s->hdr = xmalloc(hdrlen);
	memcpy(s->hdr, hdr, hdrlen);
	s->hdrlen = hdrlen;
	accept_take(S->cf, o, pi);	/* this node's order: its hops, fresh counters */
	s->receipt = *o;
	/* a small packet: the opener runs afterwards, in this thread
	 * (verdict), on the bytes kept in memory */
	s->small = small;
	if (small)
		memcpy(s->known, whole->digest, PKT_DIGEST_LEN);
	else if (start_opener(s) < 0) {
		err_set("packet %s: %s", o->id, err_get());
		goto fail;
	}
	sbuf_free(&room);
	return s;
fail:
	sbuf_free(&room);
	rstream_free(s);
	return NULL;
}

/* The opener's verdict, once its thread ended: 0 delivered (committed),
 * BAY_REFUSED or BAY_LATER with why. */
static int
verdict(struct rstream *s, char *why, size_t whylen)
{
	if (!s->started && !s->ran && s->small) {
		/* a small packet, all in memory: opened here and now */
		opener(s);
		s->ran = 1;
	} else if (s->started) {
		if (s->wfd >= 0) {
			close(s->wfd);	/* the stream ends here */
			s->wfd = -1;
		}
		pthread_join(s->th, NULL);
		s->started = 0;
	}
	if (s->rc != 0 && s->rc != 1)
		snprintf(why, whylen, "%s", s->why);
	else if (s->rc == 1)	/* a receipt appeared meanwhile: delivered once, elsewhere */
		s->rc = 0;
	return s->rc;
}

int
rstream_feed(struct rstream *s, const void *p, size_t n, char *why, size_t whylen)
{
	const uint8_t *b = p;

	/* the stream begins with the header the offer showed, byte for byte:
	 * the opener was given (and verified) that one */
	if (s->got < s->hdrlen) {
		size_t k = s->hdrlen - s->got < n ? s->hdrlen - s->got : n;

		if (memcmp(b, s->hdr + s->got, k) != 0) {
			snprintf(why, whylen, "packet %s: the header sent is not the one offered",
				 s->o->id);
			verdict(s, why, whylen);
			return BAY_REFUSED;
		}
		s->got += k;
		b += k;
		n -= k;
	}
	if (s->small) {			/* kept for the opener (verdict) */
		if (n > s->restmax - s->restlen) {
			snprintf(why, whylen, "packet %s: more data than the packet holds",
				 s->o->id);
			return BAY_REFUSED;
		}
		memcpy(s->rest + s->restlen, b, n);
		s->restlen += n;
		s->got += n;
		return 0;
	}
	if (n && write_all(s->wfd, b, n) < 0) {
		/* the opener stopped reading: its failure says why */
		int rc = verdict(s, why, whylen);

		if (rc == 0) {	/* it cannot end well before the stream does */
			snprintf(why, whylen, "packet %s: more data than the packet holds", s->o->id);
			return BAY_REFUSED;
		}
		return rc;
	}
	s->got += n;
	return 0;
}

int
rstream_end(struct rstream *s, char *why, size_t whylen)
{
	int rc = verdict(s, why, whylen);

	if (rc != 0)
		return rc;
	if (s->small) {
		/* held, its unpack/ID lock kept, until its group is committed */
		sandbox_test_hook("receiver-delivered");	/* test builds: killed after the receipt */
		if (!(s->owe = bay_owed_set(s->bay, s->o->id) == 0))
			msg_warnx("packet %s: %s; its receipt goes now", s->o->id, err_get());
		return 0;
	}
	/* committed: another offer of it finds the receipt (rstream_again),
	 * so the lock goes now, before seen/ID would answer such an offer
	 * HAVE and leave the lock file to nobody */
	if (s->lock >= 0) {
		bay_partial_drop(s->bay, s->o->id);
		close(s->lock);
		s->lock = -1;
	}
	sandbox_test_hook("receiver-delivered");	/* test builds: killed after the receipt */
	if ((rc = finish(s->bay, s->o, &s->finals, 0)) != 0)
		snprintf(why, whylen, "%s", err_get());
	return rc;
}

/* Every stream of v failed its commit: why says it. */
static int
commit_failed(int *got, int n, char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "bay full: cannot commit: %s", what);
	for (int i = 0; i < n; i++)
		got[i] = 0;
	return 0;
}

int
rstream_commit(const char *bay, struct rstream **v, int n, int *got, char *why, size_t whylen)
{
	int k = 0, flush = 0;

	why[0] = 0;
	/* the commit point of them all: every unpack/ID and receipts/ID (and
	 * its owed mark) durable */
	if (bay_dir_sync(bay, Q_UNPACK) < 0 || bay_dir_sync(bay, Q_RECEIPTS) < 0)
		return commit_failed(got, n, why, whylen, err_get());
	sandbox_test_hook("receiver-committed");	/* test builds: killed at that point */
	for (int i = 0; i < n; i++) {
		struct rstream *s = v[i];

		/* durable: its unpack/ID lock goes below, and another offer of
		 * it may then be answered HAVE (a small one has no partial/ID) */
		got[i] = bay_unpack_move(bay, s->o->id, s->made.n ? &s->made : NULL,
					 &s->finals) == 0;
		if (!got[i])
			msg_warnx("packet %s: delivered, its files not in incoming yet: %s; the next "
				  "offer finishes it", s->o->id, err_get());
		if (s->ulock >= 0)
			close(s->ulock);
		s->ulock = -1;
	}
	if (bay_dir_sync(bay, Q_INCOMING) < 0)
		return commit_failed(got, n, why, whylen, err_get());
	for (int i = 0; i < n; i++) {
		struct rstream *s = v[i];

		if (!got[i])
			continue;
		deliver_done(bay, s->o, &s->finals, s->owe);
		flush |= !s->owe;
		/* its receipt is durable (above): marked without a look */
		if (bay_deliver_seen(bay, s->o->id, s->o->expires, BAY_SEEN_RECEIPTED) < 0) {
			msg_warnx("packet %s: delivered, but not marked seen: %s", s->o->id,
				  err_get());
			got[i] = 0;
		}
	}
	if (flush)
		history_flush();
	if (bay_dir_sync(bay, Q_SEEN) < 0)
		return commit_failed(got, n, why, whylen, err_get());
	for (int i = 0; i < n; i++)
		if (got[i]) {
			got[i] = v[i]->owe ? 2 : 1;
			k++;
		}
	if (k < n)
		snprintf(why, whylen, "delivered, not yet committed: the next offer finishes it");
	return k;
}

void
rstream_free(struct rstream *s)
{
	char why[8];

	if (s == NULL)
		return;
	s->ran = 1;			/* a small one cut short is not opened at all */
	verdict(s, why, sizeof(why));	/* a stream cut short: truncated, nothing kept */
	if (s->lock >= 0) {
		bay_partial_drop(s->bay, s->o->id);
		close(s->lock);
	}
	if (s->ulock >= 0)
		close(s->ulock);
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->wfd >= 0)
		close(s->wfd);
	free(s->hdr);
	free(s->rest);
	free(s->name);
	free(s->comment);
	strv_free(&s->finals);
	strv_free(&s->made);
	free(s);
}
